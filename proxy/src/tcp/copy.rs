//! Copying bytes both ways between the downstream and the upstream, with half-close, an idle
//! timeout that traffic resets, a deadline that nothing resets, and byte counts that survive an
//! error or a timeout.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Instant,
};

/// How a copy ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyEnd {
    /// Both sides closed their write side.
    Closed,
    /// No byte moved either way for the idle timeout.
    IdleTimeout,
    /// The connection reached its maximum duration.
    MaxDuration,
    /// A read or write failed (usually a reset).
    Error,
}

/// The outcome of [`copy_both_ways`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copied {
    /// Bytes read from the downstream (Envoy's `%BYTES_RECEIVED%`).
    pub received: u64,
    /// Bytes written to the downstream (Envoy's `%BYTES_SENT%`).
    pub sent: u64,
    /// Why the copy stopped.
    pub end: CopyEnd,
}

/// What both directions share: byte counts and the time of the last activity, in milliseconds
/// since `base`, so that the idle timer can be pushed back without a lock.
#[derive(Debug)]
struct Meter {
    base: Instant,
    received: AtomicU64,
    sent: AtomicU64,
    last_activity_ms: AtomicU64,
}

/// The downstream side, counting what passes through it. Every upstream byte is written here,
/// so counting activity on this side alone sees traffic in both directions.
struct Metered<S> {
    inner: S,
    meter: Arc<Meter>,
}

/// Copies between `downstream` and `upstream` until both directions have closed, one fails,
/// nothing moves for `idle_timeout`, or `deadline` passes. When one side reads end-of-stream,
/// the other side's write half is shut down and the opposite direction keeps flowing, as TCP
/// half-close requires.
pub async fn copy_both_ways<D, U>(
    downstream: &mut D,
    upstream: &mut U,
    idle_timeout: Option<Duration>,
    deadline: Option<Instant>,
) -> Copied
where
    D: AsyncRead + AsyncWrite + Unpin + ?Sized,
    U: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let meter = Arc::new(Meter {
        base: Instant::now(),
        received: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        last_activity_ms: AtomicU64::new(0),
    });
    let mut metered = Metered {
        inner: downstream,
        meter: Arc::clone(&meter),
    };
    let copy = tokio::io::copy_bidirectional(&mut metered, upstream);
    // `None` once the deadline passed.
    let limited = async {
        match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, copy).await.ok(),
            None => Some(copy.await),
        }
    };
    let end = match idle_timeout {
        None => end_of(limited.await),
        Some(idle) => {
            tokio::pin!(limited);
            loop {
                let deadline = meter.idle_deadline(idle);
                tokio::select! {
                    result = &mut limited => break end_of(result),
                    () = tokio::time::sleep_until(deadline) => {
                        // Traffic since the timer was armed pushes the deadline back.
                        if meter.idle_deadline(idle) <= Instant::now() {
                            break CopyEnd::IdleTimeout;
                        }
                    }
                }
            }
        }
    };
    Copied {
        received: meter.received.load(Ordering::Relaxed),
        sent: meter.sent.load(Ordering::Relaxed),
        end,
    }
}

/// How the copy ended: `None` when the deadline passed.
fn end_of(result: Option<io::Result<(u64, u64)>>) -> CopyEnd {
    match result {
        Some(Ok(_)) => CopyEnd::Closed,
        Some(Err(_)) => CopyEnd::Error,
        None => CopyEnd::MaxDuration,
    }
}

// === impl Meter ===

impl Meter {
    fn touch(&self) {
        let elapsed = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_activity_ms.store(elapsed, Ordering::Relaxed);
    }

    fn idle_deadline(&self, idle: Duration) -> Instant {
        let last = Duration::from_millis(self.last_activity_ms.load(Ordering::Relaxed));
        self.base + last + idle
    }
}

// === impl Metered ===

impl<S: AsyncRead + Unpin + ?Sized> AsyncRead for Metered<&mut S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut *this.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            this.meter
                .received
                .fetch_add(read as u64, Ordering::Relaxed);
            this.meter.touch();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin + ?Sized> AsyncWrite for Metered<&mut S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut *this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = poll
            && written > 0
        {
            this.meter.sent.fetch_add(written as u64, Ordering::Relaxed);
            this.meter.touch();
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().inner).poll_shutdown(cx)
    }
}
