//! One run of net_grade: decide how submissions are contained, prepare them, grade them
//! side by side while reporting progress, and make sure nothing is left behind.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::launch::{Interpreters, Launcher, Program, StudentUser};
use super::prepare::{self, Prepared, Side, Submission};
use super::sandbox::{self, Assignment};
use super::schedule::{self, Work};
use super::verdict::{Grade, Verdict};
use super::{interrupt, processes, Timing};

/// How many submissions are graded at once unless told otherwise.
const MAX_JOBS: usize = 64;

/// Whether submissions get namespaces of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Namespaces when they work here, otherwise none.
    Auto,
    /// Namespaces, or an error if they do not work here.
    Namespace,
    /// No namespaces: submissions that use the same port are graded one after another.
    None,
}

/// What to grade.
#[derive(Debug, Clone)]
pub enum Pairs {
    /// Submission folders (or folders of them).
    Folders(Vec<PathBuf>),
    /// A server and a client command line, with `{host}` and `{port}` to fill in.
    Commands {
        /// The server's command line.
        server: String,
        /// The client's command line.
        client: String,
    },
}

/// How to grade.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long things may take.
    pub timing: Timing,
    /// How many submissions are graded at once; `None` for all of them (up to 64).
    pub jobs: Option<usize>,
    /// Namespaces or not.
    pub isolation: Isolation,
    /// The server's port, instead of finding it.
    pub port: Option<u16>,
}

/// How submissions are contained in this run.
struct Containment {
    /// Namespaces work here, or why they are not used.
    namespaces: Result<(), String>,
    launcher: Launcher,
    /// For each grade.
    description: String,
}

/// Grades `pairs`. Grades come back in order of name.
///
/// # Errors
/// When grading cannot start: a folder that cannot be read, namespaces required but not
/// working, no way to handle signals.
pub fn run(pairs: &Pairs, settings: &Settings) -> Result<Vec<Grade>, String> {
    interrupt::install().map_err(|e| format!("cannot handle signals: {e}"))?;
    #[cfg(target_os = "linux")]
    {
        // Orphans of student programs become our children, so we can still find them.
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    let namespaces = match settings.isolation {
        Isolation::None => Err("--isolation none".to_string()),
        Isolation::Auto => sandbox::namespaces_work(),
        Isolation::Namespace => Ok(sandbox::namespaces_work()
            .map_err(|why| format!("namespaces do not work here: {why}"))?),
    };
    let prepared = prepare_all(pairs, settings.port)?;
    let containment = contain(&prepared, namespaces);
    reachable(&prepared, &containment)?;
    interrupt::expect(prepared.len());
    let grades = grade_all(&prepared, settings, &containment);
    interrupt::wait_if_interrupted();
    processes::kill_descendants(Duration::from_secs(5));
    Ok(grades)
}

/// Finds and copies the submissions, or fills in the commands.
fn prepare_all(pairs: &Pairs, port: Option<u16>) -> Result<Vec<Prepared>, String> {
    let mut prepared = match pairs {
        Pairs::Commands { server, client } => {
            let port = match port {
                Some(port) => port,
                None => free_port()?,
            };
            let here = std::env::current_dir().map_err(|e| e.to_string())?;
            vec![prepare::prepare_commands(server, client, port, here)]
        }
        Pairs::Folders(paths) => {
            let found = prepare::find_submissions(paths)?;
            for message in &found.messages {
                eprintln!("net_grade: {message}");
            }
            let mut all = Vec::new();
            for (name, folder) in &found.folders {
                let copy = prepare::prepare_folder(name, folder)
                    .map_err(|e| format!("cannot copy {}: {}", folder.display(), e))?;
                if let Some(scratch) = &copy.scratch {
                    interrupt::track_scratch(scratch.path());
                }
                all.push(copy);
            }
            all
        }
    };
    for copy in &mut prepared {
        copy.submission.port = port.or(copy.submission.port);
    }
    Ok(prepared)
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port: {}", crate::report::describe(&e)))
}

/// The launcher and the description of how programs are contained.
fn contain(prepared: &[Prepared], namespaces: Result<(), String>) -> Containment {
    let python2 = prepared.iter().any(|p| uses_python2(&p.submission));
    let mut launcher = Launcher::for_this_process(Interpreters::find(python2));
    let user = launcher.user.describe();
    let description = match &namespaces {
        Ok(()) => format!("a network, PID and mount namespace of its own; {user}"),
        Err(why) => {
            // Student programs run here, as the student user: give them interpreters it
            // can reach.
            let (usable, notes) = launcher.interpreters.clone().usable_by(&launcher);
            launcher.interpreters = usable;
            for note in notes {
                eprintln!("net_grade: {note}");
            }
            let groups = if launcher.user == StudentUser::Invoker {
                "in process groups (a process that leaves its group is killed when net_grade ends)"
            } else {
                "in process groups"
            };
            format!("no namespaces ({why}); {user}, {groups}; host names are not mapped")
        }
    };
    Containment {
        namespaces,
        launcher,
        description,
    }
}

/// Without namespaces, an unprivileged student user must be able to enter the folders
/// its programs run in (in namespaces, they are brought within its reach).
fn reachable(prepared: &[Prepared], containment: &Containment) -> Result<(), String> {
    if containment.namespaces.is_ok() || containment.launcher.user == StudentUser::Invoker {
        return Ok(());
    }
    for copy in prepared {
        if let Some((closed, _)) = sandbox::first_closed_folder(&copy.submission.dir) {
            return Err(format!(
                "{}'s programs cannot enter {} (run from a folder others may enter, or set \
                 TMPDIR to one)",
                copy.submission.name,
                closed.display()
            ));
        }
    }
    Ok(())
}

fn uses_python2(submission: &Submission) -> bool {
    [&submission.server, &submission.client]
        .iter()
        .any(|side| matches!(side, Side::Ready(Program::Python { version: 2, .. })))
}

/// Grades every prepared submission, side by side.
fn grade_all(prepared: &[Prepared], settings: &Settings, containment: &Containment) -> Vec<Grade> {
    let isolated = containment.namespaces.is_ok();
    // Whether a program is stuck or spinning is judged the same on a busy machine, so
    // all can go at once; without namespaces, those sharing a port still take turns.
    let jobs = settings.jobs.unwrap_or(prepared.len().clamp(1, MAX_JOBS));
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("net_grade"));
    let progress = Progress::new(prepared.len());
    let run = |copy: &Prepared| grade_one(&copy.submission, settings, containment, &exe);
    let panicked = |copy: &Prepared, why: String| {
        interrupt::finished(&copy.submission.name);
        let why = format!("net_grade failed while grading it: {why}");
        let mut grade = Grade::ungraded(&copy.submission.name, "", &why);
        grade.isolation.clone_from(&containment.description);
        grade
    };
    let ports = |copy: &Prepared| {
        if isolated {
            Vec::new()
        } else {
            copy.submission.source_ports.clone()
        }
    };
    let work = Work {
        ports: &ports,
        run: &run,
        panicked: &panicked,
        done: &|grade: &Grade| progress.finished(grade),
    };
    let grades = schedule::run_all(prepared, jobs, &work);
    progress.finish();
    grades
}

