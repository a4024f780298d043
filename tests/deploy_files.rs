//! The deploy/ files keep working as shipped: `systemd-analyze verify` accepts the systemd
//! unit with no complaint (and its offline security exposure stays low), the unit keeps its
//! hardening and its paths, the compose file publishes only frontdoor's 443 and 80 and never
//! the agent's port, the Dockerfile builds `--locked` and runs as a non-root numeric user,
//! the VPS and container configs pass `frontdoor check` once their files exist, and the
//! certbot hook installs the certificate with the owner and modes frontdoor expects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::TempDir;
use frontdoor::config::{Config, Env, TlsSettings};

const BIN: &str = env!("CARGO_BIN_EXE_frontdoor");
/// Where the unit and the docs install the binary; rewritten to [`BIN`] for `verify`.
const INSTALLED_BIN: &str = "/usr/local/bin/frontdoor";
const DOMAIN: &str = "agent.example.test";

fn deploy_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name)
}

fn read_deploy(name: &str) -> String {
    std::fs::read_to_string(deploy_file(name)).unwrap_or_else(|e| panic!("deploy/{name}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "exit: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `systemd-analyze ARGS`; a missing tool fails the test with the package to install.
fn systemd_analyze(args: &[&str]) -> Output {
    Command::new("systemd-analyze")
        .args(args)
        .env("SYSTEMD_LOG_LEVEL", "info")
        .env("SYSTEMD_LOG_COLOR", "0")
        .env("SYSTEMD_PAGER", "")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "`systemd-analyze` is needed by this test ({e}): install the Debian package \
                 `systemd` (./scripts/test installs it)"
            )
        })
}

/// The unit as shipped, with the binary path pointing at the one cargo built (verify
/// checks that every Exec*= command exists), written to a fresh folder.
fn unit_for_verify(dir: &TempDir, extra: &str) -> PathBuf {
    assert!(
        !BIN.contains(char::is_whitespace),
        "binary path with whitespace: {BIN}"
    );
    let unit = read_deploy("frontdoor.service");
    assert!(
        unit.contains(INSTALLED_BIN),
        "the unit no longer runs {INSTALLED_BIN}"
    );
    let mut rewritten = unit.replace(INSTALLED_BIN, BIN);
    rewritten.push_str(extra);
    let path = dir.join("frontdoor.service");
    std::fs::write(&path, rewritten).unwrap();
    path
}

