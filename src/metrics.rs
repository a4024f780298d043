//! Prometheus metrics: what happened to requests, logins and connections, kept in one
//! registry that the admin listener serves at `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A route's label: its path, shared with the config (`-` for requests no route took).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct RouteLabel(Option<Arc<str>>);

impl EncodeLabelValue for RouteLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.0.as_deref().unwrap_or("-"))
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: RouteLabel,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteOnly {
    route: RouteLabel,
}

/// Why a request was refused: the typed reason, no allocation per request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Denied {
    reason: crate::responses::Reason,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

/// Every metric frontdoor exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    denials: Family<Denied, Counter>,
    upstream_latency: Histogram,
    active_connections: Gauge,
    open_tunnels: Gauge,
    login_failures: Counter,
    bans: Family<Reason, Counter>,
    cache_hits: Counter,
    tls_handshakes: Family<Outcome, Counter>,
    certificate_expiry: Gauge,
    reloads: Family<Outcome, Counter>,
    rate_limited: Family<RouteOnly, Counter>,
    /// When the upstream last answered (seconds since the epoch), for `/healthz`.
    upstream_answered_at: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("frontdoor");
        let requests = Family::<RouteStatus, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route and status",
            requests.clone(),
        );
        let denials = Family::<Denied, Counter>::default();
        registry.register(
            "denials",
            "Requests frontdoor refused itself, by reason",
            denials.clone(),
        );
        let upstream_latency = Histogram::new(exponential_buckets(0.0005, 2.0, 18));
        registry.register(
            "upstream_response_seconds",
            "Time until the upstream's response headers arrived",
            upstream_latency.clone(),
        );
        let open_tunnels = Gauge::default();
        registry.register(
            "open_tunnels",
            "WebSocket tunnels open now (capped by server.max_tunnels)",
            open_tunnels.clone(),
        );
        let active_connections = Gauge::default();
        registry.register(
            "active_connections",
            "Client connections open now",
            active_connections.clone(),
        );
        let login_failures = Counter::default();
        registry.register(
            "login_failures",
            "Logins refused for wrong credentials",
            login_failures.clone(),
        );
        let bans = Family::<Reason, Counter>::default();
        registry.register("login_bans", "Login bans started, by reason", bans.clone());
        let cache_hits = Counter::default();
        registry.register(
            "login_cache_hits",
            "Logins accepted from the verified-credential cache",
            cache_hits.clone(),
        );
        let tls_handshakes = Family::<Outcome, Counter>::default();
        registry.register(
            "tls_handshakes",
            "TLS handshakes, by outcome",
            tls_handshakes.clone(),
        );
        let certificate_expiry = Gauge::default();
        registry.register(
            "certificate_expiry_timestamp_seconds",
            "When the served certificate expires (seconds since the epoch)",
            certificate_expiry.clone(),
        );
        let reloads = Family::<Outcome, Counter>::default();
        registry.register("reloads", "Config reloads, by outcome", reloads.clone());
        let rate_limited = Family::<RouteOnly, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests refused by a route's rate_limit, by route",
            rate_limited.clone(),
        );
        Metrics {
            registry,
            requests,
            denials,
            upstream_latency,
            active_connections,
            open_tunnels,
            login_failures,
            bans,
            cache_hits,
            tls_handshakes,
            certificate_expiry,
            reloads,
            rate_limited,
            upstream_answered_at: AtomicU64::new(0),
        }
    }

    /// The registry in the Prometheus/OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    pub fn request(&self, route: Option<&Arc<str>>, status: u16) {
        self.requests
            .get_or_create(&RouteStatus {
                route: RouteLabel(route.cloned()),
                status,
            })
            .inc();
    }

    pub fn rate_limited(&self, route: &Arc<str>) {
        self.rate_limited
            .get_or_create(&RouteOnly {
                route: RouteLabel(Some(route.clone())),
            })
            .inc();
    }

    pub fn denial(&self, reason: crate::responses::Reason) {
        self.denials.get_or_create(&Denied { reason }).inc();
    }

    pub fn upstream_answered(&self, latency: Duration) {
        self.upstream_latency.observe(latency.as_secs_f64());
        self.upstream_answered_at
            .store(now_secs(), Ordering::Relaxed);
    }

    /// How long ago the upstream last answered, if it ever did.
    pub fn upstream_silent_for(&self) -> Option<Duration> {
        match self.upstream_answered_at.load(Ordering::Relaxed) {
            0 => None,
            at => Some(Duration::from_secs(now_secs().saturating_sub(at))),
        }
    }

    pub fn tunnel_opened(&self) {
        self.open_tunnels.inc();
    }

    pub fn tunnel_closed(&self) {
        self.open_tunnels.dec();
    }

    pub fn connection_opened(&self) {
        self.active_connections.inc();
    }

    pub fn connection_closed(&self) {
        self.active_connections.dec();
    }

    pub fn login_failed(&self) {
        self.login_failures.inc();
    }

    pub fn ban_started(&self, reason: &str) {
        self.bans
            .get_or_create(&Reason {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn login_cache_hit(&self) {
        self.cache_hits.inc();
    }

    pub fn tls_handshake(&self, outcome: &str) {
        self.tls_handshakes
            .get_or_create(&Outcome {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn certificate_expires_at(&self, unix_secs: i64) {
        self.certificate_expiry.set(unix_secs);
    }

    pub fn reload(&self, succeeded: bool) {
        self.reloads
            .get_or_create(&Outcome {
                outcome: if succeeded { "success" } else { "failure" }.to_string(),
            })
            .inc();
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counters show up in the text format with their labels.
    #[test]
    fn encodes_what_was_counted() {
        let m = Metrics::new();
        let route: Arc<str> = "/api/jobs".into();
        m.request(Some(&route), 200);
        m.request(Some(&route.clone()), 200);
        m.request(None, 404);
        m.denial(crate::responses::Reason::HiddenPath);
        m.upstream_answered(Duration::from_millis(3));
        let text = m.encode();
        assert!(
            text.contains("frontdoor_requests_total{route=\"/api/jobs\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("frontdoor_denials_total{reason=\"hidden path\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("frontdoor_requests_total{route=\"-\",status=\"404\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("frontdoor_upstream_response_seconds_count 1"),
            "{text}"
        );
        assert!(
            m.upstream_silent_for()
                .is_some_and(|d| d < Duration::from_secs(2))
        );
    }
}
