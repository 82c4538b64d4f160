//! A chat room: everyone who connects sends a nickname first, then every line they send
//! is passed to everyone else as `nick: text`. Joins and leaves are announced.
//!
//! Each member has a bounded queue of lines waiting to be written to it, drained by a
//! thread of its own. A member whose queue is full is not keeping up (it stopped
//! reading, or reads far slower than the room talks): it is disconnected, so one stuck
//! client can never stall the room.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use crate::lab::frame::{Frame, FrameLimits, FrameReader};

/// The longest line a member may send, in bytes.
pub const MAX_CHAT_LINE: usize = 4096;

/// The longest nickname, in characters.
pub const MAX_NICK_LEN: usize = 20;

/// How many lines may wait for a member before it counts as not keeping up.
pub const QUEUE_LEN: usize = 256;

/// A line on its way to members: shared, since every member gets the same one.
type Line = Arc<[u8]>;

struct Member {
    nick: String,
    queue: SyncSender<Line>,
    stream: Arc<TcpStream>,
}

/// The people in the room, shared by every connection's thread.
pub struct Room {
    members: Mutex<Vec<Member>>,
    quiet: bool,
}

impl Room {
    /// An empty room; `quiet` silences its log on stderr.
    pub fn new(quiet: bool) -> Room {
        Room {
            members: Mutex::new(Vec::new()),
            quiet,
        }
    }

    fn log(&self, line: std::fmt::Arguments<'_>) {
        crate::report::debug_line(self.quiet, line);
    }

    fn members(&self) -> MutexGuard<'_, Vec<Member>> {
        // A panic while holding the lock cannot leave the list half-changed.
        self.members
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Serves one connection: asks for a nickname, then relays its lines until it leaves.
    pub fn serve_connection(&self, stream: TcpStream, peer: SocketAddr) {
        self.log(format_args!("[{peer}] connected"));
        let stream = Arc::new(stream);
        let _ = stream.set_nodelay(true);
        let (queue, lines) = mpsc::sync_channel(QUEUE_LEN);
        let writer = {
            let stream = Arc::clone(&stream);
            thread::spawn(move || write_lines(&stream, &lines))
        };
        let limits = FrameLimits {
            max_line_len: MAX_CHAT_LINE,
            ..FrameLimits::default()
        };
        let mut reader = FrameReader::new(&*stream, limits);
        let _ = queue.try_send(line("* welcome! send your nickname"));
        if let Some(nick) = self.join(&mut reader, &queue, &stream) {
            self.log(format_args!("[{peer}] is {nick}"));
            self.relay(&mut reader, &nick, &queue);
            self.leave(&nick);
        }
        drop(queue);
        let _ = writer.join();
        self.log(format_args!("[{peer}] disconnected"));
    }

    /// Reads nicknames until one is acceptable, then adds the member. `None` if the
    /// client left first.
    fn join(
        &self,
        reader: &mut FrameReader<&TcpStream>,
        queue: &SyncSender<Line>,
        stream: &Arc<TcpStream>,
    ) -> Option<String> {
        loop {
            let nick = match reader.read_frame() {
                Ok(Some(Frame::Message(bytes))) => {
                    String::from_utf8_lossy(bytes).trim().to_string()
                }
                Ok(Some(Frame::TooLong { .. })) => String::from("x").repeat(MAX_NICK_LEN + 1),
                _ => return None,
            };
            let mut members = self.members();
            match check_nick(&nick, &members) {
                Ok(()) => {
                    let others: Vec<&str> = members.iter().map(|m| m.nick.as_str()).collect();
                    let here = if others.is_empty() {
                        "nobody else".to_string()
                    } else {
                        others.join(", ")
                    };
                    let _ = queue.try_send(line(&format!("* you are {nick}; here: {here}")));
                    broadcast(&mut members, None, &line(&format!("* {nick} joined")));
                    members.push(Member {
                        nick: nick.clone(),
                        queue: queue.clone(),
                        stream: Arc::clone(stream),
                    });
                    return Some(nick);
                }
                Err(why) => {
                    let _ =
                        queue.try_send(line(&format!("* nickname refused: {why}; try another")));
                }
            }
        }
    }

    /// Passes each line from `nick` to everyone else until the connection ends.
    fn relay(&self, reader: &mut FrameReader<&TcpStream>, nick: &str, queue: &SyncSender<Line>) {
        loop {
            let text = match reader.read_frame() {
                Ok(Some(Frame::Message(bytes))) => String::from_utf8_lossy(bytes).into_owned(),
                Ok(Some(Frame::TooLong { len })) => {
                    let why = format!(
                        "* your line of {len} bytes was not sent (the limit is {MAX_CHAT_LINE})"
                    );
                    let _ = queue.try_send(line(&why));
                    continue;
                }
                _ => return,
            };
            let mut members = self.members();
            if !members.iter().any(|m| m.nick == nick) {
                return; // disconnected for not keeping up
            }
            broadcast(&mut members, Some(nick), &line(&format!("{nick}: {text}")));
        }
    }

    /// Removes `nick`, if still present, and tells the others.
    fn leave(&self, nick: &str) {
        let mut members = self.members();
        if let Some(at) = members.iter().position(|m| m.nick == nick) {
            members.remove(at);
            broadcast(&mut members, None, &line(&format!("* {nick} left")));
        }
    }
}

/// Queues `text` for every member except `from`. Members whose queue is full are
/// disconnected, and the rest are told.
fn broadcast(members: &mut Vec<Member>, from: Option<&str>, text: &Line) {
    let mut laggards = Vec::new();
    members.retain(|member| {
        if Some(member.nick.as_str()) == from {
            return true;
        }
        match member.queue.try_send(Arc::clone(text)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                let _ = member.stream.shutdown(Shutdown::Both);
                laggards.push(member.nick.clone());
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    });
    for nick in laggards {
        let notice = line(&format!("* {nick} was disconnected: not keeping up"));
        broadcast(members, None, &notice);
    }
}

/// Why a nickname is not acceptable, if it is not.
fn check_nick(nick: &str, members: &[Member]) -> Result<(), String> {
    if nick.is_empty() {
        return Err("it is empty".into());
    }
    if nick.chars().count() > MAX_NICK_LEN {
        return Err(format!("it is longer than {MAX_NICK_LEN} characters"));
    }
    if nick.chars().any(|c| c.is_control() || c == ':') {
        return Err("it contains a control character or ':'".into());
    }
    if members.iter().any(|m| m.nick.eq_ignore_ascii_case(nick)) {
        return Err(format!("{nick} is taken"));
    }
    Ok(())
}

/// `text` as a line ready to send.
fn line(text: &str) -> Line {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(b'\n');
    bytes.into()
}

/// Writes queued lines to the member until the queue closes or the connection fails,
/// then closes the connection.
fn write_lines(stream: &TcpStream, lines: &Receiver<Line>) -> io::Result<()> {
    let result = lines
        .iter()
        .try_for_each(|line| (&mut &*stream).write_all(&line));
    let _ = stream.shutdown(Shutdown::Both);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_are_checked() {
        assert!(check_nick("ada", &[]).is_ok());
        assert!(check_nick("", &[]).is_err());
        assert!(check_nick(&"x".repeat(MAX_NICK_LEN + 1), &[]).is_err());
        assert!(check_nick("a\u{7}b", &[]).is_err());
        assert!(check_nick("a:b", &[]).is_err());
    }
}
