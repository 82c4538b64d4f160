//! The handout tier's harness. It drives a pair of programs only through the student
//! contract (README.txt, "Writing your own"), so any correct pair passes:
//!
//! - `net_server --port PORT` listens on PORT and answers each message;
//! - `net_client [--host HOST] --port PORT MESSAGE...` sends each message, waits for its
//!   reply, prints it on a line of its own, then closes and exits 0.
//!
//! The programs are the package's own `net_server` and `net_client`, or the commands in
//! `NETLAB_SERVER` and `NETLAB_CLIENT` (with `{host}` and `{port}` placeholders; the
//! client's messages are appended as arguments), so a pair in any language can be graded.
//!
//! Every failure reads like the handout: what was sent, what was expected, what came back,
//! then what the program printed (and where it panicked, if it did).

#![allow(dead_code)] // not every test uses every helper

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any one step may take (a server starting, a reply, a client run) before the
/// test fails instead of hanging. Generous: it only bounds a hang.
pub const STEP: Duration = Duration::from_secs(10);

/// How long to wait for more of a reply that has no newline. A reply ends at a newline, or
/// when the server stops sending: once it waits for our next message (seen on Linux), or
/// at the latest after this long without a byte.
const REPLY_GRACE: Duration = Duration::from_millis(200);

/// How long the examiner server watches for a client that sends its next message without
/// waiting for the reply. A client that waits is never affected by it.
const HOLD: Duration = Duration::from_millis(100);

/// How often a polling loop looks again.
const POLL: Duration = Duration::from_millis(10);

/// Fails the test with `what`, followed by what `program` printed. If it panicked, the
/// first line says where, since that is where the student has to look.
pub fn fail(what: &str, program: &Program) -> ! {
    let (headline, details) = what.split_once('\n').unwrap_or((what, ""));
    let details = if details.is_empty() {
        String::new()
    } else {
        format!("{details}\n")
    };
    match panic_message(&program.stderr()) {
        Some(panic) if !headline.contains(&panic) => panic!(
            "{headline} ({} panicked: {panic})\n{details}{}",
            program.name,
            program.describe_output()
        ),
        _ => panic!("{headline}\n{details}{}", program.describe_output()),
    }
}

/// A running program of the pair, with everything it prints captured. Killed, with every
/// process it started, when dropped.
pub struct Program {
    name: &'static str,
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    copiers: Vec<thread::JoinHandle<()>>,
}

impl Program {
    /// Starts `command`, a program of the pair called `name`, capturing its output.
    fn spawn(name: &'static str, mut command: Command) -> Program {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let copiers = vec![
            copy_into(child.stdout.take(), &stdout),
            copy_into(child.stderr.take(), &stderr),
        ];
        Program {
            name,
            child,
            stdout,
            stderr,
            copiers,
        }
    }

    /// The program's name: `net_server` or `net_client`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for it to exit, up to `limit`. Once it has, everything it printed is in.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited() {
                for copier in self.copiers.drain(..) {
                    let _ = copier.join();
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    /// What it printed on standard output so far.
    pub fn stdout(&self) -> String {
        text_of(&self.stdout)
    }

    /// What it printed on standard error so far.
    pub fn stderr(&self) -> String {
        text_of(&self.stderr)
    }

    /// Its output, for a failure message: where it panicked, if it did, then the last
    /// lines of its standard error and standard output.
    pub fn describe_output(&self) -> String {
        let (stderr, stdout) = (self.stderr(), self.stdout());
        let mut out = String::new();
        if let Some(panic) = panic_message(&stderr) {
            out += &format!("{} panicked: {panic}\n", self.name);
        }
        out += &format!("--- {} standard error:\n{}", self.name, tail(&stderr));
        out += &format!("--- {} standard output:\n{}", self.name, tail(&stdout));
        out + "---"
    }

    /// Kills the program and everything it started.
    fn kill(&mut self) {
        #[cfg(unix)]
        {
            // The program leads a process group of its own: this reaches its children too.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Copies everything `source` produces into `sink`, on a thread of its own.
fn copy_into(
    source: Option<impl Read + Send + 'static>,
    sink: &Arc<Mutex<Vec<u8>>>,
) -> thread::JoinHandle<()> {
    let sink = Arc::clone(sink);
    thread::spawn(move || {
        let Some(mut source) = source else { return };
        let mut buf = [0; 4096];
        while let Ok(n @ 1..) = source.read(&mut buf) {
            sink.lock()
                .expect("output lock")
                .extend_from_slice(&buf[..n]);
        }
    })
}

fn text_of(buffer: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&buffer.lock().expect("output lock")).into_owned()
}

/// The last 30 lines of `text`, or "(nothing)".
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return "(nothing)\n".to_string();
    }
    let start = lines.len().saturating_sub(30);
    lines[start..]
        .iter()
        .map(|line| format!("{line}\n"))
        .collect()
}

