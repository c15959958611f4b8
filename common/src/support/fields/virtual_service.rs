//! VirtualService: how requests to a host are routed.

use crate::support::Entry;

pub(super) const FIELDS: &[Entry] = fields! {
    "spec" {
        hosts                   implemented;
        gateways                implemented;
        http                    implemented;
        tls                     implemented;
        tcp                     implemented;
        exportTo                implemented;
    }
    "spec.http" {
        name                    implemented;
        match                   implemented;
        route                   implemented;
        redirect                implemented;
        directResponse          implemented;
        delegate                implemented
            "one level, merged as Istio merges it; a delegation that cannot be followed, or a delegate rule outside its root's match, is left out and reported";
        rewrite                 implemented;
        timeout                 implemented;
        retries                 implemented;
        fault                   implemented;
        mirror                  implemented;
        mirrors                 implemented;
        mirrorPercent           implemented "deprecated by Istio: use mirrorPercentage";
        mirrorPercentage        implemented;
        corsPolicy              implemented;
        headers                 implemented;
    }
    "spec.http.match" {
        name                    implemented;
        uri                     implemented;
        scheme                  implemented;
        method                  implemented;
        authority               implemented;
        headers                 implemented;
        port                    implemented;
        sourceLabels            implemented
            "as Istio: a match that lists gateways applies to them whatever its sourceLabels";
        gateways                implemented;
        queryParams             implemented;
        ignoreUriCase           implemented;
        withoutHeaders          implemented;
        sourceNamespace         implemented;
        statPrefix              not_planned
            "mesh.rs reports Istio's standard metrics, not per-route Envoy statistics";
    }
    "spec.http.match.uri"       { exact inherit; prefix inherit; regex inherit; }
    "spec.http.match.scheme"    { exact inherit; prefix inherit; regex inherit; }
    "spec.http.match.method"    { exact inherit; prefix inherit; regex inherit; }
    "spec.http.match.authority" { exact inherit; prefix inherit; regex inherit; }
    "spec.http.route" {
        destination             inherit;
        weight                  implemented;
        headers                 implemented;
    }
    "spec.http.route.destination" { host inherit; subset inherit; port inherit; }
    "spec.http.route.destination.port" { number inherit; }
    "spec.http.route.headers" { request inherit; response inherit; }
    "spec.http.route.headers.request"  { set inherit; add inherit; remove inherit; }
    "spec.http.route.headers.response" { set inherit; add inherit; remove inherit; }
    "spec.http.redirect" {
        uri                     inherit;
        authority               inherit;
        port                    inherit;
        derivePort              inherit;
        scheme                  inherit;
        redirectCode            inherit;
    }
    "spec.http.directResponse" { status inherit; body inherit; }
    "spec.http.directResponse.body" { string inherit; bytes inherit; }
    "spec.http.delegate" { name inherit; namespace inherit; }
    "spec.http.rewrite" { uri inherit; authority inherit; uriRegexRewrite inherit; }
    "spec.http.rewrite.uriRegexRewrite" { match inherit; rewrite inherit; }
    "spec.http.retries" {
        attempts                inherit;
        perTryTimeout           inherit;
        retryOn                 inherit;
        retryRemoteLocalities   planned "with locality-aware load balancing";
        backoff                 inherit;
    }
    "spec.http.fault" { delay inherit; abort inherit; }
    "spec.http.fault.delay" {
        fixedDelay              inherit;
        exponentialDelay        not_planned "Istio does not implement it either";
        percentage              inherit;
        percent                 implemented "deprecated by Istio: use percentage";
    }
    "spec.http.fault.delay.percentage" { value inherit; }
    "spec.http.fault.abort" {
        httpStatus              inherit;
        grpcStatus              inherit;
        http2Error              not_planned "Istio does not implement it either";
        percentage              inherit;
    }
    "spec.http.fault.abort.percentage" { value inherit; }
    "spec.http.mirror" { host inherit; subset inherit; port inherit; }
    "spec.http.mirror.port" { number inherit; }
    "spec.http.mirrors" { destination inherit; percentage inherit; }
    "spec.http.mirrors.destination" { host inherit; subset inherit; port inherit; }
    "spec.http.mirrors.destination.port" { number inherit; }
    "spec.http.mirrors.percentage" { value inherit; }
    "spec.http.mirrorPercentage" { value inherit; }
    "spec.http.corsPolicy" {
        allowOrigins            inherit;
        allowOrigin             implemented "deprecated by Istio: use allowOrigins";
        allowMethods            inherit;
        allowHeaders            inherit;
        exposeHeaders           inherit;
        maxAge                  inherit;
        allowCredentials        inherit;
        unmatchedPreflights     inherit;
    }
    "spec.http.corsPolicy.allowOrigins" { exact inherit; prefix inherit; regex inherit; }
    "spec.http.headers" { request inherit; response inherit; }
    "spec.http.headers.request"  { set inherit; add inherit; remove inherit; }
    "spec.http.headers.response" { set inherit; add inherit; remove inherit; }
    "spec.tls" { match inherit; route inherit; }
    "spec.tls.match" {
        sniHosts                inherit;
        destinationSubnets      planned;
        port                    inherit;
        sourceLabels            inherit;
        gateways                inherit;
        sourceNamespace         inherit;
    }
    "spec.tls.route" { destination inherit; weight inherit; }
    "spec.tls.route.destination" { host inherit; subset inherit; port inherit; }
    "spec.tls.route.destination.port" { number inherit; }
    "spec.tcp" { match inherit; route inherit; }
    "spec.tcp.match" {
        destinationSubnets      planned;
        port                    inherit;
        sourceSubnet            not_planned
            "deprecated by Istio: match client addresses with an AuthorizationPolicy's ipBlocks";
        sourceLabels            inherit;
        gateways                inherit;
        sourceNamespace         inherit;
    }
    "spec.tcp.route" { destination inherit; weight inherit; }
    "spec.tcp.route.destination" { host inherit; subset inherit; port inherit; }
    "spec.tcp.route.destination.port" { number inherit; }
};
