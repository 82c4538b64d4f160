//! The harness every test shares: start `net_server` on a fresh port, talk to it over a
//! raw socket or through `net_client`, and on failure show everything needed to debug:
//! what was sent, what was expected, what came back, and the server's own output.

#![allow(dead_code)] // each test module uses a different part of the harness

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The longest any single step (a server start, a read, a client run) may take before the
/// test fails instead of hanging.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// The time limit for a whole test, for `#[timeout(...)]`.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The path of one of this package's programs, built by `cargo test`.
pub fn program(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_BIN_EXE_net_server"));
    dir.with_file_name(name)
}

/// The Python 3 interpreter the tests run Python with: the system's, when there is one,
/// else the one `python3` on the PATH resolves to. Any Python 3 will do, and a version
/// manager's may start several times slower (pyenv's runs its site hooks), which the
/// tests, starting Python dozens of times, would pay on every start.
pub fn python3() -> &'static Path {
    static PYTHON3: OnceLock<PathBuf> = OnceLock::new();
    PYTHON3.get_or_init(|| {
        ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]
            .into_iter()
            .map(PathBuf::from)
            .find(|path| path.is_file())
            .unwrap_or_else(|| netlab::bench::target::python3().to_path_buf())
    })
}

/// A file under `fixtures/`.
pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

/// The text of a file under `fixtures/`.
pub fn read_fixture(path: &str) -> String {
    let full = fixture(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

/// `net_client` with a step timeout, not yet pointed at any server.
pub fn net_client() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(program("net_client"));
    cmd.timeout(STEP_TIMEOUT);
    cmd
}

/// `net_client` pointed at 127.0.0.1:`port`.
pub fn net_client_to(port: u16) -> assert_cmd::Command {
    net_client_to_program("net_client", port)
}

/// The client program `name` (any of them takes `--host` and `--port`) pointed at
/// 127.0.0.1:`port`, with a step timeout.
pub fn net_client_to_program(name: &str, port: u16) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(program(name));
    cmd.timeout(STEP_TIMEOUT);
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
    cmd
}

/// Reports that a test could not run here, and why, where the person running the suite
/// sees it: written to the terminal directly, past the test harness's capture of
/// `eprintln!`, so a skip is never mistaken for a pass.
pub fn skip(test: &str, why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "test {test}: skipped: {why}");
}

/// A free port, as far as the operating system can tell right now.
pub fn free_port() -> u16 {
    portpicker::pick_unused_port().expect("no free port left on this machine")
}

/// A running `net_server`, killed and reaped when dropped. If the test is failing at that
/// moment, the server's output is printed so the failure explains itself.
pub struct Server {
    child: Child,
    /// The port the server listens on.
    pub port: u16,
    addr: SocketAddr,
    output: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `net_server` on 127.0.0.1 and a fresh port, with extra `args`.
    pub fn start(args: &[&str]) -> Server {
        Server::start_named("net_server", args)
    }

    /// Starts the server program `name` (any of the servers, which share their options) on
    /// 127.0.0.1 and a fresh port, with extra `args`.
    pub fn start_named(name: &str, args: &[&str]) -> Server {
        Server::start_with(|port| {
            let mut cmd = Command::new(program(name));
            cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
            cmd.args(args);
            cmd
        })
    }

    /// Starts the server that `command` builds for a port, on a port picked with
    /// portpicker. Another process may grab the port between the pick and the bind; then
    /// the server exits saying so, and a new port is tried.
    pub fn start_with(command: impl Fn(u16) -> Command) -> Server {
        for _ in 0..5 {
            let port = free_port();
            match Server::try_start(command(port), port) {
                Ok(server) => return server,
                Err(output) if output.contains("Address already in use") => continue,
                Err(output) => panic!("net_server did not start on port {port}:\n{output}"),
            }
        }
        panic!("net_server lost the race for a free port five times in a row");
    }

    /// Starts `command`, which should listen on `port` (0: any), then waits for its
    /// `listening on` line. On failure, returns what the server printed.
    pub fn try_start(command: Command, port: u16) -> Result<Server, String> {
        let mut server = Server::launch(command, port)?;
        server.read_stderr();
        Ok(server)
    }

