//! The server loop: accept one connection, answer every message on it, accept the next.
//!
//! [`serve`] takes a listener its caller bound, so a test can bind port 0 and hand it over,
//! and so binding errors are reported by the program, not buried here.

use std::fmt;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use crate::lab::frame::{Frame, FrameLimits, FrameReader};
use crate::lab::transform::Transform;
use crate::report::{debug_line, describe, is_timeout};

/// How the server answers its clients.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// How each reply is made from its message.
    pub transform: Transform,
    /// Framing limits and timeouts for incoming messages.
    pub limits: FrameLimits,
    /// Silences the per-connection and per-message debug output.
    pub quiet: bool,
}

impl ServerConfig {
    /// Prints one line of debug output on stderr, unless quiet.
    pub fn log(&self, line: fmt::Arguments<'_>) {
        debug_line(self.quiet, line);
    }
}

/// How long to back off after a failed `accept` (for example, out of file descriptors),
/// so a persistent failure does not turn into a busy loop.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The most reply bytes held back while batching replies to pipelined messages.
pub const MAX_BATCH: usize = 64 * 1024;

/// Serves clients from `listener` one at a time, forever.
///
/// A client that misbehaves or vanishes ends only its own connection; the loop then goes
/// back to `accept`. Connections that arrive meanwhile wait in the listen backlog.
pub fn serve(listener: &TcpListener, config: &ServerConfig) -> ! {
    accept_forever(listener, config.quiet, |stream, peer| {
        serve_connection(stream, peer, config);
    })
}

/// Accepts connections forever, handing each to `handle`. A failed `accept` is logged and
/// followed by a short back-off instead of a busy loop.
pub fn accept_forever(
    listener: &TcpListener,
    quiet: bool,
    mut handle: impl FnMut(TcpStream, SocketAddr),
) -> ! {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => handle(stream, peer),
            Err(e) => {
                debug_line(quiet, format_args!("accept failed: {}", describe(&e)));
                thread::sleep(ACCEPT_BACKOFF);
            }
        }
    }
}

/// Serves one client until it closes the connection, the connection fails or the idle
/// timeout ends it, and logs how it ended.
pub fn serve_connection(stream: TcpStream, peer: SocketAddr, config: &ServerConfig) {
    config.log(format_args!("[{peer}] connected"));
    let ending = answer_messages(&stream, peer, config).map_or_else(|e| e, Ending::Closed);
    if let Ending::Idle = ending {
        // Best effort: the client may be gone. The write timeout bounds it.
        let _ = (&stream).write_all(IDLE_NOTICE);
    }
    log_end(config, peer, &ending);
}

/// The last line a client gets when the idle timeout closes its connection.
pub const IDLE_NOTICE: &[u8] = b"error: idle for too long, closing the connection\n";

/// How a connection ended.
#[derive(Debug)]
pub enum Ending {
    /// The client closed its side after this many messages, and got every reply.
    Closed(u64),
    /// The client sent nothing for the idle timeout.
    Idle,
    /// The client took none of its replies for the idle timeout: it sends without reading,
    /// and the replies have filled the connection's buffers.
    NotReading,
    /// The connection failed.
    Lost(io::Error),
}

impl From<io::Error> for Ending {
    /// A read's error: `TimedOut` is the idle timeout (see
    /// [`idle_timeout`](crate::lab::frame::idle_timeout)).
    fn from(error: io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::TimedOut => Ending::Idle,
            _ => Ending::Lost(error),
        }
    }
}

impl Ending {
    /// A write's error: a timeout means the client is not reading.
    pub fn of_write(error: io::Error) -> Ending {
        if is_timeout(&error) {
            Ending::NotReading
        } else {
            Ending::Lost(error)
        }
    }
}

/// Logs how a connection ended.
pub fn log_end(config: &ServerConfig, peer: SocketAddr, ending: &Ending) {
    match ending {
        Ending::Closed(count) => config.log(format_args!(
            "[{peer}] closed by client after {count} message(s)"
        )),
        Ending::Idle => config.log(format_args!("[{peer}] closed: idle timeout")),
        Ending::NotReading => config.log(format_args!(
            "[{peer}] closed: the client is not reading its replies (idle timeout)"
        )),
        Ending::Lost(e) => config.log(format_args!("[{peer}] connection lost: {}", describe(e))),
    }
}

/// Appends the reply to `frame` to `replies` as one line, and logs the exchange.
pub fn answer(config: &ServerConfig, peer: SocketAddr, frame: &Frame<'_>, replies: &mut Vec<u8>) {
    let start = replies.len();
    write_reply(frame, config, replies);
    log_exchange(config, peer, frame, &replies[start..]);
    replies.push(b'\n');
}

