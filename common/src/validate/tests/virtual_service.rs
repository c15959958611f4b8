//! VirtualService: hosts, gateways, delegation, weights, TLS and TCP routes.

use super::check;

#[test]
fn bookinfo_routes_are_valid() {
    check(&[
        (
            r#"VirtualService default/reviews
            hosts: [reviews]
            http:
            - match:
              - headers:
                  end-user: {exact: jason}
              route:
              - destination: {host: reviews, subset: v2}
            - route:
              - destination: {host: reviews, subset: v1}
                weight: 50
              - destination: {host: reviews, subset: v3}
                weight: 50
              timeout: 10s
              retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure,503"}
            "#,
            &[],
        ),
        (
            r#"networking.istio.io/v1beta1 VirtualService default/bookinfo
            hosts: ["*"]
            gateways: [bookinfo-gateway]
            http:
            - match:
              - uri: {exact: /productpage}
              - uri: {prefix: /static}
              - uri: {regex: "^/api/v1/products/[0-9]+$"}
              route:
              - destination:
                  host: productpage
                  port: {number: 9080}
            "#,
            &[],
        ),
    ]);
}

#[test]
fn weights_must_sum_to_100() {
    check(&[
        (
            r#"VirtualService default/reviews
            hosts: [reviews]
            http:
            - match: [{uri: {prefix: /v2}}]
              route: [{destination: {host: reviews, subset: v2}}]
            - route:
              - {destination: {host: reviews, subset: v1}, weight: 50}
              - {destination: {host: reviews, subset: v3}, weight: 40}
            "#,
            &["VirtualService default/reviews: spec.http[1].route: weights sum to 90, must be 100"],
        ),
        (
            r#"VirtualService default/reviews
            hosts: [reviews]
            http:
            - route:
              - {destination: {host: reviews, subset: v1}, weight: 110}
              - {destination: {host: reviews, subset: v3}, weight: -10}
              - {destination: {host: reviews, subset: v2}}
            - route:
              - {destination: {host: reviews, subset: v1}, weight: 30}
            "#,
            &[
                "VirtualService default/reviews: spec.http[0].route[1].weight: weight -10 is negative: use 0 to 100",
                "VirtualService default/reviews: spec.http[0].route[2]: weight is missing: with several destinations, give each a weight (together 100)",
                "VirtualService default/reviews: spec.http[1].route: weights sum to 30, must be 100",
                "warning: VirtualService default/reviews: spec.http[1]: this rule is never used: spec.http[0] before it has no match and takes every request; move the catch-all rule last",
            ],
        ),
    ]);
}

#[test]
fn hosts_and_gateways() {
    check(&[
        (
            r#"VirtualService default/web
            hosts: ["*", "Reviews", "foo.*.com", "*.example.com", "api.example.com", "10.0.0.1"]
            gateways: [mesh, istio-system/ingress, bad_gateway, ingress.istio-system.svc.cluster.local]
            tcp:
            - route: [{destination: {host: web}}]
            "#,
            &[
                "VirtualService default/web: spec.gateways[2]: gateway \"bad_gateway\" is invalid: write \"name\" (this namespace), \"namespace/name\" or \"mesh\"",
                "warning: VirtualService default/web: spec.gateways[3]: gateway \"ingress.istio-system.svc.cluster.local\" uses the legacy name.namespace form: write it as \"istio-system/ingress\"",
                "VirtualService default/web: spec.hosts[0]: host \"*\" cannot be used by the sidecars (mesh): name the hosts, or bind the VirtualService to gateways only",
                "VirtualService default/web: spec.hosts[1]: host \"Reviews\" is invalid: label \"Reviews\" must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit",
                "VirtualService default/web: spec.hosts[2]: host \"foo.*.com\" is invalid: a wildcard must be the whole first label, as in \"*.example.com\"",
            ],
        ),
        (
            r#"VirtualService default/web
            hosts: ["*.example.com", reviews, api.example.com, reviews]
            gateways: [ingress]
            http:
            - route: [{destination: {host: web}}]
            exportTo: [".", "*", default, "Bad_NS"]
            "#,
            &[
                "VirtualService default/web: spec.hosts[2]: host \"api.example.com\" overlaps \"*.example.com\" at spec.hosts[0]: list each host once",
                "VirtualService default/web: spec.hosts[3]: host \"reviews\" is listed twice (also at spec.hosts[1]): remove one",
                "VirtualService default/web: spec.exportTo[2]: \"default\" and \".\" at spec.exportTo[0] both mean this namespace: keep one",
                "VirtualService default/web: spec.exportTo[3]: exportTo value \"Bad_NS\" is invalid: use \".\" (this namespace), \"*\" (every namespace) or a namespace name",
                "VirtualService default/web: spec.exportTo: \"*\" already exports to every namespace: remove the other values",
            ],
        ),
        (
            r#"VirtualService default/empty
            hosts: [reviews]
            "#,
            &[
                "VirtualService default/empty: spec: the VirtualService routes nothing: add http, tls or tcp routes",
            ],
        ),
    ]);
}

