//! The proxy's promises, each through real TLS to the real demo agent: login and the
//! identity it forwards, spoofed headers, Host rules, 405, 502 and 504, WebSocket, SSE,
//! HTTP/2, slow clients and the HTTP->HTTPS redirect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Harness, Options, PASSWORD, USER, basic, status_of, tool_output};
use frontdoor::demo::ws;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn empty() -> Full<Bytes> {
    Full::new(Bytes::new())
}

/// A public route needs no login; frontdoor's own health never touches the upstream.
#[tokio::test]
async fn public_route_and_own_health() {
    let h = Harness::start().await;
    let r = h.get("/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "ok");
    h.agent.clear_seen();
    let r = h.get("/_frontdoor/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        h.agent_targets().is_empty(),
        "frontdoor's health is its own"
    );
}

/// No credentials, a wrong password and an unknown user all get 401 with the realm;
/// the right password reaches the upstream with X-Forwarded-User and without Authorization.
#[tokio::test]
async fn basic_login() {
    let h = Harness::start().await;
    for creds in [None, Some((USER, "wrong")), Some(("mallory", PASSWORD))] {
        let r = h.get("/api/jobs", creds).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{creds:?}");
        assert_eq!(
            r.headers
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some("Basic realm=\"test\", charset=\"UTF-8\"")
        );
    }
    assert!(
        h.agent_targets().is_empty(),
        "no unauthenticated request reached the agent"
    );
    let r = h.get("/api/jobs", Some((USER, PASSWORD))).await;
    assert_eq!(r.status, StatusCode::OK);
    let seen = h.agent.seen();
    let last = seen.last().expect("agent saw the request");
    assert_eq!(last.header("x-forwarded-user"), vec![USER]);
    assert!(
        last.header("authorization").is_empty(),
        "consumed credentials are not forwarded"
    );
    // A malformed Authorization header is "no credentials", answered 401.
    let req = Request::get("/api/jobs")
        .header("host", h.authority())
        .header("authorization", "Basic %%%not-base64")
        .body(empty())
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::UNAUTHORIZED);
}

/// `forward_authorization = true` lets the consumed header through for that route only.
#[tokio::test]
async fn forward_authorization_when_route_says_so() {
    let routes = r#"
[[route]]
path = "/api/echo"
auth = ["basic"]
forward_authorization = true
"#;
    let h = Harness::with(Options {
        routes,
        ..Options::default()
    })
    .await;
    let r = h.get("/api/echo", Some((USER, PASSWORD))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["headers"]["authorization"], basic(USER, PASSWORD));
}

/// Users written by Apache's htpasswd (-B bcrypt, -m apr1, -s SHA) and `openssl passwd
/// -apr1` log in; a wrong password for each does not.
#[tokio::test]
async fn htpasswd_formats_from_real_tools() {
    let mut file = String::new();
    for (user, flag) in [("bcrypt", "B -C 5"), ("apr1", "m"), ("sha", "s")] {
        file += &common::apache_htpasswd_line(flag, user, "s3cret pw");
        file.push('\n');
    }
    let apr1 = tool_output("openssl", &["passwd", "-apr1", "s3cret pw"]);
    file += &format!("openssl:{}\n", apr1.trim());
    let h = Harness::with(Options {
        htpasswd: Some(file),
        ..Options::default()
    })
    .await;
    for user in ["bcrypt", "apr1", "sha", "openssl"] {
        let ok = h.get("/api/jobs", Some((user, "s3cret pw"))).await;
        assert_eq!(ok.status, StatusCode::OK, "{user} with the right password");
        let bad = h.get("/api/jobs", Some((user, "s3cret pX"))).await;
        assert_eq!(
            bad.status,
            StatusCode::UNAUTHORIZED,
            "{user} with a wrong password"
        );
    }
}

/// Identity and origin headers sent by the client are replaced, never passed on.
#[tokio::test]
async fn spoofed_identity_headers_are_stripped() {
    let h = Harness::start().await;
    let req = Request::get("/api/echo")
        .header("host", h.authority())
        .header("authorization", basic(USER, PASSWORD))
        .header("x-forwarded-user", "admin")
        .header("X-Forwarded-Email", "root@example.com")
        .header("x-forwarded-groups", "admins")
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "http")
        .header("x-real-ip", "6.6.6.6")
        .header("forwarded", "for=6.6.6.6;by=evil")
        .body(empty())
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::OK);
    let headers = &r.json()["headers"];
    assert_eq!(headers["x-forwarded-user"], USER);
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "https");
    assert_eq!(headers["x-forwarded-host"], h.authority());
    assert_eq!(headers["host"], h.authority());
    for gone in [
        "x-forwarded-email",
        "x-forwarded-groups",
        "x-real-ip",
        "forwarded",
    ] {
        assert!(headers.get(gone).is_none(), "{gone} reached the upstream");
    }
    // On a public route too: no identity at all, and the spoofed one is gone.
    let req = Request::get("/health")
        .header("host", h.authority())
        .header("x-forwarded-user", "admin")
        .body(empty())
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::OK);
    let seen = h.agent.seen();
    assert!(seen.last().unwrap().header("x-forwarded-user").is_empty());
}

