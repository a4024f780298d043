//! Reload without downtime: a client loop and an open WebSocket run through ten reloads,
//! some of them with broken configs; no request fails, the socket stays up, a changed route
//! takes effect, and a broken config leaves the running one in force.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{Client, PASSWORD, ServeProcess, Setup, TempDir, USER};
use frontdoor::config::Config;
use frontdoor::demo::ws;
use http::StatusCode;

fn config_text(dir: &TempDir, upstream: std::net::SocketAddr, extra_route: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
pid_file = "{d}/frontdoor.pid"

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
path = "/api/jobs"

[[route]]
path = "/ws"

{extra_route}
"#,
        d = dir.path().display()
    )
}

/// Ten reloads under load, some broken: nothing fails, nothing drops, changes apply.
#[tokio::test]
async fn reload_under_load() {
    let Setup { dir, agent } = Setup::new("reload").await;
    let path = dir.join("frontdoor.toml");
    std::fs::write(&path, config_text(&dir, agent.addr, "")).unwrap();
    let server = frontdoor::server::start(Config::load(&path).unwrap())
        .await
        .unwrap();
    let client = Arc::new(Client::new(server.https_addr, &dir.join("cert.pem")));

    let mut socket = client.websocket("/ws", (USER, PASSWORD)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut loops = Vec::new();
    for _ in 0..2 {
        let (client, stop, ok, failed) = (client.clone(), stop.clone(), ok.clone(), failed.clone());
        loops.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let r = client.get("/api/jobs", Some((USER, PASSWORD))).await;
                let counter = if r.status == StatusCode::OK {
                    &ok
                } else {
                    &failed
                };
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }

    let broken = [
        "this is [not toml".to_string(),
        config_text(
            &dir,
            agent.addr,
            "[[route]]\npath = \"/x\"\nauth = \"oidc\"",
        ),
        config_text(&dir, agent.addr, "").replace("htpasswd\"", "missing-htpasswd\""),
        config_text(&dir, agent.addr, "")
            .replace("self_signed = true\n", "")
            .replace("cert.pem", "missing-cert.pem"),
        config_text(&dir, agent.addr, "[ui]\ndashbord = true"),
    ];
    let changed = config_text(
        &dir,
        agent.addr,
        "[[route]]\npath = \"/api/echo\"\nauth = \"none\"",
    );
    for round in 0..10 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        if round % 2 == 0 {
            std::fs::write(&path, &broken[round / 2]).unwrap();
            assert!(
                server.reload().is_err(),
                "broken config {} was accepted",
                round / 2
            );
            // The running config still answers, and the new route is not there.
            assert_eq!(
                client.get("/api/jobs", Some((USER, PASSWORD))).await.status,
                StatusCode::OK
            );
        } else {
            let text = if round >= 5 {
                &changed
            } else {
                &config_text(&dir, agent.addr, "")
            };
            std::fs::write(&path, text).unwrap();
            server.reload().unwrap();
        }
        let message = format!("message {round}");
        ws::write_frame(
            &mut socket,
            ws::OP_TEXT,
            message.as_bytes(),
            Some([1, 2, 3, 4]),
        )
        .await
        .unwrap();
        let echo = ws::read_frame(&mut socket)
            .await
            .expect("websocket dropped during reload");
        assert_eq!(echo.payload, message.as_bytes());
    }
    stop.store(true, Ordering::SeqCst);
    for l in loops {
        l.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "requests failed during reloads"
    );
    assert!(ok.load(Ordering::SeqCst) > 20, "the client loop barely ran");
    assert_eq!(
        client.get("/api/echo", None).await.status,
        StatusCode::OK,
        "the changed route took effect"
    );
    drop(socket);
    server.shutdown().await;
}

/// `frontdoor reload` finds the server through `server.pid_file` and the running binary
/// picks up a new route.
#[tokio::test]
async fn reload_command() {
    let Setup { dir, agent } = Setup::new("reloadcmd").await;
    let path = dir.join("frontdoor.toml");
    std::fs::write(&path, config_text(&dir, agent.addr, "")).unwrap();
    let bin = env!("CARGO_BIN_EXE_frontdoor");
    let mut process = ServeProcess::start(&[], &path, &[]);
    let client = Client::new(process.addr, &dir.join("cert.pem"));
    assert_eq!(
        client.get("/api/echo", None).await.status,
        StatusCode::NOT_FOUND
    );
    while !dir.join("frontdoor.pid").exists() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::fs::write(
        &path,
        config_text(
            &dir,
            agent.addr,
            "[[route]]\npath = \"/api/echo\"\nauth = \"none\"",
        ),
    )
    .unwrap();
    let out = Command::new(bin)
        .args(["reload", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    process.wait_for("config reloaded");
    assert_eq!(client.get("/api/echo", None).await.status, StatusCode::OK);
    process.signal("TERM");
    let (status, _) = process.finish().await;
    assert!(status.success());
    assert!(
        !dir.join("frontdoor.pid").exists(),
        "pid file removed on exit"
    );
}
