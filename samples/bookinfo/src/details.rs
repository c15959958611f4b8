//! The details service: the book's publication details, the same for every product id.

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;
use serde_json::json;

use crate::server::{self, Body, Handler};

/// Serves `/details/<id>` and `/health`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Details;

/// What `/details/<id>` returns, in Istio's field names and order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BookDetails {
    /// The product id asked for.
    pub id: u64,
    /// The author.
    pub author: &'static str,
    /// The year of publication.
    pub year: u16,
    /// The binding.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The page count.
    pub pages: u16,
    /// The publisher.
    pub publisher: &'static str,
    /// The language.
    pub language: &'static str,
    /// The 10-digit ISBN.
    #[serde(rename = "ISBN-10")]
    pub isbn_10: &'static str,
    /// The 13-digit ISBN.
    #[serde(rename = "ISBN-13")]
    pub isbn_13: &'static str,
}

// === impl Details ===

impl Handler for Details {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        if req.method() != Method::GET {
            return server::method_not_allowed();
        }
        let path = req.uri().path();
        if path == "/health" {
            return server::json(StatusCode::OK, &json!({"status": "Details is healthy"}));
        }
        match path.strip_prefix("/details/") {
            Some(id) => match server::product_id(id) {
                Ok(id) => server::json(StatusCode::OK, &BookDetails::of(id)),
                Err(response) => response,
            },
            None => server::not_found(),
        }
    }
}

// === impl BookDetails ===

impl BookDetails {
    /// The details of product `id`: every id is the same book.
    pub fn of(id: u64) -> Self {
        Self {
            id,
            author: "William Shakespeare",
            year: 1595,
            kind: "paperback",
            pages: 200,
            publisher: "PublisherA",
            language: "English",
            isbn_10: "1234567890",
            isbn_13: "123-1234567890",
        }
    }
}
