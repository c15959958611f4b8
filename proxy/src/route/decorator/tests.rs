use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use http::{HeaderMap, Method};
use mesh_xds::json::from_yaml;

use super::*;
use crate::route::{RequestMeta, RouteTable};

/// A table of one catch-all route whose `decorator` is `decorator` (a YAML map).
fn compile(decorator: &str) -> Result<RouteTable, String> {
    let config: RouteConfiguration = from_yaml(&format!(
        "name: r\nvirtual_hosts: [{{name: v, domains: ['*'], routes: [{{match: {{prefix: /}}, \
         direct_response: {{status: 200}}, decorator: {decorator}}}]}}]"
    ))
    .unwrap();
    RouteTable::compile(&config).map_err(|e| e.to_string())
}

fn decorator_of(decorator: &str) -> Option<Decorator> {
    let table = compile(decorator).unwrap();
    let headers = HeaderMap::new();
    let meta = RequestMeta::new(&Method::GET, "shop", "/", &headers);
    table.find(&meta, 0).unwrap().route.decorator.clone()
}

#[test]
fn propagate_is_on_unless_turned_off() {
    let want = |propagate| {
        Some(Decorator {
            operation: "checkout".to_owned(),
            propagate,
        })
    };
    assert_eq!(decorator_of("{operation: checkout}"), want(true));
    assert_eq!(
        decorator_of("{operation: checkout, propagate: true}"),
        want(true)
    );
    assert_eq!(
        decorator_of("{operation: checkout, propagate: false}"),
        want(false)
    );
}

#[test]
fn an_operation_is_required() {
    assert_eq!(
        compile("{propagate: false}").map(|_| ()),
        Err(
            "RouteConfiguration \"r\": virtual_hosts[0].routes[0].decorator.operation: must not \
             be empty"
                .to_owned()
        )
    );
}
