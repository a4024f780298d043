//! Drop-in for nginx htpasswd setups: every hash format the real tools write logs in through
//! frontdoor over TLS; `frontdoor passwd` output is read back by Apache's htpasswd; the
//! file is reloaded live, and a broken file keeps the previous users.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Harness, Options, TempDir, tool_output};
use http::StatusCode;

const BIN: &str = env!("CARGO_BIN_EXE_frontdoor");
const PW: &str = "Tr0ub4dor &3";

/// Lines `user:hash` for every format, each written by the tool that users actually run.
fn lines_from_real_tools() -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let mut add = |user: &str, line: String| {
        let hash = line
            .trim()
            .split_once(':')
            .map(|(_, h)| h.to_string())
            .unwrap_or_else(|| line.trim().to_string());
        lines.push((user.to_string(), format!("{user}:{hash}")));
    };
    for (user, flags) in [
        ("ht-bcrypt5", "B -C 5"),
        ("ht-bcrypt10", "B -C 10"),
        ("ht-apr1", "m"),
        ("ht-sha1", "s"),
        ("ht-crypt", "d"),
        ("ht-sha256", "2"),
        ("ht-sha512", "5"),
        ("ht-plain", "p"),
    ] {
        add(user, common::apache_htpasswd_line(flags, user, PW));
    }
    for (user, flag) in [
        ("ossl-md5", "-1"),
        ("ossl-sha256", "-5"),
        ("ossl-sha512", "-6"),
        ("ossl-apr1", "-apr1"),
    ] {
        add(user, tool_output("openssl", &["passwd", flag, PW]));
    }
    for (user, args) in [
        ("mk-sha512-rounds", vec!["-m", "sha-512", "-R", "10000"]),
        ("mk-bcrypt", vec!["-m", "bcrypt"]),
        ("mk-des", vec!["-m", "descrypt"]),
        ("mk-md5", vec!["-m", "md5crypt"]),
    ] {
        let mut all = args.clone();
        all.push(PW);
        add(user, tool_output("mkpasswd", &all));
    }
    lines
}

