//! net_chat: two people talk; each side sends what is typed and prints what arrives.
//!
//! ```text
//! net_chat --listen            # one side: wait for the other
//! net_chat localhost           # the other side: connect
//! ```
//!
//! Ctrl-D ends the chat (the other side is told); so does Ctrl-C.

use std::io::{self, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use clap::Parser;
use netlab::cli::{listen, DEFAULT_PORT};
use netlab::further::chat::talk;
use netlab::lab::client::connect;
use netlab::report::describe;

/// Chat with one other person: lines you type are sent, lines they type are printed, both
/// at once. One side runs with --listen, the other names its host.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The host of the side that listens (or of a net_chat_server).
    #[arg(required_unless_present = "listen", conflicts_with = "listen")]
    host: Option<String>,

    /// Wait for the other side to connect, instead of connecting.
    #[arg(short, long)]
    listen: bool,

    /// With --listen, the address to listen on.
    // Refused with HOST, which is there exactly when --listen is not: `requires = "listen"`
    // would never refuse anything, as clap counts a flag's default of false as given.
    #[arg(
        long = "bind",
        value_name = "ADDR",
        default_value = "0.0.0.0",
        conflicts_with = "host"
    )]
    bind: String,

    /// The port to listen on or connect to.
    #[arg(short, long, default_value_t = DEFAULT_PORT + 2)]
    port: u16,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // First of all, so that a Ctrl-C at any moment leaves the chat.
    #[cfg(unix)]
    if let Err(e) = netlab::further::chat::leave_on_interrupt() {
        eprintln!("net_chat: cannot handle Ctrl-C: {}", describe(&e));
        return ExitCode::FAILURE;
    }
    let stream = match open(&args) {
        Ok(stream) => stream,
        Err(why) => {
            eprintln!("net_chat: {why}");
            return ExitCode::FAILURE;
        }
    };
    match talk(stream, io::BufReader::new(io::stdin()), &mut io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("net_chat: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// Waits for the other side, or connects to it, and says so.
fn open(args: &Args) -> Result<TcpStream, String> {
    match &args.host {
        Some(host) => {
            let stream = connect(host, args.port, None)
                .map_err(|e| e.with_hint_for("net_chat --listen or net_chat_server"))?;
            status(&format!("connected to {host}:{}", args.port));
            Ok(stream)
        }
        None => {
            let listener = listen(&args.bind, args.port)?;
            let (stream, peer) = listener
                .accept()
                .map_err(|e| format!("cannot accept: {}", describe(&e)))?;
            status(&format!("{peer} connected"));
            Ok(stream)
        }
    }
}

/// A status line for the user; a closed stdout is not worth a panic.
fn status(what: &str) {
    let _ = writeln!(io::stdout(), "* {what}; type away, Ctrl-D to leave");
}
