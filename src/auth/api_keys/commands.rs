//! `frontdoor key add | list | revoke | rotate`: edits the key file as a user runs them.
//! Each returns what to print; the key itself is returned once, by `add` and `rotate`, and
//! is nowhere else afterwards.

use std::path::Path;

use super::file::{
    KeyFile, KeyFileError, KeyRecord, encode_hex, scope_method, scope_path, valid_name,
};
use super::format;
use crate::clock::{format_date, format_rfc3339, parse_rfc3339};

/// Why a `key` command did nothing.
#[derive(Debug, thiserror::Error)]
pub enum KeyCommandError {
    #[error(transparent)]
    File(#[from] KeyFileError),
    #[error("{0}")]
    Usage(String),
    #[error("no randomness from the system: {0}")]
    Random(#[from] getrandom::Error),
}

/// What `key add` is asked for.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    pub name: String,
    pub routes: Vec<String>,
    pub methods: Vec<String>,
    /// `90d`, `12h`, `2027-03-01`, `2027-03-01T12:00:00Z`, or `never`.
    pub expires: Option<String>,
}

/// `30d`, `12h`, `90m`, `2w`, `3600s` (or a bare number of seconds) as seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok()?;
    let unit_secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    n.checked_mul(unit_secs).filter(|&secs| secs > 0)
}

/// An expiry as a Unix time: a duration from `now` or a date; None for `never`.
fn expiry(text: &str, now: i64) -> Result<Option<i64>, KeyCommandError> {
    if text == "never" {
        return Ok(None);
    }
    let at = parse_duration(text)
        .and_then(|d| now.checked_add(d))
        .or_else(|| parse_rfc3339(text))
        .ok_or_else(|| {
            KeyCommandError::Usage(format!(
                "--expires `{text}`: give a duration (90d, 12h, 2w) or a date (2027-03-01)"
            ))
        })?;
    if at <= now {
        return Err(KeyCommandError::Usage(format!(
            "--expires `{text}` is in the past"
        )));
    }
    Ok(Some(at))
}

/// A new record with a new key; returns (record, key).
fn new_key(
    name: &str,
    routes: Vec<String>,
    methods: Vec<String>,
    expires: Option<i64>,
    taken_ids: &[String],
    now: i64,
) -> Result<(KeyRecord, String), KeyCommandError> {
    loop {
        let key = format::generate()?;
        let Some(parsed) = format::parse(&key) else {
            continue;
        };
        if taken_ids.iter().any(|id| id == parsed.id) {
            continue;
        }
        let record = KeyRecord {
            name: name.to_string(),
            id: parsed.id.to_string(),
            sha256: encode_hex(&format::digest(&key)),
            routes,
            methods,
            created: format_rfc3339(now),
            expires: expires.map(format_rfc3339),
        };
        return Ok((record, key));
    }
}

/// Drops keys that a rotation replaced once their grace period is over (a newer key of
/// the same name exists and they have expired).
fn prune_rotated(file: &mut KeyFile, now: i64) {
    let newest: std::collections::HashMap<String, i64> =
        file.keys
            .iter()
            .fold(std::collections::HashMap::new(), |mut acc, k| {
                let created = parse_rfc3339(&k.created).unwrap_or(0);
                let slot = acc.entry(k.name.clone()).or_insert(created);
                *slot = (*slot).max(created);
                acc
            });
    file.keys.retain(|k| {
        let created = parse_rfc3339(&k.created).unwrap_or(0);
        let expired = k
            .expires
            .as_deref()
            .and_then(parse_rfc3339)
            .is_some_and(|at| at <= now);
        !(expired && newest.get(&k.name).is_some_and(|&n| n > created))
    });
}

/// `key add`: a new key with its scope; refused if the name is taken. Returns the key.
pub fn add(path: &Path, options: &AddOptions, now: i64) -> Result<String, KeyCommandError> {
    if !valid_name(&options.name) {
        return Err(KeyCommandError::Usage(format!(
            "`{}`: a key name is 1 to 64 letters, digits, '-', '_', '.' or '@' (the upstream \
             sees it in X-Forwarded-User)",
            options.name
        )));
    }
    let mut routes = Vec::new();
    for r in &options.routes {
        routes.push(scope_path(r).map_err(|p| KeyCommandError::Usage(format!("--route {p}")))?);
    }
    let mut methods = Vec::new();
    for m in &options.methods {
        methods.push(
            scope_method(m)
                .map_err(|p| KeyCommandError::Usage(format!("--method {p}")))?
                .to_string(),
        );
    }
    let expires = match &options.expires {
        None => None,
        Some(text) => expiry(text, now)?,
    };
    let mut file = KeyFile::read(path, true)?;
    file.entries(path)?;
    prune_rotated(&mut file, now);
    if file.keys.iter().any(|k| k.name == options.name) {
        return Err(KeyCommandError::Usage(format!(
            "a key named `{}` exists: `frontdoor key rotate {}` gives it a new key, `frontdoor \
             key revoke {}` removes it",
            options.name, options.name, options.name
        )));
    }
    let taken: Vec<String> = file.keys.iter().map(|k| k.id.clone()).collect();
    let (record, key) = new_key(&options.name, routes, methods, expires, &taken, now)?;
    file.keys.push(record);
    file.write(path)?;
    Ok(key)
}

