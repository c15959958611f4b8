use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, atomic::AtomicUsize},
};

use rand::{SeedableRng, rngs::SmallRng};

use super::*;
use crate::balance::{Algorithm, endpoint::Health, level::Level};

fn endpoint(i: u32, weight: u32) -> Arc<Endpoint> {
    let address: SocketAddr = format!("198.18.0.{i}:9080").parse().unwrap();
    Arc::new(Endpoint::new(
        address,
        None,
        weight,
        Health::Healthy,
        0,
        Arc::new(AtomicUsize::new(0)),
    ))
}

fn endpoints(n: u32) -> Vec<Arc<Endpoint>> {
    (1..=n).map(|i| endpoint(i, 1)).collect()
}

fn ring() -> Algorithm {
    Algorithm::RingHash(RingHashConfig::default())
}

fn maglev() -> Algorithm {
    Algorithm::Maglev(MaglevConfig::default())
}

/// The key hashes of `n` requests, as a header hash policy computes them.
fn keys(n: usize) -> Vec<u64> {
    (0..n)
        .map(|i| xxh64(format!("user-{i}").as_bytes(), 0))
        .collect()
}

/// Which endpoint (by address) each key goes to.
fn placements(level: &Level, algorithm: Algorithm, keys: &[u64]) -> Vec<SocketAddr> {
    let mut rng = SmallRng::seed_from_u64(7);
    keys.iter()
        .map(|&k| algorithm.pick(level, Some(k), &mut rng).address)
        .collect()
}

fn counts(placed: &[SocketAddr]) -> BTreeMap<SocketAddr, usize> {
    let mut counts = BTreeMap::new();
    for address in placed {
        *counts.entry(*address).or_default() += 1;
    }
    counts
}

#[test]
fn the_same_key_picks_the_same_endpoint() {
    for algorithm in [ring(), maglev()] {
        let level = Level::new(0, endpoints(5));
        let mut rng = SmallRng::seed_from_u64(1);
        let key = xxh64(b"session-42", 0);
        let first = algorithm.pick(&level, Some(key), &mut rng).address;
        let picks: Vec<SocketAddr> = (0..100)
            .map(|_| algorithm.pick(&level, Some(key), &mut rng).address)
            .collect();
        assert_eq!(picks, vec![first; 100], "{algorithm:?}");
    }
}

#[test]
fn different_keys_spread_over_every_endpoint() {
    for algorithm in [ring(), maglev()] {
        let level = Level::new(0, endpoints(4));
        let counts = counts(&placements(&level, algorithm, &keys(4000)));
        assert_eq!(counts.len(), 4, "{algorithm:?}: {counts:?}");
        for (address, count) in &counts {
            // An even share is 1000.
            assert!(
                (700..=1300).contains(count),
                "{algorithm:?}: {address} got {count}"
            );
        }
    }
}

#[test]
fn weights_set_the_shares() {
    for algorithm in [ring(), maglev()] {
        let level = Level::new(0, vec![endpoint(1, 1), endpoint(2, 3)]);
        let counts = counts(&placements(&level, algorithm, &keys(8000)));
        let light = counts[&"198.18.0.1:9080".parse().unwrap()];
        let heavy = counts[&"198.18.0.2:9080".parse().unwrap()];
        assert_eq!(light + heavy, 8000);
        // A quarter is 2000.
        assert!(
            (1600..=2400).contains(&light),
            "{algorithm:?}: {light} vs {heavy}"
        );
    }
}

/// Minimal disruption. Maglev moves the removed endpoint's keys and barely any other. Envoy's
/// ring also gives each remaining endpoint more points (the ring keeps at least
/// `minimum_ring_size` points over fewer endpoints), and those take a few more keys: at the
/// default size about 6 % of them on top of the removed endpoint's tenth.
#[test]
fn removing_one_endpoint_of_ten_moves_about_a_tenth_of_the_keys() {
    let keys = keys(1000);
    // (algorithm, extra keys one removal may move, mean keys moved per removal at most)
    for (algorithm, extra, mean) in [(ring(), 100, 180), (maglev(), 10, 110)] {
        let all = endpoints(10);
        let before = placements(&Level::new(0, all.clone()), algorithm, &keys);
        let mut total_moved = 0;
        // Each endpoint removed in turn, so that the bound holds on average and not by luck of
        // which endpoint went.
        for removed in all.iter().map(|e| e.address) {
            let remaining: Vec<_> = all
                .iter()
                .filter(|e| e.address != removed)
                .cloned()
                .collect();
            let after = placements(&Level::new(0, remaining), algorithm, &keys);
            let on_removed = before.iter().filter(|a| **a == removed).count();
            let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
            assert!(moved >= on_removed, "{algorithm:?}: {moved} < {on_removed}");
            assert!(
                moved <= on_removed + extra,
                "{algorithm:?} without {removed}: {moved} moved, {on_removed} were on it"
            );
            total_moved += moved;
        }
        assert!(
            total_moved <= 10 * mean,
            "{algorithm:?}: {total_moved} moved in 10 removals"
        );
    }
}

