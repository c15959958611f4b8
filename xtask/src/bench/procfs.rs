//! The CPU time and memory of a proxy process, read from /proc.

use std::process::Command;

use anyhow::{Context as _, bail};

/// The memory figures of `/proc/<pid>/status`, in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the most ever resident (the high-water mark).
    pub peak_kib: u64,
}

/// User plus system CPU time of a process, in clock ticks, from a line of `/proc/<pid>/stat`.
///
/// The second field, the command name, is in parentheses and may hold spaces or parentheses
/// itself, so the fields are counted from the last `)`: `utime` and `stime` are the 14th and
/// 15th fields of the line.
pub fn cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let after_name = stat
        .rfind(')')
        .map(|end| &stat[end + 1..])
        .context("no command name in the stat line")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name come `state` (field 3) and then fields 4, 5, …: utime is field 14.
    let field = |number: usize| -> anyhow::Result<u64> {
        let raw = fields
            .get(number - 3)
            .with_context(|| format!("the stat line has no field {number}"))?;
        raw.parse()
            .with_context(|| format!("field {number} of the stat line is not a number: {raw}"))
    };
    Ok(field(14)? + field(15)?)
}

/// `VmRSS` and `VmHWM` from the text of `/proc/<pid>/status`.
pub fn memory(status: &str) -> anyhow::Result<Memory> {
    let kib = |key: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
            .with_context(|| format!("no {key} in the status file"))?;
        let Some(number) = line.trim().strip_suffix("kB") else {
            bail!("{key} is not in kB: {line}");
        };
        number
            .trim()
            .parse()
            .with_context(|| format!("{key} is not a number: {line}"))
    };
    Ok(Memory {
        rss_kib: kib("VmRSS")?,
        peak_kib: kib("VmHWM")?,
    })
}

/// The CPU time of process `pid` so far, in clock ticks.
pub fn read_cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    cpu_ticks(&stat).with_context(|| format!("reading {path}"))
}

/// The memory of process `pid` now.
pub fn read_memory(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    memory(&status).with_context(|| format!("reading {path}"))
}

/// Clock ticks per second (`getconf CLK_TCK`); 100, the value on every Linux architecture we
/// run on, if `getconf` cannot say.
pub fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_sum_utime_and_stime_past_an_awkward_name() {
        let stat = "4242 (envoy) worker (1)) S 1 4242 4242 0 -1 4194560 5120 0 0 0 \
                    1234 567 0 0 20 0 3 0 98765 123456789 4321 18446744073709551615 \
                    1 1 0 0 0 0 0 4096 0 0 0 0 17 0 0 0 0 0 0";
        assert_eq!(cpu_ticks(stat).unwrap(), 1234 + 567);
    }

    #[test]
    fn a_short_stat_line_names_the_missing_field() {
        let error = cpu_ticks("1 (x) S 1 2 3").unwrap_err();
        assert_eq!(error.to_string(), "the stat line has no field 14");
    }

    #[test]
    fn memory_reads_rss_and_high_water_mark() {
        let status = "Name:\tmesh-proxy\nVmPeak:\t  123456 kB\nVmHWM:\t    9876 kB\n\
                      VmRSS:\t    8765 kB\nThreads:\t3\n";
        assert_eq!(
            memory(status).unwrap(),
            Memory {
                rss_kib: 8765,
                peak_kib: 9876
            }
        );
        assert_eq!(
            memory("Name:\tx\n").unwrap_err().to_string(),
            "no VmRSS in the status file"
        );
    }
}
