#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The providers' published vectors, and what must be refused.

use super::*;
use http::HeaderValue;

fn settings(kind: WebhookKind, secrets: &[&str]) -> WebhookSettings {
    let (header, prefix) = match kind {
        WebhookKind::GitHub => ("x-hub-signature-256", "sha256="),
        WebhookKind::Stripe => ("stripe-signature", ""),
        WebhookKind::Slack => ("x-slack-signature", "v0="),
        WebhookKind::HmacSha256 => ("x-signature", ""),
    };
    WebhookSettings {
        kind,
        secrets: secrets.iter().map(|s| s.to_string()).collect(),
        header: http::HeaderName::from_static(header),
        encoding: SignatureEncoding::Hex,
        prefix: prefix.to_string(),
        tolerance_secs: 300,
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

/// GitHub's docs ("Validating webhook deliveries"): secret "It's a Secret to Everybody",
/// payload "Hello, World!".
const GITHUB_SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[test]
fn github_published_vector() {
    let s = settings(WebhookKind::GitHub, &["It's a Secret to Everybody"]);
    let good = headers(&[("x-hub-signature-256", GITHUB_SIG)]);
    assert_eq!(verify(&s, &good, b"Hello, World!", 0), Ok(()));
    assert_eq!(
        sign_hex("It's a Secret to Everybody", &[b"Hello, World!"]),
        GITHUB_SIG.trim_start_matches("sha256=")
    );
    assert_eq!(
        verify(&s, &good, b"Hello, World?", 0),
        Err(SignatureError::Mismatch),
        "tampered body"
    );
    let wrong = settings(WebhookKind::GitHub, &["another secret"]);
    assert_eq!(
        verify(&wrong, &good, b"Hello, World!", 0),
        Err(SignatureError::Mismatch)
    );
    // Rotation: any listed secret.
    let rotating = settings(
        WebhookKind::GitHub,
        &["new secret", "It's a Secret to Everybody"],
    );
    assert_eq!(verify(&rotating, &good, b"Hello, World!", 0), Ok(()));
    assert_eq!(
        verify(&s, &HeaderMap::new(), b"Hello, World!", 0),
        Err(SignatureError::Missing("X-Hub-Signature-256"))
    );
    for bad in [
        GITHUB_SIG.trim_start_matches("sha256="),
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1g",
        "sha256=",
    ] {
        let h = headers(&[("x-hub-signature-256", bad)]);
        assert_eq!(
            verify(&s, &h, b"Hello, World!", 0),
            Err(SignatureError::Malformed("X-Hub-Signature-256")),
            "{bad}"
        );
    }
    // Two signature headers are ambiguous: none.
    let two = headers(&[
        ("x-hub-signature-256", GITHUB_SIG),
        ("x-hub-signature-256", GITHUB_SIG),
    ]);
    assert!(verify(&s, &two, b"Hello, World!", 0).is_err());
}

/// Slack's docs ("Verifying requests from Slack"): the example signing secret, timestamp,
/// body and signature.
#[test]
fn slack_published_vector() {
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let s = settings(WebhookKind::Slack, &["8f742231b10e8888abcd99yyyzzz85a5"]);
    let h = headers(&[
        ("x-slack-request-timestamp", "1531420618"),
        (
            "x-slack-signature",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        ),
    ]);
    assert_eq!(verify(&s, &h, BODY, 1_531_420_618 + 10), Ok(()));
    // The same delivery replayed later than five minutes (or dated in the future).
    assert_eq!(
        verify(&s, &h, BODY, 1_531_420_618 + 301),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        verify(&s, &h, BODY, 1_531_420_618 - 301),
        Err(SignatureError::Stale)
    );
    let mut tampered = BODY.to_vec();
    tampered[0] = b'T';
    assert_eq!(
        verify(&s, &h, &tampered, 1_531_420_618),
        Err(SignatureError::Mismatch)
    );
    // A timestamp changed to look fresh breaks the signature.
    let moved = headers(&[
        ("x-slack-request-timestamp", "1531420619"),
        (
            "x-slack-signature",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        ),
    ]);
    assert_eq!(
        verify(&s, &moved, BODY, 1_531_420_619),
        Err(SignatureError::Mismatch)
    );
    let no_ts = headers(&[(
        "x-slack-signature",
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    )]);
    assert_eq!(
        verify(&s, &no_ts, BODY, 1_531_420_618),
        Err(SignatureError::Missing("X-Slack-Request-Timestamp"))
    );
}

/// Stripe's scheme (docs, "Verify the events manually"): HMAC-SHA256 of `t.body`, one or
/// more `v1` in the header, five minutes of tolerance.
#[test]
fn stripe_scheme() {
    let body = br#"{"id":"evt_test","object":"event"}"#;
    let t = 1_700_000_000_i64;
    let sig = sign_hex("whsec_test", &[t.to_string().as_bytes(), b".", body]);
    let s = settings(WebhookKind::Stripe, &["whsec_test"]);
    let h = |v: &str| headers(&[("stripe-signature", v)]);
    assert_eq!(
        verify(&s, &h(&format!("t={t},v1={sig}")), body, t + 299),
        Ok(())
    );
    // Several v1 (a secret being rolled) and a v0 test-mode signature are fine.
    let other = "0".repeat(64);
    assert_eq!(
        verify(
            &s,
            &h(&format!("t={t},v1={other},v1={sig},v0={other}")),
            body,
            t
        ),
        Ok(())
    );
    assert_eq!(
        verify(&s, &h(&format!("t={t},v1={sig}")), body, t + 301),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        verify(&s, &h(&format!("t={},v1={sig}", t + 1)), body, t),
        Err(SignatureError::Mismatch),
        "the timestamp is signed"
    );
    for bad in [
        format!("v1={sig}"),
        format!("t={t}"),
        format!("t={t},v0={sig}"),
        format!("t={t},t={t},v1={sig}"),
        format!("t=-{t},v1={sig}"),
        format!("t={t},v1={}", &sig[1..]),
        "".to_string(),
        format!("t={t},v1={sig},junk"),
    ] {
        assert_eq!(
            verify(&s, &h(&bad), body, t),
            Err(SignatureError::Malformed("Stripe-Signature")),
            "{bad}"
        );
    }
    let spaced = format!("t={t}, v1={sig}");
    let parsed = parse_stripe(&spaced).unwrap();
    assert_eq!((parsed.timestamp, parsed.v1.len()), (t, 1));
}

#[test]
fn generic_hmac_in_hex_or_base64() {
    let body = b"payload";
    let hex = sign_hex("k", &[body]);
    let mut s = settings(WebhookKind::HmacSha256, &["k"]);
    s.prefix = "sha256=".to_string();
    let h = headers(&[("x-signature", &format!("sha256={}", hex.to_uppercase()))]);
    assert_eq!(verify(&s, &h, body, 0), Ok(()), "upper-case hex too");
    s.prefix.clear();
    s.encoding = SignatureEncoding::Base64;
    let tag = decode_tag(&hex, SignatureEncoding::Hex).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(tag);
    assert_eq!(
        verify(&s, &headers(&[("x-signature", &b64)]), body, 0),
        Ok(())
    );
    assert_eq!(
        verify(&s, &headers(&[("x-signature", &b64)]), b"payload!", 0),
        Err(SignatureError::Mismatch)
    );
    assert!(
        decode_tag("AAAA", SignatureEncoding::Base64).is_none(),
        "too short"
    );
}
