//! What the kernel says about a submission's processes and sockets (on Linux: `/proc`,
//! read with the procfs crate, and [`sock_diag`](super::sock_diag) for sockets): which
//! processes a program has become, which ports they listen on, whether they are running
//! or asleep, and killing them all.
//!
//! Being asleep is what several checks wait for instead of a fixed delay: a server that
//! is blocked in `recv` after accepting our connection will not greet us; a client
//! blocked in `recv` is waiting for our reply; a program whose every thread sleeps is not
//! spinning. Whether a process is asleep does not depend on how loaded the machine is;
//! how much CPU it got in a given second does.
//!
//! Elsewhere (not Linux) the answers are "unknown", and callers fall back to waiting.

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A TCP connection of this network namespace, as the kernel describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketEntry {
    /// Its inode, which names it in `/proc/PID/fd`.
    pub inode: u64,
    /// Bytes received that its owner has not read yet.
    pub unread: u32,
}

/// Sends SIGKILL to each of `pids` (those already gone are ignored).
pub fn kill_all(pids: &[i32]) {
    for &pid in pids {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Kills every process descended from this one, again and again until none is left or
/// `limit` has passed (a process may fork while its siblings are being killed). Returns
/// whether none is left.
pub fn kill_descendants(limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let left = descendants(std::process::id() as i32);
        if left.is_empty() {
            return true;
        }
        kill_all(&left);
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::{HashMap, HashSet};
    use std::net::SocketAddr;
    use std::time::Duration;

    use procfs::process::{FDTarget, Process};

    use super::SocketEntry;
    use crate::grade::sock_diag;

    /// One row of the process table.
    struct Entry {
        pid: i32,
        ppid: i32,
        pgrp: i32,
    }

    /// Every live (not zombie) process this process can see.
    fn table() -> Vec<Entry> {
        let Ok(all) = procfs::process::all_processes() else {
            return Vec::new();
        };
        all.filter_map(|p| p.ok()?.stat().ok())
            .filter(|stat| stat.state != 'Z' && stat.state != 'X')
            .map(|stat| Entry {
                pid: stat.pid,
                ppid: stat.ppid,
                pgrp: stat.pgrp,
            })
            .collect()
    }

    /// The live processes below `root` (not `root` itself) in the process tree.
    pub fn descendants(root: i32) -> Vec<i32> {
        tree_below(&table(), root)
    }

    fn tree_below(table: &[Entry], root: i32) -> Vec<i32> {
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        for entry in table {
            children.entry(entry.ppid).or_default().push(entry.pid);
        }
        let mut found = Vec::new();
        let mut next = vec![root];
        while let Some(pid) = next.pop() {
            for &child in children.get(&pid).into_iter().flatten() {
                found.push(child);
                next.push(child);
            }
        }
        found
    }

    /// The live processes of a program started as `root` in a process group of its own:
    /// `root`, its descendants, and whatever else is still in its group.
    pub fn members(root: i32) -> Vec<i32> {
        let table = table();
        let mut pids: Vec<i32> = table
            .iter()
            .filter(|e| e.pid == root || e.pgrp == root)
            .map(|e| e.pid)
            .collect();
        for pid in tree_below(&table, root) {
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        }
        pids
    }

    fn socket_inodes(pids: &[i32]) -> HashSet<u64> {
        pids.iter()
            .filter_map(|&pid| Process::new(pid).ok()?.fd().ok())
            .flatten()
            .filter_map(|fd| match fd.ok()?.target {
                FDTarget::Socket(inode) => Some(inode),
                _ => None,
            })
            .collect()
    }

    /// The TCP ports on which any of `pids` listens.
    pub fn listening_ports(pids: &[i32]) -> Vec<u16> {
        let inodes = socket_inodes(pids);
        let mut ports = Vec::new();
        for socket in sock_diag::listening().unwrap_or_default() {
            let port = socket.local.port();
            if inodes.contains(&socket.inode) && !ports.contains(&port) {
                ports.push(port);
            }
        }
        ports
    }

    /// True when a socket on local `port` has something queued for its owner: a
    /// connection to accept (a listening socket) or bytes to read.
    pub fn queued_on(port: u16) -> bool {
        sock_diag::listening_or_connected()
            .unwrap_or_default()
            .iter()
            .any(|s| s.local.port() == port && s.unread > 0)
    }

    /// True when one of `pids` has the socket `inode` open.
    pub fn holds_socket(pids: &[i32], inode: u64) -> bool {
        socket_inodes(pids).contains(&inode)
    }

    /// The socket whose local address is `local` and whose peer is `remote`.
    pub fn socket(local: SocketAddr, remote: SocketAddr) -> Option<SocketEntry> {
        let found = sock_diag::between(local, remote).ok()??;
        Some(SocketEntry {
            inode: found.inode,
            unread: found.unread,
        })
    }

    /// The CPU time the threads of `pids` have used (from their schedstat).
    pub fn cpu_time(pids: &[i32]) -> Option<Duration> {
        let mut total = Duration::ZERO;
        for &pid in pids {
            let Ok(tasks) = Process::new(pid).and_then(|p| p.tasks()) else {
                continue;
            };
            for task in tasks.flatten() {
                total += Duration::from_nanos(task.schedstat().ok()?.sum_exec_runtime);
            }
        }
        Some(total)
    }

    /// True when every thread of `pids` is blocked or stopped: none is running, ready to
    /// run, or waiting on the machine itself (state D, uninterruptible: reading from disk,
    /// say), which is no sign of waiting for anyone.
    pub fn all_asleep(pids: &[i32]) -> Option<bool> {
        for &pid in pids {
            let Ok(tasks) = Process::new(pid).and_then(|p| p.tasks()) else {
                continue;
            };
            for task in tasks.flatten() {
                if matches!(task.stat().ok()?.state, 'R' | 'D') {
                    return Some(false);
                }
            }
        }
        Some(true)
    }

    /// True when this machine's `/proc` and sock_diag answer the questions above. Asked
    /// once: the answer does not change, and callers ask in polling loops.
    pub fn available() -> bool {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            sock_diag::listening().is_ok() && Process::myself().and_then(|p| p.schedstat()).is_ok()
        })
    }
}

