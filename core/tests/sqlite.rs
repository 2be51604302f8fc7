//! `SqliteStore`: the conformance suite on a temp file, migrations, races between 32
//! threads, and faults (bad paths, read-only and foreign files, a lock held by another
//! process, a full disk).
#![cfg(feature = "sqlite")]

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use userpool::flow::state::{AuditEvent, UserRecord};
use userpool::store::conformance::{sample_family, sample_user};
use userpool::store::{GROUP_ATTRIBUTE, ListedFamily, StoreError, UserSearch, Write, search_term};
use userpool::{ErrorCode, ManualClock, PoolConfig, RecordingDelivery, SqliteOptions, SqliteStore, Store, UserPool};

mod common;

use common::{Interposed, PW, email};
/// Set in a child process of this test binary: hold a write lock on this file.
const LOCK_HOLDER_ENV: &str = "USERPOOL_TEST_HOLD_LOCK_ON";

/// A store on a file in a directory that is removed with it, which counts the walks through
/// the whole pool (`Store::users`).
type TempStore = Interposed<SqliteStore>;

/// A record version this library does not know.
const NEWER: u32 = userpool::flow::state::RECORD_VERSION + 1;
fn temp_store() -> TempStore {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("pool.sqlite3")).unwrap();
    Interposed::new(store).keeping(dir)
}

userpool::store_conformance_tests!(temp_store());

fn put_user(user: UserRecord, keys: &[&str], expect: Option<u64>) -> Write {
    Write::PutUser { user, keys: keys.iter().map(|k| (*k).to_owned()).collect(), expect }
}

/// [`file_with`] the sample users given as (sub, username).
fn file_with_users(users: &[(&str, &str)]) -> (TempDir, PathBuf, SqliteStore) {
    file_with(users.iter().map(|(sub, name)| sample_user(sub, name)))
}

/// A new file (in a directory removed with the returned `TempDir`) holding pool `p1`'s
/// `users`, each with its username key.
fn file_with(users: impl IntoIterator<Item = UserRecord>) -> (TempDir, PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let store = SqliteStore::open(&path).unwrap();
    for user in users {
        let key = format!("u:{}", user.username);
        store.commit("p1", vec![put_user(user, &[&key], None)]).unwrap();
    }
    (dir, path, store)
}

fn integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap()
}

// ── schema ──────────────────────────────────────────────────────────────────────────────

#[test]
fn data_survives_reopening_and_the_schema_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.path(), path);
    store.commit("p1", vec![put_user(sample_user("sub-a", "alice"), &["u:alice"], None)]).unwrap();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.user_by_key("p1", "u:alice").unwrap().unwrap().version, 1);
    let version = store.schema_version().unwrap();
    assert!(version >= 1);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let recorded: i64 = conn.query_row("SELECT COUNT(*) FROM userpool_schema", [], |r| r.get(0)).unwrap();
    assert_eq!(recorded, version, "every migration is recorded once");
}

#[test]
fn a_new_file_takes_the_page_size_asked_for_and_an_existing_one_keeps_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let page_size = |path: &Path| -> i64 {
        rusqlite::Connection::open(path).unwrap().query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap()
    };
    let store = SqliteStore::open_with(&path, SqliteOptions::default().page_size(16_384)).unwrap();
    store.commit("p1", vec![put_user(sample_user("sub-a", "alice"), &["u:alice"], None)]).unwrap();
    drop(store);
    assert_eq!(page_size(&path), 16_384);
    let store = SqliteStore::open_with(&path, SqliteOptions::default().page_size(65_536)).unwrap();
    assert_eq!(store.user_by_key("p1", "u:alice").unwrap().unwrap().version, 1);
    drop(store);
    assert_eq!(page_size(&path), 16_384, "a page size is fixed when the file is created");

    for wrong in [0, 256, 1000, 131_072] {
        let fresh = dir.path().join(format!("wrong-{wrong}.sqlite3"));
        let error = SqliteStore::open_with(&fresh, SqliteOptions::default().page_size(wrong)).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidParameter);
        assert!(error.message().contains(&wrong.to_string()), "{error}");
        assert!(!fresh.exists(), "a refused page size creates no file");
    }
}

/// Without a host key the file holds the signing keys in plain form: a new file, its WAL
/// and its shared memory are the owner's alone, whatever the umask. A file that exists
/// keeps the mode its owner gave it.
#[cfg(unix)]
#[test]
fn a_new_file_and_its_journal_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, path, store) = file_with_users(&[("sub-a", "alice")]);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    for file in ["pool.sqlite3", "pool.sqlite3-wal", "pool.sqlite3-shm"] {
        assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
    }
    drop(store);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.user_by_key("p1", "u:alice").unwrap().unwrap().version, 1);
    assert_eq!(mode(&path), 0o640);
    drop(store);
    // Through a link to a file not made yet, the file made is the owner's alone too.
    let link = dir.path().join("link.sqlite3");
    std::os::unix::fs::symlink("made-through-link.sqlite3", &link).unwrap();
    drop(SqliteStore::open(&link).unwrap());
    assert_eq!(mode(&dir.path().join("made-through-link.sqlite3")), 0o600);
    // Through a chain of links, one of them absolute, into another directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let last = elsewhere.path().join("last-link.sqlite3");
    std::os::unix::fs::symlink("made-through-two.sqlite3", &last).unwrap();
    let first = dir.path().join("first-link.sqlite3");
    std::os::unix::fs::symlink(&last, &first).unwrap();
    drop(SqliteStore::open(&first).unwrap());
    assert_eq!(mode(&elsewhere.path().join("made-through-two.sqlite3")), 0o600);
}

#[test]
fn a_database_from_a_newer_library_is_refused_untouched() {
    let (_dir, path, store) = file_with_users(&[("sub-a", "alice")]);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO userpool_schema (version, description, applied_ms) VALUES (99, 'from the future', 0)",
        [],
    )
    .unwrap();
    // Taken out of WAL mode, as copying the file with a tool may leave it.
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains("schema version 99") && err.message().contains("newer"), "{err}");
    assert!(err.message().contains(&path.display().to_string()), "{err}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let users: i64 = conn.query_row("SELECT COUNT(*) FROM userpool_users", [], |r| r.get(0)).unwrap();
    assert_eq!(users, 1, "nothing was dropped or rewritten");
    assert_eq!(journal_mode(&path), "delete", "not even switched to WAL");
}

/// The journal mode the file at `path` is in.
fn journal_mode(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap()
}

#[test]
fn a_file_a_newer_library_upgrades_while_it_is_open_takes_no_more_writes() {
    let (_dir, path, store) = file_with_users(&[("sub-a", "alice")]);
    // Another process, running a newer library, migrates the file.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO userpool_schema (version, description, applied_ms) VALUES (99, 'from the future', 0)",
        [],
    )
    .unwrap();
    let refused = store.commit("p1", vec![put_user(sample_user("sub-b", "bob"), &["u:bob"], None)]);
    let Err(StoreError::Backend(message)) = refused else { panic!("committed: {refused:?}") };
    assert!(message.contains("schema version 99") && message.contains(&path.display().to_string()), "{message}");
    assert!(store.user("p1", "sub-b").unwrap().is_none(), "nothing was written");
    assert!(store.user("p1", "sub-a").unwrap().is_some(), "reads go on");
}

