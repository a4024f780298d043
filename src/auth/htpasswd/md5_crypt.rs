//! MD5-crypt (`$1$`) and Apache's `$apr1$`.

use super::*;

// ---------------------------------------------------------------------------
// MD5-crypt ($1$) and Apache's variant ($apr1$): Poul-Henning Kamp's
// algorithm, identical except for the magic string mixed into the hash.

pub(super) fn parse_md5(magic: Md5Magic, rest: &[u8]) -> Repr {
    let malformed = || match magic {
        Md5Magic::Apr1 => invalid("malformed apr1 hash"),
        Md5Magic::Md5 => invalid("malformed $1$ md5-crypt hash"),
    };
    let Some(dollar) = rest.iter().position(|&c| c == b'$') else {
        return malformed();
    };
    let (salt, digest) = (rest.get(..dollar), rest.get(dollar + 1..));
    let (Some(salt), Some(digest)) = (salt, digest) else {
        return malformed();
    };
    // The reference code uses at most 8 salt characters; a longer salt would
    // be re-emitted truncated and could never compare equal.
    if salt.len() > 8 || digest.len() != 22 || !all_a64(digest) {
        return malformed();
    }
    Repr::Md5 {
        magic,
        salt: salt.to_vec(),
        digest: digest.to_vec(),
    }
}

/// Returns the 22-character encoded digest.
pub(super) fn md5_crypt(password: &[u8], magic: &[u8], salt: &[u8]) -> Vec<u8> {
    let alt = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    let mut ctx = Md5::new();
    ctx.update(password);
    ctx.update(magic);
    ctx.update(salt);
    for chunk in password.chunks(16) {
        ctx.update(alt.get(..chunk.len()).unwrap_or_default());
    }
    // Kamp's odd bit loop: a NUL byte for each set bit of the length, the
    // first password byte for each clear bit.
    let first = password.get(..1).unwrap_or_default();
    let mut bits = password.len();
    while bits != 0 {
        if bits & 1 != 0 {
            ctx.update([0u8]);
        } else {
            ctx.update(first);
        }
        bits >>= 1;
    }
    let mut fin = ctx.finalize();
    // 1000 rounds "to slow down brute force" (1995 numbers).
    for i in 0..1000u32 {
        let mut c = Md5::new();
        if i & 1 != 0 {
            c.update(password);
        } else {
            c.update(fin);
        }
        if i % 3 != 0 {
            c.update(salt);
        }
        if i % 7 != 0 {
            c.update(password);
        }
        if i & 1 != 0 {
            c.update(fin);
        } else {
            c.update(password);
        }
        fin = c.finalize();
    }
    crypt_b64(&fin, &MD5_GROUPS)
}
