//! `x-forwarded-for` on connection managers that are not the edge (sidecars) and on those that
//! are (`use_remote_address: true`), as Envoy treats it.

use http::Request;

use super::support::*;
use crate::{config::HttpConnectionManager, config_error::ConfigError, http::body};

async fn seen_forwarded_for(use_remote_address: bool, sent: Option<&str>) -> Option<String> {
    let mut upstream = Upstream::named("ok").await;
    let manager = HttpConnectionManager {
        use_remote_address,
        ..hcm(&to_cluster("a")).as_ref().clone()
    };
    let proxy = Proxy::managed(upstream.addr, manager, false).await;
    let mut request = Request::builder().uri("/").header("host", "shop");
    if let Some(sent) = sent {
        request = request.header("x-forwarded-for", sent);
    }
    let mut client = proxy.h1_client().await;
    let response = within(client.send_request(request.body(body::empty()).unwrap()))
        .await
        .unwrap();
    assert_eq!(text_of(response).await, "ok");
    let seen = upstream.next().await;
    let values: Vec<String> = seen
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(values.len() <= 1, "several x-forwarded-for: {values:?}");
    values.into_iter().next()
}

#[tokio::test]
async fn a_sidecar_passes_x_forwarded_for_untouched() {
    assert_eq!(
        seen_forwarded_for(false, Some("203.0.113.7, 198.51.100.2")).await,
        Some("203.0.113.7, 198.51.100.2".to_owned())
    );
}

#[tokio::test]
async fn a_sidecar_adds_no_x_forwarded_for() {
    assert_eq!(seen_forwarded_for(false, None).await, None);
}

#[tokio::test]
async fn the_edge_appends_the_client_address() {
    assert_eq!(
        seen_forwarded_for(true, Some("203.0.113.7")).await,
        Some("203.0.113.7,127.0.0.1".to_owned())
    );
    assert_eq!(
        seen_forwarded_for(true, None).await,
        Some("127.0.0.1".to_owned())
    );
}

#[test]
fn use_remote_address_compiles_and_trusted_hops_are_refused() {
    assert!(!compiled_hcm("").use_remote_address);
    assert!(!compiled_hcm("use_remote_address: false").use_remote_address);
    assert!(compiled_hcm("use_remote_address: true").use_remote_address);
    let error: ConfigError = compile_hcm("xff_num_trusted_hops: 1").unwrap_err();
    assert_eq!(
        error.to_string(),
        "Listener \"l\": filter_chains[0].filters[0].typed_config.xff_num_trusted_hops: \
         not supported by mesh-proxy"
    );
}
