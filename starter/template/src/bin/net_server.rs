//! net_server: the lab's server. It listens on a port and, for one client at a time,
//! answers every message with a modified version of it. When a client leaves, it accepts
//! the next one, until it is killed.
//!
//!     net_server --port PORT

use clap::Parser;

/// The lab's server: answers every message with a modified version of it.
#[derive(Parser)]
struct Args {
    /// The port to listen on: an unusual one between 10000 and 65535.
    #[arg(long, default_value_t = 28461)]
    port: u16,
}

fn main() {
    let args = Args::parse();

    // The handout's steps, in Rust. Everything you need is in std::net and std::io.
    //
    // (Let main return std::io::Result<()>, and end it with Ok(()), to use `?` below.)
    //
    // 1.1-1.3 Create a socket, bind it to a port and listen, all in one call:
    //             let listener = TcpListener::bind(("0.0.0.0", args.port))?;
    //         Print a line saying where it listens: debug output is welcome.
    //
    //         Then, forever:
    // 1.3     `listener.accept()` waits for a client and returns `(stream, address)`:
    //         a new TcpStream for talking to that one client.
    //
    //         And, on that stream, until the client closes it:
    // 1.4     Receive: `stream.read(&mut buffer)` with `let mut buffer = [0u8; 1024];`
    //         returns how many bytes arrived. 0 means the client closed the connection:
    //         leave this loop and go back to accept(). Turn the bytes into text with
    //         `String::from_utf8_lossy(&buffer[..n])`.
    // 1.5     Modify it, any way you like, as long as the reply differs from the message
    //         and depends on it: upper case, reversed, its length, a prefix...
    // 1.6     Send the reply back: `stream.write_all(reply.as_bytes())` (Python's
    //         sendall; it needs `use std::io::Write;`). End it with "\n", so the client
    //         knows where the reply ends.
    //
    // An error from read() or write_all() means this client is gone: go back to accept()
    // rather than stopping the server. Print what happens as you go.
    todo!("listen on port {}", args.port)
}
