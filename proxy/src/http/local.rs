//! Responses the proxy makes itself: errors in Envoy's words, redirects, direct responses and
//! fault aborts.
//!
//! Each is marked as a local reply, Envoy's `sendLocalReply`; [`finish`] turns one that answers
//! a gRPC request into a gRPC trailers-only response, as Envoy does (the `grpc` module says how).

mod grpc;

use bytes::Bytes;
use http::{
    HeaderValue, Response, StatusCode,
    header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION, SERVER},
};

pub use self::grpc::{ReplyTo, finish, http_to_grpc_status};
use super::body::{self, ProxyBody};
use crate::route::{ABORT_BODY, Abort, DirectResponse, Redirect};

/// The `server` header of locally generated responses (Envoy says `envoy`).
pub const SERVER_NAME: &str = "mesh-proxy";

/// Envoy's body when no endpoint can take the request (`UH`).
pub const NO_HEALTHY_UPSTREAM: &str = "no healthy upstream";
/// Envoy's body when connecting upstream failed (`UF`).
pub const CONNECTION_FAILURE: &str = "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure";
/// Envoy's body when the upstream closed or reset before answering (`UC`).
pub const CONNECTION_TERMINATION: &str = "upstream connect error or disconnect/reset before \
     headers. reset reason: connection termination";
/// Envoy's body when HTTP/2 refused the stream.
pub const REFUSED_STREAM: &str = "upstream connect error or disconnect/reset before headers. \
     reset reason: remote refused stream reset";
/// Envoy's body when a circuit breaker refused the request (`UO`).
pub const OVERFLOW: &str =
    "upstream connect error or disconnect/reset before headers. reset reason: overflow";
/// Envoy's body when the route timeout fired (`UT`).
pub const REQUEST_TIMEOUT: &str = "upstream request timeout";

/// Marks a local reply, with what a gRPC request gets instead (see [`finish`]).
#[derive(Clone, Debug)]
struct LocalReply {
    /// The gRPC status to send; without one, it follows from the HTTP status.
    grpc_status: Option<u32>,
    /// The body, which becomes `grpc-message`.
    message: Bytes,
}

/// A local reply; a non-empty body is `text/plain`.
pub fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<ProxyBody> {
    let body = body.into();
    let mut response = plain(status, body.clone());
    response.extensions_mut().insert(LocalReply {
        grpc_status: None,
        message: body,
    });
    response
}

/// The fault filter's abort: its HTTP status, or 200 carrying its gRPC status.
pub fn abort(abort: Abort) -> Response<ProxyBody> {
    let (status, grpc_status) = match abort {
        Abort::Http(status) => (status, None),
        Abort::Grpc(code) => (StatusCode::OK, Some(code)),
    };
    let mut response = respond(status, ABORT_BODY);
    if let Some(reply) = response.extensions_mut().get_mut::<LocalReply>() {
        reply.grpc_status = grpc_status;
    }
    response
}

/// A response the proxy makes that is not a local reply (a CORS preflight's): it reaches a gRPC
/// client unchanged.
pub fn plain(status: StatusCode, body: impl Into<Bytes>) -> Response<ProxyBody> {
    let body = body.into();
    let mut response = Response::new(body::empty());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if !body.is_empty() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(SERVER, HeaderValue::from_static(SERVER_NAME));
    *response.body_mut() = if body.is_empty() {
        body::empty()
    } else {
        body::full(body)
    };
    response
}

/// A `direct_response`.
pub fn direct(direct: &DirectResponse) -> Response<ProxyBody> {
    respond(direct.status, direct.body.clone())
}

/// The request URL parts a redirect starts from.
#[derive(Clone, Copy, Debug)]
pub struct RequestUrl<'a> {
    /// `http`, or what `x-forwarded-proto` says.
    pub scheme: &'a str,
    /// The authority (host and optional port).
    pub authority: &'a str,
    /// The path and query.
    pub path_and_query: &'a str,
    /// The path and query after the route's rewrite, if it has one.
    pub rewritten: Option<&'a str>,
}

/// A `redirect`: the status, and `location` built from the request URL with the redirect's
/// replacements. When only the scheme changes, a port that is the default of either scheme is
/// dropped, as Envoy does for `https_redirect`.
pub fn redirect(redirect: &Redirect, url: RequestUrl<'_>) -> Response<ProxyBody> {
    let location = location(redirect, url);
    let mut response = respond(redirect.status, Bytes::new());
    match HeaderValue::from_str(&location) {
        Ok(value) => {
            response.headers_mut().insert(LOCATION, value);
            response
        }
        Err(_) => respond(StatusCode::INTERNAL_SERVER_ERROR, Bytes::new()),
    }
}

