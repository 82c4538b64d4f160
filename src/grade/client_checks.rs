//! Their client: with their own server, and against our observing server on the port it
//! expects (it connects, sends several messages, waits for each reply, prints the
//! replies, closes and exits).
//!
//! A client's time limit stops a stuck client, not a slow one: it ends once the client
//! has done nothing for the client timeout (printed nothing, exchanged no message, and
//! was hardly ever running or ready to run), so a correct client of a thousand messages,
//! or one kept waiting by a busy machine, is never cut short.

use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, Instant};

use super::launch::{Launched, Program};
use super::observer::{Connection, Early, Observer};
use super::server_checks::{start_listening, ServerFacts};
use super::verdict::{Grade, Requirement, Verdict};
use super::watch::Watch;
use super::Context;

/// Lines typed into an interactive client, before any closing word and end of input.
const TYPED_LINES: [&str; 3] = ["hello there", "a second message", "and a third"];

/// The requirements judged with our server.
const WITH_OUR_SERVER: &[Requirement] = &[
    Requirement::ClientConnects,
    Requirement::ClientSendsSeveral,
    Requirement::ClientWaits,
    Requirement::ClientPrints,
    Requirement::ClientCloses,
];

/// What else shows whether a client is stuck.
struct Company<'a> {
    /// A count of events (bytes printed, messages exchanged), and whether what it talks
    /// to is running or ready to run (then the client may be waiting for it).
    life: &'a dyn Fn() -> (u64, bool),
    /// Whether it waits for us (a message, a connection or bytes we have not dealt with
    /// yet): then it is not stuck, however slow we are.
    waits_for_us: &'a dyn Fn() -> bool,
}

/// Their client with their server, as the student would run them.
pub fn their_pair(ctx: &Context, server: &Program, client: &Program, grade: &mut Grade) {
    let requirement = Requirement::PairWorks;
    let mut server_run = match start_listening(ctx, server) {
        Ok((running, _)) => running,
        Err((verdict, why, _)) => {
            let why = format!("not tested: the server did not start again: {why}");
            grade.check(requirement, verdict, why);
            return;
        }
    };
    let mut client_run = match ctx.start(client) {
        Ok(running) => running,
        Err((verdict, why)) => return grade.check(requirement, verdict, why),
    };
    let server_life = || {
        let ready = server_run.asleep() == Some(false);
        (server_run.output_bytes() as u64, ready)
    };
    let company = Company {
        life: &server_life,
        waits_for_us: &|| false,
    };
    let ended = run_client(ctx, &mut client_run, &company);
    let printed = client_run.stdout();
    let ok = ended.as_ref().is_ok_and(ExitStatus::success) && !printed.trim().is_empty();
    let why = match &ended {
        Ok(status) => format!(
            "the client ended ({status}) and printed {} line(s)",
            printed.lines().count()
        ),
        Err(why) => format!("the client was {why}"),
    };
    grade.require(requirement, ok, why);
    client_run.stop();
    server_run.stop();
    grade.transcript("their client, with their server", client_run.output());
    grade.transcript("their server, meanwhile", server_run.output());
}

/// Their client against our observing server, on the port the client expects.
pub fn with_our_server(
    ctx: &Context,
    client: &Program,
    facts: Option<&ServerFacts>,
    grade: &mut Grade,
) {
    let Some(port) = client_port(ctx, facts, grade) else {
        let why = "no port is known for the client";
        return grade.not_tested(WITH_OUR_SERVER, Verdict::Fail, why);
    };
    let greeting = facts.and_then(|f| f.greeting.clone());
    let observer = match Observer::start(port, greeting) {
        Ok(observer) => observer,
        Err(e) => {
            let why = format!(
                "our server cannot listen on port {port}: {} (another program holds it)",
                crate::report::describe(&e)
            );
            return grade.not_tested(WITH_OUR_SERVER, Verdict::Fail, &why);
        }
    };
    let mut client_run = match ctx.start(client) {
        Ok(running) => running,
        Err((verdict, why)) => return grade.not_tested(WITH_OUR_SERVER, verdict, &why),
    };
    observer.watch_client(client_run.pid());
    let company = Company {
        life: &|| (observer.events(), false),
        waits_for_us: &|| observer.owes_client(),
    };
    let ended = run_client(ctx, &mut client_run, &company);
    client_run.stop();
    // Every connection has ended with the client; the observer only has to notice.
    let connections = observer.finish(ctx.until(Duration::from_secs(5)));
    drop(observer);
    let output = client_run.output();
    judge_client(&connections, &ended, &client_run.stdout(), grade);
    grade.transcript("their client, with our server", output);
}

