//! Starting a submission's programs with as little power as they need, and stopping them
//! with everything they started.
//!
//! Each program runs:
//! - as an unprivileged user (`nobody`) when net_grade runs as root, so it cannot signal,
//!   trace or write into net_grade or another submission's files; otherwise as the user
//!   who runs net_grade (the grade says which);
//! - with a cleared environment (a fixed `PATH` and Python's output unbuffered);
//! - in a process group of its own, which is killed as a whole when the program is
//!   stopped, together with every process descended from it;
//! - through `setpriv` where there is one, so it dies if net_grade dies (parent-death
//!   signal) and cannot gain privileges through set-user-ID programs (no-new-privs).

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::processes;
use super::source;
use super::verdict::Verdict;

/// How much of a program's output is kept; a program that prints more (a server spinning
/// on an empty recv can write megabytes a second) has the rest counted, not stored.
pub const OUTPUT_CAP: usize = 16 * 1024;

/// How long a program's list of processes is reused before it is looked up again: a
/// look-up reads every process in `/proc`.
const MEMBERS_FRESH: Duration = Duration::from_millis(50);

/// Where student programs look for commands: the usual system places.
const SYSTEM_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// How to start one side of a pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Program {
    /// A Python file in the submission's folder.
    Python {
        /// The file name, such as `net_server.py`.
        script: String,
        /// The Python major version the code is written for: 2 or 3.
        version: u8,
    },
    /// A command line, run with `sh -c` (so `cd DIR && ...` works).
    Shell(String),
}

/// Who student programs run as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StudentUser {
    /// An unprivileged account, used when net_grade runs as root.
    Unprivileged {
        /// Its name, for the report.
        name: String,
        /// Its user id.
        uid: u32,
        /// Its group id.
        gid: u32,
    },
    /// The user running net_grade, who is not root and so cannot switch to another.
    Invoker,
}

impl StudentUser {
    /// `nobody` (or user id 65534 if there is no such account) when this process runs as
    /// root, otherwise the invoking user.
    pub fn for_this_process() -> StudentUser {
        if !nix::unistd::geteuid().is_root() {
            return StudentUser::Invoker;
        }
        match nix::unistd::User::from_name("nobody") {
            Ok(Some(user)) => StudentUser::Unprivileged {
                name: user.name,
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            },
            _ => StudentUser::Unprivileged {
                name: "uid 65534".into(),
                uid: 65534,
                gid: 65534,
            },
        }
    }

    /// Who that is, for the report.
    pub fn describe(&self) -> String {
        match self {
            StudentUser::Unprivileged { name, .. } => format!("programs run as {name}"),
            StudentUser::Invoker => {
                "programs run as your own user (net_grade is not root, so it cannot switch)".into()
            }
        }
    }
}

/// The Python interpreters programs are run with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interpreters {
    /// Python 3, by its real path (not a pyenv shim, which needs the environment).
    pub python3: Option<PathBuf>,
    /// Python 2, where there is one.
    pub python2: Option<PathBuf>,
}

impl Interpreters {
    /// Finds `python3`, and `python2` too when `want_python2`, and asks each for its real
    /// executable.
    pub fn find(want_python2: bool) -> Interpreters {
        let python2 = want_python2
            .then(source::find_python2)
            .flatten()
            .and_then(|p| real_executable(&p));
        Interpreters {
            python3: real_executable(Path::new("python3")),
            python2,
        }
    }

    /// The interpreters `user` can run: one it cannot reach (under root's home, say) is
    /// replaced by a system one, or dropped. Returns notes on what was changed.
    pub fn usable_by(mut self, launcher: &Launcher) -> (Interpreters, Vec<String>) {
        let mut notes = Vec::new();
        let runs = |path: &Path| launcher.can_run(path);
        for (slot, name) in [
            (&mut self.python3, "python3"),
            (&mut self.python2, "python2"),
        ] {
            let Some(found) = slot.clone() else { continue };
            if runs(&found) {
                continue;
            }
            let fallback = SYSTEM_PATH
                .split(':')
                .map(|dir| Path::new(dir).join(name))
                .find(|p| p.exists() && runs(p));
            notes.push(match &fallback {
                Some(other) => format!(
                    "{} cannot run {}; {} is used instead",
                    launcher.user_name(),
                    found.display(),
                    other.display()
                ),
                None => format!("{} cannot run {}", launcher.user_name(), found.display()),
            });
            *slot = fallback;
        }
        (self, notes)
    }

    /// Every interpreter found.
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.python3.iter().chain(&self.python2)
    }
}

