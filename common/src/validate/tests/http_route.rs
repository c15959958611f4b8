//! VirtualService HTTP rules: actions, matches, redirects, rewrites, retries, faults, mirrors,
//! CORS and header edits.

use super::check;

#[test]
fn a_rule_has_exactly_one_action() {
    check(&[(
        r#"VirtualService default/web
        hosts: [web]
        http:
        - match: [{uri: {prefix: /old}}]
          route: [{destination: {host: web}}]
          redirect: {uri: /new}
          fault: {abort: {httpStatus: 500}}
        - match: [{uri: {prefix: /down}}]
          directResponse: {status: 503, body: {string: "down for maintenance"}}
          rewrite: {uri: /x}
        - match: [{uri: {prefix: /nothing}}]
        - match: [{uri: {prefix: /teapot}}]
          directResponse: {status: 700}
        - route: [{destination: {host: web}}]
        "#,
        &[
            "VirtualService default/web: spec.http[0]: set at most one of route, redirect, directResponse and delegate (found route and redirect)",
            "VirtualService default/web: spec.http[0].fault: fault injection does not apply to a redirect: remove fault, or use route",
            "VirtualService default/web: spec.http[1].rewrite: rewrite does not apply to a directResponse: remove it (a redirect takes its new URI and authority in redirect)",
            "VirtualService default/web: spec.http[2]: the rule does nothing: set one of route, redirect, directResponse and delegate",
            "VirtualService default/web: spec.http[3].directResponse.status: status 700 is out of range: use 200 to 599",
        ],
    )]);
}

#[test]
fn matches() {
    check(&[(
        r#"VirtualService default/web
        hosts: [web]
        http:
        - match:
          - uri: {regex: "a(b"}
            method: {exact: ""}
            headers:
              "x_ok-Header": {exact: ""}
              "bad header": {prefix: a}
              "@request.auth.claims.group": {exact: admins}
            queryParams:
              v: {regex: "["}
            ignoreUriCase: true
            port: 0
          - authority: {prefix: ""}
            ignoreUriCase: true
            gateways: [mesh]
          - uri: {prefix: /api}
            ignoreUriCase: true
          route: [{destination: {host: web}}]
        "#,
        &[
            "VirtualService default/web: spec.http[0].match[0].uri.regex: regex \"a(b\" does not compile: unclosed group",
            "VirtualService default/web: spec.http[0].match[0].method.exact: exact is empty: write a pattern, or remove this match to accept any value",
            "VirtualService default/web: spec.http[0].match[0].headers.@request.auth.claims.group: routing on the JWT claim \"@request.auth.claims.group\" works only on gateways: bind the VirtualService to gateways only, or match a header",
            "VirtualService default/web: spec.http[0].match[0].headers.bad header: header name \"bad header\" is invalid: use letters, digits, '-' and '_'",
            "VirtualService default/web: spec.http[0].match[0].queryParams.v.regex: regex \"[\" does not compile: unclosed character class",
            "VirtualService default/web: spec.http[0].match[0].ignoreUriCase: ignoreUriCase does not apply to regex uri matches: start the regex with \"(?i)\" instead",
            "VirtualService default/web: spec.http[0].match[0].port: port 0 is out of range: use 1 to 65535",
            "VirtualService default/web: spec.http[0].match[1].authority.prefix: prefix is empty: write a pattern, or remove this match to accept any value",
            "warning: VirtualService default/web: spec.http[0].match[1].ignoreUriCase: ignoreUriCase has no effect without a uri match: add uri or remove ignoreUriCase",
        ],
    )]);
}

#[test]
fn string_matches_set_one_pattern_and_empty_means_present() {
    check(&[(
        r#"VirtualService default/web
        hosts: [web]
        http:
        - match:
          - uri: {exact: /a, prefix: /b}
            headers:
              x-present: {}
              x-two: {prefix: a, regex: "a.*"}
            queryParams:
              debug: {}
          - uri: {}
          route: [{destination: {host: web}}]
        "#,
        &[
            "VirtualService default/web: spec.http[0].match[0].uri: set only one of exact, prefix and regex (found exact and prefix)",
            "VirtualService default/web: spec.http[0].match[0].headers.x-two: set only one of exact, prefix and regex (found prefix and regex)",
            "VirtualService default/web: spec.http[0].match[1].uri: set one of exact, prefix or regex, or remove this match to accept any value",
        ],
    )]);
}

