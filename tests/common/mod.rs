//! Test harness: starts the demo agent and a real frontdoor on 127.0.0.1:0 with a config
//! written for the test, and talks to it over real TLS (HTTP/1.1, HTTP/2, or raw bytes).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod fronts;
pub mod paths;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use frontdoor::config::{Config, Env};
use frontdoor::demo::agent::DemoAgent;
use frontdoor::server::{self, RunningServer};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub fn install_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A temporary folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).expect("random");
        let name = format!(
            "frontdoor-test-{tag}-{}",
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command and returns its stdout; panics with a clear message if the tool is missing.
pub fn tool_output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "`{program}` is needed by this test ({e}); the README's test command installs it"
            )
        });
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// An htpasswd line `user:hash` made by Apache's `htpasswd` tool with the given flag.
/// `flag` is the letter flag and any options after it, e.g. `"B -C 5"`.
pub fn apache_htpasswd_line(flag: &str, user: &str, password: &str) -> String {
    let mut words = flag.split_whitespace();
    let letters = format!("-nb{}", words.next().unwrap_or(""));
    let mut args: Vec<&str> = vec![&letters];
    args.extend(words);
    args.extend([user, password]);
    tool_output("htpasswd", &args).trim().to_string()
}

/// The routes most tests use, in front of the demo agent.
pub const STANDARD_ROUTES: &str = r#"
[[route]]
path = "/health"
auth = "none"

[[route]]
path = "/api/jobs"
methods = ["GET", "POST"]
auth = ["basic"]

[[route]]
path = "/api/workspace/file"
exact = true
auth = ["basic"]

[[route]]
path = "/api/workspace/upload"
exact = true
methods = ["PUT", "POST"]
auth = ["basic"]
max_body_bytes = 1048576

[[route]]
path = "/api/events"
auth = ["basic"]

[[route]]
path = "/api/echo"
auth = ["basic"]

[[route]]
path = "/api/public-echo"
auth = "none"

[[route]]
path = "/api/slow"
auth = "none"

[[route]]
path = "/api/download"
auth = "none"

[[route]]
path = "/ws"
auth = ["basic"]
"#;

/// The test user every harness has (bcrypt cost 5, written by Apache's htpasswd).
pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse";

pub struct Harness {
    pub agent: DemoAgent,
    pub server: Option<RunningServer>,
    pub dir: TempDir,
    pub client: Client,
}

impl std::ops::Deref for Harness {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// A client for one frontdoor address, trusting its certificate.
pub struct Client {
    pub addr: SocketAddr,
    pub connector: TlsConnector,
}

pub struct Options<'a> {
    /// Extra TOML placed before the routes (e.g. `[ui]`, `[server]` keys go in `server_extra`).
    pub extra: &'a str,
    pub server_extra: &'a str,
    pub routes: &'a str,
    pub htpasswd: Option<String>,
    pub upstream: Option<SocketAddr>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            extra: "",
            server_extra: "",
            routes: STANDARD_ROUTES,
            htpasswd: None,
            upstream: None,
        }
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::with(Options::default()).await
    }

    pub async fn with(opts: Options<'_>) -> Harness {
        install_crypto();
        let dir = TempDir::new("h");
        let agent = DemoAgent::start("127.0.0.1:0".parse().unwrap())
            .await
            .expect("demo agent");
        let htpasswd = opts
            .htpasswd
            .unwrap_or_else(|| apache_htpasswd_line("B -C 5", USER, PASSWORD) + "\n");
        std::fs::write(dir.join("htpasswd"), htpasswd).unwrap();
        let upstream = opts.upstream.unwrap_or(agent.addr);
        let text = format!(
            r#"
[server]
listen = "127.0.0.1:0"
{server_extra}

[tls]
self_signed = true
cert = "{dir}/cert.pem"
key = "{dir}/key.pem"

[upstream]
url = "http://{upstream}"
response_timeout_secs = 2
connect_timeout_secs = 2

[auth.basic]
htpasswd = "{dir}/htpasswd"
realm = "test"

{extra}

{routes}
"#,
            server_extra = opts.server_extra,
            dir = dir.path().display(),
            extra = opts.extra,
            routes = opts.routes,
        );
        let config = Config::from_toml(&text, "test.toml", &Env::default())
            .unwrap_or_else(|e| panic!("test config refused: {e}\n{text}"));
        let server = server::start(config).await.expect("frontdoor starts");
        let client = Client::new(server.https_addr, &dir.join("cert.pem"));
        Harness {
            agent,
            server: Some(server),
            dir,
            client,
        }
    }

    pub async fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// Paths the agent received, as raw targets.
    pub fn agent_targets(&self) -> Vec<String> {
        self.agent.seen().iter().map(|r| r.target.clone()).collect()
    }
}

