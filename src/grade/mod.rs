//! Grading submissions of the lab: a student's `net_server.py` and `net_client.py`, or
//! any pair of commands, checked against the handout's requirements in three pairings:
//! their client with their server, our probe client with their server, and their client
//! with our own server on the port it expects.
//!
//! Submissions are untrusted code. Each runs from a temporary copy, talks only to this
//! machine, and is killed when its time is up; see README.txt for what that does and does
//! not protect against.

pub mod isolation;
pub mod observer;
pub mod probe;
pub mod procs;
pub mod report;
pub mod source;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use observer::Observer;
use probe::Probe;
use procs::Running;
use report::{Report, Verdict};

/// Section names in the report.
const SETUP: &str = "setup";
const PAIR: &str = "their client <-> their server";
const OUR_CLIENT: &str = "our probe client <-> their server";
const OUR_SERVER: &str = "their client <-> our server (on their port)";
const ROBUSTNESS: &str = "robustness (beyond the handout)";

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

/// How long our probe waits for a server that greets before being spoken to.
const GREETING_WAIT: Duration = Duration::from_millis(100);

/// Lines typed into an interactive client, before any closing word and end of input.
const TYPED_LINES: [&str; 3] = ["hello there", "a second message", "and a third"];

/// Timings, shortened by the tests.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How long a server may take to start listening.
    pub startup: Duration,
    /// How long to wait for each reply.
    pub reply: Duration,
    /// How long a client may run.
    pub client: Duration,
    /// How long an idle server is watched for spinning.
    pub idle: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            startup: Duration::from_secs(5),
            reply: Duration::from_secs(3),
            client: Duration::from_secs(10),
            idle: Duration::from_secs(1),
        }
    }
}

/// How to start one side of a pair.
#[derive(Debug, Clone)]
pub struct Program {
    /// The executable (an interpreter, or `sh` for a command line).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

/// A pair to grade.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The name in the report.
    pub name: String,
    /// The directory programs run in (a temporary copy for a submission folder).
    pub dir: PathBuf,
    /// How to start the server; `None` when it cannot be run (the notes say why).
    pub server: Option<Program>,
    /// How to start the client.
    pub client: Option<Program>,
    /// Words the client seems to stop on, typed after the messages.
    pub closing_words: Vec<String>,
    /// Ports written in the client's source, a fallback for finding its server.
    pub client_ports: Vec<u16>,
    /// Every port written in either program: two submissions that share one are not
    /// graded at the same time.
    pub source_ports: Vec<u16>,
    /// The server's port, when given with `--port` instead of being found.
    pub port: Option<u16>,
    /// Notes for the report found while preparing.
    pub notes: Vec<String>,
}

/// Grades every submission, up to `jobs` at a time, never two at once that use the same
/// port (submissions hard-code their ports, and many pick the same). Reports come back
/// in the order of `submissions`.
pub fn grade_all(submissions: &[Submission], timing: &Timing, jobs: usize) -> Vec<Report> {
    struct Queue {
        waiting: Vec<usize>,
        busy_ports: Vec<u16>,
        reports: Vec<Option<Report>>,
    }
    let queue = Mutex::new(Queue {
        waiting: (0..submissions.len()).collect(),
        busy_ports: Vec::new(),
        reports: submissions.iter().map(|_| None).collect(),
    });
    let changed = Condvar::new();
    thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, submissions.len().max(1)) {
            scope.spawn(|| loop {
                let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                let index = loop {
                    if q.waiting.is_empty() {
                        return;
                    }
                    let free = |&i: &usize| {
                        submissions[i]
                            .source_ports
                            .iter()
                            .all(|p| !q.busy_ports.contains(p))
                    };
                    match q.waiting.iter().position(free) {
                        Some(at) => break q.waiting.remove(at),
                        None => q = changed.wait(q).unwrap_or_else(|p| p.into_inner()),
                    }
                };
                let ports = &submissions[index].source_ports;
                q.busy_ports.extend(ports);
                drop(q);
                let report = grade(&submissions[index], timing);
                let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                q.busy_ports.retain(|p| !ports.contains(p));
                q.reports[index] = Some(report);
                changed.notify_all();
            });
        }
    });
    let q = queue.into_inner().unwrap_or_else(|p| p.into_inner());
    q.reports.into_iter().flatten().collect()
}

