use bookinfo::config::ServiceKind;
use http::StatusCode;

use crate::support::{RATINGS_JSON, config, get, send, start};

#[tokio::test]
async fn ratings_are_each_reviewers_stars() {
    let ratings = start(config(ServiceKind::Ratings).await).await;
    let reply = get(ratings.addr, "/ratings/0", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.body, RATINGS_JSON);
    let other = get(ratings.addr, "/ratings/12", &[]).await;
    assert_eq!(
        other.body,
        r#"{"id":12,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#
    );
}

#[tokio::test]
async fn a_non_numeric_id_is_a_bad_request() {
    let ratings = start(config(ServiceKind::Ratings).await).await;
    let reply = get(ratings.addr, "/ratings/x1", &[]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        r#"{"error":"please provide numeric product id"}"#
    );
}

#[tokio::test]
async fn health_and_methods() {
    let ratings = start(config(ServiceKind::Ratings).await).await;
    let health = get(ratings.addr, "/health", &[]).await;
    assert_eq!(health.body, r#"{"status":"Ratings is healthy"}"#);
    let post = send(ratings.addr, "POST", "/ratings/0", &[], "{}").await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
}