/// A record whose version reached `i64::MAX` (only a hand-edited file gets there) takes no
/// more writes: saturating there would keep the version, and two writers that read it would
/// both pass the check that lets one of them through.
#[test]
fn a_record_at_the_largest_version_takes_no_more_writes() {
    let (_dir, path, store) = file_with_users(&[("sub-a", "alice")]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE userpool_users SET version = ?1 WHERE sub = 'sub-a'", [i64::MAX]).unwrap();
    let read = store.user("p1", "sub-a").unwrap().unwrap();
    assert_eq!(read.version, i64::MAX.unsigned_abs());
    let mut renamed = read.value.clone();
    renamed.username = "alicia".into();
    let refused = store.commit("p1", vec![put_user(renamed, &["u:alicia"], Some(read.version))]);
    let Err(StoreError::Backend(message)) = refused else { panic!("committed: {refused:?}") };
    assert!(message.contains("version is at its largest"), "{message}");
    assert_eq!(store.user("p1", "sub-a").unwrap().unwrap().value.username, "alice", "nothing was written");
}

/// The subs a search's index range holds, every page followed, nothing turned away by `keep`.
fn indexed(store: &SqliteStore, attribute: &'static str, value: &str, prefix: bool) -> Vec<String> {
    let as_it_is = matches!(attribute, "sub" | "status" | GROUP_ATTRIBUTE);
    let term = if as_it_is { value.to_owned() } else { search_term(value) };
    let search = UserSearch { attribute, term, prefix };
    let (mut found, mut after) = (Vec::new(), None);
    loop {
        let page = store.users_matching("p1", &search, after.as_deref(), 2, &|_| true).unwrap();
        found.extend(page.users.into_iter().map(|u| u.sub));
        match page.next {
            Some(next) => after = Some(next),
            None => return found,
        }
    }
}

#[test]
fn a_search_reads_exactly_the_users_whose_terms_match() {
    let temp = temp_store();
    let store = &temp.store;
    let long = format!("{}@example.com", "x".repeat(200));
    let emails = [
        ("s1", "Al@example.com"),
        ("s2", "al@example.com.au"),
        ("s3", "al\u{10FFFF}\u{10FFFF}@example.com"),
        ("s4", "ak@example.com"),
        ("s5", "am@example.com"),
        ("s6", long.as_str()),
        ("s7", "ΣΟΦΟΣ@example.com"),
    ];
    for (sub, email) in emails {
        let mut user = sample_user(sub, &format!("user-{sub}"));
        user.attributes.insert("email".into(), email.into());
        if sub < "s4" {
            user.groups.extend(["Readers".to_owned(), format!("group-{sub}")]);
        }
        store.commit("p1", vec![put_user(user, &[], None)]).unwrap();
    }
    // Ordered by term, then by row: "al@…" < "al@….au" < "al\u{10FFFF}…".
    assert_eq!(indexed(store, "email", "AL", true), ["s1", "s2", "s3"]);
    assert_eq!(indexed(store, "email", "al@example.com", false), ["s1"]);
    assert_eq!(indexed(store, "email", "al@example.com", true), ["s1", "s2"]);
    assert_eq!(indexed(store, "email", "", true).len(), 7);
    assert_eq!(indexed(store, "email", "b", true), Vec::<String>::new());
    // A value past the longest term is indexed by how it starts.
    assert_eq!(indexed(store, "email", &long[..150], true), ["s6"]);
    // A final sigma, a sigma and a capital sigma are one letter to a search.
    assert_eq!(indexed(store, "email", "σοφος@", true), ["s7"]);
    assert_eq!(indexed(store, "username", "USER-S", true).len(), 7);
    assert_eq!(indexed(store, "status", "Enabled", false).len(), 7);
    assert_eq!(indexed(store, "status", "enabled", false), Vec::<String>::new(), "the word as it is");
    assert_eq!(indexed(store, "cognito:user_status", "conf", true).len(), 7);
    assert_eq!(indexed(store, "cognito:user_status", "unconfirmed", false), Vec::<String>::new());
    // Groups: the name as it is, whole.
    assert_eq!(indexed(store, GROUP_ATTRIBUTE, "Readers", false), ["s1", "s2", "s3"]);
    assert_eq!(indexed(store, GROUP_ATTRIBUTE, "readers", false), Vec::<String>::new());
    assert_eq!(indexed(store, GROUP_ATTRIBUTE, "group-s2", false), ["s2"]);
    assert_eq!(indexed(store, GROUP_ATTRIBUTE, "group-s", false), Vec::<String>::new());
    // `sub`: a range of the users table itself, byte for byte.
    assert_eq!(indexed(store, "sub", "s", true).len(), 7);
    assert_eq!(indexed(store, "sub", "s3", false), ["s3"]);
    assert_eq!(indexed(store, "sub", "S3", false), Vec::<String>::new());
    assert_eq!(indexed(store, "sub", "s7x", true), Vec::<String>::new());
    let page = store.users_matching(
        "p1",
        &UserSearch { attribute: "email", term: "al".into(), prefix: true },
        Some("not a cursor"),
        2,
        &|_| true,
    );
    assert_eq!(page.unwrap_err(), StoreError::InvalidCursor);
}

#[test]
fn an_older_file_gets_its_search_terms_when_opened() {
    let (_dir, path, store) = file_with_users(&[("s1", "alice"), ("s2", "bob")]);
    drop(store);
    let store = reopened_from_version(&path, 1);
    assert_eq!(indexed(&store, "email", "alice@", true), ["s1"]);
    assert_eq!(indexed(&store, "username", "bob", false), ["s2"]);
    assert_eq!(indexed(&store, "cognito:user_status", "CONFIRMED", false), ["s1", "s2"]);
    assert_eq!(indexed(&store, "status", "Enabled", false), ["s1", "s2"]);
}

#[test]
fn an_older_file_gets_its_status_terms_when_opened() {
    let mut disabled = sample_user("s2", "bob");
    disabled.enabled = false;
    disabled.status = userpool::UserStatus::Unconfirmed;
    let (_dir, path, store) = file_with([sample_user("s1", "alice"), disabled]);
    drop(store);
    let store = reopened_from_version(&path, 3);
    assert_eq!(indexed(&store, "status", "Disabled", false), ["s2"]);
    assert_eq!(indexed(&store, "cognito:user_status", "unconfirmed", false), ["s2"]);
    assert_eq!(indexed(&store, "email", "alice@", true), ["s1"], "the other terms were left as they were");
}

#[test]
fn an_older_file_gets_its_group_terms_when_opened() {
    let mut reader = sample_user("s1", "alice");
    reader.groups.extend(["readers".to_owned(), "writers".to_owned()]);
    let (_dir, path, store) = file_with([reader, sample_user("s2", "bob")]);
    drop(store);
    let store = reopened_from_version(&path, 4);
    assert_eq!(indexed(&store, GROUP_ATTRIBUTE, "readers", false), ["s1"]);
    assert_eq!(indexed(&store, GROUP_ATTRIBUTE, "writers", false), ["s1"]);
    assert_eq!(indexed(&store, "status", "Enabled", false), ["s1", "s2"], "the other terms were left as they were");
}

#[test]
fn an_older_file_gets_the_expiry_of_its_sessions_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let store = SqliteStore::open(&path).unwrap();
    for (id, expires) in [("f1", 100), ("f2", 200)] {
        let mut family = sample_family(id, "sub-a", &format!("h-{id}"));
        family.expires_ms = expires;
        store
            .commit("p1", vec![Write::PutFamily { family, new_hashes: vec![format!("h-{id}")], expect: None }])
            .unwrap();
    }
    drop(store);
    let store = reopened_from_version(&path, 2);
    let purge = Write::PurgeExpired { records_until_ms: i64::MIN, families_until_ms: 150, limit: 10 };
    store.commit("p1", vec![purge]).unwrap();
    assert!(store.family("p1", "f1").unwrap().is_none(), "f1's expiry was read from its record");
    assert!(store.family_by_hash("p1", "h-f1").unwrap().is_none());
    assert!(store.family("p1", "f2").unwrap().is_some());
}

/// Opens the file at `path` as an older library left it (schema `version`, see
/// [`back_to_version`]): the store migrates it to the newest version.
fn reopened_from_version(path: &Path, version: i64) -> SqliteStore {
    back_to_version(path, version);
    let store = SqliteStore::open(path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 6);
    store
}

/// Turns a file into what an older library wrote: schema `version` and nothing after it.
fn back_to_version(path: &Path, version: i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    if version < 6 {
        // Version 6 changed no table: the engine converts the groups record (see `pool.rs`).
        conn.execute("DELETE FROM userpool_schema WHERE version = 6", []).unwrap();
    }
    if version < 5 {
        conn.execute_batch(&format!(
            "DELETE FROM userpool_user_search WHERE attr = '{GROUP_ATTRIBUTE}';
             DELETE FROM userpool_schema WHERE version = 5;"
        ))
        .unwrap();
    }
    if version < 4 {
        conn.execute_batch(
            "DELETE FROM userpool_user_search WHERE attr IN ('status', 'cognito:user_status');
             DELETE FROM userpool_schema WHERE version = 4;",
        )
        .unwrap();
    }
    if version < 3 {
        conn.execute_batch(
            "DROP INDEX userpool_secrets_by_expiry; DROP INDEX userpool_families_by_expiry;
             ALTER TABLE userpool_secrets DROP COLUMN expires_ms; ALTER TABLE userpool_families DROP COLUMN expires_ms;
             DELETE FROM userpool_schema WHERE version = 3;",
        )
        .unwrap();
    }
    if version < 2 {
        conn.execute_batch("DROP TABLE userpool_user_search; DELETE FROM userpool_schema WHERE version = 2;").unwrap();
    }
}

/// Makes a stored record of `sub` one this library cannot decode, as a newer library or a
/// hand edit could leave it: still JSON, with a status this library does not know.
fn spoil_record(path: &Path, sub: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let spoiled = conn
        .execute("UPDATE userpool_users SET record = json_set(record, '$.status', 'ARCHIVED') WHERE sub = ?1", [sub])
        .unwrap();
    assert_eq!(spoiled, 1);
}

/// A deleted user's record and keys are zeroed in the file's pages, not left in their free
/// space: a stolen copy of the file does not hold them (once the journal is checkpointed, as
/// it is in time; SQLite's `secure_delete = FAST`).
#[test]
fn a_deleted_user_leaves_nothing_in_the_file() {
    let marker = "Wilhelmina-Marker-7f3a";
    let mut users: Vec<UserRecord> = (0..20).map(|i| sample_user(&format!("s{i}"), &format!("user{i}"))).collect();
    users[7].attributes.insert("name".into(), marker.into());
    users[7].username = marker.to_lowercase();
    let (_dir, path, store) = file_with(users);
    let holds = |path: &Path| {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
        drop(conn);
        let bytes = std::fs::read(path).unwrap();
        [marker.as_bytes(), marker.to_lowercase().as_bytes()].iter().any(|m| bytes.windows(m.len()).any(|w| w == *m))
    };
    assert!(holds(&path), "the control: the file holds the user before the deletion");
    store.commit("p1", vec![Write::DeleteUser { sub: "s7".into(), expect: 1 }]).unwrap();
    assert!(!holds(&path), "the deleted user's record or keys are still in the file");
    assert_eq!(integrity(&path), "ok");
}

#[test]
fn a_record_that_no_longer_decodes_can_still_be_deleted() {
    let (_dir, path, store) = file_with_users(&[("s1", "alice")]);
    spoil_record(&path, "s1");
    assert!(matches!(store.user("p1", "s1"), Err(StoreError::Unreadable(_))));
    assert!(matches!(store.user_by_key("p1", "u:alice"), Err(StoreError::Unreadable(_))));
    // What a deletion needs is read without decoding the record.
    assert_eq!(store.user_version("p1", "s1").unwrap(), Some(1));
    let found = store.user_sub_by_key("p1", "u:alice").unwrap().unwrap();
    assert_eq!((found.version, found.value.as_str()), (1, "s1"));
    store.commit("p1", vec![Write::DeleteUser { sub: "s1".into(), expect: 1 }]).unwrap();
    assert!(store.user("p1", "s1").unwrap().is_none());
    assert!(store.user_by_key("p1", "u:alice").unwrap().is_none());
    // The next user takes the deleted row's id: none of alice's terms may point at it.
    store.commit("p1", vec![put_user(sample_user("s2", "amy"), &["u:amy"], None)]).unwrap();
    assert_eq!(indexed(&store, "username", "alice", false), Vec::<String>::new());
    assert_eq!(indexed(&store, "username", "a", true), ["s2"], "amy once, alice's terms gone");
    assert_eq!(indexed(&store, "email", "a", true), ["s2"]);
}

