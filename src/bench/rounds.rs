//! Interleaved measurement: each round measures every contender once, so that whatever
//! else the machine is doing at the time weighs on all of them alike, and a ratio can be
//! taken between contenders measured side by side.

use std::io;

use super::compare::{paired_ratios, Spread};

/// One contender's measurements, one per round, in round order; or why it has none.
pub struct Measured<T> {
    /// The name shown in the report.
    pub label: &'static str,
    /// The measurements, or the error that stopped them.
    pub rounds: io::Result<Vec<T>>,
}

/// Measures each of `contenders` once per round, for `rounds` rounds. Odd rounds go
/// through the contenders backwards, so none always runs first or always after the same
/// neighbour. A contender whose measurement fails is not measured again: its result is
/// that error.
pub fn interleaved<C, T>(
    contenders: &[(&'static str, C)],
    rounds: usize,
    mut measure: impl FnMut(&C) -> io::Result<T>,
) -> Vec<Measured<T>> {
    let mut results: Vec<io::Result<Vec<T>>> = contenders.iter().map(|_| Ok(Vec::new())).collect();
    for round in 0..rounds {
        for index in round_order(contenders.len(), round) {
            if let Ok(values) = &mut results[index] {
                match measure(&contenders[index].1) {
                    Ok(value) => values.push(value),
                    Err(e) => results[index] = Err(e),
                }
            }
        }
    }
    contenders
        .iter()
        .zip(results)
        .map(|((label, _), rounds)| Measured { label, rounds })
        .collect()
}

/// The order in which round `round` visits `count` contenders: forwards in even rounds,
/// backwards in odd ones.
fn round_order(count: usize, round: usize) -> Vec<usize> {
    if round % 2 == 0 {
        (0..count).collect()
    } else {
        (0..count).rev().collect()
    }
}

/// Reading values out of the results of [`interleaved`], by contender label.
pub trait Lookup<T> {
    /// `value` of each round of `label`, if it was measured.
    fn values(&self, label: &str, value: impl Fn(&T) -> f64) -> Option<Vec<f64>>;

    /// The median and range of `value` for `label`.
    fn spread(&self, label: &str, value: impl Fn(&T) -> f64) -> Option<Spread> {
        Spread::of(&self.values(label, value)?)
    }

    /// The median and range of the per-round ratios of `value` between `ours` and
    /// `baseline`.
    fn ratio(&self, ours: &str, baseline: &str, value: impl Fn(&T) -> f64) -> Option<Spread> {
        let ours = self.values(ours, &value)?;
        Spread::of(&paired_ratios(&ours, &self.values(baseline, &value)?))
    }
}

impl<T> Lookup<T> for [Measured<T>] {
    fn values(&self, label: &str, value: impl Fn(&T) -> f64) -> Option<Vec<f64>> {
        let measured = self.iter().find(|m| m.label == label)?;
        let rounds = measured.rounds.as_ref().ok()?;
        Some(rounds.iter().map(value).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_alternate_direction() {
        let mut visits = Vec::new();
        let contenders = [("a", 'a'), ("b", 'b'), ("c", 'c')];
        interleaved(&contenders, 3, |&c| {
            visits.push(c);
            Ok(())
        });
        assert_eq!(String::from_iter(visits), "abccbaabc");
    }

    #[test]
    fn a_failing_contender_is_dropped_and_the_others_go_on() {
        let contenders = [("good", true), ("bad", false)];
        let results = interleaved(&contenders, 3, |&ok| {
            if ok {
                Ok(1.0)
            } else {
                Err(io::Error::other("refused"))
            }
        });
        assert_eq!(results.values("good", |&v| v), Some(vec![1.0; 3]));
        assert_eq!(results.values("bad", |&v| v), None);
        assert!(results[1].rounds.is_err());
    }

    #[test]
    fn ratios_pair_the_rounds_of_two_contenders() {
        let contenders = [("ours", 2.0), ("base", 1.0)];
        let mut round = 0.0;
        let results = interleaved(&contenders, 2, |&scale| {
            round += 0.5; // each measurement sees a different machine
            Ok(scale * round)
        });
        let ratio = results.ratio("ours", "base", |&v| v).expect("ratio");
        // Round 1 measures ours then base (0.5*2, 1.0); round 2 base then ours (1.5, 2.0*2).
        assert_eq!((ratio.min, ratio.max), (1.0, 4.0 / 1.5));
    }
}