/// A Rust panic in `stderr` as `message (file:line)`, such as
/// `not yet implemented (src/bin/net_server.rs:14)`.
pub fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines();
    let at = lines.find(|line| line.contains("panicked at "))?;
    let place = at.split_once("panicked at ")?.1.trim_end_matches(':');
    let file_line = place.rsplit_once(':').map_or(place, |(head, _column)| head);
    let message = lines.next().unwrap_or("").trim();
    Some(format!("{message} ({file_line})"))
}

/// The command that runs `program` (`net_server` or `net_client`): `$NETLAB_SERVER` or
/// `$NETLAB_CLIENT` with `{host}` and `{port}` filled in, else the package's own program.
fn command_for(program: &str, own_args: &[&str], host: &str, port: u16) -> Command {
    let variable = format!(
        "NETLAB_{}",
        program.trim_start_matches("net_").to_uppercase()
    );
    match std::env::var(&variable) {
        Ok(template) if !template.trim().is_empty() => {
            let line = template
                .replace("{host}", host)
                .replace("{port}", &port.to_string());
            // The shell appends the extra arguments (the client's messages) to the command.
            let mut command = Command::new("sh");
            command.args(["-c", &format!("{line} \"$@\""), "sh"]);
            command
        }
        _ => {
            let mut command = Command::new(own_program(program));
            command.args(own_args);
            command
        }
    }
}

/// The path of this package's own `net_server` or `net_client`, built by `cargo test`.
fn own_program(program: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_BIN_EXE_net_server")).with_file_name(program)
}

/// A student's server, started on a fresh port and known to be listening.
pub struct Server {
    program: Program,
    port: u16,
}

