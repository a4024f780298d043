//! Traditional DES `crypt(3)`.

use super::*;

// ---------------------------------------------------------------------------
// Traditional DES crypt(3). No maintained crate implements it, so this is
// textbook DES (FIPS 46-3 tables, bit 1 = most significant) with the crypt
// twist: each of the 12 salt bits swaps two outputs of the E expansion, and
// the result is 25 encryptions of an all-zero block under the password key.

pub(super) fn parse_des(b: &[u8]) -> Repr {
    // The caller checked 13 characters of the crypt alphabet.
    match (b.get(..2), b.get(2..13)) {
        (Some(salt), Some(digest)) => {
            match (<[u8; 2]>::try_from(salt), <[u8; 11]>::try_from(digest)) {
                (Ok(salt), Ok(digest)) => Repr::Des { salt, digest },
                _ => invalid("malformed DES crypt hash"),
            }
        }
        _ => invalid("malformed DES crypt hash"),
    }
}

#[rustfmt::skip]
pub(super) const DES_IP: [u8; 64] = [
    58, 50, 42, 34, 26, 18, 10, 2,
    60, 52, 44, 36, 28, 20, 12, 4,
    62, 54, 46, 38, 30, 22, 14, 6,
    64, 56, 48, 40, 32, 24, 16, 8,
    57, 49, 41, 33, 25, 17,  9, 1,
    59, 51, 43, 35, 27, 19, 11, 3,
    61, 53, 45, 37, 29, 21, 13, 5,
    63, 55, 47, 39, 31, 23, 15, 7,
];

#[rustfmt::skip]
pub(super) const DES_FP: [u8; 64] = [
    40, 8, 48, 16, 56, 24, 64, 32,
    39, 7, 47, 15, 55, 23, 63, 31,
    38, 6, 46, 14, 54, 22, 62, 30,
    37, 5, 45, 13, 53, 21, 61, 29,
    36, 4, 44, 12, 52, 20, 60, 28,
    35, 3, 43, 11, 51, 19, 59, 27,
    34, 2, 42, 10, 50, 18, 58, 26,
    33, 1, 41,  9, 49, 17, 57, 25,
];

#[rustfmt::skip]
pub(super) const DES_E: [u8; 48] = [
    32,  1,  2,  3,  4,  5,
     4,  5,  6,  7,  8,  9,
     8,  9, 10, 11, 12, 13,
    12, 13, 14, 15, 16, 17,
    16, 17, 18, 19, 20, 21,
    20, 21, 22, 23, 24, 25,
    24, 25, 26, 27, 28, 29,
    28, 29, 30, 31, 32,  1,
];

#[rustfmt::skip]
pub(super) const DES_P: [u8; 32] = [
    16,  7, 20, 21, 29, 12, 28, 17,
     1, 15, 23, 26,  5, 18, 31, 10,
     2,  8, 24, 14, 32, 27,  3,  9,
    19, 13, 30,  6, 22, 11,  4, 25,
];

#[rustfmt::skip]
pub(super) const DES_PC1: [u8; 56] = [
    57, 49, 41, 33, 25, 17,  9,
     1, 58, 50, 42, 34, 26, 18,
    10,  2, 59, 51, 43, 35, 27,
    19, 11,  3, 60, 52, 44, 36,
    63, 55, 47, 39, 31, 23, 15,
     7, 62, 54, 46, 38, 30, 22,
    14,  6, 61, 53, 45, 37, 29,
    21, 13,  5, 28, 20, 12,  4,
];

#[rustfmt::skip]
pub(super) const DES_PC2: [u8; 48] = [
    14, 17, 11, 24,  1,  5,
     3, 28, 15,  6, 21, 10,
    23, 19, 12,  4, 26,  8,
    16,  7, 27, 20, 13,  2,
    41, 52, 31, 37, 47, 55,
    30, 40, 51, 45, 33, 48,
    44, 49, 39, 56, 34, 53,
    46, 42, 50, 36, 29, 32,
];

