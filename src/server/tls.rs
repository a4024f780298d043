//! TLS: loading PEM certificates, generating and reusing a self-signed one, and the rustls
//! server config (TLS 1.2/1.3 only, ALPN h2 and http/1.1) with a certificate that can be
//! swapped without a restart.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// The certificate served to every handshake; `set` swaps it for new handshakes only.
#[derive(Debug)]
pub struct CertificateSlot {
    current: ArcSwap<CertifiedKey>,
}

impl CertificateSlot {
    pub fn new(key: CertifiedKey) -> Arc<Self> {
        Arc::new(CertificateSlot {
            current: ArcSwap::from_pointee(key),
        })
    }

    pub fn set(&self, key: CertifiedKey) {
        self.current.store(Arc::new(key));
    }
}

impl ResolvesServerCert for CertificateSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn provider() -> Arc<CryptoProvider> {
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
    }
}

/// Generates an ECDSA P-256 key and a self-signed certificate for `hosts`, written 0600.
pub fn write_self_signed(cert: &Path, key: &Path, hosts: &[String]) -> Result<(), TlsError> {
    let generated = rcgen::generate_simple_self_signed(hosts.to_vec())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(key, generated.signing_key.serialize_pem().as_bytes())?;
    write_private(cert, generated.cert.pem().as_bytes())?;
    Ok(())
}

/// Writes a file readable by its owner only, creating its folder (0700) if needed.
pub fn write_private(path: &Path, content: &[u8]) -> Result<(), TlsError> {
    let fail = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(fail)?;
    }
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    file.write_all(content).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    Ok(())
}

use std::os::unix::fs::DirBuilderExt;

/// The rustls server config: TLS 1.3 and 1.2 only, ALPN h2 then http/1.1.
pub fn server_config(slot: Arc<CertificateSlot>) -> Result<rustls::ServerConfig, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(slot);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
