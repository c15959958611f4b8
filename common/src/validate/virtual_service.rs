//! `VirtualService`: hosts and gateways, TLS and TCP routes, destinations and their weights.
//! HTTP rules are checked in [`super::http_route`].

use super::{
    common::{self, Findings},
    http_route, selectors,
};
use crate::{
    api::{Destination, L4MatchAttributes, TcpRoute, TlsRoute, VirtualServiceSpec},
    path::FieldPath,
};

/// What the rules of one VirtualService share.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scope<'a> {
    /// A VirtualService without hosts is a delegate: root VirtualServices hand it requests.
    pub(super) delegate: bool,
    /// Bound to gateways only (not to the sidecars, `mesh`).
    pub(super) gateways_only: bool,
    pub(super) hosts: &'a [String],
}

pub(super) fn validate(findings: &mut Findings, namespace: &str, spec: &VirtualServiceSpec) {
    let path = FieldPath::root().field("spec");
    let scope = Scope {
        delegate: spec.hosts.is_empty(),
        gateways_only: !spec.gateways.is_empty() && !spec.gateways.iter().any(|g| g == "mesh"),
        hosts: &spec.hosts,
    };
    if scope.delegate {
        if !spec.gateways.is_empty() {
            findings.error(
                &path.field("gateways"),
                "a VirtualService without hosts is a delegate and cannot name gateways: add hosts, or remove gateways and delegate to it from a root VirtualService",
            );
        }
        for (field, set) in [("tls", !spec.tls.is_empty()), ("tcp", !spec.tcp.is_empty())] {
            if set {
                findings.error(
                    &path.field(field),
                    format!(
                        "a delegate VirtualService (one without hosts) routes HTTP only: add hosts, or move the {field} routes to a VirtualService with hosts"
                    ),
                );
            }
        }
    }
    common::gateway_names(findings, &path.field("gateways"), &spec.gateways);
    hosts(
        findings,
        &path.field("hosts"),
        &spec.hosts,
        scope.gateways_only,
    );
    if spec.http.is_empty() && spec.tls.is_empty() && spec.tcp.is_empty() {
        findings.error(
            &path,
            "the VirtualService routes nothing: add http, tls or tcp routes",
        );
    }
    for (i, route) in spec.http.iter().enumerate() {
        http_route::validate(findings, &path.field("http").index(i), route, scope);
    }
    unreachable_rules(
        findings,
        &path.field("http"),
        spec.http.iter().map(|r| r.matches.is_empty()),
    );
    for (i, route) in spec.tls.iter().enumerate() {
        tls_route(findings, &path.field("tls").index(i), route, scope);
    }
    unreachable_rules(
        findings,
        &path.field("tls"),
        spec.tls.iter().map(|r| r.matches.is_empty()),
    );
    for (i, route) in spec.tcp.iter().enumerate() {
        tcp_route(findings, &path.field("tcp").index(i), route);
    }
    unreachable_rules(
        findings,
        &path.field("tcp"),
        spec.tcp.iter().map(|r| r.matches.is_empty()),
    );
    common::export_to(
        findings,
        &path.field("exportTo"),
        namespace,
        &spec.export_to,
        false,
        false,
    );
}

fn hosts(findings: &mut Findings, path: &FieldPath, hosts: &[String], gateways_only: bool) {
    let mut all_valid = true;
    for (i, host) in hosts.iter().enumerate() {
        if common::is_ip(host) {
            continue;
        }
        let result = common::host(host).and_then(|()| {
            if host == "*" && !gateways_only {
                Err("host \"*\" cannot be used by the sidecars (mesh): name the hosts, or bind the VirtualService to gateways only".to_string())
            } else {
                Ok(())
            }
        });
        all_valid &= result.is_ok();
        findings.check(&path.index(i), result);
    }
    if !all_valid {
        return;
    }
    for (j, later) in hosts.iter().enumerate() {
        let earlier = hosts[..j].iter().enumerate().find(|(_, earlier)| {
            common::host_covers(earlier, later) || common::host_covers(later, earlier)
        });
        if let Some((i, earlier)) = earlier {
            let message = if earlier == later {
                format!(
                    "host {later:?} is listed twice (also at {}): remove one",
                    path.index(i)
                )
            } else {
                format!(
                    "host {later:?} overlaps {earlier:?} at {}: list each host once",
                    path.index(i)
                )
            };
            findings.error(&path.index(j), message);
        }
    }
}

/// Rules are tried in order and a rule without `match` takes every request, so any rule after it
/// is never used.
fn unreachable_rules(
    findings: &mut Findings,
    path: &FieldPath,
    match_all: impl Iterator<Item = bool>,
) {
    let mut catch_all = None;
    for (i, matches_everything) in match_all.enumerate() {
        match catch_all {
            Some(first) => findings.warning(
                &path.index(i),
                format!(
                    "this rule is never used: {} before it has no match and takes every request; move the catch-all rule last",
                    path.index(first)
                ),
            ),
            None if matches_everything => catch_all = Some(i),
            None => {}
        }
    }
}

/// The service, subset and port a route or mirror sends traffic to.
pub(super) fn destination(findings: &mut Findings, path: &FieldPath, destination: &Destination) {
    let host = &destination.host;
    if host.is_empty() {
        findings.error(
            &path.field("host"),
            "host is empty: name the service to send traffic to, e.g. \"reviews\"",
        );
    } else if host == "*" {
        findings.error(
            &path.field("host"),
            "host \"*\" is not a destination: name one service",
        );
    } else {
        findings.check(&path.field("host"), common::host(host));
    }
    let subset = &destination.subset;
    if !subset.is_empty() && !common::is_dns_label(subset) {
        findings.error(
            &path.field("subset"),
            format!(
                "subset {subset:?} is invalid: subset names are DNS labels (lowercase letters, digits and '-'), as the DestinationRule declares them"
            ),
        );
    }
    if let Some(port) = &destination.port {
        findings.check(
            &path.field("port").field("number"),
            common::port(port.number),
        );
    }
}

