//! Every response frontdoor writes itself: refusals (400, 401, 403, 404, 405, 413, 421, 429,
//! 502, 504, ...), its own pages, redirects and JSON bodies, and the Set-Cookie values of its
//! sessions. Built in one place so that two refusals of the same status are byte-identical:
//! a hidden path's 404 must not be told apart from an unlisted path's 404.

mod cookies;
pub mod pages;
mod refusal;

use bytes::Bytes;
use http::{Response, header};
use http_body_util::{BodyExt, Full};

pub use cookies::{append_cookie, clear_cookie, set_cookie};
pub use pages::{
    escape_html, json, json_ok, not_found_text, page, permanent_redirect, redirect, text,
};
pub use refusal::{Reason, Refusal};

/// The body type of every response frontdoor returns: upstream bodies stream through it.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Wraps fixed bytes as a [`Body`].
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A response frontdoor made itself, as the answer to `HEAD` when `head`: the same status
/// and headers, with the length the body would have had, and no body. hyper leaves the
/// body out for HTTP/1.1 itself but sends it over HTTP/2, where a HEAD response with DATA
/// is a protocol error to the client (curl, nghttp, httpx all fail).
pub fn for_head(response: Response<Body>, head: bool) -> Response<Body> {
    if !head {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    if let Some(length) = http_body::Body::size_hint(&body).exact()
        && !parts.headers.contains_key(header::CONTENT_LENGTH)
    {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
    }
    Response::from_parts(parts, full(Bytes::new()))
}

/// Whether the client prefers a JSON answer (API clients) over an HTML page (browsers).
pub fn wants_json(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json") || v.contains("+json"))
}
