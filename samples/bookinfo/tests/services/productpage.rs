use std::time::Duration;

use bookinfo::config::{Authority, ReviewsVersion, ServiceKind};
use http::StatusCode;
use serde_json::json;

use crate::support::{
    Answer, RATINGS_JSON, Recorder, Running, config, dead_authority, get, send, start,
};

const DETAILS_SORRY: &str = "Sorry, product details are currently unavailable for this book.";
const REVIEWS_SORRY: &str = "Sorry, product reviews are currently unavailable for this book.";
const FILLED: &str = "<span class=\"glyphicon glyphicon-star\">";
const EMPTY: &str = "<span class=\"glyphicon glyphicon-star-empty\">";

/// A productpage in front of the given details and reviews.
async fn productpage(details: Authority, reviews: Authority) -> Running {
    let mut config = config(ServiceKind::Productpage).await;
    config.upstreams.details = details;
    config.upstreams.reviews = reviews;
    start(config).await
}

/// reviews of `version` in front of `ratings`.
async fn reviews(version: ReviewsVersion, ratings: Authority) -> Running {
    let mut config = config(ServiceKind::Reviews).await;
    config.reviews_version = version;
    config.upstreams.ratings = ratings;
    start(config).await
}

/// The whole application: productpage, details, reviews of `version`, ratings.
async fn bookinfo(version: ReviewsVersion) -> (Running, Vec<Running>) {
    let details = start(config(ServiceKind::Details).await).await;
    let ratings = start(config(ServiceKind::Ratings).await).await;
    let reviews = reviews(version, ratings.authority()).await;
    let page = productpage(details.authority(), reviews.authority()).await;
    (page, vec![details, reviews, ratings])
}

