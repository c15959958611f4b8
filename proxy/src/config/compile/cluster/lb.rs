//! A cluster's `lb_policy` and its `lb_config`.
//!
//! `RING_HASH` takes `ring_hash_lb_config` (`minimum_ring_size`, `maximum_ring_size`, both at
//! most 8M, and `hash_function: XX_HASH`; `MURMUR_HASH_2` is refused), `MAGLEV` takes
//! `maglev_lb_config.table_size` (a prime, at most 5000011). Every other `lb_config`, and a
//! config that does not belong to the policy, is refused.

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::cluster::v3::cluster::{
    DiscoveryType, LbConfig, LbPolicy, RingHashLbConfig, ring_hash_lb_config::HashFunction,
};
use mesh_common::path::FieldPath;

use crate::{
    balance::{
        Algorithm, DEFAULT_MAGLEV_TABLE_SIZE, DEFAULT_MIN_RING_SIZE, MAX_MAGLEV_TABLE_SIZE,
        MAX_RING_SIZE, MaglevConfig, RingHashConfig, is_prime,
    },
    config_error::FieldError,
};

/// The balancing algorithm of `c`, whose discovery type is `kind`.
pub(super) fn algorithm(
    c: &Cluster,
    kind: DiscoveryType,
    root: &FieldPath,
) -> Result<Algorithm, FieldError> {
    let algorithm = match LbPolicy::try_from(c.lb_policy) {
        Ok(LbPolicy::RoundRobin) => Algorithm::RoundRobin,
        Ok(LbPolicy::LeastRequest) => Algorithm::LeastRequest,
        Ok(LbPolicy::Random) => Algorithm::Random,
        Ok(LbPolicy::ClusterProvided) if kind == DiscoveryType::OriginalDst => Algorithm::default(),
        Ok(LbPolicy::RingHash) => Algorithm::RingHash(match &c.lb_config {
            Some(LbConfig::RingHashLbConfig(config)) => {
                ring_hash(config, &root.field("ring_hash_lb_config"))?
            }
            _ => RingHashConfig::default(),
        }),
        Ok(LbPolicy::Maglev) => {
            let table_size = match &c.lb_config {
                Some(LbConfig::MaglevLbConfig(config)) => config.table_size.map(|t| t.value),
                _ => None,
            };
            let table_size = table_size.unwrap_or(DEFAULT_MAGLEV_TABLE_SIZE);
            let path = root.field("maglev_lb_config").field("table_size");
            if table_size > MAX_MAGLEV_TABLE_SIZE {
                return Err(FieldError::new(
                    path,
                    format!("{table_size} is above the maximum of {MAX_MAGLEV_TABLE_SIZE}"),
                ));
            }
            if !is_prime(table_size) {
                return Err(FieldError::new(
                    path,
                    format!("{table_size} is not a prime number"),
                ));
            }
            Algorithm::Maglev(MaglevConfig { table_size })
        }
        _ => return Err(FieldError::unsupported(root.field("lb_policy"))),
    };
    // A config for another policy than the cluster's (ring hash's and Maglev's were read above).
    let field = match (&c.lb_config, algorithm) {
        (None, _)
        | (Some(LbConfig::RingHashLbConfig(_)), Algorithm::RingHash(_))
        | (Some(LbConfig::MaglevLbConfig(_)), Algorithm::Maglev(_)) => return Ok(algorithm),
        (Some(LbConfig::RingHashLbConfig(_)), _) => "ring_hash_lb_config",
        (Some(LbConfig::MaglevLbConfig(_)), _) => "maglev_lb_config",
        (Some(LbConfig::OriginalDstLbConfig(_)), _) => "original_dst_lb_config",
        (Some(LbConfig::LeastRequestLbConfig(_)), _) => "least_request_lb_config",
        (Some(LbConfig::RoundRobinLbConfig(_)), _) => "round_robin_lb_config",
    };
    Err(FieldError::unsupported(root.field(field)))
}

fn ring_hash(config: &RingHashLbConfig, path: &FieldPath) -> Result<RingHashConfig, FieldError> {
    if HashFunction::try_from(config.hash_function) != Ok(HashFunction::XxHash) {
        return Err(FieldError::new(
            path.field("hash_function"),
            "only XX_HASH is supported by mesh-proxy",
        ));
    }
    let bound = |value: Option<u64>, default: u64, field: &str| {
        let value = value.unwrap_or(default);
        if value == 0 || value > MAX_RING_SIZE {
            return Err(FieldError::new(
                path.field(field),
                format!("{value} is outside 1..={MAX_RING_SIZE}"),
            ));
        }
        Ok(value)
    };
    let minimum_ring_size = bound(
        config.minimum_ring_size.map(|m| m.value),
        DEFAULT_MIN_RING_SIZE,
        "minimum_ring_size",
    )?;
    let maximum_ring_size = bound(
        config.maximum_ring_size.map(|m| m.value),
        MAX_RING_SIZE,
        "maximum_ring_size",
    )?;
    if minimum_ring_size > maximum_ring_size {
        return Err(FieldError::new(
            path.field("minimum_ring_size"),
            format!(
                "minimum_ring_size ({minimum_ring_size}) > maximum_ring_size ({maximum_ring_size})"
            ),
        ));
    }
    Ok(RingHashConfig {
        minimum_ring_size,
        maximum_ring_size,
    })
}
