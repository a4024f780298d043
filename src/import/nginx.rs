//! `frontdoor import nginx`: parses nginx config syntax and translates one `server` block into frontdoor TOML.
//!
//! The translation is deliberately conservative: what cannot be expressed in frontdoor's
//! config becomes a `# nginx: ... -- not translated: ...` comment, and where dropping a
//! directive would make something more reachable than it was under nginx (an IP allowlist,
//! `auth_request`, client certificates), the location is left unlisted, which frontdoor
//! answers with 404, and the comment says so.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

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
/// The UI areas frontdoor hides unless switched on: first path segment, `[ui]` key.
const HIDDEN_AREAS: &[(&str, &str)] = &[
    ("admin", "dashboard"),
    ("workspace", "workspace"),
    ("docs", "docs"),
    ("redoc", "docs"),
    ("openapi.json", "openapi"),
];
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
pub fn import_nginx(text: &str, source_name: &str) -> Result<String, ImportError> {
    let tokens = tokenize(text, source_name)?;
    let tree = parse(tokens, source_name)?;
    Translator::new(source_name).run(&tree)
}

// ---------------------------------------------------------------------------------------
// Syntax
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
enum Token {
    Word { text: String, line: usize },
    Semi(usize),
    Open(usize),
    Close(usize),
}

/// One directive: `name args... ;` or `name args... { block }`.
#[derive(Debug)]
struct Directive {
    name: String,
    args: Vec<String>,
    line: usize,
    block: Option<Vec<Directive>>,
}

impl Directive {
    fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }

    fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// The directive as nginx text (one line; a block is shown as `{ ... }`).
    fn render(&self) -> String {
        let mut out = quote_arg(&self.name);
        for arg in &self.args {
            out.push(' ');
            out.push_str(&quote_arg(arg));
        }
        if self.block.is_some() {
            out.push_str(" { ... }");
        }
        out
    }

    /// `location = /x` without the block, for headings.
    fn head(&self) -> String {
        let mut out = quote_arg(&self.name);
        for arg in &self.args {
            out.push(' ');
            out.push_str(&quote_arg(arg));
        }
        out
    }
}

fn quote_arg(arg: &str) -> String {
    let plain = !arg.is_empty()
        && !arg
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, ';' | '{' | '}' | '#' | '"' | '\''));
    if plain {
        return arg.to_string();
    }
    let mut out = String::from("\"");
    for c in arg.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// nginx's unescaping, applied to quoted and bare words alike: `\" \' \\` lose the
/// backslash, `\t \r \n` become control characters, anything else keeps it (`\.` in regexes).
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e @ ('"' | '\'' | '\\')) => out.push(e),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn tokenize(text: &str, file: &str) -> Result<Vec<Token>, ImportError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => while chars.next_if(|&n| n != '\n').is_some() {},
            ';' => tokens.push(Token::Semi(line)),
            '{' => tokens.push(Token::Open(line)),
            '}' => tokens.push(Token::Close(line)),
            '"' | '\'' => {
                let start = line;
                let mut raw = String::new();
                let mut closed = false;
                while let Some(n) = chars.next() {
                    if n == '\n' {
                        line += 1;
                    }
                    if n == '\\' {
                        raw.push(n);
                        if let Some(e) = chars.next() {
                            if e == '\n' {
                                line += 1;
                            }
                            raw.push(e);
                        }
                        continue;
                    }
                    if n == c {
                        closed = true;
                        break;
                    }
                    raw.push(n);
                }
                if !closed {
                    return Err(ImportError::UnterminatedQuote {
                        file: file.to_string(),
                        line: start,
                    });
                }
                tokens.push(Token::Word {
                    text: unescape(&raw),
                    line: start,
                });
            }
            first => {
                let start = line;
                let mut raw = String::new();
                let mut cur = first;
                // Inside `${name}` a `}` belongs to the word, not to the block structure.
                let mut in_var = false;
                loop {
                    if cur == '\\' {
                        raw.push('\\');
                        match chars.next() {
                            Some(e) => {
                                if e == '\n' {
                                    line += 1;
                                }
                                raw.push(e);
                            }
                            None => break,
                        }
                    } else if cur == '$' && chars.peek() == Some(&'{') {
                        raw.push('$');
                        raw.push('{');
                        chars.next();
                        in_var = true;
                    } else {
                        if cur == '}' {
                            in_var = false;
                        }
                        raw.push(cur);
                    }
                    let ends = |n: char| {
                        n.is_whitespace() || n == ';' || n == '{' || (n == '}' && !in_var)
                    };
                    match chars.next_if(|&n| !ends(n)) {
                        Some(n) => cur = n,
                        None => break,
                    }
                }
                tokens.push(Token::Word {
                    text: unescape(&raw),
                    line: start,
                });
            }
        }
    }
    Ok(tokens)
}

/// Directives that always fit on one line: when one of them is still open and a line
/// starts with a directive name, the `;` was forgotten.
const ONE_LINE_DIRECTIVES: &[&str] = &[
    "listen",
    "proxy_pass",
    "auth_basic",
    "auth_basic_user_file",
    "client_max_body_size",
    "ssl_certificate",
    "ssl_certificate_key",
    "return",
    "deny",
    "allow",
    "include",
    "root",
    "proxy_set_header",
    "proxy_http_version",
    "proxy_read_timeout",
    "proxy_connect_timeout",
    "ssl_protocols",
];
const DIRECTIVE_STARTS: &[&str] = &[
    "location",
    "server",
    "server_name",
    "http",
    "limit_except",
    "if",
    "upstream",
    "index",
    "try_files",
    "error_page",
    "access_log",
    "error_log",
    "add_header",
    "ssl_ciphers",
];

struct Frame {
    name: String,
    args: Vec<String>,
    line: usize,
    children: Vec<Directive>,
}

fn parse(tokens: Vec<Token>, file: &str) -> Result<Vec<Directive>, ImportError> {
    let mut top: Vec<Directive> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut pending: Vec<(String, usize)> = Vec::new();
    let mut last_line = 0usize;
    let missing_semicolon = |pending: &[(String, usize)]| match pending.first() {
        Some((name, line)) => ImportError::MissingSemicolon {
            file: file.to_string(),
            line: *line,
            directive: name.clone(),
        },
        None => ImportError::UnexpectedToken {
            file: file.to_string(),
            line: 0,
            token: "}".to_string(),
        },
    };
    for token in tokens {
        match token {
            Token::Word { text, line } => {
                let forgotten = pending.first().is_some_and(|(name, _)| {
                    line > last_line
                        && ONE_LINE_DIRECTIVES.contains(&name.as_str())
                        && (ONE_LINE_DIRECTIVES.contains(&text.as_str())
                            || DIRECTIVE_STARTS.contains(&text.as_str()))
                });
                if forgotten {
                    return Err(missing_semicolon(&pending));
                }
                last_line = line;
                pending.push((text, line));
            }
            Token::Semi(line) => {
                let mut words = std::mem::take(&mut pending).into_iter();
                let Some((name, first_line)) = words.next() else {
                    return Err(ImportError::UnexpectedToken {
                        file: file.to_string(),
                        line,
                        token: ";".to_string(),
                    });
                };
                let directive = Directive {
                    name,
                    args: words.map(|(w, _)| w).collect(),
                    line: first_line,
                    block: None,
                };
                match stack.last_mut() {
                    Some(frame) => frame.children.push(directive),
                    None => top.push(directive),
                }
            }
            Token::Open(line) => {
                let mut words = std::mem::take(&mut pending).into_iter();
                let Some((name, first_line)) = words.next() else {
                    return Err(ImportError::UnexpectedToken {
                        file: file.to_string(),
                        line,
                        token: "{".to_string(),
                    });
                };
                if stack.len() >= MAX_DEPTH {
                    return Err(ImportError::TooDeep {
                        file: file.to_string(),
                        line,
                    });
                }
                stack.push(Frame {
                    name,
                    args: words.map(|(w, _)| w).collect(),
                    line: first_line,
                    children: Vec::new(),
                });
            }
            Token::Close(line) => {
                if !pending.is_empty() {
                    return Err(missing_semicolon(&pending));
                }
                let Some(frame) = stack.pop() else {
                    return Err(ImportError::UnexpectedCloseBrace {
                        file: file.to_string(),
                        line,
                    });
                };
                let directive = Directive {
                    name: frame.name,
                    args: frame.args,
                    line: frame.line,
                    block: Some(frame.children),
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(directive),
                    None => top.push(directive),
                }
            }
        }
    }
    if !pending.is_empty() {
        return Err(missing_semicolon(&pending));
    }
    if let Some(frame) = stack.last() {
        return Err(ImportError::UnclosedBlock {
            file: file.to_string(),
            line: frame.line,
            name: frame.name.clone(),
        });
    }
    Ok(top)
}

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

