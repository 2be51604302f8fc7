//! The Rust side of `bench/sign-in.mjs`: the same sign-in, in the same configuration, called
//! directly. Prints the median wall time per sign-in and the CPU time per sign-in of this
//! (the calling) thread, both in microseconds.

use std::sync::Arc;
use std::time::Instant;

use userpool::{PoolConfig, RecordingDelivery, UserPool};

fn main() -> userpool::Result<()> {
    // `on-thread` as the third argument runs the sign-ins on a spawned thread, as Node does.
    if std::env::args().nth(3).as_deref() == Some("on-thread") {
        return std::thread::spawn(run)
            .join()
            .unwrap_or_else(|_| Err(userpool::Error::new(userpool::ErrorCode::InternalError, "panicked")));
    }
    run()
}

fn run() -> userpool::Result<()> {
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
    let cpu_start = thread_cpu_ns();
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..iterations {
            pool.sign_in("alice", password)?;
        }
        per_op.push(start.elapsed().as_secs_f64() * 1e6 / iterations as f64);
    }
    let cpu_per_op = (thread_cpu_ns() - cpu_start) as f64 / 1e3 / (rounds * iterations) as f64;
    per_op.sort_by(f64::total_cmp);
    println!("{:.1} {:.1}", per_op[per_op.len() / 2], cpu_per_op);
    Ok(())
}

/// Nanoseconds this thread has run on a CPU (Linux's schedstat), 0 where unavailable.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}
