//! Who is asking: the authentication step of a request, and the identity it yields.

pub mod api_keys;
pub mod basic;
pub mod htpasswd;
pub mod login;
pub mod oidc;
pub mod passwd;
pub mod webhook;

use std::net::IpAddr;

use http::HeaderMap;

use crate::config::{AuthMethod, Route};
use crate::limits::lockout::{BanReason, Lockout};
use crate::metrics::Metrics;
use crate::responses::Refusal;
use api_keys::{ApiKeys, KeyVerdict};
use basic::Verification;
use basic::{BasicAuth, parse_basic_header};

/// A caller that proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub method: AuthMethod,
    /// From an OpenID provider: the verified email and the groups, for the upstream.
    pub email: Option<String>,
    pub groups: Vec<String>,
}

impl Identity {
    fn api_key(name: String) -> Identity {
        Identity {
            user: name,
            method: AuthMethod::ApiKey,
            email: None,
            groups: Vec::new(),
        }
    }

    fn login(user: String) -> Identity {
        Identity {
            user,
            method: AuthMethod::Login,
            email: None,
            groups: Vec::new(),
        }
    }

    fn basic(user: String) -> Identity {
        Identity {
            user,
            method: AuthMethod::Basic,
            email: None,
            groups: Vec::new(),
        }
    }
}

/// What the authentication step needs to know about the request.
pub struct RequestFacts<'a> {
    pub method: &'a http::Method,
    pub headers: &'a HeaderMap,
    /// The client's address (from a trusted proxy's X-Forwarded-For where one applies):
    /// what lockouts count per address.
    pub client: IpAddr,
    /// The normalized path: what an API key's scope is compared with.
    pub path: &'a str,
    /// The normalized path and query: where a login started here returns to.
    pub return_to: &'a str,
    /// The validated `host[:port]` the request was sent to.
    pub host: &'a str,
}

/// The ways in that the running config offers, and the state they share.
#[derive(Clone, Copy)]
pub struct Authenticators<'a> {
    /// The users of `[auth.basic]`.
    pub basic: Option<&'a BasicAuth>,
    /// The keys of `[auth.api_keys]`.
    pub api_keys: Option<&'a ApiKeys>,
    /// The OpenID provider of `[auth.oidc]`.
    pub oidc: Option<&'a oidc::Oidc>,
    /// The sign-in page of `[auth.login]`.
    pub login: Option<&'a login::Login>,
    /// Failure counts and bans.
    pub lockout: &'a Lockout,
    pub metrics: &'a Metrics,
}

