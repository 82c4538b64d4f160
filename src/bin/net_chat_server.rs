//! net_chat_server: a chat room. Connect with `net_chat HOST`, `nc` or `telnet`; the first
//! line is your nickname, every line after it goes to everyone else.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use netlab::cli::{listen, parse_seconds, worker_pool, DEFAULT_PORT};
use netlab::further::chat_room::Room;
use netlab::further::outbox::{BacklogLimits, DEFAULT_MAX_BACKLOG};
use netlab::lab::server::accept_forever;

/// A chat room: the first line from each client is its nickname; every line after that
/// is sent to everyone else as "nick: text". Joins and leaves are announced.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    host: String,

    /// Port to listen on; 0 lets the operating system pick.
    #[arg(short, long, default_value_t = DEFAULT_PORT + 2)]
    port: u16,

    /// Print only the "listening on" line.
    #[arg(short, long)]
    quiet: bool,

    /// How many people may be in the room at once; more wait to get in.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_clients: u32,

    /// Bytes that may wait for one person before whoever is talking is slowed down.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BACKLOG,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_backlog: usize,

    /// Disconnect someone whose waiting lines stay over --max-backlog, with nothing read,
    /// for this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "5")]
    stall_timeout: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let pool = match worker_pool(args.max_clients) {
        Ok(pool) => pool,
        Err(why) => {
            eprintln!("net_chat_server: {why}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match listen(&args.host, args.port) {
        Ok(listener) => listener,
        Err(why) => {
            eprintln!("net_chat_server: {why}");
            return ExitCode::FAILURE;
        }
    };
    let limits = BacklogLimits {
        max_backlog: args.max_backlog,
        stall_timeout: args.stall_timeout,
    };
    let room = Arc::new(Room::new(limits, args.quiet));
    accept_forever(&listener, args.quiet, |stream, peer| {
        let room = Arc::clone(&room);
        pool.execute(move || room.serve_connection(stream, peer));
    })
}
