//! Lookup layouts at scale (issue 4 §6, the 1.5× lookup goal): what a lookup would cost if
//! the SQLite store laid its tables out otherwise. A plain timing binary on plain rusqlite,
//! not the store: for each size it builds a file of users shaped like the store's (a JSON
//! record of about 700 bytes, a username and an email key each), with sorted inserts in one
//! transaction, then times single statements on a connection with the store's settings,
//! each after it has run until it no longer faults pages in, with uniformly random keys:
//!
//! - a statement on a one-row table (the cost of any statement);
//! - the store's lookup: the text key index, then the users table by row id;
//! - the users table by a row id derived from the username (a 62-bit hash);
//! - a table of 64-bit key hashes (integer row ids), then the users table;
//! - the text key index alone, and the key-hash table alone;
//! - an index in memory: a hash map of every key's hash to its user's row id, filled
//!   from the key table when the file opens, then the users table by that row id, the row
//!   checked to list the key (it would be only a hint: another process may have changed the
//!   file). The map's fill time and size are printed to standard error.
//!
//! Run with `cargo bench -p userpool-benches --bench sqlite_layouts`.
//! `USERPOOL_LAYOUT_SIZES` (default `10000,1000000`) picks the sizes, `USERPOOL_LAYOUT_DIR`
//! (default the system temp dir) where the files go (10M users need 10 GB and take about
//! two and a half minutes to build here); they are deleted afterwards. `docs/performance.md`
//! records the figures.

use std::hash::{Hash, Hasher};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

mod support;

use rusqlite::{Connection, OpenFlags, params};
use support::{Random, per_call, username};

const POOL: &str = "layouts";

/// A stable 62-bit hash of a pool's key, as a positive SQLite row id.
fn row_id(key: &str) -> i64 {
    // SipHash with fixed keys: the same ids within a run, which is all a benchmark needs.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    POOL.hash(&mut hasher);
    key.hash(&mut hasher);
    i64::try_from(hasher.finish() >> 2).expect("62 bits fit") + 1
}

/// This process's resident memory (Linux; 0 elsewhere).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|pages| pages.parse::<u64>().ok()).unwrap_or(0) * 4096
}

fn username_key(i: usize) -> String {
    format!("u:{}", username(i))
}

fn email_key(i: usize) -> String {
    format!("a:email:{}@example.com", username(i))
}

/// A user record of the store's shape and size.
fn record(i: usize) -> String {
    let name = username(i);
    format!(
        r#"{{"record_version":1,"sub":"{i:08x}-0000-4000-8000-{i:012x}","username":"{name}","status":"CONFIRMED","enabled":true,"attributes":{{"email":"{name}@example.com","email_verified":"true","name":"User {i}"}},"password_hash":"$argon2id$v=19$m=128,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$9Zy5M1Yh0mJ6n5oQ3w8m3Q9sW2k0zv0jP3o6Xw3mZ1c","password_changed_ms":1790000000000,"temporary_password_expires_ms":null,"created_ms":1790000000000,"updated_ms":1790000000000,"lockout":{{"failures":0,"locked_until_ms":null,"last_failure_ms":null}},"sign_up_code":null,"reset_code":null,"attribute_codes":{{}},"groups":[],"challenge":null,"mfa":{{"totp":null,"sms":false,"email":false,"preferred":null}},"mfa_lockout":{{"failures":0,"locked_until_ms":null,"last_failure_ms":null}}}}"#
    )
}

fn build(path: &Path, n: usize) -> rusqlite::Result<()> {
    let conn = Connection::open(path)?;
    // Built once and thrown away: no durability needed while filling it.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;
         CREATE TABLE one (v INTEGER); INSERT INTO one VALUES (1);
         CREATE TABLE users (id INTEGER PRIMARY KEY, pool TEXT NOT NULL, sub TEXT NOT NULL,
             version INTEGER NOT NULL, username TEXT NOT NULL, keys TEXT NOT NULL, record TEXT NOT NULL);
         CREATE TABLE user_keys (pool TEXT NOT NULL, key TEXT NOT NULL, user_id INTEGER NOT NULL,
             PRIMARY KEY (pool, key)) WITHOUT ROWID;
         CREATE TABLE key_hashes (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL);",
    )?;
    // Users by the hash of their username key; every other table points at that id.
    let mut users: Vec<(i64, usize)> = (0..n).map(|i| (row_id(&username_key(i)), i)).collect();
    users.sort_unstable();
    let mut keys: Vec<(String, i64)> = Vec::with_capacity(2 * n);
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO users VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6)")?;
        for &(id, i) in &users {
            let key_list = format!(r#"["{}","{}"]"#, username_key(i), email_key(i));
            insert.execute(params![id, POOL, format!("{i:08x}"), username(i), key_list, record(i)])?;
            keys.push((username_key(i), id));
            keys.push((email_key(i), id));
        }
    }
    keys.sort_unstable();
    {
        let mut insert = tx.prepare("INSERT INTO user_keys VALUES (?1, ?2, ?3)")?;
        for (key, id) in &keys {
            insert.execute(params![POOL, key, id])?;
        }
    }
    let mut hashes: Vec<(i64, i64)> = keys.iter().map(|(key, id)| (row_id(key), *id)).collect();
    hashes.sort_unstable();
    // Two keys of one hash would need a collision path; at 62 bits none is expected here.
    hashes.dedup_by_key(|h| h.0);
    {
        let mut insert = tx.prepare("INSERT INTO key_hashes VALUES (?1, ?2)")?;
        for (hash, id) in &hashes {
            insert.execute(params![hash, id])?;
        }
    }
    tx.execute_batch("CREATE UNIQUE INDEX users_by_sub ON users (pool, sub)")?;
    tx.commit()?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
}

