//! Why a config was refused, said once: the file, the line and column where TOML gives one,
//! what is wrong, and a fix that fits that error (an unknown key suggests the closest known
//! one).

/// Why a config was refused. Every variant names the file; `Invalid` also names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all. (The OS error is part of the message, not a
    /// `source`: printed with its chain it would appear twice.)
    #[error("{file}: cannot read the config: {error}")]
    Read { file: String, error: std::io::Error },
    /// TOML syntax, a wrong type, or an unknown key (`deny_unknown_fields`): a typo must
    /// never be silently ignored in a security config.
    #[error("{file}{}: {message}", position(*.line, *.column))]
    Parse {
        file: String,
        /// 1-based, when TOML knows where.
        line: Option<usize>,
        column: Option<usize>,
        /// One line: what is wrong.
        message: String,
        /// What to do about it.
        fix: String,
    },
    /// The file parsed but a value is unsafe or inconsistent.
    #[error("{file}: `{key}`: {problem}")]
    Invalid {
        file: String,
        key: String,
        problem: String,
    },
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(", line {l}, column {c}"),
        (Some(l), None) => format!(", line {l}"),
        _ => String::new(),
    }
}

impl ConfigError {
    /// What is wrong, without the file's name (for `check`, which names the file once).
    pub fn problem(&self) -> String {
        match self {
            ConfigError::Read { error, .. } => format!("cannot read the config: {error}"),
            ConfigError::Parse {
                line,
                column,
                message,
                ..
            } => {
                let at = position(*line, *column);
                match at.strip_prefix(", ") {
                    Some(at) => format!("{at}: {message}"),
                    None => message.clone(),
                }
            }
            ConfigError::Invalid { key, problem, .. } => format!("`{key}`: {problem}"),
        }
    }

    /// A fix that fits this error.
    pub fn fix(&self) -> String {
        match self {
            ConfigError::Read { error, .. } => match error.kind() {
                std::io::ErrorKind::NotFound => {
                    "check the path, or start from config/frontdoor.toml".to_string()
                }
                std::io::ErrorKind::PermissionDenied => {
                    "let the user frontdoor runs as read the file".to_string()
                }
                _ => "check the file".to_string(),
            },
            ConfigError::Parse { fix, .. } => fix.clone(),
            ConfigError::Invalid { key, problem, .. } => {
                if problem.starts_with("environment variable") {
                    "set it in frontdoor's environment (for systemd: Environment= or \
                     EnvironmentFile=), or give the value as file:/path"
                        .to_string()
                } else {
                    format!("see `{key}` in config/frontdoor.toml, which documents every key")
                }
            }
        }
    }

    /// A parse error from the `toml` crate, with its position in `text` when it has one.
    pub(super) fn from_toml(file: &str, text: Option<&str>, e: &toml::de::Error) -> ConfigError {
        let (line, column) = match (text, e.span()) {
            (Some(text), Some(span)) if text.get(..span.start).is_some() => {
                let before = text.get(..span.start).unwrap_or("");
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                (Some(line), Some(column))
            }
            _ => (None, None),
        };
        // With a position, the message alone; without, its Display also names the key.
        let message = if line.is_some() {
            e.message().to_string()
        } else {
            e.to_string()
        };
        let message = message.trim().replace('\n', " ");
        let fix = fix_for(&message);
        ConfigError::Parse {
            file: file.to_string(),
            line,
            column,
            message,
            fix,
        }
    }
}

/// The fix for a TOML or serde message.
fn fix_for(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let unknown = rest.split('`').next().unwrap_or("");
        let known: Vec<&str> = rest
            .split('`')
            .skip(1)
            .filter(|s| !s.is_empty() && !s.contains(' ') && !s.contains(','))
            .collect();
        return match closest(unknown, &known) {
            Some(near) => format!(
                "did you mean `{near}`? Unknown keys are errors; config/frontdoor.toml lists every key"
            ),
            None => "remove it: unknown keys are errors; config/frontdoor.toml lists every key"
                .to_string(),
        };
    }
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        return "give it a value of the type the message names (config/frontdoor.toml shows one)"
            .to_string();
    }
    if message.starts_with("missing field") {
        return "add it: it has no default (config/frontdoor.toml shows it)".to_string();
    }
    "fix the TOML at that line (strings in quotes, tables as [name], lists as [a, b])".to_string()
}

/// The known key closest to `word`, if it is close enough to be a typo.
fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, k)| *d <= (k.len().max(word.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let delete = previous.get(j + 1).copied().unwrap_or(0) + 1;
            let insert = current.get(j).copied().unwrap_or(0) + 1;
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Typos find their key; far-off words do not.
    #[test]
    fn suggestions() {
        let known = ["listen", "allow_public_bind", "hosts", "max_header_bytes"];
        assert_eq!(closest("lisne", &known), Some("listen"));
        assert_eq!(closest("lisen", &known), Some("listen"));
        assert_eq!(
            closest("max_headers_bytes", &known),
            Some("max_header_bytes")
        );
        assert_eq!(closest("banana", &known), None);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    /// An unknown-field message yields a suggestion naming the closest key.
    #[test]
    fn unknown_field_fix() {
        let fix = fix_for("unknown field `lisne`, expected one of `listen`, `hosts`");
        assert!(fix.starts_with("did you mean `listen`?"), "{fix}");
        let fix = fix_for("unknown field `zzz`, expected `listen` or `hosts`");
        assert!(fix.starts_with("remove it"), "{fix}");
    }
}
