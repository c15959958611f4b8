//! The `xds_resource` fuzz target: any bytes, as the payload of a resource in a discovery
//! response, through decoding, compilation and the lookups the data path makes with the result.

use std::{net::SocketAddr, slice, sync::Arc, time::Duration};

use envoy_types::pb::{
    envoy::config::{
        cluster::v3::{
            Cluster,
            cluster::{ClusterDiscoveryType, DiscoveryType},
        },
        endpoint::v3::ClusterLoadAssignment,
        route::v3::{RouteConfiguration, route_match::PathSpecifier},
    },
    google::protobuf::Any,
};
use http::{HeaderMap, Method};
use mesh_xds::resource::{Resource, ResourceType};
use rand::{SeedableRng, rngs::SmallRng};

use super::Verdict;
use crate::{
    balance::{Algorithm, EndpointSet},
    config::{
        Discovery, DnsAnswers, ListenerConfig, NetworkFilter, RouteSource, Snapshot,
        apply_clusters, apply_endpoints, apply_listeners, apply_routes, eds_service_names,
        rds_route_names,
    },
    config_error::ConfigError,
    detect::Protocol,
    route::{Outcome, RequestMeta, RouteTable},
    serve::{ChainInput, handoff_listener, needs_inspection, select_chain},
};

/// The types the first input byte picks from, modulo their number.
pub const XDS_TYPES: [ResourceType; 4] = [
    ResourceType::Listener,
    ResourceType::RouteConfiguration,
    ResourceType::Cluster,
    ResourceType::ClusterLoadAssignment,
];

/// Paths every route table is asked about, besides those its own routes name.
const PATHS: &[&str] = &["/", "", "/a/b?c=d&e#f", "?x=1", "//", "/%2F"];

/// Decodes `data[1..]` as the resource type `data[0]` picks, applies it to an empty
/// configuration as the xDS client does, and says how far it got. Panics only when a guarantee
/// breaks: decoding or compiling panics, a refusal does not name the resource, the field and the
/// reason on one line, or an accepted resource leads the data path's lookups astray.
pub fn xds_resource(data: &[u8]) -> Verdict {
    let Some((&selector, payload)) = data.split_first() else {
        return Verdict::Empty;
    };
    let kind = XDS_TYPES[usize::from(selector) % XDS_TYPES.len()];
    let any = Any {
        type_url: kind.type_url().to_owned(),
        value: payload.to_vec(),
    };
    let resource = match Resource::decode_any(&any) {
        Ok(resource) => resource,
        Err(error) => {
            let message = error.to_string();
            assert!(message.starts_with("malformed "), "{message}");
            return Verdict::Malformed;
        }
    };
    let name = resource.name().to_owned();
    let mut snapshot = Snapshot::default();
    let applied = match &resource {
        Resource::Listener(l) => apply_listeners(&mut snapshot, slice::from_ref(l), &[]),
        Resource::RouteConfiguration(r) => apply_routes(&mut snapshot, slice::from_ref(r), &[]),
        Resource::Cluster(c) => apply_clusters(
            &mut snapshot,
            slice::from_ref(c),
            &[],
            &DnsAnswers::default(),
        ),
        Resource::ClusterLoadAssignment(cla) => {
            apply_endpoints(&mut snapshot, slice::from_ref(cla), &[])
        }
        Resource::Secret(_) => unreachable!("no selector picks secrets"),
    };
    if let Err(error) = applied {
        check_refusal(&error, kind, &name);
        return Verdict::Refused;
    }
    match &resource {
        Resource::Listener(_) => check_listener(&snapshot, &name),
        Resource::RouteConfiguration(raw) => match snapshot.routes.get(&name) {
            Some(table) => probe_routes(table, raw),
            None => panic!("route configuration {name:?} accepted but not stored"),
        },
        Resource::Cluster(c) => check_cluster(&mut snapshot, c),
        Resource::ClusterLoadAssignment(cla) => check_assignment(cla),
        Resource::Secret(_) => {}
    }
    Verdict::Accepted
}

/// A NACK's `error_detail` names the resource as sent, a field inside it and a reason, on one
/// line.
fn check_refusal(error: &ConfigError, kind: ResourceType, name: &str) {
    assert_eq!(error.kind, kind.short_name(), "{error}");
    assert_eq!(error.name, name, "{error}");
    assert!(!error.path.is_root(), "names no field: {error}");
    assert!(!error.reason.is_empty(), "gives no reason: {error}");
    assert!(!error.reason.contains('\n'), "spans lines: {error:?}");
}

