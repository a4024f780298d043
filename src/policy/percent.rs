//! Percent-decoding helpers shared by the policy and the access log: one hex-digit reader
//! and one lenient decoder. The strict decoder that decides what a path means stays in
//! `normalize`, which refuses what this one lets through.

/// Value of one hex digit, either case.
pub fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decoding that never fails: a `%` without two hex digits is kept as is. Only for
/// matching where over-matching is harmless (the hidden-area check, log redaction).
pub fn decode_lenient(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    // `i` stays below the length and every read goes through `get`.
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hi = bytes.get(i + 1).copied().and_then(hex_value);
        let lo = bytes.get(i + 2).copied().and_then(hex_value);
        if let (b'%', Some(hi), Some(lo)) = (b, hi, lo) {
            out.push((hi << 4) | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// [`decode_lenient`] as text (invalid UTF-8 replaced).
pub fn decode_lossy(text: &str) -> String {
    String::from_utf8_lossy(&decode_lenient(text.as_bytes())).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Valid escapes decode in either case; a stray or short `%` stays as written.
    #[test]
    fn lenient_decoding() {
        assert_eq!(decode_lenient(b"%61%4A"), b"aJ");
        assert_eq!(decode_lenient(b"%"), b"%");
        assert_eq!(decode_lenient(b"a%2"), b"a%2");
        assert_eq!(decode_lenient(b"%zz%41"), b"%zzA");
        assert_eq!(decode_lossy("%ff"), "\u{fffd}");
    }
}
