//! htpasswd files: reading them as nginx and Apache do, reporting bad lines, verifying a
//! user with the same cost whether or not the user exists.

use super::*;

// ---------------------------------------------------------------------------
// Files

/// A problem on one line, reported and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIssue {
    /// 1-based line number.
    pub line: usize,
    /// Human-readable; never contains the hash or password (only fixed
    /// texts and line numbers are ever put here).
    pub reason: String,
}

impl fmt::Display for LineIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

#[derive(Clone)]
pub(super) struct Entry {
    user: String,
    hash: PasswordHash,
    line: usize,
}

/// A parsed htpasswd file.
#[derive(Clone, Default)]
pub struct HtpasswdFile {
    /// Usable users in file order.
    entries: Vec<Entry>,
    /// User name -> index into `entries`.
    index: HashMap<String, usize>,
    issues: Vec<LineIssue>,
    /// Hash verified for unknown users so they cost as much as known ones.
    pub(super) dummy: Option<PasswordHash>,
}

impl fmt::Debug for HtpasswdFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<_> = self
            .entries
            .iter()
            .map(|e| (e.user.as_str(), e.hash.kind, e.line))
            .collect();
        f.debug_struct("HtpasswdFile")
            .field("users", &users)
            .field("issues", &self.issues)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HtpasswdError {
    #[error("cannot read htpasswd file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file has content but not one usable user; callers reloading a
    /// file should keep the users they had.
    #[error("{}", no_valid_users_message(path, issues))]
    NoValidUsers {
        path: PathBuf,
        issues: Vec<LineIssue>,
    },
    #[error("refusing to hash an empty password")]
    EmptyPassword,
    #[error("password contains a NUL byte")]
    NulInPassword,
    #[error("password is {len} bytes; bcrypt ignores everything after byte 72")]
    PasswordTooLong { len: usize },
    #[error("bcrypt cost {0} is outside 4..=31")]
    InvalidCost(u32),
    #[error("cannot get random bytes for a salt: {0}")]
    Random(getrandom::Error),
    #[error("{scheme} hashing failed: {reason}")]
    Hashing {
        scheme: &'static str,
        reason: String,
    },
}

pub(super) fn no_valid_users_message(path: &Path, issues: &[LineIssue]) -> String {
    let first = issues
        .first()
        .map(|i| format!("; first: {i}"))
        .unwrap_or_default();
    format!(
        "htpasswd file {} has no valid users ({} problem line(s){first})",
        path.display(),
        issues.len()
    )
}

/// What a rejected line leaves behind for later lines of the same user.
pub(super) enum Claim {
    Valid(usize),
    Rejected(usize),
}

