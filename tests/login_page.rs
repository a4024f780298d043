//! The sign-in page (`[auth.login]`) as a browser and a script see it, over HTTP/1.1 and
//! HTTP/2 through TLS against the demo agent: a navigation without a session goes to the
//! form and comes back after signing in (303); the session holds across requests and ends
//! at sign-out; fetch gets 401 JSON and curl with Basic still works on a
//! `["login", "basic"]` route; cross-site posts, posts without the token and wrong
//! passwords are refused (the sixth gets the lockout page); a TOTP user is asked for the
//! code, a wrong code fails, the right one passes once; `rd` never leaves the site;
//! tampered and rotated-out session cookies are no session. Every page carries the CSP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use bytes::Bytes;
use common::{Client, PASSWORD, Setup, TestResponse, USER, basic};
use frontdoor::config::{Config, Env};
use http::{Method, Request, StatusCode};
use http_body_util::Full;

const COOKIE_KEY: &str = "a-cookie-key-of-more-than-32-bytes-for-tests-0001";
const OLD_COOKIE_KEY: &str = "an-older-cookie-key-of-more-than-32-bytes-0002";
const NAVIGATE: [(&str, &str); 2] = [
    ("accept", "text/html,application/xhtml+xml"),
    ("sec-fetch-mode", "navigate"),
];

struct Front {
    server: Option<frontdoor::server::RunningServer>,
    client: Client,
    setup: Setup,
}

async fn start(cookie_key: &str, previous: &[&str], extra: &str) -> Front {
    start_with(cookie_key, previous, extra, "").await
}

