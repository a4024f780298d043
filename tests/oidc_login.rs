//! OIDC login against a real OpenID provider: the npm package `oidc-provider` (pinned in
//! tests/oidc/package.json, started by tests/oidc/provider.mjs on 127.0.0.1), driven by an
//! HTTP client that follows redirects, keeps cookies and submits the provider's login form,
//! and by headless Chromium (tests/oidc/browser.mjs, playwright-core). frontdoor runs in
//! this process over real TLS; the demo agent records what the upstream receives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use common::{TempDir, free_port, install_crypto};
use frontdoor::auth::oidc::jwt::JwtError;
use frontdoor::config::{Config, Env};
use frontdoor::demo::agent::DemoAgent;
use frontdoor::server::RunningServer;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const CLIENT_SECRET: &str = "frontdoor-secret-0123456789abcdef";
const COOKIE_KEY: &str = "test-cookie-key-0123456789abcdef-0123456789";
const OLD_COOKIE_KEY: &str = "old-cookie-key-0123456789abcdef-0123456789ab";
const API_AUDIENCE: &str = "https://frontdoor.test/api";

fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

// ---------------------------------------------------------------------------------------
// The provider

/// oidc-provider in a node process; it exits when its stdin closes (on drop).
struct Op {
    child: Child,
    _stdin: ChildStdin,
    issuer: String,
}

