//! The reviews service: two reviews of the book, with ratings from the ratings service in v2
//! (black stars) and v3 (red stars).

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;
use serde_json::json;

use crate::{
    client::{self, Client},
    config::{Authority, ReviewsVersion},
    server::{self, Body, Handler},
};

/// The reviews, as Istio's sample has them.
pub const REVIEWS: [(&str, &str); 2] = [
    (
        "Reviewer1",
        "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
    ),
    (
        "Reviewer2",
        "Absolutely fun and entertaining. The play lacks thematic depth when compared to other \
         plays by Shakespeare.",
    ),
];

/// What a review shows when ratings could not be had.
pub const RATINGS_UNAVAILABLE: &str = "Ratings service is currently unavailable";

/// Serves `/reviews/<id>` and `/health`.
#[derive(Clone, Debug)]
pub struct Reviews {
    version: ReviewsVersion,
    ratings: Authority,
    client: Client,
    podname: String,
}

/// What `/reviews/<id>` returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewsResponse {
    /// The product id, as a string (as Istio's Java service writes it).
    pub id: String,
    /// The pod that answered, so a page shows which version served it.
    pub podname: String,
    /// Always `"null"`, as Istio's sample prints it outside a multicluster setup.
    pub clustername: &'static str,
    /// The reviews.
    pub reviews: Vec<Review>,
}

/// One review.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Review {
    /// Who wrote it.
    pub reviewer: &'static str,
    /// What they wrote.
    pub text: &'static str,
    /// Their rating, in v2 and v3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
}

/// A rating, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Rating {
    /// Stars in a colour.
    Stars {
        /// From 1 to 5.
        stars: u64,
        /// `black` (v2) or `red` (v3).
        color: &'static str,
    },
    /// The ratings service did not answer usefully.
    Error {
        /// [`RATINGS_UNAVAILABLE`].
        error: &'static str,
    },
}

// === impl Reviews ===

impl Reviews {
    /// A reviews service of `version`, fetching ratings from `ratings` through `client`.
    pub fn new(
        version: ReviewsVersion,
        ratings: Authority,
        client: Client,
        podname: String,
    ) -> Self {
        Self {
            version,
            ratings,
            client,
            podname,
        }
    }

    async fn reviews(&self, id: u64, incoming: &http::HeaderMap) -> ReviewsResponse {
        let ratings = match (self.version.star_color(), self.version.ratings_timeout()) {
            (Some(color), Some(timeout)) => {
                // productpage decided who the user is; pass it on so ratings can be routed too.
                let end_user = incoming.get(client::END_USER).cloned();
                let headers = client::propagated_headers(incoming, end_user);
                let path = format!("/ratings/{id}");
                let fetched = self
                    .client
                    .get_json(&self.ratings, &path, &headers, timeout)
                    .await;
                if let Err(error) = &fetched {
                    tracing::warn!(%error, "ratings unavailable");
                }
                Some((color, fetched.ok()))
            }
            _ => None,
        };
        let reviews = REVIEWS
            .iter()
            .map(|&(reviewer, text)| Review {
                reviewer,
                text,
                rating: ratings
                    .as_ref()
                    .map(|(color, fetched)| rating(fetched.as_ref(), reviewer, color)),
            })
            .collect();
        ReviewsResponse {
            id: id.to_string(),
            podname: self.podname.clone(),
            clustername: "null",
            reviews,
        }
    }
}

impl Handler for Reviews {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        if req.method() != Method::GET {
            return server::method_not_allowed();
        }
        let path = req.uri().path();
        if path == "/health" {
            return server::json(StatusCode::OK, &json!({"status": "Reviews is healthy"}));
        }
        match path.strip_prefix("/reviews/") {
            Some(id) => match server::product_id(id) {
                Ok(id) => server::json(StatusCode::OK, &self.reviews(id, req.headers()).await),
                Err(response) => response,
            },
            None => server::not_found(),
        }
    }
}

/// The reviewer's rating from a ratings answer (`{"ratings": {"Reviewer1": 5, …}}`); a missing
/// answer or reviewer is shown as unavailable, as Istio's sample does.
fn rating(fetched: Option<&serde_json::Value>, reviewer: &str, color: &'static str) -> Rating {
    match fetched.and_then(|body| body["ratings"][reviewer].as_u64()) {
        Some(stars) => Rating::Stars { stars, color },
        None => Rating::Error {
            error: RATINGS_UNAVAILABLE,
        },
    }
}
