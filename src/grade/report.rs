//! Verdicts, and the report a person (or a gradebook) reads.

use std::fmt::Write as _;

/// The outcome of one requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Met.
    Pass,
    /// Not met.
    Fail,
    /// Could not be tried; the reason says why.
    Skip,
}

impl Verdict {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        }
    }
}

/// One requirement, checked.
#[derive(Debug, Clone)]
pub struct Check {
    /// The part of the report it belongs to, e.g. `our net_client <-> their server`.
    pub section: String,
    /// What was required, e.g. `replies to each message`.
    pub name: String,
    /// Whether it was met.
    pub verdict: Verdict,
    /// Why, in a sentence.
    pub reason: String,
}

/// Everything found out about one submission.
#[derive(Debug, Default)]
pub struct Report {
    /// The submission's name (its directory, or the commands).
    pub name: String,
    /// Facts worth knowing that are not requirements (language, port, a greeting...).
    pub notes: Vec<String>,
    /// The requirements, in the order they were checked.
    pub checks: Vec<Check>,
    /// Transcripts: what was sent and received, and what the programs printed.
    pub transcripts: Vec<(String, String)>,
    /// What the server sends before being spoken to, if anything; our own server sends
    /// the same to their client.
    pub greeting: Option<String>,
}

impl Report {
    /// Records a check.
    pub fn check(
        &mut self,
        section: &str,
        name: &str,
        verdict: Verdict,
        reason: impl Into<String>,
    ) {
        self.checks.push(Check {
            section: section.to_string(),
            name: name.to_string(),
            verdict,
            reason: reason.into(),
        });
    }

    /// Adds everything `other` found to this report.
    pub fn absorb(&mut self, other: Report) {
        self.notes.extend(other.notes);
        self.checks.extend(other.checks);
        self.transcripts.extend(other.transcripts);
        self.greeting = self.greeting.take().or(other.greeting);
    }

    /// Records a check that passes when `ok`.
    pub fn require(&mut self, section: &str, name: &str, ok: bool, reason: impl Into<String>) {
        let verdict = if ok { Verdict::Pass } else { Verdict::Fail };
        self.check(section, name, verdict, reason);
    }

    /// How many checks have `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }

    /// The report as lines of tab-separated fields, for passing it from one process to
    /// another (see [`Report::from_lines`]).
    pub fn to_lines(&self) -> String {
        let mut out = format!("name\t{}\n", escape(&self.name));
        for note in &self.notes {
            let _ = writeln!(out, "note\t{}", escape(note));
        }
        for c in &self.checks {
            let fields = [
                c.section.as_str(),
                c.name.as_str(),
                c.verdict.label(),
                c.reason.as_str(),
            ];
            let fields: Vec<String> = fields.iter().map(|f| escape(f)).collect();
            let _ = writeln!(out, "check\t{}", fields.join("\t"));
        }
        for (title, text) in &self.transcripts {
            let _ = writeln!(out, "transcript\t{}\t{}", escape(title), escape(text));
        }
        out
    }

    /// Reads a report written by [`Report::to_lines`]; lines it does not know are skipped.
    pub fn from_lines(text: &str) -> Report {
        let mut report = Report::default();
        for line in text.lines() {
            let fields: Vec<String> = line.split('\t').map(unescape).collect();
            match fields
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                ["name", name] => report.name = name.to_string(),
                ["note", note] => report.notes.push(note.to_string()),
                ["check", section, name, verdict, reason] => {
                    let verdict = match *verdict {
                        "PASS" => Verdict::Pass,
                        "FAIL" => Verdict::Fail,
                        _ => Verdict::Skip,
                    };
                    report.check(section, name, verdict, *reason);
                }
                ["transcript", title, text] => {
                    report
                        .transcripts
                        .push((title.to_string(), text.to_string()));
                }
                _ => {}
            }
        }
        report
    }

    /// The readable report.
    pub fn text(&self) -> String {
        let mut out = format!("== {} ==\n", self.name);
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        let mut section = "";
        for check in &self.checks {
            if check.section != section {
                section = &check.section;
                let _ = writeln!(out, "\n{section}");
            }
            let _ = writeln!(
                out,
                "  {}  {}: {}",
                check.verdict.label(),
                check.name,
                check.reason
            );
        }
        for (title, text) in &self.transcripts {
            let _ = writeln!(out, "\n-- {title}");
            for line in text.trim_end().lines() {
                let _ = writeln!(out, "   | {line}");
            }
        }
        let _ = writeln!(
            out,
            "\nresult: {} passed, {} failed, {} skipped\n",
            self.count(Verdict::Pass),
            self.count(Verdict::Fail),
            self.count(Verdict::Skip)
        );
        out
    }

    /// The report as a JSON object.
    pub fn json(&self) -> String {
        let checks: Vec<String> = self
            .checks
            .iter()
            .map(|c| {
                format!(
                    "{{\"section\":{},\"requirement\":{},\"verdict\":{},\"reason\":{}}}",
                    json_string(&c.section),
                    json_string(&c.name),
                    json_string(c.verdict.label()),
                    json_string(&c.reason)
                )
            })
            .collect();
        let notes: Vec<String> = self.notes.iter().map(|n| json_string(n)).collect();
        format!(
            "{{\"submission\":{},\"passed\":{},\"failed\":{},\"skipped\":{},\"notes\":[{}],\"checks\":[{}]}}",
            json_string(&self.name),
            self.count(Verdict::Pass),
            self.count(Verdict::Fail),
            self.count(Verdict::Skip),
            notes.join(","),
            checks.join(",")
        )
    }
}

/// A summary table of several reports.
pub fn summary(reports: &[Report]) -> String {
    let width = reports
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(10)
        .max(10);
    let mut out = format!(
        "{:<width$}  {:>6} {:>6} {:>6}\n",
        "submission", "pass", "fail", "skip"
    );
    for report in reports {
        let _ = writeln!(
            out,
            "{:<width$}  {:>6} {:>6} {:>6}",
            report.name,
            report.count(Verdict::Pass),
            report.count(Verdict::Fail),
            report.count(Verdict::Skip)
        );
    }
    out
}

/// Backslash, tab and newline as `\\`, `\t`, `\n`, so a field fits on its line.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// `text` as a JSON string literal.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn reports_survive_the_trip_through_lines() {
        let mut report = Report {
            name: "odd\tname".into(),
            ..Report::default()
        };
        report
            .notes
            .push("a note\nover two lines \\ with a backslash".into());
        report.require("setup", "server listens", false, "it\texited");
        report
            .transcripts
            .push(("probe".into(), "> a\n< b\n".into()));
        let back = Report::from_lines(&report.to_lines());
        assert_eq!(back.to_lines(), report.to_lines());
        assert_eq!(back.checks[0].verdict, Verdict::Fail);
    }

    #[test]
    fn report_counts_verdicts() {
        let mut report = Report {
            name: "x".into(),
            ..Report::default()
        };
        report.require("s", "one", true, "fine");
        report.require("s", "two", false, "broken");
        report.check("s", "three", Verdict::Skip, "not tried");
        assert_eq!(
            (report.count(Verdict::Pass), report.count(Verdict::Fail)),
            (1, 1)
        );
        assert!(report.text().contains("  FAIL  two: broken"));
        assert!(report.json().contains("\"failed\":1"));
    }
}
