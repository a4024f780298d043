//! SHA-crypt (`$5$`, `$6$`): parsing, and verification with the RustCrypto `sha-crypt` crate.

use super::*;

// ---------------------------------------------------------------------------
// SHA-crypt ($5$, $6$): Ulrich Drepper, "Unix crypt using SHA-256 and SHA-512".

pub(super) fn parse_sha_crypt(variant: ShaVariant, rest: &[u8]) -> Repr {
    let malformed = || match variant {
        ShaVariant::Sha256 => invalid("malformed sha256-crypt hash"),
        ShaVariant::Sha512 => invalid("malformed sha512-crypt hash"),
    };
    let digest_len = match variant {
        ShaVariant::Sha256 => 43,
        ShaVariant::Sha512 => 86,
    };
    let (rounds, rest) = match rest.strip_prefix(b"rounds=") {
        Some(after) => {
            let Some(dollar) = after.iter().position(|&c| c == b'$') else {
                return malformed();
            };
            let digits = after.get(..dollar).unwrap_or_default();
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return malformed();
            }
            // Saturating, like glibc's strtoul, then clamped like glibc:
            // rounds=100 runs 1000 rounds, rounds=10^12 runs 999999999.
            let n = digits.iter().fold(0u64, |acc, &d| {
                acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            });
            let clamped = n.clamp(u64::from(SHA_ROUNDS_MIN), u64::from(SHA_ROUNDS_MAX));
            let rounds = u32::try_from(clamped).unwrap_or(SHA_ROUNDS_MAX);
            (rounds, after.get(dollar + 1..).unwrap_or_default())
        }
        None => (SHA_ROUNDS_DEFAULT, rest),
    };
    let Some(dollar) = rest.iter().position(|&c| c == b'$') else {
        return malformed();
    };
    let (Some(salt), Some(digest)) = (rest.get(..dollar), rest.get(dollar + 1..)) else {
        return malformed();
    };
    // glibc uses at most 16 salt bytes; a longer salt is re-emitted truncated
    // and so could never compare equal.
    if salt.len() > 16 || digest.len() != digest_len || !all_a64(digest) {
        return malformed();
    }
    Repr::ShaCrypt {
        variant,
        rounds,
        salt: salt.to_vec(),
        digest: digest.to_vec(),
    }
}

/// The encoded digest of Drepper's algorithm, computed by the RustCrypto `sha-crypt` crate
/// (the salt is at most 16 bytes and the rounds are clamped at parse, so it never refuses).
pub(super) fn sha_crypt_digest(
    variant: ShaVariant,
    password: &[u8],
    salt: &[u8],
    rounds: u32,
) -> Option<Vec<u8>> {
    let rounds = usize::try_from(rounds).ok()?;
    match variant {
        ShaVariant::Sha256 => {
            let params = sha_crypt::Sha256Params::new(rounds).ok()?;
            let raw = sha_crypt::sha256_crypt(password, salt, &params).ok()?;
            Some(crypt_b64(&raw, &SHA256_GROUPS))
        }
        ShaVariant::Sha512 => {
            let params = sha_crypt::Sha512Params::new(rounds).ok()?;
            let raw = sha_crypt::sha512_crypt(password, salt, &params).ok()?;
            Some(crypt_b64(&raw, &SHA512_GROUPS))
        }
    }
}
