//! Turning the folders on the command line into submissions: finding the submission
//! folders (a folder of folders is looked into), naming each so that two called `lab2`
//! are told apart, copying each to a scratch folder of its own, and reading what its
//! source says (Python version, ports, host names, closing words).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use super::launch::Program;
use super::source;

/// The files a submission folder holds.
const SERVER_FILE: &str = "net_server.py";
const CLIENT_FILE: &str = "net_client.py";

/// How deep below a folder given on the command line submission folders are looked for.
const SEARCH_DEPTH: usize = 3;

/// One side of a pair: a program to run, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    /// How to start it.
    Ready(Program),
    /// It is not there; the text says what is missing.
    Missing(String),
}

/// A pair to grade, ready to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The name in the report.
    pub name: String,
    /// The folder its programs run in (a private, read-only copy for a folder).
    pub dir: PathBuf,
    /// Its server.
    pub server: Side,
    /// Its client.
    pub client: Side,
    /// Words the client seems to stop on, typed after the messages.
    pub closing_words: Vec<String>,
    /// Ports written in the client's source, a fallback for finding its server.
    pub client_ports: Vec<u16>,
    /// Every port written in either program: without namespaces, two submissions that
    /// share one are not graded at the same time.
    pub source_ports: Vec<u16>,
    /// The server's port, when given instead of being found from its sockets.
    pub port: Option<u16>,
    /// Host names the client may connect to, which the namespace maps to this machine.
    pub host_names: Vec<String>,
    /// Notes for the report found while preparing.
    pub notes: Vec<String>,
}

/// The submission folders found under the paths given, with their names.
#[derive(Debug, Default)]
pub struct Found {
    /// Each folder and its name, in order of name.
    pub folders: Vec<(String, PathBuf)>,
    /// What was noticed on the way, for stderr (a folder holding submission folders...).
    pub messages: Vec<String>,
}

/// Finds the submission folders among and below `paths`. A folder that holds
/// net_server.py or net_client.py is a submission; one that does not, but has
/// submission folders below it, stands for those; one that has neither is graded as a
/// submission with both files missing. Names are paths relative to the folders' common
/// parent.
///
/// # Errors
/// A path that does not exist or is not a folder.
pub fn find_submissions(paths: &[PathBuf]) -> Result<Found, String> {
    let mut found = Found::default();
    let mut folders: Vec<PathBuf> = Vec::new();
    for path in paths {
        let folder = std::fs::canonicalize(path)
            .map_err(|e| format!("cannot read {}: {}", path.display(), describe(&e)))?;
        if !folder.is_dir() {
            return Err(format!("{} is not a folder", path.display()));
        }
        let below = if is_submission(&folder) {
            Vec::new()
        } else {
            submissions_below(&folder, SEARCH_DEPTH)
        };
        if below.is_empty() {
            folders.push(folder);
        } else {
            found.messages.push(format!(
                "{} holds {} submission folders; grading each",
                path.display(),
                below.len()
            ));
            folders.extend(below);
        }
    }
    folders.sort();
    folders.dedup();
    let parent = common_parent(&folders);
    found.folders = folders
        .into_iter()
        .map(|folder| (name_below(&folder, &parent), folder))
        .collect();
    found.folders.sort();
    Ok(found)
}

fn describe(error: &io::Error) -> String {
    crate::report::describe(error)
}

fn is_submission(folder: &Path) -> bool {
    folder.join(SERVER_FILE).is_file() || folder.join(CLIENT_FILE).is_file()
}

/// Submission folders below `folder`, down to `depth` levels; hidden folders are skipped.
fn submissions_below(folder: &Path, depth: usize) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if is_submission(&path) {
            found.push(path);
        } else if depth > 1 {
            found.extend(submissions_below(&path, depth - 1));
        }
    }
    found
}

/// The deepest folder that holds all of `folders` (for one folder, its parent).
fn common_parent(folders: &[PathBuf]) -> PathBuf {
    let Some(first) = folders.first() else {
        return PathBuf::new();
    };
    let mut parent = first.parent().unwrap_or(first).to_path_buf();
    while !folders
        .iter()
        .all(|f| f.starts_with(&parent) && f != &parent)
    {
        match parent.parent() {
            Some(up) => parent = up.to_path_buf(),
            None => break,
        }
    }
    parent
}

fn name_below(folder: &Path, parent: &Path) -> String {
    match folder.strip_prefix(parent) {
        Ok(relative) if !relative.as_os_str().is_empty() => relative.display().to_string(),
        _ => folder.display().to_string(),
    }
}

/// A submission together with its scratch copy, which is removed when this is dropped.
pub struct Prepared {
    /// The submission, whose `dir` is inside `scratch`.
    pub submission: Submission,
    /// The scratch folder; `None` for commands, which run where net_grade was started.
    pub scratch: Option<TempDir>,
}

/// Copies the submission `folder` to a scratch folder of its own, readable (but not
/// writable) by the unprivileged user its programs run as, and reads its source.
///
/// # Errors
/// When the folder cannot be read or copied.
pub fn prepare_folder(name: &str, folder: &Path) -> io::Result<Prepared> {
    let scratch = tempfile::Builder::new().prefix("net_grade-").tempdir()?;
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755))?;
    let dir = scratch.path().join("submission");
    copy_dir(folder, &dir)?;
    make_read_only(&dir)?;
    Ok(Prepared {
        submission: read_submission(name, dir),
        scratch: Some(scratch),
    })
}

