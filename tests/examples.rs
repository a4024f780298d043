//! The ready-made configs in examples/ (one per agent in shared/seeds): each ships safe
//! (loopback, self-signed TLS, config/htpasswd), passes `frontdoor check`, and, loaded with
//! only its addresses and files swapped for the test, does what its comments promise
//! against stand-in upstreams: listed paths reach the agent with the login and get 401
//! without, hidden and denied paths get 404 and never reach it, per-path caps give 413,
//! websockets pass behind the login, and DjinnBot's two upstreams are split by path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{
    Client, PASSWORD, TempDir, USER, apache_htpasswd_line, basic, install_crypto, status_of,
};
use frontdoor::config::{Config, Env};
use frontdoor::demo::agent::DemoAgent;
use frontdoor::demo::ws;
use frontdoor::server::RunningServer;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const EXAMPLES: [&str; 4] = ["assistant", "djinnbot", "autobot", "argentos"];

/// A second person, beside `USER` (per-user limits are per user).
const OTHER_USER: &str = "bob";
const OTHER_PASSWORD: &str = "another secret";

fn example_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.toml"))
}

fn example_text(name: &str) -> String {
    std::fs::read_to_string(example_path(name)).expect("example file")
}

fn example_table(name: &str) -> toml::Table {
    example_text(name)
        .parse()
        .unwrap_or_else(|e| panic!("examples/{name}.toml is not TOML: {e}"))
}

fn table_mut<'a>(table: &'a mut toml::Table, key: &str) -> &'a mut toml::Table {
    table
        .entry(key)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap_or_else(|| panic!("`{key}` is not a table"))
}

/// The example with only what a test must change: loopback port 0, a certificate in `dir`,
/// the test's htpasswd file, and each upstream (`default` for `[upstream]`, else the NAME
/// of `[upstreams.NAME]`) pointed at a stand-in. Every upstream must be given one.
fn rewrite_for_test(
    mut table: toml::Table,
    dir: &TempDir,
    upstreams: &[(&str, SocketAddr)],
) -> toml::Table {
    let server = table_mut(&mut table, "server");
    server.insert("listen".into(), "127.0.0.1:0".into());
    for key in ["http_listen", "hosts", "allow_public_bind", "pid_file"] {
        server.remove(key);
    }
    table.remove("admin");
    let mut tls = toml::Table::new();
    tls.insert("self_signed".into(), true.into());
    tls.insert(
        "cert".into(),
        dir.join("cert.pem").display().to_string().into(),
    );
    tls.insert(
        "key".into(),
        dir.join("key.pem").display().to_string().into(),
    );
    table.insert("tls".into(), toml::Value::Table(tls));
    let auth = table_mut(&mut table, "auth");
    let basic = table_mut(auth, "basic");
    basic.insert(
        "htpasswd".into(),
        dir.join("htpasswd").display().to_string().into(),
    );
    if let Some(keys) = auth.get_mut("api_keys").and_then(|k| k.as_table_mut()) {
        keys.insert(
            "file".into(),
            dir.join("api-keys.toml").display().to_string().into(),
        );
    }

    let url = |name: &str| {
        let addr = upstreams
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no stand-in given for upstream `{name}`"))
            .1;
        toml::Value::from(format!("http://{addr}"))
    };
    let mut used = Vec::new();
    if let Some(default) = table.get_mut("upstream").and_then(|u| u.as_table_mut()) {
        default.insert("url".into(), url("default"));
        used.push("default".to_string());
    }
    if let Some(named) = table.get_mut("upstreams").and_then(|u| u.as_table_mut()) {
        for (name, upstream) in named.iter_mut() {
            let upstream = upstream.as_table_mut().expect("[upstreams.NAME] table");
            upstream.insert("url".into(), url(name));
            used.push(name.clone());
        }
    }
    for (name, _) in upstreams {
        assert!(
            used.iter().any(|u| u == name),
            "the example has no upstream `{name}`"
        );
    }
    table
}

/// frontdoor started in-process from a (rewritten) example.
struct Front {
    server: Option<RunningServer>,
    client: Client,
    /// The API keys created for the test, by name.
    keys: std::collections::HashMap<String, String>,
    _dir: TempDir,
}

/// An API key to create before the example starts: name, --route values, --method values.
type KeySpec<'a> = (&'a str, &'a [&'a str], &'a [&'a str]);

