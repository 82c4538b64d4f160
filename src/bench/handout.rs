//! Scenario 4, the handout client: what almost every real client of the lab does. It sends
//! a bare message (no newline), waits in `recv()` for the reply, and repeats.
//!
//! Against each server, every round runs the handout-style Python client
//! (`fixtures/baselines/handout_client.py`), which times its own round trips (start-up
//! excluded); net_client's session code inside the benchmark, timed the same way; and the
//! `net_client --bare` program, timed as a whole process like the Python client is. Each
//! runs three times a round, and the round keeps the fastest of each.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::compare::{ratio_target_line, Goal, Spread};
use super::load;
use super::rounds::{interleaved, Lookup, Measured};
use super::single::{ratio_cell, ECHO, PYTHON};
use super::stats::short;
use super::target::{measure_on, sibling, Running, Started};
use super::Sizes;

/// How many round trips each client makes: as many as in the issue that found bare
/// messages waiting 50 ms each.
pub const ROUND_TRIPS: u32 = 101;

/// One round against one server.
struct HandoutRound {
    /// The Python client's own time for its round trips.
    python_loop: Duration,
    /// The Python client from start to exit.
    python_process: Duration,
    /// net_client's session code, round trips only.
    net_client_loop: Duration,
    /// `net_client --bare` from start to exit.
    net_client_process: Duration,
}

/// The handout-style Python client: the interpreter and the script it runs.
pub struct PythonClient<'a> {
    /// The Python interpreter.
    pub interpreter: &'a Path,
    /// The client's script.
    pub script: &'a Path,
}

/// Scenario 4: handout-style clients against the Python server and ours.
pub fn handout_client_scenario(sizes: &Sizes, servers: &[Started], python_client: &PythonClient) {
    println!(
        "\n4. Handout client: {ROUND_TRIPS} bare messages, each sent after the previous reply"
    );
    if !python_client.script.is_file() {
        let path = python_client.script.display();
        return println!(
            "not measured: no {path} (run from the project directory, or give --python-client)"
        );
    }
    // The echo baseline does not upper-case, and the Python client checks its replies.
    let servers: Vec<_> = servers
        .iter()
        .filter(|(label, _)| *label != ECHO)
        .map(|(label, server)| (*label, server))
        .collect();
    let measure = |server: &&io::Result<Running>| {
        measure_on(server, |addr| measure_round(addr, python_client))
    };
    let _ = interleaved(&servers, 1, measure); // warm-up: Python's caches, first connections
    let results = interleaved(&servers, sizes.rounds, measure);
    print_python_client_table(&results);
    print_net_client_tables(&results);
}

fn print_python_client_table(results: &[Measured<HandoutRound>]) {
    println!("a) The Python client written like the handout's: its own time for the round trips");
    println!(
        "{:<24}{:>12}{:>10}   vs python server",
        "server", "round trips", "per trip"
    );
    let loop_secs = |r: &HandoutRound| r.python_loop.as_secs_f64();
    for measured in results {
        let label = measured.label;
        let Some(spread) = results.spread(label, loop_secs) else {
            print_error(measured);
            continue;
        };
        println!(
            "{:<24}{:>12}{:>10}   {}",
            label,
            seconds(spread.median),
            seconds(spread.median / f64::from(ROUND_TRIPS)),
            ratio_cell(results.ratio(label, PYTHON, loop_secs))
        );
    }
    for ours in ["net_server", "net_server_threaded", "net_server_async"] {
        let ratio = results.ratio(ours, PYTHON, loop_secs);
        let what = format!("{ours} vs python");
        println!("{}", ratio_target_line(&what, ratio, Goal::AtMost(1.0)));
    }
}

fn print_net_client_tables(results: &[Measured<HandoutRound>]) {
    println!("b) net_client --bare vs the Python client: round trips only (net_client's code in net_bench)");
    print_pair_table(results, |r| (r.net_client_loop, r.python_loop));
    println!("c) net_client --bare vs the Python client: whole process, start-up included");
    print_pair_table(results, |r| (r.net_client_process, r.python_process));
}

/// A table of net_client against the Python client on each server, by the pair of times
/// `times` picks, and its targets.
fn print_pair_table(
    results: &[Measured<HandoutRound>],
    times: fn(&HandoutRound) -> (Duration, Duration),
) {
    println!(
        "{:<24}{:>12}{:>12}   net_client vs python",
        "server", "net_client", "python"
    );
    let net_client = |r: &HandoutRound| times(r).0.as_secs_f64();
    let python = |r: &HandoutRound| times(r).1.as_secs_f64();
    for measured in results {
        let label = measured.label;
        let (Some(ours), Some(theirs)) = (
            results.spread(label, net_client),
            results.spread(label, python),
        ) else {
            print_error(measured);
            continue;
        };
        let ratios = client_ratio(results, label, times);
        println!(
            "{:<24}{:>12}{:>12}   {}",
            label,
            seconds(ours.median),
            seconds(theirs.median),
            ratio_cell(ratios)
        );
    }
    for measured in results {
        let ratios = client_ratio(results, measured.label, times);
        let target = format!("net_client vs python client on {}", measured.label);
        println!("{}", ratio_target_line(&target, ratios, Goal::AtMost(1.0)));
    }
}

