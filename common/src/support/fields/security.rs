//! The security kinds: who may call a workload, and how callers prove who they are. Their
//! fields come with the workload identity and authorization work.

use crate::support::Entry;

pub(super) const AUTHORIZATION_POLICY: &[Entry] = fields! {
    "spec" {
        selector                planned;
        targetRef               not_planned
            "attaches to Gateway API resources, which mesh.rs does not read: use selector";
        targetRefs              not_planned
            "attaches to Gateway API resources, which mesh.rs does not read: use selector";
        rules                   planned;
        action                  planned;
        provider                not_planned
            "CUSTOM actions call an external authorizer (ext_authz), which is not planned";
    }
    "spec.selector" { matchLabels inherit; }
    "spec.targetRef" { group inherit; kind inherit; name inherit; namespace inherit; }
    "spec.targetRefs" { group inherit; kind inherit; name inherit; namespace inherit; }
    "spec.rules" { from inherit; to inherit; when inherit; }
    "spec.rules.from" { source inherit; }
    "spec.rules.from.source" {
        principals              inherit;
        notPrincipals           inherit;
        requestPrincipals       inherit;
        notRequestPrincipals    inherit;
        namespaces              inherit;
        notNamespaces           inherit;
        ipBlocks                inherit;
        notIpBlocks             inherit;
        remoteIpBlocks          inherit;
        notRemoteIpBlocks       inherit;
        serviceAccounts         inherit;
        notServiceAccounts      inherit;
    }
    "spec.rules.to" { operation inherit; }
    "spec.rules.to.operation" {
        hosts                   inherit;
        notHosts                inherit;
        ports                   inherit;
        notPorts                inherit;
        methods                 inherit;
        notMethods              inherit;
        paths                   inherit;
        notPaths                inherit;
    }
    "spec.rules.when" { key inherit; values inherit; notValues inherit; }
    "spec.provider" { name inherit; }
};

pub(super) const PEER_AUTHENTICATION: &[Entry] = fields! {
    "spec" {
        selector                planned;
        mtls                    planned;
        portLevelMtls           planned;
    }
    "spec.selector" { matchLabels inherit; }
    "spec.mtls" { mode inherit; }
};

pub(super) const REQUEST_AUTHENTICATION: &[Entry] = fields! {
    "spec" {
        selector                planned;
        targetRef               not_planned
            "attaches to Gateway API resources, which mesh.rs does not read: use selector";
        targetRefs              not_planned
            "attaches to Gateway API resources, which mesh.rs does not read: use selector";
        jwtRules                planned;
    }
    "spec.selector" { matchLabels inherit; }
    "spec.targetRef" { group inherit; kind inherit; name inherit; namespace inherit; }
    "spec.targetRefs" { group inherit; kind inherit; name inherit; namespace inherit; }
    "spec.jwtRules" {
        issuer                  inherit;
        audiences               inherit;
        jwksUri                 inherit;
        jwks                    inherit;
        fromHeaders             inherit;
        fromParams              inherit;
        outputPayloadToHeader   inherit;
        fromCookies             inherit;
        forwardOriginalToken    inherit;
        outputClaimToHeaders    inherit;
        timeout                 inherit;
        spaceDelimitedClaims    inherit;
    }
    "spec.jwtRules.fromHeaders" { name inherit; prefix inherit; }
    "spec.jwtRules.outputClaimToHeaders" { header inherit; claim inherit; }
};
