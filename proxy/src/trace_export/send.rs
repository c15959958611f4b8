//! One OTLP export: an `ExportTraceServiceRequest` as a unary gRPC call over HTTP/2 to an
//! endpoint of the collector cluster, picked by the cluster's load balancer from the current
//! snapshot (so EDS endpoints work as for any request).

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Uri, Version, header::CONTENT_TYPE};
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span},
};
use prost::Message;

use super::OtlpService;
use crate::{
    config::ConfigStore,
    http::ProxyBody,
    upstream::{PoolProtocol, Pools, UpstreamError, select_endpoint},
};

/// The gRPC method of OTLP trace export.
pub(super) const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum ExportError {
    /// No cluster, or no healthy endpoint in it.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Connecting or sending failed.
    #[error("request failed: {0}")]
    Request(String),
    /// The collector did not answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// The collector answered with something other than gRPC OK.
    #[error("collector answered HTTP {status}, grpc-status {grpc_status:?}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The gRPC status, when there was one.
        grpc_status: Option<String>,
    },
}

/// Exports `spans` to `service`'s cluster.
pub(super) async fn export(
    store: &ConfigStore,
    pools: &Pools,
    service: &OtlpService,
    spans: Vec<Span>,
) -> Result<(), ExportError> {
    let snapshot = store.load();
    let selected = select_endpoint(&snapshot, &service.cluster, None, &mut rand::rng())?;
    let client = pools.client(&selected.cluster, selected.address, PoolProtocol::Http2);
    let request = request(service, spans)?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| ExportError::Request(e.to_string()))?;
        let status = response.status().as_u16();
        let mut grpc_status = grpc_status(response.headers());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ExportError::Request(e.to_string()))?;
        if let Some(trailers) = body.trailers() {
            grpc_status = grpc_status.or_else(|| self::grpc_status(trailers));
        }
        if status == 200 && grpc_status.as_deref() == Some("0") {
            Ok(())
        } else {
            Err(ExportError::Status {
                status,
                grpc_status,
            })
        }
    };
    tokio::time::timeout(service.timeout, exchange)
        .await
        .map_err(|_| ExportError::Timeout)?
}

fn request(service: &OtlpService, spans: Vec<Span>) -> Result<Request<ProxyBody>, ExportError> {
    let message = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: service
                    .resource
                    .iter()
                    .map(|(key, value)| KeyValue {
                        key: (*key).to_owned(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(value.clone())),
                        }),
                        ..KeyValue::default()
                    })
                    .collect(),
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            schema_url: String::new(),
        }],
    };
    let body = frame(&message);
    let uri = Uri::builder()
        .scheme("http")
        .authority(service.authority.as_str())
        .path_and_query(EXPORT_PATH)
        .build()
        .map_err(|e| ExportError::Request(format!("bad authority: {e}")))?;
    let mut request = Request::new(
        Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_2;
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("te", HeaderValue::from_static("trailers"));
    if service.send_grpc_timeout
        && let Ok(value) = HeaderValue::from_str(&format!("{}m", service.timeout.as_millis()))
    {
        headers.insert("grpc-timeout", value);
    }
    for (name, value) in &service.initial_metadata {
        headers.append(name.clone(), value.clone());
    }
    Ok(request)
}

/// A gRPC message: uncompressed flag, big-endian length, the encoded message.
fn frame(message: &ExportTraceServiceRequest) -> Bytes {
    let length = message.encoded_len();
    let mut out = BytesMut::with_capacity(5 + length);
    out.put_u8(0);
    out.put_u32(u32::try_from(length).unwrap_or(u32::MAX));
    // `BytesMut` grows as needed: encoding into it cannot fail.
    let _ = message.encode(&mut out);
    out.freeze()
}

fn grpc_status(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