/// With `server.hosts`, other names get 421; two Host headers or an absolute-form target
/// that disagrees with Host get 400; nothing reaches the upstream.
#[tokio::test]
async fn host_rules() {
    let h = Harness::with(Options {
        server_extra: "hosts = [\"localhost\"]",
        routes: "[[route]]\npath = \"/\"\nauth = \"none\"\n",
        ..Options::default()
    })
    .await;
    let port = h.addr.port();
    let cases: Vec<(String, u16)> = vec![
        (
            format!("GET / HTTP/1.1\r\nHost: evil.example:{port}\r\n\r\n"),
            421,
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: localhost:{port}\r\nHost: evil.example\r\n\r\n"),
            400,
        ),
        (
            format!("GET https://evil.example/ HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n"),
            400,
        ),
        ("GET / HTTP/1.1\r\n\r\n".to_string(), 400),
        (
            format!("GET / HTTP/1.1\r\nHost: user@localhost:{port}\r\n\r\n"),
            400,
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: LOCALHOST:{port}\r\n\r\n"),
            200,
        ),
    ];
    for (request, want) in cases {
        h.agent.clear_seen();
        let raw = h
            .raw(
                request
                    .replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await;
        assert_eq!(status_of(&raw), want, "{request:?} -> {raw}");
        if want != 200 {
            assert!(
                h.agent_targets().is_empty(),
                "{request:?} reached the upstream"
            );
        } else {
            let seen = h.agent.seen();
            assert_eq!(
                seen[0].header("host"),
                vec![format!("localhost:{port}")],
                "Host is the validated one"
            );
        }
    }
}

/// A method the route does not list gets 405 with Allow (HEAD implied by GET).
#[tokio::test]
async fn method_not_allowed() {
    let h = Harness::start().await;
    let req = Request::delete("/api/jobs")
        .header("host", h.authority())
        .header("authorization", basic(USER, PASSWORD))
        .body(empty())
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers.get("allow").unwrap(), "GET, HEAD, POST");
}

/// The upstream refusing connections is a 502; JSON for API clients, HTML otherwise.
#[tokio::test]
async fn upstream_down_is_502() {
    let (_reserved, closed) = common::refusing_address();
    let h = Harness::with(Options {
        upstream: Some(closed),
        ..Options::default()
    })
    .await;
    let r = h.get("/health", None).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert!(r.text().contains("502"), "{}", r.text());
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let req = Request::get("/health")
        .header("host", h.authority())
        .header("accept", "application/json")
        .body(empty())
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.json()["status"], 502);
}

/// An upstream slower than `response_timeout_secs` (2 s here) is a 504.
#[tokio::test]
async fn slow_upstream_is_504() {
    let h = Harness::start().await;
    let started = Instant::now();
    let r = h.get("/api/slow?ms=10000", None).await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(6));
    let r = h.get("/api/slow?ms=10", None).await;
    assert_eq!(r.status, StatusCode::OK, "a fast answer still passes");
}

/// A WebSocket upgrade passes through the login and echoes frames both ways.
#[tokio::test]
async fn websocket_round_trip() {
    let h = Harness::start().await;
    let mut tls = h.tls(&[b"http/1.1"]).await;
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        h.authority(),
        basic(USER, PASSWORD)
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            tls.read(&mut byte).await.unwrap(),
            1,
            "connection closed during handshake"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    for message in ["hello", "second message", &"x".repeat(70_000)] {
        ws::write_frame(
            &mut tls,
            ws::OP_TEXT,
            message.as_bytes(),
            Some([7, 1, 2, 9]),
        )
        .await
        .unwrap();
        let frame = ws::read_frame(&mut tls).await.unwrap();
        assert_eq!(frame.opcode, ws::OP_TEXT);
        assert_eq!(frame.payload, message.as_bytes());
    }
    ws::write_frame(&mut tls, ws::OP_CLOSE, b"", Some([1, 1, 1, 1]))
        .await
        .unwrap();
    assert_eq!(ws::read_frame(&mut tls).await.unwrap().opcode, ws::OP_CLOSE);
    // Without credentials the upgrade is refused before the upstream sees it.
    h.agent.clear_seen();
    let raw = h
        .raw(format!(
            "GET /ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            h.authority()
        ).as_bytes())
        .await;
    assert_eq!(status_of(&raw), 401);
    assert!(h.agent_targets().is_empty());
}

