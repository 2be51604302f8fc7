//! Arbitrary text as TOML and JSON configuration: a typed error or a valid pool, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use userpool::PoolConfig;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for parsed in [PoolConfig::from_toml(&text), PoolConfig::from_json(&text)] {
        if let Ok(config) = parsed {
            // Whatever parses must round-trip and validate again.
            let again = PoolConfig::from_toml(&config.to_toml()).expect("a valid config round-trips");
            assert_eq!(again, config);
        }
    }
});
