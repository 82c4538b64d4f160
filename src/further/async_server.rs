//! The same service on tokio, for thousands of connections at once.
//!
//! Each connection is a task rather than a thread, and an idle connection holds no read
//! buffer: it waits for the socket to become readable first, then reads into its
//! thread's buffer and keeps only the bytes of messages not yet answered. A semaphore caps
//! the number of connections; a failed `accept` (such as running out of file descriptors)
//! is logged and followed by a back-off. With an idle timeout, every wait has a deadline:
//! for the next message, and for each write of replies to make progress, so a client that
//! never reads cannot hold its place forever.
//!
//! Shutdown (Ctrl-C) is graceful: the server stops accepting, lets connected clients
//! carry on for a grace period, then answers whatever each has already sent and closes.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::timeout;

use crate::lab::frame::{Frame, Framer, Wait, MAX_READ};
use crate::lab::server::{
    answer, log_end, Ending, ServerConfig, ACCEPT_BACKOFF, IDLE_NOTICE, MAX_BATCH,
};

/// How many clients are served at once unless `--max-clients` says otherwise.
pub const DEFAULT_MAX_CLIENTS: u32 = 10_000;

/// After the grace period, how long connections get to write their last replies.
const FINAL_FLUSH: Duration = Duration::from_secs(1);

/// Limits that only the concurrent server has.
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    /// The most connections served at once; more wait in the listen backlog.
    pub max_clients: u32,
    /// After shutdown starts, how long connected clients may go on before being closed.
    pub shutdown_grace: Duration,
}

/// Serves clients from `listener` concurrently until `shutdown` completes, then shuts down
/// gracefully (see the module documentation).
pub async fn serve(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    capacity: Capacity,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(capacity.max_clients as usize));
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let (config, stopped) = (Arc::clone(&config), stopped.clone());
                tokio::spawn(async move {
                    serve_connection(stream, peer, &config, stopped).await;
                    drop(permit);
                });
            }
            Err(e) => {
                config.log(format_args!(
                    "accept failed: {}",
                    crate::report::describe(&e)
                ));
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    wind_down(&permits, capacity, &stop, &config).await;
}

/// Waits for connected clients to leave, up to the grace period; then tells the rest to
/// finish up, and waits a little more for their last replies.
async fn wind_down(
    permits: &Semaphore,
    capacity: Capacity,
    stop: &watch::Sender<bool>,
    config: &ServerConfig,
) {
    let busy = capacity.max_clients as usize - permits.available_permits();
    config.log(format_args!(
        "shutting down: waiting up to {:.1}s for {busy} client(s)",
        capacity.shutdown_grace.as_secs_f64()
    ));
    let all_gone = || permits.acquire_many(capacity.max_clients);
    if timeout(capacity.shutdown_grace, all_gone()).await.is_err() {
        let _ = stop.send(true);
        let _ = timeout(FINAL_FLUSH, all_gone()).await;
    }
    config.log(format_args!("shut down"));
}

/// Serves one client until it closes, the connection fails, the idle timeout or shutdown
/// ends it.
async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    config: &ServerConfig,
    stopped: watch::Receiver<bool>,
) {
    config.log(format_args!("[{peer}] connected"));
    let ending = answer_messages(&mut stream, peer, config, stopped)
        .await
        .map_or_else(|e| e, Ending::Closed);
    if let Ending::Idle = ending {
        // Best effort: the client may be gone. The idle timeout bounds the write.
        let _ = write_within(&mut stream, IDLE_NOTICE, config).await;
    }
    log_end(config, peer, &ending);
}

/// Writes all of `bytes`. A client that sends without reading fills both directions'
/// buffers until a write cannot proceed; with an idle timeout, a write that makes no
/// progress for that long gives up with [`Ending::NotReading`], so such a client cannot
/// hold its task (and its place under `--max-clients`) forever.
async fn write_within(
    stream: &mut TcpStream,
    mut bytes: &[u8],
    config: &ServerConfig,
) -> Result<(), Ending> {
    while !bytes.is_empty() {
        let written = match config.limits.idle_timeout {
            Some(limit) => timeout(limit, stream.write(bytes))
                .await
                .map_err(|_| Ending::NotReading)?,
            None => stream.write(bytes).await,
        };
        match written {
            Ok(0) => return Err(Ending::Lost(io::ErrorKind::WriteZero.into())),
            Ok(n) => bytes = &bytes[n..],
            Err(e) => return Err(Ending::Lost(e)),
        }
    }
    Ok(())
}

/// What waiting for input produced.
enum Input {
    /// More bytes are in the framer.
    Data,
    /// The client closed its sending side.
    End,
    /// Nothing arrived within the wait.
    Silence,
    /// The server is shutting down.
    Stop,
}

