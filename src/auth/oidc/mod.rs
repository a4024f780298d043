//! Sign-in with an OpenID provider: discovery, the authorization code flow with PKCE (oauth2
//! crate), ID token verification ([`jwt`]), sealed-cookie sessions ([`session`]) with refresh,
//! logout, and bearer tokens for programs.

mod error;
pub mod jwt;
pub mod session;

pub use error::{HttpError, OidcError, RefreshRefused, SignInError};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{OidcSettings, SessionSettings, UserClaim, provider_url_allowed};
use crate::responses::{self, Body, Refusal, append_cookie, redirect};
use jwt::{Expectations, JwtError, KeySet};
use session::{LoginState, Sealer, Session};

/// Clock skew allowed on token times.
const LEEWAY_SECS: i64 = 60;
/// How long a login may take at the provider.
const LOGIN_TTL_SECS: i64 = 600;
/// How long one request to the provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// Provider responses larger than this are refused.
const MAX_PROVIDER_BODY: usize = 1024 * 1024;
/// At most one JWKS re-fetch (for an unknown `kid`) per this interval.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(2);
/// Discovery at start: attempts and the first delay between them (doubling).
const DISCOVERY_ATTEMPTS: u32 = 4;
const DISCOVERY_FIRST_DELAY: Duration = Duration::from_millis(500);
/// Used login states remembered (one-time use), at most.
const MAX_USED_STATES: usize = 100_000;
/// A sealed session larger than this (3 cookies) drops its ID token; still larger, the
/// login is refused: browsers and servers refuse large Cookie headers.
const MAX_SESSION_BYTES: usize = 11_400;
/// Login cookies kept at once (several tabs); more are cleared when a new login starts.
const MAX_LOGIN_COOKIES: usize = 3;
/// A renewed session is reused for this long by concurrent requests with the same refresh
/// token, so the provider sees one refresh and the browser one sealed value.
const REFRESH_REUSE_SECS: i64 = 60;
/// After a refresh the provider could not answer, the next try waits this long.
const REFRESH_RETRY_SECS: i64 = 60;

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IdTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenFields {}

type Tokens = StandardTokenResponse<IdTokenFields, BasicTokenType>;
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    Tokens,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;
type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// The provider's HTTP client as oauth2 wants it: a named type with a boxed, Send future.
struct OAuthHttp<'a>(&'a HttpClient);

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        let http = self.0.clone();
        Box::pin(async move { send(&http, request).await })
    }
}

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    end_session_endpoint: Option<String>,
}

/// A caller the provider vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    pub sub: String,
    /// Only when the provider did not say it is unverified.
    pub email: Option<String>,
    pub groups: Vec<String>,
    pub name: Option<String>,
}

/// What a request's session cookie amounts to.
pub enum SessionCheck {
    /// No session cookie at all.
    Absent,
    /// A valid session; `set_cookies` renew it (after a refresh or a key rotation).
    Valid {
        identity: OidcIdentity,
        set_cookies: Vec<String>,
    },
    /// A session that is over (expired, tampered, refused at refresh): clear it.
    Ended { set_cookies: Vec<String> },
}

/// The provider, its keys, and the sessions it signs people into.
pub struct Oidc {
    pub settings: OidcSettings,
    session: SessionSettings,
    sealer: Sealer,
    oauth: OAuthClient,
    jwks_uri: String,
    end_session_endpoint: Option<String>,
    keys: ArcSwap<KeySet>,
    last_key_fetch: tokio::sync::Mutex<Instant>,
    http: HttpClient,
    used_states: std::sync::Mutex<HashMap<String, i64>>,
    /// One refresh at a time, and its result shared with the requests that raced it.
    refresh_gate: tokio::sync::Mutex<()>,
    recent_refreshes: std::sync::Mutex<HashMap<[u8; 32], (i64, Session, String)>>,
    /// `host[:port]` of `redirect_url`: logins start there, where the cookie will live.
    redirect_authority: String,
}

pub use crate::clock::now_unix;

fn http_client() -> Result<HttpClient, OidcError> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .try_with_platform_verifier()
        .map_err(OidcError::CaRoots)?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector),
    )
}

