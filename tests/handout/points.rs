//! `make points` (`cargo run --example points`): grades the handout tier requirement by
//! requirement with the points in `tests/handout/points.txt`, one line each, then
//! `total: N/M`. Exits 0 only when every requirement passed.
//!
//! Each requirement's test runs on its own (`handout --exact NAME`), the way GitHub
//! Classroom's autograding runs it, so a verdict and its reason belong to that
//! requirement alone. `NETLAB_SERVER` and `NETLAB_CLIENT` pass through to the tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

/// One row of the points table.
struct Requirement {
    /// The test in tests/handout.rs that checks it.
    test: String,
    /// What it is worth.
    points: u32,
}

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

/// The rows of tests/handout/points.txt: `test points requirement...`, `#` for comments.
fn read_table() -> Result<Vec<Requirement>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/handout/points.txt");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let rows = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    rows.map(|line| {
        let mut fields = line.split_whitespace();
        let test = fields.next().unwrap_or_default().to_string();
        match fields.next().map(str::parse) {
            Some(Ok(points)) => Ok(Requirement { test, points }),
            _ => Err(format!("{}: no points in {line:?}", path.display())),
        }
    })
    .collect()
}
