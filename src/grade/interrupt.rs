//! Being interrupted cleanly. On SIGINT (Ctrl-C), SIGTERM or SIGHUP, net_grade kills every
//! process it started (student programs, and the namespaces they run in), removes every
//! scratch copy, says what it was grading, and exits with 128 + the signal's number
//! (130, 143, 129). A second signal while that happens exits at once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::processes;

/// What an interruption has to clean up and report.
#[derive(Default)]
struct State {
    scratch: Vec<PathBuf>,
    grading: Vec<String>,
    done: usize,
    total: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    scratch: Vec::new(),
    grading: Vec::new(),
    done: 0,
    total: 0,
});

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts listening for SIGINT, SIGTERM and SIGHUP.
///
/// # Errors
/// When the handlers cannot be installed.
pub fn install() -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    thread::spawn(move || {
        for signal in signals.forever() {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                std::process::exit(128 + signal); // the second one: at once
            }
            thread::spawn(move || clean_up_and_exit(signal));
        }
    });
    Ok(())
}

/// True once a signal has arrived: nothing new should be started.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Once interrupted, waits for the clean-up to end the process: whoever calls this must
/// not finish (and print a report, and exit) first.
pub fn wait_if_interrupted() {
    while interrupted() {
        thread::park_timeout(Duration::from_secs(1));
    }
}

/// Notes that `total` submissions are to be graded.
pub fn expect(total: usize) {
    state().total = total;
}

/// Notes a scratch copy to remove if interrupted.
pub fn track_scratch(path: &Path) {
    state().scratch.push(path.to_path_buf());
}

/// Notes that grading of `name` has started.
pub fn started(name: &str) {
    state().grading.push(name.to_string());
}

/// Notes that grading of `name` is over.
pub fn finished(name: &str) {
    let mut state = state();
    state.grading.retain(|n| n != name);
    state.done += 1;
}

fn clean_up_and_exit(signal: i32) -> ! {
    // What was going on when the signal came, before the killing ends some of it.
    let (grading, done, total) = {
        let state = state();
        (state.grading.clone(), state.done, state.total)
    };
    let all_gone = processes::kill_descendants(Duration::from_secs(5));
    for dir in &state().scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    let name = match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "SIGHUP",
    };
    let grading = if grading.is_empty() {
        "nothing in particular".to_string()
    } else {
        grading.join(", ")
    };
    let killed = if all_gone {
        "every program it started was killed"
    } else {
        "some programs it started may still be running"
    };
    eprintln!(
        "net_grade: interrupted by {name} while grading {grading} ({done} of {total} done): \
         {killed} and every scratch copy removed"
    );
    std::process::exit(128 + signal);
}