impl Server {
    /// Starts `net_server --port PORT` on a fresh PORT and waits until a connection to it
    /// succeeds. That connection is returned as the first client, so a server that cannot
    /// yet handle a client that leaves without a word is never given one.
    pub fn start() -> (Server, Connection) {
        for _ in 0..5 {
            let port = portpicker::pick_unused_port().expect("no free port on this machine");
            let command = command_for("net_server", &["--port", &port.to_string()], "", port);
            let mut program = Program::spawn("net_server", command);
            match wait_until_listening(&mut program, port) {
                Ok(stream) => {
                    let connection = Connection::new(stream, &program);
                    return (Server { program, port }, connection);
                }
                // Another process took the port between the pick and the bind: try another.
                Err(_) if program.stderr().contains("already in use") => continue,
                Err(why) => fail(&why, &program),
            }
        }
        panic!("net_server lost the race for a free port five times in a row");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The running program, for its output.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Connects a new client, failing the test if the server no longer listens.
    pub fn connect(&mut self) -> Connection {
        match connect_once(self.port) {
            Ok(stream) => Connection::new(stream, &self.program),
            Err(e) => {
                let state = self.state();
                fail(
                    &format!("cannot connect to port {}: {e} ({state})", self.port),
                    &self.program,
                )
            }
        }
    }

    /// Sends `message` on `connection` and returns the reply, failing the test (with the
    /// server's output) if none comes.
    pub fn exchange(&mut self, connection: &mut Connection, message: &str) -> String {
        match connection.exchange(message) {
            Ok(reply) => reply,
            Err(why) => {
                let state = self.state();
                fail(&format!("sent {message:?}: {why} ({state})"), &self.program)
            }
        }
    }

    /// Whether the server is still running, in words. Called once something has failed,
    /// so it gives an exiting server a moment to finish exiting.
    fn state(&mut self) -> String {
        match self.program.wait(Duration::from_secs(1)) {
            Some(status) => format!("net_server has exited: {status}"),
            None => "net_server is still running".to_string(),
        }
    }
}

/// Polls until a connection to `port` succeeds, the program exits, or the step ends.
fn wait_until_listening(program: &mut Program, port: u16) -> Result<TcpStream, String> {
    let deadline = Instant::now() + STEP;
    loop {
        if let Ok(stream) = connect_once(port) {
            // Another test's server may have taken the port first: then ours is about to
            // exit saying so, and this connection is not to it.
            if listens_in_group(program, port) {
                return Ok(stream);
            }
        }
        if let Some(status) = program.wait(Duration::ZERO) {
            let how = match panic_message(&program.stderr()) {
                Some(panic) => panic,
                None => status.to_string(),
            };
            return Err(format!(
                "net_server exited before listening on port {port}: {how}"
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "net_server did not listen on port {port} within {STEP:?}"
            ));
        }
        thread::sleep(POLL);
    }
}

/// Whether `port` is listened on by `program` or a process it started (its process
/// group), as far as Linux's /proc tells. Elsewhere there is no cheap way to tell, and the
/// answer is yes.
fn listens_in_group(program: &Program, port: u16) -> bool {
    let Some(members) = group_members(program.child.id()) else {
        return true;
    };
    let sockets = listening_sockets(port);
    members.iter().any(|dir| holds_any(dir, &sockets))
}

/// The /proc folders of the live processes of process group `group`, or `None` where
/// there is no /proc to tell (not Linux).
fn group_members(group: u32) -> Option<Vec<PathBuf>> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let group = group.to_string();
    let processes = std::fs::read_dir("/proc").ok()?;
    let members = processes
        .flatten()
        .map(|process| process.path())
        .filter(|dir| {
            let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
            let fields = stat_fields(&stat);
            fields.get(2) == Some(&group.as_str()) && fields.first() != Some(&"Z")
        })
        .collect();
    Some(members)
}

/// The fields of a /proc `stat` file after the program's name: state, parent, process
/// group, ...
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect())
}

/// Whether every thread of process group `group` sleeps (blocked in a call such as
/// `recv`, not running or ready to run), or `None` where /proc cannot tell.
fn group_sleeps(group: u32) -> Option<bool> {
    let members = group_members(group)?;
    if members.is_empty() {
        return None;
    }
    for dir in members {
        for task in std::fs::read_dir(dir.join("task")).ok()?.flatten() {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            if stat_fields(&stat)
                .first()
                .is_some_and(|state| *state != "S")
            {
                return Some(false);
            }
        }
    }
    Some(true)
}

/// The `socket:[INODE]` names of the sockets listening on `port`, from /proc/net/tcp and
/// tcp6 (state 0A is LISTEN).
fn listening_sockets(port: u16) -> Vec<String> {
    let port = format!(":{port:04X}");
    let mut sockets = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && fields[1].ends_with(&port) && fields[3] == "0A" {
                sockets.push(format!("socket:[{}]", fields[9]));
            }
        }
    }
    sockets
}

/// Whether the process in the /proc folder `dir` has one of `sockets` open.
fn holds_any(dir: &Path, sockets: &[String]) -> bool {
    let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| sockets.iter().any(|s| target.as_os_str() == s.as_str()))
    })
}

/// One connection attempt to this machine, over IPv4 and then IPv6 (a server that binds
/// "localhost" may get either).
fn connect_once(port: u16) -> io::Result<TcpStream> {
    let v4 = SocketAddr::from(([127, 0, 0, 1], port));
    let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&v4, STEP)
        .or_else(|e| TcpStream::connect_timeout(&v6, STEP).map_err(|_| e))
}

/// A client connection to a student's server, speaking as the tests promise: each message
/// followed by "\n", and nothing more until its reply has come.
pub struct Connection {
    stream: TcpStream,
    /// Bytes received past the end of the last reply.
    pending: Vec<u8>,
    /// The server's process group, watched to tell when a reply without a newline ends.
    server_group: u32,
}

