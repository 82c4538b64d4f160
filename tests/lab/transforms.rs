//! "For each message it receives, it will reply back with a modified version of the
//! message": every transform, on awkward inputs, through the real programs.

use std::collections::HashSet;

use rstest::rstest;

use crate::support::{Server, TEST_TIMEOUT};

#[rstest]
#[case::tagged_word("tagged", "hello", "[5] olleh")]
#[case::tagged_empty("tagged", "", "[0] ")]
#[case::tagged_palindrome("tagged", "racecar", "[7] racecar")]
#[case::tagged_digits("tagged", "2024", "[4] 4202")]
#[case::tagged_unicode("tagged", "Grüße", "[5] eßürG")]
#[case::upper_word("upper", "hello", "HELLO")]
#[case::upper_sharp_s("upper", "straße", "STRASSE")]
#[case::upper_greek("upper", "αβγ", "ΑΒΓ")]
#[case::upper_digits("upper", "12345", "12345")]
#[case::upper_empty("upper", "", "")]
#[case::reverse_word("reverse", "hello", "olleh")]
#[case::reverse_palindrome("reverse", "level", "level")]
#[case::reverse_keeps_accents_whole("reverse", "noe\u{308}l", "le\u{308}on")]
#[case::reverse_keeps_flags_whole("reverse", "a🇫🇷b", "b🇫🇷a")]
#[case::rot13_word("rot13", "Hello, World!", "Uryyb, Jbeyq!")]
#[case::rot13_digits("rot13", "2024", "2024")]
#[case::rot13_unicode("rot13", "café", "pnsé")]
#[case::length_word("length", "hello", "5")]
#[case::length_counts_characters_not_bytes("length", "héllo wörld", "11")]
#[case::length_empty("length", "", "0")]
#[timeout(TEST_TIMEOUT)]
fn server_replies_with_the_transformed_message(
    #[case] transform: &str,
    #[case] message: &str,
    #[case] reply: &str,
) {
    let server = Server::start(&["--transform", transform]);
    server
        .client()
        .args(["--replies-only", "--", message])
        .assert()
        .success()
        .stdout(format!("{reply}\n"));
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn upper_of_hello_is_exactly_hello_in_capitals() {
    let server = Server::start(&["-t", "upper"]);
    server
        .client()
        .args(["--replies-only", "hello"])
        .assert()
        .success()
        .stdout("HELLO\n");
}

/// The handout: "make sure that the data you send back is not the same every single time,
/// and that it is based on the data you received". The default goes further: it never
/// echoes a message unchanged, even the ones other transforms leave alone.
#[rstest]
#[timeout(TEST_TIMEOUT)]
fn default_reply_never_equals_the_message_and_depends_on_it() {
    let server = Server::start(&[]);
    let mut peer = server.connect();
    let messages = [
        "", "a", "7", "12321", "racecar", "level", "ABC", "[0] ", "[1] a", "ß", " ", "\t", "🦀",
        "hello", "hello!", "Hello",
    ];
    let mut replies = HashSet::new();
    for message in messages {
        peer.send(format!("{message}\n").as_bytes());
        let reply = peer.read_line();
        if reply == message {
            peer.fail(&format!("the reply to {message:?} is the message itself"));
        }
        replies.insert(reply);
    }
    assert_eq!(
        replies.len(),
        messages.len(),
        "different messages got the same reply"
    );
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn server_help_lists_every_transform() {
    let assert = assert_cmd::Command::new(crate::support::program("net_server"))
        .arg("--help")
        .assert()
        .success();
    let help = String::from_utf8_lossy(&assert.get_output().stdout);
    for name in ["tagged", "upper", "reverse", "rot13", "length"] {
        assert!(
            help.contains(name),
            "--help does not mention {name}:\n{help}"
        );
    }
}
