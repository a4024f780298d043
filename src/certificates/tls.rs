//! TLS: loading PEM certificates, generating and reusing a self-signed one, and the rustls
//! server config (TLS 1.2/1.3 only, ALPN h2 and http/1.1) with a certificate that can be
//! swapped without a restart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::TlsSettings;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: cannot read the certificate chain: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("{path}: cannot read the private key: {reason}")]
    PrivateKey { path: PathBuf, reason: String },
    #[error("{path}: no certificate found in the file")]
    EmptyChain { path: PathBuf },
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The certificates served to handshakes. `set` and `set_named` swap them for new
/// handshakes only; open connections keep theirs.
///
/// A handshake gets the certificate for its SNI name when one was set for that name (ACME
/// with one certificate per domain), else the default one. A handshake that offers only the
/// `acme-tls/1` protocol is a CA validating a TLS-ALPN-01 challenge: it gets that name's
/// challenge certificate or no certificate at all, never a real one.
#[derive(Debug)]
pub struct CertificateSlot {
    current: ArcSwap<CertifiedKey>,
    by_name: ArcSwap<HashMap<String, Arc<CertifiedKey>>>,
    /// ACME challenges being validated right now.
    pub challenges: Challenges,
}

/// Answers to ACME challenges in progress, by name (TLS-ALPN-01) and by token (HTTP-01).
#[derive(Debug, Default)]
pub struct Challenges {
    tls_alpn: Mutex<HashMap<String, Arc<CertifiedKey>>>,
    http: Mutex<HashMap<String, String>>,
}

impl Challenges {
    pub fn add_tls_alpn(&self, name: &str, key: CertifiedKey) {
        lock(&self.tls_alpn).insert(name.to_ascii_lowercase(), Arc::new(key));
    }

    pub fn remove_tls_alpn(&self, name: &str) {
        lock(&self.tls_alpn).remove(&name.to_ascii_lowercase());
    }

    fn tls_alpn(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        lock(&self.tls_alpn)
            .get(&name.to_ascii_lowercase())
            .cloned()
    }

    pub fn add_http(&self, token: &str, key_authorization: &str) {
        lock(&self.http).insert(token.to_string(), key_authorization.to_string());
    }

    pub fn remove_http(&self, token: &str) {
        lock(&self.http).remove(token);
    }

    /// The key authorization to answer `GET /.well-known/acme-challenge/TOKEN` with.
    pub fn http(&self, token: &str) -> Option<String> {
        lock(&self.http).get(token).cloned()
    }
}

/// A poisoned lock only means another thread panicked mid-insert; the map is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl CertificateSlot {
    pub fn new(key: CertifiedKey) -> Arc<Self> {
        Arc::new(CertificateSlot {
            current: ArcSwap::from_pointee(key),
            by_name: ArcSwap::from_pointee(HashMap::new()),
            challenges: Challenges::default(),
        })
    }

    pub fn set(&self, key: CertifiedKey) {
        self.current.store(Arc::new(key));
    }

    /// Serves `key` to handshakes whose SNI is one of `names` (lower-case).
    pub fn set_named(&self, names: &[String], key: CertifiedKey) {
        let key = Arc::new(key);
        let mut map = HashMap::clone(&self.by_name.load());
        for name in names {
            map.insert(name.to_ascii_lowercase(), key.clone());
        }
        self.by_name.store(Arc::new(map));
    }

    /// The certificate a handshake for `name` (its SNI) gets now.
    pub fn current_for(&self, name: Option<&str>) -> Arc<CertifiedKey> {
        name.and_then(|n| self.by_name.load().get(&n.to_ascii_lowercase()).cloned())
            .unwrap_or_else(|| self.current.load_full())
    }
}

impl ResolvesServerCert for CertificateSlot {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let acme_only = hello
            .alpn()
            .map(|mut protocols| protocols.all(|p| p == ACME_TLS_ALPN))
            .unwrap_or(false);
        if acme_only {
            return hello
                .server_name()
                .and_then(|n| self.challenges.tls_alpn(n));
        }
        Some(self.current_for(hello.server_name()))
    }
}

