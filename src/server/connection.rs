//! Owns one client connection's life after it is accepted: the timeouts for idle and slow
//! clients (`drive`), what counts as activity (`Watched`, `Activity`), and keeping a request
//! counted as in flight while its response streams (`TrackedBody`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::watch;

use crate::responses::{Body, BoxError};
use crate::state::AppState;

/// Connection limits, read from the config in force when a connection is accepted.
#[derive(Debug, Clone, Copy)]
pub(super) struct ConnSettings {
    pub(super) header_timeout: Duration,
    pub(super) idle_timeout: Duration,
    pub(super) max_header_bytes: usize,
    pub(super) send_timeout: Duration,
}

impl ConnSettings {
    pub(super) fn current(state: &AppState) -> ConnSettings {
        let runtime = state.runtime.load();
        let server = &runtime.config.server;
        ConnSettings {
            header_timeout: server.header_timeout,
            idle_timeout: server.idle_timeout,
            max_header_bytes: server.max_header_bytes,
            send_timeout: server.send_timeout,
        }
    }
}

/// Counts a client connection in `active_connections` while it lives.
pub(super) struct OpenConnection(Arc<AppState>);

impl OpenConnection {
    pub(super) fn new(state: &Arc<AppState>) -> Self {
        state.metrics.connection_opened();
        OpenConnection(state.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.metrics.connection_closed();
    }
}

/// Drives a connection to its end. It is closed gracefully when the server shuts down, and
/// dropped when a timeout passes with no request in flight: `idle_timeout` when the client
/// sent nothing since its last response, `header_timeout` once it started sending the next
/// request's head (slowloris). hyper's own header timer is off: it would also end idle
/// keep-alive connections after `header_timeout`. A connection whose client has accepted
/// none of a response's bytes for `send_timeout` (it stopped reading) is dropped at once,
/// in flight or not: its responses, and the upstream connections behind them, are released.
pub(super) async fn drive<C, F>(
    conn: C,
    begin_graceful_shutdown: F,
    activity: Arc<Activity>,
    timeouts: ConnSettings,
    mut shutdown: watch::Receiver<bool>,
) where
    C: Future<Output = Result<(), hyper::Error>>,
    F: Fn(Pin<&mut C>),
{
    tokio::pin!(conn);
    let check_every = (timeouts
        .idle_timeout
        .min(timeouts.header_timeout)
        .min(timeouts.send_timeout)
        / 4)
    .max(Duration::from_millis(250));
    let mut ticker = tokio::time::interval(check_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    let mut drop_at: Option<Instant> = None;

    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = shutdown.changed(), if !closing => {
                closing = true;
                begin_graceful_shutdown(conn.as_mut());
            }
            _ = ticker.tick() => {
                activity.coarse_ms.store(activity.now_ms(), Ordering::Relaxed);
                if activity.longest_unsent() >= timeouts.send_timeout {
                    // One stalled response ends the connection (hyper cannot reset a single
                    // HTTP/2 stream from here): its upstream connections are released.
                    tracing::debug!(timeout = "send", "client stopped reading: closing connection");
                    return;
                }
                // Timeouts apply while shutting down too: a half-sent request head must
                // not hold shutdown for the whole grace period.
                match drop_at {
                    Some(at) if Instant::now() >= at => {
                        if activity.in_flight() == 0 {
                            return;
                        }
                        // A request began meanwhile: let it finish.
                        drop_at = None;
                    }
                    Some(_) => {}
                    None => {
                        if let Some(which) = activity.timed_out(&timeouts) {
                            tracing::debug!(timeout = which, "closing connection");
                            if !closing {
                                closing = true;
                                begin_graceful_shutdown(conn.as_mut());
                            }
                            // If the graceful close does not finish, drop it (only ever with
                            // nothing in flight).
                            drop_at = Some(Instant::now() + Duration::from_secs(1));
                        }
                    }
                }
            }
        }
    }
}

/// Watches what a client sends, so the drive loop can tell an idle connection from one
/// whose next request head is trickling in.
pub(super) struct Watched<T> {
    pub(super) inner: T,
    pub(super) activity: Arc<Activity>,
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.saw_bytes();
        }
        result
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Requests in flight on one connection and when the last one ended.
pub(super) struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    last_active_ms: AtomicU64,
    /// When the first byte of a request not yet dispatched arrived (`NOT_WAITING` if none).
    head_started_ms: AtomicU64,
    /// One slot per response body streaming on this connection (1 for HTTP/1.1, one per
    /// possible HTTP/2 stream): `FREE`, `OWNED` (a body that is not waiting for the client),
    /// or when the body handed hyper a chunk that hyper has not come back for. hyper asks a
    /// body for its next chunk only once the client has taken enough of the last one, so
    /// each stalled stream is seen, however busy the others are.
    unsent_since: Box<[AtomicU64]>,
    /// `now_ms` as of the drive loop's last tick: the stamps use it, so handing a chunk to
    /// hyper reads no clock (the ticks are a quarter of the shortest timeout apart).
    coarse_ms: AtomicU64,
}

