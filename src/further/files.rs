//! A file server that cannot be escaped: the handout's second "going further" idea.
//!
//! # Protocol
//! A request is one line: the name of a file, relative to the server's root. The reply is
//! a header line, then for success exactly the announced number of bytes:
//!
//! ```text
//! OK 1234\n<1234 bytes of the file>
//! ERR not found\n
//! ```
//!
//! The reasons after `ERR` are `not found`, `is a directory`, `too large (N bytes; the
//! limit is M)` and `forbidden: WHY`. One connection may send any number of requests.
//!
//! # Staying inside the root
//! A name is refused before anything is opened if it is absolute, has a `..` component,
//! contains a NUL byte or is not UTF-8, or is longer than [`MAX_NAME_LEN`]. Every file is
//! then opened through [`cap_std`], beneath a handle on the root: on Linux the kernel
//! itself resolves the path (`openat2` with `RESOLVE_BENEATH`) and refuses one that leaves
//! the root, symbolic links included; elsewhere cap-std walks the path one component at a
//! time beneath the handle. Nothing is checked first and opened later, so a directory
//! swapped for a link to the outside while a request is served cannot lead out.
//! Links that stay inside the root work.
//!
//! Only regular files are served: not directories, devices, FIFOs or sockets. The open is
//! non-blocking, so a FIFO cannot hang it, and the kind is taken from the opened file.
//! Files are streamed, never read into memory whole.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Component, Path};
use std::time::Duration;

use cap_std::fs::{Dir, OpenOptions};

use crate::lab::frame::{Frame, FrameLimits, FrameReader};
use crate::report::{describe, is_timeout};

/// The longest file name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 1024;

/// The largest file served unless `--max-file-size` says otherwise: 100 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;

/// How the file server behaves.
#[derive(Debug)]
pub struct FileServerConfig {
    /// A handle on the directory served; every file is opened beneath it.
    pub root: Dir,
    /// Files larger than this are refused with `too large`.
    pub max_file_size: u64,
    /// Silences the per-request log.
    pub quiet: bool,
    /// Close a connection that makes no progress for this long: no request arrives, or
    /// the client reads none of a file being sent. `None` waits forever.
    pub idle_timeout: Option<Duration>,
}

impl FileServerConfig {
    fn log(&self, line: fmt::Arguments<'_>) {
        crate::report::debug_line(self.quiet, line);
    }
}

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing by that name in the root.
    NotFound,
    /// The name is a directory.
    IsADirectory,
    /// The file is over the size limit.
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The name is not allowed, for the reason given.
    Forbidden(&'static str),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotFound => f.write_str("not found"),
            Refusal::IsADirectory => f.write_str("is a directory"),
            Refusal::TooLarge { size, limit } => {
                write!(f, "too large ({size} bytes; the limit is {limit})")
            }
            Refusal::Forbidden(why) => write!(f, "forbidden: {why}"),
        }
    }
}

/// Opens the regular file `name` beneath `root`, or says why it is refused. The kernel
/// (or cap-std, where the kernel cannot) refuses any path that leaves `root`.
pub fn open_beneath(root: &Dir, name: &[u8]) -> Result<(File, u64), Refusal> {
    let relative = check_name(name)?;
    let file = root
        .open_with(relative, &read_without_blocking())
        .map_err(|e| refusal_for(&e))?
        .into_std();
    let kind = file.metadata().map_err(|_| Refusal::NotFound)?;
    if kind.is_dir() {
        return Err(Refusal::IsADirectory);
    }
    if !kind.is_file() {
        return Err(Refusal::Forbidden("not a regular file"));
    }
    Ok((file, kind.len()))
}

/// Read-only, and non-blocking so that opening a FIFO returns at once instead of waiting
/// for a writer. (Reads from a regular file never block, whatever the flag.)
fn read_without_blocking() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    cap_std::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options
}

/// The refusal for an error opening a file beneath the root.
fn refusal_for(error: &io::Error) -> Refusal {
    match error.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Refusal::NotFound,
        // cap-std reports a path that leaves the root as a permission error of its own,
        // with no OS error number; a file the server may not read has one.
        io::ErrorKind::PermissionDenied if error.raw_os_error().is_none() => {
            Refusal::Forbidden("leads outside the served directory")
        }
        io::ErrorKind::PermissionDenied => Refusal::Forbidden("permission denied"),
        _ => Refusal::Forbidden("cannot be opened"),
    }
}

