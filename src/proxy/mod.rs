//! Forwarding to the upstream: the pooled HTTP/1.1 client (`pool`), the header rules
//! (`headers`), WebSocket upgrades, and what an upstream failure means to the client
//! (413 / 408 / 502 / 504).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio_util::task::TaskTracker;

use crate::auth::Identity;
use crate::config::{Cidr, HostHeader};
use crate::errors::is_caused_by;
use crate::limits::{BodyEnd, BodyStalled, BodyTooLarge, ClientBodyError};
use crate::responses::{Body, Refusal};

mod headers;
mod pool;
mod tunnel;
pub use headers::{client_address, peer_header, rewrite_request_headers, strip_hop_by_hop};
pub use pool::{ConnectError, Pool, PooledBody};
pub use tunnel::Tunnel;

/// Why forwarding failed, before a response could start.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream refused or could not be reached.
    #[error("upstream unreachable: {0}")]
    Unreachable(#[source] ConnectError),
    /// No response headers within `upstream.response_timeout_secs`.
    #[error("upstream did not answer within {0:?}")]
    Timeout(Duration),
    /// The request body passed the cap while streaming.
    #[error("request body over the cap")]
    BodyTooLarge,
    /// The client stopped sending its request body for longer than the body timeout.
    #[error("request body stalled")]
    BodyStalled,
    /// The client's request body was malformed (or the client went away mid-body).
    #[error("the client's request body could not be read")]
    ClientBody,
    /// Anything else the client reported (the upstream closed mid-request, bad response).
    #[error("upstream request failed: {0}")]
    Failed(#[source] hyper::Error),
    /// The upstream switched protocols although the client never asked to.
    #[error("upstream sent 101 to a request that did not ask for an upgrade")]
    UnrequestedUpgrade,
    /// The forwarded URI could not be built (cannot happen for a normalized path).
    #[error("cannot build the upstream URI: {0}")]
    BadTarget(#[source] http::Error),
}

impl From<UpstreamError> for Refusal {
    /// A body over the cap is the client's 413 and a stalled one its 408, whichever layer
    /// noticed; only the upstream's own failures are 502 and 504.
    fn from(e: UpstreamError) -> Self {
        match e {
            UpstreamError::Timeout(_) => Refusal::UpstreamTimeout,
            UpstreamError::BodyTooLarge => Refusal::BodyTooLarge,
            UpstreamError::BodyStalled => Refusal::BodyStalled,
            UpstreamError::ClientBody => Refusal::MalformedBody,
            UpstreamError::Unreachable(_)
            | UpstreamError::Failed(_)
            | UpstreamError::UnrequestedUpgrade
            | UpstreamError::BadTarget(_) => Refusal::UpstreamError,
        }
    }
}

/// The client connection a request came on.
#[derive(Clone)]
pub struct ClientConnection {
    pub addr: SocketAddr,
    /// `addr`'s IP as `X-Forwarded-For` carries it, formatted once per connection.
    pub addr_header: HeaderValue,
    /// Marks the connection busy while the returned guard lives: a refused request body
    /// being discarded after its answer went out must not look like an idle connection
    /// (or the start of a slow request head) to the connection's timeouts.
    pub hold: Option<Hold>,
}

/// The Host an upstream receives (`host_header`), ready to insert.
enum UpstreamHost {
    Client,
    ClientName,
    Fixed(HeaderValue),
}

/// Makes a guard that keeps a client connection counted busy while it lives.
pub type Hold = Arc<dyn Fn() -> Box<dyn std::any::Any + Send> + Send + Sync>;

/// What the handler decided, carried into forwarding.
pub struct ForwardContext<'a> {
    pub peer: IpAddr,
    /// `peer` (canonical) as a header value, formatted once per connection.
    pub peer_header: HeaderValue,
    pub trusted_proxies: &'a [Cidr],
    /// The validated Host (lower-case, with port if the client sent one).
    pub host: &'a str,
    /// Normalized path plus the raw query.
    pub path_and_query: &'a str,
    pub identity: Option<&'a Identity>,
    pub forward_authorization: bool,
    /// Resolves when the client's request body has been read to its end.
    pub body_end: BodyEnd,
}

/// The pooled client for one upstream.
pub struct Upstream {
    pool: Arc<Pool>,
    host: UpstreamHost,
    response_timeout: Duration,
    /// WebSocket tunnels outlive their HTTP connection; shutdown waits on this.
    tunnels: TaskTracker,
}

impl Upstream {
    pub fn new(
        authority: http::uri::Authority,
        host_header: HostHeader,
        connect_timeout: Duration,
        response_timeout: Duration,
        tunnels: TaskTracker,
    ) -> Self {
        let host = match host_header {
            HostHeader::Client => UpstreamHost::Client,
            HostHeader::ClientName => UpstreamHost::ClientName,
            HostHeader::Upstream => match HeaderValue::from_str(authority.as_str()) {
                Ok(value) => UpstreamHost::Fixed(value),
                // An authority always makes a header value; the client's Host otherwise.
                Err(_) => UpstreamHost::Client,
            },
        };
        Upstream {
            host,
            pool: Arc::new(Pool::new(
                &authority,
                connect_timeout,
                POOL_IDLE_TIMEOUT,
                POOL_MAX_IDLE,
            )),
            response_timeout,
            tunnels,
        }
    }

    /// Closes pooled connections idle for longer than the pool's idle timeout.
    pub fn evict_idle(&self) {
        self.pool.evict_idle();
    }

    /// Sends the request upstream and returns its response, streaming both bodies.
    /// `tunnel` is the slot a WebSocket upgrade runs in (None for other requests).
    pub async fn forward(
        &self,
        mut req: Request<Body>,
        ctx: &ForwardContext<'_>,
        tunnel: Option<Tunnel>,
    ) -> Result<Response<Body>, UpstreamError> {
        let client_upgrade =
            is_websocket_upgrade(req.method(), req.headers()).then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();

        // Every other Upgrade (h2c, TLS, anything) is removed with the hop-by-hop headers:
        // a tunnel of another protocol would bypass every rule of the front door.
        rewrite_request_headers(&mut parts.headers, ctx);
        match &self.host {
            UpstreamHost::Client => {}
            UpstreamHost::ClientName => {
                if let Ok(name) = HeaderValue::from_str(crate::policy::target::host_name(ctx.host))
                {
                    parts.headers.insert(header::HOST, name);
                }
            }
            UpstreamHost::Fixed(value) => {
                parts.headers.insert(header::HOST, value.clone());
            }
        }
        if client_upgrade.is_some() {
            parts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            parts
                .headers
                .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        }
        // hyper's client sends no body for a GET or HEAD of unknown length (it assumes
        // there is none); a client that sent one (HTTP/2 DATA without content-length, or
        // HTTP/1.1 chunked) gets it forwarded like any other request's, on a connection
        // that is not reused.
        if matches!(parts.method, http::Method::GET | http::Method::HEAD)
            && !http_body::Body::is_end_stream(&body)
            && http_body::Body::size_hint(&body).exact() != Some(0)
        {
            if !parts.headers.contains_key(header::CONTENT_LENGTH) {
                parts.headers.insert(
                    header::TRANSFER_ENCODING,
                    HeaderValue::from_static("chunked"),
                );
            }
            // Many applications never read a GET's body; one that does not drain it would
            // read it as the next request on a reused connection. This connection is used
            // once.
            parts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        // Origin form: the request line carries the path, Host the name.
        parts.uri = Uri::try_from(ctx.path_and_query)
            .map_err(|e| UpstreamError::BadTarget(http::Error::from(e)))?;
        parts.version = Version::HTTP_11;
        let upstream_req = Request::from_parts(parts, body);

        // The response timer starts once the request body has been sent: an upload may
        // take longer than the upstream's thinking time (slow uploads are bounded by the
        // body timeout instead).
        let request = self.pool.send(upstream_req);
        tokio::pin!(request);
        let early = if ctx.body_end.has_ended() {
            None
        } else {
            let mut body_end = ctx.body_end.clone();
            tokio::select! {
                result = &mut request => Some(result),
                () = body_end.wait() => None,
            }
        };
        let result = match early {
            Some(result) => result,
            None => tokio::time::timeout(self.response_timeout, request)
                .await
                .map_err(|_| UpstreamError::Timeout(self.response_timeout))?,
        };
        let (mut response, sender) = match result {
            Err(pool::SendError::Connect(e)) => return Err(UpstreamError::Unreachable(e)),
            Err(pool::SendError::Failed(e)) => {
                if is_caused_by::<BodyTooLarge>(&e) {
                    return Err(UpstreamError::BodyTooLarge);
                }
                if is_caused_by::<BodyStalled>(&e) {
                    return Err(UpstreamError::BodyStalled);
                }
                if is_caused_by::<ClientBodyError>(&e) {
                    return Err(UpstreamError::ClientBody);
                }
                return Err(UpstreamError::Failed(e));
            }
            Ok(answer) => answer,
        };

        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            let upstream_says_websocket = response
                .headers()
                .get(header::UPGRADE)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
            if let (Some(client_upgrade), Some(tunnel), true) =
                (client_upgrade, tunnel, upstream_says_websocket)
            {
                let upstream_upgrade = hyper::upgrade::on(&mut response);
                self.tunnels.spawn(async move {
                    // The upstream connection's handle stays until its upgrade resolves.
                    let _sender = sender;
                    let (Ok(client_io), Ok(upstream_io)) =
                        tokio::join!(client_upgrade, upstream_upgrade)
                    else {
                        return;
                    };
                    tunnel
                        .run(TokioIo::new(client_io), TokioIo::new(upstream_io))
                        .await;
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
            // A 101 the client never asked for, or to another protocol, is not relayed.
            return Err(UpstreamError::UnrequestedUpgrade);
        }

        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        let body = PooledBody::new(body, sender, Arc::clone(&self.pool));
        Ok(Response::from_parts(
            parts,
            body.map_err(Into::into).boxed_unsync(),
        ))
    }
}

/// Idle keep-alive connections to an upstream are closed after this long.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this many idle connections per upstream.
const POOL_MAX_IDLE: usize = 256;

/// A WebSocket opening handshake: GET, `Connection: upgrade`, `Upgrade: websocket`, and no
/// body (a body after an upgrade request could be read by the upstream as a second request).
pub fn is_websocket_upgrade(method: &http::Method, headers: &HeaderMap) -> bool {
    method == http::Method::GET
        && headers
            .get(header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
        && headers.get_all(header::UPGRADE).iter().count() == 1
        && headers::connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
        && !headers.contains_key(header::TRANSFER_ENCODING)
        && headers
            .get(header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderName;

    /// Only a GET with `Upgrade: websocket` and no body is a tunnel request.
    #[test]
    fn only_websocket_upgrades() {
        let mk = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
            }
            h
        };
        let ws = mk(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
        ]);
        assert!(is_websocket_upgrade(&http::Method::GET, &ws));
        assert!(!is_websocket_upgrade(&http::Method::POST, &ws));
        assert!(!is_websocket_upgrade(
            &http::Method::GET,
            &mk(&[("connection", "upgrade"), ("upgrade", "h2c")])
        ));
        assert!(!is_websocket_upgrade(
            &http::Method::GET,
            &mk(&[("upgrade", "websocket")])
        ));
        assert!(!is_websocket_upgrade(
            &http::Method::GET,
            &mk(&[
                ("connection", "upgrade"),
                ("upgrade", "websocket"),
                ("content-length", "5")
            ])
        ));
        assert!(!is_websocket_upgrade(
            &http::Method::GET,
            &mk(&[
                ("connection", "upgrade"),
                ("upgrade", "websocket"),
                ("transfer-encoding", "chunked")
            ])
        ));
    }
}
