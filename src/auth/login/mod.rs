//! frontdoor's own sign-in page (`[auth.login]`, routes with `auth = ["login"]`): the users
//! of `[auth.basic]`'s htpasswd file sign in with a form, optionally with a second factor
//! (TOTP), and stay signed in with the same sealed `__Host-` session cookie and `[session]`
//! keys as OIDC sessions (the session says how the person signed in).
//!
//! The form is defended against cross-site posts twice: the Origin of a POST must be this
//! site, and the form carries a token, an HMAC of a random pre-session cookie
//! (`__Host-fd_csrf`) under a key derived from the session key. Passwords go through the
//! same lockout, verification cache and timing as Basic logins; a wrong one- time code
//! counts toward the lockout too, and a code is accepted once.

pub mod totp;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, Response, StatusCode, header};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::basic::{BasicAuth, BasicCredentials};
use super::oidc::session::{self, Sealer, Session, SignInMethod};
use crate::config::{LoginSettings, SessionSettings};
use crate::limits::lockout::Lockout;
use crate::metrics::Metrics;
use crate::responses::pages::{self, SignInForm};
use crate::responses::{Body, Refusal, append_cookie};

/// The sign-in page's path (`endpoints::LOGIN`).
pub const LOGIN_PATH: &str = "/_frontdoor/login";
/// The pre-session cookie the form's token is bound to.
pub const CSRF_COOKIE: &str = "__Host-fd_csrf";
/// A sign-in waiting for its one-time code: the user whose password was right.
pub const PENDING_COOKIE: &str = "__Host-fd_mfa";
const CSRF_TTL_SECS: i64 = 3600;
const PENDING_TTL_SECS: i64 = 300;
/// Form bodies larger than this are refused.
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// Users whose last accepted code step is remembered (replay defence), at most.
const MAX_REMEMBERED_CODES: usize = 100_000;
/// How often the second factors' file is looked at for changes, at most.
const TOTP_RECHECK: Duration = Duration::from_secs(1);

/// The second factors' file as last read (re-read when it changes).
struct TotpCache {
    checked: Option<Instant>,
    seen: Option<crate::files::FileFingerprint>,
    /// Err: the file cannot be used, and every sign-in is refused until it can.
    secrets: Result<Arc<HashMap<String, Vec<u8>>>, String>,
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    user: String,
    return_to: String,
    exp: i64,
}

/// What a request's session cookie holds for a `login` route.
pub enum LoginSession {
    Absent,
    Valid {
        user: String,
        set_cookies: Vec<String>,
    },
    /// Expired or unreadable: clear it.
    Ended {
        set_cookies: Vec<String>,
    },
}

/// The sign-in page and its sessions.
pub struct Login {
    pub settings: LoginSettings,
    sealer: Sealer,
    lifetime_secs: i64,
    csrf_key: [u8; 32],
    /// Each user's last accepted code step: a code is accepted once.
    used_steps: Mutex<HashMap<String, u64>>,
    totp_cache: Mutex<TotpCache>,
}

/// What the form POST carried.
#[derive(Debug, Default)]
pub struct FormFields {
    pub user: Option<String>,
    pub password: Option<String>,
    pub code: Option<String>,
    pub csrf: Option<String>,
    pub return_to: Option<String>,
}

impl FormFields {
    /// `application/x-www-form-urlencoded`; a repeated field counts as none.
    pub fn parse(body: &[u8]) -> FormFields {
        let mut seen: HashMap<String, Option<String>> = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            seen.entry(k.into_owned())
                .and_modify(|slot| *slot = None)
                .or_insert_with(|| Some(v.into_owned()));
        }
        let mut take = |k: &str| seen.remove(k).flatten();
        FormFields {
            user: take("user"),
            password: take("password"),
            code: take("code"),
            csrf: take("csrf"),
            return_to: take("rd"),
        }
    }
}

/// Everything a POST needs besides its fields.
pub struct Submission<'a> {
    pub headers: &'a HeaderMap,
    /// The request's Host (normalized), to check Origin against.
    pub host: &'a str,
    pub client: IpAddr,
    pub basic: &'a BasicAuth,
    pub lockout: &'a Lockout,
    pub metrics: &'a Metrics,
    /// "Sign in with NAME" and where it starts, when `[auth.oidc]` is configured too.
    pub provider: Option<(&'a str, &'a str)>,
}

