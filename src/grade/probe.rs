//! Our probe client, written to be fair to handout-style servers: it sends bare messages
//! (no newline), takes a reply to end when the server stops sending, and tolerates a
//! greeting. Every reply is bounded, in time and in size, so a server that streams
//! forever cannot hang the grader.

use std::cell::Cell;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use crate::lab::frame::{Frame, FrameLimits, FrameReader, TimedRead};

/// The most a reply may hold: the probe's messages are a few bytes long, so more than
/// this is a server that never stops sending.
pub const REPLY_CAP: usize = 64 * 1024;

/// Why a message got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoReply {
    /// In a few words.
    pub why: String,
    /// True when the server closed or reset the connection (it may be crashing).
    pub closed: bool,
}

/// The bounds of the reply being read, set by the probe before each reply.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    deadline: Instant,
    received: usize,
}

/// A stream whose reads stop at a deadline and after a number of bytes: what turns "the
/// reply never ends" into an answer.
#[derive(Debug)]
struct Bounded {
    stream: TcpStream,
    /// The read timeout the frame reader asked for.
    timeout: Option<Duration>,
    bounds: Rc<Cell<Bounds>>,
}

impl Bounded {
    fn past_deadline(&self) -> io::Error {
        io::Error::other("no whole reply in time")
    }
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut bounds = self.bounds.get();
        let left = bounds.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.past_deadline());
        }
        if bounds.received > REPLY_CAP {
            return Err(io::Error::other(format!(
                "the reply never ended (more than {} KiB)",
                REPLY_CAP / 1024
            )));
        }
        let timeout = self.timeout.map_or(left, |t| t.min(left));
        self.stream.set_read_timeout(Some(timeout))?;
        match self.stream.read(buf) {
            Ok(n) => {
                bounds.received += n;
                self.bounds.set(bounds);
                Ok(n)
            }
            Err(_) if Instant::now() >= bounds.deadline => Err(self.past_deadline()),
            Err(e) => Err(e),
        }
    }
}

impl TimedRead for Bounded {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeout = timeout;
        Ok(())
    }
}

/// A connection to the server under test, with a transcript of everything exchanged.
pub struct Probe {
    reader: FrameReader<Bounded>,
    bounds: Rc<Cell<Bounds>>,
    local: SocketAddr,
    peer: SocketAddr,
    /// Set once a reply went wrong: what follows on the stream is no longer in step.
    broken: Option<String>,
    /// Set once the server closed or reset the connection.
    closed: bool,
    /// What was sent and received, one line each.
    pub transcript: String,
}

