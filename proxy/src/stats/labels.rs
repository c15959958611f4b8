//! The label set of Istio's standard metrics, and the key it is cached under.
//!
//! A [`Labels`] is what varies between requests (the peer, the service, the outcome); our own
//! workload is fixed for the life of the process. The label vector is only built the first
//! time a combination is seen.

use std::sync::Arc;

use metrics::Label;

use super::{DestinationService, Workload};

/// Which proxy of the pair reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reporter {
    /// The client's side: an outbound sidecar listener, or a gateway.
    Source,
    /// The server's side: the inbound sidecar listener.
    Destination,
}

/// `request_protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestProtocol {
    /// HTTP/1.x or HTTP/2 that is not gRPC.
    Http,
    /// `content-type: application/grpc*`.
    Grpc,
    /// A proxied TCP connection.
    Tcp,
}

/// What a request or connection adds to the proxy's own labels.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Labels {
    /// Who reports.
    pub reporter: Reporter,
    /// The other side: the source when the destination reports, and the reverse.
    pub peer: Arc<Workload>,
    /// The service of the upstream cluster.
    pub service: Arc<DestinationService>,
    /// `request_protocol`.
    pub protocol: RequestProtocol,
    /// `response_code`; `None` for TCP, whose metrics have no response labels.
    pub response_code: Option<u16>,
    /// `grpc_response_status`, for gRPC requests that got one.
    pub grpc_status: Option<u32>,
    /// `response_flags` when there are some; `None` prints as `-`.
    pub response_flags: Option<Box<str>>,
}

// === impl Reporter ===

impl Reporter {
    /// The `reporter` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Destination => "destination",
        }
    }

    /// `connection_security_policy` for plaintext: the destination knows its connection had
    /// no mTLS (`none`); the source cannot tell what the server required (`unknown`).
    pub fn security_policy(self) -> &'static str {
        match self {
            Self::Source => "unknown",
            Self::Destination => "none",
        }
    }
}

// === impl RequestProtocol ===

impl RequestProtocol {
    /// The `request_protocol` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Grpc => "grpc",
            Self::Tcp => "tcp",
        }
    }
}

// === impl Labels ===

impl Labels {
    /// The full label vector, in the order Istio lists the labels, with `own` as our side.
    pub fn to_vec(&self, own: &Workload) -> Vec<Label> {
        let (source, destination) = match self.reporter {
            Reporter::Source => (own, &*self.peer),
            Reporter::Destination => (&*self.peer, own),
        };
        let service = &*self.service;
        let mut labels = Vec::with_capacity(27);
        labels.push(Label::new("reporter", self.reporter.as_str()));
        push_workload(&mut labels, "source", source);
        push_workload(&mut labels, "destination", destination);
        labels.push(Label::new("destination_service", service.host.clone()));
        labels.push(Label::new("destination_service_name", service.name.clone()));
        labels.push(Label::new(
            "destination_service_namespace",
            service.namespace.clone(),
        ));
        labels.push(Label::new("request_protocol", self.protocol.as_str()));
        if let Some(code) = self.response_code {
            labels.push(Label::new("response_code", code.to_string()));
            let grpc = self.grpc_status.map(|s| s.to_string()).unwrap_or_default();
            labels.push(Label::new("grpc_response_status", grpc));
        }
        let flags = self.response_flags.as_deref().unwrap_or("-").to_owned();
        labels.push(Label::new("response_flags", flags));
        labels.push(Label::new(
            "connection_security_policy",
            self.reporter.security_policy(),
        ));
        labels
    }
}

fn push_workload(labels: &mut Vec<Label>, side: &str, workload: &Workload) {
    let fields = [
        ("workload", &workload.workload),
        ("workload_namespace", &workload.namespace),
        ("principal", &workload.principal),
        ("app", &workload.app),
        ("version", &workload.version),
        ("canonical_service", &workload.canonical_service),
        ("canonical_revision", &workload.canonical_revision),
        ("cluster", &workload.cluster),
    ];
    for (name, value) in fields {
        labels.push(Label::new(format!("{side}_{name}"), value.clone()));
    }
}