impl Client {
    pub fn new(addr: SocketAddr, cert: &Path) -> Client {
        Client {
            addr,
            connector: connector_trusting(cert),
        }
    }

    pub fn authority(&self) -> String {
        format!("localhost:{}", self.addr.port())
    }

    /// A TLS connection with the given ALPN protocols.
    pub async fn tls(&self, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
        tls_connect(&self.connector, self.addr, alpn).await
    }

    /// Sends a request over a fresh HTTP/1.1 connection and reads the whole response.
    pub async fn send(&self, req: Request<Full<Bytes>>) -> TestResponse {
        let tls = self.tls(&[b"http/1.1"]).await;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .expect("h1 handshake");
        tokio::spawn(conn);
        let response = sender.send_request(req).await.expect("response");
        TestResponse::read(response).await
    }

    /// Sends a request over a fresh HTTP/2 connection.
    pub async fn send_h2(&self, req: Request<Full<Bytes>>) -> TestResponse {
        let tls = self.tls(&[b"h2"]).await;
        assert_eq!(
            tls.get_ref().1.alpn_protocol(),
            Some(&b"h2"[..]),
            "h2 negotiated"
        );
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .expect("h2 handshake");
        tokio::spawn(conn);
        let response = sender.send_request(req).await.expect("h2 response");
        TestResponse::read(response).await
    }

    /// A GET over HTTP/1.1 with optional Basic credentials.
    pub async fn get(&self, path: &str, credentials: Option<(&str, &str)>) -> TestResponse {
        let mut builder = Request::get(path).header("host", self.authority());
        if let Some((u, p)) = credentials {
            builder = builder.header("authorization", basic(u, p));
        }
        self.send(builder.body(Full::new(Bytes::new())).unwrap())
            .await
    }

    /// Writes raw bytes to a fresh TLS connection (HTTP/1.1) and returns everything the
    /// server sent until it closed or went quiet.
    pub async fn raw(&self, request: &[u8]) -> String {
        let mut tls = self.tls(&[b"http/1.1"]).await;
        tls.write_all(request).await.expect("write");
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let mut buf = [0u8; 8192];
            loop {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        out.extend_from_slice(&buf[..n]);
                        if response_complete(&out) {
                            break;
                        }
                    }
                }
            }
        })
        .await;
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Whether a buffered HTTP/1.1 response is complete (headers plus Content-Length body).
fn response_complete(buf: &[u8]) -> bool {
    let text = String::from_utf8_lossy(buf);
    let Some(end) = text.find("\r\n\r\n") else {
        return false;
    };
    let head = text[..end].to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(n) => buf.len() >= end + 4 + n,
        None => false,
    }
}

/// The status code of a raw HTTP/1.1 response, or 0 if none was sent.
pub fn status_of(raw: &str) -> u16 {
    raw.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| raw.starts_with("HTTP/1."))
        .unwrap_or(0)
}

pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

