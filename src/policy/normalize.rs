//! Owns request-path canonicalization: one raw path in, one canonical percent-encoded path out (or the reason it is refused), so the proxy decides on exactly the bytes it forwards.
//!
//! Every input is hostile. The approach is to refuse anything that two HTTP
//! stacks could read differently (encoded separators, path parameters, double
//! encoding, control bytes, invalid UTF-8) instead of guessing which reading the
//! upstream will pick, and to give everything else exactly one spelling: dot
//! segments resolved, empty segments merged, unreserved bytes decoded and every
//! other byte encoded with uppercase hex. Because the output is canonical,
//! `normalize_path` is idempotent on its own output, and the route decision
//! cannot depend on how a client chose to percent-encode a path.

use super::percent::hex_value;

/// Longest raw path, and longest canonical path produced, in bytes.
///
/// 8 KiB matches nginx's default `large_client_header_buffers` line size, so no
/// well-behaved client sends more; it also bounds the work done per request.
/// The output is held to the same bound because encoding can grow a path
/// (`"` becomes `%22`), and an output that its own re-normalization would
/// refuse would break idempotence.
pub const MAX_TARGET_BYTES: usize = 8192;

/// Why a request target was refused (each variant answered 400 by the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The raw path, or the canonical path it expands to, is longer than
    /// [`MAX_TARGET_BYTES`]: refused rather than truncated, because a truncated
    /// path is a different path.
    #[error("request path is longer than {MAX_TARGET_BYTES} bytes")]
    TooLong,
    /// The target does not start with `/` (absolute-form `http://x/`,
    /// asterisk-form `*`, empty, or relative): deciding on anything but an
    /// origin-form path would judge something other than what is forwarded.
    #[error("request target is not an origin-form path")]
    NotOriginForm,
    /// A raw byte outside visible ASCII 0x21..=0x7E (space, tab, CR, LF, DEL,
    /// any byte >= 0x80): RFC 3986 never allows one unencoded, and parsers
    /// disagree on where such a target ends (smuggling, header injection).
    #[error("request path contains a byte outside visible ASCII")]
    NonVisibleByte,
    /// A raw `\`: IIS, Windows file servers and some frameworks treat it as a
    /// separator, so `/public\..\admin` could reach a path never judged.
    #[error("request path contains a raw backslash")]
    RawBackslash,
    /// A `;`, raw or as `%3B`: Tomcat, Spring and others strip `;params` from
    /// segments, so `/admin;x` could reach `/admin` while `/admin;x` was judged.
    #[error("request path contains a path parameter (';')")]
    PathParameter,
    /// A raw `?` or `#`: the caller passes the path with its query already
    /// split off, and clients never send fragments, so one here means the
    /// target was not split the way the upstream would split it.
    #[error("request path contains a raw '?' or '#'")]
    QueryOrFragment,
    /// A `%` not followed by two hex digits: decoders disagree on what it
    /// means (kept, dropped, or an error), so the upstream's reading is unknown.
    #[error("request path contains a malformed percent escape")]
    MalformedPercent,
    /// `%2F`: some upstreams decode it into a separator, so
    /// `/a%2F..%2Fadmin` could traverse after the decision was made.
    #[error("request path contains an encoded slash (%2F)")]
    EncodedSlash,
    /// `%5C`: an encoded backslash, refused for the same reason as a raw one.
    #[error("request path contains an encoded backslash (%5C)")]
    EncodedBackslash,
    /// A decoded control byte (`%00`..`%1F`, `%7F`): NUL truncates C strings,
    /// CR/LF forge log lines and headers, and no legitimate path needs one.
    #[error("request path contains an encoded control character")]
    ControlCharacter,
    /// A decoded `%` followed by two hex digits (`%252e`, `%2541`): an upstream
    /// that decodes a second time would see a different path (`%252e%252e`
    /// becomes `..`) from the one judged.
    #[error("request path is percent-encoded twice")]
    DoubleEncoding,
    /// A segment whose decoded bytes are not UTF-8 (overlong `%C0%AE`,
    /// truncated sequences, lone continuation bytes): lenient decoders turn
    /// overlongs into ASCII such as `.` and `/`.
    #[error("request path does not decode to UTF-8")]
    InvalidUtf8,
    /// A `..` that would climb above `/`: nothing above the root can be named,
    /// nginx answers 400 too, and silently clamping would hide the probe.
    #[error("request path escapes the root with '..'")]
    EscapesRoot,
}

