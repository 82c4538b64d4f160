//! The benchmark behind `make bench`: it starts each server under test on a free loopback
//! port, drives it, and prints tables in which every number sits next to its ratio to a
//! baseline measured in the same run.
//!
//! Scenarios:
//! 1. lock-step: one connection, send 32 bytes, wait for the reply, repeat;
//! 2. pipelined: one connection streaming lines while the replies are read concurrently;
//! 3. many clients: 100, 1,000 and 10,000 connections doing lock-step round trips at once.
//!
//! Baselines: a raw echo server (plain std, no framing: the physical limit), the
//! textbook Python server from the handout (`fixtures/baselines/handout_server.py`), and
//! for scenario 3 a naive thread-per-connection server.

pub mod baseline;
pub mod compare;
pub mod load;
pub mod rounds;
pub mod stats;
pub mod target;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use stats::{ratio, short, thousands, Latency};
use target::Target;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Smaller runs, to finish in well under a minute.
    pub quick: bool,
    /// The handout-style Python server script.
    pub python_server: PathBuf,
    /// Run only this scenario; all of them when `None`.
    pub only: Option<Scenario>,
}

/// The three scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// One connection, one message at a time.
    LockStep,
    /// One connection streaming messages while replies are read.
    Pipelined,
    /// 100, 1,000 and 10,000 connections at once.
    Many,
}

/// How much work each scenario does, and where the servers run.
struct Sizes {
    round_trips: usize,
    pipelined_lines: usize,
    many_duration: Duration,
    /// The CPU each server is pinned to, if pinning worked.
    server_cpu: Option<usize>,
}

impl Sizes {
    fn for_options(options: &Options) -> Sizes {
        if options.quick {
            Sizes {
                round_trips: 10_000,
                pipelined_lines: 1_000_000,
                many_duration: Duration::from_secs(1),
                server_cpu: None,
            }
        } else {
            Sizes {
                round_trips: 100_000,
                pipelined_lines: 1_000_000,
                many_duration: Duration::from_secs(3),
                server_cpu: None,
            }
        }
    }
}

/// Client counts for scenario 3.
const MANY_CLIENTS: [usize; 3] = [100, 1_000, 10_000];

/// Runs every scenario and prints the report on stdout.
///
/// # Errors
/// Only when printing fails; a server that cannot be measured gets a row saying why.
pub fn run(options: &Options) -> io::Result<()> {
    let mut sizes = Sizes::for_options(options);
    let mode = if options.quick { "quick" } else { "full" };
    println!("netlab benchmark ({mode} run), loopback, {} cores", cores());
    // With the server on one core and the load generator on another, neither steals time
    // from the other, and runs are comparable: servers with many threads would otherwise
    // win CPU share from the load generator rather than by being faster.
    if cores() >= 2 && target::pin_this_process(1) {
        sizes.server_cpu = Some(0);
        println!("Each server runs on CPU 0 alone; the load generator on CPU 1.");
    } else {
        println!("Servers and load generator share the CPUs (no `taskset`, or one core).");
    }
    println!("Every server replies with the upper-cased message; the echo baseline echoes.");
    let python = Target::python("python handout server", &options.python_server);
    let wanted = |scenario| options.only.map_or(true, |only| only == scenario);
    if wanted(Scenario::LockStep) {
        lock_step_scenario(&sizes, &python);
    }
    if wanted(Scenario::Pipelined) {
        pipelined_scenario(&sizes, &python);
    }
    if wanted(Scenario::Many) {
        many_clients_scenario(&sizes);
    }
    Ok(())
}

fn single_connection_targets(python: &Target) -> Vec<Target> {
    vec![
        Target::built_in("raw echo (baseline)", "serve-echo"),
        python.clone(),
        Target::ours("net_server", "net_server", &[]),
        Target::ours("net_server_threaded", "net_server_threaded", &[]),
        Target::ours("net_server_async", "net_server_async", &[]),
    ]
}

