//! Reading messages out of a byte stream, and writing them back as lines.
//!
//! TCP delivers a stream of bytes, not messages: one `read` may return half a message or
//! three of them. This module restores the message boundaries. A message ends at:
//!
//! - a line feed (`\n`, with an optional `\r` before it, so telnet and `nc -C` work), or
//! - the moment its sender stops sending: a read leaves bytes without a line feed and
//!   nothing more is waiting on the socket. This is how a peer written exactly as the lab
//!   handout says frames its messages: it sends `hello` with no newline and waits in
//!   `recv()` for the reply, so its silence marks the end. It is also how the handout's own
//!   server sees them: its one `recv()` returns whatever has arrived.
//!
//! Pieces of one message can arrive with a gap between them, and some signs show that more
//! is coming: a read of this message filled its whole buffer, the bytes end partway
//! through a UTF-8 character, or the peer has already sent newline-terminated lines (so
//! these bytes are probably the start of another). Then the bytes get a short grace ([`FrameLimits::partial_timeout`],
//! 2 ms) for the rest to arrive, and still end the message if nothing does. Without such a
//! sign a bare message is answered at once. Pieces that arrive further apart are separate
//! messages, as they are for the handout's server. One exception keeps line-based peers
//! whole: an empty line ending that arrives straight after a message that ended without
//! one is that message's ending (`nc -C` sends `hello`, then `\r\n`), not a message.
//!
//! Memory stays bounded: a line longer than [`FrameLimits::max_line_len`] is read and thrown
//! away as it arrives, and reported as [`Frame::TooLong`] once it ends.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::report::is_timeout;

/// How much a connection's first read asks the kernel for: enough for many short messages,
/// and small enough that a long one fills it, which shows that more of it is on its way.
const FIRST_READ: usize = 4 * 1024;

/// The most a single read asks the kernel for. Reads grow to this while they keep coming
/// back full, as they do for a client that pipelines: fewer, larger reads and writes.
pub const MAX_READ: usize = 64 * 1024;

/// The default grace for a bare message's later pieces: long enough for the pieces of one
/// write to follow each other, short enough that nobody notices it.
pub const DEFAULT_PARTIAL_TIMEOUT: Duration = Duration::from_millis(2);

/// The limits and timeouts a [`FrameReader`] works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// The longest message, in bytes (line ending excluded), that is delivered whole.
    pub max_line_len: usize,
    /// How long bytes without a line ending wait for more when there is a sign that more
    /// is coming (see the module documentation).
    pub partial_timeout: Duration,
    /// How long to wait for the first byte of a message; `None` waits forever.
    pub idle_timeout: Option<Duration>,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_line_len: 64 * 1024,
            partial_timeout: DEFAULT_PARTIAL_TIMEOUT,
            idle_timeout: None,
        }
    }
}

/// One unit read from the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete message, without its line ending. It is raw bytes: it may not be UTF-8.
    Message(&'a [u8]),
    /// A message longer than the limit. Its `len` bytes were discarded as they arrived.
    TooLong {
        /// The length of the discarded message, line ending excluded.
        len: usize,
    },
}

/// A byte source whose reads can be given a deadline, such as a [`TcpStream`].
pub trait TimedRead: Read {
    /// Makes later reads fail with `WouldBlock` or `TimedOut` after `timeout` without data.
    ///
    /// # Errors
    /// When the underlying socket option cannot be set.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

impl TimedRead for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

impl TimedRead for &TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

/// What a reader should do when no complete line is buffered, by the rules in the module
/// documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The buffered bytes are a whole message: take them with [`Framer::take_rest`].
    MessageComplete,
    /// Part of a message is buffered: read more, waiting at most this long. If nothing
    /// comes, the sender has stopped: take the message with [`Framer::take_rest`].
    Grace(Duration),
    /// Nothing is buffered: wait for the next message this long at most (`None`: forever).
    Idle(Option<Duration>),
}

/// The framing rules without any I/O: bytes go in, [`Frame`]s come out. The blocking
/// [`FrameReader`] and the async server both read through one of these.
#[derive(Debug, Default)]
pub struct Framer {
    limits: FrameLimits,
    /// Bytes received but not yet returned live in `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
    /// `buf[start..start + scanned]` is known to hold no line feed.
    scanned: usize,
    /// Where the next complete line ends (its line feed), once found.
    line_end: Option<usize>,
    /// Bytes of an over-long message already thrown away.
    discarded: usize,
    /// A read of the message being received filled its buffer: more was waiting.
    more_expected: bool,
    /// How many bytes the next read should ask for.
    read_size: usize,
    /// The peer has sent a newline-terminated line, so bytes without one are probably the
    /// first piece of another.
    sends_lines: bool,
    /// The last message ended without a line ending (its sender stopped).
    ended_without_newline: bool,
}

