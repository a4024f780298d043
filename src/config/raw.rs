//! The config file as serde sees it: every section and key a user may write, nothing more.
//!
//! These structs are only the first of two steps ("parse, don't validate"): `deny_unknown_fields`
//! turns a typo into an error that names the key, and `super::validate` turns these into the
//! domain types the server uses.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub tls: RawTls,
    pub upstream: Option<RawUpstream>,
    /// Named upstreams for routes that set `upstream = "NAME"`.
    #[serde(default)]
    pub upstreams: std::collections::BTreeMap<String, RawUpstream>,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub ui: RawUi,
    #[serde(default)]
    pub auth: RawAuth,
    pub admin: Option<RawAdmin>,
    pub forward_auth: Option<RawForwardAuth>,
    pub session: Option<RawSession>,
    #[serde(default, rename = "route")]
    pub routes: Vec<RawRoute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub allow_public_bind: Option<bool>,
    pub http_listen: Option<String>,
    pub hosts: Option<Vec<String>>,
    pub trusted_proxies: Option<Vec<String>>,
    pub header_timeout_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub max_header_bytes: Option<usize>,
    pub body_timeout_secs: Option<u64>,
    pub min_body_rate_bytes_per_sec: Option<u64>,
    pub send_timeout_secs: Option<u64>,
    pub tunnel_idle_timeout_secs: Option<u64>,
    pub max_tunnels: Option<usize>,
    pub max_connections: Option<usize>,
    pub shutdown_grace_secs: Option<u64>,
    pub pid_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub listen: Option<String>,
}

/// `[forward_auth]`: frontdoor as the authentication server of nginx, Caddy or Traefik.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForwardAuth {
    pub listen: Option<String>,
    pub allow_public_bind: Option<bool>,
    pub trusted_proxies: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: Option<String>,
    pub key: Option<String>,
    pub self_signed: Option<bool>,
    pub self_signed_hosts: Option<Vec<String>>,
    pub acme: Option<RawAcme>,
}

/// `[tls.acme]`: certificates from an ACME CA (Let's Encrypt by default).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAcme {
    pub domains: Option<Vec<String>>,
    pub contact: Option<String>,
    pub directory: Option<String>,
    pub staging: Option<bool>,
    pub cache_dir: Option<String>,
    pub challenge: Option<String>,
    pub ca_roots: Option<String>,
    pub certificate_per_domain: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub url: String,
    pub connect_timeout_secs: Option<u64>,
    pub response_timeout_secs: Option<u64>,
    pub host_header: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    #[serde(default, deserialize_with = "byte_size")]
    pub max_body_bytes: Option<u64>,
}

/// A size in bytes: an integer, or a string with nginx's units (`"512k"`, `"50m"`, `"1g"`,
/// powers of 1024), since people paste `client_max_body_size` values from nginx.
fn byte_size<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    let Some(size) = Option::<Size>::deserialize(deserializer)? else {
        return Ok(None);
    };
    match size {
        Size::Bytes(n) => Ok(Some(n)),
        Size::Text(text) => parse_byte_size(&text).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a size: write bytes (1048576) or nginx units (\"512k\", \"50m\", \"1g\")"
            ))
        }),
    }
}

/// `"50m"` -> 52428800; `"1024"` -> 1024; units k, m, g in either case.
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, multiplier) = match text.char_indices().last()? {
        (i, 'k' | 'K') => (text.get(..i)?, 1u64 << 10),
        (i, 'm' | 'M') => (text.get(..i)?, 1u64 << 20),
        (i, 'g' | 'G') => (text.get(..i)?, 1u64 << 30),
        _ => (text, 1),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(multiplier)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUi {
    pub dashboard: Option<bool>,
    pub workspace: Option<bool>,
    pub docs: Option<bool>,
    pub openapi: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub basic: Option<RawBasic>,
    pub lockout: Option<RawLockout>,
    pub oidc: Option<RawOidc>,
    pub api_keys: Option<RawApiKeys>,
    pub login: Option<RawLogin>,
}

/// `[auth.login]`: a sign-in page for the htpasswd users.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogin {
    /// The second factors' file (`frontdoor totp add USER`).
    pub totp: Option<String>,
    /// Every user must have a second factor.
    pub totp_required: Option<bool>,
}

/// `[auth.api_keys]`: keys for programs, managed with `frontdoor key`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApiKeys {
    pub file: String,
}

/// `[auth.oidc]`: sign-in with an OpenID provider.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidc {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub redirect_url: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub groups_claim: Option<String>,
    pub user_claim: Option<String>,
    pub audience: Option<String>,
    pub post_logout_redirect_url: Option<String>,
}

/// `[session]`: the sealed cookie that holds a signed-in person's session.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    pub cookie_key: Option<String>,
    pub previous_keys: Option<Vec<String>>,
    pub lifetime: Option<toml::Value>,
    pub refresh_interval: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLockout {
    pub max_retries: Option<usize>,
    pub max_retries_per_ip: Option<usize>,
    pub find_time_secs: Option<u64>,
    pub ban_time_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBasic {
    pub htpasswd: String,
    pub realm: Option<String>,
}

/// `auth = "none"` or `auth = ["basic", "oidc"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawAuthList {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub path: String,
    pub exact: Option<bool>,
    pub methods: Option<Vec<String>>,
    pub auth: Option<RawAuthList>,
    #[serde(default, deserialize_with = "byte_size")]
    pub max_body_bytes: Option<u64>,
    pub forward_authorization: Option<bool>,
    pub deny: Option<bool>,
    pub upstream: Option<String>,
    pub allow_emails: Option<Vec<String>>,
    pub allow_email_domains: Option<Vec<String>>,
    pub allow_groups: Option<Vec<String>>,
    /// `webhook = { kind = "github", secret = "${SECRET}" }` with `auth = ["webhook"]`.
    pub webhook: Option<RawWebhook>,
    /// `"60/min"`, `"10/s"`, `"1000/h"`.
    pub rate_limit: Option<String>,
    /// How many requests may come at once above the steady rate (default: the count).
    pub burst: Option<u32>,
}

/// A route's webhook signature check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub kind: String,
    pub secret: Option<String>,
    pub secrets: Option<Vec<String>>,
    pub header: Option<String>,
    pub encoding: Option<String>,
    pub prefix: Option<String>,
    pub tolerance_secs: Option<u64>,
}
