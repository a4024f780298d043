//! What reaches the upstream from a hostile or careless client: passwords on public routes,
//! other proxies' identity and scheme headers, deny routes spelled in another case, and
//! request bodies whose framing is malformed or would change on the way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use common::{Harness, Options, basic, status_of};
use http::Request;
use http_body_util::Full;

/// The headers other authentication proxies and CDNs set, as a client would forge them.
const FORGED: &[(&str, &str)] = &[
    ("remote-email", "root@example.com"),
    ("remote-groups", "admins"),
    ("remote-name", "Root"),
    ("x-auth-request-email", "root@example.com"),
    ("x-auth-request-groups", "admins"),
    ("x-auth-request-preferred-username", "root"),
    ("x-forwarded-preferred-username", "root"),
    ("x-forwarded-access-token", "token"),
    ("x-webauth-user", "root"),
    ("x-user", "root"),
    ("x-auth-user", "root"),
    ("x-forwarded-scheme", "http"),
    ("x-scheme", "http"),
    ("x-forwarded-ssl", "off"),
    ("x-original-uri", "/admin"),
    ("x-forwarded-path", "/admin"),
    ("x-client-ip", "10.0.0.1"),
    ("true-client-ip", "10.0.0.1"),
    ("cf-connecting-ip", "10.0.0.1"),
];

const PUBLIC: &str = r#"
[[route]]
path = "/api/echo"
auth = "none"

[[route]]
path = "/app"
auth = "none"
forward_authorization = true

[[route]]
path = "/api/config"
deny = true

[[route]]
path = "/v1/secrets"
deny = true

[[route]]
path = "/"
auth = "none"
"#;

async fn public(server_extra: &'static str) -> Harness {
    Harness::with(Options {
        routes: PUBLIC,
        server_extra,
        ..Options::default()
    })
    .await
}

/// The Authorization headers the upstream received, one entry per request it saw.
fn authorizations(h: &Harness) -> Vec<Vec<String>> {
    h.agent
        .seen()
        .iter()
        .map(|r| {
            r.header("authorization")
                .iter()
                .map(|v| v.to_string())
                .collect()
        })
        .collect()
}

/// A browser resends Basic credentials to every URL below the one it signed in on: on a
/// public route they stop at frontdoor; a Bearer token (the app's own) passes; a route
/// with `forward_authorization = true` passes Basic too.
#[tokio::test]
async fn basic_passwords_stop_at_frontdoor() {
    let h = public("").await;
    for (path, value) in [
        ("/api/echo", basic("alice", "secret")),
        ("/api/echo", "Bearer app-token".to_string()),
        ("/app/x", basic("alice", "secret")),
    ] {
        let req = Request::get(path)
            .header("host", h.authority())
            .header("authorization", value)
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert_eq!(h.send(req).await.status, 200);
    }
    assert_eq!(
        authorizations(&h),
        vec![
            vec![],
            vec!["Bearer app-token".to_string()],
            vec![basic("alice", "secret")],
        ]
    );
}

fn forged_request(h: &Harness) -> Request<Full<Bytes>> {
    let mut req = Request::get("/api/echo").header("host", h.authority());
    for (name, value) in FORGED {
        req = req.header(*name, *value);
    }
    req.body(Full::new(Bytes::new())).unwrap()
}

/// Other proxies' identity, scheme and client-address headers never reach the upstream
/// from an ordinary client, over HTTP/1.1 and HTTP/2.
#[tokio::test]
async fn other_proxies_headers_are_removed() {
    let h = public("").await;
    assert_eq!(h.send(forged_request(&h)).await.status, 200);
    assert_eq!(h.send_h2(forged_request(&h)).await.status, 200);
    for seen in h.agent.seen() {
        for (name, _) in FORGED {
            assert!(seen.header(name).is_empty(), "{name} reached the upstream");
        }
    }
}

