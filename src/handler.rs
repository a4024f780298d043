//! The request's way through frontdoor, top to bottom. Each step is a call into its own
//! module; the decision one step makes is data the next step reads, and nothing is decided
//! twice.
//!
//! ```text
//! normalize the target     policy::target    400 / 421
//! reserved /_frontdoor/    here              frontdoor's own answers
//! decide                   policy::routes    404 hidden or unlisted, 405
//! authenticate             auth              401
//! cap the body             limits            413 (declared length, then while streaming)
//! forward                  proxy             502 / 504, websocket upgrades
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio_util::task::TaskTracker;

use crate::auth::basic::BasicAuth;
use crate::auth::{self, Identity};
use crate::config::Config;
use crate::limits::lockout::Lockout;
use crate::limits::{self, CappedBody};
use crate::metrics::Metrics;
use crate::policy::routes::Decision;
use crate::policy::target::{TargetError, parse_target};
use crate::proxy::{ClientConnection, ForwardContext, Upstream};
use crate::responses::{self, Body, Denial, wants_json};

/// Everything a request needs that outlives it.
pub struct AppState {
    /// What a reload replaces as a whole; each request takes one snapshot at its start, so
    /// a reload halfway through a request cannot mix two configs.
    pub runtime: ArcSwap<Runtime>,
    /// Failure counts and bans survive reloads.
    pub lockout: Lockout,
    /// WebSocket tunnels outlive their connection; shutdown waits on them.
    pub tunnels: TaskTracker,
    pub metrics: Metrics,
    /// The certificate every handshake gets; replaced on reload and when its files change.
    pub certificate: Arc<crate::server::tls::CertificateSlot>,
    /// The OpenID provider, discovered at start (`[auth.oidc]`); kept across reloads.
    pub oidc: Option<Arc<crate::auth::oidc::Oidc>>,
}

/// One config and what was built from it: upstream clients (by `Route::upstream`) and the
/// users of `[auth.basic]`.
pub struct Runtime {
    pub config: Config,
    pub upstreams: Vec<Upstream>,
    pub basic: Option<Arc<BasicAuth>>,
}

/// What the access log says about one request, filled in as the request moves along.
struct AccessRecord {
    peer: SocketAddr,
    method: Method,
    path: String,
    /// The query with secret-looking values replaced by `[redacted]`.
    query: Option<String>,
    route: Option<String>,
    user: Option<String>,
    denied: Option<&'static str>,
    /// Cookies to set on whatever the answer is (a renewed or ended session, a login).
    set_cookies: Vec<String>,
}

/// Serves one request. Never fails: every refusal is a response.
pub async fn handle(
    state: Arc<AppState>,
    client: ClientConnection,
    req: Request<Incoming>,
) -> Response<Body> {
    let peer = client.addr;
    let started = Instant::now();
    let runtime = state.runtime.load_full();
    let json = wants_json(req.headers());
    let mut record = AccessRecord {
        peer,
        method: req.method().clone(),
        path: String::new(),
        query: None,
        route: None,
        user: None,
        denied: None,
        set_cookies: Vec::new(),
    };
    let mut response = match through(&state, &runtime, client, req, &mut record).await {
        Ok(response) => response,
        Err((reason, denial)) => {
            record.denied = Some(reason);
            denial.into_response(json)
        }
    };
    if !record.set_cookies.is_empty() {
        // A response that sets a session must never be stored by a shared cache.
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        for cookie in std::mem::take(&mut record.set_cookies) {
            crate::auth::oidc::append_cookie(&mut response, &cookie);
        }
    }
    // The access log is off below info (the fields cost a little to gather).
    if tracing::enabled!(target: "frontdoor::access", tracing::Level::INFO) {
        log_access(&record, &response, started);
    }
    state
        .metrics
        .request(record.route.as_deref(), response.status().as_u16());
    if let Some(reason) = record.denied {
        state.metrics.denial(reason);
    }
    response
}

