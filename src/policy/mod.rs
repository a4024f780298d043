//! Owns the request policy: turning a request target into one canonical path and deciding, from the route table and the UI switches, what happens to a request for it.
//!
//! All of it is pure functions over strings and headers, with no I/O, so that
//! every rule can be pinned by table tests and property tests. The caller's
//! order is: `target::parse_target` (which runs `normalize_path`; 400 on
//! error), then `RouteTable::decide` on the canonical path (reserved paths,
//! hidden areas, routes, deny routes, methods), then authentication for
//! `Decision::Allowed`, then forwarding that same canonical path upstream.
//! Deciding on and forwarding the same bytes is the point: any gap between
//! them is a way around the policy.

pub mod normalize;
pub mod percent;
pub mod routes;
pub mod target;

pub use normalize::{MAX_TARGET_BYTES, PathError, normalize_path};
pub use routes::{
    Decision, HiddenArea, RESERVED_PREFIX, RouteRule, RouteShape, RouteTable, UiSwitches,
    hidden_area, is_reserved,
};
