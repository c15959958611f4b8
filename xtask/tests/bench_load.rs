//! The load generator against the in-process upstream: every protocol answers, and a stall of
//! the server shows in the open loop's tail instead of hiding in one sample.

use std::time::Duration;

use xtask::bench::{
    load::{self, LoadSpec, Mode, client::Protocol},
    upstream::{Stall, Upstream},
};

fn spec(upstream: &Upstream, protocol: Protocol, mode: Mode, max_requests: u64) -> LoadSpec {
    LoadSpec {
        target: match protocol {
            Protocol::Tcp => upstream.tcp,
            Protocol::Http1 | Protocol::H2c | Protocol::Grpc => upstream.http,
        },
        protocol,
        mode,
        duration: Duration::from_secs(5),
        max_requests,
    }
}

#[tokio::test]
async fn a_stall_shows_in_the_open_loop_tail() {
    // At 1 000 rps on one connection, request 50 stalls 50 ms: the ~50 requests due meanwhile
    // wait behind it, and their latency counts from when they were due.
    let upstream = Upstream::start(Some(Stall {
        nth: 50,
        delay: Duration::from_millis(50),
    }))
    .unwrap();
    let mut load = spec(
        &upstream,
        Protocol::Http1,
        Mode::Open {
            rate: 1000,
            connections: 1,
        },
        u64::MAX,
    );
    load.duration = Duration::from_millis(300);
    let outcome = load::run(&load).await.unwrap();
    assert_eq!((outcome.requests, outcome.errors), (300, 0));
    let latency = outcome.latencies.percentiles();
    assert_eq!(latency.count, 300);
    // Two percent of the requests were held back by 48 ms or more.
    assert!(latency.p99_us >= 45_000, "{latency:?}");
    assert!(latency.max_us >= 50_000, "{latency:?}");
}

#[tokio::test]
async fn a_closed_loop_stops_at_its_request_budget() {
    let upstream = Upstream::start(Some(Stall {
        nth: 10,
        delay: Duration::from_millis(50),
    }))
    .unwrap();
    let load = spec(
        &upstream,
        Protocol::Http1,
        Mode::Closed { connections: 2 },
        200,
    );
    let outcome = load::run(&load).await.unwrap();
    assert_eq!((outcome.requests, outcome.errors), (200, 0));
    // The stalled request itself is measured in full.
    assert!(outcome.latencies.percentiles().max_us >= 50_000);
}

#[tokio::test]
async fn h2c_grpc_and_tcp_echo_are_answered() {
    let upstream = Upstream::start(None).unwrap();
    for protocol in [Protocol::H2c, Protocol::Grpc, Protocol::Tcp] {
        let load = spec(&upstream, protocol, Mode::Closed { connections: 3 }, 90);
        let outcome = load::run(&load).await.unwrap();
        assert_eq!((outcome.requests, outcome.errors), (90, 0), "{protocol:?}");
        assert_eq!(outcome.latencies.count(), 90);
    }
}

#[tokio::test]
async fn an_open_loop_sends_rate_times_duration() {
    let upstream = Upstream::start(None).unwrap();
    let mut load = spec(
        &upstream,
        Protocol::Tcp,
        Mode::Open {
            rate: 2000,
            connections: 4,
        },
        u64::MAX,
    );
    load.duration = Duration::from_millis(100);
    let outcome = load::run(&load).await.unwrap();
    assert_eq!((outcome.requests, outcome.errors), (200, 0));
    // The last request was due at 99.5 ms.
    assert!(outcome.elapsed >= Duration::from_micros(99_500));
}

#[tokio::test]
async fn a_dead_target_fails_to_start() {
    let upstream = Upstream::start(None).unwrap();
    let addr = upstream.http;
    drop(upstream);
    let load = LoadSpec {
        target: addr,
        protocol: Protocol::Http1,
        mode: Mode::Closed { connections: 1 },
        duration: Duration::from_secs(1),
        max_requests: 10,
    };
    let error = load::run(&load).await.unwrap_err();
    assert_eq!(error.to_string(), format!("connecting to {addr}"));
}

#[test]
fn the_grpc_frame_is_one_whole_message() {
    use xtask::bench::load::client::GRPC_FRAME;
    let (header, message) = GRPC_FRAME.split_at(5);
    assert_eq!(header[0], 0, "uncompressed");
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    assert_eq!(length as usize, message.len());
}
