//! Routes the proxy answers itself: `redirect` and `direct_response`.
//!
//! Refused: a redirect's `path_rewrite`; a direct response's `body_format`, and bodies read
//! from a file or an environment variable.

use envoy_types::pb::envoy::config::{
    core::v3::data_source::Specifier,
    route::v3::{
        DirectResponseAction, RedirectAction,
        redirect_action::{PathRewriteSpecifier, RedirectResponseCode, SchemeRewriteSpecifier},
    },
};
use http::StatusCode;
use mesh_common::path::FieldPath;

use super::{rewrite::PathRewrite, route_match::PathMatch};
use crate::config_error::{FieldError, reject_if};

/// Envoy's default for `max_direct_response_body_size_bytes`.
pub const DEFAULT_MAX_DIRECT_BODY: u32 = 4096;

/// A compiled `RedirectAction`: what to change in the request URL for the `Location` header.
#[derive(Clone, Debug)]
pub struct Redirect {
    /// 301, 302, 303, 307 or 308.
    pub status: StatusCode,
    /// Replaces the scheme (`https_redirect` becomes `https`).
    pub scheme: Option<String>,
    /// Replaces the host.
    pub host: Option<String>,
    /// Replaces the port.
    pub port: Option<u16>,
    /// Replaces the whole path.
    pub path: Option<String>,
    /// Rewrites the path.
    pub rewrite: Option<PathRewrite>,
    /// Drops the query string.
    pub strip_query: bool,
}

/// A compiled `DirectResponseAction`.
#[derive(Clone, Debug)]
pub struct DirectResponse {
    /// The response status.
    pub status: StatusCode,
    /// The response body, empty if none.
    pub body: bytes::Bytes,
}

// === impl Redirect ===

impl Redirect {
    /// Compiles a `redirect` found at `path`, for a route matched by `path_match`.
    pub fn compile(
        r: &RedirectAction,
        path_match: &PathMatch,
        path: &FieldPath,
    ) -> Result<Self, FieldError> {
        let status = match RedirectResponseCode::try_from(r.response_code) {
            Ok(RedirectResponseCode::MovedPermanently) => StatusCode::MOVED_PERMANENTLY,
            Ok(RedirectResponseCode::Found) => StatusCode::FOUND,
            Ok(RedirectResponseCode::SeeOther) => StatusCode::SEE_OTHER,
            Ok(RedirectResponseCode::TemporaryRedirect) => StatusCode::TEMPORARY_REDIRECT,
            Ok(RedirectResponseCode::PermanentRedirect) => StatusCode::PERMANENT_REDIRECT,
            Err(_) => {
                return Err(FieldError::new(
                    path.field("response_code"),
                    format!("unknown value {}", r.response_code),
                ));
            }
        };
        let port = match r.port_redirect {
            0 => None,
            port => Some(u16::try_from(port).map_err(|_| {
                FieldError::new(path.field("port_redirect"), format!("{port} is not a port"))
            })?),
        };
        let scheme = match &r.scheme_rewrite_specifier {
            Some(SchemeRewriteSpecifier::HttpsRedirect(true)) => Some("https".to_owned()),
            Some(SchemeRewriteSpecifier::HttpsRedirect(false)) | None => None,
            Some(SchemeRewriteSpecifier::SchemeRedirect(scheme)) => Some(scheme.to_lowercase()),
        };
        let (redirect_path, rewrite) = match &r.path_rewrite_specifier {
            None => (None, None),
            Some(PathRewriteSpecifier::PathRedirect(p)) => (Some(p.clone()), None),
            Some(PathRewriteSpecifier::PrefixRewrite(p)) => (
                None,
                Some(PathRewrite::prefix(
                    p,
                    path_match,
                    &path.field("prefix_rewrite"),
                )?),
            ),
            Some(PathRewriteSpecifier::RegexRewrite(r)) => (
                None,
                Some(PathRewrite::regex(r, &path.field("regex_rewrite"))?),
            ),
            Some(PathRewriteSpecifier::PathRewrite(_)) => {
                return Err(FieldError::unsupported(path.field("path_rewrite")));
            }
        };
        Ok(Self {
            status,
            scheme,
            host: Some(r.host_redirect.clone()).filter(|h| !h.is_empty()),
            port,
            path: redirect_path,
            rewrite,
            strip_query: r.strip_query,
        })
    }
}

// === impl DirectResponse ===

impl DirectResponse {
    /// Compiles a `direct_response` found at `path`; bodies longer than `max_body` are refused.
    pub fn compile(
        d: &DirectResponseAction,
        max_body: u32,
        path: &FieldPath,
    ) -> Result<Self, FieldError> {
        reject_if(d.body_format.is_some(), path, "body_format")?;
        let status = u16::try_from(d.status)
            .ok()
            .filter(|s| (200..600).contains(s))
            .and_then(|s| StatusCode::from_u16(s).ok())
            .ok_or_else(|| {
                FieldError::new(
                    path.field("status"),
                    format!("{} is not between 200 and 599", d.status),
                )
            })?;
        let body_path = path.field("body");
        let body = match d.body.as_ref().and_then(|b| b.specifier.as_ref()) {
            None => bytes::Bytes::new(),
            Some(Specifier::InlineString(s)) => bytes::Bytes::from(s.clone()),
            Some(Specifier::InlineBytes(b)) => bytes::Bytes::from(b.clone()),
            Some(Specifier::Filename(_)) => {
                return Err(FieldError::unsupported(body_path.field("filename")));
            }
            Some(Specifier::EnvironmentVariable(_)) => {
                return Err(FieldError::unsupported(
                    body_path.field("environment_variable"),
                ));
            }
        };
        if body.len() > max_body as usize {
            return Err(FieldError::new(
                body_path,
                format!(
                    "is {} bytes, more than max_direct_response_body_size_bytes ({max_body})",
                    body.len()
                ),
            ));
        }
        Ok(Self { status, body })
    }
}
