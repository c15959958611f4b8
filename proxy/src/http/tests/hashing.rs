//! Consistent hashing end to end: a route's `hash_policy` steers a ring-hash or Maglev
//! cluster, with a header or a cookie the proxy generates.

use std::{collections::BTreeSet, sync::Arc};

use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::support::*;
use crate::{
    balance::{Algorithm, MaglevConfig, RingHashConfig},
    config::Snapshot,
    http::ProxyBody,
    route::{ConnectionAddrs, generated_value},
};

const ROUTES: &str = "
name: r
virtual_hosts:
  - name: v
    domains: ['*']
    routes:
      - match: { prefix: / }
        route: { cluster: a, hash_policy: [ { header: { header_name: x-user } } ] }
";

async fn hashing_proxy() -> (Proxy, Vec<Upstream>) {
    let upstreams = vec![
        Upstream::named("one").await,
        Upstream::named("two").await,
        Upstream::named("three").await,
    ];
    let addrs: Vec<_> = upstreams.iter().map(|u| u.addr).collect();
    let mut snapshot: Snapshot = snapshot(&[("a", &addrs)]);
    let cluster = snapshot.clusters.get_mut("a").unwrap();
    Arc::make_mut(cluster).algorithm = Algorithm::RingHash(RingHashConfig::default());
    (Proxy::h1(snapshot, ROUTES).await, upstreams)
}

async fn body_for(proxy: &Proxy, user: &str) -> String {
    let mut client = proxy.h1_client().await;
    let mut request = get("shop", "/");
    request
        .headers_mut()
        .insert("x-user", user.parse().unwrap());
    text_of(within(client.send_request(request)).await.unwrap()).await
}

#[tokio::test]
async fn the_same_header_reaches_the_same_endpoint() {
    let (proxy, upstreams) = hashing_proxy().await;
    let first = body_for(&proxy, "jason").await;
    for _ in 0..20 {
        assert_eq!(body_for(&proxy, "jason").await, first);
    }
    let hits: usize = upstreams.iter().map(Upstream::hits).sum();
    assert_eq!(hits, 21);
    assert_eq!(upstreams.iter().filter(|u| u.hits() > 0).count(), 1);
    // Other users spread over the endpoints.
    let mut seen = BTreeSet::new();
    for i in 0..30 {
        seen.insert(body_for(&proxy, &format!("user-{i}")).await);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}

const COOKIE_ROUTES: &str = "
name: r
virtual_hosts:
  - name: v
    domains: ['*']
    routes:
      - match: { prefix: / }
        route:
          cluster: a
          hash_policy:
            - cookie:
                name: sticky
                ttl: 3600s
                path: /
                attributes: [ { name: SameSite, value: Lax }, { name: Secure } ]
";

/// The body (the endpoint's name) and the `set-cookie` values of one request on `client`.
async fn cookie_round(
    client: &mut http1::SendRequest<ProxyBody>,
    cookie: Option<&str>,
) -> (String, Vec<String>) {
    let mut request = get("shop", "/");
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    let response = within(client.send_request(request)).await.unwrap();
    let set_cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    (text_of(response).await, set_cookies)
}

/// The first request, without the cookie, gets it generated (Envoy's value and format) and is
/// hashed with it; requests that carry it then reach the same endpoint, with no new cookie.
async fn a_generated_cookie_sticks(algorithm: Algorithm) {
    let upstreams = [
        Upstream::named("one").await,
        Upstream::named("two").await,
        Upstream::named("three").await,
    ];
    let addrs: Vec<_> = upstreams.iter().map(|u| u.addr).collect();
    let mut snapshot: Snapshot = snapshot(&[("a", &addrs)]);
    Arc::make_mut(snapshot.clusters.get_mut("a").unwrap()).algorithm = algorithm;
    let proxy = Proxy::h1(snapshot, COOKIE_ROUTES).await;
    let stream = TcpStream::connect(proxy.addr).await.unwrap();
    let connection = ConnectionAddrs {
        remote: stream.local_addr().unwrap(),
        local: proxy.addr,
    };
    let (mut client, conn) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);

    let (first, set_cookies) = cookie_round(&mut client, None).await;
    let value = generated_value(Some(connection));
    assert_eq!(
        set_cookies,
        [format!(
            "sticky=\"{value}\"; Max-Age=3600; Path=/; SameSite=Lax; Secure; HttpOnly"
        )]
    );
    let cookie = format!("sticky=\"{value}\"");
    for _ in 0..20 {
        assert_eq!(
            cookie_round(&mut client, Some(&cookie)).await,
            (first.clone(), vec![])
        );
    }
    let hits: Vec<usize> = upstreams.iter().map(Upstream::hits).collect();
    assert_eq!(hits.iter().sum::<usize>(), 21);
    assert_eq!(hits.iter().filter(|&&h| h == 21).count(), 1, "{hits:?}");
}

#[tokio::test]
async fn a_generated_cookie_sticks_with_ring_hash() {
    a_generated_cookie_sticks(Algorithm::RingHash(RingHashConfig::default())).await;
}

#[tokio::test]
async fn a_generated_cookie_sticks_with_maglev() {
    a_generated_cookie_sticks(Algorithm::Maglev(MaglevConfig::default())).await;
}