/// `key revoke`: removes every key of that name (the current one and any still in a
/// rotation's grace period). Returns how many were removed.
pub fn revoke(path: &Path, name: &str) -> Result<usize, KeyCommandError> {
    let mut file = KeyFile::read(path, false)?;
    let before = file.keys.len();
    file.keys.retain(|k| k.name != name);
    let removed = before - file.keys.len();
    if removed == 0 {
        return Err(KeyCommandError::Usage(format!(
            "no key named `{name}` in {} (`frontdoor key list` shows them)",
            path.display()
        )));
    }
    file.write(path)?;
    Ok(removed)
}

/// `key rotate`: a new key for NAME with the same scope; the old one keeps working for
/// `grace_secs` (0: stops now). The new key's expiry is `expires` when given, else the old
/// key's lifetime again. Returns (new key, when the old one stops).
pub fn rotate(
    path: &Path,
    name: &str,
    grace_secs: i64,
    expires: Option<&str>,
    now: i64,
) -> Result<(String, i64), KeyCommandError> {
    let mut file = KeyFile::read(path, false)?;
    file.entries(path)?;
    prune_rotated(&mut file, now);
    let Some(current) = file
        .keys
        .iter()
        .filter(|k| k.name == name)
        .max_by_key(|k| parse_rfc3339(&k.created).unwrap_or(0))
        .cloned()
    else {
        return Err(KeyCommandError::Usage(format!(
            "no key named `{name}` in {} (`frontdoor key add {name}` creates it)",
            path.display()
        )));
    };
    let expires = match expires {
        Some(text) => expiry(text, now)?,
        None => match (
            current.expires.as_deref().and_then(parse_rfc3339),
            parse_rfc3339(&current.created),
        ) {
            (Some(at), Some(created)) if at > created => Some(now + (at - created)),
            _ => None,
        },
    };
    let old_until = now.saturating_add(grace_secs.max(0));
    for k in file.keys.iter_mut().filter(|k| k.name == name) {
        let ends = k.expires.as_deref().and_then(parse_rfc3339);
        if ends.is_none_or(|at| at > old_until) {
            k.expires = Some(format_rfc3339(old_until));
        }
    }
    let taken: Vec<String> = file.keys.iter().map(|k| k.id.clone()).collect();
    let (record, key) = new_key(
        name,
        current.routes.clone(),
        current.methods.clone(),
        expires,
        &taken,
        now,
    )?;
    file.keys.push(record);
    file.write(path)?;
    Ok((key, old_until))
}

/// `key list`: one line per key (never its digest), with when it was last used if known.
pub fn list(path: &Path, now: i64) -> Result<String, KeyCommandError> {
    let file = KeyFile::read(path, false)?;
    let entries = file.entries(path)?;
    let used = super::read_last_used(&super::last_used_path(path));
    let mut rows = vec![[
        "NAME".to_string(),
        "ID".to_string(),
        "ROUTES".to_string(),
        "METHODS".to_string(),
        "CREATED".to_string(),
        "EXPIRES".to_string(),
        "LAST USED".to_string(),
    ]];
    for e in &entries {
        let join = |v: Vec<String>| {
            if v.is_empty() {
                "all".to_string()
            } else {
                v.join(",")
            }
        };
        rows.push([
            e.name.clone(),
            e.id.clone(),
            join(e.routes.clone()),
            join(e.methods.iter().map(ToString::to_string).collect()),
            format_date(e.created),
            match e.expires {
                None => "never".to_string(),
                Some(at) if at <= now => format!("expired {}", format_rfc3339(at)),
                Some(at) => format_rfc3339(at),
            },
            used.get(&e.id)
                .map_or_else(|| "-".to_string(), |&t| format_rfc3339(t)),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if entries.is_empty() {
        out.push_str("(no keys: `frontdoor key add NAME` creates one)\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), Some(90 * 86_400));
        assert_eq!(parse_duration("12h"), Some(43_200));
        assert_eq!(parse_duration("2w"), Some(1_209_600));
        assert_eq!(parse_duration("30"), Some(30));
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("5y"), None);
        assert_eq!(parse_duration("99999999999999999999d"), None);
    }
}
