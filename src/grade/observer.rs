//! Our own server, put on the port a student's client expects, watching how the client
//! behaves: how many messages it sends, whether it waits for each reply, whether it
//! closes.
//!
//! Whether the client waits is seen without slowing a client that does: each of the
//! first few replies is held back only until the client is blocked (waiting for it) or
//! sends more (not waiting), and a message that arrives while one of those replies lies
//! unread in the client's socket was sent without reading it. Later replies go out at
//! once (a message already there when one is sent still counts as early), so a client
//! of a thousand messages runs at full speed. Where `/proc` cannot tell (not Linux), the
//! first few replies are held back a fixed moment instead.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::lab::frame::{Frame, FrameLimits, FrameReader};
use crate::lab::transform::Transform;
use crate::report::peer_hung_up;

use super::processes;

/// The longest a reply is held back while the client is still running: a client that
/// neither blocks nor sends more in this time is busy elsewhere, and gets its reply.
const HOLD_LIMIT: Duration = Duration::from_millis(250);

/// How many replies are held back (and checked for being read before the next message).
const HELD_REPLIES: usize = 5;

/// Without `/proc`: how long each held reply is held back.
const FIXED_HOLD: Duration = Duration::from_millis(100);

/// How often the client's processes are looked up again (it may fork).
const MEMBERS_REFRESH: Duration = Duration::from_millis(100);

/// What the observer saw on one connection.
#[derive(Debug, Default, Clone)]
pub struct Connection {
    /// Each message, and why it was sent without waiting for the previous reply, if so.
    pub messages: Vec<(String, Option<Early>)>,
    /// The replies sent.
    pub replies: Vec<String>,
    /// Whether the client closed the connection (rather than leaving it open).
    pub closed: bool,
    /// Whether the observer is done with the connection.
    pub finished: bool,
}

/// How a message showed that the client did not wait for the reply before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Early {
    /// It arrived before the reply was sent.
    BeforeReply,
    /// It arrived while the reply lay unread in the client's socket.
    ReplyUnread,
}

/// The client being watched: its process, and its processes as last looked up.
#[derive(Default)]
struct Client {
    root: Option<i32>,
    members: Vec<i32>,
    looked_up: Option<Instant>,
}

/// Everything the observer's threads share.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    events: AtomicU64,
    /// Messages received and not answered yet: while there are any, the client waits for
    /// us.
    unanswered: AtomicUsize,
    seen: Mutex<Vec<Arc<Mutex<Connection>>>>,
    client: Mutex<Client>,
}

impl Shared {
    /// Whether every process of the client is blocked; `None` when that cannot be told.
    fn client_asleep(&self) -> Option<bool> {
        let mut client = self.client.lock().ok()?;
        let root = client.root?;
        if client
            .looked_up
            .is_none_or(|t| t.elapsed() >= MEMBERS_REFRESH)
        {
            client.members = processes::members(root);
            client.looked_up = Some(Instant::now());
        }
        processes::all_asleep(&client.members)
    }
}

/// A running observer. Stops listening when dropped.
pub struct Observer {
    shared: Arc<Shared>,
    port: u16,
    accepting: Option<JoinHandle<()>>,
}