/// The checks that need only the name itself.
fn check_name(name: &[u8]) -> Result<&Path, Refusal> {
    if name.len() > MAX_NAME_LEN {
        return Err(Refusal::Forbidden("name too long"));
    }
    if name.contains(&0) {
        return Err(Refusal::Forbidden("NUL in name"));
    }
    let name = std::str::from_utf8(name).map_err(|_| Refusal::Forbidden("name is not UTF-8"))?;
    let path = Path::new(name);
    for component in path.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err(Refusal::Forbidden("'..' in name")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(Refusal::Forbidden("absolute name"))
            }
        }
    }
    if path.components().next().is_none() {
        return Err(Refusal::Forbidden("empty name"));
    }
    Ok(path)
}

/// Serves file requests on one connection until the client closes it, and logs how it
/// ended.
pub fn serve_connection(stream: TcpStream, peer: SocketAddr, config: &FileServerConfig) {
    config.log(format_args!("[{peer}] connected"));
    match answer_requests(&stream, peer, config) {
        Ok(count) => config.log(format_args!("[{peer}] closed after {count} request(s)")),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            config.log(format_args!("[{peer}] closed: {}", describe(&e)));
        }
        Err(e) => config.log(format_args!("[{peer}] connection lost: {}", describe(&e))),
    }
}

fn answer_requests(
    stream: &TcpStream,
    peer: SocketAddr,
    config: &FileServerConfig,
) -> io::Result<u64> {
    stream.set_nodelay(true)?;
    // A client that stops reading a file would otherwise hold this worker forever: a
    // write that makes no progress for the idle timeout fails instead.
    stream.set_write_timeout(config.idle_timeout)?;
    let limits = FrameLimits {
        max_line_len: MAX_NAME_LEN,
        idle_timeout: config.idle_timeout,
        ..FrameLimits::default()
    };
    let mut reader = FrameReader::new(stream, limits);
    let mut count = 0;
    while let Some(frame) = reader.read_frame()? {
        count += 1;
        let (result, name) = match frame {
            Frame::Message(name) => (open_beneath(&config.root, name), name.to_vec()),
            Frame::TooLong { len } => (
                Err(Refusal::Forbidden("name too long")),
                format!("<{len} bytes>").into_bytes(),
            ),
        };
        let name = String::from_utf8_lossy(&name);
        match result {
            Ok((file, size)) => send_file(stream, file, size, &name, peer, config),
            Err(refusal) => refuse(stream, &refusal, &name, peer, config),
        }
        .map_err(stopped_reading)?;
    }
    Ok(count)
}

/// Sends `ERR <refusal>` and logs it.
fn refuse(
    stream: &TcpStream,
    refusal: &Refusal,
    name: &str,
    peer: SocketAddr,
    config: &FileServerConfig,
) -> io::Result<()> {
    config.log(format_args!("[{peer}] {name:?}: {refusal}"));
    (&mut &*stream).write_all(format!("ERR {refusal}\n").as_bytes())
}

/// Sends `OK <size>` and the file's bytes, or an `ERR` line if it is too large. The size
/// is taken from the open file, and exactly that many bytes follow: if the file shrinks
/// meanwhile, the connection is closed, as the header can no longer be honoured.
fn send_file(
    stream: &TcpStream,
    file: File,
    size: u64,
    name: &str,
    peer: SocketAddr,
    config: &FileServerConfig,
) -> io::Result<()> {
    if size > config.max_file_size {
        let refusal = Refusal::TooLarge {
            size,
            limit: config.max_file_size,
        };
        return refuse(stream, &refusal, name, peer, config);
    }
    (&mut &*stream).write_all(format!("OK {size}\n").as_bytes())?;
    let sent = io::copy(&mut file.take(size), &mut &*stream)?;
    if sent < size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file shrank while being sent",
        ));
    }
    config.log(format_args!("[{peer}] {name:?}: sent {size} bytes"));
    Ok(())
}

/// A write timeout means the client read nothing for the idle timeout; other errors stay
/// as they are.
fn stopped_reading(error: io::Error) -> io::Error {
    silent_for(error, || "the client stopped reading".into())
}

/// What the server answered to one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Header {
    /// The file follows: this many bytes.
    Ok(u64),
    /// The request was refused, with the server's reason.
    Err(String),
}

