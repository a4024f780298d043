//! `frontdoor import nginx`: parses nginx config syntax and translates one `server` block into frontdoor TOML.
//!
//! The translation is deliberately conservative: what cannot be expressed in frontdoor's
//! config becomes a `# nginx: ... -- not translated: ...` comment, and where dropping a
//! directive would make something more reachable than it was under nginx (an IP allowlist,
//! `auth_request`, client certificates), the location is left unlisted, which frontdoor
//! answers with 404, and the comment says so.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

mod syntax;
mod translate;
mod values;

use syntax::*;
use translate::Translator;
use values::*;

/// Deepest block nesting accepted; it also bounds every recursion over the parsed tree.
const MAX_DEPTH: usize = 64;
/// Longest piece of nginx text copied into one comment.
const MAX_COMMENT_CHARS: usize = 160;
/// nginx's `client_max_body_size` when none is set.
const NGINX_DEFAULT_BODY_BYTES: u64 = 1024 * 1024;
/// What `client_max_body_size 0` (unlimited) becomes: frontdoor always has a cap.
const UNLIMITED_BODY_BYTES: u64 = 1 << 40;
/// frontdoor's timeouts are between 1 second and one day.
const MAX_TIMEOUT_SECS: u64 = 86_400;
const UI_KEYS: &[(&str, &str)] = &[
    ("dashboard", "/admin"),
    ("workspace", "/workspace"),
    ("docs", "/docs and /redoc"),
    ("openapi", "/openapi.json"),
];

/// Why an nginx config could not be imported. Syntax errors name the file and line.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A `}` with no block open.
    #[error("{file}:{line}: unexpected `}}`: no block is open (unbalanced braces)")]
    UnexpectedCloseBrace { file: String, line: usize },
    /// A block whose `}` never comes.
    #[error("{file}:{line}: `{name} {{` is never closed (unbalanced braces)")]
    UnclosedBlock {
        file: String,
        line: usize,
        name: String,
    },
    /// A quoted string that runs to the end of the file.
    #[error("{file}:{line}: unterminated quoted string")]
    UnterminatedQuote { file: String, line: usize },
    /// A directive not ended by `;`.
    #[error("{file}:{line}: missing `;` after `{directive}`")]
    MissingSemicolon {
        file: String,
        line: usize,
        directive: String,
    },
    /// A `;` or `{` where a directive name belongs.
    #[error("{file}:{line}: unexpected `{token}`")]
    UnexpectedToken {
        file: String,
        line: usize,
        token: String,
    },
    /// Blocks nested deeper than any real config does.
    #[error("{file}:{line}: blocks are nested more than {MAX_DEPTH} deep")]
    TooDeep { file: String, line: usize },
    /// Nothing to translate.
    #[error("{file}: no `server {{ ... }}` block found")]
    NoServerBlock { file: String },
    /// The chosen server block proxies nowhere frontdoor can proxy to.
    #[error(
        "{file}: the server block has no `proxy_pass` to a plain http:// upstream; \
         frontdoor only proxies (it does not serve files)"
    )]
    NoUpstream { file: String },
}

/// Translates an nginx config (text of nginx.conf or a sites-available file) into frontdoor TOML.
///
/// The first `server` block that listens with `ssl` (preferring one that proxies) is
/// translated; the others are named in comments. `include` is not followed.
///
/// The TOML is read back with frontdoor's own config loader before it is returned; when the
/// loader refuses it (a value the translation could not make valid), the output says so in
/// a comment at the top, naming the key and the problem, so it is never mistaken for a
/// config that `serve` will take.
pub fn import_nginx(text: &str, source_name: &str) -> Result<String, ImportError> {
    let tokens = tokenize(text, source_name)?;
    let tree = parse(tokens, source_name)?;
    let toml = Translator::new(source_name).run(&tree)?;
    Ok(match validate(&toml) {
        Ok(()) => toml,
        Err(problem) => format!(
            "# WARNING: frontdoor's config loader refuses this translation as it stands:\n\
             # {}\n# Fix that before `frontdoor check`; the rest follows.\n\n{toml}",
            clean(&problem)
        ),
    })
}

/// Loads the translation as `serve` would. `${VAR}` references get placeholders (the
/// variables belong to the machine the config will run on); a `file:` reference is read
/// here, so one that does not exist on this machine is reported too.
fn validate(toml: &str) -> Result<(), String> {
    // `${VAR}` references must resolve for the loader; give each one a placeholder.
    let mut env = Vec::new();
    let mut rest = toml;
    while let Some(at) = rest.find("${") {
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else { break };
        env.push((
            after[..end].to_string(),
            "placeholder-value-of-at-least-32-bytes!".to_string(),
        ));
        rest = &after[end..];
    }
    crate::config::Config::from_toml(
        toml,
        "the translation",
        &crate::config::Env::from_pairs(env),
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
