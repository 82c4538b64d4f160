//! Their server, checked with our probe client: it listens, replies to each message with
//! something that depends on it, serves one client after another, does not spin when a
//! client leaves or resets its connection, and survives a message it did not expect.

use std::thread;
use std::time::{Duration, Instant};

use super::launch::{Launched, Program};
use super::probe::{NoReply, Probe};
use super::verdict::{Grade, Requirement, Verdict};
use super::{last_lines, processes, Context};

/// The messages our probe sends: four, so a server that serves exactly as many messages
/// as its own client sends (usually three) is caught.
const PROBE_MESSAGES: [&str; 4] = [
    "probe alpha",
    "probe beta 22",
    "probe gamma 333",
    "probe delta",
];

/// The probe's messages for a server that understands only numbers.
const NUMBER_MESSAGES: [&str; 4] = ["1", "22", "333", "4444"];

/// Where `/proc` cannot tell whether a server is waiting for us: how long to wait for a
/// greeting.
const GREETING_WAIT: Duration = Duration::from_millis(100);

/// A server that is ready to run more than this share of the time while no client is
/// there is spinning. One that is blocked is ready 0% of the time, one that spins 100%,
/// however loaded the machine is.
const SPIN_SHARE: f64 = 0.5;

/// A server that uses this much CPU without blocking once, after its client left, is
/// spinning: handling a close takes a well-written server well under a millisecond.
const SPIN_CPU: Duration = Duration::from_millis(50);

/// A server that uses this much CPU after a second client connects, without accepting
/// it, is busy with something else (a spinning loop, say) and will not serve it.
const NEVER_ACCEPTS_CPU: Duration = Duration::from_millis(200);

/// What the server checks learnt that the client checks need.
#[derive(Debug, Clone)]
pub struct ServerFacts {
    /// The port it listens on.
    pub port: u16,
    /// What it sends before being spoken to, if anything.
    pub greeting: Option<String>,
    /// The messages it answers (words, or numbers only).
    pub messages: &'static [&'static str],
}

/// Why a server did not start listening: whose fault, why, and what it printed.
type NotListening = (Verdict, String, String);

/// Checks their server. Returns what was learnt, or `None` if it never listened.
pub fn check_server(ctx: &Context, server: &Program, grade: &mut Grade) -> Option<ServerFacts> {
    let (running, port) = match start_listening(ctx, server) {
        Ok(started) => started,
        Err((verdict, why, output)) => {
            grade.check(Requirement::ServerListens, verdict, why);
            if !output.trim().is_empty() {
                grade.transcript("server output", output);
            }
            grade.not_tested(
                Requirement::NEED_SERVER,
                verdict,
                "the server did not listen",
            );
            return None;
        }
    };
    let how = match ctx.submission.port {
        Some(_) => "as given",
        None => "found from its own sockets",
    };
    grade.require(
        Requirement::ServerListens,
        true,
        format!("on port {port}, {how}"),
    );
    grade.require(
        Requirement::PortInRange,
        (10000..=65535).contains(&port),
        format!("port {port}"),
    );
    let facts = probe_words_then_numbers(ctx, server, running, port, grade);
    ctx.sweep();
    survives_unexpected(ctx, server, &facts, grade);
    ctx.sweep();
    reset_without_spinning(ctx, server, &facts, grade);
    ctx.sweep();
    Some(facts)
}

