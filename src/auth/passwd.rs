//! Editing htpasswd files the way Apache's `htpasswd` does (`frontdoor passwd`): add or
//! change a user, delete one, verify one, keeping every other line and comment as it was,
//! and writing atomically with mode 0600.

use std::path::{Path, PathBuf};

use super::htpasswd::{HtpasswdError, HtpasswdFile, hash_apr1, hash_argon2id, hash_bcrypt};

/// The hash written for a new or changed password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFormat {
    /// The default: memory-hard, and what frontdoor itself prefers.
    Argon2id,
    /// `-B`, for files other servers (nginx, Apache) must read too.
    Bcrypt { cost: u32 },
    /// `-m`, for legacy readers only.
    Apr1,
}

/// Why an edit failed; `exit_code` follows Apache's htpasswd.
#[derive(Debug, thiserror::Error)]
pub enum PasswdError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Apache's htpasswd: "cannot modify file ...; use '-c' to create it".
    #[error("{path} does not exist; use -c to create it")]
    NoSuchFile { path: PathBuf },
    #[error("{0}")]
    Hash(#[from] HtpasswdError),
    /// A user name with ':' or control characters would corrupt the file.
    #[error("user name `{0}` must be 1-255 characters without ':' or control characters")]
    BadUserName(String),
    #[error("user {user} not found in {path}")]
    UserNotFound { user: String, path: PathBuf },
    #[error("password verification failed")]
    VerificationFailed,
    #[error("passwords do not match")]
    Mismatch,
}

impl PasswdError {
    /// htpasswd's exit codes: 1 file access, 3 verification or mismatch, 5 too long,
    /// 6 bad user name or unknown user.
    pub fn exit_code(&self) -> u8 {
        match self {
            PasswdError::Io { .. } | PasswdError::NoSuchFile { .. } => 1,
            PasswdError::VerificationFailed | PasswdError::Mismatch => 3,
            PasswdError::Hash(HtpasswdError::PasswordTooLong { .. }) => 5,
            PasswdError::Hash(_) => 1,
            PasswdError::BadUserName(_) | PasswdError::UserNotFound { .. } => 6,
        }
    }
}

/// What `set_user` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Updated,
}

pub fn check_user_name(user: &str) -> Result<(), PasswdError> {
    if user.is_empty()
        || user.len() > 255
        || user.contains(':')
        || user.chars().any(char::is_control)
    {
        return Err(PasswdError::BadUserName(user.to_string()));
    }
    Ok(())
}

/// `user:hash` for a password in the chosen format.
pub fn format_line(user: &str, password: &[u8], format: HashFormat) -> Result<String, PasswdError> {
    check_user_name(user)?;
    let hash = match format {
        HashFormat::Argon2id => hash_argon2id(password)?,
        HashFormat::Bcrypt { cost } => hash_bcrypt(password, cost)?,
        HashFormat::Apr1 => hash_apr1(password)?,
    };
    Ok(format!("{user}:{hash}"))
}

fn read_lines(path: &Path) -> Result<Vec<String>, PasswdError> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            PasswdError::NoSuchFile {
                path: path.to_path_buf(),
            }
        } else {
            PasswdError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    Ok(text.lines().map(str::to_string).collect())
}

/// The user a line defines, if it is a `user:...` line (not a comment or blank).
fn line_user(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    line.split_once(':')
        .map(|(user, _)| user.trim_start_matches('\u{feff}'))
}

/// The bcrypt cost a new hash in `path` gets: at least 10, or the highest cost the file's
/// bcrypt hashes already use (a file that is still read by nginx or Apache stays bcrypt,
/// and never gets weaker). A file that cannot be read counts as having none.
pub fn bcrypt_cost_for(path: Option<&Path>) -> u32 {
    const DEFAULT: u32 = 10;
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return DEFAULT;
    };
    text.lines()
        .filter_map(|line| {
            let hash = line.split(':').nth(1)?;
            let rest = hash
                .strip_prefix("$2y$")
                .or_else(|| hash.strip_prefix("$2b$"))
                .or_else(|| hash.strip_prefix("$2a$"))?;
            rest.get(..2)?.parse::<u32>().ok()
        })
        .filter(|cost| (4..=17).contains(cost))
        .fold(DEFAULT, u32::max)
}

