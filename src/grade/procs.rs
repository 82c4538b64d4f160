//! Running submitted programs: capped output capture, timeouts, CPU time, and finding
//! the port a process listens on from its own sockets (Linux `/proc`).

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How much of a program's output is kept; a program that prints more (a server spinning
/// on an empty recv can write megabytes a second) has the rest counted, not stored.
pub const OUTPUT_CAP: usize = 16 * 1024;

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

/// A running program whose stdout and stderr are being captured. Killed when dropped.
pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<Captured>>,
    stderr: Arc<Mutex<Captured>>,
    /// The threads copying stdout and stderr; done once the program's pipes close.
    capturing: Vec<JoinHandle<()>>,
}

impl Running {
    /// Starts `program args` in `dir`.
    ///
    /// # Errors
    /// When the program cannot be started.
    pub fn start(program: &Path, args: &[String], dir: &Path) -> io::Result<Running> {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .env("PYTHONUNBUFFERED", "1") // so output is seen even if the program is killed
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", program.display())))?;
        let (stdout, out_thread) = capture(child.stdout.take());
        let (stderr, err_thread) = capture(child.stderr.take());
        Ok(Running {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            capturing: out_thread.into_iter().chain(err_thread).collect(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
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

    /// Waits up to `limit` for the program to exit.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.finish_capture(Duration::from_secs(1));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (up to `limit`: a process it started may hold the pipes open) until all
    /// the program printed has been read, so its output is complete.
    fn finish_capture(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.capturing.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// True while the program runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything printed so far on stdout.
    pub fn stdout(&self) -> String {
        self.stdout.lock().map(|c| c.text()).unwrap_or_default()
    }

    /// Everything printed so far on stderr.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|c| c.text()).unwrap_or_default()
    }

    /// CPU time (user and system, all threads) used so far (Linux only).
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        // The command name in parentheses may hold spaces: count fields after it.
        let after_name = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
    }

    /// The TCP ports the program listens on (Linux only).
    pub fn listening_ports(&self) -> Vec<u16> {
        listening_ports(self.pid())
    }

    /// Stops the program and waits for it and for the rest of its output.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.finish_capture(Duration::from_millis(500));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
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

/// The ports on which process `pid` has a listening TCP socket: its open file
/// descriptors that are sockets, matched by inode against the kernel's socket tables.
pub fn listening_ports(pid: u32) -> Vec<u16> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let inodes: HashSet<String> = fds
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *state != "0A" || !inodes.contains(*inode) {
                continue; // 0A is LISTEN
            }
            let port = local
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            if let Some(port) = port.filter(|p| !ports.contains(p)) {
                ports.push(port);
            }
        }
    }
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn finds_the_port_this_process_listens_on() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert!(listening_ports(std::process::id()).contains(&port));
    }

    #[test]
    fn captured_output_is_capped() {
        let captured = Captured {
            kept: b"abc".to_vec(),
            total: 10,
        };
        assert_eq!(captured.text(), "abc\n[... 7 more bytes not kept]");
    }
}
