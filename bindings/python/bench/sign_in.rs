//! The Rust side of bindings/python/bench: the same sign-in as bench.py, on the same default
//! (OWASP argon2id) configuration, timed the same way. Prints the mean wall-clock and on-CPU
//! microseconds per sign-in (on-CPU time of this thread, from /proc/thread-self/schedstat,
//! so that other jobs on a shared machine do not count).

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
    let cpu_start = thread_cpu_ns();
    for _ in 0..n {
        std::hint::black_box(pool.sign_in("alice", "correct horse battery staple")?);
    }
    let cpu = thread_cpu_ns().saturating_sub(cpu_start);
    let wall = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("{wall:.1} {:.1}", cpu as f64 / 1e3 / f64::from(n));
    Ok(())
}

/// Nanoseconds this thread has spent on a CPU (Linux).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}
