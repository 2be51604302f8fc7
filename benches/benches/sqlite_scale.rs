//! Scale benchmark of the SQLite store (issue 4 §6): fills a pool with N users through the
//! bulk import path (`UserPool::admin_import_users`, pre-hashed passwords, one transaction
//! per 50,000 users) and measures, on that pool:
//!
//! - the import rate;
//! - lookup by username and by alias (`admin_get_user`, and the bare `Store::user_by_key`),
//!   after the file has been read once and lookups have run until they no longer fault
//!   pages in (a warm pool);
//! - `list_users` with a prefix filter, both one that matches at once (a first page) and
//!   one that matches ten users, with `status = "Disabled"` (nobody) and with one user's
//!   `sub`: all read through an index;
//! - `list_users_in_group` and `delete_group` for a group of ten spread over the pool (read
//!   through the index of memberships);
//! - sign-in without the hash (argon2id at m=128 KiB, t=1, whose bare verification is
//!   measured and subtracted): two durable commits and two ES256 signatures;
//! - refresh with rotation, each a durable (`synchronous=FULL`) commit: one thread (one
//!   fsync per refresh), and 16 threads at once (group commit: one fsync per group).
//!
//! Then, with more than one size, the lookups again with every pool open and warm at once,
//! the sizes taking turns second by second ([`interleaved`]): the ratio of the 1.5× goal,
//! out of reach of the machine's drift between one size's run and the next.
//!
//! Run it pinned to one core (`taskset -c 1`) for the "one core" figures.
//!
//! Run with `cargo bench -p userpool-benches --bench sqlite_scale`. `USERPOOL_SCALE_SIZES`
//! (default `10000,1000000`) picks the pool sizes, `USERPOOL_SCALE_DIR` (default the system
//! temp dir) where the files go (every size's at once: 15 GB for 10k, 1M and 10M); they are
//! deleted at the end unless `USERPOOL_SCALE_KEEP` is set. With `USERPOOL_SCALE_REUSE` set, a
//! kept file of the same size is measured again without a new import (its import column then
//! reads "reused"). `USERPOOL_SCALE_MMAP_BYTES` sets how much of the file is mapped,
//! `USERPOOL_SCALE_PAGE_SIZE` the page size of a new file, `USERPOOL_SCALE_WARMUP_SECS` the longest lookup warm-up (default 120 s). With
//! `USERPOOL_SCALE_MIGRATION` set, each file is then turned back into a schema version 1
//! file and reopened, timing the migration that fills its search terms.
//! `docs/performance.md` records the figures.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use userpool::{ImportUser, PoolConfig, SqliteOptions, SqliteStore, Store, UserPool};

use support::{Random, cpu_seconds, per_call, username};

const PASSWORD: &str = "correct horse battery staple";
const BATCH: usize = 50_000;
/// Threads refreshing at once for the group-commit figure.
const CONCURRENT: usize = 16;
const POOL: &str = "scale";
/// The group whose listing and deletion are timed.
const GROUP: &str = "auditors";
/// Rounds of the interleaved lookups.
const INTERLEAVED_ROUNDS: usize = 10;

fn config() -> PoolConfig {
    PoolConfig::from_toml(&format!(
        "pool_id = '{POOL}'\n[sign_in]\nalias_attributes = ['email']\n[password_hashing]\nmemory_kib = 128\n\
         iterations = 1\ndangerous_allow_weak = true\n[tokens]\nalgorithm = 'ES256'\n"
    ))
    .expect("the benchmark configuration is valid")
}

/// The store's options, with the bench's overrides: `USERPOOL_SCALE_MMAP_BYTES` (to compare
/// with SQLite's usual 2 GB cap, say) and `USERPOOL_SCALE_PAGE_SIZE`.
fn options() -> SqliteOptions {
    let mut options = SqliteOptions::default();
    if let Some(bytes) = std::env::var("USERPOOL_SCALE_MMAP_BYTES").ok().and_then(|s| s.parse().ok()) {
        options = options.mmap_bytes(bytes);
    }
    if let Some(bytes) = std::env::var("USERPOOL_SCALE_PAGE_SIZE").ok().and_then(|s| s.parse().ok()) {
        options = options.page_size(bytes);
    }
    options
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(128, 1, 1, None).expect("valid parameters"))
}

