//! Gateway: servers, ports, hosts and TLS.

use super::check;

#[test]
fn bookinfo_gateway_is_valid() {
    check(&[(
        r#"Gateway default/bookinfo-gateway
        selector: {istio: ingressgateway}
        servers:
        - port: {number: 80, name: http, protocol: HTTP}
          hosts: ["*"]
          tls: {httpsRedirect: true}
        - port: {number: 443, name: https, protocol: HTTPS}
          hosts: ["default/bookinfo.example.com", "*.example.com", "./192.0.2.10"]
          tls: {mode: SIMPLE, credentialName: bookinfo-cert, minProtocolVersion: TLSV1_2}
        - port: {number: 8443, name: mtls, protocol: HTTPS}
          hosts: [bookinfo.example.com]
          tls:
            mode: MUTUAL
            serverCertificate: /etc/certs/cert.pem
            privateKey: /etc/certs/key.pem
            caCertificates: /etc/certs/ca.pem
            cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256, "-AES128-SHA"]
        - port: {number: 15443, name: tls, protocol: TLS}
          hosts: ["*.local"]
          tls: {mode: AUTO_PASSTHROUGH}
        "#,
        &[],
    )]);
}

#[test]
fn servers_ports_and_hosts() {
    check(&[
        (
            r#"Gateway default/my.gateway
            selector: {"istio": "ingress gateway"}
            "#,
            &[
                "Gateway default/my.gateway: metadata.name: gateway name \"my.gateway\" is invalid: VirtualServices refer to gateways as namespace/name, so use a DNS label (lowercase letters, digits and '-', no dots)",
                "Gateway default/my.gateway: spec.servers: add at least one server: the port, protocol and hosts this gateway serves",
                "Gateway default/my.gateway: spec.selector.istio: label value \"ingress gateway\" is invalid: use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            ],
        ),
        (
            r#"Gateway default/edge
            servers:
            - port: {number: 0, name: http, protocol: HTTPX, targetPort: 8080}
              hosts: []
            - port: {number: 8080, name: http, protocol: http}
              hosts: [reviews, "Bad_NS/foo.example.com", "ns/", "*/foo*.example.com"]
              bind: localhost
            - port: {number: 9000, protocol: TCP}
              hosts: ["*"]
              tls: {httpsRedirect: true}
            "#,
            &[
                "Gateway default/edge: spec.servers[0].hosts: list at least one host, e.g. \"*\" or \"bookinfo.example.com\"",
                "Gateway default/edge: spec.servers[0].port.protocol: protocol \"HTTPX\" is not supported: use one of HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, TCP, TLS",
                "Gateway default/edge: spec.servers[0].port.number: port 0 is out of range: use 1 to 65535",
                "Gateway default/edge: spec.servers[0].port.targetPort: targetPort has no effect on gateways: remove it",
                "Gateway default/edge: spec.servers[1].hosts[0]: host \"reviews\" uses the short name \"reviews\": write the full name, e.g. \"reviews.default.svc.cluster.local\"",
                "Gateway default/edge: spec.servers[1].hosts[1]: host \"Bad_NS/foo.example.com\" is invalid: namespace \"Bad_NS\" must be \"*\", \".\" or a namespace name",
                "Gateway default/edge: spec.servers[1].hosts[2]: host \"ns/\" has no host name: write e.g. \"*\" or \"bookinfo.example.com\" after the namespace",
                "Gateway default/edge: spec.servers[1].hosts[3]: host \"foo*.example.com\" is invalid: a wildcard must be the whole first label, as in \"*.example.com\"",
                "Gateway default/edge: spec.servers[1].bind: bind \"localhost\" is not an IP address: write e.g. \"0.0.0.0\" or \"unix:///path\"",
                "Gateway default/edge: spec.servers[1].port.name: port name \"http\" is already used by spec.servers[0]: give each server's port its own name",
                "Gateway default/edge: spec.servers[2].port.name: name the port, e.g. \"http\" (each server's port needs its own name)",
                "Gateway default/edge: spec.servers[2].tls: TCP servers cannot have tls settings: use protocol TLS",
                "warning: Gateway default/edge: spec.servers[2].tls.httpsRedirect: httpsRedirect applies only to HTTP servers, not TCP: remove it",
            ],
        ),
    ]);
}

#[test]
fn server_tls() {
    check(&[(
        r#"Gateway default/secure
        servers:
        - port: {number: 443, name: https, protocol: HTTPS}
          hosts: ["*"]
        - port: {number: 444, name: simple, protocol: HTTPS}
          hosts: ["*"]
          tls:
            mode: SIMPLE
            caCrl: /etc/crl.pem
            minProtocolVersion: TLSV1_3
            maxProtocolVersion: TLSV1_2
        - port: {number: 445, name: mutual, protocol: HTTPS}
          hosts: ["*"]
          tls: {mode: MUTUAL, credentialName: cert, caCrl: /etc/crl.pem, cipherSuites: [NOT-A-CIPHER, AES128-SHA, AES128-SHA]}
        - port: {number: 446, name: istio, protocol: TLS}
          hosts: ["*"]
          tls: {mode: ISTIO_MUTUAL, credentialName: cert, minProtocolVersion: TLSV1_0}
        - port: {number: 447, name: pass, protocol: TLS}
          hosts: ["*"]
          tls: {mode: PASSTHROUGH, serverCertificate: /etc/cert.pem}
        - port: {number: 80, name: http, protocol: HTTP}
          hosts: ["*"]
          tls: {mode: SIMPLE, credentialName: cert}
        - port: {number: 448, name: mutual-files, protocol: HTTPS}
          hosts: ["*"]
          tls: {mode: OPTIONAL_MUTUAL, serverCertificate: /etc/cert.pem}
        "#,
        &[
            "Gateway default/secure: spec.servers[0].tls: HTTPS servers need tls settings: set tls.mode and credentialName",
            "Gateway default/secure: spec.servers[1].tls.minProtocolVersion: minProtocolVersion TLSV1_3 is above maxProtocolVersion TLSV1_2: lower it or raise the maximum",
            "Gateway default/secure: spec.servers[1].tls.serverCertificate: SIMPLE TLS needs serverCertificate, or a credentialName instead of files",
            "Gateway default/secure: spec.servers[1].tls.privateKey: SIMPLE TLS needs privateKey, or a credentialName instead of files",
            "Gateway default/secure: spec.servers[1].tls.caCrl: caCrl applies to client certificates, which SIMPLE TLS does not ask for: use MUTUAL or remove it",
            "warning: Gateway default/secure: spec.servers[2].tls.cipherSuites[0]: cipher suite \"NOT-A-CIPHER\" is unknown and ignored: remove it",
            "warning: Gateway default/secure: spec.servers[2].tls.cipherSuites[2]: cipher suite \"AES128-SHA\" is listed twice: remove one",
            "Gateway default/secure: spec.servers[2].tls.caCrl: caCrl cannot be used with credentialName: put the CRL in the credential",
            "warning: Gateway default/secure: spec.servers[3].tls.minProtocolVersion: the default cipher suites do not work with TLS below 1.2: list cipherSuites that do",
            "Gateway default/secure: spec.servers[3].tls: ISTIO_MUTUAL uses the mesh's own certificates: remove credentialName (or use mode MUTUAL)",
            "warning: Gateway default/secure: spec.servers[4].tls: passthrough does not terminate TLS and ignores serverCertificate: remove the certificate settings, or use mode SIMPLE",
            "Gateway default/secure: spec.servers[5].tls: HTTP servers do not terminate TLS: use protocol HTTPS, or keep only tls.httpsRedirect",
            "Gateway default/secure: spec.servers[6].tls.privateKey: MUTUAL TLS needs privateKey, or a credentialName instead of files",
            "Gateway default/secure: spec.servers[6].tls.caCertificates: MUTUAL TLS needs caCertificates, or a credentialName instead of files",
        ],
    )]);
}
