//! A gateway port of TLS servers (`HTTPS`, `TLS`): one listener that reads the client's SNI,
//! with a chain per server, as Istio builds it. A server that terminates TLS (`SIMPLE`,
//! `MUTUAL`, `OPTIONAL_MUTUAL`) gets one chain for its hosts, with its certificates: an HTTPS
//! server routes by its own route configuration (`https.<port>.<port name>.<gateway>.<ns>`), a
//! TLS server forwards the decrypted stream by its `tcp` route. A `PASSTHROUGH` server gets a
//! chain per `tls` route match (see [`tcp::passthrough_chains`]), and an `AUTO_PASSTHROUGH`
//! server one chain for its hosts that sends each connection to the cluster its SNI names
//! ([`sni_dnat`]).

use std::collections::BTreeSet;

use envoy_types::pb::envoy::{
    config::{
        core::v3::TrafficDirection,
        listener::v3::{FilterChain, FilterChainMatch, Listener},
        route::v3::RouteConfiguration,
    },
    extensions::filters::network::http_connection_manager::v3::http_connection_manager::Tracing,
};
use mesh_common::api::ServerTlsMode;

use super::{Bound, Proxy, http, sni_dnat, tcp, tls};
use crate::model::{Protocol, Snapshot};

/// The listener of a TLS port and what its chains need.
#[derive(Debug)]
pub struct Built {
    pub listener: Listener,
    /// The route configurations of its HTTPS chains.
    pub routes: Vec<RouteConfiguration>,
    /// The clusters its routes and TCP proxies send to.
    pub clusters: BTreeSet<String>,
    /// Whether an `AUTO_PASSTHROUGH` server has a chain: the gateway needs its SNI-DNAT
    /// clusters.
    pub sni_dnat: bool,
}

/// The listener of a port whose servers all speak TLS; `None` when no server gets a chain (a
/// listener with no chain would be refused). A server that cannot be served, or whose SNI
/// names an earlier server of the port has taken (Envoy refuses two chains of one name), is
/// left out with a warning; what a server's TLS leaves aside is warned of too.
pub fn listener(
    snapshot: &Snapshot,
    proxy: &Proxy,
    port: u16,
    servers: &[Bound],
    tracing: Option<&Tracing>,
    warnings: &mut Vec<String>,
) -> Option<Built> {
    let first = servers.first()?;
    let mut chains = Vec::new();
    let mut routes = Vec::new();
    let mut clusters = BTreeSet::new();
    let mut sni_dnat = false;
    // The SNI names chains match so far; `*` for a chain that matches every name.
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for bound in servers {
        // Validation refuses such a Gateway; a server without settings has no mode to follow.
        let Some(settings) = bound.server.tls.as_ref() else {
            warnings.push(format!("{}: no tls settings: set tls.mode", bound.what()));
            continue;
        };
        let mode = settings.mode.unwrap_or(ServerTlsMode::Passthrough);
        if mode == ServerTlsMode::Passthrough {
            let (made, used) = tcp::passthrough_chains(snapshot, proxy, port, bound, &mut taken);
            chains.extend(made);
            clusters.extend(used);
            continue;
        }
        if mode == ServerTlsMode::AutoPassthrough {
            match free_names(bound, port, &taken) {
                Ok((server_names, keys)) => {
                    taken.extend(keys);
                    chains.push(sni_dnat::chain(server_names));
                    sni_dnat = true;
                }
                Err(why) => warnings.push(why),
            }
            continue;
        }
        let https = Protocol::parse(&bound.server.port.protocol) == Some(Protocol::Https);
        let termination = match tls::termination(settings, https) {
            Ok(termination) => termination,
            Err(why) => {
                warnings.push(format!("{}: {why}", bound.what()));
                continue;
            }
        };
        let (server_names, keys) = match free_names(bound, port, &taken) {
            Ok(names) => names,
            Err(why) => {
                warnings.push(why);
                continue;
            }
        };
        let filter = if https {
            let name = http::https_route_config_name(port, bound);
            let config = http::route_configuration(snapshot, proxy, name.clone(), port, &[*bound]);
            clusters.extend(http::clusters(&config));
            routes.push(config);
            http::manager(port, bind(first), &name, tracing)
        } else {
            // A TLS server with no `tcp` route has nowhere to send the stream, as in Istio.
            let Some((filter, used)) = tcp::route_filter(snapshot, proxy, port, bound) else {
                continue;
            };
            clusters.extend(used);
            filter
        };
        warnings.extend(
            termination
                .notes
                .iter()
                .map(|note| format!("{}: {note}", bound.what())),
        );
        taken.extend(keys);
        chains.push(FilterChain {
            filter_chain_match: Some(FilterChainMatch {
                server_names,
                ..FilterChainMatch::default()
            }),
            filters: vec![filter],
            transport_socket: Some(termination.socket),
            ..FilterChain::default()
        });
    }
    if chains.is_empty() {
        return None;
    }
    let listener = Listener {
        traffic_direction: TrafficDirection::Outbound as i32,
        listener_filters: vec![tcp::tls_inspector()],
        filter_chains: chains,
        ..tcp::listener(port, first)
    };
    Some(Built {
        listener,
        routes,
        clusters,
        sni_dnat,
    })
}

/// The SNI names of a server's chain and the names it takes from the port (`*` for every
/// name), or, when an earlier server of the port took one of them, the warning.
fn free_names(
    bound: &Bound,
    port: u16,
    taken: &BTreeSet<String>,
) -> Result<(Vec<String>, Vec<String>), String> {
    let server_names = tls::server_names(&bound.server.hosts);
    let keys = if server_names.is_empty() {
        vec!["*".to_string()]
    } else {
        server_names.clone()
    };
    match keys.iter().find(|k| taken.contains(*k)) {
        Some(name) => Err(format!(
            "{}: host {name} is already served on port {port} by an earlier server",
            bound.what()
        )),
        None => Ok((server_names, keys)),
    }
}

fn bind<'a>(bound: &Bound<'a>) -> &'a str {
    match bound.server.bind.as_str() {
        "" => "0.0.0.0",
        bind => bind,
    }
}
