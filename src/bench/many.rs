//! Scenario 3: many clients at once, against our two concurrent servers and a naive
//! thread-per-connection server.

use std::io;
use std::time::Duration;

use super::compare::{ratio_target_line, target_line, Goal, Spread};
use super::load;
use super::rounds::{interleaved, Lookup, Measured};
use super::single::ratio_cell;
use super::stats::{short, thousands, Latency};
use super::target::Target;
use super::Sizes;

const NAIVE: &str = "thread per connection";
const THREADED: &str = "net_server_threaded";
const ASYNC: &str = "net_server_async";

/// One server's measurement at one client count.
struct ManyResult {
    latency: Latency,
    peak_rss_kib: Option<u64>,
    idle_kib_per_connection: Option<f64>,
}

/// Scenario 3: 100, 1,000 and (in the full run) 10,000 clients, each client count
/// measured in interleaved rounds.
pub fn many_clients_scenario(sizes: &Sizes) {
    println!(
        "\n3. Many clients: each does lock-step round trips for {:.1}s, all at once",
        sizes.many_duration.as_secs_f64()
    );
    println!(
        "{:<24}{:>8}{:>10}{:>11}{:>12}{:>10}   vs threaded",
        "server", "clients", "trips/s", "p99", "peak RSS", "RSS/idle"
    );
    if !sizes.many_clients.contains(&10_000) {
        println!("(10,000 clients only in the full run: setting them up takes seconds a round)");
    }
    let fd_limit = open_file_limit();
    for &clients in sizes.many_clients {
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
        Target::built_in(NAIVE, "serve-naive"),
        Target::ours(THREADED, "net_server_threaded", &cap),
        Target::ours(ASYNC, "net_server_async", &cap),
    ]
    .map(|target| (target.label, target));
    // A fresh server for every measurement, so each memory figure starts from nothing.
    let results = interleaved(&targets, sizes.rounds, |target| {
        measure_many(target, clients, sizes)
    });
    for measured in &results {
        print_row(&results, measured, clients);
    }
    print_targets(&results, clients);
}

fn print_row(results: &[Measured<ManyResult>], measured: &Measured<ManyResult>, clients: usize) {
    let label = measured.label;
    let rounds = match &measured.rounds {
        Ok(rounds) => rounds,
        Err(e) => return println!("{label:<24}{clients:>8}  not measured: {e}"),
    };
    let median = |value: fn(&ManyResult) -> f64| results.spread(label, value).map(|s| s.median);
    let p99 = median(|r| r.latency.p99.as_secs_f64()).unwrap_or(0.0);
    let peak = known_spread(rounds, |r| r.peak_rss_kib.map(|kib| kib as f64));
    let idle = known_spread(rounds, |r| r.idle_kib_per_connection);
    println!(
        "{:<24}{:>8}{:>10}{:>11}{:>12}{:>10}   {}",
        label,
        thousands(clients as f64),
        thousands(median(|r| r.latency.per_second).unwrap_or(0.0)),
        short(Duration::from_secs_f64(p99)),
        peak.map_or("-".into(), |k| format!("{} KiB", thousands(k.median))),
        idle.map_or("-".into(), |k| format!("{:.1} KiB", k.median)),
        ratio_cell(results.ratio(label, THREADED, |r| r.latency.per_second)),
    );
}

/// The spread of a value that only some platforms can measure (memory: Linux only).
fn known_spread(rounds: &[ManyResult], value: fn(&ManyResult) -> Option<f64>) -> Option<Spread> {
    Spread::of(&rounds.iter().filter_map(value).collect::<Vec<_>>())
}

fn print_targets(results: &[Measured<ManyResult>], clients: usize) {
    let rate = |r: &ManyResult| r.latency.per_second;
    let vs_naive = results.ratio(THREADED, NAIVE, rate);
    let what = "  net_server_threaded vs thread per connection";
    println!("{}", ratio_target_line(what, vs_naive, Goal::AtLeast(0.95)));
    if clients < 1_000 {
        return;
    }
    let vs_threaded = results.ratio(ASYNC, THREADED, rate);
    let what = "  net_server_async vs net_server_threaded";
    println!(
        "{}",
        ratio_target_line(what, vs_threaded, Goal::AtLeast(1.0))
    );
    let async_rounds = results.iter().find(|m| m.label == ASYNC);
    let idle = async_rounds
        .and_then(|m| m.rounds.as_ref().ok())
        .and_then(|rounds| known_spread(rounds, |r| r.idle_kib_per_connection));
    let what = "net_server_async ≤ 12 KiB per idle connection";
    let show = |s: &Spread| format!("{:.1}-{:.1} KiB", s.min, s.max);
    println!("{}", target_line(what, idle, Goal::AtMost(12.0), show));
}

fn measure_many(target: &Target, clients: usize, sizes: &Sizes) -> io::Result<ManyResult> {
    let server = target.start(sizes.server_cpu)?;
    let before = server.rss_kib();
    let run = load::many_clients(
        server.addr(),
        clients,
        sizes.many_warm_up,
        sizes.many_duration,
        || server.rss_kib(),
    )?;
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

/// The soft limit on open files, from /proc (Linux); `None` where unknown.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
