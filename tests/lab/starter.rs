//! The repository students start from (`make starter`), generated, built and graded the
//! way a student's CI would: the skeletons score nothing and every failure points at the
//! `todo!()`; a correct pair written with std alone scores full marks; a server that
//! serves one client and stops loses only the re-accept requirement; and a pair in
//! Python, graded through NETLAB_SERVER and NETLAB_CLIENT, scores full marks.
//!
//! The starter is built once per run, in a folder of its own under the target directory
//! that is only rewritten where the generator's output changed, so after the first build
//! (about a minute) these tests cost a few seconds.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use rstest::rstest;

use crate::support::{fixture, python3};

/// The first test to run builds the starter's dependencies from scratch.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// The handout tier's total: the sum of tests/handout/points.txt.
const TOTAL: u32 = 20;

/// Everything these tests keep between runs.
fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("starter-check")
}

/// The generated starter repository, built.
fn starter() -> &'static Path {
    static STARTER: OnceLock<PathBuf> = OnceLock::new();
    STARTER.get_or_init(|| {
        let fresh = tempfile::tempdir().expect("a temporary directory");
        let generated = fresh.path().join("starter");
        let status = Command::new("sh")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("starter/generate"))
            .arg(&generated)
            .status()
            .expect("running starter/generate");
        assert!(status.success(), "starter/generate failed: {status}");
        let repo = work_dir().join("repo");
        sync(&generated, &repo);
        let built = cargo(&repo)
            .args(["build", "--locked", "--quiet", "--all-targets"])
            .status()
            .expect("running cargo build in the starter");
        assert!(built.success(), "the starter does not build: {built}");
        repo
    })
}

