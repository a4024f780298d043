//! Route rate limits through TLS, over HTTP/1.1 and HTTP/2: per login (a Basic user and an
//! API key each have their own bucket), per client address on a public route (the real
//! client behind trusted_proxies, IPv6 by /64); above the limit 429 with Retry-After and
//! the IETF draft's RateLimit-Policy/RateLimit headers, the upstream never asked; HEAD gets
//! the same; /metrics counts them per route; a reload keeps the counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::{Harness, Options, PASSWORD, TestResponse, USER, basic};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROUTES: &str = r#"
[[route]]
path = "/api/echo"
auth = ["basic", "api_key"]
rate_limit = "3/min"

[[route]]
path = "/api/download"
auth = "none"
rate_limit = "2/h"
"#;

async fn call(
    h: &Harness,
    h2: bool,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> TestResponse {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", h.authority());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let req = builder.body(Full::new(Bytes::new())).unwrap();
    if h2 {
        h.send_h2(req).await
    } else {
        h.send(req).await
    }
}

fn assert_limited(r: &TestResponse, policy: &str, q: u32, w: u64, context: &str) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{context}");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=w).contains(&retry), "{context}: Retry-After {retry}");
    assert_eq!(
        r.headers["ratelimit-policy"],
        format!("\"{policy}\";q={q};w={w}").as_str(),
        "{context}"
    );
    assert_eq!(
        r.headers["ratelimit"],
        format!("\"{policy}\";r=0;t={retry}").as_str(),
        "{context}"
    );
    assert_eq!(r.headers["content-type"], "application/json", "{context}");
}