/// Normalizes the path part (no query) of a request target. Returns the canonical, percent-encoded path that is both used for the decision and forwarded upstream.
///
/// The canonical form is `/` followed by the non-dot, non-empty segments
/// joined with `/`, with a trailing `/` when the input's last segment was empty
/// or a dot segment (RFC 3986 `remove_dot_segments`: `/a/b/..` is `/a/`).
/// Within a segment, unreserved characters and the sub-delims that are safe in
/// a segment (`! $ & ' ( ) * + , = : @`) are written literally and every other
/// byte as `%XX` with uppercase hex.
///
/// # Errors
///
/// Returns the [`PathError`] describing the first refused condition. The raw
/// bytes are checked over the whole input first (length, origin form, byte
/// classes), then segments are decoded left to right.
pub fn normalize_path(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    if bytes.len() > MAX_TARGET_BYTES {
        return Err(PathError::TooLong);
    }
    let Some((&b'/', rest)) = bytes.split_first() else {
        return Err(PathError::NotOriginForm);
    };
    // The raw scan covers the whole input before any decoding so that which
    // error an input with several faults gets does not depend on segment order.
    if let Some(err) = bytes.iter().find_map(|&b| raw_byte_error(b)) {
        return Err(err);
    }

    let mut kept: Vec<Vec<u8>> = Vec::new();
    // True when the last raw segment was empty or a dot segment: the
    // canonical form then ends in '/', as remove_dot_segments would leave it.
    let mut trailing_slash = false;
    for piece in rest.split(|&b| b == b'/') {
        // Dot segments are recognized on the decoded text, so `%2e%2E` and
        // `.%2e` are `..` exactly as an upstream that decodes would see them.
        let segment = decode_segment(piece)?;
        trailing_slash = match segment.as_slice() {
            b"" | b"." => true,
            b".." => {
                if kept.pop().is_none() {
                    return Err(PathError::EscapesRoot);
                }
                true
            }
            _ => {
                kept.push(segment);
                false
            }
        };
    }

    let mut out = String::with_capacity(bytes.len());
    for segment in &kept {
        out.push('/');
        encode_segment_into(segment, &mut out);
    }
    if kept.is_empty() || trailing_slash {
        out.push('/');
    }
    if out.len() > MAX_TARGET_BYTES {
        return Err(PathError::TooLong);
    }
    Ok(out)
}

/// Classifies one raw (not yet decoded) byte; `None` means it may stay.
fn raw_byte_error(b: u8) -> Option<PathError> {
    match b {
        b'\\' => Some(PathError::RawBackslash),
        b';' => Some(PathError::PathParameter),
        b'?' | b'#' => Some(PathError::QueryOrFragment),
        0x21..=0x7E => None,
        _ => Some(PathError::NonVisibleByte),
    }
}

/// Classifies one byte produced by a percent escape; `Ok` means it may stay.
fn decoded_byte_check(b: u8) -> Result<(), PathError> {
    match b {
        b'/' => Err(PathError::EncodedSlash),
        b'\\' => Err(PathError::EncodedBackslash),
        b';' => Err(PathError::PathParameter),
        0x00..=0x1F | 0x7F => Err(PathError::ControlCharacter),
        _ => Ok(()),
    }
}

