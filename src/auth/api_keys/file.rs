//! The key file (`[auth.api_keys] file`): one `[[key]]` per key, written by `frontdoor key`
//! with mode 0600. It holds each key's SHA-256, never the key.
//!
//! ```toml
//! [[key]]
//! name = "ci"
//! id = "Zq3N0pXa"
//! sha256 = "9f86d0..."
//! routes = ["/api/jobs"]       # optional: these paths and below only
//! methods = ["GET"]            # optional: these methods only
//! created = "2026-12-03T10:50:00Z"
//! expires = "2027-03-01T00:00:00Z"   # optional
//! ```

use std::path::{Path, PathBuf};

use http::Method;
use serde::{Deserialize, Serialize};

use super::format::ID_LEN;
use crate::policy::normalize::normalize_path;

/// The file as written: what `frontdoor key` reads and writes back.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    #[serde(default, rename = "key")]
    pub keys: Vec<KeyRecord>,
}

/// One `[[key]]` as written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    pub name: String,
    pub id: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// One key, checked: what a request is compared with.
#[derive(Debug)]
pub struct KeyEntry {
    pub name: String,
    pub id: String,
    pub digest: [u8; 32],
    /// Normalized paths; empty: every route that allows keys.
    pub routes: Vec<String>,
    /// Empty: every method.
    pub methods: Vec<Method>,
    pub created: i64,
    pub expires: Option<i64>,
}

impl KeyEntry {
    /// Whether the key's scope covers this request (paths at segment boundaries, like
    /// routes; a key for GET may also HEAD).
    pub fn allows(&self, method: &Method, path: &str) -> bool {
        let path_ok = self.routes.is_empty()
            || self.routes.iter().any(|r| {
                r == "/"
                    || path == r
                    || (path.starts_with(r.as_str()) && path.as_bytes().get(r.len()) == Some(&b'/'))
            });
        let method_ok = self.methods.is_empty()
            || self.methods.contains(method)
            || (*method == Method::HEAD && self.methods.contains(&Method::GET));
        path_ok && method_ok
    }

    pub fn is_expired(&self, now: i64) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }
}

/// Why a key file cannot be used. Each names the file once, the key entry and the field,
/// and what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read API key file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "API key file {path}: {message}; fix: correct it, or remove it and add the keys again with `frontdoor key add`"
    )]
    Syntax { path: PathBuf, message: String },
    #[error("API key file {path}: key[{index}] ({name}) {field}: {problem}")]
    Invalid {
        path: PathBuf,
        index: usize,
        name: String,
        field: &'static str,
        problem: String,
    },
    #[error("cannot write API key file {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Whether a key name may be used: it is what the upstream and the access log see.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

/// A scope path in normal form (as routes must be written), or why not.
pub fn scope_path(written: &str) -> Result<String, String> {
    let normalized = normalize_path(written).map_err(|e| format!("`{written}`: {e}"))?;
    let path = if normalized.len() > 1 {
        normalized.trim_end_matches('/').to_string()
    } else {
        normalized
    };
    if path != written.trim_end_matches('/') && !(path == "/" && written == "/") {
        return Err(format!("`{written}` is not in normal form; write `{path}`"));
    }
    Ok(path)
}

/// A method name as routes take it (upper case), or why not.
pub fn scope_method(written: &str) -> Result<Method, String> {
    let upper = written.to_ascii_uppercase();
    match Method::from_bytes(upper.as_bytes()) {
        Ok(m) if m != Method::CONNECT => Ok(m),
        _ => Err(format!("`{written}` is not a method a route can allow")),
    }
}

