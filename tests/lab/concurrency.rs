//! The multi-client servers (the handout's first "going further" idea): many clients at
//! once, none able to hold up the others, and never more at once than the cap.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use rstest::rstest;

use crate::support::{Server, TEST_TIMEOUT};

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn many_clients_at_once_each_get_their_own_replies_in_order(
    #[values("net_server_threaded", "net_server_async")] program: &str,
) {
    const CLIENTS: usize = 20;
    let server = Server::start_named(program, &["-t", "upper", "-q"]);
    // Every client is connected and has had a reply before any goes on, so all of them
    // are being served at the same time.
    let all_connected = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let mut peer = server.connect();
            let all_connected = Arc::clone(&all_connected);
            thread::spawn(move || {
                peer.exchange(&format!("client {id} hello"), &format!("CLIENT {id} HELLO"));
                all_connected.wait();
                for n in 0..50 {
                    let message = format!("client {id} message {n}");
                    peer.exchange(&message, &message.to_uppercase());
                }
            })
        })
        .collect();
    for client in clients {
        client
            .join()
            .expect("a client thread failed; see its message above");
    }
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_silent_client_does_not_delay_the_others(
    #[values("net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper"]);
    let mut silent = server.connect();
    silent.send(b"half a mess"); // ...and never another byte
    let mut other = server.connect();
    other.exchange("not waiting", "NOT WAITING");
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn clients_beyond_the_cap_wait_for_a_free_slot(
    #[values("net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper", "--max-clients", "2"]);
    let mut first = server.connect();
    first.exchange("one", "ONE");
    let mut second = server.connect();
    second.exchange("two", "TWO");

    let mut third = server.connect();
    third.send(b"three\n");
    third.expect_silence(Duration::from_millis(200));

    drop(first);
    third.expect_line("THREE");
    second.exchange("still two", "STILL TWO");
}

#[cfg(unix)]
#[rstest]
#[timeout(TEST_TIMEOUT)]
fn async_server_lets_connected_clients_finish_after_ctrl_c() {
    let mut server = Server::start_named("net_server_async", &["-t", "upper"]);
    let mut peer = server.connect();
    peer.exchange("before", "BEFORE");

    server.signal("INT");
    server.wait_for_output("shutting down: waiting up to 5.0s for 1 client(s)");
    assert!(
        std::net::TcpStream::connect(server.addr()).is_err(),
        "a new client was accepted after Ctrl-C"
    );
    peer.exchange("after", "AFTER");
    peer.half_close().expect_closed();

    let status = server.wait_for_exit();
    assert!(status.success(), "exit status {status}");
    server.wait_for_output("shut down");
}

#[cfg(unix)]
#[rstest]
#[case::ctrl_c("INT", 30)]
#[case::terminate("TERM", 10)]
#[timeout(TEST_TIMEOUT)]
fn async_server_shuts_down_gracefully_on_a_signal_right_after_it_starts(
    #[case] signal: &str,
    #[case] attempts: usize,
) {
    // The signal arrives as soon as "listening on" is read, before the server has done
    // anything else: its handler must already be in place, every time.
    for attempt in 1..=attempts {
        let mut server = Server::start_named("net_server_async", &[]);
        server.signal(signal);
        let status = server.wait_for_exit();
        assert!(
            status.success(),
            "attempt {attempt}: exit status {status}; output:\n{}",
            server.output()
        );
        server.wait_for_output("shut down");
    }
}

#[cfg(unix)]
#[rstest]
#[timeout(TEST_TIMEOUT)]
fn async_server_answers_what_was_sent_when_the_grace_period_ends() {
    let args = [
        "-t",
        "upper",
        "--shutdown-grace",
        "0.1",
        "--partial-timeout",
        "60000",
    ];
    let mut server = Server::start_named("net_server_async", &args);
    let mut peer = server.connect();
    peer.exchange("complete", "COMPLETE");
    peer.send(b"unfinished");
    server.signal("INT");
    peer.expect_line("UNFINISHED").expect_closed();
    let status = server.wait_for_exit();
    assert!(status.success(), "exit status {status}");
}

#[cfg(target_os = "linux")]
#[rstest]
#[timeout(TEST_TIMEOUT)]
fn out_of_file_descriptors_is_logged_and_survived(
    #[values("net_server_threaded", "net_server_async")] program: &str,
) {
    // With few file descriptors, idle clients use them all up: accept fails with EMFILE.
    let server = Server::start_with(|port| {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg("ulimit -n 24 && exec \"$0\" --host 127.0.0.1 --port \"$1\" -t upper")
            .arg(crate::support::program(program))
            .arg(port.to_string());
        cmd
    });
    let idle: Vec<_> = (0..40).map(|_| server.connect()).collect();
    server.wait_for_output("accept failed: Too many open files");
    // Once clients leave, their descriptors are free again and the server serves.
    drop(idle);
    server.assert_still_serving();
}
