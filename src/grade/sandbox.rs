//! A network, PID and mount namespace for each submission (Linux, as root).
//!
//! net_grade starts `unshare --net --mount --pid --fork --kill-child --mount-proc` running
//! a second net_grade (`--inside-namespace`), hands it the submission on its standard
//! input, and reads the grade back, as JSON, from its standard output: a pipe no student
//! program holds, owned by root, in a process the student programs (running as `nobody`,
//! in a PID namespace where /proc shows only themselves) cannot signal or trace. A grade
//! that does not name the submission, or does not hold exactly the expected
//! requirements, is not believed.
//!
//! Inside, net_grade is the namespace's first process: when it exits, the kernel kills
//! every process left in the namespace, so nothing a submission starts outlives its
//! grading. Outside, `setpriv --pdeathsig` and `--kill-child` tie the namespace to the
//! net_grade that started it, and a time limit bounds it.
//!
//! The namespace has only a loopback interface, so a server that binds 0.0.0.0 cannot be
//! reached from other machines and two submissions can use the same port side by side;
//! its own /etc/hosts maps every host name found in the client to this machine.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::launch::Launcher;
use super::prepare::Submission;
use super::verdict::Grade;
use super::Timing;

/// The namespaces each submission gets, as `unshare` options.
const UNSHARE: [&str; 7] = [
    "--net",
    "--mount",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    "--",
];

/// How long past the submission's time limit the namespace may take to set up and
/// report before it is killed.
const GRACE: Duration = Duration::from_secs(15);

/// What the net_grade inside a namespace is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assignment {
    /// The submission to grade.
    pub submission: Submission,
    /// How to start its programs.
    pub launcher: Launcher,
    /// How long things may take.
    pub timing: Timing,
}

/// Whether each submission can have namespaces of its own here.
///
/// # Errors
/// Why not, in a few words.
pub fn namespaces_work() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("net_grade is not root".into());
    }
    let status = Command::new("unshare")
        .args(UNSHARE)
        .args(["ip", "link", "set", "lo", "up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("unshare or ip failed ({status})")),
        Err(e) => Err(format!(
            "cannot run unshare: {}",
            crate::report::describe(&e)
        )),
    }
}

/// Grades `assignment` in namespaces of its own, by running `exe --inside-namespace`
/// there, and kills it all if it is not done soon after the submission's time limit.
pub fn grade_in_namespace(exe: &Path, assignment: &Assignment) -> Grade {
    let name = &assignment.submission.name;
    let ungraded = |why: String| Grade::ungraded(name, "", &why);
    let mut child = match namespace_command(exe, assignment.launcher.setpriv).spawn() {
        Ok(child) => child,
        Err(e) => return ungraded(format!("cannot start unshare: {e}")),
    };
    let input = serde_json::to_vec(assignment).unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&input);
    }
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let limit = assignment.timing.submission + GRACE;
    let status = wait_or_kill(&mut child, Instant::now() + limit);
    let output = stdout.join().unwrap_or_default();
    let errors = stderr.join().unwrap_or_default();
    let Some(status) = status else {
        return ungraded(format!(
            "grading did not finish within {}s",
            limit.as_secs()
        ));
    };
    believe(name, &output).unwrap_or_else(|why| {
        let errors = String::from_utf8_lossy(&errors);
        let last = errors.trim().lines().last().unwrap_or("no message");
        ungraded(format!(
            "{why} (net_grade in the namespace: {status}: {last})"
        ))
    })
}

