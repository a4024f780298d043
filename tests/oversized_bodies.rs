//! Oversized uploads: a declared Content-Length over the cap, a chunked body that passes it
//! while streaming, `Expect: 100-continue`, and an HTTP/2 body with no declared length. The
//! upstream must never receive a complete oversized body.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use common::{Harness, Options, PASSWORD, USER, basic, status_of};
use http::{Request, StatusCode};
use http_body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The upload route's cap in the standard routes.
const CAP: usize = 1_048_576;

fn upload_head(h: &Harness, extra: &str) -> String {
    format!(
        "PUT /api/workspace/upload HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n{extra}\r\n",
        h.authority(),
        basic(USER, PASSWORD)
    )
}

/// Reads from the stream until a full response head has arrived (or the peer closed).
async fn read_head<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut byte = [0u8; 1];
        while !out.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => out.push(byte[0]),
                _ => break,
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A declared length one byte over the cap gets 413 at once, before any body is sent and
/// before the upstream is contacted.
#[tokio::test]
async fn declared_length_over_cap_is_refused_before_reading() {
    let h = Harness::start().await;
    let mut tls = h.tls(&[b"http/1.1"]).await;
    let head = upload_head(&h, &format!("Content-Length: {}\r\n", CAP + 1));
    tls.write_all(head.as_bytes()).await.unwrap();
    let response = read_head(&mut tls).await;
    assert_eq!(status_of(&response), 413, "{response}");
    assert!(response.to_ascii_lowercase().contains("connection: close"));
    assert!(h.agent_targets().is_empty(), "the upstream was contacted");
}

/// Exactly at the cap is allowed, and the whole body arrives.
#[tokio::test]
async fn exactly_at_cap_is_allowed() {
    let h = Harness::start().await;
    let req = Request::put("/api/workspace/upload")
        .header("host", h.authority())
        .header("authorization", basic(USER, PASSWORD))
        .body(http_body_util::Full::new(Bytes::from(vec![b'a'; CAP])))
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["received"], CAP);
    let seen = h.agent.seen();
    assert!(seen[0].body_complete.load(Ordering::SeqCst));
}

/// A chunked body that passes the cap while streaming gets 413, and the upstream never
/// receives a complete body (its read ends in an error, not the terminating chunk).
#[tokio::test]
async fn chunked_body_over_cap_is_cut_off() {
    let h = Harness::start().await;
    let mut tls = h.tls(&[b"http/1.1"]).await;
    let head = upload_head(&h, "Transfer-Encoding: chunked\r\n");
    tls.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'z'; 64 * 1024];
    let (mut reader, mut writer) = tokio::io::split(tls);
    let writing = tokio::spawn(async move {
        for _ in 0..(3 * CAP / chunk.len()) {
            let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
            frame.extend_from_slice(&chunk);
            frame.extend_from_slice(b"\r\n");
            if writer.write_all(&frame).await.is_err() {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n").await;
    });
    let response = read_head(&mut reader).await;
    assert_eq!(status_of(&response), 413, "{response}");
    writing.abort();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = h.agent.seen();
    assert_eq!(
        seen.len(),
        1,
        "the body streams: the upstream saw the request start"
    );
    for seen in seen {
        assert!(
            !seen.body_complete.load(Ordering::SeqCst),
            "the upstream got a complete oversized body"
        );
        assert!(seen.body_bytes.load(Ordering::SeqCst) <= CAP as u64);
    }
}

/// `Expect: 100-continue` with a length over the cap gets 413 instead of 100 Continue;
/// within the cap it gets 100 Continue, then the upload goes through.
#[tokio::test]
async fn expect_continue() {
    let h = Harness::start().await;
    let mut tls = h.tls(&[b"http/1.1"]).await;
    let head = upload_head(
        &h,
        &format!("Content-Length: {}\r\nExpect: 100-continue\r\n", 2 * CAP),
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let response = read_head(&mut tls).await;
    assert_eq!(status_of(&response), 413, "{response}");
    assert!(h.agent_targets().is_empty());

    let mut tls = h.tls(&[b"http/1.1"]).await;
    let head = upload_head(&h, "Content-Length: 5\r\nExpect: 100-continue\r\n");
    tls.write_all(head.as_bytes()).await.unwrap();
    let interim = read_head(&mut tls).await;
    assert_eq!(status_of(&interim), 100, "{interim}");
    tls.write_all(b"hello").await.unwrap();
    let response = read_head(&mut tls).await;
    assert_eq!(status_of(&response), 200, "{response}");
}

/// A body with no declared length, fed chunk by chunk.
struct Trickle {
    left: usize,
}

impl http_body::Body for Trickle {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let n = this.left.min(32 * 1024);
        this.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'q'; n])))))
    }
}

/// Over HTTP/2 a streamed body with no content-length is counted too: 413, and the upstream
/// never sees it complete; the same under the cap passes.
#[tokio::test]
async fn http2_streamed_body_over_cap() {
    let h = Harness::start().await;
    for (size, want) in [
        (3 * CAP, StatusCode::PAYLOAD_TOO_LARGE),
        (CAP / 2, StatusCode::OK),
    ] {
        h.agent.clear_seen();
        let tls = h.tls(&[b"h2"]).await;
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = Request::put(format!("https://{}/api/workspace/upload", h.authority()))
            .header("authorization", basic(USER, PASSWORD))
            .body(Trickle { left: size })
            .unwrap();
        let response = sender.send_request(req).await.unwrap();
        assert_eq!(response.status(), want, "{size} bytes");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let complete = h
            .agent
            .seen()
            .iter()
            .any(|s| s.body_complete.load(Ordering::SeqCst));
        assert_eq!(
            complete,
            want == StatusCode::OK,
            "{size} bytes: upstream body complete = {complete}"
        );
    }
}

/// Without a route override, `limits.max_body_bytes` applies.
#[tokio::test]
async fn default_cap_applies() {
    let h = Harness::with(Options {
        extra: "[limits]\nmax_body_bytes = 1000",
        ..Options::default()
    })
    .await;
    let post = |n: usize| {
        Request::post("/api/jobs")
            .header("host", h.authority())
            .header("authorization", basic(USER, PASSWORD))
            .body(http_body_util::Full::new(Bytes::from(vec![b'j'; n])))
            .unwrap()
    };
    assert_eq!(
        h.send(post(1001)).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(h.send(post(1000)).await.status, StatusCode::CREATED);
}
