//! `frontdoor import nginx`: the seed's nginx block and two realistic ones become configs
//! that `serve` accepts and that enforce the same rules nginx did (and hide the UIs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use bytes::Bytes;
use common::fronts::Nginx;
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
/// any Host answered (nginx's default server did).
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
    // The one block of the file was nginx's default server: it answered any Host, and so
    // does the import (`side_by_side_with_real_nginx` checks that against nginx itself).
    let req = Request::get("/api/jobs")
        .header("host", "203.0.113.9")
        .header("authorization", basic(USER, PASSWORD))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(f.client.send(req).await.status, StatusCode::OK);
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

/// What a client saw and the upstream got, for one request.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: String,
    upstream_host: Option<String>,
}

/// `curl` (HTTP/2 by default, `--http1.1` when asked) against 127.0.0.1:`port`, naming
/// `name` in the URL (so the Host and SNI are `name:port`), with or without the login.
async fn curl(
    port: u16,
    name: &str,
    path: &str,
    login: bool,
    http1: bool,
    agent: &DemoAgent,
) -> Seen {
    agent.clear_seen();
    let mut args = vec![
        "-sk".to_string(),
        "-o".into(),
        "/dev/null".into(),
        "-w".into(),
        "%{http_code} %{http_version}".into(),
        "--resolve".into(),
        format!("{name}:{port}:127.0.0.1"),
    ];
    if login {
        args.extend(["-u".into(), format!("{USER}:{PASSWORD}")]);
    }
    if http1 {
        args.push("--http1.1".into());
    }
    args.push(format!("https://{name}:{port}{path}"));
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        common::tool_output("curl", &args)
    })
    .await
    .unwrap();
    let (status, version) = out.split_once(' ').unwrap_or((&out, ""));
    assert_eq!(version, if http1 { "1.1" } else { "2" }, "{out}");
    Seen {
        status: status.to_string(),
        upstream_host: agent
            .seen()
            .last()
            .and_then(|r| r.header("host").first().map(|h| h.to_string())),
    }
}

/// Imports `site` (as nginx was given it) and serves the translation with nothing changed
/// but its listen address.
async fn serve_import(dir: &TempDir, site: &str) -> (frontdoor::server::RunningServer, String) {
    let path = dir.join("import.conf");
    std::fs::write(&path, site).unwrap();
    let out = Command::new(BIN)
        .args(["import", "nginx"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}\n{text}"));
    table["server"]
        .as_table_mut()
        .unwrap()
        .insert("listen".into(), toml::Value::String("127.0.0.1:0".into()));
    let config = Config::from_toml(&table.to_string(), "import", &Env::default())
        .unwrap_or_else(|e| panic!("serve refuses the import: {e}\n{text}"));
    (frontdoor::server::start(config).await.unwrap(), text)
}

/// The same nginx site served by Debian's nginx and by frontdoor with its import, asked the
/// same requests by curl over HTTP/2 and HTTP/1.1: the same status, and the upstream gets
/// the same Host. A single block is nginx's default server, so it answers any Host (an IP
/// address, a name it does not list) and so does the import; `proxy_set_header Host $host`
/// drops the port, `$http_host` keeps it, no such line sends proxy_pass's host:port. With a
/// default server before it, the block answers only its names, and the import pins them.
#[tokio::test]
async fn side_by_side_with_real_nginx() {
    common::install_crypto();
    let agent = DemoAgent::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let files = TempDir::new("nginx-side-files");
    let names = ["localhost", "agent.example.com", "127.0.0.1"];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(names.map(String::from).to_vec())
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(files.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(files.join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::set_permissions(
        files.join("key.pem"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(
        files.join("htpasswd"),
        common::apache_htpasswd_line("B -C 5", USER, PASSWORD) + "\n",
    )
    .unwrap();
    let f = files.path().display();
    let up = agent.addr;
    let block = |host_line: &str, extra: &str| {
        format!(
            "{extra}server {{\n    listen 127.0.0.1:{{PORT}} ssl http2;\n    server_name agent.example.com;\n\
             ssl_certificate {f}/cert.pem;\n    ssl_certificate_key {f}/key.pem;\n\
             auth_basic \"agent\";\n    auth_basic_user_file {f}/htpasswd;\n\
             location / {{\n        proxy_pass http://{up};\n        {host_line}\n    }}\n}}\n"
        )
    };
    let upstream_host = up.to_string();
    let cases: [(&str, String, [Option<&str>; 3]); 4] = [
        (
            "Host $host",
            block("proxy_set_header Host $host;", ""),
            [
                Some("agent.example.com"),
                Some("127.0.0.1"),
                Some("unlisted.example"),
            ],
        ),
        (
            "Host $http_host",
            block("proxy_set_header Host $http_host;", ""),
            [Some("agent.example.com:P"), Some("127.0.0.1:P"), Some("unlisted.example:P")],
        ),
        (
            "no Host line",
            block("proxy_set_header X-Real-IP $remote_addr;", ""),
            [Some(&upstream_host); 3],
        ),
        (
            "after a default server",
            block(
                "proxy_set_header Host $host;",
                "server {\n    listen 127.0.0.1:{PORT} ssl http2 default_server;\n    server_name _;\n\
                 ssl_certificate FILES/cert.pem;\n    ssl_certificate_key FILES/key.pem;\n    return 404;\n}\n",
            )
            .replace("FILES", &f.to_string()),
            [Some("agent.example.com"), None, None],
        ),
    ];
    for (case, site, expected_hosts) in &cases {
        let dir = TempDir::new("nginx-side");
        let (nginx, site) = Nginx::start(&dir, site);
        let (front, translation) = serve_import(&dir, &site).await;
        let front_port = front.https_addr.port();
        for (name, expected) in ["agent.example.com", "127.0.0.1", "unlisted.example"]
            .iter()
            .zip(expected_hosts)
        {
            for http1 in [false, true] {
                for login in [true, false] {
                    let path = "/api/jobs";
                    let by_nginx = curl(nginx.port, name, path, login, http1, &agent).await;
                    let by_front = curl(front_port, name, path, login, http1, &agent).await;
                    let what = format!("{case}: {name} login={login} http1={http1}\n{translation}");
                    match (expected, login) {
                        (Some(host), true) => {
                            assert_eq!(by_nginx.status, "200", "nginx, {what}");
                            assert_eq!(by_front.status, "200", "frontdoor, {what}");
                            let at = |port: u16| Some(host.replace(":P", &format!(":{port}")));
                            assert_eq!(by_nginx.upstream_host, at(nginx.port), "nginx, {what}");
                            assert_eq!(by_front.upstream_host, at(front_port), "frontdoor, {what}");
                        }
                        (Some(_), false) => {
                            assert_eq!(by_nginx.status, "401", "nginx, {what}");
                            assert_eq!(by_front.status, "401", "frontdoor, {what}");
                            assert_eq!(by_nginx.upstream_host, None, "{what}");
                            assert_eq!(by_front.upstream_host, None, "{what}");
                        }
                        (None, _) => {
                            // nginx's default server answered (404); frontdoor refuses a
                            // Host it does not serve (421): neither reaches the upstream.
                            assert_eq!(by_nginx.status, "404", "nginx, {what}");
                            assert_eq!(by_front.status, "421", "frontdoor, {what}");
                            assert_eq!(by_nginx.upstream_host, None, "{what}");
                            assert_eq!(by_front.upstream_host, None, "{what}");
                        }
                    }
                }
            }
        }
        drop(nginx);
    }
}
