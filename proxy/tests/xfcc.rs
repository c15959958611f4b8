//! `x-forwarded-client-cert` and `x-forwarded-proto` on TLS connections, served by the real
//! data plane from a bootstrap: each `forward_client_cert_details` mode, with and without a
//! client certificate, hands the upstream exactly the headers a stock Envoy does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod downstream_tls_support;

use std::{path::Path, sync::Arc};

use mesh_proxy::{
    bootstrap::Bootstrap,
    capture::OriginalDst,
    config::ConfigStore,
    http::HttpContext,
    serve::{DataPlane, ServeOptions},
};

use self::downstream_tls_support::{
    PATIENCE, Pki,
    xfcc::{LISTENERS, bootstrap, expected, headers_upstream, outcomes},
};

#[tokio::test]
async fn each_mode_hands_the_upstream_what_envoy_does() {
    let pki = Pki::new();
    let ports = vec![1; LISTENERS.len()];
    let yaml = bootstrap(&pki, &ports, headers_upstream().await);
    let bootstrap = Bootstrap::parse(&yaml, Path::new("xfcc.yaml")).unwrap();
    let store = Arc::new(ConfigStore::new(bootstrap.static_snapshot));
    let http = Arc::new(HttpContext::new(Arc::clone(&store)));
    let options = ServeOptions {
        original_dst: OriginalDst::Socket,
        bind_ip: Some("127.0.0.1".parse().unwrap()),
        port_overrides: LISTENERS
            .iter()
            .map(|(name, _, _)| ((*name).to_owned(), 0))
            .collect(),
    };
    let plane = DataPlane::start(Arc::clone(&store), http, options);
    tokio::time::timeout(PATIENCE, plane.ready()).await.unwrap();
    let bound: Vec<u16> = LISTENERS
        .iter()
        .map(|(name, _, _)| plane.bound()[*name].port())
        .collect();

    pretty_assertions::assert_eq!(
        outcomes(&pki, &bound).await.join("\n"),
        expected(&pki).join("\n")
    );
}
