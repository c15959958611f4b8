//! Whether a workload in a network namespace listens on its ports, read from the kernel's
//! socket tables of that namespace (`/proc/<pid>/net/tcp` and `tcp6`).
//!
//! Not by connecting: from meshctl's namespace a connection to the pod passes the sidecar's
//! inbound capture, which accepts on any port once the sidecar runs, whatever the application
//! does; and connecting from inside takes a process per check (`ip netns exec`). A socket in
//! state LISTEN is one the kernel completes connections for, which is what a caller needs. The
//! sidecar's own sockets, the proxy user's, are left out.

use std::{collections::BTreeSet, fs, io, path::Path};

use mesh_common::well_known::PROXY_UID;

use super::ready::Seen;

/// Whether process `pid`, once it has entered a network namespace of its own, listens on every
/// one of `ports` there.
pub(super) fn in_pod(pid: u32, ports: &[u16]) -> Seen {
    // `ip netns exec` enters the namespace, then runs the workload under the same pid: until
    // it has, the tables are meshctl's own.
    let namespace = |process: &str| fs::read_link(format!("/proc/{process}/ns/net")).ok();
    match namespace(&pid.to_string()) {
        None => return Seen::NotYet(format!("cannot read the network namespace of pid {pid}")),
        Some(theirs) if Some(&theirs) == namespace("self").as_ref() => {
            return Seen::NotYet(format!(
                "pid {pid} has not entered its network namespace yet"
            ));
        }
        Some(_) => {}
    }
    let proc = Path::new("/proc").join(pid.to_string());
    let listening = match listening_ports(&proc, PROXY_UID) {
        Ok(ports) => ports,
        Err(e) => return Seen::NotYet(format!("{}: {e}", proc.join("net").display())),
    };
    let missing: Vec<String> = ports
        .iter()
        .filter(|port| !listening.contains(port))
        .map(u16::to_string)
        .collect();
    if missing.is_empty() {
        Seen::Ready
    } else {
        Seen::NotYet(format!(
            "nothing listens on port {} in its network namespace yet",
            missing.join(", ")
        ))
    }
}

/// The TCP ports listened on in the network namespace of the process whose `/proc` directory
/// is `proc`, by any user but `except_uid`.
pub(super) fn listening_ports(proc: &Path, except_uid: u32) -> io::Result<BTreeSet<u16>> {
    let mut ports = BTreeSet::new();
    for table in ["tcp", "tcp6"] {
        match fs::read_to_string(proc.join("net").join(table)) {
            Ok(text) => ports.extend(parse_listening(&text, except_uid)),
            // A kernel without IPv6 has no tcp6 table.
            Err(e) if e.kind() == io::ErrorKind::NotFound && table == "tcp6" => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ports)
}

/// The local ports of the sockets in state LISTEN (`0A`) in one `/proc/net/tcp` or `tcp6`
/// table, but those of user `except_uid`.
pub(super) fn parse_listening(table: &str, except_uid: u32) -> impl Iterator<Item = u16> + '_ {
    // After the header: `sl local_address rem_address st tx_queue:rx_queue tr:tm->when
    // retrnsmt uid …`, the local address as hex `ADDRESS:PORT`.
    table.lines().skip(1).filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, state, uid) = (fields.get(1)?, fields.get(3)?, fields.get(7)?);
        if *state != "0A" || uid.parse::<u32>().ok()? == except_uid {
            return None;
        }
        let (_, port) = local.rsplit_once(':')?;
        u16::from_str_radix(port, 16).ok()
    })
}
