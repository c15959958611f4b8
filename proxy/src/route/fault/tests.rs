use envoy_types::pb::envoy::extensions::filters::http::fault::v3::HttpFault;
use mesh_xds::json::from_yaml;
use rand::{SeedableRng, rngs::SmallRng};

use super::*;

fn compile(yaml: &str) -> Result<Fault, String> {
    let fault: HttpFault = from_yaml(yaml).expect("test fault parses");
    Fault::compile(&fault, &FieldPath::parse("typed_per_filter_config.f"))
        .map_err(|e| format!("{}: {}", e.path, e.reason))
}

#[test]
fn istios_delay_and_abort_compile() {
    let fault = compile(
        "delay: { fixed_delay: 7s, percentage: { numerator: 100 } }\n\
         abort: { http_status: 500, percentage: { numerator: 50, denominator: TEN_THOUSAND } }",
    )
    .unwrap();
    assert_eq!(
        fault,
        Fault {
            delay: Some((
                Duration::from_secs(7),
                Fraction {
                    numerator: 100,
                    denominator: 100
                }
            )),
            abort: Some((
                Abort::Http(StatusCode::INTERNAL_SERVER_ERROR),
                Fraction {
                    numerator: 50,
                    denominator: 10_000
                }
            )),
        }
    );
    // An empty config (how Istio installs the filter) injects nothing.
    assert_eq!(compile("{}").unwrap(), Fault::default());
}

#[test]
fn a_grpc_status_abort_compiles_to_that_status() {
    let fault = compile("abort: { grpc_status: 14, percentage: { numerator: 25 } }").unwrap();
    assert_eq!(
        fault.abort,
        Some((
            Abort::Grpc(14),
            Fraction {
                numerator: 25,
                denominator: 100
            }
        ))
    );
    // Envoy passes any value on, known to gRPC or not.
    let unknown = compile("abort: { grpc_status: 99, percentage: { numerator: 100 } }").unwrap();
    let mut rng = SmallRng::seed_from_u64(3);
    assert_eq!(unknown.inject(&mut rng).abort, Some(Abort::Grpc(99)));
}

#[test]
fn shares_follow_the_fraction() {
    let mut rng = SmallRng::seed_from_u64(7);
    let always = compile("abort: { http_status: 503, percentage: { numerator: 100 } }").unwrap();
    let never = compile("abort: { http_status: 503 }").unwrap();
    let half = compile("delay: { fixed_delay: 1s, percentage: { numerator: 50 } }").unwrap();
    let mut delayed = 0;
    for _ in 0..1000 {
        assert_eq!(
            always.inject(&mut rng).abort,
            Some(Abort::Http(StatusCode::SERVICE_UNAVAILABLE))
        );
        assert_eq!(never.inject(&mut rng), Injection::default());
        if half.inject(&mut rng).delay == Some(Duration::from_secs(1)) {
            delayed += 1;
        }
    }
    // 1000 draws at 50%: within five standard deviations (about 80).
    assert!((420..=580).contains(&delayed), "{delayed}");
    // A numerator past the denominator means every request.
    let capped = compile("abort: { http_status: 503, percentage: { numerator: 200 } }").unwrap();
    assert_eq!(
        capped.abort.map(|(_, share)| share),
        Some(Fraction {
            numerator: 100,
            denominator: 100
        })
    );
}

#[test]
fn what_is_not_supported_is_refused_by_name() {
    let cases = [
        (
            "abort: { header_abort: {} }",
            "typed_per_filter_config.f.abort.header_abort: not supported by mesh-proxy",
        ),
        (
            "abort: { http_status: 600 }",
            "typed_per_filter_config.f.abort.http_status: 600 is not an HTTP status from 200 to 599",
        ),
        (
            "abort: {}",
            "typed_per_filter_config.f.abort.http_status: is required",
        ),
        (
            "delay: { header_delay: {} }",
            "typed_per_filter_config.f.delay.header_delay: not supported by mesh-proxy",
        ),
        (
            "delay: { fixed_delay: 1s }\nheaders: [ { name: x, present_match: true } ]",
            "typed_per_filter_config.f.headers: not supported by mesh-proxy",
        ),
        (
            "max_active_faults: 3",
            "typed_per_filter_config.f.max_active_faults: not supported by mesh-proxy",
        ),
    ];
    for (yaml, expected) in cases {
        assert_eq!(compile(yaml).unwrap_err(), expected, "{yaml}");
    }
}
