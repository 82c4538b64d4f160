//! Summaries of measurements, and the number formats of the report.

use std::time::Duration;

/// Round-trip times, summarised.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    /// Round trips per second over the whole run.
    pub per_second: f64,
    /// Median round-trip time.
    pub p50: Duration,
    /// 99th-percentile round-trip time.
    pub p99: Duration,
    /// Slowest round trip.
    pub max: Duration,
}

impl Latency {
    /// Summarises `samples` (each one round trip) taken over `elapsed`.
    pub fn from_samples(mut samples: Vec<Duration>, elapsed: Duration) -> Latency {
        samples.sort_unstable();
        let at = |q: f64| {
            let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples.get(index).copied().unwrap_or_default()
        };
        Latency {
            per_second: samples.len() as f64 / elapsed.as_secs_f64(),
            p50: at(0.50),
            p99: at(0.99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

/// `1234567.0` -> `1,234,567`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A short duration for the report: `23 µs` below 10 ms, `123.4 ms` above.
pub fn short(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros < 10_000.0 {
        format!("{} µs", thousands(micros))
    } else {
        format!("{:.1} ms", micros / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1234567.4), "1,234,567");
    }

    #[test]
    fn percentiles_come_from_the_sorted_samples() {
        let samples = (1..=100).rev().map(Duration::from_micros).collect();
        let latency = Latency::from_samples(samples, Duration::from_secs(1));
        assert_eq!(latency.per_second, 100.0);
        assert_eq!(latency.p50, Duration::from_micros(51));
        assert_eq!(latency.p99, Duration::from_micros(99));
        assert_eq!(latency.max, Duration::from_micros(100));
    }

    #[test]
    fn short_durations_switch_to_milliseconds() {
        assert_eq!(short(Duration::from_micros(23)), "23 µs");
        assert_eq!(short(Duration::from_micros(9_999)), "9,999 µs");
        assert_eq!(short(Duration::from_micros(123_400)), "123.4 ms");
    }
}