#[test]
fn an_import_that_meets_a_record_it_cannot_read_skips_that_row_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let open = || UserPool::builder(PoolConfig::default()).sqlite(&path, SqliteOptions::default()).open().unwrap();
    let pool = open();
    let alice = pool.admin_create_user("alice", email("alice"), None, false).unwrap();
    drop(pool);
    spoil_record(&path, &alice.user.sub);
    let user = |name: &str| userpool::ImportUser { username: name.into(), ..Default::default() };
    let outcomes = open().admin_import_users(vec![user("alice"), user("carol")]).unwrap();
    assert_eq!(outcomes[0].as_ref().unwrap_err().code(), ErrorCode::UsernameExists);
    assert!(outcomes[1].is_ok(), "{:?}", outcomes[1]);
}

#[test]
fn a_failure_count_at_its_limit_keeps_the_user_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let pool = UserPool::builder(PoolConfig::default())
        .sqlite(&path, SqliteOptions::default())
        .clock(Arc::new(ManualClock::new(1_700_000_000_000)))
        .open()
        .unwrap();
    let alice = pool.admin_create_user("alice", email("alice"), None, false).unwrap();
    pool.admin_set_user_password("alice", PW, true).unwrap();
    // A damaged (or hostile) file: the count at u32::MAX, its last failure just now (so the
    // quiet period does not reset it first), no lockout running.
    let lockout = r#"{"failures": 4294967295, "last_failure_ms": 1700000000000, "locked_until_ms": 1}"#;
    let conn = rusqlite::Connection::open(&path).unwrap();
    let sql = "UPDATE userpool_users SET record = json_set(record, '$.lockout', json(?1)) WHERE sub = ?2";
    assert_eq!(conn.execute(sql, [lockout, alice.user.sub.as_str()]).unwrap(), 1);
    let err = pool.sign_in("alice", "wrong password 123").unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotAuthorized);
    let err = pool.sign_in("alice", PW).unwrap_err();
    assert!(err.message().contains("attempts exceeded"), "still locked: {err}");
}