impl Connection {
    fn new(stream: TcpStream, server: &Program) -> Connection {
        let _ = stream.set_nodelay(true);
        Connection {
            stream,
            pending: Vec::new(),
            server_group: server.child.id(),
        }
    }

    /// Sends `message` and a newline, and waits for the reply: the text up to a newline,
    /// or everything the server sent before it stopped sending. Line breaks around the
    /// reply are not part of it (a server that reverses "hello\n" sends "\nolleh").
    ///
    /// # Errors
    /// Why no reply came, in words.
    pub fn exchange(&mut self, message: &str) -> Result<String, String> {
        let line = format!("{message}\n");
        self.stream
            .write_all(line.as_bytes())
            .map_err(|e| format!("could not send it: {e}"))?;
        self.read_reply()
    }

    fn read_reply(&mut self) -> Result<String, String> {
        let mut reply = std::mem::take(&mut self.pending);
        let mut last_bytes = Instant::now();
        loop {
            let content_start = reply.iter().position(|&b| b != b'\n' && b != b'\r');
            if let Some(start) = content_start {
                if let Some(end) = reply[start..].iter().position(|&b| b == b'\n') {
                    self.pending = reply.split_off(start + end + 1);
                    return Ok(clean(&reply));
                }
            }
            // Until some of the reply is here, wait for it; then look often for its end.
            let wait = if content_start.is_some() { POLL } else { STEP };
            match read_some(&mut self.stream, wait) {
                Ok(Some(bytes)) => {
                    reply.extend_from_slice(&bytes);
                    last_bytes = Instant::now();
                }
                Ok(None) if content_start.is_some() => {
                    if self.server_stopped_sending(last_bytes) {
                        return Ok(clean(&reply));
                    }
                }
                Ok(None) => return Err(format!("no reply within {STEP:?}")),
                Err(e) if content_start.is_some() => {
                    return Err(format!("{e} after a partial reply"))
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether a server that sent part of a reply without a newline, the last of it at
    /// `last_bytes`, has stopped sending: it waits for our next message (every thread of
    /// it sleeps, and nothing more has arrived), or it has sent nothing for
    /// [`REPLY_GRACE`].
    fn server_stopped_sending(&self, last_bytes: Instant) -> bool {
        let waits_for_us =
            group_sleeps(self.server_group) == Some(true) && !bytes_waiting(&self.stream);
        waits_for_us || last_bytes.elapsed() >= REPLY_GRACE
    }

    /// Closes the connection: the server sees its client leave.
    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Hands this connection over to the next client that connects to the returned port:
    /// everything either side sends is relayed to the other, until both have finished.
    /// So a student's client can talk to a student's server over the connection the test
    /// already holds, and a server that serves a single client serves it.
    pub fn relay_to_next_client(self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the relay");
        let port = listener.local_addr().expect("relay address").port();
        let server = self.stream;
        thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            let _ = client.set_nodelay(true);
            if let (Ok(server_reader), Ok(client_writer)) = (server.try_clone(), client.try_clone())
            {
                thread::spawn(move || pipe(server_reader, client_writer));
                pipe(client, server);
            }
        });
        port
    }
}

/// Copies `from` to `to` until `from` ends, then tells `to` that nothing more will come.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// The reply as text, without the line breaks around it.
fn clean(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply)
        .trim_matches(|c| c == '\r' || c == '\n')
        .to_string()
}

/// Reads whatever arrives within `wait`: `Some(bytes)`, or `None` if nothing did.
///
/// # Errors
/// When the peer closed or the connection failed, in words.
fn read_some(stream: &mut TcpStream, wait: Duration) -> Result<Option<Vec<u8>>, String> {
    stream
        .set_read_timeout(Some(wait))
        .map_err(|e| format!("cannot set a timeout: {e}"))?;
    let mut buf = [0; 4096];
    match stream.read(&mut buf) {
        Ok(0) => Err("the connection was closed instead".to_string()),
        Ok(n) => Ok(Some(buf[..n].to_vec())),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(format!("the connection failed: {e}")),
    }
}

/// Whether bytes have arrived on `stream` that nobody has read yet.
fn bytes_waiting(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let waiting = matches!(stream.peek(&mut [0; 1]), Ok(1..));
    let _ = stream.set_nonblocking(false);
    waiting
}

/// A student's client, run to completion against some server.
pub struct ClientRun {
    /// The finished program, for its output.
    pub program: Program,
    /// How it exited.
    pub status: ExitStatus,
}

/// Runs `net_client [--host HOST] --port PORT MESSAGE...` until it exits, failing the test
/// if it is still running after the step timeout.
pub fn run_client(host: Option<&str>, port: u16, messages: &[&str]) -> ClientRun {
    let port_text = port.to_string();
    let mut args = Vec::new();
    if let Some(host) = host {
        args.extend(["--host", host]);
    }
    args.extend(["--port", &port_text]);
    let mut command = command_for("net_client", &args, host.unwrap_or("localhost"), port);
    command.args(messages);
    let mut program = Program::spawn("net_client", command);
    match program.wait(STEP) {
        Some(status) => ClientRun { program, status },
        None => fail(
            &format!("net_client was still running {STEP:?} after it started"),
            &program,
        ),
    }
}

/// Runs `net_client [--host HOST] --port PORT MESSAGE...` against an examiner server
/// expecting `messages`, and returns the finished run and what the server saw. Fails the
/// test if the client never connected: no other check means anything then.
pub fn client_session(host: Option<&str>, messages: &[&str]) -> (ClientRun, Observed) {
    let examiner = Examiner::start(messages);
    let port = examiner.port();
    let run = run_client(host, port, messages);
    let seen = examiner.observed();
    if !seen.connected {
        let host = host.map_or(String::new(), |host| format!("--host {host} "));
        fail(
            &format!("ran net_client {host}--port {port} {messages:?}: it never connected"),
            &run.program,
        );
    }
    (run, seen)
}

/// Fails the test if the client's session with the examiner went wrong: a message that
/// never came, or came out of order, or a client that left before its reply.
pub fn require_complete(run: &ClientRun, seen: &Observed, messages: &[&str]) {
    if let Some(problem) = &seen.problem {
        fail(
            &format!("ran net_client {messages:?}: {problem}"),
            &run.program,
        );
    }
}

/// What the examiner server saw of a client.
#[derive(Debug, Default)]
pub struct Observed {
    /// The client connected.
    pub connected: bool,
    /// The messages received, in order.
    pub messages: Vec<String>,
    /// The replies sent, in order.
    pub replies: Vec<String>,
    /// A message that arrived before the previous one's reply was sent.
    pub sent_early: Option<String>,
    /// The client closed the connection after its last message.
    pub closed: bool,
    /// What went wrong, if something did.
    pub problem: Option<String>,
}

/// The server the client tests run against: it expects the given messages, answers each
/// with a reply of its own making, and records what the client did.
pub struct Examiner {
    port: u16,
    done: mpsc::Receiver<Observed>,
    /// Set once the client has exited: if it has not connected by then, it never will.
    client_gone: Arc<AtomicBool>,
}

impl Examiner {
    /// Starts listening on a free port of this machine (IPv4, and IPv6 where there is
    /// one: a client may resolve "localhost" to either) for a client that will send
    /// `messages`.
    pub fn start(messages: &[&str]) -> Examiner {
        let v4 = TcpListener::bind("127.0.0.1:0").expect("binding the examiner server");
        let port = v4.local_addr().expect("examiner address").port();
        let mut listeners = vec![v4];
        listeners.extend(TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, port)).ok());
        for listener in &listeners {
            listener
                .set_nonblocking(true)
                .expect("making the examiner's listener non-blocking");
        }
        let messages: Vec<String> = messages.iter().map(|m| m.to_string()).collect();
        let (report, done) = mpsc::channel();
        let client_gone = Arc::new(AtomicBool::new(false));
        let gone = Arc::clone(&client_gone);
        thread::spawn(move || {
            let observed = match accept(&listeners, &gone) {
                Some(stream) => examine(stream, &messages),
                None => Observed::default(),
            };
            let _ = report.send(observed);
        });
        Examiner {
            port,
            done,
            client_gone,
        }
    }

    /// The port to give the client.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the client did. Call it once the client has exited.
    pub fn observed(self) -> Observed {
        self.client_gone.store(true, Ordering::SeqCst);
        self.done.recv_timeout(STEP * 2).unwrap_or_default()
    }
}

