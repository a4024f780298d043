//! Vectors come from the real tools, run at test time. A missing tool is
//! a test FAILURE naming the Debian package to install, never a skip:
//! a silently skipped vector is a format we think we verify but do not.

use super::*;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PW: &str = "correct horse 9!";
/// Differs from PW only in its last byte, so a check that ignores the
/// tail of the password would be caught.
const WRONG: &str = "correct horse 9?";

/// Runs `program`, panicking with an install hint if it is missing.
/// Arguments are raw bytes so non-UTF-8 passwords can be passed.
fn run(program: &str, args: &[&[u8]], package: &str, stdin: Option<&[u8]>) -> std::process::Output {
    let mut cmd = Command::new(program);
    cmd.args(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot run `{program}` ({e}): install the Debian package `{package}` \
                 (apt-get install -y {package}); these tests need it to generate vectors"
        ),
    };
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Runs a tool that must succeed and returns its trimmed stdout.
fn tool(program: &str, args: &[&str], package: &str) -> String {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let out = run(program, &args, package, None);
    assert!(
        out.status.success(),
        "`{program} {args:?}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `htpasswd -nb... alice PW` -> the hash field.
fn htpasswd(flags: &[&str]) -> String {
    let mut args = flags.to_vec();
    args.extend(["alice", PW]);
    let out = tool("htpasswd", &args, "apache2-utils");
    let line = out.lines().next().unwrap();
    let (user, hash) = line.split_once(':').unwrap();
    assert_eq!(user, "alice");
    hash.to_owned()
}

/// Whether the installed htpasswd lists `flag` in its usage text.
fn htpasswd_supports(flag: &str) -> bool {
    let out = run("htpasswd", &[], "apache2-utils", None);
    let usage =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    usage
        .lines()
        .any(|l| l.trim_start().starts_with(&format!("{flag} ")))
}

fn openssl(args: &[&str]) -> String {
    tool("openssl", args, "openssl")
}

fn mkpasswd(args: &[&str]) -> String {
    tool("mkpasswd", args, "whois")
}

/// glibc/libxcrypt crypt(3) through perl, with raw-byte arguments.
fn perl_crypt(password: &[u8], salt: &[u8]) -> String {
    let out = run(
        "perl",
        &[b"-e", b"print crypt($ARGV[0], $ARGV[1])", password, salt],
        "perl",
        None,
    );
    assert!(
        out.status.success(),
        "perl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The common checks for one tool-made vector: kind, usable, right
/// password verifies, wrong and empty do not, both directly and through
/// a file (where an unknown user must also fail).
fn check_vector(hash: &str, kind: HashKind, right: &[u8], wrong: &[u8]) {
    let ph = PasswordHash::parse(hash);
    assert_eq!(ph.kind(), kind, "kind of {hash}");
    assert_eq!(ph.problem(), None, "{hash} should be usable");
    assert!(
        ph.verify(right),
        "right password must verify against {hash}"
    );
    assert!(
        !ph.verify(wrong),
        "wrong password must not verify against {hash}"
    );
    assert!(
        !ph.verify(b""),
        "empty password must not verify against {hash}"
    );
    let file = HtpasswdFile::parse(&format!("alice:{hash}\n"));
    assert!(file.issues().is_empty(), "{:?}", file.issues());
    assert_eq!(file.users().collect::<Vec<_>>(), vec![("alice", kind)]);
    assert!(file.verify("alice", right));
    assert!(!file.verify("alice", wrong));
    assert!(!file.verify("bob", right));
}

static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique temp file path for this test process.
fn temp_path(tag: &str) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("fd-htpasswd-test-{}-{n}-{tag}", std::process::id()))
}

/// `htpasswd -v` on a one-user file: does Apache's own code accept it?
fn apache_accepts(hash: &str, password: &str) -> bool {
    let path = temp_path("apache-v");
    std::fs::write(&path, format!("alice:{hash}\n")).unwrap();
    let out = run(
        "htpasswd",
        &[
            b"-vb",
            path.as_os_str().as_bytes(),
            b"alice",
            password.as_bytes(),
        ],
        "apache2-utils",
        None,
    );
    std::fs::remove_file(&path).unwrap();
    out.status.success()
}

// -- vectors from htpasswd (apache2-utils) --------------------------------

/// `htpasswd -nbB -C 5`: Apache's `$2y$` bcrypt at its default cost.
#[test]
fn htpasswd_bcrypt_cost_5() {
    let h = htpasswd(&["-nbB", "-C", "5"]);
    assert!(h.starts_with("$2y$05$"), "{h}");
    check_vector(&h, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
}

/// `htpasswd -nbB -C 10`: a realistic cost, two-digit cost field.
#[test]
fn htpasswd_bcrypt_cost_10() {
    let h = htpasswd(&["-nbB", "-C", "10"]);
    assert!(h.starts_with("$2y$10$"), "{h}");
    check_vector(&h, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
}

/// `htpasswd -nbm`: Apache MD5 (`$apr1$`), htpasswd's historical default.
#[test]
fn htpasswd_apr1() {
    let h = htpasswd(&["-nbm"]);
    assert!(h.starts_with("$apr1$"), "{h}");
    check_vector(&h, HashKind::Apr1, PW.as_bytes(), WRONG.as_bytes());
}

/// `htpasswd -nbs`: unsalted `{SHA}`.
#[test]
fn htpasswd_sha1() {
    let h = htpasswd(&["-nbs"]);
    assert!(h.starts_with("{SHA}"), "{h}");
    check_vector(&h, HashKind::Sha1, PW.as_bytes(), WRONG.as_bytes());
}

/// `htpasswd -nbd`: DES crypt only reads 8 password bytes, so the wrong
/// password differs in the first byte and any tail after byte 8 matches.
#[test]
fn htpasswd_des_crypt_truncates_to_8_bytes() {
    let h = htpasswd(&["-nbd"]);
    assert_eq!(h.len(), 13, "{h}");
    check_vector(&h, HashKind::DesCrypt, PW.as_bytes(), b"Correct horse 9!");
    assert!(PasswordHash::parse(&h).verify(b"correct anything"));
    assert!(!PasswordHash::parse(&h).verify(b"correct"));
}

/// `htpasswd -nb2` (SHA-256 crypt), or `openssl passwd -5` if this
/// htpasswd predates the flag.
#[test]
fn htpasswd_sha256_crypt() {
    let h = if htpasswd_supports("-2") {
        htpasswd(&["-nb2"])
    } else {
        openssl(&["passwd", "-5", PW])
    };
    assert!(h.starts_with("$5$"), "{h}");
    check_vector(&h, HashKind::Sha256Crypt, PW.as_bytes(), WRONG.as_bytes());
}

/// `htpasswd -nb5` (SHA-512 crypt), or `openssl passwd -6` as fallback.
#[test]
fn htpasswd_sha512_crypt() {
    let h = if htpasswd_supports("-5") {
        htpasswd(&["-nb5"])
    } else {
        openssl(&["passwd", "-6", PW])
    };
    assert!(h.starts_with("$6$"), "{h}");
    check_vector(&h, HashKind::Sha512Crypt, PW.as_bytes(), WRONG.as_bytes());
}

/// `htpasswd -nb5 -r 20000`: an explicit `rounds=` field that is not the
/// default (or `mkpasswd -R` as fallback).
#[test]
fn htpasswd_sha512_crypt_custom_rounds() {
    let h = if htpasswd_supports("-5") {
        htpasswd(&["-nb5", "-r", "20000"])
    } else {
        mkpasswd(&["-m", "sha-512", "-R", "20000", PW])
    };
    assert!(h.starts_with("$6$rounds=20000$"), "{h}");
    check_vector(&h, HashKind::Sha512Crypt, PW.as_bytes(), WRONG.as_bytes());
    assert_eq!(PasswordHash::parse(&h).cost_key().0, 20_000);
}

/// `htpasswd -nbp`: bare plain text (Apache only honours it on Windows).
#[test]
fn htpasswd_plain() {
    let h = htpasswd(&["-nbp"]);
    assert_eq!(h, PW);
    check_vector(&h, HashKind::Plain, PW.as_bytes(), WRONG.as_bytes());
}

// -- vectors from openssl passwd -------------------------------------------

/// `openssl passwd -1`: `$1$` MD5-crypt (same algorithm as apr1, other magic).
#[test]
fn openssl_md5_crypt() {
    let h = openssl(&["passwd", "-1", PW]);
    assert!(h.starts_with("$1$"), "{h}");
    check_vector(&h, HashKind::Md5Crypt, PW.as_bytes(), WRONG.as_bytes());
}

/// `openssl passwd -apr1`, plus a fixed short salt (salt < 8 chars).
#[test]
fn openssl_apr1_including_short_salt() {
    for h in [
        openssl(&["passwd", "-apr1", PW]),
        openssl(&["passwd", "-apr1", "-salt", "ab", PW]),
    ] {
        assert!(h.starts_with("$apr1$"), "{h}");
        check_vector(&h, HashKind::Apr1, PW.as_bytes(), WRONG.as_bytes());
    }
}

/// `openssl passwd -5`: SHA-256 crypt with a 16-char salt.
#[test]
fn openssl_sha256_crypt() {
    let h = openssl(&["passwd", "-5", PW]);
    assert!(h.starts_with("$5$"), "{h}");
    check_vector(&h, HashKind::Sha256Crypt, PW.as_bytes(), WRONG.as_bytes());
}

/// `openssl passwd -6`: SHA-512 crypt with a 16-char salt.
#[test]
fn openssl_sha512_crypt() {
    let h = openssl(&["passwd", "-6", PW]);
    assert!(h.starts_with("$6$"), "{h}");
    check_vector(&h, HashKind::Sha512Crypt, PW.as_bytes(), WRONG.as_bytes());
}

/// `openssl passwd -6 -salt x`: a one-character salt.
#[test]
fn openssl_sha512_crypt_one_char_salt() {
    let h = openssl(&["passwd", "-6", "-salt", "x", PW]);
    assert!(h.starts_with("$6$x$"), "{h}");
    check_vector(&h, HashKind::Sha512Crypt, PW.as_bytes(), WRONG.as_bytes());
}

/// MD5/SHA crypt for password lengths around the 16/32/64-byte block
/// boundaries of their "alternate sum" loops, and the empty password
/// (openssl for $1$, perl's libxcrypt for $5$/$6$, which openssl
/// does not take empty passwords for on the command line).
#[test]
fn crypt_family_password_length_boundaries() {
    for len in [1usize, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100] {
        let pw: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let md5 = openssl(&["passwd", "-1", "-salt", "s4lt", &pw]);
        check_vector(&md5, HashKind::Md5Crypt, pw.as_bytes(), WRONG.as_bytes());
        let s256 = perl_crypt(pw.as_bytes(), b"$5$saltsaltsaltsalt$");
        check_vector(
            &s256,
            HashKind::Sha256Crypt,
            pw.as_bytes(),
            WRONG.as_bytes(),
        );
        let s512 = perl_crypt(pw.as_bytes(), b"$6$rounds=1000$abc$");
        check_vector(
            &s512,
            HashKind::Sha512Crypt,
            pw.as_bytes(),
            WRONG.as_bytes(),
        );
    }
    for salt in [&b"$1$abc$"[..], b"$5$abc$", b"$6$abc$"] {
        let h = perl_crypt(b"", salt);
        let ph = PasswordHash::parse(&h);
        assert!(ph.verify(b""), "empty password against {h}");
        assert!(!ph.verify(b"x"));
    }
}

// -- vectors from mkpasswd (whois) ----------------------------------------

/// `mkpasswd -m sha-512 -R 10000`: rounds from a second implementation.
#[test]
fn mkpasswd_sha512_rounds_10000() {
    let h = mkpasswd(&["-m", "sha-512", "-R", "10000", PW]);
    assert!(h.starts_with("$6$rounds=10000$"), "{h}");
    check_vector(&h, HashKind::Sha512Crypt, PW.as_bytes(), WRONG.as_bytes());
}

/// `mkpasswd -m bcrypt`: libxcrypt's `$2b$`.
#[test]
fn mkpasswd_bcrypt_2b() {
    let h = mkpasswd(&["-m", "bcrypt", PW]);
    assert!(h.starts_with("$2b$"), "{h}");
    check_vector(&h, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
}

/// `mkpasswd -m bcrypt-a`: the older `$2a$` prefix; and the same hash
/// relabelled `$2x$`, which is identical for ASCII passwords.
#[test]
fn mkpasswd_bcrypt_2a_and_2x() {
    let h = mkpasswd(&["-m", "bcrypt-a", PW]);
    assert!(h.starts_with("$2a$"), "{h}");
    check_vector(&h, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
    let x = h.replacen("$2a$", "$2x$", 1);
    check_vector(&x, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
}

/// `mkpasswd -m descrypt -S ab` and perl's crypt(3): DES across many
/// salts, the empty password, exactly 8 bytes, and high-bit bytes (whose
/// top bit crypt(3) drops -- so 0xE4 and 0x64 are the same key byte).
#[test]
fn des_crypt_matches_crypt3() {
    let h = mkpasswd(&["-m", "descrypt", "-S", "ab", PW]);
    check_vector(&h, HashKind::DesCrypt, PW.as_bytes(), b"Correct horse 9!");
    let cases: &[(&[u8], &[u8])] = &[
        (b"", b".."),
        (b"a", b"zz"),
        (b"12345678", b"./"),
        (b"12345678extra", b"AZ"),
        (b"p\xe4ss\xff\xfe\x80", b"x9"),
        (b"\x7f\x01 ~", b"Zz"),
        (b"secret", b"9."),
        (b"secret", b"/z"),
    ];
    for &(pw, salt) in cases {
        let expected = perl_crypt(pw, salt);
        assert_eq!(expected.len(), 13, "perl crypt gave {expected}");
        let ph = PasswordHash::parse(&expected);
        assert_eq!(ph.kind(), HashKind::DesCrypt);
        assert!(ph.verify(pw), "{pw:?} / {expected}");
        let computed = des_crypt(pw, [salt[0], salt[1]]);
        assert_eq!(String::from_utf8(computed).unwrap(), expected[2..]);
    }
    let high = PasswordHash::parse(&perl_crypt(b"p\xe4ss", b"ab"));
    assert!(high.verify(b"pdss"), "top bit of each byte is ignored");
}

/// The DES core alone against the FIPS 46 worked example, so a table
/// typo shows up here and not only as a mismatched crypt string.
#[test]
fn des_core_fips_vector() {
    let subkeys = des_subkeys(0x1334_5779_9BBC_DFF1);
    let ct = des_encrypt_block(0x0123_4567_89AB_CDEF, &subkeys, &DES_E);
    assert_eq!(ct, 0x85E8_1354_0F0A_B405);
    let subkeys = des_subkeys(0x0E32_9232_EA6D_0D73);
    assert_eq!(
        des_encrypt_block(0x8787_8787_8787_8787, &subkeys, &DES_E),
        0
    );
}

// -- SHA-crypt rounds --------------------------------------------------------

/// `rounds=` below 1000 is computed with 1000 (glibc's clamp), so a hash
/// relabelled `rounds=10` still verifies; above 999999999 clamps down.
#[test]
fn sha_crypt_rounds_clamp_like_glibc() {
    let h = perl_crypt(PW.as_bytes(), b"$5$rounds=1000$saltsalt$");
    assert!(h.starts_with("$5$rounds=1000$"), "{h}");
    let low = h.replacen("rounds=1000$", "rounds=10$", 1);
    check_vector(&low, HashKind::Sha256Crypt, PW.as_bytes(), WRONG.as_bytes());
    assert_eq!(PasswordHash::parse(&low).cost_key().0, 1000);
    let huge = format!("$6$rounds=99999999999999999999999$salt${}", "a".repeat(86));
    let ph = PasswordHash::parse(&huge);
    assert_eq!(ph.problem(), None);
    assert_eq!(ph.cost_key().0, 999_999_999);
}

/// An explicit `rounds=5000` is the same computation as no `rounds=`.
#[test]
fn sha_crypt_explicit_default_rounds() {
    let implicit = perl_crypt(PW.as_bytes(), b"$6$abcdefgh$");
    let explicit = perl_crypt(PW.as_bytes(), b"$6$rounds=5000$abcdefgh$");
    assert!(explicit.starts_with("$6$rounds=5000$"), "{explicit}");
    for h in [implicit, explicit] {
        check_vector(&h, HashKind::Sha512Crypt, PW.as_bytes(), WRONG.as_bytes());
    }
}

/// Malformed SHA-crypt: empty or non-numeric rounds, salt over 16 bytes,
/// wrong digest length, missing digest.
#[test]
fn sha_crypt_malformed() {
    let d43 = "a".repeat(43);
    for h in [
        format!("$5$rounds=$salt${d43}"),
        format!("$5$rounds=12x$salt${d43}"),
        format!("$5$rounds=-5$salt${d43}"),
        format!("$5$saltsaltsaltsalt1${d43}"),
        format!("$5$salt${}", "a".repeat(42)),
        format!("$6$salt${d43}"),
        "$5$salt".to_owned(),
        "$5$".to_owned(),
        format!("$5$salt${}!", "a".repeat(42)),
    ] {
        let ph = PasswordHash::parse(&h);
        assert_eq!(
            ph.kind(),
            if h.starts_with("$6") {
                HashKind::Sha512Crypt
            } else {
                HashKind::Sha256Crypt
            }
        );
        assert!(ph.problem().is_some(), "{h} should be malformed");
        assert!(!ph.verify(PW.as_bytes()));
    }
}

// -- {SSHA} -------------------------------------------------------------------

/// `{SSHA}` = base64(sha1(pw + salt) + salt), computed with
/// `openssl dgst -sha1 -binary` and `openssl base64 -A`, for salts of 1,
/// 4 (with NUL and 0xFF bytes) and 16 bytes.
#[test]
fn ssha_from_openssl() {
    for salt in [&b"s"[..], b"\x00\xff\x10A", b"0123456789abcdef"] {
        let mut input = PW.as_bytes().to_vec();
        input.extend_from_slice(salt);
        let digest = run(
            "openssl",
            &[b"dgst", b"-sha1", b"-binary"],
            "openssl",
            Some(&input),
        );
        assert!(digest.status.success());
        assert_eq!(digest.stdout.len(), 20);
        let mut blob = digest.stdout.clone();
        blob.extend_from_slice(salt);
        let b64 = run("openssl", &[b"base64", b"-A"], "openssl", Some(&blob));
        assert!(b64.status.success());
        let h = format!("{{SSHA}}{}", String::from_utf8(b64.stdout).unwrap().trim());
        check_vector(&h, HashKind::SaltedSha1, PW.as_bytes(), WRONG.as_bytes());
    }
}

/// `{SSHA}` with no salt (exactly 20 bytes) or too short, and `{SHA}`
/// that is not 20 bytes or not base64, are malformed.
#[test]
fn sha1_family_malformed() {
    let twenty = base64::engine::general_purpose::STANDARD.encode([7u8; 20]);
    let nineteen = base64::engine::general_purpose::STANDARD.encode([7u8; 19]);
    for (h, kind) in [
        (format!("{{SSHA}}{twenty}"), HashKind::SaltedSha1),
        (format!("{{SSHA}}{nineteen}"), HashKind::SaltedSha1),
        ("{SSHA}%%%%".to_owned(), HashKind::SaltedSha1),
        (format!("{{SHA}}{nineteen}"), HashKind::Sha1),
        ("{SHA}".to_owned(), HashKind::Sha1),
        ("{SHA}not base64!".to_owned(), HashKind::Sha1),
    ] {
        let ph = PasswordHash::parse(&h);
        assert_eq!(ph.kind(), kind, "{h}");
        assert!(ph.problem().is_some(), "{h} should be malformed");
        assert!(!ph.verify(b""));
    }
    // Unpadded {SHA} (hand-edited files) is accepted.
    let h = htpasswd(&["-nbs"]);
    let unpadded = h.trim_end_matches('=');
    check_vector(unpadded, HashKind::Sha1, PW.as_bytes(), WRONG.as_bytes());
}

// -- argon2 -------------------------------------------------------------------

/// Reference vectors from the argon2 reference implementation's CLI
/// (Debian package `argon2`, 0~20171227; e.g. `echo -n password | argon2
/// somesalt -id -t 2 -m 16 -p 1 -e`), hard-coded because that tool is not
/// among the test dependencies: argon2i, argon2d, argon2id, the old
/// version 16 (v=16), and p=2 with a 16-byte output.
#[test]
fn argon2_reference_vectors() {
    let password_vectors = [
        "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
        "$argon2d$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$lV5dWxY6G2C7o1/DbQSWR0+6T2tZrVNihmbwf7L5Pq8",
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2i$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
    ];
    for h in password_vectors {
        check_vector(h, HashKind::Argon2, b"password", b"passwore");
    }
    check_vector(
        "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0$/KWCHGFd715/pLMVFtosRw",
        HashKind::Argon2,
        b"pw x",
        b"pw y",
    );
}

/// `hash_argon2id` writes OWASP-minimum parameters with a fresh random
/// salt each time, and its output verifies (and a wrong password fails).
#[test]
fn argon2id_writer_round_trip() {
    let a = hash_argon2id(PW.as_bytes()).unwrap();
    let b = hash_argon2id(PW.as_bytes()).unwrap();
    assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
    assert_ne!(a, b, "salts must be random");
    check_vector(&a, HashKind::Argon2, PW.as_bytes(), WRONG.as_bytes());
    assert!(matches!(
        hash_argon2id(b""),
        Err(HtpasswdError::EmptyPassword)
    ));
    assert!(matches!(
        hash_argon2id(b"a\0b"),
        Err(HtpasswdError::NulInPassword)
    ));
}

/// Argon2 parameters that would allocate 4 TiB (an abort, not a panic)
/// or run for hours are refused at parse time; malformed PHC strings and
/// too-short salts are malformed, not panics.
#[test]
fn argon2_absurd_or_malformed_parameters_refused() {
    let tail = "c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    for h in [
        format!("$argon2id$v=19$m=4294967295,t=1,p=1${tail}"),
        format!("$argon2id$v=19$m=65536,t=100000,p=1${tail}"),
        format!("$argon2id$v=19$m=2097152,t=5,p=1${tail}"),
        format!("$argon2id$v=18$m=65536,t=2,p=1${tail}"),
        format!("$argon2x$v=19$m=65536,t=2,p=1${tail}"),
        "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
            .to_owned(),
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ".to_owned(),
        "$argon2id$".to_owned(),
    ] {
        let ph = PasswordHash::parse(&h);
        assert_eq!(ph.kind(), HashKind::Argon2, "{h}");
        assert!(ph.problem().is_some(), "{h} should be refused");
        assert!(!ph.verify(b"password"));
    }
}

// -- writers cross-checked with the real tools -------------------------------

/// `hash_bcrypt` writes `$2y$` like Apache, and Apache's own
/// `htpasswd -vb` accepts it; bad costs and >72-byte passwords are
/// refused instead of silently truncated.
#[test]
fn bcrypt_writer_accepted_by_apache() {
    let h = hash_bcrypt(PW.as_bytes(), 5).unwrap();
    assert!(h.starts_with("$2y$05$"), "{h}");
    check_vector(&h, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
    assert!(apache_accepts(&h, PW));
    assert!(!apache_accepts(&h, WRONG));
    assert!(matches!(
        hash_bcrypt(PW.as_bytes(), 3),
        Err(HtpasswdError::InvalidCost(3))
    ));
    assert!(matches!(
        hash_bcrypt(PW.as_bytes(), 32),
        Err(HtpasswdError::InvalidCost(32))
    ));
    assert!(matches!(
        hash_bcrypt(&[b'a'; 73], 4),
        Err(HtpasswdError::PasswordTooLong { len: 73 })
    ));
    assert!(hash_bcrypt(&[b'a'; 72], 4).is_ok());
    assert!(matches!(
        hash_bcrypt(b"", 4),
        Err(HtpasswdError::EmptyPassword)
    ));
}

/// `hash_apr1` equals `openssl passwd -apr1 -salt <same salt>` and is
/// accepted by `htpasswd -vb`.
#[test]
fn apr1_writer_matches_openssl_and_apache() {
    let h = hash_apr1(PW.as_bytes()).unwrap();
    let salt = h.strip_prefix("$apr1$").unwrap().split('$').next().unwrap();
    assert_eq!(salt.len(), 8);
    assert_eq!(openssl(&["passwd", "-apr1", "-salt", salt, PW]), h);
    assert!(apache_accepts(&h, PW));
    assert!(!apache_accepts(&h, WRONG));
    check_vector(&h, HashKind::Apr1, PW.as_bytes(), WRONG.as_bytes());
    assert_ne!(hash_apr1(PW.as_bytes()).unwrap(), h, "salts must be random");
}

// -- classification -------------------------------------------------------------

/// A yescrypt `$y$` hash (`mkpasswd -m yescrypt`), a BSDi extended DES
/// hash (`mkpasswd -m bsdicrypt`), LDAP-style `{SSHA256}`/`{sha}` values
/// and the `!`/`*` lock markers are never treated as plain text: neither
/// the password nor the hash string itself verifies.
#[test]
fn unsupported_schemes_and_lock_markers_are_not_plain() {
    let yescrypt = mkpasswd(&["-m", "yescrypt", PW]);
    assert!(yescrypt.starts_with("$y$"), "{yescrypt}");
    let bsdi = mkpasswd(&["-m", "bsdicrypt", PW]);
    assert!(bsdi.starts_with('_') && bsdi.len() == 20, "{bsdi}");
    let apr1 = openssl(&["passwd", "-apr1", PW]);
    for h in [
        yescrypt.clone(),
        bsdi,
        "{sha}GpHWL3ymc5liWkNopqtdSjuqYHM=".to_owned(),
        "$sha1$40000$salt$hash".to_owned(),
        "{SSHA256}c29tZWhhc2g=".to_owned(),
        "{CRYPT}$1$abc$def".to_owned(),
        format!("!{apr1}"),
        "*".to_owned(),
        "!".to_owned(),
    ] {
        let ph = PasswordHash::parse(&h);
        assert_eq!(ph.kind(), HashKind::Plain);
        assert!(ph.problem().is_some(), "{h} must be refused");
        assert!(
            !ph.verify(h.as_bytes()),
            "the hash itself must not be a password"
        );
        assert!(!ph.verify(PW.as_bytes()));
    }
    let file = HtpasswdFile::parse(&format!("alice:{yescrypt}\nbob:*\n"));
    assert!(file.is_empty());
    assert_eq!(file.issues().len(), 2);
    assert!(!file.verify("alice", yescrypt.as_bytes()));
    assert!(!file.verify("bob", b"*"));
}

/// `{PLAIN}x` verifies x (not the prefixed text), bare text verifies
/// itself, `{PLAIN}` with nothing after it is refused, and plain text
/// keeps its case and inner spaces.
#[test]
fn plain_prefix_and_bare_text() {
    check_vector(
        "{PLAIN}s3cret",
        HashKind::Plain,
        b"s3cret",
        b"{PLAIN}s3cret",
    );
    check_vector("Two Words", HashKind::Plain, b"Two Words", b"two words");
    let empty = PasswordHash::parse("{PLAIN}");
    assert!(empty.problem().is_some());
    assert!(!empty.verify(b""));
    let none = PasswordHash::parse("");
    assert!(none.problem().is_some());
    assert!(!none.verify(b""));
}

/// 13 characters of `[./0-9A-Za-z]` are DES, as nginx's crypt(3)
/// fallback reads them, even if someone meant them as plain text; 12 or
/// 14 such characters, or 13 with a character outside the alphabet,
/// are plain text.
#[test]
fn thirteen_crypt_chars_are_des() {
    assert_eq!(
        PasswordHash::parse("abcdefghijklm").kind(),
        HashKind::DesCrypt
    );
    assert!(!PasswordHash::parse("abcdefghijklm").verify(b"abcdefghijklm"));
    assert_eq!(PasswordHash::parse("abcdefghijkl").kind(), HashKind::Plain);
    assert_eq!(
        PasswordHash::parse("abcdefghijklmn").kind(),
        HashKind::Plain
    );
    assert_eq!(PasswordHash::parse("abcdefghijkl-").kind(), HashKind::Plain);
}

/// A recognized prefix with a broken body keeps its kind, is reported,
/// and never verifies: short bcrypt, bcrypt cost 99 and 03, one-digit
/// cost, bad characters, apr1 with a 9-char salt or short digest.
#[test]
fn malformed_recognized_prefixes() {
    let good = htpasswd(&["-nbB", "-C", "5"]);
    let cases = [
        ("$2y$05$short".to_owned(), HashKind::Bcrypt),
        (good.replacen("$05$", "$99$", 1), HashKind::Bcrypt),
        (good.replacen("$05$", "$03$", 1), HashKind::Bcrypt),
        (good.replacen("$05$", "$5$", 1) + "x", HashKind::Bcrypt),
        (format!("{}!", &good[..59]), HashKind::Bcrypt),
        (
            "$apr1$123456789$abcdefghijklmnopqrstuv".to_owned(),
            HashKind::Apr1,
        ),
        (
            "$apr1$1234$abcdefghijklmnopqrstu".to_owned(),
            HashKind::Apr1,
        ),
        ("$apr1$nodollar".to_owned(), HashKind::Apr1),
        (
            "$1$salt$abcdefghijklmnopqrst!!".to_owned(),
            HashKind::Md5Crypt,
        ),
    ];
    for (h, kind) in cases {
        let ph = PasswordHash::parse(&h);
        assert_eq!(ph.kind(), kind, "{h}");
        assert!(ph.problem().is_some(), "{h} should be malformed");
        assert!(!ph.verify(PW.as_bytes()));
    }
}

/// bcrypt salts and digests whose unused trailing bits are not zero
/// decode to the same bytes (OpenBSD ignores those bits), so such a
/// hash still verifies instead of being rejected by a strict decoder.
#[test]
fn bcrypt_noncanonical_trailing_bits_accepted() {
    let h = htpasswd(&["-nbB", "-C", "4"]);
    let mut bytes = h.clone().into_bytes();
    // Salt char 22 (index 28) carries 2 used bits and 4 unused ones: set
    // the lowest unused bit in bcrypt's alphabet order.
    const BCRYPT_ALPHABET: &[u8] =
        b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let pos = BCRYPT_ALPHABET
        .iter()
        .position(|&c| c == bytes[28])
        .unwrap();
    bytes[28] = BCRYPT_ALPHABET[pos | 1];
    let tweaked = String::from_utf8(bytes).unwrap();
    assert_ne!(tweaked, h);
    check_vector(&tweaked, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
}

/// crypt(3)-family verifiers refuse passwords containing NUL (C code
/// would cut them at the NUL, so `pw\0junk` would pass as `pw`), while
/// plain/SHA schemes compare bytes as given; passwords over 4096 bytes
/// never verify (SHA-crypt cost is quadratic in length).
#[test]
fn nul_and_oversized_passwords() {
    let des = PasswordHash::parse(&perl_crypt(b"pw", b"ab"));
    assert!(des.verify(b"pw"));
    assert!(!des.verify(b"pw\0"), "crypt(3) would accept this");
    assert!(!des.verify(b"pw\0junk"));
    let md5 = PasswordHash::parse(&openssl(&["passwd", "-1", "pw"]));
    assert!(md5.verify(b"pw"));
    assert!(!md5.verify(b"pw\0x"));
    let long = "x".repeat(MAX_PASSWORD_LEN + 1);
    let plain = PasswordHash::parse(&long);
    assert_eq!(plain.kind(), HashKind::Plain);
    assert!(!plain.verify(long.as_bytes()));
    let ok_len = "y".repeat(MAX_PASSWORD_LEN);
    assert!(PasswordHash::parse(&ok_len).verify(ok_len.as_bytes()));
    assert!(PasswordHash::parse("{PLAIN}a\u{1}b").verify(b"a\x01b"));
}

/// Kind names are stable and weakness matches the specification.
#[test]
fn kind_names_and_weakness() {
    use HashKind::*;
    let all = [
        Bcrypt,
        Argon2,
        Apr1,
        Md5Crypt,
        Sha256Crypt,
        Sha512Crypt,
        Sha1,
        SaltedSha1,
        DesCrypt,
        Plain,
    ];
    let weak: Vec<_> = all.iter().filter(|k| k.is_weak()).copied().collect();
    assert_eq!(
        weak,
        vec![Apr1, Md5Crypt, Sha1, SaltedSha1, DesCrypt, Plain]
    );
    let names: std::collections::HashSet<_> = all.iter().map(|k| k.name()).collect();
    assert_eq!(names.len(), all.len());
    assert_eq!(Bcrypt.name(), "bcrypt");
    assert_eq!(Plain.name(), "plain");
}

/// `Debug` of a hash and of a file never shows the hash or a plain-text
/// password.
#[test]
fn debug_never_prints_secrets() {
    let apr1 = openssl(&["passwd", "-apr1", PW]);
    let ph = PasswordHash::parse(&apr1);
    let dbg = format!("{ph:?}");
    assert!(!dbg.contains(&apr1[6..]), "{dbg}");
    assert!(dbg.contains("Apr1"));
    let plain = PasswordHash::parse("{PLAIN}hunter2");
    assert!(!format!("{plain:?}").contains("hunter2"));
    let file = HtpasswdFile::parse(&format!("alice:{apr1}\nbob:hunter2\n"));
    let dbg = format!("{file:?}");
    assert!(
        !dbg.contains(&apr1[6..]) && !dbg.contains("hunter2"),
        "{dbg}"
    );
    assert!(dbg.contains("alice") && dbg.contains("bob"));
}

// -- files --------------------------------------------------------------------------

/// A UTF-8 BOM, comments (also indented), blank and whitespace-only
/// lines, CRLF endings, trailing spaces/tabs and extra `:comment` fields
/// are all handled; line numbers count every physical line.
#[test]
fn file_format_edge_cases() {
    let apr1 = openssl(&["passwd", "-apr1", PW]);
    let sha1 = htpasswd(&["-nbs"]);
    let bcrypt = htpasswd(&["-nbB", "-C", "4"]);
    let text = format!(
        "\u{FEFF}# htpasswd for frontdoor\r\n\
             \r\n\
             alice:{apr1}\r\n\
             \t  # indented comment\n\
             bob:{sha1}:Bob Smith:ops  \t\n\
             \x20 \t\n\
             carol:{bcrypt} \t\r\n\
             dave:{{PLAIN}}pl ain\n"
    );
    let file = HtpasswdFile::parse(&text);
    assert!(file.issues().is_empty(), "{:?}", file.issues());
    assert_eq!(
        file.users().collect::<Vec<_>>(),
        vec![
            ("alice", HashKind::Apr1),
            ("bob", HashKind::Sha1),
            ("carol", HashKind::Bcrypt),
            ("dave", HashKind::Plain),
        ]
    );
    assert_eq!(file.len(), 4);
    assert!(!file.is_empty());
    assert_eq!(file.line_of("alice"), Some(3));
    assert_eq!(file.line_of("bob"), Some(5));
    assert_eq!(file.line_of("carol"), Some(7));
    assert_eq!(file.line_of("dave"), Some(8));
    for user in ["alice", "bob", "carol"] {
        assert!(file.verify(user, PW.as_bytes()), "{user}");
        assert!(!file.verify(user, WRONG.as_bytes()), "{user}");
    }
    assert!(file.verify("dave", b"pl ain"));
    assert!(
        !file.verify("Alice", PW.as_bytes()),
        "user names are case-sensitive"
    );
}

/// A BOM-only file, a comment-only file and an empty string parse to no
/// users and no issues.
#[test]
fn file_without_entries() {
    for text in ["", "\u{FEFF}", "# only a comment\n\n", "\n\r\n   \n"] {
        let file = HtpasswdFile::parse(text);
        assert!(file.is_empty() && file.issues().is_empty(), "{text:?}");
        assert!(!file.verify("anyone", b""));
    }
}

/// A malformed line in the middle is reported with its 1-based line
/// number and skipped; the users around it still work. Covers: no ':',
/// empty user, empty hash, garbage hash.
#[test]
fn file_malformed_lines_reported_with_line_numbers() {
    let apr1 = openssl(&["passwd", "-apr1", PW]);
    let sha512 = openssl(&["passwd", "-6", PW]);
    let text = format!(
        "alice:{apr1}\n\
             just-some-text-without-colon\n\
             :{apr1}\n\
             erin:\n\
             frank:$2y$05$!!garbage!!\n\
             bob:{sha512}\n"
    );
    let file = HtpasswdFile::parse(&text);
    let lines: Vec<usize> = file.issues().iter().map(|i| i.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5], "{:?}", file.issues());
    assert!(file.issues()[0].reason.contains("':'"));
    assert!(file.issues()[1].reason.contains("empty user"));
    assert!(file.issues()[2].reason.contains("empty password hash"));
    assert!(file.issues()[3].reason.contains("bcrypt"));
    assert_eq!(file.len(), 2);
    assert!(file.verify("alice", PW.as_bytes()));
    assert!(file.verify("bob", PW.as_bytes()));
    assert!(!file.verify("frank", PW.as_bytes()));
    assert!(!file.verify("frank", b"$2y$05$!!garbage!!"));
    assert!(!file.verify("erin", b""));
    assert_eq!(
        format!("{}", file.issues()[0]),
        format!("line 2: {}", file.issues()[0].reason)
    );
}

/// A duplicate user: the first line wins (Apache's lookup order) and the
/// later line is an issue naming the first line.
#[test]
fn file_duplicate_user_first_wins() {
    let first = openssl(&["passwd", "-apr1", PW]);
    let second = openssl(&["passwd", "-apr1", "other password"]);
    let file = HtpasswdFile::parse(&format!("alice:{first}\nalice:{second}\n"));
    assert_eq!(file.len(), 1);
    assert!(file.verify("alice", PW.as_bytes()));
    assert!(!file.verify("alice", b"other password"));
    assert_eq!(file.issues().len(), 1);
    assert_eq!(file.issues()[0].line, 2);
    assert!(
        file.issues()[0].reason.contains("line 1"),
        "{:?}",
        file.issues()
    );
}

/// When a user's first line is rejected (malformed or locked), a later
/// line for the same user does not take over: the user stays disabled.
#[test]
fn file_rejected_first_entry_keeps_user_disabled() {
    let good = openssl(&["passwd", "-apr1", PW]);
    for bad in ["$apr1$broken", "*", "{SSHA}x"] {
        let file = HtpasswdFile::parse(&format!("alice:{bad}\nalice:{good}\n"));
        assert!(file.is_empty(), "{bad}");
        assert!(!file.verify("alice", PW.as_bytes()), "{bad}");
        assert_eq!(
            file.issues().iter().map(|i| i.line).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(file.issues()[1].reason.contains("disabled"));
    }
}

/// Issue reasons never contain the hash, the password or any other text
/// of the offending line (a line with no ':' may be a pasted password).
#[test]
fn file_issue_reasons_never_contain_secrets() {
    let apr1 = openssl(&["passwd", "-apr1", PW]);
    let text = format!(
        "hunter2secret\n\
             alice:$2y$05$SeCrEtGaRbAgE\n\
             bob:{{SSHA}}SeCrEtGaRbAgE\n\
             carol:$y$SeCrEtGaRbAgE\n\
             dave:{{PLAIN}}\n\
             erin:{apr1}\n\
             erin:{apr1}\n\
             frank:!SeCrEtGaRbAgE\n"
    );
    let file = HtpasswdFile::parse(&text);
    assert_eq!(file.issues().len(), 7, "{:?}", file.issues());
    for issue in file.issues() {
        for secret in ["hunter2", "SeCrEt", &apr1[6..], "$apr1$", "alice", "erin"] {
            assert!(!issue.reason.contains(secret), "{issue:?} leaks {secret}");
        }
    }
}

/// An unknown user returns false after verifying against a dummy of the
/// file's most common kind and its most common cost (bcrypt cost 8 here,
/// not the single argon2 entry nor the cost-4 bcrypt). Timing is checked
/// coarsely: unknown users take a real bcrypt's time, not microseconds.
#[test]
fn file_unknown_user_costs_like_majority_kind() {
    let b8a = hash_bcrypt(b"a", 8).unwrap();
    let b8b = hash_bcrypt(b"b", 8).unwrap();
    let b4 = hash_bcrypt(b"c", 4).unwrap();
    let argon = hash_argon2id(b"d").unwrap();
    let file = HtpasswdFile::parse(&format!("u1:{b4}\nu2:{argon}\nu3:{b8a}\nu4:{b8b}\n"));
    let dummy = file.dummy.as_ref().unwrap();
    assert_eq!(dummy.kind(), HashKind::Bcrypt);
    assert_eq!(dummy.cost_key().0, 8);
    assert!(!file.verify("nobody", b"a"));
    assert!(
        !file.verify("nobody", b"b"),
        "even a real user's password fails for an unknown name"
    );

    let time = |user: &str| {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                assert!(!file.verify(user, b"wrong"));
                t.elapsed()
            })
            .min()
            .unwrap()
    };
    let known = time("u3");
    let unknown = time("nobody");
    assert!(
        known > Duration::from_millis(1),
        "bcrypt cost 8 took {known:?}"
    );
    assert!(
        unknown * 4 > known,
        "unknown user took {unknown:?}, known {known:?}"
    );

    // Ties go to the slower kind; an empty file has no dummy.
    let apr1 = hash_apr1(b"x").unwrap();
    let tie = HtpasswdFile::parse(&format!("a:{apr1}\nb:{b4}\n"));
    assert_eq!(tie.dummy.as_ref().unwrap().kind(), HashKind::Bcrypt);
    assert!(HtpasswdFile::parse("").dummy.is_none());
}

/// `load` reads a file; an unreadable path is an error naming the path.
#[test]
fn load_io_error_names_path() {
    let missing = temp_path("does-not-exist");
    let err = HtpasswdFile::load(&missing).err().unwrap();
    assert!(matches!(err, HtpasswdError::Io { .. }));
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
}

/// A non-empty file where every non-comment line is bad is
/// `NoValidUsers` (so a reload keeps the old users), carrying the
/// issues; a file with one good line among bad ones loads.
#[test]
fn load_all_bad_lines_is_no_valid_users() {
    let path = temp_path("all-bad");
    std::fs::write(&path, "# users\nalice\nbob:$apr1$oops\n\n").unwrap();
    let err = HtpasswdFile::load(&path).err().unwrap();
    match &err {
        HtpasswdError::NoValidUsers { path: p, issues } => {
            assert_eq!(p, &path);
            assert_eq!(
                issues.iter().map(|i| i.line).collect::<Vec<_>>(),
                vec![2, 3]
            );
        }
        other => panic!("expected NoValidUsers, got {other:?}"),
    }
    assert!(err.to_string().contains("line 2"), "{err}");
    let apr1 = openssl(&["passwd", "-apr1", PW]);
    std::fs::write(&path, format!("alice\nbob:{apr1}\n")).unwrap();
    let file = HtpasswdFile::load(&path).unwrap();
    assert_eq!(file.len(), 1);
    assert_eq!(file.issues().len(), 1);
    assert!(file.verify("bob", PW.as_bytes()));
    std::fs::remove_file(&path).unwrap();
}

/// An empty or comment-only file loads as zero users (not an error), and
/// invalid UTF-8 is replaced rather than failing the whole file.
#[test]
fn load_empty_and_non_utf8_files() {
    let path = temp_path("empty");
    std::fs::write(&path, "").unwrap();
    assert!(HtpasswdFile::load(&path).unwrap().is_empty());
    std::fs::write(&path, "# nobody yet\n").unwrap();
    assert!(HtpasswdFile::load(&path).unwrap().is_empty());
    let apr1 = openssl(&["passwd", "-apr1", PW]);
    let mut bytes = format!("alice:{apr1}\n").into_bytes();
    bytes.extend_from_slice(b"caf\xe9:{PLAIN}x\n");
    std::fs::write(&path, &bytes).unwrap();
    let file = HtpasswdFile::load(&path).unwrap();
    assert_eq!(file.len(), 2);
    assert!(file.verify("alice", PW.as_bytes()));
    assert!(file.verify("caf\u{FFFD}", b"x"));
    std::fs::remove_file(&path).unwrap();
}

// -- no-panic fuzzing ------------------------------------------------------------

/// xorshift64*: deterministic, dependency-free randomness for fuzzing.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Bytes biased towards the characters the parsers care about.
    fn byte(&mut self) -> u8 {
        const INTERESTING: &[u8] = b"$:{}#\n\r \t!*=./0123456789azAZ_-,";
        match self.below(4) {
            0 => INTERESTING[self.below(INTERESTING.len())],
            1 => ITOA64[self.below(64)],
            _ => self.next() as u8,
        }
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.byte()).collect()
    }
}

/// Arbitrary byte strings (lossily decoded) through `PasswordHash::parse`
/// and `verify`, and through `HtpasswdFile::parse` and `verify`: no
/// panic, and every reported issue carries a real (1-based) line number.
#[test]
fn fuzz_random_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let field = String::from_utf8_lossy(&rng.bytes(90)).into_owned();
        let password = rng.bytes(40);
        let ph = PasswordHash::parse(&field);
        let _ = ph.verify(&password);
        let _ = ph.kind().name();
        let _ = format!("{ph:?}");
    }
    for _ in 0..300 {
        let text = String::from_utf8_lossy(&rng.bytes(400)).into_owned();
        let file = HtpasswdFile::parse(&text);
        for issue in file.issues() {
            assert!(issue.line >= 1);
        }
        let users: Vec<String> = file.users().map(|(u, _)| u.to_owned()).collect();
        for u in users.iter().take(3) {
            let _ = file.verify(u, &rng.bytes(20));
        }
        let _ = file.verify("no such user", b"x");
    }
}

/// Valid hashes of every kind (cheap parameters) with random byte
/// replacements, insertions and truncations after their prefix: parse
/// and verify never panic. The cost/rounds fields are not mutated so a
/// mutation cannot turn a test vector into an hour-long bcrypt.
#[test]
fn fuzz_mutated_hashes_never_panic() {
    let templates: Vec<(String, usize)> = vec![
        (hash_bcrypt(b"pw", 4).unwrap(), 7),
        (
            "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0$/KWCHGFd715/pLMVFtosRw".to_owned(),
            28,
        ),
        (hash_apr1(b"pw").unwrap(), 6),
        (openssl(&["passwd", "-1", "pw"]), 3),
        (perl_crypt(b"pw", b"$5$rounds=1000$saltsalt$"), 15),
        (perl_crypt(b"pw", b"$6$rounds=1000$saltsalt$"), 15),
        (htpasswd(&["-nbs"]), 5),
        (
            "{SSHA}".to_owned() + &base64::engine::general_purpose::STANDARD.encode([9u8; 24]),
            6,
        ),
        (perl_crypt(b"pw", b"ab"), 0),
        ("{PLAIN}pw".to_owned(), 7),
    ];
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..1500 {
        let (template, keep) = &templates[rng.below(templates.len())];
        let mut bytes = template.clone().into_bytes();
        for _ in 0..=rng.below(3) {
            let span = bytes.len().saturating_sub(*keep).max(1);
            let pos = keep + rng.below(span);
            match rng.below(3) {
                0 if pos < bytes.len() => bytes[pos] = rng.byte(),
                1 => bytes.insert(pos.min(bytes.len()), rng.byte()),
                _ => bytes.truncate(pos),
            }
        }
        let field = String::from_utf8_lossy(&bytes).into_owned();
        let ph = PasswordHash::parse(&field);
        let _ = ph.verify(b"pw");
        let _ = ph.verify(&rng.bytes(30));
        let file = HtpasswdFile::parse(&format!("u:{field}\n"));
        let _ = file.verify("u", b"pw");
        let _ = file.verify("v", b"pw");
    }
}