impl Observer {
    /// Listens on `port` on every interface (so `localhost`, the host's own name and
    /// `0.0.0.0` all reach it) and starts watching. When their server greets clients
    /// first, `greeting` is sent to each connection too.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub fn start(port: u16, greeting: Option<String>) -> std::io::Result<Observer> {
        let listener = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))?;
        let shared = Arc::new(Shared::default());
        let accepting = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || accept(&listener, &shared, greeting.as_deref()))
        };
        Ok(Observer {
            shared,
            port,
            accepting: Some(accepting),
        })
    }

    /// Watches the client started as process `pid` to tell when it waits.
    pub fn watch_client(&self, pid: i32) {
        if let Ok(mut client) = self.shared.client.lock() {
            client.root = Some(pid);
        }
    }

    /// How many messages and replies have passed so far: a sign of the client's life.
    pub fn events(&self) -> u64 {
        self.shared.events.load(Ordering::SeqCst)
    }

    /// True when the client waits for us: a message is being answered, or a connection
    /// waits to be accepted, or bytes wait to be read (we may be slow on a busy machine).
    pub fn owes_client(&self) -> bool {
        self.shared.unanswered.load(Ordering::SeqCst) > 0 || processes::queued_on(self.port)
    }

    /// Waits until every connection seen has ended, or `until`, and returns what was seen.
    pub fn finish(&self, until: Instant) -> Vec<Connection> {
        loop {
            let connections = self.connections();
            if connections.iter().all(|c| c.finished) || Instant::now() >= until {
                return connections;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// What was seen so far, one entry per connection.
    pub fn connections(&self) -> Vec<Connection> {
        let seen = self
            .shared
            .seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        seen.iter()
            .filter_map(|c| c.lock().ok().map(|c| c.clone()))
            .collect()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocked accept with a connection of our own.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>, greeting: Option<&str>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let connection = Arc::new(Mutex::new(Connection::default()));
        if let Ok(mut seen) = shared.seen.lock() {
            seen.push(Arc::clone(&connection));
        }
        let greeting = greeting.map(str::to_string);
        let shared = Arc::clone(shared);
        thread::spawn(move || {
            watch(&stream, &connection, &shared, greeting);
            if let Ok(mut c) = connection.lock() {
                c.finished = true;
            }
        });
    }
}

/// Answers each message, noting whether the client waited for the reply before it.
fn watch(
    stream: &TcpStream,
    connection: &Mutex<Connection>,
    shared: &Shared,
    greeting: Option<String>,
) {
    let _ = stream.set_nodelay(true);
    if let Some(greeting) = greeting {
        let _ = (&mut &*stream).write_all(greeting.as_bytes());
    }
    let limits = FrameLimits {
        idle_timeout: Some(Duration::from_secs(60)),
        ..FrameLimits::default()
    };
    let mut reader = FrameReader::new(stream, limits);
    let mut sent_before = false;
    while let Some(message) = next_message(&mut reader, connection) {
        let sent = replies_sent(connection);
        let unread = (1..=HELD_REPLIES).contains(&sent) && reply_unread(stream);
        let early = match (sent_before, unread) {
            (true, _) => Some(Early::BeforeReply),
            (false, true) => Some(Early::ReplyUnread),
            (false, false) => None,
        };
        let reply = Transform::Tagged.apply(message.trim_end());
        if let Ok(mut c) = connection.lock() {
            c.messages.push((message, early));
        }
        shared.events.fetch_add(1, Ordering::SeqCst);
        let _answering = Answering::new(shared);
        sent_before = if sent < HELD_REPLIES {
            hold_reply(&mut reader, stream, shared)
        } else {
            reader.has_pending() || more_waiting(stream)
        };
        if !send_reply(stream, connection, reply) {
            return;
        }
        shared.events.fetch_add(1, Ordering::SeqCst);
    }
}

/// The next message, or `None` once the connection is over (marked closed if the
/// client closed it).
fn next_message(
    reader: &mut FrameReader<&TcpStream>,
    connection: &Mutex<Connection>,
) -> Option<String> {
    match reader.read_frame() {
        Ok(Some(Frame::Message(bytes))) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Ok(Some(Frame::TooLong { len })) => Some(format!("<{len} bytes>")),
        Ok(None) => {
            mark_closed(connection);
            None
        }
        Err(e) => {
            if peer_hung_up(&e) {
                mark_closed(connection);
            }
            None
        }
    }
}

/// Sends `reply` as a line and records it; false if the connection is over.
fn send_reply(stream: &TcpStream, connection: &Mutex<Connection>, reply: String) -> bool {
    if let Err(e) = (&mut &*stream).write_all(format!("{reply}\n").as_bytes()) {
        if peer_hung_up(&e) {
            mark_closed(connection);
        }
        return false;
    }
    if let Ok(mut c) = connection.lock() {
        c.replies.push(reply);
    }
    true
}

/// A message being answered, counted in [`Shared::unanswered`] until dropped.
struct Answering<'a>(&'a Shared);

impl<'a> Answering<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.unanswered.fetch_add(1, Ordering::SeqCst);
        Answering(shared)
    }
}

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        self.0.unanswered.fetch_sub(1, Ordering::SeqCst);
    }
}

fn replies_sent(connection: &Mutex<Connection>) -> usize {
    connection.lock().map(|c| c.replies.len()).unwrap_or(0)
}

/// Holds the reply back until the client is blocked or sends more; returns whether it
/// sent more (its next message came before this reply).
fn hold_reply(reader: &mut FrameReader<&TcpStream>, stream: &TcpStream, shared: &Shared) -> bool {
    let limit = Instant::now() + HOLD_LIMIT;
    loop {
        if reader.has_pending() || more_waiting(stream) {
            return true;
        }
        match shared.client_asleep() {
            Some(true) => return reader.has_pending() || more_waiting(stream),
            Some(false) if Instant::now() < limit => thread::sleep(Duration::from_micros(500)),
            Some(false) => return false,
            None => {
                thread::sleep(FIXED_HOLD);
                return reader.has_pending() || more_waiting(stream);
            }
        }
    }
}

/// True when our last reply lies unread in the client's socket.
fn reply_unread(stream: &TcpStream) -> bool {
    let (Ok(ours), Ok(theirs)) = (stream.local_addr(), stream.peer_addr()) else {
        return false;
    };
    processes::socket(theirs, ours).is_some_and(|s| s.unread > 0)
}

/// The client closed its side (a reset counts: it closed with our reply unread).
fn mark_closed(connection: &Mutex<Connection>) {
    if let Ok(mut c) = connection.lock() {
        c.closed = true;
    }
}

fn more_waiting(stream: &TcpStream) -> bool {
    let _ = stream.set_nonblocking(true);
    let waiting = matches!(stream.peek(&mut [0; 1]), Ok(1..));
    let _ = stream.set_nonblocking(false);
    waiting
}