impl std::ops::Deref for Front {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Front {
    /// Starts `examples/NAME.toml` with `extra_routes` (TOML) appended, in front of the given
    /// stand-ins. Users: `USER` and `OTHER_USER`, bcrypt from Apache's htpasswd.
    async fn start(name: &str, upstreams: &[(&str, SocketAddr)], extra_routes: &str) -> Front {
        Self::start_with_keys(name, upstreams, extra_routes, &[]).await
    }

    /// `start`, with API keys added first as the example's comments say to.
    async fn start_with_keys(
        name: &str,
        upstreams: &[(&str, SocketAddr)],
        extra_routes: &str,
        key_specs: &[KeySpec<'_>],
    ) -> Front {
        install_crypto();
        let dir = TempDir::new(&format!("example-{name}"));
        let users = format!(
            "{}\n{}\n",
            apache_htpasswd_line("B -C 5", USER, PASSWORD),
            apache_htpasswd_line("B -C 5", OTHER_USER, OTHER_PASSWORD)
        );
        std::fs::write(dir.join("htpasswd"), users).unwrap();
        let mut keys = std::collections::HashMap::new();
        for (key_name, routes, methods) in key_specs {
            let options = frontdoor::auth::api_keys::commands::AddOptions {
                name: key_name.to_string(),
                routes: routes.iter().map(|r| r.to_string()).collect(),
                methods: methods.iter().map(|m| m.to_string()).collect(),
                expires: Some("90d".into()),
            };
            let key = frontdoor::auth::api_keys::commands::add(
                &dir.join("api-keys.toml"),
                &options,
                frontdoor::clock::now_unix(),
            )
            .unwrap();
            keys.insert(key_name.to_string(), key);
        }
        let table = rewrite_for_test(example_table(name), &dir, upstreams);
        let text = format!("{}\n{extra_routes}", toml::to_string(&table).unwrap());
        let config = Config::from_toml(&text, &format!("examples/{name}.toml"), &Env::default())
            .unwrap_or_else(|e| panic!("rewritten example refused: {e}\n{text}"));
        let server = frontdoor::server::start(config)
            .await
            .expect("frontdoor starts");
        let client = Client::new(server.https_addr, &dir.join("cert.pem"));
        Front {
            server: Some(server),
            client,
            keys,
            _dir: dir,
        }
    }

    async fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// One request over HTTP/1.1, with optional Basic credentials.
    async fn call(
        &self,
        method: Method,
        path: &str,
        credentials: Option<(&str, &str)>,
        body: Vec<u8>,
    ) -> common::TestResponse {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.authority());
        if let Some((user, password)) = credentials {
            builder = builder.header("authorization", basic(user, password));
        }
        self.send(builder.body(Full::new(Bytes::from(body))).unwrap())
            .await
    }

    /// One request over HTTP/1.1 (and the same over HTTP/2, which must agree), with the
    /// given headers.
    async fn call_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> common::TestResponse {
        let build = || {
            let mut builder = Request::builder()
                .method(method.clone())
                .uri(path)
                .header("host", self.authority());
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            builder
                .body(Full::new(Bytes::copy_from_slice(body)))
                .unwrap()
        };
        let h1 = self.send(build()).await;
        let h2 = self.send_h2(build()).await;
        assert_eq!(
            h1.status, h2.status,
            "{method} {path}: HTTP/1.1 and HTTP/2 agree"
        );
        h1
    }

    /// The status for a request that declares `length` body bytes and sends none (the
    /// answer to an over-cap declaration must come before the body).
    async fn declared_status(&self, method: &str, path: &str, length: u64) -> u16 {
        self.declared_status_as(
            method,
            path,
            length,
            ("Authorization", &basic(USER, PASSWORD)),
        )
        .await
    }

    async fn declared_status_as(
        &self,
        method: &str,
        path: &str,
        length: u64,
        (name, value): (&str, &str),
    ) -> u16 {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{name}: {value}\r\nContent-Length: {length}\r\n\
             Expect: 100-continue\r\n\r\n",
            self.authority(),
        );
        status_of(&self.raw(head.as_bytes()).await)
    }
}

/// The path part of a target, without the query.
fn path_of(target: &str) -> &str {
    target.split('?').next().unwrap_or(target)
}