fn check_listener(snapshot: &Snapshot, name: &str) {
    let Some(listener) = snapshot.listeners.get(name) else {
        panic!("listener {name:?} accepted but not stored");
    };
    assert!(!listener.filter_chains.is_empty() || listener.default_filter_chain.is_some());
    if !listener.bind_to_port {
        let taker = handoff_listener(snapshot, listener.address);
        assert!(taker.is_some_and(|l| Arc::ptr_eq(l, listener)));
    }
    let _ = needs_inspection(listener);
    assert!(
        fits_on_the_clock(listener.detection_timeout),
        "listener_filters_timeout {:?} overflows the clock",
        listener.detection_timeout
    );
    let rds = rds_route_names(snapshot);
    for chain in listener
        .filter_chains
        .iter()
        .chain(&listener.default_filter_chain)
    {
        match &chain.filter {
            NetworkFilter::Http(hcm) => match &hcm.routes {
                RouteSource::Rds(route) => assert!(rds.contains(route)),
                RouteSource::Inline(table) => probe_routes(table, &RouteConfiguration::default()),
            },
            NetworkFilter::Tcp(tcp) => {
                assert!(tcp.clusters.targets().iter().all(|t| !t.name.is_empty()));
                assert!(
                    tcp.idle_timeout.is_none_or(fits_on_the_clock),
                    "idle_timeout {:?} overflows the clock",
                    tcp.idle_timeout
                );
            }
        }
    }
    for input in chain_inputs(listener) {
        check_chain_selection(listener, &input);
    }
}

/// Whether a deadline `timeout` after any moment of the next hundred years can be computed:
/// the data path adds listener and connection timeouts to the clock, which panics on overflow.
fn fits_on_the_clock(timeout: Duration) -> bool {
    const CENTURY: Duration = Duration::from_secs(100 * 366 * 24 * 3600);
    tokio::time::Instant::now()
        .checked_add(CENTURY)
        .and_then(|later| later.checked_add(timeout))
        .is_some()
}

/// Connections the listener may see: to its own address and to each port and server name its
/// chains name, in every protocol.
fn chain_inputs(listener: &ListenerConfig) -> Vec<ChainInput> {
    let mut destinations = vec![
        listener.address,
        SocketAddr::from(([127, 0, 0, 1], 80)),
        SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], 443)),
    ];
    let mut names = vec![None];
    for chain in listener.filter_chains.iter().take(8) {
        let m = &chain.matcher;
        if let Some(port) = m.destination_port {
            destinations.push(SocketAddr::new(listener.address.ip(), port));
        }
        if let Some(range) = m.prefix_ranges.first() {
            destinations.push(SocketAddr::new(
                range.address,
                m.destination_port.unwrap_or(1),
            ));
        }
        if let Some(server) = m.server_names.first() {
            names.push(Some(server.replace('*', "a").to_ascii_lowercase()));
        }
    }
    let mut inputs = Vec::new();
    for destination in destinations {
        for protocol in [Protocol::Http1, Protocol::Http2, Protocol::Opaque] {
            inputs.push(ChainInput::detected(destination, &protocol));
        }
        for sni in &names {
            let tls = Protocol::Tls {
                sni: sni.clone(),
                alpn: vec!["h2".to_owned(), "http/1.1".to_owned()],
            };
            inputs.push(ChainInput::detected(destination, &tls));
        }
    }
    inputs
}

/// The chain picked is one of the listener's, and matches what it says it matches.
fn check_chain_selection(listener: &ListenerConfig, input: &ChainInput) {
    let Some(chain) = select_chain(listener, input) else {
        return;
    };
    let own = listener
        .filter_chains
        .iter()
        .any(|c| std::ptr::eq(c, chain));
    let default = listener
        .default_filter_chain
        .as_ref()
        .is_some_and(|c| std::ptr::eq(c, chain));
    assert!(
        own || default,
        "chain {:?} is not the listener's",
        chain.name
    );
    if own {
        let m = &chain.matcher;
        assert!(
            m.destination_port
                .is_none_or(|p| p == input.destination.port())
        );
        assert!(
            m.transport_protocol
                .as_deref()
                .is_none_or(|t| t == input.transport_protocol)
        );
        assert!(m.server_names.is_empty() || input.server_name.is_some());
    }
}

