//! net_client: connects to net_server, sends several messages, prints each reply, closes.
//!
//! ```text
//! net_client                          # a built-in series of messages to localhost:28461
//! net_client hello world              # two messages
//! net_client --file notes.txt         # one message per line of a file (- for stdin)
//! net_client --count 100              # message 1 .. message 100
//! net_client -i                       # type messages; Ctrl-D to finish
//! ```

use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use netlab::cli::{parse_millis, parse_seconds, DEFAULT_PORT};
use netlab::lab::client::{
    self, lines_of, numbered_messages, ClientConfig, ClientError, Session, Transcript,
    BUILT_IN_MESSAGES,
};
use netlab::lab::frame::FrameLimits;
use netlab::report::describe;

/// Connect to net_server, send several messages, print each reply, then close.
///
/// Messages come from the arguments, --file, --count or -i; with none of these, a built-in
/// series is sent.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Messages to send, one per argument.
    #[arg(group = "source")]
    messages: Vec<String>,

    /// Host name or address of the server; an IPv6 address with or without brackets.
    #[arg(long, default_value = "localhost")]
    host: String,

    /// Port the server listens on.
    #[arg(short, long, default_value_t = DEFAULT_PORT)]
    port: u16,

    /// Send each line of this file as a message; "-" reads standard input.
    #[arg(short, long, value_name = "PATH", group = "source")]
    file: Option<PathBuf>,

    /// Send N generated messages: "message 1" to "message N".
    #[arg(short = 'n', long, value_name = "N", group = "source")]
    count: Option<u32>,

    /// Read messages typed on standard input, one per line, until end of input (Ctrl-D).
    #[arg(short, long, group = "source")]
    interactive: bool,

    /// Print exactly one line per reply and nothing else.
    #[arg(long)]
    replies_only: bool,

    /// Give up when a reply has not fully arrived this many seconds (more than 0) after its
    /// message was sent.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "5")]
    reply_timeout: Duration,

    /// Keep trying to connect for this many seconds (more than 0) before giving up.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    retry: Option<Duration>,

    /// Send messages without a trailing newline, as the handout's Python clients do.
    #[arg(long)]
    bare: bool,

    /// Grace, in milliseconds (more than 0), for the rest of a reply without a newline when
    /// more of it is clearly coming (see the README's "Protocol").
    #[arg(long, value_name = "MS", value_parser = parse_millis, default_value = "2")]
    partial_timeout: Duration,
}

type Messages = Box<dyn Iterator<Item = io::Result<String>>>;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("net_client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), ClientError> {
    let messages = messages(args).map_err(ClientError::Input)?;
    let connecting = Instant::now();
    let stream = connect(args)?;
    let greeting_wait = client::greeting_wait(connecting.elapsed());
    let config = ClientConfig {
        limits: FrameLimits {
            partial_timeout: args.partial_timeout,
            idle_timeout: None,
            max_line_len: client::MAX_REPLY_LEN,
        },
        reply_timeout: args.reply_timeout,
        bare: args.bare,
        greeting_wait,
    };
    let mut session = Session::new(stream, config)?;
    // Written with `writeln!`, not `println!`, so a closed stdout (`| head`) is an error
    // message, not a panic.
    let mut out = io::stdout().lock();
    let transcript = if args.replies_only {
        Transcript::RepliesOnly
    } else {
        let target = client::host_and_port(&args.host, args.port);
        writeln!(out, "connected to {target}").map_err(ClientError::Output)?;
        Transcript::Both
    };
    let answered = client::run(&mut session, messages, transcript, &mut out)?;
    session.close();
    if transcript == Transcript::Both {
        writeln!(out, "closed after {answered} message(s)").map_err(ClientError::Output)?;
    }
    Ok(())
}

/// Connects; with `--retry`, says so once on stderr before trying again.
fn connect(args: &Args) -> Result<TcpStream, ClientError> {
    match (client::connect(&args.host, args.port, None), args.retry) {
        (Err(ClientError::Connect { target, source }), Some(retry)) => {
            let (cause, secs) = (describe(&source), retry.as_secs_f64());
            eprintln!("net_client: {target} not reachable yet ({cause}); retrying for {secs}s");
            client::connect(&args.host, args.port, Some(retry))
        }
        (result, _) => result,
    }
}

/// Where the messages come from, opened before connecting so a typo fails fast.
fn messages(args: &Args) -> io::Result<Messages> {
    if let Some(path) = &args.file {
        if path.as_os_str() == "-" {
            return Ok(Box::new(lines_of(io::stdin().lock())));
        }
        let file = File::open(path).map_err(|e| with_path(e, path))?;
        return Ok(Box::new(lines_of(BufReader::new(file))));
    }
    if let Some(count) = args.count {
        return Ok(Box::new(numbered_messages(count)));
    }
    if args.interactive {
        if io::stdin().is_terminal() {
            eprintln!("Type a message and press Enter; Ctrl-D to finish.");
        }
        return Ok(Box::new(lines_of(io::stdin().lock())));
    }
    if !args.messages.is_empty() {
        return Ok(Box::new(args.messages.clone().into_iter().map(Ok)));
    }
    Ok(Box::new(
        BUILT_IN_MESSAGES.map(|m| Ok(m.to_string())).into_iter(),
    ))
}

/// Names the file in an open error: "notes.txt: No such file or directory".
fn with_path(error: io::Error, path: &std::path::Path) -> io::Error {
    let text = describe(&error);
    io::Error::new(error.kind(), format!("{}: {text}", path.display()))
}
