//! What is required of a submission, and the grade it gets: one verdict, with its reason,
//! for every requirement, always the same requirements in the same order.

use serde::{Deserialize, Serialize};

/// The outcome of one requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Met.
    Pass,
    /// Not met, or could not be tested because of the submission.
    Fail,
    /// Could not be tested because of this machine (no python2, say); the reason says why.
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

/// The parts of the report, in order: one per pairing, and robustness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Starting their server.
    Setup,
    /// Our probe client against their server.
    OurClient,
    /// What the handout does not ask, but a server should survive.
    Robustness,
    /// Their client with their server.
    TheirPair,
    /// Their client against our observing server.
    OurServer,
}

impl Section {
    /// The heading in the report.
    pub fn title(self) -> &'static str {
        match self {
            Section::Setup => "setup",
            Section::OurClient => "our probe client <-> their server",
            Section::Robustness => "robustness (beyond the handout)",
            Section::TheirPair => "their client <-> their server",
            Section::OurServer => "their client <-> our server (on their port)",
        }
    }
}

macro_rules! requirements {
    ($($variant:ident => $section:ident, $name:literal;)*) => {
        /// One requirement a submission is graded on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum Requirement {
            $(#[doc = $name] $variant,)*
        }

        impl Requirement {
            /// Every requirement, in the order of the report.
            pub const ALL: &'static [Requirement] = &[$(Requirement::$variant,)*];

            /// What is required, as the report says it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Requirement::$variant => $name,)*
                }
            }

            /// The part of the report it belongs to.
            pub fn section(self) -> Section {
                match self {
                    $(Requirement::$variant => Section::$section,)*
                }
            }
        }
    };
}

requirements! {
    ServerListens => Setup, "server listens";
    PortInRange => Setup, "port is between 10000 and 65535";
    RepliesToEach => OurClient, "replies to each message";
    SeveralMessages => OurClient, "several messages per connection";
    ReplyDiffers => OurClient, "reply differs from the message";
    ReplyDepends => OurClient, "reply depends on the message";
    NoSpinAfterLeave => OurClient, "does not spin after a client leaves";
    SecondClient => OurClient, "serves a second client after the first closes";
    SurvivesUnexpected => Robustness, "survives an unexpected message";
    NoSpinAfterReset => Robustness, "does not spin after a client resets the connection";
    PairWorks => TheirPair, "the pair works together";
    ClientConnects => OurServer, "client connects";
    ClientSendsSeveral => OurServer, "client sends more than one message";
    ClientWaits => OurServer, "client waits for each reply";
    ClientPrints => OurServer, "client prints the replies";
    ClientCloses => OurServer, "client closes the connection and exits";
}

impl Requirement {
    /// The requirement with this section title and name, as written in a report.
    pub fn find(section: &str, name: &str) -> Option<Requirement> {
        Requirement::ALL
            .iter()
            .copied()
            .find(|r| r.name() == name && r.section().title() == section)
    }

    /// Everything that needs their server running.
    pub const NEED_SERVER: &'static [Requirement] = &[
        Requirement::ServerListens,
        Requirement::PortInRange,
        Requirement::RepliesToEach,
        Requirement::SeveralMessages,
        Requirement::ReplyDiffers,
        Requirement::ReplyDepends,
        Requirement::NoSpinAfterLeave,
        Requirement::SecondClient,
        Requirement::SurvivesUnexpected,
        Requirement::NoSpinAfterReset,
        Requirement::PairWorks,
    ];

    /// Everything that needs their client running.
    pub const NEED_CLIENT: &'static [Requirement] = &[
        Requirement::PairWorks,
        Requirement::ClientConnects,
        Requirement::ClientSendsSeveral,
        Requirement::ClientWaits,
        Requirement::ClientPrints,
        Requirement::ClientCloses,
    ];
}

/// One requirement, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CheckRecord", into = "CheckRecord")]
pub struct Check {
    /// What was required.
    pub requirement: Requirement,
    /// Whether it was met.
    pub verdict: Verdict,
    /// Why, in a sentence.
    pub reason: String,
}

/// A check as written in JSON: the section and requirement spelled out.
#[derive(Serialize, Deserialize)]
struct CheckRecord {
    section: String,
    requirement: String,
    verdict: Verdict,
    reason: String,
}

impl From<Check> for CheckRecord {
    fn from(check: Check) -> Self {
        CheckRecord {
            section: check.requirement.section().title().to_string(),
            requirement: check.requirement.name().to_string(),
            verdict: check.verdict,
            reason: check.reason,
        }
    }
}

impl TryFrom<CheckRecord> for Check {
    type Error = String;

    fn try_from(record: CheckRecord) -> Result<Self, String> {
        let requirement = Requirement::find(&record.section, &record.requirement)
            .ok_or_else(|| format!("unknown requirement {:?}", record.requirement))?;
        Ok(Check {
            requirement,
            verdict: record.verdict,
            reason: record.reason,
        })
    }
}

/// What was sent and received in one pairing, or what a program printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    /// Which pairing or program.
    pub title: String,
    /// The text, one line per line.
    pub text: String,
}

