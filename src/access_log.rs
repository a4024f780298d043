//! Owns the access log: the record a request fills in as it moves along, the one line
//! written per request, and the redaction that keeps secrets out of it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{Method, Response};

use crate::limits;
use crate::policy::percent::decode_lossy;
use crate::responses::{Body, Reason};

/// What the access log says about one request, filled in as the request moves along.
pub struct AccessRecord {
    pub peer: SocketAddr,
    pub method: Method,
    pub path: String,
    /// The query with secret-looking values replaced by `[redacted]`.
    pub query: Option<String>,
    /// The route that applied (its path), shared with the config: no copy per request.
    pub route: Option<Arc<str>>,
    pub user: Option<String>,
    pub denied: Option<Reason>,
    /// Cookies to set on whatever the answer is (a renewed or ended session, a login).
    pub set_cookies: Vec<String>,
}

impl AccessRecord {
    pub fn new(peer: SocketAddr, method: Method) -> Self {
        AccessRecord {
            peer,
            method,
            path: String::new(),
            query: None,
            route: None,
            user: None,
            denied: None,
            set_cookies: Vec::new(),
        }
    }
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
        let decoded = decode_lossy(key).to_ascii_lowercase();
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

/// One line per request. Never a password, token, cookie or Authorization value; the
/// query only as `redact_query` leaves it.
pub fn log_access(record: &AccessRecord, response: &Response<Body>, started: Instant) {
    let status = response.status().as_u16();
    let bytes = limits::declared_length(response.headers());
    // Microsecond precision: `0.504`, not `0.5044690000000001`.
    let duration_ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let route = record.route.as_deref().unwrap_or("-");
    let user = record.user.as_deref().unwrap_or("-");
    let query = record.query.as_deref().unwrap_or("");
    match record.denied {
        Some(reason) if reason.is_upstream_failure() => tracing::info!(
            target: "frontdoor::access",
            client = %record.peer.ip(),
            method = %record.method,
            path = %record.path,
            query,
            status,
            route,
            user,
            reason = reason.as_str(),
            duration_ms,
            "UPSTREAM FAILED"
        ),
        Some(reason) => tracing::info!(
            target: "frontdoor::access",
            client = %record.peer.ip(),
            method = %record.method,
            path = %record.path,
            query,
            status,
            route,
            user,
            reason = reason.as_str(),
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