async fn send(
    http: &HttpClient,
    request: Request<Vec<u8>>,
) -> Result<http::Response<Vec<u8>>, HttpError> {
    let uri = request.uri().clone();
    let request = request.map(|b| Full::new(Bytes::from(b)));
    let exchange = async {
        let response = http
            .request(request)
            .await
            .map_err(|source| HttpError::Request {
                uri: uri.to_string(),
                source,
            })?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_PROVIDER_BODY)
            .collect()
            .await
            .map_err(|source| HttpError::Body {
                uri: uri.to_string(),
                source,
            })?
            .to_bytes();
        Ok(http::Response::from_parts(parts, body.to_vec()))
    };
    tokio::time::timeout(PROVIDER_TIMEOUT, exchange)
        .await
        .map_err(|_| HttpError::Timeout {
            uri: uri.to_string(),
            after: PROVIDER_TIMEOUT,
        })?
}

/// GET `url` asking for JSON: the body of a 2xx answer.
async fn get_body(http: &HttpClient, url: &str) -> Result<Vec<u8>, OidcError> {
    let request = Request::get(url)
        .header(header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|source| HttpError::Build {
            url: url.to_string(),
            source,
        })?;
    let response = send(http, request).await?;
    if !response.status().is_success() {
        return Err(OidcError::Status {
            url: url.to_string(),
            status: response.status(),
        });
    }
    Ok(response.into_body())
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    url: &str,
) -> Result<T, OidcError> {
    serde_json::from_slice(&get_body(http, url).await?).map_err(|source| OidcError::Json {
        url: url.to_string(),
        source,
    })
}

impl Oidc {
    /// Fetches the discovery document and the JWKS, retrying a few times: a provider that
    /// cannot be reached is a clear error.
    pub async fn discover(
        settings: OidcSettings,
        session: SessionSettings,
    ) -> Result<Oidc, OidcError> {
        let http = http_client()?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            settings.issuer.trim_end_matches('/')
        );
        let mut delay = DISCOVERY_FIRST_DELAY;
        let mut attempt = 1;
        let (discovery, keys) = loop {
            let fetched = async {
                let discovery: Discovery = get_json(&http, &url).await?;
                if discovery.issuer != settings.issuer {
                    return Err(OidcError::IssuerMismatch {
                        found: discovery.issuer.clone(),
                        configured: settings.issuer.clone(),
                    });
                }
                for endpoint in [
                    &discovery.authorization_endpoint,
                    &discovery.token_endpoint,
                    &discovery.jwks_uri,
                ] {
                    if !provider_url_allowed(endpoint) {
                        return Err(OidcError::InsecureEndpoint(endpoint.clone()));
                    }
                }
                let keys = fetch_keys(&http, &discovery.jwks_uri).await?;
                Ok((discovery, keys))
            }
            .await;
            match fetched {
                Ok(found) => break found,
                Err(e) if attempt >= DISCOVERY_ATTEMPTS => {
                    return Err(OidcError::Unreachable {
                        issuer: settings.issuer.clone(),
                        attempts: attempt,
                        source: Box::new(e),
                    });
                }
                Err(e) => {
                    tracing::warn!(issuer = %settings.issuer, error = %e, attempt, "OIDC discovery failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
            }
        };
        let sealer = Sealer::new(&session.cookie_key, &session.previous_keys)
            .ok_or(OidcError::CookieKeyTooShort)?;
        let oauth =
            oauth2::Client::new(ClientId::new(settings.client_id.clone()))
                .set_client_secret(ClientSecret::new(settings.client_secret.clone()))
                .set_auth_uri(
                    AuthUrl::new(discovery.authorization_endpoint.clone()).map_err(|source| {
                        OidcError::Endpoint {
                            name: "authorization_endpoint",
                            source,
                        }
                    })?,
                )
                .set_token_uri(TokenUrl::new(discovery.token_endpoint.clone()).map_err(
                    |source| OidcError::Endpoint {
                        name: "token_endpoint",
                        source,
                    },
                )?)
                .set_redirect_uri(RedirectUrl::new(settings.redirect_url.clone()).map_err(
                    |source| OidcError::Endpoint {
                        name: "redirect_url",
                        source,
                    },
                )?);
        let end_session_endpoint = discovery
            .end_session_endpoint
            .filter(|e| provider_url_allowed(e));
        let redirect_authority = settings
            .redirect_url
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.authority().map(|a| a.as_str().to_ascii_lowercase()))
            .unwrap_or_default();
        tracing::info!(issuer = %settings.issuer, "OIDC provider discovered");
        Ok(Oidc {
            settings,
            session,
            sealer,
            oauth,
            jwks_uri: discovery.jwks_uri,
            end_session_endpoint,
            keys: ArcSwap::from_pointee(keys),
            last_key_fetch: tokio::sync::Mutex::new(Instant::now()),
            http,
            used_states: std::sync::Mutex::new(HashMap::new()),
            refresh_gate: tokio::sync::Mutex::new(()),
            recent_refreshes: std::sync::Mutex::new(HashMap::new()),
            redirect_authority,
        })
    }

