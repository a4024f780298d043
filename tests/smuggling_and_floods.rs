//! Request smuggling and HTTP/2 frame abuse, kept as tests. Smuggling: each probe hides a
//! request for `/smuggled` inside another request's framing. frontdoor re-frames every body
//! for the upstream, so the upstream may parse `/smuggled` only as often as frontdoor itself
//! handled a request for it (its `requests_total` for that route): one more would be a
//! desync. Floods: a client resetting thousands of
//! streams (rapid reset) while a good client keeps being served.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Harness, Options};
use http::Request;

const PUBLIC: &str = r#"
[[route]]
path = "/"
auth = "none"

[[route]]
path = "/smuggled"
exact = true
auth = "none"
"#;

/// The request every probe tries to smuggle: a public path of its own route, so that a
/// request frontdoor forwarded itself (a pipelined one) is told apart by frontdoor's count.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n";

fn probes(host: &str) -> Vec<(&'static str, String)> {
    let te_body = format!("0\r\n\r\n{SMUGGLED}");
    let cl_body_len = SMUGGLED.len() + 5;
    vec![
        (
            "CL.TE",
            format!(
                "POST /api/echo HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\
                 Transfer-Encoding: chunked\r\n\r\n{te_body}",
                te_body.len()
            ),
        ),
        (
            "TE.CL",
            format!(
                "POST /api/echo HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\
                 Content-Length: 3\r\n\r\n{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n",
                SMUGGLED.len()
            ),
        ),
        (
            "obfuscated TE (xchunked)",
            format!(
                "POST /api/echo HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: xchunked\r\n\
                 Content-Length: {cl_body_len}\r\n\r\n0\r\n\r\n{SMUGGLED}"
            ),
        ),
        (
            "obfuscated TE (space before colon)",
            format!(
                "POST /api/echo HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding : chunked\r\n\
                 Content-Length: {cl_body_len}\r\n\r\n0\r\n\r\n{SMUGGLED}"
            ),
        ),
        (
            "two TE headers",
            format!(
                "POST /api/echo HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\
                 Transfer-Encoding: identity\r\n\r\n{te_body}"
            ),
        ),
        (
            "duplicate Content-Length",
            format!(
                "POST /api/echo HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\
                 Content-Length: {}\r\n\r\n{SMUGGLED}",
                SMUGGLED.len()
            ),
        ),
        (
            "chunk extension hiding a length",
            format!(
                "POST /api/echo HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n\
                 2;x=\"\r\n0\r\n\r\n{SMUGGLED}\"\r\nab\r\n0\r\n\r\n"
            ),
        ),
        (
            "bare LF chunk lines",
            format!(
                "POST /api/echo HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n\
                 0\n\n{SMUGGLED}"
            ),
        ),
        (
            "pipelined after a refusal",
            format!(
                "GET /a%2fb HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{SMUGGLED}",
                SMUGGLED.len()
            ),
        ),
    ]
}

/// No probe makes the upstream parse a request for `/admin`, over fresh connections and
/// over one kept-alive upstream connection (the pool reuses it between probes).
#[tokio::test]
async fn no_probe_desyncs_the_upstream() {
    let h = Harness::with(Options {
        routes: PUBLIC,
        extra: "[admin]\nlisten = \"127.0.0.1:0\"\n",
        ..Options::default()
    })
    .await;
    for (name, probe) in probes(&h.authority()) {
        let _ = h.raw(probe.as_bytes()).await;
        // A plain request after each probe: it would complete a smuggled prefix left in the
        // upstream connection.
        let _ = h
            .raw(
                format!(
                    "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    h.authority()
                )
                .as_bytes(),
            )
            .await;
        let parsed = h
            .agent_targets()
            .iter()
            .filter(|t| t.as_str() == "/smuggled")
            .count();
        let handled = handled_by_frontdoor(&h, "/smuggled").await;
        assert!(
            parsed <= handled,
            "{name}: the upstream parsed /smuggled {parsed} times, frontdoor handled it {handled} times: {:?}",
            h.agent_targets()
        );
    }
    assert!(
        h.agent_targets().iter().any(|t| t == "/health"),
        "the follow-up requests reached the upstream"
    );
}

/// How many requests frontdoor itself handled on `route`, from its own metrics.
async fn handled_by_frontdoor(h: &Harness, route: &str) -> usize {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = h.server.as_ref().unwrap().admin_addr.unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).await.unwrap();
    let prefix = format!("frontdoor_requests_total{{route=\"{route}\",");
    text.lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as usize)
        .sum()
}

