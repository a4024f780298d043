//! `[forward_auth]` driven directly, as nginx's `auth_request`, Caddy's `forward_auth` and
//! Traefik's `ForwardAuth` call it. Traefik is not in Debian, so its contract is tested
//! here from its documentation and source: it sends the client's headers plus
//! `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri` and `-For`, passes a 2xx through to the
//! service with the headers named in `authResponseHeaders`, and sends any other answer to
//! the client as it is. Untrusted peers get 403; missing, repeated or unreadable headers
//! 400; ambiguous targets are refused as in proxy mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Harness, Options, PASSWORD, USER, basic, status_of};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROUTES: &str = r#"
[[route]]
path = "/health"
exact = true
auth = "none"

[[route]]
path = "/api"
auth = ["basic"]

[[route]]
path = "/api/secrets"
deny = true
"#;

async fn harness(trusted: &str) -> Harness {
    Harness::with(Options {
        extra: &format!(
            "[forward_auth]\nlisten = \"127.0.0.1:0\"\ntrusted_proxies = [{trusted}]\n"
        ),
        routes: ROUTES,
        ..Options::default()
    })
    .await
}

/// One raw HTTP/1.1 request to the forward-auth listener; (status, head).
async fn ask(h: &Harness, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let addr = h.server.as_ref().unwrap().forward_auth_addr.unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: frontdoor\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    let head = out.split("\r\n\r\n").next().unwrap_or("").to_string();
    (status_of(&out), head)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// What Traefik (and Caddy) send for a client request.
fn traefik<'a>(method: &'a str, uri: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("X-Forwarded-Method", method),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "localhost"),
        ("X-Forwarded-Uri", uri),
        ("X-Forwarded-For", "203.0.113.9"),
    ]
}

const FA: &str = "/_frontdoor/authz/forward-auth";
const AR: &str = "/_frontdoor/authz/auth-request";

#[tokio::test]
async fn traefik_and_caddy_contract() {
    let h = harness("\"127.0.0.1/32\"").await;
    let alice = basic(USER, PASSWORD);

    // Allowed: 200 with the identity headers, always present.
    let mut hdrs = traefik("GET", "/api/jobs?x=1");
    hdrs.push(("Authorization", &alice));
    let (status, head) = ask(&h, FA, &hdrs).await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(header(&head, "x-forwarded-user"), Some(USER));
    assert_eq!(header(&head, "x-forwarded-email"), Some(""));
    assert_eq!(header(&head, "x-forwarded-groups"), Some(""));
    // A public route: allowed, and the identity headers present and empty, so a client's
    // own X-Forwarded-User is overwritten by the proxy.
    let mut hdrs = traefik("GET", "/health");
    hdrs.push(("X-Forwarded-User", "mallory"));
    let (status, head) = ask(&h, FA, &hdrs).await;
    assert_eq!(status, 200);
    assert_eq!(header(&head, "x-forwarded-user"), Some(""));

    // Not signed in: 401 with the Basic challenge; a wrong password too.
    let (status, head) = ask(&h, FA, &traefik("GET", "/api/jobs")).await;
    assert_eq!(status, 401);
    assert!(
        header(&head, "www-authenticate")
            .unwrap()
            .starts_with("Basic ")
    );
    let wrong = basic(USER, "nope");
    let mut hdrs = traefik("GET", "/api/jobs");
    hdrs.push(("Authorization", &wrong));
    assert_eq!(ask(&h, FA, &hdrs).await.0, 401);

    // Hidden, unlisted, denied: 404; methods: 405 with Allow.
    for uri in [
        "/admin",
        "/%61dmin",
        "/x/../admin",
        "/api/%2e%2e/admin",
        "/nothing",
        "/api/secrets/x",
        "/API/SECRETS",
    ] {
        let mut hdrs = traefik("GET", uri);
        hdrs.push(("Authorization", &alice));
        assert_eq!(ask(&h, FA, &hdrs).await.0, 404, "{uri}");
    }
    // Ambiguous targets: 400, as in proxy mode.
    for uri in [
        "/api/..%2fadmin",
        "/../admin",
        "/api%2fjobs",
        "/api/jobs%00",
        "/api/jobs#x",
    ] {
        let mut hdrs = traefik("GET", uri);
        hdrs.push(("Authorization", &alice));
        assert_eq!(ask(&h, FA, &hdrs).await.0, 400, "{uri}");
    }
    // A host outside server.hosts is as in proxy mode (none pinned here: any host).
    // Missing, repeated, unreadable headers: 400, never a 2xx.
    for drop in [
        "X-Forwarded-Method",
        "X-Forwarded-Proto",
        "X-Forwarded-Host",
        "X-Forwarded-Uri",
    ] {
        let mut hdrs: Vec<(&str, &str)> = traefik("GET", "/health")
            .into_iter()
            .filter(|(k, _)| *k != drop)
            .collect();
        assert_eq!(ask(&h, FA, &hdrs).await.0, 400, "without {drop}");
        hdrs.push((drop, "x"));
        hdrs.push((drop, "y"));
        assert_eq!(ask(&h, FA, &hdrs).await.0, 400, "{drop} twice");
    }
    for (name, value) in [
        ("X-Forwarded-Uri", "api/jobs"),
        ("X-Forwarded-Uri", "https://evil/health"),
        ("X-Forwarded-Proto", "ftp"),
        ("X-Forwarded-Method", "GE T"),
        ("X-Forwarded-Host", "a.example, b.example"),
        ("X-Forwarded-Host", "user@localhost"),
    ] {
        let hdrs: Vec<(&str, &str)> = traefik("GET", "/health")
            .into_iter()
            .map(|(k, v)| if k == name { (k, value) } else { (k, v) })
            .collect();
        assert_eq!(ask(&h, FA, &hdrs).await.0, 400, "{name}: {value}");
    }
    // Nothing reached the upstream: the auth server never proxies.
    assert!(h.agent_targets().is_empty());
}

