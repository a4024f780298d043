//! The one typed refusal: every step of a request that answers instead of forwarding returns
//! a [`Refusal`], and this file alone turns it into the status, headers and body the client
//! sees, the reason the access log gives, and the `denials_total` label.

use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode};
use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};

use super::{Body, full, pages};

/// Why frontdoor answered a request itself. The reason goes in the log and the metrics,
/// never in the body: the body says only what the status says, so it leaks nothing about
/// the policy (a hidden path's 404 is byte-identical to an unlisted path's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: a request target that is not an origin-form path, or is malformed.
    MalformedTarget,
    /// 400: a path that cannot be normalized safely (encoded `/`, double encoding, ...).
    AmbiguousPath,
    /// 400: a request body that cannot be read (bad chunk framing, a transfer coding other
    /// than chunked).
    MalformedBody,
    /// 421: a Host that `server.hosts` does not list.
    UnknownHost,
    /// 404: a hidden UI path (`/admin`, `/docs`, ...) whose `[ui]` switch is off.
    HiddenPath,
    /// 404: no route covers the path (or a reserved path that is not served).
    UnlistedPath,
    /// 404: a `deny = true` route covers the path.
    DeniedPath,
    /// 405 with Allow.
    MethodNotAllowed { allow: Vec<Method> },
    /// 429 with Retry-After: a login ban is in force for the user or the address.
    LoginBanned { retry_after_secs: u64 },
    /// 401 with a Basic challenge: no credentials, or wrong ones.
    BadCredentials { realm: String },
    /// 401 JSON with a Bearer challenge: no session and not a browser navigation (an API
    /// call, fetch, upgrade), never a redirect.
    NotSignedIn,
    /// 401 JSON with `Bearer error="invalid_token"`: an API key that is malformed,
    /// unknown, revoked or expired.
    InvalidApiKey,
    /// 403 JSON: a valid API key used outside its scope (paths, methods). The answer names
    /// neither the key's scope nor other keys.
    KeyOutOfScope,
    /// 401 JSON: a webhook delivery whose signature is missing, wrong or stale.
    BadSignature,
    /// 429 with Retry-After and the `RateLimit-Policy`/`RateLimit` headers: the route's
    /// rate limit is used up for this caller.
    RateLimited {
        /// The policy's name (the route), a structured-field string.
        policy: std::sync::Arc<str>,
        count: u32,
        window_secs: u64,
        retry_after_secs: u64,
    },
    /// 302 to the provider: a browser navigating without a session.
    SignIn { location: String },
    /// 403: signed in, but the route's allow rules do not include this identity.
    NotAllowed { who: String },
    /// 400 page: the provider's answer to a sign-in could not be accepted.
    SignInFailed { message: String },
    /// 413: the body passed the route's cap (declared, or while streaming).
    BodyTooLarge,
    /// 408: the client stopped sending its request body.
    BodyStalled,
    /// 504: the upstream did not answer in time.
    UpstreamTimeout,
    /// 502: the upstream could not be reached or failed.
    UpstreamError,
    /// 503: `server.max_tunnels` WebSocket tunnels are open.
    TooManyTunnels,
}

/// A refusal's reason without its data: the access log's `reason` and the metric label
/// (an enum, so counting a refusal allocates nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    MalformedTarget,
    AmbiguousPath,
    MalformedBody,
    UnknownHost,
    HiddenPath,
    UnlistedPath,
    DeniedPath,
    MethodNotAllowed,
    LoginBanned,
    BadCredentials,
    NotSignedIn,
    InvalidApiKey,
    KeyOutOfScope,
    BadSignature,
    RateLimited,
    SignInRequired,
    NotAllowed,
    SignInFailed,
    BodyTooLarge,
    BodyStalled,
    UpstreamTimeout,
    UpstreamError,
    TooManyTunnels,
}

impl Reason {
    /// The words in logs and in `denials_total{reason=...}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MalformedTarget => "malformed target",
            Reason::AmbiguousPath => "ambiguous path",
            Reason::MalformedBody => "malformed body",
            Reason::UnknownHost => "unknown host",
            Reason::HiddenPath => "hidden path",
            Reason::UnlistedPath => "unlisted path",
            Reason::DeniedPath => "denied path",
            Reason::MethodNotAllowed => "method not allowed",
            Reason::LoginBanned => "login banned",
            Reason::BadCredentials => "bad credentials",
            Reason::NotSignedIn => "not signed in",
            Reason::InvalidApiKey => "invalid api key",
            Reason::KeyOutOfScope => "api key out of scope",
            Reason::BadSignature => "bad webhook signature",
            Reason::RateLimited => "rate limited",
            Reason::SignInRequired => "sign-in required",
            Reason::NotAllowed => "not allowed",
            Reason::SignInFailed => "sign-in failed",
            Reason::BodyTooLarge => "body too large",
            Reason::BodyStalled => "request body stalled",
            Reason::UpstreamTimeout => "upstream timeout",
            Reason::UpstreamError => "upstream error",
            Reason::TooManyTunnels => "too many tunnels",
        }
    }
}

