//! The reference servers the benchmark measures ours against.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

use crate::lab::server::{serve_connection, ServerConfig};

/// The physical limit: a plain echo server, one connection at a time like net_server,
/// with no framing and no transform: it reads and writes back the same bytes.
pub fn serve_raw_echo(listener: &TcpListener) -> io::Result<()> {
    for stream in listener.incoming() {
        let _ = echo(stream?); // a failed connection ends only itself
    }
    Ok(())
}

fn echo(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0; crate::lab::frame::MAX_READ];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n])?;
    }
}

/// The naive way to serve many clients: a new thread for every connection, no cap, no
/// pool. It runs our own connection code, so only the threading differs from
/// net_server_threaded.
pub fn serve_thread_per_connection(listener: &TcpListener, config: ServerConfig) -> io::Result<()> {
    let config = Arc::new(config);
    for stream in listener.incoming() {
        let stream = stream?;
        let peer = stream.peer_addr()?;
        let config = Arc::clone(&config);
        thread::spawn(move || serve_connection(stream, peer, &config));
    }
    Ok(())
}
