//! The connection manager's `forward_client_cert_details` and `set_current_client_cert_details`
//! (see [`crate::http::ClientCertConfig`]); every mode and detail is honoured.

use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager as PbHcm, http_connection_manager::ForwardClientCertDetails,
};
use mesh_common::path::FieldPath;

use crate::{
    config_error::FieldError,
    http::{CertDetails, ClientCertConfig, ForwardClientCert},
};

/// The XFCC configuration of `h`; an unknown mode is refused.
pub(super) fn client_cert(h: &PbHcm, path: &FieldPath) -> Result<ClientCertConfig, FieldError> {
    let forward = match ForwardClientCertDetails::try_from(h.forward_client_cert_details) {
        Ok(ForwardClientCertDetails::Sanitize) => ForwardClientCert::Sanitize,
        Ok(ForwardClientCertDetails::ForwardOnly) => ForwardClientCert::ForwardOnly,
        Ok(ForwardClientCertDetails::AppendForward) => ForwardClientCert::AppendForward,
        Ok(ForwardClientCertDetails::SanitizeSet) => ForwardClientCert::SanitizeSet,
        Ok(ForwardClientCertDetails::AlwaysForwardOnly) => ForwardClientCert::AlwaysForwardOnly,
        Err(_) => {
            return Err(FieldError::new(
                path.field("forward_client_cert_details"),
                format!("unknown value {}", h.forward_client_cert_details),
            ));
        }
    };
    let details = h
        .set_current_client_cert_details
        .as_ref()
        .map(|d| CertDetails {
            cert: d.cert,
            chain: d.chain,
            subject: d.subject.as_ref().is_some_and(|v| v.value),
            uri: d.uri,
            dns: d.dns,
        })
        .unwrap_or_default();
    Ok(ClientCertConfig { forward, details })
}

#[cfg(test)]
mod tests;