/// Reads messages and writes replies, batching the replies to messages that arrived
/// together into one write. Returns how many messages were answered.
async fn answer_messages(
    stream: &mut TcpStream,
    peer: SocketAddr,
    config: &ServerConfig,
    mut stopped: watch::Receiver<bool>,
) -> Result<u64, Ending> {
    stream.set_nodelay(true)?;
    let mut framer = Framer::new(config.limits);
    let mut replies = Vec::new();
    let mut count = 0;
    loop {
        count += answer_complete_lines(stream, &mut framer, &mut replies, config, peer).await?;
        framer.release_if_empty();
        let wait = match framer.wait() {
            Wait::MessageComplete => {
                let last = framer.take_rest();
                count += answer_last(stream, last, &mut replies, config, peer).await?;
                continue;
            }
            Wait::Grace(grace) => Some(grace),
            Wait::Idle(idle) => idle,
        };
        let input = tokio::select! {
            input = read_more(stream, &mut framer, wait) => input?,
            _ = stopped.wait_for(|&stop| stop) => Input::Stop,
        };
        let last = match input {
            Input::Data => continue,
            Input::Silence if !framer.is_mid_message() => return Err(Ending::Idle),
            Input::Silence => {
                let last = framer.take_rest();
                count += answer_last(stream, last, &mut replies, config, peer).await?;
                continue;
            }
            Input::End => framer.take_rest(),
            Input::Stop => {
                // Whatever the client has already sent gets its reply before closing.
                read_what_has_arrived(stream, &mut framer);
                count +=
                    answer_complete_lines(stream, &mut framer, &mut replies, config, peer).await?;
                framer.take_rest()
            }
        };
        return Ok(count + answer_last(stream, last, &mut replies, config, peer).await?);
    }
}

/// Answers `frame`, a message ended by its sender stopping or closing, if there is one.
/// Returns how many messages were answered: 0 or 1.
async fn answer_last(
    stream: &mut TcpStream,
    frame: Option<Frame<'_>>,
    replies: &mut Vec<u8>,
    config: &ServerConfig,
    peer: SocketAddr,
) -> Result<u64, Ending> {
    let Some(frame) = frame else { return Ok(0) };
    answer(config, peer, &frame, replies);
    write_within(stream, replies, config).await?;
    replies.clear();
    Ok(1)
}

/// Answers every complete message in the framer, in as few writes as possible, and
/// returns how many there were.
async fn answer_complete_lines(
    stream: &mut TcpStream,
    framer: &mut Framer,
    replies: &mut Vec<u8>,
    config: &ServerConfig,
    peer: SocketAddr,
) -> Result<u64, Ending> {
    let mut count = 0;
    while let Some(frame) = framer.next_line() {
        count += 1;
        answer(config, peer, &frame, replies);
        if replies.len() >= MAX_BATCH {
            write_within(stream, replies, config).await?;
            replies.clear();
        }
    }
    if !replies.is_empty() {
        write_within(stream, replies, config).await?;
        *replies = Vec::new(); // an idle connection keeps no reply buffer either
    }
    Ok(count)
}

/// Moves whatever the socket already holds into the framer, without waiting.
fn read_what_has_arrived(stream: &mut TcpStream, framer: &mut Framer) {
    while let Ok(1..) = read_ready(stream, framer) {
        framer.has_line(); // lets the framer drop an over-long line as it goes
    }
}

thread_local! {
    /// One read buffer per runtime thread, shared by every connection that thread runs.
    /// A read never awaits, so no two connections use it at once; and an idle connection
    /// holds no read buffer of its own.
    static READ_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; MAX_READ]);
}

/// Reads what the socket holds now (without waiting) into the framer, through the
/// thread's read buffer. Returns how many bytes were read; 0 at end of stream.
fn read_ready(stream: &mut TcpStream, framer: &mut Framer) -> io::Result<usize> {
    READ_BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        let room = framer.read_size();
        let n = read_now(stream, &mut buffer[..room])?;
        framer.note_read(n, room);
        framer.push(&buffer[..n]);
        Ok(n)
    })
}

/// Reads what the socket holds into `buffer`, without waiting: `WouldBlock` if nothing.
///
/// Through `poll_read` rather than `try_read`: a read that comes back short has emptied
/// the socket, and `poll_read` knows to forget the socket's readiness then, so the next
/// wait goes straight to the event loop. After `try_read`, tokio would first try another
/// read, bound to fail, on every message of a client that waits for each reply.
fn read_now(stream: &mut TcpStream, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = ReadBuf::new(buffer);
    // The caller waits for readiness itself, so nobody needs waking from here.
    let mut nobody = Context::from_waker(Waker::noop());
    match Pin::new(stream).poll_read(&mut nobody, &mut filled) {
        Poll::Ready(Ok(())) => Ok(filled.filled().len()),
        Poll::Ready(Err(e)) => Err(e),
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}

/// Waits up to `wait` (forever if `None`) for the socket to become readable, then reads
/// what is there into the framer.
async fn read_more(
    stream: &mut TcpStream,
    framer: &mut Framer,
    wait: Option<Duration>,
) -> io::Result<Input> {
    loop {
        let readable = stream.readable();
        match wait {
            Some(wait) => match timeout(wait, readable).await {
                Ok(ready) => ready?,
                Err(_) => return Ok(Input::Silence),
            },
            None => readable.await?,
        }
        match read_ready(stream, framer) {
            Ok(0) => return Ok(Input::End),
            Ok(_) => return Ok(Input::Data),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue, // spurious wake-up
            Err(e) => return Err(e),
        }
    }
}
