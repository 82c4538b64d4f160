//! The ways the server can change a message before sending it back.
//!
//! Each transform is a pure function from the message text to the reply text, so it is
//! tested here without any network. The handout asks for replies that are "not the same
//! every single time, and based on the data"; [`Transform::Tagged`], the default, goes
//! further and never returns the message unchanged, whatever it is.

use std::fmt;
use std::io::Write;
use std::str::Utf8Error;

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
        if message.is_ascii() {
            self.apply_ascii(message.as_bytes(), out);
        } else {
            self.apply_text(message, out);
        }
    }

    /// Like [`Transform::apply_into`] for a message that arrived as bytes.
    ///
    /// # Errors
    /// When `message` is not UTF-8; then nothing is appended.
    pub fn apply_bytes(self, message: &[u8], out: &mut Vec<u8>) -> Result<(), Utf8Error> {
        // Checking for ASCII is much cheaper than full UTF-8 validation, and most
        // messages are ASCII; the server spends a good part of its time right here.
        if message.is_ascii() {
            self.apply_ascii(message, out);
        } else {
            self.apply_text(std::str::from_utf8(message)?, out);
        }
        Ok(())
    }

    /// The fast path: in ASCII text, every byte is a character and a grapheme cluster.
    fn apply_ascii(self, message: &[u8], out: &mut Vec<u8>) {
        match self {
            Transform::Tagged => {
                push_tag(message.len(), out);
                out.extend(message.iter().rev());
            }
            Transform::Upper => push_ascii_upper(message, out),
            Transform::Reverse => out.extend(message.iter().rev()),
            Transform::Rot13 => out.extend(message.iter().map(|&b| rot13_byte(b))),
            Transform::Length => push_number(message.len(), out),
        }
    }

    /// The general path, for any text.
    fn apply_text(self, message: &str, out: &mut Vec<u8>) {
        match self {
            Transform::Tagged => {
                push_tag(char_count(message), out);
                push_reversed(message, out);
            }
            Transform::Upper => push_upper(message, out),
            Transform::Reverse => push_reversed(message, out),
            // Only ASCII letters change, and no byte of a multi-byte character is one.
            Transform::Rot13 => out.extend(message.bytes().map(rot13_byte)),
            Transform::Length => push_number(char_count(message), out),
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

/// Upper case, character by character: one character may become several (ß, SS).
fn push_upper(message: &str, out: &mut Vec<u8>) {
    for c in message.chars().flat_map(char::to_uppercase) {
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    }
}

/// Upper case for ASCII, eight bytes at a time: about twice as fast as byte by byte.
/// For an ASCII byte `b`, adding 0x1f sets its top bit when `b >= b'a'`, and adding 0x05
/// sets it when `b > b'z'`; no addition carries into the next byte because `b < 0x80`.
/// The bytes with the first bit but not the second are the lower-case letters; flipping
/// their 0x20 bit upper-cases them.
fn push_ascii_upper(message: &[u8], out: &mut Vec<u8>) {
    const EACH: u64 = 0x0101_0101_0101_0101;
    let mut words = message.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        let at_least_a = w + 0x1f * EACH;
        let beyond_z = w + 0x05 * EACH;
        let lower_case = at_least_a & !beyond_z & (0x80 * EACH);
        out.extend_from_slice(&(w ^ (lower_case >> 2)).to_le_bytes());
    }
    out.extend(words.remainder().iter().map(u8::to_ascii_uppercase));
}

/// Reverses by grapheme cluster, so `e` + combining accent or a flag emoji stays whole.
fn push_reversed(message: &str, out: &mut Vec<u8>) {
    for grapheme in message.graphemes(true).rev() {
        out.extend_from_slice(grapheme.as_bytes());
    }
}

/// `[N] `, the start of a `tagged` reply. The rest is the reversed text, so a reply is
/// always at least four characters longer than its message and can never equal it.
fn push_tag(count: usize, out: &mut Vec<u8>) {
    let _ = write!(out, "[{count}] ");
}

fn push_number(n: usize, out: &mut Vec<u8>) {
    let _ = write!(out, "{n}");
}

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
    fn ascii_upper_agrees_with_std_for_every_byte_in_every_position() {
        for len in 0..=17 {
            for byte in 0..=127u8 {
                for at in 0..len {
                    let mut message = vec![b'q'; len];
                    message[at] = byte;
                    let mut out = Vec::new();
                    push_ascii_upper(&message, &mut out);
                    assert_eq!(out, message.to_ascii_uppercase(), "{message:?}");
                }
            }
        }
    }

    #[rstest]
    fn ascii_fast_path_agrees_with_the_general_one(
        #[values("", "a", "Hello, World!", "racecar 12321", "~{|}`@[]^_ \t\r\x7f")] message: &str,
    ) {
        for transform in Transform::ALL {
            let (mut fast, mut general) = (Vec::new(), Vec::new());
            transform.apply_ascii(message.as_bytes(), &mut fast);
            transform.apply_text(message, &mut general);
            assert_eq!(fast, general, "{transform} of {message:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_without_output() {
        let mut out = Vec::new();
        let error = Transform::Upper.apply_bytes(b"ab\xffcd", &mut out);
        assert_eq!(error.map_err(|e| e.valid_up_to()), Err(2));
        assert!(out.is_empty());
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
