//! Owns frontdoor's own paths (`/_frontdoor/...`): one table from path to answer. They are
//! reached only through `Decision::Reserved` and never reach the upstream. The sign-in page,
//! the forward-auth endpoints and the API-key answers of later features are routed here.
//!
//! | path | answer |
//! | --- | --- |
//! | `/_frontdoor/health` | `{"status":"ok"}`, any method, no login |
//! | `/_frontdoor/login?rd=PATH` | 302 to the OpenID provider (`[auth.oidc]`) |
//! | `/_frontdoor/callback` (the path of `redirect_url`) | the end of an OIDC sign-in |
//! | `/_frontdoor/logout` | ends the session |
//! | `/_frontdoor/userinfo` | the session's identity as JSON, or 401 |
//! | anything else | 404, like an unlisted path |

use std::net::SocketAddr;

use http::{Method, Response};

use crate::policy::target::Target;
use crate::responses::{self, Body, Refusal};
use crate::state::AppState;

/// The path of frontdoor's health answer on the HTTPS listener.
pub const HEALTH: &str = "/_frontdoor/health";
/// Starts an OIDC sign-in.
pub const LOGIN: &str = "/_frontdoor/login";
/// Ends the session.
pub const LOGOUT: &str = "/_frontdoor/logout";
/// The session's identity.
pub const USERINFO: &str = "/_frontdoor/userinfo";

/// Answers a request for a reserved path (`target.path` is normalized and reserved).
pub async fn answer(
    state: &AppState,
    target: &Target,
    req: &http::request::Parts,
    peer: SocketAddr,
) -> Result<Response<Body>, Refusal> {
    let path = target.path.as_str();
    if path == HEALTH {
        return Ok(responses::json_ok("{\"status\":\"ok\"}\n"));
    }
    let Some(oidc) = state.oidc.as_deref() else {
        return Err(Refusal::UnlistedPath);
    };
    if req.method != Method::GET && req.method != Method::HEAD {
        return Err(Refusal::MethodNotAllowed {
            allow: vec![Method::GET, Method::HEAD],
        });
    }
    if path == oidc.settings.redirect_path {
        return match oidc.callback(target.query.as_deref(), &req.headers).await {
            Ok(response) => Ok(response),
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(reason = %message, client = %peer.ip(), "OIDC sign-in failed");
                Err(Refusal::SignInFailed { message })
            }
        };
    }
    match path {
        LOGIN => {
            let return_to = target
                .query
                .as_deref()
                .and_then(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .find(|(k, _)| k == "rd")
                        .map(|(_, v)| v.into_owned())
                })
                .unwrap_or_else(|| "/".to_string());
            Ok(oidc.login_redirect(&target.host, &return_to, &req.headers))
        }
        LOGOUT => Ok(oidc.logout(&req.headers)),
        USERINFO => Ok(oidc.userinfo(&req.headers)),
        _ => Err(Refusal::UnlistedPath),
    }
}