impl Reason {
    /// Whether the upstream failed (an outage), as opposed to a refusal by the policy, a
    /// login or a limit: the access log says `UPSTREAM FAILED` for these and keeps
    /// `ACCESS DENIED` for refusals, so grepping for refusals does not flood in an outage.
    pub fn is_upstream_failure(self) -> bool {
        matches!(self, Reason::UpstreamError | Reason::UpstreamTimeout)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EncodeLabelValue for Reason {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

impl Refusal {
    pub fn reason(&self) -> Reason {
        match self {
            Refusal::MalformedTarget => Reason::MalformedTarget,
            Refusal::AmbiguousPath => Reason::AmbiguousPath,
            Refusal::MalformedBody => Reason::MalformedBody,
            Refusal::UnknownHost => Reason::UnknownHost,
            Refusal::HiddenPath => Reason::HiddenPath,
            Refusal::UnlistedPath => Reason::UnlistedPath,
            Refusal::DeniedPath => Reason::DeniedPath,
            Refusal::MethodNotAllowed { .. } => Reason::MethodNotAllowed,
            Refusal::LoginBanned { .. } => Reason::LoginBanned,
            Refusal::BadCredentials { .. } => Reason::BadCredentials,
            Refusal::NotSignedIn => Reason::NotSignedIn,
            Refusal::InvalidApiKey => Reason::InvalidApiKey,
            Refusal::KeyOutOfScope => Reason::KeyOutOfScope,
            Refusal::BadSignature => Reason::BadSignature,
            Refusal::RateLimited { .. } => Reason::RateLimited,
            Refusal::SignIn { .. } => Reason::SignInRequired,
            Refusal::NotAllowed { .. } => Reason::NotAllowed,
            Refusal::SignInFailed { .. } => Reason::SignInFailed,
            Refusal::BodyTooLarge => Reason::BodyTooLarge,
            Refusal::BodyStalled => Reason::BodyStalled,
            Refusal::UpstreamTimeout => Reason::UpstreamTimeout,
            Refusal::UpstreamError => Reason::UpstreamError,
            Refusal::TooManyTunnels => Reason::TooManyTunnels,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::MalformedTarget
            | Refusal::AmbiguousPath
            | Refusal::MalformedBody
            | Refusal::SignInFailed { .. } => StatusCode::BAD_REQUEST,
            Refusal::UnknownHost => StatusCode::MISDIRECTED_REQUEST,
            Refusal::BadCredentials { .. }
            | Refusal::NotSignedIn
            | Refusal::InvalidApiKey
            | Refusal::BadSignature => StatusCode::UNAUTHORIZED,
            Refusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::KeyOutOfScope => StatusCode::FORBIDDEN,
            Refusal::HiddenPath | Refusal::UnlistedPath | Refusal::DeniedPath => {
                StatusCode::NOT_FOUND
            }
            Refusal::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BodyStalled => StatusCode::REQUEST_TIMEOUT,
            Refusal::LoginBanned { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::UpstreamError => StatusCode::BAD_GATEWAY,
            Refusal::TooManyTunnels => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Refusal::SignIn { .. } => StatusCode::FOUND,
            Refusal::NotAllowed { .. } => StatusCode::FORBIDDEN,
        }
    }

    /// The response for this refusal, as JSON (`json`, for API clients) or a small HTML
    /// page.
    pub fn into_response(self, json: bool) -> Response<Body> {
        let status = self.status();
        if let Refusal::SignInFailed { message } = &self {
            return pages::page(
                status,
                "Sign-in failed",
                &format!(
                    "<p>{}</p><p><a href=\"/_frontdoor/login\">Sign in again</a></p>",
                    pages::escape_html(message)
                ),
            );
        }
        let reason = status.canonical_reason().unwrap_or("Error");
        let (content_type, body) = if let Refusal::NotAllowed { who } = &self {
            if json {
                (
                    "application/json",
                    serde_json::json!({"error": "forbidden", "status": 403, "signed_in_as": who})
                        .to_string()
                        + "\n",
                )
            } else {
                (
                    "text/html; charset=utf-8",
                    pages::document(
                        "403 Forbidden",
                        &format!(
                            "<p>You are signed in as <b>{}</b>, who may not open this page.</p>\
                             <p><a href=\"/_frontdoor/logout\">Sign out</a> to sign in as \
                             someone else.</p>",
                            pages::escape_html(who)
                        ),
                    ),
                )
            }
        } else if json
            || matches!(
                self,
                Refusal::NotSignedIn
                    | Refusal::InvalidApiKey
                    | Refusal::KeyOutOfScope
                    | Refusal::BadSignature
                    | Refusal::RateLimited { .. }
            )
        {
            (
                "application/json",
                format!(
                    "{{\"error\":\"{}\",\"status\":{}}}\n",
                    reason.to_ascii_lowercase().replace(' ', "_"),
                    status.as_u16()
                ),
            )
        } else {
            (
                "text/html; charset=utf-8",
                pages::document(&format!("{} {reason}", status.as_u16()), ""),
            )
        };
        let mut response = Response::new(full(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if content_type.starts_with("text/html") {
            pages::add_page_headers(headers);
        }
        match self {
            Refusal::BadCredentials { realm } => {
                // The realm was validated at load (no quotes or control characters).
                if let Ok(v) =
                    HeaderValue::from_str(&format!("Basic realm=\"{realm}\", charset=\"UTF-8\""))
                {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            Refusal::MethodNotAllowed { allow } => {
                let list: Vec<&str> = allow.iter().map(http::Method::as_str).collect();
                if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
                    headers.insert(header::ALLOW, v);
                }
            }
            Refusal::NotSignedIn => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"frontdoor\""),
                );
            }
            Refusal::InvalidApiKey => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"frontdoor\", error=\"invalid_token\""),
                );
            }
            Refusal::BadSignature => {
                // A 401 names a scheme; there is no standard one for body signatures.
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Signature realm=\"frontdoor\""),
                );
            }
            Refusal::RateLimited {
                policy,
                count,
                window_secs,
                retry_after_secs,
            } => {
                // draft-ietf-httpapi-ratelimit-headers: the policy (quota q per window w
                // seconds) and what is left of it (r remaining, t seconds until it resets).
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                let name = sf_string(&policy);
                if let Ok(v) = HeaderValue::from_str(&format!("{name};q={count};w={window_secs}")) {
                    headers.insert("ratelimit-policy", v);
                }
                if let Ok(v) = HeaderValue::from_str(&format!("{name};r=0;t={retry_after_secs}")) {
                    headers.insert("ratelimit", v);
                }
            }
            Refusal::SignIn { location } => {
                if let Ok(v) = HeaderValue::from_str(&location) {
                    headers.insert(header::LOCATION, v);
                }
            }
            Refusal::LoginBanned { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            Refusal::MalformedTarget
            | Refusal::AmbiguousPath
            | Refusal::MalformedBody
            | Refusal::BodyTooLarge
            | Refusal::BodyStalled => {
                // The connection's framing may be off (unread body); do not reuse it.
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

/// Text as a structured-field string (RFC 8941): quoted, `"` and `\\` escaped, anything
/// outside printable ASCII left out.
fn sf_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars().filter(|c| (' '..='~').contains(c)) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::BodyExt;

    async fn bytes_of(r: Response<Body>) -> (http::response::Parts, Bytes) {
        let (parts, body) = r.into_parts();
        let bytes = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        (parts, bytes)
    }

    /// Every 404 is the same response whatever the reason behind it.
    #[tokio::test]
    async fn not_found_is_one_response() {
        for json in [false, true] {
            let (a, body_a) = bytes_of(Refusal::HiddenPath.into_response(json)).await;
            for other in [Refusal::UnlistedPath, Refusal::DeniedPath] {
                let (b, body_b) = bytes_of(other.into_response(json)).await;
                assert_eq!(body_a, body_b);
                assert_eq!(format!("{:?}", a.headers), format!("{:?}", b.headers));
                assert_eq!(a.status, b.status);
            }
        }
    }

    /// 401 carries the realm; 405 carries Allow.
    #[tokio::test]
    async fn challenge_headers() {
        let r = Refusal::BadCredentials {
            realm: "agent".into(),
        }
        .into_response(false);
        assert_eq!(
            r.headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.as_bytes()),
            Some(&b"Basic realm=\"agent\", charset=\"UTF-8\""[..])
        );
        let r = Refusal::MethodNotAllowed {
            allow: vec![http::Method::GET, http::Method::HEAD],
        }
        .into_response(true);
        assert_eq!(
            r.headers().get(header::ALLOW).map(|v| v.as_bytes()),
            Some(&b"GET, HEAD"[..])
        );
        let (_, body) = bytes_of(r).await;
        assert!(body.starts_with(b"{\"error\":\"method_not_allowed\""));
    }

    /// Each reason has its own words, so logs and metrics tell them apart.
    #[test]
    fn reasons_are_distinct() {
        let all = [
            Reason::MalformedTarget,
            Reason::AmbiguousPath,
            Reason::MalformedBody,
            Reason::UnknownHost,
            Reason::HiddenPath,
            Reason::UnlistedPath,
            Reason::DeniedPath,
            Reason::MethodNotAllowed,
            Reason::LoginBanned,
            Reason::BadCredentials,
            Reason::NotSignedIn,
            Reason::InvalidApiKey,
            Reason::KeyOutOfScope,
            Reason::SignInRequired,
            Reason::NotAllowed,
            Reason::SignInFailed,
            Reason::BodyTooLarge,
            Reason::BodyStalled,
            Reason::UpstreamTimeout,
            Reason::UpstreamError,
            Reason::TooManyTunnels,
        ];
        let words: std::collections::HashSet<&str> = all.iter().map(|r| r.as_str()).collect();
        assert_eq!(words.len(), all.len());
    }
}