    /// Starts the server program `name` on 127.0.0.1 and a fresh port, with extra `args`,
    /// and reads nothing it writes on stderr (until [`Server::read_stderr`]): like a service
    /// manager or `| less` that has stopped reading, the pipe fills up.
    pub fn start_with_unread_stderr(name: &str, args: &[&str]) -> Server {
        let port = free_port();
        let mut command = Command::new(program(name));
        command.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
        command.args(args);
        Server::launch(command, port).unwrap_or_else(|why| panic!("{name} did not start: {why}"))
    }

    /// Spawns `command` and waits for its `listening on` line, leaving its stderr unread.
    fn launch(mut command: Command, port: u16) -> Result<Server, String> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawning net_server");
        let output = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        match wait_until_listening(stdout, &output, port) {
            Ok(addr) => Ok(Server {
                child,
                port: addr.port(),
                addr,
                output,
            }),
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                if let Some(stderr) = child.stderr.take() {
                    // The pipe closed with the process: all is collected.
                    let _ = collect_lines(stderr, &output, "stderr").join();
                }
                let output = output.lock().expect("output lock").clone();
                Err(format!("{why}\n{output}"))
            }
        }
    }

    /// Collects what the server writes on stderr from now on into its output.
    pub fn read_stderr(&mut self) {
        if let Some(stderr) = self.child.stderr.take() {
            collect_lines(stderr, &self.output, "stderr");
        }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `net_client` pointed at this server.
    pub fn client(&self) -> assert_cmd::Command {
        net_client_to(self.port)
    }

    /// Checks that a fresh client still gets correct replies, whatever happened before.
    /// Needs a server started with `--transform upper`.
    pub fn assert_still_serving(&self) {
        self.client()
            .args(["--replies-only", "still", "there"])
            .assert()
            .success()
            .stdout("STILL\nTHERE\n");
    }

    /// A raw socket connected to this server.
    pub fn connect(&self) -> Peer {
        Peer::connect(self.addr())
    }

    /// The process id, to inspect the server from outside.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server printed so far, one line per line, tagged by stream.
    pub fn output(&self) -> String {
        self.output.lock().expect("output lock").clone()
    }

    /// Waits until the server's output contains `text` (its log lags a little behind
    /// what clients see), failing the test after the step timeout.
    pub fn wait_for_output(&self, text: &str) {
        self.wait_for_output_times(text, 1);
    }

    /// Waits until the server's output contains `text` at least `times` times, failing the
    /// test after the step timeout.
    pub fn wait_for_output_times(&self, text: &str, times: usize) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while self.output().matches(text).count() < times {
            assert!(
                Instant::now() < deadline,
                "the server never printed {text:?} {times} time(s); its output:\n{}",
                self.output()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends the server a signal by name (`INT` for Ctrl-C), on Unix.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the server to exit by itself, failing the test after the step timeout.
    pub fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("checking the server") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit; its output:\n{}",
                self.output()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// True while the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "--- net_server on port {} printed:\n{}--- end of net_server output",
                self.port,
                self.output()
            );
        }
    }
}

/// Reads the server's first stdout line, which must announce a loopback address (127.0.0.1
/// or ::1) and `port` (any port if 0), then keeps collecting the rest. Returns the
/// announced address. Gives up after
/// the step timeout or when the server exits.
fn wait_until_listening(
    stdout: ChildStdout,
    output: &Arc<Mutex<String>>,
    port: u16,
) -> Result<SocketAddr, String> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let output = Arc::clone(output);
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        // Recorded before the test hears of it, so the output never lacks it.
        let record = |line: &str| {
            let _ = writeln!(output.lock().expect("output lock"), "stdout: {line}");
        };
        if let Some(line) = &first {
            record(line);
        }
        let _ = ready_tx.send(first);
        for line in lines.map_while(Result::ok) {
            record(&line);
        }
    });
    let line = match ready_rx.recv_timeout(STEP_TIMEOUT) {
        Ok(Some(line)) => line,
        Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            return Err("net_server exited before listening".to_string())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            return Err(format!("no 'listening on' line within {STEP_TIMEOUT:?}"))
        }
    };
    let announced: Option<SocketAddr> = line
        .strip_prefix("listening on ")
        .and_then(|addr| addr.parse().ok());
    match announced {
        Some(addr) if addr.ip().is_loopback() && (port == 0 || addr.port() == port) => Ok(addr),
        _ => Err(format!(
            "expected \"listening on 127.0.0.1:{port}\" (or [::1]) first, got {line:?}"
        )),
    }
}

