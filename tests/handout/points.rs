//! `make points` (`cargo run --example points`): grades the handout tier requirement by
//! requirement with the points in `tests/handout/points.txt`, one line each, then
//! `total: N/M`. Exits 0 only when every requirement passed.
//!
//! Each requirement's test runs on its own (`cargo test --test handout -- --exact NAME`),
//! the way GitHub Classroom's autograding runs it, so a verdict and its reason belong to
//! that requirement alone. `NETLAB_SERVER` and `NETLAB_CLIENT` pass through to the tests.

use std::path::Path;
use std::process::{Command, ExitCode};

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
    if !cargo(&["test", "--quiet", "--test", "handout", "--no-run"])
        .status()
        .is_ok_and(|s| s.success())
    {
        println!("the handout tests do not build (see the errors above)");
        println!("total: 0/{total}");
        return ExitCode::FAILURE;
    }
    let mut earned = 0;
    for requirement in &table {
        let (passed, reason) = grade(&requirement.test);
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

/// Runs one requirement's test. Returns whether it passed and, if not, why: the first
/// line of its failure message.
fn grade(test: &str) -> (bool, Option<String>) {
    let args = [
        "test", "--quiet", "--test", "handout", "--", "--exact", test,
    ];
    let output = match cargo(&args).output() {
        Ok(output) => output,
        Err(e) => return (false, Some(format!("cannot run cargo: {e}"))),
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
