//! net_bench: measures the servers side by side with baselines (`make bench`).
//!
//! ```text
//! net_bench            # the full run, a few minutes
//! net_bench --quick    # under a minute
//! net_bench --only handout-client --rounds 9
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use netlab::bench::{self, baseline, Options, Scenario};
use netlab::cli::ServerArgs;
use netlab::report::describe;

/// Measure net_server, net_server_threaded and net_server_async against a raw echo
/// server, the handout's Python server and a naive thread-per-connection server.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Smaller runs, to finish in well under a minute.
    #[arg(long)]
    quick: bool,

    /// The Python interpreter for the Python server and client (default: the one python3
    /// resolves to).
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,

    /// The handout-style Python server to compare with.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "fixtures/baselines/handout_server.py"
    )]
    python_server: PathBuf,

    /// The handout-style Python client to compare net_client with.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "fixtures/baselines/handout_client.py"
    )]
    python_client: PathBuf,

    /// Measure each contender N times, interleaved with the others (default: 5 with
    /// --quick, 7 otherwise). Ratios are given as the median and range of the rounds.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    rounds: Option<u16>,

    /// Run only this scenario.
    #[arg(long, value_enum)]
    only: Option<Scenario>,

    #[command(subcommand)]
    baseline: Option<Baseline>,
}

/// The baseline servers, which the benchmark starts as its own subprocesses.
#[derive(Subcommand)]
enum Baseline {
    /// Serve as a raw echo server: no framing, bytes back as they came.
    #[command(hide = true)]
    ServeEcho(ServerArgs),
    /// Serve with a new thread for every connection, no cap and no pool.
    #[command(hide = true)]
    ServeNaive(ServerArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.baseline {
        None => bench::run(&Options {
            quick: args.quick,
            python: args
                .python
                .unwrap_or_else(|| bench::target::python3().to_path_buf()),
            python_server: args.python_server,
            python_client: args.python_client,
            rounds: args.rounds.map(usize::from),
            only: args.only,
        }),
        Some(Baseline::ServeEcho(server)) => server
            .listen()
            .map_err(std::io::Error::other)
            .and_then(|listener| baseline::serve_raw_echo(&listener)),
        Some(Baseline::ServeNaive(server)) => server
            .listen()
            .map_err(std::io::Error::other)
            .and_then(|listener| baseline::serve_thread_per_connection(&listener, server.config())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("net_bench: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}
