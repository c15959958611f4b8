//! Sidecars whose inbound sides come out equal share one, and what they are served.

use super::*;

const REVIEWS_V2: &str = "sidecar~198.18.0.22~reviews-v2-7d8f.default~default.svc.cluster.local";
const RATINGS: &str = "sidecar~198.18.0.31~ratings-v1-5b9c.default~default.svc.cluster.local";
const MONGODB: &str = "sidecar~198.18.0.51~mongodb-v1-6c2d.default~default.svc.cluster.local";

#[test]
fn replicas_share_one_inbound_side_and_one_assembly() {
    let (_snapshots, generator) = generator(BOOKINFO);
    let (v1, v2) = (node(REVIEWS_V1), node(REVIEWS_V2));
    let first = generator.translate(&v1).unwrap();
    let second = generator.translate(&v2).unwrap();
    // Two pods of reviews, another address each: one outbound side, one inbound side.
    assert!(first.shares_parts_with(&second));
    for kind in [ResourceType::Cluster, ResourceType::Listener] {
        assert!(ResourceList::ptr_eq(&first.list(kind), &second.list(kind)));
    }
    // Each still gets exactly what translating it alone gives.
    let whole = |node: &Node| {
        let proxy = Proxy::from_node(node).unwrap();
        translate::sidecar(&generator.snapshot(), &proxy)
    };
    assert_eq!(first.resources(), whole(&v1));
    assert_eq!(second.resources(), whole(&v2));
}

#[test]
fn inbound_sides_differ_where_their_inputs_do() {
    let (_snapshots, generator) = generator(BOOKINFO);
    let reviews = generator.translate(&node(REVIEWS_V1)).unwrap();
    let ratings = generator.translate(&node(RATINGS)).unwrap();
    let mongodb = generator.translate(&node(MONGODB)).unwrap();
    let inbound = |t: &Translated| Arc::clone(&t.parts()[1]);
    // Another service on the same port: its own cluster, the same inbound listener.
    assert!(!reviews.shares_part(&ratings, 1));
    assert!(!inbound(&reviews).shares_list(&inbound(&ratings), ResourceType::Cluster));
    assert!(inbound(&reviews).shares_list(&inbound(&ratings), ResourceType::Listener));
    // Another port: its own listener too.
    assert!(!inbound(&reviews).shares_list(&inbound(&mongodb), ResourceType::Listener));
    let inbound_clusters = |t: &Translated| -> Vec<String> {
        (t.list(ResourceType::Cluster).iter())
            .map(|r| r.name().to_string())
            .filter(|n| n.starts_with("inbound|"))
            .collect()
    };
    assert_eq!(inbound_clusters(&reviews), ["inbound|9080||"]);
    assert_eq!(inbound_clusters(&mongodb), ["inbound|27017||"]);
    for (translated, id) in [
        (&reviews, REVIEWS_V1),
        (&ratings, RATINGS),
        (&mongodb, MONGODB),
    ] {
        let proxy = Proxy::from_node(&node(id)).unwrap();
        assert_eq!(
            translated.resources(),
            translate::sidecar(&generator.snapshot(), &proxy)
        );
    }
}
