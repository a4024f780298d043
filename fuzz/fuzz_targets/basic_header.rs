//! `Authorization: Basic ...`: any bytes are credentials or none, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = frontdoor::auth::basic::parse_basic_header(data);
});
