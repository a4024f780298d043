//! Second factors: TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of clock skew
//! either way) computed by the `totp-rs` crate. The secrets live in a 0600 file of
//! `user:BASE32SECRET` lines written by `frontdoor totp add USER`, read at each sign-in (so
//! an enrolment applies at once).

use std::collections::HashMap;
use std::path::Path;

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per code.
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;

#[derive(Debug, thiserror::Error)]
pub enum TotpFileError {
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{path}:{line}: {problem}")]
    Invalid {
        path: String,
        line: usize,
        problem: String,
    },
    #[error("cannot write {path}: {error}")]
    Write { path: String, error: std::io::Error },
    #[error("{0}")]
    Usage(String),
}

/// Every enrolled user's secret. A missing file has none.
pub fn read(path: &Path) -> Result<HashMap<String, Vec<u8>>, TotpFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(error) => {
            return Err(TotpFileError::Read {
                path: path.display().to_string(),
                error,
            });
        }
    };
    parse(&text, &path.display().to_string())
}

/// The file's text: `user:BASE32` lines; `#` comments and blank lines are skipped.
pub fn parse(text: &str, path: &str) -> Result<HashMap<String, Vec<u8>>, TotpFileError> {
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let invalid = |problem: &str| TotpFileError::Invalid {
            path: path.to_string(),
            line: n + 1,
            problem: problem.to_string(),
        };
        let (user, secret) = line
            .split_once(':')
            .ok_or_else(|| invalid("expected user:BASE32SECRET"))?;
        let user = user.trim();
        let bytes = Secret::Encoded(secret.trim().to_string())
            .to_bytes()
            .map_err(|_| invalid("the secret is not base32"))?;
        if bytes.len() < 16 {
            return Err(invalid("the secret is shorter than 128 bits"));
        }
        if out.insert(user.to_string(), bytes).is_some() {
            return Err(invalid("the user is listed twice"));
        }
    }
    Ok(out)
}

fn write(path: &Path, secrets: &HashMap<String, Vec<u8>>) -> Result<(), TotpFileError> {
    let mut users: Vec<&String> = secrets.keys().collect();
    users.sort();
    let mut text = String::from(
        "# frontdoor second factors (TOTP), written by `frontdoor totp add`. Keep it 0600.\n",
    );
    for user in users {
        let encoded = match Secret::Raw(secrets[user].clone()).to_encoded() {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => continue,
        };
        text.push_str(&format!("{user}:{encoded}\n"));
    }
    crate::files::write_private(path, text.as_bytes()).map_err(|error| TotpFileError::Write {
        path: path.display().to_string(),
        error,
    })
}

fn totp(secret: &[u8]) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 1, STEP_SECS, secret.to_vec())
}

/// `frontdoor totp add USER`: a new 160-bit secret (replacing the user's old one); returns
/// the `otpauth://` URI an authenticator app reads.
pub fn add(path: &Path, user: &str) -> Result<String, TotpFileError> {
    if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
        return Err(TotpFileError::Usage(format!(
            "`{user}` cannot be a user name here (no `:` or control characters)"
        )));
    }
    let mut secrets = read(path)?;
    let mut secret = vec![0u8; 20];
    getrandom::fill(&mut secret)
        .map_err(|e| TotpFileError::Usage(format!("no random source: {e}")))?;
    secrets.insert(user.to_string(), secret.clone());
    write(path, &secrets)?;
    Ok(otpauth_uri(user, &secret))
}

/// `frontdoor totp remove USER`: whether the user had a second factor.
pub fn remove(path: &Path, user: &str) -> Result<bool, TotpFileError> {
    let mut secrets = read(path)?;
    let had = secrets.remove(user).is_some();
    if had {
        write(path, &secrets)?;
    }
    Ok(had)
}

/// `otpauth://totp/frontdoor:USER?secret=...&issuer=frontdoor&...` (Key Uri Format).
pub fn otpauth_uri(user: &str, secret: &[u8]) -> String {
    let encoded = match Secret::Raw(secret.to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => String::new(),
    };
    let label: String = url::form_urlencoded::byte_serialize(user.as_bytes()).collect();
    format!(
        "otpauth://totp/frontdoor:{}?secret={encoded}&issuer=frontdoor&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        label.replace('+', "%20")
    )
}

/// The time step a code is valid for (the current one or one either side), if any.
pub fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret);
    let current = now / STEP_SECS;
    let mut found = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = totp.generate(step * STEP_SECS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The code for a time (tests, and `frontdoor totp` users checking their app).
pub fn code_at(secret: &[u8], time: u64) -> String {
    totp(secret).generate(time)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (8 digits there; the last 6 are what 6-digit codes are).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(code_at(secret, time), eight[2..], "t={time}");
        }
    }

    #[test]
    fn skew_of_one_step() {
        let secret = b"12345678901234567890";
        let now = 1_234_567_890;
        let code = code_at(secret, now);
        assert_eq!(matching_step(secret, &code, now), Some(now / 30));
        assert_eq!(matching_step(secret, &code, now + 30), Some(now / 30));
        assert_eq!(matching_step(secret, &code, now - 30), Some(now / 30));
        assert_eq!(matching_step(secret, &code, now + 90), None);
        for bad in ["", "12345", "1234567", "abcdef", " 12 34"] {
            assert_eq!(matching_step(secret, bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn file_round_trip() {
        let dir = std::env::temp_dir().join(format!("fd-totp-{}", std::process::id()));
        let path = dir.join("totp");
        let uri = add(&path, "alice").unwrap();
        assert!(uri.starts_with("otpauth://totp/frontdoor:alice?secret="));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read(&path).unwrap()["alice"].len(), 20);
        assert!(remove(&path, "alice").unwrap());
        assert!(!remove(&path, "alice").unwrap());
        assert!(read(&path).unwrap().is_empty());
        assert!(add(&path, "a:b").is_err());
        assert!(parse("bob:notbase32!\n", "f").is_err());
        assert!(parse("bob\n", "f").is_err());
        assert!(parse("bob:AAAA\n", "f").is_err(), "too short");
        let _ = std::fs::remove_dir_all(dir);
    }
}
