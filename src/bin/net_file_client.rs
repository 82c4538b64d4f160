//! net_file_client: fetches files from net_file_server.
//!
//! ```text
//! net_file_client notes.txt                 # print it
//! net_file_client photo.png -o photo.png    # save it
//! net_file_client a.txt b.txt               # several, on one connection
//! ```

use std::io::{self, BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use netlab::cli::{parse_seconds, DEFAULT_PORT};
use netlab::further::files::{check_request, fetch, Header};
use netlab::lab::client;
use netlab::report::{describe, visible};
use tempfile::NamedTempFile;

/// Fetch files by name from net_file_server and print them, or save one with --output.
/// Every byte the server announces is checked to have arrived.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Names of the files, relative to the server's root.
    #[arg(required = true, value_parser = file_name)]
    names: Vec<String>,

    /// Host name or address of the server.
    #[arg(long, default_value = "localhost")]
    host: String,

    /// Port the server listens on.
    #[arg(short, long, default_value_t = DEFAULT_PORT + 1)]
    port: u16,

    /// Save the file here instead of printing it (one name only). It appears only once
    /// the whole file has arrived; a failed transfer leaves an existing PATH as it was.
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,

    /// Give up when the server takes this many seconds to accept the connection, to
    /// answer a request, or to send more of a file.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "5")]
    timeout: Duration,
}

/// A file name that can be sent as one request (a clap value parser).
fn file_name(text: &str) -> Result<String, String> {
    check_request(text).map(|()| text.to_string())
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
    let stream = client::connect_within(&args.host, args.port, None, args.timeout)
        .map_err(|e| e.with_hint_for("net_file_server"))?;
    let mut reader = BufReader::new(stream);
    let mut all_served = true;
    for name in &args.names {
        let header = match &args.output {
            Some(path) => save(&mut reader, name, args.timeout, path)?,
            None => {
                let mut stdout = io::stdout().lock();
                let header = fetch(&mut reader, name, args.timeout, &mut stdout)
                    .map_err(|e| failed(name, &e))?;
                stdout.flush().map_err(|e| failed(name, &e))?;
                header
            }
        };
        if let Header::Err(reason) = header {
            eprintln!("net_file_client: {name}: {}", visible(&reason));
            all_served = false;
        }
    }
    Ok(all_served)
}

/// Fetches `name` into a temporary file beside `path`, and renames it to `path` only once
/// every byte has arrived, so `path` is either the whole file or as it was before.
fn save(
    reader: &mut BufReader<TcpStream>,
    name: &str,
    timeout: Duration,
    path: &Path,
) -> Result<Header, String> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let temp = temp_file_in(folder).map_err(|e| {
        format!(
            "cannot create a file in {}: {}",
            folder.display(),
            describe(&e)
        )
    })?;
    let mut out = BufWriter::new(temp);
    let header = fetch(reader, name, timeout, &mut out).map_err(|e| failed(name, &e))?;
    if let Header::Ok(_) = header {
        let temp = out.into_inner().map_err(|e| failed(name, e.error()))?;
        temp.persist(path)
            .map_err(|e| format!("cannot save {}: {}", path.display(), describe(&e.error)))?;
    }
    Ok(header)
}

/// A new temporary file in `folder`, deleted unless it is persisted. Created with the
/// permissions any new file gets (the umask applies), not tempfile's private 0600.
fn temp_file_in(folder: &Path) -> io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".net_file_client-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.tempfile_in(folder)
}

fn failed(name: &str, error: &io::Error) -> String {
    let hint = match error.kind() {
        io::ErrorKind::TimedOut => " (see --timeout)",
        _ => "",
    };
    format!("{name}: {}{hint}", describe(error))
}