/// nginx sizes: plain bytes or a `k`/`m`/`g` suffix (either case).
fn parse_size(text: &str) -> Option<u64> {
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
fn parse_secs(text: &str) -> Option<u64> {
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
fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
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
fn parse_host_port(text: &str) -> Result<String, String> {
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
fn route_path(path: &str) -> Result<String, String> {
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
    Ok(out)
}

/// The `[ui]` key of the hidden area a route path belongs to (first segment, any case).
fn hidden_area(path: &str) -> Option<&'static str> {
    let first = path.strip_prefix('/')?.split('/').next()?;
    HIDDEN_AREAS
        .iter()
        .find(|(segment, _)| first.eq_ignore_ascii_case(segment))
        .map(|(_, key)| *key)
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
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

fn toml_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", inner.join(", "))
}

/// Text made safe for a one-line TOML comment, and kept short.
fn clean(text: &str) -> String {
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

fn note(d: &Directive, reason: &str) -> String {
    format!(
        "# nginx: {} -- not translated: {}",
        clean(&d.render()),
        clean(reason)
    )
}

fn kv(key: &str, value: String, comment: Option<&str>) -> String {
    match comment {
        Some(c) => format!("{key} = {value}  # {}", clean(c)),
        None => format!("{key} = {value}"),
    }
}

/// Why a directive has no frontdoor equivalent.
fn reason_for(d: &Directive) -> String {
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

// ---------------------------------------------------------------------------------------
// Translation
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Server,
    Tls,
    Upstream,
    Limits,
    Auth,
    Other,
}

fn section_for(name: &str) -> Section {
    if name.starts_with("ssl") {
        Section::Tls
    } else if name.starts_with("proxy_") {
        Section::Upstream
    } else if name.starts_with("auth_") || matches!(name, "allow" | "deny" | "satisfy") {
        Section::Auth
    } else {
        Section::Server
    }
}

#[derive(Debug, Clone)]
enum BasicAuth {
    Off,
    Realm(String),
}

/// The effect of one level's `allow`/`deny` list (nginx: first match wins).
#[derive(Debug, Clone)]
struct Access {
    deny_all: bool,
    allows: Vec<String>,
}

#[derive(Debug, Clone)]
struct Body {
    bytes: u64,
    unlimited: bool,
    text: String,
}

#[derive(Debug, Clone)]
struct Timeout {
    secs: u64,
    text: String,
}

/// Settings nginx inherits from http to server to location (to nested location).
#[derive(Debug, Clone, Default)]
struct Scope {
    auth: Option<BasicAuth>,
    user_file: Option<String>,
    /// A login frontdoor cannot check (`auth_request`, client certificates).
    foreign_auth: Option<String>,
    access: Option<Access>,
    satisfy_any: bool,
    body: Option<Body>,
    body_in_location: bool,
    read_timeout: Option<Timeout>,
    connect_timeout: Option<Timeout>,
}

impl Scope {
    /// Applies an inheritable directive; false when `d` is not one. Partial translations
    /// push their comment onto `notes`.
    fn apply(&mut self, d: &Directive, in_location: bool, notes: &mut Vec<String>) -> bool {
        match d.name.as_str() {
            "auth_basic" => match d.arg(0) {
                Some(v) if d.args.len() == 1 => {
                    self.auth = Some(if v == "off" {
                        BasicAuth::Off
                    } else {
                        BasicAuth::Realm(v.to_string())
                    });
                }
                _ => notes.push(note(d, "expects one argument")),
            },
            "auth_basic_user_file" => match d.arg(0) {
                Some(v) if !v.is_empty() => self.user_file = Some(v.to_string()),
                _ => notes.push(note(d, "expects a file name")),
            },
            "client_max_body_size" => match d.arg(0).and_then(parse_size) {
                Some(0) => {
                    self.body = Some(Body {
                        bytes: UNLIMITED_BODY_BYTES,
                        unlimited: true,
                        text: d.render(),
                    });
                    self.body_in_location = in_location;
                }
                Some(bytes) => {
                    self.body = Some(Body {
                        bytes,
                        unlimited: false,
                        text: d.render(),
                    });
                    self.body_in_location = in_location;
                }
                None => notes.push(note(d, "not a size nginx accepts")),
            },
            "proxy_read_timeout" | "proxy_connect_timeout" => match d.arg(0).and_then(parse_secs) {
                Some(secs) => {
                    let t = Some(Timeout {
                        secs,
                        text: d.render(),
                    });
                    if d.name == "proxy_read_timeout" {
                        self.read_timeout = t;
                    } else {
                        self.connect_timeout = t;
                    }
                }
                None => notes.push(note(d, "not a time nginx accepts")),
            },
            "auth_request" | "auth_jwt" | "auth_pam" | "auth_ldap" | "auth_digest" => {
                if d.arg(0) == Some("off") {
                    self.foreign_auth = None;
                } else {
                    self.foreign_auth = Some(d.render());
                }
                notes.push(note(
                    d,
                    "frontdoor checks Basic logins only; locations that needed this login are \
                     left unlisted (404) unless Basic login also applies there",
                ));
            }
            "ssl_verify_client" => {
                if d.arg(0) == Some("on") {
                    self.foreign_auth = Some(d.render());
                    notes.push(note(
                        d,
                        "frontdoor does not check client certificates; locations without Basic \
                         login are left unlisted (404) rather than made public",
                    ));
                } else {
                    notes.push(note(d, "frontdoor does not check client certificates"));
                }
            }
            "satisfy" => {
                self.satisfy_any = d.arg(0) == Some("any");
                notes.push(note(d, "frontdoor has no IP rules to combine with logins"));
            }
            _ => return false,
        }
        true
    }

    /// Replaces the inherited access list when this level has `allow`/`deny` of its own.
    fn apply_access<'d>(&mut self, level: impl IntoIterator<Item = &'d Directive>) {
        let mut rules = level
            .into_iter()
            .filter(|d| d.block.is_none() && matches!(d.name.as_str(), "allow" | "deny"))
            .peekable();
        if rules.peek().is_none() {
            return;
        }
        let mut access = Access {
            deny_all: false,
            allows: Vec::new(),
        };
        for rule in rules {
            match (rule.name.as_str(), rule.arg(0)) {
                ("allow", Some("all")) => break,
                ("deny", Some("all")) => {
                    access.deny_all = true;
                    break;
                }
                ("allow", Some(who)) => access.allows.push(who.to_string()),
                _ => {}
            }
        }
        self.access = Some(access);
    }
}

#[derive(Debug)]
enum Action {
    Proxy,
    /// `deny all` or `return 4xx`: frontdoor leaves it unlisted.
    Deny(String),
    /// Not proxied for another reason (redirect, static files, ...).
    Other(String),
}

#[derive(Debug, Clone)]
struct ProxyTarget {
    /// `http://host:port`.
    origin: String,
    /// The URI part of `proxy_pass`, if any.
    uri: Option<String>,
    /// Set when the host was an `upstream` block.
    via: Option<String>,
    /// The `upstream` block's name (lower case), if one was used.
    block: Option<String>,
}

#[derive(Debug)]
struct LocRecord {
    line: usize,
    head: String,
    /// The location path as written.
    raw_path: String,
    /// Translated route path, or why there is none.
    path: Result<String, String>,
    exact: bool,
    scope: Scope,
    proxy: Option<Result<ProxyTarget, String>>,
    proxy_text: String,
    action: Action,
    methods: Option<Vec<String>>,
    methods_text: String,
    /// `limit_except` turns Basic login on for the other methods.
    limit_except_login: bool,
    websocket: bool,
    notes: Vec<String>,
}

/// A location that became no route: its (path, exact) if it has one, the comment, and
/// the comments for its directives.
type LocationNote = (Option<(String, bool)>, String, Vec<String>);

/// The http level: the server blocks, and the defaults every server inherits.
struct HttpLevel<'a> {
    servers: Vec<&'a Directive>,
    scope: Scope,
    certs: Vec<&'a Directive>,
    keys: Vec<&'a Directive>,
    header_timeout: Option<&'a Directive>,
    idle_timeout: Option<&'a Directive>,
}

/// What the chosen server block says (http defaults applied), apart from its locations.
struct ServerFacts<'a> {
    scope: Scope,
    listens: Vec<&'a Directive>,
    names: Vec<String>,
    certs: Vec<&'a Directive>,
    keys: Vec<&'a Directive>,
    ssl_on: bool,
    proxy: Option<&'a Directive>,
    server_return: Option<String>,
    header_timeout: Option<&'a Directive>,
    idle_timeout: Option<&'a Directive>,
    locations: Vec<&'a Directive>,
}

/// The routes and everything decided along with them.
#[derive(Default)]
struct RoutePlan {
    routes: Vec<RouteOut>,
    /// The Basic realm, user file, and the location they were taken from.
    basic_source: Option<(String, String, String)>,
    /// Comments for the locations that are not routes.
    location_lines: Vec<String>,
    other_upstreams: Vec<String>,
    read_timeouts: Vec<Timeout>,
    connect_timeouts: Vec<Timeout>,
    ui: Vec<(&'static str, bool, Option<String>)>,
}

/// The two listeners frontdoor has.
struct Listeners {
    tls: Option<(SocketAddr, String)>,
    http: Option<(SocketAddr, String)>,
    http_comment: Option<String>,
}

#[derive(Debug)]
struct RouteOut {
    comments: Vec<String>,
    path: String,
    exact: bool,
    methods: Option<(Vec<String>, String)>,
    basic: bool,
    auth_comment: Option<String>,
    max_body: Option<Body>,
}

struct Translator<'a> {
    file: &'a str,
    upstream_blocks: HashMap<String, &'a Directive>,
    notes: Vec<(Section, String)>,
    records: Vec<LocRecord>,
}

impl<'a> Translator<'a> {
    fn new(file: &'a str) -> Self {
        Translator {
            file,
            upstream_blocks: HashMap::new(),
            notes: Vec::new(),
            records: Vec::new(),
        }
    }

    fn push(&mut self, section: Section, line: String) {
        self.notes.push((section, line));
    }

    fn run(mut self, tree: &'a [Directive]) -> Result<String, ImportError> {
        let http = self.read_http(tree);
        let no_server = || ImportError::NoServerBlock {
            file: self.file.to_string(),
        };
        let chosen_index = choose_server(&http.servers).ok_or_else(no_server)?;
        let server = http
            .servers
            .get(chosen_index)
            .copied()
            .ok_or_else(no_server)?;
        let others: Vec<&Directive> = http
            .servers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != chosen_index)
            .map(|(_, s)| *s)
            .collect();
        let facts = self.read_server(server, &http);

        // Locations, flattened in document order.
        for loc in &facts.locations {
            self.walk_location(loc, &facts.scope, 0);
        }
        if let Some(ret) = &facts.server_return {
            for record in &mut self.records {
                record.action =
                    Action::Other(format!("the server-level `{}` answered first", clean(ret)));
            }
        }

        let (primary, primary_from) =
            self.primary_upstream(facts.proxy)
                .ok_or_else(|| ImportError::NoUpstream {
                    file: self.file.to_string(),
                })?;
        self.note_unused_upstreams(facts.proxy);
        let plan = self.build_routes(&facts, &primary);
        let listeners = self.listeners(&facts, &others);

