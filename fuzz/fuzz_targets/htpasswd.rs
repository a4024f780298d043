//! htpasswd files and single hash fields: any text parses (bad lines reported, not fatal).
#![no_main]

use frontdoor::auth::htpasswd::{HtpasswdFile, PasswordHash};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = HtpasswdFile::parse(&text);
    let _ = PasswordHash::parse(&text);
});