/// Adds or changes `user`. With `create`, the file is started afresh (htpasswd -c).
pub fn set_user(
    path: &Path,
    user: &str,
    password: &[u8],
    format: HashFormat,
    create: bool,
) -> Result<Change, PasswdError> {
    let new_line = format_line(user, password, format)?;
    let mut lines = if create {
        Vec::new()
    } else {
        read_lines(path)?
    };
    let mut change = Change::Added;
    let mut replaced = false;
    lines.retain_mut(|line| {
        if line_user(line) != Some(user) {
            return true;
        }
        if replaced {
            // A duplicate of the user below the first: drop it so the file says one thing.
            return false;
        }
        // Keep Apache's extra `:comment` field, if any.
        let extra = line.splitn(3, ':').nth(2).map(|c| format!(":{c}"));
        *line = format!("{new_line}{}", extra.unwrap_or_default());
        replaced = true;
        change = Change::Updated;
        true
    });
    if !replaced {
        lines.push(new_line);
    }
    write_atomically(path, &lines)?;
    Ok(change)
}

/// Removes `user`; returns whether they were there.
pub fn delete_user(path: &Path, user: &str) -> Result<bool, PasswdError> {
    let mut lines = read_lines(path)?;
    let before = lines.len();
    lines.retain(|line| line_user(line) != Some(user));
    if lines.len() == before {
        return Ok(false);
    }
    write_atomically(path, &lines)?;
    Ok(true)
}

/// Checks `user`'s password as frontdoor would at login.
pub fn verify_user(path: &Path, user: &str, password: &[u8]) -> Result<(), PasswdError> {
    let text = std::fs::read_to_string(path).map_err(|source| PasswdError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = HtpasswdFile::parse(&text);
    if !file.users().any(|(u, _)| u == user) {
        return Err(PasswdError::UserNotFound {
            user: user.to_string(),
            path: path.to_path_buf(),
        });
    }
    if file.verify(user, password) {
        Ok(())
    } else {
        Err(PasswdError::VerificationFailed)
    }
}

/// Writes the lines atomically with mode 0600, so a reader (frontdoor's reload) never
/// sees half a file.
fn write_atomically(path: &Path, lines: &[String]) -> Result<(), PasswdError> {
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    crate::files::write_private(path, text.as_bytes()).map_err(|source| PasswdError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(content: &str) -> PathBuf {
        let mut random = [0u8; 8];
        let _ = getrandom::fill(&mut random);
        let path = std::env::temp_dir().join(format!("fd-passwd-{}", u64::from_le_bytes(random)));
        let _ = std::fs::write(&path, content);
        path
    }

    /// Changing one user keeps comments, blank lines, other users and the `:comment` field.
    #[test]
    fn update_keeps_everything_else() {
        let path = temp_file("# team\nbob:{SHA}x\n\nalice:$apr1$a$b:Alice A.\n# end\n");
        let change = set_user(&path, "alice", b"new pw", HashFormat::Apr1, false);
        assert_eq!(change.ok(), Some(Change::Updated));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "# team");
        assert_eq!(lines[1], "bob:{SHA}x");
        assert_eq!(lines[2], "");
        assert!(lines[3].starts_with("alice:$apr1$") && lines[3].ends_with(":Alice A."));
        assert_eq!(lines[4], "# end");
        assert!(verify_user(&path, "alice", b"new pw").is_ok());
        assert!(matches!(
            verify_user(&path, "alice", b"old"),
            Err(PasswdError::VerificationFailed)
        ));
        assert!(matches!(
            verify_user(&path, "carol", b"x"),
            Err(PasswdError::UserNotFound { .. })
        ));
        let _ = std::fs::remove_file(&path);
    }

    /// Adding appends; deleting removes only that user; the file stays mode 0600.
    #[test]
    fn add_and_delete() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_file("# users\n");
        assert_eq!(
            set_user(&path, "carol", b"pw", HashFormat::Argon2id, false).ok(),
            Some(Change::Added)
        );
        assert!(verify_user(&path, "carol", b"pw").is_ok());
        let mode = std::fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o600);
        assert!(matches!(delete_user(&path, "carol"), Ok(true)));
        assert!(matches!(delete_user(&path, "carol"), Ok(false)));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap_or_default(),
            "# users\n"
        );
        let _ = std::fs::remove_file(&path);
    }

    /// Names that would corrupt the file are refused with htpasswd's exit code 6.
    #[test]
    fn bad_user_names() {
        for bad in ["", "a:b", "a\nb", &"x".repeat(256)] {
            let err = format_line(bad, b"pw", HashFormat::Apr1);
            assert!(matches!(&err, Err(e) if e.exit_code() == 6), "{bad:?}");
        }
    }
}
