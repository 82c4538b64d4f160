//! Beyond the handout: a server should survive a message it did not expect, and a client
//! that resets its connection (closes it with a reply unread) should make it neither
//! spin nor die.

use super::launch::{Launched, Program};
use super::probe::Probe;
use super::server_checks::{judge_idle, start_listening, ServerFacts};
use super::server_state::{idle_share, in_step};
use super::verdict::{Grade, Requirement, Verdict};
use super::{last_lines, Context};

/// Checks both, each on a fresh start of the server.
pub fn check_robustness(ctx: &Context, server: &Program, facts: &ServerFacts, grade: &mut Grade) {
    survives_unexpected(ctx, server, facts, grade);
    ctx.sweep();
    reset_without_spinning(ctx, server, facts, grade);
    ctx.sweep();
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
    let idle = idle_share(ctx, &mut running);
    let event = (
        "a client resets the connection",
        "when a client reset the connection",
    );
    judge_idle(grade, requirement, idle, &running, event);
}
