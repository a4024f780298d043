//! The request's way through frontdoor, top to bottom. Each step is a call into its own
//! module; the decision one step makes is data the next step reads, and nothing is decided
//! twice. Every step either passes the request on or returns a [`Refusal`], which
//! `responses` alone turns into what the client sees, and which is logged and counted once,
//! in [`handle`].
//!
//! | step | runs | module | on refusal |
//! | --- | --- | --- | --- |
//! | 1. normalize the target | always, first | `policy::target` | 400, 421 |
//! | 2. decide | on the normalized path | `policy::routes` | 404 hidden, unlisted or denied; 405 |
//! | 2a. frontdoor's own paths | `Decision::Reserved` only | `endpoints` | their own answers, 404, 405 |
//! | 3. authenticate | routes with a login | `auth` | 401, 302 to sign in, 403, 429 |
//! | 4. cap the body | every forwarded request | `limits` | 400 (transfer coding), 413 (declared length, then while streaming) |
//! | 5. forward | every request that got this far | `proxy` | 502, 504, 408, 413; 503 when `max_tunnels` WebSockets are open |

use std::sync::Arc;
use std::time::Instant;

use http::{Method, Request, Response, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::access_log::{self, AccessRecord, redact_query};
use crate::auth::{self, Identity, RequestFacts};
use crate::limits::rate::RateKey;
use crate::limits::{self, CappedBody};
use crate::policy::routes::Decision;
use crate::policy::target::parse_target;
use crate::proxy::{ClientConnection, ForwardContext, Hold, Tunnel};
use crate::responses::{self, Body, Refusal, append_cookie, wants_json};
use crate::state::{AppState, Runtime};

/// Serves one request. Never fails: every refusal is a response.
pub async fn handle(
    state: Arc<AppState>,
    client: ClientConnection,
    req: Request<Incoming>,
) -> Response<Body> {
    let started = Instant::now();
    let runtime = state.runtime.load_full();
    let (parts, body) = req.into_parts();
    let json = wants_json(&parts.headers);
    let head = parts.method == Method::HEAD;
    let waits_for_continue = parts.version < Version::HTTP_2
        && !http_body::Body::is_end_stream(&body)
        && expects_continue(&parts.headers);
    let mut record = AccessRecord::new(client.addr, parts.method.clone());
    let mut client = client;
    // Moved out, not cloned: it is needed only when a body is discarded.
    let hold = client.hold.take();
    // The body stays here until the step that forwards it takes it: a refused request's
    // body is read and discarded, so the client receives the refusal (limits::drain).
    let mut body = Some(body);
    let mut response = match through(
        &state,
        &runtime,
        client,
        hold.as_ref(),
        parts,
        &mut body,
        &mut record,
    )
    .await
    {
        Ok(Answer::Forwarded(response)) => response,
        Ok(Answer::Own(response)) => responses::for_head(response, head),
        Err(refusal) => {
            record.denied = Some(refusal.reason());
            responses::for_head(refusal.into_response(json), head)
        }
    };
    if let Some(body) = body
        && !waits_for_continue
        && !http_body::Body::is_end_stream(&body)
    {
        // A body refused for its size is an upload in flight; any other was refused before
        // it was read, and gets a smaller allowance.
        let max_bytes = if response.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
            limits::drain::DRAIN_MAX_BYTES
        } else {
            limits::drain::DRAIN_SMALL_BYTES
        };
        limits::drain::discard(body, max_bytes, hold.as_ref().map(|hold| hold()));
    }
    if !record.set_cookies.is_empty() {
        // A response that sets a session must never be stored by a shared cache.
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        for cookie in std::mem::take(&mut record.set_cookies) {
            append_cookie(&mut response, &cookie);
        }
    }
    // The access log is off below info (the fields cost a little to gather).
    if tracing::enabled!(target: "frontdoor::access", tracing::Level::INFO) {
        access_log::log_access(&record, &response, started);
    }
    state
        .metrics
        .request(record.route.as_ref(), response.status().as_u16());
    if let Some(reason) = record.denied {
        state.metrics.denial(reason);
    }
    response
}

