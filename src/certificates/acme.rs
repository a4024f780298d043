//! Certificates from an ACME CA (Let's Encrypt by default): obtained at start, renewed before
//! they expire, cached on disk, and swapped in without a restart.
//!
//! The protocol is instant-acme's; this module decides when to order, answers the
//! TLS-ALPN-01 or HTTP-01 challenge through [`CertificateSlot::challenges`], and keeps the
//! cache: `account.json` (the account key), `NAME.crt`/`NAME.key` per certificate, and
//! `status.json` (last success and failures, which `check` reports). Files are 0600 in a 0700
//! folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, ChallengeType, Identifier,
    NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, watch};

use super::tls::{self, CertificateSlot};
use crate::config::{AcmeChallenge, AcmeSettings};
use crate::metrics::Metrics;

/// Renewal starts this long before expiry (or at two-thirds of a short lifetime).
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The first retry after a failure; each further failure doubles it, up to `MAX_BACKOFF`.
const MIN_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// A rate-limited account waits at least this long (Let's Encrypt's limits are hourly+).
const RATE_LIMIT_BACKOFF: Duration = Duration::from_secs(3600);
/// After a failed validation (DNS or port not right yet) the next try waits at least this
/// long: Let's Encrypt allows 5 failed validations per name and hour.
const INVALID_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Long sleeps are cut into pieces this long, so a suspended machine renews on time.
const MAX_SLEEP: Duration = Duration::from_secs(12 * 3600);
/// How long one request to the CA may take (a CA that accepts connections and then hangs
/// would otherwise stall renewals forever).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the CA may take to validate or to issue.
const ORDER_TIMEOUT: Duration = Duration::from_secs(120);

/// One certificate to keep: its file name and the names it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub domains: Vec<String>,
}

/// The certificates `settings` asks for: one for all names, or one per name.
pub fn groups(settings: &AcmeSettings) -> Vec<Group> {
    if settings.certificate_per_domain {
        settings
            .domains
            .iter()
            .map(|d| Group {
                name: d.clone(),
                domains: vec![d.clone()],
            })
            .collect()
    } else {
        settings
            .domains
            .first()
            .map(|first| Group {
                name: first.clone(),
                domains: settings.domains.clone(),
            })
            .into_iter()
            .collect()
    }
}

/// What is known about one certificate, kept in `status.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupStatus {
    /// The names the cached certificate was ordered for.
    #[serde(default)]
    pub domains: Vec<String>,
    /// The directory it came from.
    #[serde(default)]
    pub directory: String,
    pub last_success_unix: Option<i64>,
    pub last_attempt_unix: Option<i64>,
    /// Failed attempts since the last success.
    #[serde(default)]
    pub failures: u32,
    pub last_error: Option<String>,
}

/// `status.json`: by certificate name.
pub type Status = BTreeMap<String, GroupStatus>;

pub fn status_path(settings: &AcmeSettings) -> PathBuf {
    settings.cache_dir.join("status.json")
}

