//! The lab's integration tests. Each module is one behaviour area of the handout; all of
//! them run the real `net_server` and `net_client` programs through `support`.

mod support;

mod bench;
mod chat;
mod concurrency;
mod errors;
mod file_server;
mod framing;
#[cfg(target_os = "linux")] // net_grade finds ports through /proc
mod grading;
mod handout_peers;
mod handout_tier;
mod hostile_input;
mod interop;
mod reconnect;
mod server_output;
mod sessions;
#[cfg(unix)] // the generator is a shell script
mod starter;
mod transforms;
