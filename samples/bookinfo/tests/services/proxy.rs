//! Explicit-proxy mode: with `http_proxy` set, upstream requests go to the proxy with the
//! upstream named in the request line.

use std::collections::HashMap;

use bookinfo::config::{Authority, ReviewsVersion, ServiceKind};

use crate::support::{Answer, RATINGS_JSON, Recorder, config, get, start};

fn named(name: &str) -> Authority {
    Authority::parse("test", name, 9080).unwrap()
}

#[tokio::test]
async fn productpage_sends_absolute_form_requests_to_the_proxy() {
    let details = r#"{"id":0,"type":"hardcover","pages":300}"#;
    let reviews = r#"{"id":"0","reviews":[{"reviewer":"Reviewer9","text":"Proxied.","rating":{"stars":2,"color":"red"}}]}"#;
    let proxy = Recorder::routing(
        HashMap::from([
            (
                "http://details:9080/details/0".to_string(),
                Answer::Json(200, details.to_string()),
            ),
            (
                "http://reviews:9080/reviews/0".to_string(),
                Answer::Json(200, reviews.to_string()),
            ),
        ]),
        Answer::Json(404, "{}".to_string()),
    )
    .await;
    let mut config = config(ServiceKind::Productpage).await;
    config.upstreams.details = named("details");
    config.upstreams.reviews = named("reviews");
    config.http_proxy = Some(proxy.authority());
    let page = start(config).await;
    let html = get(page.addr, "/productpage", &[]).await.body;
    assert!(html.contains("<dt>Type:</dt><dd>hardcover</dd>"), "{html}");
    assert!(html.contains("<p>Proxied.</p>"), "{html}");
    let mut requests = proxy.requests().await;
    requests.sort_by(|a, b| a.target.cmp(&b.target));
    let seen: Vec<_> = requests
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.target.as_str(),
                r.header("host").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("GET", "http://details:9080/details/0", "details:9080"),
            ("GET", "http://reviews:9080/reviews/0", "reviews:9080"),
        ]
    );
}

#[tokio::test]
async fn reviews_reaches_ratings_through_the_proxy() {
    let proxy = Recorder::routing(
        HashMap::from([(
            "http://ratings.bookinfo:9080/ratings/0".to_string(),
            Answer::Json(200, RATINGS_JSON.to_string()),
        )]),
        Answer::Json(404, "{}".to_string()),
    )
    .await;
    let mut config = config(ServiceKind::Reviews).await;
    config.reviews_version = ReviewsVersion::V3;
    config.upstreams.ratings = named("ratings.bookinfo");
    config.http_proxy = Some(proxy.authority());
    let reviews = start(config).await;
    let reply = get(reviews.addr, "/reviews/0", &[]).await;
    assert_eq!(
        reply.json()["reviews"][0]["rating"],
        serde_json::json!({"stars": 5, "color": "red"})
    );
    let requests = proxy.requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].target, "http://ratings.bookinfo:9080/ratings/0");
    assert_eq!(requests[0].header("host"), Some("ratings.bookinfo:9080"));
}
