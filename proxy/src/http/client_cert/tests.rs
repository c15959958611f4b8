use http::{HeaderMap, HeaderValue};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};
use rustls::pki_types::CertificateDer;
use x509_parser::{certificate::X509Certificate, prelude::FromDer};

use super::{
    CertDetails, ClientCertConfig, ConnectionTls, ForwardClientCert, X_FORWARDED_CLIENT_CERT,
    details::{rfc2253, sha256_hex, url_encoded_pem},
    forward_client_cert,
};

const ELEMENT: &str = "By=spiffe://td/local;Hash=00ff";

fn mode(forward: ForwardClientCert) -> ClientCertConfig {
    ClientCertConfig {
        forward,
        details: CertDetails::default(),
    }
}

/// A self-signed certificate for subject `dn`, with `sans` (URIs start with `spiffe:`, the others
/// are DNS names), and its PEM.
fn cert(dn: &[(DnType, &str)], sans: &[&str]) -> (CertificateDer<'static>, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    for (kind, value) in dn {
        params.distinguished_name.push(kind.clone(), *value);
    }
    for san in sans {
        params
            .subject_alt_names
            .push(if san.starts_with("spiffe:") {
                SanType::URI((*san).try_into().unwrap())
            } else {
                SanType::DnsName((*san).try_into().unwrap())
            });
    }
    let cert = params.self_signed(&KeyPair::generate().unwrap()).unwrap();
    (cert.der().clone(), cert.pem())
}

