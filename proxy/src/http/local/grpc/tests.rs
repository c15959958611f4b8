use http::header::SERVER;

use super::*;
use crate::http::local::{NO_HEALTHY_UPSTREAM, abort, plain, respond};
use crate::route::{ABORT_BODY, Abort};

const GRPC: ReplyTo = ReplyTo {
    grpc: true,
    head: false,
};

fn content_type(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
    headers
}

async fn body_of(response: Response<ProxyBody>) -> Bytes {
    response.into_body().collect().await.unwrap().to_bytes()
}

#[test]
fn grpc_requests_are_told_by_their_content_type_as_envoy_does() {
    let post = Method::POST;
    for (value, grpc) in [
        ("application/grpc", true),
        ("application/grpc+proto", true),
        ("application/grpc+json", true),
        // Envoy's `hasGrpcContentType` takes nothing else, parameters included.
        ("application/grpc;charset=utf-8", false),
        ("application/grpc-web", false),
        ("application/json", false),
    ] {
        let to = ReplyTo::of(&post, &content_type(value));
        assert_eq!(to, ReplyTo { grpc, head: false }, "{value}");
    }
    assert_eq!(ReplyTo::of(&post, &HeaderMap::new()), ReplyTo::default());
    assert!(ReplyTo::of(&Method::HEAD, &content_type("application/grpc")).head);
}

#[test]
fn http_statuses_map_to_grpc_statuses_as_in_envoy() {
    let table = [
        (400, 13),
        (401, 16),
        (403, 7),
        (404, 12),
        (429, 14),
        (502, 14),
        (503, 14),
        (504, 14),
        (500, 2),
        (408, 2),
        (301, 2),
        (200, 2),
    ];
    for (http, grpc) in table {
        let status = StatusCode::from_u16(http).unwrap();
        assert_eq!(http_to_grpc_status(status), grpc, "{http}");
    }
}

#[test]
fn grpc_messages_are_percent_encoded_as_envoy_does() {
    assert_eq!(percent_encode(b"fault filter abort"), "fault filter abort");
    assert_eq!(
        percent_encode("50% off~\n\u{e9}}".as_bytes()),
        "50%25 off%7E%0A%C3%A9}"
    );
}

#[tokio::test]
async fn a_local_reply_to_grpc_is_trailers_only() {
    let response = finish(
        respond(StatusCode::SERVICE_UNAVAILABLE, NO_HEALTHY_UPSTREAM),
        GRPC,
    );
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers[CONTENT_TYPE], "application/grpc");
    assert_eq!(headers[GRPC_STATUS], "14");
    assert_eq!(headers[GRPC_MESSAGE], "no healthy upstream");
    assert_eq!(headers[SERVER], "mesh-proxy");
    assert_eq!(headers.get(CONTENT_LENGTH), None);
    assert_eq!(headers.len(), 4);
    assert!(response.body().is_end_stream());
    assert_eq!(response.body().size_hint().exact(), None);
    assert_eq!(body_of(response).await, "");
}

#[tokio::test]
async fn a_fault_abort_carries_its_grpc_status_or_the_mapped_one() {
    let grpc = finish(abort(Abort::Grpc(4)), GRPC);
    assert_eq!(grpc.status(), StatusCode::OK);
    assert_eq!(grpc.headers()[GRPC_STATUS], "4");
    assert_eq!(grpc.headers()[GRPC_MESSAGE], ABORT_BODY);
    let http = finish(abort(Abort::Http(StatusCode::FORBIDDEN)), GRPC);
    assert_eq!(http.status(), StatusCode::OK);
    assert_eq!(http.headers()[GRPC_STATUS], "7");
    // A gRPC-status abort answers any other request with a plain 200, as Envoy does.
    let plain_200 = finish(abort(Abort::Grpc(4)), ReplyTo::default());
    assert_eq!(plain_200.status(), StatusCode::OK);
    assert_eq!(plain_200.headers()[CONTENT_TYPE], "text/plain");
    assert_eq!(plain_200.headers()[CONTENT_LENGTH], "18");
    assert_eq!(plain_200.headers().get(GRPC_STATUS), None);
    assert_eq!(body_of(plain_200).await, ABORT_BODY);
}

#[tokio::test]
async fn what_is_not_a_local_reply_passes_unchanged() {
    let response = finish(plain(StatusCode::NO_CONTENT, Bytes::new()), GRPC);
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers().get(GRPC_STATUS), None);
    assert_eq!(response.headers()[CONTENT_LENGTH], "0");
}

#[tokio::test]
async fn head_requests_get_no_message_and_header_edits_keep_their_status() {
    let head = ReplyTo {
        grpc: true,
        head: true,
    };
    let response = finish(respond(StatusCode::NOT_FOUND, "gone"), head);
    assert_eq!(response.headers()[GRPC_STATUS], "12");
    assert_eq!(response.headers().get(GRPC_MESSAGE), None);
    let mut edited = respond(StatusCode::NOT_FOUND, Bytes::new());
    edited
        .headers_mut()
        .insert(GRPC_STATUS, HeaderValue::from_static("5"));
    let response = finish(edited, GRPC);
    assert_eq!(response.headers()[GRPC_STATUS], "5");
    // An empty body sends no `grpc-message`.
    assert_eq!(response.headers().get(GRPC_MESSAGE), None);
}