/// Grades one submission: in namespaces of its own by another net_grade (`exe`), or
/// here.
fn grade_one(
    submission: &Submission,
    settings: &Settings,
    containment: &Containment,
    exe: &Path,
) -> Grade {
    if interrupt::interrupted() {
        return Grade::ungraded(&submission.name, "", "net_grade was interrupted");
    }
    interrupt::started(&submission.name);
    let mut grade = if containment.namespaces.is_ok() {
        let assignment = Assignment {
            submission: submission.clone(),
            launcher: containment.launcher.clone(),
            timing: settings.timing,
        };
        sandbox::grade_in_namespace(exe, &assignment)
    } else {
        let mut grade = super::grade(submission, &containment.launcher, settings.timing);
        if !submission.host_names.is_empty() {
            grade.note(format!(
                "host names are not mapped to this machine without namespaces: {}",
                submission.host_names.join(", ")
            ));
        }
        grade
    };
    grade.isolation.clone_from(&containment.description);
    interrupt::finished(&submission.name);
    grade
}

/// Progress on stderr: a bar on a terminal, otherwise a line per submission graded.
struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: AtomicUsize,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} graded {msg}") {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            total,
            done: AtomicUsize::new(0),
        }
    }

    fn finished(&self, grade: &Grade) {
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        let line = format!(
            "{}: {} passed, {} failed, {} skipped",
            grade.submission,
            grade.count(Verdict::Pass),
            grade.count(Verdict::Fail),
            grade.count(Verdict::Skip)
        );
        match &self.bar {
            Some(bar) => {
                bar.set_message(line);
                bar.inc(1);
            }
            None => eprintln!("net_grade: [{done}/{}] {line}", self.total),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