/// Copies each line from `source` into `output`, tagged with `label`, until it closes.
fn collect_lines(
    source: impl Read + Send + 'static,
    output: &Arc<Mutex<String>>,
    label: &str,
) -> thread::JoinHandle<()> {
    let output = Arc::clone(output);
    let label = label.to_string();
    thread::spawn(move || {
        for line in BufReader::new(source).lines().map_while(Result::ok) {
            let _ = writeln!(output.lock().expect("output lock"), "{label}: {line}");
        }
    })
}

/// How [`Peer::read_lines_in_background`] takes what arrives.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// As fast as it can.
    Fast,
    /// `chunk` bytes at a time, with `pause` before each read: a slow reader.
    Slow {
        /// The most bytes taken by one read.
        chunk: usize,
        /// How long to wait before each read.
        pause: Duration,
    },
}

/// A raw TCP client for poking at the server byte by byte. It records everything it sends
/// and receives, and every failed expectation shows that transcript.
pub struct Peer {
    reader: BufReader<TcpStream>,
    transcript: String,
}

impl Peer {
    /// Connects to `addr`, with reads that give up after the step timeout.
    pub fn connect(addr: SocketAddr) -> Peer {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream
            .set_read_timeout(Some(STEP_TIMEOUT))
            .expect("set timeout");
        stream.set_nodelay(true).expect("set nodelay");
        Peer {
            reader: BufReader::new(stream),
            transcript: String::new(),
        }
    }

    fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// Sends `bytes` in one write.
    pub fn send(&mut self, bytes: &[u8]) -> &mut Peer {
        let shown = if bytes.len() > 200 {
            format!("<{} bytes>", bytes.len())
        } else {
            format!("{:?}", String::from_utf8_lossy(bytes))
        };
        let _ = writeln!(self.transcript, "sent:     {shown}");
        let mut stream = self.stream();
        if let Err(e) = stream.write_all(bytes) {
            self.fail(&format!("write failed: {e}"));
        }
        self
    }

    /// Reads one reply line, without its `\n`. Fails the test if none arrives.
    pub fn read_line(&mut self) -> String {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(0) => self.fail("the server closed the connection instead of replying"),
            Ok(_) if line.last() != Some(&b'\n') => self.fail(&format!(
                "the server closed the connection mid-line after {:?}",
                String::from_utf8_lossy(&line)
            )),
            Ok(_) => {}
            Err(e) => self.fail(&format!("no reply line: {e}")),
        }
        line.pop();
        let line = String::from_utf8_lossy(&line).into_owned();
        let _ = writeln!(self.transcript, "received: {line:?}");
        line
    }

    /// Reads exactly `n` bytes. Fails the test if they do not all arrive.
    pub fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut bytes = vec![0; n];
        if let Err(e) = self.reader.read_exact(&mut bytes) {
            self.fail(&format!("expected {n} bytes: {e}"));
        }
        let _ = writeln!(self.transcript, "received: <{n} bytes>");
        bytes
    }

    /// Reads one reply line and checks it is exactly `expected`.
    pub fn expect_line(&mut self, expected: &str) -> &mut Peer {
        let line = self.read_line();
        if line != expected {
            self.fail(&format!("expected {expected:?}, received {line:?}"));
        }
        self
    }

    /// Sends `message` and a newline, then checks the reply is `expected`.
    pub fn exchange(&mut self, message: &str, expected: &str) -> &mut Peer {
        self.send(format!("{message}\n").as_bytes());
        self.expect_line(expected)
    }

    /// Checks the server has closed the connection and sent nothing more.
    pub fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) if rest.is_empty() => {}
            Ok(_) => self.fail(&format!(
                "unexpected data: {:?}",
                String::from_utf8_lossy(&rest)
            )),
            Err(e) => self.fail(&format!("expected the connection to close: {e}")),
        }
    }

    /// Checks nothing arrives for `wait`: for asserting that a server is (rightly) busy
    /// with someone else. Can only pass wrongly on a very slow machine, never fail wrongly.
    pub fn expect_silence(&mut self, wait: Duration) {
        self.stream()
            .set_read_timeout(Some(wait))
            .expect("set timeout");
        let mut byte = [0; 1];
        let result = self.stream().peek(&mut byte);
        self.stream()
            .set_read_timeout(Some(STEP_TIMEOUT))
            .expect("set timeout");
        if let Ok(n) = result {
            self.fail(&format!("expected no reply yet, but {n} byte(s) arrived"));
        }
    }

    /// Shuts down the sending side: the server sees end of input but can still reply.
    pub fn half_close(&mut self) -> &mut Peer {
        let _ = writeln!(self.transcript, "shut down the sending side");
        self.stream().shutdown(Shutdown::Write).expect("shutdown");
        self
    }

    /// Waits until the server has sent something, then closes with it unread, which makes
    /// the kernel answer with a reset (RST) instead of a clean close.
    pub fn reset_after_reply(self) {
        let mut byte = [0; 1];
        self.stream()
            .peek(&mut byte)
            .expect("a reply to arrive before the reset");
    }

    /// Another handle on the connection, to send from a thread of its own while this
    /// one reads.
    pub fn writer(&self) -> TcpStream {
        self.stream().try_clone().expect("clone the socket")
    }

    /// Reads `count` lines on a thread of its own, at `pace`, and returns them without
    /// their line feeds. The thread fails, showing the last line it got, if the
    /// connection closes or stays silent for the step timeout first.
    pub fn read_lines_in_background(
        self,
        count: usize,
        pace: Pace,
    ) -> thread::JoinHandle<Vec<String>> {
        let mut pending = self.reader.buffer().to_vec();
        let mut stream = self.reader.into_inner();
        let (chunk, pause) = match pace {
            Pace::Fast => (64 * 1024, Duration::ZERO),
            Pace::Slow { chunk, pause } => (chunk, pause),
        };
        thread::spawn(move || {
            let mut lines = Vec::with_capacity(count);
            let mut buf = vec![0; chunk];
            loop {
                let mut start = 0;
                while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
                    let line = &pending[start..start + end];
                    lines.push(String::from_utf8_lossy(line).into_owned());
                    if lines.len() == count {
                        return lines;
                    }
                    start += end + 1;
                }
                pending.drain(..start);
                thread::sleep(pause);
                match stream.read(&mut buf) {
                    Ok(n @ 1..) => pending.extend_from_slice(&buf[..n]),
                    result => panic!(
                        "{result:?} after {} of {count} lines; the last was {:?}",
                        lines.len(),
                        lines.last()
                    ),
                }
            }
        })
    }

    /// Fails the test, showing the transcript so far.
    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n--- transcript:\n{}--- end of transcript",
            self.transcript
        );
    }
}