/// Whether any request the upstream received was for `prefix` or below it (ASCII case
/// folded, so a differently spelled hidden path counts too).
fn reached_under(targets: &[String], prefix: &str) -> bool {
    let prefix = prefix.to_ascii_lowercase();
    targets.iter().any(|t| {
        let p = path_of(t).to_ascii_lowercase();
        p == prefix || p.starts_with(&format!("{prefix}/"))
    })
}

fn targets(agent: &DemoAgent) -> Vec<String> {
    agent.seen().iter().map(|r| r.target.clone()).collect()
}

/// Asserts the upstream received exactly `target` with `X-Forwarded-User: user`.
fn assert_forwarded(agent: &DemoAgent, target: &str, user: &str) {
    let seen = agent.seen();
    let request = seen.iter().find(|r| r.target == target).unwrap_or_else(|| {
        panic!(
            "{target} never reached the upstream; it saw {:?}",
            targets(agent)
        )
    });
    assert_eq!(
        request.header("x-forwarded-user"),
        vec![user],
        "{target}: forwarded without the login's user"
    );
}

/// Asserts a request to `path` gets `status` with the login and `status_without` without it.
async fn assert_status(
    front: &Front,
    method: Method,
    path: &str,
    with_login: StatusCode,
    without: StatusCode,
) {
    let r = front
        .call(method.clone(), path, Some((USER, PASSWORD)), Vec::new())
        .await;
    assert_eq!(
        r.status,
        with_login,
        "{method} {path} with the login: {}",
        r.text()
    );
    let r = front.call(method.clone(), path, None, Vec::new()).await;
    assert_eq!(
        r.status,
        without,
        "{method} {path} without a login: {}",
        r.text()
    );
}

/// A websocket round trip through frontdoor with the login, closed cleanly.
async fn websocket_round_trip(front: &Front, path: &str) {
    let mut socket = front.websocket(path, (USER, PASSWORD)).await;
    ws::write_frame(
        &mut socket,
        ws::OP_TEXT,
        b"hello bridge",
        Some([7, 1, 9, 3]),
    )
    .await
    .unwrap();
    let echo = ws::read_frame(&mut socket).await.expect("echo frame");
    assert_eq!(echo.opcode, ws::OP_TEXT);
    assert_eq!(echo.payload, b"hello bridge");
    ws::write_frame(&mut socket, ws::OP_CLOSE, b"", Some([1, 2, 3, 4]))
        .await
        .unwrap();
    let close = ws::read_frame(&mut socket).await.expect("close frame");
    assert_eq!(close.opcode, ws::OP_CLOSE);
}

/// A websocket upgrade without credentials: the raw response's status.
async fn websocket_without_login(front: &Front, path: &str) -> u16 {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        front.authority()
    );
    status_of(&front.raw(request.as_bytes()).await)
}

/// A stand-in for a bare websocket server (Autobot's WhatsApp bridge): accepts an upgrade on
/// any path, records the target, and echoes frames.
struct WsStandIn {
    addr: SocketAddr,
    targets: Arc<Mutex<Vec<String>>>,
}

impl WsStandIn {
    async fn start() -> WsStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let targets: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = targets.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    seen.lock().unwrap().push(target);
                    let key = head.lines().find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.trim()
                            .eq_ignore_ascii_case("sec-websocket-key")
                            .then(|| value.trim().to_string())
                    });
                    let Some(key) = key else {
                        let _ = stream
                            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                            .await;
                        return;
                    };
                    let response = format!(
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                         Sec-WebSocket-Accept: {}\r\n\r\n",
                        ws::accept_key(key.as_bytes())
                    );
                    if stream.write_all(response.as_bytes()).await.is_ok() {
                        let _ = ws::echo(stream).await;
                    }
                });
            }
        });
        WsStandIn { addr, targets }
    }

    fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

async fn demo_agent() -> DemoAgent {
    DemoAgent::start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("demo agent")
}

