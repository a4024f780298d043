//! frontdoor as the authentication server of a real nginx and a real Caddy (Debian's), each
//! running the snippet shipped in deploy/forward-auth/ with only its CAPITALS replaced, in
//! front of the demo agent: the whole path-confusion table through each front (nothing
//! hidden, unlisted or ambiguous reaches the agent); spoofed identity headers never reach
//! it; Basic, an API key and the sign-in page work through each front, and a browser
//! without a session is sent to sign in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::fronts::{Caddy, Nginx};
use common::paths::{LISTED, PUBLIC_ROOT, Table, rows};
use common::{Client, Harness, Options, PASSWORD, TempDir, USER, basic, status_of};
use http::{Method, Request, StatusCode};
use http_body_util::Full;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Nginx,
    Caddy,
}

/// A running front: the process (stopped on drop) and a client for it.
enum Front {
    Nginx(Nginx),
    Caddy(Caddy),
}

impl Front {
    fn port(&self) -> u16 {
        match self {
            Front::Nginx(n) => n.port,
            Front::Caddy(c) => c.port,
        }
    }
}

/// The shipped snippet for `kind`, filled in for this harness.
fn start_front(kind: Kind, h: &Harness, dir: &TempDir) -> (Front, Client) {
    let server = h.server.as_ref().unwrap();
    let (file, listen) = match kind {
        Kind::Nginx => ("nginx.conf", "127.0.0.1:{PORT}"),
        Kind::Caddy => ("Caddyfile", "https://localhost:{PORT}"),
    };
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/forward-auth")
            .join(file),
    )
    .unwrap();
    let text = text
        .replace("LISTEN", listen)
        .replace("SITE", listen)
        .replace("CERT", &h.dir.join("cert.pem").display().to_string())
        .replace("KEY", &h.dir.join("key.pem").display().to_string())
        .replace("APP", &h.agent.addr.to_string())
        .replace("FRONTDOOR", &server.https_addr.to_string())
        .replace("AUTHZ", &server.forward_auth_addr.unwrap().to_string());
    let front = match kind {
        Kind::Nginx => Front::Nginx(Nginx::start(dir, &text).0),
        Kind::Caddy => Front::Caddy(Caddy::start(dir, &text).0),
    };
    let client = Client::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], front.port())),
        &h.dir.join("cert.pem"),
    );
    (front, client)
}

async fn frontdoor(routes: &str, extra: &str) -> Harness {
    Harness::with(Options {
        extra: &format!(
            "[forward_auth]\nlisten = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.1/32\"]\n{extra}"
        ),
        server_extra: "trusted_proxies = [\"127.0.0.1/32\"]",
        routes,
        ..Options::default()
    })
    .await
}

/// The path-confusion table through each front: a row that must not reach the upstream
/// does not, and its client gets no 2xx; the rest are not asserted on the status (a front
/// may refuse an odd target itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_confusion_table_through_each_front() {
    for kind in [Kind::Nginx, Kind::Caddy] {
        for (table, routes) in [(Table::PublicRoot, PUBLIC_ROOT), (Table::Listed, LISTED)] {
            let h = frontdoor(routes, "").await;
            let dir = TempDir::new("front");
            let (_front, client) = start_front(kind, &h, &dir);
            let mut checked = 0;
            for row in rows().into_iter().filter(|r| r.table == table) {
                if row.target.len() > 4096 {
                    continue; // a front's own header-size limit answers first
                }
                h.agent.clear_seen();
                let request = format!(
                    "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    row.method,
                    row.target,
                    client.authority()
                );
                let answer = client.raw(request.as_bytes()).await;
                let status = status_of(&answer);
                if row.forwarded.is_none() {
                    // Whatever reached the upstream must be what frontdoor allows: the
                    // target as the upstream received it, normalized, decided Allowed. (A
                    // front may read a target differently from proxy mode: Caddy sends
                    // `/admin#/../health` on as `/admin%23/../health`, which is /health.)
                    // What the client sees: a refusal, unless the upstream answered
                    // (or frontdoor's own page, through the front's /_frontdoor/ route).
                    assert!(
                        !h.agent_targets().is_empty()
                            || !(200..300).contains(&status)
                            || row.target.contains("_frontdoor"),
                        "{kind:?} {table:?} {} {}: status {status} with nothing upstream",
                        row.method,
                        row.target
                    );
                    for seen in h.agent_targets() {
                        let path = seen.split('?').next().unwrap_or("/");
                        let allowed = frontdoor::policy::normalize::normalize_path(path)
                            .ok()
                            .is_some_and(|normalized| {
                                let runtime = h.server.as_ref().unwrap().state.runtime.load();
                                let method = Method::from_bytes(row.method.as_bytes()).unwrap();
                                matches!(
                                    runtime.config.routes.decide(&method, &normalized),
                                    frontdoor::policy::routes::Decision::Allowed { .. }
                                )
                            });
                        assert!(
                            allowed,
                            "{kind:?} {table:?} {} {}: reached the upstream as {seen} (status {status})",
                            row.method, row.target
                        );
                    }
                    checked += 1;
                }
            }
            assert!(checked > 15, "{kind:?} {table:?}: {checked} rows");
        }
    }
}

