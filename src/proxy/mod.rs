//! Forwarding to the upstream: the pooled HTTP/1.1 client, the header rules (hop-by-hop
//! removal, X-Forwarded-*, identity headers), WebSocket upgrades, and mapping upstream
//! failures to 413 / 502 / 504.

use std::net::IpAddr;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio_util::task::TaskTracker;

use crate::auth::Identity;
use crate::config::Cidr;
use crate::errors::is_caused_by;
use crate::limits::BodyTooLarge;
use crate::responses::{Body, Denial};

/// Headers that describe one connection, not the message: never forwarded either way
/// (RFC 9110 7.6.1), plus any named in the `Connection` header.
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

/// Why forwarding failed, before a response could start.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream refused or could not be reached.
    #[error("upstream unreachable: {0}")]
    Unreachable(#[source] hyper_util::client::legacy::Error),
    /// No response headers within `upstream.response_timeout_secs`.
    #[error("upstream did not answer within {0:?}")]
    Timeout(Duration),
    /// The request body passed the cap while streaming.
    #[error("request body over the cap")]
    BodyTooLarge,
    /// Anything else the client reported (the upstream closed mid-request, bad response).
    #[error("upstream request failed: {0}")]
    Failed(#[source] hyper_util::client::legacy::Error),
    /// The upstream switched protocols although the client never asked to.
    #[error("upstream sent 101 to a request that did not ask for an upgrade")]
    UnrequestedUpgrade,
    /// The forwarded URI could not be built (cannot happen for a normalized path).
    #[error("cannot build the upstream URI: {0}")]
    BadTarget(#[source] http::Error),
}

impl UpstreamError {
    pub fn denial(&self) -> Denial {
        match self {
            UpstreamError::Timeout(_) => Denial::GatewayTimeout,
            UpstreamError::BodyTooLarge => Denial::PayloadTooLarge,
            UpstreamError::Unreachable(_)
            | UpstreamError::Failed(_)
            | UpstreamError::UnrequestedUpgrade
            | UpstreamError::BadTarget(_) => Denial::BadGateway,
        }
    }
}

/// What the handler decided, carried into forwarding.
pub struct ForwardContext<'a> {
    pub peer: IpAddr,
    pub trusted_proxies: &'a [Cidr],
    /// The validated Host (lower-case, with port if the client sent one).
    pub host: &'a str,
    /// Normalized path plus the raw query.
    pub path_and_query: &'a str,
    pub identity: Option<&'a Identity>,
    pub forward_authorization: bool,
}

/// The pooled client for one upstream.
pub struct Upstream {
    client: Client<HttpConnector, Body>,
    authority: http::uri::Authority,
    response_timeout: Duration,
    /// WebSocket tunnels outlive their HTTP connection; shutdown waits on this.
    tunnels: TaskTracker,
}

impl Upstream {
    pub fn new(
        authority: http::uri::Authority,
        connect_timeout: Duration,
        response_timeout: Duration,
        tunnels: TaskTracker,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build(connector);
        Upstream {
            client,
            authority,
            response_timeout,
            tunnels,
        }
    }

    /// Sends the request upstream and returns its response, streaming both bodies.
    pub async fn forward(
        &self,
        mut req: Request<Body>,
        ctx: &ForwardContext<'_>,
    ) -> Result<Response<Body>, UpstreamError> {
        let client_upgrade = wants_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        let upgrade_protocol = parts.headers.get(header::UPGRADE).cloned();

        rewrite_request_headers(&mut parts.headers, ctx);
        if let (Some(proto), true) = (upgrade_protocol, client_upgrade.is_some()) {
            parts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            parts.headers.insert(header::UPGRADE, proto);
        }
        parts.uri = Uri::builder()
            .scheme("http")
            .authority(self.authority.clone())
            .path_and_query(ctx.path_and_query)
            .build()
            .map_err(UpstreamError::BadTarget)?;
        parts.version = Version::HTTP_11;
        let upstream_req = Request::from_parts(parts, body);

        let mut response =
            match tokio::time::timeout(self.response_timeout, self.client.request(upstream_req))
                .await
            {
                Err(_) => return Err(UpstreamError::Timeout(self.response_timeout)),
                Ok(Err(e)) => {
                    if is_caused_by::<BodyTooLarge>(&e) {
                        return Err(UpstreamError::BodyTooLarge);
                    }
                    if e.is_connect() {
                        return Err(UpstreamError::Unreachable(e));
                    }
                    return Err(UpstreamError::Failed(e));
                }
                Ok(Ok(response)) => response,
            };

        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client_upgrade) = client_upgrade {
                let upstream_upgrade = hyper::upgrade::on(&mut response);
                self.tunnels.spawn(async move {
                    let (Ok(client_io), Ok(upstream_io)) =
                        tokio::join!(client_upgrade, upstream_upgrade)
                    else {
                        return;
                    };
                    let mut client_io = TokioIo::new(client_io);
                    let mut upstream_io = TokioIo::new(upstream_io);
                    let _ = tokio::io::copy_bidirectional(&mut client_io, &mut upstream_io).await;
                });
                let (mut parts, body) = response.into_parts();
                let upgrade = parts.headers.get(header::UPGRADE).cloned();
                strip_hop_by_hop(&mut parts.headers);
                parts
                    .headers
                    .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                if let Some(upgrade) = upgrade {
                    parts.headers.insert(header::UPGRADE, upgrade);
                }
                return Ok(Response::from_parts(
                    parts,
                    body.map_err(Into::into).boxed_unsync(),
                ));
            }
            // A 101 the client never asked for cannot be relayed.
            return Err(UpstreamError::UnrequestedUpgrade);
        }

        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(
            parts,
            body.map_err(Into::into).boxed_unsync(),
        ))
    }
}

/// An HTTP/1.1 upgrade request (`Connection: upgrade` plus an `Upgrade` protocol).
pub fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
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
    strip_hop_by_hop(headers);
    for name in &FRONTDOOR_OWNED {
        headers.remove(name);
    }
    let peer = ctx.peer.to_canonical().to_string();
    let forwarded_for = match prior_forwarded_for {
        Some(prior) => format!("{prior}, {peer}"),
        None => peer,
    };
    insert(headers, "x-forwarded-for", &forwarded_for);
    headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    insert(headers, "x-forwarded-host", ctx.host);
    insert(headers, header::HOST.as_str(), ctx.host);
    if let Some(identity) = ctx.identity {
        insert(headers, "x-forwarded-user", &identity.user);
        if !ctx.forward_authorization {
            headers.remove(header::AUTHORIZATION);
        }
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthMethod;

    fn ctx<'a>(
        peer: &str,
        trusted: &'a [Cidr],
        identity: Option<&'a Identity>,
    ) -> ForwardContext<'a> {
        ForwardContext {
            peer: peer.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            trusted_proxies: trusted,
            host: "agent.example.com",
            path_and_query: "/",
            identity,
            forward_authorization: false,
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
        ] {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap_or(header::VIA),
                HeaderValue::from_static(v),
            );
        }
        h
    }

    /// Every spoofable header is replaced; hop-by-hop ones (also Connection-named) are gone.
    #[test]
    fn spoofed_headers_are_replaced() {
        let mut h = spoofed();
        let id = Identity {
            user: "alice".into(),
            method: AuthMethod::Basic,
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
            h.contains_key("authorization"),
            "unconsumed Authorization passes"
        );
    }
}