/// Should a user's `keys` column ever list another user's key (a hand edit, a newer
/// library's bug), replacing or deleting that user releases none of the other's: the name
/// would otherwise be free for anyone to take.
#[test]
fn a_user_releases_only_its_own_keys() {
    let (_dir, path, store) = file_with_users(&[("s1", "alice"), ("s2", "bob")]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let drift = "UPDATE userpool_users SET keys = json('[\"u:alice\", \"u:bob\"]') WHERE sub = 's1'";
    let bob = || store.user_by_key("p1", "u:bob").unwrap().map(|found| found.value.sub);
    conn.execute(drift, []).unwrap();
    store.commit("p1", vec![put_user(sample_user("s1", "alice"), &["u:alice"], Some(1))]).unwrap();
    assert_eq!(bob().as_deref(), Some("s2"));
    conn.execute(drift, []).unwrap();
    store.commit("p1", vec![Write::DeleteUser { sub: "s1".into(), expect: 2 }]).unwrap();
    assert_eq!(bob().as_deref(), Some("s2"));
    assert_eq!(store.user_by_key("p1", "u:alice").unwrap(), None);
}

/// A key row the keys table lost while the user's `keys` column still lists it (a hand edit,
/// an older library's release) comes back with the user's next write, rather than leaving the
/// name free for another user.
#[test]
fn a_users_next_write_puts_back_a_key_row_the_table_lost() {
    let (_dir, path, store) = file_with_users(&[("s1", "alice")]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DELETE FROM userpool_user_keys WHERE key = 'u:alice'", []).unwrap();
    assert_eq!(store.user_by_key("p1", "u:alice").unwrap(), None);
    store.commit("p1", vec![put_user(sample_user("s1", "alice"), &["u:alice"], Some(1))]).unwrap();
    assert_eq!(store.user_by_key("p1", "u:alice").unwrap().map(|found| found.value.sub).as_deref(), Some("s1"));
    let taken = store.commit("p1", vec![put_user(sample_user("s2", "alice"), &["u:alice"], None)]);
    assert_eq!(taken, Err(StoreError::Taken("u:alice".into())));
}

#[test]
fn deleting_a_newer_librarys_user_removes_the_terms_only_it_knows() {
    let (_dir, path, store) = file_with_users(&[("s1", "alice")]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    // A newer library indexed a term this one has never heard of; the record still decodes.
    conn.execute_batch(&format!(
        "INSERT INTO userpool_user_search (pool, attr, term, user_id) VALUES ('p1', 'nickname', 'ally', 1);
         UPDATE userpool_users SET record = json_set(record, '$.record_version', {NEWER});"
    ))
    .unwrap();
    store.commit("p1", vec![Write::DeleteUser { sub: "s1".into(), expect: 1 }]).unwrap();
    let left: i64 = conn.query_row("SELECT count(*) FROM userpool_user_search", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 0, "terms left pointing at a row id the next user may get");
}

#[test]
fn a_record_that_no_longer_decodes_can_be_replaced_and_its_terms_are_redone() {
    let (_dir, path, store) = file_with_users(&[("s1", "alice")]);
    spoil_record(&path, "s1");
    let mut repaired = sample_user("s1", "alice");
    repaired.attributes.insert("email".into(), "ally@example.com".into());
    store.commit("p1", vec![put_user(repaired, &["u:alice"], Some(1))]).unwrap();
    assert_eq!(indexed(&store, "email", "alice@", true), Vec::<String>::new(), "the old email's term is gone");
    assert_eq!(indexed(&store, "email", "ally@", true), ["s1"]);
    assert_eq!(indexed(&store, "username", "alice", false), ["s1"]);
}

#[test]
fn a_listing_that_meets_a_record_it_cannot_decode_names_the_user_not_the_record() {
    let (_dir, path, store) = file_with_users(&[("s1", "alice"), ("s2", "bob")]);
    spoil_record(&path, "s2");
    let listed = [
        store.users("p1", None, 10, &|_| true),
        store.users_matching(
            "p1",
            &UserSearch { attribute: "email", term: search_term("b"), prefix: true },
            None,
            10,
            &|_| true,
        ),
    ];
    for (outcome, row) in listed.into_iter().zip(["user s2", "user row 2"]) {
        let Err(StoreError::Unreadable(message)) = outcome else { panic!("listed: {outcome:?}") };
        assert!(message.contains("pool.sqlite3") && message.contains(row), "{message}");
        assert!(!message.contains("bob") && !message.contains("argon2"), "the record shows: {message}");
    }
}

#[test]
fn records_written_by_a_newer_library_are_refused_not_misread() {
    let (_dir, path, store) = file_with_users(&[("s1", "alice")]);
    let family = sample_family("f1", "s1", "h-f1");
    store.commit("p1", vec![Write::PutFamily { family, new_hashes: vec!["h-f1".into()], expect: None }]).unwrap();
    // A newer library's records: a version this one does not know, and a field it would drop.
    let conn = rusqlite::Connection::open(&path).unwrap();
    for table in ["userpool_users", "userpool_families"] {
        conn.execute(
            &format!(
                "UPDATE {table} SET record = json_set(record, '$.record_version', {NEWER}, '$.passkeys', json('[]'))"
            ),
            [],
        )
        .unwrap();
    }
    let refusals = [
        store.user("p1", "s1").map(|_| ()),
        store.user_by_key("p1", "u:alice").map(|_| ()),
        store.users("p1", None, 10, &|_| true).map(|_| ()),
        store.family("p1", "f1").map(|_| ()),
        store.family_by_hash("p1", "h-f1").map(|_| ()),
        // Nor is it revoked as if it were understood: that would drop what the newer one
        // added, or answer a sign-out done that left the session live.
        store.commit("p1", vec![Write::RevokeFamily { id: "f1".into(), at_ms: 5 }]),
    ];
    for refused in refusals {
        let Err(StoreError::Unreadable(message)) = refused else { panic!("read: {refused:?}") };
        assert!(message.contains(&format!("newer userpool (record version {NEWER}")), "{message}");
    }
    // What the newer library added may be what keeps the record from decoding here.
    conn.execute("UPDATE userpool_users SET record = json_set(record, '$.status', 'ARCHIVED')", []).unwrap();
    for refused in [store.user("p1", "s1").map(|_| ()), store.users("p1", None, 10, &|_| true).map(|_| ())] {
        let Err(StoreError::Unreadable(message)) = refused else { panic!("read: {refused:?}") };
        assert!(message.contains(&format!("newer userpool (record version {NEWER}")), "{message}");
    }
}

/// The size cap holds while an older file is migrated too: the search terms a migration adds
/// for every user fail as a full disk does, and are rolled back, rather than grow the file
/// past the cap before it is set.
#[test]
fn a_migration_stays_within_the_size_cap() {
    let users = (0..2000).map(|n| sample_user(&format!("sub-{n:05}"), &format!("user{n:05}")));
    let (_dir, path, store) = file_with(users);
    drop(store);
    back_to_version(&path, 1);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;").unwrap();
    drop(conn);
    let size = std::fs::metadata(&path).unwrap().len();
    let capped = SqliteOptions::default().max_size_bytes(Some(size + 4096));
    let refused = SqliteStore::open_with(&path, capped).unwrap_err();
    assert!(refused.message().contains(&path.display().to_string()), "{refused}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn.query_row("SELECT MAX(version) FROM userpool_schema", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 1, "the migration was rolled back");
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(indexed(&store, "email", "user01999@", true), ["sub-01999"], "without the cap it migrates");
}

#[test]
fn a_record_that_is_not_even_text_is_named_by_listings_and_skipped_by_migrations() {
    let (_dir, path, store) = file_with_users(&[("s1", "alice"), ("s2", "bob"), ("s3", "carol")]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE userpool_users SET record = X'FF00FF' WHERE sub = 's2'", []).unwrap();
    let listed = store.users("p1", None, 10, &|_| true);
    let Err(StoreError::Unreadable(message)) = listed else { panic!("listed: {listed:?}") };
    assert!(message.contains("not UTF-8 text") && message.contains("user s2"), "{message}");
    drop(store);
    let store = reopened_from_version(&path, 1);
    assert_eq!(indexed(&store, "email", "carol@", true), ["s3"], "the users after it are indexed");
}

#[test]
fn an_older_file_with_a_record_it_cannot_decode_still_opens() {
    let (_dir, path, store) = file_with_users(&[("s1", "alice"), ("s2", "bob"), ("s3", "carol")]);
    drop(store);
    spoil_record(&path, "s2");
    let store = reopened_from_version(&path, 1);
    assert_eq!(indexed(&store, "email", "alice@", true), ["s1"]);
    assert_eq!(indexed(&store, "email", "carol@", true), ["s3"], "the users after it are indexed");
    assert_eq!(indexed(&store, "email", "bob@", true), Vec::<String>::new());
}

/// A pool on a new file (in a directory removed with the returned `TempDir`), and its store.
fn pool_on_a_file() -> (TempDir, PathBuf, Arc<SqliteStore>, UserPool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let pool = UserPool::builder(pool_config("")).store(Arc::clone(&store) as Arc<dyn Store>).open().unwrap();
    (dir, path, store, pool)
}

/// A group whose definition is deleted is gone, whatever its members' sweep meets: here a
/// member's record that cannot be read fails the sweep's page. The delete answers success (a
/// retry would answer "not found"), and the memberships left behind grant nothing.
#[test]
fn a_group_deleted_is_gone_though_a_member_cannot_be_swept() {
    let (_dir, path, _store, pool) = pool_on_a_file();
    pool.create_group("g", None, None).unwrap();
    let mut subs = Vec::new();
    for name in ["alice", "bob"] {
        subs.push(pool.admin_create_user(name, email(name), None, false).unwrap().user.sub);
        pool.admin_add_user_to_group(name, "g").unwrap();
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE userpool_users SET record = X'FF00FF' WHERE sub = ?1", [&subs[1]]).unwrap();
    pool.delete_group("g").unwrap();
    assert_eq!(pool.delete_group("g").unwrap_err().code(), ErrorCode::ResourceNotFound);
    assert!(pool.admin_list_groups_for_user("alice").unwrap().is_empty(), "the left membership grants nothing");
    pool.create_group("g", None, None).unwrap();
    // A listing fails on a record it cannot read (documented): the administrator deletes bob.
    pool.admin_delete_user(&subs[1]).unwrap();
    assert!(pool.list_users_in_group("g", None, None).unwrap().users.is_empty(), "alice is not in the new group");
}

#[test]
fn an_administrator_deletes_a_user_whose_record_cannot_be_read() {
    let (_dir, path, store, pool) = pool_on_a_file();
    let mut subs = Vec::new();
    for name in ["alice", "bob", "carol", "dave"] {
        subs.push(pool.admin_create_user(name, email(name), None, false).unwrap().user.sub);
    }
    // alice's record is damaged, bob's was written by a newer library, dave's is not text.
    spoil_record(&path, &subs[0]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE userpool_users SET record = json_set(record, '$.record_version', 99) WHERE sub = ?1",
        [&subs[1]],
    )
    .unwrap();
    conn.execute("UPDATE userpool_users SET record = X'FF00FF' WHERE sub = ?1", [&subs[3]]).unwrap();
    for name in ["alice", "bob", "dave"] {
        let refused = pool.admin_get_user(name).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InternalError, "{refused}");
    }
    let not_text = store.user("local_sqlite", &subs[3]);
    assert!(matches!(&not_text, Err(StoreError::Unreadable(m)) if m.contains("not UTF-8 text")), "{not_text:?}");

    pool.admin_delete_user("alice").unwrap();
    pool.admin_delete_user(&subs[1]).unwrap(); // by sub
    pool.admin_delete_user("dave").unwrap();
    for (name, sub) in [("alice", &subs[0]), ("bob", &subs[1]), ("dave", &subs[3])] {
        assert_eq!(pool.admin_get_user(name).unwrap_err().code(), ErrorCode::UserNotFound);
        assert!(store.user_version("local_sqlite", sub).unwrap().is_none());
        assert_eq!(pool.admin_delete_user(name).unwrap_err().code(), ErrorCode::UserNotFound);
    }
    assert_eq!(pool.admin_get_user("carol").unwrap().username, "carol");
    // The names are free again.
    pool.admin_create_user("alice", email("alice"), None, false).unwrap();
    assert_eq!(integrity(&path), "ok");
}

/// A session whose record cannot be read (damaged, or written by a newer library during a
/// rolling upgrade) does not stop the user's sessions from ending, nor the user from signing
/// in: ending them deletes it with the rest.
#[test]
fn a_session_that_cannot_be_read_is_ended_with_the_others() {
    let (_dir, path, store, pool) = pool_on_a_file();
    let sub = pool.admin_create_user("alice", email("alice"), None, false).unwrap().user.sub;
    pool.admin_set_user_password("alice", PW, true).unwrap();
    let kept = pool.sign_in("alice", PW).unwrap().tokens.unwrap();
    let spoiled = pool.sign_in("alice", PW).unwrap().tokens.unwrap();
    let spoiled_id = |store: &SqliteStore| {
        store.families_of("local_sqlite", &sub).unwrap().into_iter().find_map(|f| match f {
            ListedFamily::Unreadable { id, .. } => Some(id),
            _ => None,
        })
    };
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE userpool_families SET record = json_set(record, '$.record_version', ?1)
         WHERE family = (SELECT family FROM userpool_families WHERE sub = ?2 ORDER BY family LIMIT 1)",
        rusqlite::params![NEWER, &sub],
    )
    .unwrap();
    let id = spoiled_id(&store).expect("one session reads as unreadable");
    // A revocation of it alone meets the record it cannot read, and says which file holds it.
    let refused = store.commit("local_sqlite", vec![Write::RevokeFamily { id: id.clone(), at_ms: 1 }]);
    let Err(StoreError::Unreadable(message)) = refused else { panic!("revoked: {refused:?}") };
    assert!(message.contains(&path.display().to_string()) && message.contains(&id), "{message}");

    let third = pool.sign_in("alice", PW).unwrap().tokens.unwrap();
    pool.admin_user_global_sign_out("alice").unwrap();
    assert_eq!(spoiled_id(&store), None, "the unreadable session {id} is gone");
    assert!(store.family("local_sqlite", &id).unwrap().is_none());
    for tokens in [&kept, &spoiled, &third] {
        assert_eq!(pool.refresh(&tokens.refresh_token).unwrap_err().code(), ErrorCode::NotAuthorized);
    }
    conn.execute("UPDATE userpool_families SET record = X'FF00FF' WHERE sub = ?1", [&sub]).unwrap();
    pool.admin_disable_user("alice").unwrap();
    assert!(store.families_of("local_sqlite", &sub).unwrap().is_empty());
    assert_eq!(integrity(&path), "ok");
}

/// A session that a newer library rewrites between a sign-out everywhere's listing and its
/// commit is deleted on the rerun: the revocation meets a record it cannot read, which is no
/// reason to fail the sign-out.
#[test]
fn a_session_rewritten_by_a_newer_library_during_a_sign_out_everywhere_is_deleted() {
    let store = Arc::new(temp_store());
    let pool = UserPool::builder(pool_config("")).store(Arc::clone(&store) as Arc<dyn Store>).open().unwrap();
    let sub = pool.admin_create_user("alice", email("alice"), None, false).unwrap().user.sub;
    pool.admin_set_user_password("alice", PW, true).unwrap();
    let session = pool.sign_in("alice", PW).unwrap().tokens.unwrap();
    let path = store.store.path().to_owned();
    *store.after_sessions_read.lock().unwrap() = Some(Box::new(move || {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE userpool_families SET record = json_set(record, '$.record_version', ?1)", [NEWER])
            .unwrap();
    }));
    pool.admin_user_global_sign_out("alice").unwrap();
    assert!(store.after_sessions_read.lock().unwrap().is_none(), "the hook ran");
    assert!(store.families_of("local_sqlite", &sub).unwrap().is_empty());
    assert_eq!(pool.refresh(&session.refresh_token).unwrap_err().code(), ErrorCode::NotAuthorized);
}

#[test]
fn list_users_finds_filtered_users_through_the_index_page_by_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("pool.sqlite3")).unwrap());
    let config = PoolConfig::from_toml(
        "pool_id = 'p1'\n[password_hashing]\nmemory_kib = 256\niterations = 1\ndangerous_allow_weak = true\n",
    )
    .unwrap();
    let pool = UserPool::builder(config).store(Arc::clone(&store) as Arc<dyn Store>).open().unwrap();
    for name in ["alice", "Alicia", "albert", "bob"] {
        pool.admin_create_user(name, email(name), None, false).unwrap();
    }
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let page = pool.list_users(Some(r#"username ^= "ALI""#), Some(1), token.as_deref()).unwrap();
        found.extend(page.users.into_iter().map(|u| u.username));
        match page.pagination_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(found, ["alice", "Alicia"]);
    let err = pool.list_users(Some(r#"email ^= "a""#), None, Some("bogus")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert_eq!(err.message(), "invalid pagination token");
}

/// A row of one pool's key or search index never reads another pool's user, even if it
/// names that user's row id (row ids are reused once the highest is deleted).
#[test]
fn an_index_row_never_reads_another_pools_user() {
    let (_dir, path, store) = file_with_users(&[("s1", "alice")]);
    let family = sample_family("f1", "s1", "h-f1");
    store.commit("p1", vec![Write::PutFamily { family, new_hashes: vec!["h-f1".into()], expect: None }]).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "INSERT INTO userpool_user_keys (pool, key, user_id) SELECT 'p2', 'u:stray', id FROM userpool_users;
         INSERT INTO userpool_user_search (pool, attr, term, user_id)
            SELECT 'p2', 'username', 'alice', id FROM userpool_users;
         INSERT INTO userpool_refresh_hashes (pool, hash, family_id) SELECT 'p2', 'h-stray', id FROM userpool_families;",
    )
    .unwrap();
    assert!(store.family_by_hash("p2", "h-stray").unwrap().is_none());
    assert!(store.family_by_hash("p1", "h-f1").unwrap().is_some());
    assert!(store.user_by_key("p2", "u:stray").unwrap().is_none());
    assert!(store.user_sub_by_key("p2", "u:stray").unwrap().is_none());
    let search = UserSearch { attribute: "username", term: search_term("alice"), prefix: false };
    let page = store.users_matching("p2", &search, None, 10, &|_| true).unwrap();
    assert!(page.users.is_empty(), "p2's search finds nobody");
    assert!(store.user_by_key("p1", "u:alice").unwrap().is_some());
}

#[test]
fn pools_can_share_the_apps_own_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('x');",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    store.commit("p1", vec![put_user(sample_user("sub-a", "alice"), &["u:alice"], None)]).unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let name: String = conn.query_row("SELECT name FROM users", [], |r| r.get(0)).unwrap();
    assert_eq!(name, "x", "the app's own tables are left alone");
}

// ── races ───────────────────────────────────────────────────────────────────────────────

const THREADS: usize = 32;
const ROUNDS: usize = 1000;

/// 32 threads × 1000 rounds, all committing against the version they read in the round:
/// even rounds redeem a "code" (a user write, as confirmation, reset and TOTP steps are),
/// odd rounds rotate a refresh token (a family write indexing a new hash). Exactly one
/// commit wins every round.
#[test]
fn thirty_two_threads_racing_on_one_version_have_one_winner_every_round() {
    let store = Arc::new(temp_store());
    store.commit("p1", vec![put_user(sample_user("sub-a", "alice"), &["u:alice"], None)]).unwrap();
    let family = sample_family("fam-1", "sub-a", "hash-0");
    store.commit("p1", vec![Write::PutFamily { family, new_hashes: vec!["hash-0".into()], expect: None }]).unwrap();
    let wins: Arc<Vec<AtomicUsize>> = Arc::new((0..ROUNDS).map(|_| AtomicUsize::new(0)).collect());
    let barrier = Arc::new(Barrier::new(THREADS));
    let started = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, wins, barrier) = (Arc::clone(&store), Arc::clone(&wins), Arc::clone(&barrier));
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    // Everyone reads the state of the round before anyone writes.
                    let user = store.user("p1", "sub-a").unwrap().unwrap();
                    let family = store.family("p1", "fam-1").unwrap().unwrap();
                    barrier.wait();
                    let write = if round % 2 == 0 {
                        let mut next = user.value;
                        next.updated_ms = i64::try_from(round * THREADS + t).unwrap();
                        next.sign_up_code = None;
                        put_user(next, &["u:alice"], Some(user.version))
                    } else {
                        let mut next = family.value;
                        let hash = format!("hash-{round}-{t}");
                        next.previous_hash = Some(std::mem::replace(&mut next.current_hash, hash.clone()));
                        next.generation += 1;
                        Write::PutFamily { family: next, new_hashes: vec![hash], expect: Some(family.version) }
                    };
                    match store.commit("p1", vec![write]) {
                        Ok(()) => {
                            wins[round].fetch_add(1, Ordering::SeqCst);
                        }
                        Err(StoreError::Conflict) => {}
                        Err(e) => panic!("round {round}: {e}"),
                    }
                    barrier.wait();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for (round, won) in wins.iter().enumerate() {
        assert_eq!(won.load(Ordering::SeqCst), 1, "round {round}");
    }
    let user = store.user("p1", "sub-a").unwrap().unwrap();
    let family = store.family("p1", "fam-1").unwrap().unwrap();
    assert_eq!(user.version, 1 + ROUNDS as u64 / 2);
    assert_eq!(family.version, 1 + ROUNDS as u64 / 2);
    assert_eq!(family.value.generation, ROUNDS as u32 / 2);
    // Only the winners' hashes were indexed.
    let indexed = (1..ROUNDS)
        .step_by(2)
        .flat_map(|round| (0..THREADS).map(move |t| format!("hash-{round}-{t}")))
        .filter(|h| store.family_by_hash("p1", h).unwrap().is_some())
        .count();
    assert_eq!(indexed, ROUNDS / 2);
    eprintln!("{THREADS} threads × {ROUNDS} rounds in {:?}", started.elapsed());
}

/// Commits that arrive together share a transaction (group commit); each still stands
/// alone: in every round, 32 threads create a user each, the even ones also claiming one
/// shared key. Exactly one claimant gets it, every other claimant fails with `Taken` and
/// leaves nothing behind, and every thread that claims nothing shared succeeds.
#[test]
fn grouped_commits_succeed_and_fail_one_by_one() {
    let store = Arc::new(temp_store());
    for round in 0..50 {
        let pool = format!("p{round}");
        let barrier = Arc::new(Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (store, barrier, pool) = (Arc::clone(&store), Arc::clone(&barrier), pool.clone());
                std::thread::spawn(move || {
                    let own = format!("u:user{t}");
                    let keys: Vec<&str> = if t % 2 == 0 { vec![&own, "u:shared"] } else { vec![&own] };
                    let write = put_user(sample_user(&format!("sub-{t}"), &format!("user{t}")), &keys, None);
                    barrier.wait();
                    (t, store.commit(&pool, vec![write, Write::AppendEvent(event(&format!("sub-{t}")))]))
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let winners: Vec<usize> = results.iter().filter(|(t, r)| t % 2 == 0 && r.is_ok()).map(|(t, _)| *t).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        for (t, result) in &results {
            let sub = format!("sub-{t}");
            if t % 2 == 1 || winners.contains(t) {
                assert_eq!(result, &Ok(()), "round {round}, thread {t}");
                assert!(store.user(&pool, &sub).unwrap().is_some());
                assert_eq!(store.events(&pool, &sub, 10).unwrap().len(), 1);
            } else {
                assert_eq!(result, &Err(StoreError::Taken("u:shared".into())), "round {round}, thread {t}");
                assert!(store.user(&pool, &sub).unwrap().is_none(), "a failed commit left its user");
                assert!(store.user_by_key(&pool, &format!("u:user{t}")).unwrap().is_none(), "… or its key");
                assert!(store.events(&pool, &sub, 10).unwrap().is_empty(), "… or its event");
            }
        }
        assert_eq!(store.user_by_key(&pool, "u:shared").unwrap().unwrap().value.sub, format!("sub-{}", winners[0]));
    }
}

fn event(sub: &str) -> AuditEvent {
    AuditEvent {
        sub: sub.to_owned(),
        kind: userpool::EventKind::SignIn,
        success: true,
        at_ms: 1,
        detail: String::new(),
    }
}

fn pool_config(extra: &str) -> PoolConfig {
    PoolConfig::from_toml(&format!(
        "pool_id = 'local_sqlite'\n{extra}\n[password_hashing]\nmemory_kib = 128\niterations = 1\n\
         dangerous_allow_weak = true\n[tokens]\nalgorithm = 'ES256'\n"
    ))
    .unwrap()
}

struct Fixture {
    pool: UserPool,
    delivery: RecordingDelivery,
    _store: Arc<TempStore>,
}

fn fixture(extra: &str) -> Fixture {
    let store = Arc::new(temp_store());
    let delivery = RecordingDelivery::new();
    let pool = UserPool::builder(pool_config(extra))
        .store(Arc::clone(&store) as Arc<dyn Store>)
        .delivery(Arc::new(delivery.clone()))
        .clock(Arc::new(ManualClock::new(1_700_000_000_000)))
        .open()
        .unwrap();
    Fixture { pool, delivery, _store: store }
}

/// Full `UserPool` rounds on SQLite: 32 threads redeem one confirmation code.
#[test]
fn one_confirmation_code_has_one_winner_on_sqlite() {
    let f = fixture("");
    for round in 0..25 {
        let name = format!("user{round}");
        f.pool.sign_up(&name, PW, email(&name)).unwrap();
        let code = f.delivery.last_code_to(&format!("{name}@example.com")).unwrap();
        let pool = f.pool.clone();
        assert_eq!(common::race(THREADS, move || pool.confirm_sign_up(&name, &code).is_ok()), 1, "round {round}");
    }
}

/// 32 threads redeem one password-reset code.
#[test]
fn one_reset_code_has_one_winner_on_sqlite() {
    // 25 reset codes in the same hour: past the default request and destination limits.
    let f = fixture("[codes]\nmax_requests_per_hour = 25\nmax_per_destination_per_hour = 30");
    f.pool.sign_up("alice", PW, email("alice")).unwrap();
    f.pool.confirm_sign_up("alice", &f.delivery.last_code_to("alice@example.com").unwrap()).unwrap();
    for round in 0..25 {
        f.pool.forgot_password("alice").unwrap();
        let code = f.delivery.last_code_to("alice@example.com").unwrap();
        let pool = f.pool.clone();
        assert_eq!(
            common::race(THREADS, move || pool.confirm_forgot_password("alice", &code, PW).is_ok()),
            1,
            "round {round}"
        );
    }
}

/// 32 threads present one refresh token: one rotation wins; the others are replays of a
/// rotated-out token, which revoke the session.
#[test]
fn one_refresh_token_rotates_once_on_sqlite() {
    let f = fixture("[[clients]]\nid = 'app'\nrefresh_grace_secs = 0\n");
    f.pool.sign_up("alice", PW, email("alice")).unwrap();
    f.pool.confirm_sign_up("alice", &f.delivery.last_code_to("alice@example.com").unwrap()).unwrap();
    for round in 0..25 {
        let token = f.pool.sign_in("alice", PW).unwrap().tokens.unwrap().refresh_token;
        let pool = f.pool.clone();
        let winners = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Arc::clone(&winners);
        let won = common::race(THREADS, move || match pool.refresh(&token) {
            Ok(t) => {
                sink.lock().unwrap().push(t.refresh_token);
                true
            }
            Err(_) => false,
        });
        assert_eq!(won, 1, "round {round}");
        let next = winners.lock().unwrap().pop().unwrap();
        assert!(f.pool.refresh(&next).is_err(), "round {round}: the replays revoked the session");
    }
}

/// What accumulates with use goes once it has ended: the counters of names nobody has, the
/// messages counted per destination, and the sessions of users who never come back.
/// A group's listing and deletion read the group's index rows, never the whole pool. So its
/// tokens carry the group's name: the longest name, in four-byte characters, still gives
/// tokens the pool takes back.
#[test]
fn a_groups_listing_pages_through_its_members_whatever_its_name() {
    let store = Arc::new(temp_store());
    let pool = UserPool::builder(pool_config(""))
        .store(Arc::clone(&store) as Arc<dyn Store>)
        .delivery(Arc::new(RecordingDelivery::new()))
        .open()
        .unwrap();
    let group = "\u{1D11E}".repeat(128);
    pool.create_group(&group, None, None).unwrap();
    for i in 0..5 {
        let name = format!("member{i}");
        pool.admin_create_user(&name, email(&name), Some("Temporary-Passw0rd!"), false).unwrap();
        pool.admin_add_user_to_group(&name, &group).unwrap();
    }
    pool.admin_create_user("outsider", email("outsider"), Some("Temporary-Passw0rd!"), false).unwrap();
    let (mut listed, mut token) = (Vec::new(), None);
    loop {
        let page = pool.list_users_in_group(&group, Some(2), token.as_deref()).unwrap();
        listed.extend(page.users.into_iter().map(|u| u.username));
        match page.pagination_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    listed.sort();
    assert_eq!(listed, ["member0", "member1", "member2", "member3", "member4"]);
    pool.delete_group(&group).unwrap();
    assert!(pool.admin_get_user("member3").unwrap().groups.is_empty());
    assert_eq!(store.walks.load(Ordering::Relaxed), 0, "nothing walked the pool");
    assert_eq!(pool.list_users(None, None, None).unwrap().users.len(), 6);
    assert_eq!(store.walks.load(Ordering::Relaxed), 1, "an unfiltered listing does");
}

#[test]
fn ended_records_are_purged_as_the_pool_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let delivery = RecordingDelivery::new();
    let pool = UserPool::builder(pool_config(""))
        .store(Arc::new(SqliteStore::open(&path).unwrap()) as Arc<dyn Store>)
        .delivery(Arc::new(delivery.clone()))
        .clock(Arc::clone(&clock) as Arc<dyn userpool::Clock>)
        .open()
        .unwrap();
    let count =
        |sql: &str| -> i64 { rusqlite::Connection::open(&path).unwrap().query_row(sql, [], |r| r.get(0)).unwrap() };
    let records = |prefix: &str| count(&format!("SELECT COUNT(*) FROM userpool_secrets WHERE name LIKE '{prefix}:%'"));
    pool.sign_up("dormant", PW, email("dormant")).unwrap();
    pool.confirm_sign_up("dormant", &delivery.last_code_to("dormant@example.com").unwrap()).unwrap();
    assert!(pool.sign_in("dormant", PW).unwrap().is_signed_in());
    for i in 0..20 {
        assert!(pool.sign_in(&format!("nobody{i}"), "wrong password here").is_err());
    }
    pool.forgot_password("nobody0").unwrap();
    assert_eq!((records("unknown-user"), records("unknown-codes"), records("destination")), (20, 1, 1));
    assert_eq!(count("SELECT COUNT(*) FROM userpool_families"), 1);

    // Past every lockout and hourly window, and past the session's end (30 days) and a day.
    clock.advance_secs(32 * 86_400);
    for i in 0..4 {
        assert!(pool.sign_in(&format!("later{i}"), "wrong password here").is_err());
    }
    assert_eq!((records("unknown-user"), records("unknown-codes"), records("destination")), (4, 0, 0));
    assert_eq!(count("SELECT COUNT(*) FROM userpool_families"), 0, "the dormant user's session went");
    assert_eq!(count("SELECT COUNT(*) FROM userpool_refresh_hashes"), 0);
    let kept = count("SELECT COUNT(*) FROM userpool_secrets WHERE expires_ms IS NULL");
    assert_eq!(kept, 3, "the keys and the lookup settings stay");
    assert!(pool.sign_in("dormant", PW).unwrap().is_signed_in());
}

/// One large transaction grows the write-ahead log; once checkpointed, it is cut back to
/// the limit instead of keeping that size.
#[test]
fn the_write_ahead_log_is_cut_back_after_a_large_import() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let store = SqliteStore::open_with(&path, SqliteOptions::default().wal_limit_bytes(256 << 10)).unwrap();
    let wal = || std::fs::metadata(dir.path().join("pool.sqlite3-wal")).map_or(0, |m| m.len());
    let users = (0..5000)
        .map(|i| {
            let mut user = sample_user(&format!("sub-{i:05}"), &format!("user{i:05}"));
            user.attributes.insert("name".into(), format!("{i:05}").repeat(200));
            put_user(user, &[], None)
        })
        .collect();
    store.commit("p1", users).unwrap();
    let grown = wal();
    assert!(grown > 4 << 20, "the import's pages are in the log: {grown} bytes");
    for i in 0..3 {
        store.commit("p1", vec![put_user(sample_user(&format!("late-{i}"), &format!("late{i}")), &[], None)]).unwrap();
    }
    assert!(wal() <= 256 << 10, "cut back to the limit: {} bytes", wal());
    assert_eq!(store.users("p1", None, 10_000, &|_| true).unwrap().users.len(), 5003);
}

// ── faults ──────────────────────────────────────────────────────────────────────────────

#[test]
fn a_path_in_a_missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("pool.sqlite3");
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains(&path.display().to_string()), "{err}");
    assert!(err.message().contains("does not exist"), "{err}");
    assert!(!path.parent().unwrap().exists(), "nothing was created");
}

#[test]
fn a_directory_or_an_empty_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains("is a directory"), "{err}");
    assert_eq!(SqliteStore::open("").unwrap_err().code(), ErrorCode::InvalidParameter);
}

