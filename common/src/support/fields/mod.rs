//! The support table itself: one section per kind, every field of its `spec`.
//!
//! How to read and edit it: each group lists the fields of one object of the schema. A field
//! that is a feature of its own (a match kind, retries, outlier detection) has its own support;
//! a field that is only part of its parent's feature (`uri.exact`, `retries.attempts`) says
//! `inherit`, so that flipping the feature flips its parts with it. When the control plane
//! starts honouring a feature, flip its line to `implemented`; when only part of it lands, flip
//! the feature and mark the missing parts `planned`. A child is never more supported than its
//! parent (a test holds the table to it).
//!
//! A field added to the types in `api/` without a line here fails the completeness test, and a
//! line whose field no longer exists fails it too.

mod destination_rule;
mod security;
mod telemetry;
mod virtual_service;

use super::Entry;
use crate::api::Kind;

/// The sections in the order the docs list them.
pub(super) const SECTIONS: &[(Kind, &[Entry])] = &[
    (Kind::VirtualService, virtual_service::FIELDS),
    (Kind::DestinationRule, destination_rule::FIELDS),
    (Kind::Gateway, GATEWAY),
    (Kind::ServiceEntry, SERVICE_ENTRY),
    (Kind::WorkloadEntry, WORKLOAD_ENTRY),
    (Kind::Sidecar, SIDECAR),
    (Kind::AuthorizationPolicy, security::AUTHORIZATION_POLICY),
    (Kind::PeerAuthentication, security::PEER_AUTHENTICATION),
    (
        Kind::RequestAuthentication,
        security::REQUEST_AUTHENTICATION,
    ),
    (Kind::Telemetry, telemetry::FIELDS),
];

const GATEWAY: &[Entry] = fields! {
    "spec" {
        servers                 implemented;
        selector                implemented;
    }
    "spec.servers" {
        port                    inherit;
        bind                    implemented;
        hosts                   inherit;
        tls                     implemented;
        defaultEndpoint         not_planned
            "Istio ignores it on gateways too: it is for Sidecar ingress listeners";
        name                    inherit;
    }
    "spec.servers.port" {
        number                  inherit;
        protocol                inherit;
        name                    inherit;
        targetPort              not_planned
            "Istio ignores it on gateways too: it is for ServiceEntry ports";
    }
    "spec.servers.tls" {
        httpsRedirect           inherit;
        mode                    inherit
            "SIMPLE, MUTUAL and OPTIONAL_MUTUAL terminate TLS (a chain per server, matched by \
             SNI); PASSTHROUGH routes by SNI; AUTO_PASSTHROUGH forwards TLS untouched to the \
             SNI-DNAT cluster its SNI names (outbound_.<port>_.<subset>_.<host>, every service \
             and subset, without the DestinationRule's tls); ISTIO_MUTUAL servers are left out, \
             and reported";
        serverCertificate       inherit "a file the gateway proxy reads";
        privateKey              inherit "a file the gateway proxy reads";
        caCertificates          inherit
            "a file; verifies client certificates with MUTUAL and OPTIONAL_MUTUAL; with SIMPLE \
             or credentialName it is not used, and reported";
        caCrl                   inherit "a file; with MUTUAL and OPTIONAL_MUTUAL";
        credentialName          inherit
            "a Secret of the gateway's namespace over SDS: kubernetes://<name>, and \
             kubernetes://<name>-cacert to verify clients";
        credentialNames         inherit
            "each a certificate over SDS; the first one's -cacert verifies clients";
        tlsCertificates         planned
            "a server that sets it is left out, and reported: use serverCertificate and \
             privateKey, or credentialName";
        subjectAltNames         inherit
            "required of client certificates (as DNS, URI, email or IP SAN) with MUTUAL and \
             OPTIONAL_MUTUAL; with SIMPLE it is not used, and reported";
        verifyCertificateSpki   inherit
            "pins client certificates with MUTUAL and OPTIONAL_MUTUAL; with SIMPLE it is not \
             used, and reported";
        verifyCertificateHash   inherit
            "pins client certificates with MUTUAL and OPTIONAL_MUTUAL; with SIMPLE it is not \
             used, and reported";
        minProtocolVersion      inherit
            "Envoy honours TLS 1.0 to 1.3; mesh-proxy speaks 1.2 and 1.3";
        maxProtocolVersion      inherit
            "Envoy honours TLS 1.0 to 1.3; mesh-proxy speaks 1.2 and 1.3";
        cipherSuites            inherit
            "the suites validation knows (others are left out, as it warns), and BoringSSL's \
             -, + and ! operators";
    }
    "spec.servers.tls.tlsCertificates" {
        serverCertificate       inherit;
        privateKey              inherit;
        caCertificates          inherit;
    }
};

const SERVICE_ENTRY: &[Entry] = fields! {
    "spec" {
        hosts                   implemented;
        addresses               implemented;
        ports                   implemented;
        location                planned
            "with mutual TLS between sidecars, which MESH_EXTERNAL turns off";
        resolution              implemented
            "STATIC; with NONE, traffic goes to the passthrough cluster; DNS gets no cluster yet";
        endpoints               implemented;
        workloadSelector        implemented;
        exportTo                implemented;
        subjectAltNames         planned "with workload identity";
    }
    "spec.ports" { number inherit; protocol inherit; name inherit; targetPort inherit; }
    "spec.endpoints" {
        address                 inherit;
        ports                   inherit;
        labels                  inherit;
        network                 not_planned
            "mesh.rs runs one network: routing through east-west gateways is not planned";
        locality                planned "with locality-aware load balancing";
        weight                  inherit;
        serviceAccount          planned "with workload identity";
    }
    "spec.workloadSelector" { labels inherit; }
};

