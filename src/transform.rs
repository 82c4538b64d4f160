//! The ways the server can change a message before sending it back.
//!
//! Each transform is a pure function from the message text to the reply text, so it is
//! tested here without any network. The handout asks for replies that are "not the same
//! every single time, and based on the data"; [`Transform::Tagged`], the default, goes
//! further and never returns the message unchanged, whatever it is.

use std::fmt;
use std::io::Write;

use unicode_segmentation::UnicodeSegmentation;

/// A named way of turning a message into its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Transform {
    /// The length in brackets, then the text reversed: "hello" -> "[5] olleh". Never the
    /// same as the message, not even for an empty one or a palindrome.
    #[default]
    Tagged,
    /// Upper case, Unicode-aware: "straße" -> "STRASSE".
    Upper,
    /// The text backwards, keeping accented letters and emoji whole: "noël" -> "lëon".
    Reverse,
    /// Each ASCII letter moved 13 places along the alphabet: "Hello" -> "Uryyb".
    Rot13,
    /// The number of characters: "hello" -> "5".
    Length,
}

impl Transform {
    /// Every transform, in the order `--help` lists them.
    pub const ALL: [Transform; 5] = [
        Transform::Tagged,
        Transform::Upper,
        Transform::Reverse,
        Transform::Rot13,
        Transform::Length,
    ];

    /// The reply this transform gives to `message`.
    pub fn apply(self, message: &str) -> String {
        let mut reply = Vec::new();
        self.apply_into(message, &mut reply);
        // Every transform turns text into text, so the lossy path is never taken.
        String::from_utf8(reply).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }

    /// Appends the UTF-8 reply to `message` to `out`. The server writes replies straight
    /// into its output buffer this way, without a string of their own.
    pub fn apply_into(self, message: &str, out: &mut Vec<u8>) {
        match self {
            Transform::Tagged => {
                let _ = write!(out, "[{}] ", char_count(message));
                push_reversed(message, out);
            }
            Transform::Upper => push_upper(message, out),
            Transform::Reverse => push_reversed(message, out),
            // Only ASCII letters change, and no byte of a multi-byte character is one.
            Transform::Rot13 => out.extend(message.bytes().map(rot13_byte)),
            Transform::Length => {
                let _ = write!(out, "{}", char_count(message));
            }
        }
    }

    /// The name used on the command line, e.g. `rot13`.
    pub fn name(self) -> &'static str {
        match self {
            Transform::Tagged => "tagged",
            Transform::Upper => "upper",
            Transform::Reverse => "reverse",
            Transform::Rot13 => "rot13",
            Transform::Length => "length",
        }
    }
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Upper case. ASCII text (the common case) goes byte by byte, which the compiler turns
/// into vector instructions; other text character by character, where one character may
/// become several (ß becomes SS).
fn push_upper(message: &str, out: &mut Vec<u8>) {
    if message.is_ascii() {
        out.extend(message.bytes().map(|b| b.to_ascii_uppercase()));
    } else {
        for c in message.chars().flat_map(char::to_uppercase) {
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
    }
}

/// Reverses by grapheme cluster, so `e` + combining accent or a flag emoji stays whole.
/// In ASCII text every byte is a cluster of its own.
fn push_reversed(message: &str, out: &mut Vec<u8>) {
    if message.is_ascii() {
        out.extend(message.bytes().rev());
    } else {
        for grapheme in message.graphemes(true).rev() {
            out.extend_from_slice(grapheme.as_bytes());
        }
    }
}

/// `tagged` replies are `[N] ` followed by the reversed text: always at least four
/// characters longer than the message, which is why a reply can never equal its message.
fn char_count(message: &str) -> usize {
    message.chars().count()
}

fn rot13_byte(b: u8) -> u8 {
    match b {
        b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
        b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
        _ => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::tagged_word(Transform::Tagged, "hello", "[5] olleh")]
    #[case::tagged_empty(Transform::Tagged, "", "[0] ")]
    #[case::upper_ascii(Transform::Upper, "hello", "HELLO")]
    #[case::upper_sharp_s(Transform::Upper, "straße", "STRASSE")]
    #[case::reverse_ascii(Transform::Reverse, "abc", "cba")]
    #[case::reverse_keeps_combining_marks(Transform::Reverse, "noe\u{308}l", "le\u{308}on")]
    #[case::rot13_mixed(Transform::Rot13, "Hello, World!", "Uryyb, Jbeyq!")]
    #[case::rot13_leaves_non_ascii(Transform::Rot13, "é z", "é m")]
    #[case::length_counts_chars(Transform::Length, "héllo", "5")]
    fn transform_gives_expected_reply(
        #[case] transform: Transform,
        #[case] message: &str,
        #[case] reply: &str,
    ) {
        assert_eq!(
            transform.apply(message),
            reply,
            "{transform} of {message:?}"
        );
    }

    #[rstest]
    fn tagged_never_returns_the_message(
        #[values("", "a", "7", "12321", "racecar", "[0] ", "[1] a", "ß", "\0")] message: &str,
    ) {
        assert_ne!(Transform::Tagged.apply(message), message);
    }

    #[test]
    fn rot13_twice_is_the_identity() {
        let text = "The Quick Brown Fox, 123!";
        assert_eq!(Transform::Rot13.apply(&Transform::Rot13.apply(text)), text);
    }

    #[test]
    fn names_match_the_command_line_spelling() {
        use clap::ValueEnum;
        for transform in Transform::ALL {
            let parsed = Transform::from_str(transform.name(), false);
            assert_eq!(parsed, Ok(transform));
        }
    }
}
