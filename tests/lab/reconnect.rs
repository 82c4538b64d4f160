//! "When the connection closes, the server will then attempt to accept a new connection;
//! it will keep doing this until it is killed."

use std::time::Duration;

use rstest::rstest;

use crate::support::{Server, TEST_TIMEOUT};

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn server_serves_one_client_after_another() {
    let server = Server::start(&["-t", "upper"]);
    for name in ["alice", "bob", "carol"] {
        server
            .client()
            .args(["--replies-only", name, "again"])
            .assert()
            .success()
            .stdout(format!("{}\nAGAIN\n", name.to_uppercase()));
    }
    // The log lags behind the replies: wait for all three clients' last lines.
    server.wait_for_output_times("closed by client after 2 message(s)", 3);
    assert_eq!(server.output().matches("] connected").count(), 3);
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_that_connects_meanwhile_is_served_after_the_first_leaves() {
    let server = Server::start(&["-t", "upper"]);
    let mut first = server.connect();
    first.exchange("first", "FIRST");

    // The second connection completes through the listen backlog, but the server is
    // busy with the first client and must not answer yet.
    let mut second = server.connect();
    second.send(b"second\n");
    second.expect_silence(Duration::from_millis(200));

    first.exchange("still first", "STILL FIRST");
    drop(first);
    second.expect_line("SECOND");
    second.exchange("more", "MORE");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn waiting_clients_are_served_in_arrival_order() {
    let server = Server::start(&["-t", "length"]);
    let first = server.connect();
    let mut waiting: Vec<_> = (1..=3)
        .map(|n| {
            let mut peer = server.connect();
            peer.send(format!("{}\n", "x".repeat(n)).as_bytes());
            peer
        })
        .collect();
    drop(first);
    for (n, peer) in waiting.iter_mut().enumerate() {
        peer.expect_line(&(n + 1).to_string());
        peer.half_close().expect_closed();
    }
}
