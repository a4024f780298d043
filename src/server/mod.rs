//! Listeners and connections: binding (after the bind guard in config), the TLS handshake,
//! HTTP/1.1 or HTTP/2 by ALPN, timeouts for slow and idle clients, the plain-HTTP redirect
//! listener, and graceful shutdown that lets in-flight requests and tunnels finish.

pub mod acme;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use crate::auth::basic::BasicAuth;
use crate::config::{AcmeChallenge, Config, TlsSettings};
use crate::handler::{self, AppState, Runtime};
use crate::proxy::Upstream;
use crate::responses::{self, Body, BoxError};
use tls::CertificateSlot;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("[auth.oidc]: {0}")]
    Oidc(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// `check` found errors; each line is one finding.
    #[error("the config has errors:\n{}", .0.join("\n"))]
    Check(Vec<String>),
    #[error("{path}: {source}")]
    Htpasswd {
        path: String,
        source: crate::auth::htpasswd::HtpasswdError,
    },
}

/// A running front door. Dropping it does not stop it: call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub https_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    /// Where `/metrics` and `/healthz` are served, when `[admin] listen` is set.
    pub admin_addr: Option<SocketAddr>,
    pub state: Arc<AppState>,
    pub certificate: Arc<CertificateSlot>,
    shutdown: watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests and tunnels finish (up to the grace
    /// period), then returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.done.await;
    }

    /// Re-reads the config file, the certificate and the htpasswd file, checks them as
    /// `serve` does at start, and swaps them in for new requests. In-flight requests and
    /// open tunnels finish on the config they started with. On any error nothing changes.
    pub fn reload(&self) -> Result<(), ServeError> {
        let result = self.reload_inner();
        self.state.metrics.reload(result.is_ok());
        result
    }

    fn reload_inner(&self) -> Result<(), ServeError> {
        let current = self.state.runtime.load_full();
        let Some(path) = current.config.source_path.clone() else {
            // A config built from text (tests, embedded): only the users can be re-read.
            reload_users(&self.state, true);
            return Ok(());
        };
        let config = Config::load(&path)?;
        refuse_on_errors(&config)?;
        let mut config = config;
        let acme_before = matches!(current.config.tls, TlsSettings::Acme(_));
        let acme_after = matches!(config.tls, TlsSettings::Acme(_));
        let certificate = if acme_before || acme_after {
            if current.config.tls != config.tls {
                tracing::warn!(
                    "[tls] changes to, from or within [tls.acme] take effect on restart"
                );
                // Keep serving (and answering challenges) exactly as the running ACME task
                // expects until then.
                config.tls = current.config.tls.clone();
            }
            None
        } else {
            Some(tls::obtain_certificate(&config.tls)?)
        };
        let runtime = build_runtime(config, &self.state.tunnels)?;
        let (old, new) = (&current.config.server, &runtime.config.server);
        if old.listen != new.listen || old.http_listen != new.http_listen {
            tracing::warn!(
                "listen addresses changed in the config: they take effect on restart; \
                 everything else is reloaded now"
            );
        }
        if current.config.oidc != runtime.config.oidc
            || current.config.session != runtime.config.session
        {
            tracing::warn!("[auth.oidc] and [session] changes take effect on restart");
        }
        if old.max_connections != new.max_connections {
            tracing::warn!("server.max_connections takes effect on restart");
        }
        if let Some(certificate) = certificate {
            note_certificate_expiry(&self.state.metrics, &certificate);
            self.certificate.set(certificate);
        }
        self.state.lockout.set_settings(runtime.config.lockout);
        let routes = runtime.config.routes.len();
        self.state.runtime.store(Arc::new(runtime));
        tracing::info!(config = %path.display(), routes, "config reloaded");
        Ok(())
    }

    /// `reload`, with a failure logged (the running config stays).
    pub fn reload_or_log(&self) {
        if let Err(e) = self.reload() {
            tracing::error!(error = %e, "reload FAILED: keeping the running config");
        }
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully. SIGHUP reloads.
    pub async fn run_until_signal(self) {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(mut term), Ok(mut int), Ok(mut hup)) => loop {
                tokio::select! {
                    _ = term.recv() => break,
                    _ = int.recv() => break,
                    _ = hup.recv() => {
                        tracing::info!("SIGHUP: reloading");
                        self.reload_or_log();
                    }
                }
            },
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        tracing::info!("shutting down: finishing in-flight requests");
        self.shutdown().await;
        tracing::info!("stopped");
    }
}

