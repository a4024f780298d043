//! Webhook signature headers: Stripe's `t=...,v1=...` list, a hex or base64 tag, a
//! timestamp, and the whole check for every kind with the input split into header values
//! and body: never a panic, and no forged input passes (the secret is not in the input).
#![no_main]

use frontdoor::auth::webhook::{decode_tag, parse_stripe, parse_timestamp, verify};
use frontdoor::config::{SignatureEncoding, WebhookKind, WebhookSettings};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_stripe(&text);
    let _ = parse_timestamp(&text);
    let _ = decode_tag(&text, SignatureEncoding::Hex);
    let _ = decode_tag(&text, SignatureEncoding::Base64);

    // header value | timestamp | body
    let mut parts = data.splitn(3, |b| *b == b'|');
    let (Some(value), Some(stamp), Some(body)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    for (kind, header, prefix) in [
        (WebhookKind::GitHub, "x-hub-signature-256", "sha256="),
        (WebhookKind::Stripe, "stripe-signature", ""),
        (WebhookKind::Slack, "x-slack-signature", "v0="),
        (WebhookKind::HmacSha256, "x-signature", ""),
    ] {
        let settings = WebhookSettings {
            kind,
            secrets: vec!["a secret the fuzzer does not see".to_string()],
            header: HeaderName::from_static(header),
            encoding: SignatureEncoding::Base64,
            prefix: prefix.to_string(),
            tolerance_secs: 300,
        };
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.insert(settings.header.clone(), v);
        }
        if let Ok(v) = HeaderValue::from_bytes(stamp) {
            headers.insert("x-slack-request-timestamp", v);
        }
        let now = std::str::from_utf8(stamp)
            .ok()
            .and_then(parse_timestamp)
            .unwrap_or(0);
        assert!(verify(&settings, &headers, body, now).is_err(), "a forgery passed");
    }
});