/// Percent-decodes one raw segment (already known to be visible ASCII without
/// `/`, `\`, `;`, `?`, `#`) and checks the decoded bytes as a whole.
fn decode_segment(piece: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(piece.len());
    // `i` stays below the slice length, so `i + 3` cannot overflow, and every
    // read goes through `get`, so a short escape at the end cannot panic.
    let mut i = 0;
    while let Some(&b) = piece.get(i) {
        if b == b'%' {
            let hi = piece.get(i + 1).copied().and_then(hex_value);
            let lo = piece.get(i + 2).copied().and_then(hex_value);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(PathError::MalformedPercent);
            };
            let decoded = (hi << 4) | lo;
            decoded_byte_check(decoded)?;
            out.push(decoded);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    // Checked on the decoded bytes, not the raw ones: `%25%34%31` decodes to
    // `%41` just like `%2541` does. A raw-only check would accept it, emit
    // `%2541`, and then refuse its own output, breaking idempotence.
    if out
        .windows(3)
        .any(|w| matches!(w, [b'%', a, b] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit()))
    {
        return Err(PathError::DoubleEncoding);
    }
    // Per segment is enough: '/' is ASCII, so it can never sit inside a valid
    // multi-byte sequence, and a sequence cut by a '/' fails on both sides.
    if std::str::from_utf8(&out).is_err() {
        return Err(PathError::InvalidUtf8);
    }
    Ok(out)
}

/// Uppercase hex digit for the low nibble of `nibble`.
fn hex_upper(nibble: u8) -> char {
    char::from(match nibble & 0x0F {
        n @ 0..=9 => b'0' + n,
        n => b'A' + (n - 10),
    })
}

/// Bytes written literally in a canonical segment: RFC 3986 unreserved plus
/// the sub-delims and `:`/`@` that mean nothing special inside a segment. `;`
/// is left out (refused earlier anyway) and `%` always gets encoded, so a
/// literal `%` in the output only ever starts an escape.
fn is_literal(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'='
                | b':'
                | b'@'
        )
}