/// The steps, in order. A step that refuses returns the denial and the reason to log.
async fn through(
    state: &AppState,
    runtime: &Runtime,
    conn: ClientConnection,
    req: Request<Incoming>,
    record: &mut AccessRecord,
) -> Result<Response<Body>, (&'static str, Denial)> {
    let config = &runtime.config;
    let peer = conn.addr;
    // 1. Normalize the target: one path, one host, or 400/421.
    let target = parse_target(
        req.method(),
        req.uri(),
        req.version(),
        req.headers(),
        &config.server.hosts,
    )
    .map_err(|e| match e {
        TargetError::UnknownHost(_) => ("unknown host", Denial::MisdirectedHost),
        TargetError::Path(_) => ("ambiguous path", Denial::BadRequest("ambiguous path")),
        _ => ("malformed target", Denial::BadRequest("malformed target")),
    })?;
    record.path.clone_from(&target.path);
    record.query = target.query.as_deref().map(redact_query);

    // 2. frontdoor's own paths never reach the upstream.
    if target.path == "/_frontdoor" || target.path.starts_with("/_frontdoor/") {
        if target.path == "/_frontdoor/health" {
            return Ok(responses::json_ok("{\"status\":\"ok\"}\n"));
        }
        let Some(oidc) = state.oidc.as_deref() else {
            return Err(("unlisted path", Denial::NotFound));
        };
        if *req.method() != Method::GET && *req.method() != Method::HEAD {
            return Err((
                "method not allowed",
                Denial::MethodNotAllowed {
                    allow: vec![Method::GET, Method::HEAD],
                },
            ));
        }
        let path = target.path.as_str();
        return if path == oidc.settings.redirect_path {
            match oidc.callback(target.query.as_deref(), req.headers()).await {
                Ok(response) => Ok(response),
                Err(reason) => {
                    tracing::warn!(reason, client = %peer.ip(), "OIDC sign-in failed");
                    record.denied = Some("sign-in failed");
                    Ok(crate::auth::oidc::page(
                        http::StatusCode::BAD_REQUEST,
                        "Sign-in failed",
                        &format!(
                            "<p>{}</p><p><a href=\"/_frontdoor/login\">Sign in again</a></p>",
                            crate::auth::oidc::escape_html(&reason)
                        ),
                    ))
                }
            }
        } else if path == "/_frontdoor/login" {
            let return_to = target
                .query
                .as_deref()
                .and_then(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .find(|(k, _)| k == "rd")
                        .map(|(_, v)| v.into_owned())
                })
                .unwrap_or_else(|| "/".to_string());
            Ok(oidc.login_redirect(&target.host, &return_to, req.headers()))
        } else if path == "/_frontdoor/logout" {
            Ok(oidc.logout(req.headers()))
        } else if path == "/_frontdoor/userinfo" {
            Ok(oidc.userinfo(req.headers()))
        } else {
            Err(("unlisted path", Denial::NotFound))
        };
    }

    // 3. Decide once, on the normalized path.
    let route_index = match config.table.decide(req.method(), &target.path) {
        Decision::Hidden(_) => return Err(("hidden path", Denial::NotFound)),
        Decision::Unlisted => return Err(("unlisted path", Denial::NotFound)),
        Decision::MethodNotAllowed { allow, .. } => {
            return Err(("method not allowed", Denial::MethodNotAllowed { allow }));
        }
        Decision::Allowed { route } => route,
    };
    let Some(route) = config.routes.get(route_index) else {
        return Err(("unlisted path", Denial::NotFound));
    };
    record.route = Some(route.path.clone());
    if route.deny {
        return Err(("denied path", Denial::NotFound));
    }

    // 4. Authenticate (public routes pass with no identity); banned users and addresses
    //    get 429 before their password is even looked at.
    let client =
        crate::proxy::client_address(peer.ip(), req.headers(), &config.server.trusted_proxies);
    let path_and_query = target.path_and_query();
    let facts = auth::RequestFacts {
        method: req.method(),
        return_to: &path_and_query,
        host: &target.host,
    };
    let identity: Option<Identity> = auth::authenticate(
        route,
        req.headers(),
        &facts,
        client,
        runtime.basic.as_deref(),
        state.oidc.as_deref(),
        &state.lockout,
        &state.metrics,
        &mut record.set_cookies,
    )
    .await
    .map_err(|denial| match denial {
        Denial::TooManyRequests { .. } => ("login banned", denial),
        Denial::SignIn { .. } => ("sign-in required", denial),
        Denial::SignInRequired => ("not signed in", denial),
        Denial::Forbidden { .. } => ("not allowed", denial),
        _ => ("bad credentials", denial),
    })?;
    record.user = identity.as_ref().map(|i| i.user.clone());

    // 5. Cap the body: a declared length over the cap is refused before anything is read
    //    (so no 100 Continue is sent); a streamed body is counted as it passes.
    let limit_bytes = route.max_body_bytes.unwrap_or(config.max_body_bytes);
    limits::check_declared(req.headers(), limit_bytes)
        .map_err(|_| ("body too large", Denial::PayloadTooLarge))?;
    let (parts, body) = req.into_parts();
    let (body, body_end) = CappedBody::new(body, limit_bytes, config.server.body_timeout);
    let req = Request::from_parts(parts, body.boxed_unsync());

    // 6. Forward and stream both ways.
    let ctx = ForwardContext {
        peer: peer.ip(),
        peer_header: conn.addr_header,
        connection_slot: Some(conn.slot),
        trusted_proxies: &config.server.trusted_proxies,
        host: &target.host,
        path_and_query: &path_and_query,
        identity: identity.as_ref(),
        forward_authorization: route.forward_authorization,
        body_end,
    };
    let Some(upstream) = runtime.upstreams.get(route.upstream) else {
        return Err(("upstream error", Denial::BadGateway));
    };
    let asked = Instant::now();
    let result = upstream.forward(req, &ctx).await;
    if result.is_ok() {
        state.metrics.upstream_answered(asked.elapsed());
    }
    result.map_err(|e| {
        tracing::warn!(error = %e, path = %target.path, "upstream request failed");
        let denial = e.denial();
        let reason = match denial {
            Denial::PayloadTooLarge => "body too large",
            Denial::GatewayTimeout => "upstream timeout",
            Denial::RequestTimeout => "request body stalled",
            _ => "upstream error",
        };
        (reason, denial)
    })
}

