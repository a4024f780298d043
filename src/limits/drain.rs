//! Reading and discarding a request body frontdoor will not use, so that the client sees
//! the answer it was given (413, 401, 404, ...) instead of a reset.
//!
//! A client that is still sending when the answer goes out loses it if the server stops
//! reading: over HTTP/1.1 the close with unread data turns into a TCP reset that can
//! overtake the response, and over HTTP/2 the RST_STREAM that ends the upload makes some
//! clients (curl 7.x) drop the response they already received. nginx discards such bodies
//! (its lingering close); so does frontdoor, within bounds (bytes, time, pause, how many at
//! once), after which the body is dropped (HTTP/2: RST_STREAM NO_ERROR, RFC 9113 section
//! 8.1; HTTP/1.1: the connection closes).

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;

/// The most a body refused for its size (413) may still send before frontdoor stops
/// reading it: an upload in full flight.
pub const DRAIN_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// The most any other refused body may still send (it was refused before it was read).
pub const DRAIN_SMALL_BYTES: u64 = 1024 * 1024;
/// The longest frontdoor keeps reading a refused body.
pub const DRAIN_MAX_TIME: Duration = Duration::from_secs(30);
/// The longest a refused body may pause (nginx's `lingering_timeout`).
pub const DRAIN_MAX_GAP: Duration = Duration::from_secs(5);
/// Bodies read and discarded at once, in the whole process; more are dropped at once (the
/// client may then see a reset instead of the answer).
pub const MAX_DRAINS: usize = 1024;

static DRAINS: AtomicUsize = AtomicUsize::new(0);

/// Reads `body` to its end (or the bounds: `max_bytes`, [`DRAIN_MAX_TIME`] in all,
/// [`DRAIN_MAX_GAP`] between reads) in the background and throws it away. `keep` is held
/// until then (the connection's "request in flight" mark, so the connection is not closed
/// under the drain). Does nothing for a body that has already ended, outside a Tokio
/// runtime, or when [`MAX_DRAINS`] are running.
pub fn discard<B>(body: B, max_bytes: u64, keep: Option<Box<dyn Any + Send>>)
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
{
    if body.is_end_stream() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if DRAINS.fetch_add(1, Ordering::Relaxed) >= MAX_DRAINS {
        DRAINS.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    runtime.spawn(async move {
        let _keep = keep;
        let mut body = body;
        let mut seen: u64 = 0;
        let read = async {
            while let Ok(Some(Ok(frame))) = tokio::time::timeout(DRAIN_MAX_GAP, body.frame()).await
            {
                if let Some(data) = frame.data_ref() {
                    seen = seen.saturating_add(data.len() as u64);
                    if seen > max_bytes {
                        return;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_MAX_TIME, read).await;
        DRAINS.fetch_sub(1, Ordering::Relaxed);
    });
}