/// A free slot in `Activity::unsent_since`.
const FREE: u64 = u64::MAX;
/// A slot whose body is not waiting for the client.
const OWNED: u64 = u64::MAX - 1;

const NOT_WAITING: u64 = u64::MAX;

impl Activity {
    /// For HTTP/1 the connection's start counts as the start of its first request head,
    /// so a client that connects and sends nothing gets `header_timeout`, not
    /// `idle_timeout`. HTTP/2 has no such state (its control frames are not requests).
    pub(super) fn new(http1: bool) -> Self {
        let slots = if http1 {
            1
        } else {
            super::https::H2_MAX_STREAMS as usize
        };
        Activity {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(if http1 { 0 } else { NOT_WAITING }),
            unsent_since: (0..slots).map(|_| AtomicU64::new(FREE)).collect(),
            coarse_ms: AtomicU64::new(0),
        }
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Bytes arrived: with no request in flight, they start the next request's head.
    fn saw_bytes(&self) {
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            let _ = self.head_started_ms.compare_exchange(
                NOT_WAITING,
                self.now_ms(),
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
        }
    }

    /// Which timeout, if any, has passed with no request in flight.
    fn timed_out(&self, timeouts: &ConnSettings) -> Option<&'static str> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let now = self.now_ms();
        match self.head_started_ms.load(Ordering::SeqCst) {
            NOT_WAITING => (self.idle_for() >= timeouts.idle_timeout).then_some("idle"),
            since => (Duration::from_millis(now.saturating_sub(since)) >= timeouts.header_timeout)
                .then_some("request head too slow"),
        }
    }

    /// How long the oldest chunk handed to hyper has waited for the client.
    fn longest_unsent(&self) -> Duration {
        let now = self.now_ms();
        let oldest = self
            .unsent_since
            .iter()
            .map(|slot| slot.load(Ordering::Relaxed))
            .filter(|since| *since < OWNED)
            .min();
        oldest.map_or(Duration::ZERO, |since| {
            Duration::from_millis(now.saturating_sub(since))
        })
    }

    /// A slot for a response body, if one is free.
    fn claim_slot(&self) -> Option<usize> {
        self.unsent_since.iter().position(|slot| {
            slot.compare_exchange(FREE, OWNED, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(super) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.head_started_ms.store(NOT_WAITING, Ordering::SeqCst);
        self.last_active_ms.store(self.now_ms(), Ordering::SeqCst);
        InFlight(self.clone())
    }

    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        let last = self.last_active_ms.load(Ordering::SeqCst);
        Duration::from_millis(self.now_ms().saturating_sub(last))
    }
}

/// Counts a request as in flight until its response body is done or dropped.
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .last_active_ms
            .store(self.0.now_ms(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request counted as in flight while it streams, and
/// stamps (in its slot) when it handed hyper a chunk the client has yet to take.
pub(super) struct TrackedBody {
    inner: Body,
    /// Its slot in `Activity::unsent_since`; None when it has not handed over a chunk yet,
    /// or when every slot was taken (then it is not watched).
    slot: Option<usize>,
    in_flight: InFlight,
}

pub(super) fn track(inner: Body, in_flight: InFlight) -> TrackedBody {
    TrackedBody {
        inner,
        slot: None,
        in_flight,
    }
}

impl TrackedBody {
    fn stamp(&mut self, value: u64) {
        let activity = &self.in_flight.0;
        if self.slot.is_none() && value < OWNED {
            self.slot = activity.claim_slot();
        }
        if let Some(slot) = self.slot.and_then(|i| activity.unsent_since.get(i)) {
            slot.store(value, Ordering::Relaxed);
        }
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        if self.slot.is_some() {
            self.stamp(FREE);
        }
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            // This chunk waits for the client until hyper comes back for the next one.
            Poll::Ready(Some(Ok(frame))) if frame.is_data() => {
                let now = this.in_flight.0.coarse_ms.load(Ordering::Relaxed);
                this.stamp(now);
            }
            // hyper came back: the client took what it had.
            _ if this.slot.is_some() => this.stamp(OWNED),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
