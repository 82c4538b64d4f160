//! Reading tests/handout/points.txt, the handout tier's points table: `make points`
//! grades with it, and netlab's reference tier checks it against the tests and the
//! GitHub Classroom workflow.

use std::path::Path;

/// One row of the points table.
pub struct Requirement {
    /// The test in tests/handout.rs that checks it.
    pub test: String,
    /// What it is worth.
    pub points: u32,
}

/// The rows of tests/handout/points.txt: `test points requirement...`, `#` for comments.
///
/// # Errors
/// When the file cannot be read, or a row has no points.
pub fn read_table() -> Result<Vec<Requirement>, String> {
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
