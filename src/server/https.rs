//! Owns the HTTPS listener's connections: the TLS handshake (and TLS-ALPN-01 answers), then
//! HTTP/1.1 or HTTP/2 by ALPN, each request handed to `handler::handle`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio_rustls::TlsAcceptor;

use super::connection::{Activity, ConnSettings, OpenConnection, Watched, drive, track};
use crate::certificates::tls;
use crate::handler;
use crate::state::AppState;

/// How much of a request body hyper may read at once (its read buffer grows to this only
/// while a body streams in; a request head is still capped at `max_header_bytes`). 16 KiB
/// reads made a 1 GiB upload take 1.6-2.0 s on the 2-core VM, 64 KiB reads 1.1-1.2 s, 256
/// KiB no better (bench/RESULTS.md).
const BODY_READ_BUFFER: usize = 64 * 1024;
/// The first byte of every TLS connection (a handshake record).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// HTTP/2 streams one connection may have open at once (nginx's default is 128).
pub(super) const H2_MAX_STREAMS: u32 = 128;
/// Response bytes buffered per HTTP/2 stream for a client that is not taking them (hyper's
/// default is 400 KiB): with [`H2_MAX_STREAMS`], at most 2 MiB per connection.
const H2_SEND_BUFFER: usize = 16 * 1024;

/// Serves one accepted HTTPS connection to its end.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    permit: Option<OwnedSemaphorePermit>,
    acceptor: TlsAcceptor,
    state: Arc<AppState>,
    shutdown: watch::Receiver<bool>,
) {
    let settings = ConnSettings::current(&state);
    // One deadline for the first byte and the handshake together.
    let deadline = tokio::time::Instant::now() + settings.header_timeout;
    let open = OpenConnection::new(&state);
    // A TLS connection starts with a handshake record (0x16). Anything else is most likely
    // plain HTTP sent to the HTTPS port: it gets a readable HTTP answer (a 308 to HTTPS, or
    // 400/421), as nginx (497) and Caddy do, instead of a TLS alert that curl reports as
    // "Received HTTP/0.9 when not allowed".
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] != TLS_HANDSHAKE_RECORD => {
            let https_port = stream.local_addr().map_or(443, |a| a.port());
            state.metrics.tls_handshake("plain_http");
            tracing::info!(client = %peer.ip(), "plain HTTP on the HTTPS port: answering with a redirect to HTTPS");
            drop(open);
            return super::plain_http::serve(stream, permit, https_port, state, shutdown).await;
        }
        Ok(Ok(1)) => {}
        Err(_) => {
            state.metrics.tls_handshake("timeout");
            return;
        }
        // Closed before a byte, or failed.
        _ => {
            state.metrics.tls_handshake("failed");
            return;
        }
    }
    // Held until the connection ends (a WebSocket tunnel it turns into has its own slot).
    let _slot = (permit, open);
    let _ = stream.set_nodelay(true);
    let tls = match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            state.metrics.tls_handshake("failed");
            tracing::debug!(client = %peer.ip(), error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            state.metrics.tls_handshake("timeout");
            tracing::debug!(client = %peer.ip(), "TLS handshake timed out");
            return;
        }
    };
    state.metrics.tls_handshake("ok");
    if tls.get_ref().1.alpn_protocol() == Some(tls::ACME_TLS_ALPN) {
        // A CA validating TLS-ALPN-01: the handshake was the answer; no HTTP follows.
        return;
    }
    let is_h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let activity = Arc::new(Activity::new(!is_h2));
    let client = crate::proxy::ClientConnection {
        addr: peer,
        addr_header: crate::proxy::peer_header(peer.ip()),
        hold: Some({
            let activity = activity.clone();
            Arc::new(move || Box::new(activity.begin()) as Box<dyn std::any::Any + Send>)
        }),
    };
    let service = {
        let activity = activity.clone();
        service_fn(move |req: Request<Incoming>| {
            let state = state.clone();
            let guard = activity.begin();
            let client = client.clone();
            // Boxed: hyper keeps room for one service future per connection for the
            // connection's whole life, idle or not; the box is freed per request.
            let handled = Box::pin(handler::handle(state, client, req));
            async move {
                let response = handled.await;
                Ok::<_, Infallible>(response.map(|b| track(b, guard)))
            }
        })
    };
    if is_h2 {
        let io = TokioIo::new(tls);
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(settings.max_header_bytes).unwrap_or(u32::MAX))
            .max_concurrent_streams(H2_MAX_STREAMS)
            .max_send_buf_size(H2_SEND_BUFFER)
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(20));
        // Boxed, here and below: the connection task then holds a pointer, not a
        // second copy of the connection's state next to the handshake's.
        let conn = Box::pin(builder.serve_connection(io, service));
        drive(
            conn,
            |c| c.get_mut().as_mut().graceful_shutdown(),
            activity,
            settings,
            shutdown,
        )
        .await;
    } else {
        let io = TokioIo::new(Watched {
            inner: tls,
            activity: activity.clone(),
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            .max_header_size(settings.max_header_bytes)
            .max_buf_size(settings.max_header_bytes.max(BODY_READ_BUFFER))
            .keep_alive(true);
        let conn = Box::pin(builder.serve_connection(io, service).with_upgrades());
        drive(
            conn,
            |c| c.get_mut().as_mut().graceful_shutdown(),
            activity,
            settings,
            shutdown,
        )
        .await;
    }
}
