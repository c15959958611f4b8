//! Envoy's outlier detection for one cluster (passive health checking): an endpoint that
//! answers too many errors in a row is ejected — left out of balancing — for a while.
//!
//! Only the consecutive-error detectors exist, the ones Istio's `outlierDetection` turns on.
//! Local and upstream errors are not split: a connect failure or reset counts as a 503 and a
//! timeout as a 504, as Envoy maps them. A 5xx counts towards `consecutive_5xx`, a 502, 503 or
//! 504 towards `consecutive_gateway_failure` as well; any other status resets both counts, and
//! a 5xx that is not a gateway error resets the gateway count. Reaching a threshold is a
//! detection; it ejects the endpoint with the detector's enforcing probability, unless that
//! would take more than `max_ejection_percent` of the cluster's endpoints out (at least one
//! when `always_eject_one_host` is set). Either way the count that reached it restarts.
//!
//! An ejected endpoint comes back at the first interval tick (every `interval` since the
//! detector was made) that is at least `min(base_ejection_time × ejections, max_ejection_time)`
//! plus a random jitter after its ejection, with its counts reset. The multiplier grows by one
//! per ejection while below `max_ejection_time / base_ejection_time + 1`, and shrinks by one at
//! every tick after the endpoint came back. Envoy runs that sweep on a timer; here it runs when
//! the detector is next used — a pick or a report — with the same outcome, since every tick's
//! effect is known from the clock alone.
//!
//! Every report takes the detector's lock for a few field updates, as Envoy's host monitors
//! update counters; picks take no lock while nothing is ejected, and clusters without
//! `outlier_detection` have no detector at all.
//!
//! State is kept per endpoint address and lives as long as the detector: EDS updates keep it
//! for the endpoints that stay, while a CDS update of the cluster compiles a new detector that
//! starts afresh, as a new Envoy cluster does. Ejected endpoints leave balancing the same way
//! unhealthy ones do (see [`EndpointSet`](super::EndpointSet)), and count as unavailable for
//! panic mode (`panic.rs`): with Istio's default `minHealthPercent` of 0 there is none, and a
//! cluster whose endpoints are all out answers `no healthy upstream`.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
    time::Duration,
};

use rand::Rng;
use tokio::{sync::watch, time::Instant};

/// Envoy's default `consecutive_5xx` and `consecutive_gateway_failure`.
pub const DEFAULT_CONSECUTIVE_ERRORS: u32 = 5;
/// Envoy's default `interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Envoy's default `base_ejection_time`.
pub const DEFAULT_BASE_EJECTION_TIME: Duration = Duration::from_secs(30);
/// Envoy's default `max_ejection_time` (or `base_ejection_time`, when longer).
pub const DEFAULT_MAX_EJECTION_TIME: Duration = Duration::from_secs(300);
/// Envoy's default `max_ejection_percent`.
pub const DEFAULT_MAX_EJECTION_PERCENT: u32 = 10;

/// A compiled `outlier_detection`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutlierConfig {
    /// Consecutive 5xx before a detection; 0 disables it.
    pub consecutive_5xx: u32,
    /// The % chance that a consecutive-5xx detection ejects.
    pub enforcing_consecutive_5xx: u32,
    /// Consecutive gateway errors (502, 503, 504) before a detection; 0 disables it.
    pub consecutive_gateway_failure: u32,
    /// The % chance that a consecutive-gateway-failure detection ejects (Envoy's default 0).
    pub enforcing_consecutive_gateway_failure: u32,
    /// The time between sweeps that bring ejected endpoints back.
    pub interval: Duration,
    /// How long a first ejection lasts.
    pub base_ejection_time: Duration,
    /// The longest an ejection lasts, jitter aside; never below `base_ejection_time`.
    pub max_ejection_time: Duration,
    /// Up to this much is added at random to each ejection.
    pub max_ejection_time_jitter: Duration,
    /// The most of the cluster's endpoints that may be ejected at once, in % (at most 100).
    pub max_ejection_percent: u32,
    /// Whether one endpoint may be ejected even past `max_ejection_percent`.
    pub always_eject_one_host: bool,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        Self {
            consecutive_5xx: DEFAULT_CONSECUTIVE_ERRORS,
            enforcing_consecutive_5xx: 100,
            consecutive_gateway_failure: DEFAULT_CONSECUTIVE_ERRORS,
            enforcing_consecutive_gateway_failure: 0,
            interval: DEFAULT_INTERVAL,
            base_ejection_time: DEFAULT_BASE_EJECTION_TIME,
            max_ejection_time: DEFAULT_MAX_EJECTION_TIME,
            max_ejection_time_jitter: Duration::ZERO,
            max_ejection_percent: DEFAULT_MAX_EJECTION_PERCENT,
            always_eject_one_host: false,
        }
    }
}

/// How one request or connection to an endpoint went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered with this HTTP status.
    Status(u16),
    /// A TCP connection was established and is handed over (the TCP proxy's success).
    Connected,
    /// Connecting failed or timed out.
    ConnectFailure,
    /// The connection closed or was reset before a response.
    Reset,
    /// No response came in time.
    Timeout,
}