/// Parses a reply header line (without its line feed).
///
/// # Errors
/// When the line is neither `OK <size>` nor `ERR <reason>`.
pub fn parse_header(line: &str) -> io::Result<Header> {
    if let Some(size) = line.strip_prefix("OK ") {
        return size.parse().map(Header::Ok).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, format!("bad size in {line:?}"))
        });
    }
    match line.strip_prefix("ERR ") {
        Some(reason) => Ok(Header::Err(reason.to_string())),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected reply {line:?}"),
        )),
    }
}

/// Fetches one file over `reader`'s connection: sends the request, reads the header, and
/// copies exactly the announced bytes to `out`. Returns the header. Waits at most
/// `timeout` for the header, and for each further piece of the file.
///
/// # Errors
/// `InvalidInput` for a name with a line break or NUL in it (it would be sent as two
/// requests); `TimedOut` when the server stays silent for `timeout`; `UnexpectedEof`
/// when the connection closes before every announced byte arrived; any other error of
/// the connection.
pub fn fetch(
    reader: &mut io::BufReader<TcpStream>,
    name: &str,
    timeout: Duration,
    out: &mut impl Write,
) -> io::Result<Header> {
    check_request(name).map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?;
    let secs = timeout.as_secs_f64();
    reader.get_ref().set_read_timeout(Some(timeout))?;
    reader.get_ref().set_write_timeout(Some(timeout))?;
    reader
        .get_ref()
        .write_all(format!("{name}\n").as_bytes())
        .map_err(|e| {
            silent_for(e, || {
                format!("the server took no request within {secs:.1}s")
            })
        })?;
    let header =
        read_header(reader).map_err(|e| silent_for(e, || format!("no reply within {secs:.1}s")))?;
    if let Header::Ok(size) = header {
        copy_exactly(reader, size, timeout, out)?;
    }
    Ok(header)
}

/// Why `name` cannot be sent as one request, if it cannot: a line break would end the
/// request early and make the rest a second one.
///
/// # Errors
/// A one-line reason.
pub fn check_request(name: &str) -> Result<(), String> {
    if name.contains(['\n', '\r', '\0']) {
        return Err("a file name cannot contain a line break or NUL".into());
    }
    Ok(())
}

/// Reads the reply's header line.
fn read_header(reader: &mut io::BufReader<TcpStream>) -> io::Result<Header> {
    let mut line = Vec::new();
    reader
        .by_ref()
        .take(MAX_NAME_LEN as u64 + 100)
        .read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    parse_header(&String::from_utf8_lossy(&line))
}

/// Copies exactly `size` bytes from `reader` to `out`, waiting at most `timeout` for each
/// piece.
fn copy_exactly(
    reader: &mut io::BufReader<TcpStream>,
    size: u64,
    timeout: Duration,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut received = 0;
    while received < size {
        let piece = match reader.fill_buf() {
            Ok(piece) => piece,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(silent_for(e, || {
                    let secs = timeout.as_secs_f64();
                    format!("the transfer stalled: nothing for {secs:.1}s after {received} of {size} bytes")
                }))
            }
        };
        if piece.is_empty() {
            let why = format!("the connection closed after {received} of {size} bytes");
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
        }
        let n = piece
            .len()
            .min(usize::try_from(size - received).unwrap_or(usize::MAX));
        out.write_all(&piece[..n])?;
        reader.consume(n);
        received += n as u64;
    }
    Ok(())
}

/// A socket timeout as a `TimedOut` error with the message `what` gives; other errors
/// stay as they are.
fn silent_for(error: io::Error, what: impl FnOnce() -> String) -> io::Error {
    if is_timeout(&error) {
        return io::Error::new(io::ErrorKind::TimedOut, what());
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        assert_eq!(parse_header("OK 12").ok(), Some(Header::Ok(12)));
        assert_eq!(
            parse_header("ERR not found").ok(),
            Some(Header::Err("not found".into()))
        );
        assert!(parse_header("OK lots").is_err());
        assert!(parse_header("hello").is_err());
    }

    #[test]
    fn names_are_checked_before_touching_the_disk() {
        let forbidden = |name: &[u8]| matches!(check_name(name), Err(Refusal::Forbidden(_)));
        assert!(forbidden(b"/etc/passwd"));
        assert!(forbidden(b"../secret"));
        assert!(forbidden(b"a/../../secret"));
        assert!(forbidden(b"a\0b"));
        assert!(forbidden(b"\xff"));
        assert!(forbidden(b""));
        assert!(forbidden(&[b'a'; MAX_NAME_LEN + 1]));
        assert!(check_name(b"notes/today.txt").is_ok());
        assert!(check_name(b"./notes.txt").is_ok());
    }
}
