//! HTTP Basic login against an htpasswd file: header parsing, verification on the blocking
//! pool with a bound on concurrent hashes, and a cache of recent successful verifications.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::htpasswd::{HtpasswdError, HtpasswdFile};
use crate::files::FileWatch;

/// How long a successful verification is remembered.
const CACHE_TTL: Duration = Duration::from_secs(300);
/// Upper bound on remembered verifications; past it the cache starts over.
const CACHE_MAX_ENTRIES: usize = 10_000;

/// The longest user name accepted.
pub const MAX_USER_BYTES: usize = 256;

/// Credentials from an `Authorization: Basic` header. A header that is not well-formed Basic
/// is "no credentials" (answered 401), never an error that could panic or leak.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    pub user: String,
    pub password: Vec<u8>,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("user", &self.user)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Parses an `Authorization` header value as Basic credentials.
pub fn parse_basic_header(value: &[u8]) -> Option<BasicCredentials> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let user = std::str::from_utf8(decoded.get(..colon)?).ok()?;
    // Long names are not user names: refusing them also bounds what the lockout tables
    // keep per attempt.
    if user.is_empty() || user.len() > MAX_USER_BYTES || user.bytes().any(|b| b.is_ascii_control())
    {
        return None;
    }
    Some(BasicCredentials {
        user: user.to_string(),
        password: decoded.get(colon + 1..)?.to_vec(),
    })
}

/// What checking a password found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Matched a recent successful verification (no hash computed).
    Cached,
    /// The hash verified.
    Verified,
    Rejected,
}

/// The loaded users of one `[auth.basic]`, shared by all connections.
pub struct BasicAuth {
    pub realm: String,
    pub path: PathBuf,
    users: ArcSwap<HtpasswdFile>,
    /// Bounds concurrent hash computations so a flood of wrong passwords cannot take every
    /// core; requests beyond it wait their turn.
    verify_slots: Arc<Semaphore>,
    cache: VerifiedCache,
    /// What the file looked like when last read, to notice changes cheaply.
    watch: FileWatch,
}

impl BasicAuth {
    pub fn load(path: PathBuf, realm: String) -> Result<BasicAuth, HtpasswdError> {
        let watch = FileWatch::new(&path);
        let users = HtpasswdFile::load(&path)?;
        let slots = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(BasicAuth {
            realm,
            path,
            users: ArcSwap::from_pointee(users),
            verify_slots: Arc::new(Semaphore::new(slots)),
            cache: VerifiedCache::new(),
            watch,
        })
    }

    /// Re-reads the file if it changed since the last read (or always, with `force`).
    /// Returns None when nothing was read, the new user count, or the error that kept the
    /// previous users in force.
    pub fn reload(&self, force: bool) -> Option<Result<usize, HtpasswdError>> {
        if !self.watch.changed(&self.path, force) {
            return None;
        }
        Some(HtpasswdFile::load(&self.path).map(|users| {
            for issue in users.issues() {
                tracing::warn!(file = %self.path.display(), line = issue.line, "htpasswd line skipped: {}", issue.reason);
            }
            let count = users.len();
            self.replace_users(users);
            count
        }))
    }

    /// The users currently in force.
    pub fn users(&self) -> Arc<HtpasswdFile> {
        self.users.load_full()
    }

    /// Replaces the users (after a reload) and forgets every cached verification.
    pub fn replace_users(&self, users: HtpasswdFile) {
        self.users.store(Arc::new(users));
        self.cache.clear();
    }

    /// Whether these credentials verified recently (one HMAC, no hash).
    pub fn is_cached(&self, credentials: &BasicCredentials) -> bool {
        self.cache.contains(&self.cache.key(credentials))
    }

