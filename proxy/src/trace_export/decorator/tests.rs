use http::HeaderMap;

use super::*;

fn decorator(operation: &str, propagate: bool) -> Decorator {
    Decorator {
        operation: operation.to_owned(),
        propagate,
    }
}

fn headers(operation: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(operation) = operation {
        headers.insert(
            X_ENVOY_DECORATOR_OPERATION,
            HeaderValue::from_str(operation).unwrap(),
        );
    }
    headers
}

fn operation_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(X_ENVOY_DECORATOR_OPERATION)
        .map(|v| v.to_str().unwrap())
}

/// One request through an operation: the span name, then the operation header on the
/// upstream request and on the downstream response.
fn run(
    egress: bool,
    request: Option<&str>,
    route: Option<Decorator>,
    response: Option<&str>,
) -> (Option<String>, Option<String>, Option<String>) {
    let mut request = headers(request);
    let mut operation = Operation::arrive(egress, &mut request);
    operation.routed(route.as_ref(), &mut request);
    let mut response = headers(response);
    operation.respond(&mut response);
    (
        operation.span_name().map(str::to_owned),
        operation_of(&request).map(str::to_owned),
        operation_of(&response).map(str::to_owned),
    )
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[test]
fn ingress_names_the_span_and_answers_the_operation() {
    assert_eq!(
        run(false, None, Some(decorator("checkout", true)), None),
        (some("checkout"), None, some("checkout"))
    );
    assert_eq!(
        run(false, None, Some(decorator("checkout", false)), None),
        (some("checkout"), None, None)
    );
    assert_eq!(run(false, None, None, None), (None, None, None));
}

#[test]
fn an_ingress_request_s_operation_overrides_the_decorator_and_is_not_forwarded() {
    assert_eq!(
        run(
            false,
            Some("from-caller"),
            Some(decorator("checkout", true)),
            None
        ),
        (some("from-caller"), None, None)
    );
    assert_eq!(
        run(false, Some("from-caller"), None, None),
        (some("from-caller"), None, None)
    );
    // An empty header is removed and overrides nothing.
    assert_eq!(
        run(false, Some(""), Some(decorator("checkout", true)), None),
        (some("checkout"), None, some("checkout"))
    );
}

#[test]
fn egress_sends_the_operation_upstream_and_takes_the_answer_s() {
    assert_eq!(
        run(true, None, Some(decorator("checkout", true)), None),
        (some("checkout"), some("checkout"), None)
    );
    assert_eq!(
        run(true, None, Some(decorator("checkout", false)), None),
        (some("checkout"), None, None)
    );
    assert_eq!(
        run(
            true,
            None,
            Some(decorator("checkout", true)),
            Some("from-callee")
        ),
        (some("from-callee"), some("checkout"), None)
    );
    assert_eq!(
        run(true, None, Some(decorator("checkout", true)), Some("")),
        (some("checkout"), some("checkout"), None)
    );
    // The client's own header passes on egress, unless the decorator replaces it.
    assert_eq!(
        run(true, Some("client"), None, None),
        (None, some("client"), None)
    );
    assert_eq!(
        run(
            true,
            Some("client"),
            Some(decorator("checkout", true)),
            None
        ),
        (some("checkout"), some("checkout"), None)
    );
}
