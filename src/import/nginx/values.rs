//! nginx values as frontdoor reads them (sizes, times, listen addresses, location paths),
//! and the TOML text and comments the translation writes.

use super::*;

/// nginx sizes: plain bytes or a `k`/`m`/`g` suffix (either case).
pub(super) fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = if let Some(d) = text.strip_suffix(['k', 'K']) {
        (d, 1u64 << 10)
    } else if let Some(d) = text.strip_suffix(['m', 'M']) {
        (d, 1 << 20)
    } else if let Some(d) = text.strip_suffix(['g', 'G']) {
        (d, 1 << 30)
    } else {
        (text, 1)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// nginx times (`300`, `300s`, `5m`, `1m30s`, `500ms`, ...), rounded up to whole seconds.
pub(super) fn parse_secs(text: &str) -> Option<u64> {
    let mut chars = text.chars().peekable();
    let mut total_ms: u64 = 0;
    chars.peek()?;
    while chars.peek().is_some() {
        let mut n: u64 = 0;
        let mut digits = 0;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            n = n.checked_mul(10)?.checked_add(u64::from(d))?;
            digits += 1;
            chars.next();
        }
        if digits == 0 {
            return None;
        }
        let unit_ms: u64 = match chars.next() {
            None | Some('s') => 1_000,
            Some('m') => {
                if chars.next_if_eq(&'s').is_some() {
                    1
                } else {
                    60_000
                }
            }
            Some('h') => 3_600_000,
            Some('d') => 86_400_000,
            Some('w') => 604_800_000,
            Some('M') => 2_592_000_000,
            Some('y') => 31_536_000_000,
            Some(_) => return None,
        };
        total_ms = total_ms.checked_add(n.checked_mul(unit_ms)?)?;
    }
    Some(total_ms.div_ceil(1000))
}

/// An nginx `listen` address as a socket address (bare port and `*` mean all IPv4 interfaces).
pub(super) fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    if text.starts_with("unix:") {
        return Err("frontdoor cannot listen on a unix socket".to_string());
    }
    let port_of = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("`{p}` is not a port")),
            Ok(n) => Ok(n),
        }
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port_of(text)?,
        ));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return Err("unclosed `[` in the address".to_string());
        };
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| format!("`{ip}` is not an IPv6 address"))?;
        let port = match after {
            "" => 80,
            _ => match after.strip_prefix(':') {
                Some(p) => port_of(p)?,
                None => return Err("unexpected text after `]`".to_string()),
            },
        };
        return Ok(SocketAddr::new(IpAddr::V6(ip), port));
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (h, port_of(p)?),
        None => (text, 80),
    };
    let ip = match host {
        "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        other => other.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| {
            format!("`{other}` is not an IP address; frontdoor listens on addresses, not names")
        })?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// `host:port` of an upstream, validated, with nginx's default port 80 filled in.
pub(super) fn parse_host_port(text: &str) -> Result<String, String> {
    let port_of = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("`{p}` is not a port")),
            Ok(n) => Ok(n),
        }
    };
    if let Some(rest) = text.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return Err("unclosed `[`".to_string());
        };
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| format!("`{ip}` is not an IPv6 address"))?;
        let port = match after {
            "" => 80,
            _ => match after.strip_prefix(':') {
                Some(p) => port_of(p)?,
                None => return Err("unexpected text after `]`".to_string()),
            },
        };
        return Ok(format!("[{ip}]:{port}"));
    }
    let (host, port) = match text.split_once(':') {
        Some((h, p)) => (h, port_of(p)?),
        None => (text, 80),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err(format!("`{host}` is not a host name"));
    }
    Ok(format!("{}:{port}", host.to_ascii_lowercase()))
}

/// An nginx location path as a frontdoor route path: normal form, no trailing slash
/// except `/`, bytes outside the literal set percent-encoded the way frontdoor's
/// normalizer writes them.
pub(super) fn route_path(path: &str) -> Result<String, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("the path does not start with `/`".to_string());
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok("/".to_string());
    }
    let mut out = String::new();
    for segment in rest.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err("empty or dot segments cannot be routes".to_string());
        }
        out.push('/');
        for b in segment.bytes() {
            match b {
                b'%' => {
                    return Err("nginx matches decoded paths; write this route by hand".to_string());
                }
                b'\\' | b';' | b'?' | b'#' | 0x00..=0x1F | 0x7F => {
                    return Err(format!(
                        "the byte {:?} cannot appear in a route path",
                        char::from(b)
                    ));
                }
                b if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,=:@".contains(&b) => {
                    out.push(char::from(b));
                }
                b => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    // The policy's normalizer has the last word: a route frontdoor would not match as
    // written is refused here rather than imported.
    match crate::policy::normalize_path(&out) {
        Ok(normal) if normal == out => Ok(out),
        _ => Err("not a path frontdoor can match as written; write this route by hand".into()),
    }
}

/// The `[ui]` key of the hidden area a route path belongs to: the policy's own rule (first
/// segment, any case, escapes and Unicode look-alikes folded), so the importer and `serve`
/// agree on what is hidden.
pub(super) fn hidden_area(path: &str) -> Option<&'static str> {
    use crate::policy::HiddenArea;
    crate::policy::hidden_area(path).map(|area| match area {
        HiddenArea::Dashboard => "dashboard",
        HiddenArea::Workspace => "workspace",
        HiddenArea::Docs => "docs",
        HiddenArea::OpenApi => "openapi",
    })
}

