//! net_grade: grades submissions of the lab: any number of folders, each holding a
//! student's net_server.py, net_client.py and README.txt, or any pair of commands.
//!
//! ```text
//! net_grade submissions/*              # a readable report and a summary table
//! net_grade --json submissions/*       # for a gradebook
//! net_grade --server "target/release/net_server -p {port}" \
//!           --client "target/release/net_client -p {port}"
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use netlab::cli::parse_seconds;
use netlab::grade::report::{summary, Report, Verdict};
use netlab::grade::{grade_all, prepare_folder, Program, Submission, Timing};
use netlab::report::describe;

/// Grade lab submissions: each folder's net_server.py and net_client.py are run against
/// each other, against our probe client, and against our server, and every requirement
/// of the handout gets PASS, FAIL or SKIP with the reason. Exit code 0 only if every
/// requirement passed.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Folders, each holding one submission.
    #[arg(required_unless_present = "server")]
    submissions: Vec<PathBuf>,

    /// Grade this server command instead ({port} and {host} are filled in).
    #[arg(long, value_name = "CMD", requires = "client")]
    server: Option<String>,

    /// The client command to grade with --server.
    #[arg(long, value_name = "CMD", requires = "server")]
    client: Option<String>,

    /// Print the results as JSON instead of the readable report.
    #[arg(long)]
    json: bool,

    /// How long a client may run before it counts as never finishing.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "10")]
    client_timeout: Duration,

    /// How many submissions are graded at the same time (never two that use the same
    /// port).
    #[arg(short, long, value_name = "N", default_value_t = 4)]
    jobs: usize,

    /// How long an idle server is watched for spinning.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "1")]
    idle_window: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let timing = Timing {
        client: args.client_timeout,
        idle: args.idle_window,
        ..Timing::default()
    };
    let scratch = std::env::temp_dir().join(format!("net_grade-{}", std::process::id()));
    let reports = match submissions(&args, &scratch) {
        Ok(submissions) => grade_all(&submissions, &timing, args.jobs),
        Err(why) => {
            eprintln!("net_grade: {why}");
            return ExitCode::FAILURE;
        }
    };
    let _ = std::fs::remove_dir_all(&scratch);
    print_reports(&reports, args.json);
    let all_passed = reports.iter().all(|r| r.count(Verdict::Fail) == 0);
    if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn submissions(args: &Args, scratch: &std::path::Path) -> Result<Vec<Submission>, String> {
    if let (Some(server), Some(client)) = (&args.server, &args.client) {
        return Ok(vec![commands(server, client)?]);
    }
    args.submissions
        .iter()
        .map(|folder| {
            prepare_folder(folder, scratch)
                .map_err(|e| format!("cannot read {}: {}", folder.display(), describe(&e)))
        })
        .collect()
}

/// A pair given as shell commands, with `{host}` and `{port}` filled in.
fn commands(server: &str, client: &str) -> Result<Submission, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("cannot find a free port: {}", describe(&e)))?
        .port();
    let fill = |command: &str| {
        let command = command
            .replace("{port}", &port.to_string())
            .replace("{host}", "127.0.0.1");
        Program {
            program: PathBuf::from("sh"),
            args: vec!["-c".into(), format!("exec {command}")],
        }
    };
    Ok(Submission {
        name: format!("{server} / {client}"),
        dir: std::env::current_dir().map_err(|e| describe(&e))?,
        server: Some(fill(server)),
        client: Some(fill(client)),
        closing_words: Vec::new(),
        client_ports: vec![port],
        source_ports: vec![port],
        notes: Vec::new(),
    })
}

fn print_reports(reports: &[Report], json: bool) {
    if json {
        let items: Vec<String> = reports.iter().map(Report::json).collect();
        println!("[{}]", items.join(",\n"));
        return;
    }
    for report in reports {
        print!("{}", report.text());
    }
    print!("{}", summary(reports));
}
