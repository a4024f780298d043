//! Owns the server's life: starting (the listeners, the state, the background tasks),
//! reloading, signals, and graceful shutdown that lets in-flight requests and tunnels
//! finish. Each listener and the connection driver live in their own file:
//!
//! | file | owns |
//! | --- | --- |
//! | `listen` | binding, the one accept loop every listener shares |
//! | `connection` | one connection's timeouts, activity and in-flight tracking |
//! | `https` | the TLS handshake, HTTP/1.1 or HTTP/2 by ALPN, into `handler` |
//! | `plain_http` | the 308 to HTTPS and ACME HTTP-01 answers |
//! | `admin` | `/metrics` and `/healthz` |
//! | `housekeeping` | htpasswd and certificate file changes, pool and lockout upkeep |

mod admin;
mod connection;
mod housekeeping;
mod https;
mod listen;
mod plain_http;

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use crate::certificates::{CertificateSlot, acme, tls};
use crate::config::{AcmeChallenge, Config, TlsSettings};
use crate::state::{AppState, Runtime, RuntimeError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The OS error is part of the message, not a `source`: printed with its chain, it
    /// would appear twice.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("[auth.oidc]: {0}")]
    Oidc(#[from] crate::auth::oidc::OidcError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// `check` found errors; each line is one finding.
    #[error("the config has errors:\n{}", .0.join("\n"))]
    Check(Vec<String>),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// A running front door. Dropping it does not stop it: call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub https_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    /// Where `/metrics` and `/healthz` are served, when `[admin] listen` is set.
    pub admin_addr: Option<SocketAddr>,
    /// Where proxies ask for auth decisions, when `[forward_auth]` is set.
    pub forward_auth_addr: Option<SocketAddr>,
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
        housekeeping::save_key_use(&self.state);
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
            housekeeping::reload_users(&self.state, true);
            housekeeping::reload_keys(&self.state, true);
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
        // The keys' last-used times the old runtime gathered go to disk before it goes.
        housekeeping::save_key_use(&self.state);
        let runtime = Runtime::build(config, &self.state.tunnels)?;
        let (old, new) = (&current.config.server, &runtime.config.server);
        if old.listen != new.listen || old.http_listen != new.http_listen {
            tracing::warn!(
                "listen addresses changed in the config: they take effect on restart; \
                 everything else is reloaded now"
            );
        }
        if current.config.oidc != runtime.config.oidc
            || current.config.session != runtime.config.session
            || current.config.login != runtime.config.login
        {
            tracing::warn!(
                "[auth.oidc], [auth.login] and [session] changes take effect on restart"
            );
        }
        if old.max_connections != new.max_connections || old.max_tunnels != new.max_tunnels {
            tracing::warn!("server.max_connections and server.max_tunnels take effect on restart");
        }
        if let Some(certificate) = certificate {
            note_certificate_expiry(&self.state.metrics, &certificate);
            self.certificate.set(certificate);
        }
        self.state.lockout.set_settings(runtime.config.lockout);
        let limited: Vec<(Arc<str>, crate::limits::rate::QuotaSpec)> = runtime
            .config
            .routes
            .iter()
            .filter_map(|r| Some((r.label.clone(), r.rate_limit?.quota())))
            .collect();
        self.state
            .rate_limits
            .retain(|label, quota| limited.iter().any(|(l, q)| &**l == label && *q == quota));
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

pub(crate) fn note_certificate_expiry(
    metrics: &crate::metrics::Metrics,
    key: &rustls::sign::CertifiedKey,
) {
    if let Some(expiry) = key.cert.first().and_then(|c| tls::not_after_unix(c)) {
        metrics.certificate_expires_at(expiry);
    }
}

/// Binds the listeners and starts serving `config`.
pub async fn start(config: Config) -> Result<RunningServer, ServeError> {
    refuse_on_errors(&config)?;
    let metrics = Arc::new(crate::metrics::Metrics::new());
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
    let runtime = Runtime::build(config, &tunnels)?;
    let config = &runtime.config;

    let https_listener = listen::bind(config.server.listen).await?;
    let https_addr = listen::local_addr(&https_listener, config.server.listen);
    let http_listener = match config.server.http_listen {
        None => None,
        Some(addr) => Some((listen::bind(addr).await?, addr)),
    };
    let http_addr = http_listener
        .as_ref()
        .map(|(l, fallback)| listen::local_addr(l, *fallback));
    let admin_listener = match config.server.admin_listen {
        None => None,
        Some(addr) => Some((listen::bind(addr).await?, addr)),
    };
    let admin_addr = admin_listener
        .as_ref()
        .map(|(l, fallback)| listen::local_addr(l, *fallback));
    let forward_auth_listener = match config.forward_auth.as_ref().map(|f| f.listen) {
        None => None,
        Some(addr) => Some((listen::bind(addr).await?, addr)),
    };
    let forward_auth_addr = forward_auth_listener
        .as_ref()
        .map(|(l, fallback)| listen::local_addr(l, *fallback));
    if config
        .forward_auth
        .as_ref()
        .is_some_and(|f| f.trusted_proxies.is_empty())
    {
        tracing::warn!(
            "[forward_auth] has no trusted_proxies: every auth request is refused with 403; \
             list your proxy's address, e.g. trusted_proxies = [\"127.0.0.1/32\"]"
        );
    }

    let grace = config.server.shutdown_grace;
    let max_connections = config.server.max_connections;
    let lockout = crate::limits::lockout::Lockout::new(config.lockout);
    let oidc = match &config.oidc {
        None => None,
        Some(settings) => {
            let session = match &config.session {
                Some(session) => session.clone(),
                None => crate::config::SessionSettings::ephemeral()
                    .map_err(crate::auth::oidc::OidcError::NoRandomSource)?,
            };
            Some(Arc::new(
                crate::auth::oidc::Oidc::discover(settings.clone(), session).await?,
            ))
        }
    };
    // Validation guarantees [session] with [auth.login].
    let login = match (&config.login, &config.session) {
        (Some(login), Some(session)) => {
            crate::auth::login::Login::new(login.clone(), session).map(Arc::new)
        }
        _ => None,
    };
    let tunnel_slots = Arc::new(tokio::sync::Semaphore::new(config.server.max_tunnels));
    let state = Arc::new(AppState {
        runtime: ArcSwap::from_pointee(runtime),
        lockout,
        rate_limits: crate::limits::rate::RateLimits::default(),
        tunnels: tunnels.clone(),
        tunnel_slots,
        metrics: metrics.clone(),
        certificate: certificate.clone(),
        oidc,
        login,
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    tokio::spawn(housekeeping::run(state.clone(), shutdown_rx.clone()));
    if let Some((settings, initial)) = acme_initial {
        acme::spawn(
            settings,
            initial,
            certificate.clone(),
            metrics,
            shutdown_rx.clone(),
        );
    }
    let connections = TaskTracker::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let mut accept_tasks = Vec::new();
    {
        let (state, shutdown) = (state.clone(), shutdown_rx.clone());
        accept_tasks.push(tokio::spawn(listen::accept_loop(
            https_listener,
            Some(slots.clone()),
            connections.clone(),
            shutdown_rx.clone(),
            move |stream, peer, permit| {
                https::serve(
                    stream,
                    peer,
                    permit,
                    acceptor.clone(),
                    state.clone(),
                    shutdown.clone(),
                )
            },
        )));
    }
    if let Some((listener, _)) = http_listener {
        let (state, shutdown) = (state.clone(), shutdown_rx.clone());
        let https_port = https_addr.port();
        accept_tasks.push(tokio::spawn(listen::accept_loop(
            listener,
            Some(slots.clone()),
            connections.clone(),
            shutdown_rx.clone(),
            move |stream, _peer, permit| {
                plain_http::serve(stream, permit, https_port, state.clone(), shutdown.clone())
            },
        )));
    }
    if let Some((listener, _)) = admin_listener {
        let state = state.clone();
        accept_tasks.push(tokio::spawn(listen::accept_loop(
            listener,
            None,
            connections.clone(),
            shutdown_rx.clone(),
            move |stream, _peer, _permit| admin::serve(stream, state.clone()),
        )));
    }
    if let Some((listener, _)) = forward_auth_listener {
        let state = state.clone();
        accept_tasks.push(tokio::spawn(listen::accept_loop(
            listener,
            None,
            connections.clone(),
            shutdown_rx.clone(),
            move |stream, peer, _permit| admin::serve_forward_auth(stream, peer, state.clone()),
        )));
    }
    tracing::info!(https = %https_addr, http = ?http_addr, admin = ?admin_addr, forward_auth = ?forward_auth_addr, "frontdoor listening");

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
        forward_auth_addr,
        state,
        certificate,
        shutdown,
        done,
    })
}
