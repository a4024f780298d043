//! `[auth.basic]`, `[auth.oidc]`, `[session]` and `[auth.lockout]`: the ways in, and the
//! limits on guessing.

use super::raw::{RawBasic, RawLockout, RawOidc, RawSession};
use super::values::{at_least_one, duration_value, positive_secs};
use super::{BasicSettings, ConfigError, OidcSettings, SessionSettings, UserClaim};
use crate::limits::lockout::LockoutSettings;

/// Validates `[auth.basic]`.
pub(super) fn basic_settings(
    raw: Option<RawBasic>,
    file: &str,
) -> Result<Option<BasicSettings>, ConfigError> {
    let invalid = |key: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        problem,
    };
    let basic = match raw {
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

    Ok(basic)
}

/// Validates `[auth.lockout]` (every key has a default).
pub(super) fn lockout_settings(
    raw: Option<RawLockout>,
    file: &str,
) -> Result<LockoutSettings, ConfigError> {
    let invalid = |key: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        problem,
    };
    let raw_lockout = raw.unwrap_or_default();
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

    Ok(lockout)
}

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

pub(super) fn oidc_settings(raw: RawOidc, file: &str) -> Result<OidcSettings, ConfigError> {
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

pub(super) fn session_settings(
    raw: RawSession,
    file: &str,
) -> Result<SessionSettings, ConfigError> {
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

/// `[auth.login]`: needs the users of `[auth.basic]` and the session keys of `[session]`.
pub(super) fn login_settings(
    raw: super::raw::RawLogin,
    basic: bool,
    session: bool,
    file: &str,
) -> Result<super::LoginSettings, ConfigError> {
    let invalid = |k: &str, problem: &str| ConfigError::Invalid {
        file: file.to_string(),
        key: k.to_string(),
        problem: problem.to_string(),
    };
    if !basic {
        return Err(invalid(
            "auth.login",
            "signs in the users of [auth.basic], which is not configured: add \
             [auth.basic] htpasswd = \"htpasswd\"",
        ));
    }
    if !session {
        return Err(invalid(
            "auth.login",
            "keeps people signed in with the [session] cookie, which is not configured: add \
             [session] cookie_key = \"${FRONTDOOR_COOKIE_KEY}\" (32+ random bytes, \
             `openssl rand -base64 48`)",
        ));
    }
    let totp_required = raw.totp_required.unwrap_or(false);
    if totp_required && raw.totp.is_none() {
        return Err(invalid(
            "auth.login.totp_required",
            "needs the second factors' file: add totp = \"totp\" and enrol users with \
             `frontdoor totp add USER`",
        ));
    }
    Ok(super::LoginSettings {
        totp: raw.totp.filter(|t| !t.is_empty()).map(Into::into),
        totp_required,
    })
}
