//! The binary's life: refusing unsafe or broken configs at start, `check` and `explain`,
//! the self-signed certificate kept across restarts, draining in-flight requests on
//! SIGTERM, and `frontdoor demo` as a newcomer runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{
    Harness, PASSWORD, ServeProcess, TempDir, USER, apache_htpasswd_line, connector_trusting,
    install_crypto, tls_connect,
};
use frontdoor::demo::agent::DemoAgent;
use http::StatusCode;

const BIN: &str = env!("CARGO_BIN_EXE_frontdoor");

fn write_config(dir: &TempDir, listen: &str, upstream: &str, extra: &str) -> std::path::PathBuf {
    std::fs::write(
        dir.join("htpasswd"),
        apache_htpasswd_line("B -C 5", USER, PASSWORD) + "\n",
    )
    .unwrap();
    let text = format!(
        r#"
[server]
listen = "{listen}"
{extra}

[tls]
self_signed = true
cert = "{d}/cert.pem"
key = "{d}/key.pem"

[upstream]
url = "http://{upstream}"

[auth.basic]
htpasswd = "{d}/htpasswd"

[[route]]
path = "/health"
auth = "none"

[[route]]
path = "/api/slow"
auth = "none"

[[route]]
path = "/api/jobs"
methods = ["GET"]
"#,
        d = dir.path().display()
    );
    let path = dir.join("frontdoor.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Listening on 0.0.0.0 is refused with a message naming `allow_public_bind` and its env
/// variable; with the acknowledgement the same config passes `check`.
#[test]
fn bind_guard_refuses_public_listen() {
    let dir = TempDir::new("bind");
    let config = write_config(&dir, "0.0.0.0:0", "127.0.0.1:9", "");
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("allow_public_bind"), "{stderr}");
    assert!(
        stderr.contains("FRONTDOOR_SERVER_ALLOW_PUBLIC_BIND"),
        "{stderr}"
    );
    assert!(stderr.contains("server.listen"), "{stderr}");
    let ok = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .env("FRONTDOOR_SERVER_ALLOW_PUBLIC_BIND", "true")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
}

/// A config error names the file and the key, and frontdoor does not start (exit 1).
#[test]
fn config_errors_name_file_and_key() {
    let dir = TempDir::new("cfg");
    let config = write_config(&dir, "127.0.0.1:0", "127.0.0.1:9", "listne = \"x\"");
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("frontdoor.toml") && stderr.contains("listne"),
        "{stderr}"
    );

    let check = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stdout).contains("listne"));
}

/// `explain` shows the normalized path and the decision, without sending traffic.
#[test]
fn explain_prints_the_decision() {
    let dir = TempDir::new("explain");
    let config = write_config(&dir, "127.0.0.1:0", "127.0.0.1:9", "");
    let run = |method: &str, target: &str| {
        let out = Command::new(BIN)
            .args(["explain", "--config"])
            .arg(&config)
            .args([method, target])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let hidden = run("GET", "/x/%2e%2e/%61dmin");
    assert!(
        hidden.contains("normalized: /admin")
            && hidden.contains("404")
            && hidden.contains("hidden"),
        "{hidden}"
    );
    let allowed = run("get", "/api/%6aobs?x=1");
    assert!(
        allowed.contains("normalized: /api/jobs") && allowed.contains("auth:       basic"),
        "{allowed}"
    );
    // A public route is forwarded without a login, and says so.
    let public = run("GET", "/health");
    assert!(
        public.contains("none (public)") && !public.contains("once authenticated"),
        "{public}"
    );
    let method = run("POST", "/api/jobs");
    assert!(
        method.contains("405") && method.contains("GET, HEAD"),
        "{method}"
    );
    let bad = run("GET", "/a%2fb");
    assert!(bad.contains("400"), "{bad}");
    let unlisted = run("GET", "/nope");
    assert!(unlisted.contains("no route"), "{unlisted}");
}

/// The self-signed certificate is generated once with mode 0600 and reused on restart.
#[tokio::test]
async fn self_signed_certificate_is_reused() {
    let mut first = Harness::start().await;
    let cert_path = first.dir.join("cert.pem");
    let key_path = first.dir.join("key.pem");
    let cert = std::fs::read(&cert_path).unwrap();
    for p in [&cert_path, &key_path] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
    first.shutdown().await;
    // Start again on the same folder: same certificate, still trusted by the same client.
    let config_text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[tls]\nself_signed = true\ncert = \"{}\"\nkey = \"{}\"\n[upstream]\nurl = \"http://{}\"\n[[route]]\npath = \"/\"\nauth = \"none\"\n",
        cert_path.display(),
        key_path.display(),
        first.agent.addr
    );
    let config =
        frontdoor::config::Config::from_toml(&config_text, "t", &frontdoor::config::Env::default())
            .unwrap();
    let second = frontdoor::server::start(config).await.unwrap();
    assert_eq!(
        std::fs::read(&cert_path).unwrap(),
        cert,
        "certificate regenerated"
    );
    let connector = connector_trusting(&cert_path);
    let _verified = tls_connect(&connector, second.https_addr, &[b"http/1.1"]).await;
    second.shutdown().await;
}