/// `exe --inside-namespace` in new namespaces, tied to this process by a parent-death
/// signal when `setpriv` is there.
fn namespace_command(exe: &Path, setpriv: bool) -> Command {
    let mut command = if setpriv {
        let mut setpriv = Command::new("setpriv");
        setpriv.args(["--pdeathsig", "KILL", "--", "unshare"]);
        setpriv
    } else {
        Command::new("unshare")
    };
    command
        .args(UNSHARE)
        .arg(exe)
        .arg("--inside-namespace")
        .process_group(0) // a Ctrl-C is for us to handle, not for it
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for `child` until `deadline`, then kills it. Its status, if it ended in time.
fn wait_or_kill(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill(); // unshare's --kill-child takes the namespace with it
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// The grade in `output`, if it is one for `name` with every requirement.
fn believe(name: &str, output: &[u8]) -> Result<Grade, String> {
    let grade: Grade =
        serde_json::from_slice(output).map_err(|e| format!("its grade could not be read: {e}"))?;
    if grade.submission != name {
        return Err(format!(
            "its grade names another submission ({:?})",
            grade.submission
        ));
    }
    if !grade.is_complete() {
        return Err("its grade does not hold exactly the expected requirements".into());
    }
    Ok(grade)
}

fn read_all(source: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut source) = source {
            let _ = source.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// The net_grade inside the namespaces: reads its assignment from standard input, sets
/// the namespaces up, grades, and returns the grade as JSON.
///
/// # Errors
/// When the assignment cannot be read or the namespace cannot be set up.
pub fn grade_inside() -> Result<String, String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read the assignment: {e}"))?;
    let assignment: Assignment =
        serde_json::from_str(&input).map_err(|e| format!("cannot read the assignment: {e}"))?;
    let notes = set_up(&assignment)?;
    let mut grade = super::grade(
        &assignment.submission,
        &assignment.launcher,
        assignment.timing,
    );
    grade.notes.splice(0..0, notes);
    serde_json::to_string(&grade).map_err(|e| e.to_string())
}

/// Loopback up, a private /etc/hosts, and the interpreters within reach of the student
/// user. Returns notes for the report.
#[cfg(target_os = "linux")]
fn set_up(assignment: &Assignment) -> Result<Vec<String>, String> {
    use nix::mount::{mount, MsFlags};
    // Not even a process of the same user may then read our memory or descriptors.
    let _ = nix::sys::prctl::set_dumpable(false);
    run("ip", &["link", "set", "lo", "up"])?;
    // A private /run: room for our files, and no name service daemon socket (nscd,
    // systemd-resolved) that would answer host names instead of our /etc/hosts.
    mount(
        Some("tmpfs"),
        "/run",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .map_err(|e| format!("cannot mount a tmpfs on /run: {e}"))?;
    let mut notes = Vec::new();
    let names = &assignment.submission.host_names;
    map_host_names(names)?;
    if !names.is_empty() {
        notes.push(format!(
            "host names mapped to this machine: {}",
            names.join(", ")
        ));
    }
    let mut within_reach: Vec<&Path> = assignment
        .launcher
        .interpreters
        .paths()
        .map(PathBuf::as_path)
        .collect();
    within_reach.push(&assignment.submission.dir);
    bring_within_reach(&within_reach)?;
    Ok(notes)
}

#[cfg(not(target_os = "linux"))]
fn set_up(_assignment: &Assignment) -> Result<Vec<String>, String> {
    Err("namespaces need Linux".into())
}

#[cfg(target_os = "linux")]
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} {}: {status}", args.join(" ")))
    }
}

/// Bind-mounts a hosts file mapping `names` (and localhost, and this machine's name) to
/// the loopback address over /etc/hosts.
#[cfg(target_os = "linux")]
fn map_host_names(names: &[String]) -> Result<(), String> {
    use nix::mount::{mount, MsFlags};
    let mut v4 = vec!["localhost".to_string()];
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        v4.push(host.trim().to_string());
    }
    v4.extend(names.iter().cloned());
    let text = format!(
        "127.0.0.1\t{}\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        v4.join(" ")
    );
    let hosts = Path::new("/run/net_grade-hosts");
    std::fs::write(hosts, text).map_err(|e| format!("cannot write a hosts file: {e}"))?;
    mount(
        Some(hosts),
        "/etc/hosts",
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| format!("cannot mount the hosts file on /etc/hosts: {e}"))
}

