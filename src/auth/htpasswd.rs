//! Owns htpasswd files: parsing them, verifying every nginx/Apache hash format, writing new hashes.
//!
//! Reads `user:hash` files as nginx and Apache do, classifies and verifies
//! bcrypt, argon2, apr1/MD5-crypt, SHA-crypt, `{SHA}`, `{SSHA}`, DES crypt
//! and plain text, and writes argon2id, bcrypt and apr1 hashes.
//!
//! Everything here handles attacker-controlled passwords and admin-controlled
//! files, so the rules are strict: no panics on any input, no secret in any
//! message or `Debug` output, constant-time comparison of every derived
//! digest, and an unknown user costs the same work as a wrong password.
//!
//! Deliberate deviations from "anything unrecognized is plain text"
//! (see [`PasswordHash::parse`]): a field that starts with `$` or looks like
//! `{SCHEME}` but is not a supported scheme (for example a yescrypt `$y$` hash
//! copied from `/etc/shadow`), a BSDi extended DES hash (`_` + 19
//! characters), or a field that starts with the `!`/`*` account-lock markers
//! never verifies. Treating those as plain text would let anyone who
//! has seen the hash log in with the hash itself, and neither nginx nor Apache
//! on Unix would accept them as plain text either (both hand them to
//! `crypt(3)`, which fails).

// The module is security-critical: make the "no panic" rule machine-checked
// under clippy, not just a convention. Tests opt out below.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use argon2::password_hash::{
    PasswordHash as PhcHash, PasswordHasher, PasswordVerifier, SaltString,
};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Longest password we will run through a hash. SHA-crypt is quadratic in the
/// password length (its "DP" step hashes the password `len` times), so an
/// unbounded Basic-auth header would be a CPU denial of service. 4 KiB is far
/// above anything `htpasswd` can produce (it reads at most 255 bytes).
const MAX_PASSWORD_LEN: usize = 4096;

/// Argon2 parameters above these limits are refused at load: the crate
/// allocates `m` KiB up front, and an allocation failure aborts the process
/// (it is not a catchable panic). 2 GiB covers RFC 9106's first
/// recommendation (m = 2 GiB, t = 1); the work budget covers libsodium's
/// "sensitive" preset (1 GiB x 4 passes).
const MAX_ARGON2_M_KIB: u32 = 2 * 1024 * 1024;
const MAX_ARGON2_T: u32 = 256;
const MAX_ARGON2_WORK_KIB: u64 = 8 * 1024 * 1024;

/// SHA-crypt round limits from Drepper's specification (and glibc).
const SHA_ROUNDS_MIN: u32 = 1000;
const SHA_ROUNDS_MAX: u32 = 999_999_999;
const SHA_ROUNDS_DEFAULT: u32 = 5000;

/// The `crypt(3)` base-64 alphabet shared by DES, MD5 and SHA crypt.
const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Cost parameters for the argon2id hashes we write: OWASP's minimum
/// recommendation (19 MiB, 2 passes, 1 lane).
const ARGON2_WRITE_M_KIB: u32 = 19_456;
const ARGON2_WRITE_T: u32 = 2;
const ARGON2_WRITE_P: u32 = 1;

/// The hash formats nginx and Apache accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashKind {
    Bcrypt,
    Argon2,
    Apr1,
    Md5Crypt,
    Sha256Crypt,
    Sha512Crypt,
    /// `{SHA}`: unsalted SHA-1.
    Sha1,
    /// `{SSHA}`: salted SHA-1.
    SaltedSha1,
    DesCrypt,
    /// `{PLAIN}x` or bare text.
    Plain,
}

impl HashKind {
    /// True for formats that are cheap to brute-force or not hashed at all.
    pub fn is_weak(self) -> bool {
        matches!(
            self,
            HashKind::DesCrypt
                | HashKind::Plain
                | HashKind::Sha1
                | HashKind::SaltedSha1
                | HashKind::Apr1
                | HashKind::Md5Crypt
        )
    }

    /// A short stable name for logs and `frontdoor` output.
    pub fn name(self) -> &'static str {
        match self {
            HashKind::Bcrypt => "bcrypt",
            HashKind::Argon2 => "argon2",
            HashKind::Apr1 => "apr1",
            HashKind::Md5Crypt => "md5-crypt",
            HashKind::Sha256Crypt => "sha256-crypt",
            HashKind::Sha512Crypt => "sha512-crypt",
            HashKind::Sha1 => "sha1",
            HashKind::SaltedSha1 => "ssha",
            HashKind::DesCrypt => "des-crypt",
            HashKind::Plain => "plain",
        }
    }

    /// Rough verification cost, used only to break ties when choosing the
    /// dummy hash for unknown users: on a tie we prefer the slower kind, so an
    /// unknown user is never the cheap case.
    fn cost_rank(self) -> u8 {
        match self {
            HashKind::Argon2 => 9,
            HashKind::Bcrypt => 8,
            HashKind::Sha512Crypt => 7,
            HashKind::Sha256Crypt => 6,
            HashKind::Apr1 => 5,
            HashKind::Md5Crypt => 4,
            HashKind::DesCrypt => 3,
            HashKind::SaltedSha1 => 2,
            HashKind::Sha1 => 1,
            HashKind::Plain => 0,
        }
    }

    /// Formats defined on NUL-terminated C strings (crypt(3), apr_md5,
    /// OpenBSD bcrypt). Their reference implementations silently cut a
    /// password at the first NUL, so no stored hash can come from a password
    /// containing one; we refuse such passwords instead of emulating the cut.
    fn is_c_string_scheme(self) -> bool {
        matches!(
            self,
            HashKind::Bcrypt
                | HashKind::Apr1
                | HashKind::Md5Crypt
                | HashKind::Sha256Crypt
                | HashKind::Sha512Crypt
                | HashKind::DesCrypt
        )
    }
}

/// Which magic an MD5-crypt hash uses; the algorithm is otherwise identical.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Md5Magic {
    Apr1,
    Md5,
}

