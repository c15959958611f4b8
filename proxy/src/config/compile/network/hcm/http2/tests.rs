use crate::config::{
    NetworkFilter,
    compile::tests::{error_text, http_listener},
    compile_listener,
};

/// The compiled connection manager's stream limit, for `http2_protocol_options` of `options`.
fn streams(options: &str) -> Option<u32> {
    let l = http_listener(
        "l",
        80,
        "r",
        &format!("          http2_protocol_options: {options}"),
    );
    let config = compile_listener(&l).unwrap();
    let NetworkFilter::Http(hcm) = &config.filter_chains[0].filter else {
        panic!("not HTTP");
    };
    hcm.http2_max_concurrent_streams
}

fn refused(options: &str) -> String {
    let l = http_listener(
        "l",
        80,
        "r",
        &format!("          http2_protocol_options: {options}"),
    );
    error_text(compile_listener(&l))
}

#[test]
fn max_concurrent_streams_is_the_server_s_stream_limit() {
    assert_eq!(streams("{ max_concurrent_streams: 7 }"), Some(7));
    assert_eq!(
        streams("{ max_concurrent_streams: 2147483647 }"),
        Some(2_147_483_647)
    );
    assert_eq!(streams("{}"), None);
}

#[test]
fn other_http2_options_and_limits_out_of_range_are_refused() {
    let path = "Listener \"l\": filter_chains[0].filters[0].typed_config.http2_protocol_options";
    assert_eq!(
        refused("{ max_concurrent_streams: 0 }"),
        format!("{path}.max_concurrent_streams: 0 is outside 1..=2147483647")
    );
    assert_eq!(
        refused("{ max_concurrent_streams: 10, initial_stream_window_size: 65536 }"),
        format!("{path}: only max_concurrent_streams is supported by mesh-proxy")
    );
    assert_eq!(
        refused("{ allow_connect: true }"),
        format!("{path}: only max_concurrent_streams is supported by mesh-proxy")
    );
}
