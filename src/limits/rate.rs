//! Per-route rate limits (`rate_limit = "60/min"`, `burst`): GCRA from the `governor`
//! crate, one bucket per caller (a login's identity, else the client address with IPv6 by
//! /64). The buckets live in a store of our own, bounded: once it holds `max_keys` callers
//! (an attacker rotating addresses), buckets indistinguishable from fresh ones are dropped
//! (at most once a second), and a new caller beyond the bound takes the place of the bucket
//! closest to full again (the one whose loss changes least), so memory stays bounded
//! whatever the traffic and no caller is pushed into a bucket shared with an attacker.
//! Limits survive config reloads while their route and quota stay (kept by both).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::{Quota, RateLimiter};

/// Callers tracked per route before the overflow bucket is used (about 1 MB at most).
pub const MAX_KEYS: usize = 10_000;

/// Who a bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A login: the method's tag (so a Basic user and a key of the same name differ) and
    /// the name.
    Identity(u8, Box<str>),
    /// A public route's caller; IPv6 addresses by their /64 (one host gets a whole /64).
    Address(IpAddr),
}

impl RateKey {
    pub fn address(ip: IpAddr) -> RateKey {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    IpAddr::V6(bits.into())
                }
            },
            v4 => v4,
        };
        RateKey::Address(ip)
    }
}

/// A route's quota: `count` per `window`, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuotaSpec {
    pub count: u32,
    pub window: Duration,
    pub burst: u32,
}

/// A refused request: when the caller may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after_secs: u64,
}

/// A route (its label) and its quota.
type RouteQuota = (Arc<str>, QuotaSpec);

/// Every route's limiter, kept across reloads by (route, quota).
#[derive(Default)]
pub struct RateLimits {
    routes: RwLock<HashMap<RouteQuota, Arc<RouteLimiter>>>,
}

impl RateLimits {
    /// Counts one request of `key` on `route`; Err when its bucket is empty.
    pub fn check(&self, route: &Arc<str>, quota: QuotaSpec, key: RateKey) -> Result<(), Limited> {
        let id = (route.clone(), quota);
        let found = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned();
        let limiter = match found {
            Some(limiter) => limiter,
            None => {
                let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
                match routes.get(&id) {
                    Some(limiter) => limiter.clone(),
                    None => {
                        let Some(limiter) = RouteLimiter::new(quota, MAX_KEYS) else {
                            return Ok(());
                        };
                        let limiter = Arc::new(limiter);
                        routes.insert(id, limiter.clone());
                        limiter
                    }
                }
            }
        };
        limiter.check(&key)
    }

    /// Drops the limiters of routes and quotas a reloaded config no longer has.
    pub fn retain(&self, mut keep: impl FnMut(&str, QuotaSpec) -> bool) {
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        routes.retain(|(route, quota), _| keep(route, *quota));
    }

    /// How many route limiters are kept.
    pub fn len(&self) -> usize {
        self.routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One route's buckets.
pub struct RouteLimiter {
    limiter: RateLimiter<RateKey, BoundedStore<RateKey>, DefaultClock>,
    clock: DefaultClock,
    /// Set by the store while it holds `max_keys` callers: then stale buckets are swept
    /// (a flag, so a request does not take the store's lock just to count).
    full: Arc<AtomicBool>,
    /// When stale buckets were last dropped (ms since the limiter started).
    last_sweep_ms: AtomicU64,
    started: std::time::Instant,
}

impl RouteLimiter {
    /// None for a quota governor cannot express (a zero count or burst).
    pub fn new(quota: QuotaSpec, max_keys: usize) -> Option<RouteLimiter> {
        let period = quota.window.checked_div(quota.count)?;
        let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::new(quota.burst)?);
        let clock = DefaultClock::default();
        let store = BoundedStore::new(max_keys);
        let full = store.full.clone();
        Some(RouteLimiter {
            limiter: RateLimiter::new(quota, store, clock.clone()),
            clock,
            full,
            last_sweep_ms: AtomicU64::new(0),
            started: std::time::Instant::now(),
        })
    }

    pub fn check(&self, key: &RateKey) -> Result<(), Limited> {
        if self.full.load(Ordering::Relaxed) {
            self.sweep();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            Limited {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
            .max_one()
        })
    }

    /// Drops the buckets that are full again, at most once a second.
    fn sweep(&self) {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < 1_000 && last != 0 {
            return;
        }
        if self
            .last_sweep_ms
            .compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.limiter.retain_recent();
        }
    }

    /// Callers with a bucket of their own.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }
}

impl Limited {
    fn max_one(self) -> Limited {
        Limited {
            retry_after_secs: self.retry_after_secs.max(1),
        }
    }
}

/// The buckets: each caller's theoretical arrival time (GCRA's whole state), at most
/// `max_keys` of them.
pub struct BoundedStore<K> {
    inner: Mutex<HashMap<K, u64>>,
    max_keys: usize,
    /// Whether it holds `max_keys` callers.
    full: Arc<AtomicBool>,
}