/// A TOML basic string.
pub(super) fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7F => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(super) fn toml_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", inner.join(", "))
}

/// Text made safe for a one-line TOML comment, and kept short.
pub(super) fn clean(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i >= MAX_COMMENT_CHARS {
            out.push_str("...");
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

pub(super) fn note(d: &Directive, reason: &str) -> String {
    format!(
        "# nginx: {} -- not translated: {}",
        clean(&d.render()),
        clean(reason)
    )
}

pub(super) fn kv(key: &str, value: String, comment: Option<&str>) -> String {
    match comment {
        Some(c) => format!("{key} = {value}  # {}", clean(c)),
        None => format!("{key} = {value}"),
    }
}

/// Why a directive has no frontdoor equivalent.
pub(super) fn reason_for(d: &Directive) -> String {
    let name = d.name.as_str();
    let arg0 = d.arg(0).unwrap_or("").to_ascii_lowercase();
    let reason = match name {
        "proxy_set_header" => match arg0.as_str() {
            "host" => "frontdoor sets this itself",
            h if h.starts_with("x-forwarded-") => "frontdoor sets this itself",
            "x-real-ip" => "frontdoor sends the client address in X-Forwarded-For itself",
            "upgrade" | "connection" => "frontdoor forwards websocket upgrades itself",
            _ => "frontdoor does not add request headers",
        },
        "proxy_http_version" => {
            "frontdoor speaks HTTP/1.1 to the upstream and forwards websocket upgrades itself"
        }
        "proxy_hide_header" | "proxy_pass_header" | "proxy_ignore_headers" => {
            "frontdoor has fixed header rules"
        }
        "proxy_buffering"
        | "proxy_request_buffering"
        | "proxy_buffers"
        | "proxy_buffer_size"
        | "proxy_busy_buffers_size"
        | "proxy_max_temp_file_size" => "frontdoor streams bodies both ways without buffering",
        "proxy_redirect" => "frontdoor does not rewrite Location headers",
        "proxy_send_timeout" => "frontdoor has no separate send timeout",
        n if n.starts_with("proxy_cache") => "frontdoor does not cache",
        n if n.starts_with("proxy_ssl") => "frontdoor talks plain HTTP to a local upstream",
        "add_header" | "more_set_headers" => {
            "frontdoor does not add response headers; set them in the application"
        }
        "include" => {
            "included files are not followed; translate what they hold by hand \
             (or import the file that holds your server block)"
        }
        "ssl_client_certificate" | "ssl_verify_depth" | "ssl_crl" => {
            "frontdoor does not check client certificates"
        }
        n if n.starts_with("ssl") => "frontdoor uses rustls with safe defaults (TLS 1.2 and 1.3)",
        "http2" | "spdy" => "frontdoor offers HTTP/2 by ALPN itself",
        "http3" | "quic" | "quic_retry" => "frontdoor does not serve HTTP/3",
        "access_log" | "error_log" | "log_format" | "log_not_found" | "open_log_file_cache" => {
            "frontdoor logs to stderr"
        }
        "root"
        | "alias"
        | "index"
        | "try_files"
        | "autoindex"
        | "sendfile"
        | "tcp_nopush"
        | "tcp_nodelay"
        | "types"
        | "default_type"
        | "expires"
        | "etag"
        | "charset"
        | "types_hash_max_size"
        | "server_names_hash_bucket_size" => "frontdoor does not serve files",
        n if n.starts_with("gzip") || n.starts_with("brotli") => {
            "frontdoor does not compress responses"
        }
        "rewrite" => "frontdoor does not rewrite paths: the upstream sees the path as requested",
        "if" => "`if` blocks cannot be translated",
        "error_page" => "frontdoor answers errors itself",
        "limit_req" | "limit_req_zone" | "limit_conn" | "limit_conn_zone" | "limit_rate" => {
            "frontdoor has no per-path rate limits; failed logins are throttled by [auth.lockout]"
        }
        "set_real_ip_from" | "real_ip_header" | "real_ip_recursive" => {
            "see server.trusted_proxies (CIDRs whose X-Forwarded-For frontdoor keeps); not set automatically"
        }
        "resolver" | "resolver_timeout" => "frontdoor uses the system resolver",
        "allow" | "deny" | "satisfy" => "frontdoor has no IP rules",
        "user"
        | "worker_processes"
        | "pid"
        | "worker_rlimit_nofile"
        | "load_module"
        | "daemon"
        | "master_process"
        | "events"
        | "worker_connections"
        | "multi_accept" => "an nginx process setting",
        "stream" | "mail" => "frontdoor proxies HTTP only",
        "map" | "geo" | "split_clients" => "nginx variables are not translated",
        "keepalive_timeout" | "client_header_timeout" => "only translated at server level",
        "server_tokens" => "frontdoor sends no version banner to clients",
        "location" => "a location needs a block",
        _ => "no frontdoor equivalent",
    };
    reason.to_string()
}
