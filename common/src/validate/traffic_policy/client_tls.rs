//! A DestinationRule's client `tls`: which settings go together, and what a proxy originating
//! TLS from the rule's files does differently from Istio's Envoy.

use crate::validate::common::{self, Findings};
use crate::{
    api::{ClientTlsMode, ClientTlsSettings},
    path::FieldPath,
};

pub(super) fn validate(findings: &mut Findings, path: &FieldPath, tls: &ClientTlsSettings) {
    let named = |fields: &[(&'static str, bool)]| -> Vec<&'static str> {
        fields
            .iter()
            .filter(|(_, set)| *set)
            .map(|(name, _)| *name)
            .collect()
    };
    let ca = ("caCertificates", !tls.ca_certificates.is_empty());
    let credential = ("credentialName", !tls.credential_name.is_empty());
    let sans = ("subjectAltNames", !tls.subject_alt_names.is_empty());
    let client_cert = ("clientCertificate", !tls.client_certificate.is_empty());
    let key = ("privateKey", !tls.private_key.is_empty());
    let crl = ("caCrl", !tls.ca_crl.is_empty());
    let mode = tls.mode;
    if tls.insecure_skip_verify == Some(true) {
        let ignored = match mode {
            Some(ClientTlsMode::Simple) => named(&[ca, credential, sans]),
            Some(ClientTlsMode::Mutual) => named(&[ca, sans]),
            _ => Vec::new(),
        };
        if !ignored.is_empty() {
            findings.error(
                &path.field("insecureSkipVerify"),
                format!(
                    "insecureSkipVerify turns off server verification and would ignore {}: remove one or the other",
                    common::enumerate(&ignored)
                ),
            );
        }
    }
    match mode {
        Some(ClientTlsMode::Simple | ClientTlsMode::Mutual) if credential.1 => {
            let files = named(&[client_cert, key, ca, crl]);
            if !files.is_empty() {
                findings.error(
                    path,
                    format!(
                        "credentialName already holds the certificates: remove {}",
                        common::enumerate(&files)
                    ),
                );
            }
        }
        Some(ClientTlsMode::Mutual) => {
            for (field, set) in [client_cert, key] {
                if !set {
                    findings.error(
                        &path.field(field),
                        format!("MUTUAL TLS needs {field} (or credentialName)"),
                    );
                }
            }
        }
        Some(ClientTlsMode::IstioMutual) => {
            let own = named(&[client_cert, key, ca, credential]);
            if !own.is_empty() {
                findings.error(
                    path,
                    format!(
                        "ISTIO_MUTUAL uses the mesh's own certificates: remove {} (or use mode MUTUAL)",
                        common::enumerate(&own)
                    ),
                );
            }
            findings.warning(
                &path.field("mode"),
                "ISTIO_MUTUAL is not served yet (workloads have no mesh certificates yet): the \
                 clusters of this policy get no endpoints, so their requests fail (503) rather \
                 than leave in plaintext",
            );
        }
        _ => {}
    }
    if matches!(mode, Some(ClientTlsMode::Simple | ClientTlsMode::Mutual)) && !credential.1 {
        differences_from_istio(findings, path, tls);
    }
}

/// What a proxy originating TLS from files does differently from Istio's Envoy, which verifies
/// against the system's roots by default and takes the SNI from the request.
fn differences_from_istio(findings: &mut Findings, path: &FieldPath, tls: &ClientTlsSettings) {
    if tls.ca_certificates.is_empty() && tls.insecure_skip_verify != Some(true) {
        let names = if tls.subject_alt_names.is_empty() {
            ""
        } else {
            ", nor its subjectAltNames"
        };
        findings.warning(
            &path.field("caCertificates"),
            format!(
                "caCertificates is unset: the server's certificate is not verified{names} (Istio \
                 verifies it against the system's roots): set caCertificates, or \
                 insecureSkipVerify: true to say so"
            ),
        );
    }
    if tls.sni.is_empty() {
        findings.warning(
            &path.field("sni"),
            "sni is unset: the proxy sends no SNI (Istio sends the request's host on HTTP ports, \
             and checks the server's certificate against it when subjectAltNames is unset): set \
             sni to the name the server expects",
        );
    }
}
