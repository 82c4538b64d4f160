//! Nothing a submission starts outlives its grading, whether grading ends normally, at
//! the time limit or by a signal; scratch copies are removed; and a submission cannot
//! forge its grade or stop the grader (as root, where it runs as nobody).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rstest::rstest;

use super::{
    contents, copies_on_a_free_port, is_root, net_grade, processes_inside, ran, reasons, row_in,
    run_to_end, scratch_root, survivors, system_path_first, with_verdict, Ran, QUICK, RUN_TIMEOUT,
};
use crate::support::{fixture, program, skip, TEST_TIMEOUT};

/// The shared run: every fixture submission, graded at once.
pub fn grade_every_fixture() -> Ran {
    let folders: Vec<PathBuf> = std::fs::read_dir(fixture("submissions"))
        .expect("fixtures/submissions")
        .map(|entry| entry.expect("entry").path())
        .collect();
    let scratch = scratch_root();
    let mut cmd = net_grade(scratch.path());
    cmd.arg("--json").args(QUICK).args(&folders);
    run_to_end(&mut cmd, scratch.path())
}

#[rstest]
#[timeout(TEST_TIMEOUT * 4)]
fn nothing_a_submission_started_survives_grading() {
    // The forking server leaves children and a `sleep 1000` behind; the streaming and
    // spinning ones never stop on their own; one server ignores SIGINT and SIGTERM.
    let ran = ran("fixtures");
    assert_eq!(ran.survivors, [] as [String; 0], "left running");
    assert_eq!(ran.leftovers, [] as [PathBuf; 0], "scratch left");
}

/// Grades a copy of the server that ignores SIGINT and SIGTERM, and sends net_grade
/// `signal` once one of its programs is running.
pub fn interrupt_while_grading(signal: &str) -> Ran {
    let (dir, _) = copies_on_a_free_port("sigint_ignoring_server", &["stubborn"]);
    let scratch = scratch_root();
    let mut child = Command::new(program("net_grade"))
        .args(QUICK)
        .arg(dir.path().join("stubborn"))
        .env("TMPDIR", scratch.path())
        .env("PATH", system_path_first())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("net_grade starts");
    let deadline = Instant::now() + RUN_TIMEOUT;
    while processes_inside(scratch.path()).is_empty() {
        assert!(Instant::now() < deadline, "no submission program ever ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
    let (done, finished) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut { stderr }, &mut text);
        let _ = done.send((child.wait().map(|s| s.code()), text));
    });
    let (code, stderr) = finished
        .recv_timeout(RUN_TIMEOUT)
        .expect("net_grade ends after the signal");
    Ran {
        code: code.expect("its exit status"),
        stdout: String::new(),
        stderr,
        survivors: survivors(scratch.path()),
        leftovers: contents(scratch.path()),
    }
}

#[rstest]
#[case::ctrl_c("INT", 130)]
#[case::terminate("TERM", 143)]
#[case::hang_up("HUP", 129)]
#[timeout(TEST_TIMEOUT * 4)]
fn a_signal_kills_everything_removes_the_scratch_copies_and_says_what_it_stopped(
    #[case] signal: &str,
    #[case] code: i32,
) {
    let interrupted = ran(signal);
    assert_eq!(interrupted.code, Some(code), "{}", interrupted.stderr);
    assert!(
        interrupted.stderr.contains(&format!(
            "interrupted by SIG{signal} while grading stubborn"
        )),
        "{}",
        interrupted.stderr
    );
    assert_eq!(interrupted.survivors, [] as [String; 0], "left running");
    assert_eq!(interrupted.leftovers, [] as [PathBuf; 0], "scratch left");
}

/// A client that never ends, graded with a time limit of one second.
pub fn grade_past_the_time_limit() -> Ran {
    let (dir, _) = copies_on_a_free_port("never_closes_client", &["slow"]);
    let scratch = scratch_root();
    let mut cmd = net_grade(scratch.path());
    cmd.args(QUICK)
        .args(["--json", "--time-limit", "1"])
        .arg(dir.path().join("slow"));
    run_to_end(&mut cmd, scratch.path())
}

#[rstest]
#[timeout(TEST_TIMEOUT * 4)]
fn a_submission_that_takes_too_long_is_stopped_at_its_time_limit() {
    let ran = ran("time limit");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    let json = ran.json();
    let row = row_in(&json, "slow");
    assert!(
        reasons(row).contains("time limit (1s) ran out"),
        "no time limit in:\n{row:#}"
    );
    assert_eq!(ran.survivors, [] as [String; 0], "left running");
}

/// The forger, which tries to write its grade into net_grade's output and kill it.
pub fn grade_the_forger(isolation: &str) -> Ran {
    if !is_root() {
        return Ran::default();
    }
    let scratch = scratch_root();
    let mut cmd = net_grade(scratch.path());
    cmd.args(QUICK)
        .args(["--json", "--isolation", isolation])
        .arg(fixture("hostile/forger"));
    run_to_end(&mut cmd, scratch.path())
}

#[rstest]
#[case::in_namespaces("forger in namespaces")]
#[case::without_namespaces("forger without")]
#[timeout(TEST_TIMEOUT * 4)]
fn a_submission_cannot_forge_its_grade_or_stop_the_grader(#[case] run: &str) {
    if !is_root() {
        skip(
            "a_submission_cannot_forge_its_grade_or_stop_the_grader",
            "needs root (student code then runs as nobody; as your own user it can reach \
             the grader)",
        );
        return;
    }
    let ran = ran(run);
    // Not killed, not fooled: it reports, and the forger's "server" never listened.
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    let json = ran.json();
    let row = row_in(&json, "forger");
    assert_eq!(with_verdict(row, "PASS"), [] as [&str; 0], "{row:#}");
    let transcripts = row["transcripts"].to_string();
    assert!(transcripts.contains("cannot write into"), "{row:#}");
    assert!(!transcripts.contains("killed"), "{row:#}");
    assert_eq!(ran.survivors, [] as [String; 0], "left running");
}
