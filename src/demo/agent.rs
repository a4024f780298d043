//! The demo agent: an application with no login of its own, shaped like the agents in
//! shared/seeds (open /admin, /workspace, /docs, /openapi.json, a jobs API, a 500 MB upload
//! endpoint, SSE and a websocket echo). It records every request it receives, so tests can
//! assert that nothing hidden or unlisted ever reached it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use sha2::Digest;

use super::ws;
use crate::responses::{Body, BoxError, full};

/// One request as the agent saw it.
#[derive(Debug)]
pub struct SeenRequest {
    pub method: Method,
    /// The raw target of the request line, exactly as received.
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// Body bytes read so far, and whether the body ended cleanly (a complete body).
    pub body_bytes: AtomicU64,
    pub body_complete: AtomicBool,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A running demo agent.
pub struct DemoAgent {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Arc<SeenRequest>>>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl DemoAgent {
    /// Starts the agent on `listen` (use port 0 for any free port).
    pub async fn start(listen: SocketAddr) -> std::io::Result<DemoAgent> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let seen: Arc<Mutex<Vec<Arc<SeenRequest>>>> = Arc::default();
        let (stop, mut stop_rx) = tokio::sync::watch::channel(false);
        let tasks = TaskTracker::new();
        let seen_for_loop = seen.clone();
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = stop_rx.changed() => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let seen = seen_for_loop.clone();
                tasks.spawn(async move {
                    let service = service_fn(move |req| {
                        let seen = seen.clone();
                        async move { Ok::<_, Infallible>(route(req, seen).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Ok(DemoAgent { addr, seen, stop })
    }

    /// Every request received so far, oldest first.
    pub fn seen(&self) -> Vec<Arc<SeenRequest>> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Forgets the requests seen so far.
    pub fn clear_seen(&self) {
        if let Ok(mut s) = self.seen.lock() {
            s.clear();
        }
    }

    /// Stops accepting connections (open ones finish on their own).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for DemoAgent {
    fn drop(&mut self) {
        self.stop();
    }
}

fn html(status: StatusCode, title: &str, text: &str) -> Response<Body> {
    let page = format!(
        "<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    let mut r = Response::new(full(page));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(full(value.to_string() + "\n"));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn query_value<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

async fn route(
    mut req: Request<Incoming>,
    seen: Arc<Mutex<Vec<Arc<SeenRequest>>>>,
) -> Response<Body> {
    let record = Arc::new(SeenRequest {
        method: req.method().clone(),
        target: req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body_bytes: AtomicU64::new(0),
        body_complete: AtomicBool::new(false),
    });
    if let Ok(mut s) = seen.lock() {
        s.push(record.clone());
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let method = req.method().clone();

    match (method.clone(), path.as_str()) {
        (Method::GET, "/") => html(
            StatusCode::OK,
            "Demo agent",
            "An AI agent with no login of its own, behind frontdoor. Try /api/jobs, \
             /api/events (server-sent events), /ws (websocket echo). /admin, /workspace, \
             /docs and /openapi.json are hidden by frontdoor.",
        ),
        (Method::GET, "/health") => json(StatusCode::OK, serde_json::json!({"status": "ok"})),
        (_, p) if p == "/app" || p.starts_with("/app/") => html(
            StatusCode::OK,
            "Agent app",
            "The agent's web app: every page of it is here for whoever frontdoor lets in.",
        ),
        (_, p) if p == "/admin" || p.starts_with("/admin/") => html(
            StatusCode::OK,
            "Agent admin",
            "Anyone who reaches this page controls the agent.",
        ),
        (_, p) if p == "/workspace" || p.starts_with("/workspace/") => html(
            StatusCode::OK,
            "Workspace",
            "Every file the agent can read.",
        ),
        (_, "/docs") | (_, "/redoc") => html(StatusCode::OK, "API docs", "Interactive API docs."),
        (_, "/openapi.json") => json(
            StatusCode::OK,
            serde_json::json!({"openapi": "3.1.0", "info": {"title": "demo agent"}}),
        ),
        (Method::GET, "/api/jobs") => json(
            StatusCode::OK,
            serde_json::json!({"jobs": [{"id": 1, "state": "done"}]}),
        ),
        (Method::POST, "/api/jobs") => {
            let received = drain(req.into_body(), &record).await;
            json(
                StatusCode::CREATED,
                serde_json::json!({"created": 2, "received": received}),
            )
        }
        (Method::GET, "/api/workspace/file") => json(
            StatusCode::OK,
            serde_json::json!({"name": "notes.txt", "content": "hello"}),
        ),
        (Method::PUT, "/api/workspace/upload") | (Method::POST, "/api/workspace/upload") => {
            let received = drain(req.into_body(), &record).await;
            json(StatusCode::OK, serde_json::json!({"received": received}))
        }
        (Method::GET, "/api/events") => {
            let count: u32 = query_value(query.as_deref(), "count")
                .and_then(|v| v.parse().ok())
                .unwrap_or(5);
            let interval: u64 = query_value(query.as_deref(), "interval_ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(200);
            event_stream(
                count.min(10_000),
                Duration::from_millis(interval.min(60_000)),
            )
        }
        (Method::GET, "/api/download") => {
            let bytes: u64 = query_value(query.as_deref(), "bytes")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1 << 20);
            download(bytes)
        }
        (_, "/api/echo") => {
            let headers: serde_json::Map<String, serde_json::Value> = record
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let body_bytes = drain(req.into_body(), &record).await;
            json(
                StatusCode::OK,
                serde_json::json!({"method": method.as_str(), "target": record.target, "headers": headers, "body_bytes": body_bytes}),
            )
        }
        // Webhook deliveries: what arrived, to the byte (length and SHA-256).
        (Method::POST, p) if p.starts_with("/hooks/") => {
            match http_body_util::BodyExt::collect(req.into_body()).await {
                Ok(collected) => {
                    let bytes = collected.to_bytes();
                    record
                        .body_bytes
                        .store(bytes.len() as u64, Ordering::SeqCst);
                    record.body_complete.store(true, Ordering::SeqCst);
                    let digest =
                        crate::auth::api_keys::file::encode_hex(&sha2::Sha256::digest(&bytes));
                    json(
                        StatusCode::OK,
                        serde_json::json!({"received": bytes.len(), "sha256": digest}),
                    )
                }
                Err(_) => json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"detail": "incomplete body"}),
                ),
            }
        }
        (Method::GET, "/api/slow") => {
            let ms: u64 = query_value(query.as_deref(), "ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(5000);
            tokio::time::sleep(Duration::from_millis(ms.min(600_000))).await;
            json(StatusCode::OK, serde_json::json!({"slept_ms": ms}))
        }
        (Method::GET, "/ws") | (Method::GET, "/api/ws") => websocket(&mut req),
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"detail": "Not Found"}),
        ),
    }
}

/// Reads a body to its end, counting bytes; records whether it ended cleanly.
async fn drain(mut body: Incoming, record: &SeenRequest) -> u64 {
    let mut total = 0u64;
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    total += data.len() as u64;
                    record.body_bytes.store(total, Ordering::SeqCst);
                }
            }
            Some(Err(_)) => return total,
            None => {
                record.body_complete.store(true, Ordering::SeqCst);
                return total;
            }
        }
    }
}

fn streaming(rx: mpsc::Receiver<Bytes>, content_type: &'static str) -> Response<Body> {
    let mut r = Response::new(ChannelBody { rx }.boxed_unsync());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    r
}

/// A response body fed chunk by chunk from a channel, so each chunk is sent as it is made.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.get_mut()
            .rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

fn event_stream(count: u32, interval: Duration) -> Response<Body> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        for i in 1..=count {
            let event = format!("id: {i}\nevent: tick\ndata: {{\"n\":{i}}}\n\n");
            if tx.send(Bytes::from(event)).await.is_err() {
                return;
            }
            if i < count {
                tokio::time::sleep(interval).await;
            }
        }
    });
    let mut r = streaming(rx, "text/event-stream");
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    r
}

fn download(total: u64) -> Response<Body> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let mut left = total;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            if tx.send(chunk.slice(..n)).await.is_err() {
                return;
            }
            left -= n as u64;
        }
    });
    let mut r = streaming(rx, "application/octet-stream");
    if let Ok(v) = header::HeaderValue::from_str(&total.to_string()) {
        r.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    r
}

fn websocket(req: &mut Request<Incoming>) -> Response<Body> {
    let Some(key) = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
    else {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"detail": "not a websocket request"}),
        );
    };
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        if let Ok(upgraded) = upgrade.await {
            let _ = ws::echo(TokioIo::new(upgraded)).await;
        }
    });
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        header::UPGRADE,
        header::HeaderValue::from_static("websocket"),
    );
    h.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("upgrade"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&ws::accept_key(&key)) {
        h.insert("sec-websocket-accept", v);
    }
    r
}
