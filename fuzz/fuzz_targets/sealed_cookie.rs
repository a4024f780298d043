//! Sealed cookies: any Cookie header is parsed, and any value opened, without a panic; a
//! value that opens was sealed by us (with this key), which the fuzzer cannot forge.
#![no_main]

use frontdoor::auth::oidc::session::{Sealer, request_cookies, session_value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = [7u8; 64];
    let Some(sealer) = Sealer::new(&key, &[]) else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    assert!(sealer.open("__Host-fd_session", &text).is_none());
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        headers.insert(http::header::COOKIE, value);
    }
    let cookies = request_cookies(&headers);
    let _ = session_value(&cookies);
});