fn measure(path: &Path, n: usize) -> rusqlite::Result<String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    // The store's settings (core/src/store/sqlite.rs, open_connection).
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.pragma_update(None, "cache_size", -16_384)?;
    conn.query_row(&format!("PRAGMA mmap_size = {}", 64_u64 << 30), [], |_| Ok(()))?;
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let text_len = |r: &rusqlite::Row<'_>| Ok(r.get_ref(0)?.as_str().map_or(0, str::len));
    let by_key = |random: &mut Random, sql: &str| {
        let i = random.below(n);
        let key = if i.is_multiple_of(2) { username_key(i) } else { email_key(i) };
        let mut statement = conn.prepare_cached(sql).expect("prepares");
        black_box(statement.query_row(params![POOL, key], text_len).expect("found"));
    };
    let by_id = |random: &mut Random, sql: &str, key: fn(usize) -> String| {
        let id = row_id(&key(random.below(n)));
        let mut statement = conn.prepare_cached(sql).expect("prepares");
        black_box(statement.query_row(params![id], text_len).expect("found"));
    };
    const JOIN: &str =
        "SELECT u.record FROM user_keys k JOIN users u ON u.id = k.user_id WHERE k.pool = ?1 AND k.key = ?2";
    let budget = Duration::from_secs(2);
    // Each statement first runs until a second of it takes almost no page faults: a new
    // connection maps the file afresh, and each layout touches pages of its own.
    let mut warm_then_time = |mut op: Box<dyn FnMut(&mut Random) + '_>| {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            if per_call(Duration::from_secs(1), 1000, |_| op(&mut random)).faults < 0.001 {
                break;
            }
        }
        per_call(budget, 1000, |_| op(&mut random))
    };
    // The index in memory, filled from the key table as a store would fill it at open.
    let (started, before) = (Instant::now(), resident_bytes());
    let mut in_memory: std::collections::HashMap<i64, i64> = std::collections::HashMap::with_capacity(2 * n);
    {
        let mut keys = conn.prepare("SELECT key, user_id FROM user_keys WHERE pool = ?1")?;
        let mut rows = keys.query([POOL])?;
        while let Some(row) = rows.next()? {
            in_memory.insert(row_id(row.get_ref(0)?.as_str()?), row.get(1)?);
        }
    }
    eprintln!(
        "  {n}: the index in memory: {} keys filled in {:.1} s, {:.0} MB resident",
        in_memory.len(),
        started.elapsed().as_secs_f64(),
        (resident_bytes() - before) as f64 / 1e6
    );
    let cells = [
        warm_then_time(Box::new(|_| {
            let mut statement = conn.prepare_cached("SELECT v FROM one").expect("prepares");
            black_box(statement.query_row([], |r| r.get::<_, i64>(0)).expect("a row"));
        })),
        warm_then_time(Box::new(|random| by_key(random, JOIN))),
        warm_then_time(Box::new(|random| {
            by_id(random, "SELECT record FROM users WHERE id = ?1", username_key);
        })),
        warm_then_time(Box::new(|random| {
            by_id(
                random,
                "SELECT u.record FROM key_hashes h JOIN users u ON u.id = h.user_id WHERE h.id = ?1",
                email_key,
            );
        })),
        warm_then_time(Box::new(|random| {
            by_key(random, "SELECT CAST(user_id AS TEXT) FROM user_keys WHERE pool = ?1 AND key = ?2");
        })),
        warm_then_time(Box::new(|random| {
            by_id(random, "SELECT CAST(user_id AS TEXT) FROM key_hashes WHERE id = ?1", email_key);
        })),
        warm_then_time(Box::new(|random| {
            let i = random.below(n);
            let key = if i.is_multiple_of(2) { username_key(i) } else { email_key(i) };
            let id = in_memory[&row_id(&key)];
            let mut statement = conn
                .prepare_cached("SELECT record FROM users WHERE id = ?1 AND pool = ?2 AND instr(keys, ?3) > 0")
                .expect("prepares");
            black_box(statement.query_row(params![id, POOL, format!("\"{key}\"")], text_len).expect("found"));
        })),
    ];
    let cells: Vec<String> = cells.iter().map(|t| format!("{:.2} µs ({:.2} faults)", t.wall, t.faults)).collect();
    Ok(format!("| {n} | {} |", cells.join(" | ")))
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let sizes: Vec<usize> = std::env::var("USERPOOL_LAYOUT_SIZES")
        .unwrap_or_else(|_| "10000,1000000".to_owned())
        .split(',')
        .map(|s| s.trim().parse().expect("USERPOOL_LAYOUT_SIZES is a comma-separated list of numbers"))
        .collect();
    let dir = std::env::var_os("USERPOOL_LAYOUT_DIR").map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    println!(
        "| users | a one-row table | key index, then row id (the store's lookup) | users by a hashed username row id \
         | key-hash table, then row id | key index alone | key-hash table alone | an index in memory, then row id |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let path = dir.join(format!("userpool-layouts-{n}.sqlite3"));
        let remove = || {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        };
        remove();
        let started = Instant::now();
        build(&path, n).expect("the file builds");
        // Wait until the file is written back: the kernel writing gigabytes of dirty pages
        // behind the measurement slows it down.
        std::fs::File::open(&path).and_then(|f| f.sync_all()).expect("the file syncs");
        eprintln!("  {n}: built in {:.0} s", started.elapsed().as_secs_f64());
        println!("{}", measure(&path, n).expect("the statements run"));
        remove();
    }
}
