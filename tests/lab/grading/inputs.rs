//! What net_grade is given: same-port submissions with and without namespaces, pairs of
//! commands, a given port, folders without the programs, nonsense settings, and the
//! gradebook formats.

use rstest::rstest;

use super::{
    copies_on_a_free_port, json_of, net_grade, reasons, row_in, scratch_root, with_verdict,
    QUICK, REQUIREMENTS,
};
use crate::support::{fixture, program, TEST_TIMEOUT};

#[rstest]
#[timeout(TEST_TIMEOUT * 4)]
fn same_port_submissions_are_graded_side_by_side_in_namespaces() {
    let (dir, _) = copies_on_a_free_port("correct", &["first", "second"]);
    let scratch = scratch_root();
    let output = net_grade(scratch.path())
        .args(QUICK)
        .args(["--json", "--isolation", "namespace"])
        .arg(dir.path().join("first"))
        .arg(dir.path().join("second"))
        .output()
        .expect("net_grade runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(2) && stderr.contains("namespaces do not work here") {
        eprintln!("skipped: {}", stderr.trim());
        return;
    }
    assert!(output.status.success(), "{stderr}");
    let json = json_of(&output);
    for name in ["first", "second"] {
        assert_eq!(row_in(&json, name)["passed"], 16, "{json:#}");
    }
}

#[rstest]
#[timeout(TEST_TIMEOUT * 4)]
fn same_port_submissions_are_graded_in_turn_without_namespaces_with_a_readable_report() {
    let (dir, port) = copies_on_a_free_port("correct", &["first", "second"]);
    let scratch = scratch_root();
    let assert = net_grade(scratch.path())
        .args(QUICK)
        .args(["--isolation", "none"])
        .arg(dir.path().join("first"))
        .arg(dir.path().join("second"))
        .assert()
        .success();
    let text = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for expected in [
        "== first ==",
        "== second ==",
        "isolation: no namespaces (--isolation none)",
        &format!("  PASS  server listens: on port {port}, found from its own sockets"),
        "our probe client <-> their server",
        "  PASS  replies to each message: 4 of 4 messages answered",
        "-- our probe client",
        "submission",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    assert_eq!(
        text.matches("result: 16 passed, 0 failed, 0 skipped").count(),
        2,
        "{text}"
    );
}

#[rstest]
#[timeout(TEST_TIMEOUT * 4)]
fn a_pair_of_commands_runs_through_the_shell() {
    let server = format!(
        "cd {} && exec {} --host 127.0.0.1 -p {{port}}",
        fixture("messages").display(),
        program("net_server").display()
    );
    let client = format!("{} --host {{host}} -p {{port}}", program("net_client").display());
    let scratch = scratch_root();
    net_grade(scratch.path())
        .args(QUICK)
        .args(["--server", &server, "--client", &client])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "result: 16 passed, 0 failed, 0 skipped",
        ));
}

#[rstest]
#[timeout(TEST_TIMEOUT * 4)]
fn a_given_port_is_used_instead_of_finding_it() {
    let (dir, port) = copies_on_a_free_port("correct", &["correct"]);
    let scratch = scratch_root();
    net_grade(scratch.path())
        .args(QUICK)
        .args(["--port", &port.to_string()])
        .arg(dir.path().join("correct"))
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "PASS  server listens: on port {port}, as given"
        )));
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_folder_without_the_programs_fails_saying_what_is_missing() {
    let empty = tempfile::tempdir().expect("temporary directory");
    let scratch = scratch_root();
    let output = net_grade(scratch.path())
        .arg("--json")
        .arg(empty.path())
        .output()
        .expect("net_grade runs");
    assert_eq!(output.status.code(), Some(1));
    let json = json_of(&output);
    let name = empty.path().file_name().expect("a name").to_string_lossy();
    let row = row_in(&json, &name);
    assert_eq!(with_verdict(row, "FAIL"), REQUIREMENTS);
    let text = reasons(row);
    for missing in ["net_server.py is missing", "net_client.py is missing"] {
        assert!(text.contains(missing), "no {missing:?} in:\n{row:#}");
    }
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn the_gradebook_is_csv_with_a_header_and_a_row_per_submission() {
    let root = tempfile::tempdir().expect("temporary directory");
    let empty = root.path().join("nothing, \"here\"");
    std::fs::create_dir(&empty).expect("mkdir");
    let scratch = scratch_root();
    net_grade(scratch.path())
        .arg("--csv")
        .arg(&empty)
        .assert()
        .code(1)
        .stdout("submission,passed,failed,skipped,score\n\"nothing, \"\"here\"\"\",0,16,0,0.0\n");
}

#[rstest]
#[case::no_idle_window(&["--idle-window", "0"], "--idle-window")]
#[case::no_client_time(&["--client-timeout", "0"], "--client-timeout")]
#[case::no_time_limit(&["--time-limit", "0"], "--time-limit")]
#[case::port_zero(&["--port", "0"], "--port")]
#[case::no_jobs(&["--jobs", "0"], "--jobs")]
#[case::missing_folder(&["/no/such/folder"], "cannot read /no/such/folder")]
#[case::namespaces_unknown(&["--isolation", "sometimes"], "--isolation")]
#[timeout(TEST_TIMEOUT)]
fn nonsense_is_refused_with_exit_code_2(#[case] args: &[&str], #[case] named: &str) {
    let scratch = scratch_root();
    let mut cmd = net_grade(scratch.path());
    cmd.args(args);
    if args[0].starts_with("--") {
        cmd.arg(fixture("submissions/correct"));
    }
    cmd.assert()
        .code(2)
        .stderr(predicates::str::contains(named));
}
