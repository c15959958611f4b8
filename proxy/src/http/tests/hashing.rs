//! Consistent hashing end to end: a route's `hash_policy` steers a ring-hash cluster.

use std::{collections::BTreeSet, sync::Arc};

use super::support::*;
use crate::{
    balance::{Algorithm, RingHashConfig},
    config::Snapshot,
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
