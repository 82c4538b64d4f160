//! The benchmark behind `make bench`: it starts each server under test on a free loopback
//! port, drives it, and prints tables in which every number sits next to its ratio to a
//! baseline measured in the same run.
//!
//! Scenarios:
//! 1. lock-step: one connection, send 32 bytes, wait for the reply, repeat;
//! 2. pipelined: one connection streaming lines while the replies are read concurrently;
//! 3. many clients: 100, 1,000 and 10,000 connections doing lock-step round trips at once;
//! 4. handout client: bare messages, each after the previous reply, from a Python client
//!    written like the handout's and from net_client.
//!
//! Baselines: a raw echo server (plain std, no framing: the physical limit), the
//! textbook Python server from the handout (`fixtures/baselines/handout_server.py`), for
//! scenario 3 a naive thread-per-connection server, and for scenario 4 the textbook
//! Python client (`fixtures/baselines/handout_client.py`).
//!
//! Each scenario measures its contenders in interleaved rounds ([`rounds`]), and reports
//! every ratio as the median and range of the per-round ratios ([`compare`]).

pub mod baseline;
pub mod compare;
pub mod handout;
pub mod load;
pub mod many;
pub mod rounds;
pub mod single;
pub mod stats;
pub mod target;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use target::Target;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Smaller runs, to finish in well under a minute.
    pub quick: bool,
    /// The Python interpreter that runs the two scripts.
    pub python: PathBuf,
    /// The handout-style Python server script.
    pub python_server: PathBuf,
    /// The handout-style Python client script.
    pub python_client: PathBuf,
    /// How many interleaved rounds each scenario runs; the mode's default when `None`.
    pub rounds: Option<usize>,
    /// Run only this scenario; all of them when `None`.
    pub only: Option<Scenario>,
}

/// The four scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// One connection, one message at a time.
    LockStep,
    /// One connection streaming messages while replies are read.
    Pipelined,
    /// 100, 1,000 and 10,000 connections at once (10,000 only in the full run).
    Many,
    /// Bare messages from handout-style clients, one at a time.
    HandoutClient,
}

/// How much work each scenario does, and where the servers run.
pub struct Sizes {
    /// How many times each contender is measured, interleaved with the others.
    pub rounds: usize,
    /// Round trips per lock-step measurement.
    pub round_trips: usize,
    /// Lines per pipelined measurement.
    pub pipelined_lines: usize,
    /// How long the many clients run before their round trips are counted.
    pub many_warm_up: Duration,
    /// How long the many clients' round trips are counted.
    pub many_duration: Duration,
    /// The client counts of the many-clients scenario. Only the full run has 10,000:
    /// connecting them and tearing them down takes seconds, for each server and round.
    pub many_clients: &'static [usize],
    /// The CPU each server is pinned to, if pinning worked.
    pub server_cpu: Option<usize>,
}

impl Sizes {
    fn for_options(options: &Options) -> Sizes {
        let sizes = if options.quick {
            Sizes {
                rounds: 5,
                round_trips: 2_000,
                pipelined_lines: 2_000_000,
                many_warm_up: Duration::from_millis(250),
                many_duration: Duration::from_millis(500),
                many_clients: &[100, 1_000],
                server_cpu: None,
            }
        } else {
            Sizes {
                rounds: 7,
                round_trips: 20_000,
                pipelined_lines: 10_000_000,
                many_warm_up: Duration::from_millis(250),
                many_duration: Duration::from_secs(2),
                many_clients: &[100, 1_000, 10_000],
                server_cpu: None,
            }
        };
        Sizes {
            rounds: options.rounds.unwrap_or(sizes.rounds),
            ..sizes
        }
    }
}

/// Runs every scenario and prints the report on stdout.
///
/// # Errors
/// Only when printing fails; a server that cannot be measured gets a row saying why.
pub fn run(options: &Options) -> io::Result<()> {
    let mode = if options.quick { "quick" } else { "full" };
    println!("netlab benchmark ({mode} run), loopback, {} cores", cores());
    let sizes = Sizes {
        server_cpu: pin(),
        ..Sizes::for_options(options)
    };
    println!("Every server replies with the upper-cased message; the echo baseline echoes.");
    println!(
        "Each scenario measures its contenders in {} interleaved rounds. Ratios: the median",
        sizes.rounds
    );
    println!("of the per-round ratios (min-max); a target is met only if the whole range is.");
    let wanted = |scenario| options.only.is_none_or(|only| only == scenario);
    let python = Target::python(single::PYTHON, &options.python, &options.python_server);
    // One connection at a time: these servers are started once and serve every round.
    let single = [
        Scenario::LockStep,
        Scenario::Pipelined,
        Scenario::HandoutClient,
    ];
    let servers = if single.into_iter().any(wanted) {
        single::start_servers(&python, sizes.server_cpu)
    } else {
        Vec::new()
    };
    if wanted(Scenario::LockStep) {
        single::lock_step_scenario(&sizes, &servers);
    }
    if wanted(Scenario::Pipelined) {
        single::pipelined_scenario(&sizes, &servers);
    }
    if wanted(Scenario::Many) {
        many::many_clients_scenario(&sizes);
    }
    if wanted(Scenario::HandoutClient) {
        let client = handout::PythonClient {
            interpreter: &options.python,
            script: &options.python_client,
        };
        handout::handout_client_scenario(&sizes, &servers, &client);
    }
    Ok(())
}

/// Pins this process (the load generator, and the clients it starts) to CPU 1 and returns
/// the CPU for the servers, 0, if that worked; says which on stdout.
///
/// With the server on one core and the load generator on another, neither steals time
/// from the other, and runs are comparable: servers with many threads would otherwise win
/// CPU share from the load generator rather than by being faster.
fn pin() -> Option<usize> {
    if cores() >= 2 && target::pin_this_process(1) {
        println!("Each server runs on CPU 0 alone; the load generator and clients on CPU 1.");
        Some(0)
    } else {
        println!("Servers and load generator share the CPUs (no `taskset`, or one core).");
        None
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