/// Types the input of an interactive client, then waits until it exits or is stuck.
/// Returns how it ended, or why it was stopped.
fn run_client(
    ctx: &Context,
    client: &mut Launched,
    company: &Company,
) -> Result<ExitStatus, String> {
    type_input(ctx, client);
    let window = ctx.timing.client;
    // Each poll notes whether the client (or its peer) was running or ready to run: a
    // client kept waiting by a busy machine is ready, a blocked one is not.
    let life = |client: &Launched| {
        let (events, peer_ready) = (company.life)();
        let ready = client.asleep() == Some(false) || peer_ready;
        (client.output_bytes() as u64 + events, ready)
    };
    let mut events_then = life(client).0;
    let mut quiet = Watch::new(window);
    loop {
        if let Some(status) = client.status() {
            client.wait_until(Instant::now() + Duration::from_secs(1));
            return Ok(status);
        }
        if let Some(why) = ctx.cut_short() {
            client.stop();
            return Err(format!("stopped: {why}"));
        }
        let (events, ready) = life(client);
        quiet.look(ready);
        if events != events_then {
            events_then = events;
            quiet.restart();
        } else if quiet.is_over() {
            if !quiet.was_busy() && !(company.waits_for_us)() {
                client.stop();
                return Err(format!(
                    "still running after doing nothing for {}s",
                    window.as_secs_f64()
                ));
            }
            quiet.restart();
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The port the client expects: their server's, or else one in the client's source.
fn client_port(ctx: &Context, facts: Option<&ServerFacts>, grade: &mut Grade) -> Option<u16> {
    if let Some(facts) = facts {
        return Some(facts.port);
    }
    let port = *ctx.submission.client_ports.first()?;
    grade.note(format!("the client's port {port} comes from its source"));
    Some(port)
}

/// Types the lines of an interactive session, then any closing word, then end of input.
fn type_input(ctx: &Context, client: &mut Launched) {
    for line in TYPED_LINES {
        client.type_text(&format!("{line}\n"));
    }
    for word in &ctx.submission.closing_words {
        client.type_text(&format!("{word}\n"));
    }
    client.close_input();
}

/// Judges what our server saw of the client, what it printed and how it ended.
fn judge_client(
    connections: &[Connection],
    ended: &Result<ExitStatus, String>,
    printed: &str,
    grade: &mut Grade,
) {
    let messages: usize = connections.iter().map(|c| c.messages.len()).sum();
    grade.require(
        Requirement::ClientConnects,
        !connections.is_empty(),
        format!("{} connection(s)", connections.len()),
    );
    grade.require(
        Requirement::ClientSendsSeveral,
        messages >= 2,
        format!("{messages} message(s) arrived"),
    );
    if messages == 0 {
        let both = [Requirement::ClientWaits, Requirement::ClientPrints];
        grade.not_tested(&both, Verdict::Fail, "no message arrived");
    } else {
        judge_exchanges(connections, printed, grade);
    }
    let closed = connections.iter().all(|c| c.closed) && !connections.is_empty();
    let why = match ended {
        Ok(status) if closed => format!("closed the connection; {status}"),
        Ok(status) => format!("left a connection open; {status}"),
        Err(why) => why.clone(),
    };
    grade.require(Requirement::ClientCloses, closed && ended.is_ok(), why);
}

/// Whether the client waited for each reply, and printed them.
fn judge_exchanges(connections: &[Connection], printed: &str, grade: &mut Grade) {
    let early = connections
        .iter()
        .flat_map(|c| &c.messages)
        .find_map(|(message, early)| Some((message, (*early)?)));
    let why = match early {
        Some((message, Early::BeforeReply)) => {
            format!("it sent {message:?} before the previous reply was sent")
        }
        Some((message, Early::ReplyUnread)) => {
            format!("it sent {message:?} before the previous reply was read")
        }
        None => "every message came after the previous reply".to_string(),
    };
    grade.require(Requirement::ClientWaits, early.is_none(), why);
    let replies: Vec<&String> = connections.iter().flat_map(|c| &c.replies).collect();
    let seen = replies
        .iter()
        .filter(|r| printed.contains(r.as_str()))
        .count();
    grade.require(
        Requirement::ClientPrints,
        seen > 0,
        format!("{seen} of {} replies seen in its output", replies.len()),
    );
}
