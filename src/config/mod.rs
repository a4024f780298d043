//! Loading and validating `frontdoor.toml`: files, `${ENV}` and `file:` references,
//! `FRONTDOOR_<SECTION>_<KEY>` overrides, and the validated [`Config`] that `serve`,
//! `check`, `explain` and `demo` share.

mod cidr;
mod raw;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Method;

pub use cidr::Cidr;
use raw::{RawAuthList, RawConfig};

use crate::limits::lockout::LockoutSettings;
use crate::policy::normalize::normalize_path;
use crate::policy::routes::{RouteRule, RouteTable, UiSwitches};

/// Where `serve` looks when neither `--config` nor `$FRONTDOOR_CONFIG` is given.
pub const DEFAULT_CONFIG_PATH: &str = "config/frontdoor.toml";
/// 500 MB: the upload cap the protected agents document for their own upload endpoint.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 524_288_000;

/// Why a config was refused. Every variant names the file; `Invalid` also names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{file}: cannot read the config: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    /// TOML syntax, a wrong type, or an unknown key (`deny_unknown_fields`): a typo must
    /// never be silently ignored in a security config.
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    /// The file parsed but a value is unsafe or inconsistent.
    #[error("{file}: `{key}`: {problem}")]
    Invalid {
        file: String,
        key: String,
        problem: String,
    },
}

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
    pub oidc: Option<OidcSettings>,
    pub session: Option<SessionSettings>,
    pub lockout: LockoutSettings,
    pub routes: Vec<Route>,
    pub table: RouteTable,
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

/// A way a request may prove who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Basic,
    /// A browser session from an OpenID provider login (`[auth.oidc]`, `[session]`).
    Oidc,
    /// `Authorization: Bearer <JWT>` signed by the same provider, for programs.
    OidcBearer,
}

/// One `[[route]]` after validation.
#[derive(Debug, Clone)]
pub struct Route {
    pub path: String,
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
}

impl Route {
    pub fn is_public(&self) -> bool {
        self.auth.is_empty()
    }
}

impl Config {
    /// Reads and validates a config file with the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, &Env::from_process())
    }

    pub fn load_with_env(path: &Path, env: &Env) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let mut config = Self::from_toml(&text, &file, env)?;
        config.source_path = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and validates config text; `file` is only used in messages.
    pub fn from_toml(text: &str, file: &str, env: &Env) -> Result<Config, ConfigError> {
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    file: file.to_string(),
                    message: e.to_string().trim_end().to_string(),
                })?;
        refuse_literal_secrets(&table, file)?;
        apply_env_overrides(&mut table, env);
        resolve_references(&mut table, "", env, file)?;
        let raw: RawConfig =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    file: file.to_string(),
                    message: e.to_string().trim_end().to_string(),
                })?;
        validate(raw, file)
    }
}

/// Secrets that must not sit in the config file itself: each must be a `${ENV}` or `file:`
/// reference (an environment override is fine too).
const SECRET_KEYS: &[(&str, &str, &str)] = &[
    ("auth", "oidc", "client_secret"),
    ("session", "cookie_key", ""),
    ("session", "previous_keys", ""),
];

