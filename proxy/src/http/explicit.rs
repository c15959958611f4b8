//! Explicit proxy mode: clients that address the proxy itself name their target in the request
//! (absolute-form URI, or `Host`), and the target's port picks the route table; CONNECT names
//! the target of a tunnel.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, Uri, header::HOST, uri::Authority};

/// Where an explicit-proxy request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host as written (IPv6 in brackets).
    pub host: String,
    /// The port; 80 when not written.
    pub port: u16,
}

impl Target {
    /// The target of a CONNECT request: its authority-form URI, whose port is required.
    pub fn of_connect(uri: &Uri) -> Option<Self> {
        let authority = uri.authority()?;
        Some(Self {
            host: authority.host().to_owned(),
            port: authority.port_u16()?,
        })
        .filter(|t| !t.host.is_empty())
    }

    /// The target from the URI's authority or, for origin-form requests, `Host`.
    pub fn of(uri: &Uri, headers: &HeaderMap) -> Option<Self> {
        let authority = match uri.authority() {
            Some(authority) => authority.clone(),
            None => headers
                .get(HOST)?
                .to_str()
                .ok()?
                .parse::<Authority>()
                .ok()?,
        };
        if authority.host().is_empty() {
            return None;
        }
        Some(Self {
            host: authority.host().to_owned(),
            port: authority.port_u16().unwrap_or(80),
        })
    }

    /// `host:port`, the authority routes match.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The target's socket address: the literal IP, or the first address DNS gives.
    pub async fn resolve(&self) -> Option<SocketAddr> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(SocketAddr::new(ip, self.port));
        }
        tokio::net::lookup_host((host, self.port))
            .await
            .ok()?
            .next()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn targets_come_from_the_uri_then_host() {
        let headers = HeaderMap::new();
        let uri: Uri = "http://reviews:9080/r".parse().unwrap();
        let target = Target::of(&uri, &headers).unwrap();
        assert_eq!(target.authority(), "reviews:9080");
        let uri: Uri = "/r".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("[::1]"));
        assert_eq!(Target::of(&uri, &headers).unwrap().authority(), "[::1]:80");
        assert_eq!(Target::of(&uri, &HeaderMap::new()), None);
        let connect: Uri = "reviews:9080".parse().unwrap();
        assert_eq!(
            Target::of_connect(&connect).unwrap().authority(),
            "reviews:9080"
        );
        let portless: Uri = "reviews".parse().unwrap();
        assert_eq!(Target::of_connect(&portless), None);
    }

    #[tokio::test]
    async fn literal_addresses_resolve_without_dns() {
        let target = Target {
            host: "[::1]".to_owned(),
            port: 8080,
        };
        assert_eq!(target.resolve().await, Some("[::1]:8080".parse().unwrap()));
    }
}
