//! Loading and validating `frontdoor.toml`: files, `${ENV}` and `file:` references,
//! `FRONTDOOR_<SECTION>_<KEY>` overrides, and the validated [`Config`] that `serve`,
//! `check`, `explain` and `demo` share.

mod auth;
mod cidr;
mod env;
mod error;
mod integrations;
mod raw;
mod routes;
mod server;
mod tls;
mod upstream;
mod values;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Method;

pub use auth::provider_url_allowed;
pub use cidr::Cidr;
use env::{apply_env_overrides, refuse_literal_secrets, resolve_references};
pub use error::ConfigError;
use raw::RawConfig;

pub use integrations::{RateLimitSettings, SignatureEncoding, WebhookKind, WebhookSettings};
pub use server::ForwardAuthSettings;

use crate::limits::lockout::LockoutSettings;
use crate::policy::routes::{RouteShape, RouteTable, UiSwitches};

/// Where `serve` looks when neither `--config` nor `$FRONTDOOR_CONFIG` is given.
pub const DEFAULT_CONFIG_PATH: &str = "config/frontdoor.toml";
/// 500 MB: the upload cap the protected agents document for their own upload endpoint.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 524_288_000;

/// A snapshot of the environment, passed in explicitly so tests never mutate the process's.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The current process environment.
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    /// An environment with exactly these variables.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

/// The validated configuration: every value checked, every default filled in.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from (for messages).
    pub source: String,
    /// The file to re-read on reload (None for configs built from text, like tests').
    pub source_path: Option<PathBuf>,
    pub server: ServerSettings,
    pub tls: TlsSettings,
    /// `[upstream]` first (when set), then each `[upstreams.NAME]` in name order; routes
    /// refer to them by index.
    pub upstreams: Vec<UpstreamSettings>,
    /// The default upload cap; a route may lower or raise it.
    pub max_body_bytes: u64,
    pub ui: UiSwitches,
    pub basic: Option<BasicSettings>,
    /// `[auth.api_keys]`: where the keys of `frontdoor key` are kept.
    pub api_keys: Option<ApiKeySettings>,
    /// `[auth.login]`: the sign-in page for the htpasswd users.
    pub login: Option<LoginSettings>,
    /// `[forward_auth]`: answering nginx's, Caddy's or Traefik's auth requests.
    pub forward_auth: Option<ForwardAuthSettings>,
    pub oidc: Option<OidcSettings>,
    pub session: Option<SessionSettings>,
    pub lockout: LockoutSettings,
    /// The routes in config order, ready to decide on requests.
    pub routes: RouteTable<Route>,
    /// The `file:` references the values were read from (key, file): secrets, whose mode
    /// `check` looks at.
    pub secret_files: Vec<(String, PathBuf)>,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub allow_public_bind: bool,
    pub http_listen: Option<SocketAddr>,
    /// Lower-case host names (no port) this front door answers for; empty = any.
    pub hosts: Vec<String>,
    pub trusted_proxies: Vec<Cidr>,
    /// How long a client may take to send a request's headers (and the TLS handshake).
    pub header_timeout: Duration,
    /// How long a connection with no request in flight is kept open.
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
    /// How long a client may go without sending request-body bytes mid-body (408 after).
    pub body_timeout: Duration,
    /// The slowest average upload accepted once `body_timeout` has passed since the body
    /// began (408 after): a trickle cannot hold an upstream connection for hours. 0: none.
    pub min_body_rate_bytes_per_sec: u64,
    /// How long a response may wait for the client to accept more of it (a client that
    /// stopped reading): then the connection is closed and the upstream released.
    pub send_timeout: Duration,
    /// How long a WebSocket tunnel may carry no byte in either direction before it closes.
    pub tunnel_idle_timeout: Duration,
    /// WebSocket tunnels open at once (their own cap: an open tunnel does not hold one of
    /// `max_connections`); more upgrades get 503.
    pub max_tunnels: usize,
    /// Connections served at once; further ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests before closing them.
    pub shutdown_grace: Duration,
    /// Where `serve` writes its process id, for `frontdoor reload`.
    pub pid_file: Option<PathBuf>,
    /// `[admin] listen`: plain-HTTP metrics and health, loopback unless allowed.
    pub admin_listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSettings {
    /// PEM certificate chain and private key written by the user (or certbot).
    Files { cert: PathBuf, key: PathBuf },
    /// Generated on first start with rcgen, reused afterwards.
    SelfSigned {
        cert: PathBuf,
        key: PathBuf,
        hosts: Vec<String>,
    },
    /// Obtained and renewed from an ACME CA (`[tls.acme]`).
    Acme(AcmeSettings),
}

