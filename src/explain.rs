//! `frontdoor explain`: what the policy decides for one request, and why, in words. It runs
//! the same code as `serve` (`policy::target::parse_target` with the host check, then
//! `RouteTable::decide`), so the two cannot disagree; `tests/path_confusion.rs` holds them
//! to that on every row of its table.

use http::{HeaderMap, HeaderValue, Method, Uri, Version};

use crate::config::{AuthMethod, Config};
use crate::policy::routes::Decision;
use crate::policy::target::parse_target;
use crate::responses::Refusal;

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The status frontdoor answers with itself, or None when the request is forwarded
    /// (once authenticated, on a route that needs a login).
    pub status: Option<u16>,
    /// The decision in words, one `label: value` line per step.
    pub text: String,
}

/// Why `explain` could not even ask the policy.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("`{0}` is not an HTTP method")]
    Method(String),
    #[error("`{0}` is not a request target (answered 400)")]
    Target(String),
    #[error("`{0}` is not a host name")]
    Host(String),
}

/// Explains `METHOD TARGET` sent with `Host: host` (by default the first of `server.hosts`,
/// or the target's own authority for an absolute-form target, or `localhost`).
pub fn explain(
    config: &Config,
    method: &str,
    target: &str,
    host: Option<&str>,
) -> Result<Explanation, ExplainError> {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| ExplainError::Method(method.to_string()))?;
    let uri: Uri = target
        .parse()
        .map_err(|_| ExplainError::Target(target.to_string()))?;
    let host = host
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.as_str().to_string()))
        .or_else(|| config.server.hosts.first().cloned())
        .unwrap_or_else(|| "localhost".to_string());
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::HOST,
        HeaderValue::from_str(&host).map_err(|_| ExplainError::Host(host.clone()))?,
    );
    let mut out = format!("request:    {method} {target}\n");
    let refused = |out: String, refusal: Refusal, why: &str| {
        let status = refusal.status();
        Explanation {
            status: Some(status.as_u16()),
            text: format!(
                "{out}decision:   {} {}{why}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
        }
    };
    let parsed = match parse_target(
        &method,
        &uri,
        Version::HTTP_11,
        &headers,
        &config.server.hosts,
    ) {
        Ok(t) => t,
        Err(e) => {
            let why = format!(" ({e})");
            return Ok(refused(out, e.into(), &why));
        }
    };
    out.push_str(&format!("normalized: {}\n", parsed.path));
    let explanation = match config.routes.decide(&method, &parsed.path) {
        Decision::Reserved => Explanation {
            status: Some(answered_by_frontdoor(config, &method, &parsed.path)),
            text: format!(
                "{out}decision:   answered by frontdoor itself (reserved path), never forwarded"
            ),
        },
        Decision::Hidden(area) => refused(
            out,
            Refusal::HiddenPath,
            &format!(
                ": hidden UI path ({area:?}); turn it on in [ui] to expose it (it still needs a route's login)"
            ),
        ),
        Decision::Unlisted => refused(out, Refusal::UnlistedPath, ": no route covers this path"),
        Decision::MethodNotAllowed {
            index,
            route,
            allow,
        } => {
            let names: Vec<&str> = allow.iter().map(Method::as_str).collect();
            let why = format!(" (Allow: {})", names.join(", "));
            out.push_str(&format!("route:      #{index} {}\n", route.path));
            refused(out, Refusal::MethodNotAllowed { allow }, &why)
        }
        Decision::Denied { index, route } => {
            out.push_str(&format!("route:      #{index} {} (deny)\n", route.path));
            refused(out, Refusal::DeniedPath, ": the route denies this path")
        }
        Decision::Allowed { index, route } => {
            let auth = if route.is_public() {
                "none (public)".to_string()
            } else {
                route
                    .auth
                    .iter()
                    .map(|m| auth_name(*m))
                    .collect::<Vec<_>>()
                    .join(" or ")
            };
            let cap = route.max_body_bytes.unwrap_or(config.max_body_bytes);
            Explanation {
                status: None,
                text: format!(
                    "{out}route:      #{index} {}{}\nauth:       {auth}\nbody cap:   {cap} bytes\ndecision:   forwarded to {}{}{}",
                    route.path,
                    if route.exact { " (exact)" } else { "" },
                    config
                        .upstreams
                        .get(route.upstream)
                        .map_or("?", |u| u.url.trim_end_matches('/')),
                    parsed.path,
                    if route.is_public() {
                        ""
                    } else {
                        " once authenticated"
                    },
                ),
            }
        }
    };
    Ok(explanation)
}

/// What `endpoints` answers for a reserved path without looking at sessions: 200 for
/// health, 404 when nothing is served there.
fn answered_by_frontdoor(config: &Config, method: &Method, path: &str) -> u16 {
    if path == crate::endpoints::HEALTH {
        return 200;
    }
    if config.oidc.is_none() {
        return 404;
    }
    if method != Method::GET && method != Method::HEAD {
        return 405;
    }
    200
}

fn auth_name(method: AuthMethod) -> &'static str {
    match method {
        AuthMethod::Basic => "basic",
        AuthMethod::Oidc => "oidc",
        AuthMethod::OidcBearer => "oidcbearer",
        AuthMethod::ApiKey => "api_key",
        AuthMethod::Webhook => "webhook",
        AuthMethod::Login => "login",
    }
}
