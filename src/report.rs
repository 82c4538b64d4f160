//! Turning errors into the one-line messages people read.

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

#[cfg(test)]
mod tests {
    use super::*;

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