    /// Verifies a token's signature, re-fetching the JWKS once when it names an unknown key
    /// (the provider rotated its keys), at most once per [`JWKS_REFETCH_INTERVAL`].
    async fn verified(&self, token: &str) -> Result<serde_json::Map<String, Value>, JwtError> {
        let parsed = jwt::parse(token)?;
        match self.keys.load().verify(&parsed) {
            Err(JwtError::UnknownKey(kid)) => {
                let mut last = self.last_key_fetch.lock().await;
                if !self.keys.load().has_kid(&kid) && last.elapsed() >= JWKS_REFETCH_INTERVAL {
                    *last = Instant::now();
                    match fetch_keys(&self.http, &self.jwks_uri).await {
                        Ok(keys) => {
                            tracing::info!(kid = %kid, "OIDC: unknown signing key; JWKS re-fetched");
                            self.keys.store(Arc::new(keys));
                        }
                        Err(e) => tracing::warn!(error = %e, "OIDC: JWKS re-fetch failed"),
                    }
                }
                drop(last);
                self.keys.load().verify(&parsed)?;
            }
            other => other?,
        }
        Ok(parsed.claims)
    }

    /// A token's verified claims, checked against the issuer and `audience` (and `azp`,
    /// for ID tokens) with the clock at `now`.
    async fn verified_for(
        &self,
        token: &str,
        audience: &str,
        check_azp: bool,
        now: i64,
    ) -> Result<serde_json::Map<String, Value>, JwtError> {
        let claims = self.verified(token).await?;
        jwt::check_claims(
            &claims,
            &Expectations {
                issuer: &self.settings.issuer,
                audience,
                check_azp,
                leeway: LEEWAY_SECS,
                now,
            },
        )?;
        Ok(claims)
    }

