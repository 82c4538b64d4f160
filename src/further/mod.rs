//! The handout's "going further" ideas, each a program of its own name: servers for many
//! clients at once, a file server, and chat.

pub mod async_server;
pub mod chat;
pub mod chat_room;
pub mod files;
pub mod outbox;
pub mod pool;
pub mod threaded;

use std::io;

use crate::lab::client::ClientError;
use crate::report::describe;

/// The one-line message for a failed connection, whose hint names `server`, the program
/// that should be listening there ([`ClientError`]'s own hint names net_server).
pub fn connect_failure(error: &ClientError, server: &str) -> String {
    match error {
        ClientError::Connect { target, source }
            if source.kind() == io::ErrorKind::ConnectionRefused =>
        {
            let cause = describe(source);
            format!("cannot connect to {target}: {cause} (is {server} running?)")
        }
        other => other.to_string(),
    }
}