        let mut out = String::new();
        self.emit_header(&mut out, server, &plan);
        self.emit_server(&mut out, &facts, &listeners);
        self.emit_tls(&mut out, &facts);
        self.emit_upstream(&mut out, &primary, &primary_from, &plan);
        self.emit_limits_and_ui(&mut out, &facts, &plan);
        self.emit_auth(&mut out, &plan);
        self.emit_routes(&mut out, &plan);
        Ok(out)
    }

    /// The http level (a sites-available file's top level is inside http too): the
    /// server blocks, and the defaults every server inherits.
    fn read_http(&mut self, tree: &'a [Directive]) -> HttpLevel<'a> {
        let mut servers: Vec<&'a Directive> = Vec::new();
        let mut http_level: Vec<&'a Directive> = Vec::new();
        for d in tree {
            match (d.name.as_str(), d.block.is_some()) {
                ("http", true) => {
                    for c in d.children() {
                        self.http_level(c, &mut servers, &mut http_level);
                    }
                }
                _ => self.http_level(d, &mut servers, &mut http_level),
            }
        }
        let mut http = HttpLevel {
            servers,
            scope: Scope::default(),
            certs: Vec::new(),
            keys: Vec::new(),
            header_timeout: None,
            idle_timeout: None,
        };
        let mut notes = Vec::new();
        for d in &http_level {
            match d.name.as_str() {
                _ if d.block.is_some() => notes.push(note(d, &reason_for(d))),
                "ssl_certificate" => http.certs.push(d),
                "ssl_certificate_key" => http.keys.push(d),
                "client_header_timeout" => http.header_timeout = Some(d),
                "keepalive_timeout" => http.idle_timeout = Some(d),
                _ => {
                    if !http.scope.apply(d, false, &mut notes) {
                        notes.push(note(d, &reason_for(d)));
                    }
                }
            }
        }
        http.scope.apply_access(http_level.iter().copied());
        for n in notes {
            self.push(Section::Other, n);
        }
        http
    }

    /// The chosen server's own directives (its locations are walked afterwards).
    fn read_server(&mut self, server: &'a Directive, http: &HttpLevel<'a>) -> ServerFacts<'a> {
        let mut facts = ServerFacts {
            scope: http.scope.clone(),
            listens: Vec::new(),
            names: Vec::new(),
            certs: Vec::new(),
            keys: Vec::new(),
            ssl_on: false,
            proxy: None,
            server_return: None,
            header_timeout: http.header_timeout,
            idle_timeout: http.idle_timeout,
            locations: Vec::new(),
        };
        facts.scope.apply_access(server.children());
        let mut seen_names: HashSet<String> = HashSet::new();
        for d in server.children() {
            let mut level_notes = Vec::new();
            match (d.name.as_str(), d.block.is_some()) {
                ("listen", false) => facts.listens.push(d),
                ("server_name", false) => {
                    for name in &d.args {
                        let lower = name.to_ascii_lowercase();
                        let usable = !lower.is_empty()
                            && lower.bytes().all(|b| {
                                b.is_ascii_alphanumeric()
                                    || matches!(b, b'-' | b'.' | b'[' | b']' | b':')
                            })
                            && !lower.starts_with('.');
                        if usable {
                            if seen_names.insert(lower.clone()) {
                                facts.names.push(lower);
                            }
                        } else {
                            let why = if name == "_" || name.is_empty() {
                                "a catch-all name: leaving `hosts` out answers every Host"
                            } else if name.contains('*') || name.starts_with('.') {
                                "wildcard names are not supported in server.hosts"
                            } else if name.starts_with('~') {
                                "regex names are not supported in server.hosts"
                            } else {
                                "not a plain host name"
                            };
                            level_notes.push(format!(
                                "# nginx: server_name {} -- not translated: {why}",
                                clean(&quote_arg(name))
                            ));
                        }
                    }
                }
                ("ssl_certificate", false) => facts.certs.push(d),
                ("ssl_certificate_key", false) => facts.keys.push(d),
                ("ssl", false) => facts.ssl_on = d.arg(0) == Some("on"),
                ("proxy_pass", false) => {
                    if facts.proxy.is_none() {
                        facts.proxy = Some(d);
                    } else {
                        level_notes.push(note(d, "only the first proxy_pass is used"));
                    }
                }
                ("return", false) => {
                    if facts.server_return.is_none() {
                        facts.server_return = Some(d.render());
                    }
                    level_notes.push(note(
                        d,
                        "a server-level return answers every request before any location; \
                         frontdoor cannot do that, so no location of this server is listed",
                    ));
                }
                ("client_header_timeout", false) => facts.header_timeout = Some(d),
                ("keepalive_timeout", false) => facts.idle_timeout = Some(d),
                ("location", true) => facts.locations.push(d),
                ("allow" | "deny", false) => level_notes.push(note(
                    d,
                    "frontdoor has no IP rules (see the locations below for their effect)",
                )),
                _ => {
                    if !facts.scope.apply(d, false, &mut level_notes) {
                        level_notes.push(note(d, &reason_for(d)));
                    }
                }
            }
            let section = section_for(&d.name);
            for n in level_notes {
                self.push(section, n);
            }
        }
        if facts.certs.is_empty() && facts.keys.is_empty() {
            facts.certs = http.certs.clone();
            facts.keys = http.keys.clone();
        }
        facts
    }

    /// The upstream: the first proxy_pass frontdoor can use, and where it came from.
    fn primary_upstream(&self, server_proxy: Option<&Directive>) -> Option<(ProxyTarget, String)> {
        self.records
            .iter()
            .filter(|r| matches!(r.action, Action::Proxy))
            .find_map(|r| match &r.proxy {
                Some(Ok(t)) => Some((
                    t.clone(),
                    format!("proxy_pass in {} (line {})", r.head, r.line),
                )),
                _ => None,
            })
            .or_else(|| {
                let d = server_proxy?;
                let target = self.parse_proxy(d.arg(0).unwrap_or("")).ok()?;
                Some((
                    target,
                    format!("proxy_pass at server level (line {})", d.line),
                ))
            })
    }

    /// Names the `upstream` blocks the chosen server does not proxy to.
    fn note_unused_upstreams(&mut self, server_proxy: Option<&Directive>) {
        let used: HashSet<String> = self
            .records
            .iter()
            .filter_map(|r| match &r.proxy {
                Some(Ok(t)) => t.block.clone(),
                _ => None,
            })
            .chain(server_proxy.and_then(|d| {
                self.parse_proxy(d.arg(0).unwrap_or(""))
                    .ok()
                    .and_then(|t| t.block)
            }))
            .collect();
        let mut unused: Vec<(usize, String)> = self
            .upstream_blocks
            .iter()
            .filter(|(name, _)| !used.contains(*name))
            .map(|(_, d)| {
                (
                    d.line,
                    note(d, "the translated server block does not use it"),
                )
            })
            .collect();
        unused.sort();
        for (_, line) in unused {
            self.push(Section::Other, line);
        }
    }

    /// Turns the walked locations into routes; says what happens to the others.
    fn build_routes(&mut self, facts: &ServerFacts<'a>, primary: &ProxyTarget) -> RoutePlan {
        let mut plan = RoutePlan::default();
        let mut route_index: HashMap<(String, bool), usize> = HashMap::new();
        let mut unrouted: Vec<LocationNote> = Vec::new();
        let mut seen_upstreams: HashSet<String> = HashSet::new();
        let records = std::mem::take(&mut self.records);
        let any_location_proxy = records.iter().any(|r| r.proxy.is_some());
        for r in records {
            let covered_key = r.path.clone().ok().map(|p| (p, r.exact));
            let no_route = |why: String| (covered_key.clone(), why, r.notes.clone());
            let path = match (&r.path, &r.action) {
                (Err(why), _) => {
                    unrouted.push((
                        None,
                        format!(
                            "# nginx: {} {{ ... }} -- not translated: {}",
                            clean(&r.head),
                            clean(why)
                        ),
                        r.notes.clone(),
                    ));
                    continue;
                }
                (Ok(_), Action::Deny(what)) => {
                    unrouted.push(no_route(format!(
                        "# location {}: {} -> ",
                        clean(&r.raw_path),
                        clean(what)
                    )));
                    continue;
                }
                (Ok(_), Action::Other(why)) => {
                    unrouted.push(no_route(format!(
                        "# nginx: {} {{ ... }} -- not translated: {}",
                        clean(&r.head),
                        clean(why)
                    )));
                    continue;
                }
                (Ok(p), Action::Proxy) => p.clone(),
            };
            let target = match &r.proxy {
                Some(Ok(t)) => t.clone(),
                Some(Err(why)) => {
                    unrouted.push(no_route(format!(
                        "# nginx: {} in {} -- not translated: {}",
                        clean(&r.proxy_text),
                        clean(&r.head),
                        clean(why)
                    )));
                    continue;
                }
                None => continue,
            };
            if target.origin != primary.origin {
                let name = format!("{} ({})", target.origin, r.head);
                if seen_upstreams.insert(name.clone()) {
                    plan.other_upstreams.push(name);
                }
                unrouted.push(no_route(format!(
                    "# nginx: {} in {} -- not translated: multiple upstreams are not supported \
                     yet; frontdoor proxies everything to {}",
                    clean(&r.proxy_text),
                    clean(&r.head),
                    primary.origin
                )));
                continue;
            }
            if let Some(uri) = target.uri.as_ref().filter(|uri| **uri != r.raw_path) {
                unrouted.push(no_route(format!(
                    "# nginx: {} in {} -- not translated: the URI part rewrites the path \
                     ({} -> {}); frontdoor forwards paths unchanged",
                    clean(&r.proxy_text),
                    clean(&r.head),
                    clean(&r.raw_path),
                    clean(uri)
                )));
                continue;
            }
            if route_index.contains_key(&(path.clone(), r.exact)) {
                unrouted.push(no_route(format!(
                    "# nginx: {} {{ ... }} -- not translated: an earlier location already \
                     became the route {}",
                    clean(&r.head),
                    toml_str(&path)
                )));
                continue;
            }

            let mut comments = vec![format!("# {} (line {})", clean(&r.head), r.line)];
            if let Some(via) = &target.via {
                comments.push(format!("# {}", clean(via)));
            }
            let (basic, auth_comment) = match route_auth(&r, &mut plan.basic_source, &mut comments)
            {
                Ok(auth) => auth,
                Err(why) => {
                    unrouted.push(no_route(why));
                    continue;
                }
            };
            comments.extend(r.notes.iter().cloned());
            if r.websocket {
                if let Some(t) = &r.scope.read_timeout {
                    comments.push(format!(
                        "# nginx: {} -- not translated: in nginx it bounds idle websocket \
                         traffic; frontdoor's response_timeout_secs only bounds the wait for \
                         response headers",
                        clean(&t.text)
                    ));
                }
            } else if let Some(t) = &r.scope.read_timeout {
                plan.read_timeouts.push(t.clone());
            }
            if let Some(t) = &r.scope.connect_timeout {
                plan.connect_timeouts.push(t.clone());
            }
            route_index.insert((path.clone(), r.exact), plan.routes.len());
            plan.routes.push(RouteOut {
                comments,
                path,
                exact: r.exact,
                methods: r.methods.clone().map(|m| (m, r.methods_text.clone())),
                basic,
                auth_comment,
                max_body: if r.scope.body_in_location {
                    r.scope.body.clone()
                } else {
                    None
                },
            });
        }
        if !any_location_proxy && facts.server_return.is_none() {
            if let Some(d) = facts.proxy {
                let scope = &facts.scope;
                let (basic, auth_comment) = match (&scope.auth, &scope.user_file) {
                    (Some(BasicAuth::Realm(realm)), Some(file)) => {
                        plan.basic_source =
                            Some((realm.clone(), file.clone(), "the server".to_string()));
                        (true, None)
                    }
                    _ => (false, Some("nginx had no login here".to_string())),
                };
                route_index.insert(("/".to_string(), false), plan.routes.len());
                plan.routes.push(RouteOut {
                    comments: vec![format!(
                        "# {} at server level (line {})",
                        clean(&d.render()),
                        d.line
                    )],
                    path: "/".to_string(),
                    exact: false,
                    methods: None,
                    basic,
                    auth_comment,
                    max_body: None,
                });
                if let Some(t) = &scope.read_timeout {
                    plan.read_timeouts.push(t.clone());
                }
            }
        } else if let Some(d) = facts.proxy {
            self.push(
                Section::Upstream,
                note(
                    d,
                    "proxy_pass belongs in a location; the locations were translated",
                ),
            );
        }
        plan.ui = ui_switches(&plan.routes, &route_index);
        plan.location_lines = describe_unrouted(unrouted, &plan, &route_index, primary);
        plan
    }

    /// The TLS listener, the plain-HTTP one (from this block or a redirect-only block),
    /// and comments for the rest.
    fn listeners(&mut self, facts: &ServerFacts<'a>, others: &[&'a Directive]) -> Listeners {
        let mut tls_listen: Option<(SocketAddr, String)> = None;
        let mut http_listen: Option<(SocketAddr, String)> = None;
        for d in &facts.listens {
            let Some(addr) = d.arg(0) else {
                self.push(Section::Server, note(d, "no address"));
                continue;
            };
            let params: Vec<&str> = d.args.iter().skip(1).map(String::as_str).collect();
            if params.contains(&"quic") {
                self.push(Section::Server, note(d, "frontdoor does not serve HTTP/3"));
                continue;
            }
            if params.contains(&"proxy_protocol") {
                self.push(
                    Section::Server,
                    note(d, "WARNING: frontdoor does not accept the PROXY protocol"),
                );
            }
            let ssl = facts.ssl_on || params.contains(&"ssl");
            match parse_listen_addr(addr) {
                Err(why) => self.push(Section::Server, note(d, &why)),
                Ok(sa) => {
                    let slot = if ssl {
                        &mut tls_listen
                    } else {
                        &mut http_listen
                    };
                    if slot.is_none() {
                        *slot = Some((sa, d.render()));
                    } else if ssl {
                        self.push(
                            Section::Server,
                            note(d, "frontdoor listens on one TLS address"),
                        );
                    } else {
                        self.push(
                            Section::Server,
                            note(d, "frontdoor has one plain-HTTP listener"),
                        );
                    }
                }
            }
        }
        let clash = match (&tls_listen, &http_listen) {
            (Some((tls, _)), Some((plain, text))) if tls.port() == plain.port() => {
                Some(text.clone())
            }
            _ => None,
        };
        if let Some(text) = clash {
            self.push(
                Section::Server,
                format!(
                    "# nginx: {} -- not translated: same port as the TLS listener",
                    clean(&text)
                ),
            );
            http_listen = None;
        }
        let mut http_comment = http_listen.as_ref().map(|(_, text)| {
            format!(
                "{text}: frontdoor answers plain HTTP with a 308 to HTTPS instead of serving it"
            )
        });
        for other in others {
            if http_listen.is_none() && is_https_redirect(other) {
                let mut found = None;
                for d in other.children().iter().filter(|d| d.name == "listen") {
                    match d.arg(0).map(parse_listen_addr) {
                        Some(Ok(sa)) if found.is_none() => found = Some((sa, d.render())),
                        _ => self.push(
                            Section::Server,
                            note(d, "frontdoor has one plain-HTTP listener"),
                        ),
                    }
                }
                if found.is_none() && !other.children().iter().any(|d| d.name == "listen") {
                    found = Some((
                        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 80),
                        "*:80".to_string(),
                    ));
                }
                if let Some((sa, text)) = found {
                    http_comment = Some(format!(
                        "from the server block at line {} ({text} + redirect to https): \
                         frontdoor answers plain HTTP with a 308 to HTTPS",
                        other.line
                    ));
                    http_listen = Some((sa, text));
                    continue;
                }
            }
            self.push(
                Section::Other,
                format!(
                    "# nginx: server {{ {} }} (line {}) -- not translated: frontdoor imports one \
                     server block; import this one separately if you need it",
                    clean(&server_summary(other)),
                    other.line
                ),
            );
        }
        Listeners {
            tls: tls_listen,
            http: http_listen,
            http_comment,
        }
    }

    fn emit_header(&self, out: &mut String, server: &Directive, plan: &RoutePlan) {
        out.push_str(&format!(
            "# Imported from {} by `frontdoor import nginx`.\n",
            clean(self.file)
        ));
        out.push_str(&format!(
            "# Translated: server block at line {}. Lines starting with `# nginx:` were not \
             translated; read every comment before use.\n",
            server.line
        ));
        out.push_str(
            "# Routes match whole path segments (nginx `location /api` also matched /apix), and \
             a path no route lists answers 404.\n",
        );
        if !plan.routes.iter().any(|r| r.basic) {
            out.push_str(
                "# WARNING: nginx asked for no login on any translated location: every route \
                 below is public.\n",
            );
        }
    }

    fn emit_server(&mut self, out: &mut String, facts: &ServerFacts<'a>, listeners: &Listeners) {
        out.push_str("\n[server]\n");
        let public = |sa: &SocketAddr| !sa.ip().is_loopback();
        match &listeners.tls {
            Some((sa, text)) => out.push_str(&kv("listen", toml_str(&sa.to_string()), Some(text))),
            None => out.push_str(
                "# listen: nginx served this site without TLS; frontdoor always uses TLS, on \
                 127.0.0.1:8443 unless you set `listen`",
            ),
        }
        out.push('\n');
        let public_reason = match (&listeners.tls, &listeners.http) {
            (Some((sa, text)), _) if public(sa) => Some(text.clone()),
            (_, Some((sa, text))) if public(sa) => Some(text.clone()),
            _ => None,
        };
        if let Some(text) = public_reason {
            out.push_str(&kv(
                "allow_public_bind",
                "true".to_string(),
                Some(&format!(
                    "nginx listened beyond loopback ({text}); frontdoor refuses that unless told"
                )),
            ));
            out.push('\n');
        }
        if let Some((sa, _)) = &listeners.http {
            out.push_str(&kv(
                "http_listen",
                toml_str(&sa.to_string()),
                listeners.http_comment.as_deref(),
            ));
            out.push('\n');
        }
        if !facts.names.is_empty() {
            out.push_str(&kv(
                "hosts",
                toml_list(&facts.names),
                Some("server_name: other Host headers get 421"),
            ));
            out.push('\n');
        }
        for (key, d) in [
            ("header_timeout_secs", facts.header_timeout),
            ("idle_timeout_secs", facts.idle_timeout),
        ] {
            if let Some(d) = d {
                match d.arg(0).and_then(parse_secs) {
                    Some(s) if (1..=MAX_TIMEOUT_SECS).contains(&s) => {
                        out.push_str(&kv(key, s.to_string(), Some(&d.render())));
                        out.push('\n');
                    }
                    _ => self.push(
                        Section::Server,
                        note(d, "frontdoor needs 1 second to 1 day"),
                    ),
                }
            }
        }
        self.flush(out, Section::Server);
    }

    fn emit_tls(&mut self, out: &mut String, facts: &ServerFacts<'a>) {
        out.push_str("\n[tls]\n");
        let cert = facts
            .certs
            .first()
            .and_then(|d| d.arg(0))
            .map(str::to_string);
        let key = facts
            .keys
            .first()
            .and_then(|d| d.arg(0))
            .map(str::to_string);
        for d in facts.certs.iter().skip(1).chain(facts.keys.iter().skip(1)) {
            self.push(
                Section::Tls,
                note(d, "frontdoor loads one certificate and key"),
            );
        }
        let usable = |p: &Option<String>| {
            p.as_deref()
                .is_some_and(|p| !p.is_empty() && !p.contains('$') && !p.starts_with("data:"))
        };
        match (&cert, &key) {
            (Some(c), Some(k)) if usable(&cert) && usable(&key) => {
                let relative = !c.starts_with('/') || !k.starts_with('/');
                let comment = relative.then_some(
                    "relative paths: nginx read them from its prefix (usually /etc/nginx), \
                     frontdoor from its working directory",
                );
                out.push_str(&kv("cert", toml_str(c), comment));
                out.push('\n');
                out.push_str(&kv("key", toml_str(k), None));
                out.push('\n');
            }
            _ => {
                let why = match (&cert, &key) {
                    (None, None) => {
                        "the nginx block names no ssl_certificate (certbot may keep it in an \
                         include): a generated certificate until you set cert and key"
                    }
                    (Some(_), Some(_)) => {
                        "the nginx certificate paths use variables or inline data: a generated \
                         certificate until you set cert and key"
                    }
                    _ => {
                        "nginx named only one of ssl_certificate and ssl_certificate_key: a \
                         generated certificate until you set both"
                    }
                };
                out.push_str(&kv("self_signed", "true".to_string(), Some(why)));
                out.push('\n');
                if !facts.names.is_empty() {
                    let mut hosts = facts.names.clone();
                    hosts.push("localhost".to_string());
                    hosts.push("127.0.0.1".to_string());
                    out.push_str(&kv("self_signed_hosts", toml_list(&hosts), None));
                    out.push('\n');
                }
                for d in facts.certs.first().into_iter().chain(facts.keys.first()) {
                    self.push(Section::Tls, note(d, "see self_signed above"));
                }
            }
        }
        self.flush(out, Section::Tls);
    }

    fn emit_upstream(
        &mut self,
        out: &mut String,
        primary: &ProxyTarget,
        primary_from: &str,
        plan: &RoutePlan,
    ) {
        out.push_str("\n[upstream]\n");
        out.push_str(&kv("url", toml_str(&primary.origin), Some(primary_from)));
        out.push('\n');
        if let Some(via) = &primary.via {
            out.push_str(&format!("# {}\n", clean(via)));
        }
        for (key, list, what) in [
            (
                "connect_timeout_secs",
                &plan.connect_timeouts,
                "largest proxy_connect_timeout",
            ),
            (
                "response_timeout_secs",
                &plan.read_timeouts,
                "largest proxy_read_timeout (nginx: between two reads; frontdoor: until the \
                 response headers)",
            ),
        ] {
            if let Some(t) = list.iter().max_by_key(|t| t.secs) {
                let secs = t.secs.clamp(1, MAX_TIMEOUT_SECS);
                out.push_str(&kv(
                    key,
                    secs.to_string(),
                    Some(&format!("{what}: {}", t.text)),
                ));
                out.push('\n');
            }
        }
        if !plan.other_upstreams.is_empty() {
            out.push_str(&format!(
                "# Multiple upstreams are not supported yet; these locations were not translated: {}\n",
                clean(&plan.other_upstreams.join(", "))
            ));
        }
        self.flush(out, Section::Upstream);
    }

    fn emit_limits_and_ui(&mut self, out: &mut String, facts: &ServerFacts<'a>, plan: &RoutePlan) {
        out.push_str("\n[limits]\n");
        match &facts.scope.body {
            Some(b) if b.unlimited => out.push_str(&kv(
                "max_body_bytes",
                b.bytes.to_string(),
                Some(&format!(
                    "WARNING: {} means unlimited in nginx; frontdoor always caps bodies: 1 TiB here, lower it",
                    b.text
                )),
            )),
            Some(b) => out.push_str(&kv("max_body_bytes", b.bytes.to_string(), Some(&b.text))),
            None => out.push_str(&kv(
                "max_body_bytes",
                NGINX_DEFAULT_BODY_BYTES.to_string(),
                Some("nginx's default client_max_body_size (1m): none was set; raise it for uploads"),
            )),
        }
        out.push('\n');
        self.flush(out, Section::Limits);

        out.push_str("\n[ui]                             # hidden (404) unless true; when true they still need the route's login\n");
        for (key, on, comment) in &plan.ui {
            out.push_str(&kv(key, on.to_string(), comment.as_deref()));
            out.push('\n');
        }
    }

    fn emit_auth(&mut self, out: &mut String, plan: &RoutePlan) {
        match &plan.basic_source {
            Some((realm, file, where_)) => {
                out.push_str("\n[auth.basic]\n");
                let mut file_comment = format!(
                    "auth_basic_user_file as nginx applied it to {where_}: the very same file"
                );
                if file.contains('$') {
                    file_comment = format!(
                        "WARNING: {where_} names its user file with nginx variables; write the real path"
                    );
                } else if !file.starts_with('/') {
                    file_comment
                        .push_str("; relative: nginx read it from its prefix (usually /etc/nginx)");
                }
                out.push_str(&kv("htpasswd", toml_str(file), Some(&file_comment)));
                out.push('\n');
                let cleaned: String = realm
                    .chars()
                    .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
                    .collect();
                let (realm_value, realm_comment) = if cleaned.is_empty()
                    || cleaned.starts_with("${")
                    || cleaned.starts_with("file:")
                {
                    (
                        "frontdoor".to_string(),
                        Some(format!("nginx realm {} cannot be used", quote_arg(realm))),
                    )
                } else if cleaned != *realm {
                    (
                        cleaned,
                        Some("quotes, backslashes and control characters removed".to_string()),
                    )
                } else {
                    (cleaned, None)
                };
                out.push_str(&kv(
                    "realm",
                    toml_str(&realm_value),
                    realm_comment.as_deref(),
                ));
                out.push('\n');
            }
            None => {
                if self.notes.iter().any(|(s, _)| *s == Section::Auth) {
                    out.push_str(
                        "\n# [auth.basic] is not configured: no location had a Basic login.\n",
                    );
                }
            }
        }
        self.flush(out, Section::Auth);
    }

    fn emit_routes(&mut self, out: &mut String, plan: &RoutePlan) {
        if !plan.location_lines.is_empty() {
            out.push_str("\n# Locations that are not routes:\n");
            for line in &plan.location_lines {
                out.push_str(line);
                out.push('\n');
            }
        }
        if plan.routes.is_empty() {
            out.push_str("\n# No location could be translated into a route: frontdoor answers 404 to everything.\n");
        }
        for r in &plan.routes {
            out.push('\n');
            for c in &r.comments {
                out.push_str(c);
                out.push('\n');
            }
            out.push_str("[[route]]\n");
            out.push_str(&kv("path", toml_str(&r.path), None));
            out.push('\n');
            if r.exact {
                out.push_str("exact = true\n");
            }
            if let Some((methods, text)) = &r.methods {
                out.push_str(&kv("methods", toml_list(methods), Some(text)));
                out.push('\n');
            }
            let auth = if r.basic { "[\"basic\"]" } else { "\"none\"" };
            out.push_str(&kv("auth", auth.to_string(), r.auth_comment.as_deref()));
            out.push('\n');
            if let Some(b) = &r.max_body {
                let comment = if b.unlimited {
                    format!(
                        "WARNING: {} means unlimited in nginx; 1 TiB here, lower it",
                        b.text
                    )
                } else {
                    b.text.clone()
                };
                out.push_str(&kv("max_body_bytes", b.bytes.to_string(), Some(&comment)));
                out.push('\n');
            }
        }
        if self.notes.iter().any(|(s, _)| *s == Section::Other) {
            out.push_str("\n# Outside the translated server block:\n");
            self.flush(out, Section::Other);
        }
    }

    /// Writes and forgets the comments collected for `section`.
    fn flush(&mut self, out: &mut String, section: Section) {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.notes)
            .into_iter()
            .partition(|(s, _)| *s == section);
        self.notes = rest;
        for (_, line) in mine {
            out.push_str(&line);
            out.push('\n');
        }
    }

    fn http_level(
        &mut self,
        d: &'a Directive,
        servers: &mut Vec<&'a Directive>,
        http_level: &mut Vec<&'a Directive>,
    ) {
        match (d.name.as_str(), d.block.is_some()) {
            ("server", true) => servers.push(d),
            ("upstream", true) => {
                if let Some(name) = d.arg(0) {
                    self.upstream_blocks
                        .entry(name.to_ascii_lowercase())
                        .or_insert(d);
                }
            }
            _ => http_level.push(d),
        }
    }

    fn parse_proxy(&self, arg: &str) -> Result<ProxyTarget, String> {
        let scheme_end = arg.find("://").unwrap_or(0);
        let scheme = arg.get(..scheme_end).unwrap_or("").to_ascii_lowercase();
        let rest = arg.get(scheme_end.saturating_add(3)..).unwrap_or("");
        match scheme.as_str() {
            "http" => {}
            "https" => {
                return Err(
                    "frontdoor talks plain http:// to its upstream; https upstreams are not supported"
                        .to_string(),
                );
            }
            _ => return Err("not an http:// URL".to_string()),
        }
        if arg.contains('$') {
            return Err("nginx variables cannot be translated".to_string());
        }
        let (authority, uri) = match rest.split_once('/') {
            Some((a, p)) => (a, Some(format!("/{p}"))),
            None => (rest, None),
        };
        if authority.starts_with("unix:") || rest.starts_with("unix:") {
            return Err("frontdoor cannot proxy to a unix socket".to_string());
        }
        if authority.contains('@') || authority.contains('?') || authority.contains('#') {
            return Err("not a plain host:port".to_string());
        }
        let block_name = authority.to_ascii_lowercase();
        let (host_port, via) = match self.upstream_blocks.get(&block_name) {
            Some(block) => {
                let servers: Vec<&Directive> = block
                    .children()
                    .iter()
                    .filter(|d| d.name == "server")
                    .collect();
                let Some(first) = servers.first().and_then(|d| d.arg(0)) else {
                    return Err(format!("upstream {authority} has no server"));
                };
                if first.starts_with("unix:") {
                    return Err("frontdoor cannot proxy to a unix socket".to_string());
                }
                let mut via = format!("upstream {authority} -> {first}");
                if servers.len() > 1 {
                    via.push_str(" (the first of its servers: frontdoor does not balance load)");
                }
                (parse_host_port(first)?, Some(via))
            }
            None => (parse_host_port(authority)?, None),
        };
        let block = via.as_ref().map(|_| block_name);
        Ok(ProxyTarget {
            origin: format!("http://{host_port}"),
            uri,
            via,
            block,
        })
    }

    fn walk_location(&mut self, d: &Directive, parent: &Scope, depth: usize) {
        let head = d.head();
        let (modifier, raw_path) = match d.args.as_slice() {
            [m, p] => (m.as_str(), p.as_str()),
            [p] => {
                if let Some(rest) = p.strip_prefix("^~") {
                    ("^~", rest)
                } else if let Some(rest) = p.strip_prefix('=') {
                    ("=", rest)
                } else if let Some(rest) = p.strip_prefix("~*") {
                    ("~*", rest)
                } else if let Some(rest) = p.strip_prefix('~') {
                    ("~", rest)
                } else {
                    ("", p.as_str())
                }
            }
            _ => ("?", ""),
        };
        let (path, exact) = match modifier {
            "" | "^~" => (route_path(raw_path), false),
            "=" => (route_path(raw_path), true),
            "~" | "~*" => (
                Err(
                    "regex locations cannot be expressed as frontdoor routes; requests it \
                     matched now go to the routes below"
                        .to_string(),
                ),
                false,
            ),
            _ => (Err("unexpected location arguments".to_string()), false),
        };
        let path = if raw_path.starts_with('@') {
            Err("named location: reachable only through error_page or try_files".to_string())
        } else {
            path
        };
        if path.is_err() {
            // Nothing inside a location that cannot be a route is translated.
            self.records.push(LocRecord {
                line: d.line,
                head,
                raw_path: raw_path.to_string(),
                path,
                exact,
                scope: parent.clone(),
                proxy: None,
                proxy_text: String::new(),
                action: Action::Other(String::new()),
                methods: None,
                methods_text: String::new(),
                limit_except_login: false,
                websocket: false,
                notes: Vec::new(),
            });
            return;
        }

        let mut scope = parent.clone();
        scope.apply_access(d.children());
        let mut notes = Vec::new();
        let mut proxy: Option<&Directive> = None;
        let mut deny: Option<String> = None;
        let mut other: Option<String> = None;
        let mut methods = None;
        let mut methods_text = String::new();
        let mut limit_except_login = false;
        let mut websocket = false;
        let mut nested: Vec<&Directive> = Vec::new();
        for c in d.children() {
            match (c.name.as_str(), c.block.is_some()) {
                ("location", true) => nested.push(c),
                ("proxy_pass", false) => {
                    if proxy.is_none() {
                        proxy = Some(c);
                    } else {
                        notes.push(note(c, "nginx allows one proxy_pass per location"));
                    }
                }
                ("return", false) => match c.arg(0).and_then(|a| a.parse::<u16>().ok()) {
                    Some(code) if code >= 400 => {
                        deny.get_or_insert_with(|| c.render());
                    }
                    _ => {
                        other.get_or_insert_with(|| {
                            format!(
                                "{}: frontdoor does not answer redirects or fixed responses",
                                c.render()
                            )
                        });
                    }
                },
                ("deny" | "allow", false) => {
                    if c.arg(0) != Some("all") || c.name == "allow" {
                        notes.push(note(c, "frontdoor has no IP rules"));
                    }
                }
                ("limit_except", true) => {
                    let mut list: Vec<String> = Vec::new();
                    let mut seen: HashSet<String> = HashSet::new();
                    for m in &c.args {
                        let upper = m.to_ascii_uppercase();
                        if !upper.is_empty()
                            && upper.len() <= 20
                            && upper.bytes().all(|b| b.is_ascii_uppercase())
                            && upper != "CONNECT"
                        {
                            if seen.insert(upper.clone()) {
                                list.push(upper);
                            }
                        } else {
                            notes.push(format!(
                                "# nginx: limit_except {} -- not translated: not a method frontdoor proxies",
                                clean(&quote_arg(m))
                            ));
                        }
                    }
                    let mut denies = false;
                    for x in c.children() {
                        if x.name == "deny" && x.arg(0) == Some("all") {
                            denies = true;
                        } else if x.name == "auth_basic" && x.arg(0).is_some_and(|a| a != "off") {
                            limit_except_login = true;
                        } else {
                            notes.push(note(
                                x,
                                "inside limit_except: frontdoor cannot apply rules to some methods only",
                            ));
                        }
                    }
                    if denies && !list.is_empty() {
                        methods = Some(list);
                        methods_text = format!("{} {{ deny all; }}", c.head());
                    } else if !denies {
                        notes.push(note(
                            c,
                            "without `deny all` it only changes rules for the other methods; a \
                             frontdoor route has one rule for all methods",
                        ));
                    }
                }
                (_, false) if scope.apply(c, true, &mut notes) => {}
                ("proxy_set_header", false) => {
                    if c.arg(0).is_some_and(|h| h.eq_ignore_ascii_case("upgrade")) {
                        websocket = true;
                    }
                    notes.push(note(c, &reason_for(c)));
                }
                _ => notes.push(note(c, &reason_for(c))),
            }
        }
        let action = if let Some(what) = deny {
            Action::Deny(what)
        } else if let Some(why) = other {
            Action::Other(why)
        } else if scope
            .access
            .as_ref()
            .is_some_and(|a| a.deny_all && a.allows.is_empty())
        {
            Action::Deny("deny all".to_string())
        } else if proxy.is_some() {
            Action::Proxy
        } else {
            Action::Other(
                "no proxy_pass: nginx answered it itself (files or a fixed answer); frontdoor only proxies"
                    .to_string(),
            )
        };
        let proxy_parsed = proxy.map(|p| self.parse_proxy(p.arg(0).unwrap_or("")));
        self.records.push(LocRecord {
            line: d.line,
            head,
            raw_path: raw_path.to_string(),
            path,
            exact,
            scope: scope.clone(),
            proxy: proxy_parsed,
            proxy_text: proxy.map(Directive::render).unwrap_or_default(),
            action,
            methods,
            methods_text,
            limit_except_login,
            websocket,
            notes,
        });
        if depth + 1 < MAX_DEPTH {
            for n in nested {
                self.walk_location(n, &scope, depth + 1);
            }
        }
    }
}

