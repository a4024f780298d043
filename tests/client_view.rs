//! What real clients see of the answers frontdoor makes itself: the status, headers and body
//! as hyper's client and curl receive them over HTTP/1.1 and HTTP/2, HEAD as well as GET for
//! every kind of refusal, and a 413 that reaches the client of an oversized upload however
//! it sends it (declared length, unknown length, `Expect: 100-continue`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use bytes::Bytes;
use common::{Harness, Options, PASSWORD, STANDARD_ROUTES, TestResponse, USER, basic};
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;

/// One request frontdoor answers itself, and the status it must answer with.
struct Case {
    name: &'static str,
    path: &'static str,
    credentials: Option<(&'static str, &'static str)>,
    host: Option<&'static str>,
    status: u16,
}

fn cases() -> Vec<Case> {
    let case = |name, path, credentials, host, status| Case {
        name,
        path,
        credentials,
        host,
        status,
    };
    vec![
        case("health", "/_frontdoor/health", None, None, 200),
        case("no login", "/api/jobs", None, None, 401),
        case(
            "wrong password",
            "/api/jobs",
            Some((USER, "wrong")),
            None,
            401,
        ),
        case("hidden UI", "/admin", Some((USER, PASSWORD)), None, 404),
        case("unlisted", "/nowhere", Some((USER, PASSWORD)), None, 404),
        case("reserved, unserved", "/_frontdoor/x", None, None, 404),
        case("method", "/api/post-only", None, None, 405),
        case("ambiguous path", "/a%2fb", None, None, 400),
        case("unknown host", "/health", None, Some("evil.example"), 421),
        case("upstream down", "/api/slow", None, None, 502),
    ]
}

const HOSTS: &str = "hosts = [\"localhost\"]";

/// `/health` allows GET only here (so HEAD is allowed, POST is the 405 case below).
const ROUTES: &str = r#"
[[route]]
path = "/health"
exact = true
methods = ["GET"]
auth = "none"

[[route]]
path = "/api/jobs"
auth = ["basic"]

[[route]]
path = "/api/post-only"
methods = ["POST"]
auth = "none"

[[route]]
path = "/api/slow"
auth = "none"
upstream = "gone"

[[route]]
path = "/"
auth = ["basic"]
"#;

async fn harness() -> (Harness, tokio::net::TcpSocket) {
    let (reserved, gone) = common::refusing_address();
    let extra = format!("[upstreams.gone]\nurl = \"http://{gone}\"\nconnect_timeout_secs = 1\n");
    let h = Harness::with(Options {
        server_extra: HOSTS,
        extra: Box::leak(extra.into_boxed_str()),
        routes: ROUTES,
        ..Options::default()
    })
    .await;
    (h, reserved)
}

fn request(h: &Harness, case: &Case, method: Method) -> Request<Full<Bytes>> {
    let host = case.host.map_or_else(|| h.authority(), str::to_string);
    let mut req = Request::builder()
        .method(method)
        .uri(format!("https://{host}{}", case.path))
        .header(header::HOST, host);
    if let Some((user, password)) = case.credentials {
        req = req.header(header::AUTHORIZATION, basic(user, password));
    }
    req.body(Full::new(Bytes::new())).unwrap()
}