/// Names SQLite reads as something other than a file are refused before anything is made:
/// `:memory:` (a stray file of that name was left in the working directory, and the open
/// failed on the WAL check) and a path with a NUL (rusqlite refused it as an internal error).
#[test]
fn a_path_sqlite_would_not_read_as_a_file_is_refused() {
    let err = SqliteStore::open(":memory:").unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains("open the pool without a path"), "{err}");
    assert!(!Path::new(":memory:").exists(), "a file was made");
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open(dir.path().join("a\0b.sqlite3")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains("NUL"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a file was made");
}

#[cfg(unix)]
#[test]
fn a_path_the_system_refuses_says_why() {
    let dir = tempfile::tempdir().unwrap();
    // A link to itself: every check passes it, and SQLite can only say "unable to open".
    let looped = dir.path().join("looped.sqlite3");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let err = SqliteStore::open(&looped).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    let why = std::io::Error::from_raw_os_error(40).to_string();
    assert!(err.message().contains(&looped.display().to_string()) && err.message().contains(&why), "{err}");

    let long = dir.path().join(format!("{}.sqlite3", "p".repeat(300)));
    let err = SqliteStore::open(&long).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains("File name too long"), "{err}");
}

/// A backup restored by renaming a copy over the file while the pool is open, or the file
/// deleted: the open connections keep the old file, so writes would be acknowledged into a
/// file nobody opens again. They are refused, and nothing is written.
#[cfg(unix)]
#[test]
fn a_file_replaced_or_deleted_under_an_open_pool_takes_no_more_writes() {
    let (_dir, path, store, pool) = pool_on_a_file();
    pool.admin_create_user("alice", email("alice"), None, false).unwrap();
    let (_backup_dir, backup, backup_store) = file_with_users(&[("sub-z", "zed")]);
    drop(backup_store);
    std::fs::rename(&backup, &path).unwrap();
    let err = pool.admin_create_user("bob", email("bob"), None, false).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InternalError);
    let opened = format!("{} is no longer the file this pool opened (nothing was written)", path.display());
    assert!(err.message().contains(&opened) && err.message().contains("it was replaced while open"), "{err}");
    // The log named after the path held the old file's pages: emptied into that file, not
    // left for the copy to take as its own.
    let log = path.with_extension("sqlite3-wal");
    assert_eq!(std::fs::metadata(&log).map_or(0, |m| m.len()), 0);
    drop(pool);
    drop(store);
    let restored = SqliteStore::open(&path).unwrap();
    assert!(restored.user("p1", "sub-z").unwrap().is_some(), "the copy is what the path holds");
    assert_eq!(restored.pool_ids().unwrap(), Vec::<String>::new(), "and none of the pool's pages");
    assert_eq!(integrity(&path), "ok");

    std::fs::remove_file(&path).unwrap();
    let refused = restored.commit("p1", vec![put_user(sample_user("sub-b", "bob"), &["u:bob"], None)]);
    let Err(StoreError::Backend(message)) = refused else { panic!("committed: {refused:?}") };
    assert!(message.contains("it was deleted or moved while open, and nothing is at the path now"), "{message}");
}

