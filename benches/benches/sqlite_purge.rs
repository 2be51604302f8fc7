//! What the purge at the end of every user transition's commit costs when nothing has ended
//! (`Write::PurgeExpired`, docs/storage.md "What ends is deleted as the pool is used"): a
//! plain timing binary on `SqliteStore`. It fills a pool with 100,000 live counters (pool
//! records that expire far in the future), then times commits that each create one more,
//! without and with the purge, in alternating rounds.
//!
//! Run with `cargo bench -p userpool-benches --bench sqlite_purge`. `USERPOOL_PURGE_DIR`
//! picks where the file goes (default `/dev/shm` where it exists, so that the fsync costs
//! nothing and the purge's own statements are what differs; the system temp dir
//! otherwise). The file is deleted afterwards. `docs/performance.md` records the figures.

use std::path::PathBuf;
use std::time::Duration;

mod support;

use support::per_call;
use userpool::store::Write;
use userpool::{SqliteStore, Store};

const POOL: &str = "purge";
const LIVE: usize = 100_000;
const FAR_AHEAD_MS: i64 = i64::MAX / 2;
const NOW_MS: i64 = 1_700_000_000_000;

fn counter(name: String) -> Write {
    Write::PutSecret { name, value: vec![7; 40].into(), expect: None, expires_ms: Some(FAR_AHEAD_MS) }
}

fn main() {
    let dir = std::env::var_os("USERPOOL_PURGE_DIR").map_or_else(
        || {
            let shm = PathBuf::from("/dev/shm");
            if shm.is_dir() { shm } else { std::env::temp_dir() }
        },
        PathBuf::from,
    );
    let path = dir.join(format!("userpool-purge-{}.sqlite3", std::process::id()));
    let store = SqliteStore::open(&path).expect("the file opens");
    for chunk in 0..LIVE / 10_000 {
        let writes = (0..10_000).map(|i| counter(format!("live:{chunk}:{i}"))).collect();
        store.commit(POOL, writes).expect("filled");
    }
    println!("{LIVE} live counters in {}\n", path.display());
    println!("| round | commit without the purge | commit with the purge | the purge |");
    println!("|---|---|---|---|");
    for round in 0..3 {
        let mut timed = [0.0; 2];
        for (slot, purge) in [false, true].into_iter().enumerate() {
            let timing = per_call(Duration::from_secs(2), 1000, |i| {
                let mut writes = vec![counter(format!("r{round}:{purge}:{i}"))];
                if purge {
                    writes.push(Write::PurgeExpired { records_until_ms: NOW_MS, families_until_ms: NOW_MS, limit: 4 });
                }
                store.commit(POOL, writes).expect("committed");
            });
            timed[slot] = timing.wall;
        }
        println!("| {round} | {:.1} µs | {:.1} µs | {:.1} µs |", timed[0], timed[1], timed[1] - timed[0]);
    }
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
