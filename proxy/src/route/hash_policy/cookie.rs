//! The `cookie` hash policy: the cookie's value, and the cookie Envoy generates when a policy
//! with a `ttl` finds none (`CookieHashMethod`, and the router's `addDownstreamSetCookie`).
//!
//! The generated value is the XXH64 of the client's address followed by the address it
//! connected to (for a captured connection, its original destination), as 16 lowercase hex
//! digits: the same for every request of a connection. It is hashed for this request, and the
//! upstream response gets `Set-Cookie: <name>="<value>"; Max-Age=<ttl>; Path=<path>;
//! <attributes>; HttpOnly`, where `Max-Age` is left out for a `ttl` of zero (a session cookie)
//! and `Path` when empty, as in Envoy's `makeSetCookieValue`.

use std::net::SocketAddr;

use envoy_types::pb::envoy::config::route::v3::route_action::hash_policy::Cookie;
use http::{HeaderMap, HeaderValue, header::COOKIE};
use mesh_common::path::FieldPath;

use crate::{balance::xxh64, config_error::FieldError};

/// A compiled `cookie` policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieKey {
    /// The cookie's name.
    pub name: String,
    /// The cookie to generate when the request has none: only with a `ttl`.
    pub generate: Option<Generate>,
}

/// How to generate the cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generate {
    /// `Max-Age`, in whole seconds (Envoy drops the nanoseconds); 0 makes a session cookie.
    pub ttl_secs: u64,
    /// `Path`, left out when empty.
    pub path: String,
    /// Further attributes, in order: `name=value`, or `name` alone when the value is empty.
    pub attributes: Vec<(String, String)>,
}

/// The downstream connection's addresses, as Envoy sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionAddrs {
    /// The client's address.
    pub remote: SocketAddr,
    /// The address the client connected to: a captured connection's original destination.
    pub local: SocketAddr,
}

// === impl CookieKey ===

impl CookieKey {
    /// Compiles a `cookie` policy found at `path`.
    pub(super) fn compile(c: &Cookie, path: &FieldPath) -> Result<Self, FieldError> {
        if c.name.is_empty() {
            return Err(FieldError::new(path.field("name"), "must not be empty"));
        }
        header_text(&c.name, &path.field("name"))?;
        header_text(&c.path, &path.field("path"))?;
        let mut attributes = Vec::with_capacity(c.attributes.len());
        for (i, a) in c.attributes.iter().enumerate() {
            let at = path.field("attributes").index(i);
            if a.name.is_empty() {
                return Err(FieldError::new(at.field("name"), "must not be empty"));
            }
            header_text(&a.name, &at.field("name"))?;
            header_text(&a.value, &at.field("value"))?;
            attributes.push((a.name.clone(), a.value.clone()));
        }
        // Without a ttl nothing is generated, and `path` and `attributes` have no use, as in
        // Envoy.
        let generate = match &c.ttl {
            None => None,
            Some(ttl) => Some(Generate {
                ttl_secs: u64::try_from(ttl.seconds)
                    .ok()
                    .filter(|_| ttl.nanos >= 0)
                    .ok_or_else(|| {
                        FieldError::new(path.field("ttl"), "must be a non-negative duration")
                    })?,
                path: c.path.clone(),
                attributes,
            }),
        };
        Ok(Self {
            name: c.name.clone(),
            generate,
        })
    }

    /// The request's cookie value, or the one generated for the connection, whose
    /// `Set-Cookie` is then pushed to `set_cookies`.
    pub(super) fn value(
        &self,
        headers: &HeaderMap,
        connection: Option<ConnectionAddrs>,
        set_cookies: &mut Vec<HeaderValue>,
    ) -> Option<String> {
        if let Some(value) = cookie(headers, &self.name).filter(|v| !v.is_empty()) {
            return Some(value.to_owned());
        }
        let generate = self.generate.as_ref()?;
        let value = generated_value(connection);
        // The parts were checked as header text when compiled; the value is hex digits.
        if let Ok(header) = HeaderValue::from_str(&generate.set_cookie(&self.name, &value)) {
            set_cookies.push(header);
        }
        Some(value)
    }
}

// === impl Generate ===

impl Generate {
    /// The `Set-Cookie` value, as Envoy's `makeSetCookieValue` writes it.
    pub fn set_cookie(&self, name: &str, value: &str) -> String {
        let mut text = format!("{name}=\"{value}\"");
        if self.ttl_secs != 0 {
            text.push_str(&format!("; Max-Age={}", self.ttl_secs));
        }
        if !self.path.is_empty() {
            text.push_str(&format!("; Path={}", self.path));
        }
        for (name, value) in &self.attributes {
            if value.is_empty() {
                text.push_str(&format!("; {name}"));
            } else {
                text.push_str(&format!("; {name}={value}"));
            }
        }
        text.push_str("; HttpOnly");
        text
    }
}

/// The value Envoy generates: XXH64 of both addresses as text, in 16 hex digits. Without a
/// connection (never the case for a client's request) the text is empty, as in Envoy.
pub fn generated_value(connection: Option<ConnectionAddrs>) -> String {
    let seed = connection.map_or_else(String::new, |c| format!("{}{}", c.remote, c.local));
    format!("{:016x}", xxh64(seed.as_bytes(), 0))
}

/// The first value of cookie `name` in the `Cookie` headers, without one pair of surrounding
/// quotes, as Envoy's `parseCookieValue` reads it.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim_start().split_once('=')?;
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            (key == name).then_some(value)
        })
}

/// Refuses text that cannot go into a `Set-Cookie` header.
fn header_text(text: &str, path: &FieldPath) -> Result<(), FieldError> {
    match HeaderValue::from_str(text) {
        Ok(_) => Ok(()),
        Err(_) => Err(FieldError::new(
            path.clone(),
            format!("{text:?} is not valid in a header value"),
        )),
    }
}