/// Elsewhere than Linux: every answer is "unknown".
#[cfg(not(target_os = "linux"))]
mod other {
    use std::net::SocketAddr;

    use super::SocketEntry;

    /// Not known here.
    pub fn descendants(_root: i32) -> Vec<i32> {
        Vec::new()
    }
    /// Only the program itself is known here.
    pub fn members(root: i32) -> Vec<i32> {
        vec![root]
    }
    /// Not known here.
    pub fn listening_ports(_pids: &[i32]) -> Vec<u16> {
        Vec::new()
    }
    /// Not known here.
    pub fn queued_on(_port: u16) -> bool {
        false
    }
    /// Not known here.
    pub fn holds_socket(_pids: &[i32], _inode: u64) -> bool {
        false
    }
    /// Not known here.
    pub fn socket(_local: SocketAddr, _remote: SocketAddr) -> Option<SocketEntry> {
        None
    }
    /// Not known here.
    pub fn cpu_time(_pids: &[i32]) -> Option<std::time::Duration> {
        None
    }
    /// Not known here.
    pub fn all_asleep(_pids: &[i32]) -> Option<bool> {
        None
    }
    /// `/proc` does not answer here.
    pub fn available() -> bool {
        false
    }
}

#[cfg(target_os = "linux")]
pub use linux::{
    all_asleep, available, cpu_time, descendants, holds_socket, listening_ports, members,
    queued_on, socket,
};
#[cfg(not(target_os = "linux"))]
pub use other::{
    all_asleep, available, cpu_time, descendants, holds_socket, listening_ports, members,
    queued_on, socket,
};

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn finds_the_port_this_process_listens_on() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert!(listening_ports(&[std::process::id() as i32]).contains(&port));
    }

    #[test]
    fn finds_both_ends_of_a_connection_and_what_is_unread() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        std::io::Write::write_all(&mut &server, b"hello").expect("write");
        let local = client.local_addr().expect("local");
        let remote = client.peer_addr().expect("peer");
        let deadline = Instant::now() + Duration::from_secs(10);
        let entry = loop {
            let entry = socket(local, remote).expect("the client's socket is listed");
            if entry.unread == 5 || Instant::now() > deadline {
                break entry;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(entry.unread, 5);
        assert!(holds_socket(&[std::process::id() as i32], entry.inode));
    }

    #[test]
    fn a_sleeping_child_is_asleep_and_uses_no_cpu() {
        use std::io::{BufRead, BufReader, Write};
        use std::process::Stdio;
        // cat echoes a line once it has started, then waits for the next: from then on it
        // sleeps in read() and uses no CPU (a `sleep` child could still be starting up).
        let mut child = std::process::Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cat");
        let mut input = child.stdin.take().expect("cat's stdin");
        let mut output = BufReader::new(child.stdout.take().expect("cat's stdout"));
        writeln!(input, "ready").expect("writing to cat");
        let mut echoed = String::new();
        output.read_line(&mut echoed).expect("reading from cat");
        let pid = child.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(10);
        while all_asleep(&[pid]) != Some(true) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let before = cpu_time(&[pid]).expect("schedstat");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(cpu_time(&[pid]), Some(before));
        assert!(descendants(std::process::id() as i32).contains(&pid));
        kill_all(&[pid]);
        let _ = child.wait();
    }
}
