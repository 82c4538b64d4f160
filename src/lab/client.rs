//! A client session: connect, then for each message send it and wait for its reply.

use std::fmt;
use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use crate::lab::frame::{encode_line, Frame, FrameLimits, FrameReader};
use crate::report::{describe, peer_hung_up, visible};

/// How long one connection attempt may take before the next address is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest reply shown. Far above the server's default message limit, because a reply
/// can be longer than its message (`[65536] ` + 64 KiB, or upper case growing some text).
pub const MAX_REPLY_LEN: usize = 16 * 1024 * 1024;
/// How often `--retry` tries to connect again.
const RETRY_INTERVAL: Duration = Duration::from_millis(100);

/// Everything that can end a client session early, phrased for the person running it.
#[derive(Debug)]
pub enum ClientError {
    /// The host name did not resolve.
    Resolve {
        /// The host name as the user gave it.
        host: String,
        /// Why resolution failed.
        source: io::Error,
    },
    /// No address of the host accepted the connection.
    Connect {
        /// `host:port` as the user gave it.
        target: String,
        /// The error from the last address tried.
        source: io::Error,
    },
    /// A message contains a line feed, so it would arrive as two messages.
    MessageHasNewline {
        /// The 1-based number of the offending message.
        number: usize,
    },
    /// The server closed the connection instead of replying.
    ClosedBeforeReply {
        /// The 1-based number of the message left without reply.
        number: usize,
    },
    /// No reply arrived within the reply timeout.
    NoReply {
        /// The 1-based number of the message left without reply.
        number: usize,
        /// How long the client waited.
        waited: Duration,
    },
    /// The messages could not be read (from `--file` or standard input).
    Input(io::Error),
    /// The transcript could not be written to standard output.
    Output(io::Error),
    /// Any other failure while talking to the server.
    Io(io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Resolve { host, source } => {
                // std prefixes resolver errors with this; the host name says it better.
                let text = describe(source);
                let cause = text
                    .strip_prefix("failed to lookup address information: ")
                    .unwrap_or(&text);
                write!(f, "cannot resolve host '{host}': {cause}")
            }
            ClientError::Connect { target, source } => {
                f.write_str(&cannot_connect(target, source, "net_server"))
            }
            ClientError::MessageHasNewline { number } => write!(
                f,
                "message {number} contains a line break; send one line per message"
            ),
            ClientError::ClosedBeforeReply { number } => write!(
                f,
                "the server closed the connection before replying to message {number}"
            ),
            ClientError::NoReply { number, waited } => write!(
                f,
                "no reply to message {number} within {:.1}s (see --reply-timeout)",
                waited.as_secs_f64()
            ),
            ClientError::Input(e) => write!(f, "cannot read messages: {}", describe(e)),
            ClientError::Output(e) => write!(f, "cannot write output: {}", describe(e)),
            ClientError::Io(e) => write!(f, "connection failed: {}", describe(e)),
        }
    }
}

impl std::error::Error for ClientError {}

impl ClientError {
    /// The one-line message, as [`Display`](fmt::Display) gives it, but with the hint for
    /// a refused connection naming `server`, the program that should be listening there,
    /// for the clients of servers other than net_server.
    pub fn with_hint_for(&self, server: &str) -> String {
        match self {
            ClientError::Connect { target, source } => cannot_connect(target, source, server),
            other => other.to_string(),
        }
    }
}

/// "cannot connect to TARGET: CAUSE", and when the connection was refused, a hint that
/// `server` may not be running.
fn cannot_connect(target: &str, source: &io::Error, server: &str) -> String {
    let mut message = format!("cannot connect to {target}: {}", describe(source));
    if source.kind() == io::ErrorKind::ConnectionRefused {
        message += &format!(" (is {server} running?)");
    }
    message
}

impl From<io::Error> for ClientError {
    fn from(error: io::Error) -> Self {
        ClientError::Io(error)
    }
}

