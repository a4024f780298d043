//! Locations into routes: the walk over `location` blocks, what each one allows and how it
//! logs in, the `[ui]` switches, and the paths left unrouted.

use super::*;

impl<'a> Translator<'a> {
    /// Turns the walked locations into routes; says what happens to the others.
    pub(super) fn build_routes(
        &mut self,
        facts: &ServerFacts<'a>,
        primary: &ProxyTarget,
    ) -> RoutePlan {
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

    /// Walks one `location` block (and those nested in it), recording what it proxies and
    /// how it is protected.
    pub(super) fn walk_location(&mut self, d: &Directive, parent: &Scope, depth: usize) {
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
        scope.apply_proxy_headers(d.children());
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

/// Who may use a proxied location's route: `Ok((basic, comment))`, or `Err(comment)` when
/// nginx protected it in a way frontdoor cannot check, so it must stay unlisted. Records
/// the first Basic realm and user file in `basic_source`.
pub(super) fn route_auth(
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
pub(super) fn ui_switches(
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
pub(super) fn describe_unrouted(
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
pub(super) fn covering<'r>(
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