impl Login {
    /// None without a usable session key (config validation guarantees one).
    pub fn new(settings: LoginSettings, session: &SessionSettings) -> Option<Login> {
        let sealer = Sealer::new(&session.cookie_key, &session.previous_keys)?;
        let csrf_key = {
            use sha2::Digest;
            let mut hasher = sha2::Sha256::new();
            hasher.update(b"frontdoor login csrf\0");
            hasher.update(&session.cookie_key);
            hasher.finalize().into()
        };
        Some(Login {
            settings,
            sealer,
            lifetime_secs: i64::try_from(session.lifetime.as_secs()).unwrap_or(i64::MAX),
            csrf_key,
            used_steps: Mutex::new(HashMap::new()),
            totp_cache: Mutex::new(TotpCache {
                checked: None,
                seen: None,
                secrets: Ok(Arc::new(HashMap::new())),
            }),
        })
    }

    /// Whether `user` must give a code: enrolled, or every user must. A second factors'
    /// file that cannot be read counts as yes (fail closed).
    pub fn requires_code(&self, user: &str) -> bool {
        if self.settings.totp_required {
            return true;
        }
        match self.totp_secrets() {
            Ok(secrets) => secrets.contains_key(user),
            Err(_) => self.settings.totp.is_some(),
        }
    }

    /// The session a request carries, if it was made by this sign-in page (an OIDC session
    /// is the OIDC method's business: Absent here). The user must still be in the htpasswd
    /// file, and a session without a code ends once the user needs one.
    pub fn check_session(&self, headers: &HeaderMap, basic: Option<&BasicAuth>) -> LoginSession {
        let (opened, chunks) = self.open_session(headers);
        if chunks == 0 {
            return LoginSession::Absent;
        }
        let Some((session, stale_key)) = opened else {
            // Unreadable: either tampered or under a retired key. OIDC, if configured,
            // clears it too; either way it is no session.
            return LoginSession::Ended {
                set_cookies: session::clear_session(chunks),
            };
        };
        if session.method == SignInMethod::Oidc {
            return LoginSession::Absent;
        }
        let now = crate::clock::now_unix();
        if session.exp <= now {
            return LoginSession::Ended {
                set_cookies: session::clear_session(chunks),
            };
        }
        let still_a_user = basic.is_some_and(|b| b.users().line_of(&session.sub).is_some());
        let code_missing =
            session.method != SignInMethod::PasswordTotp && self.requires_code(&session.sub);
        if !still_a_user || code_missing {
            tracing::info!(
                user = %super::loggable_user(&session.sub),
                reason = if still_a_user { "a second factor is now needed" } else { "no longer in the htpasswd file" },
                "session ended"
            );
            return LoginSession::Ended {
                set_cookies: session::clear_session(chunks),
            };
        }
        let mut set_cookies = Vec::new();
        if stale_key && let Some(sealed) = self.seal(&session) {
            set_cookies = session::set_session(&sealed, (session.exp - now).max(0), chunks);
        }
        LoginSession::Valid {
            user: session.sub,
            set_cookies,
        }
    }

    fn open_session(&self, headers: &HeaderMap) -> (Option<(Session, bool)>, usize) {
        session::open_session(&self.sealer, headers)
    }

    fn seal(&self, session: &Session) -> Option<String> {
        serde_json::to_string(session)
            .ok()
            .and_then(|json| self.sealer.seal(session::SESSION_COOKIE, &json))
    }

    /// Whether a request carries a session made here (for logout and userinfo).
    pub fn owns_session(&self, headers: &HeaderMap) -> bool {
        matches!(self.open_session(headers).0, Some((s, _)) if s.method != SignInMethod::Oidc)
    }

