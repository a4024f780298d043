//! `frontdoor import nginx`: the seed's nginx block and two realistic ones become configs
//! that `serve` accepts and that enforce the same rules nginx did (and hide the UIs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use bytes::Bytes;
use common::{PASSWORD, TempDir, USER, basic};
use frontdoor::config::{Config, Env};
use frontdoor::demo::agent::DemoAgent;
use http::{Request, StatusCode};
use http_body_util::Full;

const BIN: &str = env!("CARGO_BIN_EXE_frontdoor");

struct Imported {
    client: common::Client,
    host: String,
    agent: DemoAgent,
    _server: frontdoor::server::RunningServer,
    _dir: TempDir,
}

impl Imported {
    /// Imports a fixture with the real binary, points its files and addresses at test ones
    /// (nothing else changes), and serves it in front of the demo agent.
    async fn serve(fixture: &str) -> Imported {
        common::install_crypto();
        let path = format!(
            "{}/tests/fixtures/nginx/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        );
        let out = Command::new(BIN)
            .args(["import", "nginx", &path])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}\n{text}"));
        let dir = TempDir::new("nginx");
        let agent = DemoAgent::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        std::fs::write(
            dir.join("htpasswd"),
            common::apache_htpasswd_line("B -C 5", USER, PASSWORD) + "\n",
        )
        .unwrap();
        let set = |table: &mut toml::Table, section: &str, key: &str, value: toml::Value| {
            table
                .entry(section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .unwrap()
                .insert(key.to_string(), value);
        };
        let s = |v: String| toml::Value::String(v);
        set(&mut table, "server", "listen", s("127.0.0.1:0".into()));
        table["server"]
            .as_table_mut()
            .unwrap()
            .remove("http_listen");
        table.insert("tls".into(), toml::Value::Table(toml::Table::new()));
        set(&mut table, "tls", "self_signed", toml::Value::Boolean(true));
        set(
            &mut table,
            "tls",
            "cert",
            s(dir.join("cert.pem").display().to_string()),
        );
        set(
            &mut table,
            "tls",
            "key",
            s(dir.join("key.pem").display().to_string()),
        );
        set(
            &mut table,
            "upstream",
            "url",
            s(format!("http://{}", agent.addr)),
        );
        let auth = table["auth"].as_table_mut().unwrap();
        auth["basic"].as_table_mut().unwrap().insert(
            "htpasswd".into(),
            s(dir.join("htpasswd").display().to_string()),
        );
        let host = table["server"]
            .get("hosts")
            .and_then(|h| h.as_array())
            .and_then(|h| h.first())
            .and_then(|h| h.as_str())
            .unwrap_or("localhost")
            .to_string();
        let config = Config::from_toml(&table.to_string(), fixture, &Env::default())
            .unwrap_or_else(|e| panic!("serve refuses the import: {e}\n{text}"));
        let server = frontdoor::server::start(config).await.unwrap();
        let client = common::Client::new(server.https_addr, &dir.join("cert.pem"));
        let host = format!("{host}:{}", server.https_addr.port());
        Imported {
            client,
            host,
            agent,
            _server: server,
            _dir: dir,
        }
    }

    async fn status(&self, method: &str, path: &str, login: bool, body_bytes: usize) -> StatusCode {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        if login {
            req = req.header("authorization", basic(USER, PASSWORD));
        }
        let req = req
            .body(Full::new(Bytes::from(vec![b'u'; body_bytes])))
            .unwrap();
        self.client.send(req).await.status
    }
}

/// The seed's block: everything behind the login, 1 MB nginx default cap, UIs hidden,
/// other Host names refused.
#[tokio::test]
async fn seed_block() {
    let f = Imported::serve("seed.conf").await;
    assert_eq!(
        f.status("GET", "/api/jobs", false, 0).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(f.status("GET", "/api/jobs", true, 0).await, StatusCode::OK);
    assert_eq!(
        f.status("GET", "/admin", true, 0).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.status("GET", "/openapi.json", true, 0).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.status("PUT", "/api/workspace/upload", true, (1 << 20) + 1)
            .await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let req = Request::get("/api/jobs")
        .header("host", "evil.example")
        .header("authorization", basic(USER, PASSWORD))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(
        f.client.send(req).await.status,
        StatusCode::MISDIRECTED_REQUEST
    );
}

/// A certbot sites-available file: /health public, the upload endpoint PUT-only with its
/// 500 MB cap, /admin denied, everything else behind the login.
#[tokio::test]
async fn sites_available() {
    let f = Imported::serve("sites-available.conf").await;
    assert_eq!(f.status("GET", "/health", false, 0).await, StatusCode::OK);
    assert_eq!(
        f.status("GET", "/api/jobs", false, 0).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(f.status("GET", "/api/jobs", true, 0).await, StatusCode::OK);
    assert_eq!(
        f.status("PUT", "/api/workspace/upload", true, 2 << 20)
            .await,
        StatusCode::OK
    );
    assert_eq!(
        f.status("GET", "/api/workspace/upload", true, 0).await,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        f.status("GET", "/admin", true, 0).await,
        StatusCode::NOT_FOUND
    );
}

/// An http{} wrapper: listed paths only, a 10 MB cap under /v1, the denied /v1/secrets
/// still refused under the /v1 route, docs switched on because nginx proxied them.
#[tokio::test]
async fn http_block() {
    let f = Imported::serve("http-block.conf").await;
    assert_eq!(f.status("GET", "/api/jobs", true, 0).await, StatusCode::OK);
    assert_eq!(
        f.status("GET", "/api/jobs", false, 0).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        f.status("GET", "/v1/secrets", true, 0).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.status("POST", "/v1/x", true, (10 << 20) + 1).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(f.status("GET", "/docs", true, 0).await, StatusCode::OK);
    assert_eq!(
        f.status("GET", "/docs", false, 0).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        f.status("GET", "/metrics", true, 0).await,
        StatusCode::NOT_FOUND,
        "other upstream: not listed"
    );
    assert_eq!(f.status("GET", "/", true, 0).await, StatusCode::NOT_FOUND);
    let seen: Vec<String> = f.agent.seen().iter().map(|r| r.target.clone()).collect();
    for never in ["/v1/secrets", "/metrics", "/"] {
        assert!(
            !seen.iter().any(|t| t == never),
            "{never} reached the upstream: {seen:?}"
        );
    }
}