impl Framer {
    /// A framer that delivers messages within `limits`.
    pub fn new(limits: FrameLimits) -> Self {
        Framer {
            limits,
            read_size: FIRST_READ,
            ..Framer::default()
        }
    }

    /// How many bytes the next read should ask for. Reads grow to [`MAX_READ`] while they
    /// keep coming back full, as they do for a client that pipelines: fewer, larger reads.
    pub fn read_size(&self) -> usize {
        self.read_size
    }

    /// Records that a read returned `got` bytes when it had room for `asked`. A full read
    /// means more was waiting: the message is arriving in pieces.
    pub fn note_read(&mut self, got: usize, asked: usize) {
        if got == asked {
            self.more_expected = true;
            self.read_size = (2 * got).clamp(FIRST_READ, MAX_READ);
        }
    }

    /// What to do now that no complete line is buffered.
    pub fn wait(&self) -> Wait {
        if !self.is_mid_message() {
            Wait::Idle(self.limits.idle_timeout)
        } else if !self.more_expected && !self.sends_lines && !self.ends_mid_character() {
            Wait::MessageComplete
        } else {
            Wait::Grace(self.limits.partial_timeout)
        }
    }

    /// True when the buffered bytes end partway through a UTF-8 character, so more must
    /// follow.
    fn ends_mid_character(&self) -> bool {
        let pending = &self.buf[self.start..];
        let tail = &pending[pending.len().saturating_sub(4)..];
        let Some(lead) = tail.iter().rposition(|&b| b & 0xC0 != 0x80) else {
            return false;
        };
        matches!(std::str::from_utf8(&tail[lead..]), Err(e) if e.error_len().is_none())
    }

    /// The buffer to append newly received bytes to.
    pub fn buffer_to_fill(&mut self) -> &mut Vec<u8> {
        self.compact();
        &mut self.buf
    }

    /// Moves the unreturned bytes to the front, reusing the space before them.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start.., 0);
            self.buf.truncate(self.pending());
            self.line_end = self.line_end.map(|end| end - self.start);
            self.start = 0;
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// Frees the buffer if it holds nothing, so an idle connection costs no buffer memory.
    pub fn release_if_empty(&mut self) {
        if self.pending() == 0 {
            self.buf = Vec::new();
            self.start = 0;
        }
    }

    /// True when a complete line is buffered. While there is none, drops an over-long
    /// partial line so the buffer never outgrows the limit.
    pub fn has_line(&mut self) -> bool {
        if self.line_end.is_some() {
            return true;
        }
        let unscanned = &self.buf[self.start + self.scanned..];
        if let Some(i) = memchr::memchr(b'\n', unscanned) {
            let end = self.start + self.scanned + i;
            if self.is_late_line_ending(end) {
                self.start = end + 1;
                self.scanned = 0;
                return self.has_line();
            }
            self.line_end = Some(end);
            return true;
        }
        self.scanned = self.pending();
        if !matches!(&self.buf[self.start..], [] | [b'\r']) {
            self.ended_without_newline = false;
        }
        if self.pending() > self.limits.max_line_len {
            self.discarded += self.pending();
            self.buf.truncate(self.start);
            self.scanned = 0;
        }
        false
    }

    /// True when the line ending at `end` is empty and comes straight after a message that
    /// ended without one: it is that message's line ending, sent in a write of its own (as
    /// `nc -C` does), not an empty message. Its message has been answered already.
    fn is_late_line_ending(&mut self, end: usize) -> bool {
        let late = self.ended_without_newline
            && self.discarded == 0
            && matches!(&self.buf[self.start..end], [] | [b'\r']);
        self.ended_without_newline = false;
        self.sends_lines |= late;
        late
    }

