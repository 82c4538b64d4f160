//! Grading each submission in a network namespace of its own (Linux, as root): there, a
//! server that binds 0.0.0.0 is unreachable from other machines, a client that looks up
//! a remote host fails at once, and two submissions with the same hard-coded port can be
//! graded at the same time.

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;

use super::report::{Report, Verdict};

/// True when `unshare -n` can make a network namespace here and `ip` can bring its
/// loopback interface up.
pub fn namespaces_work() -> bool {
    Command::new("unshare")
        .args(["-n", "ip", "link", "set", "lo", "up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Brings up loopback in the namespace this process runs in (a new one has it down).
///
/// # Errors
/// A sentence saying what failed.
pub fn loopback_up() -> Result<(), String> {
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("ip link set lo up: {status}"))
    }
}

/// Runs `net_grade ARGS` (the program at `exe`, in its one-submission mode) in a new
/// network namespace, and reads back the report it prints. `name` names the submission
/// if the run fails.
pub fn grade_in_namespace(exe: &Path, args: &[String], name: &str) -> Report {
    let output = Command::new("unshare")
        .arg("-n")
        .arg("--")
        .arg(exe)
        .args(args)
        .output();
    let (report, why) = match output {
        Ok(output) => {
            let report = Report::from_lines(&String::from_utf8_lossy(&output.stdout));
            let why = format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
            (report, why)
        }
        Err(e) => (Report::default(), format!("cannot run unshare: {e}")),
    };
    if !report.name.is_empty() {
        return report;
    }
    let mut failed = Report {
        name: name.to_string(),
        ..Report::default()
    };
    failed.check("setup", "grading ran", Verdict::Fail, why);
    failed
}

/// `f` applied to every item, up to `jobs` at a time; results in the order of `items`.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new((0..items.len()).map(|_| None).collect::<Vec<Option<R>>>());
    thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(item) = items.get(i) else { return };
                let result = f(item);
                if let Ok(mut results) = results.lock() {
                    results[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_map_keeps_the_order() {
        let items: Vec<u32> = (0..50).collect();
        let doubled = parallel_map(&items, 4, |n| n * 2);
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
    }
}