/// The authentication step. Runs after the route decision, only for routes that need it.
///
/// Returns `Ok(None)` for a public route, `Ok(Some(identity))` when one of the route's
/// methods accepted the request, and the refusal otherwise: 401 with a challenge, a 302 to
/// the provider for a browser, 403 for an identity the route's rules leave out, or 429
/// while the user or the client address is banned (checked before any password is).
/// Cookies to set on the answer, whatever it is, are added to `set_cookies`.
pub async fn authenticate(
    route: &Route,
    facts: &RequestFacts<'_>,
    with: &Authenticators<'_>,
    set_cookies: &mut Vec<String>,
) -> Result<Option<Identity>, Refusal> {
    let Authenticators {
        basic,
        api_keys,
        oidc,
        login,
        lockout,
        metrics,
    } = *with;
    let (headers, client) = (facts.headers, facts.client);
    // A webhook route proves nothing here: its signature covers the body, which the
    // handler reads and checks before anything is forwarded.
    if route.is_public() || route.webhook.is_some() {
        return Ok(None);
    }
    let mut realm = "frontdoor".to_string();
    for method in &route.auth {
        match method {
            // Checked by the handler once the body is read (it is what is signed).
            AuthMethod::Webhook => {}
            AuthMethod::Login => {
                let Some(login) = login else { continue };
                match login.check_session(headers, basic) {
                    login::LoginSession::Valid {
                        user,
                        set_cookies: renewed,
                    } => {
                        set_cookies.extend(renewed);
                        return Ok(Some(Identity::login(user)));
                    }
                    login::LoginSession::Ended { set_cookies: clear } => {
                        set_cookies.extend(clear);
                    }
                    login::LoginSession::Absent => {}
                }
            }
            AuthMethod::ApiKey => {
                let Some(keys) = api_keys else { continue };
                let Some(presented) = presented_api_key(headers) else {
                    continue;
                };
                return check_api_key(keys, presented, route, facts, lockout, metrics).map(Some);
            }
            AuthMethod::OidcBearer => {
                let (Some(oidc), Some(token)) = (oidc, bearer_token(headers)) else {
                    continue;
                };
                // An API key sent as a bearer token is the api_key method's to check.
                if token.starts_with(api_keys::format::PREFIX)
                    && route.auth.contains(&AuthMethod::ApiKey)
                {
                    continue;
                }
                return match oidc.verify_bearer(token, oidc::now_unix()).await {
                    Ok(identity) => admit(route, oidc, identity, AuthMethod::OidcBearer).map(Some),
                    Err(e) => {
                        let reason: String = e.to_string().chars().take(120).collect();
                        tracing::warn!(client = %client, reason = %reason, "bearer token refused");
                        Err(Refusal::NotSignedIn)
                    }
                };
            }
            AuthMethod::Oidc => {
                let Some(oidc) = oidc else { continue };
                match oidc.check_session(headers).await {
                    oidc::SessionCheck::Valid {
                        identity,
                        set_cookies: renewed,
                    } => {
                        set_cookies.extend(renewed);
                        return admit(route, oidc, identity, AuthMethod::Oidc).map(Some);
                    }
                    oidc::SessionCheck::Ended { set_cookies: clear } => set_cookies.extend(clear),
                    oidc::SessionCheck::Absent => {}
                }
            }
            AuthMethod::Basic => {
                // Validation guarantees [auth.basic] exists for a route that names it.
                let Some(basic) = basic else { continue };
                realm.clone_from(&basic.realm);
                // More than one Authorization header is ambiguous: treat as none.
                let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
                let (Some(value), None) = (values.next(), values.next()) else {
                    continue;
                };
                let Some(credentials) = parse_basic_header(value.as_bytes()) else {
                    continue;
                };
                if check_password(basic, &credentials, client, lockout, metrics, true).await? {
                    // A user with a second factor signs in through the page: a password
                    // alone must not open what the page protects with a code.
                    if let Some(login) = login
                        && login.requires_code(&credentials.user)
                    {
                        tracing::warn!(
                            user = %loggable_user(&credentials.user),
                            client = %client,
                            "Basic login refused: the user has (or needs) a second factor; sign in through the page"
                        );
                        continue;
                    }
                    return Ok(Some(Identity::basic(credentials.user)));
                }
            }
        }
    }
    // Nobody proved who they are. A browser on a route with the sign-in page goes there
    // (it offers the provider too), on one with OIDC login to the provider; everything else
    // gets a 401 (a Basic challenge where Basic is accepted).
    if login.is_some()
        && route.auth.contains(&AuthMethod::Login)
        && oidc::is_browser_navigation(facts.method, headers)
    {
        let rd: String = url::form_urlencoded::byte_serialize(
            oidc::safe_return_target(facts.return_to).as_bytes(),
        )
        .collect();
        return Err(Refusal::SignIn {
            location: format!("{}?rd={rd}", login::LOGIN_PATH),
        });
    }
    if let Some(oidc) = oidc
        && route.auth.contains(&AuthMethod::Oidc)
        && oidc::is_browser_navigation(facts.method, headers)
    {
        let Some((location, cookies)) = oidc.start_login(facts.host, facts.return_to, headers)
        else {
            return Err(Refusal::NotSignedIn);
        };
        set_cookies.extend(cookies);
        return Err(Refusal::SignIn { location });
    }
    // A route with the sign-in page never sends a Basic challenge: a page's fetch would
    // make the browser open its password dialog. Scripts send Basic credentials unasked.
    if route.auth.contains(&AuthMethod::Basic) && !route.auth.contains(&AuthMethod::Login) {
        Err(Refusal::BadCredentials { realm })
    } else if route.auth.contains(&AuthMethod::ApiKey) {
        // No key (or a bearer token that is not one) where a key would do: the answer an
        // API client expects, `Bearer error="invalid_token"`, never a sign-in page.
        Err(Refusal::InvalidApiKey)
    } else {
        Err(Refusal::NotSignedIn)
    }
}

/// The API key a request presents: `X-API-Key: KEY`, or `Authorization: Bearer fdk_...`
/// (exactly one of each header; an Authorization of another kind is not a key).
fn presented_api_key(headers: &HeaderMap) -> Option<&str> {
    single_header(headers, X_API_KEY)
        .or_else(|| bearer_token(headers).filter(|t| t.starts_with(api_keys::format::PREFIX)))
}

/// The value of a header sent exactly once, as trimmed text; None when it is missing,
/// repeated (ambiguous) or not text.
pub fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok().map(str::trim),
        _ => None,
    }
}

/// The `X-API-Key` request header.
pub const X_API_KEY: &str = "x-api-key";

/// Checks a presented key: 429 while the address is banned (before any lookup), 401 for a
/// key that is not in force (counted toward the address's ban), 403 outside its scope.
fn check_api_key(
    keys: &ApiKeys,
    presented: &str,
    route: &Route,
    facts: &RequestFacts<'_>,
    lockout: &Lockout,
    metrics: &Metrics,
) -> Result<Identity, Refusal> {
    let client = facts.client;
    if let Err(banned) = lockout.check_address(client) {
        return Err(refused("(api key)", client, banned));
    }
    let key = match keys.verify(presented, crate::clock::now_unix()) {
        KeyVerdict::Valid(key) => key,
        verdict => {
            // Never the key itself in a log line: the name when it is known.
            let (reason, name) = match &verdict {
                KeyVerdict::Expired(key) => ("expired key", key.entry.name.as_str()),
                KeyVerdict::Malformed => ("not a key (shape or checksum)", "-"),
                _ => ("unknown or revoked key", "-"),
            };
            tracing::warn!(key = %name, client = %client, reason, "api key refused");
            metrics.login_failed();
            if lockout.address_failed(client) {
                ban_started(metrics, lockout, "-", client, BanReason::ClientAddress);
            }
            return Err(Refusal::InvalidApiKey);
        }
    };
    if !key.entry.allows(facts.method, facts.path) {
        tracing::warn!(key = %key.entry.name, route = %route.path, "api key used outside its scope");
        return Err(Refusal::KeyOutOfScope);
    }
    Ok(Identity::api_key(key.entry.name.clone()))
}

