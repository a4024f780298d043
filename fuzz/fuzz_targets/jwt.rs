//! JWTs and JWKS documents from the provider (or from anyone, as bearer tokens): parsed or
//! refused, never a panic.
#![no_main]

use frontdoor::auth::oidc::jwt::{KeySet, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(token) = parse(text) {
            let _ = KeySet::default().verify(&token);
        }
    }
    let _ = KeySet::from_json(data);
});
