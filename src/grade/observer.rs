//! Our own server, put on the port a student's client expects, watching how the client
//! behaves: how many messages it sends, whether it waits for each reply, whether it
//! closes.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::lab::frame::{Frame, FrameLimits, FrameReader};
use crate::lab::transform::Transform;

/// How long the observer holds each reply back: a client that sends its next message
/// within this time did not wait for the reply.
const REPLY_DELAY: Duration = Duration::from_millis(100);

/// What the observer saw on one connection.
#[derive(Debug, Default, Clone)]
pub struct Connection {
    /// Each message, and whether it arrived before the reply to the previous one was sent.
    pub messages: Vec<(String, bool)>,
    /// The replies sent.
    pub replies: Vec<String>,
    /// Whether the client closed the connection (rather than leaving it open).
    pub closed: bool,
    /// Whether the observer is done with the connection.
    pub finished: bool,
}

/// A running observer. Stops listening when dropped.
pub struct Observer {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Arc<Mutex<Connection>>>>>,
    accepting: Option<JoinHandle<()>>,
}

impl Observer {
    /// Listens on `port` on every interface (so `localhost`, the host's own name and
    /// `0.0.0.0` all reach it) and starts watching.
    ///
    /// # Errors
    /// When the port cannot be bound.
    /// When their server greets clients first, `greeting` is sent to each connection too.
    pub fn start(port: u16, greeting: Option<String>) -> std::io::Result<Observer> {
        let listener = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let accepting = {
            let (stop, seen) = (Arc::clone(&stop), Arc::clone(&seen));
            thread::spawn(move || accept(&listener, &stop, &seen, greeting.as_deref()))
        };
        Ok(Observer {
            stop,
            seen,
            accepting: Some(accepting),
        })
    }

    /// Waits up to `limit` for every connection seen to end, and returns what was seen.
    pub fn finish(&self, limit: Duration) -> Vec<Connection> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let connections = self.connections();
            if connections.iter().all(|c| c.finished) || std::time::Instant::now() >= deadline {
                return connections;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// What was seen so far, one entry per connection.
    pub fn connections(&self) -> Vec<Connection> {
        let seen = self.seen.lock().map(|s| s.clone()).unwrap_or_default();
        seen.iter()
            .filter_map(|c| c.lock().ok().map(|c| c.clone()))
            .collect()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

fn accept(
    listener: &TcpListener,
    stop: &AtomicBool,
    seen: &Mutex<Vec<Arc<Mutex<Connection>>>>,
    greeting: Option<&str>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let connection = Arc::new(Mutex::new(Connection::default()));
                if let Ok(mut seen) = seen.lock() {
                    seen.push(Arc::clone(&connection));
                }
                let greeting = greeting.map(str::to_string);
                thread::spawn(move || {
                    watch(stream, &connection, greeting);
                    if let Ok(mut c) = connection.lock() {
                        c.finished = true;
                    }
                });
            }
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Answers each message after [`REPLY_DELAY`], noting whether the client sent more in the
/// meantime.
fn watch(stream: TcpStream, connection: &Mutex<Connection>, greeting: Option<String>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    if let Some(greeting) = greeting {
        let _ = (&stream).write_all(greeting.as_bytes());
    }
    let limits = FrameLimits {
        partial_timeout: Duration::from_millis(50),
        idle_timeout: Some(Duration::from_secs(30)),
        ..FrameLimits::default()
    };
    let mut reader = FrameReader::new(&stream, limits);
    let mut early = false;
    loop {
        let message = match reader.read_frame() {
            Ok(Some(Frame::Message(bytes))) => String::from_utf8_lossy(bytes).into_owned(),
            Ok(Some(Frame::TooLong { len })) => format!("<{len} bytes>"),
            Ok(None) => return mark_closed(connection),
            Err(e) if crate::report::peer_hung_up(&e) => return mark_closed(connection),
            Err(_) => return,
        };
        let reply = Transform::Tagged.apply(message.trim_end());
        if let Ok(mut c) = connection.lock() {
            c.messages.push((message, early));
        }
        thread::sleep(REPLY_DELAY);
        early = reader.has_pending() || more_waiting(&stream);
        if let Err(e) = (&stream).write_all(format!("{reply}\n").as_bytes()) {
            if crate::report::peer_hung_up(&e) {
                mark_closed(connection);
            }
            return;
        }
        if let Ok(mut c) = connection.lock() {
            c.replies.push(reply);
        }
    }
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