/// Pins the shipped defaults of every example: a loopback listener (public variants only in
/// comments), a self-signed certificate, the `config/htpasswd` user file, public routes only
/// for health, and that the file loads as it is.
#[test]
fn examples_ship_safe_defaults() {
    for name in EXAMPLES {
        let table = example_table(name);
        let server = table["server"].as_table().expect("[server]");
        let listen: SocketAddr = server["listen"].as_str().unwrap().parse().unwrap();
        assert!(listen.ip().is_loopback(), "{name}: listens on {listen}");
        assert!(
            server.get("allow_public_bind").is_none(),
            "{name}: allow_public_bind set"
        );
        let tls = table["tls"].as_table().expect("[tls]");
        assert_eq!(
            tls.get("self_signed").and_then(|v| v.as_bool()),
            Some(true),
            "{name}"
        );
        assert!(
            tls.get("cert").is_none() && tls.get("key").is_none(),
            "{name}"
        );
        assert_eq!(
            table["auth"]["basic"]["htpasswd"].as_str(),
            Some("../config/htpasswd"),
            "{name}"
        );
        let config = Config::from_toml(&example_text(name), name, &Env::default())
            .unwrap_or_else(|e| panic!("examples/{name}.toml refused: {e}"));
        for route in &config.routes {
            assert!(
                !route.is_public() || route.deny || route.path.contains("health"),
                "{name}: {} is public",
                route.path
            );
        }
    }
}