/// The file moved while open: what was acknowledged before is in it, not in a log left
/// beside the old name.
#[cfg(unix)]
#[test]
fn a_file_moved_under_an_open_pool_keeps_what_was_written() {
    let (dir, path, store, pool) = pool_on_a_file();
    let alice = pool.admin_create_user("alice", email("alice"), None, false).unwrap().user.sub;
    let moved = dir.path().join("moved.sqlite3");
    std::fs::rename(&path, &moved).unwrap();
    let err = pool.admin_create_user("bob", email("bob"), None, false).unwrap_err();
    assert!(err.message().contains("deleted or moved while open"), "{err}");
    drop(pool);
    drop(store);
    let reopened = SqliteStore::open_with(&moved, SqliteOptions::default().existing_only(true)).unwrap();
    assert!(reopened.user("local_sqlite", &alice).unwrap().is_some());
    assert_eq!(integrity(&moved), "ok");

    // Moved with nothing written after: closing the pool moves its log into the file.
    let path = dir.path().join("second.sqlite3");
    let store = SqliteStore::open(&path).unwrap();
    store.commit("p1", vec![put_user(sample_user("sub-a", "alice"), &["u:alice"], None)]).unwrap();
    let moved = dir.path().join("second-moved.sqlite3");
    std::fs::rename(&path, &moved).unwrap();
    drop(store);
    assert!(SqliteStore::open(&moved).unwrap().user("p1", "sub-a").unwrap().is_some());
}

