//! Automatic HTTPS against a real ACME server: pebble and pebble-challtestsrv (Debian's
//! `pebble` package) on 127.0.0.1. challtestsrv answers DNS for the test names with
//! 127.0.0.1, pebble validates TLS-ALPN-01 and HTTP-01 against frontdoor's own listeners,
//! and frontdoor trusts pebble's HTTPS through `ca_roots`. A TLS client that trusts pebble's
//! issuing root (from its management interface) checks what frontdoor serves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{ServeProcess, Setup, free_port};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const BIN: &str = env!("CARGO_BIN_EXE_frontdoor");
const NAME: &str = "agent.frontdoor.test";
const OTHER: &str = "api.frontdoor.test";

/// The ports frontdoor will listen on; pebble validates against them.
struct Ports {
    https: u16,
    http: u16,
}

impl Ports {
    fn new() -> Ports {
        Ports {
            https: free_port(),
            http: free_port(),
        }
    }
}

/// pebble plus pebble-challtestsrv, killed on drop.
struct Pebble {
    pebble: Option<Child>,
    dns: Option<Child>,
    /// pebble's stdout and stderr.
    log: PathBuf,
    directory: String,
    management: SocketAddr,
    /// pebble's own HTTPS certificate: what frontdoor's `ca_roots` names.
    tls_cert: PathBuf,
}

impl Pebble {
    /// Starts both servers; `validity_secs` sets the lifetime of issued certificates. Ports
    /// are picked free and may be taken by another test before pebble binds them: a start
    /// that does not come up is retried on new ports.
    async fn start(dir: &Path, ports: &Ports, validity_secs: Option<u64>) -> Pebble {
        for _ in 0..3 {
            if let Some(pebble) = Self::try_start(dir, ports, validity_secs).await {
                return pebble;
            }
        }
        panic!(
            "pebble did not come up in 3 tries: {}",
            std::fs::read_to_string(dir.join("pebble.log")).unwrap_or_default()
        );
    }

