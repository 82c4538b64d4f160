//! Interoperating with programs written exactly as the handout describes: bare messages,
//! one `recv` per message, replies without a newline.

use rstest::rstest;

use crate::support::{handout_style_server, net_client_to, TEST_TIMEOUT};

fn upper_without_newline(message: &str) -> String {
    message.trim_end().to_uppercase()
}

fn reverse_everything(message: &str) -> String {
    message.chars().rev().collect()
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_reads_replies_that_have_no_newline() {
    let addr = handout_style_server(upper_without_newline);
    net_client_to(addr.port())
        .args(["--replies-only", "one", "two", "three"])
        .assert()
        .success()
        .stdout("ONE\nTWO\nTHREE\n");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_takes_a_bare_reply_as_soon_as_the_server_stops() {
    // With a grace of a minute, only the rule (nothing more is waiting, so the reply is
    // whole) can end each reply within the step timeout.
    let addr = handout_style_server(upper_without_newline);
    net_client_to(addr.port())
        .args(["--partial-timeout", "60000", "--replies-only", "one", "two"])
        .assert()
        .success()
        .stdout("ONE\nTWO\n");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn bare_client_talks_to_a_server_that_transforms_the_whole_buffer() {
    // This server would turn "abc\n" into "\ncba"; sent bare, "abc" comes back as "cba".
    let addr = handout_style_server(reverse_everything);
    net_client_to(addr.port())
        .args(["--bare", "--replies-only", "abc", "hello"])
        .assert()
        .success()
        .stdout("cba\nolleh\n");
}
