//! Istio's bookinfo sample application, in Rust: productpage, details, reviews (v1, v2, v3)
//! and ratings in one binary, for mesh.rs's demo and end-to-end tests.
//!
//! It behaves as Istio's sample does where users and tests look (paths, JSON, page texts,
//! propagated headers, timeouts), so Istio's routing and fault-injection tasks work unchanged.

pub mod client;
pub mod config;
pub mod details;
pub mod productpage;
pub mod ratings;
pub mod reviews;
pub mod server;

use std::{future::Future, io};

use crate::{
    client::Client,
    config::{Config, ServiceKind},
    details::Details,
    productpage::ProductPage,
    ratings::Ratings,
    reviews::Reviews,
    server::Server,
};

/// Binds `config.listen` and serves `config.service` until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let server = Server::bind(config.listen).await?;
    tracing::info!(
        service = ?config.service,
        version = ?config.reviews_version,
        addr = %server.local_addr()?,
        "listening"
    );
    serve(server, config, shutdown).await
}

/// Serves `config.service` on an already bound `server` (tests bind port 0 first).
pub async fn serve(
    server: Server,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let client = Client::new(config.http_proxy.clone());
    match config.service {
        ServiceKind::Productpage => {
            let page = ProductPage::new(config.upstreams, config.timeouts, client);
            server.serve(page, shutdown).await
        }
        ServiceKind::Details => server.serve(Details, shutdown).await,
        ServiceKind::Reviews => {
            let reviews = Reviews::new(
                config.reviews_version,
                config.upstreams.ratings,
                client,
                config.podname,
            );
            server.serve(reviews, shutdown).await
        }
        ServiceKind::Ratings => server.serve(Ratings, shutdown).await,
    }
}