/// The spread of net_client's time over the Python client's, each round against `label`,
/// by the pair of times `times` picks.
fn client_ratio(
    results: &[Measured<HandoutRound>],
    label: &str,
    times: fn(&HandoutRound) -> (Duration, Duration),
) -> Option<Spread> {
    let ratios = results.values(label, |r| {
        let (net_client, python) = times(r);
        net_client.as_secs_f64() / python.as_secs_f64()
    })?;
    Spread::of(&ratios)
}

fn print_error(measured: &Measured<HandoutRound>) {
    if let Err(e) = &measured.rounds {
        println!("{:<24}not measured: {e}", measured.label);
    }
}

fn seconds(secs: f64) -> String {
    short(Duration::from_secs_f64(secs))
}

/// How many times each client runs against a server in one round; the round keeps the
/// fastest run of each. 101 round trips take about a millisecond on a quiet machine, so a
/// single scheduling hiccup can double one run; the fastest of three is the least
/// disturbed.
const RUNS_PER_ROUND: usize = 3;

/// Runs each client [`RUNS_PER_ROUND`] times against the server at `addr`, keeping the
/// fastest time of each kind.
fn measure_round(addr: SocketAddr, python_client: &PythonClient) -> io::Result<HandoutRound> {
    let mut best = measure_once(addr, python_client)?;
    for _ in 1..RUNS_PER_ROUND {
        let next = measure_once(addr, python_client)?;
        best = HandoutRound {
            python_loop: best.python_loop.min(next.python_loop),
            python_process: best.python_process.min(next.python_process),
            net_client_loop: best.net_client_loop.min(next.net_client_loop),
            net_client_process: best.net_client_process.min(next.net_client_process),
        };
    }
    Ok(best)
}

/// Runs each client once against the server at `addr`.
fn measure_once(addr: SocketAddr, python_client: &PythonClient) -> io::Result<HandoutRound> {
    let (python_loop, python_process) = run_python_client(addr, python_client)?;
    let net_client_loop = load::bare_session(addr, ROUND_TRIPS)?;
    let net_client_process = run_net_client(addr)?;
    Ok(HandoutRound {
        python_loop,
        python_process,
        net_client_loop,
        net_client_process,
    })
}

/// Runs the Python client; returns its own time for the round trips, and the whole
/// process's.
fn run_python_client(addr: SocketAddr, client: &PythonClient) -> io::Result<(Duration, Duration)> {
    let mut command = Command::new(client.interpreter);
    command
        .arg(client.script)
        .arg(addr.port().to_string())
        .arg(ROUND_TRIPS.to_string())
        .arg(addr.ip().to_string());
    let (output, process) = timed(&mut command, "python3")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let loop_secs = stderr
        .lines()
        .last()
        .and_then(|line| line.strip_prefix(&format!("round trips: {ROUND_TRIPS} in ")))
        .and_then(|rest| rest.strip_suffix(" s"))
        .and_then(|secs| secs.parse::<f64>().ok());
    match loop_secs {
        Some(secs) => Ok((Duration::from_secs_f64(secs), process)),
        None => Err(io::Error::other(format!(
            "the Python client said {:?}",
            stderr.trim()
        ))),
    }
}

/// Runs `net_client --bare --count`; returns how long the whole process took.
fn run_net_client(addr: SocketAddr) -> io::Result<Duration> {
    let program = sibling("net_client");
    let mut command = Command::new(&program);
    command.args([
        "--host",
        &addr.ip().to_string(),
        "--port",
        &addr.port().to_string(),
        "--bare",
        "--replies-only",
        "--count",
        &ROUND_TRIPS.to_string(),
    ]);
    let (output, process) = timed(&mut command, &program.display().to_string())?;
    let replies = output.stdout.iter().filter(|&&b| b == b'\n').count();
    if replies != ROUND_TRIPS as usize {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(io::Error::other(format!(
            "net_client printed {replies} replies: {}",
            stderr.trim()
        )));
    }
    Ok(process)
}

/// Runs `command` to its end, its output captured; returns that and how long it took.
/// A failed command is an error naming `program`.
fn timed(command: &mut Command, program: &str) -> io::Result<(Output, Duration)> {
    let start = Instant::now();
    let output = command
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("{program}: {e}")))?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(io::Error::other(format!(
            "{program} failed: {}",
            stderr.trim()
        )));
    }
    Ok((output, elapsed))
}
