//! `frontdoor check` on a table of good and bad configs: each finding appears with the
//! right severity, subject and fix, and the exit code follows (errors 1; warnings 0, or 1
//! with --strict). `serve` refuses to start on the same errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{TempDir, apache_htpasswd_line};

const BIN: &str = env!("CARGO_BIN_EXE_frontdoor");

fn write(path: &Path, content: &str, mode: u32) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A certificate for `names` valid until `not_after` (year, month, day), key mode 0600.
fn certificate(dir: &TempDir, names: &[&str], not_after: (i32, u8, u8)) {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    write(&dir.join("cert.pem"), &cert.pem(), 0o644);
    write(&dir.join("key.pem"), &key.serialize_pem(), 0o600);
}

fn in_days(days: i64) -> (i32, u8, u8) {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("+{days} days"), "+%Y %m %d"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let parts: Vec<i64> = text
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    (parts[0] as i32, parts[1] as u8, parts[2] as u8)
}

fn config(dir: &TempDir, server: &str, rest: &str) -> std::path::PathBuf {
    let text = format!(
        "[server]\n{server}\n[tls]\ncert = \"{d}/cert.pem\"\nkey = \"{d}/key.pem\"\n[upstream]\nurl = \"http://127.0.0.1:8000\"\n\
         [auth.basic]\nhtpasswd = \"{d}/htpasswd\"\n[[route]]\npath = \"/health\"\nexact = true\nauth = \"none\"\n[[route]]\npath = \"/api\"\n{rest}\n",
        d = dir.path().display()
    );
    let path = dir.join("frontdoor.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str], config: &Path) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// A clean setup: no findings, exit 0 even with --strict.
fn clean(dir: &TempDir) {
    certificate(dir, &["localhost"], in_days(365));
    write(
        &dir.join("htpasswd"),
        &(apache_htpasswd_line("B -C 5", "alice", "pw") + "\n"),
        0o600,
    );
}

#[test]
fn clean_config_has_no_findings() {
    let dir = TempDir::new("clean");
    clean(&dir);
    let path = config(&dir, "", "");
    let (code, out) = run(&["check", "--strict"], &path);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 errors, 0 warnings"), "{out}");
}

/// Each row: how to spoil the clean setup, the expected line fragments, severity, exit codes.
#[test]
fn findings_table() {
    type Spoil = fn(&TempDir) -> std::path::PathBuf;
    let rows: Vec<(&str, Spoil, &[&str], &str)> = vec![
        (
            "key readable by others",
            |d| {
                std::fs::set_permissions(d.join("key.pem"), std::fs::Permissions::from_mode(0o644))
                    .unwrap();
                config(d, "", "")
            },
            &["error: tls.key", "readable by group or others", "chmod 600"],
            "error",
        ),
        (
            "expired certificate",
            |d| {
                certificate(d, &["localhost"], (2021, 1, 1));
                config(d, "", "")
            },
            &["error: tls.cert", "has expired"],
            "error",
        ),
        (
            "certificate for other names",
            |d| config(d, "hosts = [\"agent.example.com\"]", ""),
            &["error: tls.cert", "does not cover `agent.example.com`"],
            "error",
        ),
        (
            "missing htpasswd",
            |d| {
                std::fs::remove_file(d.join("htpasswd")).unwrap();
                config(d, "", "")
            },
            &["error: auth.basic.htpasswd", "frontdoor passwd -c"],
            "error",
        ),
        (
            "missing certificate",
            |d| {
                std::fs::remove_file(d.join("cert.pem")).unwrap();
                config(d, "", "")
            },
            &["error: tls", "cert.pem"],
            "error",
        ),
        (
            "unknown key",
            |d| config(d, "listne = \"x\"", ""),
            &["error:", "listne"],
            "error",
        ),
        (
            "auth method not configured",
            |d| config(d, "", "[[route]]\npath = \"/x\"\nauth = \"oidc\""),
            &["error:", "route[2].auth"],
            "error",
        ),
        (
            "public bind without acknowledgement",
            |d| config(d, "listen = \"0.0.0.0:443\"", ""),
            &["error:", "allow_public_bind"],
            "error",
        ),
        (
            "certificate expiring soon",
            |d| {
                certificate(d, &["localhost"], in_days(5));
                config(d, "", "")
            },
            &["warning: tls.cert", "expires in"],
            "warning",
        ),
        (
            "htpasswd readable by others",
            |d| {
                std::fs::set_permissions(
                    d.join("htpasswd"),
                    std::fs::Permissions::from_mode(0o644),
                )
                .unwrap();
                config(d, "", "")
            },
            &["warning: auth.basic.htpasswd", "chmod 600"],
            "warning",
        ),
        (
            "weak hashes",
            |d| {
                write(
                    &d.join("htpasswd"),
                    &(apache_htpasswd_line("s", "old-sha", "pw")
                        + "\n"
                        + &apache_htpasswd_line("m", "old-md5", "pw")
                        + "\n"),
                    0o600,
                );
                config(d, "", "")
            },
            &[
                "warning:",
                "weak password hashes for old-sha (sha1), old-md5 (apr1)",
            ],
            "warning",
        ),
        (
            "empty htpasswd",
            |d| {
                write(&d.join("htpasswd"), "# nobody yet\n", 0o600);
                config(d, "", "")
            },
            &["warning:", "no users"],
            "warning",
        ),
        (
            "public bind allowed, no hosts",
            |d| config(d, "listen = \"0.0.0.0:443\"\nallow_public_bind = true", ""),
            &["warning: server.listen", "warning: server.hosts"],
            "warning",
        ),
        (
            "file: secret readable by others",
            |d| {
                write(&d.join("cookie.key"), &"k".repeat(64), 0o644);
                config(
                    d,
                    "",
                    &format!(
                        "[session]\ncookie_key = \"file:{}/cookie.key\"\n",
                        d.path().display()
                    ),
                )
            },
            &[
                "error: session.cookie_key",
                "readable by anyone on this machine (mode 644)",
                "chmod 600",
            ],
            "error",
        ),
        (
            "public prefix route",
            |d| config(d, "", "[[route]]\npath = \"/status\"\nauth = \"none\"\n"),
            &[
                "warning: route[2] (/status)",
                "everything below it is public too (`/status/...`)",
                "add exact = true",
            ],
            "warning",
        ),
        (
            "public route other than health",
            |d| config(d, "", "[[route]]\npath = \"/api/public\"\nauth = \"none\""),
            &["warning: route[2] (/api/public)", "anyone can reach it"],
            "warning",
        ),
        (
            "UIs on",
            |d| config(d, "", "[ui]\ndashboard = true\ndocs = true\nopenapi = true"),
            &[
                "warning: ui.dashboard",
                "warning: ui.docs",
                "warning: ui.openapi",
            ],
            "warning",
        ),
        (
            "huge body cap",
            |d| config(d, "", "[limits]\nmax_body_bytes = 2000000000"),
            &["warning: limits.max_body_bytes", "above 1 GB"],
            "warning",
        ),
    ];
    for (name, spoil, fragments, severity) in rows {
        let dir = TempDir::new("row");
        clean(&dir);
        let path = spoil(&dir);
        let (code, out) = run(&["check"], &path);
        for fragment in fragments {
            assert!(
                out.contains(fragment),
                "{name}: missing `{fragment}` in:\n{out}"
            );
        }
        let (strict_code, _) = run(&["check", "--strict"], &path);
        match severity {
            "error" => {
                assert_eq!(code, 1, "{name}: errors exit 1:\n{out}");
                assert_eq!(strict_code, 1);
            }
            _ => {
                assert_eq!(code, 0, "{name}: warnings alone exit 0:\n{out}");
                assert_eq!(strict_code, 1, "{name}: --strict fails on warnings");
                assert!(!out.contains("error:"), "{name}: unexpected error:\n{out}");
            }
        }
        assert!(
            out.lines().last().unwrap_or("").contains("errors,"),
            "{name}: summary line last:\n{out}"
        );
    }
}

/// `serve` refuses to start on a check error and says why.
#[test]
fn serve_refuses_on_errors() {
    let dir = TempDir::new("serve");
    clean(&dir);
    std::fs::set_permissions(dir.join("key.pem"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let path = config(&dir, "listen = \"127.0.0.1:0\"", "");
    let (code, out) = run(&["serve"], &path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("chmod 600"), "{out}");
}

/// Relative paths in a config file (htpasswd, certificate and key, `file:` secrets) are
/// read from the file's own folder, not from where frontdoor runs; a missing one is named
/// by the path actually tried.
#[test]
fn relative_paths_are_read_from_the_config_files_folder() {
    let dir = TempDir::new("relative");
    clean(&dir);
    write(&dir.join("cookie-key"), &"k".repeat(40), 0o600);
    let text = "[server]\n[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n[upstream]\nurl = \"http://127.0.0.1:8000\"\n\
                [auth.basic]\nhtpasswd = \"htpasswd\"\n[session]\ncookie_key = \"file:cookie-key\"\n\
                [[route]]\npath = \"/\"\nauth = [\"basic\"]\n";
    let path = dir.join("frontdoor.toml");
    std::fs::write(&path, text).unwrap();
    let elsewhere = TempDir::new("elsewhere");
    let check = |config: &Path| {
        let out = Command::new(BIN)
            .args(["check", "--strict", "--config"])
            .arg(config)
            .current_dir(elsewhere.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), text)
    };
    let (code, out) = check(&path);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 errors, 0 warnings"), "{out}");

    // The same config named by a relative path from another folder.
    let nested = dir.join("nested");
    std::fs::create_dir(&nested).unwrap();
    let from_nested = Command::new(BIN)
        .args(["check", "--config", "../frontdoor.toml"])
        .current_dir(&nested)
        .output()
        .unwrap();
    assert!(
        from_nested.status.success(),
        "{}",
        String::from_utf8_lossy(&from_nested.stderr)
    );

    std::fs::remove_file(dir.join("htpasswd")).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 1, "{out}");
    let tried = dir.join("htpasswd").display().to_string();
    assert!(out.contains(&tried), "names {tried}:\n{out}");

    std::fs::remove_file(dir.join("cookie-key")).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 1, "{out}");
    let tried = dir.join("cookie-key").display().to_string();
    assert!(out.contains(&tried), "names {tried}:\n{out}");
}