async fn send(
    client: &Client,
    h2: bool,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> common::TestResponse {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", client.authority());
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    if h2 {
        client.send_h2(req).await
    } else {
        client.send(req).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_and_identity_through_each_front() {
    let secrets = TempDir::new("front-secrets");
    std::fs::write(
        secrets.join("cookie-key"),
        "a-cookie-key-of-more-than-32-bytes-for-fronts\n",
    )
    .unwrap();
    std::fs::set_permissions(
        secrets.join("cookie-key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let key = frontdoor::auth::api_keys::commands::add(
        &secrets.join("keys.toml"),
        &frontdoor::auth::api_keys::commands::AddOptions {
            name: "ci".into(),
            routes: vec![],
            methods: vec![],
            expires: None,
        },
        frontdoor::clock::now_unix(),
    )
    .unwrap();
    let extra = format!(
        "[auth.api_keys]\nfile = \"{s}/keys.toml\"\n[auth.login]\n[session]\ncookie_key = \"file:{s}/cookie-key\"\n",
        s = secrets.path().display()
    );
    let routes = r#"
[[route]]
path = "/health"
exact = true
auth = "none"

[[route]]
path = "/api/echo"
auth = ["basic", "api_key", "login"]

[[route]]
path = "/app"
auth = ["login"]
"#;
    for kind in [Kind::Nginx, Kind::Caddy] {
        let h = frontdoor(routes, &extra).await;
        let dir = TempDir::new("front");
        let (_front, client) = start_front(kind, &h, &dir);
        for h2 in [false, true] {
            let ctx = format!("{kind:?} h2={h2}");
            // Basic: forwarded with the user, without the credentials.
            h.agent.clear_seen();
            let alice = basic(USER, PASSWORD);
            let r = send(
                &client,
                h2,
                Method::GET,
                "/api/echo",
                &[("authorization", &alice), ("x-forwarded-user", "mallory")],
                "",
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{ctx}: {}", r.text());
            let seen = h.agent.seen();
            assert_eq!(seen.len(), 1, "{ctx}: {:?} {}", r.headers, r.text());
            assert_eq!(seen[0].header("x-forwarded-user"), vec![USER], "{ctx}");
            assert!(seen[0].header("authorization").is_empty(), "{ctx}");
            // An API key: the key's name, not the key.
            h.agent.clear_seen();
            let r = send(
                &client,
                h2,
                Method::GET,
                "/api/echo",
                &[("x-api-key", &key)],
                "",
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{ctx}");
            let seen = h.agent.seen();
            assert_eq!(seen[0].header("x-forwarded-user"), vec!["ci"], "{ctx}");
            assert!(seen[0].header("x-api-key").is_empty(), "{ctx}");
            // A public route: a client's own identity headers never reach the upstream.
            h.agent.clear_seen();
            let r = send(
                &client,
                h2,
                Method::GET,
                "/health",
                &[
                    ("x-forwarded-user", "mallory"),
                    ("x-forwarded-email", "m@evil"),
                    ("x-forwarded-groups", "admins"),
                ],
                "",
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{ctx}");
            for name in [
                "x-forwarded-user",
                "x-forwarded-email",
                "x-forwarded-groups",
            ] {
                let values = h.agent.seen()[0]
                    .header(name)
                    .into_iter()
                    .map(str::to_string)
                    .collect::<Vec<_>>();
                assert!(
                    values.iter().all(|v| v.is_empty()),
                    "{ctx}: {name} = {values:?}"
                );
            }
            // No credentials: a script gets 401, a browser is sent to the sign-in page.
            h.agent.clear_seen();
            let r = send(
                &client,
                h2,
                Method::GET,
                "/api/echo",
                &[("accept", "application/json")],
                "",
            )
            .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{ctx}");
            let r = send(
                &client,
                h2,
                Method::GET,
                "/app/page",
                &[("accept", "text/html"), ("sec-fetch-mode", "navigate")],
                "",
            )
            .await;
            assert_eq!(r.status, StatusCode::FOUND, "{ctx}");
            let location = r.headers["location"].to_str().unwrap();
            assert!(
                location.contains("/_frontdoor/login?rd=%2Fapp%2Fpage"),
                "{ctx}: {location}"
            );
            assert!(h.agent.seen().is_empty(), "{ctx}");
            // Hidden: 404 through the front too.
            let r = send(
                &client,
                h2,
                Method::GET,
                "/admin",
                &[("authorization", &alice)],
                "",
            )
            .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{ctx}");
            assert!(h.agent.seen().is_empty(), "{ctx}");

            // The sign-in page through the front, then a page behind it.
            let form = send(
                &client,
                h2,
                Method::GET,
                "/_frontdoor/login?rd=%2Fapp%2Fpage",
                &[("accept", "text/html")],
                "",
            )
            .await;
            assert_eq!(form.status, StatusCode::OK, "{ctx}");
            let csrf_cookie = form
                .headers
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
                .find(|c| c.starts_with("__Host-fd_csrf="))
                .unwrap();
            let html = form.text();
            let marker = "name=\"csrf\" value=\"";
            let start = html.find(marker).unwrap() + marker.len();
            let csrf = &html[start..start + html[start..].find('"').unwrap()];
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("csrf", csrf),
                    ("user", USER),
                    ("password", PASSWORD),
                    ("rd", "/app/page"),
                ])
                .finish();
            let origin = format!("https://{}", client.authority());
            let signed = send(
                &client,
                h2,
                Method::POST,
                "/_frontdoor/login",
                &[
                    ("origin", &origin),
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("cookie", &csrf_cookie),
                ],
                &body,
            )
            .await;
            assert_eq!(
                signed.status,
                StatusCode::SEE_OTHER,
                "{ctx}: {}",
                signed.text()
            );
            let session: Vec<String> = signed
                .headers
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
                .filter(|c| c.starts_with("__Host-fd_session"))
                .collect();
            assert!(!session.is_empty(), "{ctx}");
            h.agent.clear_seen();
            let r = send(
                &client,
                h2,
                Method::GET,
                "/app/page",
                &[("cookie", &session.join("; "))],
                "",
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{ctx}");
            let seen = h.agent.seen();
            assert_eq!(seen[0].header("x-forwarded-user"), vec![USER], "{ctx}");
        }
    }
}
