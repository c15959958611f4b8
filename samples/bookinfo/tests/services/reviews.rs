use bookinfo::config::{ReviewsVersion, ServiceKind};
use http::StatusCode;
use serde_json::json;

use crate::support::{Answer, RATINGS_JSON, Recorder, Running, config, get, start};

const TEXT1: &str =
    "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!";
const TEXT2: &str = "Absolutely fun and entertaining. The play lacks thematic depth when compared \
                     to other plays by Shakespeare.";

async fn ratings() -> Running {
    start(config(ServiceKind::Ratings).await).await
}

async fn reviews(version: ReviewsVersion, ratings: bookinfo::config::Authority) -> Running {
    let mut config = config(ServiceKind::Reviews).await;
    config.reviews_version = version;
    config.upstreams.ratings = ratings;
    start(config).await
}

#[tokio::test]
async fn v1_has_no_ratings() {
    let reviews = reviews(ReviewsVersion::V1, crate::support::dead_authority().await).await;
    let reply = get(reviews.addr, "/reviews/0", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        format!(
            r#"{{"id":"0","podname":"reviews-test","clustername":"null","reviews":[{{"reviewer":"Reviewer1","text":"{TEXT1}"}},{{"reviewer":"Reviewer2","text":"{TEXT2}"}}]}}"#
        )
    );
}

#[tokio::test]
async fn v2_shows_black_stars_from_ratings() {
    let ratings = ratings().await;
    let reviews = reviews(ReviewsVersion::V2, ratings.authority()).await;
    let reply = get(reviews.addr, "/reviews/0", &[]).await;
    assert_eq!(
        reply.json(),
        json!({"id": "0", "podname": "reviews-test", "clustername": "null", "reviews": [
            {"reviewer": "Reviewer1", "text": TEXT1, "rating": {"stars": 5, "color": "black"}},
            {"reviewer": "Reviewer2", "text": TEXT2, "rating": {"stars": 4, "color": "black"}},
        ]})
    );
}

#[tokio::test]
async fn v3_shows_red_stars_from_ratings() {
    let ratings = ratings().await;
    let reviews = reviews(ReviewsVersion::V3, ratings.authority()).await;
    let reply = get(reviews.addr, "/reviews/0", &[]).await;
    assert_eq!(
        reply.json()["reviews"],
        json!([
            {"reviewer": "Reviewer1", "text": TEXT1, "rating": {"stars": 5, "color": "red"}},
            {"reviewer": "Reviewer2", "text": TEXT2, "rating": {"stars": 4, "color": "red"}},
        ])
    );
}

#[tokio::test]
async fn ratings_down_shows_an_error_per_review() {
    let reviews = reviews(ReviewsVersion::V2, crate::support::dead_authority().await).await;
    let reply = get(reviews.addr, "/reviews/0", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    let error = json!({"error": "Ratings service is currently unavailable"});
    assert_eq!(
        reply.json()["reviews"],
        json!([
            {"reviewer": "Reviewer1", "text": TEXT1, "rating": error},
            {"reviewer": "Reviewer2", "text": TEXT2, "rating": error},
        ])
    );
}

#[tokio::test]
async fn end_user_and_tracing_headers_reach_ratings() {
    let ratings = Recorder::start(Answer::Json(200, RATINGS_JSON.to_string())).await;
    let reviews = reviews(ReviewsVersion::V3, ratings.authority()).await;
    let reply = get(
        reviews.addr,
        "/reviews/0",
        &[
            ("end-user", "jason"),
            ("x-request-id", "req-42"),
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("cookie", "session=jason"),
        ],
    )
    .await;
    assert_eq!(reply.json()["reviews"][0]["rating"]["stars"], 5);
    let requests = ratings.requests().await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, "/ratings/0");
    assert_eq!(
        request.header("host"),
        Some(ratings.addr.to_string().as_str())
    );
    assert_eq!(request.header("end-user"), Some("jason"));
    assert_eq!(request.header("x-request-id"), Some("req-42"));
    assert_eq!(
        request.header("x-b3-traceid"),
        Some("80f198ee56343ba864fe8b2a57d3eff7")
    );
    assert_eq!(request.header("cookie"), None);
}

#[tokio::test]
async fn a_non_numeric_id_and_health() {
    let reviews = reviews(ReviewsVersion::V1, crate::support::dead_authority().await).await;
    let bad = get(reviews.addr, "/reviews/zero", &[]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body, r#"{"error":"please provide numeric product id"}"#);
    let health = get(reviews.addr, "/health", &[]).await;
    assert_eq!(health.body, r#"{"status":"Reviews is healthy"}"#);
}