    /// Verifies an ID token: signature, issuer, audience (azp), times, and the nonce when
    /// one is expected. Public for the tests that feed it forged tokens.
    pub async fn verify_id_token(
        &self,
        token: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<OidcIdentity, JwtError> {
        let claims = self
            .verified_for(token, &self.settings.client_id, true, now)
            .await?;
        if let Some(nonce) = nonce
            && claims.get("nonce").and_then(Value::as_str) != Some(nonce)
        {
            return Err(JwtError::Claim("nonce"));
        }
        self.identity_from(&claims).ok_or(JwtError::Claim("sub"))
    }

    /// Verifies a bearer token (a JWT access token from the provider): signature, issuer,
    /// the configured audience, times.
    pub async fn verify_bearer(&self, token: &str, now: i64) -> Result<OidcIdentity, JwtError> {
        let claims = self
            .verified_for(token, &self.settings.audience, false, now)
            .await?;
        // An ID token (it carries a nonce) is the browser's proof, not an API credential.
        if claims.contains_key("nonce") {
            return Err(JwtError::Claim("nonce"));
        }
        self.identity_from(&claims).ok_or(JwtError::Claim("sub"))
    }

    fn identity_from(&self, claims: &serde_json::Map<String, Value>) -> Option<OidcIdentity> {
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .or_else(|| claims.get("client_id").and_then(Value::as_str))?
            .to_string();
        // Only an email the provider says it verified counts (some send the flag as text).
        let verified = match claims.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .filter(|_| verified)
            .map(str::to_string);
        let groups = match claims.get(&self.settings.groups_claim) {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        let name = claims
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        Some(OidcIdentity {
            sub,
            email,
            groups,
            name,
        })
    }

    /// The name X-Forwarded-User carries for this identity.
    pub fn user_name(&self, identity: &OidcIdentity) -> String {
        match self.settings.user_claim {
            UserClaim::Email => identity
                .email
                .clone()
                .unwrap_or_else(|| identity.sub.clone()),
            UserClaim::Sub => identity.sub.clone(),
        }
    }

    /// Where to send the browser to start a login, and the cookies to set: the one that binds
    /// the login to this browser, and the clearing of older logins beyond a few. A request on
    /// another host than `redirect_url`'s is first sent there (the session cookie will live
    /// on that host). `return_to` is sanitized: only a same-origin path survives.
    pub fn start_login(
        &self,
        host: &str,
        return_to: &str,
        headers: &HeaderMap,
    ) -> Option<(String, Vec<String>)> {
        if !self.redirect_authority.is_empty()
            && !host.eq_ignore_ascii_case(&self.redirect_authority)
        {
            let path = safe_return_target(return_to);
            return Some((
                format!("https://{}{path}", self.redirect_authority),
                Vec::new(),
            ));
        }
        let (Some(state), Some(nonce)) = (super::random_token(), super::random_token()) else {
            tracing::error!("no random source: cannot start a login");
            return None;
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .oauth
            .authorize_url(|| CsrfToken::new(state.clone()))
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", nonce.clone());
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _) = request.url();
        let login = LoginState {
            state: state.clone(),
            nonce,
            pkce_verifier: verifier.secret().clone(),
            return_to: safe_return_target(return_to),
            created: now_unix(),
        };
        let name = session::login_cookie_name(&state);
        let mut cookies: Vec<String> = session::request_cookies(headers)
            .into_iter()
            .filter(|(n, _)| n.starts_with(session::LOGIN_PREFIX))
            .map(|(n, _)| n)
            .collect();
        cookies.sort();
        cookies.dedup();
        let mut set = Vec::new();
        if cookies.len() >= MAX_LOGIN_COOKIES {
            set.extend(cookies.iter().map(|n| session::clear_cookie(n)));
        }
        set.extend(
            serde_json::to_string(&login)
                .ok()
                .and_then(|json| self.sealer.seal(&name, &json))
                .map(|sealed| session::set_cookie(&name, &sealed, LOGIN_TTL_SECS)),
        );
        Some((url.to_string(), set))
    }

    /// `/_frontdoor/login?rd=PATH`: a 302 to the provider, returning to `rd` (sanitized).
    pub fn login_redirect(
        &self,
        host: &str,
        return_to: &str,
        headers: &HeaderMap,
    ) -> Response<Body> {
        let Some((location, cookies)) = self.start_login(host, return_to, headers) else {
            return Refusal::NotSignedIn.into_response(true);
        };
        let mut response = redirect(&location);
        for cookie in cookies {
            append_cookie(&mut response, &cookie);
        }
        response
    }

    /// `GET /_frontdoor/callback?code=..&state=..`: checks the state against this browser's
    /// login cookie (once only), exchanges the code with the PKCE verifier, verifies the ID
    /// token and its nonce, and starts the session.
    pub async fn callback(
        &self,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<Response<Body>, SignInError> {
        let params: HashMap<String, String> =
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        if let Some(error) = params.get("error") {
            let error: String = error.chars().take(64).collect();
            tracing::warn!(error = %error.escape_debug(), "OIDC: the provider returned an error");
            return Err(SignInError::ProviderError);
        }
        let (Some(code), Some(state)) = (params.get("code"), params.get("state")) else {
            return Err(SignInError::MissingCodeOrState);
        };
        let cookies = session::request_cookies(headers);
        let cookie_name = session::login_cookie_name(state);
        let login: LoginState = session::login_cookie(&cookies, state)
            .and_then(|sealed| self.sealer.open(&cookie_name, sealed))
            .and_then(|opened| serde_json::from_str(&opened.plaintext).ok())
            .ok_or(SignInError::NoLogin)?;
        let now = now_unix();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            login.state.as_bytes(),
            state.as_bytes(),
        )) {
            return Err(SignInError::StateMismatch);
        }
        if now - login.created > LOGIN_TTL_SECS || login.created > now + LEEWAY_SECS {
            return Err(SignInError::Expired);
        }
        if !self.first_use(state, now) {
            return Err(SignInError::Replayed);
        }
        let tokens = self
            .oauth
            .exchange_code(AuthorizationCode::new(code.clone()))
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier.clone()))
            .request_async(&OAuthHttp(&self.http))
            .await
            .map_err(|e| SignInError::CodeRefused(describe(&e)))?;
        let id_token = tokens
            .extra_fields()
            .id_token
            .clone()
            .ok_or(SignInError::NoIdToken)?;
        let identity = self
            .verify_id_token(&id_token, Some(&login.nonce), now)
            .await
            .map_err(SignInError::IdToken)?;
        tracing::info!(sub = %identity.sub, email = ?identity.email, "OIDC: signed in");
        let session = Session {
            sub: identity.sub,
            email: identity.email,
            groups: identity.groups,
            name: identity.name,
            exp: now + i64::try_from(self.session.lifetime.as_secs()).unwrap_or(i64::MAX / 2),
            refreshed: now,
            refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
            id_token: Some(id_token),
            method: session::SignInMethod::Oidc,
        };
        let (session, sealed) = self
            .seal_session(session)
            .ok_or(SignInError::SessionTooLarge)?;
        let mut response = redirect(&login.return_to);
        append_cookie(&mut response, &session::clear_cookie(&cookie_name));
        let (_, old_chunks) = session::session_value(&cookies);
        for cookie in session::set_session(&sealed, (session.exp - now).max(0), old_chunks) {
            append_cookie(&mut response, &cookie);
        }
        Ok(response)
    }

    /// Records a state as used; false when it was used before.
    fn first_use(&self, state: &str, now: i64) -> bool {
        let mut used = self
            .used_states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if used.len() >= MAX_USED_STATES {
            used.retain(|_, seen| now - *seen <= LOGIN_TTL_SECS);
        }
        if used.len() >= MAX_USED_STATES {
            // Still full (a flood of callbacks): forget the oldest rather than refuse every
            // login. A forgotten state stays useless: its code is single-use at the
            // provider and bound to its PKCE verifier, and its browser cookie is cleared.
            if let Some(oldest) = used
                .iter()
                .min_by_key(|(_, seen)| **seen)
                .map(|(k, _)| k.clone())
            {
                used.remove(&oldest);
            }
        }
        used.insert(state.to_string(), now).is_none()
    }

    /// Seals a session; one too large for cookies drops its ID token (logout then goes to
    /// the provider without `id_token_hint`), and is refused if still too large.
    fn seal_session(&self, mut session: Session) -> Option<(Session, String)> {
        let seal = |s: &Session| {
            serde_json::to_string(s)
                .ok()
                .and_then(|json| self.sealer.seal(session::SESSION_COOKIE, &json))
        };
        let mut sealed = seal(&session)?;
        if sealed.len() > MAX_SESSION_BYTES && session.id_token.is_some() {
            session.id_token = None;
            sealed = seal(&session)?;
        }
        (sealed.len() <= MAX_SESSION_BYTES).then_some((session, sealed))
    }

    /// The session a request carries, opened without contacting the provider.
    fn open_session(&self, headers: &HeaderMap) -> (Option<(Session, bool)>, usize) {
        session::open_session(&self.sealer, headers)
    }

    /// Checks the session cookie: opens it, ends it when expired, and past the refresh
    /// interval renews the claims with the refresh token (dropping the session when the
    /// provider refuses).
    pub async fn check_session(&self, headers: &HeaderMap) -> SessionCheck {
        let (opened, chunks) = self.open_session(headers);
        if chunks == 0 {
            return SessionCheck::Absent;
        }
        let Some((mut session, stale_key)) = opened else {
            tracing::warn!("OIDC: a session cookie that does not open (tampered, or an old key)");
            return SessionCheck::Ended {
                set_cookies: session::clear_session(chunks),
            };
        };
        // A session from frontdoor's own sign-in page is the login method's.
        if !session.method.is_oidc() {
            return SessionCheck::Absent;
        }
        let now = now_unix();
        if session.exp <= now {
            return SessionCheck::Ended {
                set_cookies: session::clear_session(chunks),
            };
        }
        let interval = i64::try_from(self.session.refresh_interval.as_secs()).unwrap_or(i64::MAX);
        let mut sealed: Option<String> = None;
        if now - session.refreshed >= interval {
            match self.refresh_once(session.clone(), now, interval).await {
                Ok((renewed, value)) => {
                    session = renewed;
                    sealed = Some(value);
                }
                Err(reason) => {
                    tracing::info!(sub = %session.sub, reason = %reason, "OIDC: session ended at refresh");
                    return SessionCheck::Ended {
                        set_cookies: session::clear_session(chunks),
                    };
                }
            }
        } else if stale_key {
            // Opened with a previous key: write it again under the current one.
            match self.seal_session(session.clone()) {
                Some((resealed, value)) => {
                    session = resealed;
                    sealed = Some(value);
                }
                None => {
                    return SessionCheck::Ended {
                        set_cookies: session::clear_session(chunks),
                    };
                }
            }
        }
        let set_cookies = sealed
            .map(|value| session::set_session(&value, (session.exp - now).max(0), chunks))
            .unwrap_or_default();
        SessionCheck::Valid {
            identity: OidcIdentity {
                sub: session.sub,
                email: session.email,
                groups: session.groups,
                name: session.name,
            },
            set_cookies,
        }
    }

    /// Renews a due session once per refresh token: requests racing it (a page's many
    /// subresources) get the same renewed session and the same sealed value, so the provider
    /// sees one refresh (rotating refresh tokens survive) and the browser one set of cookies.
    /// Err ends the session.
    async fn refresh_once(
        &self,
        session: Session,
        now: i64,
        interval: i64,
    ) -> Result<(Session, String), RefreshRefused> {
        let key: [u8; 32] = {
            use sha2::Digest;
            let material = session
                .refresh_token
                .clone()
                .unwrap_or_else(|| format!("{}\u{0}{}", session.sub, session.exp));
            sha2::Sha256::digest(material.as_bytes()).into()
        };
        let refreshed = session.refreshed;
        let cached = |this: &Self| {
            this.recent_refreshes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&key)
                // Only a renewal newer than this session's last one: a session renewed by it
                // that is due again must go to the provider.
                .filter(|(when, renewed, _)| {
                    now - *when <= REFRESH_REUSE_SECS && renewed.refreshed > refreshed
                })
                .map(|(_, s, v)| (s.clone(), v.clone()))
        };
        if let Some(found) = cached(self) {
            return Ok(found);
        }
        let _gate = self.refresh_gate.lock().await;
        if let Some(found) = cached(self) {
            return Ok(found);
        }
        let mut renewed = session;
        match self.refresh(&mut renewed, now).await {
            Refresh::Renewed => {}
            Refresh::Refused(reason) => return Err(reason),
            Refresh::Unavailable(reason) => {
                tracing::warn!(sub = %renewed.sub, reason, "OIDC: refresh failed; the session continues and the refresh is retried in a minute");
                renewed.refreshed = now - interval + REFRESH_RETRY_SECS;
            }
        }
        let (renewed, sealed) = self
            .seal_session(renewed)
            .ok_or(RefreshRefused::SessionTooLarge)?;
        let mut recent = self
            .recent_refreshes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        recent.retain(|_, (when, _, _)| now - *when <= REFRESH_REUSE_SECS);
        recent.insert(key, (now, renewed.clone(), sealed.clone()));
        Ok((renewed, sealed))
    }

    async fn refresh(&self, session: &mut Session, now: i64) -> Refresh {
        let Some(refresh_token) = session.refresh_token.clone() else {
            return Refresh::Refused(RefreshRefused::NoRefreshToken);
        };
        let token = RefreshToken::new(refresh_token);
        let result = self
            .oauth
            .exchange_refresh_token(&token)
            .request_async(&OAuthHttp(&self.http))
            .await;
        let tokens = match result {
            Ok(tokens) => tokens,
            // Only invalid_grant means the grant is gone; other errors (temporarily
            // unavailable, a misconfigured client) are not the person's fault.
            Err(RequestTokenError::ServerResponse(e))
                if *e.error() == oauth2::basic::BasicErrorResponseType::InvalidGrant =>
            {
                return Refresh::Refused(RefreshRefused::Provider(e.error().to_string()));
            }
            Err(e) => return Refresh::Unavailable(describe(&e)),
        };
        if let Some(id_token) = &tokens.extra_fields().id_token {
            match self.verify_id_token(id_token, None, now).await {
                Ok(identity) if identity.sub == session.sub => {
                    session.email = identity.email;
                    session.groups = identity.groups;
                    session.name = identity.name;
                    session.id_token = Some(id_token.clone());
                }
                Ok(_) => {
                    return Refresh::Refused(RefreshRefused::OtherSubject);
                }
                Err(e) => {
                    return Refresh::Refused(RefreshRefused::IdToken(e));
                }
            }
        }
        if let Some(new) = tokens.refresh_token() {
            session.refresh_token = Some(new.secret().clone());
        }
        session.refreshed = now;
        Refresh::Renewed
    }

    /// `/_frontdoor/logout`: clears the session; with the provider's end_session_endpoint,
    /// sends the browser there to end the provider's session too.
    pub fn logout(&self, headers: &HeaderMap) -> Response<Body> {
        let (opened, chunks) = self.open_session(headers);
        let id_token = opened.and_then(|(s, _)| s.id_token);
        let after = self
            .settings
            .post_logout_redirect_url
            .clone()
            .unwrap_or_else(|| origin_of(&self.settings.redirect_url) + "/");
        let mut response = match (&self.end_session_endpoint, id_token) {
            (Some(endpoint), Some(hint)) => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("id_token_hint", &hint)
                    .append_pair("post_logout_redirect_uri", &after)
                    .append_pair("client_id", &self.settings.client_id)
                    .finish();
                let separator = if endpoint.contains('?') { '&' } else { '?' };
                redirect(&format!("{endpoint}{separator}{query}"))
            }
            _ => responses::pages::signed_out("/"),
        };
        for cookie in session::clear_session(chunks) {
            append_cookie(&mut response, &cookie);
        }
        response
    }

    /// `/_frontdoor/userinfo`: the session's identity as JSON, or 401.
    pub fn userinfo(&self, headers: &HeaderMap) -> Response<Body> {
        match self.open_session(headers).0 {
            Some((session, _)) if session.method.is_oidc() && session.exp > now_unix() => {
                let body = serde_json::json!({
                    "sub": session.sub,
                    "user": self.user_name(&OidcIdentity {
                        sub: session.sub.clone(),
                        email: session.email.clone(),
                        groups: Vec::new(),
                        name: None,
                    }),
                    "email": session.email,
                    "groups": session.groups,
                    "name": session.name,
                    "expires_at": session.exp,
                    "refreshed_at": session.refreshed,
                });
                responses::json(StatusCode::OK, &body.to_string())
            }
            _ => Refusal::NotSignedIn.into_response(true),
        }
    }
}