const WORKLOAD_ENTRY: &[Entry] = fields! {
    "spec" {
        address                 implemented;
        ports                   implemented;
        labels                  implemented;
        network                 not_planned
            "mesh.rs runs one network: routing through east-west gateways is not planned";
        locality                planned "with locality-aware load balancing";
        weight                  implemented;
        serviceAccount          planned "with workload identity";
    }
};

const SIDECAR: &[Entry] = fields! {
    "spec" {
        workloadSelector        implemented;
        ingress                 implemented
            "the workload's inbound ports become the listeners' ports, each to its defaultEndpoint";
        egress                  implemented;
        inboundConnectionPool   implemented
            "as a DestinationRule's connectionPool, on every inbound cluster whose ingress \
             listener sets none";
        outboundTrafficPolicy   implemented
            "overrides the mesh config's for the workloads the Sidecar applies to";
    }
    "spec.workloadSelector" { labels inherit; }
    "spec.ingress" {
        port                    inherit;
        bind                    not_planned
            "inbound listeners serve the captured port on every address";
        captureMode             not_planned "mesh.rs captures traffic with iptables only";
        defaultEndpoint         inherit
            "127.0.0.1, [::1], 0.0.0.0 (the workload's address), [::] ports, or unset (the \
             address the client dialled); a unix:// socket is reported and its port not served";
        tls                     not_planned
            "terminate TLS at a Gateway; traffic between sidecars is mutual TLS already";
        connectionPool          implemented
            "as a DestinationRule's connectionPool, on this port's inbound cluster";
    }
    "spec.ingress.port" { number inherit; protocol inherit; name inherit; targetPort inherit; }
    "spec.ingress.tls" {
        httpsRedirect           inherit;
        mode                    inherit;
        serverCertificate       inherit;
        privateKey              inherit;
        caCertificates          inherit;
        caCrl                   inherit;
        credentialName          inherit;
        credentialNames         inherit;
        tlsCertificates         inherit;
        subjectAltNames         inherit;
        verifyCertificateSpki   inherit;
        verifyCertificateHash   inherit;
        minProtocolVersion      inherit;
        maxProtocolVersion      inherit;
        cipherSuites            inherit;
    }
    "spec.ingress.tls.tlsCertificates" {
        serverCertificate       inherit;
        privateKey              inherit;
        caCertificates          inherit;
    }
    "spec.ingress.connectionPool" { tcp inherit; http inherit; }
    "spec.ingress.connectionPool.tcp" {
        maxConnections          inherit;
        connectTimeout          inherit;
        tcpKeepalive            inherit;
        maxConnectionDuration   inherit;
        idleTimeout             inherit;
    }
    "spec.ingress.connectionPool.tcp.tcpKeepalive" {
        probes                  inherit;
        time                    inherit;
        interval                inherit;
    }
    "spec.ingress.connectionPool.http" {
        http1MaxPendingRequests inherit;
        http2MaxRequests        inherit;
        maxRequestsPerConnection inherit;
        maxRetries              inherit;
        idleTimeout             inherit;
        h2UpgradePolicy         not_planned "Istio upgrades outbound connections only";
        useClientProtocol       inherit;
        maxConcurrentStreams    inherit;
    }
    "spec.egress" {
        port                    implemented
            "its hosts apply to that port only; it gets no listener of its own";
        bind                    not_planned "outbound traffic is captured on every address";
        captureMode             not_planned "mesh.rs captures traffic with iptables only";
        hosts                   implemented;
    }
    "spec.egress.port" {
        number                  inherit;
        protocol                not_planned "a port's protocol is its service's";
        name                    not_planned "a port's protocol is its service's";
        targetPort              not_planned "Istio reads it for ServiceEntry ports only";
    }
    "spec.inboundConnectionPool" { tcp inherit; http inherit; }
    "spec.inboundConnectionPool.tcp" {
        maxConnections          inherit;
        connectTimeout          inherit;
        tcpKeepalive            inherit;
        maxConnectionDuration   inherit;
        idleTimeout             inherit;
    }
    "spec.inboundConnectionPool.tcp.tcpKeepalive" {
        probes                  inherit;
        time                    inherit;
        interval                inherit;
    }
    "spec.inboundConnectionPool.http" {
        http1MaxPendingRequests inherit;
        http2MaxRequests        inherit;
        maxRequestsPerConnection inherit;
        maxRetries              inherit;
        idleTimeout             inherit;
        h2UpgradePolicy         not_planned "Istio upgrades outbound connections only";
        useClientProtocol       inherit;
        maxConcurrentStreams    inherit;
    }
    "spec.outboundTrafficPolicy" {
        mode                    inherit;
        egressProxy             implemented
            "traffic to unknown hosts goes to its outbound cluster; when the proxy has no such \
             cluster, that traffic is refused and the proxy's warnings say why";
    }
    "spec.outboundTrafficPolicy.egressProxy" { host inherit; subset inherit; port inherit; }
    "spec.outboundTrafficPolicy.egressProxy.port" { number inherit; }
};
