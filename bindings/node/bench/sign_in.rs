//! The Rust side of `bench/sign-in.mjs`: the same sign-in, in the same configuration, called
//! directly. Prints the median time per sign-in in microseconds.

use std::sync::Arc;
use std::time::Instant;

use userpool::{PoolConfig, RecordingDelivery, UserPool};

fn main() -> userpool::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let iterations: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    // OWASP's default hashing (the configuration's default), as in the Node half.
    let config = PoolConfig::from_json(r#"{"pool_id": "bench"}"#)?;
    let delivery = RecordingDelivery::new();
    let pool = UserPool::builder(config).delivery(Arc::new(delivery.clone())).open()?;
    let password = "correct horse battery staple";
    pool.sign_up("alice", password, [("email".to_owned(), "alice@example.com".to_owned())].into())?;
    let code = delivery.last_code_to("alice@example.com").unwrap_or_default();
    pool.confirm_sign_up("alice", &code)?;
    for _ in 0..3 {
        pool.sign_in("alice", password)?;
    }
    let mut per_op = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..iterations {
            pool.sign_in("alice", password)?;
        }
        per_op.push(start.elapsed().as_secs_f64() * 1e6 / iterations as f64);
    }
    per_op.sort_by(f64::total_cmp);
    println!("{:.1}", per_op[per_op.len() / 2]);
    Ok(())
}
