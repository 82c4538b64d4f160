//! net_file_server: serves the files under one directory, by name, to many clients.
//!
//! ```text
//! net_file_server --root fixtures/files
//! ```
//!
//! Each request line names a file; the reply is `OK <size>` and the bytes, or `ERR why`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use cap_std::{ambient_authority, fs::Dir};
use clap::Parser;
use netlab::cli::{parse_seconds, worker_pool, DEFAULT_PORT};
use netlab::further::files::{serve_connection, FileServerConfig, DEFAULT_MAX_FILE_SIZE};
use netlab::lab::server::accept_forever;
use netlab::report::describe;

/// Serve the files under --root: each request line names a file, and the reply is
/// "OK <size>" followed by its bytes, or "ERR <reason>". Nothing outside the root is
/// ever read.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The directory whose files are served.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,

    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    host: String,

    /// Port to listen on; 0 lets the operating system pick.
    #[arg(short, long, default_value_t = DEFAULT_PORT + 1)]
    port: u16,

    /// Print only the "listening on" line.
    #[arg(short, long)]
    quiet: bool,

    /// Refuse files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,

    /// How many clients are served at the same time.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_clients: u32,

    /// Close a connection that makes no progress for this many seconds: it sends no
    /// request, or reads none of a file being sent.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "60")]
    idle_timeout: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(never) => match never {},
        Err(why) => {
            eprintln!("net_file_server: {why}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<std::convert::Infallible, String> {
    let root = Dir::open_ambient_dir(&args.root, ambient_authority())
        .map_err(|e| format!("cannot serve {}: {}", args.root.display(), describe(&e)))?;
    let pool = worker_pool(args.max_clients)?;
    let listener = netlab::cli::listen(&args.host, args.port)?;
    let config = Arc::new(FileServerConfig {
        root,
        max_file_size: args.max_file_size,
        quiet: args.quiet,
        idle_timeout: Some(args.idle_timeout),
    });
    accept_forever(&listener, args.quiet, |stream, peer| {
        let config = Arc::clone(&config);
        pool.execute(move || serve_connection(stream, peer, &config));
    })
}
