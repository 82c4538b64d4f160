//! netlab: the networking lab in Rust.
//!
//! A server that answers every line it receives with a transformed copy, a client that
//! sends a series of messages and prints the replies, and the library both are built on.
//!
//! # Layout
//! The lab itself, what the handout asks for ([`lab`]):
//! - [`lab::frame`]: turning a byte stream into messages (lines, or handout-style bare
//!   messages ended when the sender stops) with a bounded buffer, and writing replies.
//! - [`lab::transform`]: the named ways of turning a message into its reply.
//! - [`lab::server`]: the single-connection server loop; it takes a listener made by its
//!   caller.
//! - [`lab::client`]: a client session: connect, send each message, read its reply, print.
//!
//! Everything beyond it:
//! - [`further`]: the "going further" programs: [`further::pool`] (a fixed pool of worker
//!   threads whose `Drop` joins them), [`further::threaded`] and [`further::async_server`]
//!   (many clients at once), [`further::files`] (a file server whose root cannot be
//!   escaped), [`further::chat`], and [`further::chat_room`] with each member's
//!   [`further::outbox`].
//! - [`grade`]: grading a submitted pair of programs against the handout.
//! - [`bench`]: the benchmark behind `make bench`: load generators, baselines, report.
//! - [`cli`]: the default port and the options and parsers the programs share.
//! - [`report`]: turning errors into the one-line messages people read, and the servers'
//!   log, which never holds up serving.
//!
//! The programs in `src/bin/` only parse arguments, bind or connect, and call into here.

pub mod bench;
pub mod cli;
pub mod further;
pub mod grade;
pub mod lab;
pub mod report;