    /// The form's token for a pre-session cookie value.
    fn csrf_token(&self, cookie: &str) -> String {
        use aws_lc_rs::hmac;
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.csrf_key);
        let tag = hmac::sign(&key, cookie.as_bytes());
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, tag)
    }

    /// The pre-session cookie the request has, or a new one (and its Set-Cookie).
    fn csrf_cookie(&self, headers: &HeaderMap) -> Option<(String, Option<String>)> {
        if let Some(value) = csrf_cookie_value(headers)
            && (32..=64).contains(&value.len())
        {
            return Some((value, None));
        }
        let value = super::random_token()?;
        let set = session::set_cookie(CSRF_COOKIE, &value, CSRF_TTL_SECS);
        Some((value, Some(set)))
    }

    /// `GET /_frontdoor/login?rd=PATH`: the form.
    pub fn form(
        &self,
        headers: &HeaderMap,
        return_to: &str,
        provider: Option<(&str, &str)>,
    ) -> Response<Body> {
        self.form_with(
            headers,
            StatusCode::OK,
            &super::oidc::safe_return_target(return_to),
            None,
            false,
            provider,
        )
    }

    fn form_with(
        &self,
        headers: &HeaderMap,
        status: StatusCode,
        return_to: &str,
        message: Option<&str>,
        code_step: bool,
        provider: Option<(&str, &str)>,
    ) -> Response<Body> {
        let Some((cookie, set)) = self.csrf_cookie(headers) else {
            tracing::error!("no random source: cannot show the sign-in form");
            return Refusal::UpstreamError.into_response(false);
        };
        let token = self.csrf_token(&cookie);
        let mut response = pages::sign_in(
            status,
            &SignInForm {
                return_to,
                csrf: &token,
                message,
                code_step,
                provider,
            },
        );
        if let Some(set) = set {
            append_cookie(&mut response, &set);
        }
        response
    }

    /// `POST /_frontdoor/login`: checks the origin and token, then the password (or the
    /// code of a sign-in waiting for it), and starts the session.
    pub async fn submit(&self, sub: &Submission<'_>, fields: FormFields) -> Response<Body> {
        let headers = sub.headers;
        if !same_origin(headers, sub.host) {
            tracing::warn!(client = %sub.client, "sign-in form posted from another site");
            return pages::page(
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                "<p>The sign-in form was sent from another site.</p>\
                 <p><a href=\"/_frontdoor/login\">Sign in here</a></p>",
            );
        }
        let token_ok = match (csrf_cookie_value(headers), fields.csrf.as_deref()) {
            (Some(cookie), Some(sent)) => {
                bool::from(self.csrf_token(&cookie).as_bytes().ct_eq(sent.as_bytes()))
            }
            _ => false,
        };
        if !token_ok {
            tracing::warn!(client = %sub.client, "sign-in form without a valid token");
            let keep = super::oidc::safe_return_target(fields.return_to.as_deref().unwrap_or("/"));
            return self.form_with(
                headers,
                StatusCode::FORBIDDEN,
                &keep,
                Some("The sign-in form expired. Please sign in again."),
                false,
                sub.provider,
            );
        }
        if fields.code.is_some() {
            return self.submit_code(sub, fields).await;
        }
        let return_to = super::oidc::safe_return_target(fields.return_to.as_deref().unwrap_or("/"));
        let (Some(user), Some(password)) = (fields.user, fields.password) else {
            return self.form_with(
                headers,
                StatusCode::BAD_REQUEST,
                &return_to,
                Some("Enter your user name and password."),
                false,
                sub.provider,
            );
        };
        let credentials = BasicCredentials {
            user: user.clone(),
            password: password.into_bytes(),
        };
        // A right password does not clear the user's failures yet: a second factor may
        // follow, and wrong codes must keep counting.
        match super::check_password(
            sub.basic,
            &credentials,
            sub.client,
            sub.lockout,
            sub.metrics,
            false,
        )
        .await
        {
            Err(refusal) => return banned_page(refusal),
            Ok(false) => {
                return self.form_with(
                    headers,
                    StatusCode::OK,
                    &return_to,
                    Some("Wrong user name or password."),
                    false,
                    sub.provider,
                );
            }
            Ok(true) => {}
        }
        let secrets = match self.totp_secrets() {
            Ok(secrets) => secrets,
            Err(e) => {
                tracing::error!(error = %e, "the second factors' file cannot be read: sign-in refused");
                return pages::page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Sign-in unavailable",
                    "<p>Signing in is not possible right now. Please tell your administrator.</p>",
                );
            }
        };
        if secrets.contains_key(&user) {
            let pending = Pending {
                user,
                return_to,
                exp: crate::clock::now_unix() + PENDING_TTL_SECS,
            };
            let sealed = serde_json::to_string(&pending)
                .ok()
                .and_then(|json| self.sealer.seal(PENDING_COOKIE, &json));
            let mut response = self.form_with(headers, StatusCode::OK, "/", None, true, None);
            if let Some(sealed) = sealed {
                append_cookie(
                    &mut response,
                    &session::set_cookie(PENDING_COOKIE, &sealed, PENDING_TTL_SECS),
                );
            }
            return response;
        }
        if self.settings.totp_required {
            tracing::warn!(user = %super::loggable_user(&user), "sign-in refused: no second factor enrolled, and one is required");
            return pages::page(
                StatusCode::FORBIDDEN,
                "Second factor required",
                "<p>Your account has no second factor yet, and this site requires one. Ask \
                 your administrator to enrol you (<code>frontdoor totp add</code>), then sign \
                 in again.</p>",
            );
        }
        sub.lockout.record_success(&user);
        self.start_session(headers, &user, SignInMethod::Password, &return_to)
    }

    async fn submit_code(&self, sub: &Submission<'_>, fields: FormFields) -> Response<Body> {
        let headers = sub.headers;
        let pending = session::cookie_value(&session::request_cookies(headers), PENDING_COOKIE)
            .and_then(|v| self.sealer.open(PENDING_COOKIE, v))
            .and_then(|o| serde_json::from_str::<Pending>(&o.plaintext).ok())
            .filter(|p| p.exp > crate::clock::now_unix());
        let Some(pending) = pending else {
            return self.form_with(
                headers,
                StatusCode::OK,
                "/",
                Some("The sign-in took too long. Please sign in again."),
                false,
                sub.provider,
            );
        };
        // An attempt like a password's: counted while it is checked, so parallel guesses
        // meet the limits too.
        let attempt = match sub.lockout.begin(&pending.user, sub.client) {
            Ok(attempt) => attempt,
            Err(banned) => return banned_page(super::refused(&pending.user, sub.client, banned)),
        };
        let code = fields.code.unwrap_or_default();
        let now = u64::try_from(crate::clock::now_unix()).unwrap_or(0);
        let step = self
            .totp_secrets()
            .ok()
            .and_then(|s| s.get(&pending.user).cloned())
            .and_then(|secret| totp::matching_step(&secret, &code, now));
        let fresh = step.is_some_and(|step| self.use_step(&pending.user, step));
        if !fresh {
            let reason = if step.is_some() {
                "code already used"
            } else {
                "wrong code"
            };
            tracing::warn!(user = %super::loggable_user(&pending.user), client = %sub.client, reason, "login failed");
            if step.is_some() {
                // Right but spent (a second device in the same 30 s, or a replay): refused,
                // not counted as a guess.
                attempt.verified_keeping_failures();
            } else {
                sub.metrics.login_failed();
                if let Some(ban) = attempt.failed() {
                    super::ban_started(sub.metrics, sub.lockout, &pending.user, sub.client, ban);
                }
            }
            return self.form_with(
                headers,
                StatusCode::OK,
                "/",
                Some("Wrong or already used code. Enter the current code from your app."),
                true,
                None,
            );
        }
        attempt.succeeded();
        let mut response = self.start_session(
            headers,
            &pending.user,
            SignInMethod::PasswordTotp,
            &pending.return_to,
        );
        append_cookie(&mut response, &session::clear_cookie(PENDING_COOKIE));
        response
    }

    /// Records a code's step as used; false when it (or a later one) was used already.
    fn use_step(&self, user: &str, step: u64) -> bool {
        let mut used = self
            .used_steps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if used.get(user).is_some_and(|last| *last >= step) {
            return false;
        }
        if used.len() >= MAX_REMEMBERED_CODES && !used.contains_key(user) {
            // Steps older than the skew window can never be replayed anyway.
            let oldest_useful = step.saturating_sub(2);
            used.retain(|_, s| *s >= oldest_useful);
        }
        used.insert(user.to_string(), step);
        true
    }

    /// The enrolled users' secrets, re-read when the file changes (looked at once a second
    /// at most). A configured file that is missing or broken is an error: no sign-in then
    /// goes through on a password alone.
    fn totp_secrets(&self) -> Result<Arc<HashMap<String, Vec<u8>>>, String> {
        let Some(path) = &self.settings.totp else {
            return Ok(Arc::new(HashMap::new()));
        };
        let mut cache = self
            .totp_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = cache.checked.is_none_or(|at| at.elapsed() >= TOTP_RECHECK);
        if due {
            cache.checked = Some(Instant::now());
            let now = crate::files::fingerprint(path);
            if now.is_none() {
                cache.seen = None;
                cache.secrets = Err(format!(
                    "{} does not exist: enrol a user with `frontdoor totp add USER`, or remove \
                     [auth.login] totp",
                    path.display()
                ));
            } else if now != cache.seen {
                cache.seen = now;
                cache.secrets = totp::read(path).map(Arc::new).map_err(|e| e.to_string());
                if let Err(e) = &cache.secrets {
                    tracing::error!(error = %e, "second factors cannot be read: sign-ins are refused");
                }
            }
        }
        cache.secrets.clone()
    }

    /// Seals the session, sets it, clears the form's cookie and sends the browser on (303).
    fn start_session(
        &self,
        headers: &HeaderMap,
        user: &str,
        method: SignInMethod,
        return_to: &str,
    ) -> Response<Body> {
        let now = crate::clock::now_unix();
        let session = Session {
            sub: user.to_string(),
            email: None,
            groups: Vec::new(),
            name: None,
            exp: now.saturating_add(self.lifetime_secs),
            refreshed: now,
            refresh_token: None,
            id_token: None,
            method,
        };
        let Some(sealed) = self.seal(&session) else {
            return Refusal::UpstreamError.into_response(false);
        };
        tracing::info!(user = %super::loggable_user(user), method = ?method, "signed in");
        let chunks = session::session_value(&session::request_cookies(headers)).1;
        let mut response = pages::see_other(return_to);
        for cookie in session::set_session(&sealed, self.lifetime_secs, chunks) {
            append_cookie(&mut response, &cookie);
        }
        append_cookie(&mut response, &session::clear_cookie(CSRF_COOKIE));
        response
    }

    /// `/_frontdoor/logout` for a session made here: cleared, and a page saying so.
    pub fn logout(&self, headers: &HeaderMap) -> Response<Body> {
        let chunks = session::session_value(&session::request_cookies(headers)).1;
        let mut response = pages::signed_out(LOGIN_PATH);
        for cookie in session::clear_session(chunks) {
            append_cookie(&mut response, &cookie);
        }
        response
    }

    /// `/_frontdoor/userinfo` for a session made here.
    pub fn userinfo(&self, headers: &HeaderMap) -> Response<Body> {
        match self.open_session(headers).0 {
            Some((s, _)) if s.method != SignInMethod::Oidc && s.exp > crate::clock::now_unix() => {
                let body = serde_json::json!({
                    "user": s.sub,
                    "signed_in_with": s.method,
                    "expires_at": s.exp,
                    "signed_in_at": s.refreshed,
                });
                crate::responses::json(StatusCode::OK, &body.to_string())
            }
            _ => Refusal::NotSignedIn.into_response(true),
        }
    }
}

