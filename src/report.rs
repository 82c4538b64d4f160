//! Turning errors into the one-line messages people read.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

/// The text of `error` without std's ` (os error N)` suffix:
/// `Connection refused`, not `Connection refused (os error 111)`.
pub fn describe(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Prints one line of the servers' debug output, on stderr, unless `quiet`. Every server
/// logs through here, so they all put it in the same place.
pub fn debug_line(quiet: bool, line: std::fmt::Arguments<'_>) {
    if !quiet {
        eprintln!("{line}");
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
