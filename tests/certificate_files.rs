//! Certificate files replaced on disk (as `certbot renew` does) are picked up without a
//! restart: new connections get the new certificate, a connection opened before keeps
//! working, and a key that does not match keeps the old certificate in use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Harness, tls_connect};
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_rustls::TlsConnector;

/// A new self-signed pair for localhost, as PEM (cert, key).
fn new_pair() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A connector trusting every certificate in `pems`.
fn trusting(pems: &[&str]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for pem in pems {
        roots
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
            .unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Writes a file by renaming a temporary one over it, as certbot's symlink swap does.
fn replace(path: &std::path::Path, content: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn replaced_certificate_files_are_used_without_restart() {
    let h = Harness::start().await;
    let old_pem = std::fs::read_to_string(h.dir.join("cert.pem")).unwrap();
    let (new_cert, new_key) = new_pair();
    let connector = trusting(&[&old_pem, &new_cert]);
    let served = |tls: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>| {
        tls.get_ref().1.peer_certificates().unwrap()[0]
            .as_ref()
            .to_vec()
    };
    let old_der = CertificateDer::from_pem_slice(old_pem.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec();
    let new_der = CertificateDer::from_pem_slice(new_cert.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec();

    // A connection opened before the swap.
    let before = tls_connect(&connector, h.addr, &[b"http/1.1"]).await;
    assert_eq!(served(&before), old_der);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(before))
        .await
        .unwrap();
    tokio::spawn(conn);

    // A key that does not match: refused, the old certificate stays.
    replace(&h.dir.join("cert.pem"), &new_cert);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let during = tls_connect(&connector, h.addr, &[b"http/1.1"]).await;
    assert_eq!(
        served(&during),
        old_der,
        "a mismatched pair must not be served"
    );

    // The key arrives: the new pair is served to new connections.
    replace(&h.dir.join("key.pem"), &new_key);
    let mut swapped = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let tls = tls_connect(&connector, h.addr, &[b"http/1.1"]).await;
        if served(&tls) == new_der {
            swapped = true;
            break;
        }
    }
    assert!(swapped, "the new certificate was never served");

    // The old connection still works.
    let req = Request::get("/health")
        .header("host", h.authority())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender
        .send_request(req)
        .await
        .expect("old connection still open");
    assert_eq!(response.status(), StatusCode::OK);
}