#[tokio::test]
async fn nginx_contract() {
    let h = harness("\"127.0.0.1/32\"").await;
    let alice = basic(USER, PASSWORD);
    let nginx = |method: &'static str, url: &'static str| {
        vec![("X-Original-Method", method), ("X-Original-URL", url)]
    };
    let mut hdrs = nginx("GET", "https://localhost/api/jobs?page=2");
    hdrs.push(("Authorization", &alice));
    let (status, head) = ask(&h, AR, &hdrs).await;
    assert_eq!(status, 200);
    assert_eq!(header(&head, "x-forwarded-user"), Some(USER));
    let (status, head) = ask(&h, AR, &nginx("GET", "https://localhost/api/jobs")).await;
    assert_eq!(status, 401);
    assert!(header(&head, "www-authenticate").is_some());
    // nginx understands 2xx, 401 and 403 only: hidden, unlisted, denied and wrong methods
    // are 403 (the README's snippet maps 403 to 404 for the client).
    for url in [
        "https://localhost/admin",
        "https://localhost/nothing",
        "https://localhost/api/secrets",
    ] {
        let mut hdrs = nginx("GET", url);
        hdrs.push(("Authorization", &alice));
        assert_eq!(ask(&h, AR, &hdrs).await.0, 403, "{url}");
    }
    let mut hdrs = nginx("CONNECT", "https://localhost/api/jobs");
    hdrs.push(("Authorization", &alice));
    assert_ne!(ask(&h, AR, &hdrs).await.0, 200);
    for bad in [
        vec![("X-Original-Method", "GET")],
        vec![("X-Original-URL", "https://localhost/health")],
        nginx("GET", "/health"),
        nginx("GET", "ftp://localhost/health"),
        nginx("GET", "https://user@localhost/health"),
    ] {
        assert_eq!(ask(&h, AR, &bad).await.0, 400, "{bad:?}");
    }
    // An ambiguous target is refused (403, as nginx understands it).
    let mut hdrs = nginx("GET", "https://localhost/api/..%2fadmin");
    hdrs.push(("Authorization", &alice));
    assert_eq!(ask(&h, AR, &hdrs).await.0, 403);
    // Banned: 403 for nginx (429 elsewhere).
    let wrong = basic(USER, "nope");
    let mut last = 0;
    for _ in 0..7 {
        let mut hdrs = nginx("GET", "https://localhost/api/jobs");
        hdrs.push(("Authorization", &wrong));
        last = ask(&h, AR, &hdrs).await.0;
    }
    assert_eq!(last, 403, "a ban is a 403 for nginx");
    let mut hdrs = traefik("GET", "/api/jobs");
    hdrs.push(("Authorization", &alice));
    assert_eq!(
        ask(&h, FA, &hdrs).await.0,
        429,
        "and a 429 for Caddy and Traefik"
    );
}

/// `check` warns about a forward-auth listener that trusts no proxy.
#[test]
fn check_warns_about_no_trusted_proxy() {
    let dir = common::TempDir::new("fa-check");
    let path = dir.join("f.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"127.0.0.1:0\"\n[tls]\nself_signed = true\ncert = \"c.pem\"\nkey = \"k.pem\"\n\
         [upstream]\nurl = \"http://127.0.0.1:9\"\n[forward_auth]\nlisten = \"127.0.0.1:0\"\n\
         [[route]]\npath = \"/health\"\nexact = true\nauth = \"none\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_frontdoor"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("warning: forward_auth.trusted_proxies") && text.contains("127.0.0.1/32"),
        "{text}"
    );
}

#[tokio::test]
async fn untrusted_peers_are_refused() {
    for trusted in ["\"10.0.0.0/8\"", ""] {
        let h = harness(trusted).await;
        let mut hdrs = traefik("GET", "/health");
        let alice = basic(USER, PASSWORD);
        hdrs.push(("Authorization", &alice));
        assert_eq!(ask(&h, FA, &hdrs).await.0, 403, "trusted = [{trusted}]");
        assert_eq!(
            ask(
                &h,
                AR,
                &[
                    ("X-Original-Method", "GET"),
                    ("X-Original-URL", "https://localhost/health")
                ]
            )
            .await
            .0,
            403
        );
    }
}
