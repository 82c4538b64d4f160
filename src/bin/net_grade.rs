//! net_grade: grades submissions of the lab: any number of folders, each holding a
//! student's net_server.py, net_client.py and README.txt, or any pair of commands.
//!
//! ```text
//! net_grade submissions/*              # a readable report and a summary table
//! net_grade --json submissions/*       # for a gradebook
//! net_grade --server "target/release/net_server -p {port}" \
//!           --client "target/release/net_client -p {port}"
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use netlab::cli::parse_seconds;
use netlab::grade::isolation::{grade_in_namespace, loopback_up, namespaces_work, parallel_map};
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

    /// The port the server listens on, instead of finding it from its sockets.
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,

    /// Print the results as JSON instead of the readable report.
    #[arg(long)]
    json: bool,

    /// How many submissions are graded at the same time.
    #[arg(short, long, value_name = "N", default_value_t = 4)]
    jobs: usize,

    /// Give each submission a network namespace of its own (Linux, as root): "auto" does
    /// when it can.
    #[arg(long, value_enum, default_value_t = Isolation::Auto)]
    isolation: Isolation,

    /// How long a client may run before it counts as never finishing.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "10")]
    client_timeout: Duration,

    /// How long an idle server is watched for spinning.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "1")]
    idle_window: Duration,

    /// Grade one submission in the current network namespace and print the report for
    /// the net_grade that started this one.
    #[arg(long, hide = true)]
    inside_namespace: bool,
}

/// Whether submissions get network namespaces.
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
    let timing = Timing {
        client: args.client_timeout,
        idle: args.idle_window,
        ..Timing::default()
    };
    let reports = match run(&args, &timing) {
        Ok(reports) => reports,
        Err(why) => {
            eprintln!("net_grade: {why}");
            return ExitCode::FAILURE;
        }
    };
    let text = if args.inside_namespace {
        reports.iter().map(Report::to_lines).collect()
    } else {
        render(&reports, args.json)
    };
    // A closed stdout (`| head`) ends the output early; it is not worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    if args.inside_namespace {
        return ExitCode::SUCCESS;
    }
    if reports.iter().all(|r| r.count(Verdict::Fail) == 0) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(args: &Args, timing: &Timing) -> Result<Vec<Report>, String> {
    if args.inside_namespace {
        loopback_up()?;
        return grade_here(args, timing, 1);
    }
    let isolate = match args.isolation {
        Isolation::None => false,
        Isolation::Auto => namespaces_work(),
        Isolation::Namespace if namespaces_work() => true,
        Isolation::Namespace => return Err("network namespaces do not work here".into()),
    };
    if !isolate {
        return grade_here(args, timing, args.jobs);
    }
    let exe = std::env::current_exe().map_err(|e| describe(&e))?;
    let targets: Vec<Vec<String>> = match (&args.server, &args.client) {
        (Some(server), Some(client)) => vec![vec![
            "--server".into(),
            server.clone(),
            "--client".into(),
            client.clone(),
        ]],
        _ => args
            .submissions
            .iter()
            .map(|folder| vec![absolute(folder)])
            .collect(),
    };
    Ok(parallel_map(&targets, args.jobs, |target| {
        let mut child_args = vec![
            "--inside-namespace".to_string(),
            "--client-timeout".into(),
            timing.client.as_secs_f64().to_string(),
            "--idle-window".into(),
            timing.idle.as_secs_f64().to_string(),
        ];
        if let Some(port) = args.port {
            child_args.extend(["--port".to_string(), port.to_string()]);
        }
        child_args.extend(target.iter().cloned());
        grade_in_namespace(&exe, &child_args, &target.join(" "))
    }))
}

/// Grades in this process, up to `jobs` at a time, never two on one port at once.
fn grade_here(args: &Args, timing: &Timing, jobs: usize) -> Result<Vec<Report>, String> {
    let scratch = std::env::temp_dir().join(format!("net_grade-{}", std::process::id()));
    let submissions = submissions(args, &scratch).map(|mut all| {
        for submission in &mut all {
            submission.port = args.port.or(submission.port);
        }
        all
    });
    let reports = submissions.map(|s| grade_all(&s, timing, jobs));
    let _ = std::fs::remove_dir_all(&scratch);
    reports
}

fn absolute(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

fn submissions(args: &Args, scratch: &Path) -> Result<Vec<Submission>, String> {
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
        port: command_port(server, port),
        notes: Vec::new(),
    })
}

/// A `{port}` placeholder decides the server's port.
fn command_port(server: &str, port: u16) -> Option<u16> {
    server.contains("{port}").then_some(port)
}

/// The reports as JSON, or as text followed by the summary table.
fn render(reports: &[Report], json: bool) -> String {
    if json {
        let items: Vec<String> = reports.iter().map(Report::json).collect();
        return format!("[{}]\n", items.join(",\n"));
    }
    let mut text: String = reports.iter().map(Report::text).collect();
    text.push_str(&summary(reports));
    text
}
