//! Why talking to the OpenID provider, a sign-in, or a session refresh failed: typed, so the
//! caller decides what each means (a failed start, a 400 page, an ended session) and logs
//! say exactly what went wrong.

use std::time::Duration;

use super::jwt::{JwksError, JwtError};

/// An HTTP exchange with the provider that did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{uri}: {source}")]
    Request {
        uri: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("{uri}: {source}")]
    Body {
        uri: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{uri}: no answer within {after:?}")]
    Timeout { uri: String, after: Duration },
    #[error("{url}: {source}")]
    Build {
        url: String,
        #[source]
        source: http::Error,
    },
}

/// Why the provider could not be used (at start: the server does not start).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the system's CA roots: {0}")]
    CaRoots(#[source] rustls::Error),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{url}: HTTP {status}")]
    Status {
        url: String,
        status: http::StatusCode,
    },
    #[error("{url}: {source}")]
    Json {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{url}: {source}")]
    Keys {
        url: String,
        #[source]
        source: JwksError,
    },
    #[error("the discovery document names issuer `{found}`, not the configured `{configured}`")]
    IssuerMismatch { found: String, configured: String },
    #[error("the provider's endpoint `{0}` is not https (or loopback http)")]
    InsecureEndpoint(String),
    #[error("{name}: {source}")]
    Endpoint {
        name: &'static str,
        #[source]
        source: oauth2::url::ParseError,
    },
    #[error("OpenID provider {issuer}: {source} (tried {attempts} times)")]
    Unreachable {
        issuer: String,
        attempts: u32,
        #[source]
        source: Box<OidcError>,
    },
    #[error("session.cookie_key must be at least 32 bytes")]
    CookieKeyTooShort,
    #[error("no random source: {0}")]
    NoRandomSource(#[source] getrandom::Error),
}

/// Why a sign-in's callback was refused (a 400 page that says so).
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the provider did not sign you in")]
    ProviderError,
    #[error("the callback has no code or state")]
    MissingCodeOrState,
    #[error("no login in progress in this browser for this state")]
    NoLogin,
    #[error("the state does not match this browser's login")]
    StateMismatch,
    #[error("the login took too long; start again")]
    Expired,
    #[error("this login was already completed (replayed state)")]
    Replayed,
    /// The provider's own description of why (its `error` and `error_description`).
    #[error("the provider refused the code: {0}")]
    CodeRefused(String),
    #[error("the provider returned no ID token")]
    NoIdToken,
    #[error("the ID token was refused: {0}")]
    IdToken(#[source] JwtError),
    #[error("the session is too large for a cookie (too many groups?)")]
    SessionTooLarge,
}

/// Why a session ended at refresh.
#[derive(Debug, thiserror::Error)]
pub enum RefreshRefused {
    #[error("no refresh token")]
    NoRefreshToken,
    #[error("the provider said {0}")]
    Provider(String),
    #[error("the refreshed ID token is for another subject")]
    OtherSubject,
    #[error("the refreshed ID token was refused: {0}")]
    IdToken(#[source] JwtError),
    #[error("the renewed session is too large for a cookie")]
    SessionTooLarge,
}
