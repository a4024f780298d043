//! argon2 (`$argon2id$`, `$argon2i$`, `$argon2d$`) in the PHC string format.

use super::*;

// ---------------------------------------------------------------------------
// argon2

pub(super) fn parse_argon2(field: &str) -> Repr {
    let malformed = || invalid("malformed argon2 hash");
    let Ok(phc) = PhcHash::new(field) else {
        return malformed();
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(phc.algorithm) else {
        return malformed();
    };
    if let Some(version) = phc.version
        && argon2::Version::try_from(version).is_err()
    {
        return malformed();
    }
    let Ok(params) = argon2::Params::try_from(&phc) else {
        return malformed();
    };
    let (Some(salt), Some(_)) = (phc.salt, &phc.hash) else {
        return malformed();
    };
    // argon2 refuses salts shorter than 8 bytes at hash time; find out now.
    let mut buf = [0u8; 64];
    if salt.decode_b64(&mut buf).map_or(true, |s| s.len() < 8) {
        return malformed();
    }
    let (m, t, p) = (params.m_cost(), params.t_cost(), params.p_cost());
    if m > MAX_ARGON2_M_KIB || t > MAX_ARGON2_T || u64::from(m) * u64::from(t) > MAX_ARGON2_WORK_KIB
    {
        return invalid("argon2 parameters exceed the limits (m <= 2 GiB, t <= 256, m*t <= 8 GiB)");
    }
    let alg_code = match algorithm {
        argon2::Algorithm::Argon2d => 0,
        argon2::Algorithm::Argon2i => 1,
        argon2::Algorithm::Argon2id => 2,
    };
    Repr::Argon2 {
        phc: field.to_owned(),
        cost: (alg_code, m, t, p),
    }
}

pub(super) fn verify_argon2(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PhcHash::new(phc) else {
        return false;
    };
    // The verifier takes algorithm, version and parameters from the hash and
    // compares outputs in constant time (password-hash's `Output` eq).
    argon2::Argon2::default()
        .verify_password(password, &parsed)
        .is_ok()
}