/// How a [`Session`] talks to its server.
#[derive(Debug, Clone, Copy)]
pub struct ClientConfig {
    /// Framing for replies. Leave its idle timeout unset: `reply_timeout` bounds the wait.
    pub limits: FrameLimits,
    /// How long an exchange may take, from the moment its message is sent (or starts to
    /// be) until the last byte of its reply. A server cannot extend it by replying slowly,
    /// or by never ending its reply.
    pub reply_timeout: Duration,
    /// Send messages bare, without a line feed, exactly as the handout's clients do.
    pub bare: bool,
    /// How long [`run`] looks for a greeting before sending anything (see
    /// [`greeting_wait`]).
    pub greeting_wait: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            limits: FrameLimits {
                max_line_len: MAX_REPLY_LEN,
                ..FrameLimits::default()
            },
            reply_timeout: Duration::from_secs(5),
            bare: false,
            greeting_wait: MIN_GREETING_WAIT,
        }
    }
}

/// The shortest and longest look for a greeting after connecting.
const MIN_GREETING_WAIT: Duration = Duration::from_millis(5);
const MAX_GREETING_WAIT: Duration = Duration::from_millis(250);

/// The look for greetings just before the first message is sent: only what has already
/// arrived.
const LAST_LOOK: Duration = Duration::ZERO;

/// How long to look for a greeting after connecting, given how long connecting took. A
/// server that greets as it accepts is heard about one round trip after the connection is
/// made, and connecting took about one round trip; a few of those, within bounds, cover it
/// on a local network or this machine without slowing anyone down much.
pub fn greeting_wait(connecting_took: Duration) -> Duration {
    connecting_took
        .saturating_mul(4)
        .clamp(MIN_GREETING_WAIT, MAX_GREETING_WAIT)
}

/// True once bytes (or the end of the stream) have arrived on `stream`, false if `wait`
/// (`None`: forever) passes first. Polls with short sleeps rather than a read timeout: the
/// kernel rounds a socket's timeout up to its clock tick (4 ms or more), which would make
/// a look of a millisecond cost several on every run.
///
/// # Errors
/// When the socket cannot be switched to and from non-blocking mode, or fails.
fn bytes_arrive_within(stream: &TcpStream, wait: Option<Duration>) -> io::Result<bool> {
    let start = Instant::now();
    stream.set_nonblocking(true)?;
    let arrived = loop {
        match stream.peek(&mut [0]) {
            Ok(_) => break Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        }
        let left = wait.map(|w| w.saturating_sub(start.elapsed()));
        if left == Some(Duration::ZERO) {
            break Ok(false);
        }
        thread::sleep(left.unwrap_or(POLL_STEP).min(POLL_STEP));
    };
    stream.set_nonblocking(false)?;
    arrived
}

/// How often [`bytes_arrive_within`] looks.
const POLL_STEP: Duration = Duration::from_micros(250);

/// `host` without the square brackets that URLs put around an IPv6 address (`[::1]`), which
/// the resolver does not accept.
pub fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host)
}

/// `host:port` as people write it: `127.0.0.1:28461`, `localhost:28461`, `[::1]:28461`.
pub fn host_and_port(host: &str, port: u16) -> String {
    let host = strip_brackets(host);
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Connects to `host:port`, trying every address the name resolves to. With `retry`, keeps
/// trying for that long, for scripts that start the server just before the client. An IPv6
/// address may be given with or without brackets (`[::1]` or `::1`).
///
/// # Errors
/// [`ClientError::Resolve`] or [`ClientError::Connect`], naming `host:port` as given.
pub fn connect(host: &str, port: u16, retry: Option<Duration>) -> Result<TcpStream, ClientError> {
    connect_within(host, port, retry, CONNECT_TIMEOUT)
}

/// [`connect`], giving each connection attempt `timeout` instead of the default 5 s.
///
/// # Errors
/// As [`connect`].
pub fn connect_within(
    host: &str,
    port: u16,
    retry: Option<Duration>,
    timeout: Duration,
) -> Result<TcpStream, ClientError> {
    let target = host_and_port(host, port);
    let host = strip_brackets(host);
    let deadline = Instant::now() + retry.unwrap_or_default();
    loop {
        let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
            Ok(addrs) => addrs.collect(),
            Err(source) => {
                let host = host.to_string();
                return Err(ClientError::Resolve { host, source });
            }
        };
        match connect_any(&addrs, timeout) {
            Ok(stream) => return Ok(stream),
            Err(_) if Instant::now() < deadline => thread::sleep(RETRY_INTERVAL),
            Err(source) => return Err(ClientError::Connect { target, source }),
        }
    }
}

