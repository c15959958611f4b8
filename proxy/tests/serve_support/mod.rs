//! What the listener tests share: configuration built by hand, tagged echo upstreams, a proxy
//! started on loopback, and an access-log capture.

#![allow(dead_code)]

use std::{net::SocketAddr, sync::Arc, time::Duration};

use envoy_types::pb::envoy::config::{
    core::v3::{Address, SocketAddress, address, socket_address::PortSpecifier},
    endpoint::v3::{ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint},
};
use mesh_common::path::FieldPath;
use mesh_proxy::{
    access_log::AccessLog,
    balance::{Algorithm, EndpointSet},
    capture::OriginalDst,
    config::{
        CidrRange, ClusterConfig, ConfigStore, Discovery, FilterChain, FilterChainMatch,
        ListenerConfig, NetworkFilter, Snapshot, TcpProxy, UpstreamProtocol,
    },
    http::HttpContext,
    route::Clusters,
    serve::{DataPlane, ServeOptions},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};

/// How long any single step of a test may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// An EDS cluster named `name` whose one endpoint is `endpoint`.
pub fn add_cluster(snapshot: &mut Snapshot, name: &str, endpoint: SocketAddr) {
    let config = ClusterConfig {
        name: name.to_owned(),
        discovery: Discovery::Eds {
            service_name: name.to_owned(),
        },
        algorithm: Algorithm::RoundRobin,
        connect_timeout: Duration::from_secs(1),
        protocol: UpstreamProtocol::Http1,
        service: Default::default(),
        breaker: Default::default(),
        outlier: None,
        panic_threshold: 0,
        connection: Default::default(),
        tls: None,
    };
    let endpoint = LbEndpoint {
        host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
            address: Some(Address {
                address: Some(address::Address::SocketAddress(SocketAddress {
                    address: endpoint.ip().to_string(),
                    port_specifier: Some(PortSpecifier::PortValue(u32::from(endpoint.port()))),
                    ..Default::default()
                })),
            }),
            ..Default::default()
        })),
        ..Default::default()
    };
    let assignment = ClusterLoadAssignment {
        cluster_name: name.to_owned(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints: vec![endpoint],
            ..Default::default()
        }],
        ..Default::default()
    };
    let endpoints = EndpointSet::compile(&assignment).unwrap();
    snapshot.clusters.insert(name.to_owned(), Arc::new(config));
    snapshot
        .endpoints
        .insert(name.to_owned(), Arc::new(endpoints));
}

/// A chain that proxies TCP to `cluster`.
pub fn tcp_chain(cluster: &str, matcher: FilterChainMatch, idle: Option<Duration>) -> FilterChain {
    FilterChain {
        name: format!("tcp-{cluster}"),
        matcher,
        filter: NetworkFilter::Tcp(Arc::new(TcpProxy {
            stat_prefix: cluster.to_owned(),
            clusters: Clusters::single(cluster, &FieldPath::root()).unwrap(),
            idle_timeout: idle,
            access_log: true,
            max_duration: None,
            sni_cluster: false,
        })),
        tls: None,
    }
}

/// `prefix_ranges: [cidr]`.
pub fn prefix(cidr: &str) -> FilterChainMatch {
    let (address, len) = cidr.split_once('/').unwrap();
    FilterChainMatch {
        prefix_ranges: vec![CidrRange {
            address: address.parse().unwrap(),
            prefix_len: len.parse().unwrap(),
        }],
        ..FilterChainMatch::default()
    }
}

/// A listener on `address` with one chain.
pub fn listener(
    name: &str,
    address: &str,
    bind_to_port: bool,
    chain: FilterChain,
) -> ListenerConfig {
    ListenerConfig {
        name: name.to_owned(),
        address: address.parse().unwrap(),
        use_original_dst: false,
        original_dst_filter: false,
        bind_to_port,
        filter_chains: vec![chain],
        default_filter_chain: None,
        inspect_protocols: false,
        detection_timeout: Duration::from_secs(1),
        traffic_direction: Default::default(),
    }
}

/// Istio's `virtualOutbound`: captures, hands off by original destination, and sends what no
/// listener claims to `cluster`.
pub fn virtual_outbound(cluster: &str) -> ListenerConfig {
    ListenerConfig {
        use_original_dst: true,
        original_dst_filter: false,
        ..listener(
            "virtualOutbound",
            "0.0.0.0:15001",
            true,
            tcp_chain(cluster, FilterChainMatch::default(), None),
        )
    }
}

/// A non-binding listener, as Istio's `0.0.0.0_9080`, with TCP chains to named clusters.
pub struct ListenerSpec {
    name: &'static str,
    address: &'static str,
    chains: Vec<(&'static str, FilterChainMatch)>,
}

impl ListenerSpec {
    pub fn single(name: &'static str, address: &'static str, cluster: &'static str) -> Self {
        Self::chains(name, address, vec![(cluster, FilterChainMatch::default())])
    }

