//! Webhook signatures through TLS, over HTTP/1.1 and HTTP/2, against the demo agent:
//! GitHub's published vector passes end to end and the agent gets the body to the byte;
//! Stripe, Slack and a generic HMAC header are signed by openssl (an independent HMAC);
//! tampered bodies, wrong secrets, stale or replayed timestamps and missing headers get 401
//! and nothing reaches the agent; a body over the route's cap gets 413, declared or
//! streamed. Secrets come from the environment and from a `file:` reference.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::task::{Context, Poll};

use bytes::Bytes;
use common::{Client, ServeProcess, Setup, TestResponse, status_of};
use http::{Method, Request, StatusCode};
use http_body::Frame;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::Digest;

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const GITHUB_PAYLOAD: &[u8] = b"Hello, World!";
const GITHUB_SIGNATURE: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
const CAP: usize = 4096;

/// HMAC-SHA256 in hex by `openssl dgst`, not by frontdoor's code.
fn openssl_hmac(secret: &str, message: &[u8], binary: bool) -> Vec<u8> {
    let mut args = vec!["dgst", "-sha256", "-hmac", secret];
    if binary {
        args.push("-binary");
    }
    let mut child = Command::new("openssl")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl (scripts/test installs it)");
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    if binary {
        return out.stdout;
    }
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim()
        .rsplit_once("= ")
        .map(|(_, hex)| hex.as_bytes().to_vec())
        .expect("openssl prints NAME(stdin)= HEX")
}

fn hmac_hex(secret: &str, message: &[u8]) -> String {
    String::from_utf8(openssl_hmac(secret, message, false)).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[derive(Clone, Copy, Debug)]
enum Proto {
    H1,
    H2,
}

async fn post(
    client: &Client,
    proto: Proto,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> TestResponse {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("host", client.authority());
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    let request = builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    match proto {
        Proto::H1 => client.send(request).await,
        Proto::H2 => client.send_h2(request).await,
    }
}

fn config(agent: std::net::SocketAddr) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"

[tls]
self_signed = true
cert = "cert.pem"
key = "key.pem"

[upstream]
url = "http://{agent}"

[auth.basic]
htpasswd = "htpasswd"

[[route]]
path = "/hooks/github"
exact = true
methods = ["POST"]
auth = ["webhook"]
max_body_bytes = {CAP}
webhook = {{ kind = "github", secret = "${{GITHUB_WEBHOOK_SECRET}}" }}

[[route]]
path = "/hooks/stripe"
exact = true
methods = ["POST"]
auth = ["webhook"]
webhook = {{ kind = "stripe", secrets = ["${{STRIPE_OLD}}", "${{STRIPE_NEW}}"] }}

[[route]]
path = "/hooks/slack"
exact = true
methods = ["POST"]
auth = ["webhook"]
webhook = {{ kind = "slack", secret = "${{SLACK_SIGNING_SECRET}}" }}

[[route]]
path = "/hooks/custom"
exact = true
methods = ["POST"]
auth = ["webhook"]
webhook = {{ kind = "hmac-sha256", secret = "file:custom-secret", header = "X-Signature", encoding = "base64" }}
"#
    )
}

/// The agent's answer for a delivery it received whole: length and SHA-256 of the body.
fn assert_delivered(r: &TestResponse, body: &[u8], context: &str) {
    assert_eq!(r.status, StatusCode::OK, "{context}: {}", r.text());
    let v = r.json();
    assert_eq!(v["received"], body.len(), "{context}");
    let digest: String = sha2::Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        v["sha256"], digest,
        "{context}: the body arrived to the byte"
    );
}

fn assert_refused(r: &TestResponse, agent: &frontdoor::demo::agent::DemoAgent, context: &str) {
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "{context}: {}",
        r.text()
    );
    assert_eq!(r.headers["content-type"], "application/json", "{context}");
    assert!(r.headers.contains_key("www-authenticate"), "{context}");
    assert!(
        agent.seen().is_empty(),
        "{context}: nothing reached the agent"
    );
}

