//! Load balancing of a traffic policy: simple, consistent hash, locality and warm-up.

use super::{
    common::{self, Findings},
    headers,
};
use crate::{
    api::{ConsistentHashLb, LoadBalancerSettings, LocalityLbSetting},
    path::FieldPath,
};

/// Envoy's upper bound for a Maglev table.
const MAGLEV_TABLE_LIMIT: u64 = 5_000_011;

/// Kubernetes topology labels; `failover` already fails over between regions and zones.
const TOPOLOGY_LABELS: &[&str] = &[
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
];

pub(super) fn validate(
    findings: &mut Findings,
    path: &FieldPath,
    lb: &LoadBalancerSettings,
    has_outlier_detection: bool,
) {
    if lb.simple.is_some() && lb.consistent_hash.is_some() {
        findings.error(path, "set at most one of simple and consistentHash");
    }
    if let Some(hash) = &lb.consistent_hash {
        consistent_hash(findings, &path.field("consistentHash"), hash);
    }
    if let Some(locality) = &lb.locality_lb_setting {
        locality_lb(
            findings,
            &path.field("localityLbSetting"),
            locality,
            has_outlier_detection,
        );
    }
    if let Some(warmup) = &lb.warmup_duration_secs {
        findings.check(&path.field("warmupDurationSecs"), common::duration(warmup));
    }
    if let Some(warmup) = &lb.warmup {
        let at = path.field("warmup");
        findings.check(&at.field("duration"), common::duration(&warmup.duration));
        if let Some(minimum) = warmup.minimum_percent {
            findings.check(&at.field("minimumPercent"), common::percent(minimum));
        }
        if let Some(aggression) = warmup.aggression.filter(|a| *a <= 0.0) {
            findings.error(
                &at.field("aggression"),
                format!("aggression {aggression} must be greater than 0 (1 ramps up linearly)"),
            );
        }
    }
}

fn consistent_hash(findings: &mut Findings, path: &FieldPath, hash: &ConsistentHashLb) {
    let keys: Vec<&str> = [
        ("httpHeaderName", hash.http_header_name.is_some()),
        ("httpCookie", hash.http_cookie.is_some()),
        ("useSourceIp", hash.use_source_ip == Some(true)),
        (
            "httpQueryParameterName",
            hash.http_query_parameter_name.is_some(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    match keys.as_slice() {
        [] => findings.error(
            path,
            "consistentHash needs a key: set one of httpHeaderName, httpCookie, useSourceIp and httpQueryParameterName",
        ),
        [_] => {}
        _ => findings.error(
            path,
            format!("set only one consistentHash key (found {})", common::enumerate(&keys)),
        ),
    }
    if let Some(name) = &hash.http_header_name {
        findings.check(&path.field("httpHeaderName"), headers::header_name(name));
    }
    if hash.http_query_parameter_name.as_deref() == Some("") {
        findings.error(
            &path.field("httpQueryParameterName"),
            "httpQueryParameterName is empty: name the query parameter to hash on",
        );
    }
    if let Some(cookie) = &hash.http_cookie {
        let at = path.field("httpCookie");
        if cookie.name.is_empty() {
            findings.error(&at.field("name"), "name the cookie to hash on");
        }
        // A zero TTL is meaningful: a session cookie.
        if let Some(ttl) = &cookie.ttl {
            findings.check(&at.field("ttl"), ttl.parse().map_err(|e| e.to_string()));
        }
        for (k, attribute) in cookie.attributes.iter().enumerate() {
            if attribute.name.is_empty() {
                findings.error(
                    &at.field("attributes").index(k).field("name"),
                    "name the cookie attribute, e.g. \"SameSite\"",
                );
            }
        }
    }
    if hash.ring_hash.is_some() && hash.maglev.is_some() {
        findings.error(path, "set at most one of ringHash and maglev");
    }
    if hash.minimum_ring_size.is_some() {
        let at = path.field("minimumRingSize");
        findings.warning(
            &at,
            "minimumRingSize is deprecated here: use ringHash.minimumRingSize",
        );
        if hash.ring_hash.is_some() || hash.maglev.is_some() {
            findings.error(
                &at,
                "minimumRingSize conflicts with ringHash and maglev: move it into ringHash",
            );
        }
    }
    if let Some(maglev) = &hash.maglev {
        let at = path.field("maglev").field("tableSize");
        match maglev.table_size.unwrap_or(0) {
            0 => findings.error(&at, "set tableSize: a prime number such as 65537"),
            size if size >= MAGLEV_TABLE_LIMIT => findings.error(
                &at,
                format!("tableSize {size} is too large: use a prime below {MAGLEV_TABLE_LIMIT}"),
            ),
            size if !is_prime(size) => findings.error(
                &at,
                format!("tableSize {size} is not prime: Maglev needs a prime such as 65537"),
            ),
            _ => {}
        }
    }
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn locality_lb(
    findings: &mut Findings,
    path: &FieldPath,
    setting: &LocalityLbSetting,
    has_outlier_detection: bool,
) {
    if !setting.distribute.is_empty() && !setting.failover.is_empty() {
        findings.error(path, "set at most one of distribute and failover");
    }
    for (k, distribute) in setting.distribute.iter().enumerate() {
        let at = path.field("distribute").index(k);
        findings.check(&at.field("from"), common::locality(&distribute.from));
        for (to, weight) in &distribute.to {
            let weight_at = at.field("to").field(to.as_str());
            findings.check(&weight_at, common::locality(to));
            if !(1..=100).contains(weight) {
                findings.error(
                    &weight_at,
                    format!("weight {weight} is out of range: use 1 to 100"),
                );
            }
        }
        let sum: u64 = distribute.to.values().map(|w| u64::from(*w)).sum();
        if sum != 100 {
            findings.error(
                &at.field("to"),
                format!("locality weights sum to {sum}, must be 100"),
            );
        }
    }
    for (k, failover) in setting.failover.iter().enumerate() {
        let at = path.field("failover").index(k);
        if failover.from == failover.to {
            findings.error(
                &at,
                "failover from and to are the same region: name two regions",
            );
        }
        if [&failover.from, &failover.to]
            .iter()
            .any(|r| r.contains(['/', '*']))
        {
            findings.error(
                &at,
                "failover takes regions only: remove zones, subzones and '*'",
            );
        }
    }
    if !setting.failover.is_empty() {
        for (k, label) in setting.failover_priority.iter().enumerate() {
            if TOPOLOGY_LABELS.contains(&label.as_str()) {
                findings.error(
                    &path.field("failoverPriority").index(k),
                    format!("{label} cannot be used with failover, which already orders by topology: remove one"),
                );
            }
        }
    }
    let fails_over = !setting.failover.is_empty() || !setting.failover_priority.is_empty();
    if fails_over && !has_outlier_detection {
        findings.warning(
            path,
            "failover needs outlierDetection to notice unhealthy endpoints: add outlierDetection to this policy",
        );
    }
}