#[test]
fn redirects_rewrites_and_timeouts() {
    check(&[(
        r#"VirtualService default/web
        hosts: [web]
        http:
        - match: [{uri: {prefix: /a}}]
          redirect: {redirectCode: 200, scheme: ftp, port: 8443, derivePort: FROM_REQUEST_PORT}
        - match: [{uri: {prefix: /b}}]
          redirect: {}
        - match: [{uri: {prefix: /c}}]
          route: [{destination: {host: web}}]
          rewrite: {uri: /x, uriRegexRewrite: {match: "^/c/(.*", rewrite: ""}}
          timeout: 1x
        - match: [{uri: {prefix: /d}}]
          route: [{destination: {host: web}}]
          rewrite: {}
          timeout: 0s
        - route: [{destination: {host: web}}]
          rewrite: {authority: new.example.com}
          headers:
            request:
              set: {host: other.example.com}
          timeout: 1500us
        "#,
        &[
            "VirtualService default/web: spec.http[0].redirect.redirectCode: redirectCode 200 is not a redirect status: use 301, 302, 303, 307 or 308",
            "VirtualService default/web: spec.http[0].redirect.scheme: scheme \"ftp\" is not supported: use \"http\" or \"https\"",
            "VirtualService default/web: spec.http[0].redirect: set at most one of port and derivePort",
            "VirtualService default/web: spec.http[1].redirect: the redirect changes nothing: set uri, authority, scheme, port or derivePort",
            "VirtualService default/web: spec.http[2].rewrite: set at most one of uri and uriRegexRewrite",
            "VirtualService default/web: spec.http[2].rewrite.uriRegexRewrite.match: regex \"^/c/(.*\" does not compile: unclosed group",
            "VirtualService default/web: spec.http[2].rewrite.uriRegexRewrite.rewrite: rewrite is empty: write the replacement, e.g. \"/v2/\\1\"",
            "VirtualService default/web: spec.http[2].timeout: invalid duration \"1x\": unknown unit (write it like \"1.5s\", \"100ms\" or \"1m30s\")",
            "VirtualService default/web: spec.http[3].rewrite: the rewrite changes nothing: set uri, uriRegexRewrite or authority",
            "VirtualService default/web: spec.http[3].timeout: duration \"0s\" is too short: use at least 1ms",
            "VirtualService default/web: spec.http[4].timeout: duration \"1500us\" is finer than a millisecond: round it to whole milliseconds",
            "VirtualService default/web: spec.http[4].headers.request.set.host: the authority is already set to \"new.example.com\" by spec.http[4].rewrite.authority: set it in one place",
        ],
    )]);
}

#[test]
fn retries_and_faults() {
    check(&[(
        r#"VirtualService default/ratings
        hosts: [ratings]
        http:
        - match: [{uri: {prefix: /a}}]
          route: [{destination: {host: ratings}}]
          retries: {attempts: 0, perTryTimeout: 1s, retryOn: "5xx", backoff: 100ms}
          fault:
            delay: {exponentialDelay: 1s, percentage: {value: 120}}
            abort: {grpcStatus: NOPE, httpStatus: 503}
        - match: [{uri: {prefix: /b}}]
          route: [{destination: {host: ratings}}]
          retries: {attempts: -1, retryOn: "5xx,gateway-eror,503,", backoff: 0s}
          fault:
            delay: {fixedDelay: 5s, percent: 50}
            abort: {percentage: {value: 10}}
        - route: [{destination: {host: ratings}}]
          fault: {}
        "#,
        &[
            "VirtualService default/ratings: spec.http[0].retries.attempts: retries are disabled (attempts is 0): set attempts, or remove perTryTimeout, retryOn and backoff",
            "VirtualService default/ratings: spec.http[0].fault.delay.exponentialDelay: exponentialDelay is not supported: use fixedDelay",
            "VirtualService default/ratings: spec.http[0].fault.delay.percentage.value: percentage 120 is out of range: use 0 to 100",
            "VirtualService default/ratings: spec.http[0].fault.abort: set only one of httpStatus, grpcStatus and http2Error",
            "VirtualService default/ratings: spec.http[0].fault.abort.grpcStatus: grpcStatus \"NOPE\" is not a gRPC status: use a name such as \"UNAVAILABLE\" or \"NOT_FOUND\"",
            "VirtualService default/ratings: spec.http[1].retries.attempts: attempts -1 is negative: use 0 to disable retries",
            "VirtualService default/ratings: spec.http[1].retries.backoff: duration \"0s\" is too short: use at least 1ms",
            "VirtualService default/ratings: spec.http[1].retries.retryOn: retryOn condition \"gateway-eror\" is unknown: use Envoy's conditions (5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, ...) or HTTP status codes, separated by ','",
            "VirtualService default/ratings: spec.http[1].retries.retryOn: retryOn condition \"\" is unknown: use Envoy's conditions (5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, ...) or HTTP status codes, separated by ','",
            "warning: VirtualService default/ratings: spec.http[1].fault.delay.percent: percent is deprecated: use percentage (e.g. percentage: {value: 10})",
            "VirtualService default/ratings: spec.http[1].fault.abort: set httpStatus (or grpcStatus): the error the aborted requests get",
            "VirtualService default/ratings: spec.http[2].fault: fault injection needs a delay or an abort",
        ],
    )]);
}

