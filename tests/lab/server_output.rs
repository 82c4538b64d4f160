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
        eprintln!("skipped: this machine has no IPv6 loopback address (::1)");
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