#[test]
fn requests_without_a_hash_go_to_random_endpoints() {
    for algorithm in [ring(), maglev()] {
        let level = Level::new(0, endpoints(4));
        let mut rng = SmallRng::seed_from_u64(3);
        let placed: Vec<SocketAddr> = (0..400)
            .map(|_| algorithm.pick(&level, None, &mut rng).address)
            .collect();
        let counts = counts(&placed);
        assert_eq!(counts.len(), 4, "{algorithm:?}: {counts:?}");
        assert!(
            counts.values().all(|c| (50..=150).contains(c)),
            "{counts:?}"
        );
    }
}

#[test]
fn ring_size_follows_the_bounds_and_the_weights() {
    let HashTable::Ring(points) = HashTable::ring(&endpoints(3), RingHashConfig::default()) else {
        panic!("a ring");
    };
    // ceil(1/3 * 1024) / (1/3) = 342 * 3 points.
    assert_eq!(points.len(), 1026);
    let small = RingHashConfig {
        minimum_ring_size: 8,
        maximum_ring_size: 16,
    };
    let HashTable::Ring(points) = HashTable::ring(&endpoints(2), small) else {
        panic!("a ring");
    };
    assert_eq!(points.len(), 8);
    let weighted = vec![endpoint(1, 1), endpoint(2, 1000)];
    let HashTable::Ring(points) = HashTable::ring(&weighted, small) else {
        panic!("a ring");
    };
    // The weights would need 1001 * 8 points; the maximum caps them.
    assert_eq!(points.len(), 16);
    assert!(points.windows(2).all(|w| w[0].0 <= w[1].0), "sorted");
}

#[test]
fn a_maglev_table_fills_every_slot_in_proportion_to_weight() {
    let weighted = vec![endpoint(1, 1), endpoint(2, 2), endpoint(3, 1)];
    let HashTable::Maglev(table) = HashTable::maglev(&weighted, MaglevConfig { table_size: 4001 })
    else {
        panic!("a table");
    };
    assert_eq!(table.len(), 4001);
    let mut per_endpoint = [0usize; 3];
    for &index in &table {
        per_endpoint[index as usize] += 1;
    }
    // Turns are taken exactly in proportion 1:2:1 until the table is full.
    assert_eq!(per_endpoint, [1001, 2000, 1000]);
}

#[test]
fn tables_are_rebuilt_for_a_new_configuration_only() {
    let level = Level::new(0, endpoints(3));
    let mut rng = SmallRng::seed_from_u64(5);
    let key = xxh64(b"k", 0);
    let small = Algorithm::Maglev(MaglevConfig { table_size: 7 });
    let large = Algorithm::Maglev(MaglevConfig { table_size: 65537 });
    let on_small = small.pick(&level, Some(key), &mut rng).address;
    let on_large = large.pick(&level, Some(key), &mut rng).address;
    // Each configuration answers from its own table, whichever was built last.
    assert_eq!(small.pick(&level, Some(key), &mut rng).address, on_small);
    assert_eq!(large.pick(&level, Some(key), &mut rng).address, on_large);
    let HashTable::Maglev(seven) = HashTable::maglev(&endpoints(3), MaglevConfig { table_size: 7 })
    else {
        panic!("a table");
    };
    assert_eq!(
        on_small,
        level.endpoints[seven[(key % 7) as usize] as usize].address
    );
}

#[test]
fn primes() {
    let primes: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
    assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
    assert!(is_prime(DEFAULT_MAGLEV_TABLE_SIZE));
    assert!(is_prime(MAX_MAGLEV_TABLE_SIZE));
    assert!(!is_prime(65536));
}
