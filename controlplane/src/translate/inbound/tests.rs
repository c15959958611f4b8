use super::*;

fn summary(listener: &Listener) -> Vec<(u32, Vec<String>, String)> {
    listener
        .filter_chains
        .iter()
        .map(|chain| {
            let matched = chain.filter_chain_match.clone().unwrap_or_default();
            (
                matched.destination_port.map_or(0, |p| p.value),
                matched.application_protocols,
                chain.filters[0].name.clone(),
            )
        })
        .collect()
}

#[test]
fn http_ports_get_a_connection_manager_tcp_ports_a_tcp_proxy_and_unknown_ones_both() {
    let listener = virtual_inbound(
        &[
            (8080, Protocol::Auto),
            (9080, Protocol::Http),
            (9090, Protocol::Grpc),
            (27017, Protocol::Mongo),
        ],
        None,
    );
    let hcm = "envoy.filters.network.http_connection_manager".to_string();
    let tcp = "envoy.filters.network.tcp_proxy".to_string();
    assert_eq!(
        summary(&listener),
        [
            (8080, vec!["http/1.1".into(), "h2c".into()], hcm.clone()),
            (8080, vec![], tcp.clone()),
            (9080, vec![], hcm.clone()),
            (9090, vec![], hcm),
            (27017, vec![], tcp),
        ]
    );
    let filters: Vec<&str> = listener
        .listener_filters
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        filters,
        [
            "envoy.filters.listener.original_dst",
            "envoy.filters.listener.http_inspector"
        ]
    );
}

#[test]
fn without_an_unknown_port_there_is_nothing_to_sniff() {
    let listener = virtual_inbound(&[(9080, Protocol::Http)], None);
    assert_eq!(listener.listener_filters.len(), 1);
}
