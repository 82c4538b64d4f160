//! net_server: listens on a TCP port and answers every message with a transformed copy.
//!
//! ```text
//! net_server                      # port 28461, every interface, the `tagged` transform
//! net_server -p 0 -t upper        # a port the OS picks; replies in upper case
//! ```
//!
//! The first line on stdout is `listening on ADDR:PORT`; debug output goes to stderr.

use std::process::ExitCode;

use clap::Parser;
use netlab::cli::ServerArgs;
use netlab::lab::server::serve;

/// Listen on a TCP port and answer every message with a transformed copy of it.
///
/// Serves one client at a time; when it leaves, waits for the next, until killed.
/// A message is one line; a message without a newline ends when the client pauses.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.server.listen() {
        Ok(listener) => serve(&listener, &args.server.config()),
        Err(why) => {
            eprintln!("net_server: {why}");
            ExitCode::FAILURE
        }
    }
}
