//! frontdoor as the authentication server of a proxy the user keeps (`[forward_auth]`): nginx
//! asks `/_frontdoor/authz/auth-request` (`auth_request`), Caddy and Traefik ask
//! `/_frontdoor/authz/forward-auth` (`forward_auth`, `ForwardAuth`). The decision is proxy
//! mode's, made by the same code on the same normalized target: host, route, methods,
//! hidden UIs, deny routes, logins, allow rules, lockout, rate limits.
//!
//! Only the listed proxies are answered, and only their word is taken for the method, URI
//! and host. Each endpoint is strict about its headers: a missing, repeated or unreadable
//! one is a 400, never a 2xx (Authelia answered 200 to a malformed request; oauth2-proxy
//! believed a client's own `X-Forwarded-Uri`).
//!
//! | outcome | auth-request (nginx) | forward-auth (Caddy, Traefik) |
//! | --- | --- | --- |
//! | allowed | 200 + `X-Forwarded-User/-Email/-Groups` (always present) | the same |
//! | not signed in | 401 + `WWW-Authenticate` (+ `Location` for a browser) | proxy mode's answer: 302 to sign in, or 401 |
//! | not allowed | 403 | 403 |
//! | hidden, unlisted, denied | 403 (nginx turns other codes into 500) | 404 |
//! | method not allowed | 403 | 405 + `Allow` |
//! | banned, rate limited | 403 | 429 + `Retry-After` |
//! | ambiguous target | 403 | 400 |
//! | missing, repeated or unreadable headers | 400 | 400 |

use std::net::SocketAddr;

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode, Uri, Version};

use crate::auth::{self, RequestFacts};
use crate::policy::routes::Decision;
use crate::policy::target::parse_target;
use crate::responses::{Body, Refusal, append_cookie, full, wants_json};
use crate::state::AppState;

/// nginx `auth_request`.
pub const AUTH_REQUEST: &str = "/_frontdoor/authz/auth-request";
/// Caddy `forward_auth`, Traefik `ForwardAuth`.
pub const FORWARD_AUTH: &str = "/_frontdoor/authz/forward-auth";

/// Which proxy's contract an answer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// nginx: only 2xx, 401 and 403 mean something; anything else becomes a 500.
    Nginx,
    /// Caddy and Traefik: a non-2xx answer goes to the client as it is.
    Forward,
}

/// The identity headers of an allowed answer; always sent, empty when unknown, so a proxy
/// that copies them always overwrites a client's own copy.
pub const IDENTITY_HEADERS: [&str; 3] = [
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
];

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(full(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What the proxy says the client asked for.
struct Forwarded {
    method: Method,
    /// Origin form (`/path?query`).
    uri: Uri,
    host: String,
}

/// Reads the endpoint's headers; Err names what is wrong (for the log).
fn forwarded(flavor: Flavor, headers: &HeaderMap) -> Result<Forwarded, String> {
    let need = |name: &str| {
        auth::single_header(headers, name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("{name}: missing, repeated or unreadable"))
    };
    let (method, uri, host) = match flavor {
        Flavor::Nginx => {
            let method = need("x-original-method")?;
            let url = need("x-original-url")?;
            let absolute: Uri = url
                .parse()
                .map_err(|_| format!("X-Original-URL `{url}` is not a URL"))?;
            let (Some(scheme), Some(authority)) = (absolute.scheme_str(), absolute.authority())
            else {
                return Err(format!("X-Original-URL `{url}` is not absolute"));
            };
            if scheme != "https" && scheme != "http" {
                return Err(format!("X-Original-URL `{url}`: scheme {scheme}"));
            }
            if authority.as_str().contains('@') {
                return Err(format!("X-Original-URL `{url}` carries user information"));
            }
            let path = absolute
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string();
            (method, path, authority.to_string())
        }
        Flavor::Forward => {
            let method = need("x-forwarded-method")?;
            let proto = need("x-forwarded-proto")?;
            if proto != "https" && proto != "http" {
                return Err(format!("X-Forwarded-Proto `{proto}`"));
            }
            let host = need("x-forwarded-host")?;
            let uri = need("x-forwarded-uri")?;
            if !uri.starts_with('/') {
                return Err(format!("X-Forwarded-Uri `{uri}` is not a path"));
            }
            (method, uri, host)
        }
    };
    // A fragment never travels in a request: one here is a confused or forged target (the
    // URI parser would drop it, and the decision would be about another path).
    if uri.contains('#') {
        return Err(format!("target `{uri}` has a fragment"));
    }
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| format!("method `{method}`"))?;
    let uri: Uri = uri.parse().map_err(|_| format!("target `{uri}`"))?;
    if host.contains(',') || host.contains('@') || host.bytes().any(|b| b <= b' ') {
        return Err(format!("host `{host}`"));
    }
    Ok(Forwarded { method, uri, host })
}

/// Answers one request on the forward-auth listener.
pub async fn answer(
    state: &AppState,
    req: &http::request::Parts,
    peer: SocketAddr,
) -> Response<Body> {
    let runtime = state.runtime.load_full();
    let config = &runtime.config;
    let Some(settings) = &config.forward_auth else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    if !settings
        .trusted_proxies
        .iter()
        .any(|c| c.contains(peer.ip()))
    {
        tracing::warn!(
            peer = %peer.ip(),
            "forward auth: request from a peer not in [forward_auth] trusted_proxies (refused); \
             list the proxy's address there, e.g. trusted_proxies = [\"127.0.0.1/32\"]"
        );
        return plain(StatusCode::FORBIDDEN, "forbidden\n");
    }
    let flavor = match req.uri.path() {
        AUTH_REQUEST => Flavor::Nginx,
        FORWARD_AUTH => Flavor::Forward,
        _ => return plain(StatusCode::NOT_FOUND, "not found\n"),
    };
    let forwarded = match forwarded(flavor, &req.headers) {
        Ok(f) => f,
        Err(problem) => {
            tracing::warn!(peer = %peer.ip(), problem = %problem, "forward auth: malformed auth request");
            return plain(StatusCode::BAD_REQUEST, "malformed auth request\n");
        }
    };
    // The client's own headers (cookies, Authorization, Accept, ...) as the proxy passed
    // them, with the host it says the client asked for.
    let mut headers = req.headers.clone();
    match HeaderValue::from_str(&forwarded.host) {
        Ok(host) => {
            headers.insert(header::HOST, host);
        }
        Err(_) => return plain(StatusCode::BAD_REQUEST, "malformed auth request\n"),
    }
    let decision = decide(state, &runtime, &forwarded, &headers, peer).await;
    let json = wants_json(&headers);
    match decision {
        Ok((identity, cookies)) => {
            let mut response = plain(StatusCode::OK, "");
            let values = [
                identity
                    .as_ref()
                    .map(|i| i.user.clone())
                    .unwrap_or_default(),
                identity
                    .as_ref()
                    .and_then(|i| i.email.clone())
                    .unwrap_or_default(),
                identity
                    .as_ref()
                    .map(|i| i.groups.join(","))
                    .unwrap_or_default(),
            ];
            for (name, value) in IDENTITY_HEADERS.iter().zip(values) {
                let value = HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""));
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(name), value);
            }
            for cookie in cookies {
                append_cookie(&mut response, &cookie);
            }
            response
        }
        Err((refusal, cookies)) => {
            tracing::info!(
                peer = %peer.ip(),
                method = %forwarded.method,
                target = %crate::access_log::redact_query(forwarded.uri.path_and_query().map_or("/", |p| p.as_str())),
                reason = %refusal.reason(),
                "forward auth: ACCESS DENIED"
            );
            let mut response = match flavor {
                Flavor::Forward => refusal.into_response(json),
                Flavor::Nginx => nginx_refusal(refusal),
            };
            for cookie in cookies {
                append_cookie(&mut response, &cookie);
            }
            response
        }
    }
}