/// What a request's XFCC headers become under `forward` on a connection with `tls`.
fn outcome(forward: ForwardClientCert, tls: Option<&ConnectionTls>, given: &[&str]) -> Vec<String> {
    let mut headers = HeaderMap::new();
    for value in given {
        headers.append(
            X_FORWARDED_CLIENT_CERT.clone(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    forward_client_cert(&mut headers, tls, &mode(forward));
    headers
        .get_all(&X_FORWARDED_CLIENT_CERT)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[test]
fn each_mode_treats_the_header_as_envoy_does() {
    use ForwardClientCert::*;
    let mutual = ConnectionTls {
        mutual: true,
        element: Some(HeaderValue::from_static(ELEMENT)),
    };
    let one_way = ConnectionTls {
        mutual: false,
        element: None,
    };
    let given = ["By=a;URI=x", "By=b"];
    let cases: [(ForwardClientCert, Option<&ConnectionTls>, &[&str]); 15] = [
        (Sanitize, Some(&mutual), &[]),
        (Sanitize, None, &[]),
        (ForwardOnly, Some(&mutual), &given),
        (ForwardOnly, Some(&one_way), &[]),
        (ForwardOnly, None, &[]),
        (
            AppendForward,
            Some(&mutual),
            &["By=a;URI=x,By=b,By=spiffe://td/local;Hash=00ff"],
        ),
        (AppendForward, Some(&one_way), &[]),
        (AppendForward, None, &[]),
        (SanitizeSet, Some(&mutual), &[ELEMENT]),
        (SanitizeSet, Some(&one_way), &[]),
        (SanitizeSet, None, &[]),
        (AlwaysForwardOnly, Some(&mutual), &given),
        (AlwaysForwardOnly, Some(&one_way), &given),
        (AlwaysForwardOnly, None, &given),
        (Sanitize, Some(&one_way), &[]),
    ];
    for (forward, tls, expected) in cases {
        assert_eq!(
            outcome(forward, tls, &given),
            expected,
            "{forward:?} mutual={:?}",
            tls.map(|t| t.mutual)
        );
    }
    // Appending to no header sets it; FORWARD_ONLY passes nothing when nothing came.
    assert_eq!(outcome(AppendForward, Some(&mutual), &[]), [ELEMENT]);
    assert_eq!(
        outcome(ForwardOnly, Some(&mutual), &[]),
        Vec::<String>::new()
    );
}

#[test]
fn the_element_holds_by_hash_and_the_details_in_envoy_s_order() {
    let (leaf, leaf_pem) = cert(
        &[
            (DnType::OrganizationName, "mesh"),
            (DnType::CommonName, "client"),
        ],
        &[
            "spiffe://cluster.local/ns/default/sa/client",
            "client.example",
            "spiffe://cluster.local/ns/default/sa/alias",
            "alias.example",
        ],
    );
    let (issuer, issuer_pem) = cert(&[(DnType::CommonName, "ca")], &[]);
    let encode = |pem: &str| {
        pem.replace('\n', "%0A")
            .replace(' ', "%20")
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    };
    assert_eq!(url_encoded_pem(leaf.as_ref()), encode(&leaf_pem));
    let chain = [leaf.clone(), issuer];
    let local = ["spiffe://cluster.local/ns/default/sa/server".to_owned()];
    let all = ClientCertConfig {
        forward: ForwardClientCert::SanitizeSet,
        details: CertDetails {
            cert: true,
            chain: true,
            subject: true,
            uri: true,
            dns: true,
        },
    };
    let tls = ConnectionTls::new(&local, &chain, &all);
    assert!(tls.mutual);
    let expected = format!(
        "By=spiffe://cluster.local/ns/default/sa/server;Hash={};Cert=\"{}\";Chain=\"{}{}\";\
         Subject=\"CN=client,O=mesh\";URI=spiffe://cluster.local/ns/default/sa/client;\
         URI=spiffe://cluster.local/ns/default/sa/alias;DNS=client.example;DNS=alias.example",
        sha256_hex(leaf.as_ref()),
        encode(&leaf_pem),
        encode(&leaf_pem),
        encode(&issuer_pem),
    );
    assert_eq!(tls.element.unwrap(), expected.as_str());

    // Istio's inbound sidecar: APPEND_FORWARD with subject, URI and DNS.
    let istio = ClientCertConfig {
        forward: ForwardClientCert::AppendForward,
        details: CertDetails {
            subject: true,
            uri: true,
            dns: true,
            ..CertDetails::default()
        },
    };
    let (plain, _) = cert(&[], &["plain.example"]);
    let tls = ConnectionTls::new(&[], std::slice::from_ref(&plain), &istio);
    assert_eq!(
        tls.element.unwrap(),
        format!(
            "Hash={};Subject=\"\";URI=;DNS=plain.example",
            sha256_hex(plain.as_ref())
        )
        .as_str()
    );
}

#[test]
fn only_the_writing_modes_on_mutual_tls_make_an_element() {
    let (leaf, _) = cert(&[(DnType::CommonName, "c")], &[]);
    for forward in [
        ForwardClientCert::Sanitize,
        ForwardClientCert::ForwardOnly,
        ForwardClientCert::AlwaysForwardOnly,
    ] {
        let tls = ConnectionTls::new(&[], std::slice::from_ref(&leaf), &mode(forward));
        assert!(tls.mutual);
        assert_eq!(tls.element, None, "{forward:?}");
    }
    let tls = ConnectionTls::new(&[], &[], &mode(ForwardClientCert::SanitizeSet));
    assert!(!tls.mutual);
    assert_eq!(tls.element, None);
}

#[test]
fn sha256_is_lowercase_hex() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn subjects_are_printed_last_rdn_first_with_rfc_2253_escapes() {
    let (der, _) = cert(
        &[
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "Acme, Inc. <R&D>; \"x\" +1"),
            (DnType::OrganizationalUnitName, "#team "),
            (DnType::CommonName, " caf\u{e9}\\"),
        ],
        &[],
    );
    let (_, parsed) = X509Certificate::from_der(der.as_ref()).unwrap();
    assert_eq!(
        rfc2253(parsed.subject()),
        "CN=\\ caf\\C3\\A9\\\\,OU=\\#team\\ ,O=Acme\\, Inc. \\<R&D\\>\\; \\\"x\\\" \\+1,C=US"
    );
}
