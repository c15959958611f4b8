//! `x-forwarded-client-cert` (XFCC), as Envoy's connection manager writes it from the
//! `forward_client_cert_details` and `set_current_client_cert_details` of its configuration,
//! and the TLS facts of a downstream connection that requests need.
//!
//! Only a connection whose client presented a certificate (mutual TLS) may carry or add the
//! header; `ALWAYS_FORWARD_ONLY` alone passes it on from any connection. The element added is
//! `By=<local URI SAN>;Hash=<sha256 of the client certificate>` followed by the details asked
//! for, in Envoy's order: `Cert`, `Chain`, `Subject`, `URI`, `DNS` (see [`details`]).

mod details;

use http::{HeaderMap, HeaderName, HeaderValue};
use rustls::pki_types::CertificateDer;

/// `x-forwarded-client-cert`.
pub static X_FORWARDED_CLIENT_CERT: HeaderName = HeaderName::from_static("x-forwarded-client-cert");

/// `forward_client_cert_details`: what happens to a request's XFCC header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardClientCert {
    /// `SANITIZE` (the default): the header is removed.
    #[default]
    Sanitize,
    /// `FORWARD_ONLY`: passed on as it came on mutual TLS, removed otherwise.
    ForwardOnly,
    /// `APPEND_FORWARD`: on mutual TLS, this connection's element is appended; removed
    /// otherwise.
    AppendForward,
    /// `SANITIZE_SET`: on mutual TLS, replaced by this connection's element; removed otherwise.
    SanitizeSet,
    /// `ALWAYS_FORWARD_ONLY`: passed on as it came, whatever the connection.
    AlwaysForwardOnly,
}

/// `set_current_client_cert_details`: what the element holds beside `By` and `Hash`. Only
/// `APPEND_FORWARD` and `SANITIZE_SET` write an element; with the other modes, as in Envoy,
/// these have nothing to act on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CertDetails {
    /// `cert`: `Cert="<URL-encoded PEM of the client certificate>"`.
    pub cert: bool,
    /// `chain`: `Chain="<URL-encoded PEM of the chain the client sent>"`.
    pub chain: bool,
    /// `subject`: `Subject="<the certificate's subject, RFC 2253>"`.
    pub subject: bool,
    /// `uri`: one `URI=<SAN>` per URI SAN, or `URI=` without one.
    pub uri: bool,
    /// `dns`: one `DNS=<SAN>` per DNS SAN.
    pub dns: bool,
}

/// A connection manager's XFCC configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientCertConfig {
    /// `forward_client_cert_details`.
    pub forward: ForwardClientCert,
    /// `set_current_client_cert_details`.
    pub details: CertDetails,
}

/// What the TLS handshake of a downstream connection established, for its requests.
#[derive(Clone, Debug, Default)]
pub struct ConnectionTls {
    /// Whether the client presented a certificate (mutual TLS).
    pub mutual: bool,
    /// This connection's XFCC element, when the connection manager writes one: made once per
    /// connection, since the certificates and the configuration are the connection's.
    pub element: Option<HeaderValue>,
}

// === impl ConnectionTls ===

impl ConnectionTls {
    /// The facts of a connection that presented a certificate with URI SANs `local_uris` and
    /// got `peer_chain` (leaf first, empty without a client certificate), for a connection
    /// manager configured with `config`.
    pub fn new(
        local_uris: &[String],
        peer_chain: &[CertificateDer<'_>],
        config: &ClientCertConfig,
    ) -> Self {
        let writes = matches!(
            config.forward,
            ForwardClientCert::AppendForward | ForwardClientCert::SanitizeSet
        );
        let element = match peer_chain.first() {
            Some(leaf) if writes => details::element(local_uris, leaf, peer_chain, &config.details)
                .and_then(|text| HeaderValue::from_str(&text).ok()),
            _ => None,
        };
        Self {
            mutual: !peer_chain.is_empty(),
            element,
        }
    }
}

/// Applies `config` to the XFCC header of a request that arrived on a connection with `tls`
/// (`None`: plaintext).
pub fn forward_client_cert(
    headers: &mut HeaderMap,
    tls: Option<&ConnectionTls>,
    config: &ClientCertConfig,
) {
    if config.forward == ForwardClientCert::AlwaysForwardOnly {
        return;
    }
    let mutual = tls.filter(|tls| tls.mutual);
    let Some(tls) = mutual.filter(|_| config.forward != ForwardClientCert::Sanitize) else {
        headers.remove(&X_FORWARDED_CLIENT_CERT);
        return;
    };
    let element = match (&tls.element, config.forward) {
        (_, ForwardClientCert::ForwardOnly) => return,
        (Some(element), _) => element,
        // A certificate whose names cannot be a header value: nothing is added, and nothing
        // the client sent is passed on as if it were checked.
        (None, _) => {
            if config.forward == ForwardClientCert::SanitizeSet {
                headers.remove(&X_FORWARDED_CLIENT_CERT);
            }
            return;
        }
    };
    if config.forward == ForwardClientCert::AppendForward {
        // Envoy reads repeated headers as one, joined with commas, and appends with a comma.
        let previous: Vec<&[u8]> = headers
            .get_all(&X_FORWARDED_CLIENT_CERT)
            .iter()
            .map(HeaderValue::as_bytes)
            .filter(|value| !value.is_empty())
            .collect();
        if !previous.is_empty() {
            let mut joined = previous.join(&b","[..]);
            joined.push(b',');
            joined.extend_from_slice(element.as_bytes());
            if let Ok(value) = HeaderValue::from_bytes(&joined) {
                headers.insert(X_FORWARDED_CLIENT_CERT.clone(), value);
            }
            return;
        }
    }
    headers.insert(X_FORWARDED_CLIENT_CERT.clone(), element.clone());
}

#[cfg(test)]
mod tests;
