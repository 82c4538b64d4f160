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
//! contains a NUL byte or is not UTF-8, or is longer than [`MAX_NAME_LEN`]. The path is then
//! resolved, symbolic links included, and refused unless it still lies inside the root.
//! Only regular files are served: not directories, devices, FIFOs or sockets (a FIFO would
//! block the open). Files are streamed, never read into memory whole.
//!
//! One gap remains: someone who can write inside the root could swap a checked directory
//! for a link between the check and the open. Serve roots that clients cannot write to.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Component, Path, PathBuf};

use crate::lab::frame::{Frame, FrameLimits, FrameReader};
use crate::report::describe;

/// The longest file name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 1024;

/// The largest file served unless `--max-file-size` says otherwise: 100 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;

/// How the file server behaves.
#[derive(Debug, Clone)]
pub struct FileServerConfig {
    /// The directory served, already canonical (absolute, no links).
    pub root: PathBuf,
    /// Files larger than this are refused with `too large`.
    pub max_file_size: u64,
    /// Silences the per-request log.
    pub quiet: bool,
    /// Close a connection idle for this long; `None` waits forever.
    pub idle_timeout: Option<std::time::Duration>,
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

/// Turns a requested name into a path inside `root`, or says why it is refused. Nothing
/// is opened; the returned path is canonical and names a regular file.
pub fn resolve(root: &Path, name: &[u8]) -> Result<PathBuf, Refusal> {
    let relative = check_name(name)?;
    let path = match root.join(relative).canonicalize() {
        Ok(path) => path,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Refusal::NotFound),
        Err(_) => return Err(Refusal::Forbidden("cannot be resolved")),
    };
    if !path.starts_with(root) {
        return Err(Refusal::Forbidden("leads outside the served directory"));
    }
    let kind = fs::metadata(&path)
        .map_err(|_| Refusal::NotFound)?
        .file_type();
    if kind.is_dir() {
        return Err(Refusal::IsADirectory);
    }
    if !kind.is_file() {
        return Err(Refusal::Forbidden("not a regular file"));
    }
    Ok(path)
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
        Err(e) => config.log(format_args!("[{peer}] connection lost: {}", describe(&e))),
    }
}

fn answer_requests(
    stream: &TcpStream,
    peer: SocketAddr,
    config: &FileServerConfig,
) -> io::Result<u64> {
    stream.set_nodelay(true)?;
    let limits = FrameLimits {
        max_line_len: MAX_NAME_LEN,
        idle_timeout: config.idle_timeout,
        ..FrameLimits::default()
    };
    let mut reader = FrameReader::new(stream, limits);
    let mut count = 0;
    while let Some(frame) = reader.read_frame()? {
        count += 1;
        let result = match frame {
            Frame::Message(name) => resolve(&config.root, name).map_err(|r| (r, name.to_vec())),
            Frame::TooLong { len } => Err((
                Refusal::Forbidden("name too long"),
                format!("<{len} bytes>").into(),
            )),
        };
        match result {
            Ok(path) => send_file(stream, &path, peer, config)?,
            Err((refusal, name)) => {
                let name = String::from_utf8_lossy(&name);
                config.log(format_args!("[{peer}] {name:?}: {refusal}"));
                (&mut &*stream).write_all(format!("ERR {refusal}\n").as_bytes())?;
            }
        }
    }
    Ok(count)
}

/// Sends `OK <size>` and the file's bytes, or an `ERR` line if it cannot be opened. The
/// size is taken from the open file, and exactly that many bytes follow: if the file
/// shrinks meanwhile, the connection is closed, as the header can no longer be honoured.
fn send_file(
    stream: &TcpStream,
    path: &Path,
    peer: SocketAddr,
    config: &FileServerConfig,
) -> io::Result<()> {
    let shown = path.strip_prefix(&config.root).unwrap_or(path).display();
    let opened = File::open(path).and_then(|file| Ok((file.metadata()?, file)));
    let (metadata, file) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            config.log(format_args!(
                "[{peer}] {shown}: cannot open: {}",
                describe(&e)
            ));
            return (&mut &*stream).write_all(format!("ERR {}\n", Refusal::NotFound).as_bytes());
        }
    };
    let size = metadata.len();
    if size > config.max_file_size {
        let refusal = Refusal::TooLarge {
            size,
            limit: config.max_file_size,
        };
        config.log(format_args!("[{peer}] {shown}: {refusal}"));
        return (&mut &*stream).write_all(format!("ERR {refusal}\n").as_bytes());
    }
    (&mut &*stream).write_all(format!("OK {size}\n").as_bytes())?;
    let sent = io::copy(&mut file.take(size), &mut &*stream)?;
    if sent < size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file shrank while being sent",
        ));
    }
    config.log(format_args!("[{peer}] {shown}: sent {size} bytes"));
    Ok(())
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

/// Fetches one file over `stream`: sends the request, reads the header, and copies
/// exactly the announced bytes to `out`. Returns the header.
///
/// # Errors
/// When the connection fails, or closes before every announced byte arrived.
pub fn fetch(
    reader: &mut io::BufReader<TcpStream>,
    name: &str,
    out: &mut impl Write,
) -> io::Result<Header> {
    reader.get_ref().write_all(format!("{name}\n").as_bytes())?;
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
    let header = parse_header(&String::from_utf8_lossy(&line))?;
    if let Header::Ok(size) = header {
        let received = io::copy(&mut reader.by_ref().take(size), out)?;
        if received < size {
            let why = format!("the connection closed after {received} of {size} bytes");
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
        }
    }
    Ok(header)
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
