//! Brute-force lockout, like Authelia's regulation and fail2ban: too many failed logins for
//! one user, or from one client address, within `find_time` ban further attempts for
//! `ban_time`. A banned attempt is refused before its password is verified, so a ban costs
//! the attacker time and the server nothing.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `[auth.lockout]` after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutSettings {
    /// Failures for one user within `find_time` that start a ban.
    pub max_retries: usize,
    /// Failures from one client address within `find_time` that start a ban.
    pub max_retries_per_ip: usize,
    pub find_time: Duration,
    pub ban_time: Duration,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        LockoutSettings {
            max_retries: 5,
            max_retries_per_ip: 20,
            find_time: Duration::from_secs(120),
            ban_time: Duration::from_secs(300),
        }
    }
}

/// Entries kept per table before old ones are swept; bounds memory under a spray of
/// user names or addresses.
const MAX_TRACKED: usize = 100_000;

/// Who is banned, and why (for the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanReason {
    User,
    ClientAddress,
}

/// An attempt refused because of a ban; `retry_after` is what Retry-After says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed logins ({reason:?}); retry after {retry_after:?}")]
pub struct Banned {
    pub reason: BanReason,
    pub retry_after: Duration,
}

#[derive(Debug, Default)]
struct Record {
    failures: VecDeque<Instant>,
    banned_until: Option<Instant>,
    /// Attempts whose password is being verified right now. They count toward the limit,
    /// so a flood cannot have more hashes computed than the limit allows.
    pending: usize,
}

impl Record {
    /// Still worth keeping: an attempt in flight, a ban in force, or a recent failure.
    fn is_live(&self, now: Instant, settings: &LockoutSettings) -> bool {
        self.pending > 0
            || self.banned_until.is_some_and(|u| u > now)
            || self
                .failures
                .back()
                .is_some_and(|t| now.duration_since(*t) < settings.find_time)
    }

    fn forget_old_failures(&mut self, now: Instant, settings: &LockoutSettings) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= settings.find_time)
        {
            self.failures.pop_front();
        }
    }
}

/// Whether `key` has (or can get) a record: at `MAX_TRACKED`, dead records are swept first.
fn make_room<K: Eq + Hash>(
    records: &mut HashMap<K, Record>,
    key: &K,
    now: Instant,
    settings: &LockoutSettings,
) -> bool {
    if records.len() < MAX_TRACKED || records.contains_key(key) {
        return true;
    }
    records.retain(|_, r| r.is_live(now, settings));
    records.len() < MAX_TRACKED
}

struct Table<K> {
    records: Mutex<HashMap<K, Record>>,
}

impl<K: Eq + Hash + Clone> Table<K> {
    fn new() -> Self {
        Table {
            records: Mutex::new(HashMap::new()),
        }
    }

    fn banned_for(&self, key: &K, now: Instant) -> Option<Duration> {
        let records = self.records.lock().ok()?;
        let until = records.get(key)?.banned_until?;
        (until > now).then(|| until - now)
    }

    /// Admits one attempt: refused while banned (with the time left) or while recent
    /// failures plus attempts still being verified reach `limit` (retry in a second).
    fn begin(
        &self,
        key: &K,
        now: Instant,
        limit: usize,
        settings: &LockoutSettings,
    ) -> Result<(), Duration> {
        let Ok(mut records) = self.records.lock() else {
            return Ok(());
        };
        if !make_room(&mut records, key, now, settings) {
            // Full of live entries: admit without tracking (the other table still counts).
            return Ok(());
        }
        let record = records.entry(key.clone()).or_default();
        if let Some(until) = record.banned_until.filter(|u| *u > now) {
            return Err(until - now);
        }
        record.forget_old_failures(now, settings);
        if record.failures.len() + record.pending >= limit {
            return Err(Duration::from_secs(1));
        }
        record.pending += 1;
        Ok(())
    }

    /// Ends an attempt admitted by `begin`.
    fn end(&self, key: &K) {
        if let Ok(mut records) = self.records.lock()
            && let Some(record) = records.get_mut(key)
        {
            record.pending = record.pending.saturating_sub(1);
        }
    }

