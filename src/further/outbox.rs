//! A chat member's outbox: the lines waiting to be written to it, counted in bytes, and
//! the writer thread that drains them onto its connection.
//!
//! An outbox never refuses a line. It tells the room instead when it is over its limit
//! ([`Fill::Over`]), so the room can pause whoever filled it, and when it has been over
//! its limit with nothing written for a while ([`Fill::Stuck`]): the member has stopped
//! reading.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::report::is_timeout;

/// A line on its way to members: shared, since every member gets the same one.
pub type Line = Arc<[u8]>;

/// The most bytes handed to the kernel in one write.
const MAX_WRITE: usize = 64 * 1024;

/// How much an outbox may hold, and how long it may be stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogLimits {
    /// Bytes that may wait for a member before whoever sends more is paused.
    pub max_backlog: usize,
    /// How long a member's backlog may stay over `max_backlog` with nothing written to
    /// it before the member counts as no longer reading.
    pub stall_timeout: Duration,
}

/// How many bytes may wait for a member before senders are paused, unless
/// `--max-backlog` says otherwise: 1 MiB, thousands of lines of chat.
pub const DEFAULT_MAX_BACKLOG: usize = 1024 * 1024;

/// How long a member may leave a full backlog unread before it counts as no longer
/// reading, unless `--stall-timeout` says otherwise.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for BacklogLimits {
    fn default() -> Self {
        BacklogLimits {
            max_backlog: DEFAULT_MAX_BACKLOG,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        }
    }
}

/// How full an outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Within the limit.
    Within,
    /// Over the limit: whoever filled it should wait for it to drain.
    Over,
    /// Over the limit, with nothing written for the stall timeout: the member has
    /// stopped reading.
    Stuck,
}

/// What waits to be written to one member, and the connection it goes to.
pub struct Outbox {
    /// The member's connection; the room reads from it, the writer writes to it.
    pub stream: TcpStream,
    /// The member's address, for the log.
    pub peer: SocketAddr,
    backlog: Mutex<Backlog>,
    /// Signalled when lines arrive or the member leaves; the writer waits on it.
    filled: Condvar,
    /// Signalled when the writer makes progress or stops; paused senders wait on it.
    drained: Condvar,
}

struct Backlog {
    lines: VecDeque<Line>,
    /// Bytes not yet written: the queued lines and what is left of the current write.
    bytes: usize,
    /// When something was last written, or the backlog last went from empty to not: the
    /// start of the current wait for the member to read.
    progress_at: Instant,
    /// The member left: write what is queued, then stop.
    closing: bool,
    /// The writer has stopped: nothing more will be written.
    stopped: bool,
}

