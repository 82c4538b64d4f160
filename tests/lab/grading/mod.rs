//! net_grade, on submissions written like real ones (fixtures/submissions/) and on
//! hostile ones: each kind of mistake gets exactly its FAIL with a readable reason, a
//! correct pair passes, nothing a submission starts outlives its grading, and bad input
//! gets a clear answer.
//!
//! Every fixture is graded once, in one net_grade run, and the tests share its JSON (the
//! fixtures' hard-coded ports may only be used once at a time without namespaces). Other
//! runs grade copies whose port is replaced by a free one.
//!
//! Some guarantees hold only as root (student code then runs as nobody) or only with
//! namespaces; the tests of those say "skipped: ..." where they cannot run.

mod containment;
mod inputs;
mod verdicts;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{fixture, program};

/// Options that keep grading quick: a stuck client costs the client timeout, and every
/// server is watched while idle. Neither decides a verdict by how fast the machine is.
pub const QUICK: [&str; 4] = ["--client-timeout", "2", "--idle-window", "0.3"];

/// How long a whole net_grade run may take before the test fails instead of hanging.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Every requirement, in the order every grade lists them.
pub const REQUIREMENTS: [&str; 16] = [
    "server listens",
    "port is between 10000 and 65535",
    "replies to each message",
    "several messages per connection",
    "reply differs from the message",
    "reply depends on the message",
    "does not spin after a client leaves",
    "serves a second client after the first closes",
    "survives an unexpected message",
    "does not spin after a client resets the connection",
    "the pair works together",
    "client connects",
    "client sends more than one message",
    "client waits for each reply",
    "client prints the replies",
    "client closes the connection and exits",
];

/// A folder for net_grade's scratch copies (its TMPDIR), so a test can look for what
/// is left behind. Student programs run as nobody must be able to enter it.
pub fn scratch_root() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the temporary directory");
    dir
}

/// net_grade with its scratch copies under `scratch`, and the system's python3 found
/// first on the PATH (a pyenv shim works too, but takes a second to resolve).
pub fn net_grade(scratch: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(program("net_grade"));
    cmd.env("PATH", system_path_first())
        .env("TMPDIR", scratch)
        .timeout(RUN_TIMEOUT);
    cmd
}

/// `PATH` with the system's folders first.
pub fn system_path_first() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    format!("/usr/local/bin:/usr/bin:/bin:{path}")
}

/// True when this process runs as root (student code then runs as nobody).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?.to_string();
            Some(line.split_whitespace().nth(2)? == "0")
        })
        .unwrap_or(false)
}

/// The one run over every fixture: its JSON, what it said on stderr, and what it left
/// behind.
pub struct Graded {
    /// The JSON report, parsed.
    pub json: Value,
    /// What net_grade printed on stderr.
    pub stderr: String,
    /// Processes still running in a scratch copy after net_grade exited.
    pub survivors: Vec<String>,
    /// Whatever was left in net_grade's temporary folder.
    pub leftovers: Vec<PathBuf>,
}

/// Grades every fixture submission, once for all tests.
pub fn graded() -> &'static Graded {
    static GRADED: OnceLock<Graded> = OnceLock::new();
    GRADED.get_or_init(|| {
        let folders: Vec<PathBuf> = std::fs::read_dir(fixture("submissions"))
            .expect("fixtures/submissions")
            .map(|entry| entry.expect("entry").path())
            .collect();
        let scratch = scratch_root();
        let output = net_grade(scratch.path())
            .arg("--json")
            .args(QUICK)
            .args(&folders)
            .output()
            .expect("net_grade runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let json = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{stdout}\n{stderr}"));
        Graded {
            json,
            stderr,
            survivors: survivors(scratch.path()),
            leftovers: contents(scratch.path()),
        }
    })
}

/// The grade of `submission` in the shared run.
pub fn row(submission: &str) -> &'static Value {
    let json = &graded().json;
    json.as_array()
        .expect("a JSON array")
        .iter()
        .find(|row| row["submission"] == submission)
        .unwrap_or_else(|| panic!("no grade for {submission} in:\n{json:#}"))
}

/// The grade of `name` in the JSON output of a run of its own.
pub fn row_in<'a>(json: &'a Value, name: &str) -> &'a Value {
    json.as_array()
        .expect("a JSON array")
        .iter()
        .find(|row| row["submission"] == name)
        .unwrap_or_else(|| panic!("no grade for {name} in:\n{json:#}"))
}

/// The JSON report in a run's output.
pub fn json_of(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The requirements `row` gives `verdict`.
pub fn with_verdict<'a>(row: &'a Value, verdict: &str) -> Vec<&'a str> {
    row["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["verdict"] == verdict)
        .filter_map(|c| c["requirement"].as_str())
        .collect()
}

/// Every reason and note in `row`, one per line.
pub fn reasons(row: &Value) -> String {
    let checks = row["checks"].as_array().expect("checks");
    let notes = row["notes"].as_array().expect("notes");
    checks
        .iter()
        .map(|c| &c["reason"])
        .chain(notes)
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

/// True when `row` was graded in namespaces of its own.
pub fn in_namespaces(row: &Value) -> bool {
    row["isolation"]
        .as_str()
        .is_some_and(|i| i.starts_with("a network, PID and mount namespace"))
}

/// Copies of the fixture submission `name`, called `copies`, whose hard-coded port is
/// replaced by one free port, so they can be graded while the fixtures are.
pub fn copies_on_a_free_port(name: &str, copies: &[&str]) -> (tempfile::TempDir, u16) {
    use std::os::unix::fs::PermissionsExt;
    let original = fixture("submissions").join(name);
    let source = std::fs::read_to_string(original.join("net_server.py")).expect("read");
    let old_port = source
        .split(|c: char| !c.is_ascii_digit())
        .find(|word| word.len() == 5 && word.starts_with("27"))
        .expect("a hard-coded port")
        .to_string();
    let number = crate::support::free_port();
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for copy in copies {
        let target = dir.path().join(copy);
        std::fs::create_dir(&target).expect("create");
        for entry in std::fs::read_dir(&original).expect("read the fixture") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            let text = text.replace(&old_port, &number.to_string());
            std::fs::write(target.join(path.file_name().expect("name")), text).expect("write");
        }
    }
    (dir, number)
}

/// Processes whose working folder is inside `dir`, as "PID: command line".
pub fn processes_inside(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let cwd = std::fs::read_link(e.path().join("cwd")).ok()?;
            if !cwd.to_string_lossy().starts_with(&dir) {
                return None;
            }
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some(format!("{}: {cmdline}", e.file_name().to_string_lossy()))
        })
        .collect()
}

/// Processes left running inside `dir`, once those being killed have had time to die
/// (a generous bound: killed processes go at once).
pub fn survivors(dir: &Path) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_inside(dir);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What `dir` holds.
pub fn contents(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}