fn refuse_literal_secrets(table: &toml::Table, file: &str) -> Result<(), ConfigError> {
    for (section, key, subkey) in SECRET_KEYS {
        let value = table.get(*section).and_then(|v| v.get(*key));
        let (value, name) = if subkey.is_empty() {
            (value, format!("{section}.{key}"))
        } else {
            (
                value.and_then(|v| v.get(*subkey)),
                format!("{section}.{key}.{subkey}"),
            )
        };
        let texts: Vec<&str> = match value {
            Some(toml::Value::String(text)) => vec![text.as_str()],
            Some(toml::Value::Array(items)) => items.iter().filter_map(|v| v.as_str()).collect(),
            _ => continue,
        };
        for text in texts {
            if !(text.starts_with("${") || text.starts_with("file:")) {
                return Err(ConfigError::Invalid {
                    file: file.to_string(),
                    key: name,
                    problem: "is a secret written into the config: use a reference like \
                          \"${FRONTDOOR_OIDC_SECRET}\" or \"file:/etc/frontdoor/oidc-secret\""
                        .to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Sections whose scalar keys can be set as `FRONTDOOR_<SECTION>_<KEY>`; longest prefix first
/// so `AUTH_BASIC_REALM` is not read as section `auth`.
const OVERRIDABLE_SECTIONS: &[(&str, &[&str])] = &[
    ("AUTH_BASIC_", &["auth", "basic"]),
    ("AUTH_LOCKOUT_", &["auth", "lockout"]),
    ("AUTH_OIDC_", &["auth", "oidc"]),
    ("SESSION_", &["session"]),
    ("SERVER_", &["server"]),
    ("TLS_ACME_", &["tls", "acme"]),
    ("TLS_", &["tls"]),
    ("UPSTREAM_", &["upstream"]),
    ("LIMITS_", &["limits"]),
    ("UI_", &["ui"]),
    ("ADMIN_", &["admin"]),
];

/// Applies `FRONTDOOR_<SECTION>_<KEY>=value` on top of the file. Values are typed like the
/// key they replace (or guessed: `true`/`false`, integers, else a string), so a wrong type
/// still fails in serde with the key's name.
fn apply_env_overrides(table: &mut toml::Table, env: &Env) {
    let mut names: Vec<&String> = env.vars.keys().collect();
    names.sort();
    for name in names {
        let Some(rest) = name.strip_prefix("FRONTDOOR_") else {
            continue;
        };
        let Some((prefix, path)) = OVERRIDABLE_SECTIONS
            .iter()
            .find(|(prefix, _)| rest.starts_with(prefix))
        else {
            continue;
        };
        let key = rest[prefix.len()..].to_ascii_lowercase();
        if key.is_empty() {
            continue;
        }
        let Some(value) = env.get(name) else { continue };
        let mut section = &mut *table;
        for part in path.iter() {
            let entry = section
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(inner) = entry else {
                // The file has a scalar where a section belongs; serde reports it.
                return;
            };
            section = inner;
        }
        let typed = match section.get(&key) {
            Some(toml::Value::Boolean(_)) => value.parse::<bool>().map_or_else(
                |_| toml::Value::String(value.to_string()),
                toml::Value::Boolean,
            ),
            Some(toml::Value::Integer(_)) => value.parse::<i64>().map_or_else(
                |_| toml::Value::String(value.to_string()),
                toml::Value::Integer,
            ),
            // Lists are written comma-separated: FRONTDOOR_SERVER_HOSTS=a.example,b.example
            Some(toml::Value::Array(_)) => comma_list(value),
            None if LIST_KEYS.contains(&key.as_str()) => comma_list(value),
            _ => guess_scalar(value),
        };
        section.insert(key, typed);
    }
}

/// Keys whose value is a list, so an override of a key the file does not set is still typed.
const LIST_KEYS: &[&str] = &[
    "hosts",
    "trusted_proxies",
    "self_signed_hosts",
    "domains",
    "scopes",
    "previous_keys",
];

fn comma_list(value: &str) -> toml::Value {
    toml::Value::Array(
        value
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| toml::Value::String(v.to_string()))
            .collect(),
    )
}

fn guess_scalar(value: &str) -> toml::Value {
    if let Ok(b) = value.parse::<bool>() {
        toml::Value::Boolean(b)
    } else if let Ok(i) = value.parse::<i64>() {
        toml::Value::Integer(i)
    } else {
        toml::Value::String(value.to_string())
    }
}

/// Replaces `${NAME}` values with the environment variable and `file:/path` values with the
/// file's content (trailing newline removed), so secrets never need to sit in the config.
fn resolve_references(
    table: &mut toml::Table,
    prefix: &str,
    env: &Env,
    file: &str,
) -> Result<(), ConfigError> {
    for (key, value) in table.iter_mut() {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        resolve_value(value, &path, env, file)?;
    }
    Ok(())
}

fn resolve_value(
    value: &mut toml::Value,
    path: &str,
    env: &Env,
    file: &str,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::Table(t) => resolve_references(t, path, env, file),
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                resolve_value(item, &format!("{path}[{i}]"), env, file)?;
            }
            Ok(())
        }
        toml::Value::String(s) => {
            if let Some(name) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                let resolved = env.get(name).ok_or_else(|| ConfigError::Invalid {
                    file: file.to_string(),
                    key: path.to_string(),
                    problem: format!("environment variable `{name}` is not set"),
                })?;
                *s = resolved.to_string();
            } else if let Some(secret_path) = s.strip_prefix("file:") {
                let content =
                    std::fs::read_to_string(secret_path).map_err(|e| ConfigError::Invalid {
                        file: file.to_string(),
                        key: path.to_string(),
                        problem: format!("cannot read `{secret_path}`: {e}"),
                    })?;
                *s = content.trim_end_matches(['\r', '\n']).to_string();
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Turns the raw file into domain types, refusing anything unsafe or inconsistent.
fn validate(raw: RawConfig, file: &str) -> Result<Config, ConfigError> {
    let invalid = |key: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        problem,
    };

    // [server]
    let allow_public_bind = raw.server.allow_public_bind.unwrap_or(false);
    let listen = parse_listen(
        raw.server.listen.as_deref().unwrap_or("127.0.0.1:8443"),
        allow_public_bind,
    )
    .map_err(|p| invalid("server.listen", p))?;
    let http_listen = match raw.server.http_listen.as_deref() {
        None => None,
        Some(addr) => Some(
            parse_listen(addr, allow_public_bind).map_err(|p| invalid("server.http_listen", p))?,
        ),
    };
    let mut hosts = Vec::new();
    for (i, host) in raw.server.hosts.unwrap_or_default().iter().enumerate() {
        let host = host.trim().to_ascii_lowercase();
        let is_v6_literal = host.starts_with('[')
            && host.ends_with(']')
            && host[1..host.len() - 1]
                .parse::<std::net::Ipv6Addr>()
                .is_ok();
        if !is_v6_literal
            && (host.is_empty()
                || !host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)))
        {
            return Err(invalid(
                &format!("server.hosts[{i}]"),
                format!("`{host}` is not a host name (names only, without a port)"),
            ));
        }
        hosts.push(host);
    }
    let mut trusted_proxies = Vec::new();
    for (i, cidr) in raw
        .server
        .trusted_proxies
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let parsed = cidr
            .parse::<Cidr>()
            .map_err(|p| invalid(&format!("server.trusted_proxies[{i}]"), p))?;
        if parsed.prefix_len() == 0 {
            return Err(invalid(
                &format!("server.trusted_proxies[{i}]"),
                format!("`{cidr}` would trust X-Forwarded-For from the whole internet"),
            ));
        }
        trusted_proxies.push(parsed);
    }
    let header_timeout = positive_secs(raw.server.header_timeout_secs, 10)
        .map_err(|p| invalid("server.header_timeout_secs", p))?;
    let idle_timeout = positive_secs(raw.server.idle_timeout_secs, 60)
        .map_err(|p| invalid("server.idle_timeout_secs", p))?;
    let shutdown_grace = positive_secs(raw.server.shutdown_grace_secs, 30)
        .map_err(|p| invalid("server.shutdown_grace_secs", p))?;
    let max_header_bytes = raw.server.max_header_bytes.unwrap_or(16 * 1024);
    // hyper's HTTP/1 reader cannot go below 8 KiB: a smaller value would be silently raised.
    if !(8192..=1024 * 1024).contains(&max_header_bytes) {
        return Err(invalid(
            "server.max_header_bytes",
            "must be between 8192 and 1048576".to_string(),
        ));
    }
    let admin_listen = match raw.admin.and_then(|a| a.listen) {
        None => None,
        Some(addr) => {
            Some(parse_listen(&addr, allow_public_bind).map_err(|p| invalid("admin.listen", p))?)
        }
    };
    let body_timeout = positive_secs(raw.server.body_timeout_secs, 30)
        .map_err(|p| invalid("server.body_timeout_secs", p))?;
    let max_connections = raw.server.max_connections.unwrap_or(20_000);
    if max_connections == 0 {
        return Err(invalid(
            "server.max_connections",
            "must be at least 1".to_string(),
        ));
    }

    // [tls]
    let acme = raw.tls.acme;
    let tls = match (
        raw.tls.cert,
        raw.tls.key,
        raw.tls.self_signed.unwrap_or(false),
    ) {
        (None, None, false) if acme.is_some() => {
            let acme = acme.unwrap_or_default();
            TlsSettings::Acme(acme_settings(acme, http_listen.is_some(), file)?)
        }
        _ if acme.is_some() => {
            return Err(invalid(
                "tls.acme",
                "cannot be combined with `cert`/`key` or `self_signed`: pick one".to_string(),
            ));
        }
        (Some(cert), Some(key), false) => TlsSettings::Files {
            cert: cert.into(),
            key: key.into(),
        },
        (cert, key, true) => TlsSettings::SelfSigned {
            cert: cert
                .unwrap_or_else(|| "certs/self-signed.crt".into())
                .into(),
            key: key.unwrap_or_else(|| "certs/self-signed.key".into()).into(),
            hosts: raw
                .tls
                .self_signed_hosts
                .unwrap_or_else(|| vec!["localhost".into(), "127.0.0.1".into()]),
        },
        (None, None, false) => {
            return Err(invalid(
                "tls",
                "set `cert` and `key` (PEM files), `self_signed = true`, or a [tls.acme] section"
                    .to_string(),
            ));
        }
        (Some(_), None, false) => {
            return Err(invalid(
                "tls.key",
                "`cert` is set but `key` is missing".to_string(),
            ));
        }
        (None, Some(_), false) => {
            return Err(invalid(
                "tls.cert",
                "`key` is set but `cert` is missing".to_string(),
            ));
        }
    };

    // [upstream] and [upstreams.NAME]
    let mut upstreams = Vec::new();
    if let Some(raw_upstream) = raw.upstream {
        upstreams.push(upstream_settings(
            "default",
            "upstream",
            raw_upstream,
            file,
        )?);
    }
    for (name, raw_upstream) in raw.upstreams {
        if name == "default" || name.is_empty() {
            return Err(invalid(
                &format!("upstreams.{name}"),
                "this name is reserved for [upstream]".to_string(),
            ));
        }
        let key = format!("upstreams.{name}");
        upstreams.push(upstream_settings(&name, &key, raw_upstream, file)?);
    }
    if upstreams.is_empty() {
        return Err(invalid(
            "upstream.url",
            "is required: the address of the application to protect".to_string(),
        ));
    }
    let has_default = upstreams.first().is_some_and(|u| u.name == "default");

    // [auth.basic]
    let basic = match raw.auth.basic {
        None => None,
        Some(b) => {
            let realm = b.realm.unwrap_or_else(|| "frontdoor".to_string());
            if realm.is_empty() || realm.bytes().any(|c| c == b'"' || c == b'\\' || c < 0x20) {
                return Err(invalid(
                    "auth.basic.realm",
                    "must be non-empty and contain no quotes, backslashes or control characters"
                        .to_string(),
                ));
            }
            if b.htpasswd.is_empty() {
                return Err(invalid("auth.basic.htpasswd", "is empty".to_string()));
            }
            Some(BasicSettings {
                htpasswd: b.htpasswd.into(),
                realm,
            })
        }
    };

    // [auth.oidc] and [session]
    let oidc = match raw.auth.oidc {
        None => None,
        Some(o) => Some(oidc_settings(o, file)?),
    };
    let session = match raw.session {
        None => None,
        Some(s) => Some(session_settings(s, file)?),
    };

    // [auth.lockout]
    let raw_lockout = raw.auth.lockout.unwrap_or_default();
    let defaults = LockoutSettings::default();
    let lockout = LockoutSettings {
        max_retries: at_least_one(raw_lockout.max_retries, defaults.max_retries)
            .map_err(|p| invalid("auth.lockout.max_retries", p))?,
        max_retries_per_ip: at_least_one(
            raw_lockout.max_retries_per_ip,
            defaults.max_retries_per_ip,
        )
        .map_err(|p| invalid("auth.lockout.max_retries_per_ip", p))?,
        find_time: positive_secs(raw_lockout.find_time_secs, defaults.find_time.as_secs())
            .map_err(|p| invalid("auth.lockout.find_time_secs", p))?,
        ban_time: positive_secs(raw_lockout.ban_time_secs, defaults.ban_time.as_secs())
            .map_err(|p| invalid("auth.lockout.ban_time_secs", p))?,
    };

    // [[route]]
    let mut routes = Vec::new();
    let mut rules = Vec::new();
    for (i, r) in raw.routes.into_iter().enumerate() {
        let key = |k: &str| format!("route[{i}].{k}");
        let normalized = normalize_path(&r.path)
            .map_err(|e| invalid(&key("path"), format!("`{}`: {e}", r.path)))?;
        let path = if normalized.len() > 1 {
            normalized.trim_end_matches('/').to_string()
        } else {
            normalized
        };
        if path != r.path.trim_end_matches('/') && !(path == "/" && r.path == "/") {
            return Err(invalid(
                &key("path"),
                format!(
                    "`{}` is not in normal form; write `{path}` (routes are matched on normalized paths)",
                    r.path
                ),
            ));
        }
        let methods = match r.methods {
            None => None,
            Some(list) if list.is_empty() => {
                return Err(invalid(
                    &key("methods"),
                    "is empty: leave it out to allow every method".to_string(),
                ));
            }
            Some(list) => {
                let mut parsed = Vec::new();
                for m in list {
                    let upper = m.to_ascii_uppercase();
                    let method = Method::from_bytes(upper.as_bytes())
                        .map_err(|_| invalid(&key("methods"), format!("`{m}` is not a method")))?;
                    if method == Method::CONNECT {
                        return Err(invalid(
                            &key("methods"),
                            "CONNECT is never proxied".to_string(),
                        ));
                    }
                    parsed.push(method);
                }
                Some(parsed)
            }
        };
        let upstream = match &r.upstream {
            None if has_default => 0,
            None => {
                return Err(invalid(
                    &key("upstream"),
                    "is required: there is no [upstream] default, only named [upstreams.*]"
                        .to_string(),
                ));
            }
            Some(name) => upstreams
                .iter()
                .position(|u| &u.name == name)
                .ok_or_else(|| {
                    invalid(
                        &key("upstream"),
                        format!("names `{name}`, but there is no [upstreams.{name}]"),
                    )
                })?,
        };
        let deny = r.deny.unwrap_or(false);
        if deny && (r.auth.is_some() || methods.is_some() || r.max_body_bytes.is_some()) {
            return Err(invalid(
                &key("deny"),
                "a deny route answers 404 to everything: it takes no auth, methods or max_body_bytes"
                    .to_string(),
            ));
        }
        let auth_names = match r.auth {
            None if deny => vec!["none".to_string()],
            None => vec!["basic".to_string()],
            Some(RawAuthList::One(s)) => vec![s],
            Some(RawAuthList::Many(v)) => v,
        };
        let mut auth = Vec::new();
        for name in &auth_names {
            match name.as_str() {
                "none" if auth_names.len() == 1 => {}
                "none" => {
                    return Err(invalid(
                        &key("auth"),
                        "\"none\" cannot be combined with other methods".to_string(),
                    ));
                }
                "basic" => {
                    if basic.is_none() {
                        return Err(invalid(
                            &key("auth"),
                            "uses \"basic\" but [auth.basic] is not configured".to_string(),
                        ));
                    }
                    auth.push(AuthMethod::Basic);
                }
                "oidc" => {
                    if oidc.is_none() || session.is_none() {
                        return Err(invalid(
                            &key("auth"),
                            "uses \"oidc\" but [auth.oidc] and [session] are not both configured"
                                .to_string(),
                        ));
                    }
                    auth.push(AuthMethod::Oidc);
                }
                "oidc_bearer" => {
                    if oidc.is_none() {
                        return Err(invalid(
                            &key("auth"),
                            "uses \"oidc_bearer\" but [auth.oidc] is not configured".to_string(),
                        ));
                    }
                    auth.push(AuthMethod::OidcBearer);
                }
                other => {
                    return Err(invalid(
                        &key("auth"),
                        format!(
                            "unknown or unsupported auth method `{other}` \
                             (known: none, basic, oidc, oidc_bearer)"
                        ),
                    ));
                }
            }
        }
        if auth_names.is_empty() {
            return Err(invalid(
                &key("auth"),
                "is empty: write \"none\" for a public route".to_string(),
            ));
        }
        let lower = |list: Option<Vec<String>>| -> Vec<String> {
            list.unwrap_or_default()
                .into_iter()
                .map(|v| v.trim().to_ascii_lowercase())
                .collect()
        };
        let access = AccessRules {
            emails: lower(r.allow_emails.clone()),
            email_domains: lower(r.allow_email_domains.clone())
                .into_iter()
                .map(|d| d.trim_start_matches('@').to_string())
                .collect(),
            groups: r.allow_groups.clone().unwrap_or_default(),
        };
        if !access.is_empty()
            && !auth
                .iter()
                .any(|m| matches!(m, AuthMethod::Oidc | AuthMethod::OidcBearer))
        {
            return Err(invalid(
                &key("allow_emails"),
                "allow_emails, allow_email_domains and allow_groups apply to OIDC identities: \
                 add \"oidc\" or \"oidc_bearer\" to auth"
                    .to_string(),
            ));
        }
        rules.push(RouteRule {
            path: path.clone(),
            exact: r.exact.unwrap_or(false),
            methods: methods.clone(),
            index: i,
        });
        routes.push(Route {
            path,
            exact: r.exact.unwrap_or(false),
            methods,
            auth,
            max_body_bytes: r.max_body_bytes,
            forward_authorization: r.forward_authorization.unwrap_or(false),
            upstream,
            access,
            deny,
        });
    }

    let ui = UiSwitches {
        dashboard: raw.ui.dashboard.unwrap_or(false),
        workspace: raw.ui.workspace.unwrap_or(false),
        docs: raw.ui.docs.unwrap_or(false),
        openapi: raw.ui.openapi.unwrap_or(false),
    };
    Ok(Config {
        source: file.to_string(),
        source_path: None,
        server: ServerSettings {
            listen,
            allow_public_bind,
            http_listen,
            hosts,
            trusted_proxies,
            header_timeout,
            idle_timeout,
            max_header_bytes,
            body_timeout,
            max_connections,
            shutdown_grace,
            pid_file: raw.server.pid_file.map(PathBuf::from),
            admin_listen,
        },
        tls,
        upstreams,
        max_body_bytes: raw.limits.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        ui,
        basic,
        oidc,
        session,
        lockout,
        table: RouteTable::new(rules, ui),
        routes,
    })
}

/// Validates one `[upstream]` or `[upstreams.NAME]` block; `key` prefixes messages.
fn upstream_settings(
    name: &str,
    key: &str,
    raw: raw::RawUpstream,
    file: &str,
) -> Result<UpstreamSettings, ConfigError> {
    let invalid = |k: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: format!("{key}.{k}"),
        problem,
    };
    let uri: http::Uri = raw
        .url
        .parse()
        .map_err(|e| invalid("url", format!("`{}`: {e}", raw.url)))?;
    if uri.scheme_str() != Some("http") {
        return Err(invalid(
            "url",
            "must be an http:// URL (frontdoor talks plain HTTP/1.1 to a local upstream)"
                .to_string(),
        ));
    }
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| invalid("url", "has no host".to_string()))?;
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(invalid(
            "url",
            "must not have a path or query: requests keep their own path".to_string(),
        ));
    }
    Ok(UpstreamSettings {
        name: name.to_string(),
        url: raw.url.clone(),
        authority,
        connect_timeout: positive_secs(raw.connect_timeout_secs, 5)
            .map_err(|p| invalid("connect_timeout_secs", p))?,
        response_timeout: positive_secs(raw.response_timeout_secs, 60)
            .map_err(|p| invalid("response_timeout_secs", p))?,
    })
}

