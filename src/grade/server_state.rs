//! Telling from outside what a server is doing while we talk to it, from what the kernel
//! says about its processes ([`super::processes`]): whether it has accepted our
//! connection and is waiting for us, whether it keeps sending unasked, whether it spins
//! with no client, whether it is busy elsewhere. Each is an event to wait for, with a
//! deadline that only bounds a hang, so a busy machine changes how long they take, never
//! what they find.

use std::thread;
use std::time::{Duration, Instant};

use super::launch::Launched;
use super::probe::Probe;
use super::{processes, Context};

/// Where `/proc` cannot tell whether a server is waiting for us: how long to wait for a
/// greeting.
const GREETING_WAIT: Duration = Duration::from_millis(100);

/// A server that is ready to run more than this share of the time while no client is
/// there is spinning. One that is blocked is ready 0% of the time, one that spins 100%,
/// however loaded the machine is.
pub const SPIN_SHARE: f64 = 0.5;

/// A server that uses this much CPU without blocking once, after its client left, is
/// spinning: handling a close takes a well-written server well under a millisecond.
const SPIN_CPU: Duration = Duration::from_millis(50);

/// The longest a server is given to block after a client leaves, on a machine too busy
/// to let it: its share of the CPU in that time is then all there is to judge by.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// A server that uses this much CPU after a second client connects, without accepting
/// it, is busy with something else (a spinning loop, say) and will not serve it.
const NEVER_ACCEPTS_CPU: Duration = Duration::from_millis(200);

/// Reads a greeting, if the server sends one. Rather than guessing how long a greeting
/// takes, it waits until the server has accepted our connection and is blocked: a server
/// that greets has sent its greeting by then.
pub fn first_greeting(ctx: &Context, probe: &mut Probe, server: &Launched) -> Option<String> {
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
        let members = server.members();
        let blocked = processes::all_asleep(&members) == Some(true);
        if has_accepted(probe, &members) && blocked || members.is_empty() || Instant::now() >= until
        {
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
pub fn in_step(ctx: &Context, probe: &mut Probe, server: &Launched) -> bool {
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

/// How a server behaved while no client was there.
pub enum Idle {
    /// The share of the time it was running or ready to run.
    Share(f64),
    /// It exited.
    Exited,
    /// This machine cannot tell.
    Unknown,
}

/// Watches a server that has no client. It should block soon: one that uses
/// [`SPIN_CPU`] of CPU without blocking spins. Once blocked, it is watched for the idle
/// window, in case it wakes up to spin: the share of the time it is seen running or
/// ready to run (its state, sampled) is what counts, and that is the same on a busy
/// machine, where it waits longer for a CPU but is no less ready.
pub fn idle_share(ctx: &Context, server: &mut Launched) -> Idle {
    let window = ctx.timing.idle;
    let Some(start) = server.cpu_time() else {
        return Idle::Unknown;
    };
    let started = Instant::now();
    // Before it blocks, only CPU really used counts: a server still handling the close,
    // but kept waiting by a busy machine, is not spinning. The deadline only bounds a
    // machine so busy that the server got neither that CPU nor to block.
    let settle_until = ctx.until((window * 10).max(SETTLE_LIMIT));
    loop {
        if !server.is_running() {
            return Idle::Exited;
        }
        let used = server.cpu_time().unwrap_or(start).saturating_sub(start);
        match server.asleep() {
            None => return Idle::Unknown,
            Some(true) => break,
            // It never blocked: it was running or ready to run all along.
            Some(false) if used >= SPIN_CPU.min(window / 2) => return Idle::Share(1.0),
            Some(false) if Instant::now() >= settle_until => {
                return Idle::Share(share(used, started.elapsed()));
            }
            Some(false) => thread::sleep(Duration::from_millis(1)),
        }
    }
    let until = ctx.until(window);
    let (mut samples, mut ready) = (0u32, 0u32);
    while Instant::now() < until {
        match server.asleep() {
            Some(asleep) => {
                samples += 1;
                ready += u32::from(!asleep);
            }
            None if !server.is_running() => return Idle::Exited,
            None => return Idle::Unknown,
        }
        thread::sleep(Duration::from_millis(2));
    }
    if !server.is_running() {
        return Idle::Exited;
    }
    Idle::Share(f64::from(ready) / f64::from(samples.max(1)))
}

fn share(used: Duration, of: Duration) -> f64 {
    used.as_secs_f64() / of.as_secs_f64().max(0.001)
}

/// Waits until the server accepts our connection (or sends something on it).
///
/// # Errors
/// Why it will not: it exited, it is blocked elsewhere (asleep for a second without
/// accepting, though a connection waits), or busy elsewhere (it used
/// [`NEVER_ACCEPTS_CPU`] of CPU without accepting).
pub fn accepted(ctx: &Context, probe: &mut Probe, server: &mut Launched) -> Result<(), String> {
    let Some(start) = server.cpu_time() else {
        return Ok(()); // cannot tell here: the reply will say
    };
    let until = ctx.until(ctx.timing.reply);
    let mut asleep_since: Option<Instant> = None;
    loop {
        if probe.data_waiting() {
            return Ok(());
        }
        if has_accepted(probe, &server.members()) {
            return Ok(());
        }
        if !server.is_running() {
            return Err("the server exited after the first client".into());
        }
        let used = server.cpu_time().unwrap_or(start).saturating_sub(start);
        if used >= NEVER_ACCEPTS_CPU {
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

/// True when one of the server's processes `members` has accepted the probe's connection.
fn has_accepted(probe: &Probe, members: &[i32]) -> bool {
    // Until the server accepts it, the connection has no inode (0) of its own.
    processes::socket(probe.peer_addr(), probe.local_addr())
        .is_some_and(|s| s.inode != 0 && processes::holds_socket(members, s.inode))
}
