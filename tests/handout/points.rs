//! `make points` (`cargo run --example points`): grades the handout tier requirement by
//! requirement with the points in `tests/handout/points.txt`, one line each, then
//! `total: N/M`. Exits 0 only when every requirement passed.
//!
//! Each requirement's test runs on its own (`handout --exact NAME`), the way GitHub
//! Classroom's autograding runs it, so a verdict and its reason belong to that
//! requirement alone. `NETLAB_SERVER` and `NETLAB_CLIENT` pass through to the tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

#[path = "points_table.rs"]
mod points_table;

use points_table::read_table;

fn main() -> ExitCode {
    let table = match read_table() {
        Ok(table) => table,
        Err(why) => {
            eprintln!("points: {why}");
            return ExitCode::from(2);
        }
    };
    let total: u32 = table.iter().map(|r| r.points).sum();
    let Some(tests) = build_tests() else {
        println!("the handout tests do not build (see the errors above)");
        println!("total: 0/{total}");
        return ExitCode::FAILURE;
    };
    // Every requirement's test starts at once; the lines come out in the table's order.
    let running: Vec<_> = table.iter().map(|r| start(&tests, &r.test)).collect();
    let mut earned = 0;
    for (requirement, child) in table.iter().zip(running) {
        let (passed, reason) = verdict(child);
        let points = if passed { requirement.points } else { 0 };
        earned += points;
        let verdict = if passed { "PASS" } else { "FAIL" };
        let line = format!(
            "{verdict} {points:>2}/{:<2} {}",
            requirement.points, requirement.test
        );
        match reason {
            Some(reason) => println!("{line}: {reason}"),
            None => println!("{line}"),
        }
    }
    println!("total: {earned}/{total}");
    if earned == total {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Builds the handout tests (compiler errors go to the terminal) and returns the path of
/// the test program.
fn build_tests() -> Option<PathBuf> {
    let args = ["test", "--quiet", "--test", "handout", "--no-run"];
    let output = cargo(&args)
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    // One JSON line per built target; the handout tests' line names their executable.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("\"name\":\"handout\""))?;
    let (_, rest) = line.split_once("\"executable\":\"")?;
    let (path, _) = rest.split_once('"')?;
    Some(PathBuf::from(path.replace("\\\\", "\\")))
}

/// Starts one requirement's test.
fn start(tests: &Path, test: &str) -> std::io::Result<Child> {
    Command::new(tests)
        .args([test, "--exact"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// Waits for one requirement's test. Returns whether it passed and, if not, why: the
/// first line of its failure message.
fn verdict(child: std::io::Result<Child>) -> (bool, Option<String>) {
    let output = match child.and_then(Child::wait_with_output) {
        Ok(output) => output,
        Err(e) => return (false, Some(format!("cannot run the test: {e}"))),
    };
    if output.status.success() {
        return (true, None);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let reason = match lines.find(|line| line.contains("panicked at ")) {
        Some(_) => lines.next().unwrap_or("the test failed").to_string(),
        None => "the test failed".to_string(),
    };
    (false, Some(reason))
}

/// `cargo` with `args`, run in this package.
fn cargo(args: &[&str]) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}
