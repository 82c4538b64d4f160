//! net_grade: grades submissions of the lab: any number of folders, each holding a
//! student's net_server.py, net_client.py and README.txt, or any pair of commands.
//!
//! ```text
//! net_grade submissions/*              # a readable report and a summary table
//! net_grade --json submissions/*       # every check, for a program to read
//! net_grade --csv submissions/*        # a gradebook for a spreadsheet or an LMS
//! net_grade --server "target/release/net_server -p {port}" \
//!           --client "target/release/net_client -p {port}"
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use netlab::cli::parse_seconds;
use netlab::grade::session::{self, Pairs, Settings};
use netlab::grade::{output, sandbox, Timing};

/// Grade lab submissions: each folder's net_server.py and net_client.py are run against
/// each other, against our probe client, and against our server, and every requirement
/// gets PASS, FAIL or SKIP with the reason. Exit code 0 only if every requirement of
/// every submission passed, 1 if not, 2 if grading could not start.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Folders, each holding one submission (or folders of such folders).
    #[arg(required_unless_present_any = ["server", "inside_namespace"])]
    submissions: Vec<PathBuf>,

    /// Grade this server command instead, run with `sh -c` ({port} and {host} are
    /// filled in).
    #[arg(
        long,
        value_name = "CMD",
        requires = "client",
        conflicts_with = "submissions"
    )]
    server: Option<String>,

    /// The client command to grade with --server.
    #[arg(long, value_name = "CMD", requires = "server")]
    client: Option<String>,

    /// The port the server listens on, instead of finding it from its sockets.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    port: Option<u16>,

    /// Print every check as JSON (one array, one object per submission).
    #[arg(long, conflicts_with = "csv")]
    json: bool,

    /// Print a CSV gradebook: submission, passed, failed, skipped, score.
    #[arg(long)]
    csv: bool,

    /// How many submissions are graded at the same time [default: all of them, up to
    /// 64; without namespaces, those that use the same port take turns].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,

    /// Give each submission network, PID and mount namespaces of its own (Linux, as
    /// root): "auto" does when it can.
    #[arg(long, value_enum, default_value_t = Isolation::Auto)]
    isolation: Isolation,

    /// How long a client may go without doing anything before it counts as stuck.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "10")]
    client_timeout: Duration,

    /// How long an idle server is watched for spinning.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "1")]
    idle_window: Duration,

    /// How long the grading of one submission may take in all.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "120")]
    time_limit: Duration,

    /// Grade the submission given on standard input in the namespace this runs in, and
    /// print its grade as JSON for the net_grade that started this one.
    #[arg(long, hide = true)]
    inside_namespace: bool,
}

/// Whether submissions get namespaces.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Isolation {
    /// Namespaces when they work here, otherwise none.
    Auto,
    /// Namespaces, or an error if they do not work here.
    Namespace,
    /// No namespaces: submissions that use the same port are graded one after another.
    None,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.inside_namespace {
        return match sandbox::grade_inside() {
            Ok(json) => print(&json),
            Err(why) => fail(&why),
        };
    }
    let settings = settings(&args);
    let pairs = match (args.server.clone(), args.client.clone()) {
        (Some(server), Some(client)) => Pairs::Commands { server, client },
        _ => Pairs::Folders(args.submissions.clone()),
    };
    let grades = match session::run(&pairs, &settings) {
        Ok(grades) => grades,
        Err(why) => return fail(&why),
    };
    let text = if args.json {
        output::json(&grades)
    } else if args.csv {
        match output::csv(&grades) {
            Ok(csv) => csv,
            Err(why) => return fail(&why),
        }
    } else {
        output::report(&grades)
    };
    print(&text);
    if grades.iter().all(|g| g.all_passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn settings(args: &Args) -> Settings {
    Settings {
        timing: Timing {
            client: args.client_timeout,
            idle: args.idle_window,
            submission: args.time_limit,
            ..Timing::default()
        },
        jobs: args.jobs.map(|n| n as usize),
        isolation: match args.isolation {
            Isolation::Auto => session::Isolation::Auto,
            Isolation::Namespace => session::Isolation::Namespace,
            Isolation::None => session::Isolation::None,
        },
        port: args.port,
    }
}

/// Prints `text`; a closed stdout (`| head`) ends the output early, which is no error.
fn print(text: &str) -> ExitCode {
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    ExitCode::SUCCESS
}

fn fail(why: &str) -> ExitCode {
    eprintln!("net_grade: {why}");
    ExitCode::from(2)
}
