//! Load generators: lock-step round trips, a pipelined stream, and many clients at once.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::stats::Latency;
use crate::lab::client::{numbered_messages, ClientConfig, Session};

/// The message every scenario sends: 31 characters and a newline, 32 bytes. Its reply
/// from every server measured (echo, or upper case) is 32 bytes too.
pub const MESSAGE: &[u8; 32] = b"the quick brown fox jumps over \n";

/// How many connections are opened at the same time while setting up many clients, so
/// the listen backlog never overflows.
const CONNECT_BATCH: usize = 100;

/// One connection sending `round_trips` messages, each only after the previous reply.
///
/// # Errors
/// When the connection fails or a reply is not a 32-byte line.
pub fn lock_step(addr: SocketAddr, round_trips: usize) -> io::Result<Latency> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(&stream);
    let mut reply = Vec::with_capacity(64);
    let mut samples = Vec::with_capacity(round_trips);
    let start = Instant::now();
    for _ in 0..round_trips {
        let sent = Instant::now();
        (&stream).write_all(MESSAGE)?;
        reply.clear();
        reader.read_until(b'\n', &mut reply)?;
        if reply.len() != MESSAGE.len() {
            return Err(io::Error::other(format!("odd reply {reply:?}")));
        }
        samples.push(sent.elapsed());
    }
    Ok(Latency::from_samples(samples, start.elapsed()))
}

/// One connection sending `count` bare messages (`message 1`, ...) through net_client's
/// session code, each after the previous reply, as `net_client --bare --count` does, with
/// net_client's default timeouts. Returns the time the round trips took, as the
/// handout-style Python client times itself: connecting, and net_client's look for a
/// greeting before its first message (a few milliseconds, once per run), excluded.
///
/// # Errors
/// When the connection fails or a reply does not come.
pub fn bare_session(addr: SocketAddr, count: u32) -> io::Result<Duration> {
    let config = ClientConfig {
        bare: true,
        ..ClientConfig::default()
    };
    let mut session = Session::new(TcpStream::connect(addr)?, config)?;
    let start = Instant::now();
    for message in numbered_messages(count) {
        session.exchange(&message?).map_err(io::Error::other)?;
    }
    let elapsed = start.elapsed();
    session.close();
    Ok(elapsed)
}

/// Throughput of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Messages answered per second.
    pub lines_per_second: f64,
    /// Message bytes sent (and answered) per second, in MB (10^6 bytes).
    pub megabytes_per_second: f64,
}

/// One connection streaming `lines` messages while a second thread reads the replies.
///
/// # Errors
/// When the connection fails or closes early.
pub fn pipelined(addr: SocketAddr, lines: usize) -> io::Result<Throughput> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let writer = stream.try_clone()?;
    let start = Instant::now();
    let sending = thread::spawn(move || send_lines(writer, lines));
    let mut received = 0;
    let mut buf = vec![0; 64 * 1024];
    while received < lines {
        let n = (&stream).read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::other("the server closed the connection early"));
        }
        received += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
    let elapsed = start.elapsed().as_secs_f64();
    sending
        .join()
        .map_err(|_| io::Error::other("the sender panicked"))??;
    Ok(Throughput {
        lines_per_second: lines as f64 / elapsed,
        megabytes_per_second: (lines * MESSAGE.len()) as f64 / elapsed / 1e6,
    })
}

fn send_lines(mut stream: TcpStream, lines: usize) -> io::Result<()> {
    let chunk: Vec<u8> = MESSAGE.repeat(2048);
    let mut left = lines;
    while left > 0 {
        let n = left.min(2048);
        stream.write_all(&chunk[..n * MESSAGE.len()])?;
        left -= n;
    }
    Ok(())
}

/// What many clients measured, and what a probe saw of the server meanwhile.
pub struct ManyClients<P> {
    /// Round trips across all clients, in the counted window.
    pub latency: Latency,
    /// The probe at the start of the counted window.
    pub window_start: P,
    /// The probe at the end of the counted window.
    pub window_end: P,
    /// The probe once the clients stopped, with every connection still open and idle.
    pub idle: P,
}

/// `clients` connections, each doing lock-step round trips for `warm_up` and then, counted,
/// for `duration`, all at once. Calls `probe` (to read the server's CPU time and memory,
/// say) as the counted window starts and ends, and again once every client has stopped
/// but before any connection closes.
///
/// # Errors
/// When a connection fails.
pub fn many_clients<P>(
    addr: SocketAddr,
    clients: usize,
    warm_up: Duration,
    duration: Duration,
    probe: impl Fn() -> P,
) -> io::Result<ManyClients<P>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let streams = connect_all(addr, clients).await?;
        // Every client starts at once, warms up, then measures for `duration`.
        let start = Instant::now() + warm_up;
        let deadline = start + duration;
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|stream| tokio::spawn(round_trips_until(stream, start, deadline)))
            .collect();
        let window = async {
            tokio::time::sleep_until(start.into()).await;
            let at_start = probe();
            tokio::time::sleep_until(deadline.into()).await;
            (at_start, probe())
        };
        let ((window_start, window_end), finished) = tokio::join!(window, finish(tasks));
        let (samples, streams) = finished?;
        let latency = Latency::from_samples(samples, deadline - start);
        let idle = probe();
        drop(streams);
        Ok(ManyClients {
            latency,
            window_start,
            window_end,
            idle,
        })
    })
}

type Timed = (tokio::net::TcpStream, Vec<Duration>);

/// Waits for every client task; returns all their round-trip times and their connections.
async fn finish(
    tasks: Vec<tokio::task::JoinHandle<io::Result<Timed>>>,
) -> io::Result<(Vec<Duration>, Vec<tokio::net::TcpStream>)> {
    let mut samples = Vec::new();
    let mut streams = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (stream, mut times) = task.await.map_err(io::Error::other)??;
        samples.append(&mut times);
        streams.push(stream);
    }
    Ok((samples, streams))
}

/// Opens `clients` connections, a batch at a time, each checked with one round trip.
async fn connect_all(addr: SocketAddr, clients: usize) -> io::Result<Vec<tokio::net::TcpStream>> {
    let batch = Arc::new(Semaphore::new(CONNECT_BATCH));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let batch = Arc::clone(&batch);
            tokio::spawn(async move {
                let _permit = batch.acquire_owned().await.map_err(io::Error::other)?;
                let mut stream = tokio::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                round_trip(&mut stream).await?;
                Ok::<_, io::Error>(stream)
            })
        })
        .collect();
    let mut streams = Vec::with_capacity(clients);
    for task in tasks {
        streams.push(task.await.map_err(io::Error::other)??);
    }
    Ok(streams)
}

/// Round trips until `deadline`, timing those that end between `start` and `deadline`:
/// the round trips per second of the window. (Counting those that *start* in the window
/// instead loses every client whose previous round trip straddles `start`, which with a
/// thousand threads on one core can be most of them in a short window.)
async fn round_trips_until(
    mut stream: tokio::net::TcpStream,
    start: Instant,
    deadline: Instant,
) -> io::Result<Timed> {
    let mut samples = Vec::new();
    loop {
        let sent = Instant::now();
        if sent >= deadline {
            return Ok((stream, samples));
        }
        round_trip(&mut stream).await?;
        let done = Instant::now();
        if (start..=deadline).contains(&done) {
            samples.push(done - sent);
        }
    }
}

async fn round_trip(stream: &mut tokio::net::TcpStream) -> io::Result<()> {
    stream.write_all(MESSAGE).await?;
    let mut reply = [0; MESSAGE.len()];
    stream.read_exact(&mut reply).await?;
    Ok(())
}
