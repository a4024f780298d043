//! JSON Web Tokens as OpenID providers sign them: the compact form, the provider's JWKS, and
//! the signature check with aws-lc-rs. Only RS256, ES256 and EdDSA (Ed25519) are accepted,
//! each only with a key of its own type: never `none`, never an HMAC.

use std::collections::HashMap;

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

/// Tokens larger than this are refused before any parsing (cookies and headers are smaller).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a key set was refused.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("not a JWKS document: {0}")]
    NotJwks(#[source] serde_json::Error),
    #[error("the JWKS has no RSA, P-256 or Ed25519 signing key")]
    NoUsableKey,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("not a signed JWT")]
    Malformed,
    #[error("algorithm `{0}` is not accepted")]
    Algorithm(String),
    #[error("no key `{0}` in the provider's key set")]
    UnknownKey(String),
    #[error("the signature does not verify")]
    Signature,
    #[error("claim `{0}` is missing or wrong")]
    Claim(&'static str),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
}

/// A signed token, split and decoded but not yet trusted.
pub struct Unverified {
    pub alg: String,
    pub kid: Option<String>,
    signed: Vec<u8>,
    signature: Vec<u8>,
    pub claims: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// Splits and decodes `token`; the signature is checked by [`KeySet::verify`].
pub fn parse(token: &str) -> Result<Unverified, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed);
    let header: Header =
        serde_json::from_slice(&decode(header)?).map_err(|_| JwtError::Malformed)?;
    if header.crit.is_some() {
        // No extension is understood, so none may be critical.
        return Err(JwtError::Malformed);
    }
    let claims = match serde_json::from_slice(&decode(payload)?) {
        Ok(Value::Object(map)) => map,
        _ => return Err(JwtError::Malformed),
    };
    let signed_len = token.len() - signature.len() - 1;
    Ok(Unverified {
        alg: header.alg,
        kid: header.kid,
        signed: token.as_bytes()[..signed_len].to_vec(),
        signature: decode(signature)?,
        claims,
    })
}

/// One public key from a JWKS, ready to verify with.
#[derive(Debug, Clone)]
enum PublicKey {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    P256 { point: Vec<u8> },
    Ed25519 { x: Vec<u8> },
}

/// The provider's signing keys, by `kid` (keys without one are tried when a token names none).
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    by_kid: HashMap<String, PublicKey>,
    anonymous: Vec<PublicKey>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Value>,
}

