//! A route's `decorator` and the `x-envoy-decorator-operation` header, as Envoy's connection
//! manager applies them when it traces (whether or not the request is sampled):
//!
//! - the route's `decorator.operation` names the span;
//! - ingress (any listener but an `OUTBOUND` one): a non-empty `x-envoy-decorator-operation`
//!   on the request names the span instead, and then the decorator is not propagated; the
//!   header is removed from the request, empty or not. Otherwise, with `propagate` (default
//!   true), the operation is set on the response for the caller's client span;
//! - egress (`OUTBOUND`): with `propagate`, the operation is set on the upstream request for
//!   the callee's server span; a non-empty `x-envoy-decorator-operation` on the response names
//!   the span instead, and the header is removed from the response, empty or not.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::route::Decorator;

/// The header that carries an operation name between proxies.
pub const X_ENVOY_DECORATOR_OPERATION: HeaderName =
    HeaderName::from_static("x-envoy-decorator-operation");

/// The decorator's part in one request of a tracing connection manager, from routing to the
/// response.
#[derive(Debug, Default)]
pub struct Operation {
    egress: bool,
    /// The route's operation, kept while it is still to be propagated (ingress).
    decorated: Option<Decorator>,
    /// What names the span: the decorator's operation, or the header that overrides it.
    name: Option<String>,
    /// Whether the request's header named the span (ingress).
    requested: bool,
}

// === impl Operation ===

impl Operation {
    /// The operation of a request arriving on an egress (`OUTBOUND`) listener, or not, with
    /// `headers`. On ingress the request's `x-envoy-decorator-operation` is taken out here,
    /// before routing rather than after as in Envoy: only a route matching on that header
    /// could tell.
    pub fn arrive(egress: bool, headers: &mut HeaderMap) -> Self {
        let requested = if egress {
            None
        } else {
            take_operation(headers)
        };
        Self {
            egress,
            decorated: None,
            name: requested.clone(),
            requested: requested.is_some(),
        }
    }

    /// Once the request is routed: `decorator` is its route's, and `headers` the request as it
    /// goes upstream.
    pub fn routed(&mut self, decorator: Option<&Decorator>, headers: &mut HeaderMap) {
        // A requested operation overrides the decorator, which is then not propagated.
        let Some(decorator) = decorator.filter(|_| !self.requested) else {
            return;
        };
        self.name = Some(decorator.operation.clone());
        self.decorated = decorator.propagate.then(|| decorator.clone());
        if self.egress
            && let Some(value) = self.propagated()
        {
            headers.insert(X_ENVOY_DECORATOR_OPERATION, value);
        }
    }

    /// On the response going downstream, whether local or from the upstream.
    pub fn respond(&mut self, headers: &mut HeaderMap) {
        if self.egress {
            if let Some(answered) = take_operation(headers) {
                self.name = Some(answered);
            }
        } else if let Some(value) = self.propagated() {
            headers.insert(X_ENVOY_DECORATOR_OPERATION, value);
        }
    }

    /// The span's name, when the decorator or a header gave one.
    pub fn span_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn propagated(&self) -> Option<HeaderValue> {
        // An operation that is no valid header value cannot be sent; the span keeps it.
        let decorated = self.decorated.as_ref()?;
        HeaderValue::from_str(&decorated.operation).ok()
    }
}

/// Removes `x-envoy-decorator-operation` from `headers`; its value when not empty.
fn take_operation(headers: &mut HeaderMap) -> Option<String> {
    let value = headers.remove(X_ENVOY_DECORATOR_OPERATION)?;
    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests;