pub fn read_status(settings: &AcmeSettings) -> Status {
    std::fs::read(status_path(settings))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

pub fn cert_path(settings: &AcmeSettings, group: &Group) -> PathBuf {
    settings.cache_dir.join(format!("{}.crt", group.name))
}

pub fn key_path(settings: &AcmeSettings, group: &Group) -> PathBuf {
    settings.cache_dir.join(format!("{}.key", group.name))
}

/// A cached certificate that can be served: its key pair and validity.
pub struct Cached {
    pub key: CertifiedKey,
    pub not_before: i64,
    pub not_after: i64,
    /// Ordered from this CA for exactly the configured names (in any order). When not, it is
    /// still served until a certificate for the new names arrives.
    pub current: bool,
}

/// Why a cached certificate cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{0}")]
    Read(#[source] std::io::Error),
    #[error(transparent)]
    Pem(#[from] tls::PemError),
    #[error("the cached certificate's validity cannot be read")]
    Validity,
    #[error("the cached certificate has expired")]
    Expired,
}

/// The cached certificate for `group`, if it exists, parses, and has not expired.
pub fn load_cached(settings: &AcmeSettings, group: &Group) -> Result<Cached, CacheError> {
    let status = read_status(settings);
    let sorted = |names: &[String]| {
        let mut v = names.to_vec();
        v.sort();
        v
    };
    let current = status.get(&group.name).is_some_and(|s| {
        sorted(&s.domains) == sorted(&group.domains) && s.directory == settings.directory
    });
    let chain = std::fs::read(cert_path(settings, group)).map_err(CacheError::Read)?;
    let key = std::fs::read(key_path(settings, group)).map_err(CacheError::Read)?;
    let key = tls::certified_key_from_pem(&chain, &key)?;
    let (not_before, not_after) = key
        .cert
        .first()
        .and_then(|c| tls::validity_unix(c))
        .ok_or(CacheError::Validity)?;
    if not_after <= now_unix() {
        return Err(CacheError::Expired);
    }
    Ok(Cached {
        key,
        not_before,
        not_after,
        current,
    })
}

/// When to renew a certificate valid from `not_before` to `not_after`: 30 days before it
/// expires, or at two-thirds of its lifetime when that comes later (short-lived certificates).
pub fn renew_at(not_before: i64, not_after: i64) -> i64 {
    let lifetime = (not_after - not_before).max(0);
    let two_thirds = not_before + lifetime * 2 / 3;
    let before_expiry = not_after - RENEW_BEFORE.as_secs() as i64;
    two_thirds.max(before_expiry)
}

pub use crate::clock::now_unix;

/// What to serve for one certificate at start, and the validity of a cached one.
pub struct Initial {
    pub group: Group,
    pub key: CertifiedKey,
    pub validity: Option<(i64, i64)>,
}

/// The certificates to serve at start: each group's cached one, or a self-signed placeholder
/// (the log says so) until the first order completes.
pub fn initial(settings: &AcmeSettings) -> Result<Vec<Initial>, tls::TlsError> {
    let mut out = Vec::new();
    for group in groups(settings) {
        match load_cached(settings, &group) {
            Ok(cached) => {
                tracing::info!(
                    certificate = %group.name,
                    expires = cached.not_after,
                    current = cached.current,
                    "ACME: serving the cached certificate"
                );
                out.push(Initial {
                    group,
                    key: cached.key,
                    // One for other names (or another CA) is served until the new one comes.
                    validity: cached
                        .current
                        .then_some((cached.not_before, cached.not_after)),
                });
            }
            Err(reason) => {
                tracing::warn!(
                    certificate = %group.name,
                    reason = %reason,
                    "ACME: no usable certificate yet; serving a self-signed placeholder until \
                     the CA issues one"
                );
                let key = tls::self_signed_in_memory(&group.domains)?;
                out.push(Initial {
                    group,
                    key,
                    validity: None,
                });
            }
        }
    }
    Ok(out)
}

/// Keeps the certificates of `settings` valid until shutdown: one task per certificate. The
/// first certificate is also the default, for handshakes without a known SNI name.
pub fn spawn(
    settings: AcmeSettings,
    initial: Vec<Initial>,
    slot: Arc<CertificateSlot>,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) {
    let client = Arc::new(Client {
        settings,
        account: Mutex::new(None),
        status_lock: std::sync::Mutex::new(()),
        expiries: std::sync::Mutex::new(BTreeMap::new()),
    });
    for start in &initial {
        let expiry = start.validity.map_or(0, |(_, not_after)| not_after);
        client.note_expiry(&start.group, expiry, &metrics);
    }
    for (index, start) in initial.into_iter().enumerate() {
        tokio::spawn(keep_renewed(
            client.clone(),
            start.group,
            start.validity,
            index == 0,
            slot.clone(),
            metrics.clone(),
            shutdown.clone(),
        ));
    }
}

/// Sleeps until `group`'s certificate is due, orders a new one, and swaps it in; retries
/// failures with a growing backoff.
async fn keep_renewed(
    client: Arc<Client>,
    group: Group,
    mut current: Option<(i64, i64)>,
    is_default: bool,
    slot: Arc<CertificateSlot>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slot = &*slot;
    let mut backoff = MIN_BACKOFF;
    loop {
        if let Some((not_before, not_after)) = current {
            let due = renew_at(not_before, not_after);
            let wait = Duration::from_secs(u64::try_from(due - now_unix()).unwrap_or(0));
            if !wait.is_zero() {
                tracing::info!(certificate = %group.name, renew_in_secs = wait.as_secs(), "ACME: certificate valid; renewal scheduled");
                if sleep_or_shutdown(wait.min(MAX_SLEEP), &mut shutdown).await {
                    return;
                }
                if wait > MAX_SLEEP {
                    continue;
                }
            }
        }
        tracing::info!(certificate = %group.name, domains = ?group.domains, directory = %client.settings.directory, "ACME: ordering a certificate");
        let attempt = tokio::select! {
            _ = shutdown.changed() => return,
            result = client.order(&group, slot) => result,
        };
        match attempt {
            Ok(issued) => {
                tracing::info!(certificate = %group.name, expires = issued.not_after, "ACME: new certificate in use");
                client.note_expiry(&group, issued.not_after, &metrics);
                if is_default {
                    slot.set(issued.key.clone());
                }
                slot.set_named(&group.domains, issued.key);
                current = Some((issued.not_before, issued.not_after));
                client.record(&group, None);
                backoff = MIN_BACKOFF;
            }
            Err(failure) => {
                let wait = if failure.rate_limited {
                    backoff.max(RATE_LIMIT_BACKOFF)
                } else if failure.validation {
                    backoff.max(INVALID_BACKOFF)
                } else {
                    backoff
                };
                tracing::error!(
                    certificate = %group.name,
                    error = %failure.message,
                    retry_in_secs = wait.as_secs(),
                    "ACME: could not get a certificate"
                );
                client.record(&group, Some(&failure.message));
                if sleep_or_shutdown(wait, &mut shutdown).await {
                    return;
                }
                backoff = (wait * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// True when the server is shutting down.
async fn sleep_or_shutdown(wait: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = shutdown.changed() => true,
        _ = tokio::time::sleep(wait) => false,
    }
}

struct Client {
    settings: AcmeSettings,
    account: Mutex<Option<Account>>,
    /// Serializes read-modify-write of `status.json` between certificates.
    status_lock: std::sync::Mutex<()>,
    /// Each certificate's expiry (0 while a placeholder is served); the metric shows the
    /// soonest, so one failing certificate is not hidden by another's renewal.
    expiries: std::sync::Mutex<BTreeMap<String, i64>>,
}

/// A failed order, with the CA's problem detail when it gave one.
#[derive(Debug)]
struct Failure {
    message: String,
    rate_limited: bool,
    /// The CA could not validate the challenge (DNS, port, firewall).
    validation: bool,
}

impl From<instant_acme::Error> for Failure {
    fn from(e: instant_acme::Error) -> Self {
        let rate_limited = matches!(&e, instant_acme::Error::Api(p)
            if p.r#type.as_deref() == Some("urn:ietf:params:acme:error:rateLimited"));
        // hyper's errors say "client error (Connect)"; the reason is in the source chain.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        Failure {
            message,
            rate_limited,
            validation: false,
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure {
            message,
            rate_limited: false,
            validation: false,
        }
    }
}

/// The account as stored in `account.json`.
#[derive(Serialize, Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

/// Removes the challenge answers of an order when it ends, however it ends.
struct ChallengeCleanup<'a> {
    slot: &'a CertificateSlot,
    tls_alpn: Vec<String>,
    http: Vec<String>,
}

impl Drop for ChallengeCleanup<'_> {
    fn drop(&mut self) {
        for name in &self.tls_alpn {
            self.slot.challenges.remove_tls_alpn(name);
        }
        for token in &self.http {
            self.slot.challenges.remove_http(token);
        }
    }
}

impl Client {
    fn note_expiry(&self, group: &Group, not_after: i64, metrics: &crate::metrics::Metrics) {
        let mut expiries = self
            .expiries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        expiries.insert(group.name.clone(), not_after);
        if let Some(soonest) = expiries.values().min() {
            metrics.certificate_expires_at(*soonest);
        }
    }

    /// Loads the cached account for this directory, or registers a new one and caches it.
    async fn account(&self) -> Result<Account, Failure> {
        let mut guard = self.account.lock().await;
        if let Some(account) = guard.as_ref() {
            return Ok(account.clone());
        }
        let path = self.settings.cache_dir.join("account.json");
        let stored = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<StoredAccount>(&bytes).ok())
            .filter(|s| s.directory == self.settings.directory);
        let account = match stored {
            Some(stored) => self.builder()?.from_credentials(stored.credentials).await?,
            None => {
                let contact: Vec<&str> = self.settings.contact.iter().map(String::as_str).collect();
                let (account, credentials) = self
                    .builder()?
                    .create(
                        &NewAccount {
                            contact: &contact,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        self.settings.directory.clone(),
                        None,
                    )
                    .await?;
                tracing::info!(account = %account.id(), "ACME: account registered");
                let stored = StoredAccount {
                    directory: self.settings.directory.clone(),
                    credentials,
                };
                // Kept in memory whatever happens to the file, so retries reuse it.
                let written = serde_json::to_vec_pretty(&stored)
                    .map_err(|e| e.to_string())
                    .and_then(|json| {
                        crate::files::write_private(&path, &json).map_err(|e| e.to_string())
                    });
                if let Err(e) = written {
                    tracing::error!(file = %path.display(), error = %e, "ACME: cannot cache the account key; a restart registers a new account");
                }
                account
            }
        };
        *guard = Some(account.clone());
        Ok(account)
    }

    /// An account builder whose HTTPS client trusts the system's roots, or `ca_roots`, and
    /// gives up on any request after [`REQUEST_TIMEOUT`].
    fn builder(&self) -> Result<instant_acme::AccountBuilder, Failure> {
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match &self.settings.ca_roots {
            None => builder
                .try_with_platform_verifier()
                .map_err(|e| format!("the system's CA roots: {e}"))?,
            Some(roots_path) => {
                let roots = read_roots(roots_path)?;
                let config = rustls::ClientConfig::builder_with_provider(tls::provider())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| format!("TLS client: {e}"))?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                builder.with_tls_config(config)
            }
        };
        let connector = builder.https_only().enable_http1().enable_http2().build();
        let http: hyper_util::client::legacy::Client<_, BodyWrapper<Bytes>> =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Ok(Account::builder_with_http(Box::new(Timed {
            inner: http,
            timeout: REQUEST_TIMEOUT,
        })))
    }

    /// Places an order for `group`, answers its challenges, and returns the certificate.
    async fn order(&self, group: &Group, slot: &CertificateSlot) -> Result<Cached, Failure> {
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = group
            .domains
            .iter()
            .map(|d| Identifier::Dns(d.clone()))
            .collect();
        let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
        let mut cleanup = ChallengeCleanup {
            slot,
            tls_alpn: Vec::new(),
            http: Vec::new(),
        };
        let wanted = match self.settings.challenge {
            AcmeChallenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
            AcmeChallenge::Http01 => ChallengeType::Http01,
        };
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization?;
            match authorization.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => {
                    return Err(format!(
                        "the CA's authorization for {} is {other:?}",
                        authorization.identifier()
                    )
                    .into());
                }
            }
            let name = authorization.identifier().to_string();
            let Some(mut challenge) = authorization.challenge(wanted.clone()) else {
                return Err(format!("the CA offers no {wanted:?} challenge for {name}").into());
            };
            let key_authorization = challenge.key_authorization();
            match self.settings.challenge {
                AcmeChallenge::TlsAlpn01 => {
                    let answer = tls_alpn_certificate(&name, key_authorization.digest().as_ref())?;
                    slot.challenges.add_tls_alpn(&name, answer);
                    cleanup.tls_alpn.push(name.clone());
                }
                AcmeChallenge::Http01 => {
                    slot.challenges
                        .add_http(&challenge.token, key_authorization.as_str());
                    cleanup.http.push(challenge.token.clone());
                }
            }
            challenge.set_ready().await?;
        }
        let retries = RetryPolicy::new().timeout(ORDER_TIMEOUT);
        let status = order.poll_ready(&retries).await?;
        if status != OrderStatus::Ready {
            let mut problems = Vec::new();
            let mut authorizations = order.authorizations();
            while let Some(Ok(mut authorization)) = authorizations.next().await {
                if let Ok(state) = authorization.refresh().await {
                    for challenge in &state.challenges {
                        if let Some(problem) = &challenge.error {
                            problems.push(format!("{}: {problem}", state.identifier()));
                        }
                    }
                }
            }
            return Err(Failure {
                message: format!(
                    "the order is {status:?}: {}",
                    if problems.is_empty() {
                        "the CA gave no detail".to_string()
                    } else {
                        problems.join("; ")
                    }
                ),
                rate_limited: false,
                validation: true,
            });
        }
        drop(cleanup);

        let key_pair = rcgen::KeyPair::generate().map_err(|e| format!("key generation: {e}"))?;
        let mut params = rcgen::CertificateParams::new(group.domains.clone())
            .map_err(|e| format!("CSR: {e}"))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params
            .serialize_request(&key_pair)
            .map_err(|e| format!("CSR: {e}"))?;
        order.finalize_csr(csr.der()).await?;
        let chain_pem = order.poll_certificate(&retries).await?;
        let key_pem = key_pair.serialize_pem();
        let key = tls::certified_key_from_pem(chain_pem.as_bytes(), key_pem.as_bytes())
            .map_err(|e| format!("the CA's certificate cannot be used: {e}"))?;
        let (not_before, not_after) = key
            .cert
            .first()
            .and_then(|c| tls::validity_unix(c))
            .ok_or("the CA's certificate has no readable validity".to_string())?;
        // A cache that cannot be written must not cost the certificate (and the CA's
        // duplicate-certificate limit): serve it, and say so.
        if let Err(e) = self.store(group, chain_pem.as_bytes(), key_pem.as_bytes()) {
            tracing::error!(certificate = %group.name, error = %e.message, "ACME: cannot cache the new certificate; it is served, but a restart orders another");
        }
        Ok(Cached {
            key,
            not_before,
            not_after,
            current: true,
        })
    }

    /// Writes the certificate and key (key first: a reader never pairs a new chain with an
    /// old key) and records which names and CA they are for.
    fn store(&self, group: &Group, chain: &[u8], key: &[u8]) -> Result<(), Failure> {
        let key_file = key_path(&self.settings, group);
        let cert_file = cert_path(&self.settings, group);
        crate::files::write_private(&key_file, key)
            .map_err(|e| format!("{}: cannot write: {e}", key_file.display()))?;
        crate::files::write_private(&cert_file, chain)
            .map_err(|e| format!("{}: cannot write: {e}", cert_file.display()))?;
        self.update_status(group, |entry| {
            entry.domains = group.domains.clone();
            entry.directory = self.settings.directory.clone();
        });
        Ok(())
    }

    /// Read-modify-write of one certificate's entry in `status.json`, one at a time.
    fn update_status(&self, group: &Group, change: impl FnOnce(&mut GroupStatus)) {
        let _guard = self
            .status_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut status = read_status(&self.settings);
        change(status.entry(group.name.clone()).or_default());
        self.write_status(&status);
    }

    /// Records an attempt's outcome in `status.json` (for `check`).
    fn record(&self, group: &Group, error: Option<&str>) {
        let now = now_unix();
        self.update_status(group, |entry| {
            entry.last_attempt_unix = Some(now);
            match error {
                None => {
                    entry.last_success_unix = Some(now);
                    entry.failures = 0;
                    entry.last_error = None;
                }
                Some(message) => {
                    entry.failures = entry.failures.saturating_add(1);
                    entry.last_error = Some(message.to_string());
                }
            }
        });
    }

    fn write_status(&self, status: &Status) {
        let path = status_path(&self.settings);
        let written = serde_json::to_vec_pretty(status)
            .map_err(|e| e.to_string())
            .and_then(|json| crate::files::write_private(&path, &json).map_err(|e| e.to_string()));
        if let Err(e) = written {
            tracing::warn!(file = %path.display(), error = %e, "ACME: cannot record the renewal status");
        }
    }
}

/// An ACME HTTP client whose requests fail after `timeout`.
struct Timed<C> {
    inner: C,
    timeout: Duration,
}

impl<C: instant_acme::HttpClient> instant_acme::HttpClient for Timed<C> {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<instant_acme::BytesResponse, instant_acme::Error>> + Send>,
    > {
        let uri = req.uri().clone();
        let pending = self.inner.request(req);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, pending).await {
                Ok(result) => result,
                Err(_) => Err(instant_acme::Error::Other(
                    format!("{uri}: no answer within {} s", timeout.as_secs_f32()).into(),
                )),
            }
        })
    }
}