/// The server block to translate: the first that listens with `ssl` and proxies, else the
/// first with `ssl`, else the first that proxies, else the first.
fn choose_server(servers: &[&Directive]) -> Option<usize> {
    let has_ssl = |s: &Directive| {
        s.children().iter().any(|d| {
            (d.name == "listen" && d.args.iter().skip(1).any(|a| a == "ssl"))
                || (d.name == "ssl" && d.arg(0) == Some("on"))
        })
    };
    servers
        .iter()
        .position(|s| has_ssl(s) && proxies_anywhere(s, 0))
        .or_else(|| servers.iter().position(|s| has_ssl(s)))
        .or_else(|| servers.iter().position(|s| proxies_anywhere(s, 0)))
        .or(if servers.is_empty() { None } else { Some(0) })
}

/// Who may use a proxied location's route: `Ok((basic, comment))`, or `Err(comment)` when
/// nginx protected it in a way frontdoor cannot check, so it must stay unlisted. Records
/// the first Basic realm and user file in `basic_source`.
fn route_auth(
    r: &LocRecord,
    basic_source: &mut Option<(String, String, String)>,
    comments: &mut Vec<String>,
) -> Result<(bool, Option<String>), String> {
    let ip_restricted = r.scope.access.as_ref().is_some_and(|a| a.deny_all);
    let result = match (&r.scope.auth, &r.scope.user_file) {
        (Some(BasicAuth::Realm(realm)), Some(file)) => {
            match basic_source {
                None => *basic_source = Some((realm.clone(), file.clone(), r.head.clone())),
                Some((first_realm, first_file, first_where)) => {
                    if file != first_file {
                        comments.push(format!(
                            "# WARNING: nginx checked this location against {}; frontdoor has \
                             one user file ({} from {})",
                            clean(file),
                            clean(first_file),
                            clean(first_where)
                        ));
                    } else if realm != first_realm {
                        comments.push(format!(
                            "# nginx: auth_basic {} -- not translated: frontdoor has one realm",
                            clean(&quote_arg(realm))
                        ));
                    }
                }
            }
            if ip_restricted && !r.scope.satisfy_any {
                comments.push(
                    "# WARNING: nginx also required an allowed client address here; \
                     frontdoor has no IP rules, so the login alone decides"
                        .to_string(),
                );
            }
            (true, None)
        }
        _ => {
            if let Some(foreign) = &r.scope.foreign_auth {
                return Err(format!(
                    "# WARNING: {}: nginx required `{}` here and frontdoor cannot check it -> \
                     not listed (404) rather than public; add a route with auth = [\"basic\"] by hand",
                    clean(&r.head),
                    clean(foreign)
                ));
            }
            if ip_restricted {
                let allows = r
                    .scope
                    .access
                    .as_ref()
                    .map(|a| a.allows.join(" "))
                    .unwrap_or_default();
                return Err(format!(
                    "# WARNING: {}: nginx allowed only {} here and frontdoor has no IP rules -> \
                     not listed (404) rather than public",
                    clean(&r.head),
                    clean(if allows.is_empty() { "nobody" } else { &allows })
                ));
            }
            match (&r.scope.user_file, &r.scope.auth) {
                (Some(file), _) if r.limit_except_login => {
                    if basic_source.is_none() {
                        *basic_source =
                            Some(("frontdoor".to_string(), file.clone(), r.head.clone()));
                    }
                    (
                        true,
                        Some(
                            "stricter than nginx: there only methods outside limit_except \
                             needed a login"
                                .to_string(),
                        ),
                    )
                }
                (_, Some(BasicAuth::Off)) => (
                    false,
                    Some("auth_basic off: nginx had no login here".to_string()),
                ),
                (_, Some(BasicAuth::Realm(_))) => (
                    false,
                    Some(
                        "nginx had no login here (auth_basic without auth_basic_user_file)"
                            .to_string(),
                    ),
                ),
                (_, None) => (false, Some("nginx had no login here".to_string())),
            }
        }
    };
    if let Some(foreign) = &r.scope.foreign_auth {
        comments.push(format!(
            "# nginx: {} -- not translated: only the Basic login is kept",
            clean(foreign)
        ));
    }
    Ok(result)
}