/// Parses a listen address and applies the bind guard: a non-loopback address (0.0.0.0, [::],
/// or a real interface) exposes the front door to the network, so it must be acknowledged.
/// Whether `url` may be used to talk to an identity provider: https, or http on a loopback
/// address (a provider on the same machine, and the tests).
pub fn provider_url_allowed(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    match (uri.scheme_str(), uri.host()) {
        (Some("https"), Some(_)) => true,
        (Some("http"), Some(host)) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

fn oidc_settings(raw: raw::RawOidc, file: &str) -> Result<OidcSettings, ConfigError> {
    let invalid = |k: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: format!("auth.oidc.{k}"),
        problem,
    };
    let required = |value: Option<String>, k: &str| {
        value
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| invalid(k, "is required".to_string()))
    };
    let issuer = required(raw.issuer, "issuer")?;
    if !provider_url_allowed(&issuer) {
        return Err(invalid(
            "issuer",
            format!("`{issuer}` must be an https:// URL (http only on a loopback address)"),
        ));
    }
    let client_id = required(raw.client_id, "client_id")?;
    let client_secret = required(raw.client_secret, "client_secret")?;
    let redirect_url = required(raw.redirect_url, "redirect_url")?;
    let redirect_uri: http::Uri = redirect_url
        .parse()
        .map_err(|e| invalid("redirect_url", format!("`{redirect_url}`: {e}")))?;
    let redirect_path = redirect_uri.path().to_string();
    if redirect_uri.scheme_str() != Some("https")
        || redirect_uri.host().is_none()
        || redirect_uri.query().is_some()
        || !(redirect_path == "/_frontdoor/callback"
            || redirect_path.starts_with("/_frontdoor/callback/"))
    {
        return Err(invalid(
            "redirect_url",
            format!(
                "`{redirect_url}` must be https://YOUR-HOST/_frontdoor/callback (a path under \
                 /_frontdoor/callback, no query), as registered with the provider"
            ),
        ));
    }
    let scopes = raw
        .scopes
        .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]);
    if !scopes.iter().any(|s| s == "openid") {
        return Err(invalid(
            "scopes",
            "must include \"openid\" (it is what makes this OpenID Connect)".to_string(),
        ));
    }
    if let Some(bad) = scopes.iter().find(|s| {
        s.is_empty()
            || s.bytes()
                .any(|b| !(0x21..=0x7e).contains(&b) || b == b'"' || b == b'\\')
    }) {
        return Err(invalid("scopes", format!("`{bad}` is not a valid scope")));
    }
    let user_claim = match raw.user_claim.as_deref().unwrap_or("sub") {
        "sub" => UserClaim::Sub,
        "email" => UserClaim::Email,
        other => {
            return Err(invalid(
                "user_claim",
                format!("`{other}`: use \"sub\" or \"email\""),
            ));
        }
    };
    if let Some(url) = &raw.post_logout_redirect_url
        && !url.starts_with("https://")
    {
        return Err(invalid(
            "post_logout_redirect_url",
            format!("`{url}` must be an https:// URL registered with the provider"),
        ));
    }
    Ok(OidcSettings {
        audience: raw.audience.unwrap_or_else(|| client_id.clone()),
        issuer,
        client_id,
        client_secret,
        redirect_url,
        redirect_path,
        scopes,
        groups_claim: raw.groups_claim.unwrap_or_else(|| "groups".to_string()),
        user_claim,
        post_logout_redirect_url: raw.post_logout_redirect_url,
    })
}

