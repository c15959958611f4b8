//! A scrape: the recorded metrics, followed by the `mesh_proxy_*` values read from the rest of
//! the proxy at that moment (xDS progress, the access log's drops, the tracing spans, the pools, the upstream
//! connections), which are already counted where they live and are not counted twice.

use std::{fmt::Write, sync::Arc, time::UNIX_EPOCH};

use mesh_xds::resource::ResourceType;

use super::{Stats, names};
use crate::{
    access_log::AccessLog,
    trace_export::SpanCounts,
    upstream::{ConnectionStats, Overflow},
    xds_client::{TypeStatus, XdsState},
};

/// Reads one count of an xDS type's progress.
type TypeCount = fn(&TypeStatus) -> u64;

/// Reads one count of a cluster's connections.
type ConnectionCount = fn(&ConnectionStats) -> u64;

/// Renders one proxy's metrics. Build with [`Exporter::new`] and the `with_` methods.
pub struct Exporter {
    stats: Arc<Stats>,
    access_log: Option<AccessLog>,
    spans: Option<Arc<SpanCounts>>,
    xds: Option<Arc<XdsState>>,
    pools: Option<Box<dyn Fn() -> usize + Send + Sync>>,
}

// === impl Exporter ===

impl Exporter {
    /// Renders `stats` alone.
    pub fn new(stats: Arc<Stats>) -> Self {
        Self {
            stats,
            access_log: None,
            spans: None,
            xds: None,
            pools: None,
        }
    }

    /// Adds the access log's drop count.
    pub fn with_access_log(mut self, access_log: AccessLog) -> Self {
        self.access_log = Some(access_log);
        self
    }

    /// Adds what happened to tracing spans.
    pub fn with_spans(mut self, spans: Arc<SpanCounts>) -> Self {
        self.spans = Some(spans);
        self
    }

    /// Adds the xDS client's progress.
    pub fn with_xds(mut self, xds: Arc<XdsState>) -> Self {
        self.xds = Some(xds);
        self
    }

    /// Adds the number of upstream pools, as `pools` counts them.
    pub fn with_pools(mut self, pools: impl Fn() -> usize + Send + Sync + 'static) -> Self {
        self.pools = Some(Box::new(pools));
        self
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = self.stats.render();
        if let Some(log) = &self.access_log {
            family(&mut out, names::ACCESS_LOG_DROPPED, "counter");
            let _ = writeln!(out, "{} {}", names::ACCESS_LOG_DROPPED, log.dropped());
        }
        if let Some(spans) = &self.spans {
            family(&mut out, names::TRACING_SPANS, "counter");
            for (outcome, count) in [
                ("exported", spans.exported()),
                ("queue_full", spans.queue_full()),
                ("export_failed", spans.export_failed()),
            ] {
                let _ = writeln!(
                    out,
                    "{}{{outcome=\"{outcome}\"}} {count}",
                    names::TRACING_SPANS
                );
            }
        }
        if let Some(pools) = &self.pools {
            family(&mut out, names::UPSTREAM_POOLS, "gauge");
            let _ = writeln!(out, "{} {}", names::UPSTREAM_POOLS, pools());
        }
        self.render_upstream(&mut out);
        if let Some(xds) = &self.xds {
            let status = xds.load();
            family(&mut out, names::XDS_CONNECTED, "gauge");
            let _ = writeln!(
                out,
                "{} {}",
                names::XDS_CONNECTED,
                u8::from(status.connected)
            );
            let types: Vec<(ResourceType, _)> =
                status.types.iter().map(|(kind, t)| (*kind, t)).collect();
            family(&mut out, names::XDS_REJECTED, "gauge");
            for (kind, t) in &types {
                let rejected = u8::from(t.last_error.is_some());
                let _ = writeln!(
                    out,
                    "{}{{type_url=\"{}\"}} {rejected}",
                    names::XDS_REJECTED,
                    kind.type_url()
                );
            }
            let counters: [(&str, TypeCount); 2] = [
                (names::XDS_ACCEPTED_TOTAL, |t| t.accepted),
                (names::XDS_REJECTED_TOTAL, |t| t.rejected),
            ];
            for (name, count) in counters {
                family(&mut out, name, "counter");
                for (kind, t) in &types {
                    let _ = writeln!(
                        out,
                        "{name}{{type_url=\"{}\"}} {}",
                        kind.type_url(),
                        count(t)
                    );
                }
            }
            family(&mut out, names::XDS_LAST_REJECTION, "gauge");
            for (kind, t) in &types {
                let Some(at) = t.last_rejected_at else {
                    continue;
                };
                let seconds = at.duration_since(UNIX_EPOCH).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{}{{type_url=\"{}\"}} {:.3}",
                    names::XDS_LAST_REJECTION,
                    kind.type_url(),
                    seconds.as_secs_f64()
                );
            }
            family(&mut out, names::XDS_RESOURCES, "gauge");
            for (kind, t) in &types {
                let _ = writeln!(
                    out,
                    "{}{{type_url=\"{}\"}} {}",
                    names::XDS_RESOURCES,
                    kind.type_url(),
                    t.resources.len()
                );
            }
            family(&mut out, names::CONFIG_VERSION, "gauge");
            for (kind, t) in types.iter().filter(|(_, t)| t.accepted_once) {
                let _ = writeln!(
                    out,
                    "{}{{type_url=\"{}\",version=\"{}\"}} 1",
                    names::CONFIG_VERSION,
                    kind.type_url(),
                    escape(&t.version)
                );
            }
        }
        out
    }
}

impl Exporter {
    /// The upstream connection counts, by cluster; nothing before the first connection.
    fn render_upstream(&self, out: &mut String) {
        let clusters = self.stats.upstream_connections().clusters();
        if clusters.is_empty() {
            return;
        }
        let families: [(&str, &str, ConnectionCount); 3] = [
            (names::UPSTREAM_ACTIVE, "gauge", |s| s.active),
            (names::UPSTREAM_TOTAL, "counter", |s| s.opened),
            (names::UPSTREAM_CONNECT_FAILURES, "counter", |s| {
                s.connect_failures
            }),
        ];
        for (name, kind, value) in families {
            family(out, name, kind);
            for (cluster, stats) in &clusters {
                let _ = writeln!(
                    out,
                    "{name}{{cluster=\"{}\"}} {}",
                    escape(cluster),
                    value(stats)
                );
            }
        }
        // Every threshold of every cluster, zeros included, so that rates start from a value.
        let name = names::UPSTREAM_OVERFLOW;
        family(out, name, "counter");
        for (cluster, stats) in &clusters {
            for overflow in Overflow::ALL {
                let _ = writeln!(
                    out,
                    "{name}{{cluster=\"{}\",kind=\"{}\"}} {}",
                    escape(cluster),
                    overflow.threshold(),
                    stats.overflow.get(overflow)
                );
            }
        }
    }
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("stats", &self.stats)
            .field("xds", &self.xds.is_some())
            .finish_non_exhaustive()
    }
}

fn family(out: &mut String, name: &str, kind: &str) {
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the text format needs it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