impl Op {
    /// Starts a provider whose `frontdoor` client redirects to frontdoor at `fd_port`.
    fn start(dir: &TempDir, fd_port: u16, id_token_ttl: u64) -> Op {
        let fd = format!("https://127.0.0.1:{fd_port}");
        let config = json!({
            "clients": [
                {
                    "client_id": "frontdoor",
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [format!("{fd}/_frontdoor/callback")],
                    "post_logout_redirect_uris": [format!("{fd}/")],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "client_secret_basic",
                    "id_token_signed_response_alg": "RS256"
                },
                {
                    "client_id": "api-client",
                    "client_secret": "api-client-secret-0123456789abcdef",
                    "redirect_uris": [],
                    "grant_types": ["client_credentials"],
                    "response_types": [],
                    "token_endpoint_auth_method": "client_secret_basic"
                }
            ],
            "users": [
                {"sub": "alice", "email": "alice@example.test", "email_verified": true,
                 "name": "Alice Liddell", "groups": ["admins", "staff"], "password": "wonderland"},
                {"sub": "bob", "email": "bob@example.test", "email_verified": false,
                 "name": "Bob Builder", "groups": ["staff"], "password": "canwefixit"},
                {"sub": "carol", "email": "carol@other.test", "email_verified": true,
                 "name": "Carol", "groups": [], "password": "carolpass"}
            ],
            "accessTokenTTL": id_token_ttl,
            "idTokenTTL": id_token_ttl,
            "refreshTokenTTL": 86400,
            "signingAlgs": ["RS256", "ES256", "EdDSA"],
            "bearerAudience": API_AUDIENCE,
            "bearerScopes": "api:read api:write",
            "bearerClaims": {"api-client": {"groups": ["services"]}}
        });
        let path = dir.join(&format!("op-{}.json", free_port()));
        std::fs::write(&path, config.to_string()).unwrap();
        let mut child = Command::new("node")
            .arg(oidc_dir().join("provider.mjs"))
            .arg(&path)
            .arg("--exit-on-stdin-close")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (./scripts/test installs Node.js packages in tests/oidc)");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(
            line.strip_prefix("READY ")
                .unwrap_or_else(|| panic!("provider did not start: {line:?}")),
        )
        .unwrap();
        Op {
            child,
            _stdin: stdin,
            issuer: ready["issuer"].as_str().unwrap().to_string(),
        }
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let (status, _, text) = fetch(
            Method::POST,
            &format!("{}/__test/{path}", self.issuer),
            &[("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await;
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn state(&self) -> Value {
        let (_, _, text) = fetch(
            Method::GET,
            &format!("{}/__test/state", self.issuer),
            &[],
            Vec::new(),
        )
        .await;
        serde_json::from_str(&text).unwrap()
    }

    /// A JWT access token for the API audience from the client_credentials grant.
    async fn service_token(&self) -> String {
        let auth = base64::engine::general_purpose::STANDARD
            .encode("api-client:api-client-secret-0123456789abcdef");
        let (status, _, text) = fetch(
            Method::POST,
            &format!("{}/token", self.issuer),
            &[
                ("authorization", &format!("Basic {auth}")),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            format!(
                "grant_type=client_credentials&scope=api%3Aread&resource={}",
                urlencode(API_AUDIENCE)
            )
            .into_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---------------------------------------------------------------------------------------
// HTTP: one request per connection, http:// or https:// (frontdoor's self-signed cert)

/// One request; a server that does not answer within 20 s fails the test, naming the URL.
async fn fetch(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, String) {
    match tokio::time::timeout(
        Duration::from_secs(20),
        fetch_untimed(method.clone(), url, headers, body),
    )
    .await
    {
        Ok(answer) => answer,
        Err(_) => panic!("no answer within 20 s to {method} {url}"),
    }
}

async fn fetch_untimed(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, String) {
    let parsed = url::Url::parse(url).unwrap();
    let addr: SocketAddr = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port_or_known_default().unwrap()
    )
    .parse()
    .unwrap();
    let mut target = parsed.path().to_string();
    if let Some(q) = parsed.query() {
        target.push('?');
        target.push_str(q);
    }
    let mut builder = Request::builder().method(method).uri(target);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        builder = builder.header("host", format!("{}:{}", addr.ip(), addr.port()));
    }
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder.body(Full::new(Bytes::from(body))).unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let response = if parsed.scheme() == "https" {
        let config = rustls::ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(common::AcceptAny))
            .with_no_client_auth();
        let tls = TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        sender.send_request(request).await.unwrap()
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        sender.send_request(request).await.unwrap()
    };
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// A browser without JavaScript: cookies per host (Secure ones over https only, as
/// browsers do), redirects followed, forms submitted.
#[derive(Default, Clone)]
struct Browser {
    /// name -> (value, secure)
    cookies: HashMap<String, (String, bool)>,
}

struct Page {
    url: String,
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> Option<String> {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
    }
    /// Where this page's redirect points, as an absolute URL.
    fn next_url(&self) -> String {
        url::Url::parse(&self.url)
            .unwrap()
            .join(&self.location().unwrap())
            .unwrap()
            .to_string()
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }
}

impl Browser {
    fn cookie_header(&self, https: bool) -> String {
        self.cookies
            .iter()
            .filter(|(_, (_, secure))| https || !secure)
            .map(|(n, (v, _))| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn store(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let (name, value) = parts.next().unwrap().trim().split_once('=').unwrap();
        let attrs: Vec<String> = parts.map(|p| p.trim().to_ascii_lowercase()).collect();
        if attrs.iter().any(|a| a == "max-age=0")
            || attrs
                .iter()
                .any(|a| a.starts_with("expires=thu, 01 jan 1970"))
        {
            self.cookies.remove(name);
        } else {
            let secure = attrs.iter().any(|a| a == "secure");
            self.cookies
                .insert(name.to_string(), (value.to_string(), secure));
        }
    }

    /// One request, no redirect followed; navigations ask for HTML.
    async fn request(
        &mut self,
        method: Method,
        url: &str,
        extra: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Page {
        let https = url.starts_with("https://");
        let cookie = self.cookie_header(https);
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if !extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("accept")) {
            headers.push(("accept", "text/html,application/xhtml+xml"));
        }
        if !cookie.is_empty() {
            headers.push(("cookie", &cookie));
        }
        headers.extend_from_slice(extra);
        let (status, response_headers, text) = fetch(method, url, &headers, body).await;
        let page = Page {
            url: url.to_string(),
            status,
            headers: response_headers,
            body: text,
        };
        for c in page.set_cookies() {
            self.store(&c);
        }
        page
    }

    async fn get(&mut self, url: &str) -> Page {
        self.request(Method::GET, url, &[], Vec::new()).await
    }

    /// Follows redirects from `url`; stops at a non-redirect, or before following a
    /// redirect to a URL starting with `stop_at`.
    async fn follow(&mut self, url: &str, stop_at: Option<&str>) -> Page {
        let mut page = self.get(url).await;
        for _ in 0..20 {
            let Some(location) = page.location().filter(|_| page.status.is_redirection()) else {
                return page;
            };
            let next = url::Url::parse(&page.url)
                .unwrap()
                .join(&location)
                .unwrap()
                .to_string();
            if stop_at.is_some_and(|prefix| next.starts_with(prefix)) {
                return page;
            }
            page = self.get(&next).await;
        }
        panic!("too many redirects from {url}");
    }

    /// Submits the provider's login form on `page`, then follows redirects.
    async fn submit_login(
        &mut self,
        page: &Page,
        login: &str,
        password: &str,
        stop_at: Option<&str>,
    ) -> Page {
        let action = page
            .body
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no form on {}:\n{}", page.url, page.body));
        let action = url::Url::parse(&page.url)
            .unwrap()
            .join(&action.replace("&amp;", "&"))
            .unwrap()
            .to_string();
        let form = format!(
            "login={}&password={}",
            urlencode(login),
            urlencode(password)
        );
        let mut result = self
            .request(
                Method::POST,
                &action,
                &[("content-type", "application/x-www-form-urlencoded")],
                form.into_bytes(),
            )
            .await;
        if let Some(location) = result.location().filter(|_| result.status.is_redirection()) {
            let next = url::Url::parse(&action)
                .unwrap()
                .join(&location)
                .unwrap()
                .to_string();
            if stop_at.is_some_and(|prefix| next.starts_with(prefix)) {
                return result;
            }
            result = self.follow(&next, stop_at).await;
        }
        result
    }

    /// Opens `start` on frontdoor, signs in at the provider, and returns the page frontdoor
    /// answers after the callback.
    async fn sign_in(&mut self, start: &str, login: &str, password: &str) -> Page {
        let page = self.follow(start, None).await;
        if page.body.contains("name=\"password\"") {
            self.submit_login(&page, login, password, None).await
        } else {
            page
        }
    }
}

// ---------------------------------------------------------------------------------------
// frontdoor

struct Front {
    server: Option<RunningServer>,
    agent: DemoAgent,
    base: String,
    _dir: TempDir,
}

impl Front {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn oidc(&self) -> &frontdoor::auth::oidc::Oidc {
        self.server.as_ref().unwrap().state.oidc.as_deref().unwrap()
    }

    /// The headers the upstream received with its last request.
    fn last_upstream_headers(&self) -> Vec<(String, String)> {
        self.agent.seen().last().unwrap().headers.clone()
    }

    async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

fn upstream_header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

struct FrontOptions<'a> {
    cookie_key: &'a str,
    previous_keys: &'a [&'a str],
    refresh_interval: &'a str,
    /// Also `[auth.login]`, and a route `/both` taking either.
    login: bool,
}

impl Default for FrontOptions<'_> {
    fn default() -> Self {
        FrontOptions {
            cookie_key: COOKIE_KEY,
            previous_keys: &[],
            refresh_interval: "1h",
            login: false,
        }
    }
}

async fn start_front(op: &Op, port: u16, opts: FrontOptions<'_>) -> Front {
    install_crypto();
    let dir = TempDir::new("oidc");
    let agent = DemoAgent::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    std::fs::write(
        dir.join("htpasswd"),
        common::apache_htpasswd_line("B -C 5", common::USER, common::PASSWORD) + "\n",
    )
    .unwrap();
    let base = format!("https://127.0.0.1:{port}");
    let previous: Vec<String> = opts
        .previous_keys
        .iter()
        .enumerate()
        .map(|(i, _)| format!("\"${{PREVIOUS_{i}}}\""))
        .collect();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"

[tls]
self_signed = true
cert = "{d}/cert.pem"
key = "{d}/key.pem"
self_signed_hosts = ["localhost", "127.0.0.1"]

[upstream]
url = "http://{agent}"

[auth.basic]
htpasswd = "{d}/htpasswd"

[auth.oidc]
issuer = "{issuer}"
client_id = "frontdoor"
client_secret = "${{OIDC_SECRET}}"
redirect_url = "{base}/_frontdoor/callback"
audience = "{API_AUDIENCE}"
post_logout_redirect_url = "{base}/"
user_claim = "email"

[session]
cookie_key = "${{COOKIE_KEY}}"
previous_keys = [{previous}]
refresh_interval = "{refresh}"

{login}

[[route]]
path = "/app"
auth = ["oidc"]

[[route]]
path = "/api"
auth = ["oidc"]

[[route]]
path = "/app/admins"
auth = ["oidc"]
allow_groups = ["admins"]

[[route]]
path = "/app/domain"
auth = ["oidc"]
allow_email_domains = ["example.test"]

[[route]]
path = "/app/alice-only"
auth = ["oidc"]
allow_emails = ["Alice@Example.test"]

[[route]]
path = "/app/svc"
auth = ["oidc_bearer"]

[[route]]
path = "/app/either"
auth = ["basic", "oidc"]

[[route]]
path = "/"
exact = true
auth = "none"
"#,
        d = dir.path().display(),
        agent = agent.addr,
        issuer = op.issuer,
        previous = previous.join(", "),
        refresh = opts.refresh_interval,
        login = if opts.login {
            "[auth.login]\n[[route]]\npath = \"/both\"\nauth = [\"login\", \"oidc\"]\n\
             [[route]]\npath = \"/only-login\"\nauth = [\"login\"]"
        } else {
            ""
        },
    );
    let mut env = vec![
        ("OIDC_SECRET".to_string(), CLIENT_SECRET.to_string()),
        ("COOKIE_KEY".to_string(), opts.cookie_key.to_string()),
    ];
    for (i, key) in opts.previous_keys.iter().enumerate() {
        env.push((format!("PREVIOUS_{i}"), key.to_string()));
    }
    let config = Config::from_toml(
        &text,
        "oidc-test.toml",
        &Env::from_pairs(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let server = frontdoor::server::start(config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Front {
        server: Some(server),
        agent,
        base,
        _dir: dir,
    }
}

/// A provider and a frontdoor in front of the demo agent.
async fn setup(id_token_ttl: u64, refresh_interval: &str) -> (Op, Front) {
    let port = free_port();
    let dir = TempDir::new("oidc-op");
    let op = Op::start(&dir, port, id_token_ttl);
    let front = start_front(
        &op,
        port,
        FrontOptions {
            refresh_interval,
            ..FrontOptions::default()
        },
    )
    .await;
    std::mem::forget(dir); // the provider's config file; removed with the temp root
    (op, front)
}

// ---------------------------------------------------------------------------------------
// Tests

/// The full login: a browser navigation is sent to the provider, signs in, lands on the
/// page it asked for, and the upstream sees the identity (client-sent copies stripped,
/// frontdoor's own cookies not forwarded). API-style requests get 401 JSON, never a 302.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flow_reaches_the_upstream_with_identity_headers() {
    let (_op, front) = setup(3600, "1h").await;
    let mut browser = Browser::default();

    let first = browser.get(&front.url("/app/page?x=1")).await;
    assert_eq!(first.status, StatusCode::FOUND);
    let to_provider = first.location().unwrap();
    assert!(
        to_provider.contains("code_challenge_method=S256"),
        "{to_provider}"
    );
    assert!(to_provider.contains("nonce="), "{to_provider}");
    let login_cookie = first.set_cookies().join("\n");
    assert!(
        login_cookie.starts_with("__Host-fd_login_"),
        "{login_cookie}"
    );
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(login_cookie.contains(attr), "{login_cookie}");
    }

    let landed = browser
        .sign_in(&front.url("/app/page?x=1"), "alice", "wonderland")
        .await;
    assert_eq!(landed.status, StatusCode::OK, "{}", landed.body);
    assert!(landed.url.ends_with("/app/page?x=1"), "{}", landed.url);
    let session_cookies: Vec<&String> = browser
        .cookies
        .keys()
        .filter(|k| k.starts_with("__Host-fd_session"))
        .collect();
    assert!(!session_cookies.is_empty());

    // Spoofed identity headers and frontdoor's cookies never reach the upstream.
    let page = browser
        .request(
            Method::GET,
            &front.url("/app/page"),
            &[
                ("x-forwarded-email", "mallory@evil.test"),
                ("x-forwarded-groups", "admins"),
                ("x-forwarded-user", "mallory"),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let seen = front.last_upstream_headers();
    assert_eq!(
        upstream_header(&seen, "x-forwarded-user").as_deref(),
        Some("alice@example.test")
    );
    assert_eq!(
        upstream_header(&seen, "x-forwarded-email").as_deref(),
        Some("alice@example.test")
    );
    assert_eq!(
        upstream_header(&seen, "x-forwarded-groups").as_deref(),
        Some("admins,staff")
    );
    let upstream_cookies = upstream_header(&seen, "cookie").unwrap_or_default();
    assert!(
        !upstream_cookies.contains("__Host-fd_"),
        "frontdoor's cookies stay with frontdoor: {upstream_cookies}"
    );

    // The session as JSON.
    let info = browser.get(&front.url("/_frontdoor/userinfo")).await;
    let info: Value = serde_json::from_str(&info.body).unwrap();
    assert_eq!(info["sub"], "alice");
    assert_eq!(info["email"], "alice@example.test");
    assert_eq!(info["groups"], json!(["admins", "staff"]));

    // A login asked for on another name of this host starts on the redirect_url's host,
    // where the session cookie will live.
    let port = front.base.rsplit(':').next().unwrap();
    let (status, headers, _) = fetch(
        Method::GET,
        &front.url("/app/x"),
        &[
            ("accept", "text/html"),
            ("host", &format!("localhost:{port}")),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(
        headers.get(header::LOCATION).unwrap(),
        &format!("https://127.0.0.1:{port}/app/x")
    );

    // Programs without a session: 401 JSON with a challenge, never a redirect.
    let mut stranger = Browser::default();
    for (method, headers) in [
        (Method::GET, vec![("accept", "application/json")]),
        (Method::GET, vec![("sec-fetch-mode", "cors")]),
        (Method::POST, vec![]),
        (
            Method::GET,
            vec![("upgrade", "websocket"), ("connection", "upgrade")],
        ),
    ] {
        let page = stranger
            .request(
                method.clone(),
                &front.url("/api/jobs"),
                &headers,
                Vec::new(),
            )
            .await;
        assert_eq!(
            page.status,
            StatusCode::UNAUTHORIZED,
            "{method} {headers:?}"
        );
        assert!(page.headers.contains_key(header::WWW_AUTHENTICATE));
        let body: Value = serde_json::from_str(&page.body).unwrap();
        assert_eq!(body["status"], 401);
    }
    // A route that accepts Basic or a session: the Basic login still works.
    let basic = fetch(
        Method::GET,
        &front.url("/app/either"),
        &[(
            "authorization",
            &common::basic(common::USER, common::PASSWORD),
        )],
        Vec::new(),
    )
    .await;
    assert_eq!(basic.0, StatusCode::OK);
    let with_session = browser.get(&front.url("/app/either")).await;
    assert_eq!(with_session.status, StatusCode::OK);
    front.stop().await;
}

/// allow_groups, allow_email_domains, allow_emails: a signed-in person outside them gets
/// 403 saying who they are, with a sign-out link. An unverified email does not count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_rules_by_group_domain_and_email() {
    let (_op, front) = setup(3600, "1h").await;
    let mut alice = Browser::default();
    alice
        .sign_in(&front.url("/app"), "alice", "wonderland")
        .await;
    let mut bob = Browser::default();
    bob.sign_in(&front.url("/app"), "bob", "canwefixit").await;
    let mut carol = Browser::default();
    carol
        .sign_in(&front.url("/app"), "carol", "carolpass")
        .await;

    for (path, alice_ok, bob_ok, carol_ok) in [
        ("/app/admins", true, false, false),
        ("/app/domain", true, false, false), // bob's email is unverified
        ("/app/alice-only", true, false, false),
        ("/app", true, true, true),
    ] {
        for (who, browser, ok) in [
            ("alice", &mut alice, alice_ok),
            ("bob", &mut bob, bob_ok),
            ("carol", &mut carol, carol_ok),
        ] {
            let page = browser.get(&front.url(path)).await;
            let want = if ok {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(page.status, want, "{who} on {path}: {}", page.body);
            if !ok {
                assert!(page.body.contains("signed in as"), "{}", page.body);
                assert!(page.body.contains("/_frontdoor/logout"), "{}", page.body);
            }
        }
    }
    let forbidden = carol
        .request(
            Method::GET,
            &front.url("/app/admins"),
            &[("accept", "application/json")],
            Vec::new(),
        )
        .await;
    let body: Value = serde_json::from_str(&forbidden.body).unwrap();
    assert_eq!(body["signed_in_as"], "carol@other.test");
    front.stop().await;
}

/// The session cookie cannot be modified, and one sealed under a key that was rotated out
/// no longer opens; with the old key in `previous_keys` it opens and is re-sealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_tampering_and_key_rotation() {
    let port = free_port();
    let op_dir = TempDir::new("oidc-op");
    let op = Op::start(&op_dir, port, 3600);
    let old = start_front(
        &op,
        port,
        FrontOptions {
            cookie_key: OLD_COOKIE_KEY,
            ..FrontOptions::default()
        },
    )
    .await;
    let mut browser = Browser::default();
    let page = browser
        .sign_in(&old.url("/app"), "alice", "wonderland")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    old.stop().await;
    let sealed_under_old = browser.clone();

    // Tampered: each chunk with one character changed.
    let rotated = start_front(
        &op,
        port,
        FrontOptions {
            previous_keys: &[OLD_COOKIE_KEY],
            ..FrontOptions::default()
        },
    )
    .await;
    let mut tampered = sealed_under_old.clone();
    for (name, (value, _)) in tampered.cookies.iter_mut() {
        if name.starts_with("__Host-fd_session") {
            let mut bytes = value.clone().into_bytes();
            let i = bytes.len() / 2;
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            *value = String::from_utf8(bytes).unwrap();
        }
    }
    let page = tampered
        .request(
            Method::GET,
            &rotated.url("/api/x"),
            &[("accept", "application/json")],
            Vec::new(),
        )
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(
        page.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-fd_session_0=;") && c.contains("Max-Age=0")),
        "the bad session is cleared: {:?}",
        page.set_cookies()
    );

    // Sealed under the previous key: accepted, and re-sealed under the current one.
    let mut carried = sealed_under_old.clone();
    let page = carried.get(&rotated.url("/app")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-fd_session_0=") && !c.contains("Max-Age=0")),
        "re-sealed: {:?}",
        page.set_cookies()
    );
    rotated.stop().await;

    // The old key rotated out entirely: the old cookie no longer opens.
    let current_only = start_front(&op, port, FrontOptions::default()).await;
    let mut stale = sealed_under_old.clone();
    let page = stale
        .request(
            Method::GET,
            &current_only.url("/api/x"),
            &[("accept", "application/json")],
            Vec::new(),
        )
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    // ... while the re-sealed one does.
    let page = carried.get(&current_only.url("/app")).await;
    assert_eq!(page.status, StatusCode::OK);
    current_only.stop().await;
}

/// A callback can be used once; a code bound to one login's PKCE challenge cannot finish
/// another login (its verifier does not match); a state without its browser cookie fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_state_and_pkce_binding() {
    let (_op, front) = setup(3600, "1h").await;
    let callback_prefix = front.url("/_frontdoor/callback");

    // Browser A signs in but stops before delivering the callback.
    let mut a = Browser::default();
    let page = a.follow(&front.url("/app"), None).await;
    let stopped = a
        .submit_login(&page, "alice", "wonderland", Some(&callback_prefix))
        .await;
    let callback_a = stopped.next_url();
    assert!(callback_a.starts_with(&callback_prefix), "{callback_a}");
    let params: HashMap<String, String> = url::Url::parse(&callback_a)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();

    // Browser B starts its own login (its own state, nonce and PKCE verifier) and receives
    // A's code with B's state: the provider refuses the code for B's verifier.
    let mut b = Browser::default();
    let start_b = b.get(&front.url("/app")).await;
    let state_b: String = url::Url::parse(&start_b.location().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let injected = b
        .get(&format!(
            "{callback_prefix}?code={}&state={}",
            urlencode(&params["code"]),
            urlencode(&state_b)
        ))
        .await;
    assert_eq!(
        injected.status,
        StatusCode::BAD_REQUEST,
        "{}",
        injected.body
    );
    assert!(
        injected.body.contains("refused the code"),
        "{}",
        injected.body
    );
    assert!(!b.cookies.keys().any(|k| k.starts_with("__Host-fd_session")));

    // A's callback without A's login cookie (another browser): refused.
    let mut other = Browser::default();
    let page = other.get(&callback_a).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);

    // A's own callback works once...
    let saved = a.clone();
    let page = a.get(&callback_a).await;
    assert_eq!(page.status, StatusCode::FOUND);
    assert!(a.cookies.keys().any(|k| k.starts_with("__Host-fd_session")));
    // ... and replaying it, login cookie and all, is refused.
    let mut replay = saved.clone();
    let page = replay.get(&callback_a).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("replayed"), "{}", page.body);
    front.stop().await;
}

/// Return targets never leave the site: each of these, given to /_frontdoor/login?rd=,
/// ends the login on a same-origin path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_redirect_corpus_never_leaves_the_site() {
    let (_op, front) = setup(3600, "1h").await;
    let corpus = common::OPEN_REDIRECTS;
    assert!(corpus.len() >= 30);
    let mut browser = Browser::default();
    browser
        .sign_in(&front.url("/app"), "alice", "wonderland")
        .await;
    let origin = front.url("");
    for target in corpus {
        let page = browser
            .follow(
                &front.url(&format!("/_frontdoor/login?rd={}", urlencode(target))),
                Some(&origin),
            )
            .await;
        // Stopped at frontdoor's callback: deliver it and look where it sends the browser.
        let callback = page.next_url();
        assert!(callback.starts_with(&origin), "{target:?}: {callback}");
        let landed = browser.get(&callback).await;
        assert_eq!(landed.status, StatusCode::FOUND, "{target:?}");
        let location = landed.location().unwrap();
        assert!(
            location.starts_with('/')
                && !location.starts_with("//")
                && !location.starts_with("/\\")
                && !location.contains(|c: char| c.is_whitespace() || c == '\\'),
            "{target:?} -> {location:?}"
        );
        let resolved = url::Url::parse(&origin).unwrap().join(&location).unwrap();
        assert_eq!(
            resolved.host_str(),
            Some("127.0.0.1"),
            "{target:?} -> {location}"
        );
    }
    // A legitimate target is kept.
    let page = browser
        .follow(
            &front.url("/_frontdoor/login?rd=%2Fapp%2Freports%3Fq%3D1"),
            Some(&origin),
        )
        .await;
    let callback = page.next_url();
    let landed = browser.get(&callback).await;
    assert_eq!(landed.location().as_deref(), Some("/app/reports?q=1"));
    front.stop().await;
}

/// Past the refresh interval the session is renewed with the refresh token; once the
/// provider revokes the grant, the next request after the interval is signed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_renews_and_revocation_signs_out() {
    let (op, front) = setup(60, "1s").await;
    let mut browser = Browser::default();
    browser
        .sign_in(&front.url("/app"), "alice", "wonderland")
        .await;
    let refreshes = |state: &Value| {
        state["counters"]["tokenByGrantType"]["refresh_token"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = refreshes(&op.state().await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // A page's many requests arrive at once when the session is due: one refresh at the
    // provider, and the same renewed cookies in every answer.
    let pages = futures_join(
        (0..8)
            .map(|i| {
                let mut b = browser.clone();
                let url = front.url(&format!("/app/asset-{i}"));
                async move { b.get(&url).await }
            })
            .collect(),
    )
    .await;
    let mut renewed_values = Vec::new();
    for page in &pages {
        assert_eq!(page.status, StatusCode::OK);
        let value = page
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("__Host-fd_session_0=") && !c.contains("Max-Age=0"))
            .unwrap_or_else(|| panic!("renewed session: {:?}", page.set_cookies()));
        assert!(
            page.headers
                .get(header::CACHE_CONTROL)
                .is_some_and(|v| v == "no-store")
        );
        renewed_values.push(value);
    }
    renewed_values.dedup();
    assert_eq!(
        renewed_values.len(),
        1,
        "one sealed value for all racing requests"
    );
    browser.store(&renewed_values[0]);
    assert_eq!(refreshes(&op.state().await), before + 1, "one refresh");
    let info: Value =
        serde_json::from_str(&browser.get(&front.url("/_frontdoor/userinfo")).await.body).unwrap();
    assert!(info["refreshed_at"].as_i64().unwrap() > 0);

    op.control("revoke-grants", json!({"sub": "alice"})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let api = browser
        .request(
            Method::GET,
            &front.url("/api/jobs"),
            &[("accept", "application/json")],
            Vec::new(),
        )
        .await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert!(
        api.set_cookies().iter().any(|c| c.contains("Max-Age=0")),
        "{:?}",
        api.set_cookies()
    );
    let page = browser.get(&front.url("/app")).await;
    assert_eq!(
        page.status,
        StatusCode::FOUND,
        "signed out: back to the provider"
    );
    assert!(page.location().unwrap().starts_with(&op.issuer));
    front.stop().await;
}

/// Logout clears the session and sends the browser to the provider's end_session_endpoint
/// with id_token_hint and post_logout_redirect_uri.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_clears_the_session_and_ends_the_provider_session() {
    let (op, front) = setup(3600, "1h").await;
    let mut browser = Browser::default();
    browser
        .sign_in(&front.url("/app"), "alice", "wonderland")
        .await;
    let page = browser.get(&front.url("/_frontdoor/logout")).await;
    assert_eq!(page.status, StatusCode::FOUND);
    let location = page.location().unwrap();
    assert!(location.starts_with(&op.issuer), "{location}");
    assert!(location.contains("id_token_hint="), "{location}");
    assert!(
        location.contains(&format!(
            "post_logout_redirect_uri={}",
            urlencode(&front.url("/"))
        )),
        "{location}"
    );
    assert!(
        !browser
            .cookies
            .keys()
            .any(|k| k.starts_with("__Host-fd_session"))
    );
    let page = browser.get(&front.url("/app")).await;
    assert_eq!(page.status, StatusCode::FOUND);
    front.stop().await;
}

/// Bearer tokens on `oidc_bearer` routes: a JWT access token from the provider for the
/// configured audience passes; tampered, other-audience, expired and missing ones get 401;
/// after the provider rotates its keys, tokens under the new kid pass without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_and_key_rotation() {
    let (op, front) = setup(3600, "1h").await;
    let token = op.service_token().await;
    let call = |token: Option<String>| {
        let url = front.url("/app/svc/data");
        async move {
            let auth = token.map(|t| format!("Bearer {t}"));
            let mut headers = vec![("accept", "application/json")];
            if let Some(a) = &auth {
                headers.push(("authorization", a.as_str()));
            }
            fetch(Method::GET, &url, &headers, Vec::new()).await
        }
    };
    let (status, _, body) = call(Some(token.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seen = front.last_upstream_headers();
    assert_eq!(
        upstream_header(&seen, "x-forwarded-user").as_deref(),
        Some("api-client")
    );
    assert_eq!(
        upstream_header(&seen, "x-forwarded-groups").as_deref(),
        Some("services")
    );
    assert_eq!(upstream_header(&seen, "authorization"), None, "consumed");

    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let none_alg = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        parts[1]
    );
    // An ID token is for the client, not the API audience.
    let mut browser = Browser::default();
    browser
        .sign_in(&front.url("/app"), "alice", "wonderland")
        .await;
    for (what, bad) in [
        ("tampered", Some(tampered)),
        ("alg none", Some(none_alg)),
        ("garbage", Some("not.a.jwt".to_string())),
        ("missing", None),
    ] {
        let (status, headers, _) = call(bad).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(headers.contains_key(header::WWW_AUTHENTICATE), "{what}");
    }
    // Expired: the same token an hour after its expiry.
    let exp = claims["exp"].as_i64().unwrap();
    assert_eq!(
        front.oidc().verify_bearer(&token, exp + 3600).await,
        Err(JwtError::Expired)
    );

    // The provider rotates its keys and drops the old ones: new tokens carry a new kid,
    // which frontdoor fetches on first sight.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let rotated = op.control("rotate-keys", json!({"dropOld": true})).await;
    assert!(!rotated["newKids"].as_array().unwrap().is_empty());
    let new_token = op.service_token().await;
    let kid = |t: &str| -> String {
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(t.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        header["kid"].as_str().unwrap().to_string()
    };
    assert_ne!(kid(&new_token), kid(&token));
    let (status, _, body) = call(Some(new_token)).await;
    assert_eq!(status, StatusCode::OK, "new kid picked up: {body}");
    front.stop().await;
}

/// Runs futures concurrently on this task and returns their outputs in order.
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}

/// A provider's own tokens obtained by this test with its own PKCE and nonce: the ID token
/// and the refresh token, for checks that need the raw token.
async fn direct_id_token(op: &Op, front: &Front, nonce: &str) -> String {
    let verifier = "test-verifier-0123456789012345678901234567890123456789";
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let redirect = front.url("/_frontdoor/callback");
    let auth_url = format!(
        "{}/auth?client_id=frontdoor&response_type=code&scope=openid%20email%20profile&redirect_uri={}&state=s1&nonce={nonce}&code_challenge={challenge}&code_challenge_method=S256",
        op.issuer,
        urlencode(&redirect)
    );
    let mut browser = Browser::default();
    let page = browser.follow(&auth_url, Some(&redirect)).await;
    let page = if page.body.contains("name=\"password\"") {
        browser
            .submit_login(&page, "alice", "wonderland", Some(&redirect))
            .await
    } else {
        page
    };
    let location = url::Url::parse(&page.url)
        .unwrap()
        .join(&page.location().unwrap())
        .unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("frontdoor:{CLIENT_SECRET}"));
    let (status, _, text) = fetch(
        Method::POST,
        &format!("{}/token", op.issuer),
        &[
            ("authorization", &format!("Basic {auth}")),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}",
            urlencode(&code),
            urlencode(&redirect)
        )
        .into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    body["id_token"].as_str().unwrap().to_string()
}

/// ID token verification with the provider's real tokens: a good one passes; tampered,
/// expired, wrong-key, other-issuer and wrong-nonce ones are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_token_checks() {
    let (op, front) = setup(3600, "1h").await;
    let oidc = front.oidc();
    let now = frontdoor::auth::oidc::now_unix();
    let token = direct_id_token(&op, &front, "n-123").await;
    let identity = oidc
        .verify_id_token(&token, Some("n-123"), now)
        .await
        .unwrap();
    assert_eq!(identity.sub, "alice");
    assert_eq!(identity.groups, vec!["admins", "staff"]);

    assert_eq!(
        oidc.verify_id_token(&token, Some("other-nonce"), now).await,
        Err(JwtError::Claim("nonce"))
    );
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    claims["sub"] = json!("bob");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(
        oidc.verify_id_token(&tampered, None, now).await,
        Err(JwtError::Signature)
    );
    let exp = claims["exp"].as_i64().unwrap();
    assert_eq!(
        oidc.verify_id_token(&token, None, exp + 61).await,
        Err(JwtError::Expired)
    );
    // Signed by a key that is not the provider's, under the provider's kid.
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let key = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
    )
    .unwrap();
    let keys = op.state().await["keys"].clone();
    let es_kid = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "ES256")
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .unwrap();
    let forged_header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": es_kid}).to_string());
    let signed = format!("{forged_header}.{}", parts[1]);
    let signature = key.sign(&rng, signed.as_bytes()).unwrap();
    let wrong_key = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
    assert_eq!(
        oidc.verify_id_token(&wrong_key, None, now).await,
        Err(JwtError::Signature)
    );
    // alg none and HS256 (with the public key as secret) are refused outright.
    for alg in ["none", "HS256"] {
        let forged = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": header["kid"]}).to_string()),
            parts[1],
            parts[2]
        );
        assert_eq!(
            oidc.verify_id_token(&forged, None, now).await,
            Err(JwtError::Algorithm(alg.into()))
        );
    }
    // Another provider (its own keys and issuer) for the same client id.
    let other_dir = TempDir::new("oidc-other");
    let port = front.base.rsplit(':').next().unwrap().parse().unwrap();
    let other = Op::start(&other_dir, port, 3600);
    let foreign = direct_id_token(&other, &front, "n-1").await;
    let refused = oidc.verify_id_token(&foreign, None, now).await;
    assert!(
        matches!(refused, Err(JwtError::UnknownKey(_))),
        "{refused:?}"
    );
    front.stop().await;
}

/// With `[auth.login]` as well: a route taking either sends a browser to the sign-in page,
/// which offers "Sign in with PROVIDER"; that button signs in at the provider and returns
/// to the page asked for, whose upstream sees the OIDC identity. A session from the form
/// does not open an OIDC-only route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_page_offers_the_provider() {
    let port = free_port();
    let dir = TempDir::new("oidc-op");
    let op = Op::start(&dir, port, 3600);
    let front = start_front(
        &op,
        port,
        FrontOptions {
            login: true,
            ..FrontOptions::default()
        },
    )
    .await;
    let mut browser = Browser::default();
    let first = browser.get(&front.url("/both/page")).await;
    assert_eq!(first.status, StatusCode::FOUND);
    assert_eq!(
        first.location().as_deref(),
        Some("/_frontdoor/login?rd=%2Fboth%2Fpage")
    );
    let form = browser
        .get(&front.url("/_frontdoor/login?rd=%2Fboth%2Fpage"))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body.contains("Sign in with 127.0.0.1")
            && form
                .body
                .contains("href=\"/_frontdoor/login?via=oidc&amp;rd=%2Fboth%2Fpage\""),
        "{}",
        form.body
    );
    // Not where the page to return to takes no OIDC session (it would come back here).
    let login_only = browser
        .get(&front.url("/_frontdoor/login?rd=%2Fonly-login"))
        .await;
    assert!(login_only.body.contains("name=\"password\""));
    assert!(
        !login_only.body.contains("Sign in with"),
        "{}",
        login_only.body
    );
    let landed = browser
        .sign_in(
            &front.url("/_frontdoor/login?via=oidc&rd=%2Fboth%2Fpage"),
            "alice",
            "wonderland",
        )
        .await;
    assert!(landed.url.ends_with("/both/page"), "{}", landed.url);
    assert_eq!(
        upstream_header(&front.last_upstream_headers(), "x-forwarded-user").as_deref(),
        Some("alice@example.test")
    );

    // A form session (Basic user alice) opens /both but not the OIDC-only /app.
    let mut people = Browser::default();
    let form = people.get(&front.url("/_frontdoor/login?rd=%2Fapp")).await;
    let csrf = form
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let body = format!(
        "csrf={}&user={}&password={}&rd=%2Fapp",
        urlencode(&csrf),
        common::USER,
        urlencode(common::PASSWORD)
    );
    let origin = front.base.clone();
    let signed = people
        .request(
            Method::POST,
            &front.url("/_frontdoor/login"),
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", &origin),
            ],
            body.into_bytes(),
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let both = people.get(&front.url("/both/x")).await;
    assert!(!both.status.is_redirection(), "{}", both.status);
    assert_eq!(
        upstream_header(&front.last_upstream_headers(), "x-forwarded-user").as_deref(),
        Some(common::USER),
        "forwarded as the form's user"
    );
    let app = people.get(&front.url("/app")).await;
    assert_eq!(
        app.status,
        StatusCode::FOUND,
        "an OIDC-only route wants the provider"
    );
    assert!(app.location().unwrap().starts_with(&op.issuer));
    front.stop().await;
    std::mem::forget(dir);
}