/// Let's Encrypt's production directory, the default for `[tls.acme]`.
pub const LETS_ENCRYPT_PRODUCTION: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (`staging = true`): untrusted certificates, high limits.
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeSettings {
    /// Lower-case DNS names, in the order written, without duplicates.
    pub domains: Vec<String>,
    /// `mailto:` contact for the account, if given.
    pub contact: Option<String>,
    pub directory: String,
    /// Account key, certificates and the renewal status live here (0700; files 0600).
    pub cache_dir: PathBuf,
    pub challenge: AcmeChallenge,
    /// Extra roots to trust for the directory's HTTPS (private or test CAs).
    pub ca_roots: Option<PathBuf>,
    /// One certificate per name (chosen by SNI) instead of one for all names.
    pub certificate_per_domain: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcmeChallenge {
    /// TLS-ALPN-01 on the HTTPS listener: needs only port 443.
    TlsAlpn01,
    /// HTTP-01 on `server.http_listen`, under `/.well-known/acme-challenge/`.
    Http01,
}

#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// `default` for `[upstream]`, else the NAME of `[upstreams.NAME]`.
    pub name: String,
    /// As written, for messages.
    pub url: String,
    /// `host:port` of the upstream; requests are sent as plain HTTP/1.1.
    pub authority: http::uri::Authority,
    pub connect_timeout: Duration,
    /// Time allowed until the upstream's response headers arrive (bodies may stream longer).
    pub response_timeout: Duration,
    /// The Host header the upstream receives.
    pub host_header: HostHeader,
}

/// `host_header` of an upstream: which Host the application sees (X-Forwarded-Host always
/// carries the client's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostHeader {
    /// `"client"`: the Host the client asked for, with its port if it sent one (nginx's
    /// `$http_host`, Caddy's and Traefik's default).
    #[default]
    Client,
    /// `"client_name"`: the client's Host without the port (nginx's `$host`).
    ClientName,
    /// `"upstream"`: the url's host:port (nginx's default, `$proxy_host`).
    Upstream,
}

/// `[auth.login]` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSettings {
    /// The TOTP secrets file (`frontdoor totp add`); None: no second factor.
    pub totp: Option<PathBuf>,
    /// Every user must have a second factor (a user without one cannot sign in).
    pub totp_required: bool,
}

/// `[auth.api_keys]` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeySettings {
    pub file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct BasicSettings {
    pub htpasswd: PathBuf,
    pub realm: String,
}

/// `allow_emails`, `allow_email_domains`, `allow_groups` of a route, lower-cased (groups as
/// written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessRules {
    pub emails: Vec<String>,
    pub email_domains: Vec<String>,
    pub groups: Vec<String>,
}

impl AccessRules {
    pub fn is_empty(&self) -> bool {
        self.emails.is_empty() && self.email_domains.is_empty() && self.groups.is_empty()
    }

    /// Whether an identity with this (verified) email and these groups may pass.
    pub fn allows(&self, email: Option<&str>, groups: &[String]) -> bool {
        if self.is_empty() {
            return true;
        }
        let email = email.map(str::to_ascii_lowercase);
        if let Some(email) = &email {
            if self.emails.iter().any(|e| e == email) {
                return true;
            }
            if let Some((_, domain)) = email.rsplit_once('@')
                && self.email_domains.iter().any(|d| d == domain)
            {
                return true;
            }
        }
        groups.iter().any(|g| self.groups.contains(g))
    }
}

/// `[auth.oidc]` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// Exactly as configured; the discovery document must name the same.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Absolute URL registered with the provider; its path is under `/_frontdoor/callback`.
    pub redirect_url: String,
    pub redirect_path: String,
    pub scopes: Vec<String>,
    pub groups_claim: String,
    /// `sub` or `email`: what X-Forwarded-User carries.
    pub user_claim: UserClaim,
    /// The `aud` bearer tokens must carry.
    pub audience: String,
    pub post_logout_redirect_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserClaim {
    Sub,
    Email,
}