async fn login(page: &Running, form: &str) -> String {
    let reply = send(
        page.addr,
        "POST",
        "/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        form,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.header("location"), "/productpage");
    let cookie = reply.header("set-cookie");
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn the_page_shows_the_book_details_and_reviews_without_stars_in_v1() {
    let (page, _rest) = bookinfo(ReviewsVersion::V1).await;
    let reply = get(page.addr, "/productpage", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
    let html = reply.body;
    for text in [
        "<title>Simple Bookstore App</title>",
        "<h3 class=\"text-center text-primary\">The Comedy of Errors</h3>",
        "The Comedy of Errors is one of <b>William Shakespeare's</b> early plays.",
        "<dt>Type:</dt><dd>paperback</dd>",
        "<dt>Pages:</dt><dd>200</dd>",
        "<dt>Publisher:</dt><dd>PublisherA</dd>",
        "<dt>ISBN-13:</dt><dd>123-1234567890</dd>",
        "<small>Reviewer1</small>",
        "<p>An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!</p>",
        "<small>Reviewer2</small>",
        "<u>reviews-test</u>",
        "Sign in</button>",
    ] {
        assert!(html.contains(text), "missing {text:?} in {html}");
    }
    assert_eq!(html.matches("glyphicon").count(), 0, "{html}");
}

#[tokio::test]
async fn v2_renders_black_stars_and_v3_red_stars() {
    for (version, color) in [(ReviewsVersion::V2, "black"), (ReviewsVersion::V3, "red")] {
        let (page, _rest) = bookinfo(version).await;
        let html = get(page.addr, "/productpage", &[]).await.body;
        assert_eq!(html.matches(FILLED).count(), 9, "{html}");
        assert_eq!(html.matches(EMPTY).count(), 1, "{html}");
        assert_eq!(
            html.matches(&format!("<font color=\"{color}\">")).count(),
            2,
            "{html}"
        );
    }
}

#[tokio::test]
async fn health_index_and_the_product_list() {
    let page = productpage(dead_authority().await, dead_authority().await).await;
    let health = get(page.addr, "/health", &[]).await;
    assert_eq!(health.body, r#"{"status":"Product page is healthy"}"#);
    let index = get(page.addr, "/", &[]).await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(
        index.body.contains("<a href=\"/productpage\">"),
        "{}",
        index.body
    );
    let products = get(page.addr, "/api/v1/products", &[]).await;
    assert_eq!(
        products.json(),
        json!([{
            "id": 0,
            "title": "The Comedy of Errors",
            "descriptionHtml": "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">\
                Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare's</b> \
                early plays. It is his shortest and one of his most farcical comedies, with a \
                major part of the humour coming from slapstick and mistaken identity, in \
                addition to puns and word play."
        }])
    );
}

#[tokio::test]
async fn the_api_passes_details_reviews_and_ratings_through() {
    let (page, _rest) = bookinfo(ReviewsVersion::V2).await;
    let details = get(page.addr, "/api/v1/products/3", &[]).await;
    assert_eq!(details.status, StatusCode::OK);
    assert_eq!(details.json()["id"], 3);
    assert_eq!(details.json()["ISBN-10"], "1234567890");
    let reviews = get(page.addr, "/api/v1/products/3/reviews", &[]).await;
    assert_eq!(reviews.json()["id"], "3");
    assert_eq!(
        reviews.json()["reviews"][1]["rating"],
        json!({"stars": 4, "color": "black"})
    );
    let bad = get(page.addr, "/api/v1/products/x", &[]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_api_reports_upstream_failures() {
    let details = Recorder::start(Answer::Json(503, "{}".to_string())).await;
    let mut config = config(ServiceKind::Productpage).await;
    config.upstreams.details = details.authority();
    let page = start(config).await;
    let reply = get(page.addr, "/api/v1/products/0", &[]).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json(), json!({"error": DETAILS_SORRY}));
    let ratings = get(page.addr, "/api/v1/products/0/ratings", &[]).await;
    assert_eq!(ratings.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        ratings.json(),
        json!({"error": "Sorry, product ratings are currently unavailable for this book."})
    );
}

#[tokio::test]
async fn login_shows_the_user_and_sends_end_user_upstream() {
    let reviews = Recorder::start(Answer::Json(
        200,
        r#"{"id":"0","podname":"r","clustername":"null","reviews":[]}"#.to_string(),
    ))
    .await;
    let details = start(config(ServiceKind::Details).await).await;
    let page = productpage(details.authority(), reviews.authority()).await;
    let cookie = login(&page, "username=jason&passwd=secret").await;
    assert_eq!(cookie, "session=jason");
    let reply = get(page.addr, "/productpage", &[("cookie", &cookie)]).await;
    assert!(
        reply
            .body
            .contains("jason ( <a href=\"/logout\">sign out</a> )"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("Sign in"), "{}", reply.body);
    let requests = reviews.requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].target, "/reviews/0");
    assert_eq!(requests[0].header("end-user"), Some("jason"));
    assert_eq!(requests[0].header("cookie"), None);
}

#[tokio::test]
async fn a_claimed_end_user_header_is_not_trusted() {
    let reviews = Recorder::start(Answer::Json(200, "{}".to_string())).await;
    let page = productpage(dead_authority().await, reviews.authority()).await;
    get(page.addr, "/productpage", &[("end-user", "jason")]).await;
    let requests = reviews.requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("end-user"), None);
}

#[tokio::test]
async fn end_user_and_tracing_headers_travel_end_to_end() {
    let ratings = Recorder::start(Answer::Json(200, RATINGS_JSON.to_string())).await;
    let reviews = reviews(ReviewsVersion::V2, ratings.authority()).await;
    let page = productpage(dead_authority().await, reviews.authority()).await;
    let cookie = login(&page, "username=jason&passwd=").await;
    let tracing = [
        ("x-request-id", "d5c7c7a0-1"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("tracestate", "congo=t61rcWkgMzE"),
        ("x-b3-traceid", "0af7651916cd43dd8448eb211c80319c"),
        ("x-b3-spanid", "b7ad6b7169203331"),
        ("x-b3-parentspanid", "a2fb4a1d1a96d312"),
        ("x-b3-sampled", "1"),
        ("x-b3-flags", "0"),
        ("b3", "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1"),
        ("x-ot-span-context", "ctx"),
    ];
    let mut headers = tracing.to_vec();
    headers.push(("cookie", &cookie));
    let reply = get(page.addr, "/productpage", &headers).await;
    assert_eq!(reply.body.matches(FILLED).count(), 9, "{}", reply.body);
    let requests = ratings.requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("end-user"), Some("jason"));
    for (name, value) in tracing {
        assert_eq!(requests[0].header(name), Some(value), "{name}");
    }
}

#[tokio::test]
async fn logout_clears_the_session() {
    let page = productpage(dead_authority().await, dead_authority().await).await;
    let reply = get(page.addr, "/logout", &[("cookie", "session=jason")]).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.header("location"), "/productpage");
    assert_eq!(
        reply.header("set-cookie"),
        "session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
    );
}

#[tokio::test]
async fn a_script_in_the_user_name_is_escaped() {
    let page = productpage(dead_authority().await, dead_authority().await).await;
    let cookie = login(
        &page,
        "username=%3Cscript%3Ealert(1)%3C%2Fscript%3E&passwd=x",
    )
    .await;
    let html = get(page.addr, "/productpage", &[("cookie", &cookie)])
        .await
        .body;
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; ( <a href=\"/logout\">"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
}

#[tokio::test]
async fn login_without_a_user_name_is_refused() {
    let page = productpage(dead_authority().await, dead_authority().await).await;
    let reply = send(page.addr, "POST", "/login", &[], "passwd=x").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body, "<p>please provide a user name</p>");
    assert!(reply.headers.get("set-cookie").is_none());
    let long = format!("username={}", "a".repeat(101));
    let reply = send(page.addr, "POST", "/login", &[], &long).await;
    assert_eq!(reply.body, "<p>the user name is too long</p>");
}

#[tokio::test]
async fn details_down_still_renders_the_page() {
    let (_, rest) = bookinfo(ReviewsVersion::V1).await;
    let page = productpage(dead_authority().await, rest[1].authority()).await;
    let reply = get(page.addr, "/productpage", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.body.contains("Error fetching product details!"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains(DETAILS_SORRY), "{}", reply.body);
    assert!(
        reply.body.contains("<small>Reviewer1</small>"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn reviews_that_never_answer_are_tried_twice_then_reported() {
    let reviews = Recorder::start(Answer::Never).await;
    let details = start(config(ServiceKind::Details).await).await;
    let mut config = config(ServiceKind::Productpage).await;
    config.upstreams.details = details.authority();
    config.upstreams.reviews = reviews.authority();
    config.timeouts.reviews = Duration::from_millis(200);
    let page = start(config).await;
    let reply = get(page.addr, "/productpage", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.body.contains("Error fetching product reviews!"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains(REVIEWS_SORRY), "{}", reply.body);
    assert!(
        reply.body.contains("<dt>Type:</dt><dd>paperback</dd>"),
        "{}",
        reply.body
    );
    assert_eq!(reviews.requests().await.len(), 2);
}

#[tokio::test]
async fn a_failed_reviews_call_is_retried_once() {
    let reviews = Recorder::start(Answer::Json(500, "{}".to_string())).await;
    let page = productpage(dead_authority().await, reviews.authority()).await;
    let reply = get(page.addr, "/productpage", &[]).await;
    assert!(reply.body.contains(REVIEWS_SORRY), "{}", reply.body);
    let requests = reviews.requests().await;
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.target == "/reviews/0"));
}

#[tokio::test]
async fn ratings_down_is_shown_on_the_page() {
    let reviews = reviews(ReviewsVersion::V3, dead_authority().await).await;
    let page = productpage(dead_authority().await, reviews.authority()).await;
    let html = get(page.addr, "/productpage", &[]).await.body;
    assert_eq!(
        html.matches("<p><i>Ratings service is currently unavailable</i></p>")
            .count(),
        2,
        "{html}"
    );
    assert_eq!(html.matches("glyphicon").count(), 0, "{html}");
}