/// Reads messages from `stream` and writes a reply to each. Returns how many were answered
/// once the client closes its side.
///
/// # Errors
/// How the connection ended otherwise: failed, or idle (silent, or not reading its
/// replies) for the idle timeout.
fn answer_messages(
    stream: &TcpStream,
    peer: SocketAddr,
    config: &ServerConfig,
) -> Result<u64, Ending> {
    // Each reply goes out in a single write; without NODELAY, Nagle's algorithm would
    // hold back a reply while the previous one is unacknowledged.
    stream.set_nodelay(true)?;
    // A client that sends without reading fills both directions' buffers until a write
    // blocks: without a deadline it would hold this server (or worker) forever. A write
    // fails only after the idle timeout without any progress.
    stream.set_write_timeout(config.limits.idle_timeout)?;
    let mut reader = FrameReader::new(stream, config.limits);
    let mut replies = Vec::new();
    let mut count = 0;
    while let Some(frame) = reader.read_frame()? {
        count += 1;
        answer(config, peer, &frame, &mut replies);
        // A client that pipelines has more messages waiting: answer them all in one write.
        // Otherwise the client is waiting for this reply, so it goes out now.
        if !reader.has_line() || replies.len() >= MAX_BATCH {
            (&mut &*stream)
                .write_all(&replies)
                .map_err(Ending::of_write)?;
            replies.clear();
        }
    }
    Ok(count)
}

fn log_exchange(config: &ServerConfig, peer: SocketAddr, frame: &Frame<'_>, reply: &[u8]) {
    if config.quiet {
        return;
    }
    let reply = String::from_utf8_lossy(reply);
    match frame {
        Frame::Message(bytes) => {
            let message = String::from_utf8_lossy(bytes);
            config.log(format_args!(
                "[{peer}] received {message:?}, replied {reply:?}"
            ));
        }
        Frame::TooLong { len } => {
            config.log(format_args!(
                "[{peer}] received {len} bytes, replied {reply:?}"
            ));
        }
    }
}

/// Appends the reply (without its line feed) for one frame to `out`: the transformed
/// message, or an error line starting with `error:` for input that cannot be transformed.
pub fn write_reply(frame: &Frame<'_>, config: &ServerConfig, out: &mut Vec<u8>) {
    let _ = match frame {
        Frame::Message(bytes) => match config.transform.apply_bytes(bytes, out) {
            Ok(()) => Ok(()),
            Err(e) => write!(
                out,
                "error: message is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        },
        Frame::TooLong { len } => write!(
            out,
            "error: message too long ({len} bytes; the limit is {})",
            config.limits.max_line_len
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_to(frame: &Frame<'_>, config: &ServerConfig) -> String {
        let mut reply = Vec::new();
        write_reply(frame, config, &mut reply);
        String::from_utf8(reply).expect("replies are UTF-8")
    }

    fn config(transform: Transform) -> ServerConfig {
        ServerConfig {
            transform,
            ..ServerConfig::default()
        }
    }

    #[test]
    fn serve_answers_sessions_on_a_listener_it_is_given() {
        use crate::lab::client::{connect, ClientConfig, Session};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let config = ServerConfig {
            quiet: true,
            ..config(Transform::Upper)
        };
        thread::spawn(move || serve(&listener, &config));
        for name in ["first", "second"] {
            let stream = connect("127.0.0.1", port, None).expect("connect");
            let mut session = Session::new(stream, ClientConfig::default()).expect("session");
            assert_eq!(session.exchange(name).expect("reply"), name.to_uppercase());
            assert_eq!(session.exchange("ß").expect("reply"), "SS");
            session.close();
        }
    }

    #[test]
    fn text_is_transformed() {
        let frame = Frame::Message(b"hello");
        assert_eq!(reply_to(&frame, &config(Transform::Upper)), "HELLO");
    }

    #[test]
    fn invalid_utf8_gets_an_error_line() {
        let frame = Frame::Message(b"ab\xffcd");
        assert_eq!(
            reply_to(&frame, &config(Transform::Upper)),
            "error: message is not valid UTF-8 (bad byte at offset 2)"
        );
    }

    #[test]
    fn over_long_message_gets_an_error_line() {
        let frame = Frame::TooLong { len: 70_000 };
        assert_eq!(
            reply_to(&frame, &config(Transform::Tagged)),
            "error: message too long (70000 bytes; the limit is 65536)"
        );
    }
}