fn session_settings(raw: raw::RawSession, file: &str) -> Result<SessionSettings, ConfigError> {
    let invalid = |k: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: format!("session.{k}"),
        problem,
    };
    let key_bytes = |value: &str, k: &str| -> Result<Vec<u8>, ConfigError> {
        if value.len() < 32 {
            return Err(invalid(
                k,
                format!(
                    "is {} bytes; use at least 32 random bytes (`openssl rand -base64 48`)",
                    value.len()
                ),
            ));
        }
        Ok(value.as_bytes().to_vec())
    };
    let cookie_key = key_bytes(
        raw.cookie_key
            .as_deref()
            .ok_or_else(|| invalid("cookie_key", "is required".to_string()))?,
        "cookie_key",
    )?;
    let mut previous_keys = Vec::new();
    for (i, k) in raw.previous_keys.unwrap_or_default().iter().enumerate() {
        previous_keys.push(key_bytes(k, &format!("previous_keys[{i}]"))?);
    }
    let lifetime = duration_value(raw.lifetime, 12 * 3600).map_err(|p| invalid("lifetime", p))?;
    let refresh_interval =
        duration_value(raw.refresh_interval, 3600).map_err(|p| invalid("refresh_interval", p))?;
    Ok(SessionSettings {
        cookie_key,
        previous_keys,
        lifetime,
        refresh_interval,
    })
}

