//! The `Set-Cookie` values frontdoor sends: its `__Host-` cookies (Secure, HttpOnly,
//! SameSite=Lax, Path=/, no Domain), written by the `cookie` crate.

use cookie::{Cookie, SameSite};
use http::Response;
use http::header::{self, HeaderValue};

use super::Body;

/// A `__Host-` cookie that lives `max_age_secs`.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64) -> String {
    Cookie::build((name, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build()
        .to_string()
}

/// Removes a cookie set by [`set_cookie`].
pub fn clear_cookie(name: &str) -> String {
    set_cookie(name, "", 0)
}

/// Adds one `Set-Cookie` field to a response.
pub fn append_cookie(response: &mut Response<Body>, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attributes a `__Host-` cookie needs, and a clearing cookie that expires now.
    #[test]
    fn host_cookie_attributes() {
        let set = set_cookie("__Host-fd_session_0", "abc", 60);
        assert!(set.starts_with("__Host-fd_session_0=abc;"), "{set}");
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(set.split("; ").any(|a| a == attr), "{attr} missing: {set}");
        }
        assert!(!set.contains("Domain"));
        let clear = clear_cookie("__Host-fd_session_0");
        assert!(clear.starts_with("__Host-fd_session_0=;"), "{clear}");
        assert!(clear.contains("Max-Age=0"));
    }
}