/// Makes `to` hold exactly the files of `from`, writing only those that differ, so cargo
/// sees no change where there is none.
fn sync(from: &Path, to: &Path) {
    let mut wanted = HashSet::new();
    for file in files_under(from) {
        let relative = file.strip_prefix(from).expect("a file under from");
        let target = to.join(relative);
        let content = fs::read(&file).expect("reading a generated file");
        if fs::read(&target).ok().as_ref() != Some(&content) {
            fs::create_dir_all(target.parent().expect("a parent")).expect("making a folder");
            fs::write(&target, content).expect("writing a starter file");
        }
        wanted.insert(target);
    }
    for stale in files_under(to).into_iter().filter(|f| !wanted.contains(f)) {
        fs::remove_file(stale).expect("removing a file the generator no longer writes");
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// cargo, run in `dir` with the starter's own target directory.
fn cargo(dir: &Path) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", work_dir().join("target"))
        .env_remove("NETLAB_SERVER")
        .env_remove("NETLAB_CLIENT")
        // The skeletons panic in every test: a backtrace for each would only cost time.
        .env_remove("RUST_BACKTRACE");
    command
}

/// `make points` in the starter, grading its own programs. Returns its output.
fn points() -> String {
    points_with(cargo(starter()))
}

/// `make points` in the starter, grading the pair whose programs `server` and `client`
/// run (commands given the contract's arguments). Returns its output.
fn grade_pair(server: &str, client: &str) -> String {
    let mut command = cargo(starter());
    command.env("NETLAB_SERVER", format!("{server} --port {{port}}"));
    command.env(
        "NETLAB_CLIENT",
        format!("{client} --host {{host}} --port {{port}}"),
    );
    points_with(command)
}

fn points_with(mut cargo: Command) -> String {
    cargo.args(["run", "--quiet", "--locked", "--example", "points"]);
    let output = cargo.output().expect("running make points in the starter");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Fails unless `report` gives every point.
fn assert_full_marks(report: &str) {
    let full = format!("total: {TOTAL}/{TOTAL}\n");
    assert!(
        report.contains(&full),
        "expected full marks, got:\n{report}"
    );
}

/// The student pair in fixtures/student_pairs, compiled with rustc alone (it uses only
/// std). Returns the folder holding net_server and net_client.
fn student_pair() -> &'static Path {
    static PAIR: OnceLock<PathBuf> = OnceLock::new();
    PAIR.get_or_init(|| {
        let dir = work_dir().join("student_pair");
        fs::create_dir_all(&dir).expect("making the student pair's folder");
        for program in ["net_server", "net_client"] {
            let source = fixture(&format!("student_pairs/{program}.rs"));
            let status = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
                .args(["--edition", "2021", "-o"])
                .arg(dir.join(program))
                .arg(&source)
                .status()
                .expect("running rustc");
            assert!(status.success(), "{} does not compile", source.display());
        }
        dir
    })
}

/// The lines of a points report that are not PASS lines, for failure messages.
fn failures(report: &str) -> Vec<&str> {
    report
        .lines()
        .filter(|line| line.starts_with("FAIL"))
        .collect()
}

#[rstest]
#[timeout(BUILD_TIMEOUT)]
fn the_starters_skeletons_score_nothing_and_every_failure_points_at_todo() {
    let report = points();
    assert!(report.contains(&format!("total: 0/{TOTAL}\n")), "{report}");
    for line in report.lines().filter(|line| !line.starts_with("total")) {
        assert!(line.starts_with("FAIL"), "{line}");
        let at_todo = ["src/bin/net_server.rs:", "src/bin/net_client.rs:"]
            .iter()
            .any(|place| line.contains("not yet implemented") && line.contains(place));
        assert!(
            at_todo,
            "this failure does not point at the todo!():\n{line}"
        );
    }
}

#[rstest]
#[timeout(BUILD_TIMEOUT)]
fn the_starter_holds_no_solution() {
    let repo = starter();
    let sources: Vec<PathBuf> = files_under(&repo.join("src"));
    assert_eq!(sources.len(), 2, "{sources:?}");
    for source in sources {
        let text = fs::read_to_string(&source).expect("reading a skeleton");
        assert!(
            text.contains("todo!("),
            "{} has no todo!()",
            source.display()
        );
        // The comments say which calls to make; the code makes none of them.
        let code = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"));
        let networking: Vec<&str> = code.filter(|line| line.contains("Tcp")).collect();
        assert!(
            networking.is_empty(),
            "{}: {networking:?}",
            source.display()
        );
    }
    let manifest = fs::read_to_string(repo.join("Cargo.toml")).expect("reading Cargo.toml");
    assert!(
        !manifest.contains("netlab"),
        "the starter depends on netlab:\n{manifest}"
    );
}

#[rstest]
#[timeout(BUILD_TIMEOUT)]
fn a_correct_pair_written_with_std_alone_scores_full_marks() {
    let pair = student_pair().display().to_string();
    assert_full_marks(&grade_pair(
        &format!("{pair}/net_server"),
        &format!("{pair}/net_client"),
    ));
}

#[rstest]
#[timeout(BUILD_TIMEOUT)]
fn a_server_that_stops_after_one_client_loses_only_the_reaccept_points() {
    let pair = student_pair().display().to_string();
    let one_client = format!("ONE_CLIENT_ONLY=1 {pair}/net_server");
    let report = grade_pair(&one_client, &format!("{pair}/net_client"));
    let failed = failures(&report);
    assert_eq!(failed.len(), 1, "{report}");
    assert!(
        failed[0].contains("server_accepts_a_new_client_after_one_closes"),
        "{report}"
    );
    assert!(
        report.contains(&format!("total: {}/{TOTAL}\n", TOTAL - 2)),
        "{report}"
    );
}

#[rstest]
#[timeout(BUILD_TIMEOUT)]
fn a_python_pair_is_graded_through_the_environment_and_scores_full_marks() {
    let dir = fixture("handout_pair").display().to_string();
    let report = grade_pair(
        &format!("{} {dir}/net_server.py", python3().display()),
        &format!("{} {dir}/net_client.py", python3().display()),
    );
    assert_full_marks(&report);
}
