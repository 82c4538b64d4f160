//! Scenarios 1 and 2, one connection at a time: lock-step round trips and a pipelined
//! stream, against our single-connection servers and the raw echo and Python baselines.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::compare::{ratio_target_line, target_line, Goal, Spread};
use super::load::{self, Throughput};
use super::rounds::{interleaved, Lookup, Measured};
use super::stats::{short, thousands, Latency};
use super::target::{measure_on, Started, Target};
use super::Sizes;

/// The label of the raw echo baseline.
pub const ECHO: &str = "raw echo (baseline)";
/// The label of the handout's Python server.
pub const PYTHON: &str = "python handout server";

/// Starts the raw echo baseline, the Python server and our three servers, on `cpu` if
/// given. A server that cannot start keeps its error, for its row in the report.
pub fn start_servers(python: &Target, cpu: Option<usize>) -> Vec<Started> {
    let targets = [
        Target::built_in(ECHO, "serve-echo"),
        python.clone(),
        Target::ours("net_server", "net_server", &[]),
        Target::ours("net_server_threaded", "net_server_threaded", &[]),
        Target::ours("net_server_async", "net_server_async", &[]),
    ];
    targets
        .into_iter()
        .map(|target| (target.label, target.start(cpu)))
        .collect()
}

/// Measures each of `servers` with `run`, `rounds` times interleaved.
pub fn measure_servers<T>(
    servers: &[Started],
    rounds: usize,
    run: impl Fn(SocketAddr) -> io::Result<T>,
) -> Vec<Measured<T>> {
    interleaved(servers, rounds, |server| measure_on(server, &run))
}

/// Scenario 1: lock-step round trips on one connection.
pub fn lock_step_scenario(sizes: &Sizes, servers: &[Started]) {
    let n = sizes.round_trips;
    println!(
        "\n1. Lock-step: one connection, {} round trips of 32 bytes",
        thousands(n as f64)
    );
    println!(
        "{:<24}{:>10}{:>10}{:>10}{:>10}   {:<20}vs py",
        "server", "trips/s", "p50", "p99", "max", "vs echo"
    );
    // The first connections to a server pay for page faults and lazy set-up: not counted.
    let warm_up = (n / 10).max(1);
    let _ = measure_servers(servers, 1, |addr| load::lock_step(addr, warm_up));
    let results = measure_servers(servers, sizes.rounds, |addr| load::lock_step(addr, n));
    for measured in &results {
        print_lock_step_row(&results, measured);
    }
    print_lock_step_targets(&results);
}

fn print_lock_step_row(results: &[Measured<Latency>], measured: &Measured<Latency>) {
    let label = measured.label;
    let rounds = match &measured.rounds {
        Ok(rounds) => rounds,
        Err(e) => return println!("{label:<24}not measured: {e}"),
    };
    let median =
        |value: fn(&Latency) -> f64| results.spread(label, value).map_or(0.0, |s| s.median);
    let max = rounds.iter().map(|l| l.max).max().unwrap_or_default();
    let vs = |baseline| ratio_cell(results.ratio(label, baseline, |l| l.per_second));
    println!(
        "{:<24}{:>10}{:>10}{:>10}{:>10}   {:<20}{}",
        label,
        thousands(median(|l| l.per_second)),
        micros(median(|l| micros_of(l.p50))),
        micros(median(|l| micros_of(l.p99))),
        short(max),
        vs(ECHO),
        vs(PYTHON),
    );
}

fn print_lock_step_targets(results: &[Measured<Latency>]) {
    let rate = |l: &Latency| l.per_second;
    let vs_echo = results.ratio("net_server", ECHO, rate);
    println!(
        "{}",
        ratio_target_line("net_server vs raw echo", vs_echo, Goal::AtLeast(0.95))
    );
    let vs_python = results.ratio("net_server", PYTHON, rate);
    println!(
        "{}",
        ratio_target_line("net_server vs python", vs_python, Goal::AtLeast(1.2))
    );
    let p99 = results.spread("net_server", |l| micros_of(l.p99));
    let show_micros = |s: &Spread| format!("{} to {}", micros(s.min), micros(s.max));
    let p99_goal = Goal::AtMost(1000.0);
    println!(
        "{}",
        target_line("net_server p99 < 1 ms", p99, p99_goal, show_micros)
    );
    let max = results.spread("net_server", |l| micros_of(l.max));
    let stall_goal = Goal::AtMost(40_000.0);
    println!(
        "{}",
        target_line("net_server no 40 ms stall", max, stall_goal, |s| {
            format!("slowest {}", micros(s.max))
        })
    );
}

/// Scenario 2: one connection streaming lines while the replies are read.
pub fn pipelined_scenario(sizes: &Sizes, servers: &[Started]) {
    let n = sizes.pipelined_lines;
    println!(
        "\n2. Pipelined: one connection streams {} lines of 32 bytes, replies read concurrently",
        thousands(n as f64)
    );
    println!("{:<24}{:>14}{:>10}   vs echo", "server", "lines/s", "MB/s");
    let warm_up = (n / 10).max(1);
    let _ = measure_servers(servers, 1, |addr| load::pipelined(addr, warm_up));
    let results = measure_servers(servers, sizes.rounds, |addr| load::pipelined(addr, n));
    let megabytes = |t: &Throughput| t.megabytes_per_second;
    for measured in &results {
        let label = measured.label;
        if let Err(e) = &measured.rounds {
            println!("{label:<24}not measured: {e}");
            continue;
        }
        let median = |value: fn(&Throughput) -> f64| {
            results
                .spread(label, value)
                .map_or(0.0, |spread| spread.median)
        };
        println!(
            "{:<24}{:>14}{:>10.1}   {}",
            label,
            thousands(median(|t| t.lines_per_second)),
            median(megabytes),
            ratio_cell(results.ratio(label, ECHO, megabytes)),
        );
    }
    let ours = results.ratio("net_server", ECHO, megabytes);
    let goal = Goal::AtLeast(0.5);
    println!(
        "{}",
        ratio_target_line("net_server pipelined vs raw echo", ours, goal)
    );
}

/// A ratio column: `0.97x (0.91-1.02)`, or `-` without a baseline.
pub fn ratio_cell(spread: Option<Spread>) -> String {
    spread.map_or("-".to_string(), |s| s.as_ratio())
}

fn micros_of(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// A number of microseconds for the report, as [`short`] shows durations.
fn micros(micros: f64) -> String {
    short(Duration::from_secs_f64(micros.max(0.0) / 1e6))
}
