//! Routing decisions seen from the client and the upstreams.

use http::StatusCode;

use super::support::*;
use crate::http::HttpHandler;

const TWO_CLUSTERS: &str = "
name: r
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - match: { prefix: /, headers: [ { name: x-canary, string_match: { exact: 'yes' } } ] }
    route: { cluster: b }
  - match: { prefix: /b/ }
    route: { cluster: b }
  - match: { prefix: / }
    route: { cluster: a }
";

#[tokio::test]
async fn requests_go_to_the_cluster_their_prefix_or_header_picks() {
    let (a, b) = (Upstream::named("a").await, Upstream::named("b").await);
    let snapshot = snapshot(&[("a", &[a.addr]), ("b", &[b.addr])]);
    let mut proxy = Proxy::h1(snapshot, TWO_CLUSTERS).await;

    assert_eq!(text_of(proxy.get("shop", "/x").await).await, "a");
    assert_eq!(text_of(proxy.get("shop", "/b/x").await).await, "b");
    let mut client = proxy.h1_client().await;
    let mut canary = get("shop", "/x");
    canary
        .headers_mut()
        .insert("x-canary", "yes".parse().unwrap());
    let response = within(client.send_request(canary)).await.unwrap();
    assert_eq!(text_of(response).await, "b");

    let log = proxy.log().await;
    assert_eq!(log["upstream_cluster"], "a");
    assert_eq!(log["upstream_host"], a.addr.to_string());
    assert_eq!(log["response_code"], 200);
    assert_eq!(log["response_flags"], "-");
    assert_eq!(log["method"], "GET");
    assert_eq!(log["path"], "/x");
    assert_eq!(log["protocol"], "HTTP/1.1");
    assert_eq!(log["authority"], "shop");
    assert_eq!(log["bytes_sent"], 1);
    assert_eq!(proxy.log().await["upstream_cluster"], "b");
    assert_eq!(proxy.log().await["upstream_cluster"], "b");
}

#[tokio::test]
async fn a_weighted_split_follows_the_weights() {
    let (a, b) = (Upstream::named("a").await, Upstream::named("b").await);
    let snapshot = snapshot(&[("a", &[a.addr]), ("b", &[b.addr])]);
    let routes = "
name: r
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - match: { prefix: / }
    route: { weighted_clusters: { clusters: [ { name: a, weight: 25 }, { name: b, weight: 75 } ] } }
";
    let proxy = Proxy::h1(snapshot, routes).await;
    let mut client = proxy.h1_client().await;
    let mut to_a = 0;
    for _ in 0..400 {
        let response = within(client.send_request(get("shop", "/"))).await.unwrap();
        if text_of(response).await == "a" {
            to_a += 1;
        }
    }
    // Binomial(400, 0.25): mean 100, standard deviation 8.7; these bounds are 4.6 deviations.
    assert!((60..=140).contains(&to_a), "{to_a} of 400 went to a");
    assert_eq!(a.hits() + b.hits(), 400);
    // One pooled client per endpoint, each reusing its one connection.
    assert_eq!(proxy.ctx.pools.len(), 2);
    assert_eq!((a.connections(), b.connections()), (1, 1));
    assert_eq!(proxy.ctx.access_log().dropped(), 0);
}

