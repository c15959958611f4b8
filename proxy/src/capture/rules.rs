//! The `nat` table rules of a [`CaptureConfig`], laid out as Istio's `istio-iptables` does, in
//! chains of our own.
//!
//! Inbound: `PREROUTING` → `MESH_INBOUND`, which returns for excluded ports and otherwise jumps to
//! `MESH_IN_REDIRECT` (→ the inbound capture port).
//!
//! Outbound: `OUTPUT` → `MESH_OUTPUT`, in this order:
//! 1. connections from [`INBOUND_PASSTHROUGH_SOURCE`] over `lo` return: the proxy binds that
//!    source when it hands an inbound connection on to the application at the pod's own
//!    address, which rule 2 would otherwise send back to the proxy;
//! 2. excluded outbound ports return;
//! 3. the proxy's connections over `lo` to anything but 127.0.0.1 (the pod's own address) go to
//!    `MESH_IN_REDIRECT`: the proxy calling its own pod is inbound traffic of that pod;
//! 4. the application's connections over `lo` return (it talks to itself directly), and every
//!    other connection of the proxy's uid or gid returns (no loop);
//! 5. 127.0.0.1 and excluded CIDRs return; included CIDRs go to `MESH_REDIRECT` (→ the outbound
//!    capture port); the rest return.
//!
//! Only TCP is redirected, and only IPv4 (`iptables`); `ip6tables` is not configured yet.

use std::fmt;

use super::{CaptureConfig, Selection};

/// The chains we own, created and flushed as a set.
pub const CHAINS: [&str; 4] = [INBOUND, IN_REDIRECT, OUTPUT, REDIRECT];
/// Inbound connections, from `PREROUTING`.
pub const INBOUND: &str = "MESH_INBOUND";
/// Redirects to the inbound capture port.
pub const IN_REDIRECT: &str = "MESH_IN_REDIRECT";
/// Outbound connections, from `OUTPUT`.
pub const OUTPUT: &str = "MESH_OUTPUT";
/// Redirects to the outbound capture port.
pub const REDIRECT: &str = "MESH_REDIRECT";

/// The source address the proxy binds to pass inbound connections on to the application, as
/// Istio's inbound passthrough does.
pub const INBOUND_PASSTHROUGH_SOURCE: &str = "127.0.0.6/32";

/// The rules that hook our chains into the built-in ones: `(built-in chain, rule)`.
pub const JUMPS: [(&str, &[&str]); 2] = [
    ("PREROUTING", &["-p", "tcp", "-j", INBOUND]),
    ("OUTPUT", &["-p", "tcp", "-j", OUTPUT]),
];

/// One rule, appended to `chain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The chain it is appended to.
    pub chain: &'static str,
    /// The rule's match and target, as `iptables` arguments.
    pub args: Vec<String>,
}

// === impl Rule ===

impl Rule {
    fn new(chain: &'static str, args: &[&str]) -> Self {
        Self {
            chain,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        }
    }
}

impl fmt::Display for Rule {
    /// The rule as an `iptables-restore` line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "-A {}", self.chain)?;
        for arg in &self.args {
            write!(f, " {arg}")?;
        }
        Ok(())
    }
}

// === impl CaptureConfig ===

impl CaptureConfig {
    /// Every rule, in order, including the jumps from the built-in chains.
    pub fn rules(&self) -> Vec<Rule> {
        let mut rules = Vec::new();
        self.inbound_rules(&mut rules);
        self.outbound_rules(&mut rules);
        rules.extend(JUMPS.iter().map(|(chain, args)| Rule::new(chain, args)));
        rules
    }

    /// An `iptables-restore --noflush` script for the `nat` table: declaring our chains creates
    /// them, or empties them when they exist, so applying it twice gives the same rules as
    /// once (the jumps are removed beforehand, see [`super::apply`]).
    pub fn restore_script(&self) -> String {
        let mut script = String::from("*nat\n");
        for chain in CHAINS {
            script.push_str(&format!(":{chain} - [0:0]\n"));
        }
        for rule in self.rules() {
            script.push_str(&format!("{rule}\n"));
        }
        script.push_str("COMMIT\n");
        script
    }

    fn inbound_rules(&self, rules: &mut Vec<Rule>) {
        for port in self.inbound_ports_excluded() {
            let port = port.to_string();
            rules.push(Rule::new(
                INBOUND,
                &["-p", "tcp", "--dport", &port, "-j", "RETURN"],
            ));
        }
        match &self.include_inbound_ports {
            Selection::All => rules.push(Rule::new(INBOUND, &["-p", "tcp", "-j", IN_REDIRECT])),
            Selection::Only(ports) => {
                for port in ports {
                    let port = port.to_string();
                    rules.push(Rule::new(
                        INBOUND,
                        &["-p", "tcp", "--dport", &port, "-j", IN_REDIRECT],
                    ));
                }
            }
        }
        let to = self.inbound_capture_port.to_string();
        rules.push(Rule::new(
            IN_REDIRECT,
            &["-p", "tcp", "-j", "REDIRECT", "--to-ports", &to],
        ));
    }

    fn outbound_rules(&self, rules: &mut Vec<Rule>) {
        rules.push(Rule::new(
            OUTPUT,
            &["-s", INBOUND_PASSTHROUGH_SOURCE, "-o", "lo", "-j", "RETURN"],
        ));
        for port in &self.exclude_outbound_ports.0 {
            let port = port.to_string();
            rules.push(Rule::new(
                OUTPUT,
                &["-p", "tcp", "--dport", &port, "-j", "RETURN"],
            ));
        }
        let uid = self.proxy_uid.to_string();
        let gid = self.proxy_gid.to_string();
        for (owner, id) in [("--uid-owner", &uid), ("--gid-owner", &gid)] {
            rules.push(Rule::new(
                OUTPUT,
                &[
                    "!",
                    "-d",
                    "127.0.0.1/32",
                    "-o",
                    "lo",
                    "-m",
                    "owner",
                    owner,
                    id,
                    "-j",
                    IN_REDIRECT,
                ],
            ));
            rules.push(Rule::new(
                OUTPUT,
                &["-o", "lo", "-m", "owner", "!", owner, id, "-j", "RETURN"],
            ));
            rules.push(Rule::new(
                OUTPUT,
                &["-m", "owner", owner, id, "-j", "RETURN"],
            ));
        }
        rules.push(Rule::new(OUTPUT, &["-d", "127.0.0.1/32", "-j", "RETURN"]));
        for cidr in &self.exclude_outbound_cidrs.0 {
            let cidr = cidr.to_string();
            rules.push(Rule::new(OUTPUT, &["-d", &cidr, "-j", "RETURN"]));
        }
        match &self.include_outbound_cidrs {
            Selection::All => rules.push(Rule::new(OUTPUT, &["-j", REDIRECT])),
            Selection::Only(cidrs) => {
                for cidr in cidrs {
                    let cidr = cidr.to_string();
                    rules.push(Rule::new(OUTPUT, &["-d", &cidr, "-j", REDIRECT]));
                }
            }
        }
        let to = self.outbound_capture_port.to_string();
        rules.push(Rule::new(
            REDIRECT,
            &["-p", "tcp", "-j", "REDIRECT", "--to-ports", &to],
        ));
    }
}
