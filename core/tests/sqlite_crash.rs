//! Crash safety of `SqliteStore`: a child process (this test binary, re-run) signs users up,
//! confirms them, signs them in and refreshes their sessions on a SQLite file, printing an
//! `ack` line after each operation returns. The parent kills it with SIGKILL at random
//! moments, reopens the file, and checks that the database is sound, that every
//! acknowledged operation is there, and that no transition is half applied.
#![cfg(all(feature = "sqlite", unix))]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use userpool::{PoolConfig, RecordingDelivery, SqliteStore, Store, UserPool, UserStatus};

/// Set in the child: the database file to work on.
const CHILD_ENV: &str = "USERPOOL_TEST_CRASH_CHILD_DB";
/// Set in the child: a run number, so every run signs up new names.
const RUN_ENV: &str = "USERPOOL_TEST_CRASH_CHILD_RUN";
const KILLS: usize = 24;
const POOL: &str = "local_crash";
const PW: &str = "correct horse battery staple";

fn config() -> PoolConfig {
    PoolConfig::from_toml(&format!(
        "pool_id = '{POOL}'\n[password_hashing]\nmemory_kib = 128\niterations = 1\ndangerous_allow_weak = true\n\
         [tokens]\nalgorithm = 'ES256'\n"
    ))
    .unwrap()
}

fn open_pool(path: &Path, delivery: &RecordingDelivery) -> (Arc<SqliteStore>, UserPool) {
    let store = Arc::new(SqliteStore::open(path).unwrap());
    let pool = UserPool::builder(config())
        .store(Arc::clone(&store) as Arc<dyn Store>)
        .delivery(Arc::new(delivery.clone()))
        .open()
        .unwrap();
    (store, pool)
}

fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Not a test: the child process the crash test starts and kills. It works until killed.
#[test]
#[ignore = "run as a child process by sigkill_at_random_moments_loses_no_acknowledged_operation"]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let run = std::env::var(RUN_ENV).unwrap();
    let delivery = RecordingDelivery::new();
    let (_store, pool) = open_pool(Path::new(&path), &delivery);
    // libtest has printed "test crash_child ... " without a newline. Each line ends in
    // "ok": a line cut short by the kill is not an acknowledgement.
    println!();
    for i in 0.. {
        let name = format!("r{run}u{i}");
        let email = format!("{name}@example.com");
        let signed_up = pool.sign_up(&name, PW, [("email".to_owned(), email.clone())].into()).unwrap();
        println!("ack signup {name} {} ok", signed_up.user_sub);
        let code = delivery.last_code_to(&email).unwrap();
        pool.confirm_sign_up(&name, &code).unwrap();
        println!("ack confirm {name} ok");
        let mut token = pool.sign_in(&name, PW).unwrap().tokens.unwrap().refresh_token;
        println!("ack signin {name} 0 {} ok", *token);
        for generation in 1..=3 {
            token = pool.refresh(&token).unwrap().refresh_token;
            println!("ack refresh {name} {generation} {} ok", *token);
        }
    }
}

#[derive(Default, Debug)]
struct Expected {
    sub: String,
    confirmed: bool,
    /// The last acknowledged refresh token and its generation.
    session: Option<(u32, String)>,
}

fn record(line: &str, expected: &mut BTreeMap<String, Expected>) -> bool {
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        ["ack", "signup", name, sub, "ok"] => {
            expected.insert((*name).to_owned(), Expected { sub: (*sub).to_owned(), ..Expected::default() });
        }
        ["ack", "confirm", name, "ok"] => expected.get_mut(*name).unwrap().confirmed = true,
        ["ack", "signin" | "refresh", name, generation, token, "ok"] => {
            expected.get_mut(*name).unwrap().session = Some((generation.parse().unwrap(), (*token).to_owned()));
        }
        _ => return false,
    }
    true
}

fn check_database(path: &Path, expected: &BTreeMap<String, Expected>) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    // No half-applied transition: every index entry points at a record, every record's
    // keys and live refresh-token hash are indexed to it.
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    let dangling_keys = count(
        "SELECT COUNT(*) FROM userpool_user_keys k LEFT JOIN userpool_users u ON u.id = k.user_id WHERE u.id IS NULL",
    );
    let unindexed_keys = count(
        "SELECT COUNT(*) FROM userpool_users u, json_each(u.keys) j LEFT JOIN userpool_user_keys k
         ON k.pool = u.pool AND k.key = j.value AND k.user_id = u.id WHERE k.key IS NULL",
    );
    let dangling_hashes = count(
        "SELECT COUNT(*) FROM userpool_refresh_hashes h LEFT JOIN userpool_families f ON f.id = h.family_id
         WHERE f.id IS NULL",
    );
    let unindexed_hashes = count(
        "SELECT COUNT(*) FROM userpool_families f LEFT JOIN userpool_refresh_hashes h
         ON h.pool = f.pool AND h.hash = json_extract(f.record, '$.current_hash') AND h.family_id = f.id
         WHERE h.hash IS NULL",
    );
    let sessions_without_user = count(
        "SELECT COUNT(*) FROM userpool_families f LEFT JOIN userpool_users u ON u.pool = f.pool AND u.sub = f.sub
         WHERE u.id IS NULL",
    );
    assert_eq!([dangling_keys, unindexed_keys, dangling_hashes, unindexed_hashes, sessions_without_user], [0; 5]);
    drop(conn);

    let (store, pool) = open_pool(path, &RecordingDelivery::new());
    for (name, want) in expected {
        let user = pool.admin_get_user(name).unwrap_or_else(|e| panic!("acknowledged sign-up of {name} lost: {e}"));
        assert_eq!(user.sub, want.sub, "{name}");
        if want.confirmed {
            assert_eq!(user.status, UserStatus::Confirmed, "acknowledged confirmation of {name} lost");
        }
        if let Some((generation, token)) = &want.session {
            let family = store
                .family_by_hash(POOL, &sha256_hex(token))
                .unwrap()
                .unwrap_or_else(|| panic!("acknowledged session of {name} lost"));
            assert!(!family.value.revoked, "{name}");
            assert_eq!(family.value.sub, want.sub, "{name}");
            // The child may have rotated once more without getting to say so.
            assert!(
                family.value.generation == *generation || family.value.generation == generation + 1,
                "{name}: acknowledged generation {generation}, stored {}",
                family.value.generation
            );
            if family.value.generation == *generation {
                assert_eq!(family.value.current_hash, sha256_hex(token), "{name}");
            }
        }
    }
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_operation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite3");
    let mut seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("crash test seed {seed}");
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let started = Instant::now();
    let mut expected = BTreeMap::new();
    let mut acks = 0;
    for run in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .env(RUN_ENV, run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the first acknowledgement (the child has opened the pool), then let it
        // run a random while and kill it wherever it is.
        let mut lines = Vec::new();
        loop {
            let line = rx.recv_timeout(Duration::from_secs(30)).expect("the child acknowledges a first operation");
            let ack = line.starts_with("ack ");
            lines.push(line);
            if ack {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(random(250)));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        let before = acks;
        for line in &lines {
            if record(line, &mut expected) {
                acks += 1;
            }
        }
        assert!(acks > before, "run {run}: the child acknowledged something");
        check_database(&path, &expected);
    }
    eprintln!("{KILLS} kills, {acks} acknowledged operations, {} users, in {:?}", expected.len(), started.elapsed());
}
