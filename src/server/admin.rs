//! Owns the admin listener (`[admin] listen`, plain HTTP on loopback): `/metrics` in the
//! OpenMetrics text format and `/healthz`; and the forward-auth listener (`[forward_auth]`),
//! plain HTTP too, whose answers are `crate::forward_auth`'s.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

use crate::responses::{self, Body};
use crate::state::AppState;

/// Serves one accepted admin connection to its end.
pub(super) async fn serve(stream: TcpStream, state: Arc<AppState>) {
    let service = service_fn(move |req: Request<Incoming>| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(admin_response(&state, &req).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Some(Duration::from_secs(10)));
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn admin_response(state: &AppState, req: &Request<Incoming>) -> Response<Body> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&http::Method::GET, "/metrics") => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            state.metrics.encode(),
        ),
        (&http::Method::GET, "/healthz") => match health(state).await {
            Ok(()) => (
                StatusCode::OK,
                "application/json",
                "{\"status\":\"ok\"}\n".to_string(),
            ),
            Err(reason) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "application/json",
                serde_json::json!({"status": "unavailable", "reason": reason}).to_string() + "\n",
            ),
        },
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    };
    responses::text(status, content_type, body)
}

/// How recently the upstream must have answered for `/healthz` to trust it without a probe.
const UPSTREAM_FRESH: Duration = Duration::from_secs(30);

/// Healthy when the listeners run (this answer proves it) and every upstream answered
/// recently or accepts a connection now.
async fn health(state: &AppState) -> Result<(), String> {
    if state
        .metrics
        .upstream_silent_for()
        .is_some_and(|silent| silent < UPSTREAM_FRESH)
    {
        return Ok(());
    }
    let runtime = state.runtime.load_full();
    for upstream in &runtime.config.upstreams {
        let address = format!(
            "{}:{}",
            upstream.authority.host(),
            upstream.authority.port_u16().unwrap_or(80)
        );
        match tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(&address)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(format!(
                    "upstream {} ({}) unreachable: {e}",
                    upstream.name, upstream.url
                ));
            }
            Err(_) => {
                return Err(format!(
                    "upstream {} ({}) did not accept a connection within 1 s",
                    upstream.name, upstream.url
                ));
            }
        }
    }
    Ok(())
}

/// Serves one accepted forward-auth connection (`[forward_auth] listen`) to its end.
pub(super) async fn serve_forward_auth(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    state: Arc<AppState>,
) {
    let service = service_fn(move |req: Request<Incoming>| {
        let state = state.clone();
        async move {
            let (parts, _body) = req.into_parts();
            Ok::<_, Infallible>(crate::forward_auth::answer(&state, &parts, peer).await)
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Some(Duration::from_secs(10)));
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
