//! The handout's pair: everything `net_server` and `net_client` are made of.
//!
//! This is the part of netlab a student's own solution replaces. Nothing here depends on
//! the "going further" programs, the grader or the benchmark.

pub mod client;
pub mod frame;
pub mod server;
pub mod transform;