/// `[session]` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    pub cookie_key: Vec<u8>,
    pub previous_keys: Vec<Vec<u8>>,
    pub lifetime: Duration,
    pub refresh_interval: Duration,
}

impl SessionSettings {
    /// Settings for `[auth.oidc]` without `[session]` (bearer tokens only): no session is
    /// ever sealed, so a random key that dies with the process will do. An error without an
    /// OS random source.
    pub fn ephemeral() -> Result<SessionSettings, getrandom::Error> {
        let mut key = vec![0u8; 48];
        getrandom::fill(&mut key)?;
        Ok(SessionSettings {
            cookie_key: key,
            previous_keys: Vec::new(),
            lifetime: Duration::from_secs(12 * 3600),
            refresh_interval: Duration::from_secs(3600),
        })
    }
}

/// A way a request may prove who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Basic,
    /// A browser session from an OpenID provider login (`[auth.oidc]`, `[session]`).
    Oidc,
    /// `Authorization: Bearer <JWT>` signed by the same provider, for programs.
    OidcBearer,
    /// A key of `[auth.api_keys]` (`Authorization: Bearer fdk_...` or `X-API-Key`).
    ApiKey,
    /// A webhook delivery signed with the route's `webhook` secret (alone on its route).
    Webhook,
    /// A session from frontdoor's own sign-in page (`[auth.login]`, `[session]`).
    Login,
}

/// One `[[route]]` after validation.
#[derive(Debug, Clone)]
pub struct Route {
    pub path: String,
    /// The path again, shared: what logs and metrics name the route by, without a copy
    /// per request.
    pub label: std::sync::Arc<str>,
    pub exact: bool,
    pub methods: Option<Vec<Method>>,
    /// Any one of these suffices; empty means public (`auth = "none"`).
    pub auth: Vec<AuthMethod>,
    pub max_body_bytes: Option<u64>,
    /// Whether the `Authorization` header frontdoor consumed still goes upstream.
    pub forward_authorization: bool,
    /// Index into `Config::upstreams`.
    pub upstream: usize,
    /// Who among OIDC identities may pass (any match); empty rules let every signed-in
    /// identity in. Basic logins are not subject to them.
    pub access: AccessRules,
    /// `deny = true`: this path (and below, unless exact) answers 404 like an unlisted
    /// one, even under a broader route (the longest match wins).
    pub deny: bool,
    /// The signature check of `auth = ["webhook"]`.
    pub webhook: Option<std::sync::Arc<WebhookSettings>>,
    /// Requests per identity (or client address on a public route) over a window.
    pub rate_limit: Option<RateLimitSettings>,
}

impl Route {
    pub fn is_public(&self) -> bool {
        self.auth.is_empty()
    }
}

impl RouteShape for Route {
    fn path(&self) -> &str {
        &self.path
    }
    fn exact(&self) -> bool {
        self.exact
    }
    fn methods(&self) -> Option<&[Method]> {
        self.methods.as_deref()
    }
    fn deny(&self) -> bool {
        self.deny
    }
}