/// Pins that `frontdoor check --config examples/NAME.toml` exits 0 for every example, run
/// from the repository root and from elsewhere (its `../config/htpasswd` is read from the
/// example's folder).
#[test]
fn check_passes_for_every_example() {
    let elsewhere = std::env::temp_dir();
    for (name, cwd) in EXAMPLES.iter().flat_map(|name| {
        [
            (name, Path::new(env!("CARGO_MANIFEST_DIR"))),
            (name, &elsewhere),
        ]
    }) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_frontdoor"));
        command
            .args(["check", "--config"])
            .arg(example_path(name))
            .current_dir(cwd);
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("FRONTDOOR_")) {
            command.env_remove(key);
        }
        let out = command.output().expect("run frontdoor check");
        assert!(
            out.status.success(),
            "check failed for examples/{name}.toml:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Pins examples/assistant.toml: /health public; the chosen /api paths behind the login
/// with the user forwarded; /admin, /workspace, the docs and unlisted /api paths 404 and
/// never reach the agent; /api/config/status denied (404 with or without a login, also
/// under a broader route); PUT /api/workspace/upload takes more than the 10 MB default and
/// 413s past 500 MB, other routes 413 past 10 MB.
#[tokio::test]
async fn assistant_example() {
    let agent = demo_agent().await;
    let mut front = Front::start("assistant", &[("default", agent.addr)], "").await;

    let health = front.get("/health", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(targets(&agent).contains(&"/health".to_string()));

    assert_status(
        &front,
        Method::GET,
        "/api/jobs",
        StatusCode::OK,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_forwarded(&agent, "/api/jobs", USER);
    let created = front
        .call(
            Method::POST,
            "/api/jobs",
            Some((USER, PASSWORD)),
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_status(
        &front,
        Method::PATCH,
        "/api/jobs",
        StatusCode::METHOD_NOT_ALLOWED,
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    assert_status(
        &front,
        Method::GET,
        "/api/workspace/file",
        StatusCode::OK,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_forwarded(&agent, "/api/workspace/file", USER);

    let before = targets(&agent).len();
    for path in [
        "/admin",
        "/admin/settings",
        "/ADMIN",
        "/workspace",
        "/workspace/notes.txt",
        "/docs",
        "/redoc",
        "/openapi.json",
        "/api/config/status",
        "/api/config/status/",
        "/api/%63onfig/status",
        "/api/config/status/x",
        "/api/memories",
        "/api/workspace/file/other",
        "/",
    ] {
        assert_status(
            &front,
            Method::GET,
            path,
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    let r = front
        .call(
            Method::POST,
            "/api/config/status",
            Some((USER, PASSWORD)),
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        targets(&agent).len(),
        before,
        "a hidden or unlisted path reached the agent"
    );

    // The upload route raises the 10 MB default: 11 MB goes through, whole.
    let eleven_mb = 11 * 1024 * 1024;
    let upload = front
        .call(
            Method::PUT,
            "/api/workspace/upload",
            Some((USER, PASSWORD)),
            vec![b'u'; eleven_mb],
        )
        .await;
    assert_eq!(upload.status, StatusCode::OK, "{}", upload.text());
    assert_eq!(upload.json()["received"], eleven_mb);
    assert_forwarded(&agent, "/api/workspace/upload", USER);
    assert_status(
        &front,
        Method::PUT,
        "/api/workspace/upload",
        StatusCode::OK,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_status(
        &front,
        Method::POST,
        "/api/workspace/upload",
        StatusCode::METHOD_NOT_ALLOWED,
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;

    // Caps: 500 MB on the upload, 10 MB elsewhere; refused before the agent is contacted.
    agent.clear_seen();
    assert_eq!(
        front
            .declared_status("PUT", "/api/workspace/upload", 524_288_001)
            .await,
        413
    );
    assert_eq!(
        front.declared_status("POST", "/api/jobs", 10_485_761).await,
        413
    );
    assert!(targets(&agent).is_empty(), "{:?}", targets(&agent));
    front.shutdown().await;

    // The deny holds under a broader route someone may add later.
    let mut broader = Front::start(
        "assistant",
        &[("default", agent.addr)],
        "[[route]]\npath = \"/api\"\nauth = [\"basic\"]\n",
    )
    .await;
    agent.clear_seen();
    assert_status(
        &broader,
        Method::GET,
        "/api/config/status",
        StatusCode::NOT_FOUND,
        StatusCode::NOT_FOUND,
    )
    .await;
    broader
        .get("/api/config/other", Some((USER, PASSWORD)))
        .await;
    assert!(!reached_under(&targets(&agent), "/api/config/status"));
    assert!(targets(&agent).contains(&"/api/config/other".to_string()));
    broader.shutdown().await;
}

/// Pins examples/djinnbot.toml: /v1 paths go to the API upstream and every other path to
/// the dashboard upstream, both behind the login with the user forwarded; /v1/secrets and
/// everything below it (any spelling) take only the engine's key, for GET only: a person's
/// login gets 401, other methods 405, and nothing reaches either upstream without the key;
/// with it the API gets the request, the key's name and the engine's Authorization; the
/// hidden docs paths 404.
#[tokio::test]
async fn djinnbot_example() {
    let api = demo_agent().await;
    let dashboard = demo_agent().await;
    let mut front = Front::start_with_keys(
        "djinnbot",
        &[("default", api.addr), ("dashboard", dashboard.addr)],
        "",
        &[("djinnbot-engine", &["/v1/secrets"], &["GET"])],
    )
    .await;

    for path in ["/", "/runs/42", "/assets/index.js", "/settings?tab=keys"] {
        let r = front.get(path, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        front.get(path, Some((USER, PASSWORD))).await;
        assert_forwarded(&dashboard, path, USER);
    }
    for path in [
        "/v1/status",
        "/v1/runs?limit=5",
        "/v1/agents/a1/inbox",
        "/v1",
    ] {
        let r = front.get(path, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        front.get(path, Some((USER, PASSWORD))).await;
        assert_forwarded(&api, path, USER);
    }
    let api_targets = targets(&api);
    let dashboard_targets = targets(&dashboard);
    assert!(
        api_targets.iter().all(|t| t.starts_with("/v1")),
        "the API got dashboard paths: {api_targets:?}"
    );
    assert!(
        dashboard_targets.iter().all(|t| !t.starts_with("/v1")),
        "the dashboard got API paths: {dashboard_targets:?}"
    );

    let people = basic(USER, PASSWORD);
    for path in [
        "/v1/secrets",
        "/v1/secrets/",
        "/v1/secrets/agents/a1/env",
        "/v1/%73ecrets/agents/a1/env",
        "/v1//secrets/agents/a1/env",
        "/v1/runs/../secrets/agents/a1/env",
    ] {
        for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
            let want = if method == Method::GET {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::METHOD_NOT_ALLOWED
            };
            for headers in [vec![], vec![("authorization", people.as_str())]] {
                let r = front.call_with(method.clone(), path, &headers, b"").await;
                assert_eq!(r.status, want, "{method} {path} {headers:?}");
            }
        }
    }
    for path in ["/docs", "/openapi.json", "/admin"] {
        for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
            assert_status(
                &front,
                method,
                path,
                StatusCode::NOT_FOUND,
                StatusCode::NOT_FOUND,
            )
            .await;
        }
    }
    for seen in [targets(&api), targets(&dashboard)] {
        assert!(!reached_under(&seen, "/v1/secrets"), "{seen:?}");
        assert!(!seen.iter().any(|t| t.contains("ecrets")), "{seen:?}");
        for hidden in ["/docs", "/openapi.json", "/admin"] {
            assert!(!reached_under(&seen, hidden), "{seen:?}");
        }
    }

    // The engine's key: GET under /v1/secrets, with its Authorization passed on for
    // DjinnBot's own ENGINE_INTERNAL_TOKEN check; nothing else.
    let engine = format!("Bearer {}", front.keys["djinnbot-engine"]);
    api.clear_seen();
    front
        .call_with(
            Method::GET,
            "/v1/secrets/agents/a1/env",
            &[("authorization", &engine)],
            b"",
        )
        .await;
    let seen = api.seen();
    assert_eq!(seen.len(), 2, "HTTP/1.1 and HTTP/2");
    for request in &seen {
        assert_eq!(request.target, "/v1/secrets/agents/a1/env");
        assert_eq!(request.header("x-forwarded-user"), vec!["djinnbot-engine"]);
        assert_eq!(request.header("authorization"), vec![engine.as_str()]);
    }
    api.clear_seen();
    let r = front
        .call_with(
            Method::POST,
            "/v1/secrets/x",
            &[("authorization", &engine)],
            b"{}",
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = front
        .call_with(Method::GET, "/v1/runs", &[("authorization", &engine)], b"")
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the key opens nothing else"
    );
    assert!(api.seen().is_empty());
    front.shutdown().await;
}

/// Pins examples/autobot.toml: the gateway's /health public; everything else behind the
/// login; the WhatsApp bridge's websocket at /whatsapp reaches the bridge (not the gateway)
/// only with the login, and GET only; the gateway's own websockets pass behind the login;
/// hidden paths 404; bodies over 10 MB get 413.
#[tokio::test]
async fn autobot_example() {
    let gateway = demo_agent().await;
    let bridge = WsStandIn::start().await;
    let mut front = Front::start(
        "autobot",
        &[("default", gateway.addr), ("whatsapp", bridge.addr)],
        "",
    )
    .await;

    assert_eq!(front.get("/health", None).await.status, StatusCode::OK);
    assert_eq!(
        front.get("/health/details", None).await.status,
        StatusCode::UNAUTHORIZED,
        "/health is exact"
    );
    assert_status(
        &front,
        Method::GET,
        "/api/jobs",
        StatusCode::OK,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_forwarded(&gateway, "/api/jobs", USER);
    assert_status(
        &front,
        Method::GET,
        "/",
        StatusCode::OK,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_forwarded(&gateway, "/", USER);

    assert_eq!(websocket_without_login(&front, "/whatsapp").await, 401);
    assert!(bridge.targets().is_empty(), "{:?}", bridge.targets());
    websocket_round_trip(&front, "/whatsapp").await;
    assert_eq!(bridge.targets(), vec!["/whatsapp".to_string()]);
    let r = front
        .call(
            Method::POST,
            "/whatsapp",
            Some((USER, PASSWORD)),
            b"x".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(bridge.targets().len(), 1);
    assert!(!reached_under(&targets(&gateway), "/whatsapp"));

    assert_eq!(websocket_without_login(&front, "/ws").await, 401);
    websocket_round_trip(&front, "/ws").await;

    for path in [
        "/workspace",
        "/workspace/.env",
        "/admin",
        "/docs",
        "/openapi.json",
    ] {
        assert_status(
            &front,
            Method::GET,
            path,
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert!(
            !reached_under(&targets(&gateway), path),
            "{path} reached the gateway"
        );
    }

    gateway.clear_seen();
    assert_eq!(
        front.declared_status("POST", "/api/jobs", 10_485_761).await,
        413
    );
    assert!(targets(&gateway).is_empty());

    // seed 9, per-user rate limits: 10 at once on /api, then 429 for that user only.
    let mut passed = 0;
    let limited = loop {
        let r = front.get("/api/jobs", Some((USER, PASSWORD))).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            break r;
        }
        assert_eq!(r.status, StatusCode::OK);
        passed += 1;
        assert!(passed <= 10, "no limit after {passed} requests");
    };
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(limited.headers["ratelimit-policy"], "\"/api\";q=30;w=60");
    let other = front
        .get("/api/jobs", Some((OTHER_USER, OTHER_PASSWORD)))
        .await;
    assert_eq!(
        other.status,
        StatusCode::OK,
        "another user keeps their own limit"
    );
    assert_eq!(
        front.get("/", Some((USER, PASSWORD))).await.status,
        StatusCode::OK,
        "the limit is the API's, not the UI's"
    );
    front.shutdown().await;
}

/// Pins examples/argentos.toml: programs reach POST /v1/chat/completions with their API
/// key (X-API-Key with the gateway's own token passed on in Authorization, or the key as a
/// bearer token, which is not passed on), the gateway seeing the key's name and never the
/// key; 401 JSON without a key or with a person's login, 405 for other methods, 413 past
/// 5 MB; the key opens nothing else. People reach the gateway and its websocket behind the
/// login; hidden paths 404; other bodies may exceed 5 MB up to 10 MB.
#[tokio::test]
async fn argentos_example() {
    let gateway = demo_agent().await;
    let mut front = Front::start_with_keys(
        "argentos",
        &[("default", gateway.addr)],
        "",
        &[("argent-api", &["/v1/chat/completions"], &["POST"])],
    )
    .await;
    let key = front.keys["argent-api"].clone();
    let body = br#"{"model":"argent","messages":[]}"#;

    gateway.clear_seen();
    let api = front
        .call_with(
            Method::POST,
            "/v1/chat/completions",
            &[
                ("x-api-key", &key),
                ("authorization", "Bearer gateway-token"),
            ],
            body,
        )
        .await;
    assert_ne!(api.status, StatusCode::UNAUTHORIZED, "{}", api.text());
    let bearer = format!("Bearer {key}");
    let api = front
        .call_with(
            Method::POST,
            "/v1/chat/completions",
            &[("authorization", &bearer)],
            body,
        )
        .await;
    assert_ne!(api.status, StatusCode::UNAUTHORIZED, "{}", api.text());
    let seen = gateway.seen();
    assert_eq!(seen.len(), 4, "two requests over HTTP/1.1 and HTTP/2");
    for (n, request) in seen.iter().enumerate() {
        assert_eq!(request.target, "/v1/chat/completions");
        assert_eq!(request.header("x-forwarded-user"), vec!["argent-api"]);
        assert!(
            request.header("x-api-key").is_empty(),
            "the key reached the gateway"
        );
        let want: Vec<&str> = if n < 2 {
            vec!["Bearer gateway-token"]
        } else {
            vec![]
        };
        assert_eq!(request.header("authorization"), want, "request {n}");
    }
    gateway.clear_seen();
    let person = basic(USER, PASSWORD);
    for headers in [vec![], vec![("authorization", person.as_str())]] {
        let r = front
            .call_with(Method::POST, "/v1/chat/completions", &headers, body)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(
            r.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
    let r = front
        .call_with(
            Method::GET,
            "/v1/chat/completions",
            &[("x-api-key", &key)],
            b"",
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = front
        .call_with(Method::GET, "/", &[("x-api-key", &key)], b"")
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the key does not open the Control UI"
    );
    assert!(gateway.seen().is_empty());

    assert_status(
        &front,
        Method::GET,
        "/",
        StatusCode::OK,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_forwarded(&gateway, "/", USER);
    assert_eq!(websocket_without_login(&front, "/ws").await, 401);
    websocket_round_trip(&front, "/ws").await;

    for path in ["/admin", "/workspace", "/docs", "/openapi.json"] {
        assert_status(
            &front,
            Method::GET,
            path,
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert!(!reached_under(&targets(&gateway), path));
    }

    gateway.clear_seen();
    assert_eq!(
        front
            .declared_status_as(
                "POST",
                "/v1/chat/completions",
                5_242_881,
                ("X-API-Key", &key)
            )
            .await,
        413
    );
    assert_eq!(
        front.declared_status("POST", "/api/jobs", 10_485_761).await,
        413
    );
    assert!(targets(&gateway).is_empty(), "{:?}", targets(&gateway));
    let six_mb = 6 * 1024 * 1024;
    let big = front
        .call(
            Method::POST,
            "/api/jobs",
            Some((USER, PASSWORD)),
            vec![b'j'; six_mb],
        )
        .await;
    assert_eq!(big.status, StatusCode::CREATED, "{}", big.text());
    assert_eq!(big.json()["received"], six_mb);
    front.shutdown().await;
}
