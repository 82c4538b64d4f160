//! Interoperability with programs we did not write: the handout's Python client and
//! server, and the everyday tools nc (netcat) and socat.

use std::process::Command;

use rstest::rstest;

use crate::support::{fixture, net_client_to, python3, Server, STEP_TIMEOUT, TEST_TIMEOUT};

fn tool(name: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(name);
    cmd.args(args).timeout(STEP_TIMEOUT);
    cmd
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn the_handouts_python_client_talks_to_net_server() {
    let server = Server::start(&[]);
    let script = fixture("interop/handout_client.py");
    tool(python3(), &[])
        .arg(script)
        .arg(server.port.to_string())
        .assert()
        .success()
        .stdout("[5] olleh\n[7] racecar\n[5] 54321\n");
}

/// The handout-style Python server the benchmark also uses, which replies without a
/// newline and treats every recv() as one message.
fn python_server() -> Server {
    Server::start_with(|port| {
        let mut cmd = Command::new(python3());
        cmd.arg(fixture("baselines/handout_server.py"))
            .arg(port.to_string());
        cmd
    })
}

#[rstest]
#[case::lines(&[])]
#[case::bare_messages(&["--bare"])]
#[timeout(TEST_TIMEOUT)]
fn net_client_talks_to_the_handouts_python_server(#[case] extra: &[&str]) {
    let server = python_server();
    net_client_to(server.port)
        .args(extra)
        .args(["--replies-only", "one", "two", "three"])
        .assert()
        .success()
        .stdout("ONE\nTWO\nTHREE\n");
}

#[cfg(target_os = "linux")]
#[rstest]
#[case::lf(&["-N"])]
#[case::crlf(&["-N", "-C"])]
#[timeout(TEST_TIMEOUT)]
fn nc_is_a_client_of_net_server(#[case] flags: &[&str]) {
    let server = Server::start(&["-t", "upper"]);
    tool("nc", flags)
        .args(["127.0.0.1", &server.port.to_string()])
        .write_stdin("hello\nworld\n")
        .assert()
        .success()
        .stdout("HELLO\nWORLD\n");
}

#[cfg(target_os = "linux")]
#[rstest]
#[timeout(TEST_TIMEOUT)]
fn many_lines_piped_through_nc_come_back_in_order() {
    let server = Server::start(&["-t", "upper", "-q"]);
    let input: String = (0..5000).map(|n| format!("line {n}\n")).collect();
    tool("nc", &["-N", "127.0.0.1", &server.port.to_string()])
        .write_stdin(input.clone())
        .assert()
        .success()
        .stdout(input.to_uppercase());
}

#[cfg(target_os = "linux")]
#[rstest]
#[timeout(TEST_TIMEOUT)]
fn socat_is_a_client_of_net_server() {
    let server = Server::start(&["-t", "reverse"]);
    tool(
        "socat",
        &["-t", "5", "-", &format!("TCP:127.0.0.1:{}", server.port)],
    )
    .write_stdin("abc\nnoël\n")
    .assert()
    .success()
    .stdout("cba\nlëon\n");
}
