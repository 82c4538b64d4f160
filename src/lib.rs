//! netlab: the networking lab in Rust.
//!
//! A server that answers every line it receives with a transformed copy, a client that
//! sends a series of messages and prints the replies, and the library both are built on.
//!
//! # Layout
//! - [`frame`]: turning a byte stream into messages (lines, or handout-style bare messages
//!   ended by a pause) with a bounded buffer, and writing replies as lines.
//! - [`transform`]: the named ways of turning a message into its reply.
//! - [`server`]: the single-connection server loop; it takes a listener made by its caller.
//! - [`client`]: a client session: connect, send each message, read its reply, print.
//! - [`pool`]: a fixed pool of worker threads whose `Drop` joins them.
//! - [`threaded`]: serving many clients at once, one pool worker each.
//! - [`files`]: the file server and its client side: a root that cannot be escaped.
//! - [`chat`]: two-way chat, sending and receiving at once.
//! - [`chat_room`]: a chat room relaying every line to everyone else.
//! - [`grade`]: grading a submitted pair of programs against the handout.
//! - [`async_server`]: the same service on tokio, for thousands of connections.
//! - [`bench`]: the benchmark behind `make bench`: load generators, baselines, report.
//! - [`cli`]: the default port and the options and parsers the programs share.
//! - [`report`]: turning errors into the one-line messages people read.
//!
//! The programs in `src/bin/` only parse arguments, bind or connect, and call into here.

pub mod async_server;
pub mod bench;
pub mod chat;
pub mod chat_room;
pub mod cli;
pub mod client;
pub mod files;
pub mod frame;
pub mod grade;
pub mod pool;
pub mod report;
pub mod server;
pub mod threaded;
pub mod transform;
