use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use mesh_xds::json::from_yaml;

use super::compile_cluster;
use crate::balance::{Algorithm, MaglevConfig, RingHashConfig};

fn compile(fields: &str) -> Result<Algorithm, String> {
    let cluster: Cluster = from_yaml(&format!("name: c\ntype: EDS\n{fields}")).unwrap();
    compile_cluster(&cluster)
        .map(|c| c.algorithm)
        .map_err(|e| e.to_string())
}

#[test]
fn ring_hash_and_maglev_take_envoy_s_defaults() {
    assert_eq!(
        compile("lb_policy: RING_HASH"),
        Ok(Algorithm::RingHash(RingHashConfig {
            minimum_ring_size: 1024,
            maximum_ring_size: 8_388_608,
        }))
    );
    assert_eq!(
        compile("lb_policy: MAGLEV"),
        Ok(Algorithm::Maglev(MaglevConfig { table_size: 65537 }))
    );
    assert_eq!(
        compile(
            "lb_policy: RING_HASH\nring_hash_lb_config: { minimum_ring_size: 2048, maximum_ring_size: 4096, hash_function: XX_HASH }"
        ),
        Ok(Algorithm::RingHash(RingHashConfig {
            minimum_ring_size: 2048,
            maximum_ring_size: 4096,
        }))
    );
    assert_eq!(
        compile("lb_policy: MAGLEV\nmaglev_lb_config: { table_size: 1031 }"),
        Ok(Algorithm::Maglev(MaglevConfig { table_size: 1031 }))
    );
}

#[test]
fn bad_hashing_configs_are_refused_naming_the_field() {
    let cases = [
        (
            "lb_policy: RING_HASH\nring_hash_lb_config: { minimum_ring_size: 4096, maximum_ring_size: 2048 }",
            "Cluster \"c\": ring_hash_lb_config.minimum_ring_size: minimum_ring_size (4096) > maximum_ring_size (2048)",
        ),
        (
            "lb_policy: RING_HASH\nring_hash_lb_config: { minimum_ring_size: 8388609 }",
            "Cluster \"c\": ring_hash_lb_config.minimum_ring_size: 8388609 is outside 1..=8388608",
        ),
        (
            "lb_policy: RING_HASH\nring_hash_lb_config: { maximum_ring_size: 0 }",
            "Cluster \"c\": ring_hash_lb_config.maximum_ring_size: 0 is outside 1..=8388608",
        ),
        (
            "lb_policy: RING_HASH\nring_hash_lb_config: { hash_function: MURMUR_HASH_2 }",
            "Cluster \"c\": ring_hash_lb_config.hash_function: only XX_HASH is supported by mesh-proxy",
        ),
        (
            "lb_policy: MAGLEV\nmaglev_lb_config: { table_size: 65536 }",
            "Cluster \"c\": maglev_lb_config.table_size: 65536 is not a prime number",
        ),
        (
            "lb_policy: MAGLEV\nmaglev_lb_config: { table_size: 5000021 }",
            "Cluster \"c\": maglev_lb_config.table_size: 5000021 is above the maximum of 5000011",
        ),
        (
            "lb_policy: ROUND_ROBIN\nring_hash_lb_config: {}",
            "Cluster \"c\": ring_hash_lb_config: not supported by mesh-proxy",
        ),
        (
            "lb_policy: RING_HASH\nmaglev_lb_config: {}",
            "Cluster \"c\": maglev_lb_config: not supported by mesh-proxy",
        ),
        (
            "lb_policy: LEAST_REQUEST\nleast_request_lb_config: {}",
            "Cluster \"c\": least_request_lb_config: not supported by mesh-proxy",
        ),
        (
            "lb_policy: LOAD_BALANCING_POLICY_CONFIG",
            "Cluster \"c\": lb_policy: not supported by mesh-proxy",
        ),
    ];
    for (fields, want) in cases {
        assert_eq!(compile(fields), Err(want.to_owned()), "{fields}");
    }
}