/// A duration written as seconds (`3600`) or with a unit (`"90s"`, `"30m"`, `"12h"`, `"7d"`).
fn duration_value(value: Option<toml::Value>, default_secs: u64) -> Result<Duration, String> {
    let secs = match value {
        None => default_secs,
        Some(toml::Value::Integer(n)) => {
            u64::try_from(n).map_err(|_| "must not be negative".to_string())?
        }
        Some(toml::Value::String(text)) => {
            let text = text.trim();
            let split = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let n: u64 = number
                .parse()
                .map_err(|_| format!("`{text}` is not a duration like \"12h\" or 3600"))?;
            let scale = match unit {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return Err(format!("`{text}`: the unit must be s, m, h or d")),
            };
            n.checked_mul(scale)
                .ok_or_else(|| "is too long".to_string())?
        }
        Some(_) => return Err("must be seconds or a string like \"12h\"".to_string()),
    };
    if secs == 0 || secs > 366 * 86_400 {
        return Err("must be between 1 second and 366 days".to_string());
    }
    Ok(Duration::from_secs(secs))
}

/// Checks `[tls.acme]`: real DNS names (no wildcards: they need DNS-01), one directory, and
/// a listener for the chosen challenge.
fn acme_settings(
    raw: raw::RawAcme,
    have_http_listener: bool,
    file: &str,
) -> Result<AcmeSettings, ConfigError> {
    let invalid = |k: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: format!("tls.acme.{k}"),
        problem,
    };
    let mut domains: Vec<String> = Vec::new();
    for name in raw.domains.unwrap_or_default() {
        let lower = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if lower.starts_with("*.") {
            return Err(invalid(
                "domains",
                format!(
                    "`{name}`: wildcard names need the DNS-01 challenge, which frontdoor does not do"
                ),
            ));
        }
        if let Err(problem) = check_dns_name(&lower) {
            return Err(invalid("domains", format!("`{name}`: {problem}")));
        }
        if !domains.contains(&lower) {
            domains.push(lower);
        }
    }
    if domains.is_empty() {
        return Err(invalid(
            "domains",
            "list the names to get a certificate for, like [\"agent.example.com\"]".to_string(),
        ));
    }
    let contact = match raw.contact.map(|c| c.trim().to_string()) {
        None => None,
        Some(c) if c.is_empty() => None,
        Some(c) => {
            let address = c.strip_prefix("mailto:").unwrap_or(&c);
            let valid = address.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty()
                    && host.contains('.')
                    && !address
                        .chars()
                        .any(|ch| ch.is_whitespace() || ch.is_control() || ch == ',')
            });
            if !valid {
                return Err(invalid("contact", format!("`{c}` is not an email address")));
            }
            Some(format!("mailto:{address}"))
        }
    };
    let directory = match (raw.directory, raw.staging.unwrap_or(false)) {
        (Some(_), true) => {
            return Err(invalid(
                "staging",
                "`staging = true` picks Let's Encrypt staging; remove it or `directory`"
                    .to_string(),
            ));
        }
        (Some(url), false) => {
            let uri: http::Uri = url
                .parse()
                .map_err(|e| invalid("directory", format!("`{url}`: {e}")))?;
            if uri.scheme_str() != Some("https") || uri.host().is_none() {
                return Err(invalid(
                    "directory",
                    format!("`{url}` must be an https:// URL (ACME runs over HTTPS)"),
                ));
            }
            url
        }
        (None, true) => LETS_ENCRYPT_STAGING.to_string(),
        (None, false) => LETS_ENCRYPT_PRODUCTION.to_string(),
    };
    let challenge = match raw.challenge.as_deref().unwrap_or("tls-alpn-01") {
        "tls-alpn-01" => AcmeChallenge::TlsAlpn01,
        "http-01" => {
            if !have_http_listener {
                return Err(invalid(
                    "challenge",
                    "http-01 is answered on the plain-HTTP listener: set server.http_listen \
                     (port 80 as the CA sees it)"
                        .to_string(),
                ));
            }
            AcmeChallenge::Http01
        }
        other => {
            return Err(invalid(
                "challenge",
                format!("`{other}` is not supported: use \"tls-alpn-01\" or \"http-01\""),
            ));
        }
    };
    Ok(AcmeSettings {
        domains,
        contact,
        directory,
        cache_dir: raw.cache_dir.unwrap_or_else(|| "certs/acme".into()).into(),
        challenge,
        ca_roots: raw.ca_roots.map(PathBuf::from),
        certificate_per_domain: raw.certificate_per_domain.unwrap_or(false),
    })
}