    /// Records a failure; returns true if it started a ban.
    fn fail(&self, key: &K, now: Instant, limit: usize, settings: &LockoutSettings) -> bool {
        let Ok(mut records) = self.records.lock() else {
            return false;
        };
        if !make_room(&mut records, key, now, settings) {
            // Full of live entries: refuse to grow; the per-address table still throttles
            // whoever is spraying.
            return false;
        }
        let record = records.entry(key.clone()).or_default();
        record.forget_old_failures(now, settings);
        record.failures.push_back(now);
        if record.failures.len() >= limit {
            record.failures.clear();
            record.banned_until = Some(now + settings.ban_time);
            return true;
        }
        false
    }

    /// Clears the failures (attempts still in flight keep counting).
    fn clear_failures(&self, key: &K) {
        if let Ok(mut records) = self.records.lock()
            && let Some(record) = records.get_mut(key)
        {
            record.failures.clear();
        }
    }

    fn sweep(&self, now: Instant, settings: &LockoutSettings) {
        if let Ok(mut records) = self.records.lock() {
            records.retain(|_, r| r.is_live(now, settings));
        }
    }
}

/// The key an address is counted under: IPv4 as is, IPv6 by its /64 (one customer's
/// network: rotating through it must not reset the count).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(v6) & !((1u128 << 64) - 1),
        )),
        v4 => v4,
    }
}

/// A login attempt being verified; it counts toward the limits until dropped.
pub struct Attempt<'a> {
    lockout: &'a Lockout,
    user: String,
    address: IpAddr,
    decided: bool,
}

impl Attempt<'_> {
    /// The password verified: clears the user's failures.
    pub fn succeeded(mut self) {
        self.decided = true;
        self.lockout.record_success(&self.user);
    }

    /// The password was right, but the sign-in is not complete (a second factor follows):
    /// neither a failure nor a reason to clear the user's failures.
    pub fn verified_keeping_failures(mut self) {
        self.decided = true;
    }

    /// The password was wrong: counts a failure; returns the ban it started, if any.
    pub fn failed(mut self) -> Option<BanReason> {
        self.decided = true;
        let (user, address) = (self.user.clone(), self.address);
        self.lockout.record_failure(&user, address)
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.lockout.users.end(&self.user);
        self.lockout.addresses.end(&self.address);
        // Abandoned before its outcome was known (the client went away mid-hash): count it
        // as a failure, or cancelling requests would be a way around the limits.
        if !self.decided {
            self.lockout.record_failure(&self.user, self.address);
        }
    }
}

/// Failure counts and bans, per user name and per client address.
pub struct Lockout {
    settings: std::sync::RwLock<LockoutSettings>,
    users: Table<String>,
    addresses: Table<IpAddr>,
}

impl Lockout {
    pub fn new(settings: LockoutSettings) -> Self {
        Lockout {
            settings: std::sync::RwLock::new(settings),
            users: Table::new(),
            addresses: Table::new(),
        }
    }

    pub fn settings(&self) -> LockoutSettings {
        self.settings.read().map(|s| *s).unwrap_or_default()
    }

    /// New limits from a reloaded config; counts and bans in progress are kept.
    pub fn set_settings(&self, settings: LockoutSettings) {
        if let Ok(mut current) = self.settings.write() {
            *current = settings;
        }
    }

    /// Refuses an attempt for a banned user or address, before any password is checked.
    pub fn check(&self, user: &str, client: IpAddr) -> Result<(), Banned> {
        self.check_at(user, client, Instant::now())
    }

    fn check_at(&self, user: &str, client: IpAddr, now: Instant) -> Result<(), Banned> {
        let client = address_key(client);
        if let Some(retry_after) = self.addresses.banned_for(&client, now) {
            return Err(Banned {
                reason: BanReason::ClientAddress,
                retry_after,
            });
        }
        if let Some(retry_after) = self.users.banned_for(&user.to_string(), now) {
            return Err(Banned {
                reason: BanReason::User,
                retry_after,
            });
        }
        Ok(())
    }

