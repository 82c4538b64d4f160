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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{fixture, program};

/// Options that keep grading quick: a stuck client costs the client timeout, and every
/// server is watched while idle. Neither decides a verdict by how fast the machine is.
pub const QUICK: [&str; 4] = ["--client-timeout", "1", "--idle-window", "0.3"];

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

/// How a background run of net_grade went.
#[derive(Debug, Default)]
pub struct Ran {
    /// Its exit code (`None` if a signal ended it).
    pub code: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
    /// Processes still running in a scratch copy after it exited.
    pub survivors: Vec<String>,
    /// Whatever was left in its temporary folder.
    pub leftovers: Vec<PathBuf>,
}

impl Ran {
    /// The JSON report it printed.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// A net_grade run in the background: its result once there, and a way to wait for it.
#[derive(Default)]
struct Slot {
    result: OnceLock<Result<Ran, String>>,
    filled: (Mutex<bool>, Condvar),
}

/// What starts a shared run.
type Job = fn() -> Ran;

/// Every net_grade run these tests share. They all start together, in threads of their
/// own, the first time a test asks for any of them: the suite runs few tests at a time,
/// and most of a run is waiting.
const RUNS: [(&str, Job); 9] = [
    ("fixtures", containment::grade_every_fixture),
    ("in turn", inputs::grade_same_port_copies_in_turn),
    ("commands", inputs::grade_commands),
    ("time limit", containment::grade_past_the_time_limit),
    ("INT", || containment::interrupt_while_grading("INT")),
    ("TERM", || containment::interrupt_while_grading("TERM")),
    ("HUP", || containment::interrupt_while_grading("HUP")),
    ("forger in namespaces", || {
        containment::grade_the_forger("auto")
    }),
    ("forger without", || containment::grade_the_forger("none")),
];

/// The result of the shared run called `name`, waiting for it if need be.
pub fn ran(name: &str) -> &'static Ran {
    static SLOTS: OnceLock<HashMap<&'static str, Arc<Slot>>> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        RUNS.iter()
            .map(|&(name, run)| {
                let slot = Arc::new(Slot::default());
                let to_fill = Arc::clone(&slot);
                std::thread::spawn(move || {
                    let result = std::panic::catch_unwind(run).map_err(|e| {
                        e.downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default()
                    });
                    let _ = to_fill.result.set(result);
                    *to_fill.filled.0.lock().expect("lock") = true;
                    to_fill.filled.1.notify_all();
                });
                (name, slot)
            })
            .collect()
    });
    let slot = slots
        .get(name)
        .unwrap_or_else(|| panic!("no run called {name}"));
    let mut filled = slot.filled.0.lock().expect("lock");
    while !*filled {
        filled = slot.filled.1.wait(filled).expect("lock");
    }
    match slot.result.get().expect("a result") {
        Ok(ran) => ran,
        Err(why) => panic!("the {name} run failed: {why}"),
    }
}

/// Runs `cmd` (net_grade, with its scratch copies under `scratch`) to its end.
pub fn run_to_end(cmd: &mut assert_cmd::Command, scratch: &Path) -> Ran {
    let output = cmd.output().expect("net_grade runs");
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        survivors: survivors(scratch),
        leftovers: contents(scratch),
    }
}

/// The shared run over every fixture, parsed.
pub fn graded() -> &'static Value {
    static JSON: OnceLock<Value> = OnceLock::new();
    JSON.get_or_init(|| ran("fixtures").json())
}

/// The grade of `submission` in the shared run.
pub fn row(submission: &str) -> &'static Value {
    row_in(graded(), submission)
}

/// The grade of `name` in the JSON output of a run of its own.
pub fn row_in<'a>(json: &'a Value, name: &str) -> &'a Value {
    json.as_array()
        .expect("a JSON array")
        .iter()
        .find(|row| row["submission"] == name)
        .unwrap_or_else(|| panic!("no grade for {name} in:\n{json:#}"))
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
