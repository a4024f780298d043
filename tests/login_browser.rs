//! The sign-in page in a real browser (Debian's headless Chromium, driven by
//! tests/oidc/signin.mjs): a protected page sends it to the form; a wrong password shows
//! the message; the right one lands on the page asked for and a reload stays signed in;
//! sign-out asks again; a TOTP user is asked for the code, a wrong code fails, the right
//! one (computed from the enrolled secret) passes and the same code a second time is
//! refused; the sixth wrong password shows the lockout page. axe-core finds no violation on
//! the sign-in, wrong-password, signed-out and 404 pages. The run writes a screenshot of
//! the sign-in page to target/screenshots/sign-in.png.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{PASSWORD, Setup, USER, apache_htpasswd_line};
use frontdoor::config::{Config, Env};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_with_the_form() {
    let setup = Setup::new("login-browser").await;
    let dir = &setup.dir;
    std::fs::write(
        dir.join("htpasswd"),
        format!(
            "{}\n{}\n{}\n",
            apache_htpasswd_line("B -C 5", USER, PASSWORD),
            apache_htpasswd_line("B -C 5", "bob", "password"),
            apache_htpasswd_line("B -C 5", "carol", "password"),
        ),
    )
    .unwrap();
    let uri = frontdoor::auth::login::totp::add(&dir.join("totp"), "bob").unwrap();
    let secret = uri
        .split("secret=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .unwrap()
        .to_string();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[tls]
self_signed = true
cert = "{d}/cert.pem"
key = "{d}/key.pem"
[upstream]
url = "http://{agent}"
[auth.basic]
htpasswd = "{d}/htpasswd"
[auth.login]
totp = "{d}/totp"
[session]
cookie_key = "${{COOKIE_KEY}}"
[[route]]
path = "/"
auth = ["login", "basic"]
"#,
        d = dir.path().display(),
        agent = setup.agent.addr,
    );
    let config = Config::from_toml(
        &text,
        "login-browser.toml",
        &Env::from_pairs([(
            "COOKIE_KEY",
            "a-cookie-key-of-more-than-32-bytes-for-the-browser",
        )]),
    )
    .unwrap();
    let server = frontdoor::server::start(config).await.unwrap();
    let base = format!("https://localhost:{}", server.https_addr.port());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shots = root.join("target").join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let screenshot = shots.join("sign-in.png");
    let _ = std::fs::remove_file(&screenshot);
    let args = serde_json::json!({
        "base": base,
        "start": "/app/dashboard",
        "user": USER,
        "password": PASSWORD,
        "totpUser": "bob",
        "totpSecret": secret,
        "lockoutUser": "carol",
        "screenshot": screenshot,
        "timeoutMs": 20000,
    });
    let script = root.join("tests").join("oidc").join("signin.mjs");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(args.to_string())
            .output()
            .expect("node (scripts/test installs it)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "signin.mjs failed:\n{stdout}\n{stderr}"
    );
    let steps: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let has = |name: &str| steps.iter().any(|s| s["step"] == name);
    for step in [
        "sign-in-page",
        "wrong-password",
        "signed-in",
        "reloaded",
        "signed-out",
        "totp-asked",
        "totp-wrong-refused",
        "totp-signed-in",
        "totp-replay-refused",
        "lockout",
        "done",
    ] {
        assert!(has(step), "no {step} step:\n{stdout}");
    }
    let axe: Vec<&Value> = steps.iter().filter(|s| s["step"] == "axe").collect();
    assert_eq!(axe.len(), 4, "four pages checked:\n{stdout}");
    for check in axe {
        assert_eq!(check["violations"], serde_json::json!([]), "{check}");
        assert!(check["passes"].as_u64().unwrap() > 5, "{check}");
    }
    let png = std::fs::read(&screenshot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    // The upstream saw the signed-in people.
    let users: Vec<String> = setup
        .agent
        .seen()
        .iter()
        .flat_map(|r| r.header("x-forwarded-user").into_iter().map(str::to_string))
        .collect();
    assert!(
        users.iter().any(|u| u == USER) && users.iter().any(|u| u == "bob"),
        "{users:?}"
    );
    server.shutdown().await;
}
