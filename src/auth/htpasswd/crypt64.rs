//! The `crypt(3)` base-64 encoding shared by DES, MD5 and SHA crypt.

use super::*;

// ---------------------------------------------------------------------------
// crypt(3) base-64 helpers

pub(super) fn a64_to_int(c: u8) -> Option<u8> {
    match c {
        b'.' => Some(0),
        b'/' => Some(1),
        b'0'..=b'9' => Some(c - b'0' + 2),
        b'A'..=b'Z' => Some(c - b'A' + 12),
        b'a'..=b'z' => Some(c - b'a' + 38),
        _ => None,
    }
}

pub(super) fn int_to_a64(v: u32) -> u8 {
    // `v & 63` is always a valid index; `get` keeps the code panic-free by
    // construction rather than by argument.
    ITOA64.get((v & 63) as usize).copied().unwrap_or(b'.')
}

pub(super) fn all_a64(b: &[u8]) -> bool {
    b.iter().all(|&c| a64_to_int(c).is_some())
}

/// Marks a missing byte in an encoding group: `digest.get(NONE)` is `None`
/// for every digest we encode (all are shorter than 255 bytes), which reads
/// as zero, exactly like the reference code's literal `0` arguments.
pub(super) const NONE: u8 = 0xFF;

/// `(b2, b1, b0, chars)` groups of the reference `b64_from_24bit` calls.
pub(super) type Groups<const N: usize> = [(u8, u8, u8, u8); N];

pub(super) const MD5_GROUPS: Groups<6> = [
    (0, 6, 12, 4),
    (1, 7, 13, 4),
    (2, 8, 14, 4),
    (3, 9, 15, 4),
    (4, 10, 5, 4),
    (NONE, NONE, 11, 2),
];

pub(super) const SHA256_GROUPS: Groups<11> = [
    (0, 10, 20, 4),
    (21, 1, 11, 4),
    (12, 22, 2, 4),
    (3, 13, 23, 4),
    (24, 4, 14, 4),
    (15, 25, 5, 4),
    (6, 16, 26, 4),
    (27, 7, 17, 4),
    (18, 28, 8, 4),
    (9, 19, 29, 4),
    (NONE, 31, 30, 3),
];

pub(super) const SHA512_GROUPS: Groups<22> = [
    (0, 21, 42, 4),
    (22, 43, 1, 4),
    (44, 2, 23, 4),
    (3, 24, 45, 4),
    (25, 46, 4, 4),
    (47, 5, 26, 4),
    (6, 27, 48, 4),
    (28, 49, 7, 4),
    (50, 8, 29, 4),
    (9, 30, 51, 4),
    (31, 52, 10, 4),
    (53, 11, 32, 4),
    (12, 33, 54, 4),
    (34, 55, 13, 4),
    (56, 14, 35, 4),
    (15, 36, 57, 4),
    (37, 58, 16, 4),
    (59, 17, 38, 4),
    (18, 39, 60, 4),
    (40, 61, 19, 4),
    (62, 20, 41, 4),
    (NONE, NONE, 63, 2),
];

/// The little-endian, byte-shuffled base-64 of MD5-crypt and SHA-crypt.
pub(super) fn crypt_b64(digest: &[u8], groups: &[(u8, u8, u8, u8)]) -> Vec<u8> {
    let byte = |i: u8| u32::from(digest.get(usize::from(i)).copied().unwrap_or(0));
    let mut out = Vec::with_capacity(groups.len() * 4);
    for &(b2, b1, b0, n) in groups {
        let mut w = (byte(b2) << 16) | (byte(b1) << 8) | byte(b0);
        for _ in 0..n {
            out.push(int_to_a64(w));
            w >>= 6;
        }
    }
    out
}