pub fn connector_trusting(cert: &Path) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(cert).expect("cert file") {
        roots.add(c.expect("pem")).expect("trust anchor");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

pub async fn tls_connect(
    connector: &TlsConnector,
    addr: SocketAddr,
    alpn: &[&[u8]],
) -> TlsStream<TcpStream> {
    let mut config = (*connector_config(connector)).clone();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with a verified certificate")
}

fn connector_config(connector: &TlsConnector) -> Arc<rustls::ClientConfig> {
    connector.config().clone()
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub async fn read(response: hyper::Response<hyper::body::Incoming>) -> TestResponse {
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

impl Client {
    /// Opens a WebSocket through frontdoor (HTTP/1.1 upgrade with Basic credentials) and
    /// returns the stream after a 101.
    pub async fn websocket(&self, path: &str, credentials: (&str, &str)) -> TlsStream<TcpStream> {
        let mut tls = self.tls(&[b"http/1.1"]).await;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            self.authority(),
            basic(credentials.0, credentials.1)
        );
        tls.write_all(request.as_bytes()).await.expect("write");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            assert_eq!(
                tls.read(&mut byte).await.expect("read"),
                1,
                "closed during handshake"
            );
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        tls
    }
}

/// `frontdoor serve` as a child process, with its log followed line by line.
pub struct ServeProcess {
    /// Taken by `finish`; killed on drop otherwise, so a failing test leaves no orphan.
    child: Option<std::process::Child>,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every log line read so far.
    pub log: Vec<String>,
    pub addr: SocketAddr,
}

impl ServeProcess {
    /// Starts `frontdoor [global_args] serve --config FILE` and waits for it to listen.
    pub fn start(global_args: &[&str], config: &Path, env: &[(&str, &str)]) -> ServeProcess {
        use std::io::BufRead;
        let mut command = Command::new(env!("CARGO_BIN_EXE_frontdoor"));
        command
            .args(global_args)
            .args(["serve", "--config"])
            .arg(config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start frontdoor serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut process = ServeProcess {
            child: Some(child),
            lines,
            log: Vec::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let listening = process.wait_for("frontdoor listening");
        // Text logs say `https=ADDR`, JSON logs `"https":"ADDR"`.
        let addr: String = listening
            .split_once("https=")
            .or_else(|| listening.split_once("\"https\":\""))
            .map(|(_, rest)| {
                rest.chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"')
                    .collect()
            })
            .expect("listening address in the log");
        process.addr = addr.parse().expect("socket address");
        process
    }

    /// Waits up to 20 s for a log line containing `needle`.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                self.log.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
        }
        panic!(
            "no log line containing {needle:?}; log so far:\n{}",
            self.log.join("\n")
        );
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Sends a signal (`TERM`, `HUP`, ...) with kill(1).
    pub fn signal(&self, name: &str) {
        let pid = self.child.as_ref().map_or(0, |c| c.id());
        let status = Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name}");
    }

    /// Waits for the process to end and returns its status and whole log.
    pub async fn finish(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let mut child = self.child.take().expect("not finished yet");
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("join")
            .expect("wait");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(300)) {
            self.log.push(line);
        }
        (status, std::mem::take(&mut self.log))
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The pieces most binary-level tests start from: a temp folder holding an htpasswd file
/// with the test user (written by Apache's htpasswd), and a running demo agent.
pub struct Setup {
    pub dir: TempDir,
    pub agent: DemoAgent,
}

impl Setup {
    pub async fn new(tag: &str) -> Setup {
        install_crypto();
        let dir = TempDir::new(tag);
        let agent = DemoAgent::start("127.0.0.1:0".parse().unwrap())
            .await
            .expect("demo agent");
        std::fs::write(
            dir.join("htpasswd"),
            apache_htpasswd_line("B -C 5", USER, PASSWORD) + "\n",
        )
        .expect("htpasswd");
        Setup { dir, agent }
    }
}

/// Accepts any server certificate: for tests that probe a server whose certificate is not
/// the point (a self-signed frontdoor, what a handshake with `acme-tls/1` gets).
#[derive(Debug)]
pub struct AcceptAny;

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A free port on 127.0.0.1, for servers whose port must be known before they start (an
/// OpenID provider's redirect URI, pebble's validation ports). The port is released before
/// use; the small race with other processes is accepted.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// An address where nothing answers, reserved while the returned socket lives: bound but
/// not listening, so connecting is refused, and no other test can take the port meanwhile
/// (a listener bound and dropped leaves its port free for anyone).
pub fn refusing_address() -> (tokio::net::TcpSocket, SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("bind");
    let addr = socket.local_addr().expect("its address");
    (socket, addr)
}

/// Targets that try to leave the site through a return path (`rd`): every sign-in flow must
/// end on this site whatever it is given.
pub const OPEN_REDIRECTS: [&str; 35] = [
    "//evil.com",
    "///evil.com",
    "////evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "/\\/evil.com",
    "https://evil.com",
    "http://evil.com",
    "https:evil.com",
    "//evil.com/%2F..",
    "/%2F%2Fevil.com",
    "/%2f%2fevil.com",
    "/%5Cevil.com",
    "/%5cevil.com",
    "%2F%2Fevil.com",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r\n/evil.com",
    "\t//evil.com",
    " //evil.com",
    "/%09/evil.com",
    "/%0a/evil.com",
    "/%0d%0a/evil.com",
    "//evil.com@good",
    "/@evil.com",
    "//\\evil.com",
    "/.//evil.com",
    "evil.com",
    "//%65vil.com",
    "/\u{3002}/evil.com",
    "//evil%E3%80%82com",
    "https://127.0.0.1.evil.com/",
];