    /// Consumes and returns the next complete line, if one is buffered.
    pub fn next_line(&mut self) -> Option<Frame<'_>> {
        if !self.has_line() {
            return None;
        }
        let end = self.line_end.take()?;
        self.sends_lines = true;
        let line_start = self.start;
        self.start = end + 1;
        self.scanned = 0;
        if self.pending() == 0 {
            self.more_expected = false;
        }
        Some(self.frame(line_start, end))
    }

    /// True when part of a message has arrived but not its end.
    pub fn is_mid_message(&self) -> bool {
        self.pending() > 0 || self.discarded > 0
    }

    /// Consumes everything buffered as one message: the sender stopped or closed.
    pub fn take_rest(&mut self) -> Option<Frame<'_>> {
        if !self.is_mid_message() {
            return None;
        }
        let (line_start, end) = (self.start, self.buf.len());
        self.start = end;
        self.scanned = 0;
        self.line_end = None;
        self.more_expected = false;
        self.ended_without_newline = true;
        Some(self.frame(line_start, end))
    }

    /// The number of buffered bytes not yet returned.
    fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The frame for `buf[from..to]` plus anything discarded before it, minus a trailing `\r`.
    fn frame(&mut self, from: usize, to: usize) -> Frame<'_> {
        let mut line = &self.buf[from..to];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        let len = self.discarded + line.len();
        self.discarded = 0;
        if len > self.limits.max_line_len {
            Frame::TooLong { len }
        } else {
            Frame::Message(line)
        }
    }
}

/// Splits a blocking byte stream into [`Frame`]s. See the module documentation for the
/// rules.
#[derive(Debug)]
pub struct FrameReader<R> {
    source: R,
    framer: Framer,
    /// The read timeout currently set on `source`, to avoid a system call per read.
    timeout: Option<Option<Duration>>,
}

impl<R: TimedRead> FrameReader<R> {
    /// Wraps `source`, framing it with `limits`.
    pub fn new(source: R, limits: FrameLimits) -> Self {
        FrameReader {
            source,
            framer: Framer::new(limits),
            timeout: None,
        }
    }

    /// Reads the next frame. `Ok(None)` means the peer closed the stream cleanly between
    /// messages.
    ///
    /// # Errors
    /// An [`io::ErrorKind::TimedOut`] error when no message starts within the idle timeout,
    /// and any error of the underlying reads.
    pub fn read_frame(&mut self) -> io::Result<Option<Frame<'_>>> {
        self.read_frame_by(None)
    }

    /// Like [`FrameReader::read_frame`], but the whole frame must have arrived by
    /// `deadline` (if there is one). The idle timeout and the grace limit each wait on their
    /// own, so a peer that keeps sending a little at a time could extend them forever; it
    /// cannot extend the deadline.
    ///
    /// # Errors
    /// As [`FrameReader::read_frame`], and [`io::ErrorKind::TimedOut`] when the deadline
    /// passes before the frame is complete.
    pub fn read_frame_by(&mut self, deadline: Option<Instant>) -> io::Result<Option<Frame<'_>>> {
        loop {
            if self.framer.has_line() {
                return Ok(self.framer.next_line());
            }
            let (wait, mid_message) = match self.framer.wait() {
                Wait::MessageComplete => return Ok(self.framer.take_rest()),
                Wait::Grace(grace) => (Some(grace), true),
                Wait::Idle(idle) => (idle, false),
            };
            let (timeout, until_deadline) = wait_before(wait, deadline)?;
            match self.fill(timeout) {
                Ok(0) => return Ok(self.framer.take_rest()),
                Ok(_) => {}
                Err(e) if is_timeout(&e) && mid_message && !until_deadline => {
                    return Ok(self.framer.take_rest())
                }
                Err(e) if is_timeout(&e) => return Err(idle_timeout()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The stream being read, e.g. to write replies on the same socket.
    pub fn get_ref(&self) -> &R {
        &self.source
    }

    /// True when another complete message is already buffered, so reading it will not
    /// wait on the network. Writers use this to batch replies.
    pub fn has_line(&mut self) -> bool {
        self.framer.has_line()
    }

    /// True when any bytes of a further message are buffered, complete or not.
    pub fn has_pending(&mut self) -> bool {
        self.framer.has_line() || self.framer.is_mid_message()
    }

    /// Consumes everything buffered as one message, complete or not: for a reader that
    /// stops waiting for the rest (after [`FrameReader::read_frame_by`] ran out of time).
    pub fn take_rest(&mut self) -> Option<Frame<'_>> {
        self.framer.take_rest()
    }

    /// Reads more bytes, waiting at most `timeout`. Returns how many arrived.
    fn fill(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        if self.timeout != Some(timeout) {
            self.source.set_read_timeout(timeout)?;
            self.timeout = Some(timeout);
        }
        let read_size = self.framer.read_size();
        let buf = self.framer.buffer_to_fill();
        let old_len = buf.len();
        buf.resize(old_len + read_size, 0);
        let result = self.source.read(&mut buf[old_len..]);
        let n = *result.as_ref().unwrap_or(&0);
        buf.truncate(old_len + n);
        if result.is_ok() {
            self.framer.note_read(n, read_size);
        }
        result
    }
}

/// How long to wait for a read that should wait `wait` (`None`: forever) but end by
/// `deadline`, and whether the deadline is what limits it.
///
/// # Errors
/// [`idle_timeout`] once the deadline has passed.
fn wait_before(
    wait: Option<Duration>,
    deadline: Option<Instant>,
) -> io::Result<(Option<Duration>, bool)> {
    let Some(deadline) = deadline else {
        return Ok((wait, false));
    };
    let left = deadline.saturating_duration_since(Instant::now());
    match wait {
        _ if left.is_zero() => Err(idle_timeout()),
        Some(wait) if wait < left => Ok((Some(wait), false)),
        _ => Ok((Some(left), true)),
    }
}

/// The error [`FrameReader::read_frame`] gives when no message starts in time.
pub fn idle_timeout() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "idle timeout")
}