impl Config {
    /// Reads and validates a config file with the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, &Env::from_process())
    }

    /// Relative paths in the file (the htpasswd file, certificates, the ACME folder, the
    /// pid file, `file:` references, and the defaults of these) are read from the file's
    /// own folder, wherever frontdoor was started from.
    pub fn load_with_env(path: &Path, env: &Env) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            file: file.clone(),
            error,
        })?;
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let base = std::path::absolute(folder).map_err(|error| ConfigError::Read {
            file: file.clone(),
            error,
        })?;
        let mut config = Self::parse(&text, &file, env, Some(&base))?;
        config.source_path = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and validates config text; `file` is only used in messages. Relative paths
    /// stay relative to the working directory.
    pub fn from_toml(text: &str, file: &str, env: &Env) -> Result<Config, ConfigError> {
        Self::parse(text, file, env, None)
    }

    /// Parses and validates config text, with relative paths read from `base` when given.
    fn parse(
        text: &str,
        file: &str,
        env: &Env,
        base: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::from_toml(file, Some(text), &e))?;
        refuse_literal_secrets(&table, file)?;
        apply_env_overrides(&mut table, env);
        let mut secret_files = Vec::new();
        resolve_references(&mut table, "", env, (file, base), &mut secret_files)?;
        let raw: RawConfig = toml::Value::Table(table).try_into().map_err(
            |e: toml::de::Error| match toml::from_str::<RawConfig>(text) {
                // The same mistake read from the text itself: now with its line and column.
                Err(located) if located.span().is_some() && located.message() == e.message() => {
                    ConfigError::from_toml(file, Some(text), &located)
                }
                // A value from an override or a reference: no position in the file.
                _ => ConfigError::from_toml(file, None, &e),
            },
        )?;
        let mut config = validate(raw, file)?;
        config.secret_files = secret_files;
        if let Some(base) = base {
            config.anchor_paths(base);
        }
        Ok(config)
    }

    /// Makes every relative file path of the config relative to `base` (the config file's
    /// folder), so messages name the file actually read and a reload reads the same one.
    fn anchor_paths(&mut self, base: &Path) {
        let anchor = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        if let Some(pid_file) = self.server.pid_file.as_mut() {
            anchor(pid_file);
        }
        match &mut self.tls {
            TlsSettings::Files { cert, key } | TlsSettings::SelfSigned { cert, key, .. } => {
                anchor(cert);
                anchor(key);
            }
            TlsSettings::Acme(acme) => {
                anchor(&mut acme.cache_dir);
                if let Some(roots) = acme.ca_roots.as_mut() {
                    anchor(roots);
                }
            }
        }
        if let Some(basic) = self.basic.as_mut() {
            anchor(&mut basic.htpasswd);
        }
        if let Some(keys) = self.api_keys.as_mut() {
            anchor(&mut keys.file);
        }
        if let Some(totp) = self.login.as_mut().and_then(|l| l.totp.as_mut()) {
            anchor(totp);
        }
    }
}

/// Turns the raw config into the validated one, one section at a time (each section's
/// rules live in its own file); the first refusal names its file and key.
fn validate(raw: RawConfig, file: &str) -> Result<Config, ConfigError> {
    let server = server::server_settings(raw.server, raw.admin, file)?;
    let tls = tls::tls_settings(raw.tls, server.http_listen.is_some(), file)?;
    let upstreams = upstream::upstreams(raw.upstream, raw.upstreams, file)?;
    let basic = auth::basic_settings(raw.auth.basic, file)?;
    let api_keys = match raw.auth.api_keys {
        None => None,
        Some(k) if k.file.is_empty() => {
            return Err(ConfigError::Invalid {
                file: file.to_string(),
                key: "auth.api_keys.file".to_string(),
                problem:
                    "is empty: name the file `frontdoor key add` writes, e.g. \"api-keys.toml\""
                        .to_string(),
            });
        }
        Some(k) => Some(ApiKeySettings {
            file: k.file.into(),
        }),
    };
    let oidc = match raw.auth.oidc {
        None => None,
        Some(o) => Some(auth::oidc_settings(o, file)?),
    };
    let session = match raw.session {
        None => None,
        Some(s) => Some(auth::session_settings(s, file)?),
    };
    let lockout = auth::lockout_settings(raw.auth.lockout, file)?;
    let forward_auth = match raw.forward_auth {
        None => None,
        Some(f) => Some(server::forward_auth_settings(f, file)?),
    };
    let login = match raw.auth.login {
        None => None,
        Some(l) => Some(auth::login_settings(
            l,
            basic.is_some(),
            session.is_some(),
            file,
        )?),
    };
    let routes = routes::routes(
        raw.routes,
        &routes::RouteContext {
            upstreams: &upstreams,
            basic: basic.is_some(),
            api_keys: api_keys.is_some(),
            login: login.is_some(),
            oidc: oidc.is_some(),
            session: session.is_some(),
        },
        file,
    )?;
    let ui = UiSwitches {
        dashboard: raw.ui.dashboard.unwrap_or(false),
        workspace: raw.ui.workspace.unwrap_or(false),
        docs: raw.ui.docs.unwrap_or(false),
        openapi: raw.ui.openapi.unwrap_or(false),
    };
    Ok(Config {
        source: file.to_string(),
        source_path: None,
        server,
        tls,
        upstreams,
        max_body_bytes: raw.limits.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        ui,
        basic,
        api_keys,
        login,
        forward_auth,
        oidc,
        session,
        lockout,
        routes: RouteTable::new(routes, ui),
        secret_files: Vec::new(),
    })
}

#[cfg(test)]
mod tests;
