//! Damaged and hostile xDS resources: decoding and compiling never panic, a refusal is a clean
//! NACK naming the resource, the field and the reason, and what is accepted routes sanely.
//!
//! The `xds_resource` fuzz target in `proxy/fuzz` explores far more inputs; these bounded,
//! deterministic mutations of the same seeds keep its guarantees checked by every `cargo test`.
//! A seed is the type byte (its index in [`XDS_TYPES`]) followed by the resource's protobuf
//! encoding, as it travels in a discovery response's `Any`.

use std::{collections::BTreeMap, time::Duration};

use envoy_types::pb::{
    envoy::{
        config::listener::v3::{Listener, filter},
        extensions::filters::network::tcp_proxy::v3::TcpProxy,
    },
    google::protobuf::Duration as PbDuration,
};
use mesh_xds::{
    json::from_yaml,
    resource::{Resource, ResourceType},
};
use prost::Message;

use super::apply_listeners;
use crate::{
    config::Snapshot,
    fuzzing::{self, Mutator, Verdict, XDS_TYPES},
};

mod regenerate;

/// `(file, bytes)` of a seed file.
macro_rules! seed {
    ($file:literal) => {
        (
            $file,
            include_bytes!(concat!("../../../fuzz/seeds/xds_resource/", $file)),
        )
    };
}

/// The seeds of `proxy/fuzz/seeds/xds_resource/`: resources the control plane sends for
/// bookinfo, encoded from its golden files.
const SEEDS: &[(&str, &[u8])] = &[
    seed!("listener-virtual-inbound.bin"),
    seed!("listener-virtual-outbound.bin"),
    seed!("listener-http-9080.bin"),
    seed!("listener-tcp-tls-443.bin"),
    seed!("listener-gateway-8080.bin"),
    seed!("listener-fault.bin"),
    seed!("route-http-actions.bin"),
    seed!("route-header-match.bin"),
    seed!("route-retries-timeouts.bin"),
    seed!("route-subsets-and-weights.bin"),
    seed!("route-fault.bin"),
    seed!("cluster-eds-reviews-v1.bin"),
    seed!("cluster-passthrough.bin"),
    seed!("cluster-inbound-9080.bin"),
    seed!("cluster-dns-payments.bin"),
    seed!("endpoints-reviews.bin"),
    seed!("endpoints-reviews-v1.bin"),
];

/// Protobuf wire bytes that mean something to the decoder, to splice in: tags of small fields
/// in each wire type, long and unterminated varints, oversized lengths.
const TOKENS: &[&[u8]] = &[
    b"\x0a\x00",
    b"\x0a\x01*",
    b"\x12\x00",
    b"\x1a\x00",
    b"\x08\xff\xff\xff\xff\x0f",
    b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    b"\x10\x80\x80\x80\x80\x10",
    b"\x0a\xff\xff\xff\xff\x0f",
    b"\x0d\xff\xff\xff\xff",
    b"\x09\x00\x00\x00\x00\x00\x00\xf0\x7f",
    b"\x80",
    b"\x00",
];

fn decode(bytes: &[u8]) -> Resource {
    let (&selector, payload) = bytes.split_first().expect("a seed has a type byte");
    let any = envoy_types::pb::google::protobuf::Any {
        type_url: XDS_TYPES[usize::from(selector)].type_url().to_owned(),
        value: payload.to_vec(),
    };
    Resource::decode_any(&any).expect("a seed decodes")
}

#[test]
fn the_seeds_are_the_resources_they_are_named_after() {
    let named: Vec<(&str, ResourceType, String)> = SEEDS
        .iter()
        .map(|(file, bytes)| {
            let resource = decode(bytes);
            (*file, resource.resource_type(), resource.name().to_owned())
        })
        .collect();
    let reviews = "outbound|9080||reviews.default.svc.cluster.local";
    let reviews_v1 = "outbound|9080|v1|reviews.default.svc.cluster.local";
    let expected = [
        (
            "listener-virtual-inbound.bin",
            ResourceType::Listener,
            "virtualInbound",
        ),
        (
            "listener-virtual-outbound.bin",
            ResourceType::Listener,
            "virtualOutbound",
        ),
        (
            "listener-http-9080.bin",
            ResourceType::Listener,
            "0.0.0.0_9080",
        ),
        (
            "listener-tcp-tls-443.bin",
            ResourceType::Listener,
            "0.0.0.0_443",
        ),
        (
            "listener-gateway-8080.bin",
            ResourceType::Listener,
            "0.0.0.0_8080",
        ),
        ("listener-fault.bin", ResourceType::Listener, "0.0.0.0_9080"),
        (
            "route-http-actions.bin",
            ResourceType::RouteConfiguration,
            "9080",
        ),
        (
            "route-header-match.bin",
            ResourceType::RouteConfiguration,
            "9080",
        ),
        (
            "route-retries-timeouts.bin",
            ResourceType::RouteConfiguration,
            "9080",
        ),
        (
            "route-subsets-and-weights.bin",
            ResourceType::RouteConfiguration,
            "9080",
        ),
        ("route-fault.bin", ResourceType::RouteConfiguration, "9080"),
        (
            "cluster-eds-reviews-v1.bin",
            ResourceType::Cluster,
            reviews_v1,
        ),
        (
            "cluster-passthrough.bin",
            ResourceType::Cluster,
            "PassthroughCluster",
        ),
        (
            "cluster-inbound-9080.bin",
            ResourceType::Cluster,
            "inbound|9080||",
        ),
        (
            "cluster-dns-payments.bin",
            ResourceType::Cluster,
            "outbound|443||payments.example.com",
        ),
        (
            "endpoints-reviews.bin",
            ResourceType::ClusterLoadAssignment,
            reviews,
        ),
        (
            "endpoints-reviews-v1.bin",
            ResourceType::ClusterLoadAssignment,
            reviews_v1,
        ),
    ]
    .map(|(file, kind, name)| (file, kind, name.to_owned()));
    assert_eq!(named, expected);
}

