//! A chat room: everyone who connects sends a nickname first, then every line they send
//! is passed to everyone else as `nick: text`. Joins and leaves are announced.
//!
//! # Keeping up
//! Each member has an [`Outbox`]: the lines waiting to be written to it, drained by a
//! writer thread of its own. A line is never refused and a reader is never dropped for a
//! burst. Instead the sender is slowed, the way IRC servers hold back a flood: once a
//! member's line has taken someone's outbox over [`BacklogLimits::max_backlog`] bytes, the
//! room reads nothing more from that member until the outbox has drained below the limit.
//! A paste of ten thousand lines thus goes at the pace of the slowest reader, and every
//! reader gets all of it.
//!
//! A member is disconnected only when it stops reading: its outbox is over the limit
//! and nothing of it has been written for [`BacklogLimits::stall_timeout`]. One stuck
//! member therefore holds the room up for that long at most.
//!
//! The kernel's send buffer for each member is kept small ([`SEND_BUFFER`]), so that
//! what a member has not read waits in its outbox, where the room can count it, rather
//! than in the kernel, where it cannot.
//!
//! # Text
//! Control characters in relayed lines (escape sequences, bells, carriage returns) are
//! shown as escapes such as `\x1b`, so no member can drive the others' terminals. Tabs
//! stay. Nicknames are compared after Unicode compatibility normalization and case
//! folding ("ÄNNÄ" is taken when "Ännä" is in the room), and may not contain invisible,
//! bidirectional-control or control characters.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::further::outbox::{BacklogLimits, Fill, Line, Outbox};
use crate::lab::frame::{Frame, FrameLimits, FrameReader};
use crate::report::visible;

/// The longest line a member may send, in bytes.
pub const MAX_CHAT_LINE: usize = 4096;

/// The longest nickname, in characters.
pub const MAX_NICK_LEN: usize = 20;

/// How long the rest of a line that arrives in pieces is waited for. Far longer than the
/// lab servers' grace: chat lines end with a newline, a paste arrives in many pieces, and
/// cutting a line in two is worse than a moment's wait.
pub const LINE_PIECE_GRACE: Duration = Duration::from_secs(1);

/// The kernel's send buffer for each member, in bytes (the kernel may double it).
pub const SEND_BUFFER: usize = 64 * 1024;

struct Member {
    nick: String,
    outbox: Arc<Outbox>,
}

/// The people in the room, shared by every connection's thread.
pub struct Room {
    members: Mutex<Vec<Member>>,
    limits: BacklogLimits,
    quiet: bool,
}