/// Read connections leave checkpoints to the writer, which closes last: a pool closed
/// leaves no log behind.
#[test]
fn a_closed_pool_leaves_no_log_behind() {
    let (dir, _path, store) = file_with_users(&[("sub-a", "alice")]);
    assert!(store.user("p1", "sub-a").unwrap().is_some());
    drop(store);
    let mut left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|f| f.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["pool.sqlite3"]);
}

// ── backups ─────────────────────────────────────────────────────────────────────────────

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> =
        std::fs::read_dir(dir).unwrap().map(|f| f.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A backup is the pool as it was: its users, its signing keys (tokens issued before verify
/// against the copy) and its sessions; nothing written after. The pool goes on serving.
#[test]
fn a_backup_opens_as_the_pool_it_copied() {
    let (_dir, _path, _store, pool) = pool_on_a_file();
    let alice = pool.admin_create_user("alice", email("alice"), None, false).unwrap().user.sub;
    pool.admin_set_user_password("alice", PW, true).unwrap();
    let tokens = pool.sign_in("alice", PW).unwrap().tokens.unwrap();
    let backups = tempfile::tempdir().unwrap();
    let dest = backups.path().join("backup.sqlite3");
    pool.backup_to(&dest).unwrap();
    pool.admin_create_user("bob", email("bob"), None, false).unwrap();
    assert_eq!(files_in(backups.path()), ["backup.sqlite3"], "nothing else left beside it");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(integrity(&dest), "ok");

    let copy = UserPool::builder(pool_config("")).sqlite(&dest, SqliteOptions::default()).open().unwrap();
    assert_eq!(copy.verify_access_token(&tokens.access_token).unwrap()["sub"], alice.as_str());
    copy.refresh(&tokens.refresh_token).unwrap();
    copy.sign_in("alice", PW).unwrap();
    assert_eq!(copy.admin_get_user("bob").unwrap_err().code(), ErrorCode::UserNotFound);
    pool.sign_in("bob", PW).unwrap_err();
    pool.sign_in("alice", PW).unwrap();
}

/// A backup is one moment of the pool: commits made while it is copied are in it whole or
/// not at all, in every table (a user's row and its key rows). (That commits go on while a
/// large copy runs is not shown here: this copy takes milliseconds.)
#[test]
fn a_backup_taken_while_users_are_written_holds_whole_commits() {
    let (_dir, _path, store) = file_with_users(&[]);
    let old = (0..2_000)
        .map(|n| put_user(sample_user(&format!("sub-old{n}"), &format!("old{n}")), &[&format!("u:old{n}")], None));
    store.commit("p1", old.collect()).unwrap();
    let store = Arc::new(store);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let (a, b) = (format!("a{n}"), format!("b{n}"));
                let writes = [&a, &b].map(|name| {
                    let key = format!("u:{name}");
                    put_user(sample_user(&format!("sub-{name}"), name), &[&key], None)
                });
                store.commit("p1", writes.into()).unwrap();
                n += 1;
            }
            n
        })
    };
    let backups = tempfile::tempdir().unwrap();
    let dest = backups.path().join("backup.sqlite3");
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.user("p1", "sub-a50").unwrap().is_none() {
        assert!(Instant::now() < deadline && !writer.is_finished(), "the writer stopped");
        std::thread::yield_now();
    }
    store.backup_to(&dest).unwrap();
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    let copy = SqliteStore::open(&dest).unwrap();
    // By the key table, then the users table: a row in one without the other would show.
    let has = |name: String| {
        let by_key = copy.user_by_key("p1", &format!("u:{name}")).unwrap().map(|u| u.value.sub);
        let by_sub = copy.user("p1", &format!("sub-{name}")).unwrap().map(|u| u.value.sub);
        assert_eq!(by_key, by_sub, "{name}: its key row and its user row are both in the copy, or neither");
        by_sub.is_some()
    };
    let copied = (0..written).take_while(|n| has(format!("a{n}"))).count();
    assert!(copied > 50, "the copy was taken after a50 was written: {copied}");
    for n in 0..written {
        assert_eq!(has(format!("a{n}")), n < copied, "a{n}");
        assert_eq!(has(format!("b{n}")), n < copied, "b{n} was committed with a{n}");
    }
    assert!((0..2_000).all(|n| has(format!("old{n}"))));
    assert_eq!(integrity(&dest), "ok");
}

/// A backup never replaces a file, needs a directory that exists and a pool kept in a file,
/// and refuses a file replaced under the pool; each refusal writes nothing.
#[test]
fn a_backup_refused_writes_nothing() {
    let (dir, path, store) = file_with_users(&[("sub-a", "alice")]);
    let backups = tempfile::tempdir().unwrap();
    let taken = backups.path().join("taken.sqlite3");
    std::fs::write(&taken, "kept").unwrap();
    let err = store.backup_to(&taken).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains("taken.sqlite3: exists already; a backup never replaces a file"), "{err}");
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "kept");

    let err = store.backup_to(backups.path().join("missing").join("backup.sqlite3")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains("the directory") && err.message().contains("does not exist"), "{err}");
    assert_eq!(store.backup_to("").unwrap_err().code(), ErrorCode::InvalidParameter);

    let memory = UserPool::builder(pool_config("")).open().unwrap();
    let err = memory.backup_to(backups.path().join("memory.sqlite3")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains("in memory"), "{err}");

    // Names SQLite would take for another file's journal, or beside which it would find one.
    for name in ["taken.sqlite3-journal", "pool-wal", "x-shm"] {
        let err = store.backup_to(backups.path().join(name)).unwrap_err();
        assert!(err.message().contains("ends like a file SQLite keeps beside a database"), "{name}: {err}");
    }
    std::fs::write(backups.path().join("old.sqlite3-wal"), "a log left behind").unwrap();
    let err = store.backup_to(backups.path().join("old.sqlite3")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains("old.sqlite3-wal is beside it"), "{err}");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("elsewhere.sqlite3", backups.path().join("link.sqlite3")).unwrap();
        let err = store.backup_to(backups.path().join("link.sqlite3")).unwrap_err();
        assert!(err.message().contains("exists already"), "{err}");
        assert!(!backups.path().join("elsewhere.sqlite3").exists(), "the link was not followed");
        std::fs::remove_file(backups.path().join("link.sqlite3")).unwrap();
    }

    let (_other_dir, other, other_store) = file_with_users(&[("sub-z", "zed")]);
    drop(other_store);
    std::fs::rename(&other, &path).unwrap();
    let err = store.backup_to(backups.path().join("replaced.sqlite3")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InternalError);
    assert!(err.message().contains("is no longer the file this pool opened (nothing was copied)"), "{err}");
    assert_eq!(files_in(backups.path()), ["old.sqlite3-wal", "taken.sqlite3"], "nor a directory of the copy's");
    drop(dir);
}

/// A pool file copied without being opened as a store is left as it is, whatever version
/// wrote it: the way to keep a copy before an upgrade migrates the file.
#[test]
fn a_pool_file_is_backed_up_without_being_opened_as_a_store() {
    let (dir, path, store) = file_with_users(&[("sub-a", "alice")]);
    drop(store);
    back_to_version(&path, 1);
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "journal_mode", "DELETE").unwrap();
    let before = std::fs::read(&path).unwrap();
    let dest = dir.path().join("before-the-upgrade.sqlite3");
    SqliteStore::backup_file(&path, &dest).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), before, "not migrated, nor switched to WAL");
    let copy = rusqlite::Connection::open(&dest).unwrap();
    let version: i64 = copy.query_row("SELECT MAX(version) FROM userpool_schema", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 1);
    drop(copy);
    assert!(
        SqliteStore::open(&dest).unwrap().user("p1", "sub-a").unwrap().is_some(),
        "and it upgrades as the file would"
    );

    let err = SqliteStore::backup_file(dir.path().join("typo.sqlite3"), dir.path().join("b.sqlite3")).unwrap_err();
    assert!(
        err.code() == ErrorCode::InvalidParameter && err.message().contains("typo.sqlite3 does not exist"),
        "{err}"
    );
    std::fs::write(dir.path().join("notes.txt"), "not a database at all, just some words").unwrap();
    let err = SqliteStore::backup_file(dir.path().join("notes.txt"), dir.path().join("b.sqlite3")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter, "{err}");
    let app = dir.path().join("app.db");
    rusqlite::Connection::open(&app).unwrap().execute_batch("CREATE TABLE notes (text TEXT)").unwrap();
    let err = SqliteStore::backup_file(&app, dir.path().join("b.sqlite3")).unwrap_err();
    assert!(err.message().contains("holds no userpool pools"), "{err}");
    assert!(!dir.path().join("b.sqlite3").exists());
}

#[test]
fn an_app_database_in_utf16_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let app = rusqlite::Connection::open(&path).unwrap();
    app.execute_batch("PRAGMA encoding = 'UTF-16le'; CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('é');")
        .unwrap();
    drop(app);
    let before = std::fs::read(&path).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains("app.db") && err.message().contains("UTF-16le"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn an_open_refused_for_its_key_or_configuration_makes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let builder = |config: PoolConfig| UserPool::builder(config).sqlite(&path, SqliteOptions::default());
    let short_key = builder(PoolConfig::default()).encryption_key(b"too short").open();
    assert_eq!(short_key.unwrap_err().code(), ErrorCode::InvalidParameter);
    let mut weak_hashing = PoolConfig::default();
    weak_hashing.password_hashing.memory_kib = 1;
    assert_eq!(builder(weak_hashing).open().unwrap_err().code(), ErrorCode::InvalidUserPoolConfiguration);
    assert!(!path.exists(), "no file was made");

    let pool = builder(PoolConfig::default()).encryption_key(&[7; 32]).open().unwrap();
    pool.admin_create_user("ann", email("ann"), None, false).unwrap();
    drop(pool);
    let reopened = builder(PoolConfig::default()).encryption_key(&[7; 32]).open().unwrap();
    assert_eq!(reopened.admin_get_user("ann").unwrap().username, "ann");
}

