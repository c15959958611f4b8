//! DestinationRule: host, subsets, traffic policies, exportTo.

use super::check;

#[test]
fn bookinfo_rules_are_valid() {
    check(&[(
        r#"DestinationRule default/reviews
        host: reviews
        trafficPolicy:
          loadBalancer: {simple: LEAST_REQUEST}
          connectionPool:
            tcp: {maxConnections: 100, connectTimeout: 30ms}
            http: {http1MaxPendingRequests: 10, maxRequestsPerConnection: 1, idleTimeout: 1m}
          outlierDetection: {consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m, maxEjectionPercent: 50}
          tls: {mode: ISTIO_MUTUAL}
          portLevelSettings:
          - port: {number: 9080}
            loadBalancer:
              consistentHash:
                httpCookie: {name: user, ttl: 0s}
                ringHash: {minimumRingSize: 1024}
        subsets:
        - name: v1
          labels: {version: v1}
        - name: v2
          labels: {version: v2}
          trafficPolicy:
            loadBalancer:
              consistentHash: {useSourceIp: true, maglev: {tableSize: 65537}}
        exportTo: ["."]
        "#,
        &[
            "warning: DestinationRule default/reviews: spec.trafficPolicy.tls.mode: ISTIO_MUTUAL is not served yet (workloads have no mesh certificates yet): the clusters of this policy get no endpoints, so their requests fail (503) rather than leave in plaintext",
        ],
    )]);
}

#[test]
fn host_and_subsets() {
    check(&[(
        r#"DestinationRule default/reviews
        host: "reviews_svc"
        subsets:
        - name: v1
          labels: {version: v1}
        - name: v1
          labels: {version: "*"}
        - name: V2
        - name: ""
          trafficPolicy: {}
        workloadSelector: {matchLabels: {}}
        exportTo: [".", other]
        "#,
        &[
            "DestinationRule default/reviews: spec.host: host \"reviews_svc\" is invalid: label \"reviews_svc\" must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit",
            "DestinationRule default/reviews: spec.subsets[1].name: subset \"v1\" is already defined at spec.subsets[0]: rename one",
            "DestinationRule default/reviews: spec.subsets[1].labels.version: label version=* has a '*': labels match exactly, list the values instead",
            "DestinationRule default/reviews: spec.subsets[2].name: subset name \"V2\" is invalid: use a DNS label (lowercase letters, digits and '-')",
            "DestinationRule default/reviews: spec.subsets[3].name: name the subset, e.g. \"v1\"",
            "DestinationRule default/reviews: spec.subsets[3].trafficPolicy: trafficPolicy is empty: set loadBalancer, connectionPool, outlierDetection, tls, portLevelSettings, tunnel, proxyProtocol or retryBudget, or remove it",
            "DestinationRule default/reviews: spec.exportTo: a DestinationRule with a workloadSelector applies only in its own namespace: set exportTo to [\".\"] or remove it",
            "warning: DestinationRule default/reviews: spec.workloadSelector: the selector has no labels, so it selects every workload of the namespace: add labels or remove the selector",
        ],
    )]);
}

