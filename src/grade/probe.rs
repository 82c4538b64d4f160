//! Our probe client, written to be fair to handout-style servers: it sends bare messages
//! (no newline), takes a reply to end when the server pauses, and tolerates a greeting.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::lab::frame::{Frame, FrameLimits, FrameReader};

/// A connection to the server under test, with a transcript of everything exchanged.
pub struct Probe {
    reader: FrameReader<TcpStream>,
    /// What was sent and received, one line each.
    pub transcript: String,
}

impl Probe {
    /// Connects to `port` on this machine, retrying until `within` has passed.
    ///
    /// # Errors
    /// The last connection error.
    pub fn connect(port: u16, within: Duration, reply_timeout: Duration) -> io::Result<Probe> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + within;
        let stream = loop {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                Ok(stream) => break stream,
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        };
        stream.set_nodelay(true)?;
        let limits = FrameLimits {
            max_line_len: 64 * 1024,
            partial_timeout: Duration::from_millis(100),
            idle_timeout: Some(reply_timeout),
        };
        Ok(Probe {
            reader: FrameReader::new(stream, limits),
            transcript: String::new(),
        })
    }

    /// Reads whatever the server sends before being spoken to, waiting up to `wait`.
    pub fn greeting(&mut self, wait: Duration) -> Option<String> {
        let stream = self.reader.get_ref();
        let _ = stream.set_read_timeout(Some(wait));
        let mut byte = [0; 1];
        let waiting = matches!(stream.peek(&mut byte), Ok(1..));
        if !waiting {
            return None;
        }
        let greeting = self.read_reply().ok()?;
        let _ = writeln!(
            self.transcript,
            "< {greeting:?} (a greeting, before any message)"
        );
        Some(greeting)
    }

    /// Sends `message` bare, as the handout's clients do, and returns the reply, if one
    /// comes before the reply timeout.
    pub fn exchange(&mut self, message: &str) -> Option<String> {
        let _ = writeln!(self.transcript, "> {message:?}");
        if let Err(e) = (&mut self.reader.get_ref()).write_all(message.as_bytes()) {
            let _ = writeln!(self.transcript, "  (cannot send: {e})");
            return None;
        }
        match self.read_reply() {
            Ok(reply) => {
                let _ = writeln!(self.transcript, "< {reply:?}");
                Some(reply)
            }
            Err(why) => {
                let _ = writeln!(self.transcript, "  (no reply: {why})");
                None
            }
        }
    }

    fn read_reply(&mut self) -> Result<String, String> {
        match self.reader.read_frame() {
            Ok(Some(Frame::Message(bytes))) => Ok(String::from_utf8_lossy(bytes).into_owned()),
            Ok(Some(Frame::TooLong { len })) => Ok(format!("<{len} bytes>")),
            Ok(None) => Err("the server closed the connection".into()),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                Err("nothing came back in time".into())
            }
            Err(e) => Err(crate::report::describe(&e)),
        }
    }
}