#[test]
fn a_read_only_file_is_a_clear_error_and_stays_untouched() {
    let (_dir, path, store) = file_with_users(&[("sub-a", "alice")]);
    drop(store);
    let before = std::fs::read(&path).unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&path, perms).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains(&path.display().to_string()) && err.message().contains("read-only"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_file_that_is_not_a_database_is_a_clear_error_and_stays_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let text = "these are my notes, not a database\n".repeat(200);
    std::fs::write(&path, &text).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains(&path.display().to_string()), "{err}");
    assert!(err.message().contains("not a SQLite database"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn existing_only_opens_a_pool_file_and_leaves_any_other_file_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let existing_only = || SqliteOptions::default().existing_only(true);
    let missing = dir.path().join("missing.sqlite3");
    let err = SqliteStore::open_with(&missing, existing_only()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains("missing.sqlite3 does not exist"), "{err}");
    assert!(!missing.exists());

    let empty = dir.path().join("empty.sqlite3");
    std::fs::write(&empty, b"").unwrap();
    let theirs = dir.path().join("theirs.db");
    rusqlite::Connection::open(&theirs).unwrap().execute_batch("CREATE TABLE notes (text TEXT)").unwrap();
    let before = std::fs::read(&theirs).unwrap();
    for path in [&empty, &theirs] {
        let err = SqliteStore::open_with(path, existing_only()).unwrap_err();
        assert!(err.message().contains("holds no userpool pools"), "{err}");
    }
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
    assert_eq!(std::fs::read(&theirs).unwrap(), before, "another app's database is left as it was");

    let (_dir, path, store) = file_with_users(&[("s1", "alice")]);
    assert!(SqliteStore::open_with(&path, existing_only()).unwrap().user("p1", "s1").unwrap().is_some());
    drop(store);
    // An older app may still serve an older file: upgrading it would stop that app's writes.
    back_to_version(&path, 4);
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "journal_mode", "DELETE").unwrap();
    let err = SqliteStore::open_with(&path, existing_only()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
    assert!(err.message().contains("schema version 4, written by an older userpool"), "{err}");
    let version = |path: &Path| -> i64 {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("SELECT MAX(version) FROM userpool_schema", [], |r| r.get(0)).unwrap()
    };
    assert_eq!(version(&path), 4, "left as it was");
    assert_eq!(journal_mode(&path), "delete", "left in its journal mode");
    assert_eq!(SqliteStore::open(&path).unwrap().schema_version().unwrap(), 6, "an ordinary open upgrades it");
}

/// Not a test: the child process `a_lock_held_by_another_process_…` starts. It takes the
/// write lock on the file named by `LOCK_HOLDER_ENV`, says so, and holds it until its stdin
/// closes.
#[test]
#[ignore = "run as a child process by a_lock_held_by_another_process_times_out_clearly"]
fn lock_holder_child() {
    let Ok(path) = std::env::var(LOCK_HOLDER_ENV) else {
        return;
    };
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS app_lock_test (x); INSERT INTO app_lock_test VALUES (1);",
    )
    .unwrap();
    // libtest has printed "test lock_holder_child ... " without a newline.
    println!("\nlocked");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    conn.execute_batch("ROLLBACK").unwrap();
}

fn hold_lock(path: &Path) -> std::process::Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "lock_holder_child", "--nocapture", "--test-threads=1"])
        .env(LOCK_HOLDER_ENV, path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.is_ok_and(|l| l.trim() == "locked")), "the child took the lock");
    child
}

#[test]
fn a_lock_held_by_another_process_times_out_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let options = SqliteOptions::default().busy_timeout(Duration::from_millis(300));
    let store = SqliteStore::open_with(&path, options.clone()).unwrap();
    store.commit("p1", vec![put_user(sample_user("sub-a", "alice"), &["u:alice"], None)]).unwrap();
    let mut child = hold_lock(&path);
    // A commit waits for the timeout, then fails cleanly; reads go on (WAL).
    let started = Instant::now();
    let err = store.commit("p1", vec![put_user(sample_user("sub-b", "bob"), &["u:bob"], None)]).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(250), "it waited for the lock");
    let StoreError::Backend(message) = err else { panic!("{err:?}") };
    assert!(message.contains(&path.display().to_string()) && message.contains("locked"), "{message}");
    assert!(store.user("p1", "sub-a").unwrap().is_some(), "readers are not blocked by a writer");
    // Opening waits for the migration lock the same way.
    let err = SqliteStore::open_with(&path, options).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InternalError);
    assert!(err.message().contains(&path.display().to_string()) && err.message().contains("locked"), "{err}");
    drop(child.stdin.take());
    child.wait().unwrap();
    // Once the lock is gone, the same store works again.
    store.commit("p1", vec![put_user(sample_user("sub-b", "bob"), &["u:bob"], None)]).unwrap();
    assert!(store.user_by_key("p1", "u:bob").unwrap().is_some());
    drop(store);
    assert_eq!(integrity(&path), "ok");
}

/// A commit too large for the room left (`SQLITE_FULL`, which could also be the disk's)
/// fails alone: the commits sharing its transaction are run again without it and succeed,
/// rather than failing with an error that was not theirs. Met by a second commit of the
/// group, the error is taken for the disk's, and the group fails whole rather than being run
/// once more per commit. Another connection holds the write lock while a first commit waits
/// for it, until the commits of the group queue behind it.
#[test]
fn a_commit_too_large_for_the_room_left_fails_alone_in_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let capped = SqliteOptions::default().max_size_bytes(Some(2 * 1024 * 1024));
    let store = Arc::new(SqliteStore::open_with(&path, capped).unwrap());
    let user = |n: &str, padding: usize| {
        let mut user = sample_user(&format!("sub-{n}"), &format!("user{n}"));
        user.attributes.insert("address".into(), "x".repeat(padding));
        put_user(user, &[format!("u:user{n}").as_str()], None)
    };
    let big = |n: &str| (0..3000).map(|i| user(&format!("big-{n}-{i}"), 1000)).collect::<Vec<_>>();
    let small = |n: &str| vec![user(&format!("small-{n}"), 10)];
    // The results of `groups`' commits, each group committed in one transaction.
    let run_grouped = |group: Vec<Vec<Write>>| {
        let blocker = rusqlite::Connection::open(&path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let commit = |writes: Vec<Write>| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || store.commit("p1", writes))
        };
        let wait_for = |waiting: usize| {
            while store.commits_waiting() != Some(waiting) {
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        let first = commit(small(&format!("first-{}", group.len())));
        wait_for(0);
        let count = group.len();
        let threads: Vec<_> = group.into_iter().map(commit).collect();
        wait_for(count);
        blocker.execute_batch("ROLLBACK").unwrap();
        assert_eq!(first.join().unwrap(), Ok(()));
        threads.into_iter().map(|t| t.join().unwrap()).collect::<Vec<_>>()
    };
    let full = |result: &Result<(), StoreError>| matches!(result, Err(StoreError::Backend(m)) if m.contains("full"));

    let mut group = vec![big("alone")];
    group.extend((0..16).map(|t| small(&t.to_string())));
    let results = run_grouped(group);
    assert!(full(&results[0]), "{:?}", results[0]);
    assert!(results[1..].iter().all(Result::is_ok), "{results:?}");
    assert_eq!(store.users("p1", None, usize::MAX, &|_| true).unwrap().users.len(), 17);

    let mut group = vec![big("one"), big("two")];
    group.extend((0..4).map(|t| small(&format!("last-{t}"))));
    let results = run_grouped(group);
    assert!(results.iter().all(full), "{results:?}");
}

/// A full disk, simulated with the store's size cap (SQLite reports both as
/// `SQLITE_FULL`): the failing commit changes nothing, the file stays sound, and the store
/// works again once there is room.
#[test]
fn a_full_disk_fails_the_commit_atomically_and_corrupts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("pool.sqlite3");
    let capped = SqliteOptions::default().max_size_bytes(Some(256 * 1024));
    let store = SqliteStore::open_with(&path, capped).unwrap();
    let mut stored = 0;
    let message = loop {
        let batch: Vec<Write> = (0..20)
            .map(|i| {
                let n = stored + i;
                let mut user = sample_user(&format!("sub-{n:06}"), &format!("user{n}"));
                user.attributes.insert("address".into(), "x".repeat(1000));
                let key = format!("u:user{n}");
                put_user(user, &[key.as_str()], None)
            })
            .collect();
        match store.commit("p1", batch) {
            Ok(()) => stored += 20,
            Err(StoreError::Backend(message)) => break message,
            Err(e) => panic!("{e:?}"),
        }
        assert!(stored < 100_000, "the cap never hit");
    };
    assert!(stored > 0);
    assert!(message.contains(&path.display().to_string()) && message.contains("full"), "{message}");
    let listed = store.users("p1", None, usize::MAX, &|_| true).unwrap().users.len();
    assert_eq!(listed, stored, "the failed batch left nothing behind");
    assert!(store.user("p1", &format!("sub-{stored:06}")).unwrap().is_none());
    drop(store);
    assert_eq!(integrity(&path), "ok");
    let store = SqliteStore::open(&path).unwrap();
    store.commit("p1", vec![put_user(sample_user("sub-late", "late"), &["u:late"], None)]).unwrap();
    assert_eq!(store.users("p1", None, usize::MAX, &|_| true).unwrap().users.len(), stored + 1);
}
