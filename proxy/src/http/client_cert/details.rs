//! One connection's XFCC element, written as Envoy writes it: `By` per local URI SAN, `Hash`
//! (lowercase hex SHA-256 of the client certificate's DER), then `Cert`, `Chain`, `Subject`,
//! `URI` and `DNS` as configured. Values are not quoted or escaped beyond what Envoy does:
//! `Cert`, `Chain` and `Subject` are quoted, the PEM is URL-encoded.

use base64::{Engine, engine::general_purpose::STANDARD};
use rustls::pki_types::CertificateDer;
use x509_parser::{
    certificate::X509Certificate,
    extensions::GeneralName,
    prelude::FromDer,
    x509::{AttributeTypeAndValue, X509Name},
};

use super::CertDetails;

/// The element for client certificate `leaf` (the first of `chain`) on a connection whose
/// own certificate has URI SANs `local_uris`; `None` when `leaf` cannot be parsed.
pub(super) fn element(
    local_uris: &[String],
    leaf: &CertificateDer<'_>,
    chain: &[CertificateDer<'_>],
    details: &CertDetails,
) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    let mut parts: Vec<String> = local_uris.iter().map(|uri| format!("By={uri}")).collect();
    parts.push(format!("Hash={}", sha256_hex(leaf.as_ref())));
    if details.cert {
        parts.push(format!("Cert=\"{}\"", url_encoded_pem(leaf.as_ref())));
    }
    if details.chain {
        let pem: String = chain.iter().map(|c| url_encoded_pem(c.as_ref())).collect();
        parts.push(format!("Chain=\"{pem}\""));
    }
    if details.subject {
        // Present even when the subject is empty, as in Envoy.
        parts.push(format!("Subject=\"{}\"", rfc2253(cert.subject())));
    }
    if details.uri {
        let uris = sans(&cert, |name| match name {
            GeneralName::URI(uri) => Some(*uri),
            _ => None,
        });
        if uris.is_empty() {
            parts.push("URI=".to_owned());
        }
        parts.extend(uris.iter().map(|uri| format!("URI={uri}")));
    }
    if details.dns {
        let names = sans(&cert, |name| match name {
            GeneralName::DNSName(dns) => Some(*dns),
            _ => None,
        });
        parts.extend(names.iter().map(|dns| format!("DNS={dns}")));
    }
    Some(parts.join(";"))
}

fn sans<'a>(
    cert: &'a X509Certificate<'_>,
    pick: impl Fn(&GeneralName<'a>) -> Option<&'a str>,
) -> Vec<&'a str> {
    match cert.subject_alternative_name() {
        Ok(Some(names)) => names.value.general_names.iter().filter_map(pick).collect(),
        _ => Vec::new(),
    }
}

/// Lowercase hex of the SHA-256 of `der`.
pub(super) fn sha256_hex(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The certificate as PEM (64 characters a line, each line ended by a newline), with newline,
/// space, `+`, `/` and `=` percent-encoded as Envoy does.
pub(super) fn url_encoded_pem(der: &[u8]) -> String {
    let base64 = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    // Base64 is ASCII, so every chunk is valid UTF-8.
    for line in base64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let mut encoded = String::with_capacity(pem.len() + 64);
    for c in pem.chars() {
        match c {
            '\n' => encoded.push_str("%0A"),
            ' ' => encoded.push_str("%20"),
            '+' => encoded.push_str("%2B"),
            '/' => encoded.push_str("%2F"),
            '=' => encoded.push_str("%3D"),
            c => encoded.push(c),
        }
    }
    encoded
}

/// `name` in RFC 2253 form as OpenSSL's `XN_FLAG_RFC2253` prints it: the last RDN first,
/// RDNs joined by `,`, values of one RDN by `+`, short attribute names (else the dotted OID
/// with the value's DER in hex), special characters escaped with `\`, control characters and
/// bytes past ASCII as `\XX`.
pub(super) fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| rdn.iter().map(attribute).collect::<Vec<_>>().join("+"))
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn attribute(attribute: &AttributeTypeAndValue<'_>) -> String {
    let oid = attribute.attr_type().to_id_string();
    let value = attribute.attr_value();
    match (short_name(&oid), attribute.as_str()) {
        (Some(short), Ok(text)) => format!("{short}={}", escape(text.as_bytes())),
        (short, _) => {
            // An unknown attribute, or a value that is no string: its DER, in hex.
            let mut der = vec![value.header.tag().0 as u8];
            let length = value.data.len();
            if length < 0x80 {
                der.push(length as u8);
            } else {
                let bytes: Vec<u8> = length
                    .to_be_bytes()
                    .into_iter()
                    .skip_while(|b| *b == 0)
                    .collect();
                der.push(0x80 | bytes.len() as u8);
                der.extend(bytes);
            }
            der.extend_from_slice(value.data);
            let hex: String = der.iter().map(|b| format!("{b:02X}")).collect();
            format!("{}=#{hex}", short.unwrap_or(&oid))
        }
    }
}

/// OpenSSL's short names of the attributes certificates name subjects with.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.46" => "dnQualifier",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return None,
    })
}

/// RFC 2253 escaping: `,+"\<>;` always, `#` and space first, space last, with a backslash;
/// control characters and every byte past ASCII as `\XX`.
fn escape(value: &[u8]) -> String {
    let mut escaped = String::with_capacity(value.len());
    let last = value.len().saturating_sub(1);
    for (i, &byte) in value.iter().enumerate() {
        match byte {
            b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' => {
                escaped.push('\\');
                escaped.push(byte as char);
            }
            b'#' if i == 0 => escaped.push_str("\\#"),
            b' ' if i == 0 || i == last => escaped.push_str("\\ "),
            0..0x20 | 0x7f.. => escaped.push_str(&format!("\\{byte:02X}")),
            _ => escaped.push(byte as char),
        }
    }
    escaped
}
