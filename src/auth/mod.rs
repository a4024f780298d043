//! Who is asking: the authentication step of a request, and the identity it yields.

pub mod basic;
pub mod htpasswd;

use http::HeaderMap;

use crate::config::{AuthMethod, Route};
use crate::responses::Denial;
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
/// methods accepted the request, and the denial (401 with a challenge) otherwise.
pub async fn authenticate(
    route: &Route,
    headers: &HeaderMap,
    basic: Option<&BasicAuth>,
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
                if basic.verify(&credentials).await {
                    return Ok(Some(Identity {
                        user: credentials.user,
                        method: AuthMethod::Basic,
                    }));
                }
                tracing::warn!(
                    user = %credentials.user,
                    reason = "bad credentials",
                    "basic login failed"
                );
            }
        }
    }
    Err(Denial::Unauthorized { realm })
}
