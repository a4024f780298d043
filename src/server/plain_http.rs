//! Owns the plain-HTTP listener (`server.http_listen`): every request gets a 308 to the same
//! path over HTTPS, except ACME HTTP-01 challenges, which it answers.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};

use super::connection::{Activity, ConnSettings, OpenConnection, Watched, drive, track};
use crate::config::{AcmeChallenge, Config, TlsSettings};
use crate::policy::target::{host_name, parse_target};
use crate::responses::{self, Body, Refusal};
use crate::state::AppState;

/// hyper refuses HTTP/1 read buffers smaller than this.
const MIN_H1_BUFFER: usize = 8192;

/// Serves one accepted plain-HTTP connection to its end.
pub(super) async fn serve(
    stream: TcpStream,
    permit: Option<OwnedSemaphorePermit>,
    https_port: u16,
    state: Arc<AppState>,
    shutdown: watch::Receiver<bool>,
) {
    let settings = ConnSettings::current(&state);
    let _permit = permit;
    let _open = OpenConnection::new(&state);
    let activity = Arc::new(Activity::new(true));
    let service = {
        let activity = activity.clone();
        service_fn(move |req: Request<Incoming>| {
            let guard = activity.begin();
            let runtime = state.runtime.load_full();
            let response = match acme_http_challenge(&req, &state, &runtime.config) {
                Some(answer) => answer,
                None => redirect_to_https(&req, https_port, &runtime.config),
            };
            async move { Ok::<_, Infallible>(response.map(|b| track(b, guard))) }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(settings.max_header_bytes.max(MIN_H1_BUFFER));
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let conn = builder.serve_connection(io, service).with_upgrades();
    drive(
        conn,
        |c| c.graceful_shutdown(),
        activity,
        settings,
        shutdown,
    )
    .await;
}

/// Answers `GET /.well-known/acme-challenge/TOKEN` when `[tls.acme]` uses HTTP-01: the key
/// authorization for a token of an order in progress, else 404. None for other requests.
fn acme_http_challenge(
    req: &Request<Incoming>,
    state: &AppState,
    config: &Config,
) -> Option<Response<Body>> {
    let TlsSettings::Acme(acme) = &config.tls else {
        return None;
    };
    if acme.challenge != AcmeChallenge::Http01 {
        return None;
    }
    let token = req
        .uri()
        .path()
        .strip_prefix("/.well-known/acme-challenge/")?;
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return None;
    }
    Some(match state.certificate.challenges.http(token) {
        Some(key_authorization) => {
            responses::text(StatusCode::OK, "text/plain", Bytes::from(key_authorization))
        }
        None => responses::not_found_text(),
    })
}

/// Builds the 308. The host comes from the request only if it is one this front door
/// serves (when `server.hosts` is set), so the redirect cannot be pointed elsewhere.
fn redirect_to_https(req: &Request<Incoming>, https_port: u16, config: &Config) -> Response<Body> {
    let target = match parse_target(
        req.method(),
        req.uri(),
        req.version(),
        req.headers(),
        &config.server.hosts,
    ) {
        Ok(t) => t,
        Err(e) => return Refusal::from(e).into_response(false),
    };
    let name = host_name(&target.host);
    let location = if https_port == 443 {
        format!("https://{name}{}", target.path_and_query())
    } else {
        format!("https://{name}:{https_port}{}", target.path_and_query())
    };
    responses::permanent_redirect(&location)
}
