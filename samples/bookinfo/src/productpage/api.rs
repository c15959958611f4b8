//! productpage's JSON API: the product list, and each product's details, reviews and ratings
//! passed through from the services behind it.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::{PRODUCTS, ProductPage, session, upstream_headers};
use crate::server::{self, Body};

/// Answers `/api/v1/products` and `/api/v1/products/<id>[/reviews|/ratings]`.
pub async fn handle(page: &ProductPage, req: &Request<Incoming>, path: &str) -> Response<Body> {
    let Some(rest) = path.strip_prefix("/api/v1/products") else {
        return server::not_found();
    };
    if rest.is_empty() || rest == "/" {
        return server::json(StatusCode::OK, &PRODUCTS);
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return server::not_found();
    };
    let (id, what) = rest.split_once('/').unwrap_or((rest, ""));
    let id = match server::product_id(id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let user = session::user(req.headers());
    let headers = upstream_headers(req.headers(), user.as_deref());
    let (fetched, what) = match what {
        "" => (page.details(id, &headers).await, "details"),
        "reviews" => (page.reviews(id, &headers).await, "reviews"),
        "ratings" => (page.ratings(id, &headers).await, "ratings"),
        _ => return server::not_found(),
    };
    match fetched {
        Ok(body) => server::json(StatusCode::OK, &body),
        Err(status) => server::json(
            status,
            &json!({
                "error": format!("Sorry, product {what} are currently unavailable for this book.")
            }),
        ),
    }
}