/// Grades one submission.
pub fn grade(submission: &Submission, timing: &Timing) -> Report {
    let mut report = Report {
        name: submission.name.clone(),
        ..Report::default()
    };
    report.notes.extend(submission.notes.iter().cloned());
    let Some(server) = &submission.server else {
        report.check(
            SETUP,
            "server runs",
            Verdict::Skip,
            "the server cannot be run here (see notes)",
        );
        return report;
    };
    let port = start_server(server, submission, timing, &mut report).map(|(running, port)| {
        probe_with_words_then_numbers(running, port, server, submission, timing, &mut report);
        port
    });
    if let Some(port) = port {
        robustness(server, submission, port, timing, &mut report);
        their_pair(server, submission, timing, &mut report);
    }
    their_client_our_server(submission, port, timing, &mut report);
    report
}

/// Probes the running server with words. A server may understand only numbers, as its
/// own client sends: if no word gets a reply, it is started again and probed with
/// numbers, and if that works, the handout's requirements are judged on those (words
/// then count under robustness).
fn probe_with_words_then_numbers(
    mut running: Running,
    port: u16,
    server: &Program,
    submission: &Submission,
    timing: &Timing,
    report: &mut Report,
) {
    let mut words = Report::default();
    let answered = probe_server(&mut running, port, &PROBE_MESSAGES, timing, &mut words);
    drop(running);
    if answered == 0 {
        if let Some(mut running) = restart(server, submission, timing) {
            let mut numbers = Report::default();
            if probe_server(&mut running, port, &NUMBER_MESSAGES, timing, &mut numbers) > 0 {
                report
                    .notes
                    .push("no word got a reply, so the server was probed with numbers".into());
                report.absorb(numbers);
                return;
            }
        }
    }
    report.absorb(words);
}

/// Starts the server and finds its port. Records the `listens` checks.
fn start_server(
    server: &Program,
    submission: &Submission,
    timing: &Timing,
    report: &mut Report,
) -> Option<(Running, u16)> {
    let (running, port) = match launch(server, submission, timing) {
        Ok(launched) => launched,
        Err((why, output)) => {
            report.require(SETUP, "server listens", false, why);
            report.transcripts.push(("server output".into(), output));
            return None;
        }
    };
    report.require(
        SETUP,
        "server listens",
        true,
        match submission.port {
            Some(_) => format!("on port {port}, as given"),
            None => format!("on port {port}, found from its own sockets"),
        },
    );
    report.require(
        SETUP,
        "port is between 10000 and 65535",
        (10000..=65535).contains(&port),
        format!("port {port}"),
    );
    Some((running, port))
}

/// Our probe client against their server: replies, several messages, second client,
/// no spinning.
/// Returns how many of `messages` were answered.
fn probe_server(
    server: &mut Running,
    port: u16,
    messages: &[&str],
    timing: &Timing,
    report: &mut Report,
) -> usize {
    let mut probe = match Probe::connect(port, timing.startup, timing.reply) {
        Ok(probe) => probe,
        Err(e) => {
            report.require(
                OUR_CLIENT,
                "replies to each message",
                false,
                format!("cannot connect: {e}"),
            );
            return 0;
        }
    };
    if let Some(greeting) = probe.greeting(GREETING_WAIT) {
        report
            .notes
            .push(format!("the server greets first: {greeting:?}"));
        report.greeting = Some(greeting);
    }
    let replies: Vec<Option<String>> = messages.iter().map(|m| probe.exchange(m)).collect();
    let answered: Vec<(&str, &String)> = messages
        .iter()
        .zip(&replies)
        .filter_map(|(m, r)| Some((*m, r.as_ref()?)))
        .collect();
    report.require(
        OUR_CLIENT,
        "replies to each message",
        answered.len() == messages.len(),
        format!("{} of {} messages answered", answered.len(), messages.len()),
    );
    report.require(
        OUR_CLIENT,
        "several messages per connection",
        answered.len() >= 2,
        format!("{} replies on one connection", answered.len()),
    );
    check_replies(&answered, report);
    report
        .transcripts
        .push(("our probe client".into(), probe.transcript.clone()));
    drop(probe);
    check_idle(server, timing, report);
    check_second_client(server, port, messages[0], timing, report);
    answered.len()
}