impl KeySet {
    /// Reads a JWKS document. Keys of unknown types, encryption keys and malformed keys are
    /// skipped; a document with no usable key is an error.
    pub fn from_json(bytes: &[u8]) -> Result<KeySet, JwksError> {
        let jwks: Jwks = serde_json::from_slice(bytes).map_err(JwksError::NotJwks)?;
        let mut set = KeySet::default();
        for key in jwks.keys {
            let text = |name: &str| key.get(name).and_then(Value::as_str);
            if text("use").is_some_and(|u| u != "sig") {
                continue;
            }
            let bytes = |name: &str| text(name).and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
            let parsed = match (text("kty"), text("crv")) {
                (Some("RSA"), _) => match (bytes("n"), bytes("e")) {
                    (Some(n), Some(e)) => Some(PublicKey::Rsa { n, e }),
                    _ => None,
                },
                (Some("EC"), Some("P-256")) => match (bytes("x"), bytes("y")) {
                    (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                        let mut point = vec![0x04];
                        point.extend_from_slice(&x);
                        point.extend_from_slice(&y);
                        Some(PublicKey::P256 { point })
                    }
                    _ => None,
                },
                (Some("OKP"), Some("Ed25519")) => match bytes("x") {
                    Some(x) if x.len() == 32 => Some(PublicKey::Ed25519 { x }),
                    _ => None,
                },
                _ => None,
            };
            let Some(parsed) = parsed else { continue };
            match text("kid") {
                Some(kid) => {
                    set.by_kid.insert(kid.to_string(), parsed);
                }
                None => set.anonymous.push(parsed),
            }
        }
        if set.by_kid.is_empty() && set.anonymous.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(set)
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// Checks the signature of `token` with the key it names and the algorithm that key's
    /// type allows.
    pub fn verify(&self, token: &Unverified) -> Result<(), JwtError> {
        // The algorithm first: a token that cannot be accepted never causes a key lookup
        // (or a JWKS re-fetch).
        if !matches!(token.alg.as_str(), "RS256" | "ES256" | "EdDSA") {
            return Err(JwtError::Algorithm(token.alg.chars().take(16).collect()));
        }
        let candidates: Vec<&PublicKey> = match &token.kid {
            Some(kid) => vec![
                self.by_kid
                    .get(kid)
                    .ok_or_else(|| JwtError::UnknownKey(kid.chars().take(64).collect()))?,
            ],
            None => self.anonymous.iter().chain(self.by_kid.values()).collect(),
        };
        for key in candidates {
            let verified = match (token.alg.as_str(), key) {
                ("RS256", PublicKey::Rsa { n, e }) => signature::RsaPublicKeyComponents { n, e }
                    .verify(
                        &signature::RSA_PKCS1_2048_8192_SHA256,
                        &token.signed,
                        &token.signature,
                    )
                    .is_ok(),
                ("ES256", PublicKey::P256 { point }) => {
                    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                        .verify(&token.signed, &token.signature)
                        .is_ok()
                }
                ("EdDSA", PublicKey::Ed25519 { x }) => {
                    UnparsedPublicKey::new(&signature::ED25519, x)
                        .verify(&token.signed, &token.signature)
                        .is_ok()
                }
                // The algorithm does not fit this key's type: never reinterpret a key.
                _ => false,
            };
            if verified {
                return Ok(());
            }
        }
        Err(JwtError::Signature)
    }
}

/// What every token from the provider must satisfy.
pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// ID tokens: with several audiences, `azp` must be this client. Access tokens carry
    /// `azp` as the calling client, so it is not checked for them.
    pub check_azp: bool,
    /// Seconds of clock skew allowed on `exp`, `iat` and `nbf`.
    pub leeway: i64,
    pub now: i64,
}

