//! Two-way chat: send what the user types while printing what arrives, at the same time.
//! The handout's third "going further" idea, with one thread per direction.

use std::io::{self, BufRead, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::lab::frame::{Frame, FrameLimits, FrameReader};
use crate::report::{peer_hung_up, visible};

/// After our user has finished, how long to wait for the other side to close before
/// leaving anyway (a peer that never closes must not keep us open).
const LINGER: Duration = Duration::from_secs(2);

/// Chats over `stream` until the other side leaves: lines from `input` are sent as they
/// come, and lines that arrive are written to `out` as they come, with any control
/// characters in them shown as escapes (the other side cannot drive our terminal).
/// Status lines start with `* `. When `input` ends, the sending side is closed, which tells the other side we
/// left.
///
/// # Errors
/// When the connection fails or `out` cannot be written.
pub fn talk(
    stream: TcpStream,
    input: impl BufRead + Send + 'static,
    out: &mut impl Write,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let stream = Arc::new(stream);
    let we_left = Arc::new(AtomicBool::new(false));
    {
        let (stream, we_left) = (Arc::clone(&stream), Arc::clone(&we_left));
        thread::spawn(move || send_lines(input, &stream, &we_left));
    }
    print_arrivals(&stream, out)?;
    if we_left.load(Ordering::SeqCst) {
        writeln!(out, "* closed")?;
    } else {
        writeln!(out, "* the other side left")?;
    }
    out.flush()
}

/// Makes Ctrl-C (SIGINT) and SIGTERM end the program at once with status 130 or 143,
/// closing the connection, so the other side hears that we left. Installed explicitly,
/// because a program started in the background by a script inherits SIGINT ignored, and
/// would otherwise stay in the chat.
///
/// # Errors
/// When the signal handlers cannot be installed.
#[cfg(unix)]
pub fn leave_on_interrupt() -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _ = writeln!(io::stdout(), "* interrupted");
            std::process::exit(128 + signal);
        }
    });
    Ok(())
}

/// Sends each input line; at the end of input, closes our sending side, then gives the
/// other side a moment to close theirs before closing everything.
fn send_lines(mut input: impl BufRead, stream: &TcpStream, we_left: &AtomicBool) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if line.last() != Some(&b'\n') {
                    line.push(b'\n');
                }
                if (&mut &*stream).write_all(&line).is_err() {
                    return; // the other side is gone; the reader reports it
                }
            }
        }
    }
    we_left.store(true, Ordering::SeqCst);
    let _ = stream.shutdown(Shutdown::Write);
    thread::sleep(LINGER);
    let _ = stream.shutdown(Shutdown::Both);
}

/// Writes each arriving line to `out` until the other side closes.
fn print_arrivals(stream: &TcpStream, out: &mut impl Write) -> io::Result<()> {
    let mut reader = FrameReader::new(stream, FrameLimits::default());
    loop {
        match reader.read_frame() {
            Ok(Some(Frame::Message(bytes))) => {
                let text = String::from_utf8_lossy(bytes);
                writeln!(out, "{}", visible(&text))?;
            }
            Ok(Some(Frame::TooLong { len })) => {
                writeln!(out, "* a line of {len} bytes arrived, too long to show")?
            }
            Ok(None) => return Ok(()),
            Err(e) if peer_hung_up(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
        out.flush()?;
    }
}
