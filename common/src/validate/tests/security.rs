//! AuthorizationPolicy, PeerAuthentication and RequestAuthentication.

use super::check;

#[test]
fn valid_policies() {
    check(&[
        (
            r#"AuthorizationPolicy bookinfo/productpage-viewer
            selector: {matchLabels: {app: productpage}}
            action: ALLOW
            rules:
            - from:
              - source:
                  principals: ["cluster.local/ns/bookinfo/sa/bookinfo-gateway"]
                  namespaces: ["istio-*"]
                  ipBlocks: [198.18.0.0/16]
              to:
              - operation:
                  methods: [GET]
                  paths: ["/productpage", "/static/*", "*.css", "/api/{*}/ratings/{**}"]
                  ports: ["9080"]
              when:
              - key: request.auth.claims[groups]
                values: [reviewers]
              - key: source.ip
                notValues: [198.18.0.9]
            "#,
            &[],
        ),
        (
            r#"AuthorizationPolicy bookinfo/ext-authz
            action: CUSTOM
            provider: {name: opa}
            rules:
            - to: [{operation: {paths: [/admin/*]}}]
            "#,
            &[],
        ),
        (
            r#"security.istio.io/v1beta1 PeerAuthentication bookinfo/ratings
            selector: {matchLabels: {app: ratings}}
            mtls: {mode: STRICT}
            portLevelMtls:
              9080: {mode: PERMISSIVE}
            "#,
            &[],
        ),
        (
            r#"RequestAuthentication bookinfo/jwt
            targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: bookinfo-gateway}
            jwtRules:
            - issuer: https://accounts.example.com
              jwksUri: https://accounts.example.com:8443/.well-known/jwks.json
              fromHeaders: [{name: x-jwt, prefix: "Bearer "}]
              outputClaimToHeaders: [{header: x-user, claim: sub}]
              timeout: 5s
            - issuer: local
              jwks: '{"keys": []}'
            "#,
            &[],
        ),
    ]);
}

#[test]
fn authorization_policy_actions() {
    check(&[
        (
            r#"AuthorizationPolicy bookinfo/custom
            action: CUSTOM
            selector: {matchLabels: {app: web}}
            targetRefs: [{kind: Deployment, group: apps, name: web, namespace: other}]
            "#,
            &[
                "AuthorizationPolicy bookinfo/custom: spec: set only one of selector, targetRef and targetRefs (found selector and targetRefs)",
                "AuthorizationPolicy bookinfo/custom: spec.targetRefs[0].namespace: a policy cannot target another namespace: remove namespace and create the policy in the target's namespace",
                "AuthorizationPolicy bookinfo/custom: spec.targetRefs[0]: cannot target apps/Deployment: target a Service, a ServiceEntry (networking.istio.io) or a Gateway (gateway.networking.k8s.io)",
                "AuthorizationPolicy bookinfo/custom: spec.rules: a CUSTOM policy without rules never applies: add rules (an empty rule {} matches every request)",
                "AuthorizationPolicy bookinfo/custom: spec.provider: action CUSTOM needs provider.name: the extension provider (declared in the mesh config) that decides",
            ],
        ),
        (
            r#"AuthorizationPolicy bookinfo/deny
            action: DENY
            provider: {name: opa}
            "#,
            &[
                "AuthorizationPolicy bookinfo/deny: spec.rules: a DENY policy without rules never applies: add rules (an empty rule {} matches every request)",
                "AuthorizationPolicy bookinfo/deny: spec.provider: provider applies only to action CUSTOM, not DENY: set action: CUSTOM or remove provider",
            ],
        ),
        (
            r#"AuthorizationPolicy bookinfo/custom
            action: CUSTOM
            provider: {name: ""}
            rules:
            - from: [{source: {principals: ["*"], ipBlocks: [198.18.0.0/16]}}]
              when: [{key: request.auth.principal, values: ["*"]}]
            "#,
            &[
                "AuthorizationPolicy bookinfo/custom: spec.provider.name: name the extension provider (declared in the mesh config) that decides",
                "AuthorizationPolicy bookinfo/custom: spec.rules[0].from[0].source.principals: principals is not supported with action CUSTOM: match it in an ALLOW or DENY policy, or use ipBlocks",
                "AuthorizationPolicy bookinfo/custom: spec.rules[0].when[0].key: request.auth.principal is not supported with action CUSTOM: test it in an ALLOW or DENY policy",
            ],
        ),
    ]);
}

#[test]
fn authorization_policy_rules() {
    check(&[(
        r#"AuthorizationPolicy bookinfo/rules
        action: DENY
        rules:
        - from:
          - source: {}
          - source:
              requestPrincipals: ["", "a*b"]
              ipBlocks: [198.18.0.0/40]
          to:
          - operation: {}
          - operation:
              ports: ["80", "http", "70000"]
              paths: [admin, "/a/{name}/{*}", "/x*y"]
        - to: [{operation: {methods: [POST]}}]
          when:
          - key: ""
          - key: request.headers
            values: [x]
          - key: source.ip
            values: [not-an-ip]
          - key: destination.port
            notValues: ["99999"]
          - key: destination.labels[app]
            values: [web]
          - key: request.body
            values: [x]
          - key: connection.sni
        "#,
        &[
            "AuthorizationPolicy bookinfo/rules: spec.rules[0].from[0].source: the source is empty: set principals, requestPrincipals, namespaces, ipBlocks or serviceAccounts (or a not- form), or remove this entry",
            "AuthorizationPolicy bookinfo/rules: spec.rules[0].from[1].source.requestPrincipals[0]: value is empty: remove it or write a value",
            "AuthorizationPolicy bookinfo/rules: spec.rules[0].from[1].source.requestPrincipals[1]: value \"a*b\" has a '*' that is not a wildcard: only \"*\", \"prefix*\" and \"*suffix\" match patterns",
            "AuthorizationPolicy bookinfo/rules: spec.rules[0].from[1].source.ipBlocks[0]: \"198.18.0.0/40\" is not a valid CIDR block: the prefix length must be 0 to 32",
            "AuthorizationPolicy bookinfo/rules: spec.rules[0].to[0].operation: the operation is empty: set hosts, ports, methods or paths (or a not- form), or remove this entry",
            "AuthorizationPolicy bookinfo/rules: spec.rules[0].to[1].operation.ports[1]: port \"http\" is invalid: use a number from 0 to 65535",
            "AuthorizationPolicy bookinfo/rules: spec.rules[0].to[1].operation.ports[2]: port \"70000\" is invalid: use a number from 0 to 65535",
            "AuthorizationPolicy bookinfo/rules: spec.rules[0].to[1].operation.paths[0]: path \"admin\" does not start with '/': write \"/admin\" (or \"*admin\" to match a suffix)",
            "AuthorizationPolicy bookinfo/rules: spec.rules[0].to[1].operation.paths[1]: path template \"/a/{name}/{*}\" is not supported: use {*} for one segment and {**} for the rest, without names or a bare '*'",
            "AuthorizationPolicy bookinfo/rules: spec.rules[0].to[1].operation.paths[2]: value \"/x*y\" has a '*' that is not a wildcard: only \"*\", \"prefix*\" and \"*suffix\" match patterns",
            "AuthorizationPolicy bookinfo/rules: spec.rules[1].when[0].key: key is empty: name a request attribute, e.g. request.headers[x-token] or source.ip",
            "AuthorizationPolicy bookinfo/rules: spec.rules[1].when[1].key: condition key \"request.headers\" is malformed: write it as request.headers[NAME]",
            "AuthorizationPolicy bookinfo/rules: spec.rules[1].when[2].values[0]: \"not-an-ip\" is not an IP address or CIDR block: write it like \"10.1.2.3\" or \"10.1.0.0/16\"",
            "AuthorizationPolicy bookinfo/rules: spec.rules[1].when[3].notValues[0]: port \"99999\" is invalid: use a number from 0 to 65535",
            "AuthorizationPolicy bookinfo/rules: spec.rules[1].when[4].key: destination.labels[app] cannot be tested: choose the workloads with the policy's selector instead",
            "AuthorizationPolicy bookinfo/rules: spec.rules[1].when[5].key: unknown condition key \"request.body\": use request.headers[NAME], source.ip, remote.ip, source.namespace, source.principal, request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[NAME], destination.ip, destination.port, connection.sni or experimental.envoy.filters.*",
            "AuthorizationPolicy bookinfo/rules: spec.rules[1].when[6]: condition connection.sni has no values: set values or notValues",
            "warning: AuthorizationPolicy bookinfo/rules: spec.rules[1]: this DENY rule tests only HTTP attributes, so it denies every TCP connection to the workload: add ports to the operation to limit it",
        ],
    )]);
}

#[test]
fn peer_authentication() {
    check(&[
        (
            r#"PeerAuthentication mesh-system/default
            mtls: {mode: STRICT}
            portLevelMtls:
              8080: {mode: DISABLE}
            "#,
            &[
                "PeerAuthentication mesh-system/default: spec.portLevelMtls: portLevelMtls requires a workload selector",
            ],
        ),
        (
            r#"PeerAuthentication default/web
            selector: {matchLabels: {app: web}}
            portLevelMtls:
              0: {mode: DISABLE}
              70000: {mode: STRICT}
            "#,
            &[
                "PeerAuthentication default/web: spec.portLevelMtls.0: port 0 is out of range: use 1 to 65535",
                "PeerAuthentication default/web: spec.portLevelMtls.70000: port 70000 is out of range: use 1 to 65535",
            ],
        ),
        (
            r#"PeerAuthentication default/web
            selector: {matchLabels: {}}
            portLevelMtls:
              8080: {mode: DISABLE}
            "#,
            &[
                "warning: PeerAuthentication default/web: spec.selector: the selector has no labels, so it selects every workload of the namespace: add labels or remove the selector",
                "PeerAuthentication default/web: spec.portLevelMtls: portLevelMtls requires a workload selector",
            ],
        ),
    ]);
}

#[test]
fn request_authentication() {
    check(&[
        (
            r#"RequestAuthentication default/jwt
            selector: {matchLabels: {app: web}}
            targetRef: {kind: Service, name: ""}
            jwtRules:
            - issuer: ""
              audiences: [""]
              fromHeaders: [{name: ""}]
              fromParams: [""]
              fromCookies: [""]
            "#,
            &[
                "RequestAuthentication default/jwt: spec: set only one of selector, targetRef and targetRefs (found selector and targetRef)",
                "RequestAuthentication default/jwt: spec.targetRef.name: name the resource the policy applies to",
                "RequestAuthentication default/jwt: spec.jwtRules[0].issuer: issuer is required: the iss claim of the accepted tokens, e.g. \"https://accounts.google.com\"",
                "RequestAuthentication default/jwt: spec.jwtRules[0].audiences[0]: audience is empty: remove it or write one",
                "RequestAuthentication default/jwt: spec.jwtRules[0].fromHeaders[0].name: header name is empty: name a header, e.g. \"x-request-id\"",
                "RequestAuthentication default/jwt: spec.jwtRules[0].fromParams[0]: query parameter name is empty: remove it or write one",
                "RequestAuthentication default/jwt: spec.jwtRules[0].fromCookies[0]: cookie name is empty: remove it or write one",
            ],
        ),
        (
            r#"RequestAuthentication default/keys
            jwtRules:
            - issuer: https://example.com
              jwksUri: ftp://keys.example.com/jwks
              jwks: "not json"
            - issuer: https://example.com
              jwksUri: "https://:80/keys"
            - issuer: https://example.com
              jwksUri: "https://keys.example.com:https/keys"
            - issuer: https://example.com
              jwks: '{"kty": "RSA"}'
            "#,
            &[
                "RequestAuthentication default/keys: spec.jwtRules[0]: set at most one of jwks and jwksUri",
                "RequestAuthentication default/keys: spec.jwtRules[0].jwksUri: jwksUri \"ftp://keys.example.com/jwks\" is invalid: it must start with https:// (or http://)",
                "RequestAuthentication default/keys: spec.jwtRules[0].jwks: jwks is not a JSON Web Key Set (expected ident at line 1 column 2): paste the JSON document with its \"keys\" list",
                "RequestAuthentication default/keys: spec.jwtRules[1].jwksUri: jwksUri \"https://:80/keys\" is invalid: it has no host",
                "RequestAuthentication default/keys: spec.jwtRules[2].jwksUri: jwksUri \"https://keys.example.com:https/keys\" is invalid: its port is not a number",
                "RequestAuthentication default/keys: spec.jwtRules[3].jwks: jwks is not a JSON Web Key Set (no \"keys\" list): paste the JSON document with its \"keys\" list",
            ],
        ),
        (
            r#"RequestAuthentication default/outputs
            targetRefs: [{kind: Service, name: web}, {kind: ServiceEntry, group: networking.istio.io, name: api}]
            jwtRules:
            - issuer: https://example.com
              outputPayloadToHeader: "x payload"
              outputClaimToHeaders: [{header: "x user", claim: ""}]
              timeout: -1s
            "#,
            &[
                "RequestAuthentication default/outputs: spec.jwtRules[0].outputPayloadToHeader: header name \"x payload\" is invalid: use letters, digits, '-' and '_'",
                "RequestAuthentication default/outputs: spec.jwtRules[0].outputClaimToHeaders[0].header: header name \"x user\" is invalid: use letters, digits, '-' and '_'",
                "RequestAuthentication default/outputs: spec.jwtRules[0].outputClaimToHeaders[0].claim: claim is empty: name the claim to copy, e.g. \"sub\"",
                "RequestAuthentication default/outputs: spec.jwtRules[0].timeout: invalid duration \"-1s\": it is negative (write it like \"1.5s\", \"100ms\" or \"1m30s\")",
            ],
        ),
    ]);
}
