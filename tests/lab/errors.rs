//! Errors for people: one clear line on stderr and a non-zero exit code, never a panic.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::thread;

use predicates::prelude::*;
use rstest::rstest;

use crate::support::{
    endless_reply_server, free_port, net_client, net_client_to, program, Server, STEP_TIMEOUT,
    TEST_TIMEOUT,
};

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_explains_when_no_server_is_running() {
    let port = free_port();
    net_client()
        .args(["--port", &port.to_string(), "hello"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "net_client: cannot connect to localhost:{port}: Connection refused (is net_server running?)\n"
        ));
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn server_explains_when_the_port_is_taken() {
    let taken = TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = taken.local_addr().expect("local addr").port();
    assert_cmd::Command::new(program("net_server"))
        .args(["--port", &port.to_string()])
        .timeout(STEP_TIMEOUT)
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "net_server: cannot listen on 0.0.0.0:{port}: Address already in use\n"
        ));
}

#[rstest]
#[case::client_count_not_a_number("net_client", &["--count", "many"], "invalid value 'many'")]
#[case::client_two_sources("net_client", &["--count", "3", "--file", "x.txt"], "cannot be used with")]
#[case::client_unknown_flag("net_client", &["--colour"], "unexpected argument '--colour'")]
#[case::client_negative_timeout("net_client", &["--reply-timeout=-1"], "not a valid number of seconds")]
#[case::server_unknown_transform("net_server", &["--transform", "shout"], "possible values: tagged")]
#[case::server_port_out_of_range("net_server", &["--port", "70000"], "70000")]
#[timeout(TEST_TIMEOUT)]
fn bad_arguments_get_a_usage_error(
    #[case] name: &str,
    #[case] args: &[&str],
    #[case] complaint: &str,
) {
    assert_cmd::Command::new(program(name))
        .args(args)
        .timeout(STEP_TIMEOUT)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(complaint).and(predicate::str::contains("try '--help'")));
}

#[rstest]
#[case::server_idle_timeout("net_server", "--idle-timeout")]
#[case::server_partial_timeout("net_server", "--partial-timeout")]
#[case::threaded_idle_timeout("net_server_threaded", "--idle-timeout")]
#[case::threaded_partial_timeout("net_server_threaded", "--partial-timeout")]
#[case::async_idle_timeout("net_server_async", "--idle-timeout")]
#[case::async_partial_timeout("net_server_async", "--partial-timeout")]
#[case::async_shutdown_grace("net_server_async", "--shutdown-grace")]
#[case::client_reply_timeout("net_client", "--reply-timeout")]
#[case::client_partial_timeout("net_client", "--partial-timeout")]
#[case::client_retry("net_client", "--retry")]
#[timeout(TEST_TIMEOUT)]
fn zero_duration_is_refused_as_a_usage_error(#[case] name: &str, #[case] option: &str) {
    // 0 never means "never": it would make every connection fail, so it is refused up front.
    assert_cmd::Command::new(program(name))
        .args([option, "0", "--port", "1"])
        .timeout(STEP_TIMEOUT)
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains(format!("invalid value '0' for '{option} "))
                .and(predicate::str::contains("it must be greater than 0")),
        );
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_explains_an_unknown_host() {
    net_client()
        .args(["--host", "no-such-host.invalid", "hello"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "net_client: cannot resolve host 'no-such-host.invalid': ",
        ));
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_explains_a_missing_message_file() {
    net_client()
        .args(["--file", "no/such/messages.txt"])
        .assert()
        .code(1)
        .stderr(
            "net_client: cannot read messages: no/such/messages.txt: No such file or directory\n",
        );
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_refuses_a_message_that_spans_lines() {
    let server = Server::start(&[]);
    server
        .client()
        .args(["ok", "two\nlines"])
        .assert()
        .code(1)
        .stderr("net_client: message 2 contains a line break; send one line per message\n");
}

/// How the one-reply server ends the connection after its reply.
#[derive(Clone, Copy)]
enum HangUp {
    /// Closes cleanly: the client sees the end of the stream (or a reset, if its next
    /// message crosses the close).
    Close,
    /// Waits for the next message and closes with it unread, so the kernel resets.
    Reset,
}

/// A server that answers the first message with "only one", then hangs up. Returns its
/// port.
fn one_reply_server(hang_up: HangUp) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        BufReader::new(&stream)
            .read_line(&mut String::new())
            .expect("read");
        (&stream).write_all(b"only one\n").expect("write");
        if let HangUp::Reset = hang_up {
            stream
                .peek(&mut [0; 1])
                .expect("the second message arrives");
        }
    });
    port
}

