//! Keep-alive HTTP/1.1 connections to one upstream.
//!
//! Idle connections sit in a LIFO list (the most recently used first, so the others age out
//! when load drops). A request takes one that is still open, or opens a new one; the
//! connection goes back to the list when its response body has been read to the end. A
//! request that an idle connection could not even start sending (the upstream had just
//! closed it) is sent once more on a new connection.
//!
//! This replaces hyper-util's general-purpose pool, which keys connections by scheme and
//! host in a SipHash map and spawns a task per response to watch for the connection's
//! return (here a task is spawned only when hyper has not yet finished the exchange when the
//! body ends): about 9,000 of the 67,000 instructions a proxied request cost (callgrind,
//! see bench/RESULTS.md).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::responses::Body;

/// How much of an upstream response hyper may read ahead of the client (its default is
/// about 400 KiB per connection): a client that stops reading holds this much per upstream
/// connection until `send_timeout_secs` cuts it off. It also caps an upstream response's
/// head (larger heads are a 502), so it stays well above real heads (many cookies, a big
/// Content-Security-Policy).
const UPSTREAM_READ_BUFFER: usize = 64 * 1024;

/// How long a connection that is still finishing its last exchange may take to become
/// ready before it is given up (it is closed instead of pooled).
const READY_WAIT: Duration = Duration::from_secs(10);

/// Why no connection to the upstream could be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connecting to {address} timed out after {after:?}")]
    Timeout { address: String, after: Duration },
    #[error("cannot connect to {address}: {source}")]
    Io {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP/1.1 handshake with {address} failed: {source}")]
    Handshake {
        address: String,
        #[source]
        source: hyper::Error,
    },
}

/// Why a request got no response head.
#[derive(Debug)]
pub enum SendError {
    Connect(ConnectError),
    /// The exchange failed after the connection was open (including errors of the request
    /// body, which hyper reports here).
    Failed(hyper::Error),
}

/// Keep-alive connections to one upstream address.
pub struct Pool {
    /// `host:port`, as `TcpStream::connect` takes it.
    address: String,
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<IdleConnection>>,
}

struct IdleConnection {
    sender: SendRequest<Body>,
    since: Instant,
}

impl Pool {
    pub fn new(
        authority: &http::uri::Authority,
        connect_timeout: Duration,
        idle_timeout: Duration,
        max_idle: usize,
    ) -> Self {
        let port = authority.port_u16().unwrap_or(80);
        Pool {
            address: format!("{}:{port}", authority.host()),
            connect_timeout,
            idle_timeout,
            max_idle,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends `req` (its URI in origin form) and returns the response head with the
    /// connection it came on, to be handed to [`PooledBody::new`].
    pub async fn send(
        &self,
        mut req: Request<Body>,
    ) -> Result<(Response<Incoming>, SendRequest<Body>), SendError> {
        if let Some(mut sender) = self.take_idle() {
            match sender.try_send_request(req).await {
                Ok(response) => return Ok((response, sender)),
                Err(mut e) => match e.take_message() {
                    // Never written: the upstream closed this connection meanwhile.
                    Some(unsent) => req = unsent,
                    None => return Err(SendError::Failed(e.into_error())),
                },
            }
        }
        let mut sender = self.connect().await.map_err(SendError::Connect)?;
        let response = sender.send_request(req).await.map_err(SendError::Failed)?;
        Ok((response, sender))
    }

    /// Closes idle connections older than the idle timeout, or closed by the upstream.
    pub fn evict_idle(&self) {
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        let timeout = self.idle_timeout;
        idle.retain(|c| c.since.elapsed() < timeout && !c.sender.is_closed());
    }

    /// How many idle connections are kept now.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map(|idle| idle.len()).unwrap_or(0)
    }

    fn take_idle(&self) -> Option<SendRequest<Body>> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(c) = idle.pop() {
            if c.sender.is_ready() && c.since.elapsed() < self.idle_timeout {
                return Some(c.sender);
            }
        }
        None
    }

    fn push(&self, sender: SendRequest<Body>) {
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        if idle.len() >= self.max_idle {
            // The oldest goes: the newest is the likeliest to still be open upstream.
            idle.remove(0);
        }
        idle.push(IdleConnection {
            sender,
            since: Instant::now(),
        });
    }

    /// Puts a connection whose response has been read to the end back in the list: at once
    /// when hyper already marked it ready, else once it is (hyper may still be finishing the
    /// exchange on its connection task).
    fn put_back(self: &Arc<Self>, mut sender: SendRequest<Body>) {
        if sender.is_ready() {
            self.push(sender);
        } else if !sender.is_closed() {
            let pool = Arc::clone(self);
            tokio::spawn(async move {
                if let Ok(Ok(())) = tokio::time::timeout(READY_WAIT, sender.ready()).await {
                    pool.push(sender);
                }
            });
        }
    }

