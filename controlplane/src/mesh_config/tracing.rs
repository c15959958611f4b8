//! The tracing part of Istio's `MeshConfig`: `enableTracing`, the `extensionProviders` a
//! tracer can be, `defaultProviders.tracing`, and `defaultConfig.tracing.sampling`.
//!
//! Only what translation reads is typed. Every other field, and every provider kind but
//! `opentelemetry`, is kept as written (`other`) so that a mesh config shared with other tools
//! loads unchanged, and so that translation can name what it does not honour when it is
//! selected for tracing.

use std::collections::BTreeMap;

use mesh_common::api::Duration;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Istio's trace sampling when `defaultConfig.tracing.sampling` is unset (`PILOT_TRACE_SAMPLING`).
pub const DEFAULT_SAMPLING: f64 = 1.0;

/// One entry of `extensionProviders`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExtensionProvider {
    /// What `defaultProviders` (and Telemetry resources) call it.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opentelemetry: Option<OpenTelemetryProvider>,
    /// The other kinds (`zipkin`, `datadog`, `envoyExtAuthzHttp`, …), by their field name.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `extensionProviders[].opentelemetry`: spans exported over OTLP to `service`:`port`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OpenTelemetryProvider {
    /// The collector's host, in the registry: `otel-collector.observability.svc.cluster.local`
    /// or `observability/otel-collector.observability.svc.cluster.local`.
    pub service: String,
    pub port: u32,
    /// The longest `http.url` tag a span gets; 0 keeps the proxy's default (256).
    pub max_tag_length: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcSettings>,
    /// `http` (OTLP over HTTP), `resourceDetectors`, `dynatraceSampler`, … as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `opentelemetry.grpc`: how spans are sent over gRPC.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GrpcSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// `initialMetadata`, … as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `defaultProviders`: the providers used where no Telemetry resource names one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DefaultProviders {
    pub tracing: Vec<String>,
    /// `metrics`, `accessLogging`, as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `defaultConfig`, Istio's `ProxyConfig` for every proxy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProxyConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<ProxyTracing>,
    /// Every other `ProxyConfig` field, as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `defaultConfig.tracing`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProxyTracing {
    /// The percentage of requests that start a trace, 0.0 to 100.0.
    pub sampling: f64,
    /// Tags added to every span, by name: `{literal: {value}}`, `{header: {name,
    /// defaultValue}}` or `{environment: {name, defaultValue}}`, as written.
    pub custom_tags: BTreeMap<String, Value>,
    /// The longest `http.url` tag, where the provider sets no `maxTagLength`; 0 for the
    /// proxy's default.
    pub max_path_tag_length: u32,
    /// The legacy tracers (`zipkin`, `openCensusAgent`, …), as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

// === impl ProxyConfig ===

impl ProxyConfig {
    /// The sampling percentage, as Istio reads it: 0 (or unset) is the default 1%, and a value
    /// above 100 is 1% too; so is a negative one, which Istio would pass on for Envoy to refuse.
    pub fn sampling(&self) -> f64 {
        match self.tracing.as_ref().map(|t| t.sampling) {
            Some(s) if s > 0.0 && s <= 100.0 => s,
            _ => DEFAULT_SAMPLING,
        }
    }
}
