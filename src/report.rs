//! Turning errors into the one-line messages people read, and the servers' log, which
//! never holds up serving.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{self, Write as _};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::Duration;

/// The text of `error` without std's ` (os error N)` suffix:
/// `Connection refused`, not `Connection refused (os error 111)`.
pub fn describe(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Logs one line of the servers' debug output on stderr, unless `quiet`. Every server logs
/// through here, so they all put it in the same place, show control characters in it
/// visibly (see [`visible`]), and never wait for it.
///
/// The line is handed to a logging thread and this returns at once: when stderr is a pipe
/// nobody reads (a service manager, `| less`), writing would block, and serving with it.
/// While more than [`LOG_BACKLOG`] bytes wait to be written, further lines are dropped and
/// counted, and the logging thread says how many (`N log line(s) dropped ...`) as soon as
/// it can write again, or at [`flush_log`].
pub fn debug_line(quiet: bool, line: fmt::Arguments<'_>) {
    if quiet {
        return;
    }
    let mut text = line.to_string();
    let shown = visible(&text);
    if let Cow::Owned(shown) = shown {
        text = shown;
    }
    text.push('\n');
    match logger() {
        Some(logger) => logger.push(text),
        // No logging thread: writing directly is the only way to say anything.
        None => {
            let _ = io::stderr().write_all(text.as_bytes());
        }
    }
}

/// Waits until every line logged so far has been written to stderr, and any dropped ones
/// reported, or until `within` has passed: stderr may be a pipe nobody reads. Programs that
/// exit on their own call this last, so their final log lines are not lost.
pub fn flush_log(within: Duration) {
    let Some(logger) = LOGGER.get().and_then(Option::as_ref) else {
        return;
    };
    let (done, flushed) = mpsc::channel();
    if logger.entries.send(LogEntry::Flush(done)).is_ok() {
        let _ = flushed.recv_timeout(within);
    }
}

/// The most bytes of log lines that may wait for stderr; past this, lines are dropped. It
/// bounds the memory a stalled stderr can cost.
pub const LOG_BACKLOG: usize = 1024 * 1024;

/// The program's logging thread, started by the first line logged; `None` if it could not
/// be started.
static LOGGER: OnceLock<Option<Logger>> = OnceLock::new();

/// The sending end of the logging thread.
struct Logger {
    entries: mpsc::Sender<LogEntry>,
    counts: Arc<LogCounts>,
}

/// What the logging thread is asked to do.
enum LogEntry {
    /// Write this line (which ends in a line feed).
    Line(String),
    /// Report dropped lines, then answer: every entry before this one is done.
    Flush(mpsc::Sender<()>),
}

/// Shared between the loggers and the logging thread.
#[derive(Default)]
struct LogCounts {
    /// Bytes of lines handed over and not yet written.
    backlog: AtomicUsize,
    /// Lines dropped and not yet reported.
    dropped: AtomicU64,
}

/// The logging thread, started on first use.
fn logger() -> Option<&'static Logger> {
    LOGGER
        .get_or_init(|| {
            let (entries, received) = mpsc::channel();
            let counts = Arc::new(LogCounts::default());
            let writer_counts = Arc::clone(&counts);
            thread::Builder::new()
                .name("log".to_string())
                .spawn(move || write_log(&received, &writer_counts))
                .ok()?;
            Some(Logger { entries, counts })
        })
        .as_ref()
}

impl Logger {
    /// Hands `line` to the logging thread, or drops and counts it when too much is waiting.
    /// A line is never dropped while nothing waits, however long it is.
    fn push(&self, line: String) {
        let size = line.len();
        let waiting = self.counts.backlog.fetch_add(size, Ordering::Relaxed);
        let too_much = waiting > 0 && waiting + size > LOG_BACKLOG;
        if too_much || self.entries.send(LogEntry::Line(line)).is_err() {
            self.counts.backlog.fetch_sub(size, Ordering::Relaxed);
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The logging thread's life: write each line in one write, and after each, report the
/// lines dropped while it was stuck. Errors (stderr closed) are ignored: there is nowhere
/// else to say anything.
fn write_log(entries: &mpsc::Receiver<LogEntry>, counts: &LogCounts) {
    let mut stderr = io::stderr();
    for entry in entries {
        if let LogEntry::Line(line) = &entry {
            let _ = stderr.write_all(line.as_bytes());
            counts.backlog.fetch_sub(line.len(), Ordering::Relaxed);
        }
        let dropped = counts.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let notice = format!(
                "{dropped} log line(s) dropped: standard error was not being read fast enough\n"
            );
            let _ = stderr.write_all(notice.as_bytes());
        }
        if let LogEntry::Flush(done) = entry {
            let _ = done.send(());
        }
    }
}

/// True for the errors a peer that closed its socket causes. Which one a program sees
/// depends on timing: a reset (if it sent data after the peer closed), a broken pipe (if
/// it writes after that), or "not connected" (if it shut its own socket down meanwhile).
pub fn peer_hung_up(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}

/// True for the error a socket read or write gives when its timeout passes: `WouldBlock`
/// on Unix, `TimedOut` on Windows.
pub fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// `text` with every control character except tab shown as a visible escape (`\x1b`,
/// `\u{9b}`), and the bidirectional overrides too, so text from the network printed to a
/// terminal or a log cannot move the cursor, change colours, set the window title, ring
/// the bell or reorder what is shown.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !needs_escape(c) => shown.push(c),
            c if c.is_ascii() => {
                let _ = write!(shown, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(shown)
}

/// True for the characters [`visible`] escapes.
fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_shown_not_obeyed() {
        assert_eq!(visible("\x1b[31mred\x07"), "\\x1b[31mred\\x07");
        assert_eq!(visible("a\u{9b}b\u{202e}c"), "a\\u{9b}b\\u{202e}c");
    }

    #[test]
    fn ordinary_text_and_tabs_are_left_alone() {
        assert!(matches!(visible("Grüße\tfrom here"), Cow::Borrowed(_)));
    }

    #[test]
    fn os_error_number_is_dropped() {
        let error = io::Error::from_raw_os_error(111);
        assert_eq!(describe(&error), "Connection refused");
    }

    #[test]
    fn custom_errors_are_kept_whole() {
        let error = io::Error::other("no reply within 5s");
        assert_eq!(describe(&error), "no reply within 5s");
    }
}
