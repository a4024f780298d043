//! `frontdoor.toml`: any text is a config or a `ConfigError`, never a panic.
#![no_main]

use frontdoor::config::{Config, Env};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = Env::from_pairs([("SECRET", "0123456789abcdef0123456789abcdef0123456789abcdef")]);
    let _ = Config::from_toml(&text, "fuzz.toml", &env);
});