/// The client's connection, from whichever of the (non-blocking) `listeners` it reached.
/// Gives up after the step timeout, or once the client has exited without connecting: a
/// connection it made before exiting waits in a listener's backlog by then, so one last
/// look at each listener settles it.
fn accept(listeners: &[TcpListener], client_gone: &AtomicBool) -> Option<TcpStream> {
    let deadline = Instant::now() + STEP;
    loop {
        let gone = client_gone.load(Ordering::SeqCst);
        for listener in listeners {
            if let Ok((stream, _)) = listener.accept() {
                let _ = stream.set_nonblocking(false);
                return Some(stream);
            }
        }
        if gone || Instant::now() >= deadline {
            return None;
        }
        thread::sleep(POLL);
    }
}

/// The examiner's reply to message `number` (1-based): marked, so it cannot be mistaken
/// for anything the client prints by itself.
pub fn examiner_reply(number: usize, message: &str) -> String {
    format!("reply {number}: {}", message.to_uppercase())
}

/// Receives each expected message from `stream`, answers it, and records the session.
fn examine(mut stream: TcpStream, messages: &[String]) -> Observed {
    let mut seen = Observed {
        connected: true,
        ..Observed::default()
    };
    let _ = stream.set_nodelay(true);
    let mut buffer = Vec::new();
    for (index, expected) in messages.iter().enumerate() {
        if let Err(problem) = receive(&mut stream, &mut buffer, expected) {
            seen.problem = Some(format!(
                "waiting for message {} {expected:?}: {problem}",
                index + 1
            ));
            return seen;
        }
        seen.messages.push(expected.clone());
        // A client that waits sends nothing more until the reply is out.
        if index + 1 < messages.len() && seen.sent_early.is_none() {
            if !has_content(&buffer) {
                if let Ok(Some(more)) = read_some(&mut stream, HOLD) {
                    buffer.extend_from_slice(&more);
                }
            }
            if has_content(&buffer) {
                seen.sent_early = Some(messages[index + 1].clone());
            }
        }
        let reply = examiner_reply(index + 1, expected);
        if stream.write_all(format!("{reply}\n").as_bytes()).is_err() {
            seen.problem = Some(format!("the client left before the reply to {expected:?}"));
            return seen;
        }
        seen.replies.push(reply);
    }
    seen.closed = waits_for_close(&mut stream, &mut buffer);
    seen
}