async fn metrics(h: &Harness) -> String {
    let addr = h.server.as_ref().unwrap().admin_addr.unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn limits_per_login_and_per_address() {
    let keys_dir = common::TempDir::new("ratekeys");
    let keys = keys_dir.join("keys.toml");
    let bot = frontdoor::auth::api_keys::commands::add(
        &keys,
        &frontdoor::auth::api_keys::commands::AddOptions {
            name: "bot".into(),
            routes: vec![],
            methods: vec![],
            expires: None,
        },
        frontdoor::clock::now_unix(),
    )
    .unwrap();
    let extra = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n[auth.api_keys]\nfile = \"{}\"",
        keys.display()
    );
    let mut h = Harness::with(Options {
        extra: &extra,
        server_extra: "trusted_proxies = [\"127.0.0.1/32\"]",
        routes: ROUTES,
        ..Options::default()
    })
    .await;
    let alice = basic(USER, PASSWORD);

    // alice: three requests a minute, over either protocol (one bucket for her).
    h.agent.clear_seen();
    for h2 in [false, true, false] {
        let r = call(
            &h,
            h2,
            Method::GET,
            "/api/echo",
            &[("authorization", &alice)],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    for (h2, method) in [
        (false, Method::GET),
        (true, Method::GET),
        (true, Method::HEAD),
    ] {
        let r = call(
            &h,
            h2,
            method.clone(),
            "/api/echo",
            &[("authorization", &alice)],
        )
        .await;
        assert_limited(&r, "/api/echo", 3, 60, &format!("alice {method} h2={h2}"));
        if method == Method::HEAD {
            assert!(r.body.is_empty());
        }
    }
    assert_eq!(h.agent.seen().len(), 3, "the upstream saw only what passed");
    // The key has its own bucket; so does every other caller.
    let r = call(&h, true, Method::GET, "/api/echo", &[("x-api-key", &bot)]).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a key is not limited by alice's use"
    );
    // Changing the spelling of a login does not escape it: a wrong password is a 401
    // (refused before the limit is counted), never a fresh bucket.
    let r = call(
        &h,
        false,
        Method::GET,
        "/api/echo",
        &[("authorization", &basic(USER, "nope"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // A public route counts client addresses: the real one behind the trusted proxy.
    let download = "/api/download?bytes=10";
    for (xff, want) in [
        ("198.51.100.7", StatusCode::OK),
        ("198.51.100.7", StatusCode::OK),
        ("198.51.100.7", StatusCode::TOO_MANY_REQUESTS),
        ("198.51.100.8", StatusCode::OK),
        ("2001:db8:1:2::1", StatusCode::OK),
        ("2001:db8:1:2::2", StatusCode::OK),
        ("2001:db8:1:2:ffff::3", StatusCode::TOO_MANY_REQUESTS),
        ("2001:db8:1:3::1", StatusCode::OK),
    ] {
        let r = call(&h, true, Method::GET, download, &[("x-forwarded-for", xff)]).await;
        assert_eq!(r.status, want, "{xff}");
        if want == StatusCode::TOO_MANY_REQUESTS {
            assert_limited(&r, "/api/download", 2, 3600, xff);
        }
    }

    // /metrics counts them by route.
    let text = metrics(&h).await;
    let count = |route: &str| -> f64 {
        text.lines()
            .find(|l| {
                l.starts_with("frontdoor_rate_limited_total")
                    && l.contains(&format!("route=\"{route}\""))
            })
            .and_then(|l| l.rsplit_once(' '))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or_else(|| panic!("no rate_limited sample for {route}:\n{text}"))
    };
    assert_eq!(count("/api/echo"), 3.0);
    assert_eq!(count("/api/download"), 2.0);

    h.shutdown().await;
}

/// A reload of the config file keeps a route's counts while its limit is unchanged, and
/// starts afresh when the limit changes.
#[tokio::test]
async fn limits_survive_a_reload() {
    let common::Setup { dir, agent } = common::Setup::new("ratereload").await;
    let path = dir.join("frontdoor.toml");
    let write = |limit: &str| {
        std::fs::write(
            &path,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n[tls]\nself_signed = true\ncert = \"cert.pem\"\nkey = \"key.pem\"\n\
                 [upstream]\nurl = \"http://{}\"\n[[route]]\npath = \"/api/download\"\nauth = \"none\"\nrate_limit = \"{limit}\"\n",
                agent.addr
            ),
        )
        .unwrap();
    };
    write("1/h");
    let server = frontdoor::server::start(frontdoor::config::Config::load(&path).unwrap())
        .await
        .unwrap();
    let client = common::Client::new(server.https_addr, &dir.join("cert.pem"));
    let get = || client.get("/api/download?bytes=1", None);
    assert_eq!(get().await.status, StatusCode::OK);
    assert_eq!(get().await.status, StatusCode::TOO_MANY_REQUESTS);
    server.reload().expect("reload, same limit");
    assert_eq!(
        get().await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "kept across a reload"
    );
    write("2/h");
    server.reload().expect("reload, new limit");
    assert_eq!(
        get().await.status,
        StatusCode::OK,
        "a new limit starts afresh"
    );
    assert_eq!(get().await.status, StatusCode::OK);
    let r = get().await;
    assert_limited(&r, "/api/download", 2, 3600, "new limit in force");
    server.shutdown().await;
}

/// Bad limits are named with their route and a fix.
#[test]
fn rate_limit_mistakes_are_named() {
    use frontdoor::config::{Config, Env};
    let base = "[server]\nlisten = \"127.0.0.1:0\"\n[tls]\nself_signed = true\ncert = \"c.pem\"\nkey = \"k.pem\"\n[upstream]\nurl = \"http://127.0.0.1:9\"\n[[route]]\npath = \"/api\"\nauth = \"none\"\n";
    for (extra, key, words) in [
        ("rate_limit = \"60\"", "route[0].rate_limit", "60/min"),
        (
            "rate_limit = \"60/day\"",
            "route[0].rate_limit",
            "s, min, h",
        ),
        ("rate_limit = \"0/s\"", "route[0].rate_limit", "from 1 to"),
        ("burst = 5", "route[0].burst", "rate_limit"),
    ] {
        let err = Config::from_toml(&format!("{base}{extra}\n"), "f.toml", &Env::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(key) && err.contains(words), "{extra}: {err}");
    }
}
