//! `logs`: the log of a workload, its sidecar, the control plane or the gateway — whole, its
//! last lines, or followed as it grows, as `kubectl logs [-f] [--tail N]` prints a container's.
//!
//! Following polls the file's length rather than watching it (inotify): whether the process has
//! exited has to be polled anyway, each log has one writer that only appends, and a look every
//! [`FOLLOW_POLL`] costs nothing beside a mesh. It ends when the process has exited and the log
//! is printed to its end, so that a script following a finished workload is not left hanging;
//! otherwise Ctrl-C ends it.

use std::{
    fs::File,
    io::{self, Read, Seek as _, SeekFrom, Write},
    path::Path,
    thread,
    time::Duration,
};

use super::{
    LocalError, io, process,
    state::{ProcessRecord, Role, State},
};

/// How often `--follow` looks for more.
pub const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// How much is read at a time, backwards from the end, when looking for the last lines.
const BLOCK: u64 = 64 * 1024;
/// The most of a log [`last_lines`] returns: its lines are for a person to read.
const MOST_SHOWN: u64 = 16 * 1024;

/// What `logs` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogsOptions {
    /// The proxy's log instead of the workload's.
    pub proxy: bool,
    /// Keep printing what is appended until the process has exited.
    pub follow: bool,
    /// Only the last lines, this many, first.
    pub tail: Option<usize>,
}

/// Prints the log of `workload` (or `controlplane`, or `ingressgateway`) as `options` say.
pub fn logs(
    state: &State,
    workload: &str,
    options: LogsOptions,
    out: &mut dyn Write,
) -> Result<(), LocalError> {
    let role = match (workload, options.proxy) {
        ("controlplane", _) => Role::ControlPlane,
        ("ingressgateway", _) => Role::Gateway,
        (_, true) => Role::Proxy,
        (_, false) => Role::Workload,
    };
    let record = state
        .processes
        .iter()
        .find(|p| p.name == workload && p.role == role)
        .ok_or_else(|| super::cli::unknown_workload(state, workload))?;
    match print(record, options, out) {
        // The reader went away (`| head`): nothing is left to print to.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        printed => printed.map_err(io(format!("print {}", record.log.display()))),
    }
}

fn print(record: &ProcessRecord, options: LogsOptions, out: &mut dyn Write) -> io::Result<()> {
    let mut file = File::open(&record.log)?;
    let offset = match options.tail {
        Some(lines) => tail_offset(&mut file, lines)?,
        None => 0,
    };
    if options.follow {
        let running = || process::is_running(record);
        follow(&mut file, offset, out, running, FOLLOW_POLL)
    } else {
        copy_new(&mut file, offset, out).map(drop)
    }
}

/// Where the last `lines` lines of `file` start: 0 when it has no more than that. A last line
/// without a newline counts as a line.
pub fn tail_offset(file: &mut File, lines: usize) -> io::Result<u64> {
    let len = file.metadata()?.len();
    if lines == 0 {
        return Ok(len);
    }
    let mut seen = 0;
    let mut end = len;
    let mut block = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        // At most BLOCK bytes.
        block.resize((end - start) as usize, 0);
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block)?;
        for (i, byte) in block.iter().enumerate().rev() {
            let at = start + i as u64;
            // The newline that ends the file ends the last line; it starts none.
            if *byte != b'\n' || at + 1 == len {
                continue;
            }
            seen += 1;
            if seen == lines {
                return Ok(at + 1);
            }
        }
        end = start;
    }
    Ok(0)
}

/// Prints what is appended to `file` after `offset`, until `running` says its process has
/// exited; then what is left, and returns. Looks again every `poll` while nothing comes.
pub fn follow(
    file: &mut File,
    mut offset: u64,
    out: &mut dyn Write,
    mut running: impl FnMut() -> bool,
    poll: Duration,
) -> io::Result<()> {
    loop {
        // Asked before reading, so that whatever the process wrote before it exited is read
        // below.
        let alive = running();
        let next = copy_new(file, offset, out)?;
        if !alive {
            return Ok(());
        }
        if next == offset {
            // No event says when another process writes; the process's exit ends the wait.
            thread::sleep(poll);
        }
        offset = next;
    }
}

/// Prints `file` from `offset` to its current end; returns where that end is. A file shorter
/// than `offset` was truncated or replaced, and is printed again from its start.
fn copy_new(file: &mut File, offset: u64, out: &mut dyn Write) -> io::Result<u64> {
    let len = file.metadata()?.len();
    let from = if len < offset { 0 } else { offset };
    file.seek(SeekFrom::Start(from))?;
    let copied = io::copy(&mut Read::by_ref(file).take(len - from), out)?;
    out.flush()?;
    Ok(from + copied)
}

/// The last `lines` lines of the log at `path` (at most 16 KiB of them), without the final
/// newline; empty when it cannot be read.
pub fn last_lines(path: &Path, lines: usize) -> String {
    let read = || -> io::Result<Vec<u8>> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        let start = tail_offset(&mut file, lines)?.max(len.saturating_sub(MOST_SHOWN));
        let mut text = Vec::new();
        copy_new(&mut file, start, &mut text)?;
        Ok(text)
    };
    let text = read().unwrap_or_default();
    String::from_utf8_lossy(&text)
        .trim_end_matches('\n')
        .to_string()
}

#[cfg(test)]
mod tests;
