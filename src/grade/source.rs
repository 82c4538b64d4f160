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

/// Top-level domains that mark a dotted word as a host name rather than, say, `sys.argv`.
const DOMAINS: [&str; 14] = [
    "com", "edu", "org", "net", "gov", "io", "uk", "de", "ca", "us", "info", "local", "lan",
    "internal",
];

/// Host names a client may connect to, found in its source or README: dotted names ending
/// in a common top-level domain (`lectura.cs.arizona.edu`), and in the source, any name in
/// a string on a line about a host or an address (`HOST = "lectura"`).
pub fn host_names(client_source: &str, readme: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |name: &str| {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name != "localhost" && !names.contains(&name) {
            names.push(name);
        }
    };
    for line in client_source.lines() {
        let lower = line.to_lowercase();
        let about_address = ["host", "addr", "connect(", "server"]
            .iter()
            .any(|w| lower.contains(w));
        for literal in string_literals(line) {
            if is_dotted_host(&literal) || about_address && is_single_label_host(&literal) {
                add(&literal);
            }
        }
    }
    let words = readme.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'));
    for word in words.filter(|w| is_dotted_host(w.trim_end_matches('.'))) {
        add(word);
    }
    names
}

fn is_single_label_host(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && text.chars().any(|c| c.is_ascii_alphabetic())
        && !text.starts_with('-')
}

fn is_dotted_host(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| is_single_label_host(l))
        && labels
            .last()
            .is_some_and(|tld| DOMAINS.contains(&tld.to_ascii_lowercase().as_str()))
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
    fn host_names_come_from_addresses_and_the_readme() {
        let client = "HOST = 'lectura'\nsock.connect((\"lectura.cs.arizona.edu\", 1234))\nprint(\"sys.argv\")\n";
        let readme =
            "Run it on lectura.cs.arizona.edu or example.com (see net_client.py, e.g. sys.argv).";
        assert_eq!(
            host_names(client, readme),
            ["lectura", "lectura.cs.arizona.edu", "example.com"]
        );
        assert!(host_names("sock.connect(('localhost', 1))", "").is_empty());
    }

    #[test]
    fn closing_words_come_from_comparisons() {
        let source = "while True:\n    msg = input()\n    if msg == 'quit' or msg in (\"n\", \"exit now\"):\n";
        assert_eq!(closing_words(source), ["quit", "n"]);
    }
}