/// Every answer frontdoor makes itself, as GET and as HEAD, over HTTP/1.1 and HTTP/2 with
/// hyper's client: the same status and headers, HEAD with no body and the GET body's length
/// in Content-Length.
#[tokio::test]
async fn head_and_get_of_every_own_answer() {
    let (h, _reserved) = harness().await;
    let mut failures = Vec::new();
    for case in cases() {
        for h2 in [false, true] {
            let send = |req| async {
                if h2 {
                    h.send_h2(req).await
                } else {
                    h.send(req).await
                }
            };
            let get: TestResponse = send(request(&h, &case, Method::GET)).await;
            let head: TestResponse = send(request(&h, &case, Method::HEAD)).await;
            let proto = if h2 { "h2" } else { "h1" };
            if get.status.as_u16() != case.status || head.status.as_u16() != case.status {
                failures.push(format!(
                    "{proto} {}: GET {} HEAD {} (want {})",
                    case.name, get.status, head.status, case.status
                ));
                continue;
            }
            if !head.body.is_empty() {
                failures.push(format!("{proto} {}: HEAD carried a body", case.name));
            }
            let length = |r: &TestResponse| {
                r.headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<usize>().ok())
            };
            if length(&head) != Some(get.body.len()) {
                failures.push(format!(
                    "{proto} {}: HEAD Content-Length {:?}, GET body {} bytes",
                    case.name,
                    length(&head),
                    get.body.len()
                ));
            }
            for name in [header::CONTENT_TYPE, header::CACHE_CONTROL] {
                if get.headers.get(&name) != head.headers.get(&name) {
                    failures.push(format!("{proto} {}: {name} differs", case.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// curl, with its defaults (HTTP/2 by ALPN) and with --http1.1, gets every answer as GET
/// and as HEAD (`-I`) without a protocol error.
#[tokio::test]
async fn curl_sees_every_own_answer() {
    let (h, _reserved) = harness().await;
    let port = h.addr.port();
    let mut failures = Vec::new();
    for case in cases() {
        for proto in ["--http2", "--http1.1"] {
            for head in [false, true] {
                let host = case.host.unwrap_or("localhost");
                let mut args: Vec<String> = vec![
                    "-s".into(),
                    "-o".into(),
                    "/dev/null".into(),
                    "-w".into(),
                    "%{http_code} %{http_version}".into(),
                    proto.into(),
                    // The certificate is not the point here (and the 421 case names
                    // another host).
                    "-k".into(),
                    "--resolve".into(),
                    format!("{host}:{port}:127.0.0.1"),
                ];
                if head {
                    args.push("-I".into());
                }
                if let Some((user, password)) = case.credentials {
                    args.extend(["-u".into(), format!("{user}:{password}")]);
                }
                args.push(format!("https://{host}:{port}{}", case.path));
                let h_copy = args.clone();
                let out = tokio::task::spawn_blocking(move || {
                    Command::new("curl")
                        .args(&h_copy)
                        .output()
                        .expect("curl runs")
                })
                .await
                .unwrap();
                let printed = String::from_utf8_lossy(&out.stdout).into_owned();
                let want_version = if proto == "--http2" { "2" } else { "1.1" };
                let want = format!("{} {want_version}", case.status);
                if !out.status.success() || printed != want {
                    failures.push(format!(
                        "curl {proto}{} {}: printed {printed:?} (want {want:?}), exit {:?}",
                        if head { " -I" } else { "" },
                        case.name,
                        out.status.code()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The body curl uploads: 2 MB against the upload route's 1 MB cap.
fn upload_file(h: &Harness) -> std::path::PathBuf {
    let path = h.dir.join("upload.bin");
    std::fs::write(&path, vec![b'x'; 2_000_000]).unwrap();
    path
}

/// An oversized upload gets 413, every time, over HTTP/2 and HTTP/1.1, with a declared
/// length, with an unknown length (`-T`), and with and without `Expect: 100-continue`; the
/// upstream never receives it.
#[tokio::test]
async fn curl_uploads_over_the_cap_get_413() {
    let h = Harness::with(Options {
        routes: STANDARD_ROUTES,
        ..Options::default()
    })
    .await;
    let cert = h.dir.join("cert.pem");
    let file = upload_file(&h);
    let url = format!("https://localhost:{}/api/workspace/upload", h.addr.port());
    let resolve = format!("localhost:{}:127.0.0.1", h.addr.port());
    let mut failures = Vec::new();
    for proto in ["--http2", "--http1.1"] {
        for how in ["declared", "declared+expect", "unknown", "unknown+expect"] {
            for round in 0..3 {
                let mut args: Vec<String> = vec![
                    "-s".into(),
                    "-o".into(),
                    "/dev/null".into(),
                    "-w".into(),
                    "%{http_code}".into(),
                    proto.into(),
                    "--cacert".into(),
                    cert.display().to_string(),
                    "--resolve".into(),
                    resolve.clone(),
                    "-u".into(),
                    format!("{USER}:{PASSWORD}"),
                ];
                if how.starts_with("declared") {
                    args.extend([
                        "-X".into(),
                        "PUT".into(),
                        "--data-binary".into(),
                        format!("@{}", file.display()),
                    ]);
                } else {
                    // Standard input: curl does not know the length (chunked / no length).
                    args.extend(["-T".into(), "-".into()]);
                }
                if how.ends_with("expect") {
                    args.extend(["-H".into(), "Expect: 100-continue".into()]);
                } else {
                    args.extend(["-H".into(), "Expect:".into()]);
                }
                args.push(url.clone());
                let stdin_file = file.clone();
                let out = tokio::task::spawn_blocking(move || {
                    Command::new("curl")
                        .args(&args)
                        .stdin(std::fs::File::open(stdin_file).unwrap())
                        .output()
                        .expect("curl runs")
                })
                .await
                .unwrap();
                let printed = String::from_utf8_lossy(&out.stdout).into_owned();
                if printed != "413" {
                    failures.push(format!(
                        "curl {proto} {how} #{round}: printed {printed:?}, exit {:?}: {}",
                        out.status.code(),
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let complete = h
        .agent
        .seen()
        .iter()
        .filter(|r| r.body_complete.load(std::sync::atomic::Ordering::SeqCst))
        .count();
    assert_eq!(
        complete, 0,
        "the upstream received a complete oversized body"
    );
}

/// hyper's own HTTP/2 client streaming a body past the cap gets the 413 too.
#[tokio::test]
async fn hyper_h2_upload_over_the_cap_gets_413() {
    let h = Harness::start().await;
    for declared in [true, false] {
        let mut req = Request::builder()
            .method(Method::PUT)
            .uri(format!("https://{}/api/workspace/upload", h.authority()))
            .header(header::AUTHORIZATION, basic(USER, PASSWORD));
        if declared {
            req = req.header(header::CONTENT_LENGTH, "2000000");
        }
        let req = req
            .body(Full::new(Bytes::from(vec![b'y'; 2_000_000])))
            .unwrap();
        let response = h.send_h2(req).await;
        assert_eq!(
            response.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "declared {declared}"
        );
    }
}

/// Plain HTTP sent to the HTTPS port gets a readable HTTP answer, a 308 to the same path
/// over HTTPS, instead of a TLS alert (curl: "Received HTTP/0.9 when not allowed").
#[tokio::test]
async fn plain_http_on_the_https_port_is_redirected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::start().await;
    let port = h.addr.port();
    let mut tcp = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    tcp.write_all(
        format!(
            "GET /api/jobs?x=1 HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 308"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains(&format!("location: https://localhost:{port}/api/jobs?x=1")),
        "{answer}"
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("http://localhost:{port}/health"))
            .output()
            .expect("curl runs")
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "308");
    // TLS clients are served as before.
    assert_eq!(h.get("/health", None).await.status, 200);
}

/// 413 and 429 as GET and HEAD, over HTTP/1.1 and HTTP/2: the same status, HEAD without a
/// body and with the GET body's length.
#[tokio::test]
async fn head_and_get_of_413_and_429() {
    let h = Harness::with(Options {
        extra: "[auth.lockout]\nmax_retries = 1\n",
        routes: r#"
[[route]]
path = "/api/small"
auth = "none"
max_body_bytes = 4

[[route]]
path = "/api/jobs"
auth = ["basic"]
"#,
        ..Options::default()
    })
    .await;
    // One wrong password bans the user: every later try is 429.
    let wrong = |method: Method| {
        Request::builder()
            .method(method)
            .uri(format!("https://{}/api/jobs", h.authority()))
            .header(header::HOST, h.authority())
            .header(header::AUTHORIZATION, basic("mallory", "wrong"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    assert_eq!(h.send(wrong(Method::GET)).await.status, 401);
    let too_big = |method: Method| {
        Request::builder()
            .method(method)
            .uri(format!("https://{}/api/small", h.authority()))
            .header(header::HOST, h.authority())
            .body(Full::new(Bytes::from_static(b"far too long")))
            .unwrap()
    };
    for h2 in [false, true] {
        for (status, make) in [
            (429, &wrong as &dyn Fn(Method) -> Request<Full<Bytes>>),
            (413, &too_big),
        ] {
            let send = |req| async {
                if h2 {
                    h.send_h2(req).await
                } else {
                    h.send(req).await
                }
            };
            let get = send(make(Method::GET)).await;
            let head = send(make(Method::HEAD)).await;
            assert_eq!(get.status.as_u16(), status, "h2 {h2}: GET");
            assert_eq!(head.status.as_u16(), status, "h2 {h2}: HEAD");
            assert!(
                head.body.is_empty(),
                "h2 {h2} {status}: HEAD carried a body"
            );
            assert_eq!(
                head.headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<usize>().ok()),
                Some(get.body.len()),
                "h2 {h2} {status}"
            );
        }
    }
}
