//! Scale benchmark of the SQLite store (issue 4 §6): fills a pool with N users through the
//! bulk import path (`UserPool::admin_import_users`, pre-hashed passwords, one transaction
//! per 50,000 users) and measures, on that pool:
//!
//! - the import rate;
//! - lookup by username and by alias (`admin_get_user`, and the bare `Store::user_by_key`),
//!   after the file has been read once and lookups have run for a while (a warm pool);
//! - `list_users` with a prefix filter, both one that matches at once (a first page) and
//!   one that matches ten users (which scans the pool: filters are applied to records);
//! - sign-in without the hash (argon2id at m=128 KiB, t=1, whose bare verification is
//!   measured and subtracted): two durable commits and two ES256 signatures;
//! - refresh with rotation, each a durable (`synchronous=FULL`) commit: one thread (one
//!   fsync per refresh), and 16 threads at once (group commit: one fsync per group).
//!
//! Run it pinned to one core (`taskset -c 1`) for the "one core" figures.
//!
//! Run with `cargo bench -p userpool-benches --bench sqlite_scale`. `USERPOOL_SCALE_SIZES`
//! (default `10000,1000000`) picks the pool sizes, `USERPOOL_SCALE_DIR` (default the system
//! temp dir) where the files go; they are deleted afterwards unless `USERPOOL_SCALE_KEEP`
//! is set. With `USERPOOL_SCALE_REUSE` set, a kept file of the same size is measured again
//! without a new import (its import column then reads "reused"). `USERPOOL_SCALE_MMAP_BYTES`
//! sets how much of the file is mapped, `USERPOOL_SCALE_PAGE_SIZE` the page size of a new
//! file, `USERPOOL_SCALE_WARMUP_SECS` the lookup warm-up
//! (default 3 s). `docs/performance.md`
//! records the figures.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use userpool::{ImportUser, PoolConfig, SqliteOptions, SqliteStore, Store, UserPool};

const PASSWORD: &str = "correct horse battery staple";
const BATCH: usize = 50_000;
/// Threads refreshing at once for the group-commit figure.
const CONCURRENT: usize = 16;
const POOL: &str = "scale";

fn config() -> PoolConfig {
    PoolConfig::from_toml(&format!(
        "pool_id = '{POOL}'\n[sign_in]\nalias_attributes = ['email']\n[password_hashing]\nmemory_kib = 128\n\
         iterations = 1\ndangerous_allow_weak = true\n[tokens]\nalgorithm = 'ES256'\n"
    ))
    .expect("the benchmark configuration is valid")
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(128, 1, 1, None).expect("valid parameters"))
}

/// A small xorshift: the same sequence every run.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).expect("fits")
    }
}

fn username(i: usize) -> String {
    format!("user{i:08}")
}

/// Wall and CPU time of one call, in µs, and the page faults it took. CPU time is what to
/// compare between runs on a machine shared with other work: wall time there depends on who
/// else is running. A lookup's first touch of a mapped page is a (minor) fault: they say how
/// warm the mapping still is.
#[derive(Clone, Copy)]
struct Timing {
    wall: f64,
    cpu: f64,
    faults: f64,
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} µs ({:.1} µs CPU, {:.2} faults)", self.wall, self.cpu, self.faults)
    }
}

/// Runs `op` until `budget` has passed (at least `min` times).
fn per_call(budget: Duration, min: usize, mut op: impl FnMut(usize)) -> Timing {
    let started = Instant::now();
    let (cpu, faults) = (cpu_seconds(), minor_faults());
    let mut calls = 0;
    while calls < min || started.elapsed() < budget {
        op(calls);
        calls += 1;
    }
    Timing {
        wall: started.elapsed().as_secs_f64() * 1e6 / calls as f64,
        cpu: (cpu_seconds() - cpu) * 1e6 / calls as f64,
        faults: (minor_faults() - faults) / calls as f64,
    }
}

/// A field of `/proc/self/stat` (Linux), counted from the one after the parenthesised
/// command name (the line's third).
fn stat_field(index: usize) -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    after.split_whitespace().nth(index).and_then(|f| f.parse().ok()).unwrap_or(0.0)
}

