//! `frontdoor import nginx`: any file is translated or refused with an error, never a panic
//! (the translation is also read back by the config loader inside).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = frontdoor::import::nginx::import_nginx(&text, "fuzz.conf");
});
