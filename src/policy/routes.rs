//! Owns the route table and the whole per-request decision: frontdoor's reserved paths, which
//! hidden UI areas answer 404, which configured route covers a canonical path, whether it is
//! a deny route, and whether the method is allowed on it. `serve` and `explain` both call
//! [`RouteTable::decide`], so they cannot disagree.
//!
//! The decision runs on the output of `normalize_path`, so it never sees dot
//! segments, empty segments or alternative percent-encodings. Hidden areas are
//! checked first and case-insensitively, because they must stay invisible to
//! every spelling an upstream might fold onto them; routes are matched
//! case-sensitively on segment boundaries, because upstream paths are
//! case-sensitive and `/api/jobs` must never cover `/api/jobsx`.

use http::Method;

use super::normalize::normalize_path;
use super::percent::decode_lenient;

/// What the decision needs to know about a route. The config's `Route` carries more (its
/// logins, body cap, upstream); the table holds the routes themselves and the decision
/// returns the one that applies.
pub trait RouteShape {
    /// Path the route covers: normalized, no trailing slash except `"/"`.
    fn path(&self) -> &str;
    /// True: only this exact path. False: this path and everything below it on segment
    /// boundaries.
    fn exact(&self) -> bool;
    /// Methods allowed; `None` means any method.
    fn methods(&self) -> Option<&[Method]>;
    /// `deny = true`: the path answers 404 like an unlisted one.
    fn deny(&self) -> bool;
}

/// A route with nothing but what the decision reads (tests, and the importer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    pub path: String,
    pub exact: bool,
    pub methods: Option<Vec<Method>>,
    pub deny: bool,
}

impl RouteShape for RouteRule {
    fn path(&self) -> &str {
        &self.path
    }
    fn exact(&self) -> bool {
        self.exact
    }
    fn methods(&self) -> Option<&[Method]> {
        self.methods.as_deref()
    }
    fn deny(&self) -> bool {
        self.deny
    }
}

/// The prefix of every path frontdoor answers itself (sign-in, callback, health, ...).
pub const RESERVED_PREFIX: &str = "/_frontdoor";