/// CPU time (user + system) this process has used: utime and stime, in clock ticks (100 per
/// second on Linux).
fn cpu_seconds() -> f64 {
    (stat_field(11) + stat_field(12)) / 100.0
}

/// Minor page faults this process has taken.
fn minor_faults() -> f64 {
    stat_field(7)
}

/// Reads the file once, so that its pages are in the OS page cache.
fn warm_page_cache(path: &std::path::Path) {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path).expect("the database file opens");
    let mut chunk = vec![0u8; 1 << 20];
    while file.read(&mut chunk).expect("the database file reads") > 0 {}
}

fn file_size(path: &std::path::Path) -> u64 {
    let wal = path.with_extension("sqlite3-wal");
    [path.to_path_buf(), wal].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
}

fn run(n: usize, dir: &std::path::Path) {
    let path = dir.join(format!("userpool-scale-{n}.sqlite3"));
    let reuse = std::env::var_os("USERPOOL_SCALE_REUSE").is_some() && path.exists();
    if !reuse {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    // USERPOOL_SCALE_MMAP_BYTES overrides how much of the file is mapped (to compare with
    // SQLite's usual 2 GB cap, say).
    let mut options = SqliteOptions::default();
    if let Some(bytes) = std::env::var("USERPOOL_SCALE_MMAP_BYTES").ok().and_then(|s| s.parse().ok()) {
        options = options.mmap_bytes(bytes);
    }
    if let Some(bytes) = std::env::var("USERPOOL_SCALE_PAGE_SIZE").ok().and_then(|s| s.parse().ok()) {
        options = options.page_size(bytes);
    }
    let store = Arc::new(SqliteStore::open_with(&path, options).expect("the store opens"));
    let pool = UserPool::builder(config()).store(Arc::clone(&store) as Arc<dyn Store>).open().expect("the pool opens");
    let phc = argon2().hash_password(PASSWORD.as_bytes()).expect("hashing works").to_string();

    // ── import ──
    let started = Instant::now();
    let mut next_report = n / 10;
    for start in (0..n).step_by(BATCH).filter(|_| !reuse) {
        let batch: Vec<ImportUser> = (start..(start + BATCH).min(n))
            .map(|i| ImportUser {
                username: username(i),
                attributes: [
                    ("email".to_owned(), format!("{}@example.com", username(i))),
                    ("email_verified".to_owned(), "true".to_owned()),
                    ("name".to_owned(), format!("User {i}")),
                ]
                .into(),
                password_hash: Some(phc.clone()),
            })
            .collect();
        for outcome in pool.admin_import_users(batch).expect("the import runs") {
            outcome.expect("every user imports");
        }
        if start + BATCH >= next_report && n >= 1_000_000 {
            eprintln!("  {n}: {} imported in {:.1} s", start + BATCH, started.elapsed().as_secs_f64());
            next_report += n / 10;
        }
    }
    let import = if reuse {
        "reused".to_owned()
    } else {
        let secs = started.elapsed().as_secs_f64();
        format!("{secs:.1} s ({:.0}/s)", n as f64 / secs)
    };
    let budget = Duration::from_secs(3);
    let mut random = Random(0x9E37_79B9_7F4A_7C15);

    // ── lookups, on a warm pool ──
    // A serving pool has its file in the OS page cache and its pages mapped: read the file
    // once, then look users up for a while (USERPOOL_SCALE_WARMUP_SECS, default 3), before
    // measuring. Each page a lookup touches for the first time costs a page fault.
    warm_page_cache(&path);
    let warm_up = std::env::var("USERPOOL_SCALE_WARMUP_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    per_call(Duration::from_secs(warm_up), 1000, |_| {
        black_box(pool.admin_get_user(&username(random.below(n))).expect("found"));
    });
    let by_username = per_call(budget, 1000, |_| {
        black_box(pool.admin_get_user(&username(random.below(n))).expect("found"));
    });
    let by_alias = per_call(budget, 1000, |_| {
        black_box(pool.admin_get_user(&format!("{}@example.com", username(random.below(n)))).expect("found"));
    });
    let raw_key = per_call(budget, 1000, |_| {
        let key = format!("u:{}", username(random.below(n)));
        black_box(store.user_by_key(POOL, &key).expect("read").expect("found"));
    });

    // ── list_users with a prefix filter ──
    let list_first_page = per_call(budget, 20, |_| {
        let page = pool.list_users(Some(r#"email ^= "user0""#), Some(60), None).expect("listed");
        assert_eq!(page.users.len(), 60.min(n));
    });
    let rare = format!(r#"username ^= "{}""#, &username(n / 2)[..11]);
    let list_scan = per_call(Duration::ZERO, 1, |_| {
        let page = pool.list_users(Some(&rare), Some(60), None).expect("listed");
        assert_eq!(page.users.len(), 10);
    });

    // ── sign-in without the hash ──
    let parsed = PasswordHash::new(&phc).expect("a PHC string");
    let hash_only = per_call(budget, 200, |_| {
        argon2().verify_password(PASSWORD.as_bytes(), &parsed).expect("verifies");
    });
    let mut tokens = Vec::new();
    let sign_in = per_call(budget, 200, |_| {
        let signed_in = pool.sign_in(&username(random.below(n)), PASSWORD).expect("signs in");
        tokens.push(signed_in.tokens.expect("tokens").refresh_token);
    });

    // ── refresh with rotation ──
    let mut presented = tokens;
    let refresh = per_call(budget, 500, |i| {
        let slot = i % presented.len();
        presented[slot] = pool.refresh(&presented[slot]).expect("refreshes").refresh_token;
    });

    let cpu_before = cpu_seconds();
    let concurrent = {
        let started = Instant::now();
        let done = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for chunk in presented.chunks(presented.len().div_ceil(CONCURRENT)) {
                let (pool, done) = (&pool, &done);
                let mut chain = chunk.to_vec();
                scope.spawn(move || {
                    let mut i = 0;
                    while started.elapsed() < budget {
                        let slot = i % chain.len();
                        chain[slot] = pool.refresh(&chain[slot]).expect("refreshes").refresh_token;
                        i += 1;
                    }
                    done.fetch_add(i, std::sync::atomic::Ordering::Relaxed);
                });
            }
        });
        let done = done.into_inner();
        (done as f64 / started.elapsed().as_secs_f64(), done)
    };
    // What one core could do once fsyncs are shared: CPU time per refresh.
    let cpu_per_refresh = (cpu_seconds() - cpu_before) / concurrent.1 as f64;
    let concurrent = concurrent.0;
    let size = file_size(&path);
    println!(
        "| {n} | {import} | {by_username} | {by_alias} | {raw_key} | {list_first_page} | {:.2} s | \
         {:.0} µs ({:.0} µs − {:.0} µs hash) | {:.0} µs ({:.0}/s) | {concurrent:.0}/s ({:.0} µs CPU each: {:.0}/s per \
         core) | {:.2} GB |",
        list_scan.wall / 1e6,
        sign_in.wall - hash_only.wall,
        sign_in.wall,
        hash_only.wall,
        refresh.wall,
        1e6 / refresh.wall,
        cpu_per_refresh * 1e6,
        1.0 / cpu_per_refresh,
        size as f64 / 1e9,
    );
    drop(pool);
    drop(store);
    if std::env::var_os("USERPOOL_SCALE_KEEP").is_none() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let sizes: Vec<usize> = std::env::var("USERPOOL_SCALE_SIZES")
        .unwrap_or_else(|_| "10000,1000000".to_owned())
        .split(',')
        .map(|s| s.trim().parse().expect("USERPOOL_SCALE_SIZES is a comma-separated list of numbers"))
        .collect();
    let dir = std::env::var_os("USERPOOL_SCALE_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    println!(
        "| users | import | lookup by username | lookup by alias | `user_by_key` | `list_users` first page \
         (`email ^= \"user0\"`) | `list_users` rare prefix (scan) | sign-in without the hash | refresh with rotation, 1 thread \
         | refresh with rotation, {CONCURRENT} threads | file |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        run(n, &dir);
    }
}
