//! Owns what happens to the config text before it is read as a config: secrets that must
//! be references, `FRONTDOOR_<SECTION>_<KEY>` overrides, and `${ENV}` / `file:` references.

use super::{ConfigError, Env};

/// Secrets that must not sit in the config file itself: each must be a `${ENV}` or `file:`
/// reference (an environment override is fine too).
pub(super) const SECRET_KEYS: &[(&str, &str, &str)] = &[
    ("auth", "oidc", "client_secret"),
    ("session", "cookie_key", ""),
    ("session", "previous_keys", ""),
];

pub(super) fn refuse_literal_secrets(table: &toml::Table, file: &str) -> Result<(), ConfigError> {
    refuse_literal_webhook_secrets(table, file)?;
    for (section, key, subkey) in SECRET_KEYS {
        let value = table.get(*section).and_then(|v| v.get(*key));
        let (value, name) = if subkey.is_empty() {
            (value, format!("{section}.{key}"))
        } else {
            (
                value.and_then(|v| v.get(*subkey)),
                format!("{section}.{key}.{subkey}"),
            )
        };
        let texts: Vec<&str> = match value {
            Some(toml::Value::String(text)) => vec![text.as_str()],
            Some(toml::Value::Array(items)) => items.iter().filter_map(|v| v.as_str()).collect(),
            _ => continue,
        };
        for text in texts {
            if !is_reference(text) {
                return Err(ConfigError::Invalid {
                    file: file.to_string(),
                    key: name,
                    problem: "is a secret written into the config: use a reference like \
                          \"${FRONTDOOR_OIDC_SECRET}\" or \"file:/etc/frontdoor/oidc-secret\""
                        .to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Sections whose scalar keys can be set as `FRONTDOOR_<SECTION>_<KEY>`; longest prefix first
/// so `AUTH_BASIC_REALM` is not read as section `auth`.
pub(super) const OVERRIDABLE_SECTIONS: &[(&str, &[&str])] = &[
    ("AUTH_BASIC_", &["auth", "basic"]),
    ("AUTH_LOCKOUT_", &["auth", "lockout"]),
    ("AUTH_OIDC_", &["auth", "oidc"]),
    ("SESSION_", &["session"]),
    ("SERVER_", &["server"]),
    ("TLS_ACME_", &["tls", "acme"]),
    ("TLS_", &["tls"]),
    ("UPSTREAM_", &["upstream"]),
    ("LIMITS_", &["limits"]),
    ("UI_", &["ui"]),
    ("ADMIN_", &["admin"]),
];

/// Applies `FRONTDOOR_<SECTION>_<KEY>=value` on top of the file. Values are typed like the
/// key they replace (or guessed: `true`/`false`, integers, else a string), so a wrong type
/// still fails in serde with the key's name.
pub(super) fn apply_env_overrides(table: &mut toml::Table, env: &Env) {
    let mut names: Vec<&String> = env.vars.keys().collect();
    names.sort();
    for name in names {
        let Some(rest) = name.strip_prefix("FRONTDOOR_") else {
            continue;
        };
        let Some((prefix, path)) = OVERRIDABLE_SECTIONS
            .iter()
            .find(|(prefix, _)| rest.starts_with(prefix))
        else {
            continue;
        };
        let key = rest[prefix.len()..].to_ascii_lowercase();
        if key.is_empty() {
            continue;
        }
        let Some(value) = env.get(name) else { continue };
        let mut section = &mut *table;
        for part in path.iter() {
            let entry = section
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(inner) = entry else {
                // The file has a scalar where a section belongs; serde reports it.
                return;
            };
            section = inner;
        }
        let typed = match section.get(&key) {
            Some(toml::Value::Boolean(_)) => value.parse::<bool>().map_or_else(
                |_| toml::Value::String(value.to_string()),
                toml::Value::Boolean,
            ),
            Some(toml::Value::Integer(_)) => value.parse::<i64>().map_or_else(
                |_| toml::Value::String(value.to_string()),
                toml::Value::Integer,
            ),
            // Lists are written comma-separated: FRONTDOOR_SERVER_HOSTS=a.example,b.example
            Some(toml::Value::Array(_)) => comma_list(value),
            None if LIST_KEYS.contains(&key.as_str()) => comma_list(value),
            _ => guess_scalar(value),
        };
        section.insert(key, typed);
    }
}

/// Keys whose value is a list, so an override of a key the file does not set is still typed.
pub(super) const LIST_KEYS: &[&str] = &[
    "hosts",
    "trusted_proxies",
    "self_signed_hosts",
    "domains",
    "scopes",
    "previous_keys",
];

pub(super) fn comma_list(value: &str) -> toml::Value {
    toml::Value::Array(
        value
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| toml::Value::String(v.to_string()))
            .collect(),
    )
}

pub(super) fn guess_scalar(value: &str) -> toml::Value {
    if let Ok(b) = value.parse::<bool>() {
        toml::Value::Boolean(b)
    } else if let Ok(i) = value.parse::<i64>() {
        toml::Value::Integer(i)
    } else {
        toml::Value::String(value.to_string())
    }
}

/// Replaces `${NAME}` values with the environment variable and `file:/path` values with the
/// file's content (trailing newline removed), so secrets never need to sit in the config.
/// Every `file:` reference of a secret key (`SECRET_KEYS`) is added to `secret_files`
/// (key, path), for `check` to look at the file's mode.
pub(super) fn resolve_references(
    table: &mut toml::Table,
    prefix: &str,
    env: &Env,
    (file, base): (&str, Option<&std::path::Path>),
    secret_files: &mut Vec<(String, std::path::PathBuf)>,
) -> Result<(), ConfigError> {
    for (key, value) in table.iter_mut() {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        resolve_value(value, &path, env, (file, base), secret_files)?;
    }
    Ok(())
}

pub(super) fn resolve_value(
    value: &mut toml::Value,
    path: &str,
    env: &Env,
    (file, base): (&str, Option<&std::path::Path>),
    secret_files: &mut Vec<(String, std::path::PathBuf)>,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::Table(t) => resolve_references(t, path, env, (file, base), secret_files),
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                resolve_value(
                    item,
                    &format!("{path}[{i}]"),
                    env,
                    (file, base),
                    secret_files,
                )?;
            }
            Ok(())
        }
        toml::Value::String(s) => {
            if let Some(name) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                let resolved = env.get(name).ok_or_else(|| ConfigError::Invalid {
                    file: file.to_string(),
                    key: path.to_string(),
                    problem: format!("environment variable `{name}` is not set"),
                })?;
                *s = resolved.to_string();
            } else if let Some(written) = s.strip_prefix("file:") {
                let secret_path = match base {
                    Some(base) => base.join(written),
                    None => std::path::PathBuf::from(written),
                };
                let content =
                    std::fs::read_to_string(&secret_path).map_err(|e| ConfigError::Invalid {
                        file: file.to_string(),
                        key: path.to_string(),
                        problem: format!("cannot read `{}`: {e}", secret_path.display()),
                    })?;
                if is_secret_key(path) {
                    secret_files.push((path.to_string(), secret_path));
                }
                *s = content.trim_end_matches(['\r', '\n']).to_string();
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `${NAME}` or `file:PATH`: what `resolve_value` replaces.
fn is_reference(text: &str) -> bool {
    (text.starts_with("${") && text.ends_with('}') && text.len() > 3) || text.starts_with("file:")
}

/// A route's webhook signing secrets must be references too.
fn refuse_literal_webhook_secrets(table: &toml::Table, file: &str) -> Result<(), ConfigError> {
    let Some(toml::Value::Array(routes)) = table.get("route") else {
        return Ok(());
    };
    for (i, route) in routes.iter().enumerate() {
        let Some(webhook) = route.get("webhook") else {
            continue;
        };
        for key in ["secret", "secrets"] {
            let texts: Vec<&str> = match webhook.get(key) {
                Some(toml::Value::String(text)) => vec![text.as_str()],
                Some(toml::Value::Array(items)) => {
                    items.iter().filter_map(|v| v.as_str()).collect()
                }
                _ => continue,
            };
            if texts.iter().any(|t| !is_reference(t)) {
                return Err(ConfigError::Invalid {
                    file: file.to_string(),
                    key: format!("route[{i}].webhook.{key}"),
                    problem: "is a secret written into the config: use a reference like \
                              \"${GITHUB_WEBHOOK_SECRET}\" or \"file:/etc/frontdoor/github-webhook-secret\""
                        .to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Whether a dotted key (`session.previous_keys[0]`) is one of `SECRET_KEYS`, or a route's
/// webhook secret (`route[2].webhook.secrets[0]`).
fn is_secret_key(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix("route[")
        && let Some((_, key)) = rest.split_once("].webhook.")
    {
        return key == "secret" || key.starts_with("secrets[");
    }
    let base = path.split('[').next().unwrap_or(path);
    SECRET_KEYS.iter().any(|(section, key, sub)| {
        let name = if sub.is_empty() {
            format!("{section}.{key}")
        } else {
            format!("{section}.{key}.{sub}")
        };
        name == base
    })
}
