//! What the server prints: the `listening on` line first, then debug output as it goes
//! ("You included some debug messages so that you could see the output, right?").

use std::process::Command;

use rstest::rstest;

use crate::support::{program, Server, TEST_TIMEOUT};

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn server_announces_its_real_address_when_the_os_picks_the_port() {
    let mut command = Command::new(program("net_server"));
    command.args(["--host", "127.0.0.1", "--port", "0", "-t", "upper"]);
    let server = Server::try_start(command, 0).expect("net_server starts on port 0");
    assert_ne!(server.port, 0);
    server.connect().exchange("found you", "FOUND YOU");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn server_logs_connections_messages_and_replies(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper"]);
    server.client().args(["hi", "there"]).assert().success();
    server.wait_for_output("closed by client after 2 message(s)");
    let output = server.output();
    for expected in [
        "] connected",
        "received \"hi\", replied \"HI\"",
        "received \"there\", replied \"THERE\"",
    ] {
        assert!(output.contains(expected), "no {expected:?} in:\n{output}");
    }
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn quiet_server_prints_only_the_listening_line(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper", "--quiet"]);
    let mut peer = server.connect();
    peer.exchange("hi", "HI");
    peer.send(b"\xff\n")
        .expect_line("error: message is not valid UTF-8 (bad byte at offset 0)");
    peer.half_close().expect_closed();
    // A second connection proves the first one's end has been fully handled.
    server.connect().exchange("x", "X");
    let expected = format!("stdout: listening on 127.0.0.1:{}\n", server.port);
    assert_eq!(server.output(), expected);
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn ipv6_address_in_brackets_is_accepted_by_server_and_client(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        crate::support::skip(
            "ipv6_address_in_brackets_is_accepted_by_server_and_client",
            "this machine has no IPv6 loopback address (::1)",
        );
        return;
    }
    let mut command = Command::new(crate::support::program(program));
    command.args(["--host", "[::1]", "--port", "0", "-t", "upper"]);
    let server = Server::try_start(command, 0).expect("the server listens on [::1]");
    assert_eq!(server.addr().to_string(), format!("[::1]:{}", server.port));
    crate::support::net_client()
        .args(["--host", "[::1]", "--port", &server.port.to_string(), "hi"])
        .assert()
        .success()
        .stdout(format!(
            "connected to [::1]:{}\n> hi\n< HI\nclosed after 1 message(s)\n",
            server.port
        ));
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn server_whose_log_nobody_reads_keeps_serving(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    // Each message is logged with its text: megabytes of log in all, far more than a pipe
    // or the log's backlog holds, so lines must be dropped rather than stall the server.
    let mut server = Server::start_with_unread_stderr(program, &["-t", "length"]);
    let mut peer = server.connect();
    let batch = format!("{}\n", "x".repeat(1000)).repeat(200);
    for _ in 0..15 {
        peer.send(batch.as_bytes());
        for _ in 0..200 {
            peer.expect_line("1000");
        }
    }
    drop(peer);
    server.connect().exchange("next client", "11");
    // Once someone reads again, the log says how much it had to leave out.
    server.read_stderr();
    server.wait_for_output("log line(s) dropped: standard error was not being read fast enough");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn server_log_shows_control_characters_from_the_network_visibly(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper"]);
    let mut peer = server.connect();
    peer.send(b"\x1b[31mred\x07\xe2\x80\xae\n")
        .expect_line("\x1b[31MRED\x07\u{202e}");
    peer.half_close().expect_closed();
    server.wait_for_output("closed by client after 1 message(s)");
    let output = server.output();
    assert!(
        output.contains(r#"received "\u{1b}[31mred\u{7}\u{202e}", replied "#),
        "the message is not shown escaped in:\n{output}"
    );
    assert!(
        !output.contains(['\x1b', '\x07', '\u{202e}']),
        "raw control characters in the log:\n{output:?}"
    );
}
