//! A route's `hash_policy`: the request hash that ring-hash and Maglev clusters pick with.
//!
//! Served: `header` (a request header; `:authority`/`host`, `:path` and `:method` too),
//! `cookie` (`name`; with `ttl`, `path` and `attributes`, the cookie is generated when absent,
//! as the `cookie` module says), `connection_properties.source_ip`, `query_parameter`, and
//! `terminal`. Hashes combine as in Envoy: each policy that yields a hash is folded into the
//! running one (rotated left by one, XOR), and a `terminal` policy that yielded one ends the
//! list. A policy whose key is absent yields nothing; if none yields, the request has no hash
//! and the cluster picks at random.
//!
//! Refused: `header.regex_rewrite`, `filter_state`, and a policy with no specifier.

mod cookie;

use envoy_types::pb::envoy::config::route::v3::route_action::{
    HashPolicy as PbHashPolicy, hash_policy::PolicySpecifier,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use mesh_common::path::FieldPath;

pub use self::cookie::{ConnectionAddrs, CookieKey, Generate, generated_value};
use crate::{balance::xxh64, config_error::FieldError};

/// The `hash_policy` list of a route.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HashPolicy(Vec<(HashKey, bool)>);

/// What one policy hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashKey {
    /// Every value of a request header, sorted and concatenated.
    Header(HeaderName),
    /// The request's authority.
    Authority,
    /// The request's path and query.
    Path,
    /// The request's method.
    Method,
    /// A cookie's value, or the one generated when it is absent.
    Cookie(CookieKey),
    /// The client's IP address.
    SourceIp,
    /// The first value of a query parameter.
    QueryParameter(String),
}

/// The parts of a request a hash may read.
#[derive(Clone, Copy, Debug)]
pub struct HashInput<'a> {
    pub method: &'a Method,
    pub authority: &'a str,
    pub path_and_query: &'a str,
    pub headers: &'a HeaderMap,
    /// The downstream connection: `source_ip` reads the client's IP, a generated cookie both
    /// addresses.
    pub connection: Option<ConnectionAddrs>,
}

/// A request's hash, and the cookies generated for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHash {
    /// The hash, `None` when no policy found its key.
    pub hash: Option<u64>,
    /// `Set-Cookie` values for the upstream response, one per cookie generated, in policy
    /// order.
    pub set_cookies: Vec<HeaderValue>,
}

// === impl HashPolicy ===

impl HashPolicy {
    /// Compiles a route action's `hash_policy`, found at `path`.
    pub fn compile(policies: &[PbHashPolicy], path: &FieldPath) -> Result<Self, FieldError> {
        let keys = policies
            .iter()
            .enumerate()
            .map(|(i, p)| Ok((key(p, &path.index(i))?, p.terminal)))
            .collect::<Result<_, FieldError>>()?;
        Ok(Self(keys))
    }

    /// Whether the route has no policy (its requests never carry a hash).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The request's hash (`None` when no policy found its key), and the cookies generated.
    pub fn hash(&self, input: &HashInput<'_>) -> RequestHash {
        let mut set_cookies = Vec::new();
        let mut hash: Option<u64> = None;
        for (key, terminal) in &self.0 {
            if let Some(new) = key.hash(input, &mut set_cookies) {
                // Rotating keeps two identical policies from cancelling each other out.
                hash = Some(hash.map_or(0, |h| h.rotate_left(1)) ^ new);
            }
            if *terminal && hash.is_some() {
                break;
            }
        }
        RequestHash { hash, set_cookies }
    }
}

fn key(p: &PbHashPolicy, path: &FieldPath) -> Result<HashKey, FieldError> {
    match &p.policy_specifier {
        Some(PolicySpecifier::Header(h)) => {
            let path = path.field("header");
            if h.regex_rewrite.is_some() {
                return Err(FieldError::unsupported(path.field("regex_rewrite")));
            }
            let name = h.header_name.to_ascii_lowercase();
            match name.as_str() {
                ":authority" | "host" => Ok(HashKey::Authority),
                ":path" => Ok(HashKey::Path),
                ":method" => Ok(HashKey::Method),
                _ => HeaderName::from_bytes(name.as_bytes())
                    .map(HashKey::Header)
                    .map_err(|_| {
                        FieldError::new(
                            path.field("header_name"),
                            format!("{:?} is not a valid header name", h.header_name),
                        )
                    }),
            }
        }
        Some(PolicySpecifier::Cookie(c)) => {
            CookieKey::compile(c, &path.field("cookie")).map(HashKey::Cookie)
        }
        Some(PolicySpecifier::ConnectionProperties(c)) if c.source_ip => Ok(HashKey::SourceIp),
        Some(PolicySpecifier::ConnectionProperties(_)) => Err(FieldError::new(
            path.field("connection_properties").field("source_ip"),
            "must be true: it is the only connection property",
        )),
        Some(PolicySpecifier::QueryParameter(q)) if !q.name.is_empty() => {
            Ok(HashKey::QueryParameter(q.name.clone()))
        }
        Some(PolicySpecifier::QueryParameter(_)) => Err(FieldError::new(
            path.field("query_parameter").field("name"),
            "must not be empty",
        )),
        Some(PolicySpecifier::FilterState(_)) => {
            Err(FieldError::unsupported(path.field("filter_state")))
        }
        None => Err(FieldError::new(
            path.clone(),
            "one of header, cookie, connection_properties or query_parameter is required",
        )),
    }
}

// === impl HashKey ===

impl HashKey {
    fn hash(&self, input: &HashInput<'_>, set_cookies: &mut Vec<HeaderValue>) -> Option<u64> {
        let hash = |bytes: &[u8]| Some(xxh64(bytes, 0));
        match self {
            Self::Header(name) => {
                let mut values: Vec<&[u8]> = input
                    .headers
                    .get_all(name)
                    .iter()
                    .map(|v| v.as_bytes())
                    .collect();
                if values.is_empty() {
                    return None;
                }
                // The same hash whatever the order of the values.
                values.sort_unstable();
                hash(&values.concat())
            }
            Self::Authority => hash(input.authority.as_bytes()),
            Self::Path => hash(input.path_and_query.as_bytes()),
            Self::Method => hash(input.method.as_str().as_bytes()),
            Self::Cookie(key) => key
                .value(input.headers, input.connection, set_cookies)
                .and_then(|v| hash(v.as_bytes())),
            Self::SourceIp => input
                .connection
                .and_then(|c| hash(c.remote.ip().to_string().as_bytes())),
            Self::QueryParameter(name) => {
                query_parameter(input.path_and_query, name).and_then(|v| hash(v.as_bytes()))
            }
        }
    }
}

/// The first value of query parameter `name`, as written (not percent-decoded, as Envoy).
fn query_parameter<'p>(path_and_query: &'p str, name: &str) -> Option<&'p str> {
    let (_, query) = path_and_query.split_once('?')?;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests;
