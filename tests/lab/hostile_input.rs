//! Input the handout never imagined: it gets a clear answer, ends at most its own
//! connection, and the next client is served as if nothing happened.

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use rstest::rstest;

use crate::support::{send_without_reading, Server, TEST_TIMEOUT};

#[rstest]
#[case::invalid_utf8(
    b"ab\xff\xfecd\n",
    "error: message is not valid UTF-8 (bad byte at offset 2)"
)]
#[case::truncated_utf8(
    b"caf\xc3\n",
    "error: message is not valid UTF-8 (bad byte at offset 3)"
)]
#[case::nul_bytes(b"a\0b\n", "A\0B")]
#[case::only_a_nul(b"\0\n", "\0")]
#[case::empty_line(b"\n", "")]
#[case::control_characters(b"\x1b[31mred\x07\n", "\x1b[31MRED\x07")]
#[timeout(TEST_TIMEOUT)]
fn odd_bytes_get_a_reply_and_the_session_goes_on(
    #[case] bytes: &[u8],
    #[case] reply: &str,
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper"]);
    let mut peer = server.connect();
    peer.send(bytes).expect_line(reply);
    peer.exchange("after", "AFTER");
    drop(peer);
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn ten_megabyte_line_gets_an_error_and_memory_stays_bounded(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    // The line arrives in many pieces; a long grace keeps it one message however slowly
    // this machine delivers them.
    let server = Server::start_named(
        program,
        &["-t", "upper", "-q", "--partial-timeout", "60000"],
    );
    let mut peer = server.connect();
    let huge = vec![b'x'; 10 * 1024 * 1024];
    peer.send(&huge).send(b"\n");
    peer.expect_line("error: message too long (10485760 bytes; the limit is 65536)");
    peer.exchange("short", "SHORT");
    assert_peak_memory_below(&server, 16 * 1024 * 1024);
    drop(peer);
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn over_long_bare_message_is_answered_when_the_sender_pauses(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper", "--max-line-len", "1000"]);
    let mut peer = server.connect();
    peer.send(&[b'y'; 5000]);
    peer.expect_line("error: message too long (5000 bytes; the limit is 1000)");
    peer.exchange("ok", "OK");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn replies_still_arrive_after_the_client_half_closes(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper"]);
    let mut peer = server.connect();
    peer.send(b"one\ntwo\nthree\n").half_close();
    peer.expect_line("ONE")
        .expect_line("TWO")
        .expect_line("THREE");
    peer.expect_closed();
    server.wait_for_output("closed by client after 3 message(s)");
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_that_resets_the_connection_ends_only_its_own_session(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper"]);
    let mut peer = server.connect();
    peer.send(b"hello\nmore\n");
    peer.reset_after_reply();
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_that_vanishes_while_replies_are_being_written_is_survived(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper", "-q"]);
    // Enough pipelined messages that the server is still writing replies when the client
    // disappears without reading any of them.
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    // Once both directions' buffers are full, neither side can write: stop trying after a
    // moment (how long does not matter) and vanish.
    stream
        .set_write_timeout(Some(Duration::from_millis(300)))
        .expect("set write timeout");
    let burst = "a fairly long message to fill the buffers\n".repeat(100_000);
    let _ = stream.write_all(burst.as_bytes());
    drop(stream);
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn silent_client_is_disconnected_after_the_idle_timeout(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper", "--idle-timeout", "0.2"]);
    let mut silent = server.connect();
    let mut waiting = server.connect();
    waiting.send(b"waiting\n");
    silent.expect_line("error: idle for too long, closing the connection");
    silent.expect_closed();
    waiting.expect_line("WAITING");
    server.wait_for_output("closed: idle timeout");
}

#[rstest]
#[case::single(&["net_server"][..])]
#[case::threaded_one_worker(&["net_server_threaded", "--max-clients", "1"][..])]
#[case::async_one_client(&["net_server_async", "--max-clients", "1"][..])]
#[timeout(TEST_TIMEOUT)]
fn client_that_never_reads_its_replies_is_disconnected_after_the_idle_timeout(
    #[case] command: &[&str],
) {
    // The server's writes block once the unread replies fill the buffers; the idle
    // timeout must apply to them too, or this one client holds the only worker forever.
    let (program, extra) = command.split_first().expect("a program name");
    let mut args = vec!["-t", "upper", "--idle-timeout", "0.2"];
    args.extend(extra);
    let server = Server::start_named(program, &args);
    let hostile = TcpStream::connect(server.addr()).expect("connect");
    let flood = thread::spawn(move || send_without_reading(hostile));
    // Next in line: its message waits in the kernel until the server takes it on.
    let mut next = server.connect();
    next.send(b"next in line\n");
    flood
        .join()
        .expect("the server closed the hostile connection");
    next.expect_line("NEXT IN LINE");
    server.wait_for_output("closed: the client is not reading its replies (idle timeout)");
}

/// Checks the server's peak resident memory (Linux only) to prove input is not buffered
/// without bound.
pub fn assert_peak_memory_below(server: &Server, limit: u64) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .expect("reading the server's /proc status");
    let peak_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line");
    assert!(
        peak_kib * 1024 < limit,
        "the server's peak memory was {peak_kib} KiB, over {} KiB",
        limit / 1024
    );
}