/// What a request that was not refused got.
enum Answer {
    /// The upstream's response.
    Forwarded(Response<Body>),
    /// One frontdoor made itself (its own paths).
    Own(Response<Body>),
}

/// Whether the client waits for `100 Continue` before sending its body. Over HTTP/1.1,
/// reading the body would send it, so a refused body with this header is not read; over
/// HTTP/2 hyper never sends 100 (clients send after a short wait), so it is read.
fn expects_continue(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// The steps, in order (the table at the top of this file). `body` is taken by the step
/// that forwards it; a refusal leaves it for `handle` to discard.
async fn through(
    state: &AppState,
    runtime: &Runtime,
    conn: ClientConnection,
    hold: Option<&Hold>,
    req: http::request::Parts,
    body: &mut Option<Incoming>,
    record: &mut AccessRecord,
) -> Result<Answer, Refusal> {
    let config = &runtime.config;
    let peer = conn.addr;
    // 1. Normalize the target: one path, one host, or 400/421.
    let target = parse_target(
        &req.method,
        &req.uri,
        req.version,
        &req.headers,
        &config.server.hosts,
    )?;
    record.path.clone_from(&target.path);
    record.query = target.query.as_deref().map(redact_query);

    // 2. Decide once, on the normalized path; frontdoor's own paths never reach the
    //    upstream.
    let route = match config.routes.decide(&req.method, &target.path) {
        Decision::Reserved => {
            let facts = crate::endpoints::Facts {
                target: &target,
                req: &req,
                peer,
                client: crate::proxy::client_address(
                    peer.ip(),
                    &req.headers,
                    &config.server.trusted_proxies,
                ),
                basic: runtime.basic.as_deref(),
            };
            return crate::endpoints::answer(state, &facts, body.take())
                .await
                .map(Answer::Own);
        }
        Decision::Hidden(_) => return Err(Refusal::HiddenPath),
        Decision::Unlisted => return Err(Refusal::UnlistedPath),
        Decision::MethodNotAllowed { allow, .. } => {
            return Err(Refusal::MethodNotAllowed { allow });
        }
        Decision::Denied { route, .. } => {
            record.route = Some(route.label.clone());
            return Err(Refusal::DeniedPath);
        }
        Decision::Allowed { route, .. } => route,
    };
    record.route = Some(route.label.clone());

    // 3. Authenticate (public routes pass with no identity); banned users and addresses
    //    get 429 before their password is even looked at.
    let path_and_query = target.path_and_query();
    let facts = RequestFacts {
        method: &req.method,
        headers: &req.headers,
        client: crate::proxy::client_address(
            peer.ip(),
            &req.headers,
            &config.server.trusted_proxies,
        ),
        path: &target.path,
        return_to: &path_and_query,
        host: &target.host,
    };
    let with = state.authenticators(runtime);
    let identity: Option<Identity> =
        auth::authenticate(route, &facts, &with, &mut record.set_cookies).await?;
    record.user = identity.as_ref().map(|i| i.user.clone());

    // 3b. The route's rate limit, per identity (else per client address): 429 with when
    //     to come back; the upstream never sees the request.
    check_rate_limit(state, route, identity.as_ref(), facts.client)?;

    // 4. Cap the body: a declared length over the cap is refused before anything is read
    //    (so no 100 Continue is sent); a streamed body is counted as it passes.
    let limit_bytes = route.max_body_bytes.unwrap_or(config.max_body_bytes);
    limits::check_transfer_coding(&req.headers).map_err(|_| Refusal::MalformedBody)?;
    limits::check_declared(&req.headers, limit_bytes).map_err(|_| Refusal::BodyTooLarge)?;
    let Some(incoming) = body.take() else {
        return Err(Refusal::MalformedTarget);
    };
    let (capped, body_end) = CappedBody::new(incoming, limit_bytes, config.server.body_timeout);
    let capped = capped.with_min_rate(config.server.min_body_rate_bytes_per_sec);
    // A body still arriving when the request ends early (cap passed, upstream failed or
    // answered first) is read and discarded, with the connection kept busy meanwhile.
    let capped = if http_body::Body::is_end_stream(&capped) {
        capped
    } else {
        let keep = hold.map(|hold| hold());
        capped.discard_rest_on_drop(keep)
    };
    let (req, body) = match &route.webhook {
        // A signed delivery is read whole and checked before a byte goes upstream.
        Some(webhook) => signed_body(state, req, capped, webhook).await?,
        None => (req, capped.boxed_unsync()),
    };
    let req = Request::from_parts(req, body);

    // 5. Forward and stream both ways.
    let ctx = ForwardContext {
        peer: peer.ip(),
        peer_header: conn.addr_header,
        trusted_proxies: &config.server.trusted_proxies,
        host: &target.host,
        path_and_query: &path_and_query,
        identity: identity.as_ref(),
        forward_authorization: route.forward_authorization,
        body_end,
    };
    let Some(upstream) = runtime.upstreams.get(route.upstream) else {
        return Err(Refusal::UpstreamError);
    };
    // A WebSocket upgrade needs a tunnel slot before anything is sent upstream.
    let tunnel = if crate::proxy::is_websocket_upgrade(req.method(), req.headers()) {
        let Ok(slot) = state.tunnel_slots.clone().try_acquire_owned() else {
            return Err(Refusal::TooManyTunnels);
        };
        Some(Tunnel::new(
            slot,
            state.metrics.clone(),
            config.server.tunnel_idle_timeout,
        ))
    } else {
        None
    };
    let asked = Instant::now();
    match upstream.forward(req, &ctx, tunnel).await {
        Ok(response) => {
            state.metrics.upstream_answered(asked.elapsed());
            Ok(Answer::Forwarded(response))
        }
        Err(e) => {
            tracing::warn!(error = %e, path = %target.path, "upstream request failed");
            Err(e.into())
        }
    }
}

/// Reads a webhook delivery's body (up to the route's cap) and checks its signature; the
/// body goes on whole, with its length, only when the signature is good.
async fn signed_body<B>(
    state: &AppState,
    mut req: http::request::Parts,
    capped: B,
    webhook: &crate::config::WebhookSettings,
) -> Result<(http::request::Parts, crate::responses::Body), Refusal>
where
    B: http_body::Body<Data = bytes::Bytes, Error = crate::responses::BoxError> + Send + 'static,
{
    let bytes = match capped.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<limits::BodyTooLarge>() => return Err(Refusal::BodyTooLarge),
        Err(e) if e.is::<limits::BodyStalled>() => return Err(Refusal::BodyStalled),
        Err(_) => return Err(Refusal::MalformedBody),
    };
    if let Err(e) = auth::webhook::verify(webhook, &req.headers, &bytes, crate::clock::now_unix()) {
        tracing::warn!(kind = webhook.kind.name(), reason = %e, "webhook delivery refused");
        state.metrics.login_failed();
        return Err(Refusal::BadSignature);
    }
    req.headers.remove(http::header::TRANSFER_ENCODING);
    req.headers.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(bytes.len()),
    );
    Ok((req, crate::responses::full(bytes)))
}

/// A route's rate limit, per identity (else per client address).
pub fn check_rate_limit(
    state: &AppState,
    route: &crate::config::Route,
    identity: Option<&Identity>,
    client: std::net::IpAddr,
) -> Result<(), Refusal> {
    let Some(limit) = &route.rate_limit else {
        return Ok(());
    };
    let key = match identity {
        Some(i) => RateKey::Identity(i.method as u8, i.user.as_str().into()),
        None => RateKey::address(client),
    };
    if let Err(limited) = state.rate_limits.check(&route.label, limit.quota(), key) {
        state.metrics.rate_limited(&route.label);
        return Err(Refusal::RateLimited {
            policy: route.label.clone(),
            count: limit.count,
            window_secs: limit.window.as_secs(),
            retry_after_secs: limited.retry_after_secs,
        });
    }
    Ok(())
}
