//! Comparisons that survive a noisy machine: a value measured once per round is summed
//! up by its median and its range, a ratio is taken round by round between contenders
//! measured next to each other, and a target counts as met only when the whole range
//! meets it.

use std::fmt;

/// The median and range (min to max) of a value measured once per round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The middle value; the mean of the two middle ones for an even count.
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        let middle = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[middle]
        } else {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        };
        Some(Spread { median, min, max })
    }

    /// The spread as a ratio for the report: `0.97x (0.91-1.02)`.
    pub fn as_ratio(&self) -> String {
        format!("{:.2}x ({:.2}-{:.2})", self.median, self.min, self.max)
    }
}

/// The ratio `ours / baseline` of each round, for values measured once per round (the
/// same index is the same round). Rounds without a usable baseline are left out.
pub fn paired_ratios(ours: &[f64], baseline: &[f64]) -> Vec<f64> {
    ours.iter()
        .zip(baseline)
        .filter(|(_, &base)| base > 0.0)
        .map(|(&ours, &base)| ours / base)
        .collect()
}

/// What a measured value must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// At least this much (a rate, a ratio of rates).
    AtLeast(f64),
    /// At most this much (a time, a ratio of times, memory).
    AtMost(f64),
}

impl Goal {
    /// Whether `value` reaches the goal.
    pub fn holds(self, value: f64) -> bool {
        match self {
            Goal::AtLeast(limit) => value >= limit,
            Goal::AtMost(limit) => value <= limit,
        }
    }

    /// The goal for the report, as a ratio: `≥ 0.95x`.
    pub fn as_ratio(self) -> String {
        match self {
            Goal::AtLeast(limit) => format!("≥ {limit:.2}x"),
            Goal::AtMost(limit) => format!("≤ {limit:.2}x"),
        }
    }
}

/// Whether a target was met across every round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every round met it.
    Met,
    /// No round met it.
    Missed,
    /// Some rounds met it and some did not.
    Unclear,
}

impl Verdict {
    /// Judges a spread: met only when both ends of its range reach `goal`.
    pub fn of(spread: &Spread, goal: Goal) -> Verdict {
        match (goal.holds(spread.min), goal.holds(spread.max)) {
            (true, true) => Verdict::Met,
            (false, false) => Verdict::Missed,
            _ => Verdict::Unclear,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::Unclear => "unclear: range straddles the target",
        })
    }
}

/// A target's line in the report: `  target: WHAT: MEASURED, VERDICT`, where `show` writes
/// the measured spread; `not measured` when there is none.
pub fn target_line(
    what: &str,
    spread: Option<Spread>,
    goal: Goal,
    show: impl Fn(&Spread) -> String,
) -> String {
    match spread {
        Some(s) => format!("  target: {what}: {}, {}", show(&s), Verdict::of(&s, goal)),
        None => format!("  target: {what}: not measured"),
    }
}

/// [`target_line`] for a ratio: `  target: WHAT ≥ 0.95x: 0.97x (0.91-1.02), met`. The
/// ratios are judged as printed, to two decimals, so that a range shown as starting at
/// 0.50x meets "≥ 0.50x".
pub fn ratio_target_line(what: &str, spread: Option<Spread>, goal: Goal) -> String {
    let what = format!("{what} {}", goal.as_ratio());
    let hundredths = |value: f64| (value * 100.0).round() / 100.0;
    let shown = spread.map(|s| Spread {
        median: hundredths(s.median),
        min: hundredths(s.min),
        max: hundredths(s.max),
    });
    target_line(&what, shown, goal, Spread::as_ratio)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(values: &[f64]) -> Spread {
        Spread::of(values).expect("values")
    }

    #[test]
    fn median_of_an_odd_count_is_the_middle_value() {
        let s = spread(&[5.0, 1.0, 3.0, 9.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 9.0));
    }

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(spread(&[4.0, 1.0, 2.0, 10.0]).median, 3.0);
    }

    #[test]
    fn one_value_is_its_own_median_and_range() {
        let s = spread(&[0.5]);
        assert_eq!((s.median, s.min, s.max), (0.5, 0.5, 0.5));
    }

    #[test]
    fn no_values_have_no_spread() {
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn ratios_pair_values_of_the_same_round() {
        let ratios = paired_ratios(&[2.0, 3.0, 8.0], &[4.0, 3.0, 2.0]);
        assert_eq!(ratios, [0.5, 1.0, 4.0]);
    }

    #[test]
    fn ratios_skip_rounds_without_a_baseline() {
        assert_eq!(paired_ratios(&[2.0, 3.0, 5.0], &[0.0, 1.0]), [3.0]);
    }

    #[test]
    fn ratio_spread_is_the_median_of_the_paired_ratios() {
        // Pairing matters: the medians of the two series alone give 1.0.
        let ratios = paired_ratios(&[1.0, 2.0, 3.0], &[2.0, 2.0, 1.0]);
        assert_eq!(spread(&ratios).as_ratio(), "1.00x (0.50-3.00)");
        let skewed = paired_ratios(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]);
        assert_eq!(spread(&skewed).as_ratio(), "1.00x (0.33-3.00)");
    }

    #[test]
    fn a_target_is_met_only_when_the_whole_range_meets_it() {
        let goal = Goal::AtLeast(0.95);
        assert_eq!(Verdict::of(&spread(&[0.96, 1.2]), goal), Verdict::Met);
        assert_eq!(Verdict::of(&spread(&[0.95, 1.0]), goal), Verdict::Met);
        assert_eq!(Verdict::of(&spread(&[0.90, 1.2]), goal), Verdict::Unclear);
        assert_eq!(Verdict::of(&spread(&[0.5, 0.94]), goal), Verdict::Missed);
    }

    #[test]
    fn an_upper_limit_is_met_when_the_largest_value_is_below_it() {
        let goal = Goal::AtMost(1.0);
        assert_eq!(Verdict::of(&spread(&[0.4, 1.0]), goal), Verdict::Met);
        assert_eq!(Verdict::of(&spread(&[0.9, 1.1]), goal), Verdict::Unclear);
        assert_eq!(Verdict::of(&spread(&[1.1, 2.0]), goal), Verdict::Missed);
    }

    #[test]
    fn verdicts_read_as_the_report_prints_them() {
        assert_eq!(Verdict::Met.to_string(), "met");
        assert_eq!(Verdict::Missed.to_string(), "MISSED");
        assert_eq!(
            Verdict::Unclear.to_string(),
            "unclear: range straddles the target"
        );
        assert_eq!(Goal::AtLeast(0.5).as_ratio(), "≥ 0.50x");
        assert_eq!(Goal::AtMost(1.0).as_ratio(), "≤ 1.00x");
    }

    #[test]
    fn target_lines_show_the_range_and_the_verdict() {
        let line = ratio_target_line("ours vs echo", Spread::of(&[0.9, 1.0]), Goal::AtLeast(0.95));
        assert_eq!(
            line,
            "  target: ours vs echo ≥ 0.95x: 0.95x (0.90-1.00), unclear: range straddles the target"
        );
        let rounded_up = ratio_target_line("ours", Spread::of(&[0.496, 0.6]), Goal::AtLeast(0.5));
        assert_eq!(rounded_up, "  target: ours ≥ 0.50x: 0.55x (0.50-0.60), met");
        let missing = ratio_target_line("ours vs echo", None, Goal::AtLeast(0.95));
        assert_eq!(missing, "  target: ours vs echo ≥ 0.95x: not measured");
    }
}