    async fn try_start(dir: &Path, ports: &Ports, validity_secs: Option<u64>) -> Option<Pebble> {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let tls_cert = dir.join("pebble-tls.pem");
        let tls_key = dir.join("pebble-tls.key");
        std::fs::write(&tls_cert, cert.pem()).unwrap();
        std::fs::write(&tls_key, key.serialize_pem()).unwrap();
        let (listen, management, dns, dns_management) =
            (free_port(), free_port(), free_port(), free_port());
        let mut config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{listen}"),
                "managementListenAddress": format!("127.0.0.1:{management}"),
                "certificate": tls_cert,
                "privateKey": tls_key,
                "httpPort": ports.http,
                "tlsPort": ports.https,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false
            }
        });
        if let Some(secs) = validity_secs {
            config["pebble"]["certificateValidityPeriod"] = secs.into();
        }
        let config_path = dir.join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let log = dir.join("pebble.log");
        let dns_child = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv (Debian package pebble; ./scripts/test installs it)");
        let log_file = std::fs::File::create(&log).unwrap();
        let pebble_child = Command::new("pebble")
            .args(["-config"])
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            // Deterministic: no random nonce rejections, no random validation delays, and
            // every order validated anew.
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("pebble (Debian package pebble; ./scripts/test installs it)");
        let pebble = Pebble {
            pebble: Some(pebble_child),
            dns: Some(dns_child),
            log,
            directory: format!("https://127.0.0.1:{listen}/dir"),
            management: SocketAddr::from(([127, 0, 0, 1], management)),
            tls_cert,
        };
        for port in [listen, management, dns_management] {
            if !wait_for_port(port).await {
                return None;
            }
        }
        Some(pebble)
    }

    /// The root that signs the certificates pebble issues (random per run).
    async fn issuing_root(&self) -> String {
        let connector = trusting(&[&std::fs::read_to_string(&self.tls_cert).unwrap()]);
        let tls = connect(&connector, self.management, "localhost").await;
        let (status, body) = get(tls, "/roots/0", "localhost").await;
        assert_eq!(status, StatusCode::OK, "pebble /roots/0");
        body
    }

    /// How many orders pebble has accepted, from its log.
    fn orders(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches("Added order")
            .count()
    }

    fn stop(&mut self) {
        for child in [self.pebble.take(), self.dns.take()].into_iter().flatten() {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether something listens on `port` within 10 s.
async fn wait_for_port(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

fn trusting(pems: &[&str]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for pem in pems {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// A verified TLS connection to `addr` for `name`.
async fn connect(connector: &TlsConnector, addr: SocketAddr, name: &str) -> TlsStream<TcpStream> {
    try_connect(connector, addr, name)
        .await
        .unwrap_or_else(|e| panic!("verified TLS connection to {name} at {addr}: {e}"))
}

async fn try_connect(
    connector: &TlsConnector,
    addr: SocketAddr,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    connector
        .connect(ServerName::try_from(name.to_string()).unwrap(), tcp)
        .await
}

/// The serial number of the certificate a connection got, as bytes (leaf's DER is enough to
/// tell two certificates apart; the serial is what the issue names, so compare both).
fn served(tls: &TlsStream<TcpStream>) -> Vec<u8> {
    tls.get_ref().1.peer_certificates().unwrap()[0]
        .as_ref()
        .to_vec()
}

/// One GET over a fresh HTTP/1.1 connection: (status, body).
async fn get(tls: TlsStream<TcpStream>, path: &str, host: &str) -> (StatusCode, String) {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let response = sender
        .send_request(
            Request::get(path)
                .header("host", host)
                .body(Empty::<Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A config for the demo agent with `[tls.acme]` against `pebble`.
fn write_config(
    setup: &Setup,
    ports: &Ports,
    pebble: &Pebble,
    challenge: &str,
    domains: &[&str],
    extra_acme: &str,
) -> PathBuf {
    let d = setup.dir.path().display();
    let domains = domains
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:{https}"
http_listen = "127.0.0.1:{http}"

[tls.acme]
domains = [{domains}]
contact = "ops@frontdoor.test"
directory = "{directory}"
challenge = "{challenge}"
ca_roots = "{roots}"
cache_dir = "{d}/acme"
{extra_acme}

[upstream]
url = "http://{agent}"

[auth.basic]
htpasswd = "{d}/htpasswd"

[[route]]
path = "/health"
exact = true
auth = "none"
"#,
        https = ports.https,
        http = ports.http,
        directory = pebble.directory,
        roots = pebble.tls_cert.display(),
        agent = setup.agent.addr,
    );
    let path = setup.dir.join("frontdoor.toml");
    std::fs::write(&path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        setup.dir.join("htpasswd"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    path
}

fn https_addr(ports: &Ports) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], ports.https))
}

/// Waits for a log line, which may have come before `frontdoor listening`.
fn saw(serve: &mut ServeProcess, needle: &str) {
    if !serve.log.iter().any(|l| l.contains(needle)) {
        serve.wait_for(needle);
    }
}

fn check_output(config: &Path) -> String {
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(config)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Empty cache, TLS-ALPN-01: the certificate arrives and verifies against pebble's root;
/// until then the placeholder is served (and does not verify).
#[tokio::test]
async fn tls_alpn_01_first_start_gets_a_trusted_certificate() {
    let setup = Setup::new("acme-alpn").await;
    let ports = Ports::new();
    let pebble = Pebble::start(setup.dir.path(), &ports, None).await;
    let config = write_config(&setup, &ports, &pebble, "tls-alpn-01", &[NAME, OTHER], "");
    let mut serve = ServeProcess::start(&[], &config, &[]);
    assert!(
        serve
            .log
            .iter()
            .any(|l| l.contains("self-signed placeholder")),
        "the log says a placeholder is served: {:?}",
        serve.log
    );
    serve.wait_for("ACME: new certificate in use");
    let connector = trusting(&[&pebble.issuing_root().await]);
    for name in [NAME, OTHER] {
        let tls = connect(&connector, https_addr(&ports), name).await;
        let (status, body) = get(tls, "/health", name).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(pebble.orders(), 1, "one certificate for both names");

    // The cache: account, key and certificate, owner-only.
    use std::os::unix::fs::PermissionsExt;
    let cache = setup.dir.join("acme");
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for file in [
        "account.json",
        &format!("{NAME}.key"),
        &format!("{NAME}.crt"),
    ] {
        let mode = std::fs::metadata(cache.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    // `check` reports the cached certificate's names and expiry.
    let out = check_output(&config);
    assert!(
        out.contains(&format!(
            "cached certificate for {NAME}, {OTHER} expires in"
        )),
        "{out}"
    );
    assert!(out.contains("0 errors, 0 warnings"), "{out}");
}

/// Empty cache, HTTP-01 on the plain-HTTP listener; other plain-HTTP requests still get the
/// 308, and unknown challenge tokens a 404.
#[tokio::test]
async fn http_01_first_start_gets_a_trusted_certificate() {
    let setup = Setup::new("acme-http").await;
    let ports = Ports::new();
    let pebble = Pebble::start(setup.dir.path(), &ports, None).await;
    let config = write_config(&setup, &ports, &pebble, "http-01", &[NAME], "");
    let mut serve = ServeProcess::start(&[], &config, &[]);
    serve.wait_for("ACME: new certificate in use");
    let connector = trusting(&[&pebble.issuing_root().await]);
    let tls = connect(&connector, https_addr(&ports), NAME).await;
    let (status, _) = get(tls, "/health", NAME).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pebble.orders(), 1);

    let plain = |path: &'static str| async move {
        let mut tcp = TcpStream::connect(("127.0.0.1", ports.http)).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tcp.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        tcp.read_to_string(&mut out).await.unwrap();
        out
    };
    let unknown = plain("/.well-known/acme-challenge/not-a-token").await;
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    let other = plain("/api/jobs").await;
    assert!(other.starts_with("HTTP/1.1 308"), "{other}");
}

/// A restart reuses the cached certificate: same certificate, no new order. With pebble
/// stopped, the cache alone is enough to start and serve.
#[tokio::test]
async fn restart_reuses_the_cache_and_needs_no_ca() {
    let setup = Setup::new("acme-restart").await;
    let ports = Ports::new();
    let mut pebble = Pebble::start(setup.dir.path(), &ports, None).await;
    let config = write_config(&setup, &ports, &pebble, "tls-alpn-01", &[NAME], "");
    let connector = trusting(&[&pebble.issuing_root().await]);
    let first = {
        let mut serve = ServeProcess::start(&[], &config, &[]);
        serve.wait_for("ACME: new certificate in use");
        served(&connect(&connector, https_addr(&ports), NAME).await)
    };
    assert_eq!(pebble.orders(), 1);

    let mut serve = ServeProcess::start(&[], &config, &[]);
    saw(&mut serve, "renewal scheduled");
    assert!(
        serve
            .log
            .iter()
            .any(|l| l.contains("serving the cached certificate")),
        "{:?}",
        serve.log
    );
    let tls = connect(&connector, https_addr(&ports), NAME).await;
    assert_eq!(served(&tls), first, "the cached certificate is served");
    assert_eq!(pebble.orders(), 1, "no new order on restart");
    drop(serve);

    pebble.stop();
    let mut serve = ServeProcess::start(&[], &config, &[]);
    saw(&mut serve, "renewal scheduled");
    let tls = connect(&connector, https_addr(&ports), NAME).await;
    assert_eq!(served(&tls), first);
    let (status, _) = get(tls, "/health", NAME).await;
    assert_eq!(status, StatusCode::OK);
}

/// Short-lived certificates are renewed at two-thirds of their lifetime: a connection made
/// after renewal sees the new certificate, one opened before keeps working.
#[tokio::test]
async fn short_lived_certificates_are_renewed_without_dropping_connections() {
    let setup = Setup::new("acme-renew").await;
    let ports = Ports::new();
    let pebble = Pebble::start(setup.dir.path(), &ports, Some(15)).await;
    let config = write_config(&setup, &ports, &pebble, "tls-alpn-01", &[NAME], "");
    let connector = trusting(&[&pebble.issuing_root().await]);
    let mut serve = ServeProcess::start(&[], &config, &[]);
    serve.wait_for("ACME: new certificate in use");
    let before = connect(&connector, https_addr(&ports), NAME).await;
    let first = served(&before);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(before))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = || {
        Request::get("/health")
            .header("host", NAME)
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    assert_eq!(
        sender.send_request(request()).await.unwrap().status(),
        StatusCode::OK
    );

    let deadline = Instant::now() + Duration::from_secs(40);
    let renewed = loop {
        let tls = connect(&connector, https_addr(&ports), NAME).await;
        if served(&tls) != first {
            break tls;
        }
        assert!(Instant::now() < deadline, "no renewal within 40 s");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let new_serial = serial(&served(&renewed));
    assert_ne!(new_serial, serial(&first), "a new serial after renewal");
    assert!(pebble.orders() >= 2);
    let (status, _) = get(renewed, "/health", NAME).await;
    assert_eq!(status, StatusCode::OK);
    // The connection opened before the renewal is still served.
    let response = sender.send_request(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// The serialNumber of a DER certificate.
fn serial(der: &[u8]) -> Vec<u8> {
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version, serialNumber, ...
    fn tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = input[0];
        let (len, header) = if input[1] < 0x80 {
            (usize::from(input[1]), 2)
        } else {
            let n = usize::from(input[1] & 0x7f);
            let len = input[2..2 + n]
                .iter()
                .fold(0usize, |a, b| (a << 8) | usize::from(*b));
            (len, 2 + n)
        };
        (tag, &input[header..header + len], &input[header + len..])
    }
    let (_, cert, _) = tlv(der);
    let (_, tbs, _) = tlv(cert);
    let (tag, _, rest) = tlv(tbs);
    assert_eq!(tag, 0xA0, "version");
    let (tag, serial, _) = tlv(rest);
    assert_eq!(tag, 0x02, "serial INTEGER");
    serial.to_vec()
}

/// With no cache and the CA unreachable, frontdoor serves its placeholder, keeps retrying
/// with backoff, logs the problem, and `check` reports the failing renewal.
#[tokio::test]
async fn unreachable_ca_is_retried_logged_and_reported_by_check() {
    let setup = Setup::new("acme-down").await;
    let ports = Ports::new();
    let mut pebble = Pebble::start(setup.dir.path(), &ports, None).await;
    pebble.stop();
    // Its port stays taken, so a parallel test's pebble cannot start there: connections
    // are accepted and closed at once, as by a CA that is down behind its load balancer.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    pebble.directory = format!("https://{}/dir", dead.local_addr().unwrap());
    std::thread::spawn(move || {
        while let Ok((stream, _)) = dead.accept() {
            drop(stream);
        }
    });
    let config = write_config(&setup, &ports, &pebble, "tls-alpn-01", &[NAME], "");
    let mut serve = ServeProcess::start(&[], &config, &[]);
    // The first failure may be logged before `frontdoor listening`, so look at every line.
    saw(&mut serve, "retry_in_secs=10");
    let failures: Vec<&String> = serve
        .log
        .iter()
        .filter(|l| l.contains("ACME: could not get a certificate"))
        .collect();
    assert!(
        failures.len() >= 2
            && failures[0].contains("retry_in_secs=5")
            && failures[1].contains("retry_in_secs=10"),
        "retried with a doubling backoff: {failures:#?}"
    );
    // The log gives the reason, not only hyper's "client error (Connect)".
    // (a reset or an EOF in the handshake, depending on timing).
    assert!(
        failures[0].contains("client error (Connect): ")
            && (failures[0].contains("reset") || failures[0].contains("eof")),
        "{}",
        failures[0]
    );
    // Still serving (the placeholder), so the listener is up for the CA's validation.
    let tcp = TcpStream::connect(serve.addr).await;
    assert!(tcp.is_ok());
    let out = check_output(&config);
    assert!(
        out.contains("attempts to get a certificate failed"),
        "{out}"
    );
    assert!(out.contains("no certificate yet"), "{out}");
}

/// One certificate per name, chosen by SNI.
#[tokio::test]
async fn one_certificate_per_domain_is_chosen_by_sni() {
    let setup = Setup::new("acme-sni").await;
    let ports = Ports::new();
    let pebble = Pebble::start(setup.dir.path(), &ports, None).await;
    let config = write_config(
        &setup,
        &ports,
        &pebble,
        "tls-alpn-01",
        &[NAME, OTHER],
        "certificate_per_domain = true",
    );
    let mut serve = ServeProcess::start(&[], &config, &[]);
    serve.wait_for("ACME: new certificate in use");
    serve.wait_for("ACME: new certificate in use");
    let connector = trusting(&[&pebble.issuing_root().await]);
    let a = served(&connect(&connector, https_addr(&ports), NAME).await);
    let b = served(&connect(&connector, https_addr(&ports), OTHER).await);
    assert_ne!(a, b, "each name has its own certificate");
    assert_eq!(pebble.orders(), 2);
    // The TLS-ALPN-01 protocol alone never gets a real certificate.
    let mut config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(common::AcceptAny))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"acme-tls/1".to_vec()];
    let probe = TlsConnector::from(Arc::new(config));
    assert!(
        try_connect(&probe, https_addr(&ports), NAME).await.is_err(),
        "no challenge in progress: the acme-tls/1 handshake fails"
    );
}
