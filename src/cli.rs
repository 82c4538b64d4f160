//! Command-line pieces shared by the programs.

use std::io::{self, Write};
use std::net::TcpListener;
use std::time::Duration;

use crate::further::pool::ThreadPool;
use crate::lab::client::{host_and_port, strip_brackets};
use crate::lab::frame::FrameLimits;
use crate::lab::server::ServerConfig;
use crate::lab::transform::Transform;
use crate::report::describe;

/// The port both programs use unless told otherwise: unusual, as the handout asks, and
/// below Linux's ephemeral range (32768+), so no outgoing connection can be squatting on it.
pub const DEFAULT_PORT: u16 = 28461;

/// The options every server program accepts, so they all behave alike.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on: 0.0.0.0 for every interface, 127.0.0.1 for this machine only;
    /// an IPv6 address (such as ::1) may be written with or without square brackets.
    #[arg(long, default_value = "0.0.0.0")]
    pub host: String,

    /// Port to listen on; 0 lets the operating system pick a free one.
    #[arg(short, long, default_value_t = DEFAULT_PORT)]
    pub port: u16,

    /// How each reply is made from its message.
    #[arg(short, long, value_enum, default_value_t)]
    pub transform: Transform,

    /// Print only the "listening on" line, no per-connection or per-message output.
    #[arg(short, long)]
    pub quiet: bool,

    /// Longest message in bytes; a longer one is discarded and answered with an error line.
    #[arg(long, value_name = "BYTES", default_value_t = FrameLimits::default().max_line_len)]
    pub max_line_len: usize,

    /// Close a connection whose client sends nothing, or takes none of its replies, for
    /// this many seconds (more than 0) [default: never].
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub idle_timeout: Option<Duration>,

    /// Grace, in milliseconds (more than 0), for the rest of a message without a newline
    /// when more of it is clearly coming (see the README's "Protocol").
    #[arg(long, value_name = "MS", value_parser = parse_millis, default_value = "2")]
    pub partial_timeout: Duration,
}

impl ServerArgs {
    /// Binds the listening socket and prints `listening on ADDR:PORT` with the address
    /// really bound, so whoever used `--port 0` learns the port.
    ///
    /// # Errors
    /// A one-line explanation such as `cannot listen on 0.0.0.0:28461: Address already in
    /// use`.
    pub fn listen(&self) -> Result<TcpListener, String> {
        listen(&self.host, self.port)
    }

    /// How the server should answer, from the options.
    pub fn config(&self) -> ServerConfig {
        ServerConfig {
            transform: self.transform,
            quiet: self.quiet,
            limits: FrameLimits {
                max_line_len: self.max_line_len,
                partial_timeout: self.partial_timeout,
                idle_timeout: self.idle_timeout,
            },
        }
    }
}

/// Binds `host:port` and prints `listening on ADDR:PORT` with the address really bound,
/// so whoever used port 0 learns the port.
///
/// # Errors
/// A one-line explanation such as `cannot listen on 0.0.0.0:28461: Address already in
/// use`.
pub fn listen(host: &str, port: u16) -> Result<TcpListener, String> {
    let listener = TcpListener::bind((strip_brackets(host), port)).map_err(|e| {
        let address = host_and_port(host, port);
        format!("cannot listen on {address}: {}", describe(&e))
    })?;
    announce(&listener)
        .map_err(|e| format!("cannot report the listening address: {}", describe(&e)))?;
    Ok(listener)
}

/// Starts the pool of worker threads that serves `max_clients` clients at once.
///
/// # Errors
/// A one-line explanation when the threads cannot be started.
pub fn worker_pool(max_clients: u32) -> Result<ThreadPool, String> {
    ThreadPool::new(max_clients as usize)
        .map_err(|e| format!("cannot start worker threads: {}", describe(&e)))
}

fn announce(listener: &TcpListener) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on {}", listener.local_addr()?)?;
    stdout.flush()
}

/// Parses a number of seconds such as `5` or `0.5` (a clap value parser). Zero is refused:
/// a timeout of 0 would fail every connection, and no option means "never" by 0.
///
/// # Errors
/// A message for clap to show when the text is not a number of seconds greater than 0.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    let duration = Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("'{text}' is not a valid number of seconds"))?;
    greater_than_zero(duration)
}

/// Parses a number of milliseconds such as `50` (a clap value parser). Zero is refused, as
/// by [`parse_seconds`].
///
/// # Errors
/// A message for clap to show when the text is not a whole number greater than 0.
pub fn parse_millis(text: &str) -> Result<Duration, String> {
    let millis = text
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number of milliseconds"))?;
    greater_than_zero(Duration::from_millis(millis))
}

/// Refuses a zero duration (including one too small to count, such as `1e-12` seconds).
fn greater_than_zero(duration: Duration) -> Result<Duration, String> {
    if duration.is_zero() {
        Err("it must be greater than 0".to_string())
    } else {
        Ok(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_may_be_fractional() {
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_seconds("3"), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn negative_or_non_numeric_seconds_are_refused() {
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
    }

    #[test]
    fn millis_are_whole_numbers() {
        assert_eq!(parse_millis("50"), Ok(Duration::from_millis(50)));
        assert!(parse_millis("0.5").is_err());
    }

    #[test]
    fn zero_is_refused_in_any_spelling() {
        for zero in ["0", "0.0", "-0", "1e-12"] {
            assert_eq!(
                parse_seconds(zero),
                Err("it must be greater than 0".to_string()),
                "{zero}"
            );
        }
        assert_eq!(
            parse_millis("0"),
            Err("it must be greater than 0".to_string())
        );
    }
}