/// Every certificate in a PEM file, as trust anchors.
fn read_roots(path: &Path) -> Result<rustls::RootCertStore, Failure> {
    let mut roots = rustls::RootCertStore::empty();
    let certs =
        CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{}: no certificate found", path.display()).into());
    }
    Ok(roots)
}

/// The self-signed certificate that answers a TLS-ALPN-01 challenge for `name` (RFC 8737):
/// the name as its only SAN and the key authorization's digest in a critical
/// acmeIdentifier extension.
fn tls_alpn_certificate(name: &str, digest: &[u8]) -> Result<CertifiedKey, Failure> {
    if digest.len() != 32 {
        return Err("the key authorization digest is not SHA-256"
            .to_string()
            .into());
    }
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()])
        .map_err(|e| format!("challenge certificate: {e}"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key_pair = rcgen::KeyPair::generate().map_err(|e| format!("challenge key: {e}"))?;
    let cert = params
        .self_signed(&key_pair)
        .map_err(|e| format!("challenge certificate: {e}"))?;
    // Not `CertifiedKey::from_der`: its key check parses the certificate with webpki, which
    // refuses the critical acmeIdentifier extension this certificate exists to carry.
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(key_pair.serialize_der())
        .map_err(|e| format!("challenge key: {e}"))?;
    let signing_key = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key_der)
        .map_err(|e| format!("challenge key: {e}"))?;
    Ok(CertifiedKey::new(vec![cert.der().clone()], signing_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 90-day certificates renew 30 days before expiry; short-lived ones at two-thirds.
    #[test]
    fn renewal_window() {
        let day = 86_400;
        assert_eq!(renew_at(0, 90 * day), 60 * day);
        assert_eq!(renew_at(0, 365 * day), 335 * day);
        assert_eq!(renew_at(0, 6 * day), 4 * day);
        assert_eq!(renew_at(1000, 1030), 1020);
        assert_eq!(renew_at(1000, 900), 1000);
    }

    /// A CA that never answers fails the request after the timeout instead of hanging.
    #[tokio::test]
    async fn requests_time_out() {
        struct Silent;
        impl instant_acme::HttpClient for Silent {
            fn request(
                &self,
                _: http::Request<BodyWrapper<Bytes>>,
            ) -> std::pin::Pin<
                Box<
                    dyn Future<Output = Result<instant_acme::BytesResponse, instant_acme::Error>>
                        + Send,
                >,
            > {
                Box::pin(std::future::pending())
            }
        }
        use instant_acme::HttpClient;
        let timed = Timed {
            inner: Silent,
            timeout: Duration::from_millis(50),
        };
        let request = http::Request::get("https://ca.test/dir")
            .body(BodyWrapper::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let started = std::time::Instant::now();
        let Err(error) = timed.request(request).await else {
            panic!("a silent CA produced a response");
        };
        assert!(error.to_string().contains("no answer within"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// One certificate for all names by default; one per name on request.
    #[test]
    fn certificate_groups() {
        let mut settings = AcmeSettings {
            domains: vec!["a.example.com".into(), "b.example.com".into()],
            contact: None,
            directory: "https://ca.test/dir".into(),
            cache_dir: "certs/acme".into(),
            challenge: AcmeChallenge::TlsAlpn01,
            ca_roots: None,
            certificate_per_domain: false,
        };
        assert_eq!(
            groups(&settings),
            vec![Group {
                name: "a.example.com".into(),
                domains: settings.domains.clone()
            }]
        );
        settings.certificate_per_domain = true;
        assert_eq!(groups(&settings).len(), 2);
        assert_eq!(
            groups(&settings)[1].domains,
            vec!["b.example.com".to_string()]
        );
    }
}