impl Outcome {
    /// The status Envoy maps the outcome to when local and upstream errors are not split.
    fn status(self) -> u16 {
        match self {
            Self::Status(status) => status,
            Self::Connected => 200,
            Self::ConnectFailure | Self::Reset => 503,
            Self::Timeout => 504,
        }
    }
}

/// The outlier detector of one compiled cluster.
#[derive(Debug)]
pub struct OutlierDetector {
    config: OutlierConfig,
    /// Tells views built for one detector from those of a later one.
    id: u64,
    /// Interval ticks fall at `epoch + k × interval`.
    epoch: Instant,
    /// The lock around the state: `send_if_modified` runs a closure exclusively, and nothing
    /// ever waits on the channel.
    state: watch::Sender<State>,
    /// Mirrors of the state, written under the lock, so that picks need no lock while nothing
    /// is ejected.
    ejected: AtomicUsize,
    generation: AtomicU64,
    settled_tick: AtomicU64,
    synced_set: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    hosts: HashMap<SocketAddr, Host>,
    /// The last tick whose sweep was applied.
    tick: u64,
    /// Bumped whenever the set of ejected endpoints changes.
    generation: u64,
    ejected: usize,
}

#[derive(Debug, Default)]
struct Host {
    consecutive_5xx: u32,
    consecutive_gateway: u32,
    /// Envoy's "eject time backoff": the multiplier of `base_ejection_time`.
    multiplier: u32,
    /// The tick that ends the current ejection, if ejected.
    ejected_until: Option<u64>,
    /// The tick that ended the last ejection.
    returned_at: Option<u64>,
}

#[derive(Clone, Copy)]
enum Detection {
    Consecutive5xx,
    ConsecutiveGateway,
}

// === impl OutlierDetector ===

impl OutlierDetector {
    /// A detector with nothing observed yet; its interval ticks start now.
    pub fn new(config: OutlierConfig) -> Self {
        static IDS: AtomicU64 = AtomicU64::new(1);
        Self {
            config,
            id: IDS.fetch_add(1, Ordering::Relaxed),
            epoch: Instant::now(),
            state: watch::Sender::new(State::default()),
            ejected: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            settled_tick: AtomicU64::new(0),
            synced_set: AtomicU64::new(0),
        }
    }

    /// What it enforces.
    pub fn config(&self) -> &OutlierConfig {
        &self.config
    }

    /// Records how a request or connection to `address` went; ejects it on a detection. An
    /// address the detector does not know (an endpoint EDS removed since) is ignored.
    pub fn report<R: Rng + ?Sized>(&self, address: SocketAddr, outcome: Outcome, rng: &mut R) {
        let tick = self.tick_at(Instant::now());
        self.modify(|state| {
            state.settle(tick);
            state.record(&self.config, self.since_epoch(), address, outcome, rng);
        });
    }

    /// Whether `address` is ejected now.
    pub fn is_ejected(&self, address: SocketAddr) -> bool {
        self.settle(Instant::now());
        self.state.borrow().is_ejected(address)
    }

    /// Learns the endpoints of set `set_id` (sets are numbered in creation order): state is
    /// kept for those that stay and dropped for the others. Older sets are ignored, since
    /// requests still under way may pick from them after a newer one was seen.
    pub(super) fn observe(&self, set_id: u64, addresses: impl Iterator<Item = SocketAddr>) {
        if set_id <= self.synced_set.load(Ordering::Acquire) {
            return;
        }
        let addresses: Vec<SocketAddr> = addresses.collect();
        self.modify(|state| {
            if set_id > self.synced_set.load(Ordering::Acquire) {
                state.sync(addresses);
                self.synced_set.store(set_id, Ordering::Release);
            }
        });
    }

    /// `None` while no endpoint is ejected; otherwise calls `build` with the predicate
    /// "ejected" and returns its result with the key it is valid for.
    pub(super) fn exclusions<T>(
        &self,
        build: impl FnOnce(&dyn Fn(SocketAddr) -> bool) -> T,
    ) -> Option<((u64, u64), T)> {
        if self.ejected.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.settle(Instant::now());
        let state = self.state.borrow();
        if state.ejected == 0 {
            return None;
        }
        let key = (self.id, state.generation);
        Some((key, build(&|address| state.is_ejected(address))))
    }

    /// The key of the current exclusions, `None` while no endpoint is ejected.
    pub(super) fn exclusions_key(&self) -> Option<(u64, u64)> {
        if self.ejected.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.settle(Instant::now());
        Some((self.id, self.generation.load(Ordering::Acquire)))
            .filter(|_| self.ejected.load(Ordering::Acquire) > 0)
    }

    /// Applies the sweeps of the ticks passed by `now`.
    fn settle(&self, now: Instant) {
        let tick = self.tick_at(now);
        if tick > self.settled_tick.load(Ordering::Acquire) {
            self.modify(|state| state.settle(tick));
        }
    }

