//! The handout's "going further" ideas, each a program of its own name: servers for many
//! clients at once, a file server, and chat.

pub mod async_server;
pub mod chat;
pub mod chat_room;
pub mod files;
pub mod outbox;
pub mod pool;
pub mod threaded;