/// The weights of a route's destinations: with several destinations, each needs one and together
/// they make 100; a single destination takes all traffic, so its weight, if written, is 100.
pub(super) fn weights(findings: &mut Findings, path: &FieldPath, weights: &[Option<i32>]) {
    for (i, weight) in weights.iter().enumerate() {
        if let Some(w) = weight.filter(|w| *w < 0) {
            findings.error(
                &path.index(i).field("weight"),
                format!("weight {w} is negative: use 0 to 100"),
            );
        }
    }
    let missing: Vec<usize> = (0..weights.len())
        .filter(|&i| weights[i].is_none())
        .collect();
    if weights.len() > 1 {
        for &i in &missing {
            findings.error(
                &path.index(i),
                "weight is missing: with several destinations, give each a weight (together 100)",
            );
        }
    }
    if missing.is_empty() && !weights.is_empty() {
        let sum: i64 = weights.iter().flatten().map(|&w| i64::from(w)).sum();
        if sum != 100 {
            findings.error(path, format!("weights sum to {sum}, must be 100"));
        }
    }
}

fn tls_route(findings: &mut Findings, path: &FieldPath, route: &TlsRoute, scope: Scope<'_>) {
    if route.matches.is_empty() {
        findings.error(
            &path.field("match"),
            "add a match with sniHosts: TLS routes are chosen by the SNI the client sends",
        );
    }
    for (j, m) in route.matches.iter().enumerate() {
        let at = path.field("match").index(j);
        if m.sni_hosts.is_empty() {
            findings.error(
                &at.field("sniHosts"),
                "list at least one SNI host, e.g. \"api.example.com\"",
            );
        }
        for (k, sni) in m.sni_hosts.iter().enumerate() {
            sni_host(findings, &at.field("sniHosts").index(k), sni, scope.hosts);
        }
        l4_match(
            findings,
            &at,
            &m.destination_subnets,
            m.port,
            &m.source_labels,
            &m.gateways,
            &m.source_namespace,
        );
    }
    route_destinations(
        findings,
        &path.field("route"),
        route.route.iter().map(|d| (&d.destination, d.weight)),
    );
}

fn sni_host(findings: &mut Findings, path: &FieldPath, sni: &str, hosts: &[String]) {
    if common::is_ip(sni) {
        findings.warning(
            path,
            format!(
                "SNI host {sni:?} is an IP address, which clients do not send as SNI: match the address with destinationSubnets instead"
            ),
        );
        return;
    }
    if let Err(message) = common::host(sni) {
        findings.error(path, message);
    } else if !hosts.iter().any(|host| common::host_covers(host, sni)) {
        findings.error(
            path,
            format!(
                "SNI host {sni:?} is not among the VirtualService's hosts [{}]: add it to spec.hosts",
                hosts.join(", ")
            ),
        );
    }
}

fn tcp_route(findings: &mut Findings, path: &FieldPath, route: &TcpRoute) {
    for (j, m) in route.matches.iter().enumerate() {
        let at = path.field("match").index(j);
        let L4MatchAttributes {
            destination_subnets,
            port,
            source_subnet,
            source_labels,
            gateways,
            source_namespace,
        } = m;
        l4_match(
            findings,
            &at,
            destination_subnets,
            *port,
            source_labels,
            gateways,
            source_namespace,
        );
        if !source_subnet.is_empty() {
            findings.warning(
                &at.field("sourceSubnet"),
                "sourceSubnet is deprecated: match clients with sourceLabels or sourceNamespace instead",
            );
            findings.check(&at.field("sourceSubnet"), common::ip_or_cidr(source_subnet));
        }
    }
    route_destinations(
        findings,
        &path.field("route"),
        route.route.iter().map(|d| (&d.destination, d.weight)),
    );
}

/// The conditions TLS and TCP matches share.
fn l4_match(
    findings: &mut Findings,
    path: &FieldPath,
    subnets: &[String],
    port: Option<u32>,
    source_labels: &std::collections::BTreeMap<String, String>,
    gateways: &[String],
    source_namespace: &str,
) {
    for (k, subnet) in subnets.iter().enumerate() {
        findings.check(
            &path.field("destinationSubnets").index(k),
            common::ip_or_cidr(subnet),
        );
    }
    if let Some(port) = port {
        findings.check(&path.field("port"), common::port(port));
    }
    selectors::labels(findings, &path.field("sourceLabels"), source_labels);
    common::gateway_names(findings, &path.field("gateways"), gateways);
    source_namespace_name(findings, &path.field("sourceNamespace"), source_namespace);
}

pub(super) fn source_namespace_name(findings: &mut Findings, path: &FieldPath, namespace: &str) {
    if !namespace.is_empty() && !common::is_dns_label(namespace) {
        findings.error(
            path,
            format!("sourceNamespace {namespace:?} is not a namespace name"),
        );
    }
}

fn route_destinations<'a>(
    findings: &mut Findings,
    path: &FieldPath,
    destinations: impl ExactSizeIterator<Item = (&'a Destination, Option<i32>)>,
) {
    if destinations.len() == 0 {
        findings.error(path, "add at least one destination");
        return;
    }
    let mut all_weights = Vec::new();
    for (k, (destination, weight)) in destinations.enumerate() {
        self::destination(findings, &path.index(k).field("destination"), destination);
        all_weights.push(weight);
    }
    weights(findings, path, &all_weights);
}
