//! The header rules of a forwarded request, in one place: which headers never cross
//! (hop-by-hop, frontdoor's own, client-sent instructions and identities), the ones
//! frontdoor sets (X-Forwarded-*, identity), and the client's address behind trusted
//! proxies.
//!
//! | list | removed | why |
//! | --- | --- | --- |
//! | [`HOP_BY_HOP`], and names in `Connection` | always | they describe one connection |
//! | [`FRONTDOOR_OWNED`] | always, then set by frontdoor | identity and origin frontdoor vouches for |
//! | [`CLIENT_FORBIDDEN`] | always | path and method overrides, other proxies' user header |
//! | [`FROM_PROXIES_ONLY`] | unless the peer is in `server.trusted_proxies` | other auth proxies' identity headers and scheme or client-address claims that apps read |
//! | names with `_` | always | CGI/WSGI read them as `-` |
//! | `Authorization: Basic` | unless the route sets `forward_authorization` | a browser resends the password on every URL below the one it signed in on |

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::ForwardContext;
use crate::config::Cidr;

/// Headers that describe one connection, not the message: never forwarded either way
/// (RFC 9110 7.6.1), plus any named in the `Connection` header.
// The documented list; `rule_for` is its fast form, held to it by a unit test.
#[cfg_attr(not(test), allow(dead_code))]
static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Headers only frontdoor may set: any client-sent copy is removed before forwarding, so an
/// upstream that trusts them cannot be told a false identity or origin.
// The documented list; `rule_for` is its fast form, held to it by a unit test.
#[cfg_attr(not(test), allow(dead_code))]
static FRONTDOOR_OWNED: [HeaderName; 9] = [
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-forwarded-user"),
    HeaderName::from_static("x-forwarded-email"),
    HeaderName::from_static("x-forwarded-groups"),
    HeaderName::from_static("x-real-ip"),
    HeaderName::from_static("forwarded"),
];

/// Headers some upstream frameworks treat as instructions (path or method overrides, the
/// caller's identity from another proxy): never forwarded from a client.
// The documented list; `rule_for` is its fast form, held to it by a unit test.
#[cfg_attr(not(test), allow(dead_code))]
static CLIENT_FORBIDDEN: [HeaderName; 12] = [
    HeaderName::from_static("x-original-url"),
    HeaderName::from_static("x-rewrite-url"),
    HeaderName::from_static("x-forwarded-uri"),
    HeaderName::from_static("x-forwarded-prefix"),
    HeaderName::from_static("x-forwarded-server"),
    HeaderName::from_static("x-http-method-override"),
    HeaderName::from_static("x-http-method"),
    HeaderName::from_static("x-method-override"),
    HeaderName::from_static("remote-user"),
    HeaderName::from_static("x-remote-user"),
    HeaderName::from_static("x-auth-request-user"),
    // frontdoor already answered (or refused) any 100-continue itself.
    header::EXPECT,
];

/// Headers that other authentication proxies (oauth2-proxy, Authelia, Pomerium, CDNs) set
/// for the application behind them, and scheme or client-address claims that frameworks
/// read (Rack reads `X-Forwarded-Scheme` before `X-Forwarded-Proto`): believed only from a
/// trusted proxy, removed from everyone else.
// The documented list; `rule_for` is its fast form, held to it by a unit test.
#[cfg_attr(not(test), allow(dead_code))]
static FROM_PROXIES_ONLY: [HeaderName; 29] = [
    HeaderName::from_static("remote-email"),
    HeaderName::from_static("remote-groups"),
    HeaderName::from_static("remote-name"),
    HeaderName::from_static("x-auth-request-email"),
    HeaderName::from_static("x-auth-request-groups"),
    HeaderName::from_static("x-auth-request-preferred-username"),
    HeaderName::from_static("x-forwarded-preferred-username"),
    HeaderName::from_static("x-forwarded-access-token"),
    HeaderName::from_static("x-webauth-user"),
    HeaderName::from_static("x-user"),
    HeaderName::from_static("x-auth-user"),
    HeaderName::from_static("x-forwarded-scheme"),
    HeaderName::from_static("x-scheme"),
    HeaderName::from_static("x-forwarded-ssl"),
    HeaderName::from_static("x-original-uri"),
    HeaderName::from_static("x-forwarded-path"),
    HeaderName::from_static("x-client-ip"),
    HeaderName::from_static("true-client-ip"),
    HeaderName::from_static("cf-connecting-ip"),
    HeaderName::from_static("x-auth-request-access-token"),
    HeaderName::from_static("x-forwarded-protocol"),
    HeaderName::from_static("front-end-https"),
    HeaderName::from_static("x-cluster-client-ip"),
    HeaderName::from_static("fastly-client-ip"),
    HeaderName::from_static("cf-access-authenticated-user-email"),
    HeaderName::from_static("x-goog-authenticated-user-email"),
    HeaderName::from_static("x-ms-client-principal-name"),
    HeaderName::from_static("x-amzn-oidc-identity"),
    HeaderName::from_static("x-pomerium-jwt-assertion"),
];

