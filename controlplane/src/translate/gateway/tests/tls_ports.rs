//! Servers that terminate TLS beside others: a TLS server forwarding by its `tcp` route,
//! several TLS servers on one port, and the settings a server leaves aside.

use pretty_assertions::assert_eq;

use super::{
    tls::{context, filter_names, sds, sni},
    *,
};

#[test]
fn a_tls_server_terminates_and_forwards_by_its_tcp_route() {
    let snapshot = snapshot(
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: db, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 5433, name: tls-db, protocol: TLS}
    hosts: [db.example.com]
    tls: {mode: SIMPLE, credentialName: db-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: istio-system}
spec:
  hosts: [db.example.com]
  gateways: [db]
  tcp:
  - route:
    - destination: {host: db.example.com, port: {number: 5432}}
"#,
    );
    let (resources, warnings) = translate(&snapshot, &ingress());
    assert_eq!(warnings, Vec::<String>::new());
    assert_eq!(resources.routes.len(), 0);
    let chain = &resources.listeners[0].filter_chains[0];
    assert_eq!(filter_names(chain), ["envoy.filters.network.tcp_proxy"]);
    assert_eq!(sni(&resources.listeners[0]), vec![vec!["db.example.com"]]);
    let common = context(chain).common_tls_context.unwrap();
    // Not HTTP: no ALPN, whatever the stream carries.
    assert_eq!(common.alpn_protocols, Vec::<String>::new());
    assert_eq!(
        common.tls_certificate_sds_secret_configs,
        vec![sds("kubernetes://db-cert")]
    );
    assert_eq!(common.validation_context_type, None);
}

#[test]
fn tls_servers_share_a_port_by_sni_and_a_taken_name_is_reported() {
    let snapshot = snapshot(
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-shop, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: SIMPLE, credentialName: shop-cert}
  - port: {number: 443, name: tls-pass, protocol: TLS}
    hosts: [pass.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 443, name: https-any, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: default-cert}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: late, namespace: default, creationTimestamp: "2024-02-01T00:00:00Z"}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.com, other.example.com]
    tls: {mode: SIMPLE, credentialName: late-cert}
  - port: {number: 443, name: https-istio, protocol: HTTPS}
    hosts: [mesh.example.com]
    tls: {mode: ISTIO_MUTUAL}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pass, namespace: istio-system}
spec:
  hosts: [pass.example.com]
  gateways: [edge]
  tls:
  - match:
    - sniHosts: [pass.example.com]
    route:
    - destination: {host: pass.example.com, port: {number: 443}}
"#,
    );
    let (resources, warnings) = translate(&snapshot, &ingress());
    assert_eq!(
        warnings,
        vec![
            "Gateway default/late server 1 (port 443 HTTPS): tls mode ISTIO_MUTUAL is not \
             supported yet: it needs the mesh's certificate authority; use MUTUAL with \
             credentialName"
                .to_string(),
            "Gateway default/late server 0 (port 443 HTTPS): host shop.example.com is already \
             served on port 443 by an earlier server"
                .to_string(),
        ]
    );
    assert_eq!(resources.listeners.len(), 1);
    let listener = &resources.listeners[0];
    assert_eq!(
        sni(listener),
        vec![
            vec!["shop.example.com".to_string()],
            vec!["pass.example.com".to_string()],
            vec![],
        ]
    );
    let sockets: Vec<bool> = listener
        .filter_chains
        .iter()
        .map(|c| c.transport_socket.is_some())
        .collect();
    assert_eq!(sockets, [true, false, true]);
    let routes: Vec<&str> = resources.routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        routes,
        [
            "https.443.https-any.edge.istio-system",
            "https.443.https-shop.edge.istio-system"
        ]
    );
}

#[test]
fn settings_a_server_leaves_aside_are_reported() {
    let snapshot = snapshot(
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls:
      mode: SIMPLE
      serverCertificate: /certs/a.pem
      privateKey: /certs/a-key.pem
      caCertificates: /certs/ca.pem
      subjectAltNames: [client]
  - port: {number: 443, name: https-b, protocol: HTTPS}
    hosts: [b.example.com]
    tls:
      mode: MUTUAL
      credentialName: b-cert
      caCertificates: /certs/ca.pem
  - port: {number: 443, name: https-c, protocol: HTTPS}
    hosts: [c.example.com]
    tls:
      mode: SIMPLE
      tlsCertificates:
      - {serverCertificate: /certs/c.pem, privateKey: /certs/c-key.pem}
"#,
    );
    let (resources, warnings) = translate(&snapshot, &ingress());
    assert_eq!(
        warnings,
        vec![
            "Gateway istio-system/web server 0 (port 443 HTTPS): caCertificates, \
             subjectAltNames ignored: tls mode SIMPLE asks clients for no certificate"
                .to_string(),
            "Gateway istio-system/web server 1 (port 443 HTTPS): caCertificates ignored: the \
             certificates come from credentialName"
                .to_string(),
            "Gateway istio-system/web server 2 (port 443 HTTPS): tls.tlsCertificates is not \
             supported yet: use serverCertificate and privateKey, or credentialName"
                .to_string(),
        ]
    );
    assert_eq!(
        sni(&resources.listeners[0]),
        vec![vec!["a.example.com"], vec!["b.example.com"]]
    );
    let a = context(&resources.listeners[0].filter_chains[0]);
    assert_eq!(a.common_tls_context.unwrap().validation_context_type, None);
}