fn lock_step_scenario(sizes: &Sizes, python: &Target) {
    let n = sizes.round_trips;
    println!(
        "\n1. Lock-step: one connection, {} round trips of 32 bytes",
        thousands(n as f64)
    );
    println!(
        "{:<24}{:>12}{:>11}{:>11}{:>11}{:>10}{:>10}",
        "server", "trips/s", "p50", "p99", "max", "vs echo", "vs py"
    );
    let results = measure_each(
        single_connection_targets(python),
        sizes.server_cpu,
        |addr| load::lock_step(addr, n),
        |l| l.per_second,
    );
    let rate = |label: &str| rate_of(&results, label, |l| l.per_second);
    let (echo, py) = (rate("raw echo (baseline)"), rate("python handout server"));
    for (label, result) in &results {
        match result {
            Ok(l) => println!(
                "{:<24}{:>12}{:>11}{:>11}{:>11}{:>10}{:>10}",
                label,
                thousands(l.per_second),
                short(l.p50),
                short(l.p99),
                short(l.max),
                ratio(l.per_second, echo),
                ratio(l.per_second, py),
            ),
            Err(e) => println!("{label:<24}not measured: {e}"),
        }
    }
    if let Some((_, Ok(l))) = results.iter().find(|(label, _)| *label == "net_server") {
        verdict("net_server vs raw echo", l.per_second, echo, 0.95);
        verdict("net_server vs python", l.per_second, py, 1.2);
        let stall = l.max >= Duration::from_millis(40);
        println!(
            "  target: net_server p99 < 1 ms: {}; no 40 ms stall: {}",
            met(l.p99 < Duration::from_millis(1)),
            met(!stall)
        );
    }
}

fn pipelined_scenario(sizes: &Sizes, python: &Target) {
    let n = sizes.pipelined_lines;
    println!(
        "\n2. Pipelined: one connection streams {} lines of 32 bytes, replies read concurrently",
        thousands(n as f64)
    );
    println!(
        "{:<24}{:>14}{:>10}{:>10}",
        "server", "lines/s", "MB/s", "vs echo"
    );
    let results = measure_each(
        single_connection_targets(python),
        sizes.server_cpu,
        |addr| load::pipelined(addr, n),
        |t| t.lines_per_second,
    );
    let echo = rate_of(&results, "raw echo (baseline)", |t| t.megabytes_per_second);
    for (label, result) in &results {
        match result {
            Ok(t) => println!(
                "{:<24}{:>14}{:>10.1}{:>10}",
                label,
                thousands(t.lines_per_second),
                t.megabytes_per_second,
                ratio(t.megabytes_per_second, echo)
            ),
            Err(e) => println!("{label:<24}not measured: {e}"),
        }
    }
    let ours = rate_of(&results, "net_server", |t| t.megabytes_per_second);
    if let Some(ours) = ours {
        verdict("net_server pipelined vs raw echo", ours, echo, 0.5);
    }
}

/// One row of scenario 3.
struct ManyResult {
    latency: Latency,
    peak_rss_kib: Option<u64>,
    idle_kib_per_connection: Option<f64>,
}

fn many_clients_scenario(sizes: &Sizes) {
    println!(
        "\n3. Many clients: each does lock-step round trips for {:.1}s, all at once",
        sizes.many_duration.as_secs_f64()
    );
    println!(
        "{:<24}{:>8}{:>11}{:>11}{:>13}{:>11}{:>13}",
        "server", "clients", "trips/s", "p99", "peak RSS", "RSS/idle", "vs threaded"
    );
    let fd_limit = open_file_limit();
    for clients in MANY_CLIENTS {
        if fd_limit.is_some_and(|limit| limit < clients as u64 + 100) {
            println!(
                "(skipping {clients} clients: `ulimit -n` is too low; `make bench` raises it)"
            );
            continue;
        }
        many_clients_level(sizes, clients);
    }
}

