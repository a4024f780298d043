//! The sealed cookies of OIDC login: the session of a signed-in person, and the short-lived
//! state of a login in progress. Both are encrypted and authenticated with the cookie crate's
//! private jar (AES-256-GCM, the cookie's name as associated data) under `session.cookie_key`;
//! `previous_keys` still open cookies sealed before a key rotation.

use cookie::{Cookie, CookieJar, Key};
use http::HeaderMap;
use serde::{Deserialize, Serialize};

/// The session cookie's name; its value is split over `NAME_0`, `NAME_1`, ... chunks.
pub const SESSION_COOKIE: &str = "__Host-fd_session";
/// Login state cookies are `LOGIN_PREFIX` + the first characters of the state.
pub const LOGIN_PREFIX: &str = "__Host-fd_login_";
/// Every cookie frontdoor sets starts with this; none of them is forwarded upstream.
pub const OWN_COOKIE_PREFIX: &str = "__Host-fd_";
/// Browsers keep at least 4096 bytes per cookie (name, value and attributes).
const CHUNK_BYTES: usize = 3800;
/// More chunks than this is not a session frontdoor wrote.
const MAX_CHUNKS: usize = 8;

/// A signed-in person, as kept in the session cookie.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When the session ends (Unix seconds), whatever the refreshes.
    pub exp: i64,
    /// When the claims were last fetched from the provider.
    pub refreshed: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// For the provider's logout (`id_token_hint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// How the person signed in (sessions written before this field are OIDC ones).
    #[serde(default, skip_serializing_if = "SignInMethod::is_oidc")]
    pub method: SignInMethod,
}

/// How a session was started.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    /// At the OpenID provider.
    #[default]
    Oidc,
    /// frontdoor's sign-in page, password only.
    Password,
    /// frontdoor's sign-in page, password and a one-time code.
    PasswordTotp,
}

impl SignInMethod {
    pub fn is_oidc(&self) -> bool {
        *self == SignInMethod::Oidc
    }
}

/// A login in progress, bound to the browser that started it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoginState {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// A same-origin path to return to.
    pub return_to: String,
    pub created: i64,
}

/// Seals and opens cookie values with the current key, opening with previous keys too.
pub struct Sealer {
    current: Key,
    previous: Vec<Key>,
}

/// What opening a cookie found.
pub struct Opened {
    pub plaintext: String,
    /// Sealed under a previous key: write it again under the current one.
    pub stale_key: bool,
}

impl Sealer {
    /// `current` and each of `previous` must be at least 32 bytes (config validation
    /// guarantees it; shorter keys are skipped here rather than panicking).
    pub fn new(current: &[u8], previous: &[Vec<u8>]) -> Option<Sealer> {
        let derive = |k: &[u8]| (k.len() >= 32).then(|| Key::derive_from(k));
        Some(Sealer {
            current: derive(current)?,
            previous: previous.iter().filter_map(|k| derive(k)).collect(),
        })
    }

    pub fn seal(&self, name: &str, plaintext: &str) -> Option<String> {
        let mut jar = CookieJar::new();
        jar.private_mut(&self.current)
            .add(Cookie::new(name.to_string(), plaintext.to_string()));
        jar.get(name).map(|c| c.value().to_string())
    }

    pub fn open(&self, name: &str, sealed: &str) -> Option<Opened> {
        let jar = CookieJar::new();
        for (index, key) in std::iter::once(&self.current)
            .chain(self.previous.iter())
            .enumerate()
        {
            let cookie = Cookie::new(name.to_string(), sealed.to_string());
            if let Some(opened) = jar.private(key).decrypt(cookie) {
                return Some(Opened {
                    plaintext: opened.value().to_string(),
                    stale_key: index > 0,
                });
            }
        }
        None
    }
}

/// The `name=value` pairs of every Cookie header (HTTP/2 may send several).
pub fn request_cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .map(|c| (c.name().to_string(), c.value().to_string()))
        .collect()
}

/// A cookie's value, when the name occurs exactly once.
pub fn cookie_value<'a>(cookies: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut found = cookies.iter().filter(|(n, _)| n == name);
    match (found.next(), found.next()) {
        // A duplicated name is ambiguous (a cookie planted for a subdomain, say): none.
        (Some((_, value)), None) => Some(value.as_str()),
        _ => None,
    }
}

/// The session a request carries, opened (and whether under a previous key), and how many
/// chunks its cookie had.
pub fn open_session(sealer: &Sealer, headers: &HeaderMap) -> (Option<(Session, bool)>, usize) {
    let cookies = request_cookies(headers);
    let (value, chunks) = session_value(&cookies);
    let opened = value
        .and_then(|v| sealer.open(SESSION_COOKIE, &v))
        .and_then(|o| {
            serde_json::from_str::<Session>(&o.plaintext)
                .ok()
                .map(|s| (s, o.stale_key))
        });
    (opened, chunks)
}

