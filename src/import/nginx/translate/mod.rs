//! The translation of one `server` block: what it listens on, its TLS, its upstreams, the
//! routes its locations become (`locations`), and the TOML written for it (`output`).

use super::*;

mod locations;
mod output;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    Server,
    Tls,
    Upstream,
    Limits,
    Auth,
    Other,
}

pub(super) fn section_for(name: &str) -> Section {
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
pub(super) enum BasicAuth {
    Off,
    Realm(String),
}

/// The effect of one level's `allow`/`deny` list (nginx: first match wins).
#[derive(Debug, Clone)]
pub(super) struct Access {
    deny_all: bool,
    allows: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Body {
    bytes: u64,
    unlimited: bool,
    text: String,
}

#[derive(Debug, Clone)]
pub(super) struct Timeout {
    secs: u64,
    text: String,
}

/// Settings nginx inherits from http to server to location (to nested location).
#[derive(Debug, Clone, Default)]
pub(super) struct Scope {
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
    /// The Host nginx sends upstream here.
    host: HostRule,
}

/// The `Host` header nginx sends upstream at one level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) enum HostRule {
    /// No `proxy_set_header Host`: nginx sends `$proxy_host`, proxy_pass's host:port.
    #[default]
    ProxyHost,
    /// `proxy_set_header Host VALUE` (the value, the directive as written).
    Set(String, String),
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
            // Read with the rest of its level by `apply_proxy_headers`.
            "proxy_set_header" if d.arg(0).is_some_and(|h| h.eq_ignore_ascii_case("host")) => {}
            "satisfy" => {
                self.satisfy_any = d.arg(0) == Some("any");
                notes.push(note(d, "frontdoor has no IP rules to combine with logins"));
            }
            _ => return false,
        }
        true
    }

    /// nginx inherits `proxy_set_header` lines only to a level that has none of its own: a
    /// level with any (even of another header) and no `Host` line sends `$proxy_host`.
    fn apply_proxy_headers<'d>(&mut self, level: impl IntoIterator<Item = &'d Directive>) {
        let mut any = false;
        let mut host = HostRule::ProxyHost;
        for d in level
            .into_iter()
            .filter(|d| d.block.is_none() && d.name == "proxy_set_header")
        {
            any = true;
            if let (Some(name), Some(value)) = (d.arg(0), d.arg(1))
                && name.eq_ignore_ascii_case("host")
            {
                host = HostRule::Set(value.to_string(), d.render());
            }
        }
        if any {
            self.host = host;
        }
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
pub(super) enum Action {
    Proxy,
    /// `deny all` or `return 4xx`: frontdoor leaves it unlisted.
    Deny(String),
    /// Not proxied for another reason (redirect, static files, ...).
    Other(String),
}

#[derive(Debug, Clone)]
pub(super) struct ProxyTarget {
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
pub(super) struct LocRecord {
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
pub(super) type LocationNote = (Option<(String, bool)>, String, Vec<String>);

/// The http level: the server blocks, and the defaults every server inherits.
pub(super) struct HttpLevel<'a> {
    servers: Vec<&'a Directive>,
    scope: Scope,
    certs: Vec<&'a Directive>,
    keys: Vec<&'a Directive>,
    header_timeout: Option<&'a Directive>,
    idle_timeout: Option<&'a Directive>,
}

/// What the chosen server block says (http defaults applied), apart from its locations.
pub(super) struct ServerFacts<'a> {
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
    /// nginx sent it every request whose Host no other block names (on its TLS port).
    default_server: bool,
}

/// The routes and everything decided along with them.
#[derive(Default)]
pub(super) struct RoutePlan {
    routes: Vec<RouteOut>,
    /// The Basic realm, user file, and the location they were taken from.
    basic_source: Option<(String, String, String)>,
    /// Comments for the locations that are not routes.
    location_lines: Vec<String>,
    other_upstreams: Vec<String>,
    read_timeouts: Vec<Timeout>,
    connect_timeouts: Vec<Timeout>,
    ui: Vec<(&'static str, bool, Option<String>)>,
    host: HostPlan,
}

/// The Host nginx sent the upstream, and the locations that sent another (head, line, rule).
#[derive(Default)]
pub(super) struct HostPlan {
    rule: HostRule,
    others: Vec<(String, usize, HostRule)>,
}

/// The two listeners frontdoor has.
pub(super) struct Listeners {
    tls: Option<(SocketAddr, String)>,
    http: Option<(SocketAddr, String)>,
    http_comment: Option<String>,
}

#[derive(Debug)]
pub(super) struct RouteOut {
    comments: Vec<String>,
    path: String,
    exact: bool,
    methods: Option<(Vec<String>, String)>,
    basic: bool,
    auth_comment: Option<String>,
    max_body: Option<Body>,
}

pub(super) struct Translator<'a> {
    file: &'a str,
    upstream_blocks: HashMap<String, &'a Directive>,
    notes: Vec<(Section, String)>,
    records: Vec<LocRecord>,
}

impl<'a> Translator<'a> {
    pub(super) fn new(file: &'a str) -> Self {
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

    pub(super) fn run(mut self, tree: &'a [Directive]) -> Result<String, ImportError> {
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
        let mut facts = self.read_server(server, &http);
        facts.default_server = is_default_server(&http.servers, chosen_index);

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
        let host = self.host_rules(&primary, &facts.scope);
        let mut plan = self.build_routes(&facts, &primary);
        plan.host = host;
        let listeners = self.listeners(&facts, &others);

        let mut out = String::new();
        self.emit_header(&mut out, server, &plan);
        self.emit_server(&mut out, &facts, &listeners);
        self.emit_tls(&mut out, &facts);
        self.emit_upstream(&mut out, (&primary, &primary_from), &plan);
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
        http.scope.apply_proxy_headers(http_level.iter().copied());
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
            default_server: false,
        };
        facts.scope.apply_access(server.children());
        facts.scope.apply_proxy_headers(server.children());
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
}

/// The ports a server block listens on (its `ssl` ones when it has any: those are the
/// ones frontdoor takes over), each with whether it is marked `default_server`.
fn listen_ports(server: &Directive) -> Vec<(u16, bool)> {
    let listens: Vec<&Directive> = server
        .children()
        .iter()
        .filter(|d| d.name == "listen" && d.block.is_none())
        .collect();
    if listens.is_empty() {
        return vec![(80, false)];
    }
    let ssl_only = listens
        .iter()
        .any(|d| d.args.iter().skip(1).any(|a| a == "ssl"));
    listens
        .iter()
        .filter(|d| !ssl_only || d.args.iter().skip(1).any(|a| a == "ssl"))
        .filter_map(|d| {
            let addr = d.arg(0)?;
            if addr.starts_with("unix:") {
                return None;
            }
            let port = if let Some(rest) = addr.strip_prefix('[') {
                rest.split_once(']')?.1.strip_prefix(':').unwrap_or("80")
            } else if addr.bytes().all(|b| b.is_ascii_digit()) {
                addr
            } else {
                addr.rsplit_once(':').map_or("80", |(_, p)| p)
            };
            let marked = d
                .args
                .iter()
                .skip(1)
                .any(|a| a == "default_server" || a == "default");
            Some((port.parse().ok()?, marked))
        })
        .collect()
}

/// Whether nginx made `servers[chosen]` the default server of one of its ports: marked
/// `default_server` there, or the first block of the file on that port when none is
/// marked. A default server answers every Host no other block names (an IP address, say).
/// Blocks in other files (`include`, sites-enabled) are not seen.
pub(super) fn is_default_server(servers: &[&Directive], chosen: usize) -> bool {
    let Some(server) = servers.get(chosen) else {
        return false;
    };
    let all: Vec<Vec<(u16, bool)>> = servers.iter().map(|s| listen_ports(s)).collect();
    listen_ports(server).into_iter().any(|(port, marked)| {
        marked
            || (!all.iter().flatten().any(|&(p, m)| p == port && m)
                && all
                    .iter()
                    .position(|ports| ports.iter().any(|&(p, _)| p == port))
                    == Some(chosen))
    })
}

/// The server block to translate: the first that listens with `ssl` and proxies, else the
/// first with `ssl`, else the first that proxies, else the first.
pub(super) fn choose_server(servers: &[&Directive]) -> Option<usize> {
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

pub(super) fn proxies_anywhere(d: &Directive, depth: usize) -> bool {
    depth < MAX_DEPTH
        && d.children()
            .iter()
            .any(|c| c.name == "proxy_pass" || proxies_anywhere(c, depth + 1))
}

/// A server block whose only job is `return 30x https://...` on plain HTTP.
pub(super) fn is_https_redirect(server: &Directive) -> bool {
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

pub(super) fn server_summary(server: &Directive) -> String {
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
