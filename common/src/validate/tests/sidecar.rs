//! Sidecar: ingress and egress listeners, hosts, outbound traffic policy.

use super::check;

#[test]
fn valid_sidecars() {
    check(&[(
        r#"Sidecar bookinfo/ratings
        ingress:
        - port: {number: 9080, protocol: HTTP, name: http}
          defaultEndpoint: 127.0.0.1:8080
        - port: {number: 9443, protocol: HTTPS, name: https}
          defaultEndpoint: "[::1]:8443"
          tls: {mode: SIMPLE, serverCertificate: /etc/cert.pem, privateKey: /etc/key.pem}
        - port: {number: 9090, protocol: GRPC, name: grpc}
          defaultEndpoint: unix:///var/run/app.sock
        egress:
        - port: {number: 3306, protocol: MYSQL, name: mysql}
          hosts: ["*/mysql.example.com"]
        - hosts: ["./*", "istio-system/*", "~/*"]
        outboundTrafficPolicy:
          mode: ALLOW_ANY
          egressProxy: {host: egress.example.com, port: {number: 3128}}
        "#,
        &[
            "warning: Sidecar bookinfo/ratings: spec.ingress[2].defaultEndpoint: mesh-proxy cannot forward to a unix socket, so port 9090 will not be served: forward to 127.0.0.1:PORT instead",
        ],
    )]);
}

#[test]
fn listeners_and_hosts() {
    check(&[
        (
            r#"Sidecar bookinfo/default"#,
            &[
                "Sidecar bookinfo/default: spec: the Sidecar configures nothing: set egress, ingress, outboundTrafficPolicy or inboundConnectionPool",
            ],
        ),
        (
            r#"Sidecar bookinfo/bad
            workloadSelector: {}
            ingress:
            - port: {number: 9080, protocol: HTTP, targetPort: 8080}
              defaultEndpoint: 10.0.0.1:8080
              bind: not-an-ip
            - port: {number: 9080, protocol: TCP}
              defaultEndpoint: "127.0.0.1:http"
              tls: {mode: ISTIO_MUTUAL, credentialName: cert}
              connectionPool: {http: {maxRetries: 3}}
            egress:
            - hosts: ["./*"]
            - port: {number: 80, protocol: HTTP}
              hosts: [reviews.bookinfo.svc.cluster.local, "Bad/*", "./reviews", "./*", "./*"]
            - port: {number: 80, protocol: HTTP}
              hosts: []
            - port: {number: 0}
              bind: 127.0.0.1
              captureMode: IPTABLES
              hosts: ["*/*"]
            - hosts: ["*/*"]
            "#,
            &[
                "warning: Sidecar bookinfo/bad: spec.workloadSelector: the selector has no labels, so it selects every workload of the namespace: add labels or remove the selector",
                "Sidecar bookinfo/bad: spec.ingress[0].port.targetPort: targetPort has no effect on Sidecars: remove it",
                "Sidecar bookinfo/bad: spec.ingress[0].bind: bind \"not-an-ip\" is not an IP address, e.g. \"127.0.0.1\"",
                "Sidecar bookinfo/bad: spec.ingress[0].defaultEndpoint: defaultEndpoint \"10.0.0.1:8080\" is invalid: write 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix:///path",
                "Sidecar bookinfo/bad: spec.ingress[1].defaultEndpoint: defaultEndpoint \"127.0.0.1:http\" is invalid: write 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix:///path",
                "Sidecar bookinfo/bad: spec.ingress[1].tls.credentialName: credentialName is not supported on sidecar ingress listeners: remove it",
                "Sidecar bookinfo/bad: spec.ingress[1].tls.mode: mode ISTIO_MUTUAL cannot be used on sidecar ingress listeners: use SIMPLE or MUTUAL (mesh mTLS is set by PeerAuthentication)",
                "Sidecar bookinfo/bad: spec.ingress[1].tls: ISTIO_MUTUAL uses the mesh's own certificates: remove credentialName (or use mode MUTUAL)",
                "warning: Sidecar bookinfo/bad: spec.ingress[1].connectionPool.http: port 9080 is not HTTP (protocol \"TCP\"), so only the tcp settings apply: remove http or set an HTTP protocol",
                "Sidecar bookinfo/bad: spec.ingress[1].port.number: port 9080 is already used by spec.ingress[0]: give each ingress listener its own port",
                "Sidecar bookinfo/bad: spec.egress[0]: the egress listener without port catches all other traffic and must come last: move it to the end",
                "Sidecar bookinfo/bad: spec.egress[1].hosts[0]: host \"reviews.bookinfo.svc.cluster.local\" must be written namespace/dnsName: e.g. \"./reviews.bookinfo.svc.cluster.local\" (this namespace) or \"*/reviews.bookinfo.svc.cluster.local\" (any namespace)",
                "Sidecar bookinfo/bad: spec.egress[1].hosts[1]: host \"Bad/*\" is invalid: namespace \"Bad\" must be \"*\", \".\" or a namespace name",
                "Sidecar bookinfo/bad: spec.egress[1].hosts[2]: host \"./reviews\" uses the short name \"reviews\": write the full name, e.g. \"reviews.default.svc.cluster.local\"",
                "warning: Sidecar bookinfo/bad: spec.egress[1].hosts[4]: host \"./*\" is listed twice: remove one",
                "Sidecar bookinfo/bad: spec.egress[2].port.number: port 80 already has an egress listener: merge them",
                "Sidecar bookinfo/bad: spec.egress[2].hosts: list at least one host, e.g. \"./*\" (this namespace) or \"istio-system/*\"",
                "Sidecar bookinfo/bad: spec.egress[3].bind: a listener with port 0 must bind a unix socket: write bind: unix:///path, or set a port",
                "Sidecar bookinfo/bad: spec.egress[3].captureMode: unix socket listeners cannot capture traffic: use captureMode DEFAULT or NONE",
                "Sidecar bookinfo/bad: spec.egress[4]: only one egress listener may leave out port: merge the hosts of the listeners without a port",
            ],
        ),
        (
            r#"Sidecar bookinfo/egress
            outboundTrafficPolicy:
              mode: REGISTRY_ONLY
              egressProxy: {host: egress.example.com, port: {number: 3128}}
            "#,
            &[
                "Sidecar bookinfo/egress: spec.outboundTrafficPolicy.egressProxy: egressProxy applies only with mode ALLOW_ANY: set mode: ALLOW_ANY or remove egressProxy",
            ],
        ),
        (
            r#"Sidecar bookinfo/egress
            inboundConnectionPool: {tcp: {idleTimeout: 1h}}
            outboundTrafficPolicy:
              mode: ALLOW_ANY
              egressProxy: {host: "*.example.com"}
            "#,
            &[
                "Sidecar bookinfo/egress: spec.outboundTrafficPolicy.egressProxy.host: host \"*.example.com\" cannot have a wildcard here: name one host",
                "Sidecar bookinfo/egress: spec.outboundTrafficPolicy.egressProxy.port: set the egress proxy's port, e.g. port: {number: 3128}",
            ],
        ),
    ]);
}
