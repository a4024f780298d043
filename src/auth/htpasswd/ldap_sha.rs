//! `{SHA}` and `{SSHA}` (salted SHA-1), as Apache's htpasswd -s and slappasswd write them.

use super::*;

// ---------------------------------------------------------------------------
// {SHA} and {SSHA}

/// Standard base-64, padding optional: tools always pad, but hand-edited
/// files sometimes lose the '='.
pub(super) const STD_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(super) fn parse_sha1(rest: &[u8]) -> Repr {
    match STD_B64.decode(rest).ok().map(<[u8; 20]>::try_from) {
        Some(Ok(digest)) => Repr::Sha1 { digest },
        _ => invalid("{SHA} value is not the base-64 of a 20-byte SHA-1 digest"),
    }
}

pub(super) fn parse_ssha(rest: &[u8]) -> Repr {
    let malformed =
        || invalid("{SSHA} value is not the base-64 of a SHA-1 digest followed by a salt");
    let Ok(decoded) = STD_B64.decode(rest) else {
        return malformed();
    };
    // A zero-length salt would make this plain {SHA}; no tool writes that.
    let (Some(digest), Some(salt)) = (decoded.get(..20), decoded.get(20..)) else {
        return malformed();
    };
    let Ok(digest) = <[u8; 20]>::try_from(digest) else {
        return malformed();
    };
    if salt.is_empty() {
        return malformed();
    }
    Repr::SaltedSha1 {
        digest,
        salt: salt.to_vec(),
    }
}