/// Server-sent events stream through event by event: the first arrives long before the
/// upstream finishes.
#[tokio::test]
async fn sse_streams_event_by_event() {
    let h = Harness::start().await;
    let tls = h.tls(&[b"http/1.1"]).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get("/api/events?count=3&interval_ms=1500")
        .header("host", h.authority())
        .header("authorization", basic(USER, PASSWORD))
        .body(empty())
        .unwrap();
    let started = Instant::now();
    let response = sender.send_request(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let first_at = started.elapsed();
    assert!(String::from_utf8_lossy(&first).contains("data: {\"n\":1}"));
    assert!(
        first_at < Duration::from_millis(1000),
        "first event after {first_at:?}"
    );
    let mut rest = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            rest.extend_from_slice(&data);
        }
    }
    assert!(String::from_utf8_lossy(&rest).contains("data: {\"n\":3}"));
    assert!(
        started.elapsed() >= Duration::from_millis(3000),
        "the stream really took its time"
    );
}

/// HTTP/2 and HTTP/1.1 are both served, with the same rules.
#[tokio::test]
async fn http2_and_http1() {
    let h = Harness::start().await;
    let req = Request::get(format!("https://{}/api/jobs", h.authority()))
        .header("authorization", basic(USER, PASSWORD))
        .body(empty())
        .unwrap();
    let r = h.send_h2(req).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        h.agent.seen().last().unwrap().header("host"),
        vec![h.authority()],
        "h2 :authority becomes Host upstream"
    );
    let req = Request::get(format!("https://{}/admin", h.authority()))
        .header("authorization", basic(USER, PASSWORD))
        .body(empty())
        .unwrap();
    assert_eq!(h.send_h2(req).await.status, StatusCode::NOT_FOUND);
    let r = h.get("/api/jobs", Some((USER, PASSWORD))).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// A large download streams through without being buffered whole.
#[tokio::test]
async fn large_download_streams() {
    let h = Harness::start().await;
    let r = h.get("/api/download?bytes=67108864", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.len(), 64 << 20);
}

/// A client that sends its headers too slowly (slowloris) is disconnected after
/// `header_timeout_secs` (1 s), and an idle keep-alive connection after `idle_timeout_secs`
/// (2 s), not after the shorter header timeout.
#[tokio::test]
async fn slow_and_idle_clients_are_cut_off() {
    let h = Harness::with(Options {
        server_extra: "header_timeout_secs = 1\nidle_timeout_secs = 2",
        ..Options::default()
    })
    .await;
    let mut tls = h.tls(&[b"http/1.1"]).await;
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "connection still open after 5 s of partial headers"
    );
    assert!(started.elapsed() < Duration::from_secs(4));

    // Idle keep-alive: one request, then silence.
    let mut tls = h.tls(&[b"http/1.1"]).await;
    tls.write_all(format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", h.authority()).as_bytes())
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(8), tls.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "idle connection still open after 8 s");
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
    assert!(
        started.elapsed() >= Duration::from_millis(1800),
        "closed too early: {:?}",
        started.elapsed()
    );
}