/// Starts the server and waits until it listens. Returns it with its port.
///
/// # Errors
/// Why it does not listen, together with what it printed.
pub fn start_listening(ctx: &Context, server: &Program) -> Result<(Launched, u16), NotListening> {
    let mut launched = ctx
        .start(server)
        .map_err(|(verdict, why)| (verdict, why, String::new()))?;
    let until = ctx.until(ctx.timing.startup);
    loop {
        if let Some(port) = listening_port(&launched, ctx.submission.port) {
            return Ok((launched, port));
        }
        let exited = !launched.is_running() && launched.members().is_empty();
        if exited || Instant::now() >= until {
            launched.stop();
            let why = if exited {
                format!("it exited: {}", last_lines(&launched.output(), 1))
            } else {
                ctx.cut_short().unwrap_or_else(|| {
                    format!(
                        "no listening socket after {}s",
                        ctx.timing.startup.as_secs_f64()
                    )
                })
            };
            return Err((Verdict::Fail, why, launched.output()));
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The port the server listens on: `given` once it listens there, or the first one
/// found among its sockets. Without `/proc` (not Linux), a given port is trusted after a
/// moment: connecting to find out would use up a client.
fn listening_port(server: &Launched, given: Option<u16>) -> Option<u16> {
    if !processes::available() {
        thread::sleep(Duration::from_millis(500));
        return given;
    }
    let found = server.listening_ports();
    match given {
        Some(port) => found.contains(&port).then_some(port),
        None => found.first().copied(),
    }
}

/// Probes the running server with words. A server may understand only numbers, as its
/// own client sends: if no word gets a reply, it is started again and probed with
/// numbers, and if that works, the requirements are judged on those (words then count
/// under robustness).
fn probe_words_then_numbers(
    ctx: &Context,
    server: &Program,
    mut running: Launched,
    port: u16,
    grade: &mut Grade,
) -> ServerFacts {
    let mut words = Grade::default();
    let (answered, greeting) = probe_server(ctx, &mut running, port, &PROBE_MESSAGES, &mut words);
    running.stop();
    if answered == 0 && ctx.cut_short().is_none() {
        ctx.sweep();
        if let Ok((mut again, port)) = start_listening(ctx, server) {
            let mut numbers = Grade::default();
            let (answered, greeting) =
                probe_server(ctx, &mut again, port, &NUMBER_MESSAGES, &mut numbers);
            if answered > 0 {
                grade.note("no word got a reply, so the server was probed with numbers");
                grade.absorb(numbers);
                return ServerFacts {
                    port,
                    greeting,
                    messages: &NUMBER_MESSAGES,
                };
            }
        }
    }
    grade.absorb(words);
    ServerFacts {
        port,
        greeting,
        messages: &PROBE_MESSAGES,
    }
}

/// Our probe client against their server: replies, several messages, no spinning, a
/// second client. Returns how many of `messages` were answered, and the greeting.
fn probe_server(
    ctx: &Context,
    server: &mut Launched,
    port: u16,
    messages: &'static [&'static str],
    grade: &mut Grade,
) -> (usize, Option<String>) {
    let mut probe = match Probe::connect(port, ctx.until(ctx.timing.startup)) {
        Ok(probe) => probe,
        Err(e) => {
            let why = format!("cannot connect: {}", crate::report::describe(&e));
            grade.require(Requirement::RepliesToEach, false, &why);
            grade.not_tested(
                Requirement::NEED_SERVER,
                Verdict::Fail,
                "our probe could not connect",
            );
            return (0, None);
        }
    };
    let greeting = first_greeting(ctx, &mut probe, server);
    if let Some(greeting) = &greeting {
        grade.note(format!("the server greets first: {greeting:?}"));
    }
    let replies: Vec<Result<String, NoReply>> = messages
        .iter()
        .map(|m| {
            let reply = probe.exchange(m, ctx.until(ctx.timing.reply));
            if reply.is_ok() && !in_step(ctx, &mut probe, server) {
                probe.give_up("the server kept sending after its reply");
            }
            reply
        })
        .collect();
    let answered = judge_replies(messages, &replies, grade);
    grade.transcript("our probe client", probe.transcript.clone());
    drop(probe);
    check_idle_after_leaving(ctx, server, grade);
    check_second_client(ctx, server, port, messages[0], greeting.is_some(), grade);
    (answered, greeting)
}

/// Reads a greeting, if the server sends one. Rather than guessing how long a greeting
/// takes, it waits until the server has accepted our connection and is blocked: a server
/// that greets has sent its greeting by then.
fn first_greeting(ctx: &Context, probe: &mut Probe, server: &Launched) -> Option<String> {
    let until = ctx.until(ctx.timing.reply);
    if !processes::available() {
        return probe
            .wait_for_data(Instant::now() + GREETING_WAIT)
            .then(|| probe.read_greeting(until))
            .flatten();
    }
    loop {
        if probe.data_waiting() {
            return probe.read_greeting(until);
        }
        // Until the server accepts it, the connection has no inode (0) of its own.
        let theirs = processes::socket(probe.peer_addr(), probe.local_addr());
        let members = server.members();
        let accepted =
            theirs.is_some_and(|s| s.inode != 0 && processes::holds_socket(&members, s.inode));
        let blocked = processes::all_asleep(&members) == Some(true);
        if accepted && blocked || members.is_empty() || Instant::now() >= until {
            return probe
                .data_waiting()
                .then(|| probe.read_greeting(until))
                .flatten();
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// After a reply: waits until the server blocks, waiting for our next message, and says
/// whether it did so without sending anything more. A server that keeps sending (a reply
/// in a loop, say) is out of step, and its next "reply" would be more of the same.
fn in_step(ctx: &Context, probe: &mut Probe, server: &Launched) -> bool {
    let until = ctx.until(ctx.timing.reply);
    loop {
        if probe.unasked_bytes() {
            return false;
        }
        match server.asleep() {
            Some(false) if Instant::now() < until => thread::sleep(Duration::from_millis(1)),
            Some(_) => return !probe.unasked_bytes(),
            None => return true,
        }
    }
}

/// Judges the replies to `messages`; returns how many were answered.
fn judge_replies(
    messages: &[&str],
    replies: &[Result<String, NoReply>],
    grade: &mut Grade,
) -> usize {
    let answered: Vec<(&str, &String)> = messages
        .iter()
        .zip(replies)
        .filter_map(|(m, r)| Some((*m, r.as_ref().ok()?)))
        .collect();
    let first_miss = messages
        .iter()
        .zip(replies)
        .find_map(|(m, r)| Some((m, r.as_ref().err()?)));
    let mut why = format!("{} of {} messages answered", answered.len(), messages.len());
    if let Some((message, no_reply)) = first_miss {
        why.push_str(&format!(" ({message:?}: {})", no_reply.why));
    }
    grade.require(
        Requirement::RepliesToEach,
        answered.len() == messages.len(),
        why,
    );
    grade.require(
        Requirement::SeveralMessages,
        answered.len() >= 2,
        format!("{} replies on one connection", answered.len()),
    );
    check_replies(&answered, grade);
    answered.len()
}

/// Replies must differ from their messages and depend on them.
fn check_replies(answered: &[(&str, &String)], grade: &mut Grade) {
    let Some((_, first)) = answered.first() else {
        let both = [Requirement::ReplyDiffers, Requirement::ReplyDepends];
        grade.not_tested(&both, Verdict::Fail, "no replies to compare");
        return;
    };
    let echoed = answered.iter().find(|(m, r)| r.trim() == m.trim());
    let why = match echoed {
        Some((message, _)) => format!("{message:?} came back unchanged"),
        None => "every reply is changed".to_string(),
    };
    grade.require(Requirement::ReplyDiffers, echoed.is_none(), why);
    let all_same = answered.len() >= 2 && answered.iter().all(|(_, r)| r == first);
    let why = if all_same {
        format!("every message got the same reply {first:?}")
    } else if answered.len() < 2 {
        "only one reply to compare".to_string()
    } else {
        "different messages got different replies".to_string()
    };
    grade.require(
        Requirement::ReplyDepends,
        !all_same && answered.len() >= 2,
        why,
    );
}

/// How a server behaved while no client was there.
enum Idle {
    /// The share of the time it was running or ready to run.
    Share(f64),
    /// It exited.
    Exited,
    /// This machine cannot tell.
    Unknown,
}

/// Watches a server that has no client. It should block soon: one that keeps using CPU
/// without blocking spins. Once blocked, it is watched for the idle window, in case it
/// wakes up to spin. Both measures count time spent running or ready to run, so a busy
/// machine makes a blocked server look no busier.
fn idle_share(ctx: &Context, server: &mut Launched) -> Idle {
    let window = ctx.timing.idle;
    let Some(start) = server.usage() else {
        return Idle::Unknown;
    };
    let started = Instant::now();
    // Before it blocks, only CPU really used counts: a server still handling the close,
    // but kept waiting by a busy machine, is not spinning.
    let settle_until = ctx.until(window * 10);
    loop {
        if !server.is_running() {
            return Idle::Exited;
        }
        let used = server.usage().unwrap_or(start).since(start);
        match server.asleep() {
            None => return Idle::Unknown,
            Some(true) => break,
            Some(false)
                if used.cpu >= SPIN_CPU.min(window / 2) || Instant::now() >= settle_until =>
            {
                // It never blocked: it was running or ready to run all along.
                return Idle::Share(share(used.runnable(), started.elapsed()));
            }
            Some(false) => thread::sleep(Duration::from_millis(1)),
        }
    }
    let Some(before) = server.usage() else {
        return Idle::Unknown;
    };
    let measured = Instant::now();
    // This one is a measurement over a window, not a wait for something to happen.
    thread::sleep(ctx.until(window).saturating_duration_since(measured));
    if !server.is_running() {
        return Idle::Exited;
    }
    let used = server.usage().unwrap_or(before).since(before);
    Idle::Share(share(used.runnable(), measured.elapsed()))
}

fn share(used: Duration, of: Duration) -> f64 {
    used.as_secs_f64() / of.as_secs_f64().max(0.001)
}

/// After the client leaves, an idle server must not burn CPU (a loop on an empty recv).
fn check_idle_after_leaving(ctx: &Context, server: &mut Launched, grade: &mut Grade) {
    let requirement = Requirement::NoSpinAfterLeave;
    match idle_share(ctx, server) {
        Idle::Share(share) => grade.require(
            requirement,
            share < SPIN_SHARE,
            format!("{:.0}% of a CPU while idle", share * 100.0),
        ),
        Idle::Exited => grade.check(
            requirement,
            Verdict::Fail,
            format!(
                "not tested: the server exited when the client left: {}",
                last_lines(&server.stderr(), 1)
            ),
        ),
        Idle::Unknown => grade.check(
            requirement,
            Verdict::Skip,
            "its CPU use cannot be read here",
        ),
    }
}

/// A second client must get a real reply: a connect alone succeeds through the listen
/// backlog even if the server never calls accept again.
fn check_second_client(
    ctx: &Context,
    server: &mut Launched,
    port: u16,
    message: &str,
    greets: bool,
    grade: &mut Grade,
) {
    let result = Probe::connect(port, ctx.until(Duration::from_millis(500)))
        .map_err(|_| "nothing accepts connections any more".to_string())
        .and_then(|mut probe| {
            accepted(ctx, &mut probe, server)?;
            if greets {
                probe.read_greeting(ctx.until(ctx.timing.reply));
            }
            let reply = probe.exchange(message, ctx.until(ctx.timing.reply));
            reply.map_err(|no_reply| format!("connected, but no reply came ({})", no_reply.why))
        });
    let why = match (&result, server.is_running()) {
        (Ok(reply), _) => format!("replied {reply:?}"),
        (Err(_), false) => "the server exited after the first client".to_string(),
        (Err(why), true) => why.clone(),
    };
    grade.require(Requirement::SecondClient, result.is_ok(), why);
}

/// Waits until the server accepts our connection (or sends something on it).
///
/// # Errors
/// Why it will not: it exited, it is blocked elsewhere (asleep for a second without
/// accepting, though a connection waits), or busy elsewhere (it used
/// [`NEVER_ACCEPTS_CPU`] of CPU without accepting).
fn accepted(ctx: &Context, probe: &mut Probe, server: &mut Launched) -> Result<(), String> {
    let Some(start) = server.usage() else {
        return Ok(()); // cannot tell here: the reply will say
    };
    let until = ctx.until(ctx.timing.reply);
    let mut asleep_since: Option<Instant> = None;
    loop {
        if probe.data_waiting() {
            return Ok(());
        }
        let theirs = processes::socket(probe.peer_addr(), probe.local_addr());
        let members = server.members();
        if theirs.is_some_and(|s| s.inode != 0 && processes::holds_socket(&members, s.inode)) {
            return Ok(());
        }
        if !server.is_running() {
            return Err("the server exited after the first client".into());
        }
        let used = server.usage().unwrap_or(start).since(start);
        if used.cpu >= NEVER_ACCEPTS_CPU {
            return Err("it never accepted the connection: it is busy elsewhere".into());
        }
        match server.asleep() {
            Some(true) => {
                let since = *asleep_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_secs(1) {
                    return Err(
                        "it never accepted the connection: it waits for something else".into(),
                    );
                }
            }
            _ => asleep_since = None,
        }
        if Instant::now() >= until {
            return Err("it did not accept the connection in time".into());
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// Starts the server again for a robustness check; records `requirement` as not tested
/// if it does not listen.
fn restart_for(
    ctx: &Context,
    server: &Program,
    requirement: Requirement,
    grade: &mut Grade,
) -> Option<(Launched, Probe)> {
    let started = start_listening(ctx, server).map_err(|(verdict, why, _)| (verdict, why));
    let connected = started.and_then(|(running, port)| {
        let probe = Probe::connect(port, ctx.until(ctx.timing.startup)).map_err(|e| {
            let why = format!("cannot connect: {}", crate::report::describe(&e));
            (Verdict::Fail, why)
        })?;
        Ok((running, probe))
    });
    match connected {
        Ok(both) => Some(both),
        Err((verdict, why)) => {
            let why = format!("not tested: the server did not start again: {why}");
            grade.check(requirement, verdict, why);
            None
        }
    }
}

/// A message the server did not expect must not kill it.
fn survives_unexpected(ctx: &Context, server: &Program, facts: &ServerFacts, grade: &mut Grade) {
    let requirement = Requirement::SurvivesUnexpected;
    let Some((mut running, mut probe)) = restart_for(ctx, server, requirement, grade) else {
        return;
    };
    // On one connection, so servers that serve one client or a fixed number of
    // messages are judged on the unexpected message alone.
    if facts.greeting.is_some() {
        probe.read_greeting(ctx.until(ctx.timing.reply));
    }
    let first = probe.exchange("not a number: ✓ ~!@#", ctx.until(ctx.timing.reply));
    if first.is_ok() && !in_step(ctx, &mut probe, &running) {
        probe.give_up("the server kept sending after its reply");
    }
    let next = probe.exchange("still there?", ctx.until(ctx.timing.reply));
    if next.is_err() && probe.server_closed() {
        // It hung up: it may be crashing, and its last words tell why.
        running.wait_until(ctx.until(ctx.timing.startup));
    }
    let why = match (&next, running.is_running()) {
        (Ok(_), _) => "it went on serving".to_string(),
        (Err(no_reply), true) => format!("it stopped answering ({})", no_reply.why),
        (Err(_), false) => format!("it exited: {}", last_lines(&running.stderr(), 3)),
    };
    grade.require(requirement, next.is_ok(), why);
}

/// A client that resets its connection (closes it with a reply unread) must not make the
/// server spin, as an `except:` that never leaves its receive loop does.
fn reset_without_spinning(ctx: &Context, server: &Program, facts: &ServerFacts, grade: &mut Grade) {
    let requirement = Requirement::NoSpinAfterReset;
    let Some((mut running, mut probe)) = restart_for(ctx, server, requirement, grade) else {
        return;
    };
    if facts.greeting.is_some() {
        probe.read_greeting(ctx.until(ctx.timing.reply));
    }
    if probe.send(facts.messages[0]).is_ok() {
        probe.wait_for_data(ctx.until(ctx.timing.reply));
    }
    drop(probe); // with the reply unread: the kernel resets the connection
    match idle_share(ctx, &mut running) {
        Idle::Share(share) if share < SPIN_SHARE => grade.require(
            requirement,
            true,
            format!("{:.0}% of a CPU while idle after the reset", share * 100.0),
        ),
        Idle::Share(share) => grade.require(
            requirement,
            false,
            format!(
                "spins after a client resets the connection: {:.0}% of a CPU while idle",
                share * 100.0
            ),
        ),
        Idle::Exited => grade.require(
            requirement,
            false,
            format!(
                "it exited when a client reset the connection: {}",
                last_lines(&running.stderr(), 1)
            ),
        ),
        Idle::Unknown => grade.check(
            requirement,
            Verdict::Skip,
            "its CPU use cannot be read here",
        ),
    }
}