    /// Resolves the address (an IP address needs no lookup) and tries each result in turn,
    /// the connect timeout split between them (as hyper-util's connector did), so an
    /// address that drops packets leaves time for the next.
    async fn connect(&self) -> Result<SendRequest<Body>, ConnectError> {
        let timed_out = || ConnectError::Timeout {
            address: self.address.clone(),
            after: self.connect_timeout,
        };
        let io_error = |source| ConnectError::Io {
            address: self.address.clone(),
            source,
        };
        let addresses: Vec<std::net::SocketAddr> = tokio::time::timeout(
            self.connect_timeout,
            tokio::net::lookup_host(self.address.as_str()),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(io_error)?
        .collect();
        let count = u32::try_from(addresses.len()).unwrap_or(u32::MAX).max(1);
        let each = self.connect_timeout / count;
        let mut last = None;
        let mut stream = None;
        for address in addresses {
            match tokio::time::timeout(each, TcpStream::connect(address)).await {
                Ok(Ok(s)) => {
                    stream = Some(s);
                    break;
                }
                Ok(Err(e)) => last = Some(io_error(e)),
                Err(_) => last = Some(timed_out()),
            }
        }
        let Some(stream) = stream else {
            return Err(last.unwrap_or_else(|| {
                io_error(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the name resolved to no address",
                ))
            }));
        };
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::Builder::new()
            .max_buf_size(UPSTREAM_READ_BUFFER)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|source| ConnectError::Handshake {
                address: self.address.clone(),
                source,
            })?;
        tokio::spawn(async move {
            if let Err(e) = connection.with_upgrades().await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }
}

/// A response body from the pool: when it has been read to the end, its connection goes
/// back to the pool. Dropped earlier, the connection is closed (the rest of the body would
/// still be on the wire).
pub struct PooledBody {
    inner: Incoming,
    connection: Option<(SendRequest<Body>, Arc<Pool>)>,
}

impl PooledBody {
    pub fn new(inner: Incoming, sender: SendRequest<Body>, pool: Arc<Pool>) -> Self {
        let mut body = PooledBody {
            inner,
            connection: Some((sender, pool)),
        };
        // An empty body (204, 304, HEAD, Content-Length: 0) is never polled.
        if body.inner.is_end_stream() {
            body.release();
        }
        body
    }

    fn release(&mut self) {
        if let Some((sender, pool)) = self.connection.take() {
            pool.put_back(sender);
        }
    }
}

impl HttpBody for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.release(),
            // hyper stops polling after trailers: they end the body too.
            Poll::Ready(Some(Ok(frame))) if frame.is_trailers() || this.inner.is_end_stream() => {
                this.release()
            }
            Poll::Ready(Some(Err(_))) => this.connection = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A real upstream on 127.0.0.1: answers every request head it reads with `answer`, and
    /// counts the connections it accepted. With `close_after`, it closes each connection
    /// after that many answers without saying so (as an upstream's idle timeout does).
    async fn upstream(
        answer: &'static str,
        close_after: Option<usize>,
    ) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut answered = 0;
                    let mut chunk = [0u8; 4096];
                    loop {
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            if stream.write_all(answer.as_bytes()).await.is_err() {
                                return;
                            }
                            answered += 1;
                            if close_after == Some(answered) {
                                return;
                            }
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        (address, accepted)
    }

    fn pool(address: &str, idle_timeout: Duration) -> Arc<Pool> {
        let authority: http::uri::Authority = address.parse().expect("authority");
        Arc::new(Pool::new(
            &authority,
            Duration::from_secs(5),
            idle_timeout,
            8,
        ))
    }

    fn get(path: &str) -> Request<Body> {
        Request::get(path)
            .header(http::header::HOST, "upstream")
            .body(crate::responses::full(Bytes::new()))
            .expect("request")
    }

    /// One exchange through the pool, the body read to its end.
    async fn exchange(pool: &Arc<Pool>, path: &str) -> (http::StatusCode, Bytes) {
        let (response, sender) = match pool.send(get(path)).await {
            Ok(answer) => answer,
            Err(SendError::Connect(e)) => panic!("connect: {e}"),
            Err(SendError::Failed(e)) => panic!("exchange: {e}"),
        };
        let (parts, body) = response.into_parts();
        let body = PooledBody::new(body, sender, Arc::clone(pool));
        let bytes = body.collect().await.expect("body").to_bytes();
        (parts.status, bytes)
    }

