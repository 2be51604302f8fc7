//! The Rust side of bindings/python/bench: the same sign-in as bench.py, on the same default
//! (OWASP argon2id) configuration, timed the same way. Prints mean microseconds per sign-in.

use std::sync::Arc;
use std::time::Instant;

use userpool::{PoolConfig, RecordingDelivery, UserPool};

fn main() -> userpool::Result<()> {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let delivery = RecordingDelivery::new();
    let pool = UserPool::builder(PoolConfig::default()).delivery(Arc::new(delivery.clone())).open()?;
    let attributes = [("email".to_owned(), "alice@example.com".to_owned())].into();
    pool.sign_up("alice", "correct horse battery staple", attributes)?;
    let code = delivery.last_code_to("alice@example.com").unwrap_or_default();
    pool.confirm_sign_up("alice", &code)?;
    pool.sign_in("alice", "correct horse battery staple")?;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(pool.sign_in("alice", "correct horse battery staple")?);
    }
    println!("{:.1}", start.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    Ok(())
}