/// How often the htpasswd file is checked for changes.
const RELOAD_POLL: Duration = Duration::from_secs(1);
/// How often expired lockout records are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Background upkeep: picks up htpasswd changes (so `frontdoor passwd` takes effect without
/// a restart) and sweeps expired lockout records.
async fn housekeeping(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(RELOAD_POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sweep = Instant::now();
    let mut certificate_files = None;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticker.tick() => {}
        }
        reload_users(&state, false);
        watch_certificate(&state, &mut certificate_files);
        for upstream in &state.runtime.load().upstreams {
            upstream.evict_idle();
        }
        if last_sweep.elapsed() >= SWEEP_EVERY {
            state.lockout.sweep();
            last_sweep = Instant::now();
        }
    }
}

/// The fingerprints of the certificate and key files last looked at.
type CertificateFiles = (
    Option<crate::files::FileFingerprint>,
    Option<crate::files::FileFingerprint>,
);

/// Swaps in the certificate when its files change on disk (certbot renew needs no hook and
/// no restart). New handshakes get the new certificate; open connections keep theirs. A
/// half-written pair (new certificate, old key) is refused and retried on the next change.
fn watch_certificate(state: &AppState, seen: &mut Option<CertificateFiles>) {
    let runtime = state.runtime.load_full();
    let (cert, key) = match &runtime.config.tls {
        TlsSettings::Files { cert, key } | TlsSettings::SelfSigned { cert, key, .. } => (cert, key),
        TlsSettings::Acme(_) => return, // renewed by the ACME task
    };
    let now = (
        crate::files::fingerprint(cert),
        crate::files::fingerprint(key),
    );
    let Some(before) = seen.replace(now) else {
        return; // the first look: what is being served now
    };
    if before == now {
        return;
    }
    match tls::load_certified_key(cert, key) {
        Ok(certified) => {
            note_certificate_expiry(&state.metrics, &certified);
            state.certificate.set(certified);
            tracing::info!(cert = %cert.display(), "certificate files changed: new certificate in use");
        }
        Err(e) => tracing::error!(
            error = %e,
            "certificate files changed but cannot be used: keeping the current certificate"
        ),
    }
}

/// Re-reads the htpasswd file (when it changed, or always when `force`); a file that
/// cannot be used keeps the previous users.
fn reload_users(state: &AppState, force: bool) {
    let runtime = state.runtime.load_full();
    let Some(basic) = &runtime.basic else { return };
    match basic.reload(force) {
        None => {}
        Some(Ok(users)) => {
            tracing::info!(file = %basic.path.display(), users, "htpasswd reloaded");
        }
        Some(Err(e)) => {
            tracing::error!(
                file = %basic.path.display(),
                error = %e,
                "htpasswd reload FAILED: keeping the previous users"
            );
        }
    }
}

/// Runs `check`: warnings are logged, errors refuse the config (at start and on reload).
fn refuse_on_errors(config: &Config) -> Result<(), ServeError> {
    let findings = crate::check::check(config);
    let mut errors = Vec::new();
    for f in findings {
        match f.severity {
            crate::check::Severity::Error => errors.push(f.to_string()),
            crate::check::Severity::Warning => tracing::warn!("{f}"),
            crate::check::Severity::Info => tracing::info!("{f}"),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServeError::Check(errors))
    }
}

