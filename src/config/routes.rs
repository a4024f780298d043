//! `[[route]]`: each route's path (in normal form), methods, logins, allow rules, body cap,
//! upstream and deny flag.

use http::Method;

use super::raw::{RawAuthList, RawRoute};
use super::{AccessRules, AuthMethod, ConfigError, Route, UpstreamSettings};
use crate::policy::normalize::normalize_path;

/// What a route may refer to: the upstreams, and which logins are configured.
pub(super) struct RouteContext<'a> {
    pub upstreams: &'a [UpstreamSettings],
    pub basic: bool,
    pub api_keys: bool,
    pub login: bool,
    pub oidc: bool,
    pub session: bool,
}

/// Validates every `[[route]]`, in config order.
pub(super) fn routes(
    raw_routes: Vec<RawRoute>,
    ctx: &RouteContext<'_>,
    file: &str,
) -> Result<Vec<Route>, ConfigError> {
    let invalid = |key: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        problem,
    };
    let upstreams = ctx.upstreams;
    let has_default = upstreams.first().is_some_and(|u| u.name == "default");
    let mut routes = Vec::new();
    for (i, r) in raw_routes.into_iter().enumerate() {
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
                    if !ctx.basic {
                        return Err(invalid(
                            &key("auth"),
                            "uses \"basic\" but [auth.basic] is not configured".to_string(),
                        ));
                    }
                    auth.push(AuthMethod::Basic);
                }
                "oidc" => {
                    if !ctx.oidc || !ctx.session {
                        return Err(invalid(
                            &key("auth"),
                            "uses \"oidc\" but [auth.oidc] and [session] are not both configured"
                                .to_string(),
                        ));
                    }
                    auth.push(AuthMethod::Oidc);
                }
                "oidc_bearer" => {
                    if !ctx.oidc {
                        return Err(invalid(
                            &key("auth"),
                            "uses \"oidc_bearer\" but [auth.oidc] is not configured".to_string(),
                        ));
                    }
                    auth.push(AuthMethod::OidcBearer);
                }
                "api_key" => {
                    if !ctx.api_keys {
                        return Err(invalid(
                            &key("auth"),
                            "uses \"api_key\" but [auth.api_keys] is not configured: add \
                             `[auth.api_keys] file = \"api-keys.toml\"` and create keys with \
                             `frontdoor key add NAME`"
                                .to_string(),
                        ));
                    }
                    auth.push(AuthMethod::ApiKey);
                }
                "login" => {
                    if !ctx.login {
                        return Err(invalid(
                            &key("auth"),
                            "uses \"login\" but [auth.login] is not configured: add \
                             [auth.login] (it signs in the users of [auth.basic])"
                                .to_string(),
                        ));
                    }
                    auth.push(AuthMethod::Login);
                }
                "webhook" => {
                    if auth_names.len() > 1 {
                        return Err(invalid(
                            &key("auth"),
                            "\"webhook\" stands alone: a signed delivery is not a login; put \
                             other callers on their own route"
                                .to_string(),
                        ));
                    }
                    if r.webhook.is_none() {
                        return Err(invalid(
                            &key("webhook"),
                            "is missing: auth = [\"webhook\"] needs webhook = { kind = \"github\", \
                             secret = \"${GITHUB_WEBHOOK_SECRET}\" } (kinds: github, stripe, \
                             slack, hmac-sha256)"
                                .to_string(),
                        ));
                    }
                    auth.push(AuthMethod::Webhook);
                }
                other => {
                    return Err(invalid(
                        &key("auth"),
                        format!(
                            "unknown or unsupported auth method `{other}` \
                             (known: none, basic, login, oidc, oidc_bearer, api_key, webhook)"
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
        let webhook = match r.webhook {
            None => None,
            Some(_) if auth != [AuthMethod::Webhook] => {
                return Err(invalid(
                    &key("webhook"),
                    "is set but auth is not [\"webhook\"]: write auth = [\"webhook\"] so \
                     deliveries are checked by their signature"
                        .to_string(),
                ));
            }
            Some(raw) => Some(std::sync::Arc::new(
                super::integrations::webhook(raw)
                    .map_err(|(sub, problem)| invalid(&key(&format!("webhook.{sub}")), problem))?,
            )),
        };
        let rate_limit = match (&r.rate_limit, r.burst) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(invalid(
                    &key("burst"),
                    "applies to a rate_limit: add rate_limit = \"60/min\" (or remove burst)"
                        .to_string(),
                ));
            }
            (Some(_), _) if deny => {
                return Err(invalid(
                    &key("rate_limit"),
                    "a deny route answers 404 to everything: it takes no rate_limit".to_string(),
                ));
            }
            (Some(text), burst) => Some(
                super::integrations::rate_limit(text, burst)
                    .map_err(|problem| invalid(&key("rate_limit"), problem))?,
            ),
        };
        routes.push(Route {
            label: path.as_str().into(),
            path,
            exact: r.exact.unwrap_or(false),
            methods,
            auth,
            // A delivery is held in memory until its signature is checked: 1 MiB unless
            // the route says more (GitHub sends up to 25 MB, Stripe and Slack far less).
            max_body_bytes: r.max_body_bytes.or(webhook
                .is_some()
                .then_some(super::integrations::DEFAULT_WEBHOOK_BODY_BYTES)),
            forward_authorization: r.forward_authorization.unwrap_or(false),
            upstream,
            access,
            deny,
            webhook,
            rate_limit,
        });
    }

    Ok(routes)
}
