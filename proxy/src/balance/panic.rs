//! Envoy's panic mode: when too few of a cluster's endpoints are available, balancing ignores
//! health and outlier ejection and spreads requests over every endpoint, so that a few
//! survivors are not crushed by the whole load (Istio's `minHealthPercent`).
//!
//! The decision is Envoy's. Each priority level's health is its share of available endpoints
//! scaled by the overprovisioning factor, 1.4 (`min(100, 140 × available / total)`; mesh-proxy
//! refuses any other factor), and the levels' healths add up, capped at 100, to the cluster's
//! availability. At 100 nothing panics. Below, a level whose share of available endpoints is
//! under the threshold (in whole percent) is in panic. mesh-proxy fails over strictly — the
//! first level with an available endpoint takes every request, or the first level when none
//! has one — so only that level's panic matters: in panic, it picks from all its endpoints.

use super::level::Level;

/// Envoy's default overprovisioning factor, in percent.
const OVERPROVISIONING: u64 = 140;

/// The level, of `all` (every endpoint by priority), that picks must come from because it is in
/// panic; `None` when picks come from the `available` levels as usual. A `threshold` of 0 turns
/// panic mode off.
pub(super) fn level_in_panic<'l>(
    all: &'l [Level],
    available: &[Level],
    threshold: u32,
) -> Option<&'l Level> {
    if threshold == 0 {
        return None;
    }
    let available_in = |level: &Level| {
        available
            .iter()
            .find(|a| a.priority == level.priority)
            .map_or(0, |a| a.endpoints.len() as u64)
    };
    let availability: u64 = all
        .iter()
        .map(|level| {
            let total = level.endpoints.len().max(1) as u64;
            (OVERPROVISIONING * available_in(level) / total).min(100)
        })
        .sum();
    if availability >= 100 {
        return None;
    }
    let serving = all
        .iter()
        .find(|level| available_in(level) > 0)
        .or_else(|| all.first())?;
    let total = serving.endpoints.len() as u64;
    let in_panic = 100 * available_in(serving) < u64::from(threshold) * total;
    in_panic.then_some(serving)
}

#[cfg(test)]
mod tests;