impl HtpasswdFile {
    /// Parses file text. Never fails: bad lines become [`issues`](Self::issues).
    ///
    /// Rules: a leading UTF-8 BOM is skipped; lines are split on `\n` with a
    /// trailing `\r` and surrounding spaces/tabs removed; blank lines and
    /// lines starting with `#` are ignored; the user ends at the first `:`,
    /// the hash at the next `:` (later fields are comments, as Apache
    /// allows), both trimmed of spaces/tabs. The first line for a user wins,
    /// as in Apache's lookup -- even when that line is rejected, so that a
    /// corrupted or locked entry never silently hands the name to a later
    /// line.
    pub fn parse(text: &str) -> HtpasswdFile {
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        let mut file = HtpasswdFile::default();
        let mut claims: HashMap<&str, Claim> = HashMap::new();
        for (line_no, raw) in (1usize..).zip(text.lines()) {
            let line = raw.trim_matches([' ', '\t', '\r']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut issue = |reason: String| {
                file.issues.push(LineIssue {
                    line: line_no,
                    reason,
                })
            };
            let Some((user, rest)) = line.split_once(':') else {
                issue("no ':' between user name and password hash".to_owned());
                continue;
            };
            let user = user.trim_matches([' ', '\t']);
            let field = rest
                .split(':')
                .next()
                .unwrap_or_default()
                .trim_matches([' ', '\t']);
            if user.is_empty() {
                issue("empty user name".to_owned());
                continue;
            }
            if field.is_empty() {
                issue("empty password hash".to_owned());
                // An empty hash still claims the name (it is a broken entry
                // for this user, not a missing one).
                claims.entry(user).or_insert(Claim::Rejected(line_no));
                continue;
            }
            match claims.get(user) {
                Some(Claim::Valid(first)) => {
                    issue(format!("duplicate user; the entry on line {first} is used"));
                    continue;
                }
                Some(Claim::Rejected(first)) => {
                    issue(format!(
                        "duplicate user; the entry on line {first} was rejected, so this user stays disabled"
                    ));
                    continue;
                }
                None => {}
            }
            let hash = PasswordHash::parse(field);
            if let Some(reason) = hash.problem() {
                issue(reason.to_owned());
                claims.insert(user, Claim::Rejected(line_no));
                continue;
            }
            claims.insert(user, Claim::Valid(line_no));
            file.index.insert(user.to_owned(), file.entries.len());
            file.entries.push(Entry {
                user: user.to_owned(),
                hash,
                line: line_no,
            });
        }
        file.dummy = pick_dummy(&file.entries);
        file
    }

    /// Reads and parses a file. Invalid UTF-8 is replaced (lossy), so such
    /// bytes can only make a line fail to verify. A non-empty file where no
    /// line yields a usable user is an error, so a reload after a botched
    /// edit keeps the previous users instead of locking everyone out. A file
    /// with no entries at all (empty, or only comments) is not an error.
    pub fn load(path: &Path) -> Result<HtpasswdFile, HtpasswdError> {
        let bytes = std::fs::read(path).map_err(|source| HtpasswdError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file = HtpasswdFile::parse(&String::from_utf8_lossy(&bytes));
        if file.entries.is_empty() && !file.issues.is_empty() {
            return Err(HtpasswdError::NoValidUsers {
                path: path.to_path_buf(),
                issues: file.issues,
            });
        }
        Ok(file)
    }

    /// Problems found while parsing, in line order.
    pub fn issues(&self) -> &[LineIssue] {
        &self.issues
    }

    /// Usable users and their hash kinds, in file order.
    pub fn users(&self) -> impl Iterator<Item = (&str, HashKind)> {
        self.entries.iter().map(|e| (e.user.as_str(), e.hash.kind))
    }

    /// The 1-based line a usable user was defined on.
    pub fn line_of(&self, user: &str) -> Option<usize> {
        self.entry(user).map(|e| e.line)
    }

    /// Number of usable users.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn entry(&self, user: &str) -> Option<&Entry> {
        self.index.get(user).and_then(|&i| self.entries.get(i))
    }

    /// Verifies; an unknown user costs the same as a wrong password: it
    /// verifies against a dummy hash of the same kind as the file's most
    /// common kind (bcrypt: same cost), then returns false.
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        match self.entry(user) {
            Some(entry) => entry.hash.verify(password),
            None => {
                if let Some(dummy) = &self.dummy {
                    // black_box: the result is unused, and the work must not
                    // be optimized away.
                    std::hint::black_box(dummy.verify(std::hint::black_box(password)));
                }
                false
            }
        }
    }
}

/// Picks the hash unknown users are checked against: the most common kind,
/// and within it the most common cost parameters. Ties go to the slower
/// choice. The dummy is a clone of a real entry's hash, which guarantees an
/// identical cost; its result is always discarded.
pub(super) fn pick_dummy(entries: &[Entry]) -> Option<PasswordHash> {
    let mut kinds: HashMap<HashKind, usize> = HashMap::new();
    for e in entries {
        *kinds.entry(e.hash.kind).or_default() += 1;
    }
    let (&kind, _) = kinds
        .iter()
        .max_by_key(|&(k, &count)| (count, k.cost_rank()))?;
    let mut costs: HashMap<CostKey, usize> = HashMap::new();
    for e in entries.iter().filter(|e| e.hash.kind == kind) {
        *costs.entry(e.hash.cost_key()).or_default() += 1;
    }
    let (&cost, _) = costs.iter().max_by_key(|&(&c, &count)| (count, c))?;
    entries
        .iter()
        .find(|e| e.hash.kind == kind && e.hash.cost_key() == cost)
        .map(|e| e.hash.clone())
}
