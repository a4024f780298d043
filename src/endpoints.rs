//! Owns frontdoor's own paths (`/_frontdoor/...`): one table from path to answer. They are
//! reached only through `Decision::Reserved` and never reach the upstream. The sign-in page,
//! the forward-auth endpoints and the API-key answers of later features are routed here.
//!
//! | path | answer |
//! | --- | --- |
//! | `/_frontdoor/health` | `{"status":"ok"}`, any method, no login |
//! | `/_frontdoor/login?rd=PATH` | the sign-in page (`[auth.login]`; POST signs in), else 302 to the OpenID provider (`[auth.oidc]`); `via=oidc` goes to the provider |
//! | `/_frontdoor/callback` (the path of `redirect_url`) | the end of an OIDC sign-in |
//! | `/_frontdoor/logout` | ends the session |
//! | `/_frontdoor/userinfo` | the session's identity as JSON, or 401 |
//! | anything else | 404, like an unlisted path |

use std::net::{IpAddr, SocketAddr};

use http::{Method, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::auth::basic::BasicAuth;
use crate::auth::login::{FormFields, MAX_FORM_BYTES, Submission};
use crate::policy::target::Target;
use crate::responses::{self, Body, Refusal};
use crate::state::AppState;

/// The path of frontdoor's health answer on the HTTPS listener.
pub const HEALTH: &str = "/_frontdoor/health";
/// The sign-in page (`[auth.login]`), or the start of an OIDC sign-in.
pub const LOGIN: &str = crate::auth::login::LOGIN_PATH;
/// Ends the session.
pub const LOGOUT: &str = "/_frontdoor/logout";
/// The session's identity.
pub const USERINFO: &str = "/_frontdoor/userinfo";
/// How long a sign-in form may take to arrive.
const FORM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a reserved path's answer may need of its request.
pub struct Facts<'a> {
    pub target: &'a Target,
    pub req: &'a http::request::Parts,
    pub peer: SocketAddr,
    /// The real client behind a trusted proxy: what lockouts count.
    pub client: IpAddr,
    /// The users of `[auth.basic]`, for the sign-in form.
    pub basic: Option<&'a BasicAuth>,
}

fn get_or_head(req: &http::request::Parts) -> Result<(), Refusal> {
    if req.method != Method::GET && req.method != Method::HEAD {
        return Err(Refusal::MethodNotAllowed {
            allow: vec![Method::GET, Method::HEAD],
        });
    }
    Ok(())
}

fn query_value(target: &Target, key: &str) -> Option<String> {
    target.query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    })
}

