//! Arbitrary text as scenario files and list_users filters: decoding never panics, and a
//! decodable scenario runs to a pass or a described failure.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use userpool::{PoolConfig, RecordingDelivery, UserPool};

fn pool() -> &'static UserPool {
    static POOL: OnceLock<UserPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let config = PoolConfig::from_toml("pool_id = 'fuzz'\n[tokens]\nalgorithm = 'ES256'").unwrap();
        UserPool::builder(config).delivery(Arc::new(RecordingDelivery::new())).open().unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = pool().list_users(Some(&text), Some(10), None);
    if let Ok(scenario) = userpool::scenario::Scenario::from_json(&text) {
        if scenario.steps.len() <= 8 {
            let _ = userpool::scenario::run(&scenario);
        }
    }
});
