//! Serving many clients at once, each on its own worker thread: the handout's first
//! "going further" idea, with a cap so a flood of clients cannot create unbounded threads.

use std::net::TcpListener;
use std::sync::Arc;

use crate::further::pool::ThreadPool;
use crate::lab::server::{accept_forever, serve_connection, ServerConfig};

/// How many clients are served at once unless `--max-clients` says otherwise.
pub const DEFAULT_MAX_CLIENTS: u32 = 64;

/// Serves clients from `listener` concurrently, one per worker of `pool`, forever.
///
/// When every worker is busy, the next accepted client waits for one to become free, and
/// clients after it wait in the listen backlog, like every client of the single-connection
/// server. A slow or silent client holds only its own worker.
pub fn serve_with_pool(listener: &TcpListener, config: ServerConfig, pool: &ThreadPool) -> ! {
    let config = Arc::new(config);
    accept_forever(listener, config.quiet, |stream, peer| {
        let config = Arc::clone(&config);
        pool.execute(move || serve_connection(stream, peer, &config));
    })
}
