//! Watching a program for a while before judging it stuck: a window of time counts only
//! if it was really watched.
//!
//! A deadline alone would judge by how fast the machine is. When net_grade itself gets no
//! CPU (a machine busy with other work, a virtual machine paused by its host), time passes
//! unseen, and a program that was working meanwhile would look idle. So a window ends
//! only once it has lasted its length *and* been looked at [`WATCHED_LOOKS`] times, and a
//! program seen busy (running, ready to run, or waiting on the machine) in at least
//! [`BUSY_SHARE`] of the looks was not idle in it.

use std::time::{Duration, Instant};

/// The fewest looks that make a window watched. Looks come every few milliseconds; a
/// second in which net_grade managed fewer than this was mostly unseen.
pub const WATCHED_LOOKS: u32 = 20;

/// A program seen busy in at least this share of the looks was busy in the window.
pub const BUSY_SHARE: f64 = 0.1;

/// One window of watching a program.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    length: Duration,
    since: Instant,
    looks: u32,
    busy_looks: u32,
}

impl Watch {
    /// A window of `length`, starting now.
    pub fn new(length: Duration) -> Watch {
        Watch {
            length,
            since: Instant::now(),
            looks: 0,
            busy_looks: 0,
        }
    }

    /// Notes one look at the program, and whether it was busy then.
    pub fn look(&mut self, busy: bool) {
        self.looks += 1;
        self.busy_looks += u32::from(busy);
    }

    /// Starts the window again (the program showed a sign of life).
    pub fn restart(&mut self) {
        *self = Watch::new(self.length);
    }

    /// Whether the window is over: it has lasted its length and was watched.
    pub fn is_over(&self) -> bool {
        self.since.elapsed() >= self.length && self.looks >= WATCHED_LOOKS
    }

    /// Whether the program was busy in the window.
    pub fn was_busy(&self) -> bool {
        f64::from(self.busy_looks) >= BUSY_SHARE * f64::from(self.looks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_not_over_until_it_was_watched_however_long_it_lasted() {
        let mut watch = Watch::new(Duration::ZERO);
        for _ in 1..WATCHED_LOOKS {
            watch.look(false);
        }
        assert!(!watch.is_over(), "lasted, but too few looks");
        watch.look(false);
        assert!(watch.is_over());
    }

    #[test]
    fn a_window_is_not_over_before_its_length_however_often_it_was_watched() {
        let mut watch = Watch::new(Duration::from_secs(3600));
        for _ in 0..10 * WATCHED_LOOKS {
            watch.look(false);
        }
        assert!(!watch.is_over());
    }

    #[test]
    fn busy_in_a_tenth_of_the_looks_is_busy_and_a_restart_forgets() {
        let mut watch = Watch::new(Duration::ZERO);
        for look in 0..100 {
            watch.look(look < 10);
        }
        assert!(watch.was_busy());
        watch.restart();
        for _ in 0..100 {
            watch.look(false);
        }
        assert!(!watch.was_busy());
    }
}
