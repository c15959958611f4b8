//! Retiring pooled upstream connections as Envoy does: after `max_requests_per_connection`
//! requests, and `max_connection_duration` after they opened.
//!
//! hyper's pool cannot be told to close a connection, but a connection it hands out can be
//! *poisoned*: the pool never hands it out again, and drops it once its requests are done (an
//! HTTP/1.1 connection when its response ends, an HTTP/2 one with its last stream). Each
//! connection with a limit carries a [`Lifetime`], reachable from hyper's metadata of the
//! connection. A request learns which connection the pool gave it as soon as it is given one
//! ([`capture_connection`]), counts itself there, and poisons the connection if it is the last
//! one allowed; a timer poisons it when its duration runs out.
//!
//! For HTTP/1.1 the count is exact: a connection carries one request at a time. HTTP/2
//! requests that take the same connection at the same instant as the last allowed one may
//! still go out on it, as they were handed the connection before it was poisoned.

use std::sync::{
    Arc, OnceLock, Weak,
    atomic::{AtomicU32, Ordering},
};

use http::Request;
use hyper_util::client::legacy::connect::{CaptureConnection, capture_connection};
use tokio::{task::AbortHandle, time::Instant};

use crate::config::ConnectionOptions;

/// What one upstream connection has carried, and its limits.
#[derive(Debug)]
pub(super) struct Lifetime {
    max_requests: Option<u32>,
    deadline: Option<Instant>,
    requests: AtomicU32,
    /// A request's view of the connection, kept to poison it when its time runs out.
    capture: OnceLock<CaptureConnection>,
    /// The timer that poisons the connection at its deadline, stopped with the connection.
    timer: OnceLock<AbortHandle>,
}

/// The connection metadata's link to its [`Lifetime`]: weak, because the lifetime keeps a
/// capture that holds the metadata.
#[derive(Clone, Debug)]
pub(super) struct LifetimeRef(Weak<Lifetime>);

// === impl Lifetime ===

impl Lifetime {
    /// The lifetime of a connection opened now, if `options` limit it.
    pub(super) fn start(options: &ConnectionOptions) -> Option<Arc<Self>> {
        if !limits(options) {
            return None;
        }
        let lifetime = Arc::new(Self {
            max_requests: options.max_requests_per_connection,
            deadline: options
                .max_connection_duration
                .and_then(|d| Instant::now().checked_add(d)),
            requests: AtomicU32::new(0),
            capture: OnceLock::new(),
            timer: OnceLock::new(),
        });
        if let Some(deadline) = lifetime.deadline {
            let weak = Arc::downgrade(&lifetime);
            let timer = tokio::spawn(async move {
                tokio::time::sleep_until(deadline).await;
                if let Some(lifetime) = weak.upgrade() {
                    lifetime.expire();
                }
            });
            // Just made: nothing else can have set it.
            let _ = lifetime.timer.set(timer.abort_handle());
        }
        Some(lifetime)
    }

    /// The link to put in the connection's metadata.
    pub(super) fn link(self: &Arc<Self>) -> LifetimeRef {
        LifetimeRef(Arc::downgrade(self))
    }

    fn expire(&self) {
        if let Some(capture) = self.capture.get()
            && let Some(connected) = capture.connection_metadata().as_ref()
        {
            connected.poison();
        }
    }
}

impl Drop for Lifetime {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.get() {
            timer.abort();
        }
    }
}

/// Whether connections under `options` need a [`Lifetime`].
pub(super) fn limits(options: &ConnectionOptions) -> bool {
    options.max_requests_per_connection.is_some() || options.max_connection_duration.is_some()
}

/// Sends `request` with `send`, counting it on the connection the pool gives it; the request
/// that uses up the connection's allowance, or that finds its time run out, poisons it.
pub(super) async fn send_counted<B, F, R>(
    mut request: Request<B>,
    send: impl FnOnce(Request<B>) -> F,
) -> R
where
    F: Future<Output = R>,
{
    let mut capture = capture_connection(&mut request);
    let response = send(request);
    tokio::pin!(response);
    // The pool gives the request its connection before it is written: counting then, rather
    // than at the response, keeps a used-up connection from being given to the next request.
    let early = tokio::select! {
        biased;
        result = &mut response => Some(result),
        () = async { drop(capture.wait_for_connection_metadata().await) } => None,
    };
    count(&capture);
    match early {
        Some(result) => result,
        None => response.await,
    }
}

/// Counts one request on the connection `capture` saw it take, if it took one with a lifetime.
fn count(capture: &CaptureConnection) {
    let metadata = capture.connection_metadata();
    let Some(connected) = metadata.as_ref() else {
        return;
    };
    let mut extensions = http::Extensions::new();
    connected.get_extras(&mut extensions);
    let Some(lifetime) = extensions.get::<LifetimeRef>().and_then(|l| l.0.upgrade()) else {
        return;
    };
    let _ = lifetime.capture.set(capture.clone());
    let carried = lifetime
        .requests
        .fetch_add(1, Ordering::Relaxed)
        .saturating_add(1);
    let used_up = lifetime.max_requests.is_some_and(|max| carried >= max);
    let expired = lifetime.deadline.is_some_and(|d| Instant::now() >= d);
    if used_up || expired {
        connected.poison();
    }
}
