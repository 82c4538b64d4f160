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
    /// The server's CPU time per round trip in the counted window, in µs: how much work
    /// a round trip costs it, however much of its core it got meanwhile.
    cpu_micros_per_trip: Option<f64>,
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
        "{:<24}{:>8}{:>10}{:>10}{:>11}{:>12}{:>10}   vs threaded",
        "server", "clients", "trips/s", "CPU/trip", "p99", "peak RSS", "RSS/idle"
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
    let cpu = known_spread(rounds, |r| r.cpu_micros_per_trip);
    println!(
        "{:<24}{:>8}{:>10}{:>10}{:>11}{:>12}{:>10}   {}",
        label,
        thousands(clients as f64),
        thousands(median(|r| r.latency.per_second).unwrap_or(0.0)),
        cpu.map_or("-".into(), |c| format!("{:.1} µs", c.median)),
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
    let what = "net_server_threaded vs thread per connection";
    println!("{}", ratio_target_line(what, vs_naive, Goal::AtLeast(0.95)));
    print_cpu_comparison(results);
    if clients < 1_000 {
        return;
    }
    let vs_threaded = results.ratio(ASYNC, THREADED, rate);
    let what = "net_server_async vs net_server_threaded";
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

/// The cost of a round trip to each server, which unlike the rate does not depend on how
/// much of its core the server got: on a busy machine, the fairer comparison.
fn print_cpu_comparison(results: &[Measured<ManyResult>]) {
    let rounds = |label| {
        results
            .iter()
            .find(|m| m.label == label)?
            .rounds
            .as_ref()
            .ok()
    };
    let (Some(ours), Some(naive)) = (rounds(THREADED), rounds(NAIVE)) else {
        return;
    };
    let ratios: Vec<f64> = ours
        .iter()
        .zip(naive)
        .filter_map(|(ours, naive)| {
            let naive = naive.cpu_micros_per_trip.filter(|&cpu| cpu > 0.0)?;
            Some(ours.cpu_micros_per_trip? / naive)
        })
        .collect();
    if let Some(ratio) = Spread::of(&ratios) {
        println!(
            "  CPU per round trip, net_server_threaded vs thread per connection: {}",
            ratio.as_ratio()
        );
    }
}

fn measure_many(target: &Target, clients: usize, sizes: &Sizes) -> io::Result<ManyResult> {
    let server = target.start(sizes.server_cpu)?;
    let before = server.rss_kib();
    let probe = || (server.cpu_time(), server.rss_kib());
    let duration = sizes.many_duration;
    let run = load::many_clients(server.addr(), clients, sizes.many_warm_up, duration, probe)?;
    let per_connection = match (before, run.idle.1) {
        (Some(before), Some(idle)) => Some(idle.saturating_sub(before) as f64 / clients as f64),
        _ => None,
    };
    let trips = run.latency.per_second * duration.as_secs_f64();
    let cpu = match (run.window_start.0, run.window_end.0) {
        (Some(start), Some(end)) => cpu_per_trip(end.saturating_sub(start), trips),
        _ => None,
    };
    Ok(ManyResult {
        latency: run.latency,
        cpu_micros_per_trip: cpu,
        peak_rss_kib: server.peak_rss_kib(),
        idle_kib_per_connection: per_connection,
    })
}

/// Microseconds of CPU time `cpu` per round trip; `None` when the server got too little CPU
/// for the kernel's 10 ms steps to measure it to 10%.
fn cpu_per_trip(cpu: Duration, trips: f64) -> Option<f64> {
    (cpu >= MIN_CPU && trips > 0.0).then(|| cpu.as_secs_f64() * 1e6 / trips)
}

/// The least CPU time a window must use for its CPU per round trip to be shown.
const MIN_CPU: Duration = Duration::from_millis(100);

/// The soft limit on open files, from /proc (Linux); `None` where unknown.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_per_trip_divides_the_window_cpu_by_the_round_trips() {
        assert_eq!(
            cpu_per_trip(Duration::from_millis(500), 100_000.0),
            Some(5.0)
        );
    }

    #[test]
    fn too_little_cpu_to_measure_gives_no_cost() {
        assert_eq!(cpu_per_trip(Duration::from_millis(90), 1_000.0), None);
        assert_eq!(cpu_per_trip(Duration::from_millis(500), 0.0), None);
    }
}
