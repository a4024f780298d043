//! Owns what requests share: [`AppState`] (lives as long as the server) and [`Runtime`] (one
//! config and what was built from it, swapped whole on reload).

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio_util::task::TaskTracker;

use crate::auth::api_keys::ApiKeys;
use crate::auth::basic::BasicAuth;
use crate::auth::oidc::Oidc;
use crate::certificates::CertificateSlot;
use crate::config::Config;
use crate::limits::lockout::Lockout;
use crate::metrics::Metrics;
use crate::proxy::Upstream;

/// Everything a request needs that outlives it.
pub struct AppState {
    /// What a reload replaces as a whole; each request takes one snapshot at its start, so
    /// a reload halfway through a request cannot mix two configs.
    pub runtime: ArcSwap<Runtime>,
    /// Failure counts and bans survive reloads.
    pub lockout: Lockout,
    /// Routes' rate limits, kept by route and quota across reloads.
    pub rate_limits: crate::limits::rate::RateLimits,
    /// WebSocket tunnels outlive their connection; shutdown waits on them.
    pub tunnels: TaskTracker,
    /// One permit per open tunnel (`server.max_tunnels`, fixed at start).
    pub tunnel_slots: Arc<tokio::sync::Semaphore>,
    pub metrics: Arc<Metrics>,
    /// The certificate every handshake gets; replaced on reload and when its files change.
    pub certificate: Arc<CertificateSlot>,
    /// The OpenID provider, discovered at start (`[auth.oidc]`); kept across reloads.
    pub oidc: Option<Arc<Oidc>>,
    /// The sign-in page (`[auth.login]`), built at start; kept across reloads.
    pub login: Option<Arc<crate::auth::login::Login>>,
}

/// One config and what was built from it: upstream clients (by `Route::upstream`) and the
/// users of `[auth.basic]`.
pub struct Runtime {
    pub config: Config,
    pub upstreams: Vec<Upstream>,
    pub basic: Option<Arc<BasicAuth>>,
    pub api_keys: Option<Arc<ApiKeys>>,
}

/// Why a config could not be turned into a [`Runtime`].
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The htpasswd file of `[auth.basic]` cannot be used.
    #[error("{path}: {source}")]
    Htpasswd {
        path: String,
        source: crate::auth::htpasswd::HtpasswdError,
    },
    /// The key file of `[auth.api_keys]` cannot be used.
    #[error("{0}")]
    ApiKeys(#[from] crate::auth::api_keys::KeyFileError),
}

impl Runtime {
    /// Builds what serving `config` needs besides listeners: the users and upstream clients.
    pub fn build(config: Config, tunnels: &TaskTracker) -> Result<Runtime, RuntimeError> {
        let basic = match &config.basic {
            None => None,
            Some(b) => {
                let auth =
                    BasicAuth::load(b.htpasswd.clone(), b.realm.clone()).map_err(|source| {
                        RuntimeError::Htpasswd {
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
        let api_keys = match &config.api_keys {
            None => None,
            Some(k) => {
                if !k.file.exists() {
                    tracing::warn!(
                        file = %k.file.display(),
                        "the API key file does not exist yet: no key works until \
                         `frontdoor key add NAME` creates it"
                    );
                }
                Some(Arc::new(ApiKeys::load(k.file.clone())?))
            }
        };
        let upstreams = config
            .upstreams
            .iter()
            .map(|u| {
                Upstream::new(
                    u.authority.clone(),
                    u.host_header,
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
            api_keys,
        })
    }
}

impl AppState {
    /// The ways in that a request may use under `runtime`'s config.
    pub fn authenticators<'a>(&'a self, runtime: &'a Runtime) -> crate::auth::Authenticators<'a> {
        crate::auth::Authenticators {
            basic: runtime.basic.as_deref(),
            api_keys: runtime.api_keys.as_deref(),
            oidc: self.oidc.as_deref(),
            login: self.login.as_deref(),
            lockout: &self.lockout,
            metrics: &self.metrics,
        }
    }
}