#[tokio::test]
async fn signed_deliveries_pass_and_forgeries_do_not() {
    let Setup { dir, agent } = Setup::new("hooks").await;
    let path = dir.join("frontdoor.toml");
    std::fs::write(&path, config(agent.addr)).unwrap();
    std::fs::write(dir.join("custom-secret"), "custom-secret-value\n").unwrap();
    std::fs::set_permissions(
        dir.join("custom-secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let process = ServeProcess::start(
        &[],
        &path,
        &[
            ("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET),
            ("STRIPE_OLD", "whsec_old"),
            ("STRIPE_NEW", "whsec_new"),
            ("SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5"),
        ],
    );
    let client = Client::new(process.addr, &dir.join("cert.pem"));

    for proto in [Proto::H1, Proto::H2] {
        let p = |what: &str| format!("{what} ({proto:?})");
        // GitHub: the vector from GitHub's docs, end to end.
        agent.clear_seen();
        let good = [("x-hub-signature-256", GITHUB_SIGNATURE.to_string())];
        let r = post(&client, proto, "/hooks/github", &good, GITHUB_PAYLOAD).await;
        assert_delivered(&r, GITHUB_PAYLOAD, &p("github vector"));
        let seen = agent.seen();
        assert_eq!(seen[0].header("content-length"), vec!["13"]);
        assert!(seen[0].header("x-forwarded-user").is_empty());
        for (label, headers, body) in [
            ("tampered body", good.to_vec(), &b"Hello, World?"[..]),
            ("no signature", vec![], GITHUB_PAYLOAD),
            (
                "wrong secret",
                vec![(
                    "x-hub-signature-256",
                    format!("sha256={}", hmac_hex("guess", GITHUB_PAYLOAD)),
                )],
                GITHUB_PAYLOAD,
            ),
            (
                "sha1 signature",
                vec![(
                    "x-hub-signature-256",
                    "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59".to_string(),
                )],
                GITHUB_PAYLOAD,
            ),
        ] {
            agent.clear_seen();
            let r = post(&client, proto, "/hooks/github", &headers, body).await;
            assert_refused(&r, &agent, &p(label));
        }

        // Stripe: t.body signed with either secret of a rotation; stale and replayed
        // deliveries refused.
        let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
        for secret in ["whsec_old", "whsec_new"] {
            agent.clear_seen();
            let t = now();
            let signed = [&t.to_string().into_bytes()[..], b".", body].concat();
            let header = format!("t={t},v1={}", hmac_hex(secret, &signed));
            let r = post(
                &client,
                proto,
                "/hooks/stripe",
                &[("stripe-signature", header)],
                body,
            )
            .await;
            assert_delivered(&r, body, &p(&format!("stripe {secret}")));
        }
        let stale_t = now() - 600;
        let stale = [&stale_t.to_string().into_bytes()[..], b".", body].concat();
        for (label, header, sent) in [
            (
                "stale stripe delivery",
                format!("t={stale_t},v1={}", hmac_hex("whsec_new", &stale)),
                &body[..],
            ),
            (
                "stripe with a moved timestamp",
                format!("t={},v1={}", now(), hmac_hex("whsec_new", &stale)),
                &body[..],
            ),
            (
                "stripe tampered",
                {
                    let t = now();
                    let signed = [&t.to_string().into_bytes()[..], b".", body].concat();
                    format!("t={t},v1={}", hmac_hex("whsec_new", &signed))
                },
                &br#"{"id":"evt_1","type":"invoice.void"}"#[..],
            ),
        ] {
            agent.clear_seen();
            let r = post(
                &client,
                proto,
                "/hooks/stripe",
                &[("stripe-signature", header)],
                sent,
            )
            .await;
            assert_refused(&r, &agent, &p(label));
        }

        // Slack: v0:ts:body; the docs' example delivery is years old, so it is a replay.
        let slack_body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fdeploy";
        let ts = now().to_string();
        let sig = hmac_hex(
            "8f742231b10e8888abcd99yyyzzz85a5",
            &[b"v0:", ts.as_bytes(), b":", &slack_body[..]].concat(),
        );
        agent.clear_seen();
        let headers = [
            ("x-slack-request-timestamp", ts.clone()),
            ("x-slack-signature", format!("v0={sig}")),
        ];
        let r = post(&client, proto, "/hooks/slack", &headers, slack_body).await;
        assert_delivered(&r, slack_body, &p("slack"));
        agent.clear_seen();
        let docs_example = [
            ("x-slack-request-timestamp", "1531420618".to_string()),
            (
                "x-slack-signature",
                "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503".to_string(),
            ),
        ];
        let r = post(&client, proto, "/hooks/slack", &docs_example, slack_body).await;
        assert_refused(&r, &agent, &p("slack replay"));
        agent.clear_seen();
        let r = post(&client, proto, "/hooks/slack", &headers[1..], slack_body).await;
        assert_refused(&r, &agent, &p("slack without its timestamp"));

        // Generic HMAC in base64, with the secret read from a file.
        use base64::Engine;
        let body = b"{\"event\":\"build\"}";
        let tag = openssl_hmac("custom-secret-value", body, true);
        let b64 = base64::engine::general_purpose::STANDARD.encode(tag);
        agent.clear_seen();
        let r = post(
            &client,
            proto,
            "/hooks/custom",
            &[("x-signature", b64.clone())],
            body,
        )
        .await;
        assert_delivered(&r, body, &p("hmac-sha256"));
        agent.clear_seen();
        let r = post(
            &client,
            proto,
            "/hooks/custom",
            &[("x-signature", b64)],
            b"{}",
        )
        .await;
        assert_refused(&r, &agent, &p("hmac-sha256 tampered"));

        // Over the cap, even correctly signed: 413, nothing upstream.
        let big = vec![b'x'; CAP + 1];
        let sig = format!("sha256={}", hmac_hex(GITHUB_SECRET, &big));
        agent.clear_seen();
        let r = post(
            &client,
            proto,
            "/hooks/github",
            &[("x-hub-signature-256", sig)],
            &big,
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{}",
            p("declared over cap")
        );
        assert!(agent.seen().is_empty());
    }

    // Streamed without a length: HTTP/1.1 chunked and HTTP/2 DATA frames.
    let big = vec![b'y'; 3 * CAP];
    let sig = format!("sha256={}", hmac_hex(GITHUB_SECRET, &big));
    agent.clear_seen();
    let mut request = format!(
        "POST /hooks/github HTTP/1.1\r\nHost: {}\r\nX-Hub-Signature-256: {sig}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        client.authority()
    )
    .into_bytes();
    for chunk in big.chunks(1000) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = client.raw(&request).await;
    assert_eq!(status_of(&answer), 413, "chunked over cap: {answer}");
    assert!(agent.seen().is_empty());

    let tls = client.tls(&[b"h2"]).await;
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::post(format!("https://{}/hooks/github", client.authority()))
        .header("x-hub-signature-256", sig)
        .body(Frames { left: big })
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "h2 streamed over cap"
    );
    assert!(agent.seen().is_empty());

    // A route without max_body_bytes holds at most 1 MiB of an unverified delivery.
    let over = vec![b's'; (1 << 20) + 1];
    agent.clear_seen();
    let r = post(
        &client,
        Proto::H2,
        "/hooks/stripe",
        &[("stripe-signature", "t=1,v1=00".into())],
        &over,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "webhook default cap"
    );
    assert!(agent.seen().is_empty());

    // A signed route answers only POST (its methods), and only signatures open it.
    let r = client
        .get("/hooks/github", Some(("alice", "correct horse")))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);

    process.signal("TERM");
    let (_, log) = process.finish().await;
    let text = log.join("\n");
    assert!(
        text.contains("webhook delivery refused"),
        "refusals are logged"
    );
    for secret in [
        GITHUB_SECRET,
        "whsec_old",
        "whsec_new",
        "custom-secret-value",
    ] {
        assert!(!text.contains(secret), "a secret reached the log");
    }
}