/// Where a lookup's time goes, statement by statement, on a connection of its own (rusqlite
/// directly, the store's connection settings): a statement on a one-row table (the read
/// transaction and the statement itself, whatever the pool's size), one row-id descent of the users table without
/// and with reading the record, one descent of the key index, and the two joined as
/// `Store::user_by_key` runs them. A new connection maps the file afresh, so it warms up
/// first, like the pool.
fn anatomy(path: &Path, n: usize, random: &mut Random) -> String {
    use rusqlite::{Connection, OpenFlags, params};
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .expect("the file opens");
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).expect("QPSG");
    conn.pragma_update(None, "cache_size", -16_384).expect("cache_size");
    conn.query_row(&format!("PRAGMA mmap_size = {}", 64_u64 << 30), [], |_| Ok(())).expect("mmap_size");
    let rows: i64 = conn.query_row("SELECT max(id) FROM userpool_users", [], |r| r.get(0)).expect("users");
    let rows = usize::try_from(rows).expect("positive");
    let row_id = |random: &mut Random, sql: &str| {
        let id = i64::try_from(1 + random.below(rows)).expect("fits");
        // Row ids of deleted users (none here) would be missing: optional.
        let mut statement = conn.prepare_cached(sql).expect("prepares");
        black_box(statement.query_row(params![id], |r| r.get_ref(0).map(touch)).ok());
    };
    let key_lookup = |random: &mut Random, sql: &str| {
        let key = format!("u:{}", username(random.below(n)));
        let mut statement = conn.prepare_cached(sql).expect("prepares");
        black_box(statement.query_row(params![POOL, key], |r| r.get_ref(0).map(touch)).expect("found"));
    };
    const JOIN: &str = "SELECT u.record FROM userpool_user_keys k JOIN userpool_users u ON u.id = k.user_id
                        WHERE k.pool = ?1 AND k.key = ?2";
    let warm_up = Instant::now();
    while warm_up.elapsed() < Duration::from_secs(120) {
        if per_call(Duration::from_secs(1), 1000, |_| key_lookup(random, JOIN)).faults < 0.001 {
            break;
        }
    }
    let budget = Duration::from_secs(2);
    let fixed = per_call(budget, 1000, |_| {
        let mut statement = conn.prepare_cached("SELECT version FROM userpool_schema LIMIT 1").expect("prepares");
        black_box(statement.query_row([], |r| r.get::<_, i64>(0)).expect("a schema row"));
    });
    let bare = per_call(budget, 1000, |_| row_id(random, "SELECT version FROM userpool_users WHERE id = ?1"));
    let record = per_call(budget, 1000, |_| row_id(random, "SELECT record FROM userpool_users WHERE id = ?1"));
    let key = per_call(budget, 1000, |_| {
        key_lookup(random, "SELECT user_id FROM userpool_user_keys WHERE pool = ?1 AND key = ?2");
    });
    let joined = per_call(budget, 1000, |_| key_lookup(random, JOIN));
    format!("| {n} | {fixed} | {bare} | {record} | {key} | {joined} |")
}

/// Reads a column's value as the store does (a record's text is checked as UTF-8).
fn touch(value: rusqlite::types::ValueRef<'_>) -> usize {
    match value {
        rusqlite::types::ValueRef::Text(text) => std::str::from_utf8(text).map_or(0, str::len),
        rusqlite::types::ValueRef::Integer(i) => usize::try_from(i).unwrap_or(0),
        _ => 0,
    }
}

