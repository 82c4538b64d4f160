//! What can be learnt from a submission's source without running it.

use std::path::{Path, PathBuf};

/// Signs of Python 2: `print` statements, `raw_input`, old `except X, e:`.
pub fn looks_like_python2(source: &str) -> bool {
    source.lines().any(|line| {
        let code = line.trim_start();
        let print_statement = code.strip_prefix("print").is_some_and(|rest| {
            rest.starts_with(' ') && !rest.trim_start().starts_with('(')
                || rest.starts_with('"')
                || rest.starts_with('\'')
        });
        print_statement || code.contains("raw_input(") || is_old_except(code)
    })
}

fn is_old_except(code: &str) -> bool {
    code.strip_prefix("except ").is_some_and(|rest| {
        rest.contains(',') && !rest.contains('(') && rest.trim_end().ends_with(':')
    })
}

/// Port numbers written in the source, in order of appearance: integers from 1024 to
/// 65535 on lines that mention a port or an address, such as `addr = ("0.0.0.0", 51423)`
/// or `PORT = 51423` (but not `recv(1024)`).
pub fn ports_in(source: &str) -> Vec<u16> {
    let mut ports = Vec::new();
    for line in source.lines() {
        let lower = line.to_lowercase();
        let mentions_address = ["port", "addr", "localhost", "host", "bind(", "connect(("]
            .iter()
            .any(|w| lower.contains(w));
        if !mentions_address || lower.contains("recv(") {
            continue;
        }
        for word in line.split(|c: char| !c.is_ascii_digit()) {
            if let Ok(port @ 1024..=65535) = word.parse::<u16>() {
                if !ports.contains(&port) {
                    ports.push(port);
                }
            }
        }
    }
    ports
}

/// Words an interactive client seems to stop on, such as `quit` in
/// `if msg == "quit":`: short string literals compared with `==` or `in`.
pub fn closing_words(source: &str) -> Vec<String> {
    let mut words = Vec::new();
    for line in source.lines() {
        if !(line.contains("==") || line.contains(" in "))
            || !line.contains("if") && !line.contains("while")
        {
            continue;
        }
        for literal in string_literals(line) {
            let ok = !literal.is_empty()
                && literal.len() <= 10
                && literal.chars().all(|c| c.is_alphanumeric());
            if ok && !words.contains(&literal) {
                words.push(literal);
            }
        }
    }
    words
}

fn string_literals(line: &str) -> Vec<String> {
    let mut literals = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(['"', '\'']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let after = &rest[start + 1..];
        let Some(end) = after.find(quote) else { break };
        literals.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    literals
}

/// A Python 2 interpreter: `python2` if it runs, else one installed by pyenv.
pub fn find_python2() -> Option<PathBuf> {
    let runs = |program: &Path| {
        std::process::Command::new(program)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if runs(Path::new("python2")) {
        return Some(PathBuf::from("python2"));
    }
    let home = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))?;
    let mut versions: Vec<PathBuf> = std::fs::read_dir(home.join("versions"))
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("2."))
        })
        .map(|path| path.join("bin/python2"))
        .collect();
    versions.sort();
    versions.into_iter().rev().find(|path| runs(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python2_is_recognised() {
        assert!(looks_like_python2("print 'hello'\n"));
        assert!(looks_like_python2("x = raw_input('> ')\n"));
        assert!(looks_like_python2("except socket.error, e:\n"));
        assert!(!looks_like_python2(
            "print('hello')\nprint (x)\nmsg = input()\n"
        ));
        assert!(!looks_like_python2("except (OSError, ValueError):\n"));
    }

    #[test]
    fn ports_come_from_addresses_in_the_source() {
        let source = "import socket\naddr = (\"localhost\", 51423)\nfor i in range(1, 100000):\n";
        assert_eq!(ports_in(source), [51423]);
        assert_eq!(ports_in("sock.connect(('0.0.0.0', 2048))"), [2048]);
        assert!(ports_in("msg = connectedSock.recv(1024).decode()").is_empty());
    }

    #[test]
    fn closing_words_come_from_comparisons() {
        let source = "while True:\n    msg = input()\n    if msg == 'quit' or msg in (\"n\", \"exit now\"):\n";
        assert_eq!(closing_words(source), ["quit", "n"]);
    }
}
