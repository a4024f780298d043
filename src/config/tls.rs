//! `[tls]`: certificate files, a self-signed certificate, or `[tls.acme]`.

use std::path::PathBuf;

use super::raw::{RawAcme, RawTls};
use super::values::check_dns_name;
use super::{
    AcmeChallenge, AcmeSettings, ConfigError, LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING,
    TlsSettings,
};

/// Validates `[tls]`; HTTP-01 needs the plain-HTTP listener (`has_http_listener`).
pub(super) fn tls_settings(
    raw: RawTls,
    has_http_listener: bool,
    file: &str,
) -> Result<TlsSettings, ConfigError> {
    let invalid = |key: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        problem,
    };
    let acme = raw.acme;
    let tls = match (raw.cert, raw.key, raw.self_signed.unwrap_or(false)) {
        (None, None, false) if acme.is_some() => {
            let acme = acme.unwrap_or_default();
            TlsSettings::Acme(acme_settings(acme, has_http_listener, file)?)
        }
        _ if acme.is_some() => {
            return Err(invalid(
                "tls.acme",
                "cannot be combined with `cert`/`key` or `self_signed`: pick one".to_string(),
            ));
        }
        (Some(cert), Some(key), false) => TlsSettings::Files {
            cert: cert.into(),
            key: key.into(),
        },
        (cert, key, true) => TlsSettings::SelfSigned {
            cert: cert
                .unwrap_or_else(|| "certs/self-signed.crt".into())
                .into(),
            key: key.unwrap_or_else(|| "certs/self-signed.key".into()).into(),
            hosts: raw
                .self_signed_hosts
                .unwrap_or_else(|| vec!["localhost".into(), "127.0.0.1".into()]),
        },
        (None, None, false) => {
            return Err(invalid(
                "tls",
                "set `cert` and `key` (PEM files), `self_signed = true`, or a [tls.acme] section"
                    .to_string(),
            ));
        }
        (Some(_), None, false) => {
            return Err(invalid(
                "tls.key",
                "`cert` is set but `key` is missing".to_string(),
            ));
        }
        (None, Some(_), false) => {
            return Err(invalid(
                "tls.cert",
                "`key` is set but `cert` is missing".to_string(),
            ));
        }
    };

    Ok(tls)
}

/// Checks `[tls.acme]`: real DNS names (no wildcards: they need DNS-01), one directory, and
/// a listener for the chosen challenge.
fn acme_settings(
    raw: RawAcme,
    have_http_listener: bool,
    file: &str,
) -> Result<AcmeSettings, ConfigError> {
    let invalid = |k: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: format!("tls.acme.{k}"),
        problem,
    };
    let mut domains: Vec<String> = Vec::new();
    for name in raw.domains.unwrap_or_default() {
        let lower = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if lower.starts_with("*.") {
            return Err(invalid(
                "domains",
                format!(
                    "`{name}`: wildcard names need the DNS-01 challenge, which frontdoor does not do"
                ),
            ));
        }
        if let Err(problem) = check_dns_name(&lower) {
            return Err(invalid("domains", format!("`{name}`: {problem}")));
        }
        if !domains.contains(&lower) {
            domains.push(lower);
        }
    }
    if domains.is_empty() {
        return Err(invalid(
            "domains",
            "list the names to get a certificate for, like [\"agent.example.com\"]".to_string(),
        ));
    }
    let contact = match raw.contact.map(|c| c.trim().to_string()) {
        None => None,
        Some(c) if c.is_empty() => None,
        Some(c) => {
            let address = c.strip_prefix("mailto:").unwrap_or(&c);
            let valid = address.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty()
                    && host.contains('.')
                    && !address
                        .chars()
                        .any(|ch| ch.is_whitespace() || ch.is_control() || ch == ',')
            });
            if !valid {
                return Err(invalid("contact", format!("`{c}` is not an email address")));
            }
            Some(format!("mailto:{address}"))
        }
    };
    let directory = match (raw.directory, raw.staging.unwrap_or(false)) {
        (Some(_), true) => {
            return Err(invalid(
                "staging",
                "`staging = true` picks Let's Encrypt staging; remove it or `directory`"
                    .to_string(),
            ));
        }
        (Some(url), false) => {
            let uri: http::Uri = url
                .parse()
                .map_err(|e| invalid("directory", format!("`{url}`: {e}")))?;
            if uri.scheme_str() != Some("https") || uri.host().is_none() {
                return Err(invalid(
                    "directory",
                    format!("`{url}` must be an https:// URL (ACME runs over HTTPS)"),
                ));
            }
            url
        }
        (None, true) => LETS_ENCRYPT_STAGING.to_string(),
        (None, false) => LETS_ENCRYPT_PRODUCTION.to_string(),
    };
    let challenge = match raw.challenge.as_deref().unwrap_or("tls-alpn-01") {
        "tls-alpn-01" => AcmeChallenge::TlsAlpn01,
        "http-01" => {
            if !have_http_listener {
                return Err(invalid(
                    "challenge",
                    "http-01 is answered on the plain-HTTP listener: set server.http_listen \
                     (port 80 as the CA sees it)"
                        .to_string(),
                ));
            }
            AcmeChallenge::Http01
        }
        other => {
            return Err(invalid(
                "challenge",
                format!("`{other}` is not supported: use \"tls-alpn-01\" or \"http-01\""),
            ));
        }
    };
    Ok(AcmeSettings {
        domains,
        contact,
        directory,
        cache_dir: raw.cache_dir.unwrap_or_else(|| "certs/acme".into()).into(),
        challenge,
        ca_roots: raw.ca_roots.map(PathBuf::from),
        certificate_per_domain: raw.certificate_per_domain.unwrap_or(false),
    })
}
