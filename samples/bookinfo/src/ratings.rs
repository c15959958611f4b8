//! The ratings service: each reviewer's stars for the book.

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use crate::server::{self, Body, Handler};

/// Serves `/ratings/<id>` and `/health`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ratings;

/// The stars each reviewer gave, as Istio's sample has them.
pub const RATINGS: [(&str, u8); 2] = [("Reviewer1", 5), ("Reviewer2", 4)];

// === impl Ratings ===

impl Handler for Ratings {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        if req.method() != Method::GET {
            return server::method_not_allowed();
        }
        let path = req.uri().path();
        if path == "/health" {
            return server::json(StatusCode::OK, &json!({"status": "Ratings is healthy"}));
        }
        match path.strip_prefix("/ratings/") {
            Some(id) => match server::product_id(id) {
                Ok(id) => {
                    let ratings: serde_json::Map<_, _> = RATINGS
                        .iter()
                        .map(|(reviewer, stars)| (reviewer.to_string(), json!(stars)))
                        .collect();
                    server::json(StatusCode::OK, &json!({"id": id, "ratings": ratings}))
                }
                Err(response) => response,
            },
            None => server::not_found(),
        }
    }
}