/// The `[ui]` switches: on where nginx proxied a hidden area through its own location,
/// off (with a comment) where it was only passed on under a broader one.
fn ui_switches(
    routes: &[RouteOut],
    index: &HashMap<(String, bool), usize>,
) -> Vec<(&'static str, bool, Option<String>)> {
    let mut ui = Vec::new();
    for (key, paths) in UI_KEYS {
        match routes.iter().find(|r| hidden_area(&r.path) == Some(*key)) {
            Some(r) => {
                let mut comment = format!("nginx proxied {} explicitly", r.path);
                if !r.basic {
                    comment.push_str("; WARNING: its route is public (auth = \"none\")");
                }
                ui.push((*key, true, Some(comment)));
            }
            None => {
                let probe = match *key {
                    "dashboard" => "/admin",
                    "workspace" => "/workspace",
                    "docs" => "/docs",
                    _ => "/openapi.json",
                };
                let comment = covering(routes, index, probe).map(|r| {
                    format!(
                        "{paths}: nginx passed it on (route {}); frontdoor hides it unless true",
                        r.path
                    )
                });
                ui.push((*key, false, comment));
            }
        }
    }
    ui
}

/// Comments for the locations that became no route, saying what frontdoor does with
/// their paths instead (404, hidden, or proxied under a broader route: a WARNING).
fn describe_unrouted(
    unrouted: Vec<LocationNote>,
    plan: &RoutePlan,
    index: &HashMap<(String, bool), usize>,
    primary: &ProxyTarget,
) -> Vec<String> {
    let ui_on = |key: &str| plan.ui.iter().any(|(k, on, _)| *k == key && *on);
    let mut lines = Vec::new();
    for (key, text, notes) in unrouted {
        let mut line = text;
        if line.starts_with("# location ") {
            // A denied location: `# location /x: deny all -> ` is completed here.
            let (path, _) = key.clone().unwrap_or_default();
            let area = hidden_area(&path);
            match (area, covering(&plan.routes, index, &path)) {
                (Some(area), _) if !ui_on(area) => line.push_str(&format!(
                    "not listed, and frontdoor hides {path} anyway (404 unless [ui] {area} = true)"
                )),
                (_, Some(r)) => {
                    // A broader route would proxy it: a deny route keeps nginx's refusal.
                    let (_, exact) = key.clone().unwrap_or_default();
                    line.push_str(&format!(
                        "route {} covers {path}, so a deny route answers 404 here\n[[route]]\npath = {}\n{}deny = true",
                        toml_str(&r.path),
                        toml_str(&path),
                        if exact { "exact = true\n" } else { "" }
                    ));
                }
                (_, None) => line.push_str("not listed, so frontdoor answers 404"),
            }
        } else if let Some((path, _)) = &key {
            let covered =
                covering(&plan.routes, index, path).filter(|_| hidden_area(path).is_none_or(ui_on));
            if let Some(r) = covered {
                line.push_str(&format!(
                    "; WARNING: route {} covers {path}, so frontdoor proxies it to {}",
                    toml_str(&r.path),
                    primary.origin
                ));
            }
        }
        lines.push(line);
        lines.extend(notes);
    }
    lines
}

/// The route frontdoor would pick for the path `probe`: an exact route first, then the
/// prefix route with the most segments (`probe` itself, then its ancestors, then `/`).
fn covering<'r>(
    routes: &'r [RouteOut],
    index: &HashMap<(String, bool), usize>,
    probe: &str,
) -> Option<&'r RouteOut> {
    let at = |path: &str, exact: bool| {
        index
            .get(&(path.to_string(), exact))
            .and_then(|&i| routes.get(i))
    };
    if let Some(r) = at(probe, true) {
        return Some(r);
    }
    let mut candidate = probe;
    loop {
        if let Some(r) = at(candidate, false) {
            return Some(r);
        }
        match candidate.rfind('/') {
            Some(0) if candidate != "/" => candidate = "/",
            Some(i) if i > 0 => candidate = candidate.get(..i).unwrap_or("/"),
            _ => return None,
        }
    }
}

