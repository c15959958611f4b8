//! The upstream request of one attempt, built from the routed request.

use std::net::SocketAddr;

use http::{HeaderValue, Request, Uri, Version, header::HOST, uri::PathAndQuery};
use tokio::time::Instant;

use super::Outgoing;
use crate::{
    http::{body::ProxyBody, retry::Replay},
    upstream::{PoolProtocol, Selected},
};

/// What every attempt sends.
pub(super) struct Send {
    pub(super) out: Outgoing,
    pub(super) replay: Replay,
    pub(super) protocol: PoolProtocol,
    pub(super) auto_host: bool,
    pub(super) original_dst: Option<SocketAddr>,
    /// The request's hash, from the route's `hash_policy`.
    pub(super) hash: Option<u64>,
    /// `Set-Cookie` values of the cookies the hash policy generated, for the upstream response.
    pub(super) set_cookies: Vec<HeaderValue>,
    /// When the route timeout fires.
    pub(super) deadline: Option<Instant>,
}

impl Send {
    pub(super) fn request(&mut self, selected: &Selected) -> Request<ProxyBody> {
        let endpoint = selected.address.to_string();
        let authority = if self.auto_host {
            endpoint.clone()
        } else {
            self.out.authority.clone()
        };
        let uri = absolute(&authority, &self.out.path_and_query)
            .or_else(|| absolute(&endpoint, &self.out.path_and_query))
            .unwrap_or_default();
        let mut request = Request::new(self.replay.take());
        *request.method_mut() = self.out.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = self.out.headers.clone();
        match self.protocol {
            PoolProtocol::Http1 => {
                *request.version_mut() = Version::HTTP_11;
                if let Ok(host) = HeaderValue::from_str(&authority) {
                    request.headers_mut().insert(HOST, host);
                }
            }
            PoolProtocol::Http2 => {
                // `:authority` carries it.
                *request.version_mut() = Version::HTTP_2;
                request.headers_mut().remove(HOST);
            }
        }
        request
    }
}

fn absolute(authority: &str, path_and_query: &PathAndQuery) -> Option<Uri> {
    Uri::builder()
        .scheme("http")
        .authority(authority)
        .path_and_query(path_and_query.clone())
        .build()
        .ok()
}
