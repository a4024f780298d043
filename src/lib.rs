//! frontdoor: a TLS-terminating authentication reverse proxy for applications that have no
//! login of their own. `handler` is the request's way through; each step lives in its module.
#![forbid(unsafe_code)]

pub mod auth;
pub mod check;
pub mod clock;
pub mod config;
pub mod demo;
pub mod errors;
pub mod files;
pub mod handler;
pub mod import;
pub mod limits;
pub mod metrics;
pub mod policy;
pub mod proxy;
pub mod responses;
pub mod server;
