//! Owns the small value parsers every section shares: durations, listen addresses (with the
//! bind guard), DNS names and positive counts.

use std::net::SocketAddr;
use std::time::Duration;

pub(super) fn duration_value(
    value: Option<toml::Value>,
    default_secs: u64,
) -> Result<Duration, String> {
    let secs = match value {
        None => default_secs,
        Some(toml::Value::Integer(n)) => {
            u64::try_from(n).map_err(|_| "must not be negative".to_string())?
        }
        Some(toml::Value::String(text)) => {
            let text = text.trim();
            let split = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let n: u64 = number
                .parse()
                .map_err(|_| format!("`{text}` is not a duration like \"12h\" or 3600"))?;
            let scale = match unit {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return Err(format!("`{text}`: the unit must be s, m, h or d")),
            };
            n.checked_mul(scale)
                .ok_or_else(|| "is too long".to_string())?
        }
        Some(_) => return Err("must be seconds or a string like \"12h\"".to_string()),
    };
    if secs == 0 || secs > 366 * 86_400 {
        return Err("must be between 1 second and 366 days".to_string());
    }
    Ok(Duration::from_secs(secs))
}

/// Parses a listen address and applies the bind guard: a non-loopback address (0.0.0.0, [::],
/// or a real interface) exposes the front door to the network, so it must be acknowledged.
pub(super) fn parse_listen(text: &str, allow_public_bind: bool) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| format!("`{text}` is not an address like 127.0.0.1:8443 or [::1]:8443"))?;
    if !addr.ip().is_loopback() && !allow_public_bind {
        return Err(format!(
            "`{text}` is reachable from other machines; refusing to listen there unless \
             `server.allow_public_bind = true` (or FRONTDOOR_SERVER_ALLOW_PUBLIC_BIND=true) says you mean it"
        ));
    }
    Ok(addr)
}

/// A host name a public CA can issue for: dot-separated labels of letters, digits and
/// hyphens, at least two labels, not an IP address.
pub(super) fn check_dns_name(name: &str) -> Result<(), String> {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err("IP addresses cannot get ACME certificates here; use a DNS name".to_string());
    }
    if name.len() > 253 {
        return Err("longer than 253 characters".to_string());
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err("a public CA needs a full name like agent.example.com".to_string());
    }
    for label in labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(format!("`{label}` is not a valid DNS label"));
        }
    }
    Ok(())
}

pub(super) fn at_least_one(value: Option<usize>, default: usize) -> Result<usize, String> {
    match value.unwrap_or(default) {
        0 => Err("must be at least 1".to_string()),
        n => Ok(n),
    }
}

pub(super) fn positive_secs(value: Option<u64>, default: u64) -> Result<Duration, String> {
    match value.unwrap_or(default) {
        0 => Err("must be at least 1 second".to_string()),
        s if s > 24 * 3600 => Err("must be at most 86400 seconds".to_string()),
        s => Ok(Duration::from_secs(s)),
    }
}