impl Md5Magic {
    fn prefix(self) -> &'static [u8] {
        match self {
            Md5Magic::Apr1 => b"$apr1$",
            Md5Magic::Md5 => b"$1$",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ShaVariant {
    Sha256,
    Sha512,
}

/// Parameters that decide how long a verification takes; entries with equal
/// keys (and kind) cost the same to verify.
type CostKey = (u32, u32, u32, u32);

/// The parsed form of a hash. Parsing once at load both validates the line
/// (so problems are reported at startup, not at first login) and keeps the
/// per-request work to the hash computation itself.
#[derive(Clone)]
enum Repr {
    Bcrypt {
        cost: u32,
        salt: [u8; 16],
        digest: [u8; 23],
    },
    /// Stored as text because `argon2`'s parsed form borrows the string;
    /// re-parsing at verify time is negligible next to the hash itself.
    Argon2 {
        phc: String,
        cost: CostKey,
    },
    Md5 {
        magic: Md5Magic,
        salt: Vec<u8>,
        digest: Vec<u8>,
    },
    ShaCrypt {
        variant: ShaVariant,
        rounds: u32,
        salt: Vec<u8>,
        digest: Vec<u8>,
    },
    Sha1 {
        digest: [u8; 20],
    },
    SaltedSha1 {
        digest: [u8; 20],
        salt: Vec<u8>,
    },
    Des {
        salt: [u8; 2],
        digest: [u8; 11],
    },
    Plain {
        text: Vec<u8>,
    },
    /// Recognized (or deliberately refused) but unusable: never verifies.
    /// The reason is a fixed text, so it can never echo the hash.
    Invalid {
        reason: &'static str,
    },
}

/// One stored password hash, parsed once at load.
#[derive(Clone)]
pub struct PasswordHash {
    kind: HashKind,
    repr: Repr,
}

impl fmt::Debug for PasswordHash {
    // Deliberately prints only the kind: hashes of weak formats are as good
    // as passwords, and plain-text "hashes" are passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHash")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl PasswordHash {
    /// Classifies and parses one hash field.
    ///
    /// Recognized prefixes: `$2a$ $2b$ $2x$ $2y$` (bcrypt), `$argon2id$
    /// $argon2i$ $argon2d$`, `$apr1$`, `$1$`, `$5$`, `$6$`, `{SHA}`, `{SSHA}`,
    /// `{PLAIN}`. Otherwise: 13 characters of `[./0-9A-Za-z]` are DES crypt
    /// (as nginx's `crypt(3)` fallback reads them), and anything else is bare
    /// plain text -- except unsupported `$id$`/`{SCHEME}`/BSDi `_` hashes and fields
    /// starting with `!` or `*`, which have kind `Plain` but never verify
    /// (see the module documentation). A malformed hash of a recognized
    /// format keeps its kind and never verifies.
    pub fn parse(field: &str) -> PasswordHash {
        let b = field.as_bytes();
        let (kind, repr) = if field.is_empty() {
            (HashKind::Plain, invalid("empty password hash"))
        } else if is_bcrypt_prefix(b) {
            (HashKind::Bcrypt, parse_bcrypt(b))
        } else if field.starts_with("$argon2") {
            (HashKind::Argon2, parse_argon2(field))
        } else if let Some(rest) = b.strip_prefix(b"$apr1$") {
            (HashKind::Apr1, parse_md5(Md5Magic::Apr1, rest))
        } else if let Some(rest) = b.strip_prefix(b"$1$") {
            (HashKind::Md5Crypt, parse_md5(Md5Magic::Md5, rest))
        } else if let Some(rest) = b.strip_prefix(b"$5$") {
            (
                HashKind::Sha256Crypt,
                parse_sha_crypt(ShaVariant::Sha256, rest),
            )
        } else if let Some(rest) = b.strip_prefix(b"$6$") {
            (
                HashKind::Sha512Crypt,
                parse_sha_crypt(ShaVariant::Sha512, rest),
            )
        } else if let Some(rest) = b.strip_prefix(b"{SHA}") {
            (HashKind::Sha1, parse_sha1(rest))
        } else if let Some(rest) = b.strip_prefix(b"{SSHA}") {
            (HashKind::SaltedSha1, parse_ssha(rest))
        } else if let Some(rest) = b.strip_prefix(b"{PLAIN}") {
            let repr = if rest.is_empty() {
                // nginx would accept an empty password here; a proxy that
                // guards agents should not.
                invalid("empty {PLAIN} password")
            } else {
                Repr::Plain {
                    text: rest.to_vec(),
                }
            };
            (HashKind::Plain, repr)
        } else if b.len() == 13 && b.iter().all(|&c| a64_to_int(c).is_some()) {
            (HashKind::DesCrypt, parse_des(b))
        } else if b.len() == 20
            && b.first() == Some(&b'_')
            && all_a64(b.get(1..).unwrap_or_default())
        {
            (
                HashKind::Plain,
                invalid("unsupported BSDi extended DES hash; not treated as plain text"),
            )
        } else if b.first() == Some(&b'$') {
            (
                HashKind::Plain,
                invalid(
                    "unsupported '$id$' hash scheme (e.g. yescrypt); not treated as plain text",
                ),
            )
        } else if looks_like_ldap_scheme(b) {
            (
                HashKind::Plain,
                invalid("unsupported '{SCHEME}' hash; not treated as plain text"),
            )
        } else if matches!(b.first(), Some(b'!' | b'*')) {
            (
                HashKind::Plain,
                invalid("account locked ('!' or '*' prefix); no password matches"),
            )
        } else {
            (HashKind::Plain, Repr::Plain { text: b.to_vec() })
        };
        PasswordHash { kind, repr }
    }

    /// The format this hash was classified as.
    pub fn kind(&self) -> HashKind {
        self.kind
    }

    /// Why this hash can never verify, if it cannot. Fixed text only.
    fn problem(&self) -> Option<&'static str> {
        match self.repr {
            Repr::Invalid { reason } => Some(reason),
            _ => None,
        }
    }

    /// Parameters that determine verification time (see [`CostKey`]).
    fn cost_key(&self) -> CostKey {
        match &self.repr {
            Repr::Bcrypt { cost, .. } => (*cost, 0, 0, 0),
            Repr::Argon2 { cost, .. } => *cost,
            Repr::ShaCrypt { rounds, .. } => (*rounds, 0, 0, 0),
            _ => (0, 0, 0, 0),
        }
    }

    /// True if `password` matches. Every digest comparison is constant-time.
    pub fn verify(&self, password: &[u8]) -> bool {
        if password.len() > MAX_PASSWORD_LEN {
            return false;
        }
        if self.kind.is_c_string_scheme() && password.contains(&0) {
            return false;
        }
        match &self.repr {
            Repr::Bcrypt { cost, salt, digest } => verify_bcrypt(password, *cost, *salt, digest),
            Repr::Argon2 { phc, .. } => verify_argon2(password, phc),
            Repr::Md5 {
                magic,
                salt,
                digest,
            } => ct_eq(&md5_crypt(password, magic.prefix(), salt), digest),
            Repr::ShaCrypt {
                variant,
                rounds,
                salt,
                digest,
            } => {
                let computed = match variant {
                    ShaVariant::Sha256 => {
                        let raw = sha_crypt_raw::<Sha256>(password, salt, *rounds);
                        crypt_b64(&raw, &SHA256_GROUPS)
                    }
                    ShaVariant::Sha512 => {
                        let raw = sha_crypt_raw::<Sha512>(password, salt, *rounds);
                        crypt_b64(&raw, &SHA512_GROUPS)
                    }
                };
                ct_eq(&computed, digest)
            }
            Repr::Sha1 { digest } => ct_eq(&Sha1::digest(password), digest),
            Repr::SaltedSha1 { digest, salt } => {
                let computed = Sha1::new()
                    .chain_update(password)
                    .chain_update(salt)
                    .finalize();
                ct_eq(&computed, digest)
            }
            Repr::Des { salt, digest } => ct_eq(&des_crypt(password, *salt), digest),
            // Compare fixed-size digests so neither the stored password's
            // length nor a common prefix leaks through timing.
            Repr::Plain { text } => ct_eq(&Sha256::digest(password), &Sha256::digest(text)),
            Repr::Invalid { .. } => false,
        }
    }
}

fn invalid(reason: &'static str) -> Repr {
    Repr::Invalid { reason }
}

/// Constant-time equality. Lengths are public (fixed by the format), so the
/// early return of `subtle` on a length mismatch leaks nothing.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `{SCHEME}rest` where SCHEME looks like an LDAP/Dovecot scheme name
/// (`{SSHA256}`, `{SMD5}`, `{CRYPT}`, a lowercase `{sha}`, ...).
fn looks_like_ldap_scheme(b: &[u8]) -> bool {
    let Some(rest) = b.strip_prefix(b"{") else {
        return false;
    };
    let Some(end) = rest.iter().position(|&c| c == b'}') else {
        return false;
    };
    let name = rest.get(..end).unwrap_or_default();
    !name.is_empty()
        && name.len() <= 32
        && name
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_')
}

// ---------------------------------------------------------------------------
// crypt(3) base-64 helpers

fn a64_to_int(c: u8) -> Option<u8> {
    match c {
        b'.' => Some(0),
        b'/' => Some(1),
        b'0'..=b'9' => Some(c - b'0' + 2),
        b'A'..=b'Z' => Some(c - b'A' + 12),
        b'a'..=b'z' => Some(c - b'a' + 38),
        _ => None,
    }
}

fn int_to_a64(v: u32) -> u8 {
    // `v & 63` is always a valid index; `get` keeps the code panic-free by
    // construction rather than by argument.
    ITOA64.get((v & 63) as usize).copied().unwrap_or(b'.')
}

fn all_a64(b: &[u8]) -> bool {
    b.iter().all(|&c| a64_to_int(c).is_some())
}

/// Marks a missing byte in an encoding group: `digest.get(NONE)` is `None`
/// for every digest we encode (all are shorter than 255 bytes), which reads
/// as zero, exactly like the reference code's literal `0` arguments.
const NONE: u8 = 0xFF;

/// `(b2, b1, b0, chars)` groups of the reference `b64_from_24bit` calls.
type Groups<const N: usize> = [(u8, u8, u8, u8); N];

const MD5_GROUPS: Groups<6> = [
    (0, 6, 12, 4),
    (1, 7, 13, 4),
    (2, 8, 14, 4),
    (3, 9, 15, 4),
    (4, 10, 5, 4),
    (NONE, NONE, 11, 2),
];

const SHA256_GROUPS: Groups<11> = [
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

const SHA512_GROUPS: Groups<22> = [
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
fn crypt_b64(digest: &[u8], groups: &[(u8, u8, u8, u8)]) -> Vec<u8> {
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

// ---------------------------------------------------------------------------
// bcrypt

fn is_bcrypt_prefix(b: &[u8]) -> bool {
    matches!(b, [b'$', b'2', b'a' | b'b' | b'x' | b'y', b'$', ..])
}

/// bcrypt's own base-64 alphabet. Trailing bits are allowed because OpenBSD's
/// decoder ignores them; the `bcrypt` crate's strict engine would reject such
/// (otherwise valid) hashes.
const BCRYPT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::BCRYPT,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

fn parse_bcrypt(b: &[u8]) -> Repr {
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

fn verify_bcrypt(password: &[u8], cost: u32, salt: [u8; 16], digest: &[u8; 23]) -> bool {
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

// ---------------------------------------------------------------------------
// argon2

fn parse_argon2(field: &str) -> Repr {
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

fn verify_argon2(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PhcHash::new(phc) else {
        return false;
    };
    // The verifier takes algorithm, version and parameters from the hash and
    // compares outputs in constant time (password-hash's `Output` eq).
    argon2::Argon2::default()
        .verify_password(password, &parsed)
        .is_ok()
}

// ---------------------------------------------------------------------------
// MD5-crypt ($1$) and Apache's variant ($apr1$): Poul-Henning Kamp's
// algorithm, identical except for the magic string mixed into the hash.

fn parse_md5(magic: Md5Magic, rest: &[u8]) -> Repr {
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
fn md5_crypt(password: &[u8], magic: &[u8], salt: &[u8]) -> Vec<u8> {
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

// ---------------------------------------------------------------------------
// SHA-crypt ($5$, $6$): Ulrich Drepper, "Unix crypt using SHA-256 and SHA-512".

fn parse_sha_crypt(variant: ShaVariant, rest: &[u8]) -> Repr {
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

/// The raw digest of Drepper's algorithm (steps 1-21 of the specification).
fn sha_crypt_raw<D: Digest>(key: &[u8], salt: &[u8], rounds: u32) -> Vec<u8> {
    let hlen = <D as Digest>::output_size();
    // Digest B.
    let b = D::new()
        .chain_update(key)
        .chain_update(salt)
        .chain_update(key)
        .finalize();
    // Digest A.
    let mut a = D::new();
    a.update(key);
    a.update(salt);
    for chunk in key.chunks(hlen) {
        a.update(b.get(..chunk.len()).unwrap_or_default());
    }
    let mut bits = key.len();
    while bits != 0 {
        if bits & 1 != 0 {
            a.update(&b);
        } else {
            a.update(key);
        }
        bits >>= 1;
    }
    let mut acc: Vec<u8> = a.finalize().to_vec();
    // Byte sequence P: digest DP (the key hashed len(key) times -- quadratic,
    // hence MAX_PASSWORD_LEN) repeated to the key's length.
    let mut dp = D::new();
    for _ in 0..key.len() {
        dp.update(key);
    }
    let dp = dp.finalize();
    let p: Vec<u8> = dp.iter().copied().cycle().take(key.len()).collect();
    // Byte sequence S: digest DS (salt hashed 16 + A[0] times) repeated to the
    // salt's length.
    let mut ds = D::new();
    let salt_reps = 16 + usize::from(acc.first().copied().unwrap_or(0));
    for _ in 0..salt_reps {
        ds.update(salt);
    }
    let ds = ds.finalize();
    let s: Vec<u8> = ds.iter().copied().cycle().take(salt.len()).collect();
    // The rounds.
    for i in 0..rounds {
        let mut c = D::new();
        if i & 1 != 0 {
            c.update(&p);
        } else {
            c.update(&acc);
        }
        if i % 3 != 0 {
            c.update(&s);
        }
        if i % 7 != 0 {
            c.update(&p);
        }
        if i & 1 != 0 {
            c.update(&acc);
        } else {
            c.update(&p);
        }
        acc = c.finalize().to_vec();
    }
    acc
}

// ---------------------------------------------------------------------------
// {SHA} and {SSHA}

/// Standard base-64, padding optional: tools always pad, but hand-edited
/// files sometimes lose the '='.
const STD_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn parse_sha1(rest: &[u8]) -> Repr {
    match STD_B64.decode(rest).ok().map(<[u8; 20]>::try_from) {
        Some(Ok(digest)) => Repr::Sha1 { digest },
        _ => invalid("{SHA} value is not the base-64 of a 20-byte SHA-1 digest"),
    }
}

fn parse_ssha(rest: &[u8]) -> Repr {
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

// ---------------------------------------------------------------------------
// Traditional DES crypt(3). No maintained crate implements it, so this is
// textbook DES (FIPS 46-3 tables, bit 1 = most significant) with the crypt
// twist: each of the 12 salt bits swaps two outputs of the E expansion, and
// the result is 25 encryptions of an all-zero block under the password key.

fn parse_des(b: &[u8]) -> Repr {
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
const DES_IP: [u8; 64] = [
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
const DES_FP: [u8; 64] = [
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
const DES_E: [u8; 48] = [
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
const DES_P: [u8; 32] = [
    16,  7, 20, 21, 29, 12, 28, 17,
     1, 15, 23, 26,  5, 18, 31, 10,
     2,  8, 24, 14, 32, 27,  3,  9,
    19, 13, 30,  6, 22, 11,  4, 25,
];

#[rustfmt::skip]
const DES_PC1: [u8; 56] = [
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
const DES_PC2: [u8; 48] = [
    14, 17, 11, 24,  1,  5,
     3, 28, 15,  6, 21, 10,
    23, 19, 12,  4, 26,  8,
    16,  7, 27, 20, 13,  2,
    41, 52, 31, 37, 47, 55,
    30, 40, 51, 45, 33, 48,
    44, 49, 39, 56, 34, 53,
    46, 42, 50, 36, 29, 32,
];

const DES_SHIFTS: [u32; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/// S1..S8, each as its four 16-entry rows.
#[rustfmt::skip]
const DES_SBOXES: [[u8; 64]; 8] = [
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
fn des_permute(input: u64, in_width: u32, table: &[u8]) -> u64 {
    table.iter().fold(0u64, |acc, &pos| {
        let shift = in_width.saturating_sub(u32::from(pos));
        (acc << 1) | (input.checked_shr(shift).unwrap_or(0) & 1)
    })
}

fn des_subkeys(key: u64) -> [u64; 16] {
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

fn des_feistel(r: u64, subkey: u64, e_table: &[u8; 48]) -> u64 {
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

fn des_encrypt_block(block: u64, subkeys: &[u64; 16], e_table: &[u8; 48]) -> u64 {
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
fn des_crypt(password: &[u8], salt: [u8; 2]) -> Vec<u8> {
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

// ---------------------------------------------------------------------------
// Files

/// A problem on one line, reported and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIssue {
    /// 1-based line number.
    pub line: usize,
    /// Human-readable; never contains the hash or password (only fixed
    /// texts and line numbers are ever put here).
    pub reason: String,
}

impl fmt::Display for LineIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

#[derive(Clone)]
struct Entry {
    user: String,
    hash: PasswordHash,
    line: usize,
}

/// A parsed htpasswd file.
#[derive(Clone, Default)]
pub struct HtpasswdFile {
    /// Usable users in file order.
    entries: Vec<Entry>,
    /// User name -> index into `entries`.
    index: HashMap<String, usize>,
    issues: Vec<LineIssue>,
    /// Hash verified for unknown users so they cost as much as known ones.
    dummy: Option<PasswordHash>,
}

impl fmt::Debug for HtpasswdFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<_> = self
            .entries
            .iter()
            .map(|e| (e.user.as_str(), e.hash.kind, e.line))
            .collect();
        f.debug_struct("HtpasswdFile")
            .field("users", &users)
            .field("issues", &self.issues)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HtpasswdError {
    #[error("cannot read htpasswd file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file has content but not one usable user; callers reloading a
    /// file should keep the users they had.
    #[error("{}", no_valid_users_message(path, issues))]
    NoValidUsers {
        path: PathBuf,
        issues: Vec<LineIssue>,
    },
    #[error("refusing to hash an empty password")]
    EmptyPassword,
    #[error("password contains a NUL byte")]
    NulInPassword,
    #[error("password is {len} bytes; bcrypt ignores everything after byte 72")]
    PasswordTooLong { len: usize },
    #[error("bcrypt cost {0} is outside 4..=31")]
    InvalidCost(u32),
    #[error("cannot get random bytes for a salt: {0}")]
    Random(getrandom::Error),
    #[error("{scheme} hashing failed: {reason}")]
    Hashing {
        scheme: &'static str,
        reason: String,
    },
}

fn no_valid_users_message(path: &Path, issues: &[LineIssue]) -> String {
    let first = issues
        .first()
        .map(|i| format!("; first: {i}"))
        .unwrap_or_default();
    format!(
        "htpasswd file {} has no valid users ({} problem line(s){first})",
        path.display(),
        issues.len()
    )
}

/// What a rejected line leaves behind for later lines of the same user.
enum Claim {
    Valid(usize),
    Rejected(usize),
}

impl HtpasswdFile {
    /// Parses file text. Never fails: bad lines become [`issues`](Self::issues).
    ///
    /// Rules: a leading UTF-8 BOM is skipped; lines are split on `\n` with a
    /// trailing `\r` and surrounding spaces/tabs removed; blank lines and
    /// lines starting with `#` are ignored; the user ends at the first `:`,
    /// the hash at the next `:` (later fields are comments, as Apache
    /// allows), both trimmed of spaces/tabs. The first line for a user wins,
    /// as in Apache's lookup -- even when that line is rejected, so that a
    /// corrupted or locked entry never silently hands the name to a later
    /// line.
    pub fn parse(text: &str) -> HtpasswdFile {
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        let mut file = HtpasswdFile::default();
        let mut claims: HashMap<&str, Claim> = HashMap::new();
        for (line_no, raw) in (1usize..).zip(text.lines()) {
            let line = raw.trim_matches([' ', '\t', '\r']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut issue = |reason: String| {
                file.issues.push(LineIssue {
                    line: line_no,
                    reason,
                })
            };
            let Some((user, rest)) = line.split_once(':') else {
                issue("no ':' between user name and password hash".to_owned());
                continue;
            };
            let user = user.trim_matches([' ', '\t']);
            let field = rest
                .split(':')
                .next()
                .unwrap_or_default()
                .trim_matches([' ', '\t']);
            if user.is_empty() {
                issue("empty user name".to_owned());
                continue;
            }
            if field.is_empty() {
                issue("empty password hash".to_owned());
                // An empty hash still claims the name (it is a broken entry
                // for this user, not a missing one).
                claims.entry(user).or_insert(Claim::Rejected(line_no));
                continue;
            }
            match claims.get(user) {
                Some(Claim::Valid(first)) => {
                    issue(format!("duplicate user; the entry on line {first} is used"));
                    continue;
                }
                Some(Claim::Rejected(first)) => {
                    issue(format!(
                        "duplicate user; the entry on line {first} was rejected, so this user stays disabled"
                    ));
                    continue;
                }
                None => {}
            }
            let hash = PasswordHash::parse(field);
            if let Some(reason) = hash.problem() {
                issue(reason.to_owned());
                claims.insert(user, Claim::Rejected(line_no));
                continue;
            }
            claims.insert(user, Claim::Valid(line_no));
            file.index.insert(user.to_owned(), file.entries.len());
            file.entries.push(Entry {
                user: user.to_owned(),
                hash,
                line: line_no,
            });
        }
        file.dummy = pick_dummy(&file.entries);
        file
    }

    /// Reads and parses a file. Invalid UTF-8 is replaced (lossy), so such
    /// bytes can only make a line fail to verify. A non-empty file where no
    /// line yields a usable user is an error, so a reload after a botched
    /// edit keeps the previous users instead of locking everyone out. A file
    /// with no entries at all (empty, or only comments) is not an error.
    pub fn load(path: &Path) -> Result<HtpasswdFile, HtpasswdError> {
        let bytes = std::fs::read(path).map_err(|source| HtpasswdError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file = HtpasswdFile::parse(&String::from_utf8_lossy(&bytes));
        if file.entries.is_empty() && !file.issues.is_empty() {
            return Err(HtpasswdError::NoValidUsers {
                path: path.to_path_buf(),
                issues: file.issues,
            });
        }
        Ok(file)
    }

    /// Problems found while parsing, in line order.
    pub fn issues(&self) -> &[LineIssue] {
        &self.issues
    }

    /// Usable users and their hash kinds, in file order.
    pub fn users(&self) -> impl Iterator<Item = (&str, HashKind)> {
        self.entries.iter().map(|e| (e.user.as_str(), e.hash.kind))
    }

    /// The 1-based line a usable user was defined on.
    pub fn line_of(&self, user: &str) -> Option<usize> {
        self.entry(user).map(|e| e.line)
    }

    /// Number of usable users.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn entry(&self, user: &str) -> Option<&Entry> {
        self.index.get(user).and_then(|&i| self.entries.get(i))
    }

    /// Verifies; an unknown user costs the same as a wrong password: it
    /// verifies against a dummy hash of the same kind as the file's most
    /// common kind (bcrypt: same cost), then returns false.
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        match self.entry(user) {
            Some(entry) => entry.hash.verify(password),
            None => {
                if let Some(dummy) = &self.dummy {
                    // black_box: the result is unused, and the work must not
                    // be optimized away.
                    std::hint::black_box(dummy.verify(std::hint::black_box(password)));
                }
                false
            }
        }
    }
}

/// Picks the hash unknown users are checked against: the most common kind,
/// and within it the most common cost parameters. Ties go to the slower
/// choice. The dummy is a clone of a real entry's hash, which guarantees an
/// identical cost; its result is always discarded.
fn pick_dummy(entries: &[Entry]) -> Option<PasswordHash> {
    let mut kinds: HashMap<HashKind, usize> = HashMap::new();
    for e in entries {
        *kinds.entry(e.hash.kind).or_default() += 1;
    }
    let (&kind, _) = kinds
        .iter()
        .max_by_key(|&(k, &count)| (count, k.cost_rank()))?;
    let mut costs: HashMap<CostKey, usize> = HashMap::new();
    for e in entries.iter().filter(|e| e.hash.kind == kind) {
        *costs.entry(e.hash.cost_key()).or_default() += 1;
    }
    let (&cost, _) = costs.iter().max_by_key(|&(&c, &count)| (count, c))?;
    entries
        .iter()
        .find(|e| e.hash.kind == kind && e.hash.cost_key() == cost)
        .map(|e| e.hash.clone())
}

// ---------------------------------------------------------------------------
// Writers

fn check_password_to_hash(password: &[u8]) -> Result<(), HtpasswdError> {
    if password.is_empty() {
        return Err(HtpasswdError::EmptyPassword);
    }
    // A NUL could never be verified by crypt-style schemes (see
    // `is_c_string_scheme`); refuse it everywhere for consistency.
    if password.contains(&0) {
        return Err(HtpasswdError::NulInPassword);
    }
    Ok(())
}

fn random_bytes<const N: usize>() -> Result<[u8; N], HtpasswdError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(HtpasswdError::Random)?;
    Ok(buf)
}

/// Hash writers for `frontdoor passwd` and the demo.
///
/// `$argon2id$v=19$m=19456,t=2,p=1$...` (OWASP minimum), random 16-byte salt.
pub fn hash_argon2id(password: &[u8]) -> Result<String, HtpasswdError> {
    check_password_to_hash(password)?;
    let hashing = |e: argon2::password_hash::Error| HtpasswdError::Hashing {
        scheme: "argon2id",
        reason: e.to_string(),
    };
    let params = argon2::Params::new(ARGON2_WRITE_M_KIB, ARGON2_WRITE_T, ARGON2_WRITE_P, None)
        .map_err(|e| hashing(e.into()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(hashing)?;
    let hash = argon.hash_password(password, &salt).map_err(hashing)?;
    Ok(hash.to_string())
}

/// bcrypt with the `$2y$` prefix, like Apache's `htpasswd -B`. Passwords over
/// 72 bytes are refused rather than silently truncated.
pub fn hash_bcrypt(password: &[u8], cost: u32) -> Result<String, HtpasswdError> {
    check_password_to_hash(password)?;
    if !(4..=31).contains(&cost) {
        return Err(HtpasswdError::InvalidCost(cost));
    }
    if password.len() > 72 {
        return Err(HtpasswdError::PasswordTooLong {
            len: password.len(),
        });
    }
    let parts = bcrypt::hash_with_salt(password, cost, random_bytes::<16>()?).map_err(|e| {
        HtpasswdError::Hashing {
            scheme: "bcrypt",
            reason: e.to_string(),
        }
    })?;
    Ok(parts.format_for_version(bcrypt::Version::TwoY))
}

/// Apache MD5 (`$apr1$`) with a random 8-character salt. Weak; provided only
/// for compatibility with tools that cannot read anything better.
pub fn hash_apr1(password: &[u8]) -> Result<String, HtpasswdError> {
    check_password_to_hash(password)?;
    // 256 is a multiple of 64, so `byte & 63` picks characters uniformly.
    let salt: Vec<u8> = random_bytes::<8>()?
        .iter()
        .map(|&b| int_to_a64(u32::from(b)))
        .collect();
    let digest = md5_crypt(password, Md5Magic::Apr1.prefix(), &salt);
    let mut out = Vec::with_capacity(6 + 8 + 1 + 22);
    out.extend_from_slice(Md5Magic::Apr1.prefix());
    out.extend_from_slice(&salt);
    out.push(b'$');
    out.extend_from_slice(&digest);
    String::from_utf8(out).map_err(|e| HtpasswdError::Hashing {
        scheme: "apr1",
        reason: e.to_string(),
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    //! Vectors come from the real tools, run at test time. A missing tool is
    //! a test FAILURE naming the Debian package to install, never a skip:
    //! a silently skipped vector is a format we think we verify but do not.

    use super::*;
    use std::io::Write as _;
    use std::os::unix::ffi::OsStrExt as _;
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    const PW: &str = "correct horse 9!";
    /// Differs from PW only in its last byte, so a check that ignores the
    /// tail of the password would be caught.
    const WRONG: &str = "correct horse 9?";

    /// Runs `program`, panicking with an install hint if it is missing.
    /// Arguments are raw bytes so non-UTF-8 passwords can be passed.
    fn run(
        program: &str,
        args: &[&[u8]],
        package: &str,
        stdin: Option<&[u8]>,
    ) -> std::process::Output {
        let mut cmd = Command::new(program);
        cmd.args(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)))
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!(
                "cannot run `{program}` ({e}): install the Debian package `{package}` \
                 (apt-get install -y {package}); these tests need it to generate vectors"
            ),
        };
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Runs a tool that must succeed and returns its trimmed stdout.
    fn tool(program: &str, args: &[&str], package: &str) -> String {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let out = run(program, &args, package, None);
        assert!(
            out.status.success(),
            "`{program} {args:?}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// `htpasswd -nb... alice PW` -> the hash field.
    fn htpasswd(flags: &[&str]) -> String {
        let mut args = flags.to_vec();
        args.extend(["alice", PW]);
        let out = tool("htpasswd", &args, "apache2-utils");
        let line = out.lines().next().unwrap();
        let (user, hash) = line.split_once(':').unwrap();
        assert_eq!(user, "alice");
        hash.to_owned()
    }

    /// Whether the installed htpasswd lists `flag` in its usage text.
    fn htpasswd_supports(flag: &str) -> bool {
        let out = run("htpasswd", &[], "apache2-utils", None);
        let usage = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        usage
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{flag} ")))
    }

    fn openssl(args: &[&str]) -> String {
        tool("openssl", args, "openssl")
    }

    fn mkpasswd(args: &[&str]) -> String {
        tool("mkpasswd", args, "whois")
    }

    /// glibc/libxcrypt crypt(3) through perl, with raw-byte arguments.
    fn perl_crypt(password: &[u8], salt: &[u8]) -> String {
        let out = run(
            "perl",
            &[b"-e", b"print crypt($ARGV[0], $ARGV[1])", password, salt],
            "perl",
            None,
        );
        assert!(
            out.status.success(),
            "perl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The common checks for one tool-made vector: kind, usable, right
    /// password verifies, wrong and empty do not, both directly and through
    /// a file (where an unknown user must also fail).
    fn check_vector(hash: &str, kind: HashKind, right: &[u8], wrong: &[u8]) {
        let ph = PasswordHash::parse(hash);
        assert_eq!(ph.kind(), kind, "kind of {hash}");
        assert_eq!(ph.problem(), None, "{hash} should be usable");
        assert!(
            ph.verify(right),
            "right password must verify against {hash}"
        );
        assert!(
            !ph.verify(wrong),
            "wrong password must not verify against {hash}"
        );
        assert!(
            !ph.verify(b""),
            "empty password must not verify against {hash}"
        );
        let file = HtpasswdFile::parse(&format!("alice:{hash}\n"));
        assert!(file.issues().is_empty(), "{:?}", file.issues());
        assert_eq!(file.users().collect::<Vec<_>>(), vec![("alice", kind)]);
        assert!(file.verify("alice", right));
        assert!(!file.verify("alice", wrong));
        assert!(!file.verify("bob", right));
    }

    static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

    /// A unique temp file path for this test process.
    fn temp_path(tag: &str) -> PathBuf {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!("fd-htpasswd-test-{}-{n}-{tag}", std::process::id()))
    }

    /// `htpasswd -v` on a one-user file: does Apache's own code accept it?
    fn apache_accepts(hash: &str, password: &str) -> bool {
        let path = temp_path("apache-v");
        std::fs::write(&path, format!("alice:{hash}\n")).unwrap();
        let out = run(
            "htpasswd",
            &[
                b"-vb",
                path.as_os_str().as_bytes(),
                b"alice",
                password.as_bytes(),
            ],
            "apache2-utils",
            None,
        );
        std::fs::remove_file(&path).unwrap();
        out.status.success()
    }

    // -- vectors from htpasswd (apache2-utils) --------------------------------

    /// `htpasswd -nbB -C 5`: Apache's `$2y$` bcrypt at its default cost.
    #[test]
    fn htpasswd_bcrypt_cost_5() {
        let h = htpasswd(&["-nbB", "-C", "5"]);
        assert!(h.starts_with("$2y$05$"), "{h}");
        check_vector(&h, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
    }

    /// `htpasswd -nbB -C 10`: a realistic cost, two-digit cost field.
    #[test]
    fn htpasswd_bcrypt_cost_10() {
        let h = htpasswd(&["-nbB", "-C", "10"]);
        assert!(h.starts_with("$2y$10$"), "{h}");
        check_vector(&h, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
    }

    /// `htpasswd -nbm`: Apache MD5 (`$apr1$`), htpasswd's historical default.
    #[test]
    fn htpasswd_apr1() {
        let h = htpasswd(&["-nbm"]);
        assert!(h.starts_with("$apr1$"), "{h}");
        check_vector(&h, HashKind::Apr1, PW.as_bytes(), WRONG.as_bytes());
    }

    /// `htpasswd -nbs`: unsalted `{SHA}`.
    #[test]
    fn htpasswd_sha1() {
        let h = htpasswd(&["-nbs"]);
        assert!(h.starts_with("{SHA}"), "{h}");
        check_vector(&h, HashKind::Sha1, PW.as_bytes(), WRONG.as_bytes());
    }

    /// `htpasswd -nbd`: DES crypt only reads 8 password bytes, so the wrong
    /// password differs in the first byte and any tail after byte 8 matches.
    #[test]
    fn htpasswd_des_crypt_truncates_to_8_bytes() {
        let h = htpasswd(&["-nbd"]);
        assert_eq!(h.len(), 13, "{h}");
        check_vector(&h, HashKind::DesCrypt, PW.as_bytes(), b"Correct horse 9!");
        assert!(PasswordHash::parse(&h).verify(b"correct anything"));
        assert!(!PasswordHash::parse(&h).verify(b"correct"));
    }

    /// `htpasswd -nb2` (SHA-256 crypt), or `openssl passwd -5` if this
    /// htpasswd predates the flag.
    #[test]
    fn htpasswd_sha256_crypt() {
        let h = if htpasswd_supports("-2") {
            htpasswd(&["-nb2"])
        } else {
            openssl(&["passwd", "-5", PW])
        };
        assert!(h.starts_with("$5$"), "{h}");
        check_vector(&h, HashKind::Sha256Crypt, PW.as_bytes(), WRONG.as_bytes());
    }

    /// `htpasswd -nb5` (SHA-512 crypt), or `openssl passwd -6` as fallback.
    #[test]
    fn htpasswd_sha512_crypt() {
        let h = if htpasswd_supports("-5") {
            htpasswd(&["-nb5"])
        } else {
            openssl(&["passwd", "-6", PW])
        };
        assert!(h.starts_with("$6$"), "{h}");
        check_vector(&h, HashKind::Sha512Crypt, PW.as_bytes(), WRONG.as_bytes());
    }

    /// `htpasswd -nb5 -r 20000`: an explicit `rounds=` field that is not the
    /// default (or `mkpasswd -R` as fallback).
    #[test]
    fn htpasswd_sha512_crypt_custom_rounds() {
        let h = if htpasswd_supports("-5") {
            htpasswd(&["-nb5", "-r", "20000"])
        } else {
            mkpasswd(&["-m", "sha-512", "-R", "20000", PW])
        };
        assert!(h.starts_with("$6$rounds=20000$"), "{h}");
        check_vector(&h, HashKind::Sha512Crypt, PW.as_bytes(), WRONG.as_bytes());
        assert_eq!(PasswordHash::parse(&h).cost_key().0, 20_000);
    }

    /// `htpasswd -nbp`: bare plain text (Apache only honours it on Windows).
    #[test]
    fn htpasswd_plain() {
        let h = htpasswd(&["-nbp"]);
        assert_eq!(h, PW);
        check_vector(&h, HashKind::Plain, PW.as_bytes(), WRONG.as_bytes());
    }

    // -- vectors from openssl passwd -------------------------------------------

    /// `openssl passwd -1`: `$1$` MD5-crypt (same algorithm as apr1, other magic).
    #[test]
    fn openssl_md5_crypt() {
        let h = openssl(&["passwd", "-1", PW]);
        assert!(h.starts_with("$1$"), "{h}");
        check_vector(&h, HashKind::Md5Crypt, PW.as_bytes(), WRONG.as_bytes());
    }

    /// `openssl passwd -apr1`, plus a fixed short salt (salt < 8 chars).
    #[test]
    fn openssl_apr1_including_short_salt() {
        for h in [
            openssl(&["passwd", "-apr1", PW]),
            openssl(&["passwd", "-apr1", "-salt", "ab", PW]),
        ] {
            assert!(h.starts_with("$apr1$"), "{h}");
            check_vector(&h, HashKind::Apr1, PW.as_bytes(), WRONG.as_bytes());
        }
    }

    /// `openssl passwd -5`: SHA-256 crypt with a 16-char salt.
    #[test]
    fn openssl_sha256_crypt() {
        let h = openssl(&["passwd", "-5", PW]);
        assert!(h.starts_with("$5$"), "{h}");
        check_vector(&h, HashKind::Sha256Crypt, PW.as_bytes(), WRONG.as_bytes());
    }

    /// `openssl passwd -6`: SHA-512 crypt with a 16-char salt.
    #[test]
    fn openssl_sha512_crypt() {
        let h = openssl(&["passwd", "-6", PW]);
        assert!(h.starts_with("$6$"), "{h}");
        check_vector(&h, HashKind::Sha512Crypt, PW.as_bytes(), WRONG.as_bytes());
    }

    /// `openssl passwd -6 -salt x`: a one-character salt.
    #[test]
    fn openssl_sha512_crypt_one_char_salt() {
        let h = openssl(&["passwd", "-6", "-salt", "x", PW]);
        assert!(h.starts_with("$6$x$"), "{h}");
        check_vector(&h, HashKind::Sha512Crypt, PW.as_bytes(), WRONG.as_bytes());
    }

    /// MD5/SHA crypt for password lengths around the 16/32/64-byte block
    /// boundaries of their "alternate sum" loops, and the empty password
    /// (openssl for $1$, perl's libxcrypt for $5$/$6$, which openssl
    /// does not take empty passwords for on the command line).
    #[test]
    fn crypt_family_password_length_boundaries() {
        for len in [1usize, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100] {
            let pw: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let md5 = openssl(&["passwd", "-1", "-salt", "s4lt", &pw]);
            check_vector(&md5, HashKind::Md5Crypt, pw.as_bytes(), WRONG.as_bytes());
            let s256 = perl_crypt(pw.as_bytes(), b"$5$saltsaltsaltsalt$");
            check_vector(
                &s256,
                HashKind::Sha256Crypt,
                pw.as_bytes(),
                WRONG.as_bytes(),
            );
            let s512 = perl_crypt(pw.as_bytes(), b"$6$rounds=1000$abc$");
            check_vector(
                &s512,
                HashKind::Sha512Crypt,
                pw.as_bytes(),
                WRONG.as_bytes(),
            );
        }
        for salt in [&b"$1$abc$"[..], b"$5$abc$", b"$6$abc$"] {
            let h = perl_crypt(b"", salt);
            let ph = PasswordHash::parse(&h);
            assert!(ph.verify(b""), "empty password against {h}");
            assert!(!ph.verify(b"x"));
        }
    }

    // -- vectors from mkpasswd (whois) ----------------------------------------

    /// `mkpasswd -m sha-512 -R 10000`: rounds from a second implementation.
    #[test]
    fn mkpasswd_sha512_rounds_10000() {
        let h = mkpasswd(&["-m", "sha-512", "-R", "10000", PW]);
        assert!(h.starts_with("$6$rounds=10000$"), "{h}");
        check_vector(&h, HashKind::Sha512Crypt, PW.as_bytes(), WRONG.as_bytes());
    }

    /// `mkpasswd -m bcrypt`: libxcrypt's `$2b$`.
    #[test]
    fn mkpasswd_bcrypt_2b() {
        let h = mkpasswd(&["-m", "bcrypt", PW]);
        assert!(h.starts_with("$2b$"), "{h}");
        check_vector(&h, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
    }

    /// `mkpasswd -m bcrypt-a`: the older `$2a$` prefix; and the same hash
    /// relabelled `$2x$`, which is identical for ASCII passwords.
    #[test]
    fn mkpasswd_bcrypt_2a_and_2x() {
        let h = mkpasswd(&["-m", "bcrypt-a", PW]);
        assert!(h.starts_with("$2a$"), "{h}");
        check_vector(&h, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
        let x = h.replacen("$2a$", "$2x$", 1);
        check_vector(&x, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
    }

    /// `mkpasswd -m descrypt -S ab` and perl's crypt(3): DES across many
    /// salts, the empty password, exactly 8 bytes, and high-bit bytes (whose
    /// top bit crypt(3) drops -- so 0xE4 and 0x64 are the same key byte).
    #[test]
    fn des_crypt_matches_crypt3() {
        let h = mkpasswd(&["-m", "descrypt", "-S", "ab", PW]);
        check_vector(&h, HashKind::DesCrypt, PW.as_bytes(), b"Correct horse 9!");
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b".."),
            (b"a", b"zz"),
            (b"12345678", b"./"),
            (b"12345678extra", b"AZ"),
            (b"p\xe4ss\xff\xfe\x80", b"x9"),
            (b"\x7f\x01 ~", b"Zz"),
            (b"secret", b"9."),
            (b"secret", b"/z"),
        ];
        for &(pw, salt) in cases {
            let expected = perl_crypt(pw, salt);
            assert_eq!(expected.len(), 13, "perl crypt gave {expected}");
            let ph = PasswordHash::parse(&expected);
            assert_eq!(ph.kind(), HashKind::DesCrypt);
            assert!(ph.verify(pw), "{pw:?} / {expected}");
            let computed = des_crypt(pw, [salt[0], salt[1]]);
            assert_eq!(String::from_utf8(computed).unwrap(), expected[2..]);
        }
        let high = PasswordHash::parse(&perl_crypt(b"p\xe4ss", b"ab"));
        assert!(high.verify(b"pdss"), "top bit of each byte is ignored");
    }

    /// The DES core alone against the FIPS 46 worked example, so a table
    /// typo shows up here and not only as a mismatched crypt string.
    #[test]
    fn des_core_fips_vector() {
        let subkeys = des_subkeys(0x1334_5779_9BBC_DFF1);
        let ct = des_encrypt_block(0x0123_4567_89AB_CDEF, &subkeys, &DES_E);
        assert_eq!(ct, 0x85E8_1354_0F0A_B405);
        let subkeys = des_subkeys(0x0E32_9232_EA6D_0D73);
        assert_eq!(
            des_encrypt_block(0x8787_8787_8787_8787, &subkeys, &DES_E),
            0
        );
    }

    // -- SHA-crypt rounds --------------------------------------------------------

    /// `rounds=` below 1000 is computed with 1000 (glibc's clamp), so a hash
    /// relabelled `rounds=10` still verifies; above 999999999 clamps down.
    #[test]
    fn sha_crypt_rounds_clamp_like_glibc() {
        let h = perl_crypt(PW.as_bytes(), b"$5$rounds=1000$saltsalt$");
        assert!(h.starts_with("$5$rounds=1000$"), "{h}");
        let low = h.replacen("rounds=1000$", "rounds=10$", 1);
        check_vector(&low, HashKind::Sha256Crypt, PW.as_bytes(), WRONG.as_bytes());
        assert_eq!(PasswordHash::parse(&low).cost_key().0, 1000);
        let huge = format!("$6$rounds=99999999999999999999999$salt${}", "a".repeat(86));
        let ph = PasswordHash::parse(&huge);
        assert_eq!(ph.problem(), None);
        assert_eq!(ph.cost_key().0, 999_999_999);
    }

    /// An explicit `rounds=5000` is the same computation as no `rounds=`.
    #[test]
    fn sha_crypt_explicit_default_rounds() {
        let implicit = perl_crypt(PW.as_bytes(), b"$6$abcdefgh$");
        let explicit = perl_crypt(PW.as_bytes(), b"$6$rounds=5000$abcdefgh$");
        assert!(explicit.starts_with("$6$rounds=5000$"), "{explicit}");
        for h in [implicit, explicit] {
            check_vector(&h, HashKind::Sha512Crypt, PW.as_bytes(), WRONG.as_bytes());
        }
    }

    /// Malformed SHA-crypt: empty or non-numeric rounds, salt over 16 bytes,
    /// wrong digest length, missing digest.
    #[test]
    fn sha_crypt_malformed() {
        let d43 = "a".repeat(43);
        for h in [
            format!("$5$rounds=$salt${d43}"),
            format!("$5$rounds=12x$salt${d43}"),
            format!("$5$rounds=-5$salt${d43}"),
            format!("$5$saltsaltsaltsalt1${d43}"),
            format!("$5$salt${}", "a".repeat(42)),
            format!("$6$salt${d43}"),
            "$5$salt".to_owned(),
            "$5$".to_owned(),
            format!("$5$salt${}!", "a".repeat(42)),
        ] {
            let ph = PasswordHash::parse(&h);
            assert_eq!(
                ph.kind(),
                if h.starts_with("$6") {
                    HashKind::Sha512Crypt
                } else {
                    HashKind::Sha256Crypt
                }
            );
            assert!(ph.problem().is_some(), "{h} should be malformed");
            assert!(!ph.verify(PW.as_bytes()));
        }
    }

    // -- {SSHA} -------------------------------------------------------------------

    /// `{SSHA}` = base64(sha1(pw + salt) + salt), computed with
    /// `openssl dgst -sha1 -binary` and `openssl base64 -A`, for salts of 1,
    /// 4 (with NUL and 0xFF bytes) and 16 bytes.
    #[test]
    fn ssha_from_openssl() {
        for salt in [&b"s"[..], b"\x00\xff\x10A", b"0123456789abcdef"] {
            let mut input = PW.as_bytes().to_vec();
            input.extend_from_slice(salt);
            let digest = run(
                "openssl",
                &[b"dgst", b"-sha1", b"-binary"],
                "openssl",
                Some(&input),
            );
            assert!(digest.status.success());
            assert_eq!(digest.stdout.len(), 20);
            let mut blob = digest.stdout.clone();
            blob.extend_from_slice(salt);
            let b64 = run("openssl", &[b"base64", b"-A"], "openssl", Some(&blob));
            assert!(b64.status.success());
            let h = format!("{{SSHA}}{}", String::from_utf8(b64.stdout).unwrap().trim());
            check_vector(&h, HashKind::SaltedSha1, PW.as_bytes(), WRONG.as_bytes());
        }
    }

    /// `{SSHA}` with no salt (exactly 20 bytes) or too short, and `{SHA}`
    /// that is not 20 bytes or not base64, are malformed.
    #[test]
    fn sha1_family_malformed() {
        let twenty = base64::engine::general_purpose::STANDARD.encode([7u8; 20]);
        let nineteen = base64::engine::general_purpose::STANDARD.encode([7u8; 19]);
        for (h, kind) in [
            (format!("{{SSHA}}{twenty}"), HashKind::SaltedSha1),
            (format!("{{SSHA}}{nineteen}"), HashKind::SaltedSha1),
            ("{SSHA}%%%%".to_owned(), HashKind::SaltedSha1),
            (format!("{{SHA}}{nineteen}"), HashKind::Sha1),
            ("{SHA}".to_owned(), HashKind::Sha1),
            ("{SHA}not base64!".to_owned(), HashKind::Sha1),
        ] {
            let ph = PasswordHash::parse(&h);
            assert_eq!(ph.kind(), kind, "{h}");
            assert!(ph.problem().is_some(), "{h} should be malformed");
            assert!(!ph.verify(b""));
        }
        // Unpadded {SHA} (hand-edited files) is accepted.
        let h = htpasswd(&["-nbs"]);
        let unpadded = h.trim_end_matches('=');
        check_vector(unpadded, HashKind::Sha1, PW.as_bytes(), WRONG.as_bytes());
    }

    // -- argon2 -------------------------------------------------------------------

    /// Reference vectors from the argon2 reference implementation's CLI
    /// (Debian package `argon2`, 0~20171227; e.g. `echo -n password | argon2
    /// somesalt -id -t 2 -m 16 -p 1 -e`), hard-coded because that tool is not
    /// among the test dependencies: argon2i, argon2d, argon2id, the old
    /// version 16 (v=16), and p=2 with a 16-byte output.
    #[test]
    fn argon2_reference_vectors() {
        let password_vectors = [
            "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
            "$argon2d$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$lV5dWxY6G2C7o1/DbQSWR0+6T2tZrVNihmbwf7L5Pq8",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2i$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
        ];
        for h in password_vectors {
            check_vector(h, HashKind::Argon2, b"password", b"passwore");
        }
        check_vector(
            "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0$/KWCHGFd715/pLMVFtosRw",
            HashKind::Argon2,
            b"pw x",
            b"pw y",
        );
    }

    /// `hash_argon2id` writes OWASP-minimum parameters with a fresh random
    /// salt each time, and its output verifies (and a wrong password fails).
    #[test]
    fn argon2id_writer_round_trip() {
        let a = hash_argon2id(PW.as_bytes()).unwrap();
        let b = hash_argon2id(PW.as_bytes()).unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "salts must be random");
        check_vector(&a, HashKind::Argon2, PW.as_bytes(), WRONG.as_bytes());
        assert!(matches!(
            hash_argon2id(b""),
            Err(HtpasswdError::EmptyPassword)
        ));
        assert!(matches!(
            hash_argon2id(b"a\0b"),
            Err(HtpasswdError::NulInPassword)
        ));
    }

    /// Argon2 parameters that would allocate 4 TiB (an abort, not a panic)
    /// or run for hours are refused at parse time; malformed PHC strings and
    /// too-short salts are malformed, not panics.
    #[test]
    fn argon2_absurd_or_malformed_parameters_refused() {
        let tail = "c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        for h in [
            format!("$argon2id$v=19$m=4294967295,t=1,p=1${tail}"),
            format!("$argon2id$v=19$m=65536,t=100000,p=1${tail}"),
            format!("$argon2id$v=19$m=2097152,t=5,p=1${tail}"),
            format!("$argon2id$v=18$m=65536,t=2,p=1${tail}"),
            format!("$argon2x$v=19$m=65536,t=2,p=1${tail}"),
            "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
                .to_owned(),
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ".to_owned(),
            "$argon2id$".to_owned(),
        ] {
            let ph = PasswordHash::parse(&h);
            assert_eq!(ph.kind(), HashKind::Argon2, "{h}");
            assert!(ph.problem().is_some(), "{h} should be refused");
            assert!(!ph.verify(b"password"));
        }
    }

    // -- writers cross-checked with the real tools -------------------------------

    /// `hash_bcrypt` writes `$2y$` like Apache, and Apache's own
    /// `htpasswd -vb` accepts it; bad costs and >72-byte passwords are
    /// refused instead of silently truncated.
    #[test]
    fn bcrypt_writer_accepted_by_apache() {
        let h = hash_bcrypt(PW.as_bytes(), 5).unwrap();
        assert!(h.starts_with("$2y$05$"), "{h}");
        check_vector(&h, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
        assert!(apache_accepts(&h, PW));
        assert!(!apache_accepts(&h, WRONG));
        assert!(matches!(
            hash_bcrypt(PW.as_bytes(), 3),
            Err(HtpasswdError::InvalidCost(3))
        ));
        assert!(matches!(
            hash_bcrypt(PW.as_bytes(), 32),
            Err(HtpasswdError::InvalidCost(32))
        ));
        assert!(matches!(
            hash_bcrypt(&[b'a'; 73], 4),
            Err(HtpasswdError::PasswordTooLong { len: 73 })
        ));
        assert!(hash_bcrypt(&[b'a'; 72], 4).is_ok());
        assert!(matches!(
            hash_bcrypt(b"", 4),
            Err(HtpasswdError::EmptyPassword)
        ));
    }

    /// `hash_apr1` equals `openssl passwd -apr1 -salt <same salt>` and is
    /// accepted by `htpasswd -vb`.
    #[test]
    fn apr1_writer_matches_openssl_and_apache() {
        let h = hash_apr1(PW.as_bytes()).unwrap();
        let salt = h.strip_prefix("$apr1$").unwrap().split('$').next().unwrap();
        assert_eq!(salt.len(), 8);
        assert_eq!(openssl(&["passwd", "-apr1", "-salt", salt, PW]), h);
        assert!(apache_accepts(&h, PW));
        assert!(!apache_accepts(&h, WRONG));
        check_vector(&h, HashKind::Apr1, PW.as_bytes(), WRONG.as_bytes());
        assert_ne!(hash_apr1(PW.as_bytes()).unwrap(), h, "salts must be random");
    }

    // -- classification -------------------------------------------------------------

    /// A yescrypt `$y$` hash (`mkpasswd -m yescrypt`), a BSDi extended DES
    /// hash (`mkpasswd -m bsdicrypt`), LDAP-style `{SSHA256}`/`{sha}` values
    /// and the `!`/`*` lock markers are never treated as plain text: neither
    /// the password nor the hash string itself verifies.
    #[test]
    fn unsupported_schemes_and_lock_markers_are_not_plain() {
        let yescrypt = mkpasswd(&["-m", "yescrypt", PW]);
        assert!(yescrypt.starts_with("$y$"), "{yescrypt}");
        let bsdi = mkpasswd(&["-m", "bsdicrypt", PW]);
        assert!(bsdi.starts_with('_') && bsdi.len() == 20, "{bsdi}");
        let apr1 = openssl(&["passwd", "-apr1", PW]);
        for h in [
            yescrypt.clone(),
            bsdi,
            "{sha}GpHWL3ymc5liWkNopqtdSjuqYHM=".to_owned(),
            "$sha1$40000$salt$hash".to_owned(),
            "{SSHA256}c29tZWhhc2g=".to_owned(),
            "{CRYPT}$1$abc$def".to_owned(),
            format!("!{apr1}"),
            "*".to_owned(),
            "!".to_owned(),
        ] {
            let ph = PasswordHash::parse(&h);
            assert_eq!(ph.kind(), HashKind::Plain);
            assert!(ph.problem().is_some(), "{h} must be refused");
            assert!(
                !ph.verify(h.as_bytes()),
                "the hash itself must not be a password"
            );
            assert!(!ph.verify(PW.as_bytes()));
        }
        let file = HtpasswdFile::parse(&format!("alice:{yescrypt}\nbob:*\n"));
        assert!(file.is_empty());
        assert_eq!(file.issues().len(), 2);
        assert!(!file.verify("alice", yescrypt.as_bytes()));
        assert!(!file.verify("bob", b"*"));
    }

    /// `{PLAIN}x` verifies x (not the prefixed text), bare text verifies
    /// itself, `{PLAIN}` with nothing after it is refused, and plain text
    /// keeps its case and inner spaces.
    #[test]
    fn plain_prefix_and_bare_text() {
        check_vector(
            "{PLAIN}s3cret",
            HashKind::Plain,
            b"s3cret",
            b"{PLAIN}s3cret",
        );
        check_vector("Two Words", HashKind::Plain, b"Two Words", b"two words");
        let empty = PasswordHash::parse("{PLAIN}");
        assert!(empty.problem().is_some());
        assert!(!empty.verify(b""));
        let none = PasswordHash::parse("");
        assert!(none.problem().is_some());
        assert!(!none.verify(b""));
    }

    /// 13 characters of `[./0-9A-Za-z]` are DES, as nginx's crypt(3)
    /// fallback reads them, even if someone meant them as plain text; 12 or
    /// 14 such characters, or 13 with a character outside the alphabet,
    /// are plain text.
    #[test]
    fn thirteen_crypt_chars_are_des() {
        assert_eq!(
            PasswordHash::parse("abcdefghijklm").kind(),
            HashKind::DesCrypt
        );
        assert!(!PasswordHash::parse("abcdefghijklm").verify(b"abcdefghijklm"));
        assert_eq!(PasswordHash::parse("abcdefghijkl").kind(), HashKind::Plain);
        assert_eq!(
            PasswordHash::parse("abcdefghijklmn").kind(),
            HashKind::Plain
        );
        assert_eq!(PasswordHash::parse("abcdefghijkl-").kind(), HashKind::Plain);
    }

    /// A recognized prefix with a broken body keeps its kind, is reported,
    /// and never verifies: short bcrypt, bcrypt cost 99 and 03, one-digit
    /// cost, bad characters, apr1 with a 9-char salt or short digest.
    #[test]
    fn malformed_recognized_prefixes() {
        let good = htpasswd(&["-nbB", "-C", "5"]);
        let cases = [
            ("$2y$05$short".to_owned(), HashKind::Bcrypt),
            (good.replacen("$05$", "$99$", 1), HashKind::Bcrypt),
            (good.replacen("$05$", "$03$", 1), HashKind::Bcrypt),
            (good.replacen("$05$", "$5$", 1) + "x", HashKind::Bcrypt),
            (format!("{}!", &good[..59]), HashKind::Bcrypt),
            (
                "$apr1$123456789$abcdefghijklmnopqrstuv".to_owned(),
                HashKind::Apr1,
            ),
            (
                "$apr1$1234$abcdefghijklmnopqrstu".to_owned(),
                HashKind::Apr1,
            ),
            ("$apr1$nodollar".to_owned(), HashKind::Apr1),
            (
                "$1$salt$abcdefghijklmnopqrst!!".to_owned(),
                HashKind::Md5Crypt,
            ),
        ];
        for (h, kind) in cases {
            let ph = PasswordHash::parse(&h);
            assert_eq!(ph.kind(), kind, "{h}");
            assert!(ph.problem().is_some(), "{h} should be malformed");
            assert!(!ph.verify(PW.as_bytes()));
        }
    }

    /// bcrypt salts and digests whose unused trailing bits are not zero
    /// decode to the same bytes (OpenBSD ignores those bits), so such a
    /// hash still verifies instead of being rejected by a strict decoder.
    #[test]
    fn bcrypt_noncanonical_trailing_bits_accepted() {
        let h = htpasswd(&["-nbB", "-C", "4"]);
        let mut bytes = h.clone().into_bytes();
        // Salt char 22 (index 28) carries 2 used bits and 4 unused ones: set
        // the lowest unused bit in bcrypt's alphabet order.
        const BCRYPT_ALPHABET: &[u8] =
            b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let pos = BCRYPT_ALPHABET
            .iter()
            .position(|&c| c == bytes[28])
            .unwrap();
        bytes[28] = BCRYPT_ALPHABET[pos | 1];
        let tweaked = String::from_utf8(bytes).unwrap();
        assert_ne!(tweaked, h);
        check_vector(&tweaked, HashKind::Bcrypt, PW.as_bytes(), WRONG.as_bytes());
    }

    /// crypt(3)-family verifiers refuse passwords containing NUL (C code
    /// would cut them at the NUL, so `pw\0junk` would pass as `pw`), while
    /// plain/SHA schemes compare bytes as given; passwords over 4096 bytes
    /// never verify (SHA-crypt cost is quadratic in length).
    #[test]
    fn nul_and_oversized_passwords() {
        let des = PasswordHash::parse(&perl_crypt(b"pw", b"ab"));
        assert!(des.verify(b"pw"));
        assert!(!des.verify(b"pw\0"), "crypt(3) would accept this");
        assert!(!des.verify(b"pw\0junk"));
        let md5 = PasswordHash::parse(&openssl(&["passwd", "-1", "pw"]));
        assert!(md5.verify(b"pw"));
        assert!(!md5.verify(b"pw\0x"));
        let long = "x".repeat(MAX_PASSWORD_LEN + 1);
        let plain = PasswordHash::parse(&long);
        assert_eq!(plain.kind(), HashKind::Plain);
        assert!(!plain.verify(long.as_bytes()));
        let ok_len = "y".repeat(MAX_PASSWORD_LEN);
        assert!(PasswordHash::parse(&ok_len).verify(ok_len.as_bytes()));
        assert!(PasswordHash::parse("{PLAIN}a\u{1}b").verify(b"a\x01b"));
    }

    /// Kind names are stable and weakness matches the specification.
    #[test]
    fn kind_names_and_weakness() {
        use HashKind::*;
        let all = [
            Bcrypt,
            Argon2,
            Apr1,
            Md5Crypt,
            Sha256Crypt,
            Sha512Crypt,
            Sha1,
            SaltedSha1,
            DesCrypt,
            Plain,
        ];
        let weak: Vec<_> = all.iter().filter(|k| k.is_weak()).copied().collect();
        assert_eq!(
            weak,
            vec![Apr1, Md5Crypt, Sha1, SaltedSha1, DesCrypt, Plain]
        );
        let names: std::collections::HashSet<_> = all.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), all.len());
        assert_eq!(Bcrypt.name(), "bcrypt");
        assert_eq!(Plain.name(), "plain");
    }

    /// `Debug` of a hash and of a file never shows the hash or a plain-text
    /// password.
    #[test]
    fn debug_never_prints_secrets() {
        let apr1 = openssl(&["passwd", "-apr1", PW]);
        let ph = PasswordHash::parse(&apr1);
        let dbg = format!("{ph:?}");
        assert!(!dbg.contains(&apr1[6..]), "{dbg}");
        assert!(dbg.contains("Apr1"));
        let plain = PasswordHash::parse("{PLAIN}hunter2");
        assert!(!format!("{plain:?}").contains("hunter2"));
        let file = HtpasswdFile::parse(&format!("alice:{apr1}\nbob:hunter2\n"));
        let dbg = format!("{file:?}");
        assert!(
            !dbg.contains(&apr1[6..]) && !dbg.contains("hunter2"),
            "{dbg}"
        );
        assert!(dbg.contains("alice") && dbg.contains("bob"));
    }

    // -- files --------------------------------------------------------------------------

    /// A UTF-8 BOM, comments (also indented), blank and whitespace-only
    /// lines, CRLF endings, trailing spaces/tabs and extra `:comment` fields
    /// are all handled; line numbers count every physical line.
    #[test]
    fn file_format_edge_cases() {
        let apr1 = openssl(&["passwd", "-apr1", PW]);
        let sha1 = htpasswd(&["-nbs"]);
        let bcrypt = htpasswd(&["-nbB", "-C", "4"]);
        let text = format!(
            "\u{FEFF}# htpasswd for frontdoor\r\n\
             \r\n\
             alice:{apr1}\r\n\
             \t  # indented comment\n\
             bob:{sha1}:Bob Smith:ops  \t\n\
             \x20 \t\n\
             carol:{bcrypt} \t\r\n\
             dave:{{PLAIN}}pl ain\n"
        );
        let file = HtpasswdFile::parse(&text);
        assert!(file.issues().is_empty(), "{:?}", file.issues());
        assert_eq!(
            file.users().collect::<Vec<_>>(),
            vec![
                ("alice", HashKind::Apr1),
                ("bob", HashKind::Sha1),
                ("carol", HashKind::Bcrypt),
                ("dave", HashKind::Plain),
            ]
        );
        assert_eq!(file.len(), 4);
        assert!(!file.is_empty());
        assert_eq!(file.line_of("alice"), Some(3));
        assert_eq!(file.line_of("bob"), Some(5));
        assert_eq!(file.line_of("carol"), Some(7));
        assert_eq!(file.line_of("dave"), Some(8));
        for user in ["alice", "bob", "carol"] {
            assert!(file.verify(user, PW.as_bytes()), "{user}");
            assert!(!file.verify(user, WRONG.as_bytes()), "{user}");
        }
        assert!(file.verify("dave", b"pl ain"));
        assert!(
            !file.verify("Alice", PW.as_bytes()),
            "user names are case-sensitive"
        );
    }

    /// A BOM-only file, a comment-only file and an empty string parse to no
    /// users and no issues.
    #[test]
    fn file_without_entries() {
        for text in ["", "\u{FEFF}", "# only a comment\n\n", "\n\r\n   \n"] {
            let file = HtpasswdFile::parse(text);
            assert!(file.is_empty() && file.issues().is_empty(), "{text:?}");
            assert!(!file.verify("anyone", b""));
        }
    }

    /// A malformed line in the middle is reported with its 1-based line
    /// number and skipped; the users around it still work. Covers: no ':',
    /// empty user, empty hash, garbage hash.
    #[test]
    fn file_malformed_lines_reported_with_line_numbers() {
        let apr1 = openssl(&["passwd", "-apr1", PW]);
        let sha512 = openssl(&["passwd", "-6", PW]);
        let text = format!(
            "alice:{apr1}\n\
             just-some-text-without-colon\n\
             :{apr1}\n\
             erin:\n\
             frank:$2y$05$!!garbage!!\n\
             bob:{sha512}\n"
        );
        let file = HtpasswdFile::parse(&text);
        let lines: Vec<usize> = file.issues().iter().map(|i| i.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5], "{:?}", file.issues());
        assert!(file.issues()[0].reason.contains("':'"));
        assert!(file.issues()[1].reason.contains("empty user"));
        assert!(file.issues()[2].reason.contains("empty password hash"));
        assert!(file.issues()[3].reason.contains("bcrypt"));
        assert_eq!(file.len(), 2);
        assert!(file.verify("alice", PW.as_bytes()));
        assert!(file.verify("bob", PW.as_bytes()));
        assert!(!file.verify("frank", PW.as_bytes()));
        assert!(!file.verify("frank", b"$2y$05$!!garbage!!"));
        assert!(!file.verify("erin", b""));
        assert_eq!(
            format!("{}", file.issues()[0]),
            format!("line 2: {}", file.issues()[0].reason)
        );
    }

    /// A duplicate user: the first line wins (Apache's lookup order) and the
    /// later line is an issue naming the first line.
    #[test]
    fn file_duplicate_user_first_wins() {
        let first = openssl(&["passwd", "-apr1", PW]);
        let second = openssl(&["passwd", "-apr1", "other password"]);
        let file = HtpasswdFile::parse(&format!("alice:{first}\nalice:{second}\n"));
        assert_eq!(file.len(), 1);
        assert!(file.verify("alice", PW.as_bytes()));
        assert!(!file.verify("alice", b"other password"));
        assert_eq!(file.issues().len(), 1);
        assert_eq!(file.issues()[0].line, 2);
        assert!(
            file.issues()[0].reason.contains("line 1"),
            "{:?}",
            file.issues()
        );
    }

    /// When a user's first line is rejected (malformed or locked), a later
    /// line for the same user does not take over: the user stays disabled.
    #[test]
    fn file_rejected_first_entry_keeps_user_disabled() {
        let good = openssl(&["passwd", "-apr1", PW]);
        for bad in ["$apr1$broken", "*", "{SSHA}x"] {
            let file = HtpasswdFile::parse(&format!("alice:{bad}\nalice:{good}\n"));
            assert!(file.is_empty(), "{bad}");
            assert!(!file.verify("alice", PW.as_bytes()), "{bad}");
            assert_eq!(
                file.issues().iter().map(|i| i.line).collect::<Vec<_>>(),
                vec![1, 2]
            );
            assert!(file.issues()[1].reason.contains("disabled"));
        }
    }

    /// Issue reasons never contain the hash, the password or any other text
    /// of the offending line (a line with no ':' may be a pasted password).
    #[test]
    fn file_issue_reasons_never_contain_secrets() {
        let apr1 = openssl(&["passwd", "-apr1", PW]);
        let text = format!(
            "hunter2secret\n\
             alice:$2y$05$SeCrEtGaRbAgE\n\
             bob:{{SSHA}}SeCrEtGaRbAgE\n\
             carol:$y$SeCrEtGaRbAgE\n\
             dave:{{PLAIN}}\n\
             erin:{apr1}\n\
             erin:{apr1}\n\
             frank:!SeCrEtGaRbAgE\n"
        );
        let file = HtpasswdFile::parse(&text);
        assert_eq!(file.issues().len(), 7, "{:?}", file.issues());
        for issue in file.issues() {
            for secret in ["hunter2", "SeCrEt", &apr1[6..], "$apr1$", "alice", "erin"] {
                assert!(!issue.reason.contains(secret), "{issue:?} leaks {secret}");
            }
        }
    }

    /// An unknown user returns false after verifying against a dummy of the
    /// file's most common kind and its most common cost (bcrypt cost 8 here,
    /// not the single argon2 entry nor the cost-4 bcrypt). Timing is checked
    /// coarsely: unknown users take a real bcrypt's time, not microseconds.
    #[test]
    fn file_unknown_user_costs_like_majority_kind() {
        let b8a = hash_bcrypt(b"a", 8).unwrap();
        let b8b = hash_bcrypt(b"b", 8).unwrap();
        let b4 = hash_bcrypt(b"c", 4).unwrap();
        let argon = hash_argon2id(b"d").unwrap();
        let file = HtpasswdFile::parse(&format!("u1:{b4}\nu2:{argon}\nu3:{b8a}\nu4:{b8b}\n"));
        let dummy = file.dummy.as_ref().unwrap();
        assert_eq!(dummy.kind(), HashKind::Bcrypt);
        assert_eq!(dummy.cost_key().0, 8);
        assert!(!file.verify("nobody", b"a"));
        assert!(
            !file.verify("nobody", b"b"),
            "even a real user's password fails for an unknown name"
        );

        let time = |user: &str| {
            (0..3)
                .map(|_| {
                    let t = Instant::now();
                    assert!(!file.verify(user, b"wrong"));
                    t.elapsed()
                })
                .min()
                .unwrap()
        };
        let known = time("u3");
        let unknown = time("nobody");
        assert!(
            known > Duration::from_millis(1),
            "bcrypt cost 8 took {known:?}"
        );
        assert!(
            unknown * 4 > known,
            "unknown user took {unknown:?}, known {known:?}"
        );

        // Ties go to the slower kind; an empty file has no dummy.
        let apr1 = hash_apr1(b"x").unwrap();
        let tie = HtpasswdFile::parse(&format!("a:{apr1}\nb:{b4}\n"));
        assert_eq!(tie.dummy.as_ref().unwrap().kind(), HashKind::Bcrypt);
        assert!(HtpasswdFile::parse("").dummy.is_none());
    }

    /// `load` reads a file; an unreadable path is an error naming the path.
    #[test]
    fn load_io_error_names_path() {
        let missing = temp_path("does-not-exist");
        let err = HtpasswdFile::load(&missing).err().unwrap();
        assert!(matches!(err, HtpasswdError::Io { .. }));
        assert!(
            err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );
    }

    /// A non-empty file where every non-comment line is bad is
    /// `NoValidUsers` (so a reload keeps the old users), carrying the
    /// issues; a file with one good line among bad ones loads.
    #[test]
    fn load_all_bad_lines_is_no_valid_users() {
        let path = temp_path("all-bad");
        std::fs::write(&path, "# users\nalice\nbob:$apr1$oops\n\n").unwrap();
        let err = HtpasswdFile::load(&path).err().unwrap();
        match &err {
            HtpasswdError::NoValidUsers { path: p, issues } => {
                assert_eq!(p, &path);
                assert_eq!(
                    issues.iter().map(|i| i.line).collect::<Vec<_>>(),
                    vec![2, 3]
                );
            }
            other => panic!("expected NoValidUsers, got {other:?}"),
        }
        assert!(err.to_string().contains("line 2"), "{err}");
        let apr1 = openssl(&["passwd", "-apr1", PW]);
        std::fs::write(&path, format!("alice\nbob:{apr1}\n")).unwrap();
        let file = HtpasswdFile::load(&path).unwrap();
        assert_eq!(file.len(), 1);
        assert_eq!(file.issues().len(), 1);
        assert!(file.verify("bob", PW.as_bytes()));
        std::fs::remove_file(&path).unwrap();
    }

    /// An empty or comment-only file loads as zero users (not an error), and
    /// invalid UTF-8 is replaced rather than failing the whole file.
    #[test]
    fn load_empty_and_non_utf8_files() {
        let path = temp_path("empty");
        std::fs::write(&path, "").unwrap();
        assert!(HtpasswdFile::load(&path).unwrap().is_empty());
        std::fs::write(&path, "# nobody yet\n").unwrap();
        assert!(HtpasswdFile::load(&path).unwrap().is_empty());
        let apr1 = openssl(&["passwd", "-apr1", PW]);
        let mut bytes = format!("alice:{apr1}\n").into_bytes();
        bytes.extend_from_slice(b"caf\xe9:{PLAIN}x\n");
        std::fs::write(&path, &bytes).unwrap();
        let file = HtpasswdFile::load(&path).unwrap();
        assert_eq!(file.len(), 2);
        assert!(file.verify("alice", PW.as_bytes()));
        assert!(file.verify("caf\u{FFFD}", b"x"));
        std::fs::remove_file(&path).unwrap();
    }

    // -- no-panic fuzzing ------------------------------------------------------------

    /// xorshift64*: deterministic, dependency-free randomness for fuzzing.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        /// Bytes biased towards the characters the parsers care about.
        fn byte(&mut self) -> u8 {
            const INTERESTING: &[u8] = b"$:{}#\n\r \t!*=./0123456789azAZ_-,";
            match self.below(4) {
                0 => INTERESTING[self.below(INTERESTING.len())],
                1 => ITOA64[self.below(64)],
                _ => self.next() as u8,
            }
        }
        fn bytes(&mut self, max: usize) -> Vec<u8> {
            let len = self.below(max + 1);
            (0..len).map(|_| self.byte()).collect()
        }
    }

    /// Arbitrary byte strings (lossily decoded) through `PasswordHash::parse`
    /// and `verify`, and through `HtpasswdFile::parse` and `verify`: no
    /// panic, and every reported issue carries a real (1-based) line number.
    #[test]
    fn fuzz_random_bytes_never_panic() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let field = String::from_utf8_lossy(&rng.bytes(90)).into_owned();
            let password = rng.bytes(40);
            let ph = PasswordHash::parse(&field);
            let _ = ph.verify(&password);
            let _ = ph.kind().name();
            let _ = format!("{ph:?}");
        }
        for _ in 0..300 {
            let text = String::from_utf8_lossy(&rng.bytes(400)).into_owned();
            let file = HtpasswdFile::parse(&text);
            for issue in file.issues() {
                assert!(issue.line >= 1);
            }
            let users: Vec<String> = file.users().map(|(u, _)| u.to_owned()).collect();
            for u in users.iter().take(3) {
                let _ = file.verify(u, &rng.bytes(20));
            }
            let _ = file.verify("no such user", b"x");
        }
    }

    /// Valid hashes of every kind (cheap parameters) with random byte
    /// replacements, insertions and truncations after their prefix: parse
    /// and verify never panic. The cost/rounds fields are not mutated so a
    /// mutation cannot turn a test vector into an hour-long bcrypt.
    #[test]
    fn fuzz_mutated_hashes_never_panic() {
        let templates: Vec<(String, usize)> = vec![
            (hash_bcrypt(b"pw", 4).unwrap(), 7),
            (
                "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0$/KWCHGFd715/pLMVFtosRw".to_owned(),
                28,
            ),
            (hash_apr1(b"pw").unwrap(), 6),
            (openssl(&["passwd", "-1", "pw"]), 3),
            (perl_crypt(b"pw", b"$5$rounds=1000$saltsalt$"), 15),
            (perl_crypt(b"pw", b"$6$rounds=1000$saltsalt$"), 15),
            (htpasswd(&["-nbs"]), 5),
            (
                "{SSHA}".to_owned() + &base64::engine::general_purpose::STANDARD.encode([9u8; 24]),
                6,
            ),
            (perl_crypt(b"pw", b"ab"), 0),
            ("{PLAIN}pw".to_owned(), 7),
        ];
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        for _ in 0..1500 {
            let (template, keep) = &templates[rng.below(templates.len())];
            let mut bytes = template.clone().into_bytes();
            for _ in 0..=rng.below(3) {
                let span = bytes.len().saturating_sub(*keep).max(1);
                let pos = keep + rng.below(span);
                match rng.below(3) {
                    0 if pos < bytes.len() => bytes[pos] = rng.byte(),
                    1 => bytes.insert(pos.min(bytes.len()), rng.byte()),
                    _ => bytes.truncate(pos),
                }
            }
            let field = String::from_utf8_lossy(&bytes).into_owned();
            let ph = PasswordHash::parse(&field);
            let _ = ph.verify(b"pw");
            let _ = ph.verify(&rng.bytes(30));
            let file = HtpasswdFile::parse(&format!("u:{field}\n"));
            let _ = file.verify("u", b"pw");
            let _ = file.verify("v", b"pw");
        }
    }
}