/// A body in 1000-byte DATA frames with no length announced.
struct Frames {
    left: Vec<u8>,
}

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.left.is_empty() {
            return Poll::Ready(None);
        }
        let n = this.left.len().min(1000);
        let chunk: Vec<u8> = this.left.drain(..n).collect();
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }
}

/// Config mistakes name the route and the key, with a fix.
#[test]
fn webhook_config_mistakes_are_named() {
    let base = "[server]\nlisten = \"127.0.0.1:0\"\n[tls]\nself_signed = true\ncert = \"c.pem\"\nkey = \"k.pem\"\n[upstream]\nurl = \"http://127.0.0.1:9\"\n";
    let cases = [
        (
            "[[route]]\npath = \"/hooks/gh\"\nauth = [\"webhook\"]\nwebhook = { kind = \"github\", secret = \"literal\" }\n",
            "route[0].webhook.secret",
            "reference",
        ),
        (
            "[[route]]\npath = \"/hooks/gh\"\nauth = [\"webhook\"]\nwebhook = { kind = \"github\", secret = \"${hunter2\" }\n",
            "route[0].webhook.secret",
            "reference",
        ),
        (
            "[[route]]\npath = \"/hooks/gh\"\nauth = [\"webhook\"]\n",
            "route[0].webhook",
            "kind",
        ),
        (
            "[[route]]\npath = \"/hooks/gh\"\nauth = [\"webhook\"]\nwebhook = { kind = \"gitlab\", secret = \"${S}\" }\n",
            "route[0].webhook.kind",
            "github, stripe, slack, hmac-sha256",
        ),
        (
            "[[route]]\npath = \"/hooks/gh\"\nauth = \"none\"\nwebhook = { kind = \"github\", secret = \"${S}\" }\n",
            "route[0].webhook",
            "auth = [\"webhook\"]",
        ),
        (
            "[[route]]\npath = \"/hooks/x\"\nauth = [\"webhook\"]\nwebhook = { kind = \"hmac-sha256\", secret = \"${S}\" }\n",
            "route[0].webhook.header",
            "X-Signature-256",
        ),
    ];
    let dir = common::TempDir::new("hookcfg");
    for (route, key, fix) in cases {
        let path = dir.join("f.toml");
        std::fs::write(&path, format!("{base}{route}")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_frontdoor"))
            .args(["check", "--config"])
            .arg(&path)
            .env("S", "x")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{route}");
        assert!(
            text.contains(key) && text.contains(fix),
            "{route}: wanted {key} and {fix:?} in:\n{text}"
        );
    }
}
