//! API keys: a presented key (any bytes: parsed, never a panic; a key that parses has the
//! exact shape), the key file's TOML and its checks, the last-used side file, and a key
//! entry's scope check on any method and path.
#![no_main]

use frontdoor::auth::api_keys::{KeyFile, format, parse_last_used};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(key) = format::parse(text) {
        assert_eq!(text.len(), format::KEY_LEN);
        assert!(text.starts_with(format::PREFIX) && text.contains(key.id));
    }
    let _ = parse_last_used(text);
    let path = std::path::Path::new("fuzz-keys.toml");
    if let Ok(file) = KeyFile::parse(text, path)
        && let Ok(entries) = file.entries(path)
    {
        let (method, request_path) = text.split_once(' ').unwrap_or(("GET", text));
        let method = http::Method::from_bytes(method.as_bytes()).unwrap_or(http::Method::GET);
        for entry in &entries {
            let _ = entry.allows(&method, request_path);
            let _ = entry.is_expired(0);
        }
    }
});
