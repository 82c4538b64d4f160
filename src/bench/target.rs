//! The servers under test: how to start each one, and a handle on the running process.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::Duration;

/// How long a server may take to print its `listening on` line: generous, since python3
/// behind a version manager can take seconds to start on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The options every server under test gets.
const SERVER_ARGS: &[&str] = &["--host", "127.0.0.1", "--port", "0", "-q", "-t", "upper"];

/// A server the benchmark can start: a label for the report and a command line.
#[derive(Debug, Clone)]
pub struct Target {
    /// The name shown in the report.
    pub label: &'static str,
    program: PathBuf,
    args: Vec<String>,
}

impl Target {
    /// One of this package's programs, from the directory of the running benchmark,
    /// serving on an OS-chosen loopback port, quietly, with the `upper` transform (whose
    /// replies are as long as the messages, like the echo baseline's).
    pub fn ours(label: &'static str, program: &str, extra: &[String]) -> Target {
        let mut args = to_strings(SERVER_ARGS);
        args.extend_from_slice(extra);
        Target {
            label,
            program: sibling(program),
            args,
        }
    }

    /// A baseline server built into the benchmark program, run as `net_bench SUBCOMMAND`
    /// with the same options as ours.
    pub fn built_in(label: &'static str, subcommand: &str) -> Target {
        let mut args = vec![subcommand.to_string()];
        args.extend(to_strings(SERVER_ARGS));
        Target {
            label,
            program: sibling("net_bench"),
            args,
        }
    }

    /// The handout-style Python server at `script`, run by the Python `interpreter`.
    pub fn python(label: &'static str, interpreter: &Path, script: &Path) -> Target {
        Target {
            label,
            program: interpreter.to_path_buf(),
            args: vec![script.display().to_string(), "0".to_string()],
        }
    }

    /// Starts the server, on CPU `cpu` alone if given, and waits for its `listening on`
    /// line.
    ///
    /// # Errors
    /// When it cannot be started or does not announce its address in time.
    pub fn start(&self, cpu: Option<usize>) -> io::Result<Running> {
        let mut command = match cpu {
            Some(cpu) => {
                let mut taskset = Command::new("taskset");
                taskset.arg("-c").arg(cpu.to_string()).arg(&self.program);
                taskset
            }
            None => Command::new(&self.program),
        };
        let mut child = command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.program.display())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let mut running = Running { child, addr: None };
        running.addr = Some(listening_addr(stdout)?);
        Ok(running)
    }
}

/// The interpreter that `python3` runs, found once. Version managers such as pyenv put a
/// shell script named python3 first on the PATH, which adds a tenth of a second or more to
/// every start: timed as part of the handout client's whole process, that would be the
/// version manager's time, not Python's.
pub fn python3() -> &'static Path {
    static PYTHON3: OnceLock<PathBuf> = OnceLock::new();
    PYTHON3.get_or_init(|| {
        let found = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .stderr(Stdio::null())
            .output();
        found
            .ok()
            .filter(|output| output.status.success())
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .map(|path| PathBuf::from(path.trim()))
            .filter(|path| path.is_file())
            .unwrap_or_else(|| PathBuf::from("python3"))
    })
}

/// Moves this whole process (every thread, and threads started later) to CPU `cpu`.
/// Returns whether that worked: it needs Linux's `taskset`.
pub fn pin_this_process(cpu: usize) -> bool {
    Command::new("taskset")
        .args([
            "-a",
            "-c",
            "-p",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A server under test by its label, running or with the error that kept it from starting.
pub type Started = (&'static str, io::Result<Running>);

/// Runs `measure` on the address of `server`, or returns the error that kept it from
/// starting (again, for each measurement it misses).
///
/// # Errors
/// The server's start-up error, or the measurement's.
pub fn measure_on<T>(
    server: &io::Result<Running>,
    measure: impl FnOnce(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    match server {
        Ok(server) => measure(server.addr()),
        Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
    }
}

/// A running server, killed when dropped.
pub struct Running {
    child: Child,
    addr: Option<SocketAddr>,
}

impl Running {
    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Resident memory now, in KiB (Linux only).
    pub fn rss_kib(&self) -> Option<u64> {
        self.status_field("VmRSS:")
    }

    /// Peak resident memory so far, in KiB (Linux only).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.status_field("VmHWM:")
    }

    /// CPU time the server has used so far, all its threads, user and system (Linux only;
    /// in steps of 10 ms, the kernel's USER_HZ).
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        cpu_time_in_stat(&stat)
    }

    fn status_field(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find_map(|line| line.strip_prefix(field))?;
        line.trim().trim_end_matches("kB").trim().parse().ok()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The user and system CPU time in a line of `/proc/PID/stat`.
fn cpu_time_in_stat(stat: &str) -> Option<Duration> {
    // Fields after the command name, which is in parentheses and may hold spaces and
    // parentheses: the state is the first; utime and stime, the 14th and 15th fields of
    // the line, are the 12th and 13th after it. Both count USER_HZ ticks of 10 ms.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let mut ticks = || fields.next()?.parse::<u64>().ok();
    let total = ticks()? + ticks()?;
    Some(Duration::from_millis(total * 10))
}

/// Reads `listening on ADDR` from the server's stdout, then keeps draining it so the
/// server can never block on a full pipe.
fn listening_addr(stdout: impl io::Read + Send + 'static) -> io::Result<SocketAddr> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        lines.for_each(drop);
    });
    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(Some(Ok(line))) => line,
        _ => return Err(io::Error::other("the server did not say where it listens")),
    };
    line.strip_prefix("listening on ")
        .and_then(|addr| addr.parse().ok())
        .ok_or_else(|| io::Error::other(format!("unexpected first line {line:?}")))
}

/// The path of a program installed next to the running one.
pub fn sibling(name: &str) -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

fn to_strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_utime_plus_stime_even_after_an_odd_command_name() {
        let stat = "4242 (net (s)erver) S 1 4242 4242 0 -1 4194560 300 0 0 0 125 75 0 0 20 0 3";
        assert_eq!(cpu_time_in_stat(stat), Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_short_stat_line_has_no_cpu_time() {
        assert_eq!(cpu_time_in_stat("4242 (net_server) S 1 4242"), None);
    }
}