async fn start_with(cookie_key: &str, previous: &[&str], extra: &str, session: &str) -> Front {
    let setup = Setup::new("login").await;
    let dir = &setup.dir;
    let previous: Vec<String> = (0..previous.len())
        .map(|i| format!("\"${{PREV_{i}}}\""))
        .collect();
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
[auth.lockout]
max_retries = 5
ban_time_secs = 60
[auth.login]
totp = "{d}/totp"
{extra}
[session]
cookie_key = "${{COOKIE_KEY}}"
previous_keys = [{previous}]
{session}
[[route]]
path = "/"
auth = ["login", "basic"]
[[route]]
path = "/app"
auth = ["login"]
"#,
        d = dir.path().display(),
        agent = setup.agent.addr,
        previous = previous.join(", ")
    );
    let mut env = vec![("COOKIE_KEY".to_string(), cookie_key.to_string())];
    for (i, _) in previous.iter().enumerate() {
        env.push((format!("PREV_{i}"), OLD_COOKIE_KEY.to_string()));
    }
    let config = Config::from_toml(
        &text,
        "login-test.toml",
        &Env::from_pairs(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // No one enrolled yet (a missing file would refuse every sign-in).
    std::fs::write(dir.join("totp"), "# none yet\n").unwrap();
    std::fs::set_permissions(
        dir.join("totp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let server = frontdoor::server::start(config).await.unwrap();
    let client = Client::new(server.https_addr, &dir.join("cert.pem"));
    Front {
        server: Some(server),
        client,
        setup,
    }
}

/// A browser's cookies.
#[derive(Default, Clone)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn store(&mut self, r: &TestResponse) {
        for value in r.headers.get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            assert!(name.starts_with("__Host-"), "{text}");
            assert!(
                attributes.contains("Secure")
                    && attributes.contains("HttpOnly")
                    && attributes.contains("Path=/"),
                "{text}"
            );
            if attributes.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_string(), value.to_string());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Front {
    async fn send(
        &self,
        h2: bool,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        jar: &Jar,
        body: &str,
    ) -> TestResponse {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.client.authority());
        if !jar.0.is_empty() {
            builder = builder.header("cookie", jar.header());
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let req = builder
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        if h2 {
            self.client.send_h2(req).await
        } else {
            self.client.send(req).await
        }
    }

    fn origin(&self) -> String {
        format!("https://{}", self.client.authority())
    }

    /// Opens the form (as a browser would) and returns its CSRF token.
    async fn open_form(&self, h2: bool, jar: &mut Jar, rd: &str) -> String {
        let r = self
            .send(
                h2,
                Method::GET,
                &format!("/_frontdoor/login?rd={rd}"),
                &NAVIGATE,
                jar,
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        jar.store(&r);
        hidden(&r.text(), "csrf")
    }

    async fn post_form(&self, h2: bool, jar: &mut Jar, fields: &[(&str, &str)]) -> TestResponse {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let origin = self.origin();
        let r = self
            .send(
                h2,
                Method::POST,
                "/_frontdoor/login",
                &[
                    ("origin", &origin),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                jar,
                &body,
            )
            .await;
        jar.store(&r);
        r
    }

    async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

/// The value of a hidden form field.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
}

fn assert_page_headers(r: &TestResponse, context: &str) {
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{context}: {csp}"
    );
    assert_eq!(r.headers["x-frame-options"], "DENY", "{context}");
    assert_eq!(r.headers["cache-control"], "no-store", "{context}");
}

#[tokio::test]
async fn sign_in_session_and_sign_out() {
    let front = start(COOKIE_KEY, &[], "").await;
    for h2 in [false, true] {
        let mut jar = Jar::default();
        // A browser without a session goes to the form, keeping where it was going.
        let r = front
            .send(h2, Method::GET, "/app/dashboard?tab=2", &NAVIGATE, &jar, "")
            .await;
        assert_eq!(r.status, StatusCode::FOUND);
        assert_eq!(
            r.headers["location"],
            "/_frontdoor/login?rd=%2Fapp%2Fdashboard%3Ftab%3D2"
        );
        // fetch and scripts get 401 JSON, never a Basic prompt; Basic still works.
        let r = front
            .send(
                h2,
                Method::GET,
                "/api/echo",
                &[("accept", "*/*"), ("sec-fetch-mode", "cors")],
                &jar,
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(
            !r.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        let auth = basic(USER, PASSWORD);
        let r = front
            .send(
                h2,
                Method::GET,
                "/api/echo",
                &[("authorization", &auth)],
                &jar,
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);

        // The form: GET and HEAD agree; the page carries its CSP.
        let path = "/_frontdoor/login?rd=%2Fapp%2Fdashboard%3Ftab%3D2";
        let get = front.send(h2, Method::GET, path, &NAVIGATE, &jar, "").await;
        let head = front
            .send(h2, Method::HEAD, path, &NAVIGATE, &jar, "")
            .await;
        assert_eq!(get.status, StatusCode::OK);
        assert_eq!(head.status, StatusCode::OK);
        assert!(head.body.is_empty());
        assert_page_headers(&get, "sign-in page");
        assert_page_headers(&head, "sign-in page, HEAD");
        let html = get.text();
        assert!(
            html.contains("<label for=\"user\">")
                && html.contains("autocomplete=\"current-password\"")
        );
        assert_eq!(hidden(&html, "rd"), "/app/dashboard?tab=2");
        jar.store(&get);
        let csrf = hidden(&html, "csrf");

        // Wrong password: the form again with the message, no session.
        let r = front
            .post_form(
                h2,
                &mut jar,
                &[
                    ("csrf", &csrf),
                    ("user", USER),
                    ("password", "nope"),
                    ("rd", "/app/dashboard?tab=2"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.text().contains("Wrong user name or password."));
        assert!(!jar.0.keys().any(|k| k.starts_with("__Host-fd_session")));
        let csrf = hidden(&r.text(), "csrf");

        // Right password: 303 back where it was going, the session set, the form cookie gone.
        let r = front
            .post_form(
                h2,
                &mut jar,
                &[
                    ("csrf", &csrf),
                    ("user", USER),
                    ("password", PASSWORD),
                    ("rd", "/app/dashboard?tab=2"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(r.headers["location"], "/app/dashboard?tab=2");
        assert!(jar.0.contains_key("__Host-fd_session_0"));
        assert!(
            !jar.0.contains_key("__Host-fd_csrf"),
            "the form's cookie is cleared"
        );

        // Signed in: the upstream sees the user; again on the next request (a reload).
        front.setup.agent.clear_seen();
        for _ in 0..2 {
            let r = front
                .send(h2, Method::GET, "/app/dashboard?tab=2", &NAVIGATE, &jar, "")
                .await;
            assert_eq!(r.status, StatusCode::OK, "forwarded to the agent");
        }
        let seen = front.setup.agent.seen();
        assert_eq!(seen.len(), 2);
        assert!(
            seen.iter()
                .all(|s| s.header("x-forwarded-user") == vec![USER])
        );
        assert!(
            seen.iter().all(|s| s.header("cookie").is_empty()),
            "frontdoor's cookies stay"
        );
        let r = front
            .send(h2, Method::GET, "/_frontdoor/userinfo", &[], &jar, "")
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["user"], USER);
        assert_eq!(r.json()["signed_in_with"], "password");

        // Sign out: a page saying so, the session gone, the next visit asked again.
        let r = front
            .send(h2, Method::GET, "/_frontdoor/logout", &NAVIGATE, &jar, "")
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.text().contains("You are signed out.") && r.text().contains("/_frontdoor/login"));
        assert_page_headers(&r, "signed-out page");
        jar.store(&r);
        assert!(!jar.0.keys().any(|k| k.starts_with("__Host-fd_session")));
        let r = front
            .send(h2, Method::GET, "/app", &NAVIGATE, &jar, "")
            .await;
        assert_eq!(r.status, StatusCode::FOUND);
        let r = front
            .send(h2, Method::GET, "/_frontdoor/userinfo", &[], &jar, "")
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    front.stop().await;
}

#[tokio::test]
async fn forged_posts_and_lockout() {
    let front = start(COOKIE_KEY, &[], "").await;
    let mut jar = Jar::default();
    let csrf = front.open_form(false, &mut jar, "/app").await;
    let form = |csrf: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("csrf", csrf),
                ("user", USER),
                ("password", PASSWORD),
                ("rd", "/app"),
            ])
            .finish()
    };
    let ct = ("content-type", "application/x-www-form-urlencoded");
    // Cross-site: another Origin, or none (and no Sec-Fetch-Site: same-origin).
    for headers in [
        vec![ct, ("origin", "https://evil.example")],
        vec![ct, ("origin", "null")],
        vec![ct],
        vec![ct, ("sec-fetch-site", "cross-site")],
    ] {
        let r = front
            .send(
                false,
                Method::POST,
                "/_frontdoor/login",
                &headers,
                &jar,
                &form(&csrf),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(
            r.headers
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap().contains("fd_session"))
        );
    }
    // No token, a wrong token, a token for another browser's cookie.
    let mut other = Jar::default();
    let other_csrf = front.open_form(true, &mut other, "/").await;
    for token in ["", "forged", other_csrf.as_str()] {
        let r = front
            .post_form(
                false,
                &mut jar.clone(),
                &[("csrf", token), ("user", USER), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "token {token:?}");
    }
    // rd never leaves the site (the open-redirect corpus of the OIDC tests).
    let site = url::Url::parse(&front.origin()).unwrap();
    for rd in common::OPEN_REDIRECTS {
        let mut j = Jar::default();
        let csrf = front
            .open_form(
                false,
                &mut j,
                &url::form_urlencoded::byte_serialize(rd.as_bytes()).collect::<String>(),
            )
            .await;
        let r = front
            .post_form(
                false,
                &mut j,
                &[
                    ("csrf", &csrf),
                    ("user", USER),
                    ("password", PASSWORD),
                    ("rd", rd),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let location = r.headers["location"].to_str().unwrap();
        let landed = site.join(location).unwrap();
        assert_eq!(landed.origin(), site.origin(), "{rd:?} -> {location}");
        assert!(
            location.starts_with('/') && !location.starts_with("//"),
            "{rd:?} -> {location}"
        );
    }
    // Five wrong passwords, then the lockout page (the right password too).
    let mut jar = Jar::default();
    let mut csrf = front.open_form(false, &mut jar, "/").await;
    for _ in 0..5 {
        let r = front
            .post_form(
                false,
                &mut jar,
                &[("csrf", &csrf), ("user", USER), ("password", "wrong")],
            )
            .await;
        assert!(r.text().contains("Wrong user name or password."));
        csrf = hidden(&r.text(), "csrf");
    }
    let r = front
        .post_form(
            true,
            &mut jar,
            &[("csrf", &csrf), ("user", USER), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
    assert!(
        r.text()
            .contains("Too many failed sign-ins. Try again in 1 minute."),
        "{}",
        r.text()
    );
    assert_page_headers(&r, "lockout page");
    front.stop().await;
}

#[tokio::test]
async fn second_factor() {
    let front = start(COOKIE_KEY, &[], "").await;
    let totp_file = front.setup.dir.join("totp");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_frontdoor"))
        .args(["totp", "add", USER, "--file"])
        .arg(&totp_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let uri = stdout.lines().next().unwrap();
    assert!(
        uri.starts_with(&format!("otpauth://totp/frontdoor:{USER}?secret=")),
        "{uri}"
    );
    assert!(stdout.lines().count() > 10, "a QR code follows the URI");
    let secret_b32 = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let secret = frontdoor::auth::login::totp::parse(&format!("{USER}:{secret_b32}\n"), "t")
        .unwrap()
        .remove(USER)
        .unwrap();

    let front = &front;
    let sign_in = |h2: bool| async move {
        let mut jar = Jar::default();
        let csrf = front.open_form(h2, &mut jar, "/app").await;
        let r = front
            .post_form(
                h2,
                &mut jar,
                &[
                    ("csrf", &csrf),
                    ("user", USER),
                    ("password", PASSWORD),
                    ("rd", "/app"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.text().contains("name=\"code\""),
            "asked for the code: {}",
            r.text()
        );
        assert!(!jar.0.keys().any(|k| k.starts_with("__Host-fd_session")));
        (jar, hidden(&r.text(), "csrf"))
    };
    let now = frontdoor::clock::now_unix() as u64;
    let code = frontdoor::auth::login::totp::code_at(&secret, now);
    let (mut jar, csrf) = sign_in(false).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = front
        .post_form(false, &mut jar, &[("csrf", &csrf), ("code", wrong)])
        .await;
    assert!(
        r.text().contains("Wrong or already used code"),
        "{}",
        r.text()
    );
    let csrf = hidden(&r.text(), "csrf");
    let r = front
        .post_form(false, &mut jar, &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.headers["location"], "/app");
    let r = front
        .send(false, Method::GET, "/_frontdoor/userinfo", &[], &jar, "")
        .await;
    assert_eq!(r.json()["signed_in_with"], "password_totp");

    // With a second factor, a password alone opens nothing: Basic is refused for the user.
    let auth = basic(USER, PASSWORD);
    let r = front
        .send(
            false,
            Method::GET,
            "/api/echo",
            &[("authorization", &auth)],
            &Jar::default(),
            "",
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "Basic skips no second factor"
    );

    // The same code again, in a new sign-in: refused.
    let (mut jar, csrf) = sign_in(true).await;
    let r = front
        .post_form(true, &mut jar, &[("csrf", &csrf), ("code", &code)])
        .await;
    assert!(
        r.text().contains("Wrong or already used code"),
        "replay refused"
    );
    assert!(!jar.0.keys().any(|k| k.starts_with("__Host-fd_session")));
}

#[tokio::test]
async fn required_second_factor_and_cookie_tampering() {
    let front = start(COOKIE_KEY, &[], "totp_required = true").await;
    let mut jar = Jar::default();
    let csrf = front.open_form(false, &mut jar, "/").await;
    let r = front
        .post_form(
            false,
            &mut jar,
            &[("csrf", &csrf), ("user", USER), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text().contains("Ask your administrator to enrol you"),
        "{}",
        r.text()
    );

    // Wrong codes keep counting although the password is right each time: the sixth
    // sign-in meets the lockout.
    let front2 = start(COOKIE_KEY, &[], "").await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_frontdoor"))
        .args(["totp", "add", USER, "--file"])
        .arg(front2.setup.dir.join("totp"))
        .output()
        .unwrap();
    assert!(out.status.success());
    for round in 0..6 {
        let mut jar = Jar::default();
        let csrf = front2.open_form(false, &mut jar, "/").await;
        let r = front2
            .post_form(
                false,
                &mut jar,
                &[("csrf", &csrf), ("user", USER), ("password", PASSWORD)],
            )
            .await;
        if round == 5 {
            assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "round {round}");
            break;
        }
        assert!(r.text().contains("name=\"code\""), "round {round}");
        let csrf = hidden(&r.text(), "csrf");
        let r = front2
            .post_form(false, &mut jar, &[("csrf", &csrf), ("code", "000000")])
            .await;
        assert!(
            r.text().contains("Wrong or already used code") || r.status == StatusCode::SEE_OTHER
        );
    }
    front2.stop().await;

    // A session without a code ends once the user is enrolled; one of a user removed from
    // the htpasswd file ends too.
    let front3 = start(COOKIE_KEY, &[], "").await;
    let mut jar = Jar::default();
    let csrf = front3.open_form(false, &mut jar, "/").await;
    let r = front3
        .post_form(
            false,
            &mut jar,
            &[("csrf", &csrf), ("user", USER), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        front3
            .send(false, Method::GET, "/app", &NAVIGATE, &jar, "")
            .await
            .status,
        StatusCode::OK
    );
    frontdoor::auth::login::totp::add(&front3.setup.dir.join("totp"), USER).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = front3
        .send(false, Method::GET, "/app", &NAVIGATE, &jar, "")
        .await;
    assert_eq!(
        r.status,
        StatusCode::FOUND,
        "a password-only session ends once a code is needed"
    );
    front3.stop().await;

    // A session past its lifetime is none.
    let short = start_with(COOKIE_KEY, &[], "", "lifetime = \"1s\"").await;
    let mut jar = Jar::default();
    let csrf = short.open_form(false, &mut jar, "/").await;
    let r = short
        .post_form(
            false,
            &mut jar,
            &[("csrf", &csrf), ("user", USER), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = short
        .send(false, Method::GET, "/app", &NAVIGATE, &jar, "")
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "an expired session is none");
    short.stop().await;
    front.stop().await;

    // A session sealed under the old key opens while that key is a previous one, and is
    // resealed under the new key; a tampered one is no session.
    let old = start(OLD_COOKIE_KEY, &[], "").await;
    let mut jar = Jar::default();
    let csrf = old.open_form(false, &mut jar, "/").await;
    let r = old
        .post_form(
            false,
            &mut jar,
            &[("csrf", &csrf), ("user", USER), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    old.stop().await;
    let rotated = start(COOKIE_KEY, &["old"], "").await;
    let r = rotated
        .send(false, Method::GET, "/api/echo", &NAVIGATE, &jar, "")
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a previous key still opens the session"
    );
    assert!(
        r.headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("__Host-fd_session_0=")),
        "resealed under the current key"
    );
    let mut tampered = jar.clone();
    let value = tampered.0.get_mut("__Host-fd_session_0").unwrap();
    let last = value.pop().unwrap();
    value.push(if last == 'A' { 'B' } else { 'A' });
    let r = rotated
        .send(false, Method::GET, "/app", &NAVIGATE, &tampered, "")
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "a tampered session is none");
    rotated.stop().await;
    let fresh = start(COOKIE_KEY, &[], "").await;
    let r = fresh
        .send(false, Method::GET, "/app", &NAVIGATE, &jar, "")
        .await;
    assert_eq!(
        r.status,
        StatusCode::FOUND,
        "a rotated-out key's session is none"
    );
    fresh.stop().await;
}