/// Which list a header name is on: the lists above, as one `match` (a length switch and a
/// compare, where `contains` on the lists was 48 comparisons per header). A unit test holds
/// it to the lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    HopByHop,
    FrontdoorOwned,
    ClientForbidden,
    FromProxiesOnly,
    Keep,
}

fn rule_for(name: &HeaderName) -> Rule {
    let text = name.as_str();
    // First by the first byte, so the common headers (host, accept, user-agent, cookie,
    // authorization, content-*) leave after one or two comparisons.
    match text.as_bytes().first() {
        Some(b'x') => match text {
            "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-host" | "x-forwarded-port"
            | "x-forwarded-user" | "x-forwarded-email" | "x-forwarded-groups" | "x-real-ip" => {
                Rule::FrontdoorOwned
            }
            "x-original-url"
            | "x-rewrite-url"
            | "x-forwarded-uri"
            | "x-forwarded-prefix"
            | "x-forwarded-server"
            | "x-http-method-override"
            | "x-http-method"
            | "x-method-override"
            | "x-remote-user"
            | "x-auth-request-user" => Rule::ClientForbidden,
            "x-auth-request-email"
            | "x-auth-request-groups"
            | "x-auth-request-preferred-username"
            | "x-forwarded-preferred-username"
            | "x-forwarded-access-token"
            | "x-webauth-user"
            | "x-user"
            | "x-auth-user"
            | "x-forwarded-scheme"
            | "x-scheme"
            | "x-forwarded-ssl"
            | "x-original-uri"
            | "x-forwarded-path"
            | "x-client-ip"
            | "x-auth-request-access-token"
            | "x-forwarded-protocol"
            | "x-cluster-client-ip"
            | "x-goog-authenticated-user-email"
            | "x-ms-client-principal-name"
            | "x-amzn-oidc-identity"
            | "x-pomerium-jwt-assertion" => Rule::FromProxiesOnly,
            _ => Rule::Keep,
        },
        Some(b'c') => match text {
            "connection" => Rule::HopByHop,
            "cf-connecting-ip" | "cf-access-authenticated-user-email" => Rule::FromProxiesOnly,
            _ => Rule::Keep,
        },
        Some(b'k') if text == "keep-alive" => Rule::HopByHop,
        Some(b'p') => match text {
            "proxy-connection" | "proxy-authenticate" | "proxy-authorization" => Rule::HopByHop,
            _ => Rule::Keep,
        },
        Some(b't') => match text {
            "te" | "trailer" | "transfer-encoding" => Rule::HopByHop,
            "true-client-ip" => Rule::FromProxiesOnly,
            _ => Rule::Keep,
        },
        Some(b'u') if text == "upgrade" => Rule::HopByHop,
        Some(b'f') => match text {
            "forwarded" => Rule::FrontdoorOwned,
            "front-end-https" | "fastly-client-ip" => Rule::FromProxiesOnly,
            _ => Rule::Keep,
        },
        Some(b'e') if text == "expect" => Rule::ClientForbidden,
        Some(b'r') => match text {
            "remote-user" => Rule::ClientForbidden,
            "remote-email" | "remote-groups" | "remote-name" => Rule::FromProxiesOnly,
            _ => Rule::Keep,
        },
        _ => Rule::Keep,
    }
}

/// `Bearer fdk_...`: one of frontdoor's API keys (never the application's).
fn is_api_key_bearer(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    bytes.len() > 7
        && bytes[..7].eq_ignore_ascii_case(b"bearer ")
        && bytes[7..]
            .trim_ascii_start()
            .starts_with(crate::auth::api_keys::format::PREFIX.as_bytes())
}

/// Whether an `Authorization` value is Basic credentials (a password).
fn is_basic(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes().trim_ascii_start();
    bytes
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"basic"))
        && bytes.get(5).is_none_or(|b| b.is_ascii_whitespace())
}