/// The interpreter `python` stands for: itself if it is a program, or what it says its
/// executable is if it is a script (a pyenv shim, which needs pyenv's environment).
fn real_executable(python: &Path) -> Option<PathBuf> {
    let found = which(python)?;
    let mut start = [0; 2];
    let is_script = std::fs::File::open(&found)
        .and_then(|mut f| f.read_exact(&mut start))
        .is_ok_and(|()| &start == b"#!");
    if !is_script {
        return Some(found);
    }
    let output = Command::new(&found)
        .args(["-c", "import sys; print(sys.executable)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}

/// Where `program` is found: itself if it is a path, else the first match in `PATH`.
fn which(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Everything needed to start a student's programs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launcher {
    /// Who the programs run as.
    pub user: StudentUser,
    /// The interpreters for Python programs.
    pub interpreters: Interpreters,
    /// Whether `setpriv` is there to give programs a parent-death signal and no-new-privs.
    pub setpriv: bool,
}

impl Launcher {
    /// A launcher for this machine and this process's user.
    pub fn for_this_process(interpreters: Interpreters) -> Launcher {
        let setpriv = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "--", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        Launcher {
            user: StudentUser::for_this_process(),
            interpreters,
            setpriv,
        }
    }

    fn user_name(&self) -> String {
        match &self.user {
            StudentUser::Unprivileged { name, .. } => name.clone(),
            StudentUser::Invoker => "you".into(),
        }
    }

    /// True when `python` starts as the student user.
    fn can_run(&self, python: &Path) -> bool {
        let mut command = self.contained(python, Path::new("/"));
        command.args(["-c", "pass"]);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `program` as a command in `dir`: run as the student user, with a clean
    /// environment, in a new process group.
    fn contained(&self, program: &Path, dir: &Path) -> Command {
        let mut command = if self.setpriv {
            let mut setpriv = Command::new("setpriv");
            setpriv.args(["--pdeathsig", "KILL", "--no-new-privs", "--"]);
            setpriv.arg(program);
            setpriv
        } else {
            Command::new(program)
        };
        if let StudentUser::Unprivileged { uid, gid, .. } = self.user {
            // As root, std also drops every supplementary group when it sets the user.
            command.uid(uid).gid(gid);
        }
        let mut path: Vec<String> = self
            .interpreters
            .paths()
            .filter_map(|p| Some(p.parent()?.display().to_string()))
            .collect();
        path.push(SYSTEM_PATH.to_string());
        command
            .env_clear()
            .env("PATH", path.join(":"))
            .env("HOME", dir)
            .env("LANG", "C.UTF-8")
            .env("PYTHONUNBUFFERED", "1") // so output is seen even if the program is killed
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(dir)
            .process_group(0);
        command
    }

    /// Starts `program` in `dir`, its input and output piped to us.
    ///
    /// # Errors
    /// When it cannot be run here (the verdict says whose fault that is) or does not
    /// start.
    pub fn start(&self, program: &Program, dir: &Path) -> Result<Launched, (Verdict, String)> {
        let mut command = match program {
            Program::Shell(line) => {
                let mut command = self.contained(Path::new("sh"), dir);
                command.args(["-c", line]);
                command
            }
            Program::Python { script, version } => {
                let python = match version {
                    2 => self.interpreters.python2.as_ref(),
                    _ => self.interpreters.python3.as_ref(),
                };
                let Some(python) = python else {
                    let why = format!("Python {version} code, and no python{version} here");
                    return Err((Verdict::Skip, why));
                };
                let mut command = self.contained(python, dir);
                command.arg(script);
                command
            }
        };
        Launched::spawn(&mut command).map_err(|e| (Verdict::Fail, format!("cannot start: {e}")))
    }
}

/// Output captured from one stream, with a size cap.
#[derive(Debug, Default)]
pub struct Captured {
    /// The first [`OUTPUT_CAP`] bytes.
    pub kept: Vec<u8>,
    /// How many bytes were written in all.
    pub total: usize,
}

impl Captured {
    /// The kept output as text, with a note if some was dropped.
    pub fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.kept).into_owned();
        if self.total > self.kept.len() {
            text.push_str(&format!(
                "\n[... {} more bytes not kept]",
                self.total - self.kept.len()
            ));
        }
        text
    }
}

/// A student program that was started, with its output being captured. It and every
/// process it started are killed when it is stopped or dropped.
pub struct Launched {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<Captured>>,
    stderr: Arc<Mutex<Captured>>,
    /// The threads copying stdout and stderr; done once every holder of the pipes exits.
    capturing: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
    stopped: bool,
    /// Its processes as last looked up, and when.
    members: RefCell<Option<(Instant, Vec<i32>)>>,
}

impl Launched {
    fn spawn(command: &mut Command) -> io::Result<Launched> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (stdout, out_thread) = capture(child.stdout.take());
        let (stderr, err_thread) = capture(child.stderr.take());
        Ok(Launched {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            capturing: out_thread.into_iter().chain(err_thread).collect(),
            status: None,
            stopped: false,
            members: RefCell::new(None),
        })
    }

    /// The process id of the program (and of its process group).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Its live processes: itself, what it started, and anything left in its group (as
    /// looked up in the last few milliseconds).
    pub fn members(&self) -> Vec<i32> {
        if self.stopped {
            return Vec::new();
        }
        let mut cached = self.members.borrow_mut();
        match &*cached {
            Some((when, pids)) if when.elapsed() < MEMBERS_FRESH => pids.clone(),
            _ => {
                let pids = processes::members(self.pid());
                *cached = Some((Instant::now(), pids.clone()));
                pids
            }
        }
    }

    /// Types `text` on the program's standard input (ignoring a program that has exited).
    pub fn type_text(&mut self, text: &str) {
        if let Some(stdin) = &mut self.stdin {
            let _ = stdin.write_all(text.as_bytes());
        }
    }

    /// Closes the program's standard input (end of file).
    pub fn close_input(&mut self) {
        self.stdin = None;
    }

    /// How the program ended, if it has.
    pub fn status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// True while the program runs.
    pub fn is_running(&mut self) -> bool {
        self.status().is_none()
    }

    /// Waits until the program exits or `deadline` passes; returns how it ended.
    pub fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.status() {
                self.finish_capture(Duration::from_secs(1));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits (up to `limit`: a process it started may hold the pipes open) until all the
    /// program printed has been read, so its output is complete.
    fn finish_capture(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.capturing.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Everything printed so far on stdout.
    pub fn stdout(&self) -> String {
        self.stdout.lock().map(|c| c.text()).unwrap_or_default()
    }

    /// Everything printed so far on stderr.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|c| c.text()).unwrap_or_default()
    }

    /// Stdout, then stderr under a heading if there is any.
    pub fn output(&self) -> String {
        let mut output = self.stdout();
        let errors = self.stderr();
        if !errors.trim().is_empty() {
            if !output.is_empty() && !output.ends_with('\n') {
                output.push('\n');
            }
            output.push_str("[stderr]\n");
            output.push_str(&errors);
        }
        output
    }

    /// How many bytes the program has printed in all: a sign of life.
    pub fn output_bytes(&self) -> usize {
        let count = |c: &Mutex<Captured>| c.lock().map(|c| c.total).unwrap_or(0);
        count(&self.stdout) + count(&self.stderr)
    }

    /// The TCP ports the program's processes listen on (Linux).
    pub fn listening_ports(&self) -> Vec<u16> {
        processes::listening_ports(&self.members())
    }

    /// The CPU time its processes have used (Linux).
    pub fn cpu_time(&self) -> Option<Duration> {
        processes::cpu_time(&self.members())
    }

    /// Whether every thread of every process of the program is blocked (Linux).
    pub fn asleep(&self) -> Option<bool> {
        processes::all_asleep(&self.members())
    }

    /// Kills the program and everything it started, and waits until they are gone and
    /// the rest of its output is read.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // The group is killed before the program is reaped: until then its id
            // cannot be reused by someone else's group.
            let _ = killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
            let left = processes::members(self.pid());
            processes::kill_all(&left);
            if left.is_empty() || Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(2));
        }
        let _ = self.child.kill();
        if let Ok(status) = self.child.wait() {
            self.status.get_or_insert(status);
        }
        self.stdin = None;
        self.stopped = true;
        self.finish_capture(Duration::from_millis(500));
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        self.stop();
    }
}