/// Appends `text` and a line feed to `out`, ready to be sent with a single write.
pub fn encode_line(text: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// What a scripted peer does next.
    enum Step {
        Send(&'static [u8]),
        Pause,
    }

    /// A peer that replays a script: each `Send` is one read's worth of bytes, each
    /// `Pause` a read that times out. After the script, the stream ends.
    struct Script(VecDeque<Step>);

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.pop_front() {
                None => Ok(0),
                Some(Step::Pause) => Err(io::ErrorKind::WouldBlock.into()),
                Some(Step::Send(bytes)) => {
                    buf[..bytes.len()].copy_from_slice(bytes);
                    Ok(bytes.len())
                }
            }
        }
    }

    impl TimedRead for Script {
        fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
            Ok(())
        }
    }

    /// Frames the whole script, rendering each frame as text for easy comparison.
    fn frames(script: Vec<Step>, max_line_len: usize) -> Vec<String> {
        let limits = FrameLimits {
            max_line_len,
            ..FrameLimits::default()
        };
        let mut reader = FrameReader::new(Script(script.into()), limits);
        let mut out = Vec::new();
        while let Some(frame) = reader.read_frame().expect("scripted reads do not fail") {
            out.push(match frame {
                Frame::Message(m) => String::from_utf8_lossy(m).into_owned(),
                Frame::TooLong { len } => format!("<too long: {len}>"),
            });
        }
        out
    }

    use Step::{Pause, Send};

    #[test]
    fn coalesced_lines_are_separate_messages() {
        assert_eq!(frames(vec![Send(b"a\nbb\nccc\n")], 100), ["a", "bb", "ccc"]);
    }

    #[test]
    fn a_line_split_across_reads_is_one_message() {
        assert_eq!(
            frames(
                vec![Send(b"hel\xc3"), Send(b"\xa9lo\nwor"), Send(b"ld\n")],
                100
            ),
            ["helélo", "world"]
        );
    }

    #[test]
    fn crlf_and_lf_both_end_a_line() {
        assert_eq!(
            frames(vec![Send(b"one\r\ntwo\n\r\n")], 100),
            ["one", "two", ""]
        );
    }

    #[test]
    fn a_pause_ends_a_line_senders_message_without_newline() {
        let script = vec![
            Send(b"a\n"),
            Send(b"hel"),
            Send(b"lo"),
            Pause,
            Send(b"world\n"),
        ];
        assert_eq!(frames(script, 100), ["a", "hello", "world"]);
    }

    #[test]
    fn a_bare_message_ends_when_the_socket_is_empty() {
        // No pause is needed: as for the handout's recv() server, each read that empties
        // the socket ends a message.
        let script = vec![Send(b"one"), Send(b"two"), Send(b"three\n")];
        assert_eq!(frames(script, 100), ["one", "two", "three"]);
    }

    #[test]
    fn a_read_that_fills_its_buffer_waits_for_the_rest() {
        const FULL: &[u8] = &[b'x'; FIRST_READ];
        let long = format!("{}yz", "x".repeat(FIRST_READ));
        assert_eq!(
            frames(vec![Send(FULL), Send(b"yz")], 2 * FIRST_READ),
            [long]
        );
    }

    #[test]
    fn a_character_cut_in_two_waits_for_the_rest() {
        let script = vec![Send(b"caf\xc3"), Send(b"\xa9"), Send(b"ok")];
        assert_eq!(frames(script, 100), ["café", "ok"]);
    }

    #[test]
    fn a_line_ending_sent_after_its_message_is_not_an_empty_message() {
        // nc -C writes "hello", then "\r\n": the message may be answered before its line
        // ending arrives. A real empty line is still a message.
        let script = vec![Send(b"hello"), Send(b"\r\nworld"), Send(b"\n"), Send(b"\n")];
        assert_eq!(frames(script, 100), ["hello", "world", ""]);
    }

    #[test]
    fn a_line_sender_gets_the_grace_for_every_piece() {
        let script = vec![Send(b"a\n"), Send(b"hel"), Send(b"lo\n")];
        assert_eq!(frames(script, 100), ["a", "hello"]);
    }

    #[test]
    fn a_pause_between_messages_is_just_waiting() {
        // Without an idle timeout, a quiet peer between messages is not an error.
        let limits = FrameLimits {
            idle_timeout: Some(Duration::from_secs(1)),
            ..FrameLimits::default()
        };
        let script = Script(vec![Send(b"a\n"), Pause].into());
        let mut reader = FrameReader::new(script, limits);
        assert_eq!(reader.read_frame().ok(), Some(Some(Frame::Message(b"a"))));
        let idle = reader.read_frame().expect_err("an idle timeout was set");
        assert_eq!(idle.kind(), io::ErrorKind::TimedOut);
    }

    /// A peer that never stops sending and never sends a line feed.
    struct Endless;

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(b'x');
            Ok(buf.len())
        }
    }

    impl TimedRead for Endless {
        fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_deadline_ends_a_message_that_never_ends() {
        // Every read fills its buffer, a sign that more follows, so without a deadline this
        // would read (and discard) forever.
        let mut reader = FrameReader::new(Endless, FrameLimits::default());
        let deadline = Instant::now() + Duration::from_millis(10);
        let error = reader
            .read_frame_by(Some(deadline))
            .expect_err("the deadline ends the read");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn end_of_stream_ends_the_last_message() {
        assert_eq!(frames(vec![Send(b"a\nlast")], 100), ["a", "last"]);
    }

    #[test]
    fn over_long_line_is_reported_and_the_next_line_survives() {
        let script = vec![Send(b"go\n0123456789"), Send(b"abcdef\nok\n")];
        assert_eq!(frames(script, 8), ["go", "<too long: 16>", "ok"]);
    }

    #[test]
    fn over_long_line_ended_by_a_pause_is_reported() {
        let script = vec![Send(b"go\n0123456789"), Send(b"abc"), Pause, Send(b"ok\n")];
        assert_eq!(frames(script, 8), ["go", "<too long: 13>", "ok"]);
    }

    #[test]
    fn a_line_exactly_at_the_limit_is_delivered() {
        assert_eq!(frames(vec![Send(b"12345678\r\n")], 8), ["12345678"]);
    }

    #[test]
    fn buffer_stays_bounded_while_discarding() {
        let chunk: &'static [u8] = &[b'x'; 1000];
        let mut script = vec![Send(b"go\n")];
        script.extend((0..100).map(|_| Send(chunk)));
        script.push(Send(b"\n"));
        let limits = FrameLimits {
            max_line_len: 2000,
            ..FrameLimits::default()
        };
        let mut reader = FrameReader::new(Script(script.into()), limits);
        let first = reader.read_frame().expect("scripted reads do not fail");
        assert_eq!(first, Some(Frame::Message(b"go")));
        let frame = reader.read_frame().expect("scripted reads do not fail");
        assert_eq!(frame, Some(Frame::TooLong { len: 100_000 }));
        assert!(reader.framer.buf.capacity() < 2000 + 2 * MAX_READ);
    }

    #[test]
    fn bytes_are_delivered_raw() {
        let script = vec![Send(b"caf\xc3\xa9 \xff\x00\n")];
        let limits = FrameLimits::default();
        let mut reader = FrameReader::new(Script(script.into()), limits);
        let frame = reader.read_frame().expect("scripted reads do not fail");
        assert_eq!(frame, Some(Frame::Message(b"caf\xc3\xa9 \xff\x00")));
    }
}
