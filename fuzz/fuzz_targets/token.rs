//! Arbitrary bytes as access and ID tokens: never a panic, never accepted unless genuine.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use userpool::{PoolConfig, RecordingDelivery, UserPool};

fn pool() -> &'static (UserPool, String) {
    static POOL: OnceLock<(UserPool, String)> = OnceLock::new();
    POOL.get_or_init(|| {
        let config = PoolConfig::from_toml(
            "pool_id = 'fuzz'\n[tokens]\nalgorithm = 'ES256'\n[password_hashing]\nmemory_kib = 128\niterations = 1\ndangerous_allow_weak = true",
        )
        .unwrap();
        let delivery = RecordingDelivery::new();
        let pool = UserPool::builder(config).delivery(Arc::new(delivery.clone())).open().unwrap();
        pool.sign_up("alice", "correct horse battery staple", [("email".into(), "a@example.com".into())].into()).unwrap();
        pool.confirm_sign_up("alice", &delivery.last_code_to("a@example.com").unwrap()).unwrap();
        let tokens = pool.sign_in("alice", "correct horse battery staple").unwrap().tokens.unwrap();
        (pool, tokens.access_token)
    })
}

fuzz_target!(|data: &[u8]| {
    let (pool, genuine) = pool();
    let token = String::from_utf8_lossy(data);
    let accepted = pool.verify_access_token(&token).is_ok();
    assert!(!accepted || token == *genuine, "a token that was never issued verified");
    let _ = pool.verify_id_token(&token, None);
    // Splice the fuzz input into a genuine token's parts as well.
    let parts: Vec<&str> = genuine.split('.').collect();
    for i in 0..3 {
        let mut spliced = parts.clone();
        spliced[i] = &token;
        let spliced = spliced.join(".");
        assert!(pool.verify_access_token(&spliced).is_err() || spliced == *genuine);
    }
});