pub(crate) fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The address of the client: the TCP peer, or, when the peer is a trusted proxy, the
/// right-most address in X-Forwarded-For that is not itself a trusted proxy.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[Cidr]) -> IpAddr {
    let trusted = |ip: IpAddr| trusted_proxies.iter().any(|c| c.contains(ip));
    if !trusted(peer) {
        return peer.to_canonical();
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer.to_canonical();
        };
        for item in text.split(',') {
            match item.trim().parse::<IpAddr>() {
                Ok(ip) => chain.push(ip),
                // A malformed hop: trust nothing to its left.
                Err(_) => chain.clear(),
            }
        }
    }
    chain
        .into_iter()
        .rev()
        .find(|ip| !trusted(*ip))
        .unwrap_or(peer)
        .to_canonical()
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    strip(headers, |_, _| false);
}

/// Removes hop-by-hop headers, those the `Connection` header names, and those `also`
/// matches: one lookup per `Connection` token, then one pass over the names present (a
/// request carries a handful of headers; the lists hold thirty names, each a hash lookup
/// if removed one by one). Linear in the size of the headers.
fn strip(headers: &mut HeaderMap, also: impl Fn(Rule, &HeaderName) -> bool) {
    if headers.contains_key(header::CONNECTION) {
        let values: Vec<HeaderValue> = headers
            .get_all(header::CONNECTION)
            .iter()
            .cloned()
            .collect();
        for text in values.iter().filter_map(|v| v.to_str().ok()) {
            for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                // A &str name is looked up case-insensitively; an invalid one matches nothing.
                headers.remove(token);
            }
        }
    }
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let rule = rule_for(name);
            rule == Rule::HopByHop || also(rule, name)
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// Applies every request-header rule: hop-by-hop out, frontdoor-owned headers replaced,
/// Host pinned to the validated one, identity added, consumed credentials removed.
pub fn rewrite_request_headers(headers: &mut HeaderMap, ctx: &ForwardContext<'_>) {
    let from_trusted_proxy = ctx.trusted_proxies.iter().any(|c| c.contains(ctx.peer));
    let prior_forwarded_for = if from_trusted_proxy {
        let values: Vec<String> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    } else {
        None
    };
    // Names with '_' are read as '-' by CGI/WSGI stacks (X_Forwarded_User becomes
    // HTTP_X_FORWARDED_USER): drop them all, as nginx does by default.
    strip(headers, |rule, name| match rule {
        Rule::HopByHop | Rule::FrontdoorOwned | Rule::ClientForbidden => true,
        Rule::FromProxiesOnly => !from_trusted_proxy,
        Rule::Keep => name.as_str().contains('_'),
    });
    // One Content-Length in its plain form (HTTP/2 may repeat it, HTTP/1.1 may pad it with
    // zeros; hyper checked that every copy agrees).
    if let Some(length) = crate::limits::declared_length(headers) {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    // A password never reaches the application unless the route says so: not the one
    // frontdoor checked, and not one a browser resends to a public route. An API key sent
    // as X-API-Key leaves Authorization to the application (its own token, say), unless
    // that is a Basic password.
    let by_key = ctx
        .identity
        .is_some_and(|i| i.method == crate::config::AuthMethod::ApiKey);
    let key_in_own_header = by_key && headers.get_all(crate::auth::X_API_KEY).iter().count() == 1;
    if !ctx.forward_authorization
        && ((ctx.identity.is_some() && !key_in_own_header)
            || headers
                .get_all(header::AUTHORIZATION)
                .iter()
                .any(|v| is_basic(v) || is_api_key_bearer(v)))
    {
        headers.remove(header::AUTHORIZATION);
    }
    // Nor does an API key frontdoor checked.
    if !ctx.forward_authorization && by_key {
        headers.remove(crate::auth::X_API_KEY);
    }
    // HTTP/2 may split cookies over several fields; HTTP/1.1 upstreams expect one
    // (RFC 9113 section 8.2.3).
    let cookies: Vec<Vec<u8>> = headers
        .get_all(header::COOKIE)
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
    // frontdoor's own cookies (the sealed session, login state) are not the upstream's.
    let own = crate::auth::oidc::session::OWN_COOKIE_PREFIX.as_bytes();
    let kept: Vec<&[u8]> = cookies
        .iter()
        .flat_map(|c| c.split(|b| *b == b';'))
        .map(|pair| pair.trim_ascii())
        .filter(|pair| !pair.is_empty() && !pair.starts_with(own))
        .collect();
    let dropped_own = cookies
        .iter()
        .any(|c| c.windows(own.len()).any(|w| w == own));
    if cookies.len() > 1 || dropped_own {
        headers.remove(header::COOKIE);
        if !kept.is_empty()
            && let Ok(joined) = HeaderValue::from_bytes(&kept.join(&b"; "[..]))
        {
            headers.insert(header::COOKIE, joined);
        }
    }
    match prior_forwarded_for {
        Some(prior) => {
            let peer = ctx.peer.to_canonical();
            insert(
                headers,
                X_FORWARDED_FOR.clone(),
                &format!("{prior}, {peer}"),
            );
        }
        None => {
            headers.insert(X_FORWARDED_FOR.clone(), ctx.peer_header.clone());
        }
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("https"));
    if let Ok(host) = HeaderValue::from_str(ctx.host) {
        headers.insert(X_FORWARDED_HOST.clone(), host.clone());
        headers.insert(header::HOST, host);
    }
    if let Some(identity) = ctx.identity {
        insert(
            headers,
            X_FORWARDED_USER.clone(),
            &header_safe(&identity.user, false),
        );
        if let Some(email) = &identity.email {
            insert(
                headers,
                X_FORWARDED_EMAIL.clone(),
                &header_safe(email, false),
            );
        }
        if !identity.groups.is_empty() {
            // Comma-separated; a comma or % inside a group name is percent-encoded, so
            // `x,admins` stays one group.
            let groups: Vec<String> = identity
                .groups
                .iter()
                .map(|g| header_safe(g, true))
                .collect();
            insert(headers, X_FORWARDED_GROUPS.clone(), &groups.join(","));
        }
    }
}

/// An identity value as a header can carry it: control characters and non-ASCII bytes are
/// percent-encoded (and with `list_item`, `,` and `%` too), so no value is ever dropped.
fn header_safe(value: &str, list_item: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        let encode = !(0x20..0x7f).contains(&b) || (list_item && (b == b',' || b == b'%'));
        if encode {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// The client's address as `X-Forwarded-For` carries it (IPv4-mapped IPv6 as IPv4).
pub fn peer_header(peer: IpAddr) -> HeaderValue {
    HeaderValue::from_str(&peer.to_canonical().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_USER: HeaderName = HeaderName::from_static("x-forwarded-user");
static X_FORWARDED_EMAIL: HeaderName = HeaderName::from_static("x-forwarded-email");
static X_FORWARDED_GROUPS: HeaderName = HeaderName::from_static("x-forwarded-groups");

fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Identity;
    use crate::config::AuthMethod;

    fn ctx<'a>(
        peer: &str,
        trusted: &'a [Cidr],
        identity: Option<&'a Identity>,
    ) -> ForwardContext<'a> {
        ForwardContext {
            peer: peer.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            peer_header: peer_header(peer.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))),
            trusted_proxies: trusted,
            host: "agent.example.com",
            path_and_query: "/",
            identity,
            forward_authorization: false,
            body_end: crate::limits::BodyEnd::already_ended(),
        }
    }

    fn spoofed() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-user", "admin"),
            ("X-Forwarded-Email", "root@example.com"),
            ("x-forwarded-groups", "admins"),
            ("x-real-ip", "6.6.6.6"),
            ("forwarded", "for=6.6.6.6"),
            ("x-forwarded-host", "evil.com"),
            ("x-forwarded-proto", "http"),
            ("host", "evil.com"),
            ("connection", "close, x-secret"),
            ("x-secret", "hop"),
            ("te", "trailers"),
            ("authorization", "Basic YTpi"),
            ("x_forwarded_user", "admin"),
            ("x-original-url", "/admin"),
            ("x-http-method-override", "DELETE"),
            ("expect", "100-continue"),
        ] {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap_or(header::VIA),
                HeaderValue::from_static(v),
            );
        }
        h
    }

    /// Identity values are never dropped: control and non-ASCII bytes are encoded, and a
    /// comma inside a group name cannot split it into two groups.
    #[test]
    fn identity_values_are_header_safe() {
        let mut h = HeaderMap::new();
        let id = Identity {
            user: "ren\u{e9}\n".into(),
            method: AuthMethod::Oidc,
            email: Some("a@b.test".into()),
            groups: vec!["x,admins".into(), "CN=a,OU=b".into(), "50%".into()],
        };
        rewrite_request_headers(&mut h, &ctx("192.0.2.7", &[], Some(&id)));
        assert_eq!(
            h.get("x-forwarded-user").map(|v| v.as_bytes()),
            Some(&b"ren%C3%A9%0A"[..])
        );
        assert_eq!(
            h.get("x-forwarded-groups").map(|v| v.as_bytes()),
            Some(&b"x%2Cadmins,CN=a%2COU=b,50%25"[..])
        );
        assert_eq!(
            h.get("x-forwarded-email").map(|v| v.as_bytes()),
            Some(&b"a@b.test"[..])
        );
    }

    /// Names listed in `Connection` go whatever their case, however many `Connection`
    /// fields list them and however many values they have; the rest stays.
    #[test]
    fn connection_named_headers_are_removed() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, X-Secret"),
            ("connection", " ,x-other ,, UPGRADE"),
            ("x-secret", "one"),
            ("x-secret", "two"),
            ("x-other", "three"),
            ("upgrade", "websocket"),
            ("keep-alive", "timeout=5"),
            ("x-kept", "yes"),
            ("accept", "*/*"),
        ] {
            h.append(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("x")),
            );
        }
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["accept", "x-kept"]);
    }

    /// Every spoofable header is replaced; hop-by-hop ones (also Connection-named) are gone.
    #[test]
    fn spoofed_headers_are_replaced() {
        let mut h = spoofed();
        let id = Identity {
            user: "alice".into(),
            method: AuthMethod::Basic,
            email: None,
            groups: Vec::new(),
        };
        rewrite_request_headers(&mut h, &ctx("192.0.2.7", &[], Some(&id)));
        assert_eq!(
            h.get("x-forwarded-for").map(|v| v.as_bytes()),
            Some(&b"192.0.2.7"[..])
        );
        assert_eq!(
            h.get("x-forwarded-user").map(|v| v.as_bytes()),
            Some(&b"alice"[..])
        );
        assert_eq!(
            h.get("x-forwarded-host").map(|v| v.as_bytes()),
            Some(&b"agent.example.com"[..])
        );
        assert_eq!(
            h.get("host").map(|v| v.as_bytes()),
            Some(&b"agent.example.com"[..])
        );
        assert_eq!(
            h.get("x-forwarded-proto").map(|v| v.as_bytes()),
            Some(&b"https"[..])
        );
        for gone in [
            "x-forwarded-email",
            "x-forwarded-groups",
            "x-real-ip",
            "forwarded",
            "connection",
            "x-secret",
            "te",
            "authorization",
        ] {
            assert!(!h.contains_key(gone), "{gone} survived");
        }
    }

    /// Behind trusted proxies the client is the right-most untrusted X-Forwarded-For hop; a
    /// malformed hop stops the walk; an untrusted peer is always the client.
    #[test]
    fn client_address_behind_proxies() {
        let trusted: Vec<Cidr> = vec![
            "10.0.0.0/8"
                .parse()
                .unwrap_or_else(|e: String| panic!("{e}")),
        ];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9, 10.0.0.2"),
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, junk"),
        );
        assert_eq!(client_address(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.1"));
    }

    /// The fast classifier says exactly what the documented lists say.
    #[test]
    fn rule_for_matches_the_lists() {
        for name in HOP_BY_HOP.iter().chain([&header::UPGRADE]) {
            assert_eq!(rule_for(name), Rule::HopByHop, "{name}");
        }
        for name in &FRONTDOOR_OWNED {
            assert_eq!(rule_for(name), Rule::FrontdoorOwned, "{name}");
        }
        for name in &CLIENT_FORBIDDEN {
            assert_eq!(rule_for(name), Rule::ClientForbidden, "{name}");
        }
        for name in &FROM_PROXIES_ONLY {
            assert_eq!(rule_for(name), Rule::FromProxiesOnly, "{name}");
        }
        for name in [
            header::HOST,
            header::COOKIE,
            header::AUTHORIZATION,
            header::ACCEPT,
        ] {
            assert_eq!(rule_for(&name), Rule::Keep, "{name}");
        }
    }

    /// X-Forwarded-For is appended to only when the peer is a trusted proxy.
    #[test]
    fn forwarded_for_from_trusted_proxy_is_kept() {
        let trusted: Vec<Cidr> = vec![
            "10.0.0.0/8"
                .parse()
                .unwrap_or_else(|e: String| panic!("{e}")),
        ];
        let mut h = spoofed();
        rewrite_request_headers(&mut h, &ctx("10.1.1.1", &trusted, None));
        assert_eq!(
            h.get("x-forwarded-for").map(|v| v.as_bytes()),
            Some(&b"6.6.6.6, 10.1.1.1"[..])
        );
        assert!(
            !h.contains_key("x-forwarded-user"),
            "no identity, no user header"
        );
        assert!(
            !h.contains_key("authorization"),
            "Basic credentials never pass unless the route forwards them"
        );
        let mut bearer = spoofed();
        bearer.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer app-token"),
        );
        rewrite_request_headers(&mut bearer, &ctx("10.1.1.1", &trusted, None));
        assert_eq!(
            bearer.get("authorization").map(|v| v.as_bytes()),
            Some(&b"Bearer app-token"[..]),
            "an unconsumed token of another scheme passes"
        );
    }
}
