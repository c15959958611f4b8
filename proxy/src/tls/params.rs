//! `tls_params`: protocol versions, TLS 1.2 cipher suites and key-exchange groups, as a rustls
//! crypto provider (ring) and version list.
//!
//! Envoy's names are mapped to what ring implements: cipher suites
//! `ECDHE-{ECDSA,RSA}-AES128-GCM-SHA256`, `ECDHE-{ECDSA,RSA}-AES256-GCM-SHA384` and
//! `ECDHE-{ECDSA,RSA}-CHACHA20-POLY1305` (they only restrict TLS 1.2, as in Envoy; TLS 1.3
//! suites are not configurable), and curves `X25519`, `P-256` and `P-384`. Any other name,
//! BoringSSL's `[A|B]` equal-preference groups, TLS 1.0/1.1, `signature_algorithms` and
//! `compliance_policies` are refused.

use std::sync::Arc;

use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    TlsParameters, tls_parameters::TlsProtocol,
};
use mesh_common::path::FieldPath;
use rustls::{
    SupportedCipherSuite, SupportedProtocolVersion,
    crypto::{CryptoProvider, SupportedKxGroup, ring},
    version::{TLS12, TLS13},
};

use crate::config_error::{FieldError, reject_if};

/// Which side of a connection the parameters are for: Envoy's defaults differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Upstream: TLS 1.2 only unless configured (Envoy's client default).
    Client,
    /// Downstream: TLS 1.2 and 1.3.
    Server,
}

/// Compiled `tls_params`.
#[derive(Clone, Debug)]
pub struct Params {
    /// ring, narrowed to the configured cipher suites and groups.
    pub provider: Arc<CryptoProvider>,
    /// The protocol versions offered, newest first.
    pub versions: Vec<&'static SupportedProtocolVersion>,
}

/// Compiles `tls_params` found at `path` (absent: Envoy's defaults for `side`).
pub fn compile(
    params: Option<&TlsParameters>,
    side: Side,
    path: &FieldPath,
) -> Result<Params, FieldError> {
    let default = TlsParameters::default();
    let p = params.unwrap_or(&default);
    reject_if(
        !p.signature_algorithms.is_empty(),
        path,
        "signature_algorithms",
    )?;
    reject_if(
        !p.compliance_policies.is_empty(),
        path,
        "compliance_policies",
    )?;
    let min = version(
        p.tls_minimum_protocol_version,
        &path.field("tls_minimum_protocol_version"),
    )?
    .unwrap_or(Version::Tls12);
    let max = version(
        p.tls_maximum_protocol_version,
        &path.field("tls_maximum_protocol_version"),
    )?
    .unwrap_or(match side {
        Side::Client => Version::Tls12,
        Side::Server => Version::Tls13,
    });
    if min > max {
        return Err(FieldError::new(
            path.field("tls_minimum_protocol_version"),
            "is above tls_maximum_protocol_version",
        ));
    }
    let mut versions = Vec::new();
    if max == Version::Tls13 {
        versions.push(&TLS13);
    }
    if min == Version::Tls12 {
        versions.push(&TLS12);
    }
    let mut provider = ring::default_provider();
    if !p.cipher_suites.is_empty() {
        let path = path.field("cipher_suites");
        let mut suites: Vec<SupportedCipherSuite> = provider
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| s.version() == &TLS13)
            .collect();
        for (i, name) in p.cipher_suites.iter().enumerate() {
            suites.push(cipher_suite(name).ok_or_else(|| {
                FieldError::new(
                    path.index(i),
                    format!("cipher suite {name:?} is not supported by mesh-proxy"),
                )
            })?);
        }
        provider.cipher_suites = suites;
    }
    if !p.ecdh_curves.is_empty() {
        let path = path.field("ecdh_curves");
        provider.kx_groups = p
            .ecdh_curves
            .iter()
            .enumerate()
            .map(|(i, name)| {
                curve(name).ok_or_else(|| {
                    FieldError::new(
                        path.index(i),
                        format!("curve {name:?} is not supported by mesh-proxy"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(Params {
        provider: Arc::new(provider),
        versions,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Version {
    Tls12,
    Tls13,
}

/// `None` for `TLS_AUTO`.
fn version(value: i32, path: &FieldPath) -> Result<Option<Version>, FieldError> {
    match TlsProtocol::try_from(value) {
        Ok(TlsProtocol::TlsAuto) => Ok(None),
        Ok(TlsProtocol::TlSv12) => Ok(Some(Version::Tls12)),
        Ok(TlsProtocol::TlSv13) => Ok(Some(Version::Tls13)),
        Ok(old @ (TlsProtocol::TlSv10 | TlsProtocol::TlSv11)) => Err(FieldError::new(
            path.clone(),
            format!("{} is not supported by mesh-proxy", old.as_str_name()),
        )),
        Err(_) => Err(FieldError::new(
            path.clone(),
            format!("unknown value {value}"),
        )),
    }
}

fn cipher_suite(name: &str) -> Option<SupportedCipherSuite> {
    use rustls::crypto::ring::cipher_suite::*;
    Some(match name {
        "ECDHE-ECDSA-AES128-GCM-SHA256" => TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-RSA-AES128-GCM-SHA256" => TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-ECDSA-AES256-GCM-SHA384" => TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-RSA-AES256-GCM-SHA384" => TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-ECDSA-CHACHA20-POLY1305" => TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-RSA-CHACHA20-POLY1305" => TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        _ => return None,
    })
}

fn curve(name: &str) -> Option<&'static dyn SupportedKxGroup> {
    use rustls::crypto::ring::kx_group::*;
    Some(match name {
        "X25519" => X25519,
        "P-256" => SECP256R1,
        "P-384" => SECP384R1,
        _ => return None,
    })
}
