//! The file server (the handout's second "going further" idea): every file under the
//! root comes back byte for byte, and nothing outside the root is ever served.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use cap_std::{ambient_authority, fs::Dir};
use netlab::further::files::{serve_connection, FileServerConfig};
use predicates::prelude::*;
use rstest::rstest;

#[cfg(target_os = "linux")]
use crate::support::unanswering_listener;
use crate::support::{
    fixture, free_port, net_client_to_program, non_reading_client, program, scripted_server,
    AfterReply, Peer, Server, TEST_TIMEOUT,
};

const SECRET: &str = "TOP SECRET: the answers to the final exam";

/// A served directory made for one test: a copy of `fixtures/files`, plus links and
/// special files that try to lead out of it, next to a secret file that must never be
/// served.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temporary directory");
        fs::write(dir.path().join("secret.txt"), SECRET).expect("secret");
        let root = dir.path().join("root");
        netlab::grade::copy_dir(&fixture("files"), &root).expect("copy the fixture tree");
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink("../secret.txt", root.join("escape")).expect("symlink");
            symlink("..", root.join("up")).expect("symlink");
            symlink("/dev/null", root.join("devnull")).expect("symlink");
            symlink("hello.txt", root.join("alias.txt")).expect("symlink");
            let status = Command::new("mkfifo").arg(root.join("pipe")).status();
            assert!(status.is_ok_and(|s| s.success()), "mkfifo failed");
        }
        Sandbox { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn start(&self, extra: &[&str]) -> Server {
        let root = self.root();
        Server::start_with(|port| {
            let mut cmd = Command::new(program("net_file_server"));
            cmd.arg("--root").arg(&root);
            cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
            cmd.args(extra);
            cmd
        })
    }
}

fn file_client(server: &Server) -> assert_cmd::Command {
    net_client_to_program("net_file_client", server.port)
}