/// True when `buffer` holds more than line breaks.
fn has_content(buffer: &[u8]) -> bool {
    buffer.iter().any(|&b| b != b'\n' && b != b'\r')
}

/// Reads into `buffer` until it holds `expected` (after any line breaks), then removes
/// it and the line break after it.
fn receive(stream: &mut TcpStream, buffer: &mut Vec<u8>, expected: &str) -> Result<(), String> {
    let deadline = Instant::now() + STEP;
    loop {
        let start = buffer
            .iter()
            .position(|&b| b != b'\n' && b != b'\r')
            .unwrap_or(buffer.len());
        let got = &buffer[start..];
        if got.starts_with(expected.as_bytes()) {
            let mut end = start + expected.len();
            end += buffer[end..]
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            buffer.drain(..end);
            return Ok(());
        }
        if !expected.as_bytes().starts_with(got) {
            return Err(format!(
                "received {:?} instead",
                String::from_utf8_lossy(got)
            ));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("nothing within {STEP:?}"));
        }
        match read_some(stream, left)? {
            Some(bytes) => buffer.extend_from_slice(&bytes),
            None => return Err(format!("nothing within {STEP:?}")),
        }
    }
}

/// True when the client closes the connection within the step timeout, sending nothing
/// but line breaks first.
fn waits_for_close(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
    let deadline = Instant::now() + STEP;
    while !has_content(buffer) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match read_some(stream, left) {
            Ok(Some(bytes)) => buffer.extend_from_slice(&bytes),
            Ok(None) => return false,
            Err(_) => return true, // closed (or reset, which also ends the connection)
        }
    }
    false
}
