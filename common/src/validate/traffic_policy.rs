//! `TrafficPolicy` (of a DestinationRule, its subsets and ports): load balancing, connection
//! pools (also used by Sidecars), outlier detection, client TLS and tunnels.

mod client_tls;

use super::{
    common::{self, Findings},
    load_balancer,
};
use crate::{
    api::{
        ClientTlsSettings, ConnectionPoolSettings, H2UpgradePolicy, LoadBalancerSettings,
        OutlierDetection, PortTrafficPolicy, RetryBudget, TcpKeepalive, TrafficPolicy,
        TunnelSettings,
    },
    path::FieldPath,
};

/// Linux's largest `TCP_KEEPIDLE`/`TCP_KEEPINTVL` (seconds) and `TCP_KEEPCNT`.
const MAX_KEEPALIVE_SECONDS: u64 = 32_767;
const MAX_KEEPALIVE_PROBES: u32 = 127;

pub(super) fn validate(findings: &mut Findings, path: &FieldPath, policy: &TrafficPolicy) {
    let empty = policy.load_balancer.is_none()
        && policy.connection_pool.is_none()
        && policy.outlier_detection.is_none()
        && policy.tls.is_none()
        && policy.port_level_settings.is_empty()
        && policy.tunnel.is_none()
        && policy.proxy_protocol.is_none()
        && policy.retry_budget.is_none();
    if empty {
        findings.error(
            path,
            "trafficPolicy is empty: set loadBalancer, connectionPool, outlierDetection, tls, portLevelSettings, tunnel, proxyProtocol or retryBudget, or remove it",
        );
        return;
    }
    if policy.tunnel.is_some() && policy.proxy_protocol.is_some() {
        findings.error(path, "set at most one of tunnel and proxyProtocol");
    }
    settings(
        findings,
        path,
        policy.load_balancer.as_ref(),
        policy.connection_pool.as_ref(),
        policy.outlier_detection.as_ref(),
        policy.tls.as_ref(),
    );
    port_level_settings(
        findings,
        &path.field("portLevelSettings"),
        &policy.port_level_settings,
    );
    if let Some(tunnel) = &policy.tunnel {
        self::tunnel(findings, &path.field("tunnel"), tunnel);
    }
    if let Some(budget) = &policy.retry_budget {
        retry_budget(findings, &path.field("retryBudget"), budget);
    }
}

fn retry_budget(findings: &mut Findings, path: &FieldPath, budget: &RetryBudget) {
    if let Some(percent) = &budget.percent {
        findings.check(
            &path.field("percent").field("value"),
            common::percent(percent.value),
        );
    }
    if let Some(interval) = &budget.budget_interval {
        findings.check(&path.field("budgetInterval"), common::duration(interval));
    }
}

/// The settings a policy and its per-port overrides share.
fn settings(
    findings: &mut Findings,
    path: &FieldPath,
    load_balancer: Option<&LoadBalancerSettings>,
    pool: Option<&ConnectionPoolSettings>,
    outlier: Option<&OutlierDetection>,
    tls: Option<&ClientTlsSettings>,
) {
    if let Some(lb) = load_balancer {
        load_balancer::validate(findings, &path.field("loadBalancer"), lb, outlier.is_some());
    }
    if let Some(pool) = pool {
        connection_pool(findings, &path.field("connectionPool"), pool);
    }
    if let Some(outlier) = outlier {
        outlier_detection(findings, &path.field("outlierDetection"), outlier);
    }
    if let Some(tls) = tls {
        client_tls::validate(findings, &path.field("tls"), tls);
    }
}

fn port_level_settings(findings: &mut Findings, path: &FieldPath, ports: &[PortTrafficPolicy]) {
    let mut seen: Vec<(u32, usize)> = Vec::new();
    for (k, settings) in ports.iter().enumerate() {
        let at = path.index(k);
        match &settings.port {
            None => findings.error(
                &at.field("port"),
                "name the port these settings apply to, e.g. port: {number: 9080}",
            ),
            Some(port) => {
                let number_at = at.field("port").field("number");
                findings.check(&number_at, common::port(port.number));
                if let Some(&(_, first)) = seen.iter().find(|(n, _)| *n == port.number) {
                    findings.error(
                        &number_at,
                        format!(
                            "port {} already has settings at {}: merge them",
                            port.number,
                            path.index(first)
                        ),
                    );
                } else {
                    seen.push((port.number, k));
                }
            }
        }
        let empty = settings.load_balancer.is_none()
            && settings.connection_pool.is_none()
            && settings.outlier_detection.is_none()
            && settings.tls.is_none();
        if empty {
            findings.error(
                &at,
                "these port settings are empty: set loadBalancer, connectionPool, outlierDetection or tls",
            );
        }
        self::settings(
            findings,
            &at,
            settings.load_balancer.as_ref(),
            settings.connection_pool.as_ref(),
            settings.outlier_detection.as_ref(),
            settings.tls.as_ref(),
        );
    }
}