/// Appends the canonical spelling of one decoded segment.
fn encode_segment_into(segment: &[u8], out: &mut String) {
    for &b in segment {
        if is_literal(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_upper(b >> 4));
            out.push(hex_upper(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PathError::{
        ControlCharacter, DoubleEncoding, EncodedBackslash, EncodedSlash, EscapesRoot, InvalidUtf8,
        MalformedPercent, NonVisibleByte, NotOriginForm, PathParameter, QueryOrFragment,
        RawBackslash, TooLong,
    };
    use super::*;
    use proptest::prelude::*;

    /// (raw input, expected result, the edge case the row pins).
    type Case = (&'static str, Result<&'static str, PathError>, &'static str);

    const CASES: &[Case] = &[
        // Accepted inputs and their canonical spelling.
        ("/", Ok("/"), "root stays root"),
        ("/api/jobs/1", Ok("/api/jobs/1"), "plain path is unchanged"),
        (
            "/%61dmin",
            Ok("/admin"),
            "encoded lowercase letter is decoded",
        ),
        (
            "/%41DMIN",
            Ok("/ADMIN"),
            "encoded uppercase letter keeps its case",
        ),
        (
            "/%61%64%6D%69%6e",
            Ok("/admin"),
            "fully encoded name, mixed hex case",
        ),
        ("/%61pi", Ok("/api"), "example from the spec"),
        ("/a/%2e%2e/b", Ok("/b"), "%2e%2e is a dot-dot segment"),
        ("/a/%2E%2e/b", Ok("/b"), "mixed-case encoded dot-dot"),
        ("/a/.%2E/b", Ok("/b"), "half-encoded dot-dot"),
        ("/a/%2e/b", Ok("/a/b"), "encoded single dot"),
        ("/a/./b", Ok("/a/b"), "single dot segment removed"),
        ("/a/../b", Ok("/b"), "dot-dot removes the previous segment"),
        ("//admin", Ok("/admin"), "leading double slash merged"),
        ("///", Ok("/"), "only slashes collapse to root"),
        (
            "/a//b/",
            Ok("/a/b/"),
            "inner double slash merged, trailing kept",
        ),
        ("/a/b/", Ok("/a/b/"), "trailing slash kept"),
        ("/a/b//", Ok("/a/b/"), "trailing double slash becomes one"),
        (
            "/a/b/..",
            Ok("/a/"),
            "trailing dot-dot leaves a trailing slash",
        ),
        (
            "/a/b/.",
            Ok("/a/b/"),
            "trailing dot leaves a trailing slash",
        ),
        ("/a/b/%2e%2e", Ok("/a/"), "trailing encoded dot-dot"),
        ("/a/..", Ok("/"), "climb back to root"),
        ("/.", Ok("/"), "dot at root"),
        ("/a/b/../../c/", Ok("/c/"), "two climbs then a segment"),
        ("/...", Ok("/..."), "three dots is an ordinary segment"),
        (
            "/.a/..b",
            Ok("/.a/..b"),
            "dots inside names are not dot segments",
        ),
        ("/a%2ejson", Ok("/a.json"), "encoded dot inside a name"),
        (
            "/caf%c3%a9",
            Ok("/caf%C3%A9"),
            "UTF-8 re-encoded with uppercase hex",
        ),
        ("/%e2%82%ac", Ok("/%E2%82%AC"), "three-byte UTF-8 character"),
        (
            "/%F0%9F%A6%80",
            Ok("/%F0%9F%A6%80"),
            "four-byte UTF-8 character",
        ),
        (
            "/%25",
            Ok("/%25"),
            "lone encoded percent is a literal percent",
        ),
        (
            "/%25zz",
            Ok("/%25zz"),
            "encoded percent followed by non-hex",
        ),
        (
            "/%25a",
            Ok("/%25a"),
            "encoded percent followed by one hex digit",
        ),
        (
            "/%25a/b",
            Ok("/%25a/b"),
            "percent near a segment end is not an escape",
        ),
        ("/%20", Ok("/%20"), "encoded space stays encoded"),
        (
            "/a%3Fb%23c",
            Ok("/a%3Fb%23c"),
            "encoded ? and # stay encoded",
        ),
        ("/x%2a", Ok("/x*"), "encoded sub-delim is decoded"),
        ("/%7e", Ok("/~"), "encoded tilde is decoded"),
        (
            "/~u/!$&'()*+,=:@",
            Ok("/~u/!$&'()*+,=:@"),
            "segment-safe sub-delims stay literal",
        ),
        ("/a\"b", Ok("/a%22b"), "raw quote gets encoded"),
        (
            "/{x}|[y]^`<>",
            Ok("/%7Bx%7D%7C%5By%5D%5E%60%3C%3E"),
            "raw unsafe visible ASCII gets encoded",
        ),
        (
            "/%7Badmin%7D",
            Ok("/%7Badmin%7D"),
            "encoded braces stay encoded",
        ),
        ("/*", Ok("/*"), "star as a segment is just a character"),
        // Not origin form.
        ("", Err(NotOriginForm), "empty target"),
        ("*", Err(NotOriginForm), "asterisk-form"),
        ("http://x/", Err(NotOriginForm), "absolute-form"),
        ("a/b", Err(NotOriginForm), "relative path"),
        ("%2Fadmin", Err(NotOriginForm), "encoded leading slash"),
        // Climbing above the root.
        ("/..", Err(EscapesRoot), "dot-dot at root"),
        ("/%2e%2e", Err(EscapesRoot), "encoded dot-dot at root"),
        ("/a/../..", Err(EscapesRoot), "climb one further than depth"),
        ("/../a", Err(EscapesRoot), "climb first, then descend"),
        ("//..", Err(EscapesRoot), "empty segments give no depth"),
        ("/./..", Err(EscapesRoot), "dot gives no depth"),
        // Encoded separators.
        ("/%2F", Err(EncodedSlash), "encoded slash uppercase"),
        ("/%2f", Err(EncodedSlash), "encoded slash lowercase"),
        (
            "/a%2f..%2fadmin",
            Err(EncodedSlash),
            "traversal through encoded slashes",
        ),
        ("/%5c", Err(EncodedBackslash), "encoded backslash lowercase"),
        ("/%5C", Err(EncodedBackslash), "encoded backslash uppercase"),
        ("/\\", Err(RawBackslash), "raw backslash"),
        (
            "/a\\..\\admin",
            Err(RawBackslash),
            "Windows-style traversal",
        ),
        // Control characters.
        ("/docs%0a", Err(ControlCharacter), "encoded LF"),
        ("/docs%00", Err(ControlCharacter), "encoded NUL"),
        ("/x%0D%0A", Err(ControlCharacter), "encoded CRLF"),
        ("/x%09", Err(ControlCharacter), "encoded tab"),
        ("/x%1f", Err(ControlCharacter), "last C0 control"),
        ("/x%7F", Err(ControlCharacter), "encoded DEL"),
        // Malformed escapes.
        ("/%", Err(MalformedPercent), "percent at the end"),
        ("/%4", Err(MalformedPercent), "percent with one digit"),
        ("/%zz", Err(MalformedPercent), "percent with no hex digits"),
        ("/%g1", Err(MalformedPercent), "first digit not hex"),
        ("/%1g", Err(MalformedPercent), "second digit not hex"),
        (
            "/%%41",
            Err(MalformedPercent),
            "percent followed by an escape",
        ),
        ("/%4/1", Err(MalformedPercent), "escape cut by a slash"),
        // Double encoding.
        ("/%252e", Err(DoubleEncoding), "double-encoded dot"),
        ("/%252E%252E", Err(DoubleEncoding), "double-encoded dot-dot"),
        ("/%2541", Err(DoubleEncoding), "double-encoded letter"),
        (
            "/%25%34%31",
            Err(DoubleEncoding),
            "double encoding spelled with escapes",
        ),
        ("/%25252e", Err(DoubleEncoding), "triple encoding"),
        ("/a%252fb", Err(DoubleEncoding), "double-encoded slash"),
        // UTF-8.
        ("/%C0%AE", Err(InvalidUtf8), "overlong dot"),
        ("/%c0%ae%c0%ae", Err(InvalidUtf8), "overlong dot-dot"),
        ("/%c0%af", Err(InvalidUtf8), "overlong slash"),
        ("/%ff", Err(InvalidUtf8), "byte never valid in UTF-8"),
        ("/%80", Err(InvalidUtf8), "lone continuation byte"),
        ("/%e2%82", Err(InvalidUtf8), "truncated sequence"),
        ("/%e2%82/%ac", Err(InvalidUtf8), "sequence split by a slash"),
        ("/%ed%a0%80", Err(InvalidUtf8), "encoded UTF-16 surrogate"),
        // Raw bytes outside visible ASCII.
        ("/a b", Err(NonVisibleByte), "raw space"),
        ("/a\tb", Err(NonVisibleByte), "raw tab"),
        ("/a\r\nb", Err(NonVisibleByte), "raw CRLF"),
        ("/a\0", Err(NonVisibleByte), "raw NUL"),
        ("/a\u{7f}", Err(NonVisibleByte), "raw DEL"),
        ("/\u{e9}", Err(NonVisibleByte), "raw non-ASCII character"),
        ("/\u{ff0f}admin", Err(NonVisibleByte), "raw fullwidth slash"),
        // Path parameters, queries, fragments.
        ("/admin;x", Err(PathParameter), "raw path parameter"),
        ("/admin;", Err(PathParameter), "raw empty path parameter"),
        (
            "/admin%3bx",
            Err(PathParameter),
            "encoded path parameter lowercase",
        ),
        (
            "/admin%3B",
            Err(PathParameter),
            "encoded path parameter uppercase",
        ),
        ("/a?b=1", Err(QueryOrFragment), "query not split off"),
        (
            "/a#frag",
            Err(QueryOrFragment),
            "fragment sent by the client",
        ),
        // Order of checks on inputs with several faults.
        (
            "/a b%2f",
            Err(NonVisibleByte),
            "raw scan runs before decoding",
        ),
        (
            "/%2f/..",
            Err(EncodedSlash),
            "decoding fault before climbing",
        ),
    ];

    /// Pins every row of the table: each raw input maps to its canonical path or its refusal.
    #[test]
    fn table_of_raw_inputs() {
        assert!(CASES.len() >= 60, "the table must stay at least 60 rows");
        for (raw, want, why) in CASES {
            let want = want.clone().map(String::from);
            assert_eq!(normalize_path(raw), want, "{why}: input {raw:?}");
        }
    }

    /// Pins that every accepted row of the table is a fixed point of normalization.
    #[test]
    fn table_outputs_are_fixed_points() {
        for (raw, want, why) in CASES {
            if let Ok(canonical) = want {
                assert_eq!(
                    normalize_path(canonical).as_deref(),
                    Ok(*canonical),
                    "{why}: output of {raw:?}"
                );
            }
        }
    }

    /// Pins the length boundary: exactly `MAX_TARGET_BYTES` is accepted, one more byte is `TooLong`.
    #[test]
    fn length_boundary() {
        let at_limit = format!("/{}", "a".repeat(MAX_TARGET_BYTES - 1));
        assert_eq!(normalize_path(&at_limit).as_deref(), Ok(at_limit.as_str()));
        let over = format!("/{}", "a".repeat(MAX_TARGET_BYTES));
        assert_eq!(over.len(), 8193);
        assert_eq!(normalize_path(&over), Err(TooLong));
    }

    /// Pins that `TooLong` is checked before anything else, even on a target that is not origin form.
    #[test]
    fn too_long_wins_over_other_faults() {
        let over = format!("x{}", " ".repeat(MAX_TARGET_BYTES));
        assert_eq!(normalize_path(&over), Err(TooLong));
    }

    /// Pins that a short input whose canonical form grows past the limit (raw `"` becomes `%22`) is `TooLong`, so no output is refused by its own re-normalization.
    #[test]
    fn expansion_past_limit_is_too_long() {
        let raw = format!("/{}", "\"".repeat(3000));
        assert!(raw.len() <= MAX_TARGET_BYTES);
        assert_eq!(normalize_path(&raw), Err(TooLong));
    }

    /// Pins that dot segments shrink the output but never let a long input through the raw limit.
    #[test]
    fn long_input_of_dot_segments_is_still_too_long() {
        let raw = format!("/a{}", "/.".repeat(MAX_TARGET_BYTES / 2));
        assert!(raw.len() > MAX_TARGET_BYTES);
        assert_eq!(normalize_path(&raw), Err(TooLong));
    }

    /// Pins that many climbs which stay inside the root resolve without error.
    #[test]
    fn deep_climb_back_to_root() {
        let raw = format!("{}{}", "/a".repeat(1000), "/..".repeat(1000));
        assert_eq!(normalize_path(&raw).as_deref(), Ok("/"));
    }

    /// Pins every single decoded byte: each escape %00..%FF is either refused with the right variant or round-trips.
    #[test]
    fn every_single_escape() {
        for b in 0u8..=255 {
            for hex in [format!("{b:02x}"), format!("{b:02X}")] {
                let raw = format!("/x%{hex}");
                let got = normalize_path(&raw);
                let want = match b {
                    b'/' => Err(EncodedSlash),
                    b'\\' => Err(EncodedBackslash),
                    b';' => Err(PathParameter),
                    0x00..=0x1F | 0x7F => Err(ControlCharacter),
                    0x80..=0xFF => Err(InvalidUtf8),
                    _ if is_literal(b) => Ok(format!("/x{}", char::from(b))),
                    _ => Ok(format!("/x%{b:02X}")),
                };
                assert_eq!(got, want, "escape %{hex}");
            }
        }
    }

    /// Pins every single raw byte after "/x": refused by class, encoded, or kept literally.
    #[test]
    fn every_single_raw_ascii_byte() {
        for b in 0u8..=0x7F {
            let raw = format!("/x{}", char::from(b));
            let got = normalize_path(&raw);
            let want = match b {
                b'\\' => Err(RawBackslash),
                b';' => Err(PathParameter),
                b'?' | b'#' => Err(QueryOrFragment),
                b'%' => Err(MalformedPercent),
                b'/' => Ok("/x/".to_string()),
                0x21..=0x7E if is_literal(b) => Ok(raw.clone()),
                0x21..=0x7E => Ok(format!("/x%{b:02X}")),
                _ => Err(NonVisibleByte),
            };
            assert_eq!(got, want, "raw byte 0x{b:02X}");
        }
    }

    /// Pins that the error Display texts are non-empty, since the caller may log them.
    #[test]
    fn errors_have_messages() {
        for err in [
            TooLong,
            NotOriginForm,
            NonVisibleByte,
            RawBackslash,
            PathParameter,
            QueryOrFragment,
            MalformedPercent,
            EncodedSlash,
            EncodedBackslash,
            ControlCharacter,
            DoubleEncoding,
            InvalidUtf8,
            EscapesRoot,
        ] {
            assert!(!err.to_string().is_empty(), "{err:?}");
        }
    }

    /// Tokens the idempotence property builds paths from: separators, dots,
    /// percent signs, hex digits of both cases, refused bytes and whole
    /// escapes, so that escapes, dot segments and near-misses all come up often.
    const TOKENS: &[&str] = &[
        "/", "/", ".", ".", "%", "%", "2", "5", "e", "E", "f", "F", "c", "C", "a", "A", "4", "1",
        "0", "3", "b", "x", "z", "~", ";", "\"", "%2e", "%2E", "%25", "%2f", "%5c", "%3b",
        "%c3%a9", "%C0%AE", "%41", "%22", "%7e", "%80", "..", "//",
    ];

    fn token_path() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(TOKENS), 0..24)
            .prop_map(|tokens| format!("/{}", tokens.concat()))
    }

    /// Asserts the shape every canonical path has.
    fn assert_canonical_shape(out: &str) {
        assert!(out.starts_with('/'), "{out:?} must start with '/'");
        assert!(!out.contains("//"), "{out:?} must not contain '//'");
        assert!(out.len() <= MAX_TARGET_BYTES, "{out:?} too long");
        for seg in out.split('/') {
            assert!(seg != "." && seg != "..", "{out:?} has a dot segment");
        }
        let bytes = out.as_bytes();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if b == b'%' {
                let hex_ok = |j: usize| {
                    bytes
                        .get(j)
                        .is_some_and(|d| d.is_ascii_digit() || (b'A'..=b'F').contains(d))
                };
                assert!(hex_ok(i + 1) && hex_ok(i + 2), "{out:?}: bad escape at {i}");
                i += 3;
            } else {
                assert!(b == b'/' || is_literal(b), "{out:?}: byte 0x{b:02X} at {i}");
                i += 1;
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Pins idempotence: for paths made of '/', '.', '%', hex digits of both cases, ';' and whole escapes, normalize(normalize(x)) == normalize(x) on every Ok result.
        #[test]
        fn normalize_is_idempotent(raw in token_path()) {
            if let Ok(once) = normalize_path(&raw) {
                prop_assert_eq!(normalize_path(&once), Ok(once.clone()));
            }
        }

        /// Pins the canonical shape of every Ok output on the token alphabet: leading '/', no '//', no dot segment, only literal bytes or uppercase escapes.
        #[test]
        fn token_outputs_are_canonical(raw in token_path()) {
            if let Ok(out) = normalize_path(&raw) {
                assert_canonical_shape(&out);
            }
        }

        /// Pins no panic and canonical, idempotent output on arbitrary Unicode input, with and without a leading '/'.
        #[test]
        fn arbitrary_input_never_panics(body in ".{0,64}", slash in any::<bool>()) {
            let raw = if slash { format!("/{body}") } else { body };
            if let Ok(out) = normalize_path(&raw) {
                assert_canonical_shape(&out);
                prop_assert_eq!(normalize_path(&out), Ok(out.clone()));
            }
        }
    }
}