/// A hostile client on `stream`: it pipelines messages and never reads a reply, so the
/// replies fill both directions' buffers and the server's writes stall. Returns once the
/// server has given up on it and closed the connection (the next write fails); fails the
/// test if the server still holds the connection after the step timeout.
pub fn send_without_reading(stream: TcpStream) {
    stream
        .set_write_timeout(Some(STEP_TIMEOUT))
        .expect("set timeout");
    let burst = "a message whose reply nobody reads\n".repeat(1000);
    let started = Instant::now();
    let mut sent = 0;
    loop {
        match (&stream).write_all(burst.as_bytes()) {
            Ok(()) => sent += burst.len(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("the server stopped reading after {sent} bytes but kept the connection open")
            }
            Err(_) => return, // reset or broken pipe: the server closed the connection
        }
        assert!(
            started.elapsed() < STEP_TIMEOUT,
            "the server read {sent} bytes without ever stalling or closing"
        );
    }
}

/// A hostile server, run on a thread: it accepts one client, reads its first message, then
/// sends a reply that never ends. Every write ends halfway through a character (`é`), so
/// the reply is never complete however long its reader waits for the rest. Returns its
/// address.
pub fn endless_reply_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    thread::spawn(move || {
        let (mut sock, _) = listener.accept().expect("accept");
        let _ = sock.read(&mut [0; 1024]);
        let mut piece: &[u8] = b"caf\xc3";
        while sock.write_all(piece).is_ok() {
            piece = b"\xa9 caf\xc3";
            thread::sleep(Duration::from_millis(5)); // a steady trickle, not a flood
        }
    });
    addr
}