impl KeyFile {
    /// Reads the file; a missing file is an empty one only when `missing_ok`.
    pub fn read(path: &Path, missing_ok: bool) -> Result<KeyFile, KeyFileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(KeyFile::default());
            }
            Err(error) => {
                return Err(KeyFileError::Read {
                    path: path.to_path_buf(),
                    error,
                });
            }
        };
        Self::parse(&text, path)
    }

    /// Reads the file's text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<KeyFile, KeyFileError> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let at = e
                .span()
                .map(|span| {
                    let before = text.get(..span.start).unwrap_or(text);
                    format!("line {}: ", before.matches('\n').count() + 1)
                })
                .unwrap_or_default();
            KeyFileError::Syntax {
                path: path.to_path_buf(),
                message: format!("{at}{}", e.message()),
            }
        })
    }

    /// Writes the file atomically with mode 0600 (a reader never sees half of it).
    pub fn write(&self, path: &Path) -> Result<(), KeyFileError> {
        let mut text = String::from(
            "# frontdoor API keys, written by `frontdoor key`. Only each key's SHA-256 is kept\n\
             # here: a lost key cannot be recovered, only rotated (`frontdoor key rotate NAME`).\n\n",
        );
        text.push_str(&toml::to_string(self).unwrap_or_default());
        crate::files::write_private(path, text.as_bytes()).map_err(|error| KeyFileError::Write {
            path: path.to_path_buf(),
            error,
        })
    }

    /// Every record checked; the first problem names the entry and field.
    pub fn entries(&self, path: &Path) -> Result<Vec<KeyEntry>, KeyFileError> {
        let mut seen_ids = std::collections::HashSet::new();
        let mut entries = Vec::with_capacity(self.keys.len());
        for (index, record) in self.keys.iter().enumerate() {
            let invalid = |field: &'static str, problem: String| KeyFileError::Invalid {
                path: path.to_path_buf(),
                index,
                name: record.name.clone(),
                field,
                problem,
            };
            if !valid_name(&record.name) {
                return Err(invalid(
                    "name",
                    "must be 1 to 64 letters, digits, '-', '_', '.' or '@'".to_string(),
                ));
            }
            if record.id.len() != ID_LEN || !record.id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(invalid(
                    "id",
                    format!("must be {ID_LEN} letters or digits, as `frontdoor key add` writes it"),
                ));
            }
            if !seen_ids.insert(record.id.clone()) {
                return Err(invalid(
                    "id",
                    "appears twice: remove one of the entries".to_string(),
                ));
            }
            let digest = decode_hex32(&record.sha256).ok_or_else(|| {
                invalid(
                    "sha256",
                    "must be 64 hex digits (the SHA-256 of the key)".to_string(),
                )
            })?;
            let routes = record
                .routes
                .iter()
                .map(|r| scope_path(r))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|p| invalid("routes", p))?;
            let methods = record
                .methods
                .iter()
                .map(|m| scope_method(m))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|p| invalid("methods", p))?;
            let date = |field: &'static str, text: &str| {
                crate::clock::parse_rfc3339(text).ok_or_else(|| {
                    invalid(
                        field,
                        format!("`{text}` is not a date like 2027-03-01 or 2027-03-01T12:00:00Z"),
                    )
                })
            };
            let created = date("created", &record.created)?;
            let expires = match &record.expires {
                None => None,
                Some(text) => Some(date("expires", text)?),
            };
            entries.push(KeyEntry {
                name: record.name.clone(),
                id: record.id.clone(),
                digest,
                routes,
                methods,
                created,
                expires,
            });
        }
        Ok(entries)
    }
}

/// 64 hex digits as 32 bytes.
fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Bytes as lower-case hex digits (a digest, a signature).
pub fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(routes: &[&str], methods: &[Method]) -> KeyEntry {
        KeyEntry {
            name: "ci".into(),
            id: "AAAAAAAA".into(),
            digest: [0; 32],
            routes: routes.iter().map(|r| r.to_string()).collect(),
            methods: methods.to_vec(),
            created: 0,
            expires: None,
        }
    }

    /// Scopes match whole segments, like routes; GET allows HEAD.
    #[test]
    fn scope_matching() {
        let key = entry(&["/api/jobs"], &[Method::GET]);
        assert!(key.allows(&Method::GET, "/api/jobs"));
        assert!(key.allows(&Method::GET, "/api/jobs/7"));
        assert!(key.allows(&Method::HEAD, "/api/jobs"));
        assert!(!key.allows(&Method::GET, "/api/jobsx"));
        assert!(!key.allows(&Method::GET, "/api"));
        assert!(!key.allows(&Method::POST, "/api/jobs"));
        let any = entry(&[], &[]);
        assert!(any.allows(&Method::DELETE, "/anything"));
        let root = entry(&["/"], &[]);
        assert!(root.allows(&Method::GET, "/x/y"));
    }

    /// A broken entry is named by index, name and field.
    #[test]
    fn invalid_entries_are_named() {
        let record = KeyRecord {
            name: "ci".into(),
            id: "Zq3N0pXa".into(),
            sha256: "ab".repeat(32),
            routes: vec!["/api/../admin".into()],
            methods: vec![],
            created: "2026-12-03T10:00:00Z".into(),
            expires: None,
        };
        let file = KeyFile {
            keys: vec![record.clone()],
        };
        let message = file
            .entries(Path::new("keys.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("key[0] (ci) routes"), "{message}");
        assert!(message.contains("write `/admin`"), "{message}");
        let mut bad_date = record.clone();
        bad_date.routes.clear();
        bad_date.expires = Some("2027-02-30".into());
        let message = KeyFile {
            keys: vec![bad_date],
        }
        .entries(Path::new("keys.toml"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            message.contains("expires: `2027-02-30` is not a date"),
            "{message}"
        );
        let mut twice = record.clone();
        twice.routes.clear();
        let message = KeyFile {
            keys: vec![twice.clone(), twice],
        }
        .entries(Path::new("keys.toml"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            message.contains("key[1] (ci) id: appears twice"),
            "{message}"
        );
    }
}