/// Routes requests for the configuration's domains and paths through `table`: a decision
/// comes from the virtual host an exact domain names, and its route matches the request.
fn probe_routes(table: &RouteTable, raw: &RouteConfiguration) {
    let headers = HeaderMap::new();
    let mut paths: Vec<String> = PATHS.iter().map(|p| (*p).to_owned()).collect();
    let mut authorities: Vec<(String, Option<usize>)> =
        vec![("".to_owned(), None), ("a.b:80".to_owned(), None)];
    for (i, vhost) in raw.virtual_hosts.iter().enumerate().take(8) {
        for domain in vhost.domains.iter().take(4) {
            let exact = !domain.contains('*') && !raw.ignore_port_in_host_matching;
            authorities.push((domain.replace('*', "x"), exact.then_some(i)));
        }
        for route in vhost.routes.iter().take(8) {
            if let Some(m) = &route.r#match
                && let Some(PathSpecifier::Prefix(p) | PathSpecifier::Path(p)) = &m.path_specifier
            {
                paths.push(format!("{p}x?y=z"));
                paths.push(p.clone());
            }
        }
    }
    for (authority, vhost) in &authorities {
        for path in &paths {
            for method in [Method::GET, Method::CONNECT] {
                let meta = RequestMeta::new(&method, authority, path, &headers);
                for random in [0, 1, u64::MAX] {
                    let Some(decision) = table.find(&meta, random) else {
                        continue;
                    };
                    if let Some(i) = vhost {
                        let expected = &table.virtual_hosts()[*i];
                        assert!(std::ptr::eq(decision.vhost, expected), "{authority:?}");
                    }
                    assert!(decision.route.matcher.matches(&meta));
                    let _ = decision.rewritten_path(&meta);
                    let _ = decision.request_header_edits();
                    let _ = decision.response_header_edits();
                    if let Outcome::Forward { cluster, .. } = decision.outcome {
                        assert!(!cluster.name.is_empty());
                    }
                }
            }
        }
    }
}

fn check_cluster(snapshot: &mut Snapshot, cluster: &Cluster) {
    let Some(config) = snapshot.clusters.get(&cluster.name).cloned() else {
        panic!("cluster {:?} accepted but not stored", cluster.name);
    };
    if let Discovery::Eds { service_name } = &config.discovery {
        assert!(eds_service_names(snapshot).contains(service_name));
    }
    if let Some(set) = snapshot.endpoints.get(&cluster.name) {
        pick_from(set);
    }
    // An accepted cluster is accepted again: a state-of-the-world resend changes nothing.
    let again = apply_clusters(
        snapshot,
        slice::from_ref(cluster),
        &[],
        &DnsAnswers::default(),
    );
    assert_eq!(again, Ok(()));
}

/// The assignment, sent for an EDS cluster that asks for it, twice: the second time updates
/// the endpoints the first created.
fn check_assignment(cla: &ClusterLoadAssignment) {
    let eds = Cluster {
        name: cla.cluster_name.clone(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
        ..Cluster::default()
    };
    let mut snapshot = Snapshot::default();
    if apply_clusters(&mut snapshot, &[eds], &[], &DnsAnswers::default()).is_err() {
        // Only an empty name is refused; the assignment compiled alone above.
        assert!(cla.cluster_name.is_empty());
        return;
    }
    for _ in 0..2 {
        assert_eq!(
            apply_endpoints(&mut snapshot, slice::from_ref(cla), &[]),
            Ok(())
        );
        match snapshot.endpoints.get(&cla.cluster_name) {
            Some(set) => pick_from(set),
            None => panic!("assignment {:?} applied to no cluster", cla.cluster_name),
        }
    }
}

/// Picks with every algorithm: a pick is an available endpoint of the set, and there is none
/// only when no endpoint is available.
fn pick_from(set: &EndpointSet) {
    let mut rng = SmallRng::seed_from_u64(1);
    for algorithm in [
        Algorithm::RoundRobin,
        Algorithm::Random,
        Algorithm::LeastRequest,
    ] {
        for _ in 0..4 {
            match set.pick(algorithm, &mut rng) {
                Ok(endpoint) => {
                    assert!(endpoint.is_available());
                    assert!(set.endpoints().iter().any(|e| Arc::ptr_eq(e, endpoint)));
                }
                Err(_) => assert!(set.endpoints().iter().all(|e| !e.is_available())),
            }
        }
    }
}
