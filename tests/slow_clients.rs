//! Clients that stop reading, tunnels that never end, and uploads that trickle: each is
//! cut off within its timeout, so none can hold a connection (and the upstream connection
//! behind it) for hours.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Harness, Options, PASSWORD, USER, basic, status_of};
use frontdoor::demo::ws;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Public routes for a large download, the WebSocket echo and an upload.
const ROUTES: &str = r#"
[[route]]
path = "/api/download"
auth = "none"

[[route]]
path = "/ws"
auth = "none"

[[route]]
path = "/api/workspace/upload"
exact = true
methods = ["PUT"]
auth = "none"

[[route]]
path = "/health"
exact = true
auth = "none"
"#;

async fn harness(server_extra: &'static str) -> Harness {
    Harness::with(Options {
        server_extra,
        routes: ROUTES,
        ..Options::default()
    })
    .await
}

/// 64 MB: far more than socket buffers hold, so a client that does not read stalls it.
const BIG: u64 = 64_000_000;

/// An HTTP/1.1 client that asks for a large download and reads nothing is cut off after
/// `send_timeout_secs`: what it can read afterwards ends well short of the whole body.
#[tokio::test]
async fn http1_slow_reader_is_cut_off() {
    let h = harness("send_timeout_secs = 2").await;
    let mut tls = h.tls(&[b"http/1.1"]).await;
    tls.write_all(
        format!(
            "GET /api/download?bytes={BIG} HTTP/1.1\r\nHost: {}\r\n\r\n",
            h.authority()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let started = Instant::now();
    let mut received = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received += n as u64,
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the connection was still open after 5 s of no reading"
    );
    assert!(
        received < BIG,
        "the whole body arrived: the client was never cut off"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// Over HTTP/2 the same: a response nobody reads ends the connection after the timeout.
#[tokio::test]
async fn http2_slow_reader_is_cut_off() {
    let h = harness("send_timeout_secs = 2").await;
    let tls = h.tls(&[b"h2"]).await;
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get(format!(
        "https://{}/api/download?bytes={BIG}",
        h.authority()
    ))
    .body(Full::new(Bytes::new()))
    .unwrap();
    let response = sender.send_request(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let read = tokio::time::timeout(Duration::from_secs(20), response.into_body().collect()).await;
    let outcome = read.expect("the body neither ended nor failed within 20 s");
    assert!(
        outcome.is_err(),
        "the whole body arrived: the client was never cut off"
    );
}

/// A WebSocket with no traffic either way is closed after `tunnel_idle_timeout_secs`; one
/// with traffic stays open.
#[tokio::test]
async fn idle_tunnels_are_closed() {
    let h = harness("tunnel_idle_timeout_secs = 1").await;
    let mut busy = h.websocket("/ws", (USER, PASSWORD)).await;
    let mut idle = h.websocket("/ws", (USER, PASSWORD)).await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        ws::write_frame(&mut busy, ws::OP_TEXT, b"tick", Some([1, 2, 3, 4]))
            .await
            .unwrap();
        assert_eq!(ws::read_frame(&mut busy).await.unwrap().payload, b"tick");
    }
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(2), idle.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "an idle tunnel stayed open past its timeout"
    );
}

/// Tunnels have their own cap: with `max_connections = 1`, an open tunnel does not keep the
/// next client out; a tunnel beyond `max_tunnels` gets 503; the open-tunnel gauge counts.
#[tokio::test]
async fn tunnels_have_their_own_cap() {
    let h = Harness::with(Options {
        server_extra: "max_connections = 1\nmax_tunnels = 1",
        extra: "[admin]\nlisten = \"127.0.0.1:0\"\n",
        ..Options::default()
    })
    .await;
    let mut socket = h.websocket("/ws", (USER, PASSWORD)).await;
    ws::write_frame(&mut socket, ws::OP_TEXT, b"hold", Some([1, 2, 3, 4]))
        .await
        .unwrap();
    assert_eq!(ws::read_frame(&mut socket).await.unwrap().payload, b"hold");
    let served = tokio::time::timeout(Duration::from_secs(5), h.get("/health", None)).await;
    assert_eq!(
        served
            .expect("a new client is served while a tunnel is open")
            .status,
        StatusCode::OK
    );
    let metrics = admin_get(&h, "/metrics").await;
    assert!(metrics.contains("frontdoor_open_tunnels 1"), "{metrics}");
    let second = h
        .raw(
            format!(
                "GET /ws HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nConnection: Upgrade\r\n\
                 Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                h.authority(),
                basic(USER, PASSWORD)
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(status_of(&second), 503, "{second}");
    drop(socket);
    let reopened = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if admin_get(&h, "/metrics")
                .await
                .contains("frontdoor_open_tunnels 0")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(reopened.is_ok(), "the tunnel's slot was not given back");
    let _again = h.websocket("/ws", (USER, PASSWORD)).await;
}

async fn admin_get(h: &Harness, path: &str) -> String {
    let addr = h.server.as_ref().unwrap().admin_addr.unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    out
}

/// An upload that trickles (a byte every 300 ms, never silent for the body timeout) is
/// refused once the time waited for it passes the body timeout at under the minimum rate.
#[tokio::test]
async fn trickling_upload_gets_408() {
    let h = harness("body_timeout_secs = 1\nmin_body_rate_bytes_per_sec = 1024").await;
    let mut tls = h.tls(&[b"http/1.1"]).await;
    tls.write_all(
        format!(
            "PUT /api/workspace/upload HTTP/1.1\r\nHost: {}\r\nContent-Length: 100000\r\n\r\n",
            h.authority()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(15), async {
        let mut buf = vec![0u8; 4096];
        loop {
            if tls.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            if let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(1), tls.read(&mut buf)).await
            {
                return String::from_utf8_lossy(&buf[..n]).into_owned();
            }
        }
        let n = tls.read(&mut buf).await.unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .expect("the trickle was never refused");
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// One stalled HTTP/2 stream ends the connection even while the client keeps the
/// connection busy with other requests it does read: stalls are watched per stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_stream_is_cut_off_however_busy_the_others() {
    let h = harness("send_timeout_secs = 2").await;
    let tls = h.tls(&[b"h2"]).await;
    let (client, connection) = h2::client::handshake(tls).await.unwrap();
    let ended = tokio::spawn(async move {
        let _ = connection.await;
        Instant::now()
    });
    let authority = h.authority();
    let request = |path: String| {
        Request::get(format!("https://{authority}{path}"))
            .body(())
            .unwrap()
    };
    let mut client = client.ready().await.unwrap();
    // Never read: its flow-control window fills and frontdoor stops being able to send.
    let (stalled, _) = client
        .send_request(request(format!("/api/download?bytes={BIG}")), true)
        .unwrap();
    let _stalled = stalled.await.unwrap();
    let started = Instant::now();
    let mut busy_until_cut = 0;
    while started.elapsed() < Duration::from_secs(15) {
        let Ok(ready) = client.clone().ready().await else {
            break;
        };
        client = ready;
        let Ok((response, _)) = client.send_request(request("/health".into()), true) else {
            break;
        };
        let Ok(Ok(response)) = tokio::time::timeout(Duration::from_secs(2), response).await else {
            break;
        };
        let mut body = response.into_body();
        while let Some(Ok(chunk)) = body.data().await {
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        busy_until_cut += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let closed_at = tokio::time::timeout(Duration::from_secs(5), ended)
        .await
        .expect("the connection was never closed")
        .unwrap();
    assert!(
        busy_until_cut > 0,
        "the busy requests were served meanwhile"
    );
    assert!(
        closed_at.duration_since(started) < Duration::from_secs(10),
        "closed only after {:?}",
        closed_at.duration_since(started)
    );
}