enum Refresh {
    Renewed,
    /// The provider answered no: the session ends.
    Refused(RefreshRefused),
    /// The provider could not be asked: the session goes on for now.
    Unavailable(String),
}

fn describe<E: std::error::Error>(e: &RequestTokenError<E, BasicErrorResponse>) -> String {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let mut text = r.error().to_string();
            if let Some(d) = r.error_description() {
                text.push_str(": ");
                text.push_str(d);
            }
            text
        }
        RequestTokenError::Request(e) => format!("request failed: {e}"),
        RequestTokenError::Parse(e, _) => format!("unreadable response: {e}"),
        RequestTokenError::Other(e) => e.clone(),
    }
}

async fn fetch_keys(http: &HttpClient, url: &str) -> Result<KeySet, OidcError> {
    KeySet::from_json(&get_body(http, url).await?).map_err(|source| OidcError::Keys {
        url: url.to_string(),
        source,
    })
}

/// `https://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
            _ => String::new(),
        },
        Err(_) => String::new(),
    }
}

/// Where a login may return to: a same-origin absolute path, else `/`. Refused: anything
/// not starting with one `/` (`//host`, `/\host`, `https:`, `javascript:`), backslashes,
/// whitespace and control characters anywhere (browsers strip tabs and newlines, turning
/// `/\t/evil.com` into `//evil.com`), percent-encoded slashes or backslashes at the start,
/// and anything that is not a valid request target.
pub fn safe_return_target(target: &str) -> String {
    let fallback = || "/".to_string();
    if target.len() > 1024
        || !target.starts_with('/')
        || target
            .bytes()
            .any(|b| b <= 0x20 || b == 0x7f || b == b'\\' || b == b'#' || b >= 0x80)
    {
        return fallback();
    }
    let second = target.get(1..2);
    if matches!(second, Some("/") | Some("\\")) {
        return fallback();
    }
    let lower = target.to_ascii_lowercase();
    if ["/%2f", "/%5c", "/%09", "/%0a", "/%0d", "/%20", "/%00"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return fallback();
    }
    // Decoding once must not produce a scheme-relative or backslash start either.
    let decoded: String = url::form_urlencoded::parse(format!("x={target}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if decoded.starts_with("//") || decoded.starts_with("/\\") || decoded.contains('\\') {
        return fallback();
    }
    if target.parse::<http::uri::PathAndQuery>().is_err() {
        return fallback();
    }
    target.to_string()
}

/// Whether a request is a browser navigating (it can be sent to a login page), as opposed
/// to an API call, a fetch/XHR, a non-GET or a WebSocket upgrade (which get a 401).
pub fn is_browser_navigation(method: &Method, headers: &HeaderMap) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    if headers.contains_key(header::UPGRADE) {
        return false;
    }
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    if header_text("sec-fetch-mode").is_some_and(|m| m != "navigate") {
        return false;
    }
    if header_text("x-requested-with").is_some() {
        return false;
    }
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    accept.contains("text/html") && !accept.starts_with("application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Same-origin paths pass; everything that could leave the site falls back to `/`.
    #[test]
    fn return_targets() {
        for ok in ["/", "/app", "/api/jobs?x=1&y=%2F", "/a/b#frag"] {
            let want = if ok.contains('#') { "/" } else { ok };
            assert_eq!(safe_return_target(ok), want, "{ok}");
        }
        for bad in [
            "//evil.com",
            "/\\evil.com",
            "https://evil.com",
            "javascript:alert(1)",
            "/%2F%2Fevil.com",
            "/%5Cevil.com",
            "/\t/evil.com",
            "/\n/evil.com",
            "",
            "evil.com",
            "\\\\evil.com",
            "/%2f/evil.com",
            "/a\\b",
        ] {
            assert_eq!(safe_return_target(bad), "/", "{bad:?}");
        }
    }

    /// Browsers navigating are redirected; API clients, XHR and upgrades are not.
    #[test]
    fn navigation() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(*k, header::HeaderValue::from_static(v));
            }
            h
        };
        let html = headers(&[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")]);
        assert!(is_browser_navigation(&Method::GET, &html));
        assert!(!is_browser_navigation(&Method::POST, &html));
        assert!(!is_browser_navigation(
            &Method::GET,
            &headers(&[("accept", "application/json")])
        ));
        assert!(!is_browser_navigation(
            &Method::GET,
            &headers(&[("accept", "*/*")])
        ));
        assert!(!is_browser_navigation(
            &Method::GET,
            &headers(&[("accept", "text/html"), ("sec-fetch-mode", "cors")])
        ));
        assert!(!is_browser_navigation(
            &Method::GET,
            &headers(&[("accept", "text/html"), ("upgrade", "websocket")])
        ));
    }
}