impl Room {
    /// An empty room with the given limits; `quiet` silences its log on stderr.
    pub fn new(limits: BacklogLimits, quiet: bool) -> Room {
        Room {
            members: Mutex::new(Vec::new()),
            limits,
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
        if let Err(e) = self.prepare(&stream) {
            let cause = crate::report::describe(&e);
            self.log(format_args!(
                "[{peer}] cannot set the connection up: {cause}"
            ));
            return;
        }
        let outbox = Arc::new(Outbox::new(stream, peer));
        let writer = {
            let outbox = Arc::clone(&outbox);
            thread::spawn(move || outbox.write_lines())
        };
        let limits = FrameLimits {
            max_line_len: MAX_CHAT_LINE,
            partial_timeout: LINE_PIECE_GRACE,
            ..FrameLimits::default()
        };
        let mut reader = FrameReader::new(&outbox.stream, limits);
        outbox.push(&line("* welcome! send your nickname"), &self.limits);
        if let Some(nick) = self.join(&mut reader, &outbox) {
            self.log(format_args!("[{peer}] is {nick}"));
            self.relay(&mut reader, &nick, &outbox);
            self.leave(&outbox, &nick);
        }
        outbox.close();
        let _ = writer.join();
        self.log(format_args!("[{peer}] disconnected"));
    }

    /// Replies go out at once (NODELAY), the kernel holds little for the member (see
    /// [`SEND_BUFFER`]), and a blocked write wakes up now and then so the writer notices
    /// when the member has left.
    fn prepare(&self, stream: &TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        socket2::SockRef::from(stream).set_send_buffer_size(SEND_BUFFER)?;
        stream.set_write_timeout(Some(self.limits.stall_timeout))
    }

    /// Reads nicknames until one is acceptable, then adds the member. `None` if the
    /// client left first.
    fn join(&self, reader: &mut FrameReader<&TcpStream>, outbox: &Arc<Outbox>) -> Option<String> {
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
                    let welcome = format!("* you are {nick}; here: {}", who(&members));
                    outbox.push(&line(&welcome), &self.limits);
                    self.broadcast(&mut members, None, &line(&format!("* {nick} joined")));
                    members.push(Member {
                        nick: nick.clone(),
                        outbox: Arc::clone(outbox),
                    });
                    return Some(nick);
                }
                Err(why) => {
                    let refusal = format!("* nickname refused: {why}; try another");
                    outbox.push(&line(&refusal), &self.limits);
                }
            }
            drop(members);
            // Someone who sends nickname after nickname and never reads is slowed too.
            self.wait_for(vec![Arc::clone(outbox)]);
        }
    }

    /// Passes each line from `nick` to everyone else until the connection ends. After
    /// each line, waits until no outbox it filled is over the limit.
    fn relay(&self, reader: &mut FrameReader<&TcpStream>, nick: &str, outbox: &Arc<Outbox>) {
        loop {
            let full = match reader.read_frame() {
                Ok(Some(Frame::Message(bytes))) => {
                    let text = String::from_utf8_lossy(bytes);
                    let relayed = line(&format!("{nick}: {}", visible(&text)));
                    let mut members = self.members();
                    if !members.iter().any(|m| Arc::ptr_eq(&m.outbox, outbox)) {
                        return; // disconnected meanwhile for not reading
                    }
                    self.broadcast(&mut members, Some(outbox), &relayed)
                }
                Ok(Some(Frame::TooLong { len })) => {
                    let why = format!(
                        "* your line of {len} bytes was not sent (the limit is {MAX_CHAT_LINE})"
                    );
                    outbox.push(&line(&why), &self.limits);
                    vec![Arc::clone(outbox)]
                }
                _ => return,
            };
            self.wait_for(full);
        }
    }

    /// Removes the member, if still present, and tells the others.
    fn leave(&self, outbox: &Arc<Outbox>, nick: &str) {
        let mut members = self.members();
        if let Some(at) = members.iter().position(|m| Arc::ptr_eq(&m.outbox, outbox)) {
            members.remove(at);
            self.broadcast(&mut members, None, &line(&format!("* {nick} left")));
        }
    }

    /// Queues `text` for every member except `from`. Members that have stopped reading
    /// are disconnected, and the rest are told. Returns the outboxes now over the limit,
    /// for the sender to wait on.
    fn broadcast(
        &self,
        members: &mut Vec<Member>,
        from: Option<&Arc<Outbox>>,
        text: &Line,
    ) -> Vec<Arc<Outbox>> {
        let mut full = Vec::new();
        let mut stuck = Vec::new();
        for member in members.iter() {
            if from.is_some_and(|from| Arc::ptr_eq(from, &member.outbox)) {
                continue;
            }
            match member.outbox.push(text, &self.limits) {
                Fill::Within => {}
                Fill::Over => full.push(Arc::clone(&member.outbox)),
                Fill::Stuck => stuck.push(Arc::clone(&member.outbox)),
            }
        }
        for outbox in stuck {
            self.expel(members, &outbox);
        }
        full
    }

    /// Waits until each of `outboxes` has drained below the limit, disconnecting the
    /// members that have stopped reading instead.
    fn wait_for(&self, outboxes: Vec<Arc<Outbox>>) {
        for outbox in outboxes {
            if !outbox.wait_until_drained(&self.limits) {
                let mut members = self.members();
                self.expel(&mut members, &outbox);
            }
        }
    }

    /// Disconnects the member reading from `outbox`, which has stopped reading, and tells
    /// the others if it was in the room.
    fn expel(&self, members: &mut Vec<Member>, outbox: &Arc<Outbox>) {
        outbox.disconnect();
        let Some(at) = members.iter().position(|m| Arc::ptr_eq(&m.outbox, outbox)) else {
            return;
        };
        let nick = members.remove(at).nick;
        let secs = self.limits.stall_timeout.as_secs_f64();
        self.log(format_args!(
            "[{}] {nick} read nothing of a full backlog for {secs:.1}s: disconnected",
            outbox.peer
        ));
        let notice = line(&format!("* {nick} was disconnected: not reading"));
        self.broadcast(members, None, &notice);
    }
}

