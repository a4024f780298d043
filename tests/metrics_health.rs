//! Metrics and health: counters move as requests are made, the scrape parses as the
//! Prometheus text format, `/healthz` is 200 with a live upstream and 503 with the reason
//! when it is gone, and the admin listener refuses a public address unless allowed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::{Harness, Options, PASSWORD, USER};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GET over plain HTTP to the admin listener; returns (status, body).
async fn admin_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    tcp.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (common::status_of(&text), body)
}

/// Parses the text format: `name{labels} value` lines, `#` comments, nothing else.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in: {line}"
        );
        samples.insert(series.to_string(), value);
    }
    samples
}

fn admin(h: &Harness) -> std::net::SocketAddr {
    h.server
        .as_ref()
        .unwrap()
        .admin_addr
        .expect("admin listener")
}

#[tokio::test]
async fn counters_move_and_scrape_parses() {
    let h = Harness::with(Options {
        extra: "[admin]\nlisten = \"127.0.0.1:0\"",
        ..Options::default()
    })
    .await;
    let before = parse(&admin_get(admin(&h), "/metrics").await.1);
    assert_eq!(
        h.get("/api/jobs", Some((USER, PASSWORD))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.get("/api/jobs", Some((USER, PASSWORD))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.get("/api/jobs", Some((USER, "wrong"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.get("/admin", None).await.status, StatusCode::NOT_FOUND);
    let (status, text) = admin_get(admin(&h), "/metrics").await;
    assert_eq!(status, 200);
    let after = parse(&text);
    let get = |m: &HashMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
    assert_eq!(
        get(
            &after,
            "frontdoor_requests_total{route=\"/api/jobs\",status=\"200\"}"
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        get(
            &after,
            "frontdoor_requests_total{route=\"/api/jobs\",status=\"401\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        get(&after, "frontdoor_denials_total{reason=\"hidden path\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        get(&after, "frontdoor_login_failures_total")
            - get(&before, "frontdoor_login_failures_total"),
        1.0
    );
    assert!(
        get(&after, "frontdoor_login_cache_hits_total") >= 1.0,
        "second login came from the cache: {text}"
    );
    assert!(
        get(&after, "frontdoor_tls_handshakes_total{outcome=\"ok\"}") >= 4.0,
        "{text}"
    );
    assert_eq!(
        get(&after, "frontdoor_upstream_response_seconds_count"),
        2.0,
        "{text}"
    );
    assert!(
        get(&after, "frontdoor_certificate_expiry_timestamp_seconds") > 1.9e9,
        "{text}"
    );
    assert!(after.contains_key("frontdoor_active_connections"), "{text}");
    let (status, body) = admin_get(admin(&h), "/healthz").await;
    assert_eq!((status, body.trim()), (200, "{\"status\":\"ok\"}"));
    assert_eq!(admin_get(admin(&h), "/nope").await.0, 404);
}

#[tokio::test]
async fn healthz_says_why_when_the_upstream_is_down() {
    let (_reserved, closed) = common::refusing_address();
    let h = Harness::with(Options {
        extra: "[admin]\nlisten = \"127.0.0.1:0\"",
        upstream: Some(closed),
        ..Options::default()
    })
    .await;
    let (status, body) = admin_get(admin(&h), "/healthz").await;
    assert_eq!(status, 503, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains(&closed.to_string()),
        "{body}"
    );
    // The main listener's own health never touches the upstream.
    assert_eq!(
        h.get("/_frontdoor/health", None).await.status,
        StatusCode::OK
    );
}

/// The admin listener on a public address is refused like the main one.
#[test]
fn admin_listener_bind_guard() {
    let text = "[tls]\nself_signed = true\n[upstream]\nurl = \"http://127.0.0.1:1\"\n[admin]\nlisten = \"0.0.0.0:9090\"\n";
    let err =
        frontdoor::config::Config::from_toml(text, "t.toml", &frontdoor::config::Env::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
    assert!(
        err.contains("admin.listen") && err.contains("allow_public_bind"),
        "{err}"
    );
}
