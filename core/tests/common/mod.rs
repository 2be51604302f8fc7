//! Helpers shared by the integration tests: a fast pool configuration, a pool with a
//! recording delivery and a manual clock, and a race between threads.
#![allow(dead_code, reason = "each test crate uses a subset of these helpers")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use userpool::{Attributes, ManualClock, PoolConfig, RecordingDelivery, Store, UserPool};

/// The password every test user signs up with.
pub(crate) const PW: &str = "correct horse battery staple";

/// A configuration with `extra` (top-level keys and tables) and cheap argon2 parameters.
pub(crate) fn config(extra: &str) -> PoolConfig {
    // Top-level keys must come before the first table.
    PoolConfig::from_toml(&format!(
        "{extra}\n[password_hashing]\nmemory_kib = 128\niterations = 1\ndangerous_allow_weak = true\n"
    ))
    .unwrap()
}

/// A pool with the delivery and clock the test controls.
pub(crate) struct Fixture {
    pub(crate) pool: UserPool,
    pub(crate) delivery: RecordingDelivery,
    pub(crate) clock: ManualClock,
}

/// Opens `config` on `store`, sealing secrets with `key` when given.
pub(crate) fn open(store: Arc<dyn Store>, config: PoolConfig, key: Option<&[u8]>) -> Fixture {
    let delivery = RecordingDelivery::new();
    let clock = ManualClock::new(1_700_000_000_000);
    let mut builder =
        UserPool::builder(config).store(store).delivery(Arc::new(delivery.clone())).clock(Arc::new(clock.clone()));
    if let Some(key) = key {
        builder = builder.encryption_key(key);
    }
    Fixture { pool: builder.open().unwrap(), delivery, clock }
}

/// `{email: NAME@example.com}`.
pub(crate) fn email(name: &str) -> Attributes {
    [("email".to_owned(), format!("{name}@example.com"))].into()
}

/// Signs `name` up and confirms it with the delivered code.
pub(crate) fn confirmed(f: &Fixture, name: &str) {
    f.pool.sign_up(name, PW, email(name)).unwrap();
    let code = f.delivery.last_code_to(&format!("{name}@example.com")).unwrap();
    f.pool.confirm_sign_up(name, &code).unwrap();
}

/// Signs `name` in with `PW` (no MFA) and returns the tokens.
pub(crate) fn signed_in(f: &Fixture, name: &str) -> userpool::Tokens {
    f.pool.sign_in(name, PW).unwrap().tokens.unwrap()
}

/// Runs `attempt` on `threads` threads released together; returns how many succeeded.
pub(crate) fn race(threads: usize, attempt: impl Fn() -> bool + Send + Sync + 'static) -> usize {
    let attempt = Arc::new(attempt);
    let barrier = Arc::new(Barrier::new(threads));
    let wins = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (attempt, barrier, wins) = (Arc::clone(&attempt), Arc::clone(&barrier), Arc::clone(&wins));
            std::thread::spawn(move || {
                barrier.wait();
                if attempt() {
                    wins.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    wins.load(Ordering::SeqCst)
}