#[test]
fn load_balancers() {
    check(&[(
        r#"DestinationRule default/ratings
        host: ratings.default.svc.cluster.local
        trafficPolicy:
          loadBalancer:
            simple: ROUND_ROBIN
            consistentHash:
              httpHeaderName: x-user
              useSourceIp: true
              minimumRingSize: 1024
              ringHash: {minimumRingSize: 2048}
              maglev: {tableSize: 65536}
            localityLbSetting:
              distribute:
              - from: us-west/zone1/*
                to: {"us-west/zone1/*": 80, "us-west/zone2/*": 30}
              failover:
              - {from: us-east, to: us-east}
          portLevelSettings:
          - loadBalancer:
              consistentHash: {}
          - port: {number: 9080}
          - port: {number: 9080}
            tls: {mode: SIMPLE}
        "#,
        &[
            "DestinationRule default/ratings: spec.trafficPolicy.loadBalancer: set at most one of simple and consistentHash",
            "DestinationRule default/ratings: spec.trafficPolicy.loadBalancer.consistentHash: set only one consistentHash key (found httpHeaderName and useSourceIp)",
            "DestinationRule default/ratings: spec.trafficPolicy.loadBalancer.consistentHash: set at most one of ringHash and maglev",
            "warning: DestinationRule default/ratings: spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize: minimumRingSize is deprecated here: use ringHash.minimumRingSize",
            "DestinationRule default/ratings: spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize: minimumRingSize conflicts with ringHash and maglev: move it into ringHash",
            "DestinationRule default/ratings: spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: tableSize 65536 is not prime: Maglev needs a prime such as 65537",
            "DestinationRule default/ratings: spec.trafficPolicy.loadBalancer.localityLbSetting: set at most one of distribute and failover",
            "DestinationRule default/ratings: spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: locality weights sum to 110, must be 100",
            "DestinationRule default/ratings: spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]: failover from and to are the same region: name two regions",
            "warning: DestinationRule default/ratings: spec.trafficPolicy.loadBalancer.localityLbSetting: failover needs outlierDetection to notice unhealthy endpoints: add outlierDetection to this policy",
            "DestinationRule default/ratings: spec.trafficPolicy.portLevelSettings[0].port: name the port these settings apply to, e.g. port: {number: 9080}",
            "DestinationRule default/ratings: spec.trafficPolicy.portLevelSettings[0].loadBalancer.consistentHash: consistentHash needs a key: set one of httpHeaderName, httpCookie, useSourceIp and httpQueryParameterName",
            "DestinationRule default/ratings: spec.trafficPolicy.portLevelSettings[1]: these port settings are empty: set loadBalancer, connectionPool, outlierDetection or tls",
            "DestinationRule default/ratings: spec.trafficPolicy.portLevelSettings[2].port.number: port 9080 already has settings at spec.trafficPolicy.portLevelSettings[1]: merge them",
            "warning: DestinationRule default/ratings: spec.trafficPolicy.portLevelSettings[2].tls.caCertificates: caCertificates is unset: the server's certificate is not verified (Istio verifies it against the system's roots): set caCertificates, or insecureSkipVerify: true to say so",
            "warning: DestinationRule default/ratings: spec.trafficPolicy.portLevelSettings[2].tls.sni: sni is unset: the proxy sends no SNI (Istio sends the request's host on HTTP ports, and checks the server's certificate against it when subjectAltNames is unset): set sni to the name the server expects",
        ],
    )]);
}

#[test]
fn connection_pools_and_outlier_detection() {
    check(&[(
        r#"DestinationRule default/details
        host: details
        trafficPolicy:
          connectionPool:
            tcp: {maxConnections: -1, connectTimeout: "10", tcpKeepalive: {time: 0s}, idleTimeout: 0s}
            http: {maxRetries: -3, h2UpgradePolicy: UPGRADE, useClientProtocol: true, idleTimeout: 0s}
          outlierDetection:
            consecutiveErrors: 5
            consecutiveLocalOriginFailures: 3
            maxEjectionPercent: 150
            interval: 0.5ms
        subsets:
        - name: v1
          trafficPolicy:
            connectionPool: {}
            tunnel: {protocol: GET, targetHost: "bad host", targetPort: 0}
            proxyProtocol: {version: V1}
        - name: v2
          trafficPolicy:
            retryBudget: {percent: {value: 120}, budgetInterval: "10"}
        "#,
        &[
            "DestinationRule default/details: spec.trafficPolicy.connectionPool.http.maxRetries: maxRetries is -3: use 0 or more",
            "DestinationRule default/details: spec.trafficPolicy.connectionPool.http.idleTimeout: duration \"0s\" is too short: use at least 1ms (to turn the idle timeout off, leave this unset and set tcp.idleTimeout: 0s)",
            "DestinationRule default/details: spec.trafficPolicy.connectionPool.http.useClientProtocol: useClientProtocol keeps the client's protocol, h2UpgradePolicy UPGRADE changes it: keep one",
            "DestinationRule default/details: spec.trafficPolicy.connectionPool.tcp.maxConnections: maxConnections is -1: use 0 or more",
            "DestinationRule default/details: spec.trafficPolicy.connectionPool.tcp.connectTimeout: invalid duration \"10\": a number has no unit (write it like \"1.5s\", \"100ms\" or \"1m30s\")",
            "DestinationRule default/details: spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.time: duration \"0s\" is too short: use at least 1ms",
            "DestinationRule default/details: spec.trafficPolicy.outlierDetection.interval: duration \"0.5ms\" is too short: use at least 1ms",
            "warning: DestinationRule default/details: spec.trafficPolicy.outlierDetection.consecutiveErrors: consecutiveErrors is deprecated: use consecutive5xxErrors (or consecutiveGatewayErrors)",
            "DestinationRule default/details: spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures: consecutiveLocalOriginFailures counts only with splitExternalLocalOriginErrors: true; set it",
            "DestinationRule default/details: spec.trafficPolicy.outlierDetection.maxEjectionPercent: maxEjectionPercent is 150: use 0 to 100",
            "DestinationRule default/details: spec.subsets[0].trafficPolicy: set at most one of tunnel and proxyProtocol",
            "DestinationRule default/details: spec.subsets[0].trafficPolicy.connectionPool: connectionPool is empty: set tcp or http",
            "DestinationRule default/details: spec.subsets[0].trafficPolicy.tunnel.protocol: protocol \"GET\" is not a tunnel protocol: use \"CONNECT\" or \"POST\"",
            "DestinationRule default/details: spec.subsets[0].trafficPolicy.tunnel.targetHost: host \"bad host\" is invalid: label \"bad host\" must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit",
            "DestinationRule default/details: spec.subsets[0].trafficPolicy.tunnel.targetPort: port 0 is out of range: use 1 to 65535",
            "DestinationRule default/details: spec.subsets[1].trafficPolicy.retryBudget.percent.value: percentage 120 is out of range: use 0 to 100",
            "DestinationRule default/details: spec.subsets[1].trafficPolicy.retryBudget.budgetInterval: invalid duration \"10\": a number has no unit (write it like \"1.5s\", \"100ms\" or \"1m30s\")",
        ],
    )]);
}

#[test]
fn client_tls() {
    check(&[(
        r#"DestinationRule default/external
        host: api.example.com
        trafficPolicy:
          tls: {mode: MUTUAL, caCertificates: /etc/certs/ca.pem}
          portLevelSettings:
          - port: {number: 443}
            tls: {mode: SIMPLE, credentialName: api-cert, caCertificates: /etc/ca.pem, insecureSkipVerify: true}
          - port: {number: 8443}
            tls: {mode: ISTIO_MUTUAL, clientCertificate: /etc/cert.pem, privateKey: /etc/key.pem}
        subsets:
        # Verified against the CA, with the SNI set: nothing to say.
        - name: v1
          trafficPolicy:
            tls: {mode: SIMPLE, caCertificates: /etc/ca.pem, sni: api.example.com}
        # Not verified, though it names the server.
        - name: v2
          trafficPolicy:
            tls: {mode: SIMPLE, subjectAltNames: [api.example.com], sni: api.example.com}
        # Not verified, on purpose.
        - name: v3
          trafficPolicy:
            tls: {mode: SIMPLE, insecureSkipVerify: true, sni: api.example.com}
        - name: v4
          trafficPolicy:
            tls: {mode: DISABLE}
        "#,
        &[
            "DestinationRule default/external: spec.trafficPolicy.tls.clientCertificate: MUTUAL TLS needs clientCertificate (or credentialName)",
            "DestinationRule default/external: spec.trafficPolicy.tls.privateKey: MUTUAL TLS needs privateKey (or credentialName)",
            "warning: DestinationRule default/external: spec.trafficPolicy.tls.sni: sni is unset: the proxy sends no SNI (Istio sends the request's host on HTTP ports, and checks the server's certificate against it when subjectAltNames is unset): set sni to the name the server expects",
            "DestinationRule default/external: spec.trafficPolicy.portLevelSettings[0].tls.insecureSkipVerify: insecureSkipVerify turns off server verification and would ignore caCertificates and credentialName: remove one or the other",
            "DestinationRule default/external: spec.trafficPolicy.portLevelSettings[0].tls: credentialName already holds the certificates: remove caCertificates",
            "DestinationRule default/external: spec.trafficPolicy.portLevelSettings[1].tls: ISTIO_MUTUAL uses the mesh's own certificates: remove clientCertificate and privateKey (or use mode MUTUAL)",
            "warning: DestinationRule default/external: spec.trafficPolicy.portLevelSettings[1].tls.mode: ISTIO_MUTUAL is not served yet (workloads have no mesh certificates yet): the clusters of this policy get no endpoints, so their requests fail (503) rather than leave in plaintext",
            "warning: DestinationRule default/external: spec.subsets[1].trafficPolicy.tls.caCertificates: caCertificates is unset: the server's certificate is not verified, nor its subjectAltNames (Istio verifies it against the system's roots): set caCertificates, or insecureSkipVerify: true to say so",
        ],
    )]);
}

#[test]
fn tcp_keepalive_is_sent_in_whole_seconds_within_linux_s_bounds() {
    check(&[(
        r#"DestinationRule default/db
        host: db
        trafficPolicy:
          connectionPool:
            tcp: {tcpKeepalive: {time: 1500ms, interval: 10h, probes: 200}}
        subsets:
        - name: v1
          trafficPolicy:
            connectionPool:
              tcp: {tcpKeepalive: {time: 7200s, interval: 75s, probes: 9}}
        "#,
        &[
            "warning: DestinationRule default/db: spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.time: time \"1500ms\" is sent in whole seconds: 2s is used",
            "warning: DestinationRule default/db: spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.interval: interval \"10h\" is longer than 32767s, the most Linux takes: 32767s is used",
            "warning: DestinationRule default/db: spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.probes: probes 200 is more than 127, the most Linux takes: 127 is used",
        ],
    )]);
}
