//! The request target: `normalize_path` never panics and is idempotent, and `parse_target`
//! (method, form, Host check, normalization) never panics on any target and Host.
#![no_main]

use frontdoor::policy::normalize_path;
use frontdoor::policy::target::parse_target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(once) = normalize_path(text) {
        assert_eq!(normalize_path(&once).as_deref(), Ok(once.as_str()));
    }
    // "HOST\nTARGET": the Host header and the request target.
    let (host, target) = text.split_once('\n').unwrap_or(("localhost", text));
    let Ok(uri) = target.parse::<http::Uri>() else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_str(host) {
        headers.insert(http::header::HOST, value);
    }
    let hosts = vec!["localhost".to_string()];
    for method in [http::Method::GET, http::Method::CONNECT, http::Method::OPTIONS] {
        for version in [http::Version::HTTP_11, http::Version::HTTP_2] {
            if let Ok(t) = parse_target(&method, &uri, version, &headers, &hosts) {
                assert_eq!(normalize_path(&t.path).as_deref(), Ok(t.path.as_str()));
            }
        }
    }
});
