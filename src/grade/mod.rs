//! Grading submissions of the lab: a student's `net_server.py` and `net_client.py`, or
//! any pair of commands, checked against the handout's requirements in three pairings:
//! their client with their server, our probe client with their server, and their client
//! with our own server on the port it expects.
//!
//! Submissions are untrusted code; README.txt ("Untrusted code") says what the grader
//! guarantees about them and what it does not.
//!
//! # Layout
//! - [`session`]: one run of net_grade: choosing the isolation, preparing, scheduling,
//!   collecting the grades.
//! - [`prepare`]: finding submission folders, naming them, scratch copies; [`source`]:
//!   what their source says.
//! - [`schedule`]: running gradings side by side without sharing a port.
//! - [`sandbox`]: a network, PID and mount namespace per submission.
//! - [`launch`]: starting a program as an unprivileged user, and killing all it started;
//!   [`processes`]: what the kernel says about its processes and sockets (through
//!   `/proc`, and [`sock_diag`] for sockets).
//! - [`server_checks`] and [`robustness`] with our [`probe`] client, watching the
//!   server through [`server_state`]; [`client_checks`] with our [`observer`] server:
//!   the requirements themselves.
//! - [`verdict`]: the requirements and a submission's [`verdict::Grade`]; [`output`]: the
//!   report, JSON and CSV.
//! - [`watch`]: how long a program is watched before it is judged stuck.
//! - [`interrupt`]: cleaning up on Ctrl-C.

pub mod client_checks;
pub mod interrupt;
pub mod launch;
pub mod observer;
pub mod output;
pub mod prepare;
pub mod probe;
pub mod processes;
pub mod robustness;
pub mod sandbox;
pub mod schedule;
pub mod server_checks;
pub mod server_state;
pub mod session;
#[cfg(target_os = "linux")]
pub mod sock_diag;
pub mod source;
pub mod verdict;
pub mod watch;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use launch::{Launched, Launcher, Program};
use prepare::{Side, Submission};
use verdict::{Grade, Requirement, Verdict};

pub use prepare::copy_dir;

/// How long things may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// How long a server may take to start listening.
    pub startup: Duration,
    /// How long to wait for each reply.
    pub reply: Duration,
    /// How long a client may go without doing anything (no output, no message, hardly
    /// any CPU) before it counts as stuck.
    pub client: Duration,
    /// How long an idle server is watched for spinning.
    pub idle: Duration,
    /// How long the whole grading of one submission may take.
    pub submission: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            startup: Duration::from_secs(5),
            reply: Duration::from_secs(3),
            client: Duration::from_secs(10),
            idle: Duration::from_secs(1),
            submission: Duration::from_secs(120),
        }
    }
}

/// What the checks of one submission work with.
pub struct Context<'a> {
    /// The submission.
    pub submission: &'a Submission,
    /// How its programs are started.
    pub launcher: &'a Launcher,
    /// How long things may take.
    pub timing: Timing,
    /// When the submission's time is up.
    deadline: Instant,
    /// Whether to kill every other process after each pairing: true when net_grade is
    /// the first process of a PID namespace that holds nothing but this submission.
    sweep: bool,
}

impl<'a> Context<'a> {
    /// A context for grading `submission`, whose time starts now.
    pub fn new(submission: &'a Submission, launcher: &'a Launcher, timing: Timing) -> Self {
        Context {
            submission,
            launcher,
            timing,
            deadline: Instant::now() + timing.submission,
            sweep: std::process::id() == 1,
        }
    }

    /// `wait` from now, but not past the submission's time limit.
    pub fn until(&self, wait: Duration) -> Instant {
        (Instant::now() + wait).min(self.deadline)
    }

    /// True once the submission's time is up.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Why grading stopped early, when it did.
    pub fn cut_short(&self) -> Option<String> {
        if interrupt::interrupted() {
            Some("net_grade was interrupted".into())
        } else if self.expired() {
            Some(format!(
                "the submission's time limit ({}s) ran out",
                self.timing.submission.as_secs_f64()
            ))
        } else {
            None
        }
    }

    /// Starts `program` in the submission's folder.
    ///
    /// # Errors
    /// When it cannot be started, or the submission's time is up.
    pub fn start(&self, program: &Program) -> Result<Launched, (Verdict, String)> {
        if let Some(why) = self.cut_short() {
            return Err((Verdict::Fail, why));
        }
        self.launcher.start(program, &self.submission.dir)
    }

    /// After a pairing: makes sure nothing the submission started is left running.
    pub fn sweep(&self) {
        if self.sweep {
            processes::kill_descendants(Duration::from_secs(5));
        }
    }
}

/// Grades one submission in this process.
pub fn grade(submission: &Submission, launcher: &Launcher, timing: Timing) -> Grade {
    let ctx = Context::new(submission, launcher, timing);
    let mut grade = Grade::new(&submission.name);
    grade.notes.extend(submission.notes.iter().cloned());
    let facts = match &submission.server {
        Side::Ready(server) => server_checks::check_server(&ctx, server, &mut grade),
        Side::Missing(why) => {
            grade.not_tested(Requirement::NEED_SERVER, Verdict::Fail, why);
            None
        }
    };
    ctx.sweep();
    match &submission.client {
        Side::Ready(client) => {
            if let (Side::Ready(server), Some(_)) = (&submission.server, &facts) {
                client_checks::their_pair(&ctx, server, client, &mut grade);
                ctx.sweep();
            }
            client_checks::with_our_server(&ctx, client, facts.as_ref(), &mut grade);
            ctx.sweep();
        }
        Side::Missing(why) => grade.not_tested(Requirement::NEED_CLIENT, Verdict::Fail, why),
    }
    let why = ctx
        .cut_short()
        .unwrap_or_else(|| "an earlier step failed".into());
    grade.complete(&why);
    grade
}

/// The last `n` lines of `text`, joined with " / ", for a reason that fits on a line.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let tail = lines[lines.len().saturating_sub(n)..].join(" / ");
    if tail.is_empty() {
        "no message".to_string()
    } else {
        tail
    }
}
