//! frontdoor: a TLS-terminating authentication reverse proxy for applications that have no
//! login of their own. `handler` is the request's way through; each step lives in its module.
//!
//! Modules are layered: each may use only the modules listed before it here (a test in
//! `tests/layering.rs` holds every `crate::` path in `src/` to that order).
#![forbid(unsafe_code)]

// Leaves: no crate imports. (One declaration per group: rustfmt would sort a group, and
// the order here is the layering.)
pub mod clock;

pub mod errors;

pub mod files;

// What every request is made of: its answers, the policy, the limits, the counters.
pub mod responses;

pub mod policy;

pub mod limits;

pub mod metrics;

// The validated config, and what is built from it.
pub mod config;

pub mod certificates;

pub mod auth;

pub mod proxy;

pub mod check;

pub mod state;

// The request's way through.
pub mod access_log;

pub mod endpoints;

pub mod handler;

pub mod forward_auth;

pub mod explain;

// Listeners and the commands built on them.
pub mod server;

pub mod demo;

pub mod import;
