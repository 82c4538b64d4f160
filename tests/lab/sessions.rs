//! "Send more than one message, and for every message, first send it, then receive the
//! reply": multi-message sessions from every message source, replies in order, exact output.

use std::io::Write;
use std::process::{Command, Stdio};

use rstest::rstest;

use crate::support::{
    fixture, greeting_server, handout_style_server, net_client_to, program, read_fixture, Server,
    STEP_TIMEOUT, TEST_TIMEOUT,
};

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_prints_one_reply_per_argument_in_order() {
    let server = Server::start(&["-t", "upper"]);
    server
        .client()
        .args(["--replies-only", "one", "two", "three"])
        .assert()
        .success()
        .stdout("ONE\nTWO\nTHREE\n");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_shows_both_sides_of_the_conversation_by_default() {
    let server = Server::start(&["-t", "reverse"]);
    let expected = format!(
        "connected to 127.0.0.1:{}\n> abc\n< cba\n> hello world\n< dlrow olleh\nclosed after 2 message(s)\n",
        server.port
    );
    server
        .client()
        .args(["abc", "hello world"])
        .assert()
        .success()
        .stdout(expected);
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_without_messages_sends_its_built_in_series() {
    let server = Server::start(&[]);
    let expected =
        read_fixture("expected/builtin.transcript.txt").replace("PORT", &server.port.to_string());
    server.client().assert().success().stdout(expected);
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_sends_each_line_of_a_file(
    #[values("tagged", "upper", "reverse", "rot13", "length")] transform: &str,
) {
    let server = Server::start(&["--transform", transform]);
    let expected = read_fixture(&format!("expected/lab.{transform}.txt"));
    server
        .client()
        .arg("--replies-only")
        .arg("--file")
        .arg(fixture("messages/lab.txt"))
        .assert()
        .success()
        .stdout(expected);
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_strips_windows_line_endings_from_a_file() {
    let server = Server::start(&["-t", "upper"]);
    server
        .client()
        .arg("--replies-only")
        .arg("--file")
        .arg(fixture("messages/crlf.txt"))
        .assert()
        .success()
        .stdout("FIRST LINE\nSECOND LINE\nTHIRD\n");
}

#[rstest]
#[case::file_dash(&["--file", "-"])]
#[case::interactive(&["-i"])]
#[timeout(TEST_TIMEOUT)]
fn client_sends_lines_from_standard_input(#[case] source: &[&str]) {
    let server = Server::start(&["-t", "rot13"]);
    server
        .client()
        .arg("--replies-only")
        .args(source)
        .write_stdin("hello\nworld\n")
        .assert()
        .success()
        .stdout("uryyb\njbeyq\n");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_generates_numbered_messages_with_count() {
    let server = Server::start(&["-t", "upper"]);
    let expected: String = (1..=500).map(|n| format!("MESSAGE {n}\n")).collect();
    server
        .client()
        .args(["--replies-only", "--count", "500"])
        .assert()
        .success()
        .stdout(expected);
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_with_zero_count_connects_and_closes_cleanly() {
    let server = Server::start(&[]);
    server
        .client()
        .args(["--replies-only", "--count", "0"])
        .assert()
        .success()
        .stdout("");
    server.wait_for_output("closed by client after 0 message(s)");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_finds_the_server_through_localhost() {
    // `localhost` may resolve to ::1 first, where this IPv4 server is not listening: the
    // client must go on to 127.0.0.1.
    let server = Server::start(&["-t", "upper"]);
    crate::support::net_client()
        .args(["--host", "localhost", "--port", &server.port.to_string()])
        .args(["--replies-only", "hi"])
        .assert()
        .success()
        .stdout("HI\n");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn longest_allowed_message_gets_its_whole_reply() {
    // The reply ("[65536] " and the text) is longer than the longest message.
    let server = Server::start(&[]);
    let message = "ab".repeat(32 * 1024);
    let reply = format!("[65536] {}\n", "ba".repeat(32 * 1024));
    server
        .client()
        .args(["--replies-only", &message])
        .assert()
        .success()
        .stdout(reply);
}

#[rstest]
#[case::plain(&[], "Welcome!", "connected to 127.0.0.1:PORT\n* server says: Welcome!\n> hello\n< HELLO\n> world\n< WORLD\nclosed after 2 message(s)\n", "")]
#[case::replies_only(&["--replies-only"], "Welcome!", "HELLO\nWORLD\n", "* server says: Welcome!\n")]
#[case::escape_sequences(&["--replies-only"], "\x1b]0;pwned\x07\x1b[2J", "HELLO\nWORLD\n", "* server says: \\x1b]0;pwned\\x07\\x1b[2J\n")]
#[timeout(TEST_TIMEOUT)]
fn greeting_is_shown_and_every_message_still_gets_its_own_reply(
    #[case] args: &[&str],
    #[case] greeting: &'static str,
    #[case] stdout: &str,
    #[case] stderr: &str,
) {
    // The server greets as it accepts. The client reads its messages from a pipe, and
    // gets them only once the greeting is in its receive buffer: it must show the greeting,
    // not take it for the reply to "hello".
    let greeting = format!("{greeting}\n").leak();
    let (addr, greeted) = greeting_server(greeting, |line| line.to_uppercase());
    let mut client = Command::new(program("net_client"))
        .args(["--host", "127.0.0.1", "--port", &addr.port().to_string()])
        .args(args)
        .args(["--file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn net_client");
    greeted
        .recv_timeout(STEP_TIMEOUT)
        .expect("the server greeted the client");
    let mut stdin = client.stdin.take().expect("piped stdin");
    stdin.write_all(b"hello\nworld\n").expect("write messages");
    drop(stdin);
    let output = client.wait_with_output().expect("net_client finishes");
    let expected = stdout.replace("PORT", &addr.port().to_string());
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
    assert_eq!(String::from_utf8_lossy(&output.stderr), stderr);
    assert!(output.status.success(), "net_client failed: {output:?}");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn replies_show_control_characters_visibly() {
    // A server's reply must not recolour, retitle or clear the user's terminal.
    let addr = handout_style_server(|_| "\x1b[31mred\x07 \u{202e}txet\n".to_string());
    net_client_to(addr.port())
        .args(["--replies-only", "hello"])
        .assert()
        .success()
        .stdout("\\x1b[31mred\\x07 \\u{202e}txet\n");
}