fn capture(
    source: Option<impl Read + Send + 'static>,
) -> (Arc<Mutex<Captured>>, Option<JoinHandle<()>>) {
    let captured = Arc::new(Mutex::new(Captured::default()));
    let thread = source.map(|mut source| {
        let captured = Arc::clone(&captured);
        thread::spawn(move || {
            let mut buf = [0; 8192];
            while let Ok(n @ 1..) = source.read(&mut buf) {
                let Ok(mut out) = captured.lock() else { return };
                let room = OUTPUT_CAP.saturating_sub(out.kept.len()).min(n);
                out.kept.extend_from_slice(&buf[..room]);
                out.total += n;
            }
        })
    });
    (captured, thread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_output_is_capped() {
        let captured = Captured {
            kept: b"abc".to_vec(),
            total: 10,
        };
        assert_eq!(captured.text(), "abc\n[... 7 more bytes not kept]");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn stopping_a_program_kills_what_it_started() {
        let launcher = Launcher {
            user: StudentUser::Invoker,
            interpreters: Interpreters::default(),
            setpriv: false,
        };
        let line = "sleep 30 & sleep 31 & echo started; wait".to_string();
        let mut launched = launcher
            .start(&Program::Shell(line), Path::new("/"))
            .expect("sh starts");
        // Once it has said so, sh has started both sleeps.
        let deadline = Instant::now() + Duration::from_secs(10);
        while (launched.stdout() != "started\n" || launched.members().len() < 3)
            && Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(5));
        }
        let members = launched.members();
        assert_eq!(members.len(), 3, "sh and two sleeps: {members:?}");
        launched.stop();
        for pid in members {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            assert!(
                state.is_empty() || state.contains(") Z "),
                "{pid} survived: {state}"
            );
        }
        assert_eq!(launched.stdout(), "started\n");
    }
}
