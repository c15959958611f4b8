//! The upstream response on its way downstream.

use http::{HeaderValue, Response, StatusCode, Version, header::SET_COOKIE};
use http_body_util::BodyExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::Forward;
use crate::{
    http::{
        body::{self, Guarded, ProxyBody},
        headers,
    },
    upstream::{Admission, Selected, UpstreamResponseBody},
};

impl Forward<'_> {
    /// The upstream response on its way downstream: hop-by-hop headers removed, the hash
    /// policy's generated cookies set, then the route's response edits applied (which may so
    /// remove them, as in Envoy), and an accepted upgrade spliced.
    pub(super) fn respond(
        &self,
        mut response: Response<UpstreamResponseBody>,
        selected: Selected,
        admission: Admission,
        upgrade: Option<OnUpgrade>,
        set_cookies: &[HeaderValue],
    ) -> Response<ProxyBody> {
        let upgraded = match upgrade {
            Some(downstream) if response.status() == StatusCode::SWITCHING_PROTOCOLS => {
                let upstream = hyper::upgrade::on(&mut response);
                tokio::spawn(splice(downstream, upstream));
                true
            }
            _ => false,
        };
        let (mut parts, incoming) = response.into_parts();
        parts.version = Version::HTTP_11;
        headers::strip_hop_by_hop(&mut parts.headers, upgraded);
        for cookie in set_cookies {
            parts.headers.append(SET_COOKIE, cookie.clone());
        }
        for edits in self.decision.response_header_edits() {
            edits.apply(&mut parts.headers);
        }
        // The endpoint's request count and the cluster's circuit-breaker slots are given back
        // when the response body ends, not when its headers leave.
        let body = Guarded::new(body::boxed(incoming), (selected.in_flight, admission));
        Response::from_parts(parts, body.boxed_unsync())
    }
}

async fn splice(downstream: OnUpgrade, upstream: OnUpgrade) {
    let (Ok(downstream), Ok(upstream)) = tokio::join!(downstream, upstream) else {
        return;
    };
    let _ =
        tokio::io::copy_bidirectional(&mut TokioIo::new(downstream), &mut TokioIo::new(upstream))
            .await;
}