/// `systemd-analyze verify`'s complaints: it exits 0 on an unknown key or an unparsable
/// value ("Unknown key ..., ignoring", "Failed to parse ..., ignoring"), so any output at
/// all counts.
fn verify_complaints(unit: &Path) -> (bool, Vec<String>) {
    let out = systemd_analyze(&["verify", unit.to_str().unwrap()]);
    let lines = String::from_utf8_lossy(&out.stderr)
        .lines()
        .chain(String::from_utf8_lossy(&out.stdout).lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    (out.status.success(), lines)
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let dir = TempDir::new("unit-verify");
    let unit = unit_for_verify(&dir, "");
    let (ok, complaints) = verify_complaints(&unit);
    assert!(
        ok && complaints.is_empty(),
        "systemd-analyze verify deploy/frontdoor.service (ExecStart rewritten to {BIN}):\n{}",
        complaints.join("\n")
    );

    // The check above would catch a misspelled or unsupported directive on this systemd.
    let typo_dir = TempDir::new("unit-verify-typo");
    let typo = unit_for_verify(&typo_dir, "\n[Service]\nProtectSystm=strict\n");
    let (_, complaints) = verify_complaints(&typo);
    assert!(
        complaints.iter().any(|l| l.contains("Unknown key")),
        "a typo went unnoticed: {complaints:?}"
    );
}

/// `systemd-analyze security --offline` scores the sandbox from 0 (locked down) to 10; the
/// shipped unit scores 1.4 on systemd 252. Exit non-zero above 2.5.
#[test]
fn unit_exposure_stays_low() {
    let dir = TempDir::new("unit-security");
    let unit = unit_for_verify(&dir, "");
    let out = systemd_analyze(&[
        "security",
        "--offline=yes",
        "--threshold=25",
        "--no-pager",
        unit.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

/// The directives the issue and the README rely on, with their values.
#[test]
fn unit_keeps_its_hardening_and_paths() {
    let unit = read_deploy("frontdoor.service");
    let directives: Vec<(&str, &str)> = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .collect();
    let values = |key: &str| -> Vec<&str> {
        directives
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .collect()
    };
    for (key, value) in [
        (
            "ExecStart",
            "/usr/local/bin/frontdoor serve --config /etc/frontdoor/frontdoor.toml",
        ),
        ("User", "frontdoor"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"),
        ("AmbientCapabilities", "CAP_NET_BIND_SERVICE"),
        ("ConfigurationDirectory", "frontdoor"),
        ("StateDirectory", "frontdoor"),
        ("WorkingDirectory", "/var/lib/frontdoor"),
        ("ReadWritePaths", "/var/lib/frontdoor"),
    ] {
        assert_eq!(
            values(key),
            vec![value],
            "{key}= in deploy/frontdoor.service"
        );
    }
    // SIGHUP is what frontdoor reloads on; the check before it refuses a broken config.
    assert_eq!(
        values("ExecReload"),
        vec![
            "/usr/local/bin/frontdoor check --config /etc/frontdoor/frontdoor.toml",
            "/bin/kill -HUP $MAINPID"
        ]
    );
}

#[test]
fn compose_publishes_only_frontdoor() {
    let compose = read_deploy("docker-compose.yml");
    let services = services(&compose);
    let names: Vec<&str> = services.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["frontdoor", "agent"],
        "services in docker-compose.yml"
    );
    let frontdoor = &services[0].1;
    let agent = &services[1].1;

    assert!(
        !agent.iter().any(|l| l.trim_start().starts_with("ports:")),
        "the agent's port must not be published:\n{}",
        agent.join("\n")
    );
    assert_eq!(
        list_under(frontdoor, "ports:"),
        ["\"443:443\"", "\"80:80\""]
    );
    assert_eq!(list_under(agent, "expose:"), ["\"8000\""]);
    // No host networking, which would expose every port of the service.
    assert!(!compose.contains("network_mode"), "network_mode in compose");

    // frontdoor reaches the agent by its service name and internal port.
    let config = read_deploy("frontdoor.container.toml");
    assert!(
        config.contains("url = \"http://agent:8000\""),
        "upstream.url in deploy/frontdoor.container.toml must be http://agent:8000"
    );
    // The compose mounts are where the container config and the Dockerfile look.
    for mount in [
        "./frontdoor.container.toml:/etc/frontdoor/frontdoor.toml:ro",
        "./users:/etc/frontdoor/users",
        "./certs:/var/lib/frontdoor/certs:ro",
    ] {
        assert!(
            list_under(frontdoor, "volumes:").contains(&mount.to_string()),
            "volume {mount}"
        );
    }
}

/// `services:` blocks of a compose file as (name, lines), read by indentation (no YAML
/// parser among the dependencies; the file keeps the usual two-space layout).
fn services(compose: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut inside = false;
    for line in compose.lines() {
        let content = line.split(" #").next().unwrap_or("").trim_end();
        if line.starts_with('#') || content.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            inside = content == "services:";
            continue;
        }
        if !inside {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 2 {
            let name = content.trim().trim_end_matches(':').to_string();
            out.push((name, Vec::new()));
        } else if let Some((_, lines)) = out.last_mut() {
            lines.push(content.to_string());
        }
    }
    out
}

/// The `- item` entries directly under `key` in a service's lines.
fn list_under(lines: &[String], key: &str) -> Vec<String> {
    let Some(start) = lines.iter().position(|l| l.trim() == key) else {
        return Vec::new();
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let key_indent = indent(&lines[start]);
    lines[start + 1..]
        .iter()
        .take_while(|l| indent(l) > key_indent)
        .filter_map(|l| l.trim().strip_prefix("- "))
        .map(|item| item.trim().to_string())
        .collect()
}

#[test]
fn dockerfile_builds_locked_and_runs_as_non_root() {
    let dockerfile = read_deploy("Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<&&str> = instructions
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(
        froms.len(),
        2,
        "a build stage and a runtime stage: {froms:?}"
    );
    assert!(dockerfile.contains("cargo build --release --locked"));
    // The runtime stage copies the binary and nothing else from the build.
    let copies: Vec<&&str> = instructions
        .iter()
        .skip_while(|l| !l.starts_with("FROM gcr.io") && !l.starts_with("FROM debian"))
        .filter(|l| l.starts_with("COPY"))
        .collect();
    assert_eq!(
        copies,
        [&"COPY --from=build /out/frontdoor /usr/local/bin/frontdoor"]
    );
    let user = instructions
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER instruction");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("USER {user} is not numeric"));
    assert_ne!(uid, 0, "the image must not run as root");
    assert!(instructions.contains(&"EXPOSE 443 80"));
    assert!(
        instructions.contains(&r#"CMD ["serve", "--config", "/etc/frontdoor/frontdoor.toml"]"#)
    );
}

/// What `frontdoor check` needs to exist: a certificate for [`DOMAIN`] and a user file,
/// made by frontdoor itself (both mode 0600, as the deploy docs install them).
struct Files {
    dir: TempDir,
}

impl Files {
    fn new(tag: &str) -> Files {
        let dir = TempDir::new(tag);
        let run = |args: &[&str]| {
            let out = Command::new(BIN).args(args).output().unwrap();
            assert!(out.status.success(), "frontdoor {args:?}: {}", text(&out));
        };
        let cert = dir.join("fullchain.pem");
        let key = dir.join("privkey.pem");
        let htpasswd = dir.join("htpasswd");
        run(&[
            "cert",
            "self-signed",
            "--host",
            DOMAIN,
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]);
        run(&[
            "passwd",
            "-c",
            "-b",
            htpasswd.to_str().unwrap(),
            "alice",
            "correct horse battery",
        ]);
        Files { dir }
    }

    /// `frontdoor check --config deploy/NAME` with the file paths pointed at this folder by
    /// the documented `FRONTDOOR_<SECTION>_<KEY>` overrides, and `extra` variables.
    fn check(&self, name: &str, extra: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("check")
            .arg("--config")
            .arg(deploy_file(name))
            .current_dir(self.dir.path());
        for (var, _) in std::env::vars() {
            if var.starts_with("FRONTDOOR_") {
                cmd.env_remove(var);
            }
        }
        cmd.env("FRONTDOOR_AUTH_BASIC_HTPASSWD", self.dir.join("htpasswd"));
        if read_deploy(name).contains("[tls.acme]") {
            cmd.env("FRONTDOOR_TLS_ACME_CACHE_DIR", self.dir.join("acme"));
        } else {
            cmd.env("FRONTDOOR_TLS_CERT", self.dir.join("fullchain.pem"))
                .env("FRONTDOOR_TLS_KEY", self.dir.join("privkey.pem"));
        }
        for (var, value) in extra {
            cmd.env(var, value);
        }
        cmd.output().unwrap()
    }
}

#[test]
fn vps_config_passes_check() {
    let files = Files::new("deploy-vps");
    // The user's domain, as the README's sed step sets it (the certificate covers it).
    let out = files.check(
        "frontdoor.vps.toml",
        &[
            ("FRONTDOOR_SERVER_HOSTS", DOMAIN),
            ("FRONTDOOR_TLS_ACME_DOMAINS", DOMAIN),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains("public and not exact"),
        "the shipped config's public routes are exact: {}",
        text(&out)
    );
    // Before the first start, check says the certificate will be ordered.
    assert!(
        text(&out).contains(&format!("tls.acme ({DOMAIN}): no certificate yet")),
        "{}",
        text(&out)
    );
}

#[test]
fn container_config_passes_check_and_needs_the_domain() {
    let files = Files::new("deploy-container");
    let out = files.check("frontdoor.container.toml", &[("FRONTDOOR_DOMAIN", DOMAIN)]);
    assert!(out.status.success(), "{}", text(&out));

    let out = files.check("frontdoor.container.toml", &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("FRONTDOOR_DOMAIN"), "{}", text(&out));
}

/// Both deploy configs listen publicly on 443 and 80 on purpose, and read their files from
/// the absolute paths that the unit, the Dockerfile and the compose file provide.
#[test]
fn deploy_configs_bind_public_on_purpose() {
    let env = Env::from_pairs([("FRONTDOOR_DOMAIN", DOMAIN)]);
    for name in ["frontdoor.vps.toml", "frontdoor.container.toml"] {
        let config =
            Config::from_toml(&read_deploy(name), name, &env).unwrap_or_else(|e| panic!("{e}"));
        let server = &config.server;
        assert_eq!(
            server.listen,
            "0.0.0.0:443".parse::<SocketAddr>().unwrap(),
            "{name}"
        );
        assert_eq!(server.http_listen, "0.0.0.0:80".parse().ok(), "{name}");
        assert!(server.allow_public_bind, "{name}");
        assert!(!server.hosts.is_empty(), "{name}: server.hosts");
        match &config.tls {
            // The VPS gets its certificate from Let's Encrypt, for the domain it serves, into
            // the unit's state directory.
            TlsSettings::Acme(acme) => {
                assert_eq!(name, "frontdoor.vps.toml");
                assert_eq!(acme.domains, server.hosts, "{name}");
                assert_eq!(acme.directory, frontdoor::config::LETS_ENCRYPT_PRODUCTION);
                assert_eq!(acme.cache_dir, PathBuf::from("/var/lib/frontdoor/acme"));
            }
            other => assert_eq!(
                other,
                &TlsSettings::Files {
                    cert: "/var/lib/frontdoor/certs/fullchain.pem".into(),
                    key: "/var/lib/frontdoor/certs/privkey.pem".into(),
                },
                "{name}"
            ),
        }
        assert_eq!(
            config.basic.map(|b| b.htpasswd),
            Some(PathBuf::from("/etc/frontdoor/users/htpasswd")),
            "{name}"
        );
        // Without the acknowledgement, the same file is refused.
        let unacknowledged = read_deploy(name).replace("allow_public_bind = true", "");
        let err = Config::from_toml(&unacknowledged, name, &env).unwrap_err();
        assert!(err.to_string().contains("allow_public_bind"), "{err}");
    }
}

/// The certbot deploy hook copies certbot's files to DEST with the given owner: the key
/// 0600, the chain 0644, the folder 0700.
#[test]
fn certbot_hook_installs_the_certificate_privately() {
    let files = Files::new("deploy-hook");
    let dest = files.dir.join("dest");
    let id = |flag: &str| {
        let out = Command::new("id").arg(flag).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let owner = format!("{}:{}", id("-u"), id("-g"));
    let out = Command::new(deploy_file("certbot-deploy-hook"))
        .arg(&dest)
        .arg(&owner)
        .env("RENEWED_LINEAGE", files.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dest), 0o700);
    assert_eq!(mode(&dest.join("privkey.pem")), 0o600);
    assert_eq!(mode(&dest.join("fullchain.pem")), 0o644);
    for name in ["privkey.pem", "fullchain.pem"] {
        assert_eq!(
            std::fs::read(dest.join(name)).unwrap(),
            std::fs::read(files.dir.join(name)).unwrap(),
            "{name}"
        );
    }
    // Without certbot's variable it refuses instead of copying nothing.
    let out = Command::new(deploy_file("certbot-deploy-hook"))
        .arg(&dest)
        .env_remove("RENEWED_LINEAGE")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
}