/// Query keys whose values never reach a log: OAuth codes and states, tokens, passwords,
/// keys and secrets (matched as substrings of the lower-cased key, so `api_key` and
/// `X-Amz-Signature` count too).
const SECRET_QUERY_KEYS: &[&str] = &[
    "token",
    "code",
    "state",
    "password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "key",
    "auth",
    "session",
    "signature",
    "sig",
    "credential",
    "otp",
    "jwt",
    "ticket",
    "saml",
    "assertion",
    "hmac",
    "pw",
];

/// The query as it may appear in a log line: values of secret-looking keys (matched on the
/// percent-decoded, lower-cased key) become `[redacted]`, and so do long value-less items
/// (most likely bare tokens). `&` and `;` both separate items.
pub fn redact_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    loop {
        let end = rest.find(['&', ';']).unwrap_or(rest.len());
        let (pair, tail) = rest.split_at(end);
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = percent_decode_lossy(key).to_ascii_lowercase();
        if value.is_empty() && key.len() >= 20 {
            out.push_str("[redacted]");
        } else if !value.is_empty() && SECRET_QUERY_KEYS.iter().any(|s| decoded.contains(s)) {
            out.push_str(key);
            out.push_str("=[redacted]");
        } else {
            out.push_str(pair);
        }
        let mut chars = tail.chars();
        match chars.next() {
            Some(separator) => {
                out.push(separator);
                rest = chars.as_str();
            }
            None => return out,
        }
    }
}

/// Percent-decodes for matching only (invalid escapes are kept as they are).
fn percent_decode_lossy(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|h| char::from(*h).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line per request. Never a password, token, cookie or Authorization value; the
/// query only as `redact_query` leaves it.
fn log_access(record: &AccessRecord, response: &Response<Body>, started: Instant) {
    let status = response.status().as_u16();
    let bytes = limits::declared_length(response.headers());
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let route = record.route.as_deref().unwrap_or("-");
    let user = record.user.as_deref().unwrap_or("-");
    let query = record.query.as_deref().unwrap_or("");
    match record.denied {
        Some(reason) => tracing::info!(
            target: "frontdoor::access",
            client = %record.peer.ip(),
            method = %record.method,
            path = %record.path,
            query,
            status,
            route,
            user,
            reason,
            duration_ms,
            "ACCESS DENIED"
        ),
        None => tracing::info!(
            target: "frontdoor::access",
            client = %record.peer.ip(),
            method = %record.method,
            path = %record.path,
            query,
            status,
            bytes,
            route,
            user,
            duration_ms,
            "request"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Secret-looking values go, everything else (and valueless keys) stays.
    #[test]
    fn query_redaction() {
        assert_eq!(
            redact_query("token=abc&code=123&state=xyz&page=2&api_key=k&ID_TOKEN=t&q"),
            "token=[redacted]&code=[redacted]&state=[redacted]&page=2&api_key=[redacted]&ID_TOKEN=[redacted]&q"
        );
        assert_eq!(
            redact_query("access%5Ftoken=s3cr3t&x=1"),
            "access%5Ftoken=[redacted]&x=1"
        );
        assert_eq!(redact_query("password="), "password=");
        assert_eq!(
            redact_query("t%6Fken=abc&a=1;pa%73sword=x"),
            "t%6Fken=[redacted]&a=1;pa%73sword=[redacted]"
        );
        assert_eq!(
            redact_query("jwt=x&ticket=y&SAMLResponse=z&pw=p"),
            "jwt=[redacted]&ticket=[redacted]&SAMLResponse=[redacted]&pw=[redacted]"
        );
        assert_eq!(
            redact_query("eyJhbGciOiJIUzI1NiJ9.abc.def&page=1"),
            "[redacted]&page=1"
        );
    }
}