    /// Whether these credentials are valid. A cached success costs one HMAC; otherwise the
    /// hash is verified on the blocking pool.
    pub async fn verify(&self, credentials: &BasicCredentials) -> Verification {
        let key = self.cache.key(credentials);
        if self.cache.contains(&key) {
            return Verification::Cached;
        }
        // The permit moves into the blocking task: if the request is abandoned mid-hash,
        // the slot stays taken until the hash really ends, so abandoned requests cannot
        // queue unbounded work.
        let Ok(slot) = self.verify_slots.clone().acquire_owned().await else {
            return Verification::Rejected;
        };
        let users = self.users.load_full();
        let user = credentials.user.clone();
        let password = credentials.password.clone();
        let ok = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            users.verify(&user, &password)
        })
        .await
        .unwrap_or(false);
        if ok {
            self.cache.insert(key);
            Verification::Verified
        } else {
            Verification::Rejected
        }
    }
}

/// Successful verifications, keyed by HMAC-SHA256 of user and password under a random
/// per-process key: the cache never holds a password or anything that could be brute-forced
/// offline without that key.
struct VerifiedCache {
    hmac_key: [u8; 32],
    entries: Mutex<HashMap<[u8; 32], Instant>>,
}

impl VerifiedCache {
    fn new() -> Self {
        let mut hmac_key = [0u8; 32];
        // Without randomness the key would be predictable: `insert` then caches nothing.
        if getrandom::fill(&mut hmac_key).is_err() {
            hmac_key = [0u8; 32];
        }
        VerifiedCache {
            hmac_key,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, credentials: &BasicCredentials) -> [u8; 32] {
        let mut message =
            Vec::with_capacity(credentials.user.len() + credentials.password.len() + 1);
        message.extend_from_slice(credentials.user.as_bytes());
        message.push(0);
        message.extend_from_slice(&credentials.password);
        hmac_sha256(&self.hmac_key, &message)
    }

    fn contains(&self, key: &[u8; 32]) -> bool {
        let Ok(entries) = self.entries.lock() else {
            return false;
        };
        entries.get(key).is_some_and(|at| at.elapsed() < CACHE_TTL)
    }

    fn insert(&self, key: [u8; 32]) {
        if self.hmac_key == [0u8; 32] {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CACHE_MAX_ENTRIES {
            entries.retain(|_, at| at.elapsed() < CACHE_TTL);
            if entries.len() >= CACHE_MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, Instant::now());
    }

    fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// HMAC (RFC 2104) over SHA-256.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(raw: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// The password may contain colons; only the first one separates the user.
    #[test]
    fn parses_user_and_password() {
        let c = parse_basic_header(header("alice:pa:ss").as_bytes());
        assert_eq!(
            c,
            Some(BasicCredentials {
                user: "alice".into(),
                password: b"pa:ss".to_vec()
            })
        );
        let c = parse_basic_header(format!("bAsIc  {}", &header("bob:")[6..]).as_bytes());
        assert_eq!(c.map(|c| c.password), Some(Vec::new()), "empty password");
    }

    /// Malformed headers are "no credentials", never a panic.
    #[test]
    fn malformed_headers_are_none() {
        for bad in [
            "".to_string(),
            "Basic".to_string(),
            "Basic !!!".to_string(),
            "Bearer abc".to_string(),
            header("nocolon"),
            header(":emptyuser"),
            header("a\u{1}b:x"),
            "Basic \u{ff}".to_string(),
        ] {
            assert_eq!(parse_basic_header(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(parse_basic_header(&[0xff, 0xfe, b' ', b'x']), None);
    }

    /// RFC 4231 test case 2 shape: HMAC differs from a plain hash and depends on the key.
    #[test]
    fn hmac_depends_on_key() {
        let a = hmac_sha256(&[1; 32], b"alice\0pw");
        let b = hmac_sha256(&[2; 32], b"alice\0pw");
        assert_ne!(a, b);
        assert_ne!(a, hmac_sha256(&[1; 32], b"alice\0pX"));
    }

    /// Debug output never shows the password.
    #[test]
    fn debug_redacts_password() {
        let c = BasicCredentials {
            user: "u".into(),
            password: b"hunter2".to_vec(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
