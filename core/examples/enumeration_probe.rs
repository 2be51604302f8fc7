//! Measures whether sign-in timing reveals which usernames exist: the median time of a
//! sign-in with an unknown username against a wrong password for a real user, 200 samples
//! each, interleaved, with OWASP argon2 parameters. Not a test (timings are not assertions):
//!
//! ```sh
//! cargo run --release -p userpool --example enumeration_probe            # memory store
//! cargo run --release -p userpool --example enumeration_probe -- sqlite  # SQLite, FULL sync
//! ```

use std::sync::Arc;
use std::time::Instant;

use userpool::{ManualClock, MemoryStore, PoolConfig, RecordingDelivery, SqliteStore, Store, UserPool};

const SAMPLES: usize = 200;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sqlite = std::env::args().nth(1).as_deref() == Some("sqlite");
    let dir = tempfile_dir()?;
    let store: Arc<dyn Store> =
        if sqlite { Arc::new(SqliteStore::open(dir.join("probe.sqlite3"))?) } else { Arc::new(MemoryStore::new()) };
    let clock = ManualClock::new(1_700_000_000_000);
    let delivery = RecordingDelivery::new();
    let config = PoolConfig::from_toml("pool_id = 'probe'\n[tokens]\nalgorithm = 'ES256'")?;
    let pool = UserPool::builder(config)
        .store(store)
        .delivery(Arc::new(delivery.clone()))
        .clock(Arc::new(clock.clone()))
        .open()?;
    let attrs = [("email".to_owned(), "alice@example.com".to_owned())].into();
    pool.sign_up("alice", "correct horse battery staple", attrs)?;
    let code = delivery.last_code_to("alice@example.com").ok_or("no code")?;
    pool.confirm_sign_up("alice", &code)?;

    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for i in 0..SAMPLES + 10 {
        // 15 quiet minutes between samples keep the real account out of lockout.
        clock.advance_secs(901);
        let start = Instant::now();
        let e1 = pool.sign_in(&format!("nobody{i}"), "a wrong password").unwrap_err();
        let t1 = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let e2 = pool.sign_in("alice", "a wrong password").unwrap_err();
        let t2 = start.elapsed().as_secs_f64();
        assert_eq!(e1, e2, "the answers themselves must not differ");
        if i >= 10 {
            // The first samples warm caches and the allocator.
            unknown.push(t1);
            wrong.push(t2);
        }
    }
    let (u, w) = (median(unknown), median(wrong));
    println!("store: {}", if sqlite { "sqlite (WAL, synchronous=FULL)" } else { "memory" });
    println!("samples: {SAMPLES} each, interleaved");
    println!("median unknown user:             {:.3} ms", u * 1e3);
    println!("median real user, wrong password: {:.3} ms", w * 1e3);
    println!("ratio unknown / real: {:.3} (goal: within 5 %, i.e. 0.95-1.05)", u / w);
    Ok(())
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("userpool-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