/// The answer to a request a virtual host's `require_tls` turns away: 301 to the same
/// authority (port kept as sent) and path over `https`, as Envoy writes it.
pub fn tls_redirect(authority: &str, path_and_query: &str) -> Response<ProxyBody> {
    let mut response = respond(StatusCode::MOVED_PERMANENTLY, Bytes::new());
    match HeaderValue::from_str(&format!("https://{authority}{path_and_query}")) {
        Ok(value) => {
            response.headers_mut().insert(LOCATION, value);
            response
        }
        Err(_) => respond(StatusCode::INTERNAL_SERVER_ERROR, Bytes::new()),
    }
}

fn location(redirect: &Redirect, url: RequestUrl<'_>) -> String {
    let scheme = redirect.scheme.as_deref().unwrap_or(url.scheme);
    let authority = redirect.host.as_deref().unwrap_or(url.authority);
    let (host, port) = split_port(authority);
    let port = match (redirect.port, port) {
        (Some(port), _) => Some(port.to_string()),
        (None, Some(port))
            if redirect.scheme.is_some()
                && redirect.host.is_none()
                && matches!(port, "80" | "443") =>
        {
            None
        }
        (None, port) => port.map(str::to_owned),
    };
    let original_query = url.path_and_query.split_once('?').map(|(_, q)| q);
    let mut path = match &redirect.path {
        // A query in `path_redirect` replaces the request's; without one, the request's stays.
        Some(path) if path.contains('?') => path.clone(),
        Some(path) => match original_query {
            Some(query) => format!("{path}?{query}"),
            None => path.clone(),
        },
        None => url.rewritten.unwrap_or(url.path_and_query).to_owned(),
    };
    if redirect.strip_query
        && let Some(at) = path.find('?')
    {
        path.truncate(at);
    }
    match port {
        Some(port) => format!("{scheme}://{host}:{port}{path}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

/// Splits `host[:port]`, leaving IPv6 brackets on the host.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    match authority.rfind(':') {
        Some(at) if !authority[at..].contains(']') => {
            (&authority[..at], Some(&authority[at + 1..]))
        }
        _ => (authority, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Redirect {
        Redirect {
            status: StatusCode::MOVED_PERMANENTLY,
            scheme: None,
            host: None,
            port: None,
            path: None,
            rewrite: None,
            strip_query: false,
        }
    }

    fn url<'a>(authority: &'a str, path_and_query: &'a str) -> RequestUrl<'a> {
        RequestUrl {
            scheme: "http",
            authority,
            path_and_query,
            rewritten: None,
        }
    }

    #[test]
    fn https_redirect_drops_the_default_port() {
        let r = Redirect {
            scheme: Some("https".to_owned()),
            ..base()
        };
        assert_eq!(location(&r, url("shop:80", "/a?b=1")), "https://shop/a?b=1");
        assert_eq!(location(&r, url("shop:8080", "/a")), "https://shop:8080/a");
    }

    #[test]
    fn host_port_and_path_replacements() {
        let r = Redirect {
            host: Some("new.example".to_owned()),
            port: Some(8443),
            path: Some("/moved".to_owned()),
            ..base()
        };
        assert_eq!(
            location(&r, url("old:9080", "/x?q=1")),
            "http://new.example:8443/moved?q=1"
        );
        let r = Redirect {
            path: Some("/moved?fixed".to_owned()),
            ..base()
        };
        assert_eq!(
            location(&r, url("[::1]:81", "/x?q=1")),
            "http://[::1]:81/moved?fixed"
        );
    }

    #[test]
    fn strip_query_and_rewrites() {
        let r = Redirect {
            strip_query: true,
            ..base()
        };
        let rewritten = RequestUrl {
            rewritten: Some("/v2/x?q=1"),
            ..url("h", "/v1/x?q=1")
        };
        assert_eq!(location(&r, rewritten), "http://h/v2/x");
    }

    #[test]
    fn error_bodies_are_plain_text_from_mesh_proxy() {
        let response = respond(StatusCode::SERVICE_UNAVAILABLE, NO_HEALTHY_UPSTREAM);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/plain");
        assert_eq!(response.headers()[CONTENT_LENGTH], "19");
        assert_eq!(response.headers()[SERVER], "mesh-proxy");
        let empty = respond(StatusCode::NOT_FOUND, Bytes::new());
        assert_eq!(empty.headers().get(CONTENT_TYPE), None);
        assert_eq!(empty.headers()[CONTENT_LENGTH], "0");
    }
}
