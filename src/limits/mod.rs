//! Request body caps: the pre-flight Content-Length check and a streaming counter for
//! chunked bodies, so an oversized upload is refused before, or as soon as, it passes the cap.

pub mod drain;
pub mod lockout;
pub mod rate;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// A request body went past the route's `max_body_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request body is larger than the {limit_bytes}-byte cap")]
pub struct BodyTooLarge {
    pub limit_bytes: u64,
}

/// The request's declared length, if it is one well-formed Content-Length.
/// hyper already refuses conflicting or malformed lengths with 400 before we see them.
pub fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The body's framing as frontdoor forwards it: `Transfer-Encoding` may only be `chunked`.
/// Another coding (`gzip, chunked`) would be lost on the way (frontdoor re-frames the body
/// for the upstream), so the request is refused rather than changed.
pub fn check_transfer_coding(headers: &http::HeaderMap) -> Result<(), UnsupportedCoding> {
    let mut chunked = 0;
    for value in headers.get_all(http::header::TRANSFER_ENCODING) {
        let Ok(text) = value.to_str() else {
            return Err(UnsupportedCoding);
        };
        for coding in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if !coding.eq_ignore_ascii_case("chunked") {
                return Err(UnsupportedCoding);
            }
            chunked += 1;
        }
    }
    // `chunked, chunked` would lose one layer of framing on the way.
    if chunked > 1 {
        return Err(UnsupportedCoding);
    }
    Ok(())
}

/// A transfer coding other than `chunked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("transfer codings other than chunked are not forwarded")]
pub struct UnsupportedCoding;

/// Pre-flight check: a declared length over the cap is refused before the body is read
/// (and so before hyper answers `Expect: 100-continue`) and before the upstream is touched.
pub fn check_declared(headers: &http::HeaderMap, limit_bytes: u64) -> Result<(), BodyTooLarge> {
    match declared_length(headers) {
        Some(len) if len > limit_bytes => Err(BodyTooLarge { limit_bytes }),
        _ => Ok(()),
    }
}

/// Reading the client's request body failed (a malformed chunk, bad framing, the client
/// going away mid-body): the client's fault, answered 400, never the upstream's 502.
#[derive(Debug, thiserror::Error)]
#[error("the client's request body could not be read: {0}")]
pub struct ClientBodyError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// The client sent no request-body bytes for longer than the body timeout (slow upload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request body stalled for {timeout:?}")]
pub struct BodyStalled {
    pub timeout: std::time::Duration,
}

/// Resolves once a request body has been read to its end (or abandoned). A request without
/// a body (most of them) needs no channel.
#[derive(Debug, Clone)]
pub struct BodyEnd(Option<tokio::sync::watch::Receiver<bool>>);

impl BodyEnd {
    /// For a request that has no body to wait for.
    pub fn already_ended() -> BodyEnd {
        BodyEnd(None)
    }

    /// Whether the body has ended (or was abandoned).
    pub fn has_ended(&self) -> bool {
        self.0
            .as_ref()
            .is_none_or(|end| *end.borrow() || end.has_changed().is_err())
    }

    /// Waits for the end of the body; returns at once if it already ended.
    pub async fn wait(&mut self) {
        if let Some(end) = &mut self.0 {
            // An error means the body was dropped: nothing more will be sent either way.
            let _ = end.wait_for(|ended| *ended).await;
        }
    }
}

/// A request body on its way upstream. It fails with [`BodyTooLarge`] the moment more than
/// `limit_bytes` have passed (the error aborts the upstream request mid-body, so the
/// upstream never sees a complete oversized body: a chunked request loses its terminating
/// chunk), fails with [`BodyStalled`] when the client goes quiet mid-body, and tells
/// [`BodyEnd`] when it is done.
pub struct CappedBody<B> {
    /// None once handed to [`drain::discard`] (only ever in `drop`).
    inner: Option<B>,
    /// What happens to the rest of the body when it is dropped before its end (see
    /// [`CappedBody::discard_rest_on_drop`]); None: it is dropped with it.
    on_drop: Option<Box<dyn FnOnce(B) + Send>>,
    seen_bytes: u64,
    limit_bytes: u64,
    idle_timeout: std::time::Duration,
    /// Armed when the body first waits for the client.
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The slowest average the client may send at, counted over the time spent waiting for
    /// it (not for the upstream), once that time passes `idle_timeout`. 0: no minimum.
    min_rate_bytes_per_sec: u64,
    /// Time spent waiting for the client so far, and since when it is being waited for.
    client_wait: std::time::Duration,
    waiting_since: Option<std::time::Instant>,
    /// None for a body that was empty from the start.
    ended: Option<tokio::sync::watch::Sender<bool>>,
}

