//! Their server, checked with our probe client: it listens, replies to each message with
//! something that depends on it, does not spin when the client leaves, and serves one
//! client after another; then [`super::robustness`].

use std::thread;
use std::time::Duration;

use super::launch::{Launched, Program};
use super::probe::{NoReply, Probe};
use super::server_state::{accepted, first_greeting, idle_share, in_step, Idle, SPIN_SHARE};
use super::verdict::{Grade, Requirement, Verdict};
use super::watch::Watch;
use super::{last_lines, processes, robustness, Context};

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
    robustness::check_robustness(ctx, server, &facts, grade);
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
    // A server still busy starting up (running, or reading from disk) is given more
    // time; one that sleeps through the whole window waits for something else.
    let mut starting = Watch::new(ctx.timing.startup);
    loop {
        if let Some(port) = listening_port(&launched, ctx.submission.port) {
            return Ok((launched, port));
        }
        starting.look(launched.asleep() == Some(false));
        let exited = !launched.is_running() && launched.members().is_empty();
        let idle_through = starting.is_over() && !starting.was_busy();
        if exited || idle_through || ctx.cut_short().is_some() {
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
        if starting.is_over() {
            starting.restart();
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

/// After the client leaves, an idle server must not burn CPU (a loop on an empty recv).
fn check_idle_after_leaving(ctx: &Context, server: &mut Launched, grade: &mut Grade) {
    let idle = idle_share(ctx, server);
    let event = ("its client left", "when the client left");
    judge_idle(grade, Requirement::NoSpinAfterLeave, idle, server, event);
}

/// Records `requirement` from how an idle `server` behaved after an event: `event` is
/// the event after which it spun (`after ...`) and when it exited (`when ...`).
pub fn judge_idle(
    grade: &mut Grade,
    requirement: Requirement,
    idle: Idle,
    server: &Launched,
    (after, when): (&str, &str),
) {
    match idle {
        Idle::Share(share) if share < SPIN_SHARE => grade.require(
            requirement,
            true,
            format!("{:.0}% of a CPU while idle", share * 100.0),
        ),
        Idle::Share(share) => grade.require(
            requirement,
            false,
            format!(
                "spins after {after}: {:.0}% of a CPU while idle",
                share * 100.0
            ),
        ),
        Idle::Exited => grade.require(
            requirement,
            false,
            format!("it exited {when}: {}", last_lines(&server.stderr(), 1)),
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