/// The nicknames in the room, for a newcomer.
fn who(members: &[Member]) -> String {
    if members.is_empty() {
        return "nobody else".to_string();
    }
    let nicks: Vec<&str> = members.iter().map(|m| m.nick.as_str()).collect();
    nicks.join(", ")
}

/// Why a nickname is not acceptable, if it is not.
fn check_nick(nick: &str, members: &[Member]) -> Result<(), String> {
    if nick.is_empty() {
        return Err("it is empty".into());
    }
    if nick.chars().count() > MAX_NICK_LEN {
        return Err(format!("it is longer than {MAX_NICK_LEN} characters"));
    }
    if nick.chars().any(is_invisible) {
        return Err("it contains an invisible or control character".into());
    }
    if nick.contains(':') {
        return Err("it contains ':'".into());
    }
    if members.iter().any(|m| same_nick(&m.nick, nick)) {
        return Err(format!("{nick} is taken"));
    }
    Ok(())
}

/// True when two nicknames would look alike: equal after compatibility normalization
/// and case folding (Unicode's compatibility caseless match), so "ÄNNÄ" is "Ännä" and
/// "ａｎｎ" (full-width) is "ann".
fn same_nick(a: &str, b: &str) -> bool {
    caseless::compatibility_caseless_match_str(a, b)
}

/// Characters a nickname may not contain: control characters, format characters
/// (zero-width spaces and joiners, the bidirectional controls such as RLO, soft
/// hyphens), line and paragraph separators, private-use, unassigned and surrogate code
/// points, and the few other characters Unicode says to show as nothing (Hangul fillers,
/// variation selectors, the combining grapheme joiner).
fn is_invisible(c: char) -> bool {
    use GeneralCategory::{
        Control, Format, LineSeparator, ParagraphSeparator, PrivateUse, Surrogate, Unassigned,
    };
    matches!(
        c.general_category(),
        Control | Format | LineSeparator | ParagraphSeparator | PrivateUse | Surrogate | Unassigned
    ) || matches!(
        c,
        '\u{034f}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{ffa0}'
            | '\u{e0100}'..='\u{e01ef}'
    )
}

/// `text` as a line ready to send.
fn line(text: &str) -> Line {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(b'\n');
    bytes.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_are_checked() {
        assert!(check_nick("ada", &[]).is_ok());
        assert!(check_nick("Zoë ☕", &[]).is_ok());
        assert!(check_nick("", &[]).is_err());
        assert!(check_nick(&"x".repeat(MAX_NICK_LEN + 1), &[]).is_err());
        assert!(check_nick("a\u{7}b", &[]).is_err());
        assert!(check_nick("a:b", &[]).is_err());
    }

    #[test]
    fn invisible_and_direction_changing_characters_are_refused() {
        for c in [
            '\u{200b}', '\u{200d}', '\u{202e}', '\u{2066}', '\u{ad}', '\u{3164}',
        ] {
            let nick = format!("ann{c}");
            assert!(check_nick(&nick, &[]).is_err(), "{nick:?} was accepted");
        }
    }

    #[test]
    fn nicknames_that_look_alike_are_the_same() {
        assert!(same_nick("Ännä", "ÄNNÄ"));
        assert!(same_nick("Ännä", "A\u{308}nna\u{308}")); // decomposed
        assert!(same_nick("ann", "ａｎｎ")); // full-width
        assert!(same_nick("strasse", "STRAẞE"));
        assert!(!same_nick("ann", "anna"));
    }
}
