//! Password guessing: per-user and per-address lockout with 429 and Retry-After (refused
//! before verification, even for the right password), and equal cost for unknown users
//! and wrong passwords.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Harness, Options, PASSWORD, USER};
use frontdoor::auth::htpasswd::HtpasswdFile;
use http::StatusCode;

/// Five wrong passwords ban the user: the sixth attempt gets 429 with Retry-After, the right
/// password is refused during the ban and accepted after it.
#[tokio::test]
async fn user_lockout() {
    let h = Harness::with(Options {
        extra: "[auth.lockout]\nban_time_secs = 2",
        ..Options::default()
    })
    .await;
    for attempt in 1..=5 {
        let r = h.get("/api/jobs", Some((USER, "guess"))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let r = h.get("/api/jobs", Some((USER, "guess"))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let r = h.get("/api/jobs", Some((USER, PASSWORD))).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "right password refused during the ban"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        h.get("/api/jobs", Some((USER, PASSWORD))).await.status,
        StatusCode::OK
    );
}

/// One address trying many user names is banned after `max_retries_per_ip` (20) failures,
/// whatever names it uses.
#[tokio::test]
async fn address_lockout_across_user_names() {
    let h = Harness::start().await;
    for i in 0..20 {
        let r = h
            .get("/api/jobs", Some((&format!("user{i}"), "guess")))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = h.get("/api/jobs", Some(("someone-else", "guess"))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = h.get("/api/jobs", Some((USER, PASSWORD))).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the address is banned, not just the names"
    );
    assert!(h.agent_targets().is_empty());
}

/// An unknown user costs the same as a wrong password (bcrypt cost 10, 50 samples each,
/// interleaved): the means differ by less than 10%.
#[test]
fn unknown_user_costs_the_same() {
    let mut file = String::new();
    for user in ["alice", "bob", "carol"] {
        file += &common::apache_htpasswd_line("B -C 10", user, "real password");
        file.push('\n');
    }
    let users = HtpasswdFile::parse(&file);
    let time = |user: &str| {
        let started = Instant::now();
        assert!(!users.verify(user, b"wrong password"));
        started.elapsed()
    };
    // Warm up, then interleave so machine load hits both sides alike.
    time("alice");
    time("nobody");
    let (mut known, mut unknown) = (Duration::ZERO, Duration::ZERO);
    for i in 0..50 {
        if i % 2 == 0 {
            known += time("alice");
            unknown += time(&format!("nobody{i}"));
        } else {
            unknown += time(&format!("nobody{i}"));
            known += time("alice");
        }
    }
    let (k, u) = (known.as_secs_f64() / 50.0, unknown.as_secs_f64() / 50.0);
    let diff = (k - u).abs() / k.max(u);
    assert!(
        diff < 0.10,
        "wrong password {k:.4}s vs unknown user {u:.4}s ({:.1}% apart)",
        diff * 100.0
    );
}