/// Everything found out about one submission.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grade {
    /// The submission's name: its folder relative to the folders graded with it, or the
    /// commands.
    pub submission: String,
    /// How its programs were contained (namespaces or not, which user).
    pub isolation: String,
    /// Facts worth knowing that are not requirements (language, port, a greeting...).
    pub notes: Vec<String>,
    /// The requirements checked so far; once complete, every requirement in order.
    pub checks: Vec<Check>,
    /// What was sent and received, and what the programs printed.
    pub transcripts: Vec<Transcript>,
}

impl Grade {
    /// An empty grade for the submission called `submission`.
    pub fn new(submission: &str) -> Grade {
        Grade {
            submission: submission.to_string(),
            ..Grade::default()
        }
    }

    /// Records a check, unless `requirement` was checked already (the first word stands).
    pub fn check(&mut self, requirement: Requirement, verdict: Verdict, reason: impl Into<String>) {
        if !self.has(requirement) {
            self.checks.push(Check {
                requirement,
                verdict,
                reason: reason.into(),
            });
        }
    }

    /// Records a check that passes when `ok` and fails otherwise.
    pub fn require(&mut self, requirement: Requirement, ok: bool, reason: impl Into<String>) {
        let verdict = if ok { Verdict::Pass } else { Verdict::Fail };
        self.check(requirement, verdict, reason);
    }

    /// Records every one of `requirements` not checked yet as not tested, because of `why`.
    pub fn not_tested(&mut self, requirements: &[Requirement], verdict: Verdict, why: &str) {
        for &requirement in requirements {
            self.check(requirement, verdict, format!("not tested: {why}"));
        }
    }

    /// True when `requirement` has been checked.
    pub fn has(&self, requirement: Requirement) -> bool {
        self.checks.iter().any(|c| c.requirement == requirement)
    }

    /// The check of `requirement`, if made.
    pub fn get(&self, requirement: Requirement) -> Option<&Check> {
        self.checks.iter().find(|c| c.requirement == requirement)
    }

    /// Adds a note.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Adds a transcript.
    pub fn transcript(&mut self, title: &str, text: impl Into<String>) {
        self.transcripts.push(Transcript {
            title: title.to_string(),
            text: text.into(),
        });
    }

    /// Adds everything `other` found to this grade.
    pub fn absorb(&mut self, other: Grade) {
        self.notes.extend(other.notes);
        for check in other.checks {
            self.check(check.requirement, check.verdict, check.reason);
        }
        self.transcripts.extend(other.transcripts);
    }

    /// Fails every requirement not checked yet, because of `why`, and puts the checks in
    /// the order of the report.
    pub fn complete(&mut self, why: &str) {
        self.not_tested(Requirement::ALL, Verdict::Fail, why);
        self.checks.sort_by_key(|c| c.requirement);
    }

    /// True when every requirement was checked exactly once, in order: what a grade that
    /// came from another process must look like to be believed.
    pub fn is_complete(&self) -> bool {
        self.checks
            .iter()
            .map(|c| c.requirement)
            .eq(Requirement::ALL.iter().copied())
    }

    /// How many checks have `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }

    /// The share of requirements passed, in percent with one decimal.
    pub fn score(&self) -> f64 {
        let all = Requirement::ALL.len() as f64;
        (1000.0 * self.count(Verdict::Pass) as f64 / all).round() / 10.0
    }

    /// True when every requirement passed.
    pub fn all_passed(&self) -> bool {
        self.is_complete() && self.count(Verdict::Pass) == self.checks.len()
    }

    /// A grade for a submission that could not be graded at all: every requirement fails
    /// because of `why`.
    pub fn ungraded(submission: &str, isolation: &str, why: &str) -> Grade {
        let mut grade = Grade::new(submission);
        grade.isolation = isolation.to_string();
        grade.complete(why);
        grade
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_requirement_is_found_by_its_section_and_name() {
        for &r in Requirement::ALL {
            assert_eq!(Requirement::find(r.section().title(), r.name()), Some(r));
        }
    }

    #[test]
    fn a_completed_grade_has_every_requirement_once_in_order() {
        let mut grade = Grade::new("x");
        grade.require(Requirement::ClientCloses, true, "fine");
        grade.require(Requirement::ServerListens, false, "it exited");
        grade.require(
            Requirement::ServerListens,
            true,
            "ignored: the first word stands",
        );
        assert!(!grade.is_complete());
        grade.complete("the time limit ran out");
        assert!(grade.is_complete());
        assert_eq!(grade.checks[0].verdict, Verdict::Fail);
        assert_eq!(grade.count(Verdict::Pass), 1);
        assert!(grade.checks[1]
            .reason
            .starts_with("not tested: the time limit"));
    }

    #[test]
    fn grades_survive_the_trip_through_json() {
        let mut grade = Grade::new("alice/lab2");
        grade.note("a note\nover two lines");
        grade.check(Requirement::PairWorks, Verdict::Skip, "no python2");
        grade.transcript("probe", "> a\n< b\n");
        grade.complete("stopped");
        let json = serde_json::to_string(&grade).expect("serialize");
        assert!(json.contains("\"requirement\":\"the pair works together\""));
        let back: Grade = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, grade);
    }

    #[test]
    fn an_unknown_requirement_is_refused() {
        let json = r#"{"submission":"x","isolation":"","notes":[],"transcripts":[],
            "checks":[{"section":"setup","requirement":"forged","verdict":"PASS","reason":""}]}"#;
        assert!(serde_json::from_str::<Grade>(json).is_err());
    }
}
