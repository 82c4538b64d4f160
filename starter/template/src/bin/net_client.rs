//! net_client: the lab's client. It connects to net_server, sends each message, waits
//! for its reply and prints it, then closes the connection.
//!
//!     net_client [--host HOST] --port PORT MESSAGE...

use clap::Parser;

/// The lab's client: sends each message to net_server and prints each reply.
#[derive(Parser)]
struct Args {
    /// The server's host name or address.
    #[arg(long, default_value = "localhost")]
    host: String,

    /// The server's port: the same number the server listens on.
    #[arg(long, default_value_t = 28461)]
    port: u16,

    /// The messages to send, one per argument.
    messages: Vec<String>,
}

fn main() {
    let args = Args::parse();

    // The handout's steps, in Rust. Everything you need is in std::net and std::io.
    //
    // (Let main return std::io::Result<()>, and end it with Ok(()), to use `?` below.)
    //
    // 2.1 Connect (a client does not bind or listen):
    //         let mut stream = TcpStream::connect((args.host.as_str(), args.port))?;
    //
    // 2.2 For each message, in order:
    //     - send it with `stream.write_all(message.as_bytes())` (`use std::io::Write;`),
    //       followed by "\n" so the server knows where it ends;
    //     - then receive the reply: `stream.read(&mut buffer)` with
    //       `let mut buffer = [0u8; 1024];`, and `String::from_utf8_lossy(&buffer[..n])`;
    //     - print the reply on a line of its own (a label before it is fine: "reply: ...").
    //     Only send the next message once the reply to this one has come.
    //
    // When done, close the connection: `stream.shutdown(Shutdown::Both)`, or simply let
    // the stream go out of scope. Then return from main: the exit code is 0.
    todo!("connect to {}:{}", args.host, args.port)
}
