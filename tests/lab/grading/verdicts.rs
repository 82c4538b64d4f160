//! Every fixture submission fails exactly what it gets wrong, with a reason that says
//! what happened, and every grade lists every requirement in the same order.

use rstest::rstest;

use super::{graded, in_namespaces, ran, reasons, row, with_verdict, REQUIREMENTS};
use crate::support::{skip, TEST_TIMEOUT};

/// Requirements of the probe, robustness and pair that a server fails when it dies on
/// the first client's close or reset, or that one which streams fails.
const STREAMING: [&str; 7] = [
    "replies to each message",
    "several messages per connection",
    "reply depends on the message",
    "does not spin after a client leaves",
    "serves a second client after the first closes",
    "survives an unexpected message",
    "does not spin after a client resets the connection",
];

#[rstest]
#[case::correct_pair("correct", &[])]
#[case::interactive_client("interactive_client", &[])]
#[case::python2_pair("python2_pair", &[])]
#[case::greeting_server("greeting_server", &[])]
#[case::spinning_server(
    "spinning_server",
    &[
        "does not spin after a client leaves",
        "serves a second client after the first closes",
        "does not spin after a client resets the connection",
    ]
)]
#[case::echo_server("echo_server", &["reply differs from the message"])]
#[case::constant_server("constant_server", &["reply depends on the message"])]
#[case::one_shot_server(
    "one_shot_server",
    &[
        "does not spin after a client leaves",
        "serves a second client after the first closes",
        "does not spin after a client resets the connection",
    ]
)]
#[case::fixed_count_server(
    "fixed_count_server",
    &["replies to each message", "does not spin after a client resets the connection"]
)]
#[case::crash_server(
    "crash_server",
    &["survives an unexpected message", "does not spin after a client resets the connection"]
)]
#[case::one_message_client("one_message_client", &["client sends more than one message"])]
#[case::no_wait_client("no_wait_client", &["client waits for each reply"])]
#[case::never_closes_client(
    "never_closes_client",
    &["the pair works together", "client closes the connection and exits"]
)]
#[case::thousand_messages_client("thousand_messages_client", &[])]
#[case::course_host_client("course_host_client", &[])]
#[case::spin_after_reset_server(
    "spin_after_reset_server",
    &["does not spin after a client resets the connection"]
)]
#[case::forking_server("forking_server", &[])]
#[case::sigint_ignoring_server("sigint_ignoring_server", &[])]
#[case::streaming_server("streaming_server", &STREAMING)]
#[case::stdin_forever_client(
    "stdin_forever_client",
    &["the pair works together", "client closes the connection and exits"]
)]
#[case::same_name_correct("same_name/alice/lab2", &[])]
#[case::same_name_echo("same_name/bob/lab2", &["reply differs from the message"])]
#[timeout(TEST_TIMEOUT * 4)]
fn each_submission_fails_exactly_what_it_gets_wrong(
    #[case] submission: &str,
    #[case] failures: &[&str],
) {
    let row = row(submission);
    if submission == "python2_pair" && with_verdict(row, "SKIP").len() == REQUIREMENTS.len() {
        skip(
            "each_submission_fails_exactly_what_it_gets_wrong (python2_pair)",
            "no python2 here for net_grade to run the Python 2 pair with",
        );
        return;
    }
    if submission == "course_host_client" && !in_namespaces(row) {
        skip(
            "each_submission_fails_exactly_what_it_gets_wrong (course_host_client)",
            "host names are mapped to this machine only in namespaces",
        );
        return;
    }
    let failed = with_verdict(row, "FAIL");
    assert_eq!(
        failed, failures,
        "{submission} should fail exactly {failures:?}:\n{row:#}"
    );
    assert_eq!(with_verdict(row, "SKIP"), [] as [&str; 0], "{row:#}");
    assert_eq!(row["failed"], failures.len(), "{row:#}");
}

#[rstest]
#[case::port_from_the_servers_socket("correct", "on port 27423, found from its own sockets")]
#[case::spinning_measured("spinning_server", "% of a CPU while idle")]
#[case::echo_named("echo_server", "\"probe alpha\" came back unchanged")]
#[case::constant_named("constant_server", "every message got the same reply \"OK\"")]
#[case::crash_traceback("crash_server", "ValueError: invalid literal for int()")]
#[case::numbers_only_noted(
    "crash_server",
    "no word got a reply, so the server was probed with numbers"
)]
#[case::crash_on_reset("crash_server", "it exited when a client reset the connection")]
#[case::fixed_count_counted("fixed_count_server", "3 of 4 messages answered")]
#[case::early_message_named("no_wait_client", "it sent \"second line\" before the previous reply")]
#[case::python2_recognised("python2_pair", "Python 2 code")]
#[case::greeting_noted("greeting_server", "the server greets first: \"Welcome!\"")]
#[case::spin_after_reset_named(
    "spin_after_reset_server",
    "spins after a client resets the connection"
)]
#[case::stream_named("streaming_server", "the server kept sending after its reply")]
#[case::stuck_client_named("never_closes_client", "doing nothing for 1s")]
#[case::exit_after_one_client("one_shot_server", "the server exited after the first client")]
#[timeout(TEST_TIMEOUT * 4)]
fn reasons_say_what_happened(#[case] submission: &str, #[case] reason: &str) {
    let row = row(submission);
    let text = reasons(row);
    assert!(
        text.contains(reason),
        "{submission}: no {reason:?} in:\n{row:#}"
    );
}

#[rstest]
#[timeout(TEST_TIMEOUT * 4)]
fn a_client_for_the_course_machine_is_graded_like_one_for_localhost() {
    let row = row("course_host_client");
    if !in_namespaces(row) {
        let text = reasons(row);
        assert!(
            text.contains("host names are not mapped to this machine without namespaces"),
            "{row:#}"
        );
        skip(
            "a_client_for_the_course_machine_is_graded_like_one_for_localhost",
            "host names are mapped to this machine only in namespaces",
        );
        return;
    }
    assert!(
        reasons(row).contains("host names mapped to this machine: lectura.cs.arizona.edu"),
        "{row:#}"
    );
}

#[rstest]
#[timeout(TEST_TIMEOUT * 4)]
fn every_grade_lists_every_requirement_once_in_order() {
    for row in graded().as_array().expect("a JSON array") {
        let listed: Vec<&str> = row["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter_map(|c| c["requirement"].as_str())
            .collect();
        assert_eq!(listed, REQUIREMENTS, "{row:#}");
        let counted = ["passed", "failed", "skipped"]
            .iter()
            .map(|k| row[k].as_u64().expect("a count"))
            .sum::<u64>();
        assert_eq!(counted, REQUIREMENTS.len() as u64, "{row:#}");
        let passed = row["passed"].as_f64().expect("passed");
        let score = row["score"].as_f64().expect("score");
        assert!((score - 100.0 * passed / 16.0).abs() < 0.06, "{row:#}");
    }
}

#[rstest]
#[timeout(TEST_TIMEOUT * 4)]
fn a_folder_of_submission_folders_stands_for_them_with_names_that_tell_them_apart() {
    let stderr = &ran("fixtures").stderr;
    assert!(
        stderr.contains("same_name holds 2 submission folders; grading each"),
        "{stderr}"
    );
    // Both are called lab2, both use one port: each was graded as itself.
    assert_eq!(row("same_name/alice/lab2")["failed"], 0);
    assert_eq!(row("same_name/bob/lab2")["failed"], 1);
}