#[rstest]
#[case::text("hello.txt")]
#[case::nested("notes/week1.txt")]
#[case::deeply_nested("notes/deeper/todo.txt")]
#[case::empty("empty.txt")]
#[case::binary("binary.bin")]
#[case::link_inside_the_root("alias.txt")]
#[timeout(TEST_TIMEOUT)]
fn every_file_comes_back_byte_for_byte(#[case] name: &str) {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&[]);
    let expected = fs::read(sandbox.root().join(name)).expect("fixture");
    file_client(&server)
        .arg(name)
        .assert()
        .success()
        .stdout(expected);
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_large_generated_file_is_saved_intact_and_streamed() {
    let sandbox = Sandbox::new();
    let big: Vec<u8> = (0..40_000_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(sandbox.root().join("big.bin"), &big).expect("big file");
    let server = sandbox.start(&["-q"]);
    let saved = sandbox.dir.path().join("saved.bin");
    file_client(&server)
        .args(["big.bin", "--output"])
        .arg(&saved)
        .assert()
        .success()
        .stdout("");
    assert!(
        fs::read(&saved).expect("saved file") == big,
        "the saved copy differs"
    );
    crate::hostile_input::assert_peak_memory_below(&server, 16 * 1024 * 1024);
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn one_connection_carries_several_requests() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&[]);
    let mut peer = server.connect();
    peer.send(b"hello.txt\r\nempty.txt\nmissing.txt\nhello.txt\n");
    peer.expect_line("OK 28");
    assert_eq!(peer.read_bytes(28), b"Hello from the file server!\n");
    peer.expect_line("OK 0");
    peer.expect_line("ERR not found");
    peer.expect_line("OK 28");
    assert_eq!(peer.read_bytes(28), b"Hello from the file server!\n");
}

#[rstest]
#[case::absolute_path(b"/etc/passwd", "ERR forbidden: absolute name")]
#[case::parent_directory(b"../secret.txt", "ERR forbidden: '..' in name")]
#[case::parent_in_the_middle(b"notes/../../secret.txt", "ERR forbidden: '..' in name")]
#[case::symlink_to_outside(b"escape", "ERR forbidden: leads outside the served directory")]
#[case::through_a_symlinked_dir(
    b"up/secret.txt",
    "ERR forbidden: leads outside the served directory"
)]
#[case::symlink_to_a_device(b"devnull", "ERR forbidden: leads outside the served directory")]
#[case::fifo(b"pipe", "ERR forbidden: not a regular file")]
#[case::directory(b"notes", "ERR is a directory")]
#[case::root_itself(b".", "ERR is a directory")]
#[case::nul_in_name(b"hello.txt\0.png", "ERR forbidden: NUL in name")]
#[case::not_utf8(b"caf\xe9.txt", "ERR forbidden: name is not UTF-8")]
#[case::empty_name(b"", "ERR forbidden: empty name")]
#[case::missing(b"nothing-here.txt", "ERR not found")]
#[timeout(TEST_TIMEOUT)]
fn escape_attempts_are_refused(#[case] name: &[u8], #[case] reply: &str) {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&[]);
    let mut peer = server.connect();
    peer.send(&[name, b"\n"].concat());
    peer.expect_line(reply);
    // The connection and the server are fine afterwards.
    peer.send(b"hello.txt\n").expect_line("OK 28");
    drop(peer);
    file_client(&server).arg("hello.txt").assert().success();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn an_over_long_name_is_refused() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&[]);
    let mut peer = server.connect();
    peer.send(&[&[b'a'; 5000][..], b"\n"].concat());
    peer.expect_line("ERR forbidden: name too long");
    peer.send(b"hello.txt\n").expect_line("OK 28");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn nothing_outside_the_root_is_ever_served() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&[]);
    let attempts = [
        "../secret.txt",
        "escape",
        "up/secret.txt",
        "/tmp/../secret.txt",
        "./../secret.txt",
        "notes/../../secret.txt",
        "up/root/escape",
        "notes/../escape",
    ];
    let output = file_client(&server).args(attempts).assert().failure();
    let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    assert!(
        !stdout.contains("TOP SECRET"),
        "the secret leaked:\n{stdout}"
    );
    assert_eq!(stdout, "", "nothing should have been served");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn files_over_the_size_limit_are_refused() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&["--max-file-size", "1000"]);
    file_client(&server)
        .arg("binary.bin")
        .assert()
        .code(1)
        .stdout("")
        .stderr("net_file_client: binary.bin: too large (1031 bytes; the limit is 1000)\n");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_reports_a_missing_file_and_fetches_the_rest() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&[]);
    file_client(&server)
        .args(["missing.txt", "hello.txt"])
        .assert()
        .code(1)
        .stdout("Hello from the file server!\n")
        .stderr("net_file_client: missing.txt: not found\n");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_silent_client_does_not_block_others() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&[]);
    let mut silent = server.connect();
    silent.send(b"hello"); // half a name, then nothing
    file_client(&server).arg("hello.txt").assert().success();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn clients_that_stop_reading_are_disconnected_and_others_are_served() {
    const STUCK: usize = 64; // as many as the server has workers
    let sandbox = Sandbox::new();
    fs::write(sandbox.root().join("big.bin"), vec![7; 20 * 1024 * 1024]).expect("big file");
    let server = sandbox.start(&["--idle-timeout", "0.5"]);
    let _stuck: Vec<_> = (0..STUCK)
        .map(|_| {
            let mut client = non_reading_client(server.addr());
            client.write_all(b"big.bin\n").expect("request");
            client
        })
        .collect();
    server.wait_for_output_times("closed: the client stopped reading", STUCK);
    file_client(&server).arg("hello.txt").assert().success();
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_root_that_does_not_exist_is_reported() {
    assert_cmd::Command::new(program("net_file_server"))
        .args(["--root", "/no/such/dir", "--port", "0"])
        .timeout(crate::support::STEP_TIMEOUT)
        .assert()
        .code(1)
        .stderr("net_file_server: cannot serve /no/such/dir: No such file or directory\n");
}

/// Serves `root` from this process on a port of its own, for one connection.
fn serve_in_process(root: &std::path::Path) -> Peer {
    let config = FileServerConfig {
        root: Dir::open_ambient_dir(root, ambient_authority()).expect("open the root"),
        max_file_size: 1024 * 1024,
        quiet: true,
        idle_timeout: None,
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    thread::spawn(move || {
        if let Ok((stream, peer)) = listener.accept() {
            serve_connection(stream, peer, &config);
        }
    });
    Peer::connect(addr)
}

/// Swaps `root/d` for a link to `outside` and back, again and again, until told to stop.
/// Returns how many times it swapped.
#[cfg(unix)]
fn keep_swapping(root: PathBuf, outside: PathBuf, stop: Arc<AtomicBool>) -> u64 {
    let (dir, parked) = (root.join("d"), root.join("d.real"));
    let mut swaps = 0;
    loop {
        fs::rename(&dir, &parked).expect("park the directory");
        std::os::unix::fs::symlink(&outside, &dir).expect("link to the outside");
        fs::remove_file(&dir).expect("remove the link");
        fs::rename(&parked, &dir).expect("restore the directory");
        swaps += 1;
        if stop.load(Ordering::Relaxed) {
            return swaps;
        }
    }
}

#[cfg(unix)]
#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_directory_swapped_for_a_link_to_the_outside_never_leaks() {
    const REQUESTS: usize = 3000;
    let dir = tempfile::tempdir().expect("temporary directory");
    let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
    fs::create_dir_all(root.join("d")).expect("inside directory");
    fs::write(root.join("d/file.txt"), "inside\n").expect("inside file");
    fs::create_dir_all(&outside).expect("outside directory");
    fs::write(outside.join("file.txt"), SECRET).expect("outside file");
    let mut peer = serve_in_process(&root);
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (root, stop) = (root.clone(), Arc::clone(&stop));
        thread::spawn(move || keep_swapping(root, outside, stop))
    };
    let mut replies = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..REQUESTS {
        let header = peer.send(b"d/file.txt\n").read_line();
        if let Some(size) = header.strip_prefix("OK ") {
            let bytes = peer.read_bytes(size.parse().expect("a size"));
            if bytes != b"inside\n" {
                peer.fail(&format!(
                    "served bytes from outside the root: {:?}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
        }
        *replies.entry(header).or_default() += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().expect("the swapping thread");
    let allowed = [
        "OK 7",
        "ERR not found",
        "ERR forbidden: leads outside the served directory",
    ];
    assert!(
        replies
            .keys()
            .all(|header| allowed.contains(&header.as_str())),
        "unexpected replies over {swaps} swaps: {replies:?}"
    );
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_names_the_file_server_when_none_is_running() {
    let port = free_port();
    net_client_to_program("net_file_client", port)
        .arg("hello.txt")
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "net_file_client: cannot connect to 127.0.0.1:{port}: Connection refused (is net_file_server running?)\n"
        ));
}

#[rstest]
#[case::silent(b"", "no reply within 0.3s (see --timeout)", "")]
#[case::stalled_mid_file(
    b"OK 100\nfirst ten.",
    "the transfer stalled: nothing for 0.3s after 10 of 100 bytes (see --timeout)",
    "first ten."
)]
#[timeout(TEST_TIMEOUT)]
fn client_gives_up_on_a_server_that_stops_answering(
    #[case] reply: &'static [u8],
    #[case] complaint: &str,
    #[case] printed: &str,
) {
    let server = scripted_server(reply, AfterReply::Hang);
    net_client_to_program("net_file_client", server.port())
        .args(["--timeout", "0.3", "hello.txt"])
        .assert()
        .code(1)
        .stdout(printed.to_string())
        .stderr(format!("net_file_client: hello.txt: {complaint}\n"));
}

#[cfg(target_os = "linux")]
#[rstest]
#[timeout(TEST_TIMEOUT)]
fn client_gives_up_on_a_connection_that_is_never_accepted() {
    let (addr, _listener, _queued) = unanswering_listener();
    net_client_to_program("net_file_client", addr.port())
        .args(["--timeout", "0.3", "hello.txt"])
        .assert()
        .code(1)
        .stderr(format!(
            "net_file_client: cannot connect to 127.0.0.1:{}: connection timed out\n",
            addr.port()
        ));
}

#[rstest]
#[case::line_feed("a.txt\nb.bin")]
#[case::carriage_return("a.txt\rb.bin")]
#[timeout(TEST_TIMEOUT)]
fn client_refuses_a_name_that_would_be_two_requests(#[case] name: &str) {
    // Nothing listens on the port: the name must be refused before any connection.
    net_client_to_program("net_file_client", free_port())
        .arg(name)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "a file name cannot contain a line break or NUL",
        ));
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn text_from_the_server_is_shown_with_control_characters_escaped() {
    let server = scripted_server(b"ERR \x1b]0;pwned\x07\x1b[2Jgone\n", AfterReply::Close);
    net_client_to_program("net_file_client", server.port())
        .arg("hello.txt")
        .assert()
        .code(1)
        .stderr("net_file_client: hello.txt: \\x1b]0;pwned\\x07\\x1b[2Jgone\n");
}