    /// Waits (bounded) for the pool to hold `n` idle connections.
    async fn idle_becomes(pool: &Pool, n: usize) -> bool {
        for _ in 0..200 {
            if pool.idle_count() == n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

    #[tokio::test]
    async fn sequential_requests_share_one_connection() {
        let (address, accepted) = upstream(OK, None).await;
        let pool = pool(&address, Duration::from_secs(30));
        for _ in 0..20 {
            let (status, body) = exchange(&pool, "/").await;
            assert_eq!(status, 200);
            assert_eq!(&body[..], b"hello");
            assert!(
                idle_becomes(&pool, 1).await,
                "the connection went back to the pool"
            );
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn empty_bodies_return_their_connection() {
        let (address, accepted) = upstream("HTTP/1.1 204 No Content\r\n\r\n", None).await;
        let pool = pool(&address, Duration::from_secs(30));
        for _ in 0..5 {
            let (status, body) = exchange(&pool, "/").await;
            assert_eq!(status, 204);
            assert!(body.is_empty());
            assert!(idle_becomes(&pool, 1).await);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_is_not_used_again() {
        // The upstream answers once per connection and hangs up without `Connection: close`.
        let (address, accepted) = upstream(OK, Some(1)).await;
        let pool = pool(&address, Duration::from_secs(30));
        for _ in 0..5 {
            let (status, body) = exchange(&pool, "/").await;
            assert_eq!(status, 200);
            assert_eq!(&body[..], b"hello");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_body_dropped_early_closes_its_connection() {
        let (address, accepted) = upstream(
            "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nonly the start",
            None,
        )
        .await;
        let pool = pool(&address, Duration::from_secs(30));
        let Ok((response, sender)) = pool.send(get("/")).await else {
            panic!("no response");
        };
        let mut body = PooledBody::new(response.into_body(), sender, Arc::clone(&pool));
        let first = body.frame().await;
        assert!(matches!(first, Some(Ok(_))));
        drop(body);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            pool.idle_count(),
            0,
            "a half-read connection is never pooled"
        );
        let Ok((response, _)) = pool.send(get("/")).await else {
            panic!("no response");
        };
        assert_eq!(response.status(), 200);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn idle_connections_are_evicted_after_the_idle_timeout() {
        let (address, accepted) = upstream(OK, None).await;
        let pool = pool(&address, Duration::from_millis(100));
        exchange(&pool, "/").await;
        assert!(idle_becomes(&pool, 1).await);
        pool.evict_idle();
        assert_eq!(pool.idle_count(), 1, "not yet timed out");
        tokio::time::sleep(Duration::from_millis(150)).await;
        pool.evict_idle();
        assert_eq!(pool.idle_count(), 0);
        exchange(&pool, "/").await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn chunked_bodies_with_trailers_return_their_connection() {
        let (address, accepted) = upstream(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n\
             5\r\nhello\r\n0\r\nx-sum: 5\r\n\r\n",
            None,
        )
        .await;
        let pool = pool(&address, Duration::from_secs(30));
        for _ in 0..3 {
            let Ok((response, sender)) = pool.send(get("/")).await else {
                panic!("no response");
            };
            let mut body = PooledBody::new(response.into_body(), sender, Arc::clone(&pool));
            // As hyper's server does: no poll after the trailers.
            let mut data = Vec::new();
            loop {
                match body.frame().await {
                    Some(Ok(frame)) if frame.is_trailers() => break,
                    Some(Ok(frame)) => {
                        data.extend_from_slice(frame.data_ref().map_or(&[][..], |d| &d[..]))
                    }
                    other => panic!("the body ended without trailers: {:?}", other.is_some()),
                }
            }
            drop(body);
            assert_eq!(&data[..], b"hello");
            assert!(idle_becomes(&pool, 1).await);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_host_name_is_resolved() {
        let (address, accepted) = upstream(OK, None).await;
        let port = address.rsplit_once(':').map(|(_, p)| p).unwrap_or("0");
        let pool = pool(&format!("localhost:{port}"), Duration::from_secs(30));
        let (status, _) = exchange(&pool, "/").await;
        assert_eq!(status, 200);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_full_pool_keeps_at_most_max_idle() {
        let (address, accepted) = upstream(OK, None).await;
        let pool = pool(&address, Duration::from_secs(30));
        // Ten requests at once need ten connections; the pool keeps eight of them.
        let mut exchanges = tokio::task::JoinSet::new();
        let barrier = Arc::new(tokio::sync::Barrier::new(10));
        for _ in 0..10 {
            let pool = Arc::clone(&pool);
            let barrier = Arc::clone(&barrier);
            exchanges.spawn(async move {
                let Ok((response, sender)) = pool.send(get("/")).await else {
                    panic!("no response");
                };
                barrier.wait().await;
                let body = PooledBody::new(response.into_body(), sender, Arc::clone(&pool));
                body.collect().await.is_ok()
            });
        }
        while let Some(done) = exchanges.join_next().await {
            assert!(matches!(done, Ok(true)));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 10);
        assert!(idle_becomes(&pool, 8).await);
    }

    #[tokio::test]
    async fn an_unreachable_upstream_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        drop(listener);
        let pool = pool(&address, Duration::from_secs(30));
        assert!(matches!(
            pool.send(get("/")).await,
            Err(SendError::Connect(ConnectError::Io { .. }))
        ));
    }
}