/// Replies must differ from their messages and depend on them.
fn check_replies(answered: &[(&str, &String)], report: &mut Report) {
    if answered.is_empty() {
        report.check(
            OUR_CLIENT,
            "reply differs from the message",
            Verdict::Skip,
            "no replies",
        );
        report.check(
            OUR_CLIENT,
            "reply depends on the message",
            Verdict::Skip,
            "no replies",
        );
        return;
    }
    let echoed: Vec<&str> = answered
        .iter()
        .filter(|(m, r)| r.trim() == m.trim())
        .map(|(m, _)| *m)
        .collect();
    let why = match echoed.first() {
        Some(message) => format!("{message:?} came back unchanged"),
        None => "every reply is changed".to_string(),
    };
    report.require(
        OUR_CLIENT,
        "reply differs from the message",
        echoed.is_empty(),
        why,
    );
    let first = answered[0].1;
    let all_same = answered.len() >= 2 && answered.iter().all(|(_, r)| r == &first);
    let why = if all_same {
        format!("every message got the same reply {first:?}")
    } else if answered.len() < 2 {
        "only one reply to compare".to_string()
    } else {
        "different messages got different replies".to_string()
    };
    report.require(
        OUR_CLIENT,
        "reply depends on the message",
        !all_same && answered.len() >= 2,
        why,
    );
}

/// After the client leaves, an idle server must not burn CPU (a loop on an empty recv).
fn check_idle(server: &mut Running, timing: &Timing, report: &mut Report) {
    thread::sleep(Duration::from_millis(50)); // let it notice the client left
    let (Some(before), true) = (server.cpu_time(), server.is_running()) else {
        // An exited server cannot spin; that it stopped serving is judged next.
        let why = if server.is_running() {
            "its CPU time cannot be read here"
        } else {
            "the server exited"
        };
        report.check(
            OUR_CLIENT,
            "does not spin after a client leaves",
            Verdict::Skip,
            why,
        );
        return;
    };
    thread::sleep(timing.idle);
    let used = server.cpu_time().unwrap_or(before).saturating_sub(before);
    let share = used.as_secs_f64() / timing.idle.as_secs_f64();
    report.require(
        OUR_CLIENT,
        "does not spin after a client leaves",
        share < 0.3,
        format!("{:.0}% of a CPU while idle", share * 100.0),
    );
}

/// A second client must get a real reply: a connect alone succeeds through the listen
/// backlog even if the server never calls accept again.
fn check_second_client(
    server: &mut Running,
    port: u16,
    message: &str,
    timing: &Timing,
    report: &mut Report,
) {
    let reply = Probe::connect(port, Duration::from_millis(500), timing.reply)
        .ok()
        .and_then(|mut probe| {
            let _ = probe.greeting(GREETING_WAIT);
            probe.exchange(message)
        });
    let why = match (&reply, server.is_running()) {
        (Some(reply), _) => format!("replied {reply:?}"),
        (None, true) => "connected, but no reply came".to_string(),
        (None, false) => "the server exited after the first client".to_string(),
    };
    report.require(
        OUR_CLIENT,
        "serves a second client after the first closes",
        reply.is_some(),
        why,
    );
}

/// The port the server listens on: `given` (from `--port`) once it is listening there,
/// or the first one found among its sockets. Without `/proc` (not Linux), a given port
/// is trusted after a moment: connecting to find out would use up a client.
fn listening_port(server: &Running, given: Option<u16>) -> Option<u16> {
    let found = server.listening_ports();
    match given {
        Some(port) if found.contains(&port) => Some(port),
        Some(port) if !Path::new("/proc/self/net/tcp").exists() => {
            thread::sleep(Duration::from_millis(500));
            Some(port)
        }
        Some(_) => None,
        None => found.first().copied(),
    }
}

