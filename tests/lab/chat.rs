//! Chat (the handout's third "going further" idea): two people sending and receiving at
//! once, and a room where everyone hears everyone else.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use rstest::rstest;

use crate::support::{
    free_port, non_reading_client, program, Pace, Peer, Server, STEP_TIMEOUT, TEST_TIMEOUT,
};

/// A `net_chat` process with a keyboard (its stdin) and a screen (its stdout) that the
/// test controls. Killed on drop.
struct ChatProcess {
    child: Child,
    keyboard: Option<ChildStdin>,
    screen: Receiver<String>,
    seen: Vec<String>,
}

impl ChatProcess {
    fn start(args: &[&str]) -> ChatProcess {
        let mut child = Command::new(program("net_chat"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn net_chat");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, screen) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        ChatProcess {
            keyboard: child.stdin.take(),
            child,
            screen,
            seen: Vec::new(),
        }
    }

    /// Types a line.
    fn say(&mut self, text: &str) {
        let keyboard = self.keyboard.as_mut().expect("the keyboard is still open");
        writeln!(keyboard, "{text}").expect("typing");
    }

    /// Presses Ctrl-D.
    fn end_input(&mut self) {
        self.keyboard = None;
    }

    /// Waits for a screen line starting with `start`, failing with everything seen.
    fn expect_line(&mut self, start: &str) -> String {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.screen.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(start) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "net_chat never printed {start:?}; it printed {:#?}",
                    self.seen
                ),
            }
        }
    }

    fn expect_exit_success(&mut self) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(
                    status.success(),
                    "net_chat exited with {status}; saw {:#?}",
                    self.seen
                );
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("net_chat did not exit; it printed {:#?}", self.seen);
    }
}