#[test]
fn delegates_have_no_hosts_gateways_or_l4_routes() {
    check(&[
        (
            r#"VirtualService default/root
            hosts: [bookinfo.example.com]
            gateways: [ingress]
            http:
            - match: [{uri: {prefix: /reviews}}]
              delegate: {name: reviews, namespace: bookinfo}
            - match: [{uri: {regex: "/ratings/.*"}}]
              delegate: {name: Ratings_VS}
            "#,
            &[
                "VirtualService default/root: spec.http[1].match[0].uri.regex: regex matches cannot be used with delegation: use exact or prefix",
                "VirtualService default/root: spec.http[1].delegate.name: \"Ratings_VS\" is not a VirtualService name",
            ],
        ),
        (
            r#"VirtualService bookinfo/reviews
            gateways: [ingress]
            http:
            - match: [{headers: {x-canary: {regex: "on|yes"}}}]
              route: [{destination: {host: reviews, subset: v2}}]
            - delegate: {name: other}
            tcp:
            - route: [{destination: {host: reviews}}]
            "#,
            &[
                "VirtualService bookinfo/reviews: spec.gateways: a VirtualService without hosts is a delegate and cannot name gateways: add hosts, or remove gateways and delegate to it from a root VirtualService",
                "VirtualService bookinfo/reviews: spec.tcp: a delegate VirtualService (one without hosts) routes HTTP only: add hosts, or move the tcp routes to a VirtualService with hosts",
                "VirtualService bookinfo/reviews: spec.http[0].match[0].headers.x-canary.regex: regex matches cannot be used with delegation: use exact or prefix",
                "VirtualService bookinfo/reviews: spec.http[1].delegate: a delegate VirtualService cannot delegate again: route these requests here",
            ],
        ),
    ]);
}

#[test]
fn tls_routes_need_sni_hosts_of_the_virtual_service() {
    check(&[
        (
            r#"VirtualService default/tls
            hosts: ["*.example.com"]
            gateways: [mesh]
            tls:
            - match:
              - sniHosts: [api.example.com]
                port: 443
              route: [{destination: {host: api.example.com}}]
            "#,
            &[],
        ),
        (
            r#"VirtualService default/tls
            hosts: ["*.example.com"]
            tls:
            - match:
              - sniHosts: [api.other.org, 10.1.2.3]
                destinationSubnets: [10.0.0.0/33, 10.1.0.0/16]
                port: 70000
              - destinationSubnets: [not-an-ip]
              route: []
            - route: [{destination: {host: api.example.com}}]
            "#,
            &[
                "VirtualService default/tls: spec.tls[0].match[0].sniHosts[0]: SNI host \"api.other.org\" is not among the VirtualService's hosts [*.example.com]: add it to spec.hosts",
                "warning: VirtualService default/tls: spec.tls[0].match[0].sniHosts[1]: SNI host \"10.1.2.3\" is an IP address, which clients do not send as SNI: match the address with destinationSubnets instead",
                "VirtualService default/tls: spec.tls[0].match[0].destinationSubnets[0]: \"10.0.0.0/33\" is not a valid CIDR block: the prefix length must be 0 to 32",
                "VirtualService default/tls: spec.tls[0].match[0].port: port 70000 is out of range: use 1 to 65535",
                "VirtualService default/tls: spec.tls[0].match[1].sniHosts: list at least one SNI host, e.g. \"api.example.com\"",
                "VirtualService default/tls: spec.tls[0].match[1].destinationSubnets[0]: \"not-an-ip\" is not an IP address or CIDR block: write it like \"10.1.2.3\" or \"10.1.0.0/16\"",
                "VirtualService default/tls: spec.tls[0].route: add at least one destination",
                "VirtualService default/tls: spec.tls[1].match: add a match with sniHosts: TLS routes are chosen by the SNI the client sends",
            ],
        ),
    ]);
}

#[test]
fn tcp_routes() {
    check(&[(
        r#"VirtualService default/mongo
        hosts: [mongo]
        tcp:
        - match:
          - port: 27017
            sourceSubnet: 10.0.0.0/8
            sourceLabels: {"app.kubernetes.io/name": client, "bad key": x}
            sourceNamespace: Default
          route:
          - {destination: {host: mongo, subset: V1, port: {number: 0}}, weight: 80}
          - {destination: {host: "*"}, weight: 20}
        - route: [{destination: {host: ""}}]
        "#,
        &[
            "VirtualService default/mongo: spec.tcp[0].match[0].sourceLabels.bad key: label key \"bad key\" is invalid: use at most 63 letters, digits, '-', '_' or '.' (starting and ending with a letter or digit), optionally after a DNS prefix like \"app.kubernetes.io/\"",
            "VirtualService default/mongo: spec.tcp[0].match[0].sourceNamespace: sourceNamespace \"Default\" is not a namespace name",
            "warning: VirtualService default/mongo: spec.tcp[0].match[0].sourceSubnet: sourceSubnet is deprecated: match clients with sourceLabels or sourceNamespace instead",
            "VirtualService default/mongo: spec.tcp[0].route[0].destination.subset: subset \"V1\" is invalid: subset names are DNS labels (lowercase letters, digits and '-'), as the DestinationRule declares them",
            "VirtualService default/mongo: spec.tcp[0].route[0].destination.port.number: port 0 is out of range: use 1 to 65535",
            "VirtualService default/mongo: spec.tcp[0].route[1].destination.host: host \"*\" is not a destination: name one service",
            "VirtualService default/mongo: spec.tcp[1].route[0].destination.host: host is empty: name the service to send traffic to, e.g. \"reviews\"",
        ],
    )]);
}