/// The plain-HTTP listener answers 308 to the same path and query over HTTPS.
#[tokio::test]
async fn http_listener_redirects() {
    let h = Harness::with(Options {
        server_extra: "http_listen = \"127.0.0.1:0\"",
        ..Options::default()
    })
    .await;
    let http_addr = h.server.as_ref().unwrap().http_addr.unwrap();
    let mut tcp = tokio::net::TcpStream::connect(http_addr).await.unwrap();
    tcp.write_all(b"GET /api/jobs?x=1 HTTP/1.1\r\nHost: localhost:80\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    tcp.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert_eq!(status_of(&text), 308, "{text}");
    let location = format!("location: https://localhost:{}/api/jobs?x=1", h.addr.port());
    assert!(text.to_ascii_lowercase().contains(&location), "{text}");
    assert!(h.agent_targets().is_empty());
}

/// Request headers over `server.max_header_bytes` get 431, never reaching the upstream.
#[tokio::test]
async fn oversized_headers_are_refused() {
    let h = Harness::start().await;
    let raw = h
        .raw(
            format!(
                "GET /health HTTP/1.1\r\nHost: {}\r\nX-Big: {}\r\n\r\n",
                h.authority(),
                "a".repeat(40_000)
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(status_of(&raw), 431, "{raw}");
    assert!(h.agent_targets().is_empty());
}

/// From a trusted proxy, X-Forwarded-For is kept and the peer appended; from anyone else it
/// is replaced (the unit tests in src/proxy cover the untrusted side too).
#[tokio::test]
async fn trusted_proxy_keeps_forwarded_for() {
    let h = Harness::with(Options {
        server_extra: "trusted_proxies = [\"127.0.0.0/8\"]",
        ..Options::default()
    })
    .await;
    let req = Request::get("/api/echo")
        .header("host", h.authority())
        .header("authorization", basic(USER, PASSWORD))
        .header("x-forwarded-for", "203.0.113.5")
        .header("x-forwarded-user", "admin")
        .body(empty())
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(
        r.json()["headers"]["x-forwarded-for"],
        "203.0.113.5, 127.0.0.1"
    );
    assert_eq!(
        r.json()["headers"]["x-forwarded-user"],
        USER,
        "identity is never taken from a proxy"
    );
}

/// An upgrade to anything but WebSocket (h2c here) is never tunneled: the Upgrade header
/// is removed, so the upstream (which would agree to h2c) answers as to a plain request.
#[tokio::test]
async fn h2c_upgrade_is_not_tunneled() {
    let h = Harness::with(Options {
        routes: "[[route]]\npath = \"/ws\"\nauth = \"none\"\n",
        ..Options::default()
    })
    .await;
    let raw = h
        .raw(
            format!(
                "GET /ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
                 HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
                h.authority()
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(status_of(&raw), 400, "the upstream saw no upgrade: {raw}");
    let seen = h.agent.seen();
    assert!(seen[0].header("upgrade").is_empty());
    assert!(seen[0].header("http2-settings").is_empty());
    // A POST asking for a websocket upgrade is not a handshake either.
    h.agent.clear_seen();
    let raw = h
        .raw(
            format!(
                "POST /ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n",
                h.authority()
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(status_of(&raw), 404, "{raw}");
    assert!(h.agent.seen()[0].header("upgrade").is_empty());
}

/// The response timeout (2 s) starts once the upload is sent: a steady 3-second upload
/// succeeds; a client that stops sending mid-body gets 408 after the body timeout.
#[tokio::test]
async fn slow_uploads() {
    let h = Harness::with(Options {
        server_extra: "body_timeout_secs = 1",
        ..Options::default()
    })
    .await;
    let head = format!(
        "PUT /api/workspace/upload HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Length: 60\r\n\r\n",
        h.authority(),
        basic(USER, PASSWORD)
    );
    let mut tls = h.tls(&[b"http/1.1"]).await;
    tls.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        tls.write_all(b"0123456789").await.unwrap();
    }
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert_eq!(status_of(&text), 200, "{text}");
    assert!(text.contains("\"received\":60"), "{text}");

    let mut tls = h.tls(&[b"http/1.1"]).await;
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(b"only ten b").await.unwrap();
    let started = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert_eq!(status_of(&text), 408, "{text}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// Cookies split over several HTTP/2 fields reach an HTTP/1.1 upstream as one header.
#[tokio::test]
async fn http2_cookies_are_joined() {
    let h = Harness::start().await;
    let req = Request::get(format!("https://{}/api/echo", h.authority()))
        .header("authorization", basic(USER, PASSWORD))
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .body(empty())
        .unwrap();
    let r = h.send_h2(req).await;
    assert_eq!(r.json()["headers"]["cookie"], "a=1; b=2");
    assert_eq!(h.agent.seen()[0].header("cookie").len(), 1);
}

/// A slowloris that keeps trickling header bytes (one every 200 ms) is still cut off when
/// `header_timeout_secs` has passed since its first byte: activity does not reset it.
#[tokio::test]
async fn trickled_headers_are_cut_off() {
    let h = Harness::with(Options {
        server_extra: "header_timeout_secs = 1\nidle_timeout_secs = 30",
        ..Options::default()
    })
    .await;
    let mut tls = h.tls(&[b"http/1.1"]).await;
    let started = Instant::now();
    let mut closed_after = None;
    for byte in b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
        .iter()
        .cycle()
        .take(100)
    {
        if tls.write_all(&[*byte]).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), tls.read(&mut probe)).await
        {
            closed_after = Some(started.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("a trickling client was never cut off");
    assert!(
        closed_after < Duration::from_secs(4),
        "cut off only after {closed_after:?}"
    );
    assert!(h.agent_targets().is_empty());
}

/// A client that completes TLS and then sends nothing is closed after
/// `header_timeout_secs` (1 s here), not after the longer idle timeout.
#[tokio::test]
async fn silent_new_connections_get_the_header_timeout() {
    let h = Harness::with(Options {
        server_extra: "header_timeout_secs = 1\nidle_timeout_secs = 30",
        ..Options::default()
    })
    .await;
    let mut tls = h.tls(&[b"http/1.1"]).await;
    let started = Instant::now();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "a silent connection was kept past 5 s");
    assert!(started.elapsed() < Duration::from_secs(4));
}

// An open tunnel no longer holds a `max_connections` slot: tunnels have their own cap,
// `server.max_tunnels` (tests/slow_clients.rs, `tunnels_have_their_own_cap`).
