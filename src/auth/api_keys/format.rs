//! The key itself: `fdk_<id>_<secret><checksum>`, as GitHub's `ghp_` tokens are built, so
//! secret scanners can find a leaked key by its shape and a mistyped key is refused before
//! any lookup.
//!
//! - `fdk_`: the fixed prefix.
//! - `id`: 8 base62 characters, random; names the key in the file (not secret).
//! - `secret`: 43 base62 characters, 256 random bits.
//! - `checksum`: 6 base62 characters, the first 4 bytes of SHA-256 over everything before
//!   it, so one wrong character is caught without looking anything up.

use sha2::{Digest, Sha256};

pub const PREFIX: &str = "fdk_";
pub const ID_LEN: usize = 8;
pub const SECRET_LEN: usize = 43;
pub const CHECKSUM_LEN: usize = 6;
/// `fdk_` + id + `_` + secret + checksum.
pub const KEY_LEN: usize = PREFIX.len() + ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A key as a client presented it, its shape and checksum verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresentedKey<'a> {
    pub id: &'a str,
    /// The whole key, for its digest.
    pub text: &'a str,
}

/// Reads a key: None unless it has the exact shape and a matching checksum.
pub fn parse(text: &str) -> Option<PresentedKey<'_>> {
    if text.len() != KEY_LEN || !text.starts_with(PREFIX) {
        return None;
    }
    let bytes = text.as_bytes();
    let id = text.get(PREFIX.len()..PREFIX.len() + ID_LEN)?;
    if bytes.get(PREFIX.len() + ID_LEN) != Some(&b'_') {
        return None;
    }
    let body_end = KEY_LEN - CHECKSUM_LEN;
    let (body, checksum) = (text.get(..body_end)?, text.get(body_end..)?);
    let all_base62 = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    if !all_base62(id)
        || !text
            .get(PREFIX.len() + ID_LEN + 1..)
            .is_some_and(all_base62)
    {
        return None;
    }
    (checksum == checksum_of(body)).then_some(PresentedKey { id, text })
}

/// The SHA-256 of a whole key: all the key file keeps of it.
pub fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// A new key with a new random id. Fails only if the system has no randomness.
pub fn generate() -> Result<String, getrandom::Error> {
    let id = random_base62(ID_LEN)?;
    generate_with_id(&id)
}

/// A new key for `id` (a rotation keeps nothing of the old key but may keep nothing else
/// either: ids are random too).
fn generate_with_id(id: &str) -> Result<String, getrandom::Error> {
    let secret = random_base62(SECRET_LEN)?;
    let body = format!("{PREFIX}{id}_{secret}");
    let checksum = checksum_of(&body);
    Ok(body + &checksum)
}

/// `len` characters drawn uniformly from the base62 alphabet (bytes of 248 and above are
/// dropped, so none is more likely than another): 5.95 bits each.
pub fn random_base62(len: usize) -> Result<String, getrandom::Error> {
    let mut out = String::with_capacity(len);
    let mut pool = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut pool)?;
        for b in pool {
            if b < 248 && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    Ok(out)
}

/// 6 base62 characters of the first 4 bytes of SHA-256 over `body`.
fn checksum_of(body: &str) -> String {
    let hash = Sha256::digest(body.as_bytes());
    let mut n = u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]);
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generated key has the documented shape and parses back to its id.
    #[test]
    fn generated_keys_parse() {
        for _ in 0..50 {
            let key = generate().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(key.len(), KEY_LEN);
            assert!(key.starts_with("fdk_"));
            let parsed = parse(&key).unwrap_or_else(|| panic!("{key}"));
            assert_eq!(parsed.id, &key[4..12]);
            assert_eq!(&key[12..13], "_");
        }
    }

    /// Every single-character change, a truncation, an extension and a foreign prefix is
    /// refused by the shape or the checksum alone.
    #[test]
    fn mistyped_keys_are_refused_before_lookup() {
        let key = generate().unwrap_or_else(|e| panic!("{e}"));
        let mut refused = 0;
        for at in 0..key.len() {
            for replacement in ['0', 'a', 'Z', '_', '-'] {
                let mut bytes = key.clone().into_bytes();
                if bytes[at] == replacement as u8 {
                    continue;
                }
                bytes[at] = replacement as u8;
                let changed = String::from_utf8(bytes).unwrap_or_default();
                assert_eq!(parse(&changed), None, "{changed}");
                refused += 1;
            }
        }
        assert!(refused > 200);
        assert_eq!(parse(&key[..key.len() - 1]), None);
        assert_eq!(parse(&format!("{key}0")), None);
        assert_eq!(parse(&key.replacen("fdk_", "ghp_", 1)), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("fdk_"), None);
    }

    /// Characters are spread over the whole alphabet (no bias toward the first ones).
    #[test]
    fn random_characters_cover_the_alphabet() {
        let text = random_base62(62 * 200).unwrap_or_else(|e| panic!("{e}"));
        let mut counts = [0usize; 128];
        for b in text.bytes() {
            counts[usize::from(b)] += 1;
        }
        for &c in ALPHABET {
            let n = counts[usize::from(c)];
            assert!(
                (100..=330).contains(&n),
                "{} appeared {n} times",
                char::from(c)
            );
        }
    }
}
