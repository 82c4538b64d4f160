//! TCP is a byte stream, not a message stream: however the bytes are cut up on the way,
//! every message gets exactly one reply, in order, as one line.

use rstest::rstest;

use crate::support::{Server, TEST_TIMEOUT};

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn lines_that_arrive_together_each_get_a_reply_in_order(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper"]);
    let mut peer = server.connect();
    peer.send(b"one\ntwo\nthree\n");
    peer.expect_line("ONE")
        .expect_line("TWO")
        .expect_line("THREE");
    drop(peer);
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_message_split_across_writes_is_one_message(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    // A peer that sends lines gets the grace for the pieces of each; a long one makes the
    // pause between the writes irrelevant, so the test cannot depend on this machine's speed.
    let server = Server::start_named(program, &["-t", "upper", "--partial-timeout", "60000"]);
    let mut peer = server.connect();
    peer.exchange("first", "FIRST");
    peer.send(b"hel");
    peer.send(b"lo wor");
    peer.send(b"ld\nnext\n");
    peer.expect_line("HELLO WORLD").expect_line("NEXT");
    drop(peer);
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn crlf_line_endings_are_accepted_and_not_echoed(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper"]);
    let mut peer = server.connect();
    peer.send(b"abc\r\ndef\r\n");
    peer.expect_line("ABC").expect_line("DEF");
    drop(peer);
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_character_split_across_writes_waits_for_its_rest(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    // Bytes that end partway through a UTF-8 character cannot be a whole message.
    let server = Server::start_named(program, &["-t", "upper", "--partial-timeout", "60000"]);
    let mut peer = server.connect();
    peer.send(b"caf\xc3");
    peer.send(b"\xa9");
    peer.expect_line("CAFÉ");
    drop(peer);
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_bare_message_is_answered_as_soon_as_the_client_stops(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    // The handout's clients sendall("hello") with no newline, then wait in recv(). The
    // reply must come because the client stopped sending, not because a timer ran out:
    // with a grace of a minute, only the rule can answer within the step timeout.
    let server = Server::start_named(program, &["-t", "upper", "--partial-timeout", "60000"]);
    let mut peer = server.connect();
    peer.send(b"hello");
    peer.expect_line("HELLO");
    peer.send(b"second message");
    peer.expect_line("SECOND MESSAGE");
    drop(peer);
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_bare_last_message_before_closing_is_answered(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper"]);
    let mut peer = server.connect();
    peer.send(b"line\nbare tail");
    peer.half_close();
    peer.expect_line("LINE")
        .expect_line("BARE TAIL")
        .expect_closed();
    drop(peer);
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn each_reply_is_exactly_one_line(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "upper"]);
    let mut peer = server.connect();
    peer.send(b"a\r\n\r\nb\rc\n");
    peer.expect_line("A");
    peer.expect_line("");
    peer.expect_line("B\rC");
    peer.half_close().expect_closed();
    server.assert_still_serving();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn many_pipelined_messages_all_get_replies_in_order(
    #[values("net_server", "net_server_threaded", "net_server_async")] program: &str,
) {
    let server = Server::start_named(program, &["-t", "length", "-q"]);
    let mut peer = server.connect();
    let messages: String = (0..2000)
        .map(|n| format!("{}\n", "x".repeat(n % 50)))
        .collect();
    peer.send(messages.as_bytes());
    for n in 0..2000 {
        peer.expect_line(&(n % 50).to_string());
    }
}