impl Probe {
    /// Connects to `port` on this machine, retrying until `until`.
    ///
    /// # Errors
    /// The last connection error.
    pub fn connect(port: u16, until: Instant) -> io::Result<Probe> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = loop {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                Ok(stream) => break stream,
                Err(e) if Instant::now() >= until => return Err(e),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        };
        stream.set_nodelay(true)?;
        let limits = FrameLimits {
            max_line_len: REPLY_CAP,
            ..FrameLimits::default()
        };
        let (local, peer) = (stream.local_addr()?, stream.peer_addr()?);
        let bounds = Rc::new(Cell::new(Bounds {
            deadline: Instant::now(),
            received: 0,
        }));
        let bounded = Bounded {
            stream,
            timeout: None,
            bounds: Rc::clone(&bounds),
        };
        Ok(Probe {
            reader: FrameReader::new(bounded, limits),
            bounds,
            local,
            peer,
            broken: None,
            closed: false,
            transcript: String::new(),
        })
    }

    /// True once the server closed or reset the connection.
    pub fn server_closed(&self) -> bool {
        self.closed
    }

    /// Our end of the connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The server's end of the connection.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    fn stream(&self) -> &TcpStream {
        &self.reader.get_ref().stream
    }

    /// True when the server has sent something we have not read (or closed).
    pub fn data_waiting(&mut self) -> bool {
        if self.reader.has_pending() {
            return true;
        }
        let stream = self.stream();
        let _ = stream.set_nonblocking(true);
        let waiting = stream.peek(&mut [0; 1]).is_ok();
        let _ = stream.set_nonblocking(false);
        waiting
    }

    /// True when the server has sent bytes we did not ask for: more than a line ending
    /// (which belongs to the reply before) is waiting.
    pub fn unasked_bytes(&mut self) -> bool {
        if self.reader.has_pending() {
            return true;
        }
        let stream = self.stream();
        let _ = stream.set_nonblocking(true);
        let mut peeked = [0; 3];
        let waiting = stream.peek(&mut peeked);
        let _ = stream.set_nonblocking(false);
        match waiting {
            Ok(n) => peeked[..n].iter().any(|b| !matches!(b, b'\r' | b'\n')),
            Err(_) => false,
        }
    }

    /// Makes every later exchange fail because of `why`: the stream is out of step.
    pub fn give_up(&mut self, why: &str) {
        let _ = writeln!(self.transcript, "  ({why})");
        self.broken = Some(why.to_string());
    }

    /// Waits until the server sends something (or closes), up to `until`.
    pub fn wait_for_data(&mut self, until: Instant) -> bool {
        if self.reader.has_pending() {
            return true;
        }
        let left = until.saturating_duration_since(Instant::now());
        let stream = self.stream();
        let _ = stream.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        stream.peek(&mut [0; 1]).is_ok()
    }

    /// Reads what the server sends before being spoken to, as one message.
    pub fn read_greeting(&mut self, until: Instant) -> Option<String> {
        let greeting = self.read_reply(until).ok()?;
        let _ = writeln!(
            self.transcript,
            "< {greeting:?} (a greeting, before any message)"
        );
        Some(greeting)
    }

    /// Sends `message` bare, as the handout's clients do.
    ///
    /// # Errors
    /// Why it could not be sent.
    pub fn send(&mut self, message: &str) -> Result<(), NoReply> {
        let _ = writeln!(self.transcript, "> {message:?}");
        if let Some(why) = &self.broken {
            let why = format!("not sent: {why}");
            let _ = writeln!(self.transcript, "  ({why})");
            return Err(NoReply { why, closed: false });
        }
        (&mut self.stream())
            .write_all(message.as_bytes())
            .map_err(|e| {
                let why = format!("cannot send: {}", crate::report::describe(&e));
                let _ = writeln!(self.transcript, "  ({why})");
                self.closed = true;
                NoReply { why, closed: true }
            })
    }

    /// Sends `message` and returns the reply, which must be complete by `until`.
    ///
    /// # Errors
    /// Why no reply came.
    pub fn exchange(&mut self, message: &str, until: Instant) -> Result<String, NoReply> {
        self.send(message)?;
        match self.read_reply(until) {
            Ok(reply) => {
                let _ = writeln!(self.transcript, "< {reply:?}");
                Ok(reply)
            }
            Err(no_reply) => {
                let _ = writeln!(self.transcript, "  (no reply: {})", no_reply.why);
                Err(no_reply)
            }
        }
    }

    fn read_reply(&mut self, until: Instant) -> Result<String, NoReply> {
        self.bounds.set(Bounds {
            deadline: until,
            received: 0,
        });
        let result = match self.reader.read_frame() {
            Ok(Some(Frame::Message(bytes))) => Ok(String::from_utf8_lossy(bytes).into_owned()),
            Ok(Some(Frame::TooLong { len })) => Ok(format!("<{len} bytes>")),
            Ok(None) => Err(NoReply {
                why: "the server closed the connection".into(),
                closed: true,
            }),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(NoReply {
                why: "nothing came back in time".into(),
                closed: false,
            }),
            Err(e) => Err(NoReply {
                why: crate::report::describe(&e),
                closed: crate::report::peer_hung_up(&e),
            }),
        };
        if let Err(no_reply) = &result {
            self.closed |= no_reply.closed;
            self.broken = Some(format!("an earlier reply went wrong ({})", no_reply.why));
        }
        result
    }
}
