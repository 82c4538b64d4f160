//! The handout tier: one test per requirement of the lab handout, in the handout's order,
//! each named after its requirement and worth the points in `tests/handout/points.txt`.
//!
//! The tests use nothing but the student contract (README.txt, "Writing your own"), so
//! any correct pair passes, whatever else it prints. Run one with
//! `cargo test --test handout replies`, all of them with `cargo test --test handout`, and
//! see the points with `make points`.

#[path = "handout/support.rs"]
mod support;

use support::{client_session, examiner_reply, fail, require_complete, run_client, Server};

/// Messages of different lengths and kinds, so a reply that ignores its message shows.
const MESSAGES: [&str; 3] = ["hello", "How are you today?", "12345 abc"];

// 1. The server ------------------------------------------------------------------------

/// 1.1-1.3: the server creates a socket, binds the port it is given, and listens.
#[test]
fn server_listens_on_the_given_port() {
    let (_server, connection) = Server::start();
    connection.close();
}

/// 1.4-1.6: it receives a message and sends a reply back.
#[test]
fn server_replies_to_a_message() {
    let (mut server, mut connection) = Server::start();
    server.exchange(&mut connection, "hello");
}

/// 1.5: the reply is a modified version of the message, never the message itself.
#[test]
fn server_reply_differs_from_the_message() {
    let (mut server, mut connection) = Server::start();
    for message in MESSAGES {
        let reply = server.exchange(&mut connection, message);
        if reply.trim() == message {
            fail(
                &format!("sent {message:?}, expected a reply that differs from it, got {reply:?}"),
                server.program(),
            );
        }
    }
}

/// 1.5: the reply is based on the message: not the same every time.
#[test]
fn server_reply_depends_on_the_message() {
    let (mut server, mut connection) = Server::start();
    let replies: Vec<String> = MESSAGES
        .iter()
        .map(|message| server.exchange(&mut connection, message))
        .collect();
    if replies.iter().all(|reply| *reply == replies[0]) {
        fail(
            &format!(
                "sent {MESSAGES:?}, expected replies that depend on the message, got {:?} \
                 every time",
                replies[0]
            ),
            server.program(),
        );
    }
}

/// 1.4: it keeps answering on one connection until the client closes it.
#[test]
fn server_answers_every_message_of_a_session() {
    let (mut server, mut connection) = Server::start();
    for number in 1..=10 {
        server.exchange(&mut connection, &format!("message number {number}"));
    }
    connection.close();
}

/// 1 (overview): when a client closes, the server accepts the next one, until killed.
#[test]
fn server_accepts_a_new_client_after_one_closes() {
    let (mut server, mut first) = Server::start();
    server.exchange(&mut first, "from the first client");
    first.close();
    for client in ["second", "third"] {
        let mut connection = server.connect();
        server.exchange(&mut connection, &format!("from the {client} client"));
        connection.close();
    }
}

// 2. The client ------------------------------------------------------------------------

/// 2.1: the client connects to the host and port it is given.
#[test]
fn client_connects_to_the_given_host_and_port() {
    client_session(Some("127.0.0.1"), &["hello"]);
}

/// 2.2: it sends each message, receives each reply, and prints the replies.
#[test]
fn client_sends_each_message_and_prints_its_reply() {
    let (run, seen) = client_session(None, &MESSAGES);
    require_complete(&run, &seen, &MESSAGES);
    let stdout = run.program.stdout();
    let mut lines = stdout.lines();
    for (number, message) in MESSAGES.iter().enumerate() {
        let reply = examiner_reply(number + 1, message);
        // The reply's line may carry a label before it ("reply: ..."), nothing after it.
        if !lines.any(|line| line.trim_end().ends_with(&reply)) {
            fail(
                &format!(
                    "sent {message:?}, the server replied {reply:?}, expected net_client to \
                     print that reply on a line of its own (after the earlier replies)"
                ),
                &run.program,
            );
        }
    }
}

/// 2.2: for every message, it first sends it, then receives its reply.
#[test]
fn client_waits_for_each_reply_before_sending_the_next() {
    let (run, seen) = client_session(None, &MESSAGES);
    if let Some(message) = &seen.sent_early {
        fail(
            &format!("net_client sent {message:?} before the reply to the message before it"),
            &run.program,
        );
    }
    require_complete(&run, &seen, &MESSAGES);
}

/// Overview: it closes the socket when it is done, and exits successfully.
#[test]
fn client_closes_the_connection_and_exits_successfully() {
    let (run, seen) = client_session(None, &MESSAGES);
    require_complete(&run, &seen, &MESSAGES);
    if !seen.closed {
        fail(
            "net_client did not close the connection after its last reply",
            &run.program,
        );
    }
    if !run.status.success() {
        fail(
            &format!(
                "net_client exited with {}, expected success (0)",
                run.status
            ),
            &run.program,
        );
    }
}

// 3. Running the lab -------------------------------------------------------------------

/// 3: the two programs talk to each other: the client gets its replies and exits.
#[test]
fn client_and_server_talk_to_each_other() {
    // The connection that found the server listening is relayed to the client, so the
    // client is the server's first and only client.
    let (server, connection) = Server::start();
    let port = connection.relay_to_next_client();
    let run = run_client(Some("127.0.0.1"), port, &MESSAGES);
    let server_output = server.program().describe_output();
    if !run.status.success() {
        let what = format!(
            "net_client exited with {} talking to net_server",
            run.status
        );
        fail(&format!("{what}\n{server_output}"), &run.program);
    }
    if run.program.stdout().trim().is_empty() {
        let what = "net_client printed nothing while talking to net_server";
        fail(&format!("{what}\n{server_output}"), &run.program);
    }
}
