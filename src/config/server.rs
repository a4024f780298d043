//! `[server]` and `[admin]`: listeners (with the bind guard), served host names, trusted
//! proxies, timeouts and connection limits.

use std::path::PathBuf;

use super::raw::{RawAdmin, RawServer};
use super::values::{parse_listen, positive_secs};
use super::{Cidr, ConfigError, ServerSettings};

/// The most connections or tunnels frontdoor counts (far above what one process serves;
/// a semaphore larger than its own limit would abort the start).
const MAX_SLOTS: usize = 1_000_000;

/// Validates `[server]` (and `[admin] listen`, which shares the bind guard).
pub(super) fn server_settings(
    raw: RawServer,
    admin: Option<RawAdmin>,
    file: &str,
) -> Result<ServerSettings, ConfigError> {
    let invalid = |key: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        problem,
    };
    let allow_public_bind = raw.allow_public_bind.unwrap_or(false);
    let listen = parse_listen(
        raw.listen.as_deref().unwrap_or("127.0.0.1:8443"),
        allow_public_bind,
    )
    .map_err(|p| invalid("server.listen", p))?;
    let http_listen = match raw.http_listen.as_deref() {
        None => None,
        Some(addr) => Some(
            parse_listen(addr, allow_public_bind).map_err(|p| invalid("server.http_listen", p))?,
        ),
    };
    let mut hosts = Vec::new();
    for (i, host) in raw.hosts.unwrap_or_default().iter().enumerate() {
        let host = host.trim().to_ascii_lowercase();
        let is_v6_literal = host.starts_with('[')
            && host.ends_with(']')
            && host[1..host.len() - 1]
                .parse::<std::net::Ipv6Addr>()
                .is_ok();
        if !is_v6_literal
            && (host.is_empty()
                || !host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)))
        {
            return Err(invalid(
                &format!("server.hosts[{i}]"),
                format!("`{host}` is not a host name (names only, without a port)"),
            ));
        }
        hosts.push(host);
    }
    let trusted_proxies = proxy_list(
        raw.trusted_proxies,
        "server.trusted_proxies",
        "would trust X-Forwarded-For from the whole internet",
        file,
    )?;
    let header_timeout = positive_secs(raw.header_timeout_secs, 10)
        .map_err(|p| invalid("server.header_timeout_secs", p))?;
    let idle_timeout = positive_secs(raw.idle_timeout_secs, 60)
        .map_err(|p| invalid("server.idle_timeout_secs", p))?;
    let shutdown_grace = positive_secs(raw.shutdown_grace_secs, 30)
        .map_err(|p| invalid("server.shutdown_grace_secs", p))?;
    let max_header_bytes = raw.max_header_bytes.unwrap_or(16 * 1024);
    // hyper's HTTP/1 reader cannot go below 8 KiB: a smaller value would be silently raised.
    if !(8192..=1024 * 1024).contains(&max_header_bytes) {
        return Err(invalid(
            "server.max_header_bytes",
            "must be between 8192 and 1048576".to_string(),
        ));
    }
    let admin_listen = match admin.and_then(|a| a.listen) {
        None => None,
        Some(addr) => {
            Some(parse_listen(&addr, allow_public_bind).map_err(|p| invalid("admin.listen", p))?)
        }
    };
    let body_timeout = positive_secs(raw.body_timeout_secs, 30)
        .map_err(|p| invalid("server.body_timeout_secs", p))?;
    let send_timeout = positive_secs(raw.send_timeout_secs, 60)
        .map_err(|p| invalid("server.send_timeout_secs", p))?;
    let tunnel_idle_timeout = positive_secs(raw.tunnel_idle_timeout_secs, 300)
        .map_err(|p| invalid("server.tunnel_idle_timeout_secs", p))?;
    let min_body_rate_bytes_per_sec = raw.min_body_rate_bytes_per_sec.unwrap_or(16);
    let max_connections = raw.max_connections.unwrap_or(20_000);
    if !(1..=MAX_SLOTS).contains(&max_connections) {
        return Err(invalid(
            "server.max_connections",
            format!("must be between 1 and {MAX_SLOTS}"),
        ));
    }
    let max_tunnels = raw.max_tunnels.unwrap_or(max_connections);
    if !(1..=MAX_SLOTS).contains(&max_tunnels) {
        return Err(invalid(
            "server.max_tunnels",
            format!("must be between 1 and {MAX_SLOTS}"),
        ));
    }

    Ok(ServerSettings {
        listen,
        allow_public_bind,
        http_listen,
        hosts,
        trusted_proxies,
        header_timeout,
        idle_timeout,
        max_header_bytes,
        body_timeout,
        min_body_rate_bytes_per_sec,
        send_timeout,
        tunnel_idle_timeout,
        max_tunnels,
        max_connections,
        shutdown_grace,
        pid_file: raw.pid_file.map(PathBuf::from),
        admin_listen,
    })
}

/// `[forward_auth]` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardAuthSettings {
    pub listen: std::net::SocketAddr,
    /// The proxies whose auth requests are answered (and believed). Empty: none is.
    pub trusted_proxies: Vec<Cidr>,
}

/// Validates `[forward_auth]`: a plain-HTTP listener (loopback unless acknowledged) and the
/// proxies it answers.
pub(super) fn forward_auth_settings(
    raw: super::raw::RawForwardAuth,
    file: &str,
) -> Result<ForwardAuthSettings, ConfigError> {
    let invalid = |key: &str, problem: String| ConfigError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        problem,
    };
    let listen = parse_listen(
        raw.listen.as_deref().unwrap_or("127.0.0.1:9180"),
        raw.allow_public_bind.unwrap_or(false),
    )
    .map_err(|p| invalid("forward_auth.listen", p))?;
    let trusted_proxies = proxy_list(
        raw.trusted_proxies,
        "forward_auth.trusted_proxies",
        "would let anyone ask for (and forge) auth decisions",
        file,
    )?;
    Ok(ForwardAuthSettings {
        listen,
        trusted_proxies,
    })
}

/// A list of proxy CIDRs; `/0` (everyone) is refused with what it would mean.
fn proxy_list(
    raw: Option<Vec<String>>,
    key: &str,
    everyone_means: &str,
    file: &str,
) -> Result<Vec<Cidr>, ConfigError> {
    let mut out = Vec::new();
    for (i, cidr) in raw.unwrap_or_default().iter().enumerate() {
        let invalid = |problem: String| ConfigError::Invalid {
            file: file.to_string(),
            key: format!("{key}[{i}]"),
            problem,
        };
        let parsed = cidr.parse::<Cidr>().map_err(invalid)?;
        if parsed.prefix_len() == 0 {
            return Err(invalid(format!("`{cidr}` {everyone_means}")));
        }
        out.push(parsed);
    }
    Ok(out)
}