/// `Authorization: Bearer TOKEN` (exactly one Authorization header).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let text = single_header(headers, http::header::AUTHORIZATION.as_str())?;
    let (scheme, token) = text.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// An OIDC identity passes when the route's allow rules include it; else 403 saying who.
fn admit(
    route: &Route,
    oidc: &oidc::Oidc,
    identity: oidc::OidcIdentity,
    method: AuthMethod,
) -> Result<Identity, Refusal> {
    if !route
        .access
        .allows(identity.email.as_deref(), &identity.groups)
    {
        let who = identity
            .email
            .clone()
            .unwrap_or_else(|| identity.sub.clone());
        tracing::warn!(user = %who, route = %route.path, "signed in, but not allowed on this route");
        return Err(Refusal::NotAllowed { who });
    }
    Ok(Identity {
        user: oidc.user_name(&identity),
        method,
        email: identity.email,
        groups: identity.groups,
    })
}

/// 32 random bytes, base64url (login states, nonces, the sign-in form's cookie); None
/// without an OS random source (then no sign-in starts).
pub(crate) fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        bytes,
    ))
}

/// A user name as it may appear in a log line: people type passwords into the name field,
/// so long names are cut.
pub fn loggable_user(user: &str) -> String {
    if user.chars().count() <= 32 {
        user.to_string()
    } else {
        user.chars().take(32).collect::<String>() + "..."
    }
}

/// Checks a user's password with the lockout around it: a ban refuses everything (the
/// right password too) before any hash; a recent success passes from the cache without
/// taking an attempt slot; anything else is an attempt that counts toward the limits while
/// its hash is computed. Ok(false): wrong (counted, logged).
/// With `clear_failures` false (the sign-in page, where a second factor may follow) a right
/// password leaves the user's failure count as it is.
pub async fn check_password(
    basic: &BasicAuth,
    credentials: &basic::BasicCredentials,
    client: IpAddr,
    lockout: &Lockout,
    metrics: &Metrics,
    clear_failures: bool,
) -> Result<bool, Refusal> {
    if let Err(banned) = lockout.check(&credentials.user, client) {
        return Err(refused(&credentials.user, client, banned));
    }
    if basic.is_cached(credentials) {
        metrics.login_cache_hit();
        if clear_failures {
            lockout.record_success(&credentials.user);
        }
        return Ok(true);
    }
    let attempt = match lockout.begin(&credentials.user, client) {
        Ok(attempt) => attempt,
        Err(banned) => return Err(refused(&credentials.user, client, banned)),
    };
    let verification = basic.verify(credentials).await;
    if verification != Verification::Rejected {
        if verification == Verification::Cached {
            metrics.login_cache_hit();
        }
        if clear_failures {
            attempt.succeeded();
        } else {
            attempt.verified_keeping_failures();
        }
        return Ok(true);
    }
    tracing::warn!(
        user = %loggable_user(&credentials.user),
        client = %client,
        reason = "bad credentials",
        "login failed"
    );
    metrics.login_failed();
    if let Some(reason) = attempt.failed() {
        ban_started(metrics, lockout, &credentials.user, client, reason);
    }
    Ok(false)
}

/// A failure started a ban: counted and logged once.
pub(crate) fn ban_started(
    metrics: &Metrics,
    lockout: &Lockout,
    user: &str,
    client: IpAddr,
    reason: BanReason,
) {
    metrics.ban_started(ban_reason(reason));
    tracing::warn!(
        user = %loggable_user(user),
        client = %client,
        reason = ban_reason(reason),
        ban_secs = lockout.settings().ban_time.as_secs(),
        "login ban started"
    );
}

/// The 429 for a banned (or, for a moment, saturated) user or address, logged once.
pub(crate) fn refused(
    user: &str,
    client: IpAddr,
    banned: crate::limits::lockout::Banned,
) -> Refusal {
    tracing::warn!(
        user = %loggable_user(user),
        client = %client,
        reason = ban_reason(banned.reason),
        "login refused: banned"
    );
    Refusal::LoginBanned {
        retry_after_secs: banned.retry_after.as_secs().max(1),
    }
}

pub(crate) fn ban_reason(reason: BanReason) -> &'static str {
    match reason {
        BanReason::User => "too many failed logins for this user",
        BanReason::ClientAddress => "too many failed logins from this address",
    }
}