/// Also the inbound connection pools of a Sidecar.
pub(super) fn connection_pool(
    findings: &mut Findings,
    path: &FieldPath,
    pool: &ConnectionPoolSettings,
) {
    if pool.tcp.is_none() && pool.http.is_none() {
        findings.error(path, "connectionPool is empty: set tcp or http");
    }
    if let Some(http) = &pool.http {
        let at = path.field("http");
        for (field, value) in [
            ("http1MaxPendingRequests", http.http1_max_pending_requests),
            ("http2MaxRequests", http.http2_max_requests),
            ("maxRequestsPerConnection", http.max_requests_per_connection),
            ("maxRetries", http.max_retries),
            ("maxConcurrentStreams", http.max_concurrent_streams),
        ] {
            non_negative(findings, &at.field(field), field, value);
        }
        if let Some(idle) = &http.idle_timeout {
            // Istio refuses 0 here too; its TCP idle timeout of 0 is the way to none.
            let hint = |e: String| {
                if idle.parse().is_ok_and(|d| d.is_zero()) {
                    format!(
                        "{e} (to turn the idle timeout off, leave this unset and set tcp.idleTimeout: 0s)"
                    )
                } else {
                    e
                }
            };
            findings.check(
                &at.field("idleTimeout"),
                common::duration(idle).map_err(hint),
            );
        }
        if http.h2_upgrade_policy == Some(H2UpgradePolicy::Upgrade)
            && http.use_client_protocol == Some(true)
        {
            findings.error(
                &at.field("useClientProtocol"),
                "useClientProtocol keeps the client's protocol, h2UpgradePolicy UPGRADE changes it: keep one",
            );
        }
    }
    if let Some(tcp) = &pool.tcp {
        let at = path.field("tcp");
        non_negative(
            findings,
            &at.field("maxConnections"),
            "maxConnections",
            tcp.max_connections,
        );
        for (field, value) in [
            ("connectTimeout", &tcp.connect_timeout),
            ("maxConnectionDuration", &tcp.max_connection_duration),
            ("idleTimeout", &tcp.idle_timeout),
        ] {
            let Some(value) = value else {
                continue;
            };
            // As in Istio, a TCP idle timeout of 0 turns the timeout off.
            if field == "idleTimeout" && value.parse().is_ok_and(|d| d.is_zero()) {
                continue;
            }
            findings.check(&at.field(field), common::duration(value));
        }
        if let Some(keepalive) = &tcp.tcp_keepalive {
            tcp_keepalive(findings, &at.field("tcpKeepalive"), keepalive);
        }
    }
}

/// Keep-alive reaches the socket in whole seconds and within Linux's bounds: what would not is
/// rounded up or capped, and said so.
fn tcp_keepalive(findings: &mut Findings, path: &FieldPath, keepalive: &TcpKeepalive) {
    for (field, value) in [("time", &keepalive.time), ("interval", &keepalive.interval)] {
        let Some(value) = value else {
            continue;
        };
        let at = path.field(field);
        let d = match common::duration(value) {
            Ok(d) => d,
            Err(error) => {
                findings.error(&at, error);
                continue;
            }
        };
        let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        if whole > MAX_KEEPALIVE_SECONDS {
            findings.warning(
                &at,
                format!(
                    "{field} {:?} is longer than {MAX_KEEPALIVE_SECONDS}s, the most Linux takes: \
                     {MAX_KEEPALIVE_SECONDS}s is used",
                    value.0
                ),
            );
        } else if d.subsec_nanos() > 0 {
            findings.warning(
                &at,
                format!(
                    "{field} {:?} is sent in whole seconds: {whole}s is used",
                    value.0
                ),
            );
        }
    }
    if let Some(probes) = keepalive.probes.filter(|&p| p > MAX_KEEPALIVE_PROBES) {
        findings.warning(
            &path.field("probes"),
            format!(
                "probes {probes} is more than {MAX_KEEPALIVE_PROBES}, the most Linux takes: \
                 {MAX_KEEPALIVE_PROBES} is used"
            ),
        );
    }
}

fn non_negative(findings: &mut Findings, path: &FieldPath, field: &str, value: Option<i32>) {
    if let Some(value) = value.filter(|v| *v < 0) {
        findings.error(path, format!("{field} is {value}: use 0 or more"));
    }
}

fn outlier_detection(findings: &mut Findings, path: &FieldPath, outlier: &OutlierDetection) {
    for (field, value) in [
        ("baseEjectionTime", &outlier.base_ejection_time),
        ("interval", &outlier.interval),
    ] {
        if let Some(value) = value {
            findings.check(&path.field(field), common::duration(value));
        }
    }
    if outlier.consecutive_errors.is_some() {
        findings.warning(
            &path.field("consecutiveErrors"),
            "consecutiveErrors is deprecated: use consecutive5xxErrors (or consecutiveGatewayErrors)",
        );
    }
    if outlier
        .consecutive_local_origin_failures
        .is_some_and(|n| n > 0)
        && outlier.split_external_local_origin_errors != Some(true)
    {
        findings.error(
            &path.field("consecutiveLocalOriginFailures"),
            "consecutiveLocalOriginFailures counts only with splitExternalLocalOriginErrors: true; set it",
        );
    }
    for (field, value) in [
        ("maxEjectionPercent", outlier.max_ejection_percent),
        ("minHealthPercent", outlier.min_health_percent),
    ] {
        if let Some(value) = value.filter(|v| !(0..=100).contains(v)) {
            findings.error(
                &path.field(field),
                format!("{field} is {value}: use 0 to 100"),
            );
        }
    }
}

fn tunnel(findings: &mut Findings, path: &FieldPath, tunnel: &TunnelSettings) {
    if !["", "CONNECT", "POST"].contains(&tunnel.protocol.as_str()) {
        findings.error(
            &path.field("protocol"),
            format!(
                "protocol {:?} is not a tunnel protocol: use \"CONNECT\" or \"POST\"",
                tunnel.protocol
            ),
        );
    }
    if !common::is_ip(&tunnel.target_host) {
        findings.check(&path.field("targetHost"), common::fqdn(&tunnel.target_host));
    }
    findings.check(&path.field("targetPort"), common::port(tunnel.target_port));
}