/// Starts the server and waits until it listens. Returns it with its port, or why it
/// does not listen together with what it printed.
fn launch(
    server: &Program,
    submission: &Submission,
    timing: &Timing,
) -> Result<(Running, u16), (String, String)> {
    let mut running = Running::start(&server.program, &server.args, &submission.dir)
        .map_err(|e| (format!("cannot start it: {e}"), String::new()))?;
    let deadline = Instant::now() + timing.startup;
    loop {
        if let Some(port) = listening_port(&running, submission.port) {
            return Ok((running, port));
        }
        let alive = running.is_running();
        if !alive || Instant::now() >= deadline {
            let why = if alive {
                "no listening socket in time"
            } else {
                "it exited"
            };
            return Err((why.to_string(), running.stderr() + &running.stdout()));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the server again and waits until it listens. `None` if it does not.
fn restart(server: &Program, submission: &Submission, timing: &Timing) -> Option<Running> {
    launch(server, submission, timing)
        .ok()
        .map(|(running, _)| running)
}

/// A message the server did not expect must not kill it.
fn robustness(
    server: &Program,
    submission: &Submission,
    port: u16,
    timing: &Timing,
    report: &mut Report,
) {
    let Some(mut running) = restart(server, submission, timing) else {
        report.check(
            ROBUSTNESS,
            "survives an unexpected message",
            Verdict::Skip,
            "no restart",
        );
        return;
    };
    // On one connection, so servers that serve one client or a fixed number of
    // messages are judged on the unexpected message alone.
    let next = Probe::connect(port, timing.startup, timing.reply)
        .ok()
        .and_then(|mut probe| {
            let _ = probe.greeting(GREETING_WAIT);
            let _ = probe.exchange("not a number: ✓ ~!@#");
            probe.exchange("still there?")
        });
    if next.is_none() {
        running.wait(Duration::from_millis(300)); // a crash takes a moment to finish
    }
    let why = match (&next, running.is_running()) {
        (Some(_), _) => "it went on serving".to_string(),
        (None, true) => "it stopped answering".to_string(),
        (None, false) => format!("it exited: {}", last_lines(&running.stderr(), 3)),
    };
    report.require(
        ROBUSTNESS,
        "survives an unexpected message",
        next.is_some(),
        why,
    );
}

/// Their client with their server, as the student would run them.
fn their_pair(server: &Program, submission: &Submission, timing: &Timing, report: &mut Report) {
    let Some(client) = &submission.client else {
        report.check(
            PAIR,
            "the pair works together",
            Verdict::Skip,
            "no client to run",
        );
        return;
    };
    let Some(running) = restart(server, submission, timing) else {
        report.check(
            PAIR,
            "the pair works together",
            Verdict::Skip,
            "the server did not restart",
        );
        return;
    };
    let (status, output) = run_client(client, submission, timing);
    let ok = status.as_deref() == Some("exit status: 0") && !output.trim().is_empty();
    let why = match &status {
        Some(status) => format!(
            "the client ended ({status}) and printed {} line(s)",
            output.lines().count()
        ),
        None => format!(
            "the client was still running after {:.0}s",
            timing.client.as_secs_f64()
        ),
    };
    report.require(PAIR, "the pair works together", ok, why);
    report
        .transcripts
        .push(("their client, with their server".into(), output));
    report.transcripts.push((
        "their server, meanwhile".into(),
        running.stdout() + &running.stderr(),
    ));
}

/// Runs the client with typed input; returns how it ended (if it did) and its output.
fn run_client(
    client: &Program,
    submission: &Submission,
    timing: &Timing,
) -> (Option<String>, String) {
    let mut running = match Running::start(&client.program, &client.args, &submission.dir) {
        Ok(running) => running,
        Err(e) => return (Some(format!("cannot start: {e}")), String::new()),
    };
    for line in TYPED_LINES {
        running.type_text(&format!("{line}\n"));
    }
    for word in &submission.closing_words {
        running.type_text(&format!("{word}\n"));
    }
    running.close_input();
    let status = running.wait(timing.client).map(|s| s.to_string());
    if status.is_none() {
        running.kill(); // what it printed before is still reported
    }
    let mut output = running.stdout();
    let errors = running.stderr();
    if !errors.trim().is_empty() {
        let _ = write!(output, "\n[stderr]\n{errors}");
    }
    (status, output)
}

/// Their client against our observing server, on the port the client expects.
fn their_client_our_server(
    submission: &Submission,
    port: Option<u16>,
    timing: &Timing,
    report: &mut Report,
) {
    let Some(client) = &submission.client else {
        return;
    };
    let port = match (port, submission.client_ports.first()) {
        (Some(port), _) => port,
        (None, Some(&port)) => {
            report
                .notes
                .push(format!("the client's port {port} comes from its source"));
            port
        }
        (None, None) => {
            report.check(
                OUR_SERVER,
                "client connects",
                Verdict::Skip,
                "no port known for the client",
            );
            return;
        }
    };
    let observer = match Observer::start(port, report.greeting.clone()) {
        Ok(observer) => observer,
        Err(e) => {
            report.check(
                OUR_SERVER,
                "client connects",
                Verdict::Skip,
                format!("cannot listen on {port}: {e}"),
            );
            return;
        }
    };
    let (status, output) = run_client(client, submission, timing);
    // The observer may still be replying, after its delay, to the last messages.
    let connections = observer.finish(Duration::from_secs(1));
    drop(observer);
    judge_client(&connections, status.as_deref(), &output, timing, report);
    report
        .transcripts
        .push(("their client, with our server".into(), output));
}

fn judge_client(
    connections: &[observer::Connection],
    status: Option<&str>,
    output: &str,
    timing: &Timing,
    report: &mut Report,
) {
    let messages: usize = connections.iter().map(|c| c.messages.len()).sum();
    report.require(
        OUR_SERVER,
        "client connects",
        !connections.is_empty(),
        format!("{} connection(s)", connections.len()),
    );
    report.require(
        OUR_SERVER,
        "client sends more than one message",
        messages >= 2,
        format!("{messages} message(s) arrived"),
    );
    if messages == 0 {
        for name in ["client waits for each reply", "client prints the replies"] {
            report.check(OUR_SERVER, name, Verdict::Skip, "no message arrived");
        }
    } else {
        judge_exchanges(connections, output, report);
    }
    let closed = connections.iter().all(|c| c.closed) && !connections.is_empty();
    let why = match status {
        Some(status) if closed => format!("closed the connection; {status}"),
        Some(status) => format!("left a connection open; {status}"),
        None => format!("still running after {:.0}s", timing.client.as_secs_f64()),
    };
    report.require(
        OUR_SERVER,
        "client closes the connection and exits",
        closed && status.is_some(),
        why,
    );
}

/// Whether the client waited for each reply, and printed them.
fn judge_exchanges(connections: &[observer::Connection], output: &str, report: &mut Report) {
    let early: Vec<&String> = connections
        .iter()
        .flat_map(|c| &c.messages)
        .filter(|(_, early)| *early)
        .map(|(m, _)| m)
        .collect();
    let why = match early.first() {
        Some(message) => format!("it sent {message:?} before the previous reply was sent"),
        None => "every message came after the previous reply".to_string(),
    };
    report.require(
        OUR_SERVER,
        "client waits for each reply",
        early.is_empty(),
        why,
    );
    let replies: Vec<&String> = connections.iter().flat_map(|c| &c.replies).collect();
    let printed = replies
        .iter()
        .filter(|r| output.contains(r.as_str()))
        .count();
    report.require(
        OUR_SERVER,
        "client prints the replies",
        printed > 0,
        format!("{printed} of {} replies seen in its output", replies.len()),
    );
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let tail = lines[lines.len().saturating_sub(n)..].join(" / ");
    if tail.is_empty() {
        "no message".to_string()
    } else {
        tail
    }
}

/// Prepares a submission folder: copies it to a temporary directory and reads what the
/// source says (Python version, ports, closing words).
///
/// # Errors
/// When the folder cannot be read or copied.
pub fn prepare_folder(folder: &Path, scratch: &Path) -> std::io::Result<Submission> {
    let name = folder.file_name().map_or_else(
        || folder.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let dir = scratch.join(&name);
    copy_dir(folder, &dir)?;
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).ok();
    let (server_source, client_source) = (read("net_server.py"), read("net_client.py"));
    let readme = read("README.txt").unwrap_or_default();
    let mut notes = Vec::new();
    let all_source = format!(
        "{}\n{}",
        server_source.clone().unwrap_or_default(),
        client_source.clone().unwrap_or_default()
    );
    let python = if source::looks_like_python2(&all_source) {
        match source::find_python2() {
            Some(python2) => {
                notes.push(format!(
                    "Python 2 code (print statements, raw_input); run with {}",
                    python2.display()
                ));
                Some(python2)
            }
            None => {
                notes.push(
                    "Python 2 code (print statements, raw_input), and no python2 here".into(),
                );
                None
            }
        }
    } else {
        Some(PathBuf::from("python3"))
    };
    let program = |file: &str, source: &Option<String>| {
        let python = python.clone()?;
        if source.is_none() {
            return None;
        }
        Some(Program {
            program: python,
            args: vec![file.to_string()],
        })
    };
    for (file, source) in [
        ("net_server.py", &server_source),
        ("net_client.py", &client_source),
    ] {
        if source.is_none() {
            notes.push(format!("{file} is missing"));
        }
    }
    let client_text = client_source.clone().unwrap_or_default();
    let mut closing_words = source::closing_words(&client_text);
    for word in source::closing_words(&readme) {
        if !closing_words.contains(&word) {
            closing_words.push(word);
        }
    }
    let mut source_ports = source::ports_in(&server_source.clone().unwrap_or_default());
    source_ports.extend(source::ports_in(&client_text));
    Ok(Submission {
        name,
        source_ports,
        port: None,
        server: program("net_server.py", &server_source),
        client: program("net_client.py", &client_source),
        closing_words,
        client_ports: source::ports_in(&client_text),
        notes,
        dir,
    })
}

/// Copies the directory tree `from` to `to`: directories and regular files (links and
/// special files are left out).
///
/// # Errors
/// The first failure to read or write.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()))?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}
