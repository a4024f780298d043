//! `frontdoor check`: what is unsafe or broken about a config and the files it names, as a
//! list of findings with the key or file and the fix. `serve` runs the same list at start
//! and refuses to start on any error.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rustls::pki_types::{CertificateDer, ServerName};

use crate::auth::htpasswd::HtpasswdFile;
use crate::certificates::tls;
use crate::config::{Config, TlsSettings};

/// Bodies above this are allowed but worth a second look.
const LARGE_BODY_BYTES: u64 = 1 << 30;
/// A certificate this close to expiry is a warning.
const EXPIRY_WARNING_SECS: i64 = 14 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    /// Worth knowing, never a failure (the ACME certificate in the cache, say).
    Info,
}

/// One thing `check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// The config key or the file the finding is about.
    pub subject: String,
    pub problem: String,
    /// What to do about it.
    pub fix: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        write!(
            f,
            "{severity}: {}: {}; fix: {}",
            self.subject, self.problem, self.fix
        )
    }
}

fn finding(
    severity: Severity,
    subject: impl Into<String>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        severity,
        subject: subject.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// Everything `check` reports about an already-parsed config (parse errors come earlier,
/// from `Config::load`).
pub fn check(config: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    check_tls(config, &mut out);
    check_secret_files(config, &mut out);
    check_users(config, &mut out);
    check_api_keys(config, now_unix(), &mut out);
    if config
        .forward_auth
        .as_ref()
        .is_some_and(|f| f.trusted_proxies.is_empty())
    {
        out.push(finding(
            Severity::Warning,
            "forward_auth.trusted_proxies",
            "is empty: every auth request is refused with 403",
            "list the proxy that asks, e.g. trusted_proxies = [\"127.0.0.1/32\"]",
        ));
    }
    if let Some(totp) = config.login.as_ref().and_then(|l| l.totp.as_ref()) {
        check_private_mode(totp, "auth.login.totp", &mut out);
    }
    check_exposure(config, &mut out);
    out.sort_by_key(|f| f.severity);
    out
}

use crate::clock::now_unix;

/// A private file (key, secret) readable by group or others.
fn check_private_mode(path: &Path, subject: &str, out: &mut Vec<Finding>) {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        out.push(finding(
            Severity::Error,
            format!("{subject} ({})", path.display()),
            format!(
                "readable by group or others (mode {:o})",
                meta.permissions().mode() & 0o777
            ),
            format!("chmod 600 {}", path.display()),
        ));
    }
}

/// Secrets read through `file:` must not be readable by everyone: an error when others can
/// read the file, a warning when its group can (fine when the group is frontdoor's own, as
/// with a root:frontdoor 0640 file).
fn check_secret_files(config: &Config, out: &mut Vec<Finding>) {
    for (key, path) in &config.secret_files {
        check_shared_secret_mode(path, &format!("{key} ({})", path.display()), out);
    }
}

/// A file of secrets that frontdoor's group may share: readable by others is an error,
/// by its group a warning.
fn check_shared_secret_mode(path: &Path, subject: &str, out: &mut Vec<Finding>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o004 != 0 {
        out.push(finding(
            Severity::Error,
            subject,
            format!("readable by anyone on this machine (mode {mode:o})"),
            format!(
                "chmod 600 {p} (or 640 with chgrp to frontdoor's group)",
                p = path.display()
            ),
        ));
    } else if mode & 0o040 != 0 {
        out.push(finding(
            Severity::Warning,
            subject,
            format!("readable by its group (mode {mode:o})"),
            "fine if the group is frontdoor's own; else chmod 600",
        ));
    }
}

