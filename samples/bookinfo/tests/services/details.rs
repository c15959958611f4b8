use bookinfo::config::ServiceKind;
use http::StatusCode;

use crate::support::{config, get, start};

#[tokio::test]
async fn details_are_the_same_book_for_every_id() {
    let details = start(config(ServiceKind::Details).await).await;
    let reply = get(details.addr, "/details/7", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(
        reply.body,
        r#"{"id":7,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#
    );
    details.stop().await.unwrap();
}

#[tokio::test]
async fn a_non_numeric_id_is_a_bad_request() {
    let details = start(config(ServiceKind::Details).await).await;
    let reply = get(details.addr, "/details/abc", &[]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        r#"{"error":"please provide numeric product id"}"#
    );
}

#[tokio::test]
async fn health_and_unknown_paths() {
    let details = start(config(ServiceKind::Details).await).await;
    let health = get(details.addr, "/health", &[]).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body, r#"{"status":"Details is healthy"}"#);
    let unknown = get(details.addr, "/details", &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body, r#"{"error":"not found"}"#);
}