/// The same decision as proxy mode: target, route, login, allow rules, rate limit.
async fn decide(
    state: &AppState,
    runtime: &crate::state::Runtime,
    forwarded: &Forwarded,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<(Option<auth::Identity>, Vec<String>), (Refusal, Vec<String>)> {
    let config = &runtime.config;
    let no_cookies = |r: Refusal| (r, Vec::new());
    let target = parse_target(
        &forwarded.method,
        &forwarded.uri,
        Version::HTTP_11,
        headers,
        &config.server.hosts,
    )
    .map_err(|e| no_cookies(e.into()))?;
    let route = match config.routes.decide(&forwarded.method, &target.path) {
        // frontdoor's own pages are served by frontdoor, not through an auth request.
        Decision::Reserved | Decision::Unlisted => return Err(no_cookies(Refusal::UnlistedPath)),
        Decision::Hidden(_) => return Err(no_cookies(Refusal::HiddenPath)),
        Decision::Denied { .. } => return Err(no_cookies(Refusal::DeniedPath)),
        Decision::MethodNotAllowed { allow, .. } => {
            return Err(no_cookies(Refusal::MethodNotAllowed { allow }));
        }
        Decision::Allowed { route, .. } => route,
    };
    if route.webhook.is_some() {
        // A signature covers the body, which an auth request does not carry.
        tracing::warn!(route = %route.path, "forward auth: webhook routes need proxy mode (the body is signed)");
        return Err(no_cookies(Refusal::BadSignature));
    }
    let client = crate::proxy::client_address(
        peer.ip(),
        headers,
        config
            .forward_auth
            .as_ref()
            .map_or(&[], |f| f.trusted_proxies.as_slice()),
    );
    let path_and_query = target.path_and_query();
    let facts = RequestFacts {
        method: &forwarded.method,
        headers,
        client,
        path: &target.path,
        return_to: &path_and_query,
        host: &target.host,
    };
    let with = state.authenticators(runtime);
    let mut cookies = Vec::new();
    let identity = match auth::authenticate(route, &facts, &with, &mut cookies).await {
        Ok(identity) => identity,
        Err(refusal) => return Err((refusal, cookies)),
    };
    if let Err(refusal) = crate::handler::check_rate_limit(state, route, identity.as_ref(), client)
    {
        return Err((refusal, cookies));
    }
    Ok((identity, cookies))
}

/// nginx's `auth_request` understands 2xx, 401 and 403 only: a sign-in keeps its 401 (with
/// the challenge and, for a browser, the Location to send it to); everything else that
/// refuses, an ambiguous target too, is a 403 (which the README's snippet answers with 404).
fn nginx_refusal(refusal: Refusal) -> Response<Body> {
    let proxy_mode = refusal.clone().into_response(false);
    let status = match proxy_mode.status() {
        StatusCode::UNAUTHORIZED | StatusCode::FOUND => StatusCode::UNAUTHORIZED,
        _ => StatusCode::FORBIDDEN,
    };
    let mut response = plain(status, "");
    for name in [
        header::WWW_AUTHENTICATE,
        header::LOCATION,
        header::RETRY_AFTER,
    ] {
        if let Some(value) = proxy_mode.headers().get(&name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    if status == StatusCode::UNAUTHORIZED
        && !response.headers().contains_key(header::WWW_AUTHENTICATE)
    {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"frontdoor\""),
        );
    }
    response
}
