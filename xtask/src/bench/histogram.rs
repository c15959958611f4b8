//! Latency histograms, in microseconds, and the figures the report takes from them.

use std::time::Duration;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The largest latency recorded exactly: 60 s. Anything slower is recorded as 60 s (no run
/// lasts that long per request without being a failure anyway).
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// The percentiles of the latency chart: dense towards the tail, where proxies differ.
pub const CURVE_PERCENTILES: [f64; 17] = [
    50.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 95.0, 97.0, 98.0, 99.0, 99.5, 99.7, 99.9, 99.95,
    99.97, 99.99,
];

/// The latencies of one run (or of several runs merged).
#[derive(Clone, Debug)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

/// The summary figures of a latency distribution, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// How many latencies were recorded.
    pub count: u64,
    /// The median.
    pub p50_us: u64,
    /// The 90th percentile.
    pub p90_us: u64,
    /// The 99th percentile.
    pub p99_us: u64,
    /// The 99.9th percentile.
    pub p999_us: u64,
    /// The slowest request.
    pub max_us: u64,
    /// The arithmetic mean.
    pub mean_us: f64,
}

/// One point of the latency chart.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// The percentile, 50 to 99.99.
    pub percentile: f64,
    /// The latency at that percentile, in microseconds.
    pub latency_us: u64,
}

// === impl Latencies ===

impl Latencies {
    /// An empty histogram: 1 µs to [`MAX_LATENCY_US`] with three significant digits, so every
    /// figure is within 0.1% of the latency it stands for.
    pub fn new() -> anyhow::Result<Self> {
        let histogram = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
            .context("creating a latency histogram")?;
        Ok(Self { histogram })
    }

    /// Records one latency (sub-microsecond latencies count as 1 µs).
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.max(1));
    }

    /// Adds every latency of `other`, as when merging the rounds of a scenario.
    pub fn merge(&mut self, other: &Latencies) -> anyhow::Result<()> {
        self.histogram
            .add(&other.histogram)
            .context("merging latency histograms")
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The summary figures (all zero when nothing was recorded).
    pub fn percentiles(&self) -> Percentiles {
        if self.histogram.is_empty() {
            return Percentiles::default();
        }
        let at = |percentile: f64| self.histogram.value_at_percentile(percentile);
        Percentiles {
            count: self.histogram.len(),
            p50_us: at(50.0),
            p90_us: at(90.0),
            p99_us: at(99.0),
            p999_us: at(99.9),
            max_us: self.histogram.max(),
            mean_us: self.histogram.mean(),
        }
    }

    /// The latency at each of [`CURVE_PERCENTILES`] (empty when nothing was recorded).
    pub fn curve(&self) -> Vec<CurvePoint> {
        if self.histogram.is_empty() {
            return Vec::new();
        }
        CURVE_PERCENTILES
            .iter()
            .map(|&percentile| CurvePoint {
                percentile,
                latency_us: self.histogram.value_at_percentile(percentile),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_a_thousand_microseconds() {
        let mut latencies = Latencies::new().unwrap();
        for micros in 1..=1000 {
            latencies.record(Duration::from_micros(micros));
        }
        assert_eq!(
            latencies.percentiles(),
            Percentiles {
                count: 1000,
                p50_us: 500,
                p90_us: 900,
                p99_us: 990,
                // 99.9 / 100 is a hair above 0.999 in floating point, so HdrHistogram
                // rounds the rank up to the 1000th value.
                p999_us: 1000,
                max_us: 1000,
                mean_us: 500.5,
            }
        );
        let curve = latencies.curve();
        assert_eq!(curve.len(), CURVE_PERCENTILES.len());
        assert_eq!(
            curve[0],
            CurvePoint {
                percentile: 50.0,
                latency_us: 500
            }
        );
        assert_eq!(curve[10].latency_us, 990);
    }

    #[test]
    fn merging_adds_the_counts_and_keeps_the_tail() {
        let mut first = Latencies::new().unwrap();
        let mut second = Latencies::new().unwrap();
        for _ in 0..99 {
            first.record(Duration::from_micros(100));
        }
        second.record(Duration::from_millis(50));
        first.merge(&second).unwrap();
        let merged = first.percentiles();
        assert_eq!(merged.count, 100);
        assert_eq!(merged.p50_us, 100);
        assert_eq!(merged.p99_us, 100);
        // 50 000 µs, within HdrHistogram's 0.1% bucket.
        assert_eq!(merged.max_us, 50_015);
    }

    #[test]
    fn sub_microsecond_and_empty() {
        let mut latencies = Latencies::new().unwrap();
        assert_eq!(latencies.percentiles(), Percentiles::default());
        assert!(latencies.curve().is_empty());
        latencies.record(Duration::from_nanos(300));
        assert_eq!(latencies.percentiles().max_us, 1);
    }
}