fn proxies_anywhere(d: &Directive, depth: usize) -> bool {
    depth < MAX_DEPTH
        && d.children()
            .iter()
            .any(|c| c.name == "proxy_pass" || proxies_anywhere(c, depth + 1))
}

/// A server block whose only job is `return 30x https://...` on plain HTTP.
fn is_https_redirect(server: &Directive) -> bool {
    let children = server.children();
    let plain = children.iter().all(|d| {
        let ssl_listen = d.name == "listen" && d.args.iter().skip(1).any(|a| a == "ssl");
        let ssl_on = d.name == "ssl" && d.arg(0) == Some("on");
        !ssl_listen && !ssl_on
    });
    let redirect = children.iter().any(|d| {
        d.name == "return"
            && matches!(d.arg(0), Some("301" | "302" | "307" | "308"))
            && d.arg(1).is_some_and(|u| u.starts_with("https://"))
    });
    plain && redirect
}

fn server_summary(server: &Directive) -> String {
    let parts: Vec<String> = server
        .children()
        .iter()
        .filter(|d| d.name == "listen" || d.name == "server_name")
        .map(|d| format!("{};", d.render()))
        .collect();
    if parts.is_empty() {
        "...".to_string()
    } else {
        format!("{} ...", parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nginx example from the seed page (../shared/seeds/000_14d53eb88520bea4.txt), verbatim.
    const SEED: &str = r#"server {
listen 443 ssl;
server_name assistant.yourdomain.com;
# TLS config here (certbot/Let's Encrypt)
# Password-protect everything
auth_basic "Assistant";
auth_basic_user_file /etc/nginx/.htpasswd;
location / {
proxy_pass http://127.0.0.1:8000;
proxy_set_header Host $host;
proxy_set_header X-Real-IP $remote_addr;
}
}
"#;

    /// A certbot-managed sites-available file (tests/fixtures/nginx/sites-available.conf).
    const SITES_AVAILABLE: &str = r#"# /etc/nginx/sites-available/agent -- the agent behind HTTPS and a password.
server {
    listen 443 ssl http2;
    listen [::]:443 ssl http2;
    server_name agent.example.com;

    ssl_certificate /etc/letsencrypt/live/agent.example.com/fullchain.pem; # managed by Certbot
    ssl_certificate_key /etc/letsencrypt/live/agent.example.com/privkey.pem; # managed by Certbot
    include /etc/letsencrypt/options-ssl-nginx.conf; # managed by Certbot
    ssl_dhparam /etc/letsencrypt/ssl-dhparams.pem; # managed by Certbot

    client_max_body_size 500m;
    add_header Strict-Transport-Security "max-age=63072000" always;

    location / {
        auth_basic "Agent";
        auth_basic_user_file /etc/nginx/.htpasswd;
        proxy_pass http://127.0.0.1:8000;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_read_timeout 300s;
    }

    location /health {
        auth_basic off;
        proxy_pass http://127.0.0.1:8000;
    }

    location /admin {
        deny all;
    }

    location = /api/workspace/upload {
        auth_basic "Agent";
        auth_basic_user_file /etc/nginx/.htpasswd;
        client_max_body_size 500M;
        limit_except PUT {
            deny all;
        }
        proxy_pass http://127.0.0.1:8000;
        proxy_request_buffering off;
    }

    location /ws/ {
        auth_basic "Agent";
        auth_basic_user_file /etc/nginx/.htpasswd;
        proxy_pass http://127.0.0.1:8000;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_read_timeout 3600s;
    }
}

server {
    listen 80;
    listen [::]:80;
    server_name agent.example.com;
    return 301 https://$host$request_uri;
}
"#;

    /// A whole nginx.conf with an http block (tests/fixtures/nginx/http-block.conf).
    const HTTP_BLOCK: &str = r#"# /etc/nginx/nginx.conf -- two agents' ports on one machine, everything behind one password file.
user www-data;
worker_processes auto;
pid /run/nginx.pid;

events {
    worker_connections 768;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    client_max_body_size 0;
    auth_basic "Agents";
    auth_basic_user_file /etc/nginx/agents.htpasswd;

    upstream agent_api {
        server 127.0.0.1:8080;
        keepalive 16;
    }

    # the dashboard on its second port, loopback only
    server {
        listen 127.0.0.1:8081;
        server_name _;
        location / {
            proxy_pass http://127.0.0.1:9000;
        }
    }

    server {
        listen 127.0.0.1:8443 ssl;
        server_name agent.internal *.agent.internal;
        ssl_certificate     certs/agent.crt;
        ssl_certificate_key certs/agent.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        include snippets/security-headers.conf;

        location ~* \.(php|asp|env)$ {
            return 404;
        }
        location /api/ {
            proxy_pass http://agent_api;
            proxy_set_header X-Forwarded-Host $host;
        }
        location ^~ /v1/ {
            client_max_body_size 10m;
            proxy_pass http://agent_api;
        }
        location = /v1/secrets {
            return 403;
        }
        location /static/ {
            root /var/www/agent;
        }
        location /docs {
            proxy_pass http://127.0.0.1:8080;
        }
        location /metrics {
            proxy_pass http://127.0.0.1:9100;
        }
        location /legacy/ {
            proxy_pass http://127.0.0.1:8080/api/;
        }
    }
}
"#;

    // ---- helpers ----------------------------------------------------------------------

    fn import(text: &str) -> String {
        match import_nginx(text, "test.conf") {
            Ok(out) => out,
            Err(e) => panic!("import failed: {e}\n{text}"),
        }
    }

    fn import_err(text: &str) -> ImportError {
        match import_nginx(text, "test.conf") {
            Ok(out) => panic!("import succeeded:\n{out}"),
            Err(e) => e,
        }
    }

    fn table(out: &str) -> toml::Table {
        match out.parse::<toml::Table>() {
            Ok(t) => t,
            Err(e) => panic!("output is not TOML: {e}\n{out}"),
        }
    }

    fn get<'t>(t: &'t toml::Table, path: &[&str]) -> Option<&'t toml::Value> {
        let (last, sections) = path.split_last()?;
        let mut cur = t;
        for s in sections {
            cur = cur.get(*s)?.as_table()?;
        }
        cur.get(*last)
    }

    fn str_at(t: &toml::Table, path: &[&str]) -> Option<String> {
        get(t, path).and_then(|v| v.as_str()).map(str::to_string)
    }

    fn int_at(t: &toml::Table, path: &[&str]) -> Option<i64> {
        get(t, path).and_then(toml::Value::as_integer)
    }

    fn routes(t: &toml::Table) -> Vec<toml::Table> {
        get(t, &["route"])
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|r| r.as_table().cloned()).collect())
            .unwrap_or_default()
    }

    fn route(t: &toml::Table, path: &str) -> Option<toml::Table> {
        routes(t)
            .into_iter()
            .find(|r| r.get("path").and_then(|p| p.as_str()) == Some(path))
    }

    fn strings(v: Option<&toml::Value>) -> Vec<String> {
        v.and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The keys `src/config/raw.rs` accepts (deny_unknown_fields), with their TOML types.
    const ALLOWED: &[(&str, &str, &str)] = &[
        ("server", "listen", "str"),
        ("server", "allow_public_bind", "bool"),
        ("server", "http_listen", "str"),
        ("server", "hosts", "strs"),
        ("server", "trusted_proxies", "strs"),
        ("server", "header_timeout_secs", "int"),
        ("server", "idle_timeout_secs", "int"),
        ("server", "max_header_bytes", "int"),
        ("server", "shutdown_grace_secs", "int"),
        ("tls", "cert", "str"),
        ("tls", "key", "str"),
        ("tls", "self_signed", "bool"),
        ("tls", "self_signed_hosts", "strs"),
        ("upstream", "url", "str"),
        ("upstream", "connect_timeout_secs", "int"),
        ("upstream", "response_timeout_secs", "int"),
        ("limits", "max_body_bytes", "int"),
        ("ui", "dashboard", "bool"),
        ("ui", "workspace", "bool"),
        ("ui", "docs", "bool"),
        ("ui", "openapi", "bool"),
        ("auth.basic", "htpasswd", "str"),
        ("auth.basic", "realm", "str"),
        ("auth.lockout", "max_retries", "int"),
        ("auth.lockout", "max_retries_per_ip", "int"),
        ("auth.lockout", "find_time_secs", "int"),
        ("auth.lockout", "ban_time_secs", "int"),
        ("route", "path", "str"),
        ("route", "exact", "bool"),
        ("route", "methods", "strs"),
        ("route", "auth", "auth"),
        ("route", "max_body_bytes", "int"),
        ("route", "forward_authorization", "bool"),
        ("route", "deny", "bool"),
    ];

    fn type_ok(kind: &str, v: &toml::Value) -> bool {
        let strs = |v: &toml::Value| {
            v.as_array()
                .is_some_and(|a| a.iter().all(|x| x.as_str().is_some()))
        };
        match kind {
            "str" => v.as_str().is_some(),
            "bool" => v.as_bool().is_some(),
            "int" => v.as_integer().is_some_and(|i| i >= 0),
            "strs" => strs(v),
            "auth" => v.as_str().is_some() || strs(v),
            _ => false,
        }
    }

    fn check_keys(section: &str, t: &toml::Table, errors: &mut Vec<String>) {
        for (k, v) in t {
            match ALLOWED.iter().find(|(s, key, _)| *s == section && key == k) {
                Some((_, _, kind)) => {
                    if !type_ok(kind, v) {
                        errors.push(format!("{section}.{k} has the wrong type: {v}"));
                    }
                }
                None => errors.push(format!("unknown key {section}.{k}")),
            }
        }
    }

    /// Every emitted key is one raw.rs accepts, with the right type.
    fn assert_known_keys(out: &str) {
        let t = table(out);
        let mut errors = Vec::new();
        for (k, v) in &t {
            match (k.as_str(), v) {
                ("server" | "tls" | "upstream" | "limits" | "ui", toml::Value::Table(s)) => {
                    check_keys(k, s, &mut errors);
                }
                ("auth", toml::Value::Table(a)) => {
                    for (k2, v2) in a {
                        match (k2.as_str(), v2) {
                            ("basic" | "lockout", toml::Value::Table(s)) => {
                                check_keys(&format!("auth.{k2}"), s, &mut errors);
                            }
                            _ => errors.push(format!("unknown key auth.{k2}")),
                        }
                    }
                }
                ("route", toml::Value::Array(items)) => {
                    for item in items {
                        match item.as_table() {
                            Some(r) => check_keys("route", r, &mut errors),
                            None => errors.push("a route is not a table".to_string()),
                        }
                    }
                }
                _ => errors.push(format!("unknown top-level key {k}")),
            }
        }
        assert!(errors.is_empty(), "{errors:?}\n{out}");
    }

    /// The checks `config::validate` makes, so `serve` accepts what the import writes.
    /// The real config validation, as `serve` and `check` run it.
    fn validate(out: &str) -> Result<(), String> {
        crate::config::Config::from_toml(out, "imported.toml", &crate::config::Env::default())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn assert_valid(out: &str) {
        assert_known_keys(out);
        if let Err(e) = validate(out) {
            panic!("{e}\n{out}");
        }
    }

    // ---- the fixtures --------------------------------------------------------------------

    /// The seed's nginx example: server-wide Basic login, no certificate in the block.
    #[test]
    fn seed_block_imports() {
        let out = import(SEED);
        assert_valid(&out);
        let t = table(&out);
        assert!(out.starts_with("# Imported from test.conf by `frontdoor import nginx`"));
        assert_eq!(
            str_at(&t, &["server", "listen"]).as_deref(),
            Some("0.0.0.0:443")
        );
        assert_eq!(
            get(&t, &["server", "allow_public_bind"]),
            Some(&toml::Value::Boolean(true))
        );
        assert_eq!(
            strings(get(&t, &["server", "hosts"])),
            ["assistant.yourdomain.com"]
        );
        assert_eq!(
            get(&t, &["tls", "self_signed"]),
            Some(&toml::Value::Boolean(true))
        );
        assert!(out.contains("names no ssl_certificate"), "{out}");
        assert_eq!(
            str_at(&t, &["upstream", "url"]).as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(
            str_at(&t, &["auth", "basic", "htpasswd"]).as_deref(),
            Some("/etc/nginx/.htpasswd")
        );
        assert_eq!(
            str_at(&t, &["auth", "basic", "realm"]).as_deref(),
            Some("Assistant")
        );
        assert_eq!(int_at(&t, &["limits", "max_body_bytes"]), Some(1_048_576));
        assert_eq!(routes(&t).len(), 1);
        let root = route(&t, "/").unwrap_or_else(|| panic!("{out}"));
        assert_eq!(strings(root.get("auth")), ["basic"]);
        assert!(
            out.contains(
                "# nginx: proxy_set_header Host $host -- not translated: frontdoor sets this itself"
            ),
            "{out}"
        );
        assert!(
            out.contains("# nginx: proxy_set_header X-Real-IP $remote_addr -- not translated"),
            "{out}"
        );
        assert!(
            out.contains("dashboard = false  # /admin: nginx passed it on"),
            "{out}"
        );
    }

    /// A certbot-managed sites-available file with per-location rules and a redirect server.
    #[test]
    fn sites_available_imports() {
        let out = import(SITES_AVAILABLE);
        assert_valid(&out);
        let t = table(&out);
        assert_eq!(
            str_at(&t, &["server", "listen"]).as_deref(),
            Some("0.0.0.0:443")
        );
        assert_eq!(
            str_at(&t, &["server", "http_listen"]).as_deref(),
            Some("0.0.0.0:80")
        );
        assert!(out.contains("from the server block at line 57"), "{out}");
        assert!(out.contains("# nginx: listen [::]:443 ssl http2 -- not translated: frontdoor listens on one TLS address"), "{out}");
        assert!(
            out.contains(
                "# nginx: listen [::]:80 -- not translated: frontdoor has one plain-HTTP listener"
            ),
            "{out}"
        );
        assert_eq!(
            strings(get(&t, &["server", "hosts"])),
            ["agent.example.com"]
        );
        assert_eq!(
            str_at(&t, &["tls", "cert"]).as_deref(),
            Some("/etc/letsencrypt/live/agent.example.com/fullchain.pem")
        );
        assert_eq!(
            str_at(&t, &["tls", "key"]).as_deref(),
            Some("/etc/letsencrypt/live/agent.example.com/privkey.pem")
        );
        assert!(out.contains("# nginx: include /etc/letsencrypt/options-ssl-nginx.conf -- not translated: included files are not followed"), "{out}");
        assert!(
            out.contains(
                "# nginx: ssl_dhparam /etc/letsencrypt/ssl-dhparams.pem -- not translated"
            ),
            "{out}"
        );
        assert!(
            out.contains("# nginx: add_header Strict-Transport-Security"),
            "{out}"
        );
        assert_eq!(int_at(&t, &["limits", "max_body_bytes"]), Some(524_288_000));
        assert_eq!(
            int_at(&t, &["upstream", "response_timeout_secs"]),
            Some(300)
        );
        assert_eq!(
            str_at(&t, &["auth", "basic", "realm"]).as_deref(),
            Some("Agent")
        );

        let paths: Vec<String> = routes(&t)
            .iter()
            .filter_map(|r| r.get("path").and_then(|p| p.as_str()).map(str::to_string))
            .collect();
        assert_eq!(paths, ["/", "/health", "/api/workspace/upload", "/ws"]);
        let root = route(&t, "/").unwrap_or_else(|| panic!("{out}"));
        assert_eq!(strings(root.get("auth")), ["basic"]);
        assert!(root.get("max_body_bytes").is_none());
        let health = route(&t, "/health").unwrap_or_else(|| panic!("{out}"));
        assert_eq!(health.get("auth").and_then(|a| a.as_str()), Some("none"));
        let upload = route(&t, "/api/workspace/upload").unwrap_or_else(|| panic!("{out}"));
        assert_eq!(
            upload.get("exact").and_then(toml::Value::as_bool),
            Some(true)
        );
        assert_eq!(strings(upload.get("methods")), ["PUT"]);
        assert_eq!(
            upload
                .get("max_body_bytes")
                .and_then(toml::Value::as_integer),
            Some(524_288_000)
        );
        assert_eq!(strings(upload.get("auth")), ["basic"]);
        let ws = route(&t, "/ws").unwrap_or_else(|| panic!("{out}"));
        assert_eq!(strings(ws.get("auth")), ["basic"]);
        assert!(
            out.contains(
                "# nginx: proxy_http_version 1.1 -- not translated: frontdoor speaks HTTP/1.1"
            ),
            "{out}"
        );
        assert!(out.contains("# nginx: proxy_set_header Upgrade $http_upgrade -- not translated: frontdoor forwards websocket upgrades itself"), "{out}");
        assert!(out.contains("# nginx: proxy_read_timeout 3600s -- not translated: in nginx it bounds idle websocket"), "{out}");
        assert!(route(&t, "/admin").is_none());
        assert!(
            out.contains("# location /admin: deny all -> not listed, and frontdoor hides /admin anyway (404 unless [ui] dashboard = true)"),
            "{out}"
        );
        assert_eq!(
            get(&t, &["ui", "dashboard"]),
            Some(&toml::Value::Boolean(false))
        );
    }

    /// A whole nginx.conf: http{} defaults, two servers, an upstream block, regex and
    /// include, unlimited bodies, locations to other upstreams and with rewrites.
    #[test]
    fn http_block_imports() {
        let out = import(HTTP_BLOCK);
        assert_valid(&out);
        let t = table(&out);
        assert_eq!(
            str_at(&t, &["server", "listen"]).as_deref(),
            Some("127.0.0.1:8443")
        );
        assert!(get(&t, &["server", "allow_public_bind"]).is_none(), "{out}");
        assert!(get(&t, &["server", "http_listen"]).is_none(), "{out}");
        assert_eq!(strings(get(&t, &["server", "hosts"])), ["agent.internal"]);
        assert!(
            out.contains("# nginx: server_name *.agent.internal -- not translated: wildcard"),
            "{out}"
        );
        assert_eq!(
            str_at(&t, &["tls", "cert"]).as_deref(),
            Some("certs/agent.crt")
        );
        assert!(out.contains("relative paths"), "{out}");
        assert_eq!(int_at(&t, &["limits", "max_body_bytes"]), Some(1 << 40));
        assert!(
            out.contains("WARNING: client_max_body_size 0 means unlimited in nginx"),
            "{out}"
        );
        assert_eq!(
            str_at(&t, &["upstream", "url"]).as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert!(
            out.contains("# upstream agent_api -> 127.0.0.1:8080"),
            "{out}"
        );
        assert_eq!(
            str_at(&t, &["auth", "basic", "htpasswd"]).as_deref(),
            Some("/etc/nginx/agents.htpasswd")
        );
        assert_eq!(
            str_at(&t, &["auth", "basic", "realm"]).as_deref(),
            Some("Agents")
        );

        let paths: Vec<String> = routes(&t)
            .iter()
            .filter_map(|r| r.get("path").and_then(|p| p.as_str()).map(str::to_string))
            .collect();
        assert_eq!(paths, ["/v1/secrets", "/api", "/v1", "/docs"]);
        for r in routes(&t) {
            if r.get("deny").and_then(toml::Value::as_bool) == Some(true) {
                continue;
            }
            assert_eq!(strings(r.get("auth")), ["basic"], "{out}");
        }
        let v1 = route(&t, "/v1").unwrap_or_else(|| panic!("{out}"));
        assert_eq!(
            v1.get("max_body_bytes").and_then(toml::Value::as_integer),
            Some(10 << 20)
        );
        assert_eq!(get(&t, &["ui", "docs"]), Some(&toml::Value::Boolean(true)));
        assert!(
            out.contains("location ~* \"\\\\.(php|asp|env)$\"")
                || out.contains("location ~* \\.(php|asp|env)$"),
            "{out}"
        );
        assert!(out.contains("regex locations cannot be expressed"), "{out}");
        assert!(out.contains("# location /v1/secrets: return 403 -> route \"/v1\" covers /v1/secrets, so a deny route answers 404 here\n[[route]]\npath = \"/v1/secrets\"\nexact = true\ndeny = true"), "{out}");
        assert!(
            out.contains("multiple upstreams are not supported yet"),
            "{out}"
        );
        assert!(
            out.contains("http://127.0.0.1:9100 (location /metrics)"),
            "{out}"
        );
        assert!(
            out.contains("the URI part rewrites the path (/legacy/ -> /api/)"),
            "{out}"
        );
        assert!(
            out.contains("location /static/ { ... } -- not translated: no proxy_pass"),
            "{out}"
        );
        assert!(out.contains("server { listen 127.0.0.1:8081; server_name _; ... } (line 24) -- not translated: frontdoor imports one server block"), "{out}");
        assert!(
            out.contains("# nginx: include /etc/nginx/mime.types -- not translated"),
            "{out}"
        );
        assert!(
            out.contains("# nginx: include snippets/security-headers.conf -- not translated"),
            "{out}"
        );
        assert!(
            out.contains("# nginx: events { ... } -- not translated"),
            "{out}"
        );
        assert!(
            out.contains("# nginx: ssl_protocols TLSv1.2 TLSv1.3 -- not translated"),
            "{out}"
        );
    }

    // ---- translation details ---------------------------------------------------------------

    fn server(body: &str) -> String {
        format!(
            "server {{\n listen 127.0.0.1:8443 ssl;\n ssl_certificate /c.pem;\n ssl_certificate_key /k.pem;\n{body}\n}}\n"
        )
    }

    #[test]
    fn auth_basic_off_and_missing_user_file() {
        let out = import(&server(
            "auth_basic \"x\";\n location / { proxy_pass http://127.0.0.1:1; }\n \
             location /pub { auth_basic off; proxy_pass http://127.0.0.1:1; }",
        ));
        assert_valid(&out);
        let t = table(&out);
        assert!(get(&t, &["auth"]).is_none(), "{out}");
        assert!(
            out.contains("auth_basic without auth_basic_user_file"),
            "{out}"
        );
        assert!(
            out.contains("auth_basic off: nginx had no login here"),
            "{out}"
        );
        assert!(
            out.contains("WARNING: nginx asked for no login on any translated location"),
            "{out}"
        );
    }

    #[test]
    fn denied_locations_are_not_routes() {
        let out = import(&server(
            "location /api { proxy_pass http://127.0.0.1:1; }\n location /internal { return 404; }\n \
             location /workspace { deny all; }\n location /api/private { deny all; }",
        ));
        assert_valid(&out);
        assert!(
            out.contains(
                "# location /internal: return 404 -> not listed, so frontdoor answers 404"
            ),
            "{out}"
        );
        assert!(out.contains("frontdoor hides /workspace anyway"), "{out}");
        assert!(out.contains("# location /api/private: deny all -> route \"/api\" covers /api/private, so a deny route answers 404 here"), "{out}");
        assert_eq!(
            routes(&table(&out)).len(),
            2,
            "the /api route and the /api/private deny route"
        );
    }

    #[test]
    fn limit_except_becomes_methods() {
        let out = import(&server(
            "location /api/jobs { limit_except GET POST { deny all; } proxy_pass http://127.0.0.1:1/api/jobs; }",
        ));
        assert_valid(&out);
        let t = table(&out);
        let r = route(&t, "/api/jobs").unwrap_or_else(|| panic!("{out}"));
        assert_eq!(strings(r.get("methods")), ["GET", "POST"]);
    }

    #[test]
    fn server_level_proxy_pass_makes_a_root_route() {
        let out = import(&server("proxy_pass http://localhost:3000/;"));
        assert_valid(&out);
        let t = table(&out);
        assert_eq!(
            str_at(&t, &["upstream", "url"]).as_deref(),
            Some("http://localhost:3000")
        );
        assert!(route(&t, "/").is_some(), "{out}");
    }

    #[test]
    fn no_proxy_is_an_error() {
        assert!(matches!(
            import_err(&server("location / { root /var/www; }")),
            ImportError::NoUpstream { .. }
        ));
        assert!(matches!(
            import_err(&server("location / { proxy_pass https://127.0.0.1:8000; }")),
            ImportError::NoUpstream { .. }
        ));
        assert!(matches!(
            import_err("http { sendfile on; }"),
            ImportError::NoServerBlock { .. }
        ));
        assert!(matches!(import_err(""), ImportError::NoServerBlock { .. }));
    }

    /// Where nginx demanded something frontdoor cannot check, the location stays unlisted.
    #[test]
    fn untranslatable_protection_fails_closed() {
        let out = import(&server(
            "location / { proxy_pass http://127.0.0.1:1; }\n \
             location /sso { auth_request /auth; proxy_pass http://127.0.0.1:1; }\n \
             location /lan { allow 10.0.0.0/8; deny all; proxy_pass http://127.0.0.1:1; }",
        ));
        assert_valid(&out);
        let t = table(&out);
        assert!(
            route(&t, "/sso").is_none() && route(&t, "/lan").is_none(),
            "{out}"
        );
        assert!(
            out.contains("nginx required `auth_request /auth` here"),
            "{out}"
        );
        assert!(out.contains("nginx allowed only 10.0.0.0/8 here"), "{out}");
    }

    #[test]
    fn nested_locations_inherit() {
        let out = import(&server(
            "auth_basic_user_file /h;\n location /a { auth_basic \"A\"; client_max_body_size 2k; \
             proxy_pass http://127.0.0.1:1; location /a/b { proxy_pass http://127.0.0.1:1; } }",
        ));
        assert_valid(&out);
        let t = table(&out);
        let b = route(&t, "/a/b").unwrap_or_else(|| panic!("{out}"));
        assert_eq!(strings(b.get("auth")), ["basic"]);
        assert_eq!(
            b.get("max_body_bytes").and_then(toml::Value::as_integer),
            Some(2048)
        );
    }

    #[test]
    fn listen_forms() {
        for (listen, want, public) in [
            ("443 ssl", "0.0.0.0:443", true),
            ("[::]:443 ssl", "[::]:443", true),
            ("127.0.0.1:8443 ssl", "127.0.0.1:8443", false),
            ("[::1]:8443 ssl", "[::1]:8443", false),
            ("*:443 ssl default_server", "0.0.0.0:443", true),
            ("192.168.1.5:443 ssl", "192.168.1.5:443", true),
        ] {
            let out = import(&format!(
                "server {{ listen {listen}; location / {{ proxy_pass http://127.0.0.1:1; }} }}"
            ));
            assert_valid(&out);
            let t = table(&out);
            assert_eq!(
                str_at(&t, &["server", "listen"]).as_deref(),
                Some(want),
                "{out}"
            );
            assert_eq!(
                get(&t, &["server", "allow_public_bind"]).is_some(),
                public,
                "{out}"
            );
        }
        // Plain HTTP only: no TLS listen, the plain one becomes the redirect listener.
        let out = import("server { listen 80; location / { proxy_pass http://127.0.0.1:1; } }");
        assert_valid(&out);
        let t = table(&out);
        assert!(get(&t, &["server", "listen"]).is_none());
        assert_eq!(
            str_at(&t, &["server", "http_listen"]).as_deref(),
            Some("0.0.0.0:80")
        );
        assert!(out.contains("served this site without TLS"), "{out}");
    }

    #[test]
    fn picks_the_ssl_server_and_names_the_others() {
        let out = import(
            "server { listen 8080; server_name a; location / { proxy_pass http://127.0.0.1:1; } }\n\
             server { listen 127.0.0.1:8443 ssl; server_name b; location / { proxy_pass http://127.0.0.1:2; } }",
        );
        assert_valid(&out);
        let t = table(&out);
        assert_eq!(strings(get(&t, &["server", "hosts"])), ["b"]);
        assert!(
            out.contains("server { listen 8080; server_name a; ... } (line 1) -- not translated"),
            "{out}"
        );
    }

    #[test]
    fn sizes_and_times() {
        assert_eq!(parse_size("500m"), Some(524_288_000));
        assert_eq!(parse_size("500M"), Some(524_288_000));
        assert_eq!(parse_size("10k"), Some(10_240));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("0"), Some(0));
        for bad in [
            "",
            "m",
            "1.5m",
            "-1",
            "99999999999999999999",
            "18014398509481984k",
            "1t",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(parse_secs("300"), Some(300));
        assert_eq!(parse_secs("300s"), Some(300));
        assert_eq!(parse_secs("5m"), Some(300));
        assert_eq!(parse_secs("1m30s"), Some(90));
        assert_eq!(parse_secs("1h"), Some(3600));
        assert_eq!(parse_secs("1500ms"), Some(2));
        for bad in ["", "s", "5x", "1m3", "99999999999999999999y"] {
            let got = parse_secs(bad);
            assert!(bad == "1m3" || got.is_none(), "{bad}: {got:?}");
        }
        let out = import(&server(
            "client_max_body_size 0;\n location / { proxy_pass http://127.0.0.1:1; }",
        ));
        assert_eq!(
            int_at(&table(&out), &["limits", "max_body_bytes"]),
            Some(1 << 40)
        );
    }

    #[test]
    fn route_paths_are_normal() {
        assert_eq!(route_path("/").as_deref(), Ok("/"));
        assert_eq!(route_path("/api/").as_deref(), Ok("/api"));
        assert_eq!(route_path("/a b").as_deref(), Ok("/a%20b"));
        assert_eq!(route_path("/caf\u{e9}").as_deref(), Ok("/caf%C3%A9"));
        for bad in [
            "api", "//x", "/a/../b", "/a/./b", "/x%2F", "/a;b", "/a\\b", "/a?b", "/x//",
        ] {
            assert!(route_path(bad).is_err(), "{bad}");
        }
    }

    /// Values from nginx can hold quotes, backslashes and newlines: they stay inside their
    /// TOML strings and comments can never start a new line.
    #[test]
    fn hostile_values_stay_escaped() {
        let text = "server { listen 127.0.0.1:8443 ssl;\n\
            ssl_certificate \"/c\\\"x\\\\y\\n[upstream]\";\n ssl_certificate_key /k;\n\
            auth_basic \"Re\\\"alm\\nx = 1\";\n auth_basic_user_file \"/h\\\"\\n[ui]\";\n\
            add_header X \"a\\n[server]\\nlisten = 1\";\n\
            location \"/a b\\\"\" { proxy_pass http://127.0.0.1:1; } }";
        let out = import(text);
        assert_valid(&out);
        let t = table(&out);
        assert_eq!(
            str_at(&t, &["tls", "cert"]).as_deref(),
            Some("/c\"x\\y\n[upstream]")
        );
        assert_eq!(
            str_at(&t, &["auth", "basic", "realm"]).as_deref(),
            Some("Realmx = 1")
        );
        assert_eq!(
            str_at(&t, &["auth", "basic", "htpasswd"]).as_deref(),
            Some("/h\"\n[ui]")
        );
        assert!(route(&t, "/a%20b%22").is_some(), "{out}");
        assert_eq!(
            toml_str("a\"b\\c\u{1}\u{7f}"),
            "\"a\\\"b\\\\c\\u0001\\u007F\""
        );
    }

    // ---- syntax errors ---------------------------------------------------------------------

    #[test]
    fn syntax_errors_name_the_line() {
        let cases: &[(&str, &str)] = &[
            (
                "server {\n listen 443;\n}\n}\n",
                "test.conf:4: unexpected `}`",
            ),
            (
                "http {\n server {\n listen 443;\n}\n",
                "test.conf:1: `http {` is never closed",
            ),
            (
                "server {\n listen 443;\n location / {\n",
                "test.conf:3: `location {` is never closed",
            ),
            (
                "server {\n auth_basic \"x;\n}\n",
                "test.conf:2: unterminated quoted string",
            ),
            (
                "server {\n location / {\n  proxy_pass http://x:1\n }\n}\n",
                "test.conf:3: missing `;` after `proxy_pass`",
            ),
            (
                "server {\n listen 443 ssl\n server_name a;\n}\n",
                "test.conf:2: missing `;` after `listen`",
            ),
            (
                "server {\n listen 443\n",
                "test.conf:2: missing `;` after `listen`",
            ),
            ("server {\n ;\n}\n", "test.conf:2: unexpected `;`"),
            ("{\n}\n", "test.conf:1: unexpected `{`"),
        ];
        for (text, want) in cases {
            let err = import_err(text).to_string();
            assert!(err.starts_with(want), "{text:?}: {err}");
        }
        let deep = "a {".repeat(100_000);
        assert!(matches!(
            import_err(&deep),
            ImportError::TooDeep { line: 1, .. }
        ));
    }

    #[test]
    fn tokenizer_details() {
        let toks = match tokenize("a 'q\\'x' \"t\\tz\" \\.php$ ${v}x;# c\nb", "t") {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let words: Vec<String> = toks
            .iter()
            .filter_map(|t| match t {
                Token::Word { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(words, ["a", "q'x", "t\tz", "\\.php$", "${v}x", "b"]);
    }

    // ---- no panics -------------------------------------------------------------------------

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
        }
    }

    /// Whatever comes in, the import returns; and what it returns is a valid config.
    fn no_panic(text: &str) {
        if let Ok(out) = import_nginx(text, "fuzz \"\n name") {
            assert_valid(&out);
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2_000 {
            let len = rng.below(300);
            let bytes: Vec<u8> = (0..len)
                .map(|_| match rng.below(4) {
                    0 => {
                        let special = b"{};\"'\\#$\n ";
                        special
                            .get(rng.below(special.len()))
                            .copied()
                            .unwrap_or(b' ')
                    }
                    _ => (rng.next() & 0xFF) as u8,
                })
                .collect();
            no_panic(&String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn token_soup_never_panics() {
        const WORDS: &[&str] = &[
            "server",
            "{",
            "}",
            ";",
            "location",
            "/",
            "/x",
            "/admin",
            "=",
            "^~",
            "~",
            "~*",
            "@n",
            "proxy_pass",
            "http://127.0.0.1:8000",
            "http://127.0.0.1:9/",
            "http://up",
            "https://h",
            "http://$v",
            "listen",
            "443",
            "ssl",
            "80",
            "[::]:443",
            "unix:/s",
            "auth_basic",
            "off",
            "\"R\\\"e\"",
            "auth_basic_user_file",
            "/h",
            "limit_except",
            "GET",
            "CONNECT",
            "deny",
            "allow",
            "all",
            "return",
            "404",
            "301",
            "https://x",
            "client_max_body_size",
            "0",
            "5m",
            "99999999999999999999g",
            "include",
            "if",
            "upstream",
            "up",
            "http",
            "\n",
            "#c\n",
            "server_name",
            "_",
            "*.x",
            "a.b",
            "ssl_certificate",
            "ssl_certificate_key",
            "auth_request",
            "satisfy",
            "any",
            "proxy_read_timeout",
            "1m",
            "keepalive_timeout",
            "'",
            "\"",
            "\\",
            "${",
            "ssl_verify_client",
            "on",
        ];
        let mut rng = XorShift(42);
        for _ in 0..3_000 {
            let n = rng.below(80);
            let mut text = String::new();
            for _ in 0..n {
                text.push_str(WORDS.get(rng.below(WORDS.len())).copied().unwrap_or(""));
                text.push(' ');
            }
            no_panic(&text);
        }
    }

    #[test]
    fn truncated_fixtures_never_panic() {
        let mut rng = XorShift(7);
        for fixture in [SEED, SITES_AVAILABLE, HTTP_BLOCK] {
            for end in 0..=fixture.len() {
                if let Some(prefix) = fixture.get(..end) {
                    no_panic(prefix);
                }
            }
            for _ in 0..300 {
                let a = rng.below(fixture.len());
                let b = rng.below(fixture.len());
                let (lo, hi) = (a.min(b), a.max(b));
                if let (Some(x), Some(y)) = (fixture.get(..lo), fixture.get(hi..)) {
                    no_panic(&format!("{x}{y}"));
                }
            }
        }
    }

    #[test]
    #[ignore = "prints the fixtures' translations: cargo test -- --ignored --nocapture"]
    fn show() {
        for text in [SEED, SITES_AVAILABLE, HTTP_BLOCK] {
            eprintln!("{}\n========", import(text));
        }
    }

    /// A huge file (many locations, names, methods, upstreams) imports in linear time.
    #[test]
    fn large_input_stays_fast() {
        let mut text = String::from("server { listen 127.0.0.1:8443 ssl; server_name");
        for i in 0..20_000 {
            text.push_str(&format!(" h{i}.example"));
        }
        text.push_str(";\n location / { proxy_pass http://127.0.0.1:1; }\n");
        for i in 0..20_000 {
            text.push_str(&format!(
                "location /a{i} {{ limit_except GET POST GET {{ deny all; }} proxy_pass http://127.0.0.1:1; }}\n\
                 location /a{i}/x {{ deny all; }}\n location /o{i} {{ proxy_pass http://127.0.0.1:{}; }}\n",
                2 + i % 60_000
            ));
        }
        text.push('}');
        let started = std::time::Instant::now();
        let out = import(&text);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        // 20,000 proxied locations, 20,000 deny routes for the denied sub-locations, and /.
        assert_eq!(routes(&table(&out)).len(), 40_001);
    }

    #[test]
    fn unused_upstream_blocks_are_named() {
        let out = import(
            "upstream a { server 127.0.0.1:1; server 127.0.0.1:2; }\n upstream b { server 127.0.0.1:3; }\n\
             server { listen 127.0.0.1:8443 ssl; listen 127.0.0.1:8443; location / { proxy_pass http://a; } }",
        );
        assert_valid(&out);
        let t = table(&out);
        assert_eq!(
            str_at(&t, &["upstream", "url"]).as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert!(out.contains("frontdoor does not balance load"), "{out}");
        assert!(out.contains("# nginx: upstream b { ... } -- not translated: the translated server block does not use it"), "{out}");
        assert!(!out.contains("# nginx: upstream a"), "{out}");
        assert!(get(&t, &["server", "http_listen"]).is_none(), "{out}");
        assert!(out.contains("same port as the TLS listener"), "{out}");
    }

    /// Every key any fixture produces is one raw.rs accepts.
    #[test]
    fn emitted_keys_are_known() {
        for text in [SEED, SITES_AVAILABLE, HTTP_BLOCK] {
            assert_known_keys(&import(text));
        }
    }
}