    fn modify(&self, change: impl FnOnce(&mut State)) {
        self.state.send_if_modified(|state| {
            change(state);
            self.ejected.store(state.ejected, Ordering::Release);
            self.generation.store(state.generation, Ordering::Release);
            self.settled_tick.store(state.tick, Ordering::Release);
            false
        });
    }

    fn since_epoch(&self) -> Duration {
        Instant::now().saturating_duration_since(self.epoch)
    }

    fn tick_at(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(elapsed / self.config.interval.as_nanos().max(1)).unwrap_or(u64::MAX)
    }
}

// === impl State ===

impl State {
    fn is_ejected(&self, address: SocketAddr) -> bool {
        self.hosts
            .get(&address)
            .is_some_and(|h| h.ejected_until.is_some())
    }

    fn sync(&mut self, addresses: Vec<SocketAddr>) {
        let mut hosts = HashMap::with_capacity(addresses.len());
        for address in addresses {
            let host = self.hosts.remove(&address).unwrap_or_default();
            hosts.insert(address, host);
        }
        // What is left was removed by EDS: its ejections end with it.
        let removed = self
            .hosts
            .values()
            .filter(|h| h.ejected_until.is_some())
            .count();
        if removed > 0 {
            self.ejected -= removed;
            self.generation += 1;
        }
        self.hosts = hosts;
    }

    /// Envoy's interval sweep, for every tick after `self.tick` up to `tick`.
    fn settle(&mut self, tick: u64) {
        if tick <= self.tick {
            return;
        }
        for host in self.hosts.values_mut() {
            let returned = match host.ejected_until {
                Some(until) if until <= tick => {
                    host.ejected_until = None;
                    host.returned_at = Some(until);
                    host.consecutive_5xx = 0;
                    host.consecutive_gateway = 0;
                    self.ejected -= 1;
                    self.generation += 1;
                    until
                }
                Some(_) => continue,
                None => match host.returned_at {
                    Some(returned) => returned.max(self.tick),
                    None => continue,
                },
            };
            // Every tick after the one that brought it back finds it healthy.
            let healthy_ticks = u32::try_from(tick - returned).unwrap_or(u32::MAX);
            host.multiplier = host.multiplier.saturating_sub(healthy_ticks);
        }
        self.tick = tick;
    }

    fn record<R: Rng + ?Sized>(
        &mut self,
        config: &OutlierConfig,
        now: Duration,
        address: SocketAddr,
        outcome: Outcome,
        rng: &mut R,
    ) {
        let Some(host) = self.hosts.get_mut(&address) else {
            return;
        };
        let status = outcome.status();
        let mut detections = Vec::new();
        if status >= 500 {
            if matches!(status, 502..=504) {
                host.consecutive_gateway += 1;
                if host.consecutive_gateway == config.consecutive_gateway_failure {
                    detections.push(Detection::ConsecutiveGateway);
                }
            } else {
                host.consecutive_gateway = 0;
            }
            host.consecutive_5xx += 1;
            if host.consecutive_5xx == config.consecutive_5xx {
                detections.push(Detection::Consecutive5xx);
            }
        } else {
            host.consecutive_5xx = 0;
            host.consecutive_gateway = 0;
        }
        for detection in detections {
            self.detected(config, now, address, detection, rng);
        }
    }

    fn detected<R: Rng + ?Sized>(
        &mut self,
        config: &OutlierConfig,
        now: Duration,
        address: SocketAddr,
        detection: Detection,
        rng: &mut R,
    ) {
        let total = self.hosts.len();
        let ejected = self.ejected;
        let Some(host) = self.hosts.get_mut(&address) else {
            return;
        };
        // An ejected endpoint keeps counting without a new detection until it comes back.
        if host.ejected_until.is_some() {
            return;
        }
        let enforcing = match detection {
            Detection::Consecutive5xx => {
                host.consecutive_5xx = 0;
                config.enforcing_consecutive_5xx
            }
            Detection::ConsecutiveGateway => {
                host.consecutive_gateway = 0;
                config.enforcing_consecutive_gateway_failure
            }
        };
        let max_percent = u64::from(config.max_ejection_percent.min(100));
        let within_limit = 100 * (ejected as u64 + 1) <= max_percent * total as u64;
        let allowed = within_limit || (config.always_eject_one_host && ejected == 0);
        if !allowed || rng.random_range(0..100) >= enforcing {
            return;
        }
        let base = config.base_ejection_time;
        if base.saturating_mul(host.multiplier) < config.max_ejection_time.saturating_add(base) {
            host.multiplier += 1;
        }
        let jitter_ms = u64::try_from(config.max_ejection_time_jitter.as_millis()).unwrap_or(0);
        let jitter = Duration::from_millis(rng.random_range(0..=jitter_ms));
        let length = base
            .saturating_mul(host.multiplier)
            .min(config.max_ejection_time)
            .saturating_add(jitter);
        // The first tick at least `length` after now.
        let interval = config.interval.as_nanos().max(1);
        let until = (now.saturating_add(length).as_nanos()).div_ceil(interval);
        host.ejected_until = Some(u64::try_from(until).unwrap_or(u64::MAX));
        self.ejected += 1;
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests;
