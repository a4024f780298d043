//! WebSocket tunnels after the upgrade: bytes copied both ways until either side closes or
//! the tunnel carries nothing for `server.tunnel_idle_timeout_secs`. Each open tunnel holds
//! one of `server.max_tunnels` slots (not one of `max_connections`: an idle tunnel must not
//! keep new clients out) and counts in `frontdoor_open_tunnels`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;

use crate::metrics::Metrics;

/// A tunnel's right to exist: its slot, its gauge entry, and how long it may idle.
pub struct Tunnel {
    _slot: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
    idle_timeout: Duration,
}

impl Tunnel {
    /// Counts the tunnel as open until it is dropped.
    pub fn new(slot: OwnedSemaphorePermit, metrics: Arc<Metrics>, idle_timeout: Duration) -> Self {
        metrics.tunnel_opened();
        Tunnel {
            _slot: slot,
            metrics,
            idle_timeout,
        }
    }

    /// Copies between the two sides until one closes or neither sends for the idle timeout.
    pub async fn run<A, B>(self, client: A, upstream: B)
    where
        A: AsyncRead + AsyncWrite + Unpin,
        B: AsyncRead + AsyncWrite + Unpin,
    {
        let started = Instant::now();
        let last = Arc::new(AtomicU64::new(0));
        let mut client = Idle {
            inner: client,
            last: last.clone(),
            started,
        };
        let mut upstream = Idle {
            inner: upstream,
            last: last.clone(),
            started,
        };
        let idle_limit = u64::try_from(self.idle_timeout.as_millis()).unwrap_or(u64::MAX);
        let check_every = (self.idle_timeout / 4).max(Duration::from_millis(250));
        let idle = async {
            loop {
                tokio::time::sleep(check_every).await;
                let now = millis_since(started);
                if now.saturating_sub(last.load(Ordering::Relaxed)) >= idle_limit {
                    return;
                }
            }
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
            () = idle => {
                tracing::debug!(idle_timeout = ?self.idle_timeout, "tunnel idle: closing");
            }
        }
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.metrics.tunnel_closed();
    }
}

fn millis_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// One side of a tunnel, stamping when it last delivered bytes.
struct Idle<T> {
    inner: T,
    last: Arc<AtomicU64>,
    started: Instant,
}

impl<T: AsyncRead + Unpin> AsyncRead for Idle<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.last
                .store(millis_since(this.started), Ordering::Relaxed);
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Idle<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