/// A host name a public CA can issue for: dot-separated labels of letters, digits and
/// hyphens, at least two labels, not an IP address.
fn check_dns_name(name: &str) -> Result<(), String> {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err("IP addresses cannot get ACME certificates here; use a DNS name".to_string());
    }
    if name.len() > 253 {
        return Err("longer than 253 characters".to_string());
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err("a public CA needs a full name like agent.example.com".to_string());
    }
    for label in labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(format!("`{label}` is not a valid DNS label"));
        }
    }
    Ok(())
}

fn parse_listen(text: &str, allow_public_bind: bool) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| format!("`{text}` is not an address like 127.0.0.1:8443 or [::1]:8443"))?;
    if !addr.ip().is_loopback() && !allow_public_bind {
        return Err(format!(
            "`{text}` is reachable from other machines; refusing to listen there unless \
             `server.allow_public_bind = true` (or FRONTDOOR_SERVER_ALLOW_PUBLIC_BIND=true) says you mean it"
        ));
    }
    Ok(addr)
}

fn at_least_one(value: Option<usize>, default: usize) -> Result<usize, String> {
    match value.unwrap_or(default) {
        0 => Err("must be at least 1".to_string()),
        n => Ok(n),
    }
}

fn positive_secs(value: Option<u64>, default: u64) -> Result<Duration, String> {
    match value.unwrap_or(default) {
        0 => Err("must be at least 1 second".to_string()),
        s if s > 24 * 3600 => Err("must be at most 86400 seconds".to_string()),
        s => Ok(Duration::from_secs(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [tls]
        self_signed = true
        [upstream]
        url = "http://127.0.0.1:8000"
        [auth.basic]
        htpasswd = "config/htpasswd"
        [[route]]
        path = "/api/jobs"
        methods = ["GET", "post"]
        [[route]]
        path = "/health"
        auth = "none"
    "#;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_toml(text, "test.toml", &Env::from_pairs(env.iter().copied()))
    }

    fn error_text(text: &str, env: &[(&str, &str)]) -> String {
        match load(text, env) {
            Ok(_) => panic!("config was accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    /// Defaults are the safe ones: loopback bind, 500 MB cap, UIs hidden, auth = basic.
    #[test]
    fn minimal_config_gets_safe_defaults() {
        let cfg = load(MINIMAL, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cfg.server.listen,
            "127.0.0.1:8443".parse().unwrap_or_else(|_| unreachable!())
        );
        assert_eq!(cfg.max_body_bytes, 524_288_000);
        assert_eq!(cfg.ui, UiSwitches::default());
        assert_eq!(cfg.routes[0].auth, vec![AuthMethod::Basic]);
        assert!(cfg.routes[1].is_public());
        assert_eq!(cfg.routes[0].methods, Some(vec![Method::GET, Method::POST]));
    }

    /// A typo is an error naming the key, never silently ignored.
    #[test]
    fn unknown_key_is_named() {
        let text = MINIMAL.replace("[ui]", "").to_string() + "\n[ui]\ndashbord = true\n";
        let err = error_text(&text, &[]);
        assert!(err.contains("dashbord"), "{err}");
        assert!(err.contains("test.toml"), "{err}");
    }

    /// 0.0.0.0 is refused with a message naming the key and the env variable.
    #[test]
    fn public_bind_needs_acknowledgement() {
        let text = format!("[server]\nlisten = \"0.0.0.0:8443\"\n{MINIMAL}");
        let err = error_text(&text, &[]);
        assert!(err.contains("allow_public_bind"), "{err}");
        assert!(err.contains("FRONTDOOR_SERVER_ALLOW_PUBLIC_BIND"), "{err}");
        assert!(err.contains("server.listen"), "{err}");
        let cfg = load(&text, &[("FRONTDOOR_SERVER_ALLOW_PUBLIC_BIND", "true")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(cfg.server.allow_public_bind);
        let text6 = format!("[server]\nlisten = \"[::]:8443\"\n{MINIMAL}");
        assert!(error_text(&text6, &[]).contains("allow_public_bind"));
    }

    /// FRONTDOOR_UI_DASHBOARD=true turns a hidden UI on, typed as a bool.
    #[test]
    fn env_overrides_scalars() {
        let cfg = load(
            MINIMAL,
            &[
                ("FRONTDOOR_UI_DASHBOARD", "true"),
                ("FRONTDOOR_LIMITS_MAX_BODY_BYTES", "1000"),
                ("FRONTDOOR_AUTH_BASIC_REALM", "agent"),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(cfg.ui.dashboard);
        assert_eq!(cfg.max_body_bytes, 1000);
        let lists = load(
            MINIMAL,
            &[
                ("FRONTDOOR_SERVER_HOSTS", "a.example, B.example"),
                ("FRONTDOOR_SERVER_TRUSTED_PROXIES", "10.0.0.0/8"),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            lists.server.hosts,
            vec!["a.example".to_string(), "b.example".to_string()]
        );
        assert_eq!(lists.server.trusted_proxies.len(), 1);
        assert_eq!(cfg.basic.map(|b| b.realm), Some("agent".to_string()));
        let err = error_text(MINIMAL, &[("FRONTDOOR_UI_DASHBORD", "true")]);
        assert!(err.contains("dashbord"), "{err}");
    }

    /// `${VAR}` and `file:` references resolve; a missing one names the key.
    #[test]
    fn references_resolve() {
        let text = MINIMAL.replace("\"config/htpasswd\"", "\"${HT}\"");
        let cfg = load(&text, &[("HT", "/etc/ht")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cfg.basic.map(|b| b.htpasswd),
            Some(PathBuf::from("/etc/ht"))
        );
        let err = error_text(&text, &[]);
        assert!(
            err.contains("auth.basic.htpasswd") && err.contains("HT"),
            "{err}"
        );
        let text = MINIMAL.replace("\"config/htpasswd\"", "\"file:/nonexistent/x\"");
        let err = error_text(&text, &[]);
        assert!(err.contains("/nonexistent/x"), "{err}");
    }

    /// Routes that cannot be enforced as written are refused.
    #[test]
    fn bad_routes_are_refused() {
        for (route, needle) in [
            ("path = \"/api/../admin\"", "normal form"),
            ("path = \"/api//x\"", "normal form"),
            ("path = \"api\"", "route[2].path"),
            ("path = \"/x\"\nauth = \"oidc\"", "oidc"),
            ("path = \"/x\"\nauth = [\"none\", \"basic\"]", "none"),
            ("path = \"/x\"\nmethods = []", "methods"),
            ("path = \"/x\"\nmethods = [\"G T\"]", "not a method"),
        ] {
            let text = format!("{MINIMAL}\n[[route]]\n{route}\n");
            let err = error_text(&text, &[]);
            assert!(err.contains(needle), "{route}: {err}");
        }
        let text = MINIMAL.replace("[auth.basic]\n        htpasswd = \"config/htpasswd\"", "");
        assert!(error_text(&text, &[]).contains("[auth.basic] is not configured"));
    }

    /// Values that would silently weaken or break the front door are refused.
    #[test]
    fn risky_server_values_are_refused() {
        for (server, key) in [
            ("hosts = [\"agent.example.com:443\"]", "server.hosts[0]"),
            (
                "trusted_proxies = [\"10.0.0.1/0\"]",
                "server.trusted_proxies[0]",
            ),
            ("max_header_bytes = 4096", "server.max_header_bytes"),
            ("max_connections = 0", "server.max_connections"),
        ] {
            let text = format!("[server]\n{server}\n{MINIMAL}");
            let err = error_text(&text, &[]);
            assert!(err.contains(key), "{server}: {err}");
        }
        let ok = format!("[server]\nhosts = [\"[::1]\", \"Agent.Example.com\"]\n{MINIMAL}");
        assert!(load(&ok, &[]).is_ok());
    }

    /// `[tls.acme]`: defaults, the staging switch, env overrides, and every bad value named.
    #[test]
    fn acme_settings() {
        let base = MINIMAL.replace("self_signed = true", "");
        let with = |acme: &str| format!("{base}\n[tls.acme]\n{acme}\n");
        let cfg = load(
            &with("domains = [\"Agent.Example.com\", \"agent.example.com\"]\ncontact = \"ops@example.com\""),
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let TlsSettings::Acme(acme) = &cfg.tls else {
            panic!("not ACME: {:?}", cfg.tls)
        };
        assert_eq!(acme.domains, vec!["agent.example.com".to_string()]);
        assert_eq!(acme.contact.as_deref(), Some("mailto:ops@example.com"));
        assert_eq!(acme.directory, LETS_ENCRYPT_PRODUCTION);
        assert_eq!(acme.challenge, AcmeChallenge::TlsAlpn01);
        assert_eq!(acme.cache_dir, PathBuf::from("certs/acme"));
        let staging = load(&with("domains = [\"a.example.com\"]\nstaging = true"), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&staging.tls, TlsSettings::Acme(a) if a.directory == LETS_ENCRYPT_STAGING)
        );
        let from_env = load(
            &with(""),
            &[("FRONTDOOR_TLS_ACME_DOMAINS", "a.example.com, b.example.com")],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&from_env.tls, TlsSettings::Acme(a) if a.domains.len() == 2));

        for (acme, key, words) in [
            ("", "tls.acme.domains", "list the names"),
            (
                "domains = [\"*.example.com\"]",
                "tls.acme.domains",
                "DNS-01",
            ),
            (
                "domains = [\"203.0.113.7\"]",
                "tls.acme.domains",
                "IP addresses",
            ),
            ("domains = [\"localhost\"]", "tls.acme.domains", "full name"),
            (
                "domains = [\"a_b.example.com\"]",
                "tls.acme.domains",
                "not a valid DNS label",
            ),
            (
                "domains = [\"a.example.com\"]\ncontact = \"nobody\"",
                "tls.acme.contact",
                "email",
            ),
            (
                "domains = [\"a.example.com\"]\ndirectory = \"http://ca.example/dir\"",
                "tls.acme.directory",
                "https://",
            ),
            (
                "domains = [\"a.example.com\"]\ndirectory = \"https://ca.example/dir\"\nstaging = true",
                "tls.acme.staging",
                "remove",
            ),
            (
                "domains = [\"a.example.com\"]\nchallenge = \"dns-01\"",
                "tls.acme.challenge",
                "not supported",
            ),
            (
                "domains = [\"a.example.com\"]\nchallenge = \"http-01\"",
                "tls.acme.challenge",
                "http_listen",
            ),
            (
                "domains = [\"a.example.com\"]\nemail = \"x@example.com\"",
                "email",
                "unknown field",
            ),
        ] {
            let err = error_text(&with(acme), &[]);
            assert!(err.contains(key) && err.contains(words), "{acme}: {err}");
        }
        let both = format!("{MINIMAL}\n[tls.acme]\ndomains = [\"a.example.com\"]\n");
        assert!(error_text(&both, &[]).contains("cannot be combined"));
        let http01 = format!(
            "[server]\nhttp_listen = \"127.0.0.1:8080\"\n{}",
            with("domains = [\"a.example.com\"]\nchallenge = \"http-01\"")
        );
        assert!(load(&http01, &[]).is_ok());
    }

    /// `[auth.oidc]` and `[session]`: defaults, references for secrets, and bad values named.
    #[test]
    fn oidc_settings() {
        const OIDC: &str = r#"
            [auth.oidc]
            issuer = "https://id.example.com"
            client_id = "frontdoor"
            client_secret = "${SECRET}"
            redirect_url = "https://agent.example.com/_frontdoor/callback"
            [session]
            cookie_key = "${KEY}"
            lifetime = "8h"
            [[route]]
            path = "/app"
            auth = ["oidc", "basic"]
            allow_groups = ["admins"]
        "#;
        let env = [
            ("SECRET", "s3cret"),
            ("KEY", "0123456789abcdef0123456789abcdef"),
        ];
        let text = format!("{MINIMAL}{OIDC}");
        let cfg = load(&text, &env).unwrap_or_else(|e| panic!("{e}"));
        let oidc = cfg.oidc.clone().unwrap_or_else(|| panic!("no oidc"));
        assert_eq!(oidc.scopes, vec!["openid", "email", "profile"]);
        assert_eq!(oidc.groups_claim, "groups");
        assert_eq!(oidc.audience, "frontdoor");
        assert_eq!(oidc.redirect_path, "/_frontdoor/callback");
        assert_eq!(oidc.client_secret, "s3cret");
        let session = cfg.session.clone().unwrap_or_else(|| panic!("no session"));
        assert_eq!(session.lifetime, Duration::from_secs(8 * 3600));
        assert_eq!(session.refresh_interval, Duration::from_secs(3600));
        assert_eq!(
            cfg.routes[2].auth,
            vec![AuthMethod::Oidc, AuthMethod::Basic]
        );
        assert_eq!(cfg.routes[2].access.groups, vec!["admins".to_string()]);

        let literal = text.replace("\"${SECRET}\"", "\"s3cret\"");
        let err = error_text(&literal, &env);
        assert!(
            err.contains("auth.oidc.client_secret") && err.contains("reference"),
            "{err}"
        );
        let literal_key = text.replace("\"${KEY}\"", "\"0123456789abcdef0123456789abcdef\"");
        assert!(error_text(&literal_key, &env).contains("session.cookie_key"));
        let literal_previous = text.replace(
            "lifetime = \"8h\"",
            "lifetime = \"8h\"\nprevious_keys = [\"0123456789abcdef0123456789abcdef-old\"]",
        );
        assert!(error_text(&literal_previous, &env).contains("session.previous_keys"));
        // An environment override is a reference too.
        let overridden = load(
            &text.replace("client_secret = \"${SECRET}\"", ""),
            &[
                env[0],
                env[1],
                ("FRONTDOOR_AUTH_OIDC_CLIENT_SECRET", "from-env"),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            overridden.oidc.map(|o| o.client_secret).as_deref(),
            Some("from-env")
        );

        for (from, to, key) in [
            (
                "https://id.example.com",
                "http://id.example.com",
                "auth.oidc.issuer",
            ),
            (
                "https://agent.example.com/_frontdoor/callback",
                "https://agent.example.com/callback",
                "auth.oidc.redirect_url",
            ),
            (
                "https://agent.example.com/_frontdoor/callback",
                "http://agent.example.com/_frontdoor/callback",
                "auth.oidc.redirect_url",
            ),
            (
                "lifetime = \"8h\"",
                "lifetime = \"8 weeks\"",
                "session.lifetime",
            ),
            ("lifetime = \"8h\"", "lifetime = 0", "session.lifetime"),
            ("client_id = \"frontdoor\"", "", "auth.oidc.client_id"),
        ] {
            let bad = text.replace(from, to);
            let err = error_text(&bad, &env);
            assert!(err.contains(key), "{to}: {err}");
        }
        let loopback = text.replace("https://id.example.com", "http://127.0.0.1:9000");
        assert!(load(&loopback, &env).is_ok(), "http issuer on loopback");
        let short_key = error_text(&text, &[env[0], ("KEY", "short")]);
        assert!(
            short_key.contains("session.cookie_key") && short_key.contains("32"),
            "{short_key}"
        );
        // "oidc" needs both sections; allow rules need an OIDC method.
        let no_session = text
            .replace("[session]", "[ui]")
            .replace("cookie_key = \"${KEY}\"", "")
            .replace("lifetime = \"8h\"", "");
        assert!(error_text(&no_session, &env).contains("[session]"));
        let rules_on_basic = text.replace("auth = [\"oidc\", \"basic\"]", "auth = [\"basic\"]");
        assert!(error_text(&rules_on_basic, &env).contains("allow_emails"));
    }

    /// A deny route needs nothing else and refuses auth or methods beside it.
    #[test]
    fn deny_routes() {
        let text = format!("{MINIMAL}\n[[route]]\npath = \"/api/jobs/secret\"\ndeny = true\n");
        let cfg = load(&text, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(cfg.routes[2].deny);
        let text = format!("{MINIMAL}\n[[route]]\npath = \"/x\"\ndeny = true\nauth = \"none\"\n");
        assert!(error_text(&text, &[]).contains("route[2].deny"));
    }

    /// Routes pick named upstreams; an unknown name, or no default for a route that names
    /// none, is refused.
    #[test]
    fn named_upstreams() {
        let text = format!(
            "{MINIMAL}\n[upstreams.dashboard]\nurl = \"http://127.0.0.1:3000\"\n[[route]]\npath = \"/ui\"\nupstream = \"dashboard\"\n"
        );
        let cfg = load(&text, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.upstreams.len(), 2);
        assert_eq!(cfg.routes[2].upstream, 1);
        assert_eq!(cfg.routes[0].upstream, 0);
        let bad = format!("{MINIMAL}\n[[route]]\npath = \"/ui\"\nupstream = \"nope\"\n");
        assert!(error_text(&bad, &[]).contains("route[2].upstream"));
        let no_default = text.replace("[upstream]\n        url = \"http://127.0.0.1:8000\"", "");
        assert!(error_text(&no_default, &[]).contains("route[0].upstream"));
    }

    /// The upstream must be a bare http:// origin.
    #[test]
    fn upstream_is_checked() {
        for bad in ["https://x:1", "http://x:1/base", "ftp://x", "not a url"] {
            let text = MINIMAL.replace("http://127.0.0.1:8000", bad);
            assert!(error_text(&text, &[]).contains("upstream.url"), "{bad}");
        }
    }
}