/// Checks `iss`, `aud` (and `azp` when there are several audiences), `exp`, `nbf` and `iat`.
pub fn check_claims(
    claims: &serde_json::Map<String, Value>,
    want: &Expectations<'_>,
) -> Result<(), JwtError> {
    if claims.get("iss").and_then(Value::as_str) != Some(want.issuer) {
        return Err(JwtError::Claim("iss"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => return Err(JwtError::Claim("aud")),
    };
    if !audiences.contains(&want.audience) {
        return Err(JwtError::Claim("aud"));
    }
    if want.check_azp
        && audiences.len() > 1
        && claims.get("azp").and_then(Value::as_str) != Some(want.audience)
    {
        return Err(JwtError::Claim("azp"));
    }
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    let exp = number("exp").ok_or(JwtError::Claim("exp"))?;
    if exp + want.leeway <= want.now {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = number("nbf")
        && nbf - want.leeway > want.now
    {
        return Err(JwtError::NotYetValid);
    }
    if let Some(iat) = number("iat")
        && iat - want.leeway > want.now
    {
        return Err(JwtError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn sign_es256(key: &EcdsaKeyPair, header: &str, claims: &str) -> String {
        let signed = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let sig = key
            .sign(&SystemRandom::new(), signed.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        format!("{signed}.{}", b64(sig.as_ref()))
    }

    fn p256() -> (EcdsaKeyPair, String) {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let key =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
                .unwrap_or_else(|e| panic!("{e}"));
        let point = key.public_key().as_ref().to_vec();
        let jwk = format!(
            r#"{{"kty":"EC","crv":"P-256","kid":"ec1","use":"sig","x":"{}","y":"{}"}}"#,
            b64(&point[1..33]),
            b64(&point[33..])
        );
        (key, jwk)
    }

    /// A good ES256 token verifies; a changed payload, another key, `none`, HS256 and an
    /// unknown kid do not.
    #[test]
    fn signatures() {
        let (key, jwk) = p256();
        let (other, _) = p256();
        let set = KeySet::from_json(format!(r#"{{"keys":[{jwk}]}}"#).as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let header = r#"{"alg":"ES256","kid":"ec1"}"#;
        let good = sign_es256(&key, header, r#"{"sub":"a"}"#);
        let parsed = parse(&good).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.verify(&parsed), Ok(()));

        let parts: Vec<&str> = good.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], b64(br#"{"sub":"b"}"#), parts[2]);
        let parsed = parse(&tampered).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.verify(&parsed), Err(JwtError::Signature));

        let wrong_key = sign_es256(&other, header, r#"{"sub":"a"}"#);
        let parsed = parse(&wrong_key).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.verify(&parsed), Err(JwtError::Signature));

        for alg in ["none", "HS256", "RS384"] {
            let forged = format!(
                "{}.{}.{}",
                b64(format!(r#"{{"alg":"{alg}","kid":"ec1"}}"#).as_bytes()),
                parts[1],
                parts[2]
            );
            let parsed = parse(&forged).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(set.verify(&parsed), Err(JwtError::Algorithm(alg.into())));
        }
        // RS256 claimed with an EC key: the key is never reinterpreted.
        let mismatched = sign_es256(&key, r#"{"alg":"RS256","kid":"ec1"}"#, r#"{"sub":"a"}"#);
        let parsed = parse(&mismatched).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.verify(&parsed), Err(JwtError::Signature));

        let unknown = sign_es256(&key, r#"{"alg":"ES256","kid":"nope"}"#, r#"{"sub":"a"}"#);
        let parsed = parse(&unknown).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            set.verify(&parsed),
            Err(JwtError::UnknownKey("nope".into()))
        );

        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", &"a".repeat(20_000)] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// Ed25519 keys verify EdDSA tokens.
    #[test]
    fn eddsa() {
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap_or_else(|e| panic!("{e}"));
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap_or_else(|e| panic!("{e}"));
        let jwk = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"{}"}}]}}"#,
            b64(key.public_key().as_ref())
        );
        let set = KeySet::from_json(jwk.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let signed = format!(
            "{}.{}",
            b64(br#"{"alg":"EdDSA","kid":"ed"}"#),
            b64(br#"{"sub":"a"}"#)
        );
        let token = format!("{signed}.{}", b64(key.sign(signed.as_bytes()).as_ref()));
        let parsed = parse(&token).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.verify(&parsed), Ok(()));
    }

    /// Issuer, audience, azp and times.
    #[test]
    fn claims() {
        let want = Expectations {
            issuer: "https://op.test",
            audience: "fd",
            check_azp: true,
            leeway: 60,
            now: 1_000_000,
        };
        let check = |json: &str| {
            let Value::Object(map) = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"))
            else {
                panic!("not an object")
            };
            check_claims(&map, &want)
        };
        assert_eq!(
            check(r#"{"iss":"https://op.test","aud":"fd","exp":1000100,"iat":999990}"#),
            Ok(())
        );
        assert_eq!(
            check(r#"{"iss":"https://evil.test","aud":"fd","exp":1000100}"#),
            Err(JwtError::Claim("iss"))
        );
        assert_eq!(
            check(r#"{"iss":"https://op.test","aud":"other","exp":1000100}"#),
            Err(JwtError::Claim("aud"))
        );
        assert_eq!(
            check(r#"{"iss":"https://op.test","aud":["fd","x"],"exp":1000100}"#),
            Err(JwtError::Claim("azp"))
        );
        assert_eq!(
            check(r#"{"iss":"https://op.test","aud":["fd","x"],"azp":"fd","exp":1000100}"#),
            Ok(())
        );
        assert_eq!(
            check(r#"{"iss":"https://op.test","aud":"fd","exp":999900}"#),
            Err(JwtError::Expired)
        );
        assert_eq!(
            check(r#"{"iss":"https://op.test","aud":"fd","exp":1000100,"iat":1000100}"#),
            Err(JwtError::NotYetValid)
        );
        assert_eq!(
            check(r#"{"iss":"https://op.test","aud":"fd"}"#),
            Err(JwtError::Claim("exp"))
        );
    }
}
