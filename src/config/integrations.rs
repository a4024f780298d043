//! What a route may add for integrations: a webhook signature check (`webhook = {...}` with
//! `auth = ["webhook"]`) and a rate limit (`rate_limit = "60/min"`, `burst`).

use std::time::Duration;

use http::HeaderName;

use super::raw::RawWebhook;

/// Who signs the deliveries, which fixes the header and what is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    /// `X-Hub-Signature-256: sha256=HEX` over the body.
    GitHub,
    /// `Stripe-Signature: t=TS,v1=HEX` over `TS.body`, TS within the tolerance.
    Stripe,
    /// `X-Slack-Signature: v0=HEX` over `v0:TS:body`, TS from `X-Slack-Request-Timestamp`.
    Slack,
    /// HMAC-SHA256 of the body in a header of your choosing (hex or base64, optional prefix).
    HmacSha256,
}

impl WebhookKind {
    pub fn name(self) -> &'static str {
        match self {
            WebhookKind::GitHub => "github",
            WebhookKind::Stripe => "stripe",
            WebhookKind::Slack => "slack",
            WebhookKind::HmacSha256 => "hmac-sha256",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    Hex,
    Base64,
}

/// A route's webhook check, validated.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub kind: WebhookKind,
    /// Any one of these may have signed (several during a rotation).
    pub secrets: Vec<String>,
    /// The header carrying the signature.
    pub header: HeaderName,
    pub encoding: SignatureEncoding,
    /// Text before the signature in the header (`sha256=`, `v0=`).
    pub prefix: String,
    /// How old a signed timestamp may be (Stripe, Slack), either way.
    pub tolerance_secs: i64,
}

/// A webhook route's body cap unless it sets `max_body_bytes` (the body is held in memory
/// until the signature is checked).
pub const DEFAULT_WEBHOOK_BODY_BYTES: u64 = 1 << 20;

/// The most requests a limit may name per window (a finer rate than 1 per microsecond
/// cannot be measured).
const MAX_RATE_COUNT: u32 = 1_000_000;

/// Stripe's and Slack's own default: five minutes.
const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// Checks `webhook = {...}`; `Err((key, problem))` names the sub-key at fault.
pub(super) fn webhook(raw: RawWebhook) -> Result<WebhookSettings, (&'static str, String)> {
    let kind = match raw.kind.as_str() {
        "github" => WebhookKind::GitHub,
        "stripe" => WebhookKind::Stripe,
        "slack" => WebhookKind::Slack,
        "hmac-sha256" => WebhookKind::HmacSha256,
        other => {
            return Err((
                "kind",
                format!(
                    "`{other}` is not a webhook kind (known: github, stripe, slack, hmac-sha256)"
                ),
            ));
        }
    };
    let mut secrets: Vec<String> = raw.secret.into_iter().collect();
    secrets.extend(raw.secrets.unwrap_or_default());
    if secrets.is_empty() {
        return Err((
            "secret",
            "is missing: give the signing secret as secret = \"${WEBHOOK_SECRET}\" \
             (or secrets = [...] during a rotation)"
                .to_string(),
        ));
    }
    if secrets.iter().any(String::is_empty) {
        return Err((
            "secret",
            "is empty (an unset variable?): every delivery would be refused".to_string(),
        ));
    }
    let fixed = |what: &'static str,
                 value: &Option<String>|
     -> Result<(), (&'static str, String)> {
        if value.is_some() {
            return Err((
                what,
                format!(
                    "applies to kind = \"hmac-sha256\" only: {} fixes its own header and format",
                    kind.name()
                ),
            ));
        }
        Ok(())
    };
    let (header, encoding, prefix) = match kind {
        WebhookKind::HmacSha256 => {
            let Some(name) = raw.header else {
                return Err((
                    "header",
                    "is required for kind = \"hmac-sha256\": the header the sender puts the \
                     signature in, e.g. header = \"X-Signature-256\""
                        .to_string(),
                ));
            };
            let header = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| ("header", format!("`{name}` is not a header name")))?;
            let encoding = match raw.encoding.as_deref() {
                None | Some("hex") => SignatureEncoding::Hex,
                Some("base64") => SignatureEncoding::Base64,
                Some(other) => {
                    return Err((
                        "encoding",
                        format!("`{other}` is not an encoding (hex or base64)"),
                    ));
                }
            };
            (header, encoding, raw.prefix.unwrap_or_default())
        }
        _ => {
            fixed("header", &raw.header)?;
            fixed("encoding", &raw.encoding)?;
            fixed("prefix", &raw.prefix)?;
            let (header, prefix) = match kind {
                WebhookKind::GitHub => ("x-hub-signature-256", "sha256="),
                WebhookKind::Stripe => ("stripe-signature", ""),
                _ => ("x-slack-signature", "v0="),
            };
            (
                HeaderName::from_static(header),
                SignatureEncoding::Hex,
                prefix.to_string(),
            )
        }
    };
    let timestamped = matches!(kind, WebhookKind::Stripe | WebhookKind::Slack);
    if raw.tolerance_secs.is_some() && !timestamped {
        return Err((
            "tolerance_secs",
            format!(
                "applies to stripe and slack, whose signatures carry a time; {} does not",
                kind.name()
            ),
        ));
    }
    let tolerance = raw.tolerance_secs.unwrap_or(DEFAULT_TOLERANCE_SECS);
    if timestamped && !(1..=86_400).contains(&tolerance) {
        return Err((
            "tolerance_secs",
            "must be between 1 and 86400 (the senders use 300)".to_string(),
        ));
    }
    Ok(WebhookSettings {
        kind,
        secrets,
        header,
        encoding,
        prefix,
        tolerance_secs: i64::try_from(tolerance).unwrap_or(300),
    })
}