/// Tries each address in turn (`localhost` may be `::1` first, where an IPv4-only server
/// is not listening) and returns the first connection, or the last error.
fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> io::Result<TcpStream> {
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address found");
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// The time left until `deadline` (`None`: no deadline, wait forever).
///
/// # Errors
/// `TimedOut` once the deadline has passed.
fn time_left(deadline: Option<Instant>) -> io::Result<Option<Duration>> {
    match deadline.map(|deadline| deadline.saturating_duration_since(Instant::now())) {
        Some(left) if left.is_zero() => Err(timed_out()),
        left => Ok(left),
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "timed out")
}

/// A line received, as text: invalid UTF-8 shown with replacement characters, an over-long
/// line (a `what`) by its length.
fn text_of(frame: &Frame<'_>, what: &str) -> String {
    match frame {
        Frame::Message(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Frame::TooLong { len } => format!("<{what} of {len} bytes not shown>"),
    }
}

/// An open connection that exchanges messages for replies, one at a time.
pub struct Session {
    /// Reads replies; also owns the socket, which `exchange` writes through.
    reader: FrameReader<TcpStream>,
    config: ClientConfig,
    sent: usize,
    outgoing: Vec<u8>,
}

impl Session {
    /// Starts a session on a connected stream.
    ///
    /// # Errors
    /// When the stream cannot be configured.
    pub fn new(stream: TcpStream, config: ClientConfig) -> io::Result<Session> {
        stream.set_nodelay(true)?;
        Ok(Session {
            reader: FrameReader::new(stream, config.limits),
            config,
            sent: 0,
            outgoing: Vec::new(),
        })
    }

    /// Sends `message` and waits for its reply, which it returns without its line feed.
    /// Invalid UTF-8 in the reply is shown with replacement characters.
    ///
    /// # Errors
    /// When the message spans lines, the server closes or stays silent, or the connection
    /// fails.
    pub fn exchange(&mut self, message: &str) -> Result<String, ClientError> {
        self.sent += 1;
        let number = self.sent;
        if message.contains('\n') {
            return Err(ClientError::MessageHasNewline { number });
        }
        self.outgoing.clear();
        if self.config.bare {
            self.outgoing.extend_from_slice(message.as_bytes());
        } else {
            encode_line(message, &mut self.outgoing);
        }
        let deadline = Instant::now().checked_add(self.config.reply_timeout);
        let reply = match self.send_by(deadline) {
            Ok(()) => self.read_reply_by(deadline),
            Err(e) => Err(e),
        };
        reply.map_err(|e| self.explain(e, number))
    }

    /// Sends the outgoing bytes, giving up with `TimedOut` at `deadline`: a server that
    /// does not read could otherwise block the write forever.
    fn send_by(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        let stream = self.reader.get_ref();
        let mut rest = &self.outgoing[..];
        while !rest.is_empty() {
            stream.set_write_timeout(time_left(deadline)?)?;
            match (&mut &*stream).write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(timed_out()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads one reply, which must be complete by `deadline`.
    fn read_reply_by(&mut self, deadline: Option<Instant>) -> io::Result<String> {
        match self.reader.read_frame_by(deadline)? {
            Some(frame) => Ok(text_of(&frame, "reply")),
            None => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }

    /// The lines the server sent before this client sent anything: its greeting. Waits up
    /// to `wait` for them, and returns every line that arrived meanwhile. Once a message has
    /// been sent it returns none: from then on, every line is a reply.
    ///
    /// A greeting that arrives only after the first message was sent cannot be told from
    /// the reply to it, so the wait after connecting matters; see [`greeting_wait`].
    ///
    /// # Errors
    /// When the connection fails.
    pub fn greetings(&mut self, wait: Duration) -> Result<Vec<String>, ClientError> {
        let mut lines = Vec::new();
        if self.sent > 0 {
            return Ok(lines);
        }
        let deadline = Instant::now().checked_add(wait);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let arrived = self.reader.has_pending()
                || bytes_arrive_within(self.reader.get_ref(), left)
                    .map_err(|e| self.explain(e, 1))?;
            if !arrived {
                break;
            }
            // Bytes are here, so this read does not wait for them, however little of
            // `wait` is left (none, on the last look before the first message).
            match self.reader.read_frame() {
                Ok(Some(frame)) => lines.push(text_of(&frame, "greeting")),
                Ok(None) => return Ok(lines), // closed: the first exchange will say so
                Err(e) if e.kind() == io::ErrorKind::TimedOut => break,
                Err(e) => return Err(self.explain(e, 1)),
            }
        }
        // Part of a line still waiting for its rest is more greeting, not a reply.
        if let Some(frame) = self.reader.take_rest() {
            lines.push(text_of(&frame, "greeting"));
        }
        Ok(lines)
    }

    /// The [`ClientError`] for an exchange of message `number` that failed with `error`.
    fn explain(&self, error: io::Error, number: usize) -> ClientError {
        match error.kind() {
            io::ErrorKind::UnexpectedEof => ClientError::ClosedBeforeReply { number },
            _ if peer_hung_up(&error) => ClientError::ClosedBeforeReply { number },
            io::ErrorKind::TimedOut => ClientError::NoReply {
                number,
                waited: self.config.reply_timeout,
            },
            _ => ClientError::Io(error),
        }
    }

    /// Closes the connection, telling the server this client is done. Every reply has
    /// arrived by now, so a server that already hung up is no error.
    pub fn close(self) {
        let _ = self.reader.get_ref().shutdown(std::net::Shutdown::Both);
    }
}

/// The messages sent when the user names none: several, as the handout asks, chosen to
/// show off the transforms (a palindrome, digits, non-ASCII text).
pub const BUILT_IN_MESSAGES: [&str; 5] = [
    "Hello, server!",
    "How are you today?",
    "racecar",
    "12345",
    "Grüße aus Straße",
];

/// `count` generated messages: `message 1`, `message 2`, ...
pub fn numbered_messages(count: u32) -> impl Iterator<Item = io::Result<String>> {
    (1..=count).map(|n| Ok(format!("message {n}")))
}

/// One message per line of `input`, without line endings (`\r\n` files work too). Lines
/// are read as they are needed, so typed input is sent line by line.
pub fn lines_of(input: impl BufRead) -> impl Iterator<Item = io::Result<String>> {
    input.lines().map(|line| {
        line.map(|mut text| {
            if text.ends_with('\r') {
                text.pop();
            }
            text
        })
    })
}

/// What the transcript of a session shows on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transcript {
    /// `> message` and `< reply` lines, so both sides of the conversation are visible.
    Both,
    /// Exactly one line per reply and nothing else, for scripts.
    RepliesOnly,
}

/// Sends each message in turn, waits for its reply, and prints the exchange to `out`.
/// Returns how many messages were answered.
///
/// Lines the server sends before the first message are its greeting, shown as
/// `* server says: ...` and not taken for replies: on `out` in a [`Transcript::Both`], on
/// stderr with [`Transcript::RepliesOnly`], whose output has only replies. Everything from
/// the server is shown through [`visible`], so it cannot drive the terminal.
///
/// # Errors
/// The first [`ClientError`]: the session stops there.
pub fn run(
    session: &mut Session,
    messages: impl IntoIterator<Item = io::Result<String>>,
    transcript: Transcript,
    out: &mut impl Write,
) -> Result<usize, ClientError> {
    let wait = session.config.greeting_wait;
    show_greetings(session, wait, transcript, out)?;
    let mut answered = 0;
    for message in messages {
        let message = message.map_err(ClientError::Input)?;
        // Whatever arrived while the first message was being read (typed, say) is greeting.
        show_greetings(session, LAST_LOOK, transcript, out)?;
        if transcript == Transcript::Both {
            writeln!(out, "> {message}").map_err(ClientError::Output)?;
        }
        let reply = session.exchange(&message)?;
        let reply = visible(&reply);
        let shown = match transcript {
            Transcript::Both => writeln!(out, "< {reply}"),
            Transcript::RepliesOnly => writeln!(out, "{reply}"),
        };
        shown.map_err(ClientError::Output)?;
        answered += 1;
    }
    Ok(answered)
}

/// Prints the greetings that arrive within `wait`, if nothing has been sent yet.
fn show_greetings(
    session: &mut Session,
    wait: Duration,
    transcript: Transcript,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    for greeting in session.greetings(wait)? {
        let line = format!("* server says: {}", visible(&greeting));
        match transcript {
            Transcript::Both => writeln!(out, "{line}").map_err(ClientError::Output)?,
            Transcript::RepliesOnly => {
                let _ = writeln!(io::stderr(), "{line}"); // a note beside the output only
            }
        }
    }
    Ok(())
}