/// Builds what serving `config` needs besides listeners: the users and upstream clients.
pub fn build_runtime(config: Config, tunnels: &TaskTracker) -> Result<Runtime, ServeError> {
    let basic = match &config.basic {
        None => None,
        Some(b) => {
            let auth = BasicAuth::load(b.htpasswd.clone(), b.realm.clone()).map_err(|source| {
                ServeError::Htpasswd {
                    path: b.htpasswd.display().to_string(),
                    source,
                }
            })?;
            for issue in auth.users().issues() {
                tracing::warn!(file = %b.htpasswd.display(), line = issue.line, "htpasswd line skipped: {}", issue.reason);
            }
            Some(Arc::new(auth))
        }
    };
    let upstreams = config
        .upstreams
        .iter()
        .map(|u| {
            Upstream::new(
                u.authority.clone(),
                u.connect_timeout,
                u.response_timeout,
                tunnels.clone(),
            )
        })
        .collect();
    Ok(Runtime {
        config,
        upstreams,
        basic,
    })
}

/// Binds the listeners and starts serving `config`.
pub async fn start(config: Config) -> Result<RunningServer, ServeError> {
    refuse_on_errors(&config)?;
    let metrics = crate::metrics::Metrics::new();
    let (certificate, acme_initial) = match &config.tls {
        TlsSettings::Acme(settings) => {
            let initial = acme::initial(settings)?;
            let Some(first) = initial.first() else {
                return Err(tls::TlsError::Generate("[tls.acme] names no domain".into()).into());
            };
            let slot = CertificateSlot::new(first.key.clone());
            for start in &initial {
                slot.set_named(&start.group.domains, start.key.clone());
                if let Some((_, not_after)) = start.validity {
                    metrics.certificate_expires_at(not_after);
                }
            }
            (slot, Some((settings.clone(), initial)))
        }
        other => {
            let certified = tls::obtain_certificate(other)?;
            note_certificate_expiry(&metrics, &certified);
            (CertificateSlot::new(certified), None)
        }
    };
    let tls_alpn_challenge = matches!(&config.tls,
        TlsSettings::Acme(a) if a.challenge == AcmeChallenge::TlsAlpn01);
    let acceptor = TlsAcceptor::from(Arc::new(tls::server_config(
        certificate.clone(),
        tls_alpn_challenge,
    )?));
    let tunnels = TaskTracker::new();
    let runtime = build_runtime(config, &tunnels)?;
    let config = &runtime.config;

    let https_listener = TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.server.listen,
            source,
        })?;
    let https_addr = local_addr(&https_listener, config.server.listen);
    let http_listener = match config.server.http_listen {
        None => None,
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { addr, source })?,
        ),
    };
    let http_addr = http_listener
        .as_ref()
        .zip(config.server.http_listen)
        .map(|(l, fallback)| local_addr(l, fallback));

    let grace = config.server.shutdown_grace;
    let max_connections = config.server.max_connections;
    let lockout = crate::limits::lockout::Lockout::new(config.lockout);
    let admin_listener = match config.server.admin_listen {
        None => None,
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { addr, source })?,
        ),
    };
    let admin_addr = admin_listener
        .as_ref()
        .zip(config.server.admin_listen)
        .map(|(l, fallback)| local_addr(l, fallback));
    let oidc = match &config.oidc {
        None => None,
        Some(settings) => {
            let session = match &config.session {
                Some(session) => session.clone(),
                // Bearer tokens only: no session is ever sealed, so any key will do.
                None => {
                    let mut key = vec![0u8; 48];
                    getrandom::fill(&mut key)
                        .map_err(|e| ServeError::Oidc(format!("no random source: {e}")))?;
                    crate::config::SessionSettings {
                        cookie_key: key,
                        previous_keys: Vec::new(),
                        lifetime: Duration::from_secs(12 * 3600),
                        refresh_interval: Duration::from_secs(3600),
                    }
                }
            };
            Some(Arc::new(
                crate::auth::oidc::Oidc::discover(settings.clone(), session)
                    .await
                    .map_err(ServeError::Oidc)?,
            ))
        }
    };
    let state = Arc::new(AppState {
        runtime: ArcSwap::from_pointee(runtime),
        lockout,
        tunnels: tunnels.clone(),
        metrics,
        certificate: certificate.clone(),
        oidc,
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    tokio::spawn(housekeeping(state.clone(), shutdown_rx.clone()));
    if let Some((settings, initial)) = acme_initial {
        acme::spawn(settings, initial, state.clone(), shutdown_rx.clone());
    }
    let connections = TaskTracker::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let mut accept_tasks = Vec::new();
    accept_tasks.push(tokio::spawn(accept_https(
        https_listener,
        acceptor,
        state.clone(),
        slots.clone(),
        connections.clone(),
        shutdown_rx.clone(),
    )));
    if let Some(listener) = http_listener {
        accept_tasks.push(tokio::spawn(accept_plain_http(
            listener,
            https_addr.port(),
            state.clone(),
            slots.clone(),
            connections.clone(),
            shutdown_rx.clone(),
        )));
    }
    if let Some(listener) = admin_listener {
        accept_tasks.push(tokio::spawn(accept_admin(
            listener,
            state.clone(),
            connections.clone(),
            shutdown_rx.clone(),
        )));
    }
    tracing::info!(https = %https_addr, http = ?http_addr, admin = ?admin_addr, "frontdoor listening");

    let done = tokio::spawn(async move {
        for task in accept_tasks {
            let _ = task.await;
        }
        connections.close();
        tunnels.close();
        let drained = tokio::time::timeout(grace, async {
            connections.wait().await;
            tunnels.wait().await;
        })
        .await;
        if drained.is_err() {
            tracing::warn!(grace = ?grace, "shutdown grace period over: closing remaining connections");
        }
    });

    Ok(RunningServer {
        https_addr,
        http_addr,
        admin_addr,
        state,
        certificate,
        shutdown,
        done,
    })
}

fn local_addr(listener: &TcpListener, fallback: SocketAddr) -> SocketAddr {
    listener.local_addr().unwrap_or(fallback)
}

/// Connection limits, read from the config in force when a connection is accepted.
#[derive(Debug, Clone, Copy)]
struct ConnSettings {
    header_timeout: Duration,
    idle_timeout: Duration,
    max_header_bytes: usize,
}

impl ConnSettings {
    fn current(state: &AppState) -> ConnSettings {
        let runtime = state.runtime.load();
        let server = &runtime.config.server;
        ConnSettings {
            header_timeout: server.header_timeout,
            idle_timeout: server.idle_timeout,
            max_header_bytes: server.max_header_bytes,
        }
    }
}

/// Counts a client connection in `active_connections` while it lives.
struct OpenConnection(Arc<AppState>);

impl OpenConnection {
    fn new(state: &Arc<AppState>) -> Self {
        state.metrics.connection_opened();
        OpenConnection(state.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.metrics.connection_closed();
    }
}

fn note_certificate_expiry(metrics: &crate::metrics::Metrics, key: &rustls::sign::CertifiedKey) {
    if let Some(expiry) = key.cert.first().and_then(|c| tls::not_after_unix(c)) {
        metrics.certificate_expires_at(expiry);
    }
}

/// The next accepted connection, or None once shutdown begins. Accept errors (out of file
/// descriptors and similar) back off briefly instead of spinning.
async fn next_connection(
    listener: &TcpListener,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return None,
            accepted = listener.accept() => match accepted {
                Ok(pair) => return Some(pair),
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// The admin listener: plain HTTP on a loopback address, `/metrics` and `/healthz`.
async fn accept_admin(
    listener: TcpListener,
    state: Arc<AppState>,
    connections: TaskTracker,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let Some((stream, _)) = next_connection(&listener, &mut shutdown).await else {
            return;
        };
        let state = state.clone();
        connections.spawn(async move {
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
        });
    }
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
    let mut response = Response::new(responses::full(body));
    *response.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
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

/// hyper refuses HTTP/1 read buffers smaller than this.
const MIN_H1_BUFFER: usize = 8192;
/// How much of a request body hyper may read at once (its read buffer grows to this only
/// while a body streams in; a request head is still capped at `max_header_bytes`). 16 KiB
/// reads made a 1 GiB upload take 1.6-2.0 s on the 2-core VM, 64 KiB reads 1.1-1.2 s, 256
/// KiB no better (bench/RESULTS.md).
const BODY_READ_BUFFER: usize = 64 * 1024;

async fn accept_https(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<AppState>,
    slots: Arc<tokio::sync::Semaphore>,
    connections: TaskTracker,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        // At `max_connections`, wait for one to end before accepting more.
        let permit = tokio::select! {
            _ = shutdown.changed() => return,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let Some((stream, peer)) = next_connection(&listener, &mut shutdown).await else {
            return;
        };
        let acceptor = acceptor.clone();
        let settings = ConnSettings::current(&state);
        let state = state.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            // Released when the connection ends, or by the WebSocket tunnel it turns into.
            let slot = crate::proxy::ConnectionSlot::new((permit, OpenConnection::new(&state)));
            let _ = stream.set_nodelay(true);
            let tls = match tokio::time::timeout(settings.header_timeout, acceptor.accept(stream))
                .await
            {
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
                slot,
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
                    .max_header_list_size(
                        u32::try_from(settings.max_header_bytes).unwrap_or(u32::MAX),
                    )
                    .max_concurrent_streams(256)
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
        });
    }
}

/// Drives a connection to its end. It is closed gracefully when the server shuts down, and
/// dropped when a timeout passes with no request in flight: `idle_timeout` when the client
/// sent nothing since its last response, `header_timeout` once it started sending the next
/// request's head (slowloris). hyper's own header timer is off: it would also end idle
/// keep-alive connections after `header_timeout`.
async fn drive<C, F>(
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
    let check_every =
        (timeouts.idle_timeout.min(timeouts.header_timeout) / 4).max(Duration::from_millis(250));
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
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
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
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    last_active_ms: AtomicU64,
    /// When the first byte of a request not yet dispatched arrived (`NOT_WAITING` if none).
    head_started_ms: AtomicU64,
}

const NOT_WAITING: u64 = u64::MAX;

impl Activity {
    /// For HTTP/1 the connection's start counts as the start of its first request head,
    /// so a client that connects and sends nothing gets `header_timeout`, not
    /// `idle_timeout`. HTTP/2 has no such state (its control frames are not requests).
    fn new(http1: bool) -> Self {
        Activity {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(if http1 { 0 } else { NOT_WAITING }),
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

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn begin(self: &Arc<Self>) -> InFlight {
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
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .last_active_ms
            .store(self.0.now_ms(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request counted as in flight while it streams.
struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

fn track(inner: Body, in_flight: InFlight) -> TrackedBody {
    TrackedBody {
        inner,
        _in_flight: in_flight,
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The plain-HTTP listener: every request gets a 308 to the same path over HTTPS.
async fn accept_plain_http(
    listener: TcpListener,
    https_port: u16,
    state: Arc<AppState>,
    slots: Arc<tokio::sync::Semaphore>,
    connections: TaskTracker,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let permit = tokio::select! {
            _ = shutdown.changed() => return,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let Some((stream, _)) = next_connection(&listener, &mut shutdown).await else {
            return;
        };
        let settings = ConnSettings::current(&state);
        let state = state.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
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
        });
    }
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
    let answer = state.certificate.challenges.http(token);
    let mut response = match answer {
        Some(key_authorization) => Response::new(responses::full(Bytes::from(key_authorization))),
        None => {
            let mut r = Response::new(responses::full(Bytes::from_static(b"not found\n")));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    };
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    Some(response)
}

/// Builds the 308. The host comes from the request only if it is one this front door
/// serves (when `server.hosts` is set), so the redirect cannot be pointed elsewhere.
fn redirect_to_https(req: &Request<Incoming>, https_port: u16, config: &Config) -> Response<Body> {
    let target = match crate::policy::target::parse_target(
        req.method(),
        req.uri(),
        req.version(),
        req.headers(),
        &config.server.hosts,
    ) {
        Ok(t) => t,
        Err(crate::policy::target::TargetError::UnknownHost(_)) => {
            return responses::Denial::MisdirectedHost.into_response(false);
        }
        Err(_) => return responses::Denial::BadRequest("malformed target").into_response(false),
    };
    let name = crate::policy::target::host_name(&target.host);
    let location = if https_port == 443 {
        format!("https://{name}{}", target.path_and_query())
    } else {
        format!("https://{name}:{https_port}{}", target.path_and_query())
    };
    let mut response = Response::new(responses::full(Bytes::new()));
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(v) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}
