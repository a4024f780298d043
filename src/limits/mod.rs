//! Request body caps: the pre-flight Content-Length check and a streaming counter for
//! chunked bodies, so an oversized upload is refused before, or as soon as, it passes the cap.

pub mod lockout;

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

/// Pre-flight check: a declared length over the cap is refused before the body is read
/// (and so before hyper answers `Expect: 100-continue`) and before the upstream is touched.
pub fn check_declared(headers: &http::HeaderMap, limit_bytes: u64) -> Result<(), BodyTooLarge> {
    match declared_length(headers) {
        Some(len) if len > limit_bytes => Err(BodyTooLarge { limit_bytes }),
        _ => Ok(()),
    }
}

/// A body that fails with [`BodyTooLarge`] the moment more than `limit_bytes` have passed.
/// The error aborts the upstream request mid-body, so the upstream never sees a complete
/// oversized body (a chunked request loses its terminating chunk).
pub struct CappedBody<B> {
    inner: B,
    seen_bytes: u64,
    limit_bytes: u64,
}

impl<B> CappedBody<B> {
    pub fn new(inner: B, limit_bytes: u64) -> Self {
        CappedBody {
            inner,
            seen_bytes: 0,
            limit_bytes,
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
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen_bytes = this.seen_bytes.saturating_add(data.len() as u64);
                    if this.seen_bytes > this.limit_bytes {
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge {
                            limit_bytes: this.limit_bytes,
                        }))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
