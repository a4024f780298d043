//! Reading and discarding a request body frontdoor will not use, so that the client sees
//! the answer it was given (413, 401, 404, ...) instead of a reset.
//!
//! A client that is still sending when the answer goes out loses it if the server stops
//! reading: over HTTP/1.1 the close with unread data turns into a TCP reset that can
//! overtake the response, and over HTTP/2 the RST_STREAM that ends the upload makes some
//! clients (curl 7.x) drop the response they already received. nginx discards such bodies
//! (its lingering close); so does frontdoor, for at most [`DRAIN_MAX_BYTES`] and
//! [`DRAIN_MAX_TIME`], after which the body is dropped (HTTP/2: RST_STREAM NO_ERROR,
//! RFC 9113 section 8.1; HTTP/1.1: the connection closes).

use std::time::Duration;

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;

/// The most a refused body may still send before frontdoor stops reading it.
pub const DRAIN_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// The longest frontdoor keeps reading a refused body.
pub const DRAIN_MAX_TIME: Duration = Duration::from_secs(30);

/// Reads `body` to its end (or the bounds) in the background and throws it away. Does
/// nothing for a body that has already ended, or outside a Tokio runtime.
pub fn discard<B>(body: B)
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
{
    if body.is_end_stream() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut body = body;
        let mut seen: u64 = 0;
        let read = async {
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(data) = frame.data_ref() {
                    seen = seen.saturating_add(data.len() as u64);
                    if seen > DRAIN_MAX_BYTES {
                        return;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_MAX_TIME, read).await;
    });
}