    /// Admits one login attempt before its password is verified: refused for a banned user
    /// or address, and while the attempts already being verified would reach the limit.
    /// The returned guard must live until the failure or success is recorded.
    pub fn begin(&self, user: &str, client: IpAddr) -> Result<Attempt<'_>, Banned> {
        self.begin_at(user, client, Instant::now())
    }

    fn begin_at(&self, user: &str, client: IpAddr, now: Instant) -> Result<Attempt<'_>, Banned> {
        let address = address_key(client);
        let user = user.to_string();
        let settings = self.settings();
        self.addresses
            .begin(&address, now, settings.max_retries_per_ip, &settings)
            .map_err(|retry_after| Banned {
                reason: BanReason::ClientAddress,
                retry_after,
            })?;
        if let Err(retry_after) = self
            .users
            .begin(&user, now, settings.max_retries, &settings)
        {
            self.addresses.end(&address);
            return Err(Banned {
                reason: BanReason::User,
                retry_after,
            });
        }
        Ok(Attempt {
            lockout: self,
            user,
            address,
            decided: false,
        })
    }

    /// Counts a failed login; returns the ban it started, if any.
    pub fn record_failure(&self, user: &str, client: IpAddr) -> Option<BanReason> {
        self.record_failure_at(user, client, Instant::now())
    }

    fn record_failure_at(&self, user: &str, client: IpAddr, now: Instant) -> Option<BanReason> {
        let client = address_key(client);
        let settings = self.settings();
        let by_address = self
            .addresses
            .fail(&client, now, settings.max_retries_per_ip, &settings);
        let by_user = self
            .users
            .fail(&user.to_string(), now, settings.max_retries, &settings);
        if by_user {
            Some(BanReason::User)
        } else if by_address {
            Some(BanReason::ClientAddress)
        } else {
            None
        }
    }

    /// Refuses a banned address before a credential without a user (an API key) is looked
    /// up.
    pub fn check_address(&self, client: IpAddr) -> Result<(), Banned> {
        let now = Instant::now();
        match self.addresses.banned_for(&address_key(client), now) {
            Some(retry_after) => Err(Banned {
                reason: BanReason::ClientAddress,
                retry_after,
            }),
            None => Ok(()),
        }
    }

    /// Counts a failed credential without a user (a wrong API key) against the address;
    /// true when it started a ban.
    pub fn address_failed(&self, client: IpAddr) -> bool {
        let settings = self.settings();
        self.addresses.fail(
            &address_key(client),
            Instant::now(),
            settings.max_retries_per_ip,
            &settings,
        )
    }

    /// A successful login clears that user's failures (not the address's: a spray from
    /// one address that guesses one password right is still a spray).
    pub fn record_success(&self, user: &str) {
        self.users.clear_failures(&user.to_string());
    }

    /// Drops expired records; called periodically.
    pub fn sweep(&self) {
        let now = Instant::now();
        let settings = self.settings();
        self.users.sweep(now, &settings);
        self.addresses.sweep(now, &settings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    /// The fifth failure within find_time bans the user; the ban lasts ban_time and then
    /// lifts; a correct password is refused during it (check runs before verification).
    #[test]
    fn user_ban_after_max_retries() {
        let lockout = Lockout::new(LockoutSettings::default());
        let t0 = Instant::now();
        for i in 0..4 {
            assert_eq!(lockout.record_failure_at("alice", ip(i), t0), None);
            assert!(lockout.check_at("alice", ip(i), t0).is_ok());
        }
        assert_eq!(
            lockout.record_failure_at("alice", ip(9), t0),
            Some(BanReason::User)
        );
        let banned = lockout.check_at("alice", ip(50), t0 + Duration::from_secs(1));
        assert_eq!(
            banned,
            Err(Banned {
                reason: BanReason::User,
                retry_after: Duration::from_secs(299)
            })
        );
        assert!(
            lockout.check_at("bob", ip(50), t0).is_ok(),
            "other users unaffected"
        );
        assert!(
            lockout
                .check_at("alice", ip(50), t0 + Duration::from_secs(300))
                .is_ok()
        );
    }

    /// Failures spread wider than find_time never add up to a ban.
    #[test]
    fn old_failures_expire() {
        let lockout = Lockout::new(LockoutSettings::default());
        let t0 = Instant::now();
        for i in 0..10u32 {
            let at = t0 + Duration::from_secs(u64::from(i) * 60);
            assert_eq!(
                lockout.record_failure_at("alice", ip(1), at),
                None,
                "failure {i}"
            );
        }
    }

    /// Twenty failures from one address across many user names ban the address.
    #[test]
    fn address_ban_across_user_names() {
        let lockout = Lockout::new(LockoutSettings::default());
        let t0 = Instant::now();
        for i in 0..19 {
            assert_eq!(
                lockout.record_failure_at(&format!("user{i}"), ip(7), t0),
                None
            );
        }
        assert_eq!(
            lockout.record_failure_at("user19", ip(7), t0),
            Some(BanReason::ClientAddress)
        );
        assert_eq!(
            lockout.check_at("anyone", ip(7), t0).map_err(|b| b.reason),
            Err(BanReason::ClientAddress)
        );
        assert!(lockout.check_at("anyone", ip(8), t0).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or(ip(0));
        assert!(
            lockout.check_at("anyone", mapped, t0).is_err(),
            "v4-mapped form is the same client"
        );
    }

    /// Addresses of one IPv6 /64 count together.
    #[test]
    fn ipv6_counts_per_64() {
        let lockout = Lockout::new(LockoutSettings::default());
        let t0 = Instant::now();
        for i in 0..20u16 {
            let ip = IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, i]);
            lockout.record_failure_at(&format!("u{i}"), ip, t0);
        }
        let sibling = IpAddr::from([0x2001, 0xdb8, 0, 1, 0xffff, 1, 2, 3]);
        assert!(lockout.check_at("x", sibling, t0).is_err());
        let other = IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1]);
        assert!(lockout.check_at("x", other, t0).is_ok());
    }

    /// Attempts still being verified count: with four failures recorded, one attempt in
    /// flight fills the user's five, and the next is refused until it ends.
    #[test]
    fn attempts_in_flight_count() {
        let lockout = Lockout::new(LockoutSettings::default());
        let t0 = Instant::now();
        for _ in 0..4 {
            lockout.record_failure_at("alice", ip(1), t0);
        }
        let first = lockout.begin_at("alice", ip(2), t0);
        assert!(first.is_ok());
        let second = lockout.begin_at("alice", ip(3), t0);
        assert_eq!(
            second.err().map(|b| (b.reason, b.retry_after)),
            Some((BanReason::User, Duration::from_secs(1)))
        );
        if let Ok(first) = first {
            first.succeeded();
        }
        assert!(
            lockout.begin_at("alice", ip(3), t0).is_ok(),
            "admitted again once it ended"
        );
        let flood: Vec<_> = (0..25)
            .map(|i| lockout.begin_at(&format!("u{i}"), ip(9), t0))
            .collect();
        assert_eq!(
            flood.iter().filter(|a| a.is_ok()).count(),
            20,
            "one address: 20 in flight at most"
        );
    }

    /// An attempt abandoned before its outcome (the client went away mid-hash) counts as a
    /// failure: cancelling requests is no way around the limits.
    #[test]
    fn abandoned_attempts_are_failures() {
        let lockout = Lockout::new(LockoutSettings::default());
        let t0 = Instant::now();
        for _ in 0..5 {
            let attempt = lockout.begin_at("alice", ip(1), t0);
            assert!(attempt.is_ok());
            drop(attempt);
        }
        assert_eq!(
            lockout.check_at("alice", ip(2), t0).map_err(|b| b.reason),
            Err(BanReason::User)
        );
    }

    /// A success clears the user's count, so a typo now and then never adds up.
    #[test]
    fn success_resets_user() {
        let lockout = Lockout::new(LockoutSettings::default());
        let t0 = Instant::now();
        for _ in 0..4 {
            lockout.record_failure_at("alice", ip(1), t0);
        }
        lockout.record_success("alice");
        for _ in 0..4 {
            assert_eq!(lockout.record_failure_at("alice", ip(2), t0), None);
        }
    }
}