/// Turns the file back into a schema version 1 file (no search terms, no expiry columns) and
/// times the open that migrates it (versions 2 and 4 fill the search terms from every
/// record, version 3 the expiry of every session).
fn time_search_migration(path: &Path, n: usize) {
    let conn = rusqlite::Connection::open(path).expect("the file opens");
    conn.execute_batch(
        "DROP INDEX userpool_secrets_by_expiry; DROP INDEX userpool_families_by_expiry;
         ALTER TABLE userpool_secrets DROP COLUMN expires_ms; ALTER TABLE userpool_families DROP COLUMN expires_ms;
         DROP TABLE userpool_user_search; DELETE FROM userpool_schema WHERE version > 1;",
    )
    .expect("back to version 1");
    drop(conn);
    let started = Instant::now();
    drop(SqliteStore::open(path).expect("the file migrates"));
    eprintln!(
        "  {n}: opening it as a version 1 file (search terms filled) took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Reads the file once, so that its pages are in the OS page cache.
fn warm_page_cache(path: &Path) {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path).expect("the database file opens");
    let mut chunk = vec![0u8; 1 << 20];
    while file.read(&mut chunk).expect("the database file reads") > 0 {}
}

fn file_size(path: &Path) -> u64 {
    let wal = path.with_extension("sqlite3-wal");
    [path.to_path_buf(), wal].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
}

/// The three lookups the 1.5× goal is about.
#[derive(Clone, Copy)]
enum Lookup {
    /// `admin_get_user` by username.
    Username,
    /// `admin_get_user` by the email alias.
    Alias,
    /// The bare `Store::user_by_key` of a username.
    Key,
}

impl Lookup {
    const ALL: [Self; 3] = [Self::Username, Self::Alias, Self::Key];

    /// Looks a random one of the pool's `n` users up.
    fn run(self, n: usize, pool: &UserPool, store: &SqliteStore, random: &mut Random) {
        let name = username(random.below(n));
        match self {
            Self::Username => drop(black_box(pool.admin_get_user(&name).expect("found"))),
            Self::Alias => drop(black_box(pool.admin_get_user(&format!("{name}@example.com")).expect("found"))),
            Self::Key => drop(black_box(store.user_by_key(POOL, &format!("u:{name}")).expect("read").expect("found"))),
        }
    }
}

/// Makes the pool warm, as a serving pool is: its file in the OS page cache and its pages
/// mapped. Reads the file once, then looks users up until a second of lookups takes almost
/// no page faults (at most `USERPOOL_SCALE_WARMUP_SECS`, default 120).
fn warm_up(path: &Path, n: usize, pool: &UserPool, random: &mut Random) {
    warm_page_cache(path);
    let cap = std::env::var("USERPOOL_SCALE_WARMUP_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(cap) {
        let round = per_call(Duration::from_secs(1), 1000, |_| {
            black_box(pool.admin_get_user(&username(random.below(n))).expect("found"));
        });
        if round.faults < 0.001 {
            break;
        }
    }
    eprintln!("  {n}: lookups warmed up in {:.0} s", started.elapsed().as_secs_f64());
}

/// The 1.5× goal, measured so that the machine's drift cannot decide it: every pool open at
/// once and warm, then `INTERLEAVED_ROUNDS` rounds in which each size in turn runs each
/// lookup for a second. Prints each size's median time per lookup and its median ratio to
/// the smallest size within a round (and the lowest and highest of those ratios).
fn interleaved(sizes: &[usize], dir: &Path) {
    let mut random = Random(0x2545_F491_4F6C_DD1D);
    let pools: Vec<(usize, Arc<SqliteStore>, UserPool)> = sizes
        .iter()
        .map(|&n| {
            let path = scale_file(dir, n);
            let store = Arc::new(SqliteStore::open_with(&path, options()).expect("the store opens"));
            let pool =
                UserPool::builder(config()).store(Arc::clone(&store) as Arc<dyn Store>).open().expect("the pool opens");
            warm_up(&path, n, &pool, &mut random);
            (n, store, pool)
        })
        .collect();
    // times[size][lookup][round], µs
    let mut times = vec![[(); 3].map(|()| Vec::with_capacity(INTERLEAVED_ROUNDS)); pools.len()];
    for _ in 0..INTERLEAVED_ROUNDS {
        for ((n, store, pool), times) in pools.iter().zip(&mut times) {
            for (lookup, times) in Lookup::ALL.into_iter().zip(times.iter_mut()) {
                times.push(per_call(Duration::from_secs(1), 1000, |_| lookup.run(*n, pool, store, &mut random)).wall);
            }
        }
    }
    println!(
        "\nLookups interleaved ({INTERLEAVED_ROUNDS} rounds; in each, every size runs each lookup for 1 s): median µs, \
         and the median ratio to {} users within a round (lowest–highest):\n\n\
         | users | by username | by alias | `user_by_key` |\n|---|---|---|---|",
        sizes[0]
    );
    for ((n, ..), size_times) in pools.iter().zip(&times) {
        let cells: Vec<String> = size_times
            .iter()
            .zip(&times[0])
            .map(|(these, smallest)| {
                let mut ratios: Vec<f64> = these.iter().zip(smallest).map(|(t, s)| t / s).collect();
                ratios.sort_by(f64::total_cmp);
                format!(
                    "{:.1} µs, {:.2}× ({:.2}–{:.2})",
                    median(these),
                    median(&ratios),
                    ratios[0],
                    ratios[ratios.len() - 1]
                )
            })
            .collect();
        println!("| {n} | {} |", cells.join(" | "));
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn scale_file(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("userpool-scale-{n}.sqlite3"))
}

fn remove_scale_file(dir: &Path, n: usize) {
    let path = scale_file(dir, n);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Fills (or reuses) a pool of `n` users, prints its row of the main table and returns its
/// row of the lookup anatomy table.
fn run(n: usize, dir: &Path) -> String {
    let path = scale_file(dir, n);
    let reuse = std::env::var_os("USERPOOL_SCALE_REUSE").is_some() && path.exists();
    if !reuse {
        remove_scale_file(dir, n);
    }
    let store = Arc::new(SqliteStore::open_with(&path, options()).expect("the store opens"));
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
    warm_up(&path, n, &pool, &mut random);
    let [by_username, by_alias, raw_key] =
        Lookup::ALL.map(|lookup| per_call(budget, 1000, |_| lookup.run(n, &pool, &store, &mut random)));
    let anatomy = anatomy(&path, n, &mut random);

    // ── list_users with a prefix filter ──
    let list_first_page = per_call(budget, 20, |_| {
        let page = pool.list_users(Some(r#"email ^= "user0""#), Some(60), None).expect("listed");
        assert_eq!(page.users.len(), 60.min(n));
    });
    let rare = format!(r#"username ^= "{}""#, &username(n / 2)[..11]);
    let list_rare = per_call(budget, 20, |_| {
        let page = pool.list_users(Some(&rare), Some(60), None).expect("listed");
        assert_eq!(page.users.len(), 10);
    });
    // Nobody is disabled: the status words' index range is empty (it was a scan of every
    // record until the fourth session).
    let list_status = per_call(budget, 20, |_| {
        let page = pool.list_users(Some(r#"status = "Disabled""#), Some(60), None).expect("listed");
        assert!(page.users.is_empty());
    });
    // Cognito's way to find the user of a token: a range of the users table's subs.
    let sub = pool.admin_get_user(&username(n / 2)).expect("found").sub;
    let by_sub = format!(r#"sub = "{sub}""#);
    let list_sub = per_call(budget, 20, |_| {
        let page = pool.list_users(Some(&by_sub), Some(60), None).expect("listed");
        assert_eq!(page.users.len(), 1);
    });
    // A group of ten, spread over the pool: its listing and its deletion read the group's
    // index range (they scanned every record until the sixth session).
    let _ = pool.delete_group(GROUP); // left by an earlier run on a reused file
    pool.create_group(GROUP, None, None).expect("created");
    for i in 0..10 {
        pool.admin_add_user_to_group(&username(i * (n / 10)), GROUP).expect("added");
    }
    let list_group = per_call(budget, 20, |_| {
        let page = pool.list_users_in_group(GROUP, Some(60), None).expect("listed");
        assert_eq!(page.users.len(), 10);
    });
    let started = Instant::now();
    pool.delete_group(GROUP).expect("deleted");
    let delete_group = started.elapsed();

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

    // ── a backup of the whole file (`VACUUM INTO`, synced) ──
    let copy = dir.join(format!("userpool-scale-{n}-backup.sqlite3"));
    drop(std::fs::remove_file(&copy));
    let started = Instant::now();
    pool.backup_to(&copy).expect("backs up");
    let backup = started.elapsed().as_secs_f64();
    let copy_size = file_size(&copy);
    std::fs::remove_file(&copy).expect("removes the backup");

    let size = file_size(&path);
    println!(
        "| {n} | {import} | {by_username} | {by_alias} | {raw_key} | {list_first_page} | {list_rare} | {list_status} | \
         {list_sub} | {list_group} | {:.1} ms | \
         {:.0} µs ({:.0} µs − {:.0} µs hash) | {:.0} µs ({:.0}/s) | {concurrent:.0}/s ({:.0} µs CPU each: {:.0}/s per \
         core) | {backup:.1} s ({:.2} GB) | {:.2} GB |",
        delete_group.as_secs_f64() * 1e3,
        sign_in.wall - hash_only.wall,
        sign_in.wall,
        hash_only.wall,
        refresh.wall,
        1e6 / refresh.wall,
        cpu_per_refresh * 1e6,
        1.0 / cpu_per_refresh,
        copy_size as f64 / 1e9,
        size as f64 / 1e9,
    );
    drop(pool);
    drop(store);
    if std::env::var_os("USERPOOL_SCALE_MIGRATION").is_some() {
        time_search_migration(&path, n);
    }
    anatomy
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
         (`email ^= \"user0\"`) | `list_users` rare prefix (10 users) | `list_users` by `status` (nobody) | `list_users` by `sub` | `list_users_in_group` (10 members) | `delete_group` (10 members) | sign-in without the hash | refresh with rotation, 1 thread \
         | refresh with rotation, {CONCURRENT} threads | `backup_to` (the copy) | file |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let anatomy: Vec<String> = sizes.iter().map(|&n| run(n, &dir)).collect();
    println!(
        "\nWhere a lookup's time goes (one statement each, on a connection of its own):\n\n\
         | users | a one-row table (the cost of any statement) | row id, no record | row id, record | key index only | key index, then row id (`user_by_key`) |"
    );
    println!("|---|---|---|---|---|---|");
    for row in anatomy {
        println!("{row}");
    }
    if sizes.len() > 1 {
        interleaved(&sizes, &dir);
    }
    if std::env::var_os("USERPOOL_SCALE_KEEP").is_none() {
        for &n in &sizes {
            remove_scale_file(&dir, n);
        }
    }
}