/// A server that greets, run on a thread: it accepts one client and sends it `greeting` at
/// once, then answers each line with `reply(line)` and a newline. The receiver gets a
/// message once the greeting is in the client's receive buffer (see
/// [`wait_until_delivered`]), so a test can let the client send only after that.
pub fn greeting_server(
    greeting: &'static str,
    reply: fn(&str) -> String,
) -> (SocketAddr, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (greeted, greeted_rx) = mpsc::channel();
    thread::spawn(move || {
        let (sock, _) = listener.accept().expect("accept");
        (&sock).write_all(greeting.as_bytes()).expect("greet");
        wait_until_delivered(&sock);
        let _ = greeted.send(());
        for line in BufReader::new(&sock).lines().map_while(Result::ok) {
            if (&sock)
                .write_all(format!("{}\n", reply(&line)).as_bytes())
                .is_err()
            {
                break;
            }
        }
    });
    (addr, greeted_rx)
}

/// Waits until the peer's kernel has acknowledged every byte written on `stream`, which
/// means they are in its receive buffer. On Linux this reads the socket's send queue
/// (`tx_queue`, bytes not yet acknowledged) from /proc/net/tcp; elsewhere it returns at
/// once, and a write on loopback is delivered by the time it returns all but always.
pub fn wait_until_delivered(stream: &TcpStream) {
    let local = stream.local_addr().expect("local addr").port();
    let remote = stream.peer_addr().expect("peer addr").port();
    let deadline = Instant::now() + STEP_TIMEOUT;
    while let Ok(table) = std::fs::read_to_string("/proc/net/tcp") {
        match unacknowledged_bytes(&table, local, remote) {
            Some(0) | None => return,
            Some(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "the peer never acknowledged what was sent"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// The `tx_queue` of the socket from port `local` to port `remote` in a /proc/net/tcp
/// table (`sl local_address rem_address st tx_queue:rx_queue ...`, addresses and numbers
/// in hexadecimal).
fn unacknowledged_bytes(table: &str, local: u16, remote: u16) -> Option<u32> {
    let port = |address: &str| {
        let hex = address.rsplit(':').next()?;
        u16::from_str_radix(hex, 16).ok()
    };
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (from, to, queues) = (fields.get(1)?, fields.get(2)?, fields.get(4)?);
        if port(from)? != local || port(to)? != remote {
            return None;
        }
        u32::from_str_radix(queues.split(':').next()?, 16).ok()
    })
}

/// A hostile client that will never read: connected to `addr` with a small receive
/// buffer, so the server's writes to it stall after little data.
pub fn non_reading_client(addr: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    // Set before connecting: the receive window is agreed on during the handshake. Best
    // effort: a system that refuses only makes the server's writes stall later.
    let _ = socket.set_recv_buffer_size(4096);
    socket.connect(&addr.into()).expect("connect");
    socket.into()
}

/// What a [`scripted_server`] does after its reply.
#[derive(Clone, Copy, Debug)]
pub enum AfterReply {
    /// Keeps the connection open and says nothing more, until the client leaves.
    Hang,
    /// Closes the connection.
    Close,
}

/// A hostile server on a thread: accepts one client, waits for its first bytes, sends
/// `reply` (which may be nothing, or half of what it announces), then hangs or closes.
pub fn scripted_server(reply: &'static [u8], after: AfterReply) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let _ = stream.read(&mut [0; 1024]);
        let _ = stream.write_all(reply);
        if let AfterReply::Hang = after {
            let _ = stream.read_to_end(&mut Vec::new());
        }
    });
    addr
}

/// A listening socket that never accepts, with its queue already full: a new connection
/// attempt gets no answer at all, as from a host that is down. Keep the returned sockets
/// alive for as long as that should last.
#[cfg(target_os = "linux")]
pub fn unanswering_listener() -> (SocketAddr, socket2::Socket, TcpStream) {
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    listener
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    // Linux queues one connection for a backlog of 0, and drops the handshakes after it.
    listener.listen(0).expect("listen");
    let addr = listener
        .local_addr()
        .expect("local addr")
        .as_socket()
        .expect("an IP address");
    let queued = TcpStream::connect(addr).expect("fill the queue");
    (addr, listener, queued)
}

/// A stand-in server written exactly as the lab handout describes, run on a thread: it
/// accepts one client, and for every `recv` sends back `reply(text)` (with whatever line
/// ending `reply` chooses), until the client closes.
pub fn handout_style_server(reply: fn(&str) -> String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    thread::spawn(move || {
        let (mut sock, _) = listener.accept().expect("accept");
        let mut buf = [0; 1024];
        while let Ok(n @ 1..) = sock.read(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]);
            if sock.write_all(reply(&msg).as_bytes()).is_err() {
                break;
            }
        }
    });
    addr
}
