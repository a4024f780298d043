//! `frontdoor demo`: the demo agent on a loopback port and frontdoor in front of it, with a
//! self-signed certificate and a generated user whose password is printed once.

pub mod agent;
pub mod ws;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::auth::htpasswd::{HtpasswdError, hash_argon2id};
use crate::certificates::tls;
use crate::config::{Config, ConfigError, Env};
use crate::server::{self, RunningServer, ServeError};
use agent::DemoAgent;

/// The user the demo creates.
pub const DEMO_USER: &str = "demo";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot start the demo agent: {0}")]
    Agent(std::io::Error),
    #[error("cannot create the demo user: {0}")]
    Password(#[from] HtpasswdError),
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// Checked before anything is written: a second demo on a taken address must not
    /// rewrite the running demo's users and config.
    #[error(
        "cannot listen on {addr}: {error} (another frontdoor demo?). Pick another address \
         with `frontdoor demo --listen 127.0.0.1:PORT --state-dir DIR`; the running demo's \
         config and users are in its state directory and were left alone"
    )]
    AddressTaken {
        addr: SocketAddr,
        error: std::io::Error,
    },
}

/// A running demo: the agent, frontdoor in front of it, and the generated credentials.
pub struct Demo {
    pub agent: DemoAgent,
    pub server: RunningServer,
    pub user: String,
    pub password: String,
    pub config_path: PathBuf,
}

/// A random password of 20 letters and digits (about 119 bits).
pub fn random_password() -> Result<String, DemoError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let mut byte = [0u8; 1];
        getrandom::fill(&mut byte).map_err(|e| DemoError::Write {
            path: PathBuf::from("<random>"),
            reason: e.to_string(),
        })?;
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - 256 % ALPHABET.len();
        if usize::from(byte[0]) < limit {
            out.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
        }
    }
    Ok(out)
}

/// The demo's config: /health public, everything else behind the sign-in page (browsers)
/// or Basic login (curl), UIs hidden, uploads capped at 500 MB.
pub fn demo_config(listen: SocketAddr, upstream: SocketAddr, state_dir: &Path) -> String {
    let dir = state_dir.display();
    format!(
        r#"# Written by `frontdoor demo`; regenerated on every start.
[server]
listen = "{listen}"

[tls]
self_signed = true
cert = "{dir}/cert.pem"
key = "{dir}/key.pem"

[upstream]
url = "http://{upstream}"

[limits]
max_body_bytes = 524288000

[auth.basic]
htpasswd = "{dir}/htpasswd"
realm = "frontdoor demo"

# Browsers get the sign-in page; curl and scripts keep sending Basic credentials.
[auth.login]

[session]
cookie_key = "file:{dir}/cookie-key"

[[route]]
path = "/health"
exact = true
methods = ["GET"]
auth = "none"

[[route]]
path = "/api/jobs"
methods = ["GET", "POST"]
auth = ["login", "basic"]

[[route]]
path = "/api/workspace/file"
exact = true
methods = ["GET"]
auth = ["login", "basic"]

[[route]]
path = "/api/workspace/upload"
exact = true
methods = ["PUT"]
auth = ["login", "basic"]

[[route]]
path = "/api/events"
methods = ["GET"]
auth = ["login", "basic"]

[[route]]
path = "/ws"
methods = ["GET"]
auth = ["login", "basic"]

# Everything else of the agent, behind the login; /admin, /workspace, /docs, /redoc and
# /openapi.json still answer 404 because their [ui] switches are off.
[[route]]
path = "/"
auth = ["login", "basic"]
"#
    )
}

/// Starts the agent and frontdoor. `state_dir` keeps the certificate (reused across starts)
/// and the htpasswd file of the generated user.
pub async fn start(listen: SocketAddr, state_dir: &Path) -> Result<Demo, DemoError> {
    // Bind first, write after: a demo that cannot listen leaves the state directory alone.
    match std::net::TcpListener::bind(listen) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
            return Err(DemoError::AddressTaken {
                addr: listen,
                error,
            });
        }
        Err(error) => {
            return Err(DemoError::Serve(ServeError::Bind {
                addr: listen,
                error,
            }));
        }
    }
    let agent = DemoAgent::start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(DemoError::Agent)?;
    let password = random_password()?;
    let line = format!("{DEMO_USER}:{}\n", hash_argon2id(password.as_bytes())?);
    let write_err = |path: &Path, e: tls::TlsError| DemoError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let htpasswd = state_dir.join("htpasswd");
    tls::write_private(&htpasswd, line.as_bytes()).map_err(|e| write_err(&htpasswd, e))?;
    // The session key is kept across starts, so a browser stays signed in.
    let cookie_key = state_dir.join("cookie-key");
    if !cookie_key.exists() {
        let mut bytes = [0u8; 48];
        getrandom::fill(&mut bytes).map_err(|e| DemoError::Write {
            path: cookie_key.clone(),
            reason: e.to_string(),
        })?;
        let text = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
        tls::write_private(&cookie_key, text.as_bytes()).map_err(|e| write_err(&cookie_key, e))?;
    }
    // The config names its files by absolute path: the same files whether it is read from
    // this text or, later, from the file written beside them.
    let folder = std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let text = demo_config(listen, agent.addr, &folder);
    let config_path = state_dir.join("frontdoor.toml");
    tls::write_private(&config_path, text.as_bytes()).map_err(|e| write_err(&config_path, e))?;
    let config = Config::from_toml(&text, &config_path.display().to_string(), &Env::default())?;
    let server = server::start(config).await?;
    Ok(Demo {
        agent,
        server,
        user: DEMO_USER.to_string(),
        password,
        config_path,
    })
}