fn many_clients_level(sizes: &Sizes, clients: usize) {
    let cap = vec!["--max-clients".to_string(), clients.to_string()];
    let targets = [
        Target::built_in("thread per connection", "serve-naive"),
        Target::ours("net_server_threaded", "net_server_threaded", &cap),
        Target::ours("net_server_async", "net_server_async", &cap),
    ];
    let results: Vec<_> = targets
        .iter()
        .map(|target| (target.label, measure_many(target, clients, sizes)))
        .collect();
    let threaded = rate_of(&results, "net_server_threaded", |r| r.latency.per_second);
    let naive = rate_of(&results, "thread per connection", |r| r.latency.per_second);
    for (label, result) in &results {
        match result {
            Ok(r) => println!(
                "{:<24}{:>8}{:>11}{:>11}{:>13}{:>11}{:>13}",
                label,
                thousands(clients as f64),
                thousands(r.latency.per_second),
                short(r.latency.p99),
                r.peak_rss_kib
                    .map_or("-".into(), |k| format!("{} KiB", thousands(k as f64))),
                r.idle_kib_per_connection
                    .map_or("-".into(), |k| format!("{k:.1} KiB")),
                ratio(r.latency.per_second, threaded),
            ),
            Err(e) => println!("{label:<24}{clients:>8}  not measured: {e}"),
        }
    }
    if let Some(threaded) = threaded {
        verdict(
            "  net_server_threaded vs thread per connection",
            threaded,
            naive,
            0.95,
        );
    }
    if clients >= 1_000 {
        let ours = rate_of(&results, "net_server_async", |r| r.latency.per_second);
        if let Some(ours) = ours {
            verdict(
                "  net_server_async vs net_server_threaded",
                ours,
                threaded,
                1.0,
            );
        }
        let idle = results
            .iter()
            .find(|(label, _)| *label == "net_server_async");
        if let Some((
            _,
            Ok(ManyResult {
                idle_kib_per_connection: Some(kib),
                ..
            }),
        )) = idle
        {
            println!(
                "  target: net_server_async ≤ 12 KiB per idle connection: {}",
                met(*kib <= 12.0)
            );
        }
    }
}

fn measure_many(target: &Target, clients: usize, sizes: &Sizes) -> io::Result<ManyResult> {
    let server = target.start(sizes.server_cpu)?;
    let duration = sizes.many_duration;
    let before = server.rss_kib();
    let run = load::many_clients(server.addr(), clients, duration, || server.rss_kib())?;
    let per_connection = match (before, run.idle) {
        (Some(before), Some(idle)) => Some(idle.saturating_sub(before) as f64 / clients as f64),
        _ => None,
    };
    Ok(ManyResult {
        latency: run.latency,
        peak_rss_kib: server.peak_rss_kib(),
        idle_kib_per_connection: per_connection,
    })
}

/// Starts each target in turn (on `cpu`, if given) and measures it with `run`, keeping the
/// best of three runs by `score`.
fn measure_each<T>(
    targets: Vec<Target>,
    cpu: Option<usize>,
    run: impl Fn(SocketAddr) -> io::Result<T>,
    score: impl Fn(&T) -> f64,
) -> Vec<(&'static str, io::Result<T>)> {
    targets
        .into_iter()
        .map(|target| {
            let result = target
                .start(cpu)
                .and_then(|server| best_of_3(|| run(server.addr()), &score));
            (target.label, result)
        })
        .collect()
}

/// The best of three runs by `score`: short runs are at the mercy of whatever else the
/// machine does, and the best run is the one least disturbed.
fn best_of_3<T>(run: impl Fn() -> io::Result<T>, score: impl Fn(&T) -> f64) -> io::Result<T> {
    let mut best = run()?;
    for _ in 0..2 {
        let next = run()?;
        if score(&next) > score(&best) {
            best = next;
        }
    }
    Ok(best)
}

/// The measurement `value` of the row labelled `label`, if it was measured.
fn rate_of<T>(
    results: &[(&str, io::Result<T>)],
    label: &str,
    value: impl Fn(&T) -> f64,
) -> Option<f64> {
    results
        .iter()
        .find(|(l, _)| *l == label)
        .and_then(|(_, r)| r.as_ref().ok())
        .map(value)
}

/// Prints whether `ours / baseline` reaches `target`.
fn verdict(what: &str, ours: f64, baseline: Option<f64>, target: f64) {
    let Some(base) = baseline.filter(|b| *b > 0.0) else {
        println!("  target: {what} ≥ {target:.2}x: no baseline");
        return;
    };
    let ratio = ours / base;
    println!(
        "  target: {what} ≥ {target:.2}x: {ratio:.2}x, {}",
        met(ratio >= target)
    );
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The soft limit on open files, from /proc (Linux); `None` where unknown.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