/// From a trusted proxy (which set them itself) the same headers are kept.
#[tokio::test]
async fn other_proxies_headers_pass_from_a_trusted_proxy() {
    let h = public("trusted_proxies = [\"127.0.0.0/8\"]").await;
    assert_eq!(h.send(forged_request(&h)).await.status, 200);
    let seen = h.agent.seen();
    for (name, value) in FORGED {
        assert_eq!(seen[0].header(name), vec![*value], "{name}");
    }
}

/// A deny route answers 404 to every spelling of its path: case, escapes, and the Unicode
/// letters whose case mapping is ASCII; a longer or different path is not caught.
#[tokio::test]
async fn deny_routes_ignore_case() {
    let h = public("").await;
    for (target, denied) in [
        ("/api/config", true),
        ("/API/CONFIG/status", true),
        ("/Api/Config", true),
        ("/api/%43ONFIG/x", true),
        ("/V1/%C5%BFECRETS", true),
        ("/v1/Secrets/db", true),
        ("/api/config/", true),
        ("/api/configx", false),
        ("/api/conf", false),
    ] {
        h.agent.clear_seen();
        let raw = h
            .raw(
                format!(
                    "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    h.authority()
                )
                .as_bytes(),
            )
            .await;
        if denied {
            assert_eq!(status_of(&raw), 404, "{target}: {raw}");
        }
        assert_eq!(h.agent_targets().is_empty(), denied, "{target}");
    }
}

/// A malformed chunked body is the client's 400 (not a 502 blamed on the upstream).
#[tokio::test]
async fn malformed_chunked_bodies_are_400() {
    let h = public("").await;
    for chunk in [
        "10000000000000003\r\nabc\r\n0\r\n\r\n",
        "0x3\r\nabc\r\n0\r\n\r\n",
        "3;ext\nabc\r\n0\r\n\r\n",
        "3\nabc\n0\n\n",
        "zz\r\nabc\r\n0\r\n\r\n",
    ] {
        let raw = h
            .raw(
                format!(
                    "POST /api/echo HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\n\
                     Connection: close\r\n\r\n{chunk}",
                    h.authority()
                )
                .as_bytes(),
            )
            .await;
        assert_eq!(status_of(&raw), 400, "{chunk:?}: {raw}");
    }
}

/// A transfer coding other than chunked is refused: it would be lost on the way.
#[tokio::test]
async fn other_transfer_codings_are_refused() {
    let h = public("").await;
    let raw = h
        .raw(
            format!(
                "POST /api/echo HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: gzip, chunked\r\n\
                 Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                h.authority()
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(status_of(&raw), 400, "{raw}");
    assert!(h.agent_targets().is_empty());
}

/// `Content-Length: 0005` reaches the upstream as `5`.
#[tokio::test]
async fn content_length_is_normalized() {
    let h = public("").await;
    let raw = h
        .raw(
            format!(
                "POST /api/echo HTTP/1.1\r\nHost: {}\r\nContent-Length: 0005\r\n\
                 Connection: close\r\n\r\nhello",
                h.authority()
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(status_of(&raw), 200, "{raw}");
    assert_eq!(h.agent.seen()[0].header("content-length"), vec!["5"]);
}

/// An HTTP/2 GET with a body and no declared length is forwarded with its body, like any
/// other request (not dropped on the way).
#[tokio::test]
async fn h2_body_without_length_is_forwarded() {
    let h = public("").await;
    let body = Chunks(
        [Bytes::from_static(b"hello "), Bytes::from_static(b"world")]
            .into_iter()
            .collect(),
    );
    let tls = h.tls(&[b"h2"]).await;
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = Request::get(format!("https://{}/api/echo", h.authority()))
        .body(body)
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    assert_eq!(response.status(), 200);
    let seen = h.agent.seen();
    assert_eq!(seen[0].body_bytes.load(Ordering::SeqCst), 11);
    // A GET's body is not read by many applications: the upstream connection is not
    // reused, so leftover body bytes can never be read as a request.
    assert_eq!(seen[0].header("connection"), vec!["close"]);
}

/// A body of a few data frames and no declared length.
struct Chunks(std::collections::VecDeque<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}