#[tokio::test]
async fn rewrites_and_header_edits_reach_the_upstream_and_the_client() {
    let mut upstream = Upstream::named("ok").await;
    let snapshot = snapshot(&[("a", &[upstream.addr])]);
    let routes = "
name: r
request_headers_to_add: [ { header: { key: x-level, value: config } } ]
virtual_hosts:
- name: v
  domains: ['*']
  request_headers_to_add: [ { header: { key: x-vhost, value: 'on' } } ]
  routes:
  - match: { prefix: /api/ }
    route:
      cluster: a
      prefix_rewrite: /v2/
      host_rewrite_literal: backend.internal
      append_x_forwarded_host: true
    request_headers_to_add:
    - { header: { key: x-level, value: route }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }
    request_headers_to_remove: [ x-secret ]
    response_headers_to_add: [ { header: { key: x-served-by, value: mesh } } ]
";
    let proxy = Proxy::h1(snapshot, routes).await;
    let mut client = proxy.h1_client().await;
    let mut request = get("shop:8080", "/api/users?id=1");
    let headers = request.headers_mut();
    headers.insert("x-secret", "s3cr3t".parse().unwrap());
    headers.insert("connection", "keep-alive, x-hop".parse().unwrap());
    headers.insert("x-hop", "1".parse().unwrap());
    headers.insert("keep-alive", "timeout=5".parse().unwrap());
    let response = within(client.send_request(request)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-served-by"], "mesh");

    let seen = upstream.next().await;
    assert_eq!(seen.uri.to_string(), "/v2/users?id=1");
    assert_eq!(seen.headers["host"], "backend.internal");
    assert_eq!(seen.headers["x-forwarded-host"], "shop:8080");
    assert_eq!(seen.headers.get("x-secret"), None);
    for hop_by_hop in ["x-hop", "keep-alive"] {
        assert_eq!(seen.headers.get(hop_by_hop), None, "{hop_by_hop}");
    }
    assert_eq!(seen.headers["x-vhost"], "on");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    // The route sets the header first; the configuration-level edit then appends to it.
    let levels: Vec<_> = seen.headers.get_all("x-level").iter().collect();
    assert_eq!(levels, ["route", "config"]);
}

#[tokio::test]
async fn redirects_and_direct_responses_are_answered_by_the_proxy() {
    let routes = "
name: r
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - match: { prefix: /old/ }
    redirect: { https_redirect: true, prefix_rewrite: /new/ }
  - match: { path: /ping }
    direct_response: { status: 200, body: { inline_string: pong } }
    response_headers_to_add: [ { header: { key: x-direct, value: 'yes' } } ]
";
    let mut proxy = Proxy::h1(snapshot(&[]), routes).await;

    let response = proxy.get("shop:80", "/old/page?x=1").await;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(response.headers()["location"], "https://shop/new/page?x=1");
    assert_eq!(response.headers()["server"], "mesh-proxy");

    let response = proxy.get("shop", "/ping").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.headers()["x-direct"], "yes");
    assert_eq!(text_of(response).await, "pong");

    assert_eq!(proxy.log().await["response_code"], 301);
    let direct = proxy.log().await;
    assert_eq!(direct["response_code"], 200);
    assert_eq!(direct["bytes_sent"], 4);
    assert_eq!(direct["upstream_cluster"], serde_json::Value::Null);
}

#[tokio::test]
async fn request_ids_are_generated_when_absent_and_kept_when_given() {
    let mut upstream = Upstream::named("ok").await;
    let mut proxy = Proxy::h1(snapshot(&[("a", &[upstream.addr])]), &to_cluster("a")).await;

    text_of(proxy.get("shop", "/").await).await;
    let generated = upstream.next().await.headers["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let groups: Vec<usize> = generated.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12]);
    assert_eq!(proxy.log().await["x_request_id"], generated.as_str());

    let mut client = proxy.h1_client().await;
    let mut request = get("shop", "/");
    request
        .headers_mut()
        .insert("x-request-id", "given-id".parse().unwrap());
    request
        .headers_mut()
        .insert("traceparent", "00-abc-def-01".parse().unwrap());
    text_of(within(client.send_request(request)).await.unwrap()).await;
    assert_eq!(upstream.next().await.headers["x-request-id"], "given-id");
    let log = proxy.log().await;
    assert_eq!(log["x_request_id"], "given-id");
    assert_eq!(log["traceparent"], "00-abc-def-01");
}

#[tokio::test]
async fn requests_without_a_route_get_404_nr() {
    let routes = "
name: r
virtual_hosts:
- name: v
  domains: [ shop ]
  routes: [ { match: { prefix: /only/ }, route: { cluster: a } } ]
";
    let mut proxy = Proxy::h1(snapshot(&[]), routes).await;
    for (host, path) in [("shop", "/other"), ("elsewhere", "/only/x")] {
        let response = proxy.get(host, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(text_of(response).await, "");
        let log = proxy.log().await;
        assert_eq!(log["response_code"], 404);
        assert_eq!(log["response_flags"], "NR");
    }
}

#[tokio::test]
async fn an_rds_table_that_has_not_arrived_is_no_route() {
    let hcm = crate::config::HttpConnectionManager {
        stat_prefix: "test".to_owned(),
        codec: Default::default(),
        routes: crate::config::RouteSource::Rds("missing".to_owned()),
        access_log: true,
        generate_request_id: true,
        use_remote_address: false,
        stream_idle_timeout: None,
        fault: None,
        cors: false,
        tracing: None,
        http2_max_concurrent_streams: None,
        client_cert: Default::default(),
    };
    let handler = HttpHandler::Chain(std::sync::Arc::new(hcm));
    let mut proxy = Proxy::start(snapshot(&[]), handler, false).await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(proxy.log().await["response_flags"], "NR");
}
