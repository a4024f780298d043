//! API keys for programs (`auth = ["api_key"]`): a CI job, a bot, an agent's own tools.
//! The key file holds each key's SHA-256 (keys are 256 random bits, so a slow hash would
//! add nothing), its name, scope and dates; it is re-read when it changes (within a second)
//! and on SIGHUP, and a file that cannot be used keeps the previous keys. When each key was
//! last used is kept beside it (`FILE.last-used`), for `frontdoor key list` and `check`.

pub mod commands;
pub mod file;
pub mod format;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use arc_swap::ArcSwap;
use subtle::ConstantTimeEq;

use crate::files::FileWatch;
pub use file::{KeyEntry, KeyFile, KeyFileError};

/// A key in force and when it was last used (Unix seconds, 0: not known).
#[derive(Debug)]
pub struct LiveKey {
    pub entry: KeyEntry,
    last_used: AtomicI64,
}

impl LiveKey {
    pub fn last_used(&self) -> Option<i64> {
        Some(self.last_used.load(Ordering::Relaxed)).filter(|&t| t > 0)
    }
}

/// What a presented key turned out to be.
#[derive(Debug)]
pub enum KeyVerdict {
    Valid(Arc<LiveKey>),
    /// Not a key's shape, or its checksum is wrong: a typo or a guess.
    Malformed,
    /// Well formed, but no key in the file has this id and digest (never added, revoked,
    /// or its rotation grace ended and it was removed).
    Unknown,
    /// In the file, but past its expiry date.
    Expired(Arc<LiveKey>),
}

/// The keys of `[auth.api_keys]`, shared by all connections.
pub struct ApiKeys {
    pub path: PathBuf,
    keys: ArcSwap<HashMap<String, Arc<LiveKey>>>,
    /// What the file looked like when last read, to notice changes cheaply.
    watch: FileWatch,
    /// A last-used time changed since the side file was written.
    used_changed: AtomicBool,
}

impl ApiKeys {
    /// Reads the key file and the last-used times beside it. A file that does not exist
    /// yet holds no keys (`frontdoor key add` creates it, and a running server picks it up
    /// within a second).
    pub fn load(path: PathBuf) -> Result<ApiKeys, KeyFileError> {
        let watch = FileWatch::new(&path);
        let entries = KeyFile::read(&path, true)?.entries(&path)?;
        let used = read_last_used(&last_used_path(&path));
        let keys = build(entries, |id| used.get(id).copied().unwrap_or(0));
        Ok(ApiKeys {
            path,
            keys: ArcSwap::from_pointee(keys),
            watch,
            used_changed: AtomicBool::new(false),
        })
    }

    /// Re-reads the file if it changed since the last read (or always, with `force`).
    /// None when nothing was read; else the new key count, or the error that kept the
    /// previous keys in force.
    pub fn reload(&self, force: bool) -> Option<Result<usize, KeyFileError>> {
        if !self.watch.changed(&self.path, force) {
            return None;
        }
        let entries = match KeyFile::read(&self.path, true).and_then(|f| f.entries(&self.path)) {
            Ok(entries) => entries,
            Err(e) => return Some(Err(e)),
        };
        let old = self.keys.load_full();
        let keys = build(entries, |id| {
            old.get(id)
                .map_or(0, |k| k.last_used.load(Ordering::Relaxed))
        });
        let count = keys.len();
        self.keys.store(Arc::new(keys));
        Some(Ok(count))
    }

    /// Checks a presented key: its shape and checksum first (no lookup for a typo), then
    /// its id, then its digest in constant time, then its expiry.
    pub fn verify(&self, presented: &str, now: i64) -> KeyVerdict {
        let Some(parsed) = format::parse(presented) else {
            return KeyVerdict::Malformed;
        };
        let keys = self.keys.load();
        let Some(key) = keys.get(parsed.id) else {
            return KeyVerdict::Unknown;
        };
        let digest = format::digest(parsed.text);
        if !bool::from(digest.ct_eq(&key.entry.digest)) {
            return KeyVerdict::Unknown;
        }
        if key.entry.is_expired(now) {
            return KeyVerdict::Expired(key.clone());
        }
        // Minute resolution: the side file is rewritten at most once a minute anyway.
        let minute = now - now.rem_euclid(60);
        if key.last_used.fetch_max(minute, Ordering::Relaxed) < minute {
            self.used_changed.store(true, Ordering::Relaxed);
        }
        KeyVerdict::Valid(key.clone())
    }

    /// The keys in force.
    pub fn keys(&self) -> Vec<Arc<LiveKey>> {
        self.keys.load().values().cloned().collect()
    }

    /// Writes the last-used times beside the key file when one changed; an error is
    /// returned (and retried at the next change) but never stops a key from working.
    pub fn save_last_used(&self) -> std::io::Result<bool> {
        if !self.used_changed.swap(false, Ordering::Relaxed) {
            return Ok(false);
        }
        let side = last_used_path(&self.path);
        let mut used = read_last_used(&side);
        for key in self.keys.load().values() {
            if let Some(t) = key.last_used() {
                let slot = used.entry(key.entry.id.clone()).or_insert(0);
                *slot = (*slot).max(t);
            }
        }
        let mut lines: Vec<String> = used
            .iter()
            .map(|(id, t)| format!("{id} {}", crate::clock::format_rfc3339(*t)))
            .collect();
        lines.sort();
        let text = format!(
            "# When each API key (by id) was last used, kept by frontdoor serve.\n{}\n",
            lines.join("\n")
        );
        crate::files::write_private(&side, text.as_bytes())
            .inspect_err(|_| self.used_changed.store(true, Ordering::Relaxed))?;
        Ok(true)
    }
}

fn build(entries: Vec<KeyEntry>, last_used: impl Fn(&str) -> i64) -> HashMap<String, Arc<LiveKey>> {
    entries
        .into_iter()
        .map(|entry| {
            let used = last_used(&entry.id);
            (
                entry.id.clone(),
                Arc::new(LiveKey {
                    entry,
                    last_used: AtomicI64::new(used),
                }),
            )
        })
        .collect()
}

/// `FILE.last-used`, beside the key file.
pub fn last_used_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".last-used");
    path.with_file_name(name)
}

/// The last-used times by key id (empty when the side file is missing or unreadable; a
/// bad line is skipped).
pub fn read_last_used(path: &Path) -> HashMap<String, i64> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    parse_last_used(&text)
}

/// The side file's lines (`ID TIME`), a bad line skipped.
pub fn parse_last_used(text: &str) -> HashMap<String, i64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (id, when) = l.split_once(' ')?;
            Some((id.to_string(), crate::clock::parse_rfc3339(when.trim())?))
        })
        .collect()
}