/// The ways a transfer into `--output` can fail.
#[derive(Clone, Copy, Debug)]
enum FailedTransfer {
    Refused,
    CutShort,
    Stalled,
}

#[rstest]
#[case::refused(FailedTransfer::Refused)]
#[case::cut_short(FailedTransfer::CutShort)]
#[case::stalled(FailedTransfer::Stalled)]
#[timeout(TEST_TIMEOUT)]
fn a_failed_save_leaves_the_existing_file_untouched(#[case] failure: FailedTransfer) {
    let half = b"OK 100\nonly ten b";
    let port = match failure {
        FailedTransfer::Refused => scripted_server(b"ERR not found\n", AfterReply::Close),
        FailedTransfer::CutShort => scripted_server(half, AfterReply::Close),
        FailedTransfer::Stalled => scripted_server(half, AfterReply::Hang),
    }
    .port();
    let dir = tempfile::tempdir().expect("temporary directory");
    let saved = dir.path().join("notes.txt");
    fs::write(&saved, "the old notes\n").expect("existing file");
    net_client_to_program("net_file_client", port)
        .args(["--timeout", "0.3", "notes.txt", "--output"])
        .arg(&saved)
        .assert()
        .code(1)
        .stdout("");
    assert_eq!(
        fs::read_to_string(&saved).expect("the file is still there"),
        "the old notes\n"
    );
    let left: Vec<_> = fs::read_dir(dir.path())
        .expect("list the folder")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(left, ["notes.txt"], "temporary files were left behind");
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn a_successful_save_replaces_the_existing_file() {
    let sandbox = Sandbox::new();
    let server = sandbox.start(&[]);
    let saved = sandbox.dir.path().join("hello.txt");
    fs::write(&saved, "an older, longer version of the file\n").expect("existing file");
    file_client(&server)
        .args(["hello.txt", "--output"])
        .arg(&saved)
        .assert()
        .success();
    assert_eq!(
        fs::read_to_string(&saved).expect("saved file"),
        "Hello from the file server!\n"
    );
}

#[rstest]
#[case::client_timeout("net_file_client", &["--timeout", "0", "hello.txt"])]
#[case::server_idle_timeout(
    "net_file_server",
    &["--root", ".", "--port", "0", "--idle-timeout", "0"]
)]
#[timeout(TEST_TIMEOUT)]
fn zero_durations_are_refused(#[case] name: &str, #[case] args: &[&str]) {
    assert_cmd::Command::new(program(name))
        .args(args)
        .timeout(crate::support::STEP_TIMEOUT)
        .assert()
        .code(2)
        .stdout("");
}