/// The process's crypto provider (aws-lc-rs, installed by `main`), or aws-lc-rs directly.
pub fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// Reads a PEM chain and key into a `CertifiedKey`, checking that they belong together.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::Certificate {
            path: cert.to_path_buf(),
            reason: e.to_string(),
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate {
            path: cert.to_path_buf(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::EmptyChain {
            path: cert.to_path_buf(),
        });
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::PrivateKey {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    let certified = CertifiedKey::from_der(chain, private_key, &provider()).map_err(|e| {
        TlsError::PrivateKey {
            path: key.to_path_buf(),
            reason: format!("does not match the certificate or is unsupported: {e}"),
        }
    })?;
    Ok(certified)
}

/// Loads the configured certificate, generating the self-signed one on first start.
pub fn obtain_certificate(settings: &TlsSettings) -> Result<CertifiedKey, TlsError> {
    match settings {
        TlsSettings::Files { cert, key } => load_certified_key(cert, key),
        TlsSettings::SelfSigned { cert, key, hosts } => {
            if !(cert.exists() && key.exists()) {
                write_self_signed(cert, key, hosts)?;
                tracing::info!(cert = %cert.display(), "generated a self-signed certificate");
            }
            load_certified_key(cert, key)
        }
        TlsSettings::Acme(acme) => self_signed_in_memory(&acme.domains),
    }
}

/// A throw-away self-signed certificate for `hosts`, never written to disk: what an ACME
/// front door serves until its first certificate arrives.
pub fn self_signed_in_memory(hosts: &[String]) -> Result<CertifiedKey, TlsError> {
    let generated = rcgen::generate_simple_self_signed(hosts.to_vec())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    CertifiedKey::from_der(vec![generated.cert.der().clone()], key, &provider())
        .map_err(|e| TlsError::Generate(e.to_string()))
}

/// Parses a PEM chain and key held in memory (an ACME order's result, the ACME cache).
pub fn certified_key_from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, PemError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<_, _>>()
        .map_err(PemError::Chain)?;
    if chain.is_empty() {
        return Err(PemError::EmptyChain);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(PemError::Key)?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(PemError::Mismatch)
}

/// Why a certificate and key held in memory cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    #[error("certificate chain: {0}")]
    Chain(#[source] rustls::pki_types::pem::Error),
    #[error("no certificate in the chain")]
    EmptyChain,
    #[error("private key: {0}")]
    Key(#[source] rustls::pki_types::pem::Error),
    #[error("the key does not match the certificate: {0}")]
    Mismatch(#[source] rustls::Error),
}

/// Generates an ECDSA P-256 key and a self-signed certificate for `hosts`, written 0600.
pub fn write_self_signed(cert: &Path, key: &Path, hosts: &[String]) -> Result<(), TlsError> {
    let generated = rcgen::generate_simple_self_signed(hosts.to_vec())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(key, generated.signing_key.serialize_pem().as_bytes())?;
    write_private(cert, generated.cert.pem().as_bytes())?;
    Ok(())
}

/// Writes a file readable by its owner only, atomically (see [`crate::files`]).
pub fn write_private(path: &Path, content: &[u8]) -> Result<(), TlsError> {
    crate::files::write_private(path, content).map_err(|source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The rustls server config: TLS 1.3 and 1.2 only, ALPN h2 then http/1.1.
///
/// The server's cipher order wins, with AES-128-GCM first: as strong as needed for these
/// sessions, and its SHA-256 key schedule runs on the CPU's SHA extensions where AES-256's
/// SHA-384 does not. One TLS 1.3 ticket per handshake is enough for resumption.
///
/// With `acme_tls_alpn`, `acme-tls/1` is offered too, for TLS-ALPN-01 validations.
pub fn server_config(
    slot: Arc<CertificateSlot>,
    acme_tls_alpn: bool,
) -> Result<rustls::ServerConfig, TlsError> {
    let mut provider = (*provider()).clone();
    provider
        .cipher_suites
        .sort_by_key(|suite| match suite.suite() {
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
            rustls::CipherSuite::TLS13_AES_256_GCM_SHA384 => 1,
            rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => 2,
            _ => 3,
        });
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(slot);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if acme_tls_alpn {
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    config.ignore_client_order = true;
    config.send_tls13_tickets = 1;
    Ok(config)
}

/// When a DER certificate stops being valid (its `notAfter`), in seconds since the epoch.
/// A few lines of DER walking instead of an X.509 crate: only this one field is needed.
pub fn not_after_unix(cert_der: &[u8]) -> Option<i64> {
    validity_unix(cert_der).map(|(_, not_after)| not_after)
}

/// A DER certificate's `notBefore` and `notAfter`, in seconds since the epoch.
pub fn validity_unix(cert_der: &[u8]) -> Option<(i64, i64)> {
    let (_, certificate, _) = der_tlv(cert_der).filter(|(tag, _, _)| *tag == 0x30)?;
    let (_, tbs, _) = der_tlv(certificate).filter(|(tag, _, _)| *tag == 0x30)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xA0) {
        rest = der_tlv(rest)?.2; // [0] version
    }
    for _ in 0..3 {
        rest = der_tlv(rest)?.2; // serialNumber, signature, issuer
    }
    let (_, validity, _) = der_tlv(rest).filter(|(tag, _, _)| *tag == 0x30)?;
    let (before_tag, before, after) = der_tlv(validity)?;
    let (after_tag, after, _) = der_tlv(after)?;
    Some((der_time(before_tag, before)?, der_time(after_tag, after)?))
}

/// One DER tag-length-value: (tag, content, what follows).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let (content, after) = rest.split_at_checked(len)?;
    Some((tag, content, after))
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) to Unix seconds.
fn der_time(tag: u8, content: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(content).ok()?.strip_suffix('Z')?;
    let num = |s: &str| s.parse::<i64>().ok();
    let (year, rest) = match tag {
        0x17 => {
            let yy = num(text.get(..2)?)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, text.get(2..)?)
        }
        0x18 => (num(text.get(..4)?)?, text.get(4..)?),
        _ => return None,
    };
    let month = num(rest.get(..2)?)?;
    let day = num(rest.get(2..4)?)?;
    let hour = num(rest.get(4..6)?)?;
    let minute = num(rest.get(6..8)?)?;
    let second = num(rest.get(8..10)?)?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both time encodings, checked against known Unix times.
    #[test]
    fn der_times() {
        assert_eq!(der_time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(der_time(0x17, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(der_time(0x18, b"20380119031408Z"), Some(2_147_483_648));
        assert_eq!(der_time(0x18, b"40960101000000Z"), Some(67_090_118_400));
        assert_eq!(der_time(0x18, b"garbage"), None);
    }

    /// A generated certificate's notAfter is found; garbage yields None, never a panic.
    #[test]
    fn reads_not_after() {
        let mut params = rcgen::CertificateParams::new(vec!["x.test".to_string()])
            .unwrap_or_else(|e| panic!("{e}"));
        params.not_after = rcgen::date_time_ymd(2031, 5, 17);
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(not_after_unix(cert.der()), Some(1_936_742_400));
        for bad in [
            &b""[..],
            &[0x30, 0x82, 0xff][..],
            &[0x30, 0x03, 0x30, 0x01, 0x00][..],
        ] {
            assert_eq!(not_after_unix(bad), None);
        }
    }
}
