//! Logs never leak secrets: a request with Basic credentials, a bearer token, a session
//! cookie and `?token=...&code=...` (and a failed login) leaves none of those values in any
//! log line; JSON logs are one valid object per line and carry the access-log fields.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use bytes::Bytes;
use common::{Client, PASSWORD, ServeProcess, Setup, USER, basic};
use http::{Request, StatusCode};
use http_body_util::Full;

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let Setup { dir, agent } = Setup::new("logs").await;
    let config = dir.join("f.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[tls]\nself_signed = true\ncert = \"{d}/c.pem\"\nkey = \"{d}/k.pem\"\n\
             [upstream]\nurl = \"http://{a}\"\n[auth.basic]\nhtpasswd = \"{d}/htpasswd\"\n\
             [[route]]\npath = \"/api/echo\"\n[[route]]\npath = \"/api/public-echo\"\nauth = \"none\"\n",
            d = dir.path().display(),
            a = agent.addr
        ),
    )
    .unwrap();
    let process = ServeProcess::start(
        &["--log-format", "json"],
        &config,
        &[("RUST_LOG", "info,frontdoor=trace")],
    );
    let client = Client::new(process.addr, &dir.join("c.pem"));

    let secrets = [
        "SECRETTOKEN1",
        "SECRETCODE2",
        "BEARERSECRET3",
        "COOKIESECRET4",
        "WRONGPASSWORD5",
        PASSWORD,
    ];
    let send = |auth: String, cookie: &str, path: &str| {
        Request::get(path)
            .header("host", client.authority())
            .header("authorization", auth)
            .header("cookie", cookie.to_string())
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let q = "?token=SECRETTOKEN1&code=SECRETCODE2&page=7";
    let r = client
        .send(send(
            basic(USER, PASSWORD),
            "session=COOKIESECRET4",
            &format!("/api/echo{q}"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = client
        .send(send(
            basic(USER, "WRONGPASSWORD5"),
            "session=COOKIESECRET4",
            &format!("/api/echo{q}"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = client
        .send(send(
            "Bearer BEARERSECRET3".into(),
            "session=COOKIESECRET4",
            &format!("/api/public-echo{q}"),
        ))
        .await;
    assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR);

    process.signal("TERM");
    let (_, log) = process.finish().await;
    let text = log.join("\n");
    let encoded: Vec<String> = [
        format!("{USER}:{PASSWORD}"),
        format!("{USER}:WRONGPASSWORD5"),
    ]
    .iter()
    .map(|c| base64::engine::general_purpose::STANDARD.encode(c))
    .collect();
    for secret in secrets.iter().map(|s| s.to_string()).chain(encoded) {
        assert!(
            !text.contains(&secret),
            "`{secret}` leaked into the logs:\n{text}"
        );
    }
    let mut access_lines = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if value["target"] == "frontdoor::access" {
            access_lines += 1;
            assert_eq!(
                value["query"], "token=[redacted]&code=[redacted]&page=7",
                "{line}"
            );
            assert!(
                value["client"].is_string()
                    && value["status"].is_number()
                    && value["duration_ms"].is_number()
            );
        }
    }
    assert_eq!(access_lines, 3, "one access line per request:\n{text}");
    assert!(text.contains("ACCESS DENIED"), "denials are greppable");
}