/// Answers a request for a reserved path (`target.path` is normalized and reserved).
pub async fn answer(
    state: &AppState,
    facts: &Facts<'_>,
    body: Option<Incoming>,
) -> Result<Response<Body>, Refusal> {
    let (target, req) = (facts.target, facts.req);
    let path = target.path.as_str();
    if path == HEALTH {
        return Ok(responses::json_ok("{\"status\":\"ok\"}\n"));
    }
    let oidc = state.oidc.as_deref();
    let login = state.login.as_deref();
    if oidc.is_none() && login.is_none() {
        return Err(Refusal::UnlistedPath);
    }
    if let Some(oidc) = oidc
        && path == oidc.settings.redirect_path
    {
        get_or_head(req)?;
        return match oidc.callback(target.query.as_deref(), &req.headers).await {
            Ok(response) => Ok(response),
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(reason = %message, client = %facts.peer.ip(), "OIDC sign-in failed");
                Err(Refusal::SignInFailed { message })
            }
        };
    }
    let return_to = query_value(target, "rd").unwrap_or_else(|| "/".to_string());
    // "Sign in with PROVIDER" on the sign-in page, when both are configured (worked out for
    // the sign-in page only).
    let on_form = path == LOGIN && login.is_some();
    let provider_url = format!(
        "{LOGIN}?via=oidc&rd={}",
        url::form_urlencoded::byte_serialize(
            crate::auth::oidc::safe_return_target(&return_to).as_bytes()
        )
        .collect::<String>()
    );
    // Offered only where the page to return to takes an OIDC session: elsewhere the
    // provider's session would not open it, and the browser would land here again.
    let provider_name = oidc
        .filter(|_| on_form && takes_oidc(state, &return_to))
        .map(|o| provider_name(&o.settings.issuer));
    let provider = provider_name.as_deref().map(|n| (n, provider_url.as_str()));
    match (path, login) {
        (LOGIN, Some(login)) if req.method == Method::POST => {
            let Some(basic) = facts.basic else {
                return Err(Refusal::UnlistedPath);
            };
            let Some(body) = body else {
                return Err(Refusal::MalformedBody);
            };
            let collected = tokio::time::timeout(
                FORM_TIMEOUT,
                http_body_util::Limited::new(body, MAX_FORM_BYTES).collect(),
            )
            .await;
            let bytes = match collected {
                Err(_) => return Err(Refusal::BodyStalled),
                Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                    return Err(Refusal::BodyTooLarge);
                }
                Ok(Err(_)) => return Err(Refusal::MalformedBody),
                Ok(Ok(collected)) => collected.to_bytes(),
            };
            let submission = Submission {
                headers: &req.headers,
                host: &target.host,
                client: facts.client,
                basic,
                lockout: &state.lockout,
                metrics: &state.metrics,
                provider,
            };
            Ok(login.submit(&submission, FormFields::parse(&bytes)).await)
        }
        (LOGIN, Some(login)) => {
            if req.method != Method::GET && req.method != Method::HEAD {
                return Err(Refusal::MethodNotAllowed {
                    allow: vec![Method::GET, Method::HEAD, Method::POST],
                });
            }
            match oidc {
                Some(oidc) if query_value(target, "via").as_deref() == Some("oidc") => {
                    Ok(oidc.login_redirect(&target.host, &return_to, &req.headers))
                }
                _ => Ok(login.form(&req.headers, &return_to, provider)),
            }
        }
        (LOGIN, None) => {
            get_or_head(req)?;
            match oidc {
                Some(oidc) => Ok(oidc.login_redirect(&target.host, &return_to, &req.headers)),
                None => Err(Refusal::UnlistedPath),
            }
        }
        (LOGOUT, _) => {
            get_or_head(req)?;
            match (login, oidc) {
                (Some(login), Some(oidc)) if !login.owns_session(&req.headers) => {
                    Ok(oidc.logout(&req.headers))
                }
                (Some(login), _) => Ok(login.logout(&req.headers)),
                (None, Some(oidc)) => Ok(oidc.logout(&req.headers)),
                (None, None) => Err(Refusal::UnlistedPath),
            }
        }
        (USERINFO, _) => {
            get_or_head(req)?;
            match (login, oidc) {
                (Some(login), Some(oidc)) if !login.owns_session(&req.headers) => {
                    Ok(oidc.userinfo(&req.headers))
                }
                (Some(login), _) => Ok(login.userinfo(&req.headers)),
                (None, Some(oidc)) => Ok(oidc.userinfo(&req.headers)),
                (None, None) => Err(Refusal::UnlistedPath),
            }
        }
        _ => Err(Refusal::UnlistedPath),
    }
}

/// Whether the route of a return path accepts an OIDC session (true when it cannot tell).
fn takes_oidc(state: &AppState, return_to: &str) -> bool {
    let target = crate::auth::oidc::safe_return_target(return_to);
    let path = target.split('?').next().unwrap_or("/");
    let Ok(normalized) = crate::policy::normalize::normalize_path(path) else {
        return true;
    };
    let runtime = state.runtime.load();
    match runtime.config.routes.decide(&Method::GET, &normalized) {
        crate::policy::routes::Decision::Allowed { route, .. } => {
            route.auth.contains(&crate::config::AuthMethod::Oidc)
        }
        _ => true,
    }
}

/// A provider's display name: its issuer's host (`id.example.com`).
fn provider_name(issuer: &str) -> String {
    issuer
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_string))
        .unwrap_or_else(|| "your identity provider".to_string())
}
