//! What routing looks at in a request, borrowed so that a lookup allocates nothing.

use http::{HeaderMap, Method};

/// The parts of a request that routing decisions depend on.
#[derive(Clone, Copy, Debug)]
pub struct RequestMeta<'a> {
    /// The request method.
    pub method: &'a Method,
    /// `:authority` (HTTP/2) or `Host` (HTTP/1), port included if the client sent one.
    pub authority: &'a str,
    /// The request target's path and query, e.g. `/reviews/1?x=y`.
    pub path_and_query: &'a str,
    /// Every request header.
    pub headers: &'a HeaderMap,
}

// === impl RequestMeta ===

impl<'a> RequestMeta<'a> {
    /// A request with the given method, authority, path and headers.
    pub fn new(
        method: &'a Method,
        authority: &'a str,
        path_and_query: &'a str,
        headers: &'a HeaderMap,
    ) -> Self {
        Self {
            method,
            authority,
            path_and_query,
            headers,
        }
    }

    /// The path without its query string or fragment.
    pub fn path(&self) -> &'a str {
        let end = self
            .path_and_query
            .find(['?', '#'])
            .unwrap_or(self.path_and_query.len());
        &self.path_and_query[..end]
    }

    /// The query string without its `?` (and without a fragment), if there is one.
    pub fn query(&self) -> Option<&'a str> {
        let (_, rest) = self.path_and_query.split_once('?')?;
        Some(rest.split_once('#').map_or(rest, |(query, _)| query))
    }

    /// The first value of query parameter `name` (`""` for a bare `?name`), undecoded, as
    /// Envoy matches it.
    pub fn query_param(&self, name: &str) -> Option<&'a str> {
        self.query()?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }

    /// Whether this is a gRPC request: its `content-type` starts with `application/grpc`.
    pub fn is_grpc(&self) -> bool {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"))
    }
}