impl<K> BoundedStore<K> {
    pub fn new(max_keys: usize) -> BoundedStore<K> {
        BoundedStore {
            inner: Mutex::new(HashMap::new()),
            max_keys,
            full: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl<K: Hash + Eq + Clone> StateStore for BoundedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let mut buckets = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(state) = buckets.get_mut(key) {
            let (result, next) = f(Some(Nanos::from(*state)))?;
            *state = next.as_u64();
            return Ok(result);
        }
        // A refused first request adds nothing (f fails before the insert).
        let (result, next) = f(None)?;
        if buckets.len() >= self.max_keys {
            // Full even after the sweep: the bucket with the earliest arrival time is the
            // closest to full again; it makes room.
            let soonest = buckets
                .iter()
                .min_by_key(|(_, state)| **state)
                .map(|(k, _)| k.clone());
            if let Some(soonest) = soonest {
                buckets.remove(&soonest);
            }
        }
        buckets.insert(key.clone(), next.as_u64());
        self.full
            .store(buckets.len() >= self.max_keys, Ordering::Relaxed);
        Ok(result)
    }
}

impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for BoundedStore<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        let mut buckets = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let below = drop_below.as_u64();
        buckets.retain(|_, state| *state >= below);
        buckets.shrink_to_fit();
        self.full
            .store(buckets.len() >= self.max_keys, Ordering::Relaxed);
    }

    fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn spec(count: u32, window_secs: u64, burst: u32) -> QuotaSpec {
        QuotaSpec {
            count,
            window: Duration::from_secs(window_secs),
            burst,
        }
    }

    fn addr(n: u32) -> RateKey {
        RateKey::address(IpAddr::V4(n.into()))
    }

    #[test]
    fn burst_then_refusal_with_retry_after() {
        let limiter = RouteLimiter::new(spec(60, 60, 3), 100).unwrap();
        let alice = RateKey::Identity(0, "alice".into());
        for _ in 0..3 {
            assert_eq!(limiter.check(&alice), Ok(()));
        }
        let refused = limiter.check(&alice).unwrap_err();
        assert_eq!(
            refused.retry_after_secs, 1,
            "one request per second comes back"
        );
        // Another caller has a bucket of its own; a key and a user of one name differ.
        assert_eq!(limiter.check(&RateKey::Identity(0, "bob".into())), Ok(()));
        assert_eq!(limiter.check(&RateKey::Identity(1, "alice".into())), Ok(()));
    }

    #[test]
    fn ipv6_callers_are_counted_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(RateKey::address(a), RateKey::address(b));
        assert_ne!(RateKey::address(a), RateKey::address(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(
            RateKey::address(mapped),
            RateKey::address("192.0.2.7".parse().unwrap())
        );
    }

    /// An attacker rotating addresses: the store never holds more than `max_keys` callers;
    /// every new caller still gets a bucket of its own (none is pushed into one shared with
    /// the attacker), and the most recent callers keep their limits.
    #[test]
    fn rotating_addresses_cannot_grow_memory() {
        let limiter = RouteLimiter::new(spec(1, 3600, 1), 50).unwrap();
        for n in 1..100_000 {
            assert_eq!(
                limiter.check(&addr(n)),
                Ok(()),
                "caller {n} has its own bucket"
            );
            assert!(limiter.tracked() <= 50);
        }
        assert_eq!(limiter.tracked(), 50);
        // The latest callers are still limited (their buckets stayed).
        assert!(limiter.check(&addr(99_999)).is_err());
        assert!(limiter.check(&addr(99_990)).is_err());
    }

    /// Buckets that filled up again are dropped when the store is full, so new callers get
    /// buckets of their own again.
    #[test]
    fn full_buckets_are_dropped_when_the_store_is_full() {
        let limiter = RouteLimiter::new(
            QuotaSpec {
                count: 1000,
                window: Duration::from_secs(1),
                burst: 1,
            },
            10,
        )
        .unwrap();
        for n in 0..10 {
            assert_eq!(limiter.check(&addr(n)), Ok(()));
        }
        assert_eq!(limiter.tracked(), 10);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(limiter.check(&addr(99)), Ok(()));
        assert!(limiter.tracked() <= 10);
        assert!(limiter.tracked() < 10, "stale buckets were swept");
    }

    #[test]
    fn limits_are_kept_by_route_and_quota() {
        let limits = RateLimits::default();
        let route: Arc<str> = "/api".into();
        let q = spec(1, 60, 1);
        assert_eq!(limits.check(&route, q, addr(1)), Ok(()));
        assert!(limits.check(&route, q, addr(1)).is_err());
        // A changed quota (a reload with another limit) starts afresh.
        assert_eq!(limits.check(&route, spec(2, 60, 1), addr(1)), Ok(()));
        assert!(limits.check(&"/other".into(), q, addr(1)).is_ok());
        assert_eq!(limits.len(), 3);
        limits.retain(|route, quota| route == "/api" && quota == q);
        assert_eq!(limits.len(), 1);
        assert!(
            limits.check(&route, q, addr(1)).is_err(),
            "the kept one kept its count"
        );
    }
}
