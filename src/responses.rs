//! Every response frontdoor writes itself (400, 401, 404, 405, 413, 421, 502, 504, ...),
//! built in one place so that two denials of the same status are byte-identical: a hidden
//! path's 404 must not be told apart from an unlisted path's 404.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};

/// The body type of every response frontdoor returns: upstream bodies stream through it.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Wraps fixed bytes as a [`Body`].
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Whether the client prefers a JSON answer (API clients) over an HTML page (browsers).
pub fn wants_json(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json") || v.contains("+json"))
}

/// Why frontdoor answered a request itself. The reason goes in the log, never in the body:
/// the body says only what the status says, so it leaks nothing about the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    BadRequest(&'static str),
    MisdirectedHost,
    Unauthorized {
        realm: String,
    },
    NotFound,
    MethodNotAllowed {
        allow: Vec<http::Method>,
    },
    PayloadTooLarge,
    /// The client stopped sending its request body.
    RequestTimeout,
    /// A login ban is in force; the client may retry after this many seconds.
    TooManyRequests {
        retry_after_secs: u64,
    },
    BadGateway,
    GatewayTimeout,
    /// No session and not a browser navigation (an API call, fetch, upgrade): 401 with a
    /// Bearer challenge, never a redirect.
    SignInRequired,
    /// A browser navigating without a session: 302 to the provider.
    SignIn {
        location: String,
    },
    /// Signed in, but the route's allow rules do not include this identity.
    Forbidden {
        who: String,
    },
}

impl Denial {
    pub fn status(&self) -> StatusCode {
        match self {
            Denial::BadRequest(_) => StatusCode::BAD_REQUEST,
            Denial::MisdirectedHost => StatusCode::MISDIRECTED_REQUEST,
            Denial::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Denial::NotFound => StatusCode::NOT_FOUND,
            Denial::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Denial::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Denial::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Denial::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Denial::BadGateway => StatusCode::BAD_GATEWAY,
            Denial::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            Denial::SignInRequired => StatusCode::UNAUTHORIZED,
            Denial::SignIn { .. } => StatusCode::FOUND,
            Denial::Forbidden { .. } => StatusCode::FORBIDDEN,
        }
    }

    /// The response for this denial, as JSON or a small HTML page.
    pub fn into_response(self, json: bool) -> Response<Body> {
        let status = self.status();
        let reason = status.canonical_reason().unwrap_or("Error");
        let (content_type, body) = if let Denial::Forbidden { who } = &self {
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
                    format!(
                        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>403 Forbidden</title></head>\
                         <body><h1>403 Forbidden</h1><p>You are signed in as <b>{}</b>, who may not \
                         open this page.</p><p><a href=\"/_frontdoor/logout\">Sign out</a> to sign in \
                         as someone else.</p></body></html>\n",
                        crate::auth::oidc::escape_html(who)
                    ),
                )
            }
        } else if json || self == Denial::SignInRequired {
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
                format!(
                    "<!doctype html>\n<html><head><title>{code} {reason}</title></head>\
                     <body><h1>{code} {reason}</h1></body></html>\n",
                    code = status.as_u16()
                ),
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
        match self {
            Denial::Unauthorized { realm } => {
                // The realm was validated at load (no quotes or control characters).
                if let Ok(v) =
                    HeaderValue::from_str(&format!("Basic realm=\"{realm}\", charset=\"UTF-8\""))
                {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            Denial::MethodNotAllowed { allow } => {
                let list: Vec<&str> = allow.iter().map(http::Method::as_str).collect();
                if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
                    headers.insert(header::ALLOW, v);
                }
            }
            Denial::SignInRequired => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"frontdoor\""),
                );
            }
            Denial::SignIn { location } => {
                if let Ok(v) = HeaderValue::from_str(&location) {
                    headers.insert(header::LOCATION, v);
                }
            }
            Denial::TooManyRequests { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            Denial::BadRequest(_) | Denial::PayloadTooLarge | Denial::RequestTimeout => {
                // The connection's framing may be off (unread body); do not reuse it.
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

/// frontdoor's own small JSON answers (health).
pub fn json_ok(body: &'static str) -> Response<Body> {
    let mut response = Response::new(full(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn bytes_of(r: Response<Body>) -> (http::response::Parts, Bytes) {
        let (parts, body) = r.into_parts();
        let bytes = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        (parts, bytes)
    }

    /// Two 404s are identical whatever the reason behind them.
    #[tokio::test]
    async fn not_found_is_one_response() {
        for json in [false, true] {
            let (a, body_a) = bytes_of(Denial::NotFound.into_response(json)).await;
            let (b, body_b) = bytes_of(Denial::NotFound.into_response(json)).await;
            assert_eq!(body_a, body_b);
            assert_eq!(format!("{:?}", a.headers), format!("{:?}", b.headers));
        }
    }

    /// 401 carries the realm; 405 carries Allow.
    #[tokio::test]
    async fn challenge_headers() {
        let r = Denial::Unauthorized {
            realm: "agent".into(),
        }
        .into_response(false);
        assert_eq!(
            r.headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.as_bytes()),
            Some(&b"Basic realm=\"agent\", charset=\"UTF-8\""[..])
        );
        let r = Denial::MethodNotAllowed {
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
}