/// Whether a canonical path is one of frontdoor's own: never forwarded, never routed.
pub fn is_reserved(normalized_path: &str) -> bool {
    normalized_path
        .strip_prefix(RESERVED_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The UI areas that are hidden (404) unless switched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenArea {
    /// `/admin`.
    Dashboard,
    /// `/workspace`.
    Workspace,
    /// `/docs` and `/redoc`.
    Docs,
    /// `/openapi.json`.
    OpenApi,
}

/// Which hidden UI areas are switched on (all off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UiSwitches {
    /// Serve `/admin`.
    pub dashboard: bool,
    /// Serve `/workspace`.
    pub workspace: bool,
    /// Serve `/docs` and `/redoc`.
    pub docs: bool,
    /// Serve `/openapi.json`.
    pub openapi: bool,
}

impl UiSwitches {
    /// Whether the switch for `area` is on.
    fn is_on(self, area: HiddenArea) -> bool {
        match area {
            HiddenArea::Dashboard => self.dashboard,
            HiddenArea::Workspace => self.workspace,
            HiddenArea::Docs => self.docs,
            HiddenArea::OpenApi => self.openapi,
        }
    }
}

/// What the policy says about one request. `index` is the route's position in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'a, R> {
    /// `/_frontdoor` or below: answered by frontdoor itself, never forwarded.
    Reserved,
    /// A hidden UI path whose switch is off: 404, before any authentication.
    Hidden(HiddenArea),
    /// No route covers the path: 404.
    Unlisted,
    /// The covering route is a deny route: 404, like an unlisted path.
    Denied { index: usize, route: &'a R },
    /// A route covers the path but not this method: 405 with Allow.
    MethodNotAllowed {
        index: usize,
        route: &'a R,
        /// Methods for the Allow header, in config order, HEAD after GET.
        allow: Vec<Method>,
    },
    /// The route that lets the request on to authentication.
    Allowed { index: usize, route: &'a R },
}

/// One route prepared for matching.
#[derive(Debug, Clone)]
struct Entry<R> {
    route: R,
    /// Canonical rule path without trailing slash, or `None` when the
    /// configured path is not a valid path: such a rule matches nothing, so a
    /// broken rule can never cover more than intended.
    match_path: Option<String>,
    /// Number of segments in `match_path`; more segments win.
    depth: usize,
    exact: bool,
    /// Position in the configuration.
    index: usize,
    /// Allowed methods with HEAD added after GET; `None` means any.
    allow: Option<Vec<Method>>,
    /// For a deny route, `match_path` through [`fold_path`].
    folded_path: Option<String>,
}

/// Whether a deny route found by its folded path speaks for a request instead of the route
/// that matched it as written: by the table's own priority (more segments, then exact
/// before prefix), a deny route winning ties.
fn outranks<R>(deny: &Entry<R>, winner: &Entry<R>) -> bool {
    deny.depth > winner.depth || (deny.depth == winner.depth && (deny.exact || !winner.exact))
}

/// Whether a rule path covers `path`: equal for an exact rule, else on a segment boundary
/// (`/api/jobs` covers `/api/jobs/...`, never `/api/jobsx` or `/api/jobs.json`).
fn covers(rule: &str, exact: bool, path: &str) -> bool {
    if exact {
        return path == rule;
    }
    if rule == "/" {
        return true;
    }
    path.strip_prefix(rule)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A canonical path as the hidden check and deny routes compare it: escapes decoded, ASCII
/// lower-cased and the four non-ASCII letters whose case mapping is ASCII folded, because
/// upstream frameworks that route case-insensitively (Express, ASP.NET by default) would
/// send `/API/CONFIG` where `/api/config` is denied.
fn fold_path(path: &str) -> String {
    String::from_utf8_lossy(&decode_lenient(path.as_bytes()))
        .chars()
        .map(fold_char)
        .collect()
}

impl<R: RouteShape> Entry<R> {
    fn new(index: usize, route: R) -> Self {
        // Canonicalized with the same function as request paths so that the
        // comparison is like with like even if a rule slipped through
        // validation as `/%61pi` or `/api/`.
        let match_path = normalize_path(route.path()).ok().map(|p| {
            let trimmed = p.trim_end_matches('/');
            if trimmed.is_empty() {
                "/".to_string()
            } else {
                trimmed.to_string()
            }
        });
        let depth = match_path
            .as_deref()
            .map_or(0, |p| p.split('/').filter(|s| !s.is_empty()).count());
        let folded_path = if route.deny() {
            match_path.as_deref().map(fold_path)
        } else {
            None
        };
        Self {
            match_path,
            depth,
            exact: route.exact(),
            index,
            allow: route.methods().map(allow_list),
            folded_path,
            route,
        }
    }

    /// Whether this rule covers `path` (canonical, starting with '/').
    fn matches(&self, path: &str) -> bool {
        self.match_path
            .as_deref()
            .is_some_and(|rule| covers(rule, self.exact, path))
    }

    /// For a deny route: whether it covers `folded_path` (a path through [`fold_path`])
    /// whatever the case or spelling of its letters.
    fn matches_folded(&self, folded_path: &str) -> bool {
        self.folded_path
            .as_deref()
            .is_some_and(|rule| covers(rule, self.exact, folded_path))
    }
}

/// The Allow list for a rule: its methods in config order without
/// duplicates, with HEAD right after GET, because HEAD is accepted wherever
/// GET is (as nginx's `limit_except GET` does).
fn allow_list(methods: &[Method]) -> Vec<Method> {
    let mut out: Vec<Method> = Vec::with_capacity(methods.len() + 1);
    for method in methods {
        if !out.contains(method) {
            out.push(method.clone());
        }
        if *method == Method::GET && !out.contains(&Method::HEAD) {
            out.push(Method::HEAD);
        }
    }
    out
}

/// The validated routes and UI switches, ready to decide on requests. The table owns the
/// routes: the decision hands back the route itself, never an index to look up.
#[derive(Debug, Clone)]
pub struct RouteTable<R = RouteRule> {
    /// Sorted by priority: most segments first, then exact before prefix,
    /// then earlier config position, so the first match is the winner.
    entries: Vec<Entry<R>>,
    ui: UiSwitches,
    /// Whether any route denies: only then is a request path folded.
    has_deny: bool,
}

impl<R: RouteShape> RouteTable<R> {
    /// Builds the table from the routes in config order. Route paths are canonicalized with
    /// `normalize_path` and a trailing slash is ignored; a route whose path does not
    /// normalize matches nothing.
    #[must_use]
    pub fn new(routes: Vec<R>, ui: UiSwitches) -> Self {
        let mut entries: Vec<Entry<R>> = routes
            .into_iter()
            .enumerate()
            .map(|(index, route)| Entry::new(index, route))
            .collect();
        entries.sort_by(|a, b| {
            b.depth
                .cmp(&a.depth)
                .then(b.exact.cmp(&a.exact))
                .then(a.index.cmp(&b.index))
        });
        let has_deny = entries.iter().any(|e| e.folded_path.is_some());
        Self {
            entries,
            ui,
            has_deny,
        }
    }

    /// The UI switches the table was built with.
    pub fn ui(&self) -> UiSwitches {
        self.ui
    }

    /// How many routes there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The routes in config order.
    pub fn iter(&self) -> std::vec::IntoIter<&R> {
        let mut in_order: Vec<&Entry<R>> = self.entries.iter().collect();
        in_order.sort_by_key(|e| e.index);
        in_order
            .into_iter()
            .map(|e| &e.route)
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// The route at this config position.
    pub fn get(&self, index: usize) -> Option<&R> {
        self.entries
            .iter()
            .find(|e| e.index == index)
            .map(|e| &e.route)
    }

    /// Decide on an already-normalized path.
    ///
    /// Order: frontdoor's reserved paths, hidden UI areas (for every method), then the
    /// winning route, then the method check on that route only, then whether it denies.
    /// A path that does not start with '/' cannot have come from `normalize_path` and is
    /// `Unlisted`.
    #[must_use]
    pub fn decide(&self, method: &Method, normalized_path: &str) -> Decision<'_, R> {
        if is_reserved(normalized_path) {
            return Decision::Reserved;
        }
        if let Some(area) = hidden_area(normalized_path)
            && !self.ui.is_on(area)
        {
            return Decision::Hidden(area);
        }
        if !normalized_path.starts_with('/') {
            return Decision::Unlisted;
        }
        let winner = self.entries.iter().find(|e| e.matches(normalized_path));
        // A deny route also covers every other spelling of its path (case, escapes, Unicode
        // look-alikes), unless a longer route speaks for the path as written.
        if self.has_deny {
            let folded = fold_path(normalized_path);
            // `/api/config/` is `/api/config` to frameworks that ignore a trailing slash.
            let folded = match folded.strip_suffix('/') {
                Some(trimmed) if !trimmed.is_empty() => trimmed,
                _ => folded.as_str(),
            };
            if let Some(deny) = self.entries.iter().find(|e| e.matches_folded(folded))
                && winner.is_none_or(|w| outranks(deny, w))
            {
                return Decision::Denied {
                    index: deny.index,
                    route: &deny.route,
                };
            }
        }
        let Some(entry) = winner else {
            return Decision::Unlisted;
        };
        // No fallback to a shorter rule when the method is wrong: the most
        // specific rule speaks for the path, or a broad rule could widen it.
        let (index, route) = (entry.index, &entry.route);
        match &entry.allow {
            Some(allow) if !allow.contains(method) => Decision::MethodNotAllowed {
                index,
                route,
                allow: allow.clone(),
            },
            _ if route.deny() => Decision::Denied { index, route },
            _ => Decision::Allowed { index, route },
        }
    }
}

impl<'a, R: RouteShape> IntoIterator for &'a RouteTable<R> {
    type Item = &'a R;
    type IntoIter = std::vec::IntoIter<&'a R>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<R: RouteShape> std::ops::Index<usize> for RouteTable<R> {
    type Output = R;
    /// The route at a config position; panics when there is none (tests and tools only).
    #[allow(clippy::panic)]
    fn index(&self, index: usize) -> &R {
        match self.get(index) {
            Some(route) => route,
            None => panic!("no route at position {index}"),
        }
    }
}

/// The hidden UI area a canonical path belongs to, if any.
///
/// Only the first segment counts, compared case-insensitively and on a
/// segment boundary: `/ADMIN` and `/admin/x` are hidden, `/adminx` and
/// `/docs.html` are not. Escapes in the segment are decoded first and the
/// four non-ASCII letters whose Unicode case mapping lands on ASCII (KELVIN
/// SIGN, LONG S, dotless i, dotted capital I) are folded too, because upstream
/// frameworks that compare with Unicode case-insensitivity would route
/// `/wor\u{212A}space` to `/workspace`. Hiding too much here only yields a 404.
#[must_use]
pub fn hidden_area(normalized_path: &str) -> Option<HiddenArea> {
    let first = normalized_path.trim_start_matches('/').split('/').next()?;
    // The longest name, `openapi.json`, is 12 characters; each folds from at
    // most 3 UTF-8 bytes written as 9 escape characters. Anything longer
    // cannot match, so it is not decoded at all.
    if first.is_empty() || first.len() > 12 * 9 {
        return None;
    }
    let folded: String = String::from_utf8_lossy(&decode_lenient(first.as_bytes()))
        .chars()
        .map(fold_char)
        .collect();
    match folded.as_str() {
        "admin" => Some(HiddenArea::Dashboard),
        "workspace" => Some(HiddenArea::Workspace),
        "docs" | "redoc" => Some(HiddenArea::Docs),
        "openapi.json" => Some(HiddenArea::OpenApi),
        _ => None,
    }
}

/// Case fold for the hidden check: ASCII lowercase plus the non-ASCII
/// characters whose simple Unicode case mapping is an ASCII letter.
fn fold_char(c: char) -> char {
    match c {
        '\u{212A}' => 'k',
        '\u{017F}' => 's',
        '\u{0130}' | '\u{0131}' => 'i',
        c => c.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::normalize::PathError;
    use proptest::prelude::*;

    fn rule(path: &str, exact: bool, methods: Option<&[Method]>) -> RouteRule {
        RouteRule {
            path: path.to_string(),
            exact,
            methods: methods.map(<[Method]>::to_vec),
            deny: false,
        }
    }

    /// The decision with routes named by config position, for table tests.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Decision {
        Reserved,
        Hidden(HiddenArea),
        Unlisted,
        Denied { route: usize },
        MethodNotAllowed { route: usize, allow: Vec<Method> },
        Allowed { route: usize },
    }

    impl RouteTable<RouteRule> {
        fn decide_at(&self, method: &Method, path: &str) -> Decision {
            match self.decide(method, path) {
                super::Decision::Reserved => Decision::Reserved,
                super::Decision::Hidden(area) => Decision::Hidden(area),
                super::Decision::Unlisted => Decision::Unlisted,
                super::Decision::Denied { index, .. } => Decision::Denied { route: index },
                super::Decision::MethodNotAllowed { index, allow, .. } => {
                    Decision::MethodNotAllowed {
                        route: index,
                        allow,
                    }
                }
                super::Decision::Allowed { index, .. } => Decision::Allowed { route: index },
            }
        }
    }

    /// The sample configuration the decision table runs against.
    fn sample_rules() -> Vec<RouteRule> {
        use Method as M;
        vec![
            rule("/", false, None),
            rule("/api/jobs", false, Some(&[M::GET, M::POST])),
            rule("/api/workspace/file", true, Some(&[M::GET, M::PUT])),
            rule("/health", true, Some(&[M::GET])),
            rule("/api/workspace/file", false, Some(&[M::GET])),
            rule("/api", false, Some(&[M::GET])),
            rule("/api/jobs", false, None),
            rule("/admin", false, Some(&[M::GET])),
            rule("/dup", true, Some(&[M::GET])),
            rule("/dup", true, Some(&[M::POST])),
            rule("/docs", false, None),
        ]
    }

    fn table(ui: UiSwitches) -> RouteTable {
        RouteTable::new(sample_rules(), ui)
    }

    fn allowed(route: usize) -> Decision {
        Decision::Allowed { route }
    }

    fn not_allowed(route: usize, allow: &[Method]) -> Decision {
        Decision::MethodNotAllowed {
            route,
            allow: allow.to_vec(),
        }
    }

    /// (method, canonical path, expected decision, edge case pinned).
    type Case = (Method, &'static str, Decision, &'static str);

    fn cases_ui_off() -> Vec<Case> {
        use self::Decision::{Hidden, Unlisted};
        use HiddenArea::{Dashboard, Docs, OpenApi, Workspace};
        use Method as M;
        vec![
            (M::GET, "/admin", Hidden(Dashboard), "hidden dashboard"),
            (
                M::POST,
                "/admin/x",
                Hidden(Dashboard),
                "hidden below, any method",
            ),
            (
                M::GET,
                "/admin/",
                Hidden(Dashboard),
                "hidden with trailing slash",
            ),
            (M::GET, "/ADMIN", Hidden(Dashboard), "hidden, uppercase"),
            (
                M::DELETE,
                "/aDmIn/users",
                Hidden(Dashboard),
                "hidden, mixed case",
            ),
            (M::GET, "/Docs/x", Hidden(Docs), "docs, capitalized"),
            (M::GET, "/docs", Hidden(Docs), "docs"),
            (M::GET, "/redoc", Hidden(Docs), "redoc is docs"),
            (M::GET, "/REDOC/", Hidden(Docs), "redoc uppercase"),
            (M::GET, "/openapi.json", Hidden(OpenApi), "openapi"),
            (
                M::GET,
                "/OpenAPI.JSON",
                Hidden(OpenApi),
                "openapi, mixed case",
            ),
            (M::GET, "/workspace/", Hidden(Workspace), "workspace"),
            (
                M::OPTIONS,
                "/workspace",
                Hidden(Workspace),
                "workspace, OPTIONS",
            ),
            (
                M::GET,
                "/wor%E2%84%AAspace",
                Hidden(Workspace),
                "Kelvin sign folds to k",
            ),
            (
                M::GET,
                "/ADM%C4%B0N",
                Hidden(Dashboard),
                "dotted capital I folds to i",
            ),
            (
                M::GET,
                "/adm%C4%B1n",
                Hidden(Dashboard),
                "dotless i folds to i",
            ),
            (M::GET, "/doc%C5%BF", Hidden(Docs), "long s folds to s"),
            (
                M::GET,
                "/adminx",
                allowed(0),
                "hidden name needs a segment boundary",
            ),
            (M::GET, "/docs.html", allowed(0), "docs.html is not docs"),
            (
                M::GET,
                "/openapi.json.bak",
                allowed(0),
                "longer name is not openapi",
            ),
            (
                M::GET,
                "/openapi",
                allowed(0),
                "openapi without .json is not hidden",
            ),
            (
                M::GET,
                "/api/admin",
                allowed(5),
                "hidden names only in first segment",
            ),
            (M::GET, "/x/docs", allowed(0), "docs below another segment"),
            (M::GET, "/", allowed(0), "root covered by the / prefix rule"),
            (
                M::DELETE,
                "/anything/at/all",
                allowed(0),
                "/ rule allows any method",
            ),
            (
                M::GET,
                "/api/jobs",
                allowed(1),
                "prefix rule matches itself",
            ),
            (
                M::GET,
                "/api/jobs/",
                allowed(1),
                "prefix rule matches trailing slash",
            ),
            (
                M::POST,
                "/api/jobs/1",
                allowed(1),
                "prefix rule matches below",
            ),
            (
                M::HEAD,
                "/api/jobs/1",
                allowed(1),
                "HEAD accepted where GET is",
            ),
            (
                M::GET,
                "/api/jobsx",
                allowed(5),
                "no match across a segment boundary",
            ),
            (M::GET, "/api/jobs.json", allowed(5), "no match on a suffix"),
            (
                M::DELETE,
                "/api/jobs/1",
                not_allowed(1, &[M::GET, M::HEAD, M::POST]),
                "405 lists HEAD after GET",
            ),
            (
                M::PATCH,
                "/api/jobs",
                not_allowed(1, &[M::GET, M::HEAD, M::POST]),
                "earlier duplicate path wins over later any-method rule",
            ),
            (
                M::GET,
                "/api/other",
                allowed(5),
                "shorter prefix when longer misses",
            ),
            (
                M::POST,
                "/api/other",
                not_allowed(5, &[M::GET, M::HEAD]),
                "405 from the /api rule",
            ),
            (M::GET, "/api", allowed(5), "prefix rule on its own path"),
            (
                M::GET,
                "/api/workspace/file",
                allowed(2),
                "exact beats prefix on a tie",
            ),
            (
                M::PUT,
                "/api/workspace/file",
                allowed(2),
                "exact rule's own methods",
            ),
            (
                M::DELETE,
                "/api/workspace/file",
                not_allowed(2, &[M::GET, M::HEAD, M::PUT]),
                "405 from the exact rule",
            ),
            (
                M::GET,
                "/api/workspace/file/",
                allowed(4),
                "exact rule does not match a trailing slash",
            ),
            (
                M::GET,
                "/api/workspace/file/x",
                allowed(4),
                "below exact goes to prefix",
            ),
            (
                M::PUT,
                "/api/workspace/file/x",
                not_allowed(4, &[M::GET, M::HEAD]),
                "no fallback to a shorter rule on a wrong method",
            ),
            (
                M::GET,
                "/api/workspace",
                allowed(5),
                "parent of a deeper rule",
            ),
            (M::GET, "/health", allowed(3), "exact health"),
            (M::HEAD, "/health", allowed(3), "HEAD on a GET-only rule"),
            (
                M::POST,
                "/health",
                not_allowed(3, &[M::GET, M::HEAD]),
                "405 on exact health",
            ),
            (
                M::GET,
                "/health/",
                allowed(0),
                "exact miss falls to the / rule",
            ),
            (M::GET, "/healthz", allowed(0), "exact rule is not a prefix"),
            (
                M::GET,
                "/API/jobs",
                allowed(0),
                "route matching is case-sensitive",
            ),
            (
                M::GET,
                "/api/Jobs",
                allowed(5),
                "case-sensitive below a prefix",
            ),
            (M::GET, "/dup", allowed(8), "full tie: earlier index wins"),
            (
                M::POST,
                "/dup",
                not_allowed(8, &[M::GET, M::HEAD]),
                "full tie: later rule's methods are not consulted",
            ),
            (
                M::GET,
                "",
                Unlisted,
                "empty string cannot be a canonical path",
            ),
            (
                M::GET,
                "api/jobs",
                Unlisted,
                "no leading slash is never matched",
            ),
        ]
    }

    /// Pins the decision table with every UI switch off.
    #[test]
    fn decisions_with_ui_off() {
        let t = table(UiSwitches::default());
        for (method, path, want, why) in cases_ui_off() {
            assert_eq!(t.decide_at(&method, path), want, "{why}: {method} {path:?}");
        }
    }

    /// Pins that a switched-on area falls through to the routes (case-sensitively) while other areas stay hidden.
    #[test]
    fn decisions_with_ui_switches_on() {
        use Method as M;
        let dash = table(UiSwitches {
            dashboard: true,
            ..UiSwitches::default()
        });
        assert_eq!(dash.decide_at(&M::GET, "/admin"), allowed(7));
        assert_eq!(dash.decide_at(&M::HEAD, "/admin/x"), allowed(7));
        assert_eq!(
            dash.decide_at(&M::POST, "/admin"),
            not_allowed(7, &[M::GET, M::HEAD])
        );
        assert_eq!(dash.decide_at(&M::GET, "/ADMIN"), allowed(0));
        assert_eq!(
            dash.decide_at(&M::GET, "/docs"),
            Decision::Hidden(HiddenArea::Docs)
        );

        let docs = table(UiSwitches {
            docs: true,
            ..UiSwitches::default()
        });
        assert_eq!(docs.decide_at(&M::GET, "/docs/x"), allowed(10));
        assert_eq!(docs.decide_at(&M::GET, "/redoc"), allowed(0));
        assert_eq!(
            docs.decide_at(&M::GET, "/openapi.json"),
            Decision::Hidden(HiddenArea::OpenApi)
        );
        assert_eq!(
            docs.decide_at(&M::GET, "/workspace"),
            Decision::Hidden(HiddenArea::Workspace)
        );

        let all = table(UiSwitches {
            dashboard: true,
            workspace: true,
            docs: true,
            openapi: true,
        });
        assert_eq!(all.decide_at(&M::GET, "/openapi.json"), allowed(0));
        assert_eq!(all.decide_at(&M::GET, "/workspace/x"), allowed(0));
    }

    /// Pins Unlisted: without a "/" rule, uncovered paths (and a switched-on area with no route) are 404.
    #[test]
    fn unlisted_without_root_rule() {
        use Method as M;
        let rules = vec![rule("/api", false, None)];
        let off = RouteTable::new(rules.clone(), UiSwitches::default());
        assert_eq!(off.decide_at(&M::GET, "/"), Decision::Unlisted);
        assert_eq!(off.decide_at(&M::GET, "/apix"), Decision::Unlisted);
        assert_eq!(off.decide_at(&M::GET, "/api/x"), allowed(0));
        assert_eq!(
            off.decide_at(&M::GET, "/admin"),
            Decision::Hidden(HiddenArea::Dashboard)
        );
        let on = RouteTable::new(
            rules,
            UiSwitches {
                dashboard: true,
                ..UiSwitches::default()
            },
        );
        assert_eq!(on.decide_at(&M::GET, "/admin"), Decision::Unlisted);
        let empty = RouteTable::new(Vec::new(), UiSwitches::default());
        assert_eq!(empty.decide_at(&M::GET, "/"), Decision::Unlisted);
    }

    /// Pins that the longest rule wins regardless of config order, and that the earlier
    /// config position breaks full ties.
    #[test]
    fn priority_ignores_vec_order() {
        use Method as M;
        let rules = vec![
            rule("/a", false, None),
            rule("/a/b", false, Some(&[M::GET])),
            rule("/", false, None),
            rule("/a/b/c", false, None),
            rule("/a/b/c", true, None),
            rule("/a/b/c/d", false, Some(&[M::PUT])),
            rule("/a/b/c/d", false, None),
        ];
        let t = RouteTable::new(rules, UiSwitches::default());
        assert_eq!(t.decide_at(&M::GET, "/a/b/x"), allowed(1));
        assert_eq!(t.decide_at(&M::GET, "/a/x"), allowed(0));
        assert_eq!(t.decide_at(&M::GET, "/b"), allowed(2));
        assert_eq!(t.decide_at(&M::GET, "/a/b/c"), allowed(4));
        assert_eq!(t.decide_at(&M::GET, "/a/b/c/"), allowed(3));
        assert_eq!(t.decide_at(&M::GET, "/a/b/c/d"), not_allowed(5, &[M::PUT]));
    }

    /// Pins the two decisions the table adds on top of matching: frontdoor's reserved
    /// paths come before everything, and a deny route answers like an unlisted path after
    /// its method check.
    #[test]
    fn reserved_and_denied() {
        use Method as M;
        let mut deny = rule("/api/config", false, None);
        deny.deny = true;
        let t = RouteTable::new(vec![rule("/", false, None), deny], UiSwitches::default());
        assert_eq!(t.decide_at(&M::GET, "/_frontdoor"), Decision::Reserved);
        assert_eq!(
            t.decide_at(&M::POST, "/_frontdoor/login"),
            Decision::Reserved
        );
        assert_eq!(t.decide_at(&M::GET, "/_frontdoorx"), allowed(0));
        assert_eq!(
            t.decide_at(&M::GET, "/api/config/x"),
            Decision::Denied { route: 1 }
        );
        assert_eq!(t.decide_at(&M::GET, "/api/configx"), allowed(0));
        assert_eq!(
            t.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
            ["/", "/api/config"]
        );
        assert_eq!(t.get(1).map(|r| r.deny), Some(true));
    }

    /// Deny routes match every spelling of their path (case, escapes, the Unicode letters
    /// whose case mapping is ASCII), and keep the table's priority: a longer route, or an
    /// exact route of the same length, still speaks for the path as written.
    #[test]
    fn deny_routes_ignore_case() {
        use Method as M;
        let deny = |path: &str| RouteRule {
            deny: true,
            ..rule(path, false, None)
        };
        let t = RouteTable::new(
            vec![
                rule("/", false, None),
                deny("/api/config"),
                deny("/secrets"),
                rule("/secrets/public", false, None),
                rule("/x", true, None),
                deny("/x"),
            ],
            UiSwitches::default(),
        );
        for path in [
            "/API/CONFIG",
            "/Api/Config/x",
            "/api/%43onfig",
            "/%C5%BFecrets",
        ] {
            assert!(
                matches!(t.decide_at(&M::GET, path), Decision::Denied { .. }),
                "{path}"
            );
        }
        assert_eq!(t.decide_at(&M::GET, "/secrets/public/a"), allowed(3));
        assert_eq!(
            t.decide_at(&M::GET, "/SECRETS/PUBLIC"),
            Decision::Denied { route: 2 }
        );
        assert_eq!(t.decide_at(&M::GET, "/x"), allowed(4));
        assert_eq!(t.decide_at(&M::GET, "/X"), Decision::Denied { route: 5 });
        assert_eq!(t.decide_at(&M::GET, "/x/y"), Decision::Denied { route: 5 });
        assert_eq!(
            t.decide_at(&M::GET, "/api/config/"),
            Decision::Denied { route: 1 },
            "a trailing slash is another spelling"
        );
        assert_eq!(t.decide_at(&M::GET, "/api/configx"), allowed(0));
    }

    /// Pins rule-path canonicalization: a trailing slash or an encoded letter in a rule still matches, and a rule path that cannot be a path matches nothing.
    #[test]
    fn rule_paths_are_canonicalized() {
        use Method as M;
        let rules = vec![
            rule("/api/", false, Some(&[M::GET])),
            rule("/%6Aobs", true, None),
            rule("relative", false, None),
            rule("", false, None),
            rule("/x;y", false, None),
            rule("/..", false, None),
        ];
        let t = RouteTable::new(rules, UiSwitches::default());
        assert_eq!(t.decide_at(&M::GET, "/api"), allowed(0));
        assert_eq!(t.decide_at(&M::GET, "/api/x"), allowed(0));
        assert_eq!(t.decide_at(&M::GET, "/jobs"), allowed(1));
        assert_eq!(t.decide_at(&M::GET, "/"), Decision::Unlisted);
        assert_eq!(t.decide_at(&M::GET, "/relative"), Decision::Unlisted);
        assert_eq!(t.decide_at(&M::GET, "/x"), Decision::Unlisted);
    }

    /// Pins the Allow list: config order, duplicates removed, HEAD once, HEAD not added without GET, empty list refuses everything.
    #[test]
    fn allow_list_shapes() {
        use Method as M;
        assert_eq!(
            allow_list(&[M::POST, M::GET, M::GET]),
            vec![M::POST, M::GET, M::HEAD]
        );
        assert_eq!(allow_list(&[M::HEAD, M::GET]), vec![M::HEAD, M::GET]);
        assert_eq!(allow_list(&[M::GET, M::HEAD]), vec![M::GET, M::HEAD]);
        assert_eq!(allow_list(&[M::POST]), vec![M::POST]);
        let t = RouteTable::new(vec![rule("/", false, Some(&[]))], UiSwitches::default());
        assert_eq!(t.decide_at(&M::GET, "/"), not_allowed(0, &[]));
        let head_only = RouteTable::new(
            vec![rule("/", false, Some(&[M::HEAD]))],
            UiSwitches::default(),
        );
        assert_eq!(head_only.decide_at(&M::HEAD, "/"), allowed(0));
        assert_eq!(
            head_only.decide_at(&M::GET, "/"),
            not_allowed(0, &[M::HEAD])
        );
    }

    /// Pins that extension methods are compared exactly like standard ones.
    #[test]
    fn extension_methods() -> Result<(), http::method::InvalidMethod> {
        let purge = Method::from_bytes(b"PURGE")?;
        let t = RouteTable::new(
            vec![rule("/", false, Some(std::slice::from_ref(&purge)))],
            UiSwitches::default(),
        );
        assert_eq!(t.decide_at(&purge, "/x"), allowed(0));
        assert_eq!(
            t.decide_at(&Method::GET, "/x"),
            not_allowed(0, std::slice::from_ref(&purge))
        );
        Ok(())
    }

    /// Pins `hidden_area` on its own: boundaries, leading slashes, escapes, and over-long segments.
    #[test]
    fn hidden_area_direct() {
        assert_eq!(hidden_area("/admin"), Some(HiddenArea::Dashboard));
        assert_eq!(hidden_area("//admin"), Some(HiddenArea::Dashboard));
        assert_eq!(hidden_area("/%61dmin"), Some(HiddenArea::Dashboard));
        assert_eq!(hidden_area("/%41DMIN/x"), Some(HiddenArea::Dashboard));
        assert_eq!(hidden_area("/openapi%2Ejson"), Some(HiddenArea::OpenApi));
        assert_eq!(hidden_area("/"), None);
        assert_eq!(hidden_area(""), None);
        assert_eq!(hidden_area("/%"), None);
        assert_eq!(hidden_area("/admin%"), None);
        assert_eq!(hidden_area("/admi"), None);
        assert_eq!(hidden_area("/admin%20"), None);
        assert_eq!(hidden_area(&format!("/{}", "a".repeat(10_000))), None);
    }

    /// Pins the end-to-end order on raw inputs: normalize first, then decide, so encoded and dotted spellings of hidden areas are hidden.
    #[test]
    fn normalize_then_decide() -> Result<(), PathError> {
        use Method as M;
        let t = table(UiSwitches::default());
        for raw in [
            "/%61dmin",
            "//admin",
            "/x/../admin",
            "/%2e/ADMIN/",
            "/api/x/%2e%2e/%2e%2e/admin",
        ] {
            let path = normalize_path(raw)?;
            assert_eq!(
                t.decide_at(&M::GET, &path),
                Decision::Hidden(HiddenArea::Dashboard),
                "{raw:?}"
            );
        }
        Ok(())
    }

    /// Segments for the encoding-invariance property: hidden names in several
    /// cases, route names, dot segments and random names.
    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "admin",
                "Admin",
                "ADMIN",
                "docs",
                "Docs",
                "redoc",
                "workspace",
                "openapi.json",
                "api",
                "jobs",
                "workspace",
                "file",
                "health",
                "dup",
                ".",
                "..",
                "adminx",
            ])
            .prop_map(String::from),
            "[A-Za-z0-9._-]{1,8}",
        ]
    }

    /// A plain path plus, for each byte, whether to percent-encode it and in which hex case.
    fn plain_and_mask() -> impl Strategy<Value = (String, Vec<(bool, bool)>)> {
        (prop::collection::vec(segment(), 0..5), any::<bool>())
            .prop_map(|(segs, trailing)| {
                let mut path = format!("/{}", segs.join("/"));
                if trailing && !segs.is_empty() {
                    path.push('/');
                }
                path
            })
            .prop_flat_map(|path| {
                let n = path.len();
                (
                    Just(path),
                    prop::collection::vec((any::<bool>(), any::<bool>()), n),
                )
            })
    }

    /// Percent-encodes the chosen bytes (never '/', which would change the path).
    fn encode_some(plain: &str, mask: &[(bool, bool)]) -> String {
        let mut out = String::new();
        for (b, &(encode, lower)) in plain.bytes().zip(mask) {
            if encode && b != b'/' {
                let hex = if lower {
                    format!("%{b:02x}")
                } else {
                    format!("%{b:02X}")
                };
                out.push_str(&hex);
            } else {
                out.push(char::from(b));
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Pins that the decision never depends on how a path was percent-encoded: any subset of bytes encoded, in either hex case, normalizes and decides the same as the plain path.
        #[test]
        fn decision_ignores_percent_encoding((plain, mask) in plain_and_mask()) {
            let variant = encode_some(&plain, &mask);
            let n_plain = normalize_path(&plain);
            let n_variant = normalize_path(&variant);
            prop_assert_eq!(&n_variant, &n_plain, "variant {:?}", variant);
            if let (Ok(p), Ok(v)) = (n_plain, n_variant) {
                let tables = [
                    table(UiSwitches::default()),
                    table(UiSwitches { dashboard: true, workspace: true, docs: true, openapi: true }),
                ];
                for t in &tables {
                    for m in [Method::GET, Method::HEAD, Method::POST, Method::DELETE] {
                        prop_assert_eq!(t.decide_at(&m, &v), t.decide_at(&m, &p));
                    }
                }
                prop_assert_eq!(hidden_area(&v), hidden_area(&p));
            }
        }

        /// Pins that `decide` and `hidden_area` never panic on arbitrary strings, canonical or not.
        #[test]
        fn decide_never_panics(path in ".{0,48}", slash in any::<bool>()) {
            let path = if slash { format!("/{path}") } else { path };
            let t = table(UiSwitches::default());
            let _ = t.decide_at(&Method::GET, &path);
            let _ = hidden_area(&path);
        }

        /// Pins that HEAD is decided exactly like GET on every canonical path from the sample table.
        #[test]
        fn head_follows_get((plain, _mask) in plain_and_mask()) {
            if let Ok(p) = normalize_path(&plain) {
                let t = table(UiSwitches::default());
                let get = t.decide_at(&Method::GET, &p);
                let head = t.decide_at(&Method::HEAD, &p);
                match get {
                    Decision::MethodNotAllowed { .. } => {
                        let head_refused = matches!(head, Decision::MethodNotAllowed { .. });
                        prop_assert!(head_refused, "HEAD allowed where GET is refused");
                    }
                    other => prop_assert_eq!(head, other),
                }
            }
        }
    }
}
