//! The forms a grade is written in: the readable report with its summary table, JSON
//! (one array, one object per submission) and a CSV gradebook. README.txt documents the
//! JSON and CSV columns.

use std::fmt::Write as _;

use serde::Serialize;

use super::verdict::{Check, Grade, Transcript, Verdict};

/// The readable report of one submission.
pub fn text(grade: &Grade) -> String {
    let mut out = format!("== {} ==\n", grade.submission);
    if !grade.isolation.is_empty() {
        let _ = writeln!(out, "isolation: {}", grade.isolation);
    }
    for note in &grade.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let mut section = None;
    for check in &grade.checks {
        let this = check.requirement.section();
        if section != Some(this) {
            section = Some(this);
            let _ = writeln!(out, "\n{}", this.title());
        }
        let _ = writeln!(
            out,
            "  {}  {}: {}",
            check.verdict.label(),
            check.requirement.name(),
            check.reason
        );
    }
    for transcript in &grade.transcripts {
        let _ = writeln!(out, "\n-- {}", transcript.title);
        for line in transcript.text.trim_end().lines() {
            let _ = writeln!(out, "   | {line}");
        }
    }
    let _ = writeln!(
        out,
        "\nresult: {} passed, {} failed, {} skipped\n",
        grade.count(Verdict::Pass),
        grade.count(Verdict::Fail),
        grade.count(Verdict::Skip)
    );
    out
}

/// The summary table of several grades.
pub fn summary(grades: &[Grade]) -> String {
    let width = grades
        .iter()
        .map(|g| g.submission.len())
        .max()
        .unwrap_or(10)
        .max(10);
    let mut out = format!(
        "{:<width$}  {:>6} {:>6} {:>6} {:>6}\n",
        "submission", "pass", "fail", "skip", "score"
    );
    for grade in grades {
        let _ = writeln!(
            out,
            "{:<width$}  {:>6} {:>6} {:>6} {:>6.1}",
            grade.submission,
            grade.count(Verdict::Pass),
            grade.count(Verdict::Fail),
            grade.count(Verdict::Skip),
            grade.score()
        );
    }
    out
}

/// The full readable report: every grade, then the summary table.
pub fn report(grades: &[Grade]) -> String {
    let mut out: String = grades.iter().map(text).collect();
    out.push_str(&summary(grades));
    out
}

/// One submission as the JSON report writes it.
#[derive(Serialize)]
struct JsonGrade<'a> {
    submission: &'a str,
    passed: usize,
    failed: usize,
    skipped: usize,
    score: f64,
    isolation: &'a str,
    notes: &'a [String],
    checks: &'a [Check],
    transcripts: &'a [Transcript],
}

/// The grades as one JSON array, one object per submission.
pub fn json(grades: &[Grade]) -> String {
    let rows: Vec<JsonGrade> = grades
        .iter()
        .map(|g| JsonGrade {
            submission: &g.submission,
            passed: g.count(Verdict::Pass),
            failed: g.count(Verdict::Fail),
            skipped: g.count(Verdict::Skip),
            score: g.score(),
            isolation: &g.isolation,
            notes: &g.notes,
            checks: &g.checks,
            transcripts: &g.transcripts,
        })
        .collect();
    // Plain data with string keys: serialising it cannot fail.
    serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n"
}

/// One row of the gradebook.
#[derive(Serialize)]
struct CsvRow<'a> {
    submission: &'a str,
    passed: usize,
    failed: usize,
    skipped: usize,
    score: f64,
}

/// The grades as a CSV gradebook: a header line, then one row per submission.
///
/// # Errors
/// Only if the CSV writer fails, which writing to memory does not.
pub fn csv(grades: &[Grade]) -> Result<String, String> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    for g in grades {
        let row = CsvRow {
            submission: &g.submission,
            passed: g.count(Verdict::Pass),
            failed: g.count(Verdict::Fail),
            skipped: g.count(Verdict::Skip),
            score: g.score(),
        };
        writer.serialize(row).map_err(|e| e.to_string())?;
    }
    if grades.is_empty() {
        writer
            .write_record(["submission", "passed", "failed", "skipped", "score"])
            .map_err(|e| e.to_string())?;
    }
    let bytes = writer.into_inner().map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::verdict::Requirement;

    fn sample() -> Grade {
        let mut grade = Grade::new("alice/lab2, \"final\"");
        grade.require(Requirement::ServerListens, true, "on port 27423");
        grade.require(Requirement::PortInRange, false, "port 80");
        grade.complete("the server did not listen");
        grade
    }

    #[test]
    fn the_text_report_shows_sections_and_totals() {
        let text = text(&sample());
        assert!(text.contains("\nsetup\n  PASS  server listens: on port 27423\n"));
        assert!(text.contains("result: 1 passed, 15 failed, 0 skipped"));
    }

    #[test]
    fn json_is_an_array_of_objects_with_counts() {
        let value: serde_json::Value = serde_json::from_str(&json(&[sample()])).expect("JSON");
        assert_eq!(value[0]["failed"], 15);
        assert_eq!(value[0]["checks"][1]["verdict"], "FAIL");
        assert_eq!(value[0]["checks"][1]["section"], "setup");
    }

    #[test]
    fn csv_quotes_names_and_has_a_header() {
        let csv = csv(&[sample()]).expect("CSV");
        assert_eq!(
            csv,
            "submission,passed,failed,skipped,score\n\"alice/lab2, \"\"final\"\"\",1,15,0,6.3\n"
        );
    }
}
