//! The productpage service: the web page a person sees, its JSON API, and a sign-in that
//! tells the services behind it who the user is (`end-user`), as Istio's routing tasks need.

mod api;
mod page;
mod session;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Serialize;

pub use self::page::escape_html;
use crate::{
    client::{self, CallError, Client},
    config::{Timeouts, Upstreams},
    server::{self, Body, Handler},
};

/// The largest login form read.
const MAX_FORM: usize = 16 * 1024;

/// The longest user name accepted at sign-in.
pub const MAX_USERNAME: usize = 100;

/// The one book in the store.
pub const PRODUCTS: [Product; 1] = [Product {
    id: 0,
    title: "The Comedy of Errors",
    description_html: "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">Wikipedia \
        Summary</a>: The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It \
        is his shortest and one of his most farcical comedies, with a major part of the humour \
        coming from slapstick and mistaken identity, in addition to puns and word play.",
}];

/// Serves the page, sign-in and sign-out, `/health` and `/api/v1/products…`.
#[derive(Clone, Debug)]
pub struct ProductPage {
    upstreams: Upstreams,
    timeouts: Timeouts,
    client: Client,
}

/// A product of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Product {
    /// Its id, as the other services know it.
    pub id: u64,
    /// Its title.
    pub title: &'static str,
    /// Its summary, as HTML we wrote ourselves.
    #[serde(rename = "descriptionHtml")]
    pub description_html: &'static str,
}

/// An upstream's JSON answer, or the status to report for its failure (the upstream's own
/// status when it answered, 500 when it did not, as Istio's sample does).
type Fetched = Result<serde_json::Value, StatusCode>;

// === impl ProductPage ===

impl ProductPage {
    /// A productpage calling `upstreams` through `client`.
    pub fn new(upstreams: Upstreams, timeouts: Timeouts, client: Client) -> Self {
        Self {
            upstreams,
            timeouts,
            client,
        }
    }

    async fn details(&self, id: u64, headers: &HeaderMap) -> Fetched {
        let path = format!("/details/{id}");
        let fetched = self
            .client
            .get_json(
                &self.upstreams.details,
                &path,
                headers,
                self.timeouts.details,
            )
            .await;
        failure_status("details", fetched)
    }

    /// Two attempts, as Istio's sample makes: its fault-injection task relies on the page
    /// taking two reviews timeouts (6 s) to give up.
    async fn reviews(&self, id: u64, headers: &HeaderMap) -> Fetched {
        let path = format!("/reviews/{id}");
        let mut last = Err(StatusCode::INTERNAL_SERVER_ERROR);
        for _ in 0..2 {
            let fetched = self
                .client
                .get_json(
                    &self.upstreams.reviews,
                    &path,
                    headers,
                    self.timeouts.reviews,
                )
                .await;
            last = failure_status("reviews", fetched);
            if last.is_ok() {
                break;
            }
        }
        last
    }

    async fn ratings(&self, id: u64, headers: &HeaderMap) -> Fetched {
        let path = format!("/ratings/{id}");
        let fetched = self
            .client
            .get_json(
                &self.upstreams.ratings,
                &path,
                headers,
                self.timeouts.ratings,
            )
            .await;
        failure_status("ratings", fetched)
    }

    async fn product_page(&self, req: &Request<Incoming>) -> Response<Body> {
        let user = session::user(req.headers());
        let headers = upstream_headers(req.headers(), user.as_deref());
        let product = &PRODUCTS[0];
        let (details, reviews) = tokio::join!(
            self.details(product.id, &headers),
            self.reviews(product.id, &headers)
        );
        let (details, reviews) = (details.ok(), reviews.ok());
        let view = page::ProductView {
            product,
            user: user.as_deref(),
            details: details.as_ref(),
            reviews: reviews.as_ref(),
        };
        server::html(StatusCode::OK, view.render())
    }

    async fn login(&self, req: Request<Incoming>) -> Response<Body> {
        let body = match Limited::new(req.into_body(), MAX_FORM).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => return bad_form("the form could not be read"),
        };
        match session::form_field(&body, "username") {
            Some(user) if !user.is_empty() && user.chars().count() <= MAX_USERNAME => {
                redirect(session::login_cookie(&user))
            }
            Some(user) if !user.is_empty() => bad_form("the user name is too long"),
            _ => bad_form("please provide a user name"),
        }
    }
}

impl Handler for ProductPage {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path().to_string();
        match (req.method().clone(), path.as_str()) {
            (Method::GET, "/" | "/index.html") => server::html(StatusCode::OK, page::index()),
            (Method::GET, "/productpage") => self.product_page(&req).await,
            (Method::POST, "/login") => self.login(req).await,
            (Method::GET | Method::POST, "/logout") => redirect(session::logout_cookie()),
            (Method::GET, "/health") => server::json(
                StatusCode::OK,
                &serde_json::json!({"status": "Product page is healthy"}),
            ),
            (Method::GET, api) if api.starts_with("/api/v1/products") => {
                api::handle(self, &req, api).await
            }
            _ => server::not_found(),
        }
    }
}

/// The headers for upstream calls: tracing headers, and `end-user` for a signed-in user.
fn upstream_headers(incoming: &HeaderMap, user: Option<&str>) -> HeaderMap {
    // A name that cannot be a header value (control characters) is simply not sent.
    let end_user = user.and_then(|u| HeaderValue::from_str(u).ok());
    client::propagated_headers(incoming, end_user)
}

fn failure_status(upstream: &str, fetched: Result<serde_json::Value, CallError>) -> Fetched {
    fetched.map_err(|error| {
        tracing::warn!(%upstream, %error, "upstream call failed");
        match error {
            CallError::Status(status) => status,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    })
}

fn redirect(cookie: HeaderValue) -> Response<Body> {
    let mut response = server::html(StatusCode::FOUND, String::new());
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static("/productpage"));
    headers.insert(header::SET_COOKIE, cookie);
    response
}

fn bad_form(message: &str) -> Response<Body> {
    server::html(
        StatusCode::BAD_REQUEST,
        format!("<p>{}</p>", escape_html(message)),
    )
}
