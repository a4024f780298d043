//! The TOML written for a translated server: header comment, then each section in the
//! order the config documents it.

use super::*;

impl<'a> Translator<'a> {
    pub(super) fn emit_header(&self, out: &mut String, server: &Directive, plan: &RoutePlan) {
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

    pub(super) fn emit_server(
        &mut self,
        out: &mut String,
        facts: &ServerFacts<'a>,
        listeners: &Listeners,
    ) {
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
        if !facts.names.is_empty() && facts.default_server {
            out.push_str(&format!(
                "# hosts = {}  # nginx answered every Host here (an IP address too): this block \
                 is the default server of its port, so its server_name did not limit it. \
                 Uncomment to answer only these names (others get 421)\n",
                toml_list(&facts.names)
            ));
        } else if !facts.names.is_empty() {
            out.push_str(&kv(
                "hosts",
                toml_list(&facts.names),
                Some(
                    "server_name: another block of this file was nginx's default server for \
                     the port, so nginx sent this one only these names; other Host headers \
                     get 421",
                ),
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

    pub(super) fn emit_tls(&mut self, out: &mut String, facts: &ServerFacts<'a>) {
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
                     frontdoor from the config file's folder",
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

    pub(super) fn emit_upstream(
        &mut self,
        out: &mut String,
        (primary, primary_from): (&ProxyTarget, &str),
        plan: &RoutePlan,
    ) {
        out.push_str("\n[upstream]\n");
        out.push_str(&kv("url", toml_str(&primary.origin), Some(primary_from)));
        out.push('\n');
        if let Some(via) = &primary.via {
            out.push_str(&format!("# {}\n", clean(via)));
        }
        self.emit_host_header(out, primary, &plan.host);
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

    /// The Host nginx sent to the primary upstream: the first location proxying to it
    /// decides (the server's rule when no location does); the locations that sent another
    /// are returned with it, to be named. Read before `build_routes` takes the records.
    pub(super) fn host_rules(&self, primary: &ProxyTarget, server_scope: &Scope) -> HostPlan {
        let mut rules = self
            .records
            .iter()
            .filter_map(|r| match (&r.action, &r.proxy) {
                (Action::Proxy, Some(Ok(t))) if t.origin == primary.origin => {
                    Some((r.head.clone(), r.line, r.scope.host.clone()))
                }
                _ => None,
            });
        let rule = rules
            .next()
            .map_or_else(|| server_scope.host.clone(), |(_, _, rule)| rule);
        let others = rules.filter(|(_, _, other)| *other != rule).collect();
        HostPlan { rule, others }
    }

    /// `host_header`: frontdoor's nearest choice to the Host nginx sent.
    fn emit_host_header(&self, out: &mut String, primary: &ProxyTarget, host: &HostPlan) {
        let rule = &host.rule;
        let describe = |rule: &HostRule| match rule {
            HostRule::ProxyHost => "$proxy_host (nginx's default)".to_string(),
            HostRule::Set(value, _) => value.clone(),
        };
        match rule {
            HostRule::ProxyHost => {
                let mut why = "nginx's default with no `proxy_set_header Host`: proxy_pass's \
                               host:port ($proxy_host)"
                    .to_string();
                if let Some(block) = &primary.block {
                    why.push_str(&format!(
                        "; nginx sent the upstream block's name `{block}`, frontdoor sends the \
                         address in url"
                    ));
                }
                out.push_str(&kv("host_header", toml_str("upstream"), Some(&why)));
                out.push('\n');
            }
            HostRule::Set(value, text) => match value.as_str() {
                "$host" | "$http_host" | "$proxy_host" => {
                    let choice = match value.as_str() {
                        "$host" => "client_name",
                        "$http_host" => "client",
                        _ => "upstream",
                    };
                    out.push_str(&kv("host_header", toml_str(choice), Some(text)));
                    out.push('\n');
                }
                _ => out.push_str(&format!(
                    "# nginx: {} -- not translated: frontdoor sends the client's Host \
                     (host_header = \"client\", the default), without its port \
                     (\"client_name\") or the url's host:port (\"upstream\")\n",
                    clean(text)
                )),
            },
        }
        for (head, line, other) in &host.others {
            out.push_str(&format!(
                "# nginx: {} (line {line}) sent Host {} -- not translated: frontdoor sends one \
                 Host per upstream, the one above\n",
                clean(head),
                clean(&describe(other))
            ));
        }
    }

    pub(super) fn emit_limits_and_ui(
        &mut self,
        out: &mut String,
        facts: &ServerFacts<'a>,
        plan: &RoutePlan,
    ) {
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

    pub(super) fn emit_auth(&mut self, out: &mut String, plan: &RoutePlan) {
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

    pub(super) fn emit_routes(&mut self, out: &mut String, plan: &RoutePlan) {
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
    pub(super) fn flush(&mut self, out: &mut String, section: Section) {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.notes)
            .into_iter()
            .partition(|(s, _)| *s == section);
        self.notes = rest;
        for (_, line) in mine {
            out.push_str(&line);
            out.push('\n');
        }
    }
}
