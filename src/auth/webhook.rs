//! Webhook signatures (`auth = ["webhook"]`): senders that cannot log in sign the body
//! with a shared secret. The whole body is read first (up to the route's cap), the HMAC is
//! checked in constant time (`aws_lc_rs::hmac::verify`) against every configured secret,
//! and only then is the delivery forwarded. Stripe and Slack sign a timestamp too; one
//! outside the tolerance is a replay and is refused.

use aws_lc_rs::hmac;
use base64::Engine;
use http::HeaderMap;

use subtle::ConstantTimeEq;

use super::single_header;
use crate::config::{SignatureEncoding, WebhookKind, WebhookSettings};
use crate::policy::percent::hex_value;

/// Why a delivery was refused (for the log; the client gets one 401 for all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no {0} header")]
    Missing(&'static str),
    #[error("the {0} header is not a signature of the expected form")]
    Malformed(&'static str),
    #[error("the signed timestamp is outside the tolerance (a replay or a wrong clock)")]
    Stale,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// An HMAC-SHA256 is 32 bytes.
pub type Tag = [u8; 32];

/// Checks a delivery's signature against the route's secrets.
pub fn verify(
    settings: &WebhookSettings,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header_name: &'static str = match settings.kind {
        WebhookKind::GitHub => "X-Hub-Signature-256",
        WebhookKind::Stripe => "Stripe-Signature",
        WebhookKind::Slack => "X-Slack-Signature",
        WebhookKind::HmacSha256 => "signature",
    };
    let value = single_header(headers, settings.header.as_str())
        .ok_or(SignatureError::Missing(header_name))?;
    match settings.kind {
        WebhookKind::GitHub | WebhookKind::HmacSha256 => {
            let tag = value
                .strip_prefix(settings.prefix.as_str())
                .and_then(|t| decode_tag(t, settings.encoding))
                .ok_or(SignatureError::Malformed(header_name))?;
            check(&settings.secrets, &[body], &[tag])
        }
        WebhookKind::Slack => {
            let timestamp = single_header(headers, "x-slack-request-timestamp")
                .ok_or(SignatureError::Missing("X-Slack-Request-Timestamp"))?;
            let at = parse_timestamp(timestamp)
                .ok_or(SignatureError::Malformed("X-Slack-Request-Timestamp"))?;
            let tag = value
                .strip_prefix("v0=")
                .and_then(|t| decode_tag(t, SignatureEncoding::Hex))
                .ok_or(SignatureError::Malformed(header_name))?;
            fresh(at, now, settings.tolerance_secs)?;
            check(
                &settings.secrets,
                &[b"v0:", timestamp.as_bytes(), b":", body],
                &[tag],
            )
        }
        WebhookKind::Stripe => {
            let parsed = parse_stripe(value).ok_or(SignatureError::Malformed(header_name))?;
            fresh(parsed.timestamp, now, settings.tolerance_secs)?;
            check(
                &settings.secrets,
                &[parsed.timestamp_text.as_bytes(), b".", body],
                &parsed.v1,
            )
        }
    }
}

fn fresh(at: i64, now: i64, tolerance_secs: i64) -> Result<(), SignatureError> {
    if now.abs_diff(at) > tolerance_secs.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// Whether any secret signed the message (given in parts) with any of the tags. Every
/// comparison is constant-time; all pairs are tried, so timing says nothing about which.
fn check(secrets: &[String], message: &[&[u8]], tags: &[Tag]) -> Result<(), SignatureError> {
    let mut matched = false;
    for secret in secrets {
        let expected = hmac_sha256(secret, message);
        for tag in tags {
            // verify() recomputes; comparing the computed tag in constant time is the same
            // check without hashing the body once per tag.
            matched |= bool::from(expected.as_ref().ct_eq(tag));
        }
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// A Unix time in seconds, digits only.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A 32-byte tag in hex (either case) or standard base64.
pub fn decode_tag(text: &str, encoding: SignatureEncoding) -> Option<Tag> {
    let bytes = match encoding {
        SignatureEncoding::Hex => {
            if text.len() != 64 {
                return None;
            }
            let mut out = Vec::with_capacity(32);
            for pair in text.as_bytes().chunks(2) {
                let high = hex_value(*pair.first()?)?;
                let low = hex_value(*pair.get(1)?)?;
                out.push(high << 4 | low);
            }
            out
        }
        SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?,
    };
    bytes.try_into().ok()
}

/// `Stripe-Signature: t=1492774577,v1=HEX[,v1=HEX][,v0=...]`, read.
#[derive(Debug, PartialEq, Eq)]
pub struct StripeSignature<'a> {
    pub timestamp: i64,
    /// The timestamp as sent: it is what was signed.
    pub timestamp_text: &'a str,
    /// Every `v1` signature (Stripe sends one per active secret while one is rolled).
    pub v1: Vec<Tag>,
}

/// None unless there is exactly one `t`, at least one well-formed `v1`, and at most 16
/// items (other schemes such as `v0` are ignored, as Stripe's libraries do).
pub fn parse_stripe(value: &str) -> Option<StripeSignature<'_>> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for (n, item) in value.split(',').enumerate() {
        if n >= 16 {
            return None;
        }
        let (key, text) = item.trim().split_once('=')?;
        match key {
            "t" => {
                if timestamp.is_some() {
                    return None;
                }
                timestamp = Some((parse_timestamp(text)?, text));
            }
            "v1" => v1.push(decode_tag(text, SignatureEncoding::Hex)?),
            _ => {}
        }
    }
    let (timestamp, timestamp_text) = timestamp?;
    if v1.is_empty() {
        return None;
    }
    Some(StripeSignature {
        timestamp,
        timestamp_text,
        v1,
    })
}

/// The signature a sender would put in the header, for tests and for `frontdoor` users
/// checking a setup: HMAC-SHA256 of the parts in lower-case hex.
pub fn sign_hex(secret: &str, message: &[&[u8]]) -> String {
    super::api_keys::file::encode_hex(hmac_sha256(secret, message).as_ref())
}

/// HMAC-SHA256 of a message given in parts.
fn hmac_sha256(secret: &str, message: &[&[u8]]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    for part in message {
        context.update(part);
    }
    context.sign()
}

#[cfg(test)]
mod tests;
