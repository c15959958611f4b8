//! Starting and stopping the processes of a local mesh.
//!
//! Every process starts as the leader of its own process group, so that a terminal's Ctrl-C
//! reaches meshctl alone (which then stops everything in order), and stopping a process stops
//! whatever it started too. Processes are identified by pid and kernel start time: a pid that
//! was reused by an unrelated process after a crash is never signalled.

use std::{
    env,
    fs::{self, OpenOptions},
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, SystemTime},
};

use super::{
    LocalError, io,
    state::{ProcessRecord, Role},
};

/// How long processes get to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Where a program is: a path is taken as it is; a name is looked up in `bin_dir` (by default
/// the directory of meshctl's own executable, where cargo puts the workspace's binaries), then
/// on `PATH`.
pub fn find_binary(name: &str, bin_dir: Option<&Path>) -> Result<PathBuf, LocalError> {
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    let own_dir = env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let next_to_us = bin_dir.map(Path::to_path_buf).or(own_dir);
    let on_path = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    next_to_us
        .into_iter()
        .chain(on_path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| LocalError::MissingBinary {
            name: name.to_string(),
        })
}

/// Starts `command` with stdin closed and stdout and stderr appended to `log`.
pub fn spawn(
    mut command: Command,
    name: &str,
    role: Role,
    log: &Path,
) -> Result<(Child, ProcessRecord), LocalError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io(format!("open {}", log.display())))?;
    let stderr = file
        .try_clone()
        .map_err(io(format!("open {}", log.display())))?;
    command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(stderr)
        .process_group(0);
    let child = command
        .spawn()
        .map_err(io(format!("start {name} ({command:?})")))?;
    let pid = child.id();
    let record = ProcessRecord {
        name: name.to_string(),
        role,
        pid,
        start_time: start_time(pid).unwrap_or(0),
        log: log.to_path_buf(),
        admin: None,
    };
    Ok((child, record))
}

/// The start time of `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`), and
/// `None` when the process is gone or a zombie.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces; fields after it are
    // plain.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// True when the recorded process still runs (and is the same process).
pub fn is_running(record: &ProcessRecord) -> bool {
    start_time(record.pid).is_some_and(|t| record.start_time == 0 || t == record.start_time)
}

fn signal_group(pid: u32, signal: &str) {
    // `kill` of procps and util-linux alike take a negative pid for the process group. A group
    // that has already exited is not an error worth reporting.
    let _ = Command::new("kill")
        .args(["-s", signal, "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops the processes, last started first: SIGTERM to each group, SIGKILL to what is left after
/// [`STOP_GRACE`]. `children` are reaped along the way when this process started them.
pub fn stop(records: &[ProcessRecord], children: &mut [Child]) {
    let running: Vec<&ProcessRecord> = records.iter().rev().filter(|r| is_running(r)).collect();
    for record in &running {
        signal_group(record.pid, "TERM");
    }
    let deadline = SystemTime::now() + STOP_GRACE;
    loop {
        for child in children.iter_mut() {
            let _ = child.try_wait();
        }
        if !running.iter().any(|r| is_running(r)) || SystemTime::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    for record in running.iter().filter(|r| is_running(r)) {
        signal_group(record.pid, "KILL");
    }
    for child in children.iter_mut() {
        let _ = child.wait();
    }
}
