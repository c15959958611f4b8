//! Filter-chain selection, as Envoy orders it: a pure function of the listener and what the
//! connection's destination and first bytes say.
//!
//! Each criterion in turn keeps only the chains that match it most specifically —
//! `destination_port`, then `prefix_ranges` (longest prefix), then `server_names` (exact, then
//! the longest wildcard), then `transport_protocol`, then `application_protocols` — and a chain
//! that loses at one step never comes back at a later one. When nothing is left, the
//! listener's `default_filter_chain` applies.

use std::net::{IpAddr, SocketAddr};

use crate::{
    config::{CidrRange, FilterChain, FilterChainMatch, ListenerConfig},
    detect::Protocol,
};

/// What filter-chain selection looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainInput {
    /// The connection's (original) destination.
    pub destination: SocketAddr,
    /// TLS SNI, lower-cased.
    pub server_name: Option<String>,
    /// `tls` or `raw_buffer`.
    pub transport_protocol: &'static str,
    /// TLS ALPN, or what `http_inspector` reports for plaintext HTTP (`http/1.1`, `h2c`).
    pub application_protocols: Vec<String>,
}

// === impl ChainInput ===

impl ChainInput {
    /// The input of a connection to `destination` whose bytes were not inspected: plaintext, no
    /// protocols known.
    pub fn uninspected(destination: SocketAddr) -> Self {
        Self {
            destination,
            server_name: None,
            transport_protocol: "raw_buffer",
            application_protocols: Vec::new(),
        }
    }

    /// The input of a connection to `destination` whose first bytes say `protocol`, as
    /// Envoy's `tls_inspector` and `http_inspector` report it.
    pub fn detected(destination: SocketAddr, protocol: &Protocol) -> Self {
        let mut input = Self::uninspected(destination);
        match protocol {
            Protocol::Http1 => input.application_protocols = vec!["http/1.1".to_owned()],
            Protocol::Http2 => input.application_protocols = vec!["h2c".to_owned()],
            Protocol::Tls { sni, alpn } => {
                input.transport_protocol = "tls";
                input.server_name = sni.clone();
                input.application_protocols = alpn.clone();
            }
            Protocol::Opaque => {}
        }
        input
    }
}

/// Whether any chain of `listener` needs the connection's first bytes to be matched.
pub fn needs_inspection(listener: &ListenerConfig) -> bool {
    listener.filter_chains.iter().any(|chain| {
        let m = &chain.matcher;
        !m.server_names.is_empty()
            || m.transport_protocol.is_some()
            || !m.application_protocols.is_empty()
    })
}

/// The chain of `listener` that handles a connection described by `input`, or `None` (Envoy's
/// `NR`: the connection is closed).
pub fn select_chain<'l>(
    listener: &'l ListenerConfig,
    input: &ChainInput,
) -> Option<&'l FilterChain> {
    let mut chains: Vec<&FilterChain> = listener.filter_chains.iter().collect();
    let steps: [Criterion<'_>; 5] = [
        &|m| port_specificity(m, input.destination.port()),
        &|m| prefix_specificity(&m.prefix_ranges, input.destination.ip()),
        &|m| server_name_specificity(&m.server_names, input.server_name.as_deref()),
        &|m| transport_specificity(m, input.transport_protocol),
        &|m| application_specificity(&m.application_protocols, &input.application_protocols),
    ];
    for step in steps {
        chains = most_specific(chains, step);
    }
    chains
        .first()
        .copied()
        .or(listener.default_filter_chain.as_ref())
}

/// How specifically a chain matches one criterion; `None` when it does not match at all.
/// Larger is more specific.
type Specificity = (u8, usize);

/// One criterion: how specifically a chain's matcher meets it.
type Criterion<'a> = &'a dyn Fn(&FilterChainMatch) -> Option<Specificity>;

fn most_specific<'l>(
    chains: Vec<&'l FilterChain>,
    specificity: Criterion<'_>,
) -> Vec<&'l FilterChain> {
    let scored: Vec<(Specificity, &FilterChain)> = chains
        .into_iter()
        .filter_map(|chain| specificity(&chain.matcher).map(|score| (score, chain)))
        .collect();
    let Some(best) = scored.iter().map(|(score, _)| *score).max() else {
        return Vec::new();
    };
    scored
        .into_iter()
        .filter(|(score, _)| *score == best)
        .map(|(_, chain)| chain)
        .collect()
}

fn port_specificity(m: &FilterChainMatch, port: u16) -> Option<Specificity> {
    match m.destination_port {
        None => Some((0, 0)),
        Some(wanted) if wanted == port => Some((1, 0)),
        Some(_) => None,
    }
}

/// An empty `prefix_ranges` matches as `0.0.0.0/0` and `::/0` do: the least specific prefix.
fn prefix_specificity(ranges: &[CidrRange], ip: IpAddr) -> Option<Specificity> {
    if ranges.is_empty() {
        return Some((0, 0));
    }
    ranges
        .iter()
        .filter(|range| contains(range, ip))
        .map(|range| (0, usize::from(range.prefix_len)))
        .max()
}

fn contains(range: &CidrRange, ip: IpAddr) -> bool {
    // An IPv4 client seen through a dual-stack socket still matches IPv4 ranges.
    match (range.address, ip.to_canonical()) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
            u128::from(net.to_bits()),
            u128::from(ip.to_bits()),
            32,
            range.prefix_len,
        ),
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            prefix_eq(net.to_bits(), ip.to_bits(), 128, range.prefix_len)
        }
        _ => false,
    }
}

fn prefix_eq(net: u128, ip: u128, width: u32, prefix_len: u8) -> bool {
    let len = u32::from(prefix_len).min(width);
    if len == 0 {
        return true;
    }
    let shift = width - len;
    (net >> shift) == (ip >> shift)
}

/// Exact names beat wildcards, longer wildcard suffixes beat shorter ones (`*.example.com`
/// before `*.com`), and any of them beats a chain without `server_names`.
fn server_name_specificity(names: &[String], server_name: Option<&str>) -> Option<Specificity> {
    if names.is_empty() {
        return Some((0, 0));
    }
    let server_name = server_name?;
    names
        .iter()
        .filter_map(|name| {
            if name.eq_ignore_ascii_case(server_name) {
                Some((2, name.len()))
            } else {
                let suffix = name.strip_prefix('*')?;
                let matches = suffix.starts_with('.')
                    && server_name.len() > suffix.len()
                    && server_name
                        .to_ascii_lowercase()
                        .ends_with(&suffix.to_ascii_lowercase());
                matches.then_some((1, suffix.len()))
            }
        })
        .max()
}

fn transport_specificity(m: &FilterChainMatch, transport: &str) -> Option<Specificity> {
    match &m.transport_protocol {
        None => Some((0, 0)),
        Some(wanted) if wanted == transport => Some((1, 0)),
        Some(_) => None,
    }
}

/// Envoy takes the connection's protocols in the client's order and uses the first one some
/// chain lists; a chain listing it outranks one that lists none. Ranking by the position of the
/// protocol in the client's list gives the same answer in one pass.
fn application_specificity(listed: &[String], offered: &[String]) -> Option<Specificity> {
    if listed.is_empty() {
        return Some((0, 0));
    }
    offered
        .iter()
        .position(|protocol| listed.contains(protocol))
        .map(|index| (1, usize::MAX - index))
}

#[cfg(test)]
mod tests;