impl<B: Body> CappedBody<B> {
    pub fn new(inner: B, limit_bytes: u64, idle_timeout: std::time::Duration) -> (Self, BodyEnd) {
        let (ended, end) = if inner.is_end_stream() {
            (None, None)
        } else {
            let (ended, end) = tokio::sync::watch::channel(false);
            (Some(ended), Some(end))
        };
        let body = CappedBody {
            inner: Some(inner),
            on_drop: None,
            seen_bytes: 0,
            limit_bytes,
            idle_timeout,
            idle: None,
            min_rate_bytes_per_sec: 0,
            client_wait: std::time::Duration::ZERO,
            waiting_since: None,
            ended,
        };
        (body, BodyEnd(end))
    }

    /// When dropped before its end (the upstream answered early, the cap tripped, the
    /// request failed), the rest of the body is read and discarded in the background, so
    /// the client receives the answer ([`drain`]).
    /// `keep` is held until the discarding ends (see [`drain::discard`]).
    #[must_use]
    pub fn discard_rest_on_drop(mut self, keep: Option<Box<dyn std::any::Any + Send>>) -> Self
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
    {
        self.on_drop = Some(Box::new(move |body| {
            drain::discard(body, drain::DRAIN_MAX_BYTES, keep);
        }));
        self
    }

    /// Refuses (408) a client that sends slower than `bytes_per_sec` on average, counted
    /// over the time frontdoor waited for it, once that passes the body timeout: a trickle
    /// (a byte every 25 s) cannot hold an upstream connection for hours.
    #[must_use]
    pub fn with_min_rate(mut self, bytes_per_sec: u64) -> Self {
        self.min_rate_bytes_per_sec = bytes_per_sec;
        self
    }

    /// Whether the client, waited for this long in all, is below the minimum rate.
    fn too_slow(&self) -> bool {
        if self.min_rate_bytes_per_sec == 0 || self.client_wait <= self.idle_timeout {
            return false;
        }
        let expected = self.client_wait.as_secs_f64() * self.min_rate_bytes_per_sec as f64;
        (self.seen_bytes as f64) < expected
    }

    fn mark_ended(&self) {
        if let Some(ended) = &self.ended {
            ended.send_if_modified(|ended| !std::mem::replace(ended, true));
        }
    }
}

impl<B> Body for CappedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        match (&polled, this.waiting_since) {
            (Poll::Pending, None) => this.waiting_since = Some(std::time::Instant::now()),
            (Poll::Ready(_), Some(since)) => {
                this.client_wait += since.elapsed();
                this.waiting_since = None;
            }
            _ => {}
        }
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen_bytes = this.seen_bytes.saturating_add(data.len() as u64);
                    if this.seen_bytes > this.limit_bytes {
                        this.mark_ended();
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge {
                            limit_bytes: this.limit_bytes,
                        }))));
                    }
                }
                let ended = this.inner.as_ref().is_none_or(Body::is_end_stream);
                if !ended && this.too_slow() {
                    this.mark_ended();
                    return Poll::Ready(Some(Err(Box::new(BodyStalled {
                        timeout: this.idle_timeout,
                    }))));
                }
                if let Some(idle) = &mut this.idle {
                    idle.as_mut()
                        .reset(tokio::time::Instant::now() + this.idle_timeout);
                }
                if this.inner.as_ref().is_none_or(Body::is_end_stream) {
                    this.mark_ended();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.mark_ended();
                Poll::Ready(Some(Err(Box::new(ClientBodyError(e.into())))))
            }
            Poll::Ready(None) => {
                this.mark_ended();
                Poll::Ready(None)
            }
            Poll::Pending => match this
                .idle
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(this.idle_timeout)))
                .as_mut()
                .poll(cx)
            {
                Poll::Ready(()) => {
                    this.mark_ended();
                    Poll::Ready(Some(Err(Box::new(BodyStalled {
                        timeout: this.idle_timeout,
                    }))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.as_ref().is_none_or(Body::is_end_stream);
        if end {
            self.mark_ended();
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl<B> Drop for CappedBody<B> {
    fn drop(&mut self) {
        if let (Some(on_drop), Some(inner)) = (self.on_drop.take(), self.inner.take()) {
            on_drop(inner);
        }
    }
}