impl Outbox {
    /// An empty outbox for the member at `peer` on `stream`.
    pub fn new(stream: TcpStream, peer: SocketAddr) -> Outbox {
        Outbox {
            stream,
            peer,
            backlog: Mutex::new(Backlog {
                lines: VecDeque::new(),
                bytes: 0,
                progress_at: Instant::now(),
                closing: false,
                stopped: false,
            }),
            filled: Condvar::new(),
            drained: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Backlog> {
        // Nothing panics while holding the lock; if something did, the counts are whole.
        self.backlog
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `line` for the writer, and says how full the outbox is now. Never waits,
    /// never refuses (once the writer has stopped, the line is dropped: nobody would read
    /// it).
    pub fn push(&self, line: &Line, limits: &BacklogLimits) -> Fill {
        let mut backlog = self.lock();
        if backlog.stopped {
            return Fill::Within;
        }
        if backlog.bytes == 0 {
            backlog.progress_at = Instant::now();
        }
        backlog.bytes += line.len();
        backlog.lines.push_back(Arc::clone(line));
        self.filled.notify_one();
        if backlog.bytes <= limits.max_backlog {
            Fill::Within
        } else if backlog.progress_at.elapsed() < limits.stall_timeout {
            Fill::Over
        } else {
            Fill::Stuck
        }
    }

    /// Waits until the backlog is within the limit (or the writer has stopped): `true`.
    /// Gives up once it has been over the limit with nothing written for the stall
    /// timeout: `false`, the member has stopped reading.
    pub fn wait_until_drained(&self, limits: &BacklogLimits) -> bool {
        let mut backlog = self.lock();
        loop {
            if backlog.bytes <= limits.max_backlog || backlog.stopped {
                return true;
            }
            let waited = backlog.progress_at.elapsed();
            let Some(left) = limits
                .stall_timeout
                .checked_sub(waited)
                .filter(|d| !d.is_zero())
            else {
                return false;
            };
            backlog = match self.drained.wait_timeout(backlog, left) {
                Ok((backlog, _)) => backlog,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Says no more lines will come: the writer writes what is queued and stops.
    pub fn close(&self) {
        self.lock().closing = true;
        self.filled.notify_all();
    }

    /// Cuts the connection at once, whatever is queued: the writer's and the reader's
    /// calls fail, and both stop.
    pub fn disconnect(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Writes queued lines to the member until it leaves or the connection fails, then
    /// closes the connection. Runs on the member's writer thread.
    pub fn write_lines(&self) {
        let mut batch = Vec::new();
        while self.take_batch(&mut batch) {
            if self.write_batch(&batch).is_err() {
                break;
            }
        }
        {
            let mut backlog = self.lock();
            backlog.stopped = true;
            backlog.lines.clear();
        }
        self.drained.notify_all();
        self.disconnect();
    }

    /// Moves queued lines into `batch`, at least one and up to [`MAX_WRITE`] bytes,
    /// waiting for some. `false` once nothing is queued and the member has left.
    fn take_batch(&self, batch: &mut Vec<u8>) -> bool {
        let mut backlog = self.lock();
        while backlog.lines.is_empty() {
            if backlog.closing {
                return false;
            }
            backlog = self
                .filled
                .wait(backlog)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        batch.clear();
        while let Some(line) = backlog.lines.front() {
            if !batch.is_empty() && batch.len() + line.len() > MAX_WRITE {
                break;
            }
            batch.extend_from_slice(line);
            backlog.lines.pop_front();
        }
        true
    }

    /// Writes `batch`, counting each piece the kernel takes as progress. A write that
    /// times out is tried again while the member is in the room (whether it is stuck is
    /// for the room to judge); once it has left, the rest is given up.
    fn write_batch(&self, batch: &[u8]) -> io::Result<()> {
        let mut rest = batch;
        while !rest.is_empty() {
            match (&self.stream).write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.wrote(n);
                    rest = &rest[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) && !self.lock().closing => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn wrote(&self, n: usize) {
        {
            let mut backlog = self.lock();
            backlog.bytes = backlog.bytes.saturating_sub(n);
            backlog.progress_at = Instant::now();
        }
        self.drained.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// An outbox on a real connection whose other end never reads, without a writer.
    fn outbox() -> (Outbox, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let other_end = TcpStream::connect(addr).expect("connect");
        let (stream, peer) = listener.accept().expect("accept");
        (Outbox::new(stream, peer), other_end)
    }

    fn limits() -> BacklogLimits {
        BacklogLimits {
            max_backlog: 10,
            stall_timeout: Duration::from_millis(50),
        }
    }

    fn line(text: &[u8]) -> Line {
        Line::from(text)
    }

    #[test]
    fn an_outbox_within_its_limit_is_drained_at_once() {
        let (outbox, _other_end) = outbox();
        assert_eq!(outbox.push(&line(b"0123456789"), &limits()), Fill::Within);
        assert!(outbox.wait_until_drained(&limits()));
    }

    #[test]
    fn an_outbox_over_its_limit_with_nothing_written_is_stuck_after_the_stall_timeout() {
        let (outbox, _other_end) = outbox();
        assert_eq!(outbox.push(&line(b"0123456789!"), &limits()), Fill::Over);
        assert!(!outbox.wait_until_drained(&limits()));
        assert_eq!(outbox.push(&line(b"?"), &limits()), Fill::Stuck);
    }

    #[test]
    fn an_outbox_whose_writer_stopped_holds_no_one_up() {
        let (outbox, other_end) = outbox();
        outbox.push(&line(b"0123456789!"), &limits());
        drop(other_end);
        outbox.disconnect();
        outbox.write_lines();
        assert!(outbox.wait_until_drained(&limits()));
        assert_eq!(outbox.push(&line(b"0123456789!"), &limits()), Fill::Within);
    }
}
