//! DestinationRule: what happens to traffic after routing chose a service.
//!
//! A traffic policy appears at four places: for the whole rule, for one port of it, for a
//! subset, and for one port of a subset. Each place has its own lines, so that the docs list
//! every field and a policy can be honoured at one place before the others.

use crate::support::Entry;

pub(super) const FIELDS: &[Entry] = fields! {
    "spec" {
        host                    implemented;
        trafficPolicy           implemented;
        subsets                 implemented;
        exportTo                implemented;
        workloadSelector        implemented
            "a rule with a selector applies to the sidecars and gateways of its own namespace \
             whose labels match, before the namespace's rules without one";
    }
    "spec.workloadSelector" { matchLabels inherit; }
    "spec.subsets" {
        name                    inherit;
        labels                  inherit;
        trafficPolicy           implemented "replaces the rule-wide policy for this subset";
    }

    // The traffic policy of the whole rule.
    "spec.trafficPolicy" {
        loadBalancer            implemented;
        connectionPool          implemented;
        outlierDetection        implemented;
        tls                     implemented
            "SIMPLE and MUTUAL from files or a credentialName (SDS); ISTIO_MUTUAL is not served \
             yet: its clusters get no endpoints, so requests fail rather than leave in plaintext";
        portLevelSettings       implemented;
        tunnel                  not_planned
            "tunnelling through an HTTP CONNECT or POST proxy is not planned";
        proxyProtocol           not_planned
            "sending a PROXY protocol header to the destination is not planned";
        retryBudget             planned "with retries and connection pools";
    }
    "spec.trafficPolicy.retryBudget" { percent inherit; minRetryConcurrency inherit; budgetInterval inherit; }
    "spec.trafficPolicy.retryBudget.percent" { value inherit; }
    "spec.trafficPolicy.loadBalancer" {
        simple                  implemented;
        consistentHash          implemented;
        localityLbSetting       planned
            "after the rest of loadBalancer: it needs the localities of endpoints";
        warmupDurationSecs      not_planned
            "slow start is not planned: a new endpoint gets its full share at once";
        warmup                  not_planned
            "slow start is not planned: a new endpoint gets its full share at once";
    }
    "spec.trafficPolicy.loadBalancer.consistentHash" {
        httpHeaderName          inherit;
        httpCookie              inherit;
        useSourceIp             inherit;
        httpQueryParameterName  inherit;
        ringHash                inherit;
        maglev                  inherit;
        minimumRingSize         implemented
            "deprecated by Istio for ringHash.minimumRingSize, and read when ringHash is unset";
    }
    "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie" {
        name                    inherit;
        path                    inherit;
        ttl                     inherit;
        attributes              inherit;
    }
    "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes" {
        name                    inherit;
        value                   inherit;
    }
    "spec.trafficPolicy.loadBalancer.consistentHash.ringHash" { minimumRingSize inherit; }
    "spec.trafficPolicy.loadBalancer.consistentHash.maglev" { tableSize inherit; }
    "spec.trafficPolicy.loadBalancer.localityLbSetting" {
        distribute              inherit;
        failover                inherit;
        failoverPriority        inherit;
        enabled                 inherit;
    }
    "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute" { from inherit; to inherit; }
    "spec.trafficPolicy.loadBalancer.localityLbSetting.failover" { from inherit; to inherit; }
    "spec.trafficPolicy.loadBalancer.warmup" {
        duration                inherit;
        minimumPercent          inherit;
        aggression              inherit;
    }
    "spec.trafficPolicy.connectionPool" {
        tcp                     implemented;
        http                    implemented;
    }
    "spec.trafficPolicy.connectionPool.tcp" {
        maxConnections          inherit;
        connectTimeout          inherit;
        tcpKeepalive            implemented
            "time and interval are sent in whole seconds, rounded up, at most 32767s; probes at \
             most 127";
        maxConnectionDuration   implemented
            "HTTP connections retire after it, and the TCP proxy to the destination closes a \
             connection open that long (a weighted TCP route takes its first destination's)";
        idleTimeout             implemented
            "closes idle HTTP connections when http.idleTimeout is unset, and is the idle \
             timeout of the TCP proxy to the destination (1h when unset; a weighted TCP route \
             takes its first destination's); 0s turns it off";
    }
    "spec.trafficPolicy.connectionPool.tcp.tcpKeepalive" {
        probes                  inherit;
        time                    inherit;
        interval                inherit;
    }
    "spec.trafficPolicy.connectionPool.http" {
        http1MaxPendingRequests inherit;
        http2MaxRequests        inherit;
        maxRequestsPerConnection implemented;
        maxRetries              inherit;
        idleTimeout             implemented;
        h2UpgradePolicy         implemented;
        useClientProtocol       implemented;
        maxConcurrentStreams    implemented;
    }
    "spec.trafficPolicy.outlierDetection" {
        splitExternalLocalOriginErrors planned "with consecutiveLocalOriginFailures";
        consecutiveLocalOriginFailures planned
            "mesh-proxy does not tell local-origin failures from the upstream's yet";
        consecutiveGatewayErrors inherit;
        consecutive5xxErrors    inherit;
        consecutiveErrors       not_planned "deprecated by Istio: use consecutive5xxErrors";
        interval                inherit;
        baseEjectionTime        inherit;
        maxEjectionPercent      inherit;
        minHealthPercent        implemented;
    }
    "spec.trafficPolicy.tls" {
        mode                    inherit;
        clientCertificate       inherit;
        privateKey              inherit;
        caCertificates          inherit;
        credentialName          implemented
            "served over SDS (ADS) from the Secret of that name in the proxy's own namespace: \
             kubernetes://<name> for MUTUAL's client certificate, kubernetes://<name>-cacert for \
             the CA; the cluster warms until they resolve";
        subjectAltNames         inherit;
        sni                     inherit;
        insecureSkipVerify      inherit;
        caCrl                   planned
            "mesh-proxy does not check revocation lists yet: a revoked server certificate is \
             accepted";
    }
    "spec.trafficPolicy.tunnel" { protocol inherit; targetHost inherit; targetPort inherit; }
    "spec.trafficPolicy.proxyProtocol" { version inherit; }

    // The traffic policy of the whole rule, for one port.
    "spec.trafficPolicy.portLevelSettings" {
        port                    inherit;
        loadBalancer            implemented;
        connectionPool          implemented;
        outlierDetection        implemented;
        tls                     implemented
            "SIMPLE and MUTUAL from files or a credentialName (SDS); ISTIO_MUTUAL is not served \
             yet: its clusters get no endpoints, so requests fail rather than leave in plaintext";
    }
    "spec.trafficPolicy.portLevelSettings.port" { number inherit; }
    "spec.trafficPolicy.portLevelSettings.loadBalancer" {
        simple                  implemented;
        consistentHash          implemented;
        localityLbSetting       planned
            "after the rest of loadBalancer: it needs the localities of endpoints";
        warmupDurationSecs      not_planned
            "slow start is not planned: a new endpoint gets its full share at once";
        warmup                  not_planned
            "slow start is not planned: a new endpoint gets its full share at once";
    }
    "spec.trafficPolicy.portLevelSettings.loadBalancer.consistentHash" {
        httpHeaderName          inherit;
        httpCookie              inherit;
        useSourceIp             inherit;
        httpQueryParameterName  inherit;
        ringHash                inherit;
        maglev                  inherit;
        minimumRingSize         implemented
            "deprecated by Istio for ringHash.minimumRingSize, and read when ringHash is unset";
    }
    "spec.trafficPolicy.portLevelSettings.loadBalancer.consistentHash.httpCookie" {
        name                    inherit;
        path                    inherit;
        ttl                     inherit;
        attributes              inherit;
    }
    "spec.trafficPolicy.portLevelSettings.loadBalancer.consistentHash.httpCookie.attributes" {
        name                    inherit;
        value                   inherit;
    }
    "spec.trafficPolicy.portLevelSettings.loadBalancer.consistentHash.ringHash" {
        minimumRingSize         inherit;
    }
    "spec.trafficPolicy.portLevelSettings.loadBalancer.consistentHash.maglev" { tableSize inherit; }
    "spec.trafficPolicy.portLevelSettings.loadBalancer.localityLbSetting" {
        distribute              inherit;
        failover                inherit;
        failoverPriority        inherit;
        enabled                 inherit;
    }
    "spec.trafficPolicy.portLevelSettings.loadBalancer.localityLbSetting.distribute" {
        from                    inherit;
        to                      inherit;
    }
    "spec.trafficPolicy.portLevelSettings.loadBalancer.localityLbSetting.failover" {
        from                    inherit;
        to                      inherit;
    }
    "spec.trafficPolicy.portLevelSettings.loadBalancer.warmup" {
        duration                inherit;
        minimumPercent          inherit;
        aggression              inherit;
    }
    "spec.trafficPolicy.portLevelSettings.connectionPool" {
        tcp                     implemented;
        http                    implemented;
    }
    "spec.trafficPolicy.portLevelSettings.connectionPool.tcp" {
        maxConnections          inherit;
        connectTimeout          inherit;
        tcpKeepalive            implemented
            "time and interval are sent in whole seconds, rounded up, at most 32767s; probes at \
             most 127";
        maxConnectionDuration   implemented
            "HTTP connections retire after it, and the TCP proxy to the destination closes a \
             connection open that long (a weighted TCP route takes its first destination's)";
        idleTimeout             implemented
            "closes idle HTTP connections when http.idleTimeout is unset, and is the idle \
             timeout of the TCP proxy to the destination (1h when unset; a weighted TCP route \
             takes its first destination's); 0s turns it off";
    }
    "spec.trafficPolicy.portLevelSettings.connectionPool.tcp.tcpKeepalive" {
        probes                  inherit;
        time                    inherit;
        interval                inherit;
    }
    "spec.trafficPolicy.portLevelSettings.connectionPool.http" {
        http1MaxPendingRequests inherit;
        http2MaxRequests        inherit;
        maxRequestsPerConnection implemented;
        maxRetries              inherit;
        idleTimeout             implemented;
        h2UpgradePolicy         implemented;
        useClientProtocol       implemented;
        maxConcurrentStreams    implemented;
    }
    "spec.trafficPolicy.portLevelSettings.outlierDetection" {
        splitExternalLocalOriginErrors planned "with consecutiveLocalOriginFailures";
        consecutiveLocalOriginFailures planned
            "mesh-proxy does not tell local-origin failures from the upstream's yet";
        consecutiveGatewayErrors inherit;
        consecutive5xxErrors    inherit;
        consecutiveErrors       not_planned "deprecated by Istio: use consecutive5xxErrors";
        interval                inherit;
        baseEjectionTime        inherit;
        maxEjectionPercent      inherit;
        minHealthPercent        implemented;
    }
    "spec.trafficPolicy.portLevelSettings.tls" {
        mode                    inherit;
        clientCertificate       inherit;
        privateKey              inherit;
        caCertificates          inherit;
        credentialName          implemented
            "served over SDS (ADS) from the Secret of that name in the proxy's own namespace: \
             kubernetes://<name> for MUTUAL's client certificate, kubernetes://<name>-cacert for \
             the CA; the cluster warms until they resolve";
        subjectAltNames         inherit;
        sni                     inherit;
        insecureSkipVerify      inherit;
        caCrl                   planned
            "mesh-proxy does not check revocation lists yet: a revoked server certificate is \
             accepted";
    }

    // The traffic policy of one subset.
    "spec.subsets.trafficPolicy" {
        loadBalancer            implemented;
        connectionPool          implemented;
        outlierDetection        implemented;
        tls                     implemented
            "SIMPLE and MUTUAL from files or a credentialName (SDS); ISTIO_MUTUAL is not served \
             yet: its clusters get no endpoints, so requests fail rather than leave in plaintext";
        portLevelSettings       implemented;
        tunnel                  not_planned
            "tunnelling through an HTTP CONNECT or POST proxy is not planned";
        proxyProtocol           not_planned
            "sending a PROXY protocol header to the destination is not planned";
        retryBudget             planned "with retries and connection pools";
    }
    "spec.subsets.trafficPolicy.retryBudget" { percent inherit; minRetryConcurrency inherit; budgetInterval inherit; }
    "spec.subsets.trafficPolicy.retryBudget.percent" { value inherit; }
    "spec.subsets.trafficPolicy.loadBalancer" {
        simple                  implemented;
        consistentHash          implemented;
        localityLbSetting       planned
            "after the rest of loadBalancer: it needs the localities of endpoints";
        warmupDurationSecs      not_planned
            "slow start is not planned: a new endpoint gets its full share at once";
        warmup                  not_planned
            "slow start is not planned: a new endpoint gets its full share at once";
    }
    "spec.subsets.trafficPolicy.loadBalancer.consistentHash" {
        httpHeaderName          inherit;
        httpCookie              inherit;
        useSourceIp             inherit;
        httpQueryParameterName  inherit;
        ringHash                inherit;
        maglev                  inherit;
        minimumRingSize         implemented
            "deprecated by Istio for ringHash.minimumRingSize, and read when ringHash is unset";
    }
    "spec.subsets.trafficPolicy.loadBalancer.consistentHash.httpCookie" {
        name                    inherit;
        path                    inherit;
        ttl                     inherit;
        attributes              inherit;
    }
    "spec.subsets.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes" {
        name                    inherit;
        value                   inherit;
    }
    "spec.subsets.trafficPolicy.loadBalancer.consistentHash.ringHash" { minimumRingSize inherit; }
    "spec.subsets.trafficPolicy.loadBalancer.consistentHash.maglev" { tableSize inherit; }
    "spec.subsets.trafficPolicy.loadBalancer.localityLbSetting" {
        distribute              inherit;
        failover                inherit;
        failoverPriority        inherit;
        enabled                 inherit;
    }
    "spec.subsets.trafficPolicy.loadBalancer.localityLbSetting.distribute" {
        from                    inherit;
        to                      inherit;
    }
    "spec.subsets.trafficPolicy.loadBalancer.localityLbSetting.failover" {
        from                    inherit;
        to                      inherit;
    }
    "spec.subsets.trafficPolicy.loadBalancer.warmup" {
        duration                inherit;
        minimumPercent          inherit;
        aggression              inherit;
    }
    "spec.subsets.trafficPolicy.connectionPool" {
        tcp                     implemented;
        http                    implemented;
    }
    "spec.subsets.trafficPolicy.connectionPool.tcp" {
        maxConnections          inherit;
        connectTimeout          inherit;
        tcpKeepalive            implemented
            "time and interval are sent in whole seconds, rounded up, at most 32767s; probes at \
             most 127";
        maxConnectionDuration   implemented
            "HTTP connections retire after it, and the TCP proxy to the destination closes a \
             connection open that long (a weighted TCP route takes its first destination's)";
        idleTimeout             implemented
            "closes idle HTTP connections when http.idleTimeout is unset, and is the idle \
             timeout of the TCP proxy to the destination (1h when unset; a weighted TCP route \
             takes its first destination's); 0s turns it off";
    }
    "spec.subsets.trafficPolicy.connectionPool.tcp.tcpKeepalive" {
        probes                  inherit;
        time                    inherit;
        interval                inherit;
    }
    "spec.subsets.trafficPolicy.connectionPool.http" {
        http1MaxPendingRequests inherit;
        http2MaxRequests        inherit;
        maxRequestsPerConnection implemented;
        maxRetries              inherit;
        idleTimeout             implemented;
        h2UpgradePolicy         implemented;
        useClientProtocol       implemented;
        maxConcurrentStreams    implemented;
    }
    "spec.subsets.trafficPolicy.outlierDetection" {
        splitExternalLocalOriginErrors planned "with consecutiveLocalOriginFailures";
        consecutiveLocalOriginFailures planned
            "mesh-proxy does not tell local-origin failures from the upstream's yet";
        consecutiveGatewayErrors inherit;
        consecutive5xxErrors    inherit;
        consecutiveErrors       not_planned "deprecated by Istio: use consecutive5xxErrors";
        interval                inherit;
        baseEjectionTime        inherit;
        maxEjectionPercent      inherit;
        minHealthPercent        implemented;
    }
    "spec.subsets.trafficPolicy.tls" {
        mode                    inherit;
        clientCertificate       inherit;
        privateKey              inherit;
        caCertificates          inherit;
        credentialName          implemented
            "served over SDS (ADS) from the Secret of that name in the proxy's own namespace: \
             kubernetes://<name> for MUTUAL's client certificate, kubernetes://<name>-cacert for \
             the CA; the cluster warms until they resolve";
        subjectAltNames         inherit;
        sni                     inherit;
        insecureSkipVerify      inherit;
        caCrl                   planned
            "mesh-proxy does not check revocation lists yet: a revoked server certificate is \
             accepted";
    }
    "spec.subsets.trafficPolicy.tunnel" {
        protocol                inherit;
        targetHost              inherit;
        targetPort              inherit;
    }
    "spec.subsets.trafficPolicy.proxyProtocol" { version inherit; }

    // The traffic policy of one subset, for one port.
    "spec.subsets.trafficPolicy.portLevelSettings" {
        port                    inherit;
        loadBalancer            implemented;
        connectionPool          implemented;
        outlierDetection        implemented;
        tls                     implemented
            "SIMPLE and MUTUAL from files or a credentialName (SDS); ISTIO_MUTUAL is not served \
             yet: its clusters get no endpoints, so requests fail rather than leave in plaintext";
    }
    "spec.subsets.trafficPolicy.portLevelSettings.port" { number inherit; }
    "spec.subsets.trafficPolicy.portLevelSettings.loadBalancer" {
        simple                  implemented;
        consistentHash          implemented;
        localityLbSetting       planned
            "after the rest of loadBalancer: it needs the localities of endpoints";
        warmupDurationSecs      not_planned
            "slow start is not planned: a new endpoint gets its full share at once";
        warmup                  not_planned
            "slow start is not planned: a new endpoint gets its full share at once";
    }
    "spec.subsets.trafficPolicy.portLevelSettings.loadBalancer.consistentHash" {
        httpHeaderName          inherit;
        httpCookie              inherit;
        useSourceIp             inherit;
        httpQueryParameterName  inherit;
        ringHash                inherit;
        maglev                  inherit;
        minimumRingSize         implemented
            "deprecated by Istio for ringHash.minimumRingSize, and read when ringHash is unset";
    }
    "spec.subsets.trafficPolicy.portLevelSettings.loadBalancer.consistentHash.httpCookie" {
        name                    inherit;
        path                    inherit;
        ttl                     inherit;
        attributes              inherit;
    }
    "spec.subsets.trafficPolicy.portLevelSettings.loadBalancer.consistentHash.httpCookie.attributes" {
        name                    inherit;
        value                   inherit;
    }
    "spec.subsets.trafficPolicy.portLevelSettings.loadBalancer.consistentHash.ringHash" {
        minimumRingSize         inherit;
    }
    "spec.subsets.trafficPolicy.portLevelSettings.loadBalancer.consistentHash.maglev" {
        tableSize               inherit;
    }
    "spec.subsets.trafficPolicy.portLevelSettings.loadBalancer.localityLbSetting" {
        distribute              inherit;
        failover                inherit;
        failoverPriority        inherit;
        enabled                 inherit;
    }
    "spec.subsets.trafficPolicy.portLevelSettings.loadBalancer.localityLbSetting.distribute" {
        from                    inherit;
        to                      inherit;
    }
    "spec.subsets.trafficPolicy.portLevelSettings.loadBalancer.localityLbSetting.failover" {
        from                    inherit;
        to                      inherit;
    }
    "spec.subsets.trafficPolicy.portLevelSettings.loadBalancer.warmup" {
        duration                inherit;
        minimumPercent          inherit;
        aggression              inherit;
    }
    "spec.subsets.trafficPolicy.portLevelSettings.connectionPool" {
        tcp                     implemented;
        http                    implemented;
    }
    "spec.subsets.trafficPolicy.portLevelSettings.connectionPool.tcp" {
        maxConnections          inherit;
        connectTimeout          inherit;
        tcpKeepalive            implemented
            "time and interval are sent in whole seconds, rounded up, at most 32767s; probes at \
             most 127";
        maxConnectionDuration   implemented
            "HTTP connections retire after it, and the TCP proxy to the destination closes a \
             connection open that long (a weighted TCP route takes its first destination's)";
        idleTimeout             implemented
            "closes idle HTTP connections when http.idleTimeout is unset, and is the idle \
             timeout of the TCP proxy to the destination (1h when unset; a weighted TCP route \
             takes its first destination's); 0s turns it off";
    }
    "spec.subsets.trafficPolicy.portLevelSettings.connectionPool.tcp.tcpKeepalive" {
        probes                  inherit;
        time                    inherit;
        interval                inherit;
    }
    "spec.subsets.trafficPolicy.portLevelSettings.connectionPool.http" {
        http1MaxPendingRequests inherit;
        http2MaxRequests        inherit;
        maxRequestsPerConnection implemented;
        maxRetries              inherit;
        idleTimeout             implemented;
        h2UpgradePolicy         implemented;
        useClientProtocol       implemented;
        maxConcurrentStreams    implemented;
    }
    "spec.subsets.trafficPolicy.portLevelSettings.outlierDetection" {
        splitExternalLocalOriginErrors planned "with consecutiveLocalOriginFailures";
        consecutiveLocalOriginFailures planned
            "mesh-proxy does not tell local-origin failures from the upstream's yet";
        consecutiveGatewayErrors inherit;
        consecutive5xxErrors    inherit;
        consecutiveErrors       not_planned "deprecated by Istio: use consecutive5xxErrors";
        interval                inherit;
        baseEjectionTime        inherit;
        maxEjectionPercent      inherit;
        minHealthPercent        implemented;
    }
    "spec.subsets.trafficPolicy.portLevelSettings.tls" {
        mode                    inherit;
        clientCertificate       inherit;
        privateKey              inherit;
        caCertificates          inherit;
        credentialName          implemented
            "served over SDS (ADS) from the Secret of that name in the proxy's own namespace: \
             kubernetes://<name> for MUTUAL's client certificate, kubernetes://<name>-cacert for \
             the CA; the cluster warms until they resolve";
        subjectAltNames         inherit;
        sni                     inherit;
        insecureSkipVerify      inherit;
        caCrl                   planned
            "mesh-proxy does not check revocation lists yet: a revoked server certificate is \
             accepted";
    }
};
