//! The shadows of request mirroring, counted per mirror cluster as they end:
//! `mesh_proxy_shadow_requests_total{cluster, outcome}`. Every shadow a route's mirror policy
//! draws is counted exactly once, under one of three outcomes:
//!
//! - `sent`: the mirror cluster answered it (any status);
//! - `failed`: it was sent and got no answer: the connection failed, was reset or closed
//!   (after the one resend a shadow without a body gets then), or the shadow's lifetime ran
//!   out;
//! - `dropped`: it was not sent (no endpoint, the proxy's cap on shadows in flight, the
//!   cluster's circuit breaker), or its body was cut off because it fell behind the request.
//!
//! The three series of a cluster appear together, at zero, with its first shadow.

use std::sync::Arc;

use metrics::{Counter, Label};

use super::{Stats, names};

/// How a shadow ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShadowOutcome {
    /// The mirror cluster answered.
    Sent,
    /// Sent, and no answer came.
    Failed,
    /// Not sent, or cut off before its body was whole.
    Dropped,
}

/// The counters of one mirror cluster.
#[derive(Debug)]
pub struct ShadowHandles {
    sent: Counter,
    failed: Counter,
    dropped: Counter,
}

// === impl ShadowOutcome ===

impl ShadowOutcome {
    /// Every outcome, in the order they are registered.
    pub const ALL: [Self; 3] = [Self::Sent, Self::Failed, Self::Dropped];

    /// The `outcome` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Dropped => "dropped",
        }
    }
}

// === impl ShadowHandles ===

impl ShadowHandles {
    /// Counts one shadow that ended with `outcome`.
    pub fn count(&self, outcome: ShadowOutcome) {
        let counter = match outcome {
            ShadowOutcome::Sent => &self.sent,
            ShadowOutcome::Failed => &self.failed,
            ShadowOutcome::Dropped => &self.dropped,
        };
        counter.increment(1);
    }
}

impl Stats {
    /// The shadow counters of the mirror cluster named `cluster`, registered on first use.
    pub fn shadows(&self, cluster: &str) -> Arc<ShadowHandles> {
        self.shadows.get_or_insert(cluster, || {
            let counter = |outcome: ShadowOutcome| {
                let labels = [
                    Label::new("cluster", cluster.to_owned()),
                    Label::new("outcome", outcome.label()),
                ];
                self.counter(names::SHADOW_REQUESTS, &labels)
            };
            ShadowHandles {
                sent: counter(ShadowOutcome::Sent),
                failed: counter(ShadowOutcome::Failed),
                dropped: counter(ShadowOutcome::Dropped),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the series `name{labels}` in `rendered`.
    fn value(rendered: &str, series: &str) -> Option<u64> {
        rendered
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    fn series(cluster: &str, outcome: ShadowOutcome) -> String {
        format!(
            "{}{{cluster=\"{cluster}\",outcome=\"{}\"}}",
            names::SHADOW_REQUESTS,
            outcome.label()
        )
    }

    #[test]
    fn each_outcome_counts_per_cluster_from_zero() {
        let stats = Stats::anonymous();
        let v2 = "outbound|9080|v2|reviews.default.svc.cluster.local";
        let shadows = stats.shadows(v2);
        for _ in 0..3 {
            shadows.count(ShadowOutcome::Sent);
        }
        stats.shadows(v2).count(ShadowOutcome::Dropped);
        stats.shadows("m").count(ShadowOutcome::Failed);
        let rendered = stats.render();
        let counts: Vec<(&str, Option<u64>)> = ShadowOutcome::ALL
            .iter()
            .flat_map(|outcome| {
                [v2, "m"].map(|cluster| {
                    (
                        outcome.label(),
                        value(&rendered, &series(cluster, *outcome)),
                    )
                })
            })
            .collect();
        assert_eq!(
            counts,
            [
                ("sent", Some(3)),
                ("sent", Some(0)),
                ("failed", Some(0)),
                ("failed", Some(1)),
                ("dropped", Some(1)),
                ("dropped", Some(0)),
            ]
        );
        assert_eq!(
            rendered
                .lines()
                .filter(|l| l.starts_with("# TYPE mesh_proxy_shadow_requests_total "))
                .collect::<Vec<_>>(),
            ["# TYPE mesh_proxy_shadow_requests_total counter"]
        );
    }

    #[test]
    fn only_clusters_mirrored_to_have_series() {
        let stats = Stats::anonymous();
        stats.shadows("m");
        let rendered = stats.render();
        assert_eq!(value(&rendered, &series("m", ShadowOutcome::Sent)), Some(0));
        assert_eq!(
            value(&rendered, &series("other", ShadowOutcome::Sent)),
            None
        );
    }
}
