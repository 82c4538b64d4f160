//! net_grade, on submissions written like real ones (fixtures/submissions/): each kind of
//! mistake gets exactly its FAIL, with a readable reason, and a correct pair passes.

use std::sync::OnceLock;

use rstest::rstest;

use crate::support::{fixture, program, TEST_TIMEOUT};

/// Options that keep the grading quick: a client that never ends costs the client
/// timeout, and every server is watched while idle.
const QUICK: [&str; 6] = [
    "--client-timeout",
    "2",
    "--idle-window",
    "0.3",
    "--jobs",
    "16",
];

/// The JSON report for every fixture submission, graded once for all tests (they run in
/// parallel, and the fixtures' hard-coded ports may only be used once at a time).
fn graded() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let folders: Vec<_> = std::fs::read_dir(fixture("submissions"))
            .expect("fixtures/submissions")
            .map(|entry| entry.expect("entry").path())
            .collect();
        let output = assert_cmd::Command::new(program("net_grade"))
            .arg("--json")
            .args(QUICK)
            .args(&folders)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .expect("net_grade runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    })
}

/// The part of the JSON report about `submission`.
fn report_of(submission: &str) -> &'static str {
    let json = graded();
    let start = json
        .find(&format!("{{\"submission\":\"{submission}\""))
        .unwrap_or_else(|| panic!("no report for {submission} in:\n{json}"));
    let end = json[start + 1..]
        .find("{\"submission\":")
        .map_or(json.len(), |i| start + 1 + i);
    &json[start..end]
}

#[rstest]
#[case::correct_pair("correct", &[])]
#[case::interactive_client("interactive_client", &[])]
#[case::python2_pair("python2_pair", &[])]
#[case::greeting_server("greeting_server", &[])]
#[case::spinning_server(
    "spinning_server",
    &["does not spin after a client leaves", "serves a second client after the first closes"]
)]
#[case::echo_server("echo_server", &["reply differs from the message"])]
#[case::constant_server("constant_server", &["reply depends on the message"])]
#[case::one_shot_server("one_shot_server", &["serves a second client after the first closes"])]
#[case::fixed_count_server("fixed_count_server", &["replies to each message"])]
#[case::crash_server("crash_server", &["survives an unexpected message"])]
#[case::one_message_client("one_message_client", &["client sends more than one message"])]
#[case::no_wait_client("no_wait_client", &["client waits for each reply"])]
#[case::never_closes_client(
    "never_closes_client",
    &["the pair works together", "client closes the connection and exits"]
)]
#[timeout(TEST_TIMEOUT)]
fn each_submission_fails_exactly_what_it_gets_wrong(
    #[case] submission: &str,
    #[case] failures: &[&str],
) {
    let report = report_of(submission);
    for requirement in failures {
        let fail = format!("\"requirement\":\"{requirement}\",\"verdict\":\"FAIL\"");
        assert!(
            report.contains(&fail),
            "{submission} should FAIL {requirement:?}:\n{report}"
        );
    }
    let failed = format!("\"failed\":{},", failures.len());
    assert!(
        report.contains(&failed),
        "{submission} should fail only {failures:?}:\n{report}"
    );
    assert!(
        report.contains("\"skipped\":0,") || submission == "one_shot_server",
        "{report}"
    );
}

#[rstest]
#[case::port_from_the_servers_socket("correct", "on port 27423, found from its own sockets")]
#[case::spinning_measured("spinning_server", "% of a CPU while idle")]
#[case::echo_named("echo_server", "\\\"probe alpha\\\" came back unchanged")]
#[case::constant_named("constant_server", "every message got the same reply \\\"OK\\\"")]
#[case::crash_traceback("crash_server", "ValueError: invalid literal for int()")]
#[case::numbers_only_noted(
    "crash_server",
    "no word got a reply, so the server was probed with numbers"
)]
#[case::fixed_count_counted("fixed_count_server", "3 of 4 messages answered")]
#[case::early_message_named(
    "no_wait_client",
    "it sent \\\"second line\\\" before the previous reply"
)]
#[case::python2_recognised("python2_pair", "Python 2 code")]
#[case::greeting_noted("greeting_server", "the server greets first: \\\"Welcome!\\\"")]
#[timeout(TEST_TIMEOUT)]
fn reasons_say_what_happened(#[case] submission: &str, #[case] reason: &str) {
    let report = report_of(submission);
    assert!(
        report.contains(reason),
        "{submission}: no {reason:?} in:\n{report}"
    );
}

/// Copies of the correct submission, named `names`, whose hard-coded port is replaced by
/// one free port, so they can be graded while the fixtures are.
fn correct_pairs_on_a_free_port(names: &[&str]) -> (tempfile::TempDir, u16) {
    let number = crate::support::free_port();
    let port = number.to_string();
    let dir = tempfile::tempdir().expect("temporary directory");
    for name in names {
        let copy = dir.path().join(name);
        std::fs::create_dir(&copy).expect("create");
        for file in ["net_server.py", "net_client.py", "README.txt"] {
            let original = fixture("submissions/correct").join(file);
            let text = std::fs::read_to_string(original).expect("read");
            std::fs::write(copy.join(file), text.replace("27423", &port)).expect("write");
        }
    }
    (dir, number)
}

fn namespaces_work() -> bool {
    std::process::Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[rstest]
#[case::in_namespaces_side_by_side("namespace")]
#[case::without_namespaces_in_turn("none")]
#[timeout(TEST_TIMEOUT)]
fn submissions_with_the_same_port_are_all_graded(#[case] isolation: &str) {
    if isolation == "namespace" && !namespaces_work() {
        eprintln!("skipped: network namespaces do not work here");
        return;
    }
    let (dir, _) = correct_pairs_on_a_free_port(&["first", "second"]);
    let assert = assert_cmd::Command::new(program("net_grade"))
        .args(QUICK)
        .args(["--isolation", isolation])
        .arg(dir.path().join("first"))
        .arg(dir.path().join("second"))
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .success();
    let text = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    let passes = text
        .matches("result: 15 passed, 0 failed, 0 skipped")
        .count();
    assert_eq!(passes, 2, "both copies should pass:\n{text}");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_correct_pair_passes_with_a_readable_report_and_exit_code_zero() {
    let (submission, _) = correct_pairs_on_a_free_port(&["correct"]);
    let assert = assert_cmd::Command::new(program("net_grade"))
        .args(QUICK)
        .arg(submission.path().join("correct"))
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .success();
    let text = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for expected in [
        "== correct ==",
        "our probe client <-> their server",
        "  PASS  replies to each message: 4 of 4 messages answered",
        "-- our probe client",
        "result: 15 passed, 0 failed, 0 skipped",
        "submission",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn our_own_pair_passes_when_graded_as_commands() {
    let server = format!(
        "{} --host 127.0.0.1 -p {{port}}",
        program("net_server").display()
    );
    let client = format!(
        "{} --host 127.0.0.1 -p {{port}}",
        program("net_client").display()
    );
    assert_cmd::Command::new(program("net_grade"))
        .args(QUICK)
        .args(["--server", &server, "--client", &client])
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "result: 15 passed, 0 failed, 0 skipped",
        ));
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_given_port_is_used_instead_of_finding_it() {
    let (dir, port) = correct_pairs_on_a_free_port(&["correct"]);
    assert_cmd::Command::new(program("net_grade"))
        .args(QUICK)
        .args(["--port", &port.to_string()])
        .arg(dir.path().join("correct"))
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "PASS  server listens: on port {port}, as given"
        )));
}
