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
// under clippy, not just a convention. The levels hold in every file below this one (lint
// levels are inherited by child modules); tests opt out below.
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
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

mod argon2_format;
mod bcrypt_format;
mod crypt64;
mod des_crypt;
mod file;
mod hashing;
mod ldap_sha;
mod md5_crypt;
mod sha_crypt_format;

use argon2_format::*;
use bcrypt_format::*;
use crypt64::*;
use des_crypt::*;
pub use file::*;
pub use hashing::*;
use ldap_sha::*;
use md5_crypt::*;
use sha_crypt_format::*;

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
            } => match sha_crypt_digest(*variant, password, salt, *rounds) {
                Some(computed) => ct_eq(&computed, digest),
                None => false,
            },
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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests;