pub(super) const DES_SHIFTS: [u32; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/// S1..S8, each as its four 16-entry rows.
#[rustfmt::skip]
pub(super) const DES_SBOXES: [[u8; 64]; 8] = [
    [
        14,  4, 13,  1,  2, 15, 11,  8,  3, 10,  6, 12,  5,  9,  0,  7,
         0, 15,  7,  4, 14,  2, 13,  1, 10,  6, 12, 11,  9,  5,  3,  8,
         4,  1, 14,  8, 13,  6,  2, 11, 15, 12,  9,  7,  3, 10,  5,  0,
        15, 12,  8,  2,  4,  9,  1,  7,  5, 11,  3, 14, 10,  0,  6, 13,
    ],
    [
        15,  1,  8, 14,  6, 11,  3,  4,  9,  7,  2, 13, 12,  0,  5, 10,
         3, 13,  4,  7, 15,  2,  8, 14, 12,  0,  1, 10,  6,  9, 11,  5,
         0, 14,  7, 11, 10,  4, 13,  1,  5,  8, 12,  6,  9,  3,  2, 15,
        13,  8, 10,  1,  3, 15,  4,  2, 11,  6,  7, 12,  0,  5, 14,  9,
    ],
    [
        10,  0,  9, 14,  6,  3, 15,  5,  1, 13, 12,  7, 11,  4,  2,  8,
        13,  7,  0,  9,  3,  4,  6, 10,  2,  8,  5, 14, 12, 11, 15,  1,
        13,  6,  4,  9,  8, 15,  3,  0, 11,  1,  2, 12,  5, 10, 14,  7,
         1, 10, 13,  0,  6,  9,  8,  7,  4, 15, 14,  3, 11,  5,  2, 12,
    ],
    [
         7, 13, 14,  3,  0,  6,  9, 10,  1,  2,  8,  5, 11, 12,  4, 15,
        13,  8, 11,  5,  6, 15,  0,  3,  4,  7,  2, 12,  1, 10, 14,  9,
        10,  6,  9,  0, 12, 11,  7, 13, 15,  1,  3, 14,  5,  2,  8,  4,
         3, 15,  0,  6, 10,  1, 13,  8,  9,  4,  5, 11, 12,  7,  2, 14,
    ],
    [
         2, 12,  4,  1,  7, 10, 11,  6,  8,  5,  3, 15, 13,  0, 14,  9,
        14, 11,  2, 12,  4,  7, 13,  1,  5,  0, 15, 10,  3,  9,  8,  6,
         4,  2,  1, 11, 10, 13,  7,  8, 15,  9, 12,  5,  6,  3,  0, 14,
        11,  8, 12,  7,  1, 14,  2, 13,  6, 15,  0,  9, 10,  4,  5,  3,
    ],
    [
        12,  1, 10, 15,  9,  2,  6,  8,  0, 13,  3,  4, 14,  7,  5, 11,
        10, 15,  4,  2,  7, 12,  9,  5,  6,  1, 13, 14,  0, 11,  3,  8,
         9, 14, 15,  5,  2,  8, 12,  3,  7,  0,  4, 10,  1, 13, 11,  6,
         4,  3,  2, 12,  9,  5, 15, 10, 11, 14,  1,  7,  6,  0,  8, 13,
    ],
    [
         4, 11,  2, 14, 15,  0,  8, 13,  3, 12,  9,  7,  5, 10,  6,  1,
        13,  0, 11,  7,  4,  9,  1, 10, 14,  3,  5, 12,  2, 15,  8,  6,
         1,  4, 11, 13, 12,  3,  7, 14, 10, 15,  6,  8,  0,  5,  9,  2,
         6, 11, 13,  8,  1,  4, 10,  7,  9,  5,  0, 15, 14,  2,  3, 12,
    ],
    [
        13,  2,  8,  4,  6, 15, 11,  1, 10,  9,  3, 14,  5,  0, 12,  7,
         1, 15, 13,  8, 10,  3,  7,  4, 12,  5,  6, 11,  0, 14,  9,  2,
         7, 11,  4,  1,  9, 12, 14,  2,  0,  6, 10, 13, 15,  3,  5,  8,
         2,  1, 14,  7,  4, 10,  8, 13, 15, 12,  9,  0,  3,  5,  6, 11,
    ],
];

/// Generic DES bit permutation: output bit i (from the MSB of a
/// `table.len()`-bit value) is input bit `table[i]` (1-based from the MSB of
/// an `in_width`-bit value).
pub(super) fn des_permute(input: u64, in_width: u32, table: &[u8]) -> u64 {
    table.iter().fold(0u64, |acc, &pos| {
        let shift = in_width.saturating_sub(u32::from(pos));
        (acc << 1) | (input.checked_shr(shift).unwrap_or(0) & 1)
    })
}

pub(super) fn des_subkeys(key: u64) -> [u64; 16] {
    const MASK28: u64 = 0x0FFF_FFFF;
    let rot28 = |v: u64, n: u32| ((v << n) | (v >> (28 - n))) & MASK28;
    let cd = des_permute(key, 64, &DES_PC1);
    let (mut c, mut d) = ((cd >> 28) & MASK28, cd & MASK28);
    let mut keys = [0u64; 16];
    for (k, &shift) in keys.iter_mut().zip(DES_SHIFTS.iter()) {
        c = rot28(c, shift);
        d = rot28(d, shift);
        *k = des_permute((c << 28) | d, 56, &DES_PC2);
    }
    keys
}

pub(super) fn des_feistel(r: u64, subkey: u64, e_table: &[u8; 48]) -> u64 {
    let x = des_permute(r, 32, e_table) ^ subkey;
    let mut out = 0u64;
    for (i, sbox) in (0u32..).zip(DES_SBOXES.iter()) {
        let six = (x >> (42 - 6 * i)) & 0x3F;
        // Row from the outer two bits, column from the inner four.
        let row = ((six >> 4) & 0b10) | (six & 1);
        let col = (six >> 1) & 0xF;
        let val = sbox.get((row * 16 + col) as usize).copied().unwrap_or(0);
        out = (out << 4) | u64::from(val);
    }
    des_permute(out, 32, &DES_P)
}

pub(super) fn des_encrypt_block(block: u64, subkeys: &[u64; 16], e_table: &[u8; 48]) -> u64 {
    let ip = des_permute(block, 64, &DES_IP);
    let (mut l, mut r) = (ip >> 32, ip & 0xFFFF_FFFF);
    for &k in subkeys {
        let next = l ^ des_feistel(r, k, e_table);
        l = r;
        r = next;
    }
    // The last round is not swapped: pre-output is R16 L16.
    des_permute((r << 32) | l, 64, &DES_FP)
}

/// Returns the 11-character encoded hash (without the 2 salt characters).
pub(super) fn des_crypt(password: &[u8], salt: [u8; 2]) -> Vec<u8> {
    // Only the first 8 bytes count, 7 bits each (the low bit of each key
    // byte is DES's parity bit, so `c << 1` drops the byte's top bit).
    let key = (0..8).fold(0u64, |acc, i| {
        let c = password.get(i).copied().unwrap_or(0);
        (acc << 8) | u64::from(c << 1)
    });
    let subkeys = des_subkeys(key);
    let salt_bits = salt.iter().rev().fold(0u32, |acc, &c| {
        (acc << 6) | u32::from(a64_to_int(c).unwrap_or(0))
    });
    let mut e_table = DES_E;
    for bit in 0..12usize {
        if salt_bits & (1 << bit) != 0 {
            e_table.swap(bit, bit + 24);
        }
    }
    let mut block = 0u64;
    for _ in 0..25 {
        block = des_encrypt_block(block, &subkeys, &e_table);
    }
    // 64 bits plus two zero bits, 6 bits per character, most significant first.
    let wide = u128::from(block) << 2;
    (0..11u32)
        .map(|i| int_to_a64((wide >> (60 - 6 * i)) as u32))
        .collect()
}