#[test]
fn the_fuzz_body_accepts_the_seeds() {
    for (file, bytes) in SEEDS {
        assert_eq!(fuzzing::xds_resource(bytes), Verdict::Accepted, "{file}");
    }
}

#[test]
fn damaged_resources_never_panic_and_refusals_are_clean() {
    let mut mutator = Mutator::new(0x5eed_0000_0f0d_0002, TOKENS);
    let mut verdicts: BTreeMap<Verdict, usize> = BTreeMap::new();
    for round in 0..15_000 {
        let (_, seed) = SEEDS[round % SEEDS.len()];
        let mut bytes = mutator.mutate(seed);
        // The type byte is sometimes damaged too, sending one type's bytes to another decoder.
        if let Some(first) = bytes.first_mut()
            && mutator.below(8) == 0
        {
            *first = mutator.next_u64() as u8;
        }
        *verdicts.entry(fuzzing::xds_resource(&bytes)).or_default() += 1;
    }
    // Most damage breaks the encoding; enough gets past the decoder to test the compiler's
    // refusals and the lookups on what it accepts.
    let count = |verdict| verdicts.get(&verdict).copied().unwrap_or_default();
    assert!(count(Verdict::Refused) >= 500, "{verdicts:?}");
    assert!(count(Verdict::Accepted) >= 1000, "{verdicts:?}");
}

#[test]
fn hostile_resources_are_refused_cleanly() {
    use Verdict::{Accepted, Empty, Malformed, Refused};
    for (bytes, expected) in [
        (&b""[..], Empty),
        // A listener without a name.
        (b"\x00", Refused),
        // An empty route configuration routes nothing, and is fine.
        (b"\x01", Accepted),
        (b"\x02\x0a\x00", Refused),
        (b"\x03\x0a\x00", Accepted),
        // A listener without an address.
        (b"\x00\x0a\x01l", Refused),
        (b"\x02\x0a\x01c\x6a\x02\x08\x01", Malformed),
        (b"\x00\xff\xff\xff\xff\x0f", Malformed),
        (b"\x01\x12\x00", Accepted),
    ] {
        assert_eq!(fuzzing::xds_resource(bytes), expected, "{bytes:?}");
    }
}

/// The mutations above with more seeds and rounds, for hunting without a nightly toolchain:
/// `cargo test -p mesh-proxy --lib soak -- --ignored`.
#[test]
#[ignore = "a long run, for hunting rather than CI"]
fn soak() {
    for seed in 1..=20 {
        let mut mutator = Mutator::new(seed, TOKENS);
        for round in 0..15_000 {
            let (_, bytes) = SEEDS[round % SEEDS.len()];
            let once = mutator.mutate(bytes);
            let mut bytes = mutator.mutate(&once);
            if let Some(first) = bytes.first_mut()
                && mutator.below(8) == 0
            {
                *first = mutator.next_u64() as u8;
            }
            fuzzing::xds_resource(&bytes);
        }
    }
}

/// A TCP listener whose `listener_filters_timeout` and `tcp_proxy.idle_timeout` last
/// `detect` and `idle` seconds, as a seed.
fn tcp_listener_with_timeouts(detect: i64, idle: i64) -> (Listener, Vec<u8>) {
    let mut listener: Listener = from_yaml(
        r#"
name: tcp
address: { socket_address: { address: 0.0.0.0, port_value: 27017 } }
filter_chains:
  - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp
          cluster: c
"#,
    )
    .expect("the listener parses");
    let seconds = |seconds| Some(PbDuration { seconds, nanos: 0 });
    listener.listener_filters_timeout = seconds(detect);
    let Some(filter::ConfigType::TypedConfig(any)) =
        &mut listener.filter_chains[0].filters[0].config_type
    else {
        panic!("the tcp_proxy has a typed_config");
    };
    let mut proxy = TcpProxy::decode(any.value.as_slice()).expect("a TcpProxy");
    proxy.idle_timeout = seconds(idle);
    any.value = proxy.encode_to_vec();
    let mut seed = vec![0];
    seed.extend(listener.encode_to_vec());
    (listener, seed)
}

/// Found by the fuzz body's clock check: timeouts the data path adds to the clock overflowed
/// it (a panic per connection) when they were longer than protobuf allows.
#[test]
fn overlong_timeouts_are_refused() {
    let longest = 315_576_000_000;
    for (detect, idle, refusal) in [
        (
            i64::MAX,
            1,
            "Listener \"tcp\": listener_filters_timeout: 9223372036854775807s is longer than \
             protobuf's longest duration, 315576000000s",
        ),
        (
            1,
            longest + 1,
            "Listener \"tcp\": filter_chains[0].filters[0].typed_config.idle_timeout: \
             315576000001s is longer than protobuf's longest duration, 315576000000s",
        ),
    ] {
        let (listener, seed) = tcp_listener_with_timeouts(detect, idle);
        let error = apply_listeners(&mut Snapshot::default(), &[listener], &[])
            .expect_err("an overlong timeout is refused");
        assert_eq!(error.to_string(), refusal);
        fuzzing::xds_resource(&seed);
    }
    let (listener, seed) = tcp_listener_with_timeouts(longest, longest);
    let mut snapshot = Snapshot::default();
    apply_listeners(&mut snapshot, &[listener], &[]).expect("the longest timeouts are accepted");
    assert_eq!(
        snapshot.listeners["tcp"].detection_timeout,
        Duration::from_secs(315_576_000_000)
    );
    fuzzing::xds_resource(&seed);
}
