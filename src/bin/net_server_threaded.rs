//! net_server_threaded: net_server for many clients at once, one worker thread each.
//!
//! ```text
//! net_server_threaded --max-clients 100 -t upper
//! ```
//!
//! Same options, protocol and output as net_server, plus `--max-clients`.

use std::process::ExitCode;

use clap::Parser;
use netlab::cli::{worker_pool, ServerArgs};
use netlab::further::threaded::{serve_with_pool, DEFAULT_MAX_CLIENTS};

/// Like net_server, but serves up to --max-clients clients at the same time, each on its
/// own thread. Further clients wait until one leaves.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,

    /// How many clients are served at the same time (one thread each).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CLIENTS,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_clients: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let pool = match worker_pool(args.max_clients) {
        Ok(pool) => pool,
        Err(why) => {
            eprintln!("net_server_threaded: {why}");
            return ExitCode::FAILURE;
        }
    };
    match args.server.listen() {
        Ok(listener) => serve_with_pool(&listener, args.server.config(), &pool),
        Err(why) => {
            eprintln!("net_server_threaded: {why}");
            ExitCode::FAILURE
        }
    }
}