/// Makes each of `paths` reachable by any user. A folder on the way that others may not
/// enter (root's home, say, where pyenv keeps its Pythons) is covered with an empty one
/// they may enter, into which only the folders leading to `paths` are mounted back,
/// read-only. The rest of that folder stays out of sight.
#[cfg(target_os = "linux")]
fn bring_within_reach(paths: &[&Path]) -> Result<(), String> {
    let mut closed: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    for path in paths {
        if let Some((folder, inside)) = first_closed_folder(path) {
            match closed.iter_mut().find(|(f, _)| *f == folder) {
                Some((_, keep)) if !keep.contains(&inside) => keep.push(inside),
                Some(_) => {}
                None => closed.push((folder, vec![inside])),
            }
        }
    }
    for (index, (folder, keep)) in closed.iter().enumerate() {
        cover(
            folder,
            keep,
            &PathBuf::from(format!("/run/net_grade-keep-{index}")),
        )?;
    }
    Ok(())
}

/// Covers `folder` with an empty tmpfs and mounts each of `keep` (entries of it) back,
/// read-only, holding them at `stage` meanwhile.
#[cfg(target_os = "linux")]
fn cover(folder: &Path, keep: &[PathBuf], stage: &Path) -> Result<(), String> {
    use nix::mount::{mount, MsFlags};
    let bind = |from: &Path, to: &Path| {
        mount(
            Some(from),
            to,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| format!("cannot mount {} on {}: {e}", from.display(), to.display()))
    };
    for (k, inside) in keep.iter().enumerate() {
        let held = stage.join(k.to_string());
        std::fs::create_dir_all(&held).map_err(|e| e.to_string())?;
        bind(inside, &held)?;
    }
    mount(
        Some("tmpfs"),
        folder,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .map_err(|e| format!("cannot cover {}: {e}", folder.display()))?;
    for (k, inside) in keep.iter().enumerate() {
        std::fs::create_dir_all(inside).map_err(|e| e.to_string())?;
        bind(&stage.join(k.to_string()), inside)?;
        let read_only = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        let _ = mount(None::<&str>, inside, None::<&str>, read_only, None::<&str>);
    }
    Ok(())
}

/// The first folder on the way to `path` that others may not enter, and the entry in it
/// that leads to `path`.
pub fn first_closed_folder(path: &Path) -> Option<(PathBuf, PathBuf)> {
    use std::os::unix::fs::PermissionsExt;
    let mut folder = PathBuf::new();
    let mut components = path.components().peekable();
    while let Some(component) = components.next() {
        folder.push(component);
        let Some(next) = components.peek() else { break };
        if matches!(component, Component::RootDir | Component::Normal(_)) {
            let mode = std::fs::metadata(&folder).ok()?.permissions().mode();
            if mode & 0o001 == 0 {
                return Some((folder.clone(), folder.join(next)));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_first_closed_folder_is_found() {
        let root = tempfile::tempdir().expect("tempdir");
        let closed = root.path().join("home");
        std::fs::create_dir_all(closed.join("pyenv/bin")).expect("mkdir");
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let python = closed.join("pyenv/bin/python3");
        assert_eq!(
            first_closed_folder(&python),
            Some((closed.clone(), closed.join("pyenv")))
        );
        assert_eq!(first_closed_folder(Path::new("/usr/bin/python3")), None);
    }

    #[test]
    fn a_grade_for_another_submission_is_not_believed() {
        let mut grade = Grade::new("bob");
        grade.complete("nothing ran");
        let json = serde_json::to_vec(&grade).expect("json");
        assert!(believe("bob", &json).is_ok());
        assert!(believe("alice", &json)
            .expect_err("not believed")
            .contains("another submission"));
        let mut partial = Grade::new("bob");
        partial.require(
            super::super::verdict::Requirement::ServerListens,
            true,
            "ok",
        );
        let json = serde_json::to_vec(&partial).expect("json");
        assert!(believe("bob", &json).is_err());
        assert!(believe("bob", b"PASS PASS PASS").is_err());
    }
}