fn check_tls(config: &Config, out: &mut Vec<Finding>) {
    let (cert, key, generated) = match &config.tls {
        TlsSettings::Files { cert, key } => (cert, key, false),
        TlsSettings::SelfSigned { cert, key, .. } => (cert, key, true),
        TlsSettings::Acme(acme) => return check_acme(acme, out),
    };
    if generated && !(cert.exists() && key.exists()) {
        // Generated on first start: nothing to check yet.
        return;
    }
    check_private_mode(key, "tls.key", out);
    let certified = match tls::load_certified_key(cert, key) {
        Ok(c) => c,
        Err(e) => {
            out.push(finding(
                Severity::Error,
                "tls",
                e.to_string(),
                "point tls.cert and tls.key at a readable PEM certificate chain and its key",
            ));
            return;
        }
    };
    let Some(leaf) = certified.cert.first() else {
        return;
    };
    let subject = format!("tls.cert ({})", cert.display());
    match tls::not_after_unix(leaf) {
        Some(expiry) if expiry <= now_unix() => out.push(finding(
            Severity::Error,
            &subject,
            "the certificate has expired",
            "renew it (certbot renew) or replace the files",
        )),
        Some(expiry) if expiry - now_unix() < EXPIRY_WARNING_SECS => out.push(finding(
            Severity::Warning,
            &subject,
            format!(
                "the certificate expires in {} days",
                (expiry - now_unix()) / 86_400
            ),
            "renew it now (certbot renew)",
        )),
        Some(_) => {}
        None => out.push(finding(
            Severity::Warning,
            &subject,
            "cannot read the certificate's expiry date",
            "check the file is an X.509 certificate in PEM form",
        )),
    }
    for host in &config.server.hosts {
        if !covers(leaf, host) {
            // A generated certificate is not trusted by browsers anyway: a missing name is
            // worth saying, not worth refusing to start over.
            out.push(finding(
                if generated {
                    Severity::Warning
                } else {
                    Severity::Error
                },
                &subject,
                format!("the certificate does not cover `{host}` from server.hosts"),
                "get a certificate for every name in server.hosts, or remove the name",
            ));
        }
    }
}

