//! net_server: listens on a TCP port and answers every message with a transformed copy.
//!
//! ```text
//! net_server                      # port 28461, every interface, the `tagged` transform
//! net_server -p 0 -t upper        # a port the OS picks; replies in upper case
//! ```
//!
//! The first line on stdout is `listening on ADDR:PORT`; debug output goes to stderr.

use std::io::{self, Write};
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use netlab::cli::{parse_millis, parse_seconds, DEFAULT_PORT};
use netlab::frame::FrameLimits;
use netlab::report::describe;
use netlab::server::{serve, ServerConfig};
use netlab::transform::Transform;

/// Listen on a TCP port and answer every message with a transformed copy of it.
///
/// Serves one client at a time; when it leaves, waits for the next, until killed.
/// A message is one line; a message without a newline ends when the client pauses.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on: 0.0.0.0 for every interface, 127.0.0.1 for this machine only.
    #[arg(long, default_value = "0.0.0.0")]
    host: String,

    /// Port to listen on; 0 lets the operating system pick a free one.
    #[arg(short, long, default_value_t = DEFAULT_PORT)]
    port: u16,

    /// How each reply is made from its message.
    #[arg(short, long, value_enum, default_value_t)]
    transform: Transform,

    /// Print only the "listening on" line, no per-connection or per-message output.
    #[arg(short, long)]
    quiet: bool,

    /// Longest message in bytes; a longer one is discarded and answered with an error line.
    #[arg(long, value_name = "BYTES", default_value_t = FrameLimits::default().max_line_len)]
    max_line_len: usize,

    /// Close a connection whose client sends nothing for this many seconds [default: never].
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    idle_timeout: Option<Duration>,

    /// A message without a newline ends after this many milliseconds of silence.
    #[arg(long, value_name = "MS", value_parser = parse_millis, default_value = "50")]
    partial_timeout: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let listener = match TcpListener::bind((args.host.as_str(), args.port)) {
        Ok(listener) => listener,
        Err(e) => {
            let target = format!("{}:{}", args.host, args.port);
            eprintln!("net_server: cannot listen on {target}: {}", describe(&e));
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = announce(&listener) {
        eprintln!(
            "net_server: cannot report the listening address: {}",
            describe(&e)
        );
        return ExitCode::FAILURE;
    }
    let config = ServerConfig {
        transform: args.transform,
        quiet: args.quiet,
        limits: FrameLimits {
            max_line_len: args.max_line_len,
            partial_timeout: args.partial_timeout,
            idle_timeout: args.idle_timeout,
        },
    };
    serve(&listener, &config)
}

/// Prints the real bound address, so whoever started us with `--port 0` learns the port.
fn announce(listener: &TcpListener) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on {}", listener.local_addr()?)?;
    stdout.flush()
}