/// Rapid reset (CVE-2023-44487): a client opening and resetting 5,000 streams does not
/// starve a good client, whose requests all succeed promptly while the flood runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_reset_does_not_starve_a_good_client() {
    let h = Harness::with(Options {
        routes: PUBLIC,
        ..Options::default()
    })
    .await;
    let tls = h.tls(&[b"h2"]).await;
    let (client, connection) = h2::client::handshake(tls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let authority = h.authority();
    let flood = tokio::spawn(async move {
        let mut client = client;
        let mut sent = 0u32;
        for _ in 0..5_000 {
            let Ok(ready) = client.clone().ready().await else {
                break;
            };
            client = ready;
            let req = Request::get(format!("https://{authority}/api/slow?ms=2000"))
                .body(())
                .unwrap();
            let Ok((_response, mut stream)) = client.send_request(req, false) else {
                break;
            };
            stream.send_reset(h2::Reason::CANCEL);
            sent += 1;
        }
        sent
    });
    let mut slowest = Duration::ZERO;
    for _ in 0..30 {
        let started = Instant::now();
        let response = tokio::time::timeout(Duration::from_secs(5), h.get("/health", None))
            .await
            .expect("a good client's request took over 5 s during the flood");
        assert_eq!(response.status, 200);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = flood.await.unwrap();
    assert!(sent > 0, "the flood sent nothing");
    assert!(
        slowest < Duration::from_secs(5),
        "slowest good request: {slowest:?}"
    );
}

/// An HTTP/2 frame: 9-byte header, then the payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame floods on raw HTTP/2 connections (pings, settings, window updates, a header block
/// continued forever, streams opened and reset by the client's own RST_STREAM): each is
/// either absorbed or ends its connection, and a good client keeps being served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_floods_do_not_starve_a_good_client() {
    use tokio::io::AsyncWriteExt;
    let h = Harness::with(Options {
        routes: PUBLIC,
        ..Options::default()
    })
    .await;
    let authority = h.authority();
    // A minimal HPACK block: :method GET, :scheme https, :path /, :authority (literal).
    let mut block = vec![0x82, 0x87, 0x84, 0x41, authority.len() as u8];
    block.extend_from_slice(authority.as_bytes());
    let floods: Vec<(&str, Vec<u8>, usize)> = vec![
        ("ping", frame(6, 0, 0, &[1, 2, 3, 4, 5, 6, 7, 8]), 50_000),
        ("settings", frame(4, 0, 0, &[0, 3, 0, 0, 0, 100]), 50_000),
        ("window update", frame(8, 0, 0, &[0, 0, 0, 1]), 50_000),
        (
            "continuation",
            frame(9, 0, 1, &[0x40, 1, b'a', 1, b'b']),
            200_000,
        ),
        (
            "reset streams",
            Vec::new(), // built per stream below
            20_000,
        ),
    ];
    for (name, unit, count) in floods {
        let mut tls = h.tls(&[b"h2"]).await;
        let mut start = PREFACE.to_vec();
        start.extend(frame(4, 0, 0, &[]));
        if name == "continuation" {
            // HEADERS without END_HEADERS on stream 1, then CONTINUATION frames forever.
            start.extend(frame(1, 0, 1, &block));
        }
        tls.write_all(&start).await.unwrap();
        let block = block.clone();
        let flood = tokio::spawn(async move {
            let mut written = 0usize;
            let mut batch = Vec::new();
            for i in 0..count {
                if name == "reset streams" {
                    let stream = 1 + 2 * i as u32;
                    batch.extend(frame(1, 0x4 | 0x1, stream, &block));
                    batch.extend(frame(3, 0, stream, &[0, 0, 0, 8]));
                } else {
                    batch.extend_from_slice(&unit);
                }
                if batch.len() > 16 * 1024 {
                    if tls.write_all(&batch).await.is_err() {
                        return written;
                    }
                    written += batch.len();
                    batch.clear();
                }
            }
            let _ = tls.write_all(&batch).await;
            written
        });
        let mut slowest = Duration::ZERO;
        for _ in 0..10 {
            let started = Instant::now();
            let response = tokio::time::timeout(Duration::from_secs(5), h.get("/health", None))
                .await
                .unwrap_or_else(|_| panic!("{name} flood: a good request took over 5 s"));
            assert_eq!(response.status, 200, "{name} flood");
            slowest = slowest.max(started.elapsed());
        }
        let written = tokio::time::timeout(Duration::from_secs(30), flood)
            .await
            .unwrap_or_else(|_| panic!("{name} flood: the server neither read nor closed"))
            .unwrap();
        assert!(written > 0, "{name} flood wrote nothing");
        assert!(slowest < Duration::from_secs(5), "{name}: {slowest:?}");
    }
}