impl Drop for ChatProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A listening net_chat and a net_chat connected to it.
fn two_people() -> (ChatProcess, ChatProcess) {
    let mut listening = ChatProcess::start(&["--listen", "--bind", "127.0.0.1", "--port", "0"]);
    let announced = listening.expect_line("listening on ");
    let port = announced.rsplit(':').next().expect("a port").to_string();
    let mut connecting = ChatProcess::start(&["127.0.0.1", "--port", &port]);
    connecting.expect_line("* connected to 127.0.0.1");
    listening.expect_line("* 127.0.0.1:");
    (listening, connecting)
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn two_people_talk_in_both_directions_at_once() {
    let (mut ann, mut bob) = two_people();
    // Both type before either reads: each side must send and receive at the same time.
    for n in 0..3 {
        ann.say(&format!("ann says {n}"));
        bob.say(&format!("bob says {n}"));
    }
    for n in 0..3 {
        bob.expect_line(&format!("ann says {n}"));
        ann.expect_line(&format!("bob says {n}"));
    }
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn ending_input_tells_the_other_side_who_exits_without_waiting_for_its_own_input() {
    let (mut ann, mut bob) = two_people();
    ann.say("bye");
    bob.expect_line("bye");
    ann.end_input();
    ann.expect_line("* closed");
    ann.expect_exit_success();
    // Bob's keyboard is still open: net_chat must not sit waiting on it.
    bob.expect_line("* the other side left");
    bob.expect_exit_success();
}

#[cfg(unix)]
#[rstest]
#[timeout(TEST_TIMEOUT)]
fn ctrl_c_on_one_side_is_reported_on_the_other() {
    let (ann, mut bob) = two_people();
    let status = Command::new("kill")
        .args(["-INT", &ann.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    bob.expect_line("* the other side left");
    bob.expect_exit_success();
    drop(ann);
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn net_chat_shows_control_characters_from_the_other_side_as_escapes() {
    let mut listening = ChatProcess::start(&["--listen", "--bind", "127.0.0.1", "--port", "0"]);
    let announced = listening.expect_line("listening on ");
    let addr = announced
        .trim_start_matches("listening on ")
        .parse()
        .expect("an address");
    let mut other_side = Peer::connect(addr);
    other_side.send(b"\x1b]0;pwned\x07\x1b[2Jgotcha\ttabbed\n");
    listening.expect_line("\\x1b]0;pwned\\x07\\x1b[2Jgotcha\ttabbed");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn net_chat_names_the_chat_programs_when_nothing_listens() {
    let port = free_port().to_string();
    assert_cmd::Command::new(program("net_chat"))
        .args(["127.0.0.1", "--port", &port])
        .timeout(STEP_TIMEOUT)
        .assert()
        .code(1)
        .stderr(format!(
            "net_chat: cannot connect to 127.0.0.1:{port}: Connection refused \
             (is net_chat --listen or net_chat_server running?)\n"
        ));
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn net_chat_refuses_bind_without_listen() {
    assert_cmd::Command::new(program("net_chat"))
        .args(["--bind", "127.0.0.1", "localhost"])
        .timeout(STEP_TIMEOUT)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "the argument '--bind <ADDR>' cannot be used with '[HOST]'",
        ));
}

fn chat_room() -> Server {
    chat_room_with(&[])
}

fn chat_room_with(args: &[&str]) -> Server {
    Server::start_with(|port| {
        let mut cmd = Command::new(program("net_chat_server"));
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
        cmd.args(args);
        cmd
    })
}

/// Connects to the room and takes the nickname `nick`.
fn join(room: &Server, nick: &str) -> Peer {
    let mut peer = room.connect();
    peer.expect_line("* welcome! send your nickname");
    peer.send(format!("{nick}\n").as_bytes());
    let welcome = peer.read_line();
    if !welcome.starts_with(&format!("* you are {nick}; here: ")) {
        peer.fail(&format!("unexpected welcome {welcome:?}"));
    }
    peer
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn the_room_relays_every_line_to_everyone_else_in_order() {
    let room = chat_room();
    let mut ann = join(&room, "ann");
    let mut bob = join(&room, "bob");
    ann.expect_line("* bob joined");
    let mut cat = join(&room, "cat");
    ann.expect_line("* cat joined");
    bob.expect_line("* cat joined");

    ann.send(b"one\ntwo\nthree\n");
    for listener in [&mut bob, &mut cat] {
        listener
            .expect_line("ann: one")
            .expect_line("ann: two")
            .expect_line("ann: three");
    }
    bob.send(b"hi ann\n");
    ann.expect_line("bob: hi ann");
    cat.expect_line("bob: hi ann");

    drop(cat);
    ann.expect_line("* cat left");
    bob.expect_line("* cat left");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn the_room_refuses_bad_nicknames_until_a_good_one_comes() {
    let room = chat_room();
    let _ann = join(&room, "Ann");
    let _anna = join(&room, "Ännä");
    let mut peer = room.connect();
    peer.expect_line("* welcome! send your nickname");
    let invisible = "it contains an invisible or control character";
    let refusals: [(&str, String); 10] = [
        ("\n", "it is empty".into()),
        (
            "a-very-long-nickname-indeed\n",
            "it is longer than 20 characters".into(),
        ),
        ("bell\x07\n", invisible.into()),
        ("zero\u{200b}width\n", invisible.into()),
        ("evil\u{202e}txt.exe\n", invisible.into()),
        ("a:b\n", "it contains ':'".into()),
        ("ann\n", "ann is taken".into()),
        ("ÄNNÄ\n", "ÄNNÄ is taken".into()),
        ("A\u{308}nna\u{308}\n", "A\u{308}nna\u{308} is taken".into()),
        ("ＡＮＮ\n", "ＡＮＮ is taken".into()),
    ];
    for (nick, why) in refusals {
        peer.send(nick.as_bytes())
            .expect_line(&format!("* nickname refused: {why}; try another"));
    }
    peer.send("Zoë\n".as_bytes())
        .expect_line("* you are Zoë; here: Ann, Ännä");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn over_long_lines_and_invalid_utf8_are_handled() {
    let room = chat_room();
    let mut ann = join(&room, "ann");
    let mut bob = join(&room, "bob");
    ann.expect_line("* bob joined");
    ann.send(&[&[b'x'; 5000][..], b"\n"].concat());
    ann.expect_line("* your line of 5000 bytes was not sent (the limit is 4096)");
    ann.send(b"caf\xe9\n");
    bob.expect_line("ann: caf\u{fffd}");
}

/// Joins the room as `nick` with a client that will never read anything.
fn join_without_reading(room: &Server, nick: &str) -> TcpStream {
    let mut stuck = non_reading_client(room.addr());
    stuck
        .write_all(format!("{nick}\n").as_bytes())
        .expect("send the nickname");
    stuck
}

/// Sends `lines` from a thread of its own: the room may slow the sender down.
fn send_in_background(peer: &Peer, lines: &[String]) -> thread::JoinHandle<()> {
    let mut stream = peer.writer();
    let bytes = lines
        .iter()
        .map(|line| format!("{line}\n"))
        .collect::<String>();
    thread::spawn(move || stream.write_all(bytes.as_bytes()).expect("send the lines"))
}

/// Checks that `received` holds exactly `from`'s lines `sent`, in order, and otherwise
/// only the `notices`.
fn assert_received(who: &str, received: &[String], from: &[(&str, &[String])], notices: &[&str]) {
    let mut rest: Vec<&str> = received.iter().map(String::as_str).collect();
    for (nick, sent) in from {
        let prefix = format!("{nick}: ");
        let got: Vec<&str> = rest
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect();
        let expected: Vec<&str> = sent.iter().map(String::as_str).collect();
        if got != expected {
            let lost = expected.iter().filter(|line| !got.contains(line)).count();
            panic!(
                "{who} got {} of {nick}'s {} lines ({lost} missing), or out of order; first got {:?}",
                got.len(),
                expected.len(),
                got.first()
            );
        }
        rest.retain(|l| !l.starts_with(&prefix));
    }
    assert_eq!(rest, notices, "{who} got these other lines");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_burst_reaches_every_reader_and_only_a_member_who_never_reads_is_disconnected() {
    const BURST: usize = 10_000;
    const TALK: usize = 100;
    let room = chat_room_with(&["--max-backlog", "32768", "--stall-timeout", "1"]);
    let mut ann = join(&room, "ann"); // sends the burst, and reads
    let mut fast = join(&room, "fast");
    let mut slow = join(&room, "slow"); // takes 4 KiB every 10 ms
    let mut cat = join(&room, "cat"); // talks during the burst
    let _stuck = join_without_reading(&room, "stuck");
    ann.expect_line("* fast joined");
    for peer in [&mut ann, &mut fast] {
        peer.expect_line("* slow joined");
    }
    for peer in [&mut ann, &mut fast, &mut slow] {
        peer.expect_line("* cat joined");
    }
    for peer in [&mut ann, &mut fast, &mut slow, &mut cat] {
        peer.expect_line("* stuck joined");
    }

    let burst: Vec<String> = (0..BURST)
        .map(|n| format!("burst {n:05} {}", "x".repeat(18)))
        .collect();
    let talk: Vec<String> = (0..TALK).map(|n| format!("cat talks {n}")).collect();
    let notice = "* stuck was disconnected: not reading";
    let sender = send_in_background(&ann, &burst);
    cat.expect_line(&format!("ann: {}", burst[0]));
    cat.send(
        talk.iter()
            .map(|line| format!("{line}\n"))
            .collect::<String>()
            .as_bytes(),
    );
    let slowly = Pace::Slow {
        chunk: 4096,
        pause: Duration::from_millis(10),
    };
    let ann_got = ann.read_lines_in_background(TALK + 1, Pace::Fast);
    let fast_got = fast.read_lines_in_background(BURST + TALK + 1, Pace::Fast);
    let slow_got = slow.read_lines_in_background(BURST + TALK + 1, slowly);
    let cat_got = cat.read_lines_in_background(BURST, Pace::Fast);

    let everything: [(&str, &[String]); 2] = [("ann", &burst), ("cat", &talk)];
    for (who, got) in [("fast", fast_got), ("slow", slow_got)] {
        assert_received(who, &got.join().expect(who), &everything, &[notice]);
    }
    let ann_got = ann_got.join().expect("ann");
    assert_received("ann", &ann_got, &[("cat", &talk)], &[notice]);
    let cat_got = cat_got.join().expect("cat");
    assert_received("cat", &cat_got, &[("ann", &burst[1..])], &[notice]);
    sender.join().expect("the burst was sent whole");
    room.wait_for_output("stuck read nothing of a full backlog for 1.0s: disconnected");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_member_who_stops_reading_is_disconnected_after_the_stall_timeout_not_before() {
    let room = chat_room_with(&["--max-backlog", "1024", "--stall-timeout", "0.5"]);
    let mut ann = join(&room, "ann");
    let _stuck = join_without_reading(&room, "stuck");
    ann.expect_line("* stuck joined");
    let started = Instant::now();
    let burst: Vec<String> = (0..2000).map(|n| format!("{n:099}")).collect();
    let sender = send_in_background(&ann, &burst);
    ann.expect_line("* stuck was disconnected: not reading");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "disconnected after {waited:?}, before the stall timeout"
    );
    sender.join().expect("the burst was sent whole");
    let mut bob = join(&room, "bob");
    bob.send(b"hello\n");
    ann.expect_line("* bob joined").expect_line("bob: hello");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn control_characters_are_relayed_as_escapes() {
    let room = chat_room();
    let mut ann = join(&room, "ann");
    let mut bob = join(&room, "bob");
    ann.expect_line("* bob joined");
    ann.send(b"\x1b]0;pwned\x07\x1b[2Jgotcha\rtab\there\xc2\x9b6n\n");
    bob.expect_line("ann: \\x1b]0;pwned\\x07\\x1b[2Jgotcha\\x0dtab\there\\u{9b}6n");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_zero_stall_timeout_is_refused() {
    assert_cmd::Command::new(program("net_chat_server"))
        .args(["--port", "0", "--stall-timeout", "0"])
        .timeout(STEP_TIMEOUT)
        .assert()
        .code(2)
        .stdout("");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn net_chat_can_join_the_room() {
    let room = chat_room();
    let mut ann = join(&room, "ann");
    let mut bob = ChatProcess::start(&["127.0.0.1", "--port", &room.port.to_string()]);
    bob.expect_line("* welcome! send your nickname");
    bob.say("bob");
    bob.expect_line("* you are bob; here: ann");
    ann.expect_line("* bob joined");
    bob.say("hello room");
    ann.expect_line("bob: hello room");
    ann.send(b"hello bob\n");
    bob.expect_line("ann: hello bob");
    bob.end_input();
    ann.expect_line("* bob left");
}