/// The same login in headless Chromium: sign in at the provider, land on the page first
/// asked for, sign out (at the provider too), and be asked to sign in again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_and_out() {
    let (_op, front) = setup(3600, "1h").await;
    let args = json!({
        "startUrl": front.url("/app/dashboard"),
        "login": "alice",
        "password": "wonderland",
        "expectPathAfterLogin": "/app/dashboard",
        "logoutUrl": front.url("/_frontdoor/logout"),
        "checkLoggedOut": true,
        "timeoutMs": 20000
    });
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(oidc_dir().join("browser.mjs"))
            .arg(args.to_string())
            .output()
            .expect("node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser.mjs failed:\n{stdout}\n{stderr}"
    );
    let steps: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let logged_in = steps.iter().find(|s| s["step"] == "logged-in").unwrap();
    assert!(
        logged_in["url"]
            .as_str()
            .unwrap()
            .starts_with(&front.url("/app/dashboard")),
        "{logged_in}"
    );
    let revisit = steps.iter().find(|s| s["step"] == "revisit").unwrap();
    assert_eq!(revisit["loggedOut"], true, "{revisit}");
    // The upstream saw the signed-in person.
    assert!(
        front
            .agent
            .seen()
            .iter()
            .any(|r| r.target.starts_with("/app/dashboard"))
    );
    front.stop().await;
}
