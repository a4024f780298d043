//! Writing files that hold secrets: owner-only, and atomically, so a reader (a reload, a
//! restart) never sees half a file.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Writes `content` to a hidden temporary file beside `path` with mode 0600, syncs it and
/// renames it over `path`; a missing parent folder is created with mode 0700.
pub fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    let tmp = path.with_file_name(format!(".{name}.frontdoor-tmp"));
    // A leftover from a crash would keep its old mode: `mode` applies to new files only.
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(content)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Enough of a file's metadata to notice a rewrite, an in-place edit or a rename over it
/// (certbot and `frontdoor passwd` rename new files into place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFingerprint {
    modified: Option<std::time::SystemTime>,
    len: u64,
    inode: u64,
}

/// The file's fingerprint, or None if it cannot be read.
pub fn fingerprint(path: &Path) -> Option<FileFingerprint> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(FileFingerprint {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode: meta.ino(),
    })
}

/// A file that is re-read when it changes (the htpasswd file, the API key file): remembers
/// the fingerprint of the version last read.
#[derive(Debug)]
pub struct FileWatch {
    seen: std::sync::Mutex<Option<FileFingerprint>>,
}

impl FileWatch {
    /// Watches `path` from its current version (the one just read).
    pub fn new(path: &Path) -> FileWatch {
        FileWatch {
            seen: std::sync::Mutex::new(fingerprint(path)),
        }
    }

    /// Whether `path` should be read again: it changed since the last call, or `force`.
    /// The new version is remembered even if reading it then fails, so a broken file is
    /// reported once and the next change is read again.
    pub fn changed(&self, path: &Path, force: bool) -> bool {
        let now = fingerprint(path);
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if !force && *seen == now {
            return false;
        }
        *seen = now;
        true
    }
}
