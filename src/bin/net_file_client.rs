//! net_file_client: fetches files from net_file_server.
//!
//! ```text
//! net_file_client notes.txt                 # print it
//! net_file_client photo.png -o photo.png    # save it
//! net_file_client a.txt b.txt               # several, on one connection
//! ```

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use netlab::cli::DEFAULT_PORT;
use netlab::further::files::{fetch, Header};
use netlab::lab::client::{self, ClientError};
use netlab::report::describe;

/// Fetch files by name from net_file_server and print them, or save one with --output.
/// Every byte the server announces is checked to have arrived.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Names of the files, relative to the server's root.
    #[arg(required = true)]
    names: Vec<String>,

    /// Host name or address of the server.
    #[arg(long, default_value = "localhost")]
    host: String,

    /// Port the server listens on.
    #[arg(short, long, default_value_t = DEFAULT_PORT + 1)]
    port: u16,

    /// Save the file here instead of printing it (one name only).
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.output.is_some() && args.names.len() > 1 {
        eprintln!(
            "net_file_client: --output takes one file name, not {}",
            args.names.len()
        );
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(why) => {
            eprintln!("net_file_client: {why}");
            ExitCode::FAILURE
        }
    }
}

/// Fetches every name; returns whether all of them were served.
fn run(args: &Args) -> Result<bool, String> {
    let stream =
        client::connect(&args.host, args.port, None).map_err(|e: ClientError| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut all_served = true;
    for name in &args.names {
        let header = match &args.output {
            Some(path) => save(&mut reader, name, path)?,
            None => {
                let mut stdout = io::stdout().lock();
                let header = fetch(&mut reader, name, &mut stdout).map_err(|e| failed(name, &e))?;
                stdout.flush().map_err(|e| failed(name, &e))?;
                header
            }
        };
        if let Header::Err(reason) = header {
            eprintln!("net_file_client: {name}: {reason}");
            all_served = false;
        }
    }
    Ok(all_served)
}

/// Fetches `name` into a new file at `path`; removes it again if the transfer fails.
fn save(
    reader: &mut BufReader<std::net::TcpStream>,
    name: &str,
    path: &PathBuf,
) -> Result<Header, String> {
    let file = File::create(path)
        .map_err(|e| format!("cannot create {}: {}", path.display(), describe(&e)))?;
    let mut out = BufWriter::new(file);
    let result = fetch(reader, name, &mut out).and_then(|header| out.flush().map(|()| header));
    if !matches!(result, Ok(Header::Ok(_))) {
        let _ = std::fs::remove_file(path);
    }
    result.map_err(|e| failed(name, &e))
}

fn failed(name: &str, error: &io::Error) -> String {
    format!("{name}: {}", describe(error))
}
