//! net_server_async: net_server for thousands of clients at once, on the tokio runtime.
//!
//! ```text
//! net_server_async --max-clients 10000 -q
//! ```
//!
//! Same options, protocol and output as net_server, plus `--max-clients` and
//! `--shutdown-grace`. Ctrl-C shuts it down gracefully.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use netlab::cli::{parse_seconds, ServerArgs};
use netlab::further::async_server::{serve, Capacity, DEFAULT_MAX_CLIENTS};
use netlab::report::describe;

/// Like net_server, but serves up to --max-clients clients at the same time as tasks on
/// the tokio runtime. On Ctrl-C, stops accepting, lets connected clients finish for up to
/// --shutdown-grace seconds, answers what they have sent, and exits.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,

    /// How many clients are served at the same time; more wait until one leaves.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CLIENTS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_clients: u32,

    /// On Ctrl-C, how long (seconds, more than 0) connected clients may carry on before
    /// they are closed.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "5")]
    shutdown_grace: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // tokio panics if it cannot set up its signal handling (out of file descriptors,
    // say): report that as one line, like every other error.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let why = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("internal error");
        eprintln!("net_server_async: {why}");
    }));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!(
                "net_server_async: cannot start the runtime: {}",
                describe(&e)
            );
            return ExitCode::FAILURE;
        }
    };
    let listener = match args.server.listen() {
        Ok(listener) => listener,
        Err(why) => {
            eprintln!("net_server_async: {why}");
            return ExitCode::FAILURE;
        }
    };
    let capacity = Capacity {
        max_clients: args.max_clients,
        shutdown_grace: args.shutdown_grace,
    };
    let config = Arc::new(args.server.config());
    let served = runtime.block_on(async {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        serve(listener, config, capacity, ctrl_c()).await;
        Ok::<_, std::io::Error>(())
    });
    // The log is written by a thread of its own: give it a moment to write the last lines.
    netlab::report::flush_log(Duration::from_secs(1));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("net_server_async: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C (SIGINT); never, if the signal cannot be watched.
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