    pub fn chains(
        name: &'static str,
        address: &'static str,
        chains: Vec<(&'static str, FilterChainMatch)>,
    ) -> Self {
        Self {
            name,
            address,
            chains,
        }
    }

    pub fn clusters(&self) -> Vec<&'static str> {
        self.chains.iter().map(|(cluster, _)| *cluster).collect()
    }

    pub fn build(self) -> ListenerConfig {
        ListenerConfig {
            filter_chains: self
                .chains
                .into_iter()
                .map(|(cluster, matcher)| tcp_chain(cluster, matcher, None))
                .collect(),
            ..listener(
                self.name,
                self.address,
                false,
                tcp_chain("unused", FilterChainMatch::default(), None),
            )
        }
    }
}

pub fn insert(snapshot: &mut Snapshot, listener: ListenerConfig) {
    snapshot
        .listeners
        .insert(listener.name.clone(), Arc::new(listener));
}

/// Starts the data plane on loopback with every named listener on an ephemeral port.
pub async fn start(
    snapshot: Snapshot,
    original_dst: OriginalDst,
    ephemeral: &[&str],
) -> (Arc<ConfigStore>, DataPlane) {
    let store = Arc::new(ConfigStore::new(snapshot));
    let http = Arc::new(HttpContext::new(Arc::clone(&store)));
    let plane = start_on(&store, http, original_dst, ephemeral).await;
    (store, plane)
}

/// Like [`start`], with the access log lines kept for the test.
pub async fn start_logged(
    snapshot: Snapshot,
    original_dst: OriginalDst,
    ephemeral: &[&str],
) -> (Arc<ConfigStore>, DataPlane, AccessLogs) {
    let store = Arc::new(ConfigStore::new(snapshot));
    let (log, lines) = AccessLog::channel(64);
    let http = Arc::new(HttpContext::with_access_log(Arc::clone(&store), log));
    let plane = start_on(&store, http, original_dst, ephemeral).await;
    (store, plane, AccessLogs(lines))
}

async fn start_on(
    store: &Arc<ConfigStore>,
    http: Arc<HttpContext>,
    original_dst: OriginalDst,
    ephemeral: &[&str],
) -> DataPlane {
    let options = ServeOptions {
        original_dst,
        bind_ip: Some("127.0.0.1".parse().unwrap()),
        port_overrides: ephemeral
            .iter()
            .map(|name| ((*name).to_owned(), 0))
            .collect(),
    };
    let plane = DataPlane::start(Arc::clone(store), http, options);
    tokio::time::timeout(PATIENCE, plane.ready()).await.unwrap();
    plane
}

/// Starts the data plane on loopback with the given port overrides, without waiting for it to
/// be ready.
pub fn start_with_ports(
    snapshot: Snapshot,
    ports: &[(&str, u16)],
) -> (Arc<ConfigStore>, DataPlane) {
    let store = Arc::new(ConfigStore::new(snapshot));
    let http = Arc::new(HttpContext::new(Arc::clone(&store)));
    let options = ServeOptions {
        original_dst: OriginalDst::Socket,
        bind_ip: Some("127.0.0.1".parse().unwrap()),
        port_overrides: ports
            .iter()
            .map(|(name, port)| ((*name).to_owned(), *port))
            .collect(),
    };
    let plane = DataPlane::start(Arc::clone(&store), http, options);
    (store, plane)
}

/// An upstream that answers every connection with `tag`, then echoes until end of stream.
pub async fn tagged_echo(tag: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                stream.write_all(tag.as_bytes()).await?;
                let (mut read, mut write) = stream.split();
                tokio::io::copy(&mut read, &mut write).await?;
                write.shutdown().await
            });
        }
    });
    address
}

/// Sends `request`, closes the write side and returns all the answer. A proxy that closes
/// without reading makes the kernel reset the connection if unread bytes are left, so tests of
/// refused connections send nothing.
pub async fn exchange(address: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    response
}

/// [`exchange`] of a text request, and its answer as text.
pub async fn exchange_text(address: SocketAddr, request: &str) -> String {
    String::from_utf8(exchange(address, request.as_bytes()).await).expect("a text answer")
}

/// Reads exactly `len` bytes, within [`PATIENCE`].
pub async fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    buf
}

/// The access log lines of a data plane started with [`start_logged`].
pub struct AccessLogs(mpsc::Receiver<String>);

impl AccessLogs {
    /// The next line, as JSON, waiting at most [`PATIENCE`].
    pub async fn next(&mut self) -> serde_json::Value {
        let line = tokio::time::timeout(PATIENCE, self.0.recv())
            .await
            .expect("an access log line in time")
            .expect("the access log is open");
        serde_json::from_str(&line).expect("a JSON line")
    }
}