/// `rate_limit = "60/min"` with an optional `burst`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Requests per `window`.
    pub count: u32,
    pub window: Duration,
    /// How many may come at once (default: `count`).
    pub burst: u32,
}

impl RateLimitSettings {
    /// The limiter's view of it.
    pub fn quota(&self) -> crate::limits::rate::QuotaSpec {
        crate::limits::rate::QuotaSpec {
            count: self.count,
            window: self.window,
            burst: self.burst,
        }
    }
}

/// Reads `"60/min"` (also `/s`, `/h`; `/second`, `/minute`, `/hour`).
pub(super) fn rate_limit(text: &str, burst: Option<u32>) -> Result<RateLimitSettings, String> {
    let usage = "write it as COUNT/UNIT, e.g. \"60/min\", \"5/s\" or \"1000/h\"";
    let Some((count, unit)) = text.trim().split_once('/') else {
        return Err(format!("`{text}` has no unit: {usage}"));
    };
    let count: u32 = count
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0 && n <= MAX_RATE_COUNT)
        .ok_or_else(|| {
            format!(
                "`{text}`: the count must be a whole number from 1 to {MAX_RATE_COUNT}; {usage}"
            )
        })?;
    let window = match unit.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        other => return Err(format!("`{other}` is not a unit (s, min, h); {usage}")),
    };
    let burst = burst.unwrap_or(count);
    if burst == 0 {
        return Err("burst must be at least 1".to_string());
    }
    Ok(RateLimitSettings {
        count,
        window,
        burst,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn raw(kind: &str) -> RawWebhook {
        RawWebhook {
            kind: kind.to_string(),
            secret: Some("s".to_string()),
            secrets: None,
            header: None,
            encoding: None,
            prefix: None,
            tolerance_secs: None,
        }
    }

    #[test]
    fn webhook_kinds_fix_their_header() {
        let github = webhook(raw("github")).unwrap();
        assert_eq!(github.header, "x-hub-signature-256");
        assert_eq!(github.prefix, "sha256=");
        let slack = webhook(raw("slack")).unwrap();
        assert_eq!(
            (slack.header.as_str(), slack.tolerance_secs),
            ("x-slack-signature", 300)
        );
        let err = webhook(RawWebhook {
            header: Some("X-Sig".into()),
            ..raw("github")
        })
        .unwrap_err();
        assert_eq!(err.0, "header");
        let err = webhook(raw("hmac-sha256")).unwrap_err();
        assert!(err.0 == "header" && err.1.contains("required"));
        let custom = webhook(RawWebhook {
            header: Some("X-Signature".into()),
            encoding: Some("base64".into()),
            ..raw("hmac-sha256")
        })
        .unwrap();
        assert_eq!(custom.encoding, SignatureEncoding::Base64);
        assert_eq!(webhook(raw("gitlab")).unwrap_err().0, "kind");
        let none = webhook(RawWebhook {
            secret: None,
            ..raw("github")
        })
        .unwrap_err();
        assert_eq!(none.0, "secret");
        let rotating = webhook(RawWebhook {
            secrets: Some(vec!["t".into()]),
            ..raw("stripe")
        })
        .unwrap();
        assert_eq!(rotating.secrets, ["s", "t"]);
        assert_eq!(
            webhook(RawWebhook {
                tolerance_secs: Some(60),
                ..raw("github")
            })
            .unwrap_err()
            .0,
            "tolerance_secs"
        );
    }

    #[test]
    fn rate_limits_read_count_and_unit() {
        let r = rate_limit("60/min", None).unwrap();
        assert_eq!(
            (r.count, r.window, r.burst),
            (60, Duration::from_secs(60), 60)
        );
        let r = rate_limit(" 5 / s ", Some(10)).unwrap();
        assert_eq!(
            (r.count, r.window, r.burst),
            (5, Duration::from_secs(1), 10)
        );
        assert_eq!(
            rate_limit("1000/h", None).unwrap().window,
            Duration::from_secs(3600)
        );
        for bad in [
            "60",
            "0/min",
            "-1/s",
            "x/min",
            "60/day",
            "60/",
            "2000000000/s",
        ] {
            assert!(rate_limit(bad, None).is_err(), "{bad}");
        }
        assert!(rate_limit("1/s", Some(0)).is_err());
    }
}
