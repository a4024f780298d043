//! Who is asking: the authentication step of a request, and the identity it yields.

pub mod basic;
pub mod htpasswd;
pub mod passwd;

use std::net::IpAddr;

use http::HeaderMap;

use crate::config::{AuthMethod, Route};
use crate::limits::lockout::{BanReason, Lockout};
use crate::metrics::Metrics;
use crate::responses::Denial;
use basic::Verification;
use basic::{BasicAuth, parse_basic_header};

/// A caller that proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub method: AuthMethod,
}

/// The authentication step. Runs after the route decision, only for routes that need it.
///
/// Returns `Ok(None)` for a public route, `Ok(Some(identity))` when one of the route's
/// methods accepted the request, and the denial otherwise: 401 with a challenge, or 429
/// while the user or the client address is banned (checked before any password is).
pub async fn authenticate(
    route: &Route,
    headers: &HeaderMap,
    client: IpAddr,
    basic: Option<&BasicAuth>,
    lockout: &Lockout,
    metrics: &Metrics,
) -> Result<Option<Identity>, Denial> {
    if route.is_public() {
        return Ok(None);
    }
    let mut realm = "frontdoor".to_string();
    for method in &route.auth {
        match method {
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
                // A ban refuses everything, the right password too, before any hash.
                if let Err(banned) = lockout.check(&credentials.user, client) {
                    return Err(refused(&credentials.user, client, banned));
                }
                // A recent successful verification passes without taking an attempt slot,
                // so bursts of a logged-in client never meet the in-flight limits.
                if basic.is_cached(&credentials) {
                    metrics.login_cache_hit();
                    lockout.record_success(&credentials.user);
                    return Ok(Some(Identity {
                        user: credentials.user,
                        method: AuthMethod::Basic,
                    }));
                }
                // Anything else is an attempt: it counts toward the limits while its hash is
                // computed, and as a failure if the client goes away before the outcome.
                let attempt = match lockout.begin(&credentials.user, client) {
                    Ok(attempt) => attempt,
                    Err(banned) => return Err(refused(&credentials.user, client, banned)),
                };
                let verification = basic.verify(&credentials).await;
                if verification != Verification::Rejected {
                    if verification == Verification::Cached {
                        metrics.login_cache_hit();
                    }
                    attempt.succeeded();
                    return Ok(Some(Identity {
                        user: credentials.user,
                        method: AuthMethod::Basic,
                    }));
                }
                tracing::warn!(
                    user = %loggable_user(&credentials.user),
                    client = %client,
                    reason = "bad credentials",
                    "login failed"
                );
                metrics.login_failed();
                if let Some(reason) = attempt.failed() {
                    metrics.ban_started(ban_reason(reason));
                    tracing::warn!(
                        user = %loggable_user(&credentials.user),
                        client = %client,
                        reason = ban_reason(reason),
                        ban_secs = lockout.settings().ban_time.as_secs(),
                        "login ban started"
                    );
                }
            }
        }
    }
    Err(Denial::Unauthorized { realm })
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

/// The 429 for a banned (or, for a moment, saturated) user or address, logged once.
fn refused(user: &str, client: IpAddr, banned: crate::limits::lockout::Banned) -> Denial {
    tracing::warn!(
        user = %loggable_user(user),
        client = %client,
        reason = ban_reason(banned.reason),
        "login refused: banned"
    );
    Denial::TooManyRequests {
        retry_after_secs: banned.retry_after.as_secs().max(1),
    }
}

fn ban_reason(reason: BanReason) -> &'static str {
    match reason {
        BanReason::User => "too many failed logins for this user",
        BanReason::ClientAddress => "too many failed logins from this address",
    }
}