#[rstest]
#[case::close(HangUp::Close)]
#[case::reset(HangUp::Reset)]
#[timeout(TEST_TIMEOUT)]
fn client_reports_a_server_that_hangs_up_mid_session(#[case] hang_up: HangUp) {
    net_client_to(one_reply_server(hang_up))
        .args(["a", "b", "c"])
        .assert()
        .code(1)
        .stderr("net_client: the server closed the connection before replying to message 2\n");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_gives_up_on_a_server_that_never_replies() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    net_client_to(port)
        .args(["--reply-timeout", "0.2", "hello"])
        .assert()
        .code(1)
        .stderr("net_client: no reply to message 1 within 0.2s (see --reply-timeout)\n");
    drop(listener);
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_gives_up_on_a_reply_that_never_ends() {
    // Bytes keep coming, each piece a sign that more follows: with a grace of a minute
    // between pieces, only a timeout for the whole reply can end the wait.
    let addr = endless_reply_server();
    net_client_to(addr.port())
        .args(["--reply-timeout", "0.3", "--partial-timeout", "60000"])
        .arg("hello")
        .assert()
        .code(1)
        .stderr("net_client: no reply to message 1 within 0.3s (see --reply-timeout)\n");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_with_retry_waits_for_a_server_that_starts_late() {
    let port = free_port();
    let mut client = Command::new(program("net_client"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--retry", "20", "--replies-only", "late"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn net_client");

    // Start the server only once the client has said its first attempt failed.
    let mut stderr = BufReader::new(client.stderr.take().expect("stderr"));
    let mut notice = String::new();
    stderr
        .read_line(&mut notice)
        .expect("read the client's notice");
    assert_eq!(
        notice,
        format!("net_client: 127.0.0.1:{port} not reachable yet (Connection refused); retrying for 20s\n")
    );
    let server = Server::try_start(
        {
            let mut cmd = Command::new(program("net_server"));
            cmd.args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "-t",
                "upper",
            ]);
            cmd
        },
        port,
    )
    .expect("the server starts on the port the client is waiting for");

    let output = client.wait_with_output().expect("net_client finishes");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "LATE\n");
    assert!(output.status.success(), "net_client failed: {output:?}");
    drop(server);
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn server_keeps_going_when_accept_fails() {
    // With only four file descriptors (stdin, stdout, stderr, the listener), every accept
    // fails with EMFILE. The server must log it and keep waiting, not exit or spin.
    if !cfg!(target_os = "linux") {
        return;
    }
    let mut server = Server::start_with(|port| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("ulimit -n 4 && exec \"$0\" --host 127.0.0.1 --port \"$1\"")
            .arg(program("net_server"))
            .arg(port.to_string());
        cmd
    });
    let _waiting = std::net::TcpStream::connect(server.addr()).expect("connect");
    server.wait_for_output("accept failed: Too many open files");
    assert!(
        server.is_running(),
        "net_server exited after a failed accept"
    );
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_whose_output_is_closed_says_so_without_panicking() {
    // Like `net_client --count 100000 | head -1`: the reader goes away early.
    let server = Server::start(&["-q"]);
    let mut child = Command::new(program("net_client"))
        .args(["--host", "127.0.0.1", "--port", &server.port.to_string()])
        .args(["--count", "100000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn net_client");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("net_client finishes");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "net_client: cannot write output: Broken pipe\n"
    );
}