/// Waits up to 20 s for a line containing `needle` from a line channel.
fn wait_for_line(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && line.contains(needle)
        {
            return line;
        }
    }
    panic!("no line containing {needle:?}");
}

/// SIGTERM lets an in-flight request finish, then the process exits cleanly.
#[tokio::test]
async fn sigterm_drains_in_flight_requests() {
    install_crypto();
    let agent = DemoAgent::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = TempDir::new("term");
    let config = write_config(&dir, "127.0.0.1:0", &agent.addr.to_string(), "");
    let process = ServeProcess::start(&[], &config, &[("RUST_LOG", "info")]);
    let addr = process.addr;
    let port = addr.port();
    let connector = connector_trusting(&dir.join("cert.pem"));

    let in_flight = tokio::spawn(async move {
        let tls = tls_connect(&connector, addr, &[b"http/1.1"]).await;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = http::Request::get("/api/slow?ms=1500")
            .header("host", format!("localhost:{port}"))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        common::TestResponse::read(sender.send_request(req).await.unwrap()).await
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    process.signal("TERM");
    let response = in_flight.await.unwrap();
    assert_eq!(
        response.status,
        StatusCode::OK,
        "the in-flight request was cut off"
    );
    let (status, _) = process.finish().await;
    assert!(status.success(), "exit status {status:?}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

/// `frontdoor demo` as a newcomer runs it: prints the URL and a password; /health is
/// public, the API needs the login, /admin is hidden.
#[tokio::test]
async fn demo_runs_as_documented() {
    install_crypto();
    let dir = TempDir::new("demo");
    let mut child = Command::new(BIN)
        .args(["demo", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let url_line = wait_for_line(&rx, "demo is running at");
    let password_line = wait_for_line(&rx, "password:");
    let port: u16 = url_line
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let password = password_line.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(password.len(), 20);

    let h = common::Client::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        &dir.join("cert.pem"),
    );
    assert_eq!(h.get("/health", None).await.status, StatusCode::OK);
    assert_eq!(
        h.get("/api/jobs", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.get("/api/jobs", Some(("demo", &password))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.get("/", Some(("demo", &password))).await.status,
        StatusCode::OK
    );
    // A browser gets the sign-in page instead of a Basic prompt.
    let browser = h
        .send(
            http::Request::get("/")
                .header("host", h.authority())
                .header("accept", "text/html")
                .header("sec-fetch-mode", "navigate")
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap(),
        )
        .await;
    assert_eq!(browser.status, StatusCode::FOUND);
    assert_eq!(browser.headers["location"], "/_frontdoor/login?rd=%2F");
    let form = h.get("/_frontdoor/login?rd=%2F", None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text().contains("name=\"password\""));
    for hidden in ["/admin", "/workspace", "/docs", "/redoc", "/openapi.json"] {
        assert_eq!(
            h.get(hidden, Some(("demo", &password))).await.status,
            StatusCode::NOT_FOUND,
            "{hidden}"
        );
    }
    let htpasswd = std::fs::read_to_string(dir.join("htpasswd")).unwrap();
    assert!(
        htpasswd.starts_with("demo:$argon2id$"),
        "stored argon2id-hashed"
    );
    assert!(!htpasswd.contains(&password));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

/// SIGHUP reloads (config and users) at once and the process keeps serving.
#[tokio::test]
async fn sighup_reloads_users() {
    install_crypto();
    let agent = DemoAgent::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = TempDir::new("hup");
    let config = write_config(&dir, "127.0.0.1:0", &agent.addr.to_string(), "");
    let mut process = ServeProcess::start(&[], &config, &[]);
    let client = common::Client::new(process.addr, &dir.join("cert.pem"));
    let line = apache_htpasswd_line("B -C 5", "late", "pw late");
    let mut file = std::fs::read_to_string(dir.join("htpasswd")).unwrap();
    file += &format!("{line}\n");
    std::fs::write(dir.join("htpasswd"), file).unwrap();
    process.signal("HUP");
    process.wait_for("SIGHUP: reloading");
    process.wait_for("config reloaded");
    assert_eq!(
        client
            .get("/api/jobs", Some(("late", "pw late")))
            .await
            .status,
        StatusCode::OK
    );
    assert!(process.running(), "SIGHUP must not stop frontdoor");
    process.signal("TERM");
    let (status, _) = process.finish().await;
    assert!(status.success());
}

/// A second `frontdoor demo` on an address already taken fails before writing anything:
/// the running demo's users and config are left as they were, and the error (naming the
/// OS error once) says how to pick another address.
#[test]
fn demo_on_a_taken_address_leaves_the_state_alone() {
    let dir = TempDir::new("demo-busy");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    std::fs::write(dir.join("htpasswd"), "demo:$2y$05$kept\n").unwrap();
    std::fs::write(dir.join("frontdoor.toml"), "# the running demo's config\n").unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--listen", &addr.to_string(), "--state-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("demo --listen"), "{stderr}");
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.join("htpasswd")).unwrap(),
        "demo:$2y$05$kept\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("frontdoor.toml")).unwrap(),
        "# the running demo's config\n"
    );
}