/// The sealed session value reassembled from its chunks, and how many chunks there were.
pub fn session_value(cookies: &[(String, String)]) -> (Option<String>, usize) {
    let mut value = String::new();
    let mut count = 0;
    while count < MAX_CHUNKS {
        match cookie_value(cookies, &format!("{SESSION_COOKIE}_{count}")) {
            Some(chunk) => value.push_str(chunk),
            None => break,
        }
        count += 1;
    }
    ((count > 0).then_some(value), count)
}

/// `Set-Cookie` values that store `sealed` as the session (split into chunks, never
/// truncated) and clear chunks left over from a longer one.
pub fn set_session(sealed: &str, max_age_secs: i64, old_chunks: usize) -> Vec<String> {
    let chunks: Vec<&str> = sealed
        .as_bytes()
        .chunks(CHUNK_BYTES)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    let mut out: Vec<String> = chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| set_cookie(&format!("{SESSION_COOKIE}_{i}"), chunk, max_age_secs))
        .collect();
    for i in chunks.len()..old_chunks {
        out.push(clear_cookie(&format!("{SESSION_COOKIE}_{i}")));
    }
    out
}

/// `Set-Cookie` values that remove the session (every chunk the browser sent, and one).
pub fn clear_session(old_chunks: usize) -> Vec<String> {
    (0..old_chunks.max(1))
        .map(|i| clear_cookie(&format!("{SESSION_COOKIE}_{i}")))
        .collect()
}

pub use crate::responses::{clear_cookie, set_cookie};

/// The login cookie's name for a state: several logins (tabs) can be in progress at once.
pub fn login_cookie_name(state: &str) -> String {
    let prefix: String = state.chars().take(16).collect();
    format!("{LOGIN_PREFIX}{prefix}")
}

pub fn login_cookie<'a>(cookies: &'a [(String, String)], state: &str) -> Option<&'a str> {
    cookie_value(cookies, &login_cookie_name(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-current";
    const OLD: &[u8] = b"0123456789abcdef0123456789abcdef-previous";

    fn sealer(current: &[u8], previous: &[&[u8]]) -> Sealer {
        let previous: Vec<Vec<u8>> = previous.iter().map(|k| k.to_vec()).collect();
        Sealer::new(current, &previous).unwrap_or_else(|| panic!("key"))
    }

    /// Sealed values open with the right key and name only; a modified value does not open;
    /// a previous key opens and is reported stale.
    #[test]
    fn sealing() {
        let s = sealer(KEY, &[]);
        let sealed = s.seal("a", "secret").unwrap_or_else(|| panic!("seal"));
        assert!(!sealed.contains("secret"));
        assert_eq!(
            s.open("a", &sealed).map(|o| o.plaintext),
            Some("secret".into())
        );
        assert!(s.open("b", &sealed).is_none(), "the name is authenticated");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap_or_default();
        assert!(s.open("a", &tampered).is_none());

        let old = sealer(OLD, &[]).seal("a", "x").unwrap_or_default();
        assert!(
            s.open("a", &old).is_none(),
            "a rotated-out key no longer opens"
        );
        let rotated = sealer(KEY, &[OLD]);
        let opened = rotated
            .open("a", &old)
            .unwrap_or_else(|| panic!("previous key"));
        assert!(opened.stale_key);
        assert!(Sealer::new(b"short", &[]).is_none());
    }

    /// A long session is split over several cookies and put back together; stale chunks of
    /// a longer one are cleared.
    #[test]
    fn chunks() {
        let sealed = "x".repeat(CHUNK_BYTES * 2 + 10);
        let set = set_session(&sealed, 60, 4);
        assert_eq!(set.len(), 4);
        assert!(set[3].starts_with("__Host-fd_session_3=;") && set[3].contains("Max-Age=0"));
        let cookies: Vec<(String, String)> = set[..3]
            .iter()
            .map(|c| {
                let (pair, _) = c.split_once(';').unwrap_or_default();
                let (n, v) = pair.split_once('=').unwrap_or_default();
                (n.to_string(), v.to_string())
            })
            .collect();
        assert_eq!(session_value(&cookies), (Some(sealed), 3));
        let mut doubled = cookies.clone();
        doubled.push(cookies[0].clone());
        assert_eq!(
            session_value(&doubled).0,
            None,
            "a duplicated chunk is refused"
        );
    }
}