#[test]
fn mirrors_cors_and_header_edits() {
    check(&[(
        r#"VirtualService default/web
        hosts: [web]
        http:
        - match: [{uri: {prefix: /a}}]
          route:
          - destination: {host: web}
            headers:
              response:
                set: {host: x}
          mirror: {host: web-shadow}
          mirrors: [{destination: {host: web-shadow-2}, percentage: {value: 101}}]
          mirrorPercent: 50
        - match: [{uri: {prefix: /b}}]
          route: [{destination: {host: web}}]
          mirrorPercentage: {value: 10}
          corsPolicy:
            allowOrigin: ["https://example.com"]
            allowOrigins: [{exact: ""}, {regex: "https://.*\\.example\\.com"}]
            allowMethods: [GET, get]
            allowHeaders: ["*", "x-custom", "bad header"]
            maxAge: 1500ms
          headers:
            request:
              set: {":path": /x, x-ok: "100%%", x-var: "%HOSTNAME%"}
              add: {x-bad: "50%"}
              remove: [host]
        "#,
        &[
            "VirtualService default/web: spec.http[0].route[0].headers.response.set.host: header \"host\" can only be set or added on requests: the authority is needed to route (rewrite it with rewrite.authority)",
            "VirtualService default/web: spec.http[0].mirrors: set at most one of mirror and mirrors: move mirror into mirrors",
            "warning: VirtualService default/web: spec.http[0].mirrorPercent: mirrorPercent is deprecated: use mirrorPercentage (e.g. mirrorPercentage: {value: 50})",
            "VirtualService default/web: spec.http[0].mirrors[0].percentage.value: percentage 101 is out of range: use 0 to 100",
            "warning: VirtualService default/web: spec.http[1].mirrorPercentage: mirrorPercentage applies only to mirror, which is not set: set mirror, or give each of mirrors a percentage",
            "VirtualService default/web: spec.http[1].corsPolicy.allowOrigins[0].exact: exact is empty: write a pattern, or remove this match to accept any value",
            "warning: VirtualService default/web: spec.http[1].corsPolicy.allowOrigin: allowOrigin is deprecated: use allowOrigins (e.g. allowOrigins: [{exact: \"https://example.com\"}])",
            "VirtualService default/web: spec.http[1].corsPolicy.allowMethods[1]: \"get\" is not an HTTP method: use GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE",
            "VirtualService default/web: spec.http[1].corsPolicy.allowHeaders[2]: header name \"bad header\" is invalid: use letters, digits, '-' and '_'",
            "VirtualService default/web: spec.http[1].corsPolicy.maxAge: maxAge \"1500ms\" is not a whole number of seconds: browsers cache preflight responses in seconds",
            "VirtualService default/web: spec.http[1].headers.request.set.:path: header \":path\" is a pseudo-header that the proxy sets: it cannot be edited",
            "VirtualService default/web: spec.http[1].headers.request.add.x-bad: header value \"50%\" has a '%' that does not start a variable like \"%HOSTNAME%\": write \"%%\" for a literal percent sign",
            "VirtualService default/web: spec.http[1].headers.request.remove[0]: header \"host\" can only be set or added on requests: the authority is needed to route (rewrite it with rewrite.authority)",
        ],
    )]);
}
