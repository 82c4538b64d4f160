//! net_server_async: net_server for thousands of clients at once, on the tokio runtime.
//!
//! ```text
//! net_server_async --max-clients 10000 -q
//! ```
//!
//! Same options, protocol and output as net_server, plus `--max-clients` and
//! `--shutdown-grace`. Ctrl-C (SIGINT) or SIGTERM shuts it down gracefully.

use std::future::Future;
use std::io;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use netlab::cli::{parse_seconds, ServerArgs};
use netlab::further::async_server::{serve, Capacity, DEFAULT_MAX_CLIENTS};
use netlab::report::describe;

/// Like net_server, but serves up to --max-clients clients at the same time as tasks on
/// the tokio runtime. On Ctrl-C (or SIGTERM), stops accepting, lets connected clients
/// finish for up to --shutdown-grace seconds, answers what they have sent, and exits.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,

    /// How many clients are served at the same time; more wait until one leaves.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CLIENTS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_clients: u32,

    /// On Ctrl-C or SIGTERM, how long (seconds, more than 0) connected clients may carry on before
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
    // Installed before anything is bound or printed: from the first instant a client or a
    // script can see this server, Ctrl-C shuts it down gracefully instead of killing it.
    let shutdown = {
        let _runtime = runtime.enter(); // signal handling belongs to the runtime
        shutdown_signal()
    };
    let shutdown = match shutdown {
        Ok(shutdown) => shutdown,
        Err(e) => {
            eprintln!(
                "net_server_async: cannot watch for Ctrl-C: {}",
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
        serve(listener, config, capacity, shutdown).await;
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

/// Starts watching for Ctrl-C (SIGINT) and SIGTERM, at once rather than when first
/// polled, and returns what completes on the first of them. Must run inside the runtime.
///
/// # Errors
/// When the signal handlers cannot be installed.
#[cfg(unix)]
fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Starts watching for Ctrl-C, at once rather than when first polled, and returns what
/// completes on it. Must run inside the runtime.
///
/// # Errors
/// When the handler cannot be installed.
#[cfg(windows)]
fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    let mut ctrl_c = tokio::signal::windows::ctrl_c()?;
    Ok(async move {
        ctrl_c.recv().await;
    })
}
