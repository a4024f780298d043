//! API keys as a user runs them: `frontdoor key add` prints the key once, alone on stdout;
//! a running `frontdoor serve` lets it through over HTTP/1.1 and HTTP/2 within its scope
//! (403 outside, 401 for no, unknown, mistyped or revoked keys, 429 once an address guessed
//! too often); `revoke` and `rotate` take effect on the running server within a second or
//! two, rotation keeps both keys working for the grace period; the upstream sees the key's
//! name, never the key; no key reaches a log line; `check` reports the key file's problems.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Client, ServeProcess, Setup, TempDir, TestResponse};
use http::{Method, Request, StatusCode};
use http_body_util::Full;

const BIN: &str = env!("CARGO_BIN_EXE_frontdoor");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn frontdoor(args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run frontdoor");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `frontdoor key ARGS --config CONFIG`, which must succeed.
fn key(args: &[&str], config: &Path) -> Run {
    let mut all = vec!["key"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--config", config.to_str().unwrap()]);
    let run = frontdoor(&all);
    assert_eq!(run.code, 0, "frontdoor {all:?}: {}", run.stderr);
    run
}

/// The key a command printed: stdout is exactly one line, the key.
fn printed_key(run: &Run) -> String {
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout is the key alone: {:?}", run.stdout);
    let key = lines[0].to_string();
    assert!(
        key.starts_with("fdk_") && key.len() == 4 + 8 + 1 + 43 + 6,
        "key shape: {key}"
    );
    assert!(!run.stderr.contains(&key), "the key is printed once");
    key
}

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"

[tls]
self_signed = true
cert = "cert.pem"
key = "key.pem"

[upstream]
url = "http://UPSTREAM"

[auth.basic]
htpasswd = "htpasswd"

[auth.api_keys]
file = "api-keys.toml"

[auth.lockout]
max_retries_per_ip = 30
ban_time_secs = 60

[[route]]
path = "/api/echo"
auth = ["api_key", "basic"]

[[route]]
path = "/api/forwarded"
auth = ["api_key"]
forward_authorization = true

[[route]]
path = "/api"
auth = ["api_key"]
"#;

fn write_config(dir: &TempDir, upstream: std::net::SocketAddr) -> std::path::PathBuf {
    let path = dir.join("frontdoor.toml");
    std::fs::write(&path, CONFIG.replace("UPSTREAM", &upstream.to_string())).unwrap();
    path
}

#[derive(Clone, Copy, Debug)]
enum Proto {
    H1,
    H2,
}

async fn call(
    client: &Client,
    proto: Proto,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> TestResponse {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", client.authority());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Full::new(Bytes::new())).unwrap();
    match proto {
        Proto::H1 => client.send(request).await,
        Proto::H2 => client.send_h2(request).await,
    }
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// A 401 an API client understands: JSON, `Bearer error="invalid_token"`, no sign-in page.
fn assert_invalid_token(r: &TestResponse, context: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{context}");
    let challenge = r.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{context}: {challenge}"
    );
    assert_eq!(r.headers["content-type"], "application/json", "{context}");
    assert!(r.headers.get("location").is_none(), "{context}");
}

/// Sends the same request as GET and HEAD: same status and headers, HEAD without a body.
async fn get_and_head(
    client: &Client,
    proto: Proto,
    path: &str,
    headers: &[(&str, &str)],
) -> TestResponse {
    let get = call(client, proto, Method::GET, path, headers).await;
    let head = call(client, proto, Method::HEAD, path, headers).await;
    assert_eq!(head.status, get.status, "HEAD {path} ({proto:?})");
    for name in ["www-authenticate", "content-type"] {
        assert_eq!(head.headers.get(name), get.headers.get(name), "{name}");
    }
    assert!(head.body.is_empty(), "HEAD has no body");
    get
}

async fn wait_until(what: &str, mut probe: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if probe().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 5 s");
}

#[tokio::test]
async fn keys_as_a_user_runs_them() {
    let Setup { dir, agent } = Setup::new("keys").await;
    let config = write_config(&dir, agent.addr);
    let keys_file = dir.join("api-keys.toml");

    // Created by the first `add`, 0600, holding digests only.
    let ci = printed_key(&key(
        &[
            "add",
            "ci",
            "--route",
            "/api/jobs",
            "--method",
            "POST",
            "--expires",
            "30d",
        ],
        &config,
    ));
    let bot = printed_key(&key(&["add", "bot"], &config));
    let mode = std::fs::metadata(&keys_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key file mode");
    let stored = std::fs::read_to_string(&keys_file).unwrap();
    for k in [&ci, &bot] {
        let secret = &k[13..];
        assert!(!stored.contains(secret), "the key file holds digests only");
    }
    let taken = frontdoor(&["key", "add", "bot", "--config", config.to_str().unwrap()]);
    assert_ne!(taken.code, 0, "a second key of the same name is refused");
    assert!(taken.stdout.is_empty());

    // A well-formed key from another file: right shape and checksum, unknown here.
    let unknown = printed_key(&frontdoor(&[
        "key",
        "add",
        "elsewhere",
        "--file",
        dir.join("other-keys.toml").to_str().unwrap(),
    ]));

    let process = ServeProcess::start(
        &["--log-format", "json"],
        &config,
        &[("RUST_LOG", "info,frontdoor=trace")],
    );
    let client = Client::new(process.addr, &dir.join("cert.pem"));

    for proto in [Proto::H1, Proto::H2] {
        // An unscoped key works on every route that takes keys, by either header; the
        // upstream sees the key's name and not the key.
        agent.clear_seen();
        let auth = bearer(&bot);
        let r = call(
            &client,
            proto,
            Method::GET,
            "/api/echo",
            &[("authorization", &auth)],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{proto:?}: {}", r.text());
        let r = call(
            &client,
            proto,
            Method::GET,
            "/api/echo?x=1",
            &[("x-api-key", &bot), ("x-forwarded-user", "mallory")],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{proto:?}");
        let seen = agent.seen();
        assert_eq!(seen.len(), 2);
        for request in &seen {
            assert_eq!(request.header("x-forwarded-user"), vec!["bot"]);
            assert!(request.header("authorization").is_empty());
            assert!(request.header("x-api-key").is_empty());
        }
        // A key as X-API-Key leaves Authorization to the application's own token, but
        // never lets a frontdoor key through there.
        for (authorization, upstream) in [
            (
                "Bearer app-token".to_string(),
                vec!["Bearer app-token".to_string()],
            ),
            (bearer(&bot), vec![]),
        ] {
            agent.clear_seen();
            let r = call(
                &client,
                proto,
                Method::GET,
                "/api/echo",
                &[("x-api-key", &bot), ("authorization", &authorization)],
            )
            .await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(
                agent.seen()[0].header("authorization"),
                upstream,
                "{proto:?}"
            );
        }
        // ... unless the route forwards it.
        agent.clear_seen();
        let r = call(
            &client,
            proto,
            Method::GET,
            "/api/forwarded",
            &[("authorization", &auth)],
        )
        .await;
        assert_ne!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(agent.seen()[0].header("authorization"), vec![auth.as_str()]);

        // A scoped key: its path (and below, at segment boundaries) and its method only.
        agent.clear_seen();
        let ci_auth = bearer(&ci);
        let r = call(
            &client,
            proto,
            Method::POST,
            "/api/jobs",
            &[("authorization", &ci_auth)],
        )
        .await;
        assert!(r.status.is_success(), "{proto:?}: {}", r.status);
        assert_eq!(agent.seen()[0].header("x-forwarded-user"), vec!["ci"]);
        for (method, path) in [
            (Method::GET, "/api/jobs"),
            (Method::POST, "/api/jobsX"),
            (Method::POST, "/api/echo"),
            (Method::POST, "/api/jobs/../echo"),
        ] {
            agent.clear_seen();
            let r = call(
                &client,
                proto,
                method.clone(),
                path,
                &[("authorization", &ci_auth)],
            )
            .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path} {proto:?}");
            assert_eq!(r.headers["content-type"], "application/json");
            let body = r.text();
            assert!(
                !body.contains("jobs") && !body.contains("ci") && !body.contains("bot"),
                "a 403 names no scope and no key: {body}"
            );
            assert!(agent.seen().is_empty(), "nothing reached the upstream");
        }
        let r = get_and_head(&client, proto, "/api/echo", &[("x-api-key", &ci)]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        // No key, a mistyped key (checksum), an unknown key, a bearer token that is no key.
        let typo = typo_of(&bot);
        for (label, headers) in [
            ("no key", vec![]),
            ("mistyped key", vec![("x-api-key", typo.as_str())]),
            ("unknown key", vec![("x-api-key", unknown.as_str())]),
            ("not a key", vec![("authorization", "Bearer hello")]),
        ] {
            agent.clear_seen();
            let r = get_and_head(&client, proto, "/api/status", &headers).await;
            assert_invalid_token(&r, &format!("{label} {proto:?}"));
            assert!(agent.seen().is_empty());
        }
        // Where a person's login is also accepted, no key gets the Basic challenge.
        let r = get_and_head(&client, proto, "/api/echo", &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(
            r.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic ")
        );
    }

    // list: names, scope, dates; never a key or a digest.
    let listed = key(&["list"], &config).stdout;
    assert!(listed.contains("ci") && listed.contains("bot") && listed.contains("/api/jobs"));
    assert!(listed.contains("POST"), "{listed}");
    for line in std::fs::read_to_string(&keys_file).unwrap().lines() {
        if let Some(digest) = line.strip_prefix("sha256 = ") {
            assert!(
                !listed.contains(digest.trim_matches('"')),
                "no digest listed"
            );
        }
    }
    assert!(!listed.contains(&ci) && !listed.contains(&bot));

    // rotate with a grace period: old and new keys both work.
    let bot2 = printed_key(&key(&["rotate", "bot", "--grace", "1h"], &config));
    assert_ne!(bot2, bot);
    let took = wait_until("the rotated key works", async || {
        call(
            &client,
            Proto::H2,
            Method::GET,
            "/api/echo",
            &[("x-api-key", &bot2)],
        )
        .await
        .status
            == StatusCode::OK
    })
    .await;
    eprintln!("rotation took effect after {took:?}");
    for proto in [Proto::H1, Proto::H2] {
        for k in [&bot, &bot2] {
            let r = call(
                &client,
                proto,
                Method::GET,
                "/api/echo",
                &[("x-api-key", k)],
            )
            .await;
            assert_eq!(
                r.status,
                StatusCode::OK,
                "both keys during the grace period"
            );
        }
    }
    // rotate with no grace: only the newest key works.
    let bot3 = printed_key(&key(&["rotate", "bot", "--grace", "0"], &config));
    wait_until("the old keys stop", async || {
        call(
            &client,
            Proto::H1,
            Method::GET,
            "/api/status",
            &[("x-api-key", &bot)],
        )
        .await
        .status
            == StatusCode::UNAUTHORIZED
    })
    .await;
    for (k, expected) in [
        (&bot, StatusCode::UNAUTHORIZED),
        (&bot2, StatusCode::UNAUTHORIZED),
        (&bot3, StatusCode::OK),
    ] {
        let r = call(
            &client,
            Proto::H2,
            Method::GET,
            "/api/echo",
            &[("x-api-key", k)],
        )
        .await;
        assert_eq!(r.status, expected);
    }

    // revoke: effective on the running server at its next look at the file (1 s).
    let ci_auth = bearer(&ci);
    let revoked = key(&["revoke", "ci"], &config);
    assert!(revoked.stdout.is_empty());
    let took = wait_until("the revoked key is refused", async || {
        call(
            &client,
            Proto::H2,
            Method::POST,
            "/api/jobs",
            &[("authorization", &ci_auth)],
        )
        .await
        .status
            == StatusCode::UNAUTHORIZED
    })
    .await;
    eprintln!("revocation took effect after {took:?}");
    assert!(
        took < Duration::from_secs(3),
        "revoked within a second or two"
    );

    // Guessing keys bans the address: 429 with Retry-After, before any lookup (the good
    // key is refused too).
    let mut banned = None;
    for _ in 0..40 {
        let r = call(
            &client,
            Proto::H1,
            Method::GET,
            "/api/status",
            &[("x-api-key", &typo_of(&bot3))],
        )
        .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            banned = Some(r);
            break;
        }
        assert_invalid_token(&r, "guess");
    }
    let banned = banned.expect("the address is banned after max_retries_per_ip guesses");
    assert!(banned.headers.contains_key("retry-after"));
    for proto in [Proto::H1, Proto::H2] {
        let r = call(
            &client,
            proto,
            Method::GET,
            "/api/echo",
            &[("x-api-key", &bot3)],
        )
        .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{proto:?}");
    }

    process.signal("TERM");
    let (status, log) = process.finish().await;
    assert!(status.success());
    let text = log.join("\n");
    for k in [&ci, &bot, &bot2, &bot3, &unknown] {
        assert!(!text.contains(&k[13..]), "a key reached the log:\n{text}");
    }
    let users: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "frontdoor::access")
        .filter_map(|v| v["user"].as_str().map(str::to_string))
        .collect();
    assert!(users.iter().any(|u| u == "bot") && users.iter().any(|u| u == "ci"));

    // The last use is kept at shutdown, for `key list` and `check`.
    let listed = key(&["list"], &config).stdout;
    let bot_line = listed.lines().find(|l| l.starts_with("bot")).unwrap();
    assert!(
        bot_line.contains(&chrono_today()),
        "last used today: {listed}"
    );
}

/// The same key with its last character changed (the checksum no longer matches).
fn typo_of(key: &str) -> String {
    let mut typo = key.to_string();
    let last = typo.pop().unwrap_or('a');
    typo.push(if last == 'a' { 'b' } else { 'a' });
    typo
}

/// Today's date, YYYY-MM-DD (UTC), as `date` prints it.
fn chrono_today() -> String {
    let out = Command::new("date").args(["-u", "+%F"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `check` on the key file: readable by others is an error; expired keys and keys unused
/// for 90 days are warnings.
#[tokio::test]
async fn check_reports_key_file_problems() {
    let Setup { dir, agent } = Setup::new("keycheck").await;
    let config = write_config(&dir, agent.addr);
    let run_check = || frontdoor(&["check", "--config", config.to_str().unwrap()]);
    let _ = printed_key(&key(&["add", "fresh"], &config));
    let _ = printed_key(&key(&["add", "stale"], &config));
    let _ = printed_key(&key(&["add", "old", "--expires", "2d"], &config));
    let clean = run_check();
    assert!(
        !clean.stdout.contains("api_keys") && !clean.stderr.contains("api_keys"),
        "{}{}",
        clean.stdout,
        clean.stderr
    );

    // Backdate `stale` (created two years ago, never used) and let `old` expire.
    let keys_file = dir.join("api-keys.toml");
    let text = std::fs::read_to_string(&keys_file).unwrap();
    let mut out = String::new();
    let mut current = "";
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("name = ") {
            current = if name.contains("stale") {
                "stale"
            } else if name.contains("old") {
                "old"
            } else {
                ""
            };
        }
        if current == "stale" && line.starts_with("created = ") {
            out.push_str("created = \"2024-01-01T00:00:00Z\"\n");
        } else if current == "old" && line.starts_with("expires = ") {
            out.push_str("expires = \"2025-01-01T00:00:00Z\"\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert_ne!(
        out, text,
        "the key file has the fields this test edits:\n{text}"
    );
    std::fs::write(&keys_file, out).unwrap();
    std::fs::set_permissions(&keys_file, std::fs::Permissions::from_mode(0o644)).unwrap();

    let r = run_check();
    let all = format!("{}{}", r.stdout, r.stderr);
    assert_eq!(r.code, 1, "{all}");
    let line = |needle: &str| {
        all.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no finding with {needle:?}:\n{all}"))
            .to_string()
    };
    let mode = line("readable by anyone");
    assert!(
        mode.starts_with("error: auth.api_keys.file") && mode.contains("chmod 600"),
        "{mode}"
    );
    let stale = line("key `stale`");
    assert!(
        stale.starts_with("warning:")
            && stale.contains("never used")
            && stale.contains("2024-01-01"),
        "{stale}"
    );
    let old = line("key `old`");
    assert!(
        old.starts_with("warning:") && old.contains("expired on 2025-01-01"),
        "{old}"
    );
    assert!(!all.contains("key `fresh`"), "{all}");

    std::fs::set_permissions(&keys_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = run_check();
    assert_eq!(r.code, 0, "warnings only: {}{}", r.stdout, r.stderr);
    let strict = frontdoor(&["check", "--strict", "--config", config.to_str().unwrap()]);
    assert_eq!(strict.code, 1);
}
