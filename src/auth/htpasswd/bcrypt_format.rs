//! bcrypt (`$2y$`, `$2b$`, `$2a$`, `$2x$`): parsing and verification.

use super::*;

// ---------------------------------------------------------------------------
// bcrypt

pub(super) fn is_bcrypt_prefix(b: &[u8]) -> bool {
    matches!(b, [b'$', b'2', b'a' | b'b' | b'x' | b'y', b'$', ..])
}

/// bcrypt's own base-64 alphabet. Trailing bits are allowed because OpenBSD's
/// decoder ignores them; the `bcrypt` crate's strict engine would reject such
/// (otherwise valid) hashes.
pub(super) const BCRYPT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::BCRYPT,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

pub(super) fn parse_bcrypt(b: &[u8]) -> Repr {
    // "$2y$" + 2-digit cost + "$" + 22 salt chars + 31 digest chars.
    let malformed = || invalid("malformed bcrypt hash");
    if b.len() != 60 {
        return malformed();
    }
    let (Some(&d1), Some(&d2), Some(&sep)) = (b.get(4), b.get(5), b.get(6)) else {
        return malformed();
    };
    if !d1.is_ascii_digit() || !d2.is_ascii_digit() || sep != b'$' {
        return malformed();
    }
    let cost = u32::from(d1 - b'0') * 10 + u32::from(d2 - b'0');
    if !(4..=31).contains(&cost) {
        return invalid("bcrypt cost outside 4..=31");
    }
    let (Some(salt_txt), Some(digest_txt)) = (b.get(7..29), b.get(29..60)) else {
        return malformed();
    };
    let decode = |t: &[u8]| BCRYPT_B64.decode(t).ok();
    let (Some(salt), Some(digest)) = (decode(salt_txt), decode(digest_txt)) else {
        return malformed();
    };
    let (Ok(salt), Ok(digest)) = (<[u8; 16]>::try_from(salt), <[u8; 23]>::try_from(digest)) else {
        return malformed();
    };
    Repr::Bcrypt { cost, salt, digest }
}

pub(super) fn verify_bcrypt(password: &[u8], cost: u32, salt: [u8; 16], digest: &[u8; 23]) -> bool {
    // The crate computes the digest from the raw salt, so the version letter
    // ($2a/$2b/$2x/$2y) does not matter: they differ only for passwords the
    // crate and modern tools handle identically ($2x$ is $2a$ for ASCII).
    let Ok(parts) = bcrypt::hash_with_salt(password, cost, salt) else {
        return false;
    };
    let text = parts.format_for_version(bcrypt::Version::TwoB);
    let Some(tail) = text.get(text.len().saturating_sub(31)..) else {
        return false;
    };
    match BCRYPT_B64.decode(tail) {
        Ok(computed) => ct_eq(&computed, digest),
        Err(_) => false,
    }
}