/// Every format: the right password logs in over TLS, a wrong one gets 401.
#[tokio::test]
async fn every_format_logs_in() {
    let lines = lines_from_real_tools();
    let file: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    let h = Harness::with(Options {
        htpasswd: Some(file),
        // One IP tries many wrong passwords here: keep the lockout out of the way.
        extra: "[auth.lockout]\nmax_retries_per_ip = 1000",
        ..Options::default()
    })
    .await;
    let mut failures = Vec::new();
    for (user, line) in &lines {
        let ok = h.get("/api/jobs", Some((user, PW))).await.status;
        // Differs in the first byte: DES crypt reads only the first 8.
        let bad = h
            .get("/api/jobs", Some((user, "Xr0ub4dor &3")))
            .await
            .status;
        if ok != StatusCode::OK || bad != StatusCode::UNAUTHORIZED {
            failures.push(format!("{user} ({line}): right -> {ok}, wrong -> {bad}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `check` warns about weak formats, naming the users to re-hash.
#[test]
fn check_names_weak_users() {
    let dir = TempDir::new("weak");
    let mut file = common::apache_htpasswd_line("s", "old-sha", PW) + "\n";
    file += &(common::apache_htpasswd_line("B -C 5", "good", PW) + "\n");
    std::fs::write(dir.join("htpasswd"), file).unwrap();
    let config = dir.join("f.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\nself_signed = true\ncert = \"{d}/c.pem\"\nkey = \"{d}/k.pem\"\n[upstream]\nurl = \"http://127.0.0.1:9\"\n[auth.basic]\nhtpasswd = \"{d}/htpasswd\"\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("warning") && stdout.contains("old-sha") && !stdout.contains("good ("),
        "{stdout}"
    );
    let strict = Command::new(BIN)
        .args(["check", "--strict", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1), "--strict fails on warnings");
}

fn passwd(args: &[&str], stdin: Option<&str>) -> (i32, String) {
    let mut child = Command::new(BIN)
        .arg("passwd")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `frontdoor passwd` writes bcrypt by default (at the file's own cost), which Apache's
/// `htpasswd -v` reads back; argon2id with `--argon2id`; other users and comments survive
/// every edit; a missing file without -c says to use -c.
#[test]
fn passwd_round_trips_with_apache() {
    let dir = TempDir::new("passwd");
    let file = dir.join("users");
    let f = file.to_str().unwrap();
    std::fs::write(&file, "# our users\n").unwrap();
    Command::new("htpasswd")
        .args(["-bB", "-C", "5", f, "apache-made", PW])
        .output()
        .unwrap();
    assert_eq!(passwd(&["-bB", "-C", "5", f, "bob", PW], None).0, 0);
    assert_eq!(passwd(&["-i", f, "carol"], Some(&format!("{PW}\n"))).0, 0);
    assert_eq!(
        passwd(&["-i", "--argon2id", f, "dave"], Some(&format!("{PW}\n"))).0,
        0
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# our users\napache-made:$2y$"), "{text}");
    assert!(
        text.contains("\ncarol:$2y$10$"),
        "bcrypt at cost 10 by default: {text}"
    );
    assert!(
        text.contains("\ndave:$argon2id$"),
        "argon2id on request: {text}"
    );
    let carol = Command::new("htpasswd")
        .args(["-vb", f, "carol", PW])
        .output()
        .unwrap();
    assert!(carol.status.success(), "Apache reads the default hash");
    let missing = dir.join("missing");
    let (code, out) = passwd(&["-b", missing.to_str().unwrap(), "erin", PW], None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("use -c to create it"), "{out}");

    let apache = Command::new("htpasswd")
        .args(["-vb", f, "bob", PW])
        .output()
        .unwrap();
    assert!(
        apache.status.success(),
        "Apache's htpasswd rejects our bcrypt: {}",
        String::from_utf8_lossy(&apache.stderr)
    );
    let apache_wrong = Command::new("htpasswd")
        .args(["-vb", f, "bob", "nope"])
        .output()
        .unwrap();
    assert!(!apache_wrong.status.success());
    assert_eq!(passwd(&["-vb", f, "carol", PW], None).0, 0);
    assert_eq!(passwd(&["-vb", f, "apache-made", PW], None).0, 0);
    assert_eq!(
        passwd(&["-vb", f, "carol", "nope"], None).0,
        3,
        "htpasswd's exit code for a mismatch"
    );

    assert_eq!(passwd(&["-D", f, "bob"], None).0, 0);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("bob:")
            && text.contains("apache-made:")
            && text.contains("carol:")
            && text.starts_with("# our users\n")
    );
    let (code, out) = passwd(&["-nbm", "dave", PW], None);
    assert_eq!(code, 0);
    assert!(out.starts_with("dave:$apr1$"), "{out}");
    assert_eq!(passwd(&["-b", f, "bad:name", PW], None).0, 6);
}

/// Users added, changed and deleted while frontdoor runs take effect without a restart; a
/// file broken entirely keeps the old users.
#[tokio::test]
async fn live_reload() {
    // The polling below fails logins on purpose: keep the lockout out of the way.
    let h = Harness::with(Options {
        extra: "[auth.lockout]\nmax_retries = 1000\nmax_retries_per_ip = 1000",
        ..Options::default()
    })
    .await;
    let file = h.dir.join("htpasswd");
    let f = file.to_str().unwrap().to_string();
    assert_eq!(
        h.get("/api/jobs", Some(("newbie", PW))).await.status,
        StatusCode::UNAUTHORIZED
    );

    let wait_for = |user: &'static str, password: &'static str, want: StatusCode| {
        let h = &h;
        async move {
            for _ in 0..40 {
                if h.get("/api/jobs", Some((user, password))).await.status == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            panic!("{user} never got {want}");
        }
    };
    assert_eq!(passwd(&["-bB", "-C", "5", &f, "newbie", PW], None).0, 0);
    wait_for("newbie", PW, StatusCode::OK).await;
    assert_eq!(
        passwd(&["-bB", "-C", "5", &f, "newbie", "changed pw"], None).0,
        0
    );
    wait_for("newbie", "changed pw", StatusCode::OK).await;
    assert_eq!(
        h.get("/api/jobs", Some(("newbie", PW))).await.status,
        StatusCode::UNAUTHORIZED,
        "old password gone"
    );
    assert_eq!(passwd(&["-D", &f, "newbie"], None).0, 0);
    wait_for("newbie", "changed pw", StatusCode::UNAUTHORIZED).await;

    // Broken entirely: every line is garbage. The previous users keep working.
    std::fs::write(&file, "this is not an htpasswd file\nneither:\n").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        h.get("/api/jobs", Some((common::USER, common::PASSWORD)))
            .await
            .status,
        StatusCode::OK
    );
}