/// The 429 page of a ban, with the time left.
fn banned_page(refusal: Refusal) -> Response<Body> {
    let Refusal::LoginBanned { retry_after_secs } = refusal else {
        return refusal.into_response(false);
    };
    let minutes = retry_after_secs.div_ceil(60);
    let mut response = pages::page(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        &format!(
            "<p class=\"error\" role=\"alert\">Too many failed sign-ins. Try again in {minutes} \
             minute{s}.</p>",
            s = if minutes == 1 { "" } else { "s" }
        ),
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        http::HeaderValue::from(retry_after_secs),
    );
    response
}

/// The pre-session cookie the request carries (exactly one).
fn csrf_cookie_value(headers: &HeaderMap) -> Option<String> {
    session::cookie_value(&session::request_cookies(headers), CSRF_COOKIE).map(str::to_string)
}

/// Whether a POST comes from this site: its Origin (browsers send one with every POST) is
/// `https://HOST`; without Origin, `Sec-Fetch-Site: same-origin` will do.
fn same_origin(headers: &HeaderMap, host: &str) -> bool {
    match headers.get(header::ORIGIN).map(|v| v.as_bytes()) {
        Some(origin) => {
            let expected = format!("https://{host}");
            origin.eq_ignore_ascii_case(expected.as_bytes())
        }
        None => headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"same-origin"),
    }
}