/// `[tls.acme]`: the cache folder's mode, the cached certificates' names and expiry, whether
/// renewal has been failing, and the `ca_roots` file.
fn check_acme(acme: &crate::config::AcmeSettings, out: &mut Vec<Finding>) {
    use crate::certificates::acme;
    if let Ok(meta) = std::fs::metadata(&acme.cache_dir)
        && meta.permissions().mode() & 0o077 != 0
    {
        out.push(finding(
            Severity::Error,
            format!("tls.acme.cache_dir ({})", acme.cache_dir.display()),
            format!(
                "open to group or others (mode {:o}): it holds the account and certificate keys",
                meta.permissions().mode() & 0o777
            ),
            format!("chmod 700 {}", acme.cache_dir.display()),
        ));
    }
    if let Some(roots) = &acme.ca_roots
        && let Err(e) = std::fs::read(roots)
    {
        out.push(finding(
            Severity::Error,
            format!("tls.acme.ca_roots ({})", roots.display()),
            format!("cannot read: {e}"),
            "point ca_roots at a PEM file with the CA's root certificate, or remove it",
        ));
    }
    let status = acme::read_status(acme);
    for group in acme::groups(acme) {
        let subject = format!("tls.acme ({})", group.name);
        check_private_mode(&acme::key_path(acme, &group), &subject, out);
        match acme::load_cached(acme, &group) {
            Ok(cached) if !cached.current => out.push(finding(
                Severity::Warning,
                &subject,
                "the cached certificate was issued for other names or by another CA: it is \
                 served until one for the configured names arrives",
                "nothing to do if DNS for every name points at this machine",
            )),
            Ok(cached) => {
                let names = cached
                    .key
                    .cert
                    .first()
                    .map(|leaf| {
                        group
                            .domains
                            .iter()
                            .filter(|d| covers(leaf, d))
                            .cloned()
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                let days = (cached.not_after - now_unix()) / 86_400;
                out.push(finding(
                    Severity::Info,
                    &subject,
                    format!(
                        "cached certificate for {} expires in {days} days (renewal due in {} days)",
                        names.join(", "),
                        ((acme::renew_at(cached.not_before, cached.not_after) - now_unix()).max(0))
                            / 86_400
                    ),
                    "nothing to do: frontdoor renews it",
                ));
                // Overdue: half the renewal window has passed without a new certificate
                // (for 90-day certificates, 15 days before expiry).
                let due = acme::renew_at(cached.not_before, cached.not_after);
                if now_unix() > due + (cached.not_after - due) / 2 {
                    out.push(finding(
                        Severity::Warning,
                        &subject,
                        format!("the certificate expires in {days} days"),
                        "see the ACME errors in the log; check DNS points at this machine and \
                         port 443 (or 80 for http-01) is reachable",
                    ));
                }
            }
            Err(reason) => out.push(finding(
                Severity::Info,
                &subject,
                format!("no certificate yet ({reason}): one is ordered at start"),
                "nothing to do if DNS for the names points at this machine",
            )),
        }
        if let Some(entry) = status.get(&group.name)
            && entry.failures > 0
        {
            out.push(finding(
                Severity::Warning,
                &subject,
                format!(
                    "the last {} attempts to get a certificate failed; the last error: {}",
                    entry.failures,
                    entry.last_error.as_deref().unwrap_or("unknown")
                ),
                "check that DNS for the names points at this machine and that the CA can \
                 reach port 443 (tls-alpn-01) or 80 (http-01)",
            ));
        }
    }
}

/// Whether the certificate is valid for `host` (DNS name or IP literal).
fn covers(leaf: &CertificateDer<'_>, host: &str) -> bool {
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(server_name) = ServerName::try_from(name) else {
        return false;
    };
    webpki::EndEntityCert::try_from(leaf)
        .and_then(|cert| cert.verify_is_valid_for_subject_name(&server_name))
        .is_ok()
}

fn check_users(config: &Config, out: &mut Vec<Finding>) {
    let Some(basic) = &config.basic else { return };
    let path = &basic.htpasswd;
    let subject = format!("auth.basic.htpasswd ({})", path.display());
    let users = match HtpasswdFile::load(path) {
        Ok(users) => users,
        Err(e) => {
            out.push(finding(
                Severity::Error,
                &subject,
                e.to_string(),
                "create it with `frontdoor passwd -c FILE USER` or point to your nginx htpasswd file",
            ));
            return;
        }
    };
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o004 != 0
    {
        out.push(finding(
            Severity::Warning,
            &subject,
            "readable by every local user (nginx setups often have 0644): the hashes can be attacked offline",
            format!(
                "chown to the user frontdoor runs as and chmod 600 {}",
                path.display()
            ),
        ));
    }
    for issue in users.issues() {
        out.push(finding(
            Severity::Warning,
            format!("{}:{}", path.display(), issue.line),
            issue.reason.clone(),
            "fix or remove the line (it is skipped)",
        ));
    }
    if users.is_empty() {
        out.push(finding(
            Severity::Warning,
            &subject,
            "the file has no users: every login fails",
            "add one with `frontdoor passwd FILE USER`",
        ));
    }
    let weak: Vec<String> = users
        .users()
        .filter(|(_, kind)| kind.is_weak())
        .map(|(user, kind)| format!("{user} ({})", kind.name()))
        .collect();
    if !weak.is_empty() {
        out.push(finding(
            Severity::Warning,
            &subject,
            format!("weak password hashes for {}", weak.join(", ")),
            "re-hash them with bcrypt, which nginx and Apache still read while the file is shared: \
             `frontdoor passwd FILE USER` (or `--argon2id` once only frontdoor reads the file)",
        ));
    }
}

/// How long a key may go unused before `check` asks whether it is still needed.
const UNUSED_KEY_WARNING_SECS: i64 = 90 * 86_400;

/// The API key file: readable by others is an error (a key's digest is as good as the key
/// for nobody, but the names, scopes and dates map the integrations); expired keys and keys
/// unused for 90 days are warnings.
fn check_api_keys(config: &Config, now: i64, out: &mut Vec<Finding>) {
    use crate::auth::api_keys::{KeyFile, last_used_path, read_last_used};
    let Some(settings) = &config.api_keys else {
        return;
    };
    let path = &settings.file;
    let subject = format!("auth.api_keys.file ({})", path.display());
    if !path.exists() {
        out.push(finding(
            Severity::Warning,
            &subject,
            "does not exist yet: no API key works until one is added",
            format!(
                "frontdoor key add NAME --file {} (a running server picks it up within a second)",
                path.display()
            ),
        ));
        return;
    }
    let entries = match KeyFile::read(path, false).and_then(|f| f.entries(path)) {
        Ok(entries) => entries,
        Err(e) => {
            out.push(finding(
                Severity::Error,
                &subject,
                e.to_string(),
                "create it with `frontdoor key add NAME --file FILE`, or fix the line named",
            ));
            return;
        }
    };
    check_shared_secret_mode(path, &subject, out);
    let used = read_last_used(&last_used_path(path));
    for key in &entries {
        let name = &key.name;
        if key.is_expired(now) {
            // An old key a rotation replaced is removed by the next `key` command.
            let replaced = entries
                .iter()
                .any(|k| k.name == *name && k.id != key.id && !k.is_expired(now));
            if !replaced {
                out.push(finding(
                    Severity::Warning,
                    &subject,
                    format!(
                        "key `{name}` (id {}) expired on {}: it is refused",
                        key.id,
                        crate::clock::format_date(key.expires.unwrap_or(now))
                    ),
                    format!(
                        "`frontdoor key rotate {name}` for a new one, or `frontdoor key revoke {name}`"
                    ),
                ));
            }
            continue;
        }
        let last = used.get(&key.id).copied();
        let idle_since = last.unwrap_or(key.created);
        if now - idle_since >= UNUSED_KEY_WARNING_SECS {
            let when = match last {
                Some(t) => format!("last used on {}", crate::clock::format_date(t)),
                None => format!(
                    "never used since it was created on {}",
                    crate::clock::format_date(key.created)
                ),
            };
            out.push(finding(
                Severity::Warning,
                &subject,
                format!("key `{name}` (id {}) is {when} (90 days or more)", key.id),
                format!("`frontdoor key revoke {name}` if nothing uses it any more"),
            ));
        }
    }
}

fn check_exposure(config: &Config, out: &mut Vec<Finding>) {
    let server = &config.server;
    for (key, addr) in [
        ("server.listen", Some(server.listen)),
        ("server.http_listen", server.http_listen),
        ("admin.listen", server.admin_listen),
    ] {
        if let Some(addr) = addr.filter(|a| !a.ip().is_loopback()) {
            out.push(finding(
                Severity::Warning,
                key,
                format!(
                    "{addr} is reachable from other machines (allowed by server.allow_public_bind)"
                ),
                "make sure that is meant; keep it on 127.0.0.1 otherwise",
            ));
        }
    }
    if !server.listen.ip().is_loopback() && server.hosts.is_empty() {
        out.push(finding(
            Severity::Warning,
            "server.hosts",
            "empty on a public listener: any Host header is accepted and passed to the upstream",
            "list the names you serve, e.g. hosts = [\"agent.example.com\"]",
        ));
    }
    for (i, route) in config.routes.iter().enumerate() {
        if route.is_public() && !route.deny && !route.path.to_ascii_lowercase().contains("health") {
            out.push(finding(
                Severity::Warning,
                format!("route[{i}] ({})", route.path),
                "auth = \"none\": anyone can reach it",
                "require a login unless it must be public",
            ));
        }
        if route.is_public() && !route.deny && !route.exact && route.path != "/" {
            out.push(finding(
                Severity::Warning,
                format!("route[{i}] ({})", route.path),
                format!(
                    "public and not exact: everything below it is public too (`{}/...`)",
                    route.path
                ),
                "add exact = true unless the whole subtree must be public",
            ));
        }
        if route.max_body_bytes.is_some_and(|b| b > LARGE_BODY_BYTES) {
            out.push(finding(
                Severity::Warning,
                format!("route[{i}].max_body_bytes"),
                "above 1 GB",
                "lower it to what the endpoint needs",
            ));
        }
    }
    if config.max_body_bytes > LARGE_BODY_BYTES {
        out.push(finding(
            Severity::Warning,
            "limits.max_body_bytes",
            "above 1 GB",
            "lower it, and raise it per route where uploads need more",
        ));
    }
    for (on, key, what) in [
        (config.ui.dashboard, "ui.dashboard", "/admin"),
        (config.ui.workspace, "ui.workspace", "/workspace"),
        (config.ui.docs, "ui.docs", "/docs and /redoc"),
        (config.ui.openapi, "ui.openapi", "/openapi.json"),
    ] {
        if on {
            out.push(finding(
                Severity::Warning,
                key,
                format!("{what} is exposed (behind its route's login)"),
                "turn it off unless you use it through the front door",
            ));
        }
    }
}

/// Whether any finding is an error (or, with `strict`, any finding at all).
pub fn fails(findings: &[Finding], strict: bool) -> bool {
    findings
        .iter()
        .any(|f| f.severity == Severity::Error || (strict && f.severity == Severity::Warning))
}
