//! Translating other front doors' configs into frontdoor configs.

pub mod nginx;
