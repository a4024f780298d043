//! Writing new hashes: argon2id, bcrypt and apr1.

use super::*;

// ---------------------------------------------------------------------------
// Writers

pub(super) fn check_password_to_hash(password: &[u8]) -> Result<(), HtpasswdError> {
    if password.is_empty() {
        return Err(HtpasswdError::EmptyPassword);
    }
    // A NUL could never be verified by crypt-style schemes (see
    // `is_c_string_scheme`); refuse it everywhere for consistency.
    if password.contains(&0) {
        return Err(HtpasswdError::NulInPassword);
    }
    Ok(())
}

pub(super) fn random_bytes<const N: usize>() -> Result<[u8; N], HtpasswdError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(HtpasswdError::Random)?;
    Ok(buf)
}

/// Hash writers for `frontdoor passwd` and the demo.
///
/// `$argon2id$v=19$m=19456,t=2,p=1$...` (OWASP minimum), random 16-byte salt.
pub fn hash_argon2id(password: &[u8]) -> Result<String, HtpasswdError> {
    check_password_to_hash(password)?;
    let hashing = |e: argon2::password_hash::Error| HtpasswdError::Hashing {
        scheme: "argon2id",
        reason: e.to_string(),
    };
    let params = argon2::Params::new(ARGON2_WRITE_M_KIB, ARGON2_WRITE_T, ARGON2_WRITE_P, None)
        .map_err(|e| hashing(e.into()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(hashing)?;
    let hash = argon.hash_password(password, &salt).map_err(hashing)?;
    Ok(hash.to_string())
}

/// bcrypt with the `$2y$` prefix, like Apache's `htpasswd -B`. Passwords over
/// 72 bytes are refused rather than silently truncated.
pub fn hash_bcrypt(password: &[u8], cost: u32) -> Result<String, HtpasswdError> {
    check_password_to_hash(password)?;
    if !(4..=31).contains(&cost) {
        return Err(HtpasswdError::InvalidCost(cost));
    }
    if password.len() > 72 {
        return Err(HtpasswdError::PasswordTooLong {
            len: password.len(),
        });
    }
    let parts = bcrypt::hash_with_salt(password, cost, random_bytes::<16>()?).map_err(|e| {
        HtpasswdError::Hashing {
            scheme: "bcrypt",
            reason: e.to_string(),
        }
    })?;
    Ok(parts.format_for_version(bcrypt::Version::TwoY))
}

/// Apache MD5 (`$apr1$`) with a random 8-character salt. Weak; provided only
/// for compatibility with tools that cannot read anything better.
pub fn hash_apr1(password: &[u8]) -> Result<String, HtpasswdError> {
    check_password_to_hash(password)?;
    // 256 is a multiple of 64, so `byte & 63` picks characters uniformly.
    let salt: Vec<u8> = random_bytes::<8>()?
        .iter()
        .map(|&b| int_to_a64(u32::from(b)))
        .collect();
    let digest = md5_crypt(password, Md5Magic::Apr1.prefix(), &salt);
    let mut out = Vec::with_capacity(6 + 8 + 1 + 22);
    out.extend_from_slice(Md5Magic::Apr1.prefix());
    out.extend_from_slice(&salt);
    out.push(b'$');
    out.extend_from_slice(&digest);
    String::from_utf8(out).map_err(|e| HtpasswdError::Hashing {
        scheme: "apr1",
        reason: e.to_string(),
    })
}