/// The submission whose files are in `dir`, as its source describes it.
fn read_submission(name: &str, dir: PathBuf) -> Submission {
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).ok();
    let (server_source, client_source) = (read(SERVER_FILE), read(CLIENT_FILE));
    let readme = read("README.txt").unwrap_or_default();
    let server_text = server_source.clone().unwrap_or_default();
    let client_text = client_source.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let version = if source::looks_like_python2(&format!("{server_text}\n{client_text}")) {
        notes.push("Python 2 code (print statements, raw_input)".to_string());
        2
    } else {
        3
    };
    let side = |file: &str, source: &Option<String>| match source {
        Some(_) => Side::Ready(Program::Python {
            script: file.to_string(),
            version,
        }),
        None => Side::Missing(format!("{file} is missing")),
    };
    let mut closing_words = source::closing_words(&client_text);
    for word in source::closing_words(&readme) {
        if !closing_words.contains(&word) {
            closing_words.push(word);
        }
    }
    let mut source_ports = source::ports_in(&server_text);
    source_ports.extend(source::ports_in(&client_text));
    Submission {
        name: name.to_string(),
        server: side(SERVER_FILE, &server_source),
        client: side(CLIENT_FILE, &client_source),
        closing_words,
        client_ports: source::ports_in(&client_text),
        source_ports,
        port: None,
        host_names: source::host_names(&client_text, &readme),
        notes,
        dir,
    }
}

/// A pair given as command lines, with `{host}` and `{port}` filled in (`port` is free
/// here). They run in `dir`.
pub fn prepare_commands(server: &str, client: &str, port: u16, dir: PathBuf) -> Prepared {
    let fill = |command: &str| {
        let line = command
            .replace("{port}", &port.to_string())
            .replace("{host}", "127.0.0.1");
        Side::Ready(Program::Shell(line))
    };
    let submission = Submission {
        name: format!("{server} / {client}"),
        dir,
        server: fill(server),
        client: fill(client),
        closing_words: Vec::new(),
        client_ports: vec![port],
        source_ports: vec![port],
        port: server.contains("{port}").then_some(port),
        host_names: Vec::new(),
        notes: Vec::new(),
    };
    Prepared {
        submission,
        scratch: None,
    }
}

/// Copies the directory tree `from` to `to`: directories and regular files (links and
/// special files are left out).
///
/// # Errors
/// The first failure to read or write.
pub fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()))?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// Folders `rwxr-xr-x`, files `rw-r--r--` (`rwxr-xr-x` if they were executable): the
/// owner (net_grade) may change them, everyone else may only read and run them.
fn make_read_only(dir: &Path) -> io::Result<()> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            make_read_only(&path)?;
        } else {
            let executable = entry.metadata()?.permissions().mode() & 0o111 != 0;
            let mode = if executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder_with(root: &Path, relative: &str, files: &[&str]) -> PathBuf {
        let dir = root.join(relative);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for file in files {
            std::fs::write(dir.join(file), "print('hi')\n").expect("write");
        }
        dir
    }

    #[test]
    fn folders_with_the_same_name_get_names_that_tell_them_apart() {
        let root = tempfile::tempdir().expect("tempdir");
        let alice = folder_with(root.path(), "alice/lab2", &[SERVER_FILE]);
        let bob = folder_with(root.path(), "bob/lab2", &[CLIENT_FILE]);
        let found = find_submissions(&[alice, bob]).expect("found");
        let names: Vec<&str> = found.folders.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["alice/lab2", "bob/lab2"]);
    }

    #[test]
    fn a_folder_of_submissions_stands_for_them() {
        let root = tempfile::tempdir().expect("tempdir");
        folder_with(root.path(), "class/alice", &[SERVER_FILE, CLIENT_FILE]);
        folder_with(root.path(), "class/bob/lab", &[SERVER_FILE]);
        folder_with(root.path(), "class/.git/objects", &[SERVER_FILE]);
        let found = find_submissions(&[root.path().join("class")]).expect("found");
        let names: Vec<&str> = found.folders.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["alice", "bob/lab"]);
        assert!(found.messages[0].contains("holds 2 submission folders"));
    }

    #[test]
    fn one_folder_is_named_by_itself_and_an_empty_one_is_kept() {
        let root = tempfile::tempdir().expect("tempdir");
        let empty = folder_with(root.path(), "empty", &[]);
        let found = find_submissions(&[empty]).expect("found");
        assert_eq!(found.folders[0].0, "empty");
        let prepared = prepare_folder("empty", &found.folders[0].1).expect("prepared");
        assert_eq!(
            prepared.submission.server,
            Side::Missing("net_server.py is missing".into())
        );
    }

    #[test]
    fn a_missing_path_is_refused() {
        let error = find_submissions(&[PathBuf::from("/no/such/folder")]).expect_err("refused");
        assert!(error.contains("cannot read /no/such/folder"), "{error}");
    }
}
