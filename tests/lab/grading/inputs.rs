//! What net_grade is given: same-port submissions without namespaces and a given port
//! (with namespaces, the fixtures' two lab2 folders share one), pairs of commands,
//! folders without the programs, nonsense settings, and the gradebook formats.

use rstest::rstest;

use super::{
    copies_on_a_free_port, net_grade, ran, reasons, row_in, run_to_end, scratch_root, with_verdict,
    Ran, QUICK, REQUIREMENTS,
};
use crate::support::{fixture, program, TEST_TIMEOUT};

/// Two copies of the correct pair on one port, without namespaces, the port given.
pub fn grade_same_port_copies_in_turn() -> Ran {
    let (dir, port) = copies_on_a_free_port("correct", &["first", "second"]);
    let scratch = scratch_root();
    let mut cmd = net_grade(scratch.path());
    cmd.args(QUICK)
        .args(["--isolation", "none", "--port", &port.to_string()])
        .arg(dir.path().join("first"))
        .arg(dir.path().join("second"));
    let mut ran = run_to_end(&mut cmd, scratch.path());
    ran.stderr.push_str(&format!("\n(port {port})"));
    ran
}

#[rstest]
#[timeout(TEST_TIMEOUT * 4)]
fn same_port_submissions_are_graded_in_turn_without_namespaces_with_a_readable_report() {
    let ran = ran("in turn");
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    let port = ran.stderr.rsplit("(port ").next().unwrap_or_default();
    let port = port.trim_end_matches(')');
    for expected in [
        "== first ==",
        "== second ==",
        "isolation: no namespaces (--isolation none)",
        &format!("  PASS  server listens: on port {port}, as given"),
        "our probe client <-> their server",
        "  PASS  replies to each message: 4 of 4 messages answered",
        "-- our probe client",
        "submission",
    ] {
        assert!(
            ran.stdout.contains(expected),
            "no {expected:?} in:\n{}",
            ran.stdout
        );
    }
    assert_eq!(
        ran.stdout
            .matches("result: 16 passed, 0 failed, 0 skipped")
            .count(),
        2,
        "{}",
        ran.stdout
    );
}

/// Our own pair, given as commands; the server's goes through `cd`.
pub fn grade_commands() -> Ran {
    let server = format!(
        "cd {} && exec {} --host 127.0.0.1 -p {{port}}",
        fixture("messages").display(),
        program("net_server").display()
    );
    let client = format!(
        "{} --host {{host}} -p {{port}}",
        program("net_client").display()
    );
    let scratch = scratch_root();
    let mut cmd = net_grade(scratch.path());
    cmd.args(QUICK)
        .args(["--server", &server, "--client", &client]);
    run_to_end(&mut cmd, scratch.path())
}

#[rstest]
#[timeout(TEST_TIMEOUT * 4)]
fn a_pair_of_commands_runs_through_the_shell() {
    let ran = ran("commands");
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout
            .contains("result: 16 passed, 0 failed, 0 skipped"),
        "{}",
        ran.stdout
    );
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_folder_without_the_programs_fails_saying_what_is_missing() {
    let empty = tempfile::tempdir().expect("temporary directory");
    let scratch = scratch_root();
    let mut cmd = net_grade(scratch.path());
    cmd.arg("--json").arg(empty.path());
    let ran = run_to_end(&mut cmd, scratch.path());
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    let json = ran.json();
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
