//! The SQLite store: the durable embedded default (cargo feature `sqlite`, on by default).
//!
//! One file holds any number of pools (the pool id is part of every key). Records are the
//! serde JSON of the [`flow::state`](crate::flow::state) structs, so new fields need no
//! migration; the columns next to them are only what lookups and ordering need.
//!
//! - **Durability.** WAL with `synchronous=FULL`: a commit that returned is on disk, even
//!   across a power loss. With `NORMAL` a power loss may roll back the last commits — a
//!   consumed code, a rotated refresh token, a failed-attempt counter — and reopen a replay.
//! - **Concurrency.** One writer connection behind a mutex. Each commit validates every
//!   expected version and unique key and then applies every write, inside a savepoint of a
//!   `BEGIN IMMEDIATE` transaction, or is rolled back alone. Commits that arrive while the
//!   writer is busy are grouped into its next transaction, so one fsync carries many of
//!   them (group commit); none is answered before its transaction is durable. Other
//!   processes on the same file wait for the write lock (`busy_timeout`). Reads run on a
//!   small pool of read-only connections, each statement one consistent snapshot (a page of a
//!   filtered listing may take several).
//! - **Schema.** Migrations run on open, inside a write transaction, and are recorded in
//!   `userpool_schema`; a file written by a newer library is refused. Every table is named
//!   `userpool_*`, so the pools can live in the app's own database file.
//!
//! `docs/storage.md` describes the schema, the choices and the behaviour under faults.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode as SqliteCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ListedFamily, SecretBytes, Store, StoreError, UserPage, UserSearch, Versioned, Write, search_terms};
use crate::error::{Error, ErrorCode, Result};
use crate::flow::state::{AuditEvent, Family, RECORD_VERSION, Record, UserRecord};

/// The schema version this library writes; files with a newer one are refused.
const SCHEMA_VERSION: i64 = 6;

/// One step of the schema: SQL, then (for steps that derive rows from records) a fill.
struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
    fill: Option<fn(&Connection) -> rusqlite::Result<()>>,
}

/// Every migration, in order. Never edit a released one; append a new one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "users, unique keys, session families, refresh-token hashes, events, secrets",
        sql: V1,
        fill: None,
    },
    Migration {
        version: 2,
        description: "search terms of the attributes list_users filters on",
        sql: "
        CREATE TABLE userpool_user_search (
            pool    TEXT    NOT NULL,
            attr    TEXT    NOT NULL,
            term    TEXT    NOT NULL, -- store::search_term of the value
            user_id INTEGER NOT NULL, -- userpool_users.id
            PRIMARY KEY (pool, attr, term, user_id)
        ) WITHOUT ROWID;
        ",
        fill: Some(|tx| fill_search_terms(tx, &ATTRIBUTE_TERMS)),
    },
    Migration {
        version: 3,
        description: "expiry times, so that ended records can be purged",
        // Pool records are opaque here: those written before stay until replaced. A family's
        // expiry is in its record.
        sql: "
        ALTER TABLE userpool_secrets ADD COLUMN expires_ms INTEGER; -- NULL: kept until replaced
        CREATE INDEX userpool_secrets_by_expiry ON userpool_secrets (pool, expires_ms)
            WHERE expires_ms IS NOT NULL;
        ALTER TABLE userpool_families ADD COLUMN expires_ms INTEGER;
        UPDATE userpool_families SET expires_ms = json_extract(record, '$.expires_ms') WHERE json_valid(record);
        CREATE INDEX userpool_families_by_expiry ON userpool_families (pool, expires_ms)
            WHERE expires_ms IS NOT NULL;
        ",
        fill: None,
    },
    Migration {
        version: 4,
        description: "search terms of the status words",
        sql: "",
        fill: Some(|tx| fill_search_terms(tx, &STATUS_TERMS)),
    },
    Migration {
        version: 5,
        description: "search terms of group memberships",
        // In SQL, as the records hold them: names as they are (search_terms' GROUP_ATTRIBUTE
        // terms), without decoding every record in Rust once more.
        sql: "
        INSERT OR IGNORE INTO userpool_user_search (pool, attr, term, user_id)
            SELECT u.pool, 'cognito:groups', g.value, u.id
            FROM userpool_users u, json_each(u.record, '$.groups') g
            WHERE json_valid(u.record) AND g.type = 'text';
        ",
        fill: None,
    },
    Migration {
        version: 6,
        description: "group definitions one record each",
        // Nothing here changes: the engine moves a pool's definitions out of its one `groups`
        // record when it opens the pool. The version keeps older libraries away, which would
        // find no groups and issue tokens without them.
        sql: "",
        fill: None,
    },
];

/// The search attributes migration 2 indexed: the user's own attributes and the username.
const ATTRIBUTE_TERMS: [&str; 7] =
    ["username", "email", "phone_number", "name", "given_name", "family_name", "preferred_username"];
/// The search attributes migration 4 indexed.
const STATUS_TERMS: [&str; 2] = ["status", "cognito:user_status"];

const V1: &str = "
    CREATE TABLE userpool_users (
        id       INTEGER PRIMARY KEY,
        pool     TEXT    NOT NULL,
        sub      TEXT    NOT NULL,
        version  INTEGER NOT NULL,
        username TEXT    NOT NULL,
        keys     TEXT    NOT NULL, -- JSON array of the unique keys the user holds
        record   TEXT    NOT NULL, -- JSON of UserRecord
        UNIQUE (pool, sub)
    );
    CREATE TABLE userpool_user_keys (
        pool    TEXT    NOT NULL,
        key     TEXT    NOT NULL,
        user_id INTEGER NOT NULL, -- userpool_users.id
        PRIMARY KEY (pool, key)
    ) WITHOUT ROWID;
    CREATE TABLE userpool_families (
        id      INTEGER PRIMARY KEY,
        pool    TEXT    NOT NULL,
        family  TEXT    NOT NULL,
        sub     TEXT    NOT NULL,
        version INTEGER NOT NULL,
        record  TEXT    NOT NULL, -- JSON of Family
        UNIQUE (pool, family)
    );
    CREATE INDEX userpool_families_by_sub ON userpool_families (pool, sub);
    CREATE TABLE userpool_refresh_hashes (
        pool      TEXT    NOT NULL,
        hash      TEXT    NOT NULL,
        family_id INTEGER NOT NULL, -- userpool_families.id
        PRIMARY KEY (pool, hash)
    ) WITHOUT ROWID;
    CREATE INDEX userpool_refresh_hashes_by_family ON userpool_refresh_hashes (family_id);
    CREATE TABLE userpool_events (
        seq    INTEGER PRIMARY KEY,
        pool   TEXT NOT NULL,
        sub    TEXT NOT NULL,
        record TEXT NOT NULL -- JSON of AuditEvent
    );
    CREATE INDEX userpool_events_by_sub ON userpool_events (pool, sub, seq);
    CREATE TABLE userpool_secrets (
        pool    TEXT    NOT NULL,
        name    TEXT    NOT NULL,
        version INTEGER NOT NULL,
        value   BLOB    NOT NULL,
        PRIMARY KEY (pool, name)
    ) WITHOUT ROWID;
    ";

/// Indexes the search terms of `attributes` for the users a file already holds.
fn fill_search_terms(tx: &Connection, attributes: &[&str]) -> rusqlite::Result<()> {
    let mut after = 0_i64;
    let mut read = tx.prepare("SELECT id, pool, record FROM userpool_users WHERE id > ?1 ORDER BY id LIMIT ?2")?;
    loop {
        let rows: Vec<(i64, String, Option<String>)> = read
            .query_map(params![after, limit_to_sql(LIST_CHUNK)], |r| Ok((r.get(0)?, r.get(1)?, record_text(r, 2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, pool, record) in &rows {
            after = *id;
            // A record that does not decode is left out, as the SQL migrations leave out text
            // that is not JSON, rather than making the file impossible to open: its user
            // cannot be read until the record is repaired, and the terms of whatever replaces
            // it are indexed then.
            let Some(Ok(user)) = record.as_deref().map(from_json::<UserRecord>) else {
                tracing::warn!(row = id, "a stored user record could not be decoded; its search terms were not filled");
                continue;
            };
            let mut terms = search_terms(&user);
            terms.retain(|(attribute, _)| attributes.contains(attribute));
            index_terms(tx, pool, *id, &terms)?;
        }
        if rows.len() < LIST_CHUNK {
            return Ok(());
        }
    }
}

fn index_terms(tx: &Connection, pool: &str, user_id: i64, terms: &[(&str, String)]) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO userpool_user_search (pool, attr, term, user_id) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (attr, term) in terms {
        insert.execute(params![pool, attr, term, user_id])?;
    }
    Ok(())
}

/// Removes a user's search terms: those given, or, when they are not known (a record that
/// no longer decodes), every row of the user's, which reads the pool's whole index. Left
/// behind, such rows would point at the row id the next new user may get.
fn unindex_user(tx: &Connection, pool: &str, user_id: i64, terms: Option<&[(&str, String)]>) -> rusqlite::Result<()> {
    match terms {
        Some(terms) => unindex_terms(tx, pool, user_id, terms),
        None => {
            tx.prepare_cached("DELETE FROM userpool_user_search WHERE pool = ?1 AND user_id = ?2")?
                .execute(params![pool, user_id])?;
            Ok(())
        }
    }
}

fn unindex_terms(tx: &Connection, pool: &str, user_id: i64, terms: &[(&str, String)]) -> rusqlite::Result<()> {
    let mut delete = tx.prepare_cached(
        "DELETE FROM userpool_user_search WHERE pool = ?1 AND attr = ?2 AND term = ?3 AND user_id = ?4",
    )?;
    for (attr, term) in terms {
        delete.execute(params![pool, attr, term, user_id])?;
    }
    Ok(())
}

/// Rows read per statement while listing users with a filter.
const LIST_CHUNK: usize = 512;

/// How a [`SqliteStore`] is opened; `SqliteOptions::default()` is what
/// [`SqliteStore::open`] uses.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    busy_timeout: Duration,
    existing_only: bool,
    idle_readers: usize,
    max_readers: usize,
    max_size_bytes: Option<u64>,
    mmap_bytes: u64,
    page_size: u32,
    reader_cache_kib: u32,
    wal_limit_bytes: u64,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            existing_only: false,
            idle_readers: 8,
            max_readers: 32,
            max_size_bytes: None,
            // Mobile apps get less address space; their pools are small.
            mmap_bytes: if cfg!(target_pointer_width = "64") && !cfg!(any(target_os = "ios", target_os = "android")) {
                64 << 30
            } else {
                256 << 20
            },
            page_size: 4096,
            reader_cache_kib: 16 << 10,
            wal_limit_bytes: 64 << 20,
        }
    }
}

/// The longest [`SqliteOptions::busy_timeout`]: `i32::MAX` milliseconds.
const MAX_BUSY_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

impl SqliteOptions {
    /// How long any connection waits for a lock held by another connection or process
    /// before failing (default 5 s). SQLite counts it in milliseconds in an `int`: a longer
    /// wait is waited as `i32::MAX` milliseconds (24.8 days).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout.min(MAX_BUSY_TIMEOUT);
        self
    }

    /// Open only a file that already holds userpool's tables at this library's schema
    /// version. A missing file, one without them (another app's database, an empty file),
    /// and one an older library wrote are refused with `InvalidParameterException` and left
    /// as they are: upgrading a file would stop the older app that serves it from writing.
    /// For tools that administer existing pools; the default (`false`) creates the file and
    /// the tables, and upgrades older ones.
    pub fn existing_only(mut self, existing_only: bool) -> Self {
        self.existing_only = existing_only;
        self
    }

    /// How many read connections are kept open between reads (default 8). More may be
    /// open at once while many threads read, up to [`max_readers`](Self::max_readers); the
    /// extra ones are closed afterwards.
    pub fn idle_readers(mut self, count: usize) -> Self {
        self.idle_readers = count;
        self
    }

    /// The most read connections open at once (default 32, at least 1). A read that finds
    /// them all busy waits for one. Without a bound, a burst of threads (a blocking-task pool
    /// of hundreds) opened a connection each, three file descriptors apiece, until the
    /// process ran out of them and reads failed.
    pub fn max_readers(mut self, count: usize) -> Self {
        self.max_readers = count;
        self
    }

    /// How much of the file reads may map into memory (default 64 GiB on 64-bit desktop and
    /// server targets, 256 MiB on iOS, Android and 32-bit ones; 0 turns it off). Mapped pages
    /// are the OS page cache itself, shared by every connection, so lookups in a large pool
    /// read no copies; it costs address space, not memory. SQLite caps the map at its build's `SQLITE_MAX_MMAP_SIZE`
    /// (2 GB in the bundled build unless `LIBSQLITE3_FLAGS` raises it, as this repository's
    /// `.cargo/config.toml` does; see `docs/storage.md`).
    pub fn mmap_bytes(mut self, bytes: u64) -> Self {
        self.mmap_bytes = bytes;
        self
    }

    /// The page size of a new database file, in bytes: a power of two from 512 to 65,536
    /// (default 4,096, SQLite's own). It is fixed when the file is created; opening an
    /// existing file keeps the page size it has. Larger pages make shallower B-trees (fewer
    /// pages per lookup in a large pool) at the cost of more bytes written per commit.
    pub fn page_size(mut self, bytes: u32) -> Self {
        self.page_size = bytes;
        self
    }

    /// The page cache of each read connection, in KiB (default 16 MiB). It fills only as pages
    /// are read. Pages past the mapped part of the file (`mmap_bytes`) are copied into it, so
    /// in a pool larger than the map it decides how many B-tree pages a lookup finds at hand.
    pub fn reader_cache_kib(mut self, kib: u32) -> Self {
        self.reader_cache_kib = kib;
        self
    }

    /// The size the write-ahead log is cut back to once a checkpoint has copied it into the
    /// database, in bytes (default 64 MiB; SQLite's `journal_size_limit`). A transaction
    /// needs all of its pages in the log, so one large import grows it to hundreds of
    /// megabytes; without a limit the file would keep that size for good.
    pub fn wal_limit_bytes(mut self, bytes: u64) -> Self {
        self.wal_limit_bytes = bytes;
        self
    }

    /// The largest the database file may grow to, in bytes (default: no limit but the
    /// disk). A commit that would pass it fails as on a full disk, and changes nothing.
    pub fn max_size_bytes(mut self, bytes: Option<u64>) -> Self {
        self.max_size_bytes = bytes;
        self
    }
}

/// The durable embedded store: pools in one SQLite file. Safe to share between threads;
/// several processes may open the same file.
pub struct SqliteStore {
    /// The path as given, for messages.
    path: PathBuf,
    /// The path from the root: read connections open lazily, after a change of directory too.
    location: PathBuf,
    /// The file the path named when the store opened it (`None` where that is not known).
    file: Option<FileId>,
    options: SqliteOptions,
    // Dropped before the writer: the last connection closed checkpoints the write-ahead log,
    // and readers never do (see `open_connection`).
    readers: Mutex<Readers>,
    /// Signalled when a read connection is given back, or a place for one frees.
    reader_free: Condvar,
    writer: Mutex<Connection>,
    /// Commits waiting for the writer, and whether one caller is committing (group commit).
    group: Mutex<Group>,
    /// Signalled when a group has been answered and the writer is free again.
    group_done: Condvar,
}

/// The read connections: those open between reads, how many are open in all, and how many
/// reads wait for one.
struct Readers {
    idle: Vec<Connection>,
    open: usize,
    waiting: usize,
}

/// A read connection lent to one read; it goes back to the pool when dropped, even by a panic.
struct LentReader<'a> {
    store: &'a SqliteStore,
    conn: Option<Connection>,
}

impl Drop for LentReader<'_> {
    fn drop(&mut self) {
        let mut readers = self.store.readers.lock().unwrap_or_else(PoisonError::into_inner);
        let closed = match self.conn.take() {
            Some(conn) if readers.idle.len() < self.store.options.idle_readers.max(1) => {
                readers.idle.push(conn);
                None
            }
            other => {
                readers.open -= 1;
                other
            }
        };
        // Waking costs a system call even with nobody to wake: only when a read waits. A
        // connection closed here is closed first, so that no more than `max_readers` are open.
        let wake = readers.waiting > 0;
        drop(readers);
        drop(closed);
        if wake {
            self.store.reader_free.notify_one();
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if !matches!(self.file_now(), FileNow::Opened) {
            // The readers first: a checkpoint cannot empty the log past what a reader holds.
            drop(std::mem::take(&mut self.readers.get_mut().unwrap_or_else(PoisonError::into_inner).idle));
            self.empty_the_log_of_a_replaced_file(&self.writer());
        }
    }
}

/// The group-commit state.
#[derive(Default)]
struct Group {
    queue: Vec<Arc<Pending>>,
    leading: bool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the pool database at `path`, creating the file if it is missing, and brings
    /// its schema up to date.
    ///
    /// Fails with `InvalidParameterException` when the path cannot hold a pool database
    /// (a missing directory, a read-only file, a file that is not a SQLite database, one
    /// written by a newer userpool) and with `InternalErrorException` when the database
    /// cannot be used (locked past the timeout, I/O failure, full disk); the message names
    /// the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// [`SqliteStore::open`] with options.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = not_a_uri(path.as_ref());
        check_path(&path)?;
        if !options.page_size.is_power_of_two() || !(512..=65_536).contains(&options.page_size) {
            return Err(Error::new(
                ErrorCode::InvalidParameter,
                format!("{}: page size {} is not a power of two from 512 to 65536", path.display(), options.page_size),
            ));
        }
        if options.existing_only && !path.exists() {
            return Err(Error::new(ErrorCode::InvalidParameter, format!("{} does not exist", path.display())));
        }
        if !options.existing_only {
            create_owner_only(&path);
        }
        let location = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        let mut writer = open_connection(&location, &options, false).map_err(|e| open_error(&path, &options, &e))?;
        // Before the migrations, which may be long: the file this store writes is the one
        // the writer opened, and it is checked again once they are done.
        let file = FileId::of(&location).ok();
        if options.existing_only && !holds_pools(&writer).map_err(|e| open_error(&path, &options, &e))? {
            return Err(Error::new(
                ErrorCode::InvalidParameter,
                format!(
                    "{} holds no userpool pools (it has no userpool_schema table); it was left as it is",
                    path.display()
                ),
            ));
        }
        // The range bounds of listings and searches are UTF-8 bytes given to SQLite as text:
        // a UTF-16 database would read them as other characters and list nobody.
        let encoding: String =
            writer.query_row("PRAGMA encoding", [], |r| r.get(0)).map_err(|e| open_error(&path, &options, &e))?;
        if encoding != "UTF-8" {
            return Err(Error::new(
                ErrorCode::InvalidParameter,
                format!(
                    "{} stores its text as {encoding}; userpool's tables need a UTF-8 database. It was left as it \
                     is (`sqlite3 OLD .dump | sqlite3 NEW` copies every table into a new file, which is UTF-8)",
                    path.display()
                ),
            ));
        }
        // A file this open would refuse is refused before anything about it changes (its
        // journal mode below). The migration checks again, inside its transaction.
        let current = schema_version(&writer).map_err(|e| open_error(&path, &options, &e))?;
        if let Some(refused) = schema_refusal(current, &path, !options.existing_only) {
            return Err(refused);
        }
        // Only a file with no tables yet takes a page size; for others this changes nothing.
        writer.pragma_update(None, "page_size", options.page_size).map_err(|e| open_error(&path, &options, &e))?;
        let wal: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| open_error(&path, &options, &e))?;
        if !wal.eq_ignore_ascii_case("wal") {
            return Err(Error::new(
                ErrorCode::InvalidParameter,
                format!("{}: cannot switch the database to WAL mode (it stays in {wal} mode)", path.display()),
            ));
        }
        // Before the migrations, which may add an index row per user and attribute: they too
        // stay within the cap, or fail as a full disk does and are rolled back.
        if let Some(bytes) = options.max_size_bytes {
            let page_size: i64 =
                writer.query_row("PRAGMA page_size", [], |r| r.get(0)).map_err(|e| open_error(&path, &options, &e))?;
            let pages = i64::try_from(bytes).unwrap_or(i64::MAX) / page_size.max(1);
            writer
                .query_row(&format!("PRAGMA max_page_count = {}", pages.max(1)), [], |_| Ok(()))
                .map_err(|e| open_error(&path, &options, &e))?;
        }
        migrate(&mut writer, &path, !options.existing_only).map_err(|e| match e {
            MigrationError::Sqlite(e) => open_error(&path, &options, &e),
            MigrationError::Refused(error) => error,
        })?;
        let store = Self {
            path,
            location,
            file,
            options,
            readers: Mutex::new(Readers { idle: Vec::new(), open: 0, waiting: 0 }),
            reader_free: Condvar::new(),
            writer: Mutex::new(writer),
            group: Mutex::new(Group::default()),
            group_done: Condvar::new(),
        };
        // The first read connection, kept idle, opens as every other does: checked against
        // the file the writer opened, which may have been replaced during the migrations.
        match store.read(|_| Ok(())) {
            Ok(()) => Ok(store),
            Err(e) => Err(Error::internal(match e {
                StoreError::Backend(why) | StoreError::Unreadable(why) => why,
                other => other.to_string(),
            })),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many commits wait for the writer behind the one committing now, if one is: for
    /// tests that make commits share a group (see [`Store::commit`]).
    #[doc(hidden)]
    pub fn commits_waiting(&self) -> Option<usize> {
        let group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
        group.leading.then_some(group.queue.len())
    }

    /// The ids of the pools the file holds (every pool that was ever opened on it), in order.
    pub fn pool_ids(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut pools = c.prepare("SELECT pool FROM userpool_secrets WHERE name = ?1 ORDER BY pool")?;
            pools.query_map([crate::keyring::SECRET_NAME], |row| row.get(0))?.collect()
        })
        .map_err(|e| Error::internal(e.to_string()))
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64> {
        self.read(|c| c.query_row("SELECT COALESCE(MAX(version), 0) FROM userpool_schema", [], |r| r.get(0)))
            .map_err(|e| Error::internal(e.to_string()))
    }

    /// Copies every pool of the file, as of one moment, into a new file at `dest`, while the
    /// store goes on serving: an app's backup (restoring one: `docs/storage.md`, "Backups").
    ///
    /// The copy is compacted (SQLite's `VACUUM INTO`, which rebuilds every index: an index of
    /// the app's own on a collation only the app's connections define fails the copy),
    /// readable and writable by its owner only where the file system keeps Unix permissions,
    /// and synced to disk. It is made in a hidden directory of its own beside `dest`
    /// (`.userpool-backup-…`, removed after) and appears at `dest` only once it is whole; a
    /// crash midway leaves that directory behind, never a partial copy at `dest`. It holds
    /// what the file holds: password hashes, personal data, and the signing keys and TOTP
    /// secrets (sealed when the pool has an encryption key, in plain form otherwise).
    ///
    /// Fails with `InvalidParameterException`, writing nothing, when `dest` exists (a backup
    /// never replaces a file), is in a missing directory or one whose path is not UTF-8, ends
    /// in `-wal`, `-shm` or `-journal`, or has such a file of SQLite's beside it (which would
    /// be taken as the copy's own), and with `InternalErrorException` when the copy cannot be
    /// made (a full disk, the store's file replaced); the message names the files.
    pub fn backup_to(&self, dest: impl AsRef<Path>) -> Result<()> {
        back_up(&self.path, dest.as_ref(), self.options.busy_timeout, || {
            self.connect_to_the_file_opened("nothing was copied").map_err(|e| {
                Error::internal(match e {
                    StoreError::Backend(why) | StoreError::Unreadable(why) => why,
                    other => other.to_string(),
                })
            })
        })
    }

    /// [`SqliteStore::backup_to`] of the pool file at `path`, without opening it as a store:
    /// nothing of the file changes (no migration, no switch to WAL, no write lock), whatever
    /// library version wrote it. For tools, and for a copy taken before a new version of the
    /// app migrates the file. Fails with `InvalidParameterException` when `path` is missing or
    /// holds no pools.
    pub fn backup_file(path: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<()> {
        let path = not_a_uri(path.as_ref());
        let options = SqliteOptions::default();
        if !path.is_file() {
            return Err(Error::new(ErrorCode::InvalidParameter, format!("{} does not exist", path.display())));
        }
        back_up(&path, dest.as_ref(), options.busy_timeout, || {
            // A reader's open: it makes no file, even one removed since it was looked at.
            let conn = connect(&path, &options, true).map_err(|e| open_error(&path, &options, &e))?;
            match holds_pools(&conn) {
                Ok(true) => Ok(conn),
                Ok(false) => {
                    Err(Error::new(ErrorCode::InvalidParameter, format!("{} holds no userpool pools", path.display())))
                }
                Err(e) => Err(open_error(&path, &options, &e)),
            }
        })
    }

    fn backend(&self, e: &rusqlite::Error) -> StoreError {
        StoreError::Backend(describe(&self.path, &self.options, e))
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic inside a commit drops its transaction, which rolls it back: the
        // connection is clean even when the mutex is poisoned.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let mut lent = self.lend_reader()?;
        let conn = match lent.conn.as_ref() {
            Some(conn) => conn,
            None => {
                let conn = self.connect_to_the_file_opened("nothing was read")?;
                lent.conn.insert(configure(conn, &self.options, true).map_err(|e| self.backend(&e))?)
            }
        };
        f(conn).map_err(|e| self.read_error(&e))
    }

    /// A new connection to the store's file, not yet configured. The path is checked before
    /// the open, and after it for a file replaced in between, before the connection reads
    /// anything: it would read another file with this one's log.
    fn connect_to_the_file_opened(&self, outcome: &str) -> Result<Connection, StoreError> {
        self.still_the_file_opened(outcome)?;
        let conn = connect(&self.location, &self.options, true).map_err(|e| self.backend(&e))?;
        self.still_the_file_opened(outcome)?;
        Ok(conn)
    }

    /// Fails unless the path still names the file the store opened. A file deleted, moved or
    /// replaced (a backup restored by renaming a copy over it) under an open store stays
    /// open to its connections: writes would go on, acknowledged, into a file nobody opens
    /// again, and new connections would open whatever the path names now, with the old
    /// file's write-ahead log beside it.
    fn still_the_file_opened(&self, outcome: &str) -> Result<(), StoreError> {
        let why = match self.file_now() {
            FileNow::Opened => return Ok(()),
            FileNow::Replaced => {
                "it was replaced while open (a backup restored by renaming a copy over it?). Close the pool and \
                 open it again; restore a backup only while every process has the pool closed"
            }
            FileNow::Gone => {
                "it was deleted or moved while open, and nothing is at the path now. Put the file back before \
                 opening the pool again: that would make a new, empty pool"
            }
        };
        Err(StoreError::Backend(format!(
            "{} is no longer the file this pool opened ({outcome}): {why}.",
            self.path.display()
        )))
    }

    /// What the path names now, against the file the store opened.
    fn file_now(&self) -> FileNow {
        let Some(opened) = self.file else { return FileNow::Opened };
        match FileId::of(&self.location) {
            Ok(now) if now != opened => FileNow::Replaced,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
                FileNow::Gone
            }
            // Not known (a sandbox, a directory made unsearchable) counts as the same: the
            // store's descriptors still work, and refusing every write would stop a healthy pool.
            _ => FileNow::Opened,
        }
    }

    /// Moves what the write-ahead log holds into the file the store opened, wherever it is
    /// now, and empties the log. The log is named after the path, so the file that is there
    /// now would take it for its own when next opened, reading this file's pages as its own.
    /// SQLite's own checkpoint at close skips a file that moved, leaving the log behind.
    fn empty_the_log_of_a_replaced_file(&self, writer: &Connection) {
        let checkpoint = writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        if !matches!(checkpoint, Ok((0, _, _))) {
            // The log holds commits of the file the store opened, wherever it is now: it is
            // not to be deleted, nor opened with what the path names now.
            tracing::warn!(
                file = %self.path.display(),
                outcome = ?checkpoint,
                "the write-ahead log of a pool file deleted, moved or replaced while open could not be emptied \
                 into it (busy: another connection reads it). With every process's pool closed, move the -wal \
                 file beside the pool file it belongs to, or open that file at its old path again"
            );
        }
    }

    /// An idle read connection, or a place for a new one (`conn: None`): waits while
    /// [`SqliteOptions::max_readers`] are busy. Reads never wait for anything else while they
    /// hold one, so waiting cannot deadlock.
    fn lend_reader(&self) -> Result<LentReader<'_>, StoreError> {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(conn) = readers.idle.pop() {
                return Ok(LentReader { store: self, conn: Some(conn) });
            }
            if readers.open < self.options.max_readers.max(1) {
                readers.open += 1;
                return Ok(LentReader { store: self, conn: None });
            }
            readers.waiting += 1;
            readers = self.reader_free.wait(readers).unwrap_or_else(PoisonError::into_inner);
            readers.waiting -= 1;
        }
    }

    /// The one row (of a pool's key: `pool`, then `key`) that `sql` selects, if any.
    fn point_read<T>(
        &self,
        sql: &str,
        pool: &str,
        key: &str,
        row: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, StoreError> {
        self.read(|c| c.prepare_cached(sql)?.query_row(params![pool, key], row).optional())
    }

    /// A read's failure: [`StoreError::Unreadable`] for a record this library cannot use.
    fn read_error(&self, e: &rusqlite::Error) -> StoreError {
        if is_record_error(e) {
            StoreError::Unreadable(describe(&self.path, &self.options, e))
        } else {
            self.backend(e)
        }
    }

    /// The users whose `sub` is in `[low, high)`, in `sub` order, after the cursor `after`
    /// (a `sub` in that range).
    fn subs_between(
        &self,
        pool: &str,
        low: &str,
        high: &[u8],
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&UserRecord) -> bool,
    ) -> Result<UserPage, StoreError> {
        let row = |sub: &String| format!("user {sub}");
        self.page(limit, after.map(str::to_owned), keep, Clone::clone, row, |cursor, chunk| {
            // A cursor before the range (none the store gives) starts it from its beginning.
            let cursor = cursor.filter(|cursor| cursor.as_str() >= low);
            self.read(|c| {
                // Two statements, so that each seeks straight to where it starts.
                let sql = if cursor.is_none() {
                    "SELECT sub, record FROM userpool_users
                     WHERE pool = ?1 AND sub >= ?2 AND sub < CAST(?3 AS TEXT) ORDER BY sub LIMIT ?4"
                } else {
                    "SELECT sub, record FROM userpool_users
                     WHERE pool = ?1 AND sub > ?2 AND sub < CAST(?3 AS TEXT) ORDER BY sub LIMIT ?4"
                };
                let mut stmt = c.prepare_cached(sql)?;
                let start = cursor.map_or(low, String::as_str);
                let rows = stmt.query_map(params![pool, start, high, limit_to_sql(chunk)], |r| {
                    Ok((r.get(0)?, record_text(r, 1)?))
                })?;
                rows.collect()
            })
        })
    }

    /// Fills a page of at most `limit` kept users from rows read in order, a chunk at a
    /// time: `fetch(after, n)` reads the next `n` rows (a cursor and a record each) after a
    /// cursor, from the start for `None`. The page's `next` is the token of its last user.
    fn page<C>(
        &self,
        limit: usize,
        mut cursor: Option<C>,
        keep: &dyn Fn(&UserRecord) -> bool,
        token: impl Fn(&C) -> String,
        row: impl Fn(&C) -> String,
        mut fetch: impl FnMut(Option<&C>, usize) -> Result<Vec<(C, Option<String>)>, StoreError>,
    ) -> Result<UserPage, StoreError> {
        let mut page = UserPage::default();
        let mut last_kept = None;
        // The first chunk fits a page of unfiltered users and the one after it.
        let mut chunk = limit.saturating_add(1).min(LIST_CHUNK);
        loop {
            let rows = fetch(cursor.as_ref(), chunk)?;
            let exhausted = rows.len() < chunk;
            for (at, record) in rows {
                // Named by its sub or row id: the record holds hashes and personal data.
                let user: UserRecord = record
                    .ok_or(RecordError::NotText)
                    .and_then(|text| from_json_record(&text))
                    .map_err(|e| StoreError::Unreadable(format!("{}: {} ({})", self.path.display(), e, row(&at))))?;
                // A chunk is read on its own, so a user whose term changed between two of
                // them may come again: once on a page is enough.
                if keep(&user) && !page.users.iter().any(|kept| kept.sub == user.sub) {
                    if page.users.len() == limit {
                        page.next = last_kept;
                        return Ok(page);
                    }
                    page.users.push(user);
                    last_kept = Some(token(&at));
                }
                cursor = Some(at);
            }
            if exhausted {
                return Ok(page);
            }
            chunk = LIST_CHUNK;
        }
    }
}

/// A `users_matching` cursor, `{user id}:{term}`, as `users_matching` wrote it.
fn parse_search_cursor(token: &str) -> Result<(String, i64), StoreError> {
    let (id, term) = token.split_once(':').ok_or(StoreError::InvalidCursor)?;
    let id = id.parse().map_err(|_| StoreError::InvalidCursor)?;
    Ok((term.to_owned(), id))
}

fn check_path(path: &Path) -> Result<()> {
    let invalid = |why: String| Error::new(ErrorCode::InvalidParameter, format!("{}: {why}", path.display()));
    if path.as_os_str().is_empty() {
        return Err(Error::new(ErrorCode::InvalidParameter, "the pool database path is empty"));
    }
    if path.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(Error::new(ErrorCode::InvalidParameter, "the pool database path contains a NUL character"));
    }
    // SQLite's name for a database in memory, which would not be this file, nor survive.
    if path.as_os_str() == ":memory:" {
        return Err(invalid(
            "is SQLite's name for a database in memory: open the pool without a path for one in memory, or \
             name a file (./:memory: for a file of that name)"
                .into(),
        ));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(invalid(format!(
            "cannot create the pool database: the directory {} does not exist",
            parent.display()
        )));
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(invalid("is a directory, not a pool database file".into())),
        // Refused even where the process could override the mode (root): a pool writes on
        // every sign-in, and whoever made the file read-only meant it.
        Ok(meta) if meta.permissions().readonly() => {
            Err(invalid("the file is read-only; a pool database must be writable".into()))
        }
        _ => Ok(()),
    }
}

/// Creates a missing database file readable and writable by its owner only: without a host
/// key it holds the signing keys and TOTP secrets in plain form (`docs/security.md`). SQLite
/// gives the `-wal` and `-shm` files the database file's mode. A file that exists keeps its
/// mode; a failure here is left for SQLite's own open to report.
fn create_owner_only(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A link to a missing file is followed, as SQLite will: the file it names is made.
        // The links are read here and the file made with `create_new`, which opens nothing
        // that exists: a FIFO put where the link points meanwhile would block an open.
        let mut target = path.to_path_buf();
        for _ in 0..40 {
            let Ok(next) = std::fs::read_link(&target) else { break };
            target = target.parent().map_or_else(|| next.clone(), |dir| dir.join(&next));
        }
        drop(std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(target));
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Copies the pool file at `source`, through the connection `open` gives (which has read
/// nothing yet), into a new file at `dest`: see [`SqliteStore::backup_to`].
fn back_up(source: &Path, dest: &Path, busy: Duration, open: impl FnOnce() -> Result<Connection>) -> Result<()> {
    let invalid = |why: &str| Error::new(ErrorCode::InvalidParameter, format!("{}: {why}", dest.display()));
    if dest.as_os_str().is_empty() {
        return Err(Error::new(ErrorCode::InvalidParameter, "the backup path is empty"));
    }
    let dest = std::path::absolute(dest).map_err(|e| invalid(&format!("cannot be made absolute: {e}")))?;
    let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
        return Err(invalid("names no file"));
    };
    if !dir.is_dir() {
        return Err(invalid(&format!("cannot make the backup: the directory {} does not exist", dir.display())));
    }
    const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];
    if SIDE_FILES.iter().any(|side| name.as_encoded_bytes().ends_with(side.as_bytes())) {
        // A name SQLite gives the log or journal of another file: a copy there would be
        // taken for that file's hot journal, and played back or deleted.
        return Err(invalid("ends like a file SQLite keeps beside a database; name the backup otherwise"));
    }
    if std::fs::symlink_metadata(&dest).is_ok() {
        return Err(invalid("exists already; a backup never replaces a file"));
    }
    for side in SIDE_FILES {
        let mut beside = dest.clone().into_os_string();
        beside.push(side);
        if std::fs::symlink_metadata(&beside).is_ok() {
            return Err(invalid(&format!(
                "{} is beside it, left from another database of that name: SQLite would apply it to the copy. \
                 Remove it, or name the backup otherwise",
                Path::new(&beside).display()
            )));
        }
    }
    // A directory only this process's user can enter: nobody else can put a file of theirs in
    // the copy's place, whatever the permissions of `dir`.
    let private = dir.join(format!(
        ".userpool-backup-{}-{:x}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |t| t.as_nanos())
    ));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&private).map_err(|e| invalid(&format!("cannot make the backup there: {e}")))?;
    let made = copy_into(source, &dest, &private.join("copy"), busy, open);
    // The copy's name is a link to it by now, or the copy failed: nothing in it is needed.
    drop(std::fs::remove_dir_all(&private));
    made
}

/// `VACUUM INTO` a new file at `partial`, which then gets the name `dest`.
fn copy_into(
    source: &Path,
    dest: &Path,
    partial: &Path,
    busy: Duration,
    open: impl FnOnce() -> Result<Connection>,
) -> Result<()> {
    let not_made = |why: String| Error::internal(format!("{}: the backup was not made: {why}", dest.display()));
    let Some(partial_text) = partial.to_str() else {
        return Err(Error::new(
            ErrorCode::InvalidParameter,
            format!("{}: the directory's path is not valid UTF-8, which SQLite needs to make the copy", dest.display()),
        ));
    };
    // Made here, empty, so that it is the owner's only: SQLite would make it with the umask.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(partial).map_err(|e| not_made(e.to_string()))?;
    let conn = open()?;
    // As a reader's: its close must not checkpoint (see `configure`). One statement, one
    // read transaction: one moment of the file, which commits go on around.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .and_then(|_| conn.busy_timeout(busy))
        .and_then(|()| conn.execute("VACUUM INTO ?1", [partial_text]))
        .map_err(|e| {
            not_made(match e.sqlite_error_code() {
                Some(SqliteCode::DiskFull) => "the disk is full".to_owned(),
                Some(SqliteCode::DatabaseBusy | SqliteCode::DatabaseLocked) => {
                    format!("{} is locked by another connection or process", source.display())
                }
                // Reading the pool's file or writing the copy: SQLite's words do not say which.
                _ => format!("copying {} failed: {e}", source.display()),
            })
        })?;
    drop(conn);
    publish(partial, dest).map_err(|e| not_made(e.to_string()))
}

/// Syncs the finished copy `partial` and gives it the name `dest`, without replacing a file
/// made there meanwhile, then syncs the directory so that the name survives a power loss.
fn publish(partial: &Path, dest: &Path) -> std::io::Result<()> {
    // Whatever SQLite synced: the copy is on disk before it has its name. (Windows flushes
    // only through a handle that may write.)
    std::fs::OpenOptions::new().write(true).open(partial)?.sync_all()?;
    // A hard link fails where `dest` exists, where a rename would replace it. Where links
    // cannot be made (some Android versions refuse them to apps; FAT has none), a rename,
    // with nothing at `dest` a moment before: a file made there in that moment is replaced.
    match std::fs::hard_link(partial, dest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(std::io::Error::new(
                e.kind(),
                "a file appeared there while the copy was made; it was left as it is",
            ));
        }
        Err(e) => match std::fs::symlink_metadata(dest) {
            Err(absent) if absent.kind() == std::io::ErrorKind::NotFound => std::fs::rename(partial, dest)?,
            _ => return Err(e),
        },
    }
    #[cfg(unix)]
    if let Some(dir) = dest.parent()
        && let Err(e) = std::fs::File::open(dir).and_then(|dir| dir.sync_all())
    {
        // The copy is whole at its name; only a power loss now could take the name away.
        // Some file systems refuse to sync a directory (SQLite ignores that too).
        tracing::warn!(backup = %dest.display(), error = %e, "the backup's directory could not be synced");
    }
    Ok(())
}

/// Which file a path names: its device and inode. Known on Unix, where a file open in one
/// process can be deleted or replaced under it.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(unix), allow(dead_code, reason = "elsewhere an open file is not deleted or replaced under it"))]
struct FileId {
    device: u64,
    inode: u64,
}

impl FileId {
    /// The file `path` names now, through links. An error where there is none, or where it
    /// is not known (on systems other than Unix: `Unsupported`).
    fn of(path: &Path) -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(path).map(|meta| Self { device: meta.dev(), inode: meta.ino() })
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            Err(std::io::ErrorKind::Unsupported.into())
        }
    }
}

/// What a store's path names now.
enum FileNow {
    /// The file the store opened (or what it names is not known).
    Opened,
    /// Another file.
    Replaced,
    /// Nothing.
    Gone,
}

/// Whether the database has userpool's tables (a schema table, as every version writes).
fn holds_pools(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'userpool_schema')",
        [],
        |r| r.get(0),
    )
}

/// `path` as a name SQLite takes for a file. The bundled SQLite reads a name that begins with
/// `file:` as a URI (`file:pool.db?mode=ro`): it would open another file than the one this
/// store checked and created owner-only, and `?` and `#` would cut the name short.
fn not_a_uri(path: &Path) -> PathBuf {
    if path.as_os_str().as_encoded_bytes().starts_with(b"file:") {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    }
}

fn open_connection(path: &Path, options: &SqliteOptions, reader: bool) -> rusqlite::Result<Connection> {
    configure(connect(path, options, reader)?, options, reader)
}

/// A connection to `path`, which has read nothing yet (SQLite reads the file, and opens its
/// log, at the first statement that needs the schema).
fn connect(path: &Path, options: &SqliteOptions, reader: bool) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // An administering tool's open makes no file, even one removed since it looked.
    if !reader && !options.existing_only {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    Connection::open_with_flags(path, flags)
}

/// Sets a new connection up as the store uses it.
fn configure(conn: Connection, options: &SqliteOptions, reader: bool) -> rusqlite::Result<Connection> {
    if reader {
        // The last connection to a file to close checkpoints the log into it. A reader opened
        // on a file put in place of the store's (see `SqliteStore::still_the_file_opened`)
        // would copy the store's log into that file, then delete the log from under the
        // writer. The writer's checkpoints are enough.
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    }
    conn.busy_timeout(options.busy_timeout)?;
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
            Some("the file or its directory is not writable".into()),
        ));
    }
    // Durability first: see the module documentation and docs/storage.md.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // On Apple systems fsync leaves the write in the drive's cache, where a power loss drops
    // it; F_FULLFSYNC flushes it, for every sync including checkpoints'. Elsewhere SQLite
    // ignores the flag.
    conn.pragma_update(None, "fullfsync", "ON")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    // What a write deletes or replaces (an old password hash, a deleted user's attributes, a
    // TOTP secret) is zeroed in the pages it rewrites, not left in their free space for a
    // stolen copy to read. FAST costs no I/O; pages freed whole keep theirs until reused.
    conn.pragma_update(None, "secure_delete", "FAST")?;
    // One plan per statement, whatever the bound values: without this, SQLite may mark a cached
    // statement for re-preparation whenever a parameter is bound (a parse on every lookup).
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // A negative cache_size is in KiB.
    let cache_kib = if reader { i64::from(options.reader_cache_kib) } else { 65_536 };
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    // `PRAGMA mmap_size` answers with the size it set: a query, not an update.
    conn.query_row(&format!("PRAGMA mmap_size = {}", options.mmap_bytes), [], |_| Ok(()))?;
    if reader {
        conn.pragma_update(None, "query_only", "ON")?;
    } else {
        // Answers with the limit it set: a query, like mmap_size.
        let limit = i64::try_from(options.wal_limit_bytes).unwrap_or(i64::MAX);
        conn.query_row(&format!("PRAGMA journal_size_limit = {limit}"), [], |_| Ok(()))?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

enum MigrationError {
    Sqlite(rusqlite::Error),
    Refused(Error),
}

impl From<rusqlite::Error> for MigrationError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

/// Brings the schema up to [`SCHEMA_VERSION`]; without `upgrade`, refuses a file that is
/// behind it (and changes nothing) rather than migrate it.
fn migrate(conn: &mut Connection, path: &Path, upgrade: bool) -> std::result::Result<(), MigrationError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS userpool_schema (
            version     INTEGER PRIMARY KEY,
            description TEXT    NOT NULL,
            applied_ms  INTEGER NOT NULL
        )",
    )?;
    let current = schema_version(&tx)?;
    if let Some(refused) = schema_refusal(current, path, upgrade) {
        return Err(MigrationError::Refused(refused));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    for step in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.execute_batch(step.sql)?;
        if let Some(fill) = step.fill {
            fill(&tx)?;
        }
        tx.execute(
            "INSERT INTO userpool_schema (version, description, applied_ms) VALUES (?1, ?2, ?3)",
            params![step.version, step.description, now],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The schema version the file records (0 for a file without userpool's tables yet).
fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    if !holds_pools(conn)? {
        return Ok(0);
    }
    conn.query_row("SELECT COALESCE(MAX(version), 0) FROM userpool_schema", [], |r| r.get(0))
}

/// Why a file at schema version `current` may not be opened, if it may not: written by a
/// newer library, or (without `upgrade`) by an older one.
fn schema_refusal(current: i64, path: &Path, upgrade: bool) -> Option<Error> {
    let why = if current > SCHEMA_VERSION {
        format!(
            "{}: the pool database has schema version {current}, written by a newer userpool; this version \
             understands up to {SCHEMA_VERSION}. Upgrade userpool to open it.",
            path.display()
        )
    } else if current < SCHEMA_VERSION && !upgrade {
        format!(
            "{}: the pool database has schema version {current}, written by an older userpool; this version \
             would upgrade it to {SCHEMA_VERSION}, after which the older one can no longer write to it. Upgrade \
             the app that uses it first (its next open upgrades the file); administering tools never do.",
            path.display()
        )
    } else {
        return None;
    };
    Some(Error::new(ErrorCode::InvalidParameter, why))
}

/// What went wrong, for people: names the file, never a value.
fn describe(path: &Path, options: &SqliteOptions, e: &rusqlite::Error) -> String {
    let file = path.display();
    match e.sqlite_error_code() {
        Some(SqliteCode::NotADatabase) => format!("{file} is not a SQLite database (or is encrypted)"),
        Some(SqliteCode::DatabaseCorrupt) => format!("{file}: the database file is corrupt"),
        Some(SqliteCode::DatabaseBusy | SqliteCode::DatabaseLocked) => format!(
            "{file} is locked by another connection or process (waited {} ms)",
            options.busy_timeout.as_millis()
        ),
        Some(SqliteCode::ReadOnly) => format!("{file} is read-only (the file or its directory is not writable)"),
        Some(SqliteCode::CannotOpen) => format!("cannot open {file}{}", os_refusal(path)),
        Some(SqliteCode::DiskFull) => {
            format!("{file}: the disk or the database's size limit is full; nothing of the failed write was kept")
        }
        Some(SqliteCode::SystemIoFailure) => format!("{file}: I/O error ({e})"),
        _ => format!("{file}: {e}"),
    }
}

/// Why the system refuses `path`, which SQLite reports only as "unable to open": what the
/// system says of the path (`: Too many levels of symbolic links (os error 40)`), or what
/// to check. It never opens the file: closing any descriptor of it would drop the locks
/// this process's connections hold on it, and another process could then take its WAL away
/// (SQLite's "How To Corrupt", 2.2).
fn os_refusal(path: &Path) -> String {
    match std::fs::metadata(path) {
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && path.parent().filter(|dir| !dir.as_os_str().is_empty()).is_none_or(Path::is_dir) =>
        {
            ": it is not there, and could not be made (may this process write to its directory?)".to_owned()
        }
        Err(e) => format!(": {e}"),
        Ok(_) => {
            " (it is there: may this process read and write it, and make the -wal and -shm files beside it?)".to_owned()
        }
    }
}

fn open_error(path: &Path, options: &SqliteOptions, e: &rusqlite::Error) -> Error {
    let code = match e.sqlite_error_code() {
        Some(SqliteCode::NotADatabase | SqliteCode::ReadOnly | SqliteCode::CannotOpen) => ErrorCode::InvalidParameter,
        _ => ErrorCode::InternalError,
    };
    Error::new(code, describe(path, options, e))
}

fn to_json<T: Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Why a stored user or family cannot be used: it does not decode, or a newer library wrote
/// it (see [`Record`]). Says where decoding failed, never what the record holds: serde's
/// own messages may quote it, so `Debug` is `Display` too.
enum RecordError {
    Undecodable(serde_json::Error),
    NotText,
    Newer(String),
    /// At `i64::MAX`: one more write would keep the version, and two writers that read it
    /// would then both pass the check meant to let one of them through.
    VersionExhausted,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Undecodable(e) => {
                write!(f, "a stored record could not be decoded ({:?} error at column {})", e.classify(), e.column())
            }
            Self::NotText => f.write_str("a stored record is not UTF-8 text"),
            Self::Newer(why) => f.write_str(why),
            Self::VersionExhausted => f.write_str("a stored record's version is at its largest and cannot grow"),
        }
    }
}

impl std::fmt::Debug for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for RecordError {}

impl From<RecordError> for rusqlite::Error {
    fn from(e: RecordError) -> Self {
        Self::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    }
}

/// Whether `e` is a stored record this library cannot use, rather than the database failing.
fn is_record_error(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::FromSqlConversionFailure(_, _, cause) if cause.is::<RecordError>())
}

/// Decodes a user or family, refusing one written by a newer library (see [`Record`]),
/// also when what the newer library added is what keeps it from decoding (a status this
/// one does not know, say).
fn from_json_record<T: DeserializeOwned + Record>(text: &str) -> std::result::Result<T, RecordError> {
    /// Only the version, which any record has, whatever else it holds.
    #[derive(serde::Deserialize)]
    struct Head {
        record_version: u32,
    }
    match serde_json::from_str::<T>(text) {
        Ok(record) => newer_record(record.record_version()).map_or(Ok(record), |why| Err(RecordError::Newer(why))),
        Err(e) => Err(serde_json::from_str::<Head>(text)
            .ok()
            .and_then(|head| newer_record(head.record_version))
            .map_or(RecordError::Undecodable(e), RecordError::Newer)),
    }
}

/// Why a record of `version` cannot be used here, if it cannot.
fn newer_record(version: u32) -> Option<String> {
    (version > RECORD_VERSION).then(|| {
        format!(
            "a stored record was written by a newer userpool (record version {version}; this one understands up \
             to {RECORD_VERSION}): upgrade userpool to use it"
        )
    })
}

/// A record column as text; `None` when it is not (a BLOB, or bytes that are not UTF-8),
/// which no library writes: callers treat it as a record that does not decode.
fn record_text(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Option<String>> {
    Ok(row.get_ref(index)?.as_str().ok().map(str::to_owned))
}

/// Decodes stored JSON that carries no record version (a user's keys, an audit event).
fn from_json<T: DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| RecordError::Undecodable(e).into())
}

/// The version a write gives a record it read at `expect` (1 for a new record).
fn next_version(expect: Option<u64>) -> rusqlite::Result<i64> {
    let Some(read) = expect else { return Ok(1) };
    i64::try_from(read).ok().and_then(|v| v.checked_add(1)).ok_or_else(|| RecordError::VersionExhausted.into())
}

fn version_from_sql(version: i64) -> u64 {
    u64::try_from(version).unwrap_or(0)
}

fn limit_to_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn versioned<T: DeserializeOwned + Record>(row: &rusqlite::Row<'_>) -> rusqlite::Result<Versioned<T>> {
    let version: i64 = row.get(0)?;
    // Decoded in place, without copying the record into a String first.
    let record = row.get_ref(1)?.as_str().map_err(|_| RecordError::NotText)?;
    Ok(Versioned { version: version_from_sql(version), value: from_json_record(record)? })
}

fn check(current: Option<u64>, expect: Option<u64>) -> Result<(), StoreError> {
    if current == expect { Ok(()) } else { Err(StoreError::Conflict) }
}

/// Why a commit stopped: an unmet expectation, or the database failed.
enum CommitError {
    Store(StoreError),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for CommitError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl From<StoreError> for CommitError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

type CommitResult<T> = std::result::Result<T, CommitError>;

/// A user's row id and version.
fn user_row(tx: &Connection, pool: &str, sub: &str) -> rusqlite::Result<Option<(i64, u64)>> {
    tx.prepare_cached("SELECT id, version FROM userpool_users WHERE pool = ?1 AND sub = ?2")?
        .query_row(params![pool, sub], |r| Ok((r.get(0)?, version_from_sql(r.get(1)?))))
        .optional()
}

/// What the rows beside a stored user were derived from: its row id, unique keys and search
/// terms (`None`: its record no longer decodes, so they are not known).
struct StoredUser {
    id: i64,
    keys: Vec<String>,
    terms: Option<Vec<(&'static str, String)>>,
}

fn stored_user(tx: &Connection, pool: &str, sub: &str) -> rusqlite::Result<Option<StoredUser>> {
    let row: Option<(i64, String, Option<UserRecord>)> = tx
        .prepare_cached("SELECT id, keys, record FROM userpool_users WHERE pool = ?1 AND sub = ?2")?
        .query_row(params![pool, sub], |r| {
            // A record that no longer decodes (or is not even text) can still be replaced or
            // deleted; a newer library's may hold terms this one does not know (see unindex_user).
            let record = record_text(r, 2)?.and_then(|text| from_json_record(&text).ok());
            Ok((r.get(0)?, r.get(1)?, record))
        })
        .optional()?;
    row.map(|(id, keys, record)| {
        Ok(StoredUser { id, keys: from_json(&keys)?, terms: record.as_ref().map(search_terms) })
    })
    .transpose()
}

/// A family's row id and version, and its record decoded (or why it cannot be).
type StoredFamily = ((i64, u64), std::result::Result<Family, RecordError>);

fn stored_family(tx: &Connection, pool: &str, id: &str) -> rusqlite::Result<Option<StoredFamily>> {
    tx.prepare_cached("SELECT id, version, record FROM userpool_families WHERE pool = ?1 AND family = ?2")?
        .query_row(params![pool, id], |r| {
            let record = record_text(r, 2)?.ok_or(RecordError::NotText).and_then(|text| from_json_record(&text));
            Ok(((r.get(0)?, version_from_sql(r.get(1)?)), record))
        })
        .optional()
}

fn family_row(tx: &Connection, pool: &str, family: &str) -> rusqlite::Result<Option<(i64, u64)>> {
    tx.prepare_cached("SELECT id, version FROM userpool_families WHERE pool = ?1 AND family = ?2")?
        .query_row(params![pool, family], |r| Ok((r.get(0)?, version_from_sql(r.get(1)?))))
        .optional()
}

/// Checks every write against the state before the commit, exactly as `MemoryStore`
/// does: the first unmet expectation, in write order, is the answer.
fn validate(tx: &Connection, pool: &str, writes: &[Write]) -> CommitResult<()> {
    // Keys claimed inside this commit, to catch two users of one commit claiming one key.
    let mut claimed: HashMap<&str, &str> = HashMap::new();
    for write in writes {
        match write {
            Write::PutUser { user, keys, expect } => {
                let current = user_row(tx, pool, &user.sub)?;
                check(current.map(|(_, v)| v), *expect)?;
                let mut owner_of =
                    tx.prepare_cached("SELECT user_id FROM userpool_user_keys WHERE pool = ?1 AND key = ?2")?;
                for key in keys {
                    let owner: Option<i64> = owner_of.query_row(params![pool, key], |r| r.get(0)).optional()?;
                    if let Some(owner) = owner
                        && Some(owner) != current.map(|(id, _)| id)
                    {
                        return Err(StoreError::Taken(key.clone()).into());
                    }
                    if let Some(other) = claimed.insert(key, &user.sub)
                        && other != user.sub
                    {
                        return Err(StoreError::Taken(key.clone()).into());
                    }
                }
            }
            Write::DeleteUser { sub, expect } => {
                check(user_row(tx, pool, sub)?.map(|(_, v)| v), Some(*expect))?;
            }
            Write::PutFamily { family, new_hashes, expect } => {
                let current = family_row(tx, pool, &family.id)?;
                check(current.map(|(_, v)| v), *expect)?;
                let mut owner_of =
                    tx.prepare_cached("SELECT family_id FROM userpool_refresh_hashes WHERE pool = ?1 AND hash = ?2")?;
                for hash in new_hashes {
                    let owner: Option<i64> = owner_of.query_row(params![pool, hash], |r| r.get(0)).optional()?;
                    if owner.is_some_and(|owner| Some(owner) != current.map(|(id, _)| id)) {
                        return Err(StoreError::Conflict.into());
                    }
                }
            }
            Write::DeleteFamily { id, expect } => {
                check(family_row(tx, pool, id)?.map(|(_, v)| v), Some(*expect))?;
            }
            Write::RevokeFamily { id, .. } => {
                stored_family(tx, pool, id)?
                    .ok_or(StoreError::Conflict)?
                    .1
                    .map_err(|e| StoreError::Unreadable(format!("session family {id}: {e}")))?;
            }
            Write::AppendEvent(_) | Write::TrimEvents { .. } | Write::PurgeExpired { .. } => {}
            Write::PutSecret { name, expect, .. } => check(secret_version(tx, pool, name)?, *expect)?,
            Write::DeleteSecret { name, expect } => check(secret_version(tx, pool, name)?, Some(*expect))?,
        }
    }
    Ok(())
}

fn secret_version(tx: &Connection, pool: &str, name: &str) -> rusqlite::Result<Option<u64>> {
    let current: Option<i64> = tx
        .prepare_cached("SELECT version FROM userpool_secrets WHERE pool = ?1 AND name = ?2")?
        .query_row(params![pool, name], |r| r.get(0))
        .optional()?;
    Ok(current.map(version_from_sql))
}

fn apply(tx: &Connection, pool: &str, write: &Write) -> rusqlite::Result<()> {
    match write {
        Write::PutUser { user, keys, expect } => {
            let version = next_version(*expect)?;
            let old = stored_user(tx, pool, &user.sub)?;
            let (old_keys, old_terms) = old.map_or_else(|| (Vec::new(), Some(Vec::new())), |o| (o.keys, o.terms));
            let id: i64 = tx
                .prepare_cached(
                    "INSERT INTO userpool_users (pool, sub, version, username, keys, record)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (pool, sub) DO UPDATE SET version = excluded.version,
                        username = excluded.username, keys = excluded.keys, record = excluded.record
                     RETURNING id",
                )?
                .query_row(params![pool, user.sub, version, user.username, to_json(&keys)?, to_json(&user)?], |r| {
                    r.get(0)
                })?;
            // Only the user's own key rows: should the `keys` column ever disagree with the
            // keys table, no other user's name is released.
            let mut release =
                tx.prepare_cached("DELETE FROM userpool_user_keys WHERE pool = ?1 AND key = ?2 AND user_id = ?3")?;
            for old in old_keys.iter().filter(|k| !keys.contains(*k)) {
                release.execute(params![pool, old, id])?;
            }
            // Every key the user holds, not only the new ones: should the keys table have lost a
            // row the `keys` column lists (a hand edit, an older library's release), the next
            // write puts it back rather than leave the name free for another user. A row that
            // is there already is left as it is (`validate` found it this user's), unwritten.
            let mut claim = tx.prepare_cached(
                "INSERT INTO userpool_user_keys (pool, key, user_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (pool, key) DO UPDATE SET user_id = excluded.user_id
                 WHERE user_id IS NOT excluded.user_id",
            )?;
            for key in keys {
                claim.execute(params![pool, key, id])?;
            }
            let old_terms = match old_terms {
                Some(terms) => terms,
                None => {
                    unindex_user(tx, pool, id, None)?;
                    Vec::new()
                }
            };
            let terms = search_terms(user);
            let gone: Vec<_> = old_terms.iter().filter(|t| !terms.contains(t)).cloned().collect();
            let new: Vec<_> = terms.into_iter().filter(|t| !old_terms.contains(t)).collect();
            unindex_terms(tx, pool, id, &gone)?;
            index_terms(tx, pool, id, &new)?;
        }
        Write::DeleteUser { sub, .. } => {
            if let Some(old) = stored_user(tx, pool, sub)? {
                let mut release =
                    tx.prepare_cached("DELETE FROM userpool_user_keys WHERE pool = ?1 AND key = ?2 AND user_id = ?3")?;
                for key in &old.keys {
                    release.execute(params![pool, key, old.id])?;
                }
                unindex_user(tx, pool, old.id, old.terms.as_deref())?;
                tx.prepare_cached("DELETE FROM userpool_users WHERE id = ?1")?.execute(params![old.id])?;
            }
            tx.prepare_cached(
                "DELETE FROM userpool_refresh_hashes WHERE family_id IN
                    (SELECT id FROM userpool_families WHERE pool = ?1 AND sub = ?2)",
            )?
            .execute(params![pool, sub])?;
            tx.prepare_cached("DELETE FROM userpool_families WHERE pool = ?1 AND sub = ?2")?
                .execute(params![pool, sub])?;
            tx.prepare_cached("DELETE FROM userpool_events WHERE pool = ?1 AND sub = ?2")?
                .execute(params![pool, sub])?;
        }
        Write::PutFamily { family, new_hashes, expect } => {
            let version = next_version(*expect)?;
            let id: i64 = tx
                .prepare_cached(
                    "INSERT INTO userpool_families (pool, family, sub, version, record, expires_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (pool, family) DO UPDATE SET sub = excluded.sub, version = excluded.version,
                        record = excluded.record, expires_ms = excluded.expires_ms
                     RETURNING id",
                )?
                .query_row(params![pool, family.id, family.sub, version, to_json(family)?, family.expires_ms], |r| {
                    r.get(0)
                })?;
            let mut index = tx.prepare_cached(
                "INSERT INTO userpool_refresh_hashes (pool, hash, family_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (pool, hash) DO UPDATE SET family_id = excluded.family_id",
            )?;
            for hash in new_hashes {
                index.execute(params![pool, hash, id])?;
            }
        }
        Write::DeleteFamily { id, .. } => {
            if let Some((row, _)) = family_row(tx, pool, id)? {
                delete_family(tx, row)?;
            }
        }
        Write::RevokeFamily { id, at_ms } => {
            // `validate` found it, decodable.
            if let Some(((row, version), Ok(mut family))) = stored_family(tx, pool, id)? {
                family.revoked = true;
                family.expires_ms = family.expires_ms.min(*at_ms);
                tx.prepare_cached(
                    "UPDATE userpool_families SET version = ?1, record = ?2, expires_ms = ?3 WHERE id = ?4",
                )?
                .execute(params![
                    next_version(Some(version))?,
                    to_json(&family)?,
                    family.expires_ms,
                    row
                ])?;
            }
        }
        Write::AppendEvent(event) => {
            tx.prepare_cached("INSERT INTO userpool_events (pool, sub, record) VALUES (?1, ?2, ?3)")?
                .execute(params![pool, event.sub, to_json(&event)?])?;
        }
        Write::TrimEvents { sub, keep } => {
            // The newest `keep` stay: everything at or below the seq of the one after them goes.
            tx.prepare_cached(
                "DELETE FROM userpool_events WHERE pool = ?1 AND sub = ?2 AND seq <=
                    (SELECT seq FROM userpool_events WHERE pool = ?1 AND sub = ?2 ORDER BY seq DESC LIMIT 1 OFFSET ?3)",
            )?
            .execute(params![pool, sub, limit_to_sql(*keep)])?;
        }
        Write::PutSecret { name, value, expect, expires_ms } => {
            // A record made anew starts at a random version, not 1: pool records that end are
            // purged and may be made again under the same name, and a write that read the old
            // one (at 1, say) before the purge must not find its version in the new one.
            let version = expect.map(|v| next_version(Some(v))).transpose()?;
            tx.prepare_cached(
                "INSERT INTO userpool_secrets (pool, name, version, value, expires_ms)
                 VALUES (?1, ?2, COALESCE(?3, (random() & 4611686018427387903) + 1), ?4, ?5)
                 ON CONFLICT (pool, name) DO UPDATE SET version = excluded.version, value = excluded.value,
                    expires_ms = excluded.expires_ms",
            )?
            .execute(params![pool, name, version, &value[..], expires_ms])?;
        }
        Write::DeleteSecret { name, .. } => {
            tx.prepare_cached("DELETE FROM userpool_secrets WHERE pool = ?1 AND name = ?2")?
                .execute(params![pool, name])?;
        }
        Write::PurgeExpired { records_until_ms, families_until_ms, limit } => {
            tx.prepare_cached(
                "DELETE FROM userpool_secrets WHERE pool = ?1 AND name IN
                    (SELECT name FROM userpool_secrets WHERE pool = ?1 AND expires_ms <= ?2
                     ORDER BY expires_ms LIMIT ?3)",
            )?
            .execute(params![pool, records_until_ms, limit_to_sql(*limit)])?;
            let ended: Vec<i64> = tx
                .prepare_cached(
                    "SELECT id FROM userpool_families WHERE pool = ?1 AND expires_ms <= ?2 ORDER BY expires_ms LIMIT ?3",
                )?
                .query_map(params![pool, families_until_ms, limit_to_sql(*limit)], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for row in ended {
                delete_family(tx, row)?;
            }
        }
    }
    Ok(())
}

/// Deletes a family and its refresh-token hashes.
fn delete_family(tx: &Connection, row: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM userpool_refresh_hashes WHERE family_id = ?1")?.execute(params![row])?;
    tx.prepare_cached("DELETE FROM userpool_families WHERE id = ?1")?.execute(params![row])?;
    Ok(())
}

impl Store for SqliteStore {
    fn user(&self, pool: &str, sub: &str) -> Result<Option<Versioned<UserRecord>>, StoreError> {
        const SQL: &str = "SELECT version, record FROM userpool_users WHERE pool = ?1 AND sub = ?2";
        self.point_read(SQL, pool, sub, versioned)
    }

    fn user_by_key(&self, pool: &str, key: &str) -> Result<Option<Versioned<UserRecord>>, StoreError> {
        const SQL: &str = "SELECT u.version, u.record FROM userpool_user_keys k
                           JOIN userpool_users u ON u.id = k.user_id AND u.pool = k.pool WHERE k.pool = ?1 AND k.key = ?2";
        self.point_read(SQL, pool, key, versioned)
    }

    fn user_version(&self, pool: &str, sub: &str) -> Result<Option<u64>, StoreError> {
        const SQL: &str = "SELECT version FROM userpool_users WHERE pool = ?1 AND sub = ?2";
        self.point_read(SQL, pool, sub, |r| r.get(0).map(version_from_sql))
    }

    fn user_sub_by_key(&self, pool: &str, key: &str) -> Result<Option<Versioned<String>>, StoreError> {
        const SQL: &str = "SELECT u.version, u.sub FROM userpool_user_keys k
                           JOIN userpool_users u ON u.id = k.user_id AND u.pool = k.pool WHERE k.pool = ?1 AND k.key = ?2";
        self.point_read(SQL, pool, key, |r| Ok(Versioned { version: version_from_sql(r.get(0)?), value: r.get(1)? }))
    }

    fn users(
        &self,
        pool: &str,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&UserRecord) -> bool,
    ) -> Result<UserPage, StoreError> {
        // 0xFF is above every UTF-8 text.
        self.subs_between(pool, "", &[0xFF], after, limit, keep)
    }

    fn users_matching(
        &self,
        pool: &str,
        search: &UserSearch,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&UserRecord) -> bool,
    ) -> Result<UserPage, StoreError> {
        // Terms in [low, high): the term alone, or every term it starts with. UTF-8 never
        // holds 0xFF, so `term` + 0xFF is above every text that starts with `term`; `term` +
        // 0x00 is above `term` alone.
        let low = search.term.as_str();
        let mut high = search.term.clone().into_bytes();
        high.push(if search.prefix { 0xFF } else { 0x00 });
        if search.attribute == "sub" {
            return self.subs_between(pool, low, &high, after, limit, keep);
        }
        let cursor = after.map(parse_search_cursor).transpose()?;
        let token = |(term, id): &(String, i64)| format!("{id}:{term}");
        let row = |(_, id): &(String, i64)| format!("user row {id}");
        self.page(limit, cursor, keep, token, row, |cursor, chunk| {
            let (after_term, after_id) = cursor.map_or((low, -1), |(term, id)| (term.as_str(), *id));
            self.read(|c| {
                let mut stmt = c.prepare_cached(
                    "SELECT s.term, s.user_id, u.record FROM userpool_user_search s
                     JOIN userpool_users u ON u.id = s.user_id AND u.pool = s.pool
                     WHERE s.pool = ?1 AND s.attr = ?2 AND s.term >= ?3 AND s.term < CAST(?4 AS TEXT)
                        AND (s.term, s.user_id) > (?5, ?6)
                     ORDER BY s.term, s.user_id LIMIT ?7",
                )?;
                let rows = stmt.query_map(
                    params![pool, search.attribute, low, high, after_term, after_id, limit_to_sql(chunk)],
                    |r| Ok(((r.get(0)?, r.get(1)?), record_text(r, 2)?)),
                )?;
                rows.collect()
            })
        })
    }

    fn family(&self, pool: &str, id: &str) -> Result<Option<Versioned<Family>>, StoreError> {
        const SQL: &str = "SELECT version, record FROM userpool_families WHERE pool = ?1 AND family = ?2";
        self.point_read(SQL, pool, id, versioned)
    }

    fn family_by_hash(&self, pool: &str, hash: &str) -> Result<Option<Versioned<Family>>, StoreError> {
        const SQL: &str = "SELECT f.version, f.record FROM userpool_refresh_hashes h
                           JOIN userpool_families f ON f.id = h.family_id AND f.pool = h.pool WHERE h.pool = ?1 AND h.hash = ?2";
        self.point_read(SQL, pool, hash, versioned)
    }

    fn families_of(&self, pool: &str, sub: &str) -> Result<Vec<ListedFamily>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT version, record, family FROM userpool_families WHERE pool = ?1 AND sub = ?2 ORDER BY family",
            )?;
            let rows = stmt.query_map(params![pool, sub], |row| match versioned(row) {
                Ok(family) => Ok(ListedFamily::Readable(family)),
                Err(e) if is_record_error(&e) => Ok(ListedFamily::Unreadable {
                    id: row.get(2)?,
                    version: version_from_sql(row.get(0)?),
                    why: describe(&self.path, &self.options, &e),
                }),
                Err(e) => Err(e),
            })?;
            rows.collect()
        })
    }

    fn events(&self, pool: &str, sub: &str, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT record FROM userpool_events WHERE pool = ?1 AND sub = ?2 ORDER BY seq DESC LIMIT ?3",
            )?;
            let rows =
                stmt.query_map(params![pool, sub, limit_to_sql(limit)], |r| from_json(&r.get::<_, String>(0)?))?;
            rows.collect()
        })
    }

    fn secret(&self, pool: &str, name: &str) -> Result<Option<Versioned<SecretBytes>>, StoreError> {
        const SQL: &str = "SELECT version, value FROM userpool_secrets WHERE pool = ?1 AND name = ?2";
        self.point_read(SQL, pool, name, |r| {
            let value = r.get_ref(1)?.as_blob()?.to_vec();
            Ok(Versioned { version: version_from_sql(r.get(0)?), value: value.into() })
        })
    }

    fn secrets(
        &self,
        pool: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Versioned<SecretBytes>)>, StoreError> {
        // Names in [prefix, prefix + 0xFF): UTF-8 never holds 0xFF (see `users_matching`).
        let mut high = prefix.as_bytes().to_vec();
        high.push(0xFF);
        let after = after.filter(|after| *after >= prefix);
        self.read(|c| {
            // Two statements, so that each seeks straight to where it starts.
            let sql = if after.is_none() {
                "SELECT name, version, value FROM userpool_secrets
                 WHERE pool = ?1 AND name >= ?2 AND name < CAST(?3 AS TEXT) ORDER BY name LIMIT ?4"
            } else {
                "SELECT name, version, value FROM userpool_secrets
                 WHERE pool = ?1 AND name > ?2 AND name < CAST(?3 AS TEXT) ORDER BY name LIMIT ?4"
            };
            let start = after.unwrap_or(prefix);
            let mut stmt = c.prepare_cached(sql)?;
            let rows = stmt.query_map(params![pool, start, high, limit_to_sql(limit)], |r| {
                let value = r.get_ref(2)?.as_blob()?.to_vec();
                Ok((r.get(0)?, Versioned { version: version_from_sql(r.get(1)?), value: value.into() }))
            })?;
            rows.collect()
        })
    }

    fn backup_to(&self, dest: &Path) -> Result<()> {
        SqliteStore::backup_to(self, dest)
    }

    fn commit(&self, pool: &str, writes: Vec<Write>) -> Result<(), StoreError> {
        // Group commit: queue the commit; if nobody is committing, lead: take everything
        // queued and commit it in one transaction and one fsync. Otherwise wait until the
        // leader answers. Waiting on a condition rather than on the writer's lock matters: a
        // commit answered by a group must not wait for the next group's fsync to learn it.
        let pending = Arc::new(Pending { pool: pool.to_owned(), writes, result: Mutex::new(None) });
        let mut group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
        group.queue.push(Arc::clone(&pending));
        loop {
            if let Some(result) = pending.answer_given() {
                return result;
            }
            if group.leading {
                group = self.group_done.wait(group).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            group.leading = true;
            let members = std::mem::take(&mut group.queue);
            drop(group);
            {
                // Hands the lead back, answers what a panic left unanswered and wakes the
                // waiters, however the commit ends.
                let lead = Lead { store: self, members: members.clone() };
                self.commit_group(&mut self.writer(), members);
                drop(lead);
            }
            group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The lead of a group commit. Dropping it answers any member still unanswered (a panic
/// stopped the group), lets the next caller lead, and wakes the waiters.
struct Lead<'a> {
    store: &'a SqliteStore,
    members: Vec<Arc<Pending>>,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        for member in &self.members {
            let mut result = member.result.lock().unwrap_or_else(PoisonError::into_inner);
            if result.is_none() {
                *result = Some(Err(StoreError::Backend(format!(
                    "{}: the commit was abandoned by a panic in its group",
                    self.store.path.display()
                ))));
            }
        }
        self.store.group.lock().unwrap_or_else(PoisonError::into_inner).leading = false;
        self.store.group_done.notify_all();
    }
}

/// A commit waiting for the writer.
struct Pending {
    pool: String,
    writes: Vec<Write>,
    result: Mutex<Option<Result<(), StoreError>>>,
}

impl Pending {
    /// The answer, once there is one. It stays in place: the lead that carried this commit
    /// checks for members left unanswered after its caller may already have read it.
    fn answer_given(&self) -> Option<Result<(), StoreError>> {
        self.result.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn answer(&self, result: Result<(), StoreError>) {
        *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
    }
}

impl SqliteStore {
    /// Commits a group in one transaction, each commit inside its own savepoint: a commit
    /// whose expectations fail is rolled back alone and answered `Conflict` or `Taken`,
    /// exactly as if the group's commits had run one after another. Answers are given only
    /// once the transaction is durable. A database error inside one commit fails that
    /// commit, and the rest are retried without it. One that may not be its own (see
    /// [`blame`]: the disk full, which a size cap makes a large commit's own, or failing)
    /// is taken as its own once: met again by another commit, it fails them all, so a
    /// failing disk costs two rounds of the writer, not one per commit. One at `COMMIT`
    /// (where WAL mode writes the pages, so where a full disk usually shows) fails them all
    /// at once: none of them is reported done. (Whether an I/O error there kept them is not
    /// known: WAL recovery may yet replay frames written before it. A retry then conflicts or
    /// finds its work done, as after any failed commit.)
    fn commit_group(&self, conn: &mut Connection, group: Vec<Arc<Pending>>) {
        let mut todo = group;
        // Whether a commit already met an error that may not be its own.
        let mut doubted = false;
        while !todo.is_empty() {
            let outcome = self.run_group(conn, &todo);
            // Left open, the transaction would hold the write lock until this process's next
            // commit, every other process's writes waiting: ended now.
            if outcome.is_err()
                && let Err(e) = end_failed_transaction(conn)
            {
                tracing::warn!(file = %self.path.display(), error = %e, "ending a failed write transaction failed");
            }
            match outcome {
                Ok(results) => {
                    for (pending, result) in todo.iter().zip(results) {
                        // A session record that does not decode is named with its file, as
                        // every other error of the store is.
                        pending.answer(result.map_err(|e| match e {
                            StoreError::Unreadable(why) => {
                                StoreError::Unreadable(format!("{}: {why}", self.path.display()))
                            }
                            other => other,
                        }));
                    }
                    return;
                }
                Err((Blame::Commit(index), e)) => todo.remove(index).answer(Err(e)),
                Err((Blame::Maybe(index), e)) if !doubted => {
                    doubted = true;
                    todo.remove(index).answer(Err(e));
                }
                Err((_, e)) => {
                    for pending in &todo {
                        pending.answer(Err(e.clone()));
                    }
                    return;
                }
            }
        }
    }

    fn run_group(&self, conn: &mut Connection, todo: &[Arc<Pending>]) -> GroupResult {
        let failed = |at: Blame| move |e: rusqlite::Error| (at, self.backend(&e));
        // Should ending the last group's have failed too, every later BEGIN would be refused.
        end_failed_transaction(conn).map_err(failed(Blame::Group))?;
        // One `stat` a transaction, beside its fsync.
        if let Err(e) = self.still_the_file_opened("nothing was written") {
            self.empty_the_log_of_a_replaced_file(conn);
            return Err((Blame::Group, e));
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed(Blame::Group))?;
        // Another process may have migrated the file since this one opened it. A newer
        // schema may keep rows up to date that this library does not know of (as versions
        // 2, 4 and 5 did): writing without them would leave them wrong, so nothing is.
        let version: i64 = tx
            .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM userpool_schema")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(failed(Blame::Group))?;
        if version > SCHEMA_VERSION {
            return Err((
                Blame::Group,
                StoreError::Backend(format!(
                    "{}: a newer userpool upgraded the pool database to schema version {version} while this one \
                     had it open (it understands up to {SCHEMA_VERSION}); nothing was written. Restart with \
                     the newer library.",
                    self.path.display()
                )),
            ));
        }
        run_commits(tx, todo).map_err(|(at, e)| (at, self.backend(&e)))
    }
}

/// Ends a transaction a failed group left open: a rollback that failed (rusqlite's drop
/// ignores it) leaves the writer inside it.
fn end_failed_transaction(conn: &Connection) -> rusqlite::Result<()> {
    if conn.is_autocommit() { Ok(()) } else { conn.execute_batch("ROLLBACK") }
}

/// The results of a group, or the error that rolled it back and what it is blamed on.
type GroupResult<E = StoreError> = std::result::Result<Vec<Result<(), StoreError>>, (Blame, E)>;

/// What an error that rolled a group back is blamed on.
#[derive(Clone, Copy)]
enum Blame {
    /// The commit at this index: a value SQLite refused.
    Commit(usize),
    /// The commit at this index, or the disk or file under every commit.
    Maybe(usize),
    /// The transaction itself.
    Group,
}

/// What an error the commit at `index` met is blamed on: a value SQLite refused is the
/// commit's own; any other (the disk full or failing, the file, memory) may be.
fn blame(index: usize, error: &rusqlite::Error) -> Blame {
    match error {
        rusqlite::Error::SqliteFailure(failure, _)
            if !matches!(
                failure.code,
                rusqlite::ErrorCode::ConstraintViolation
                    | rusqlite::ErrorCode::TooBig
                    | rusqlite::ErrorCode::TypeMismatch
            ) =>
        {
            Blame::Maybe(index)
        }
        _ => Blame::Commit(index),
    }
}

/// Runs each commit of a group in its own savepoint of `tx`, then commits `tx`.
fn run_commits(mut tx: rusqlite::Transaction<'_>, todo: &[Arc<Pending>]) -> GroupResult<rusqlite::Error> {
    let mut results = Vec::with_capacity(todo.len());
    for (index, pending) in todo.iter().enumerate() {
        let mut one = || -> CommitResult<()> {
            // Dropping the savepoint without committing it rolls it back.
            let savepoint = tx.savepoint()?;
            validate(&savepoint, &pending.pool, &pending.writes)?;
            for write in &pending.writes {
                apply(&savepoint, &pending.pool, write)?;
            }
            savepoint.commit()?;
            Ok(())
        };
        match one() {
            Ok(()) => results.push(Ok(())),
            Err(CommitError::Store(e)) => results.push(Err(e)),
            Err(CommitError::Sqlite(e)) => return Err((blame(index, &e), e)),
        }
    }
    tx.commit().map_err(|e| (Blame::Group, e))?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wait_for_a_reader_once_max_readers_are_busy() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions::default().max_readers(2).idle_readers(1);
        let store = Arc::new(SqliteStore::open_with(dir.path().join("pool.sqlite3"), options).unwrap());
        let user = crate::store::conformance::sample_user("sub-a", "alice");
        store.commit("p1", vec![Write::PutUser { user, keys: vec!["u:alice".into()], expect: None }]).unwrap();
        let busy = [store.lend_reader().unwrap(), store.lend_reader().unwrap()];
        let (done, finished) = std::sync::mpsc::channel();
        let reader = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || done.send(store.user("p1", "sub-a").unwrap().is_some()).unwrap())
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(finished.try_recv().is_err(), "a third reader was opened");
        drop(busy);
        assert!(finished.recv().unwrap());
        reader.join().unwrap();

        // Many threads share the two, and every read is answered.
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || (0..50).all(|_| store.user("p1", "sub-a").unwrap().is_some()))
            })
            .collect();
        assert!(threads.into_iter().all(|t| t.join().unwrap()));
        let readers = store.readers.lock().unwrap();
        assert_eq!((readers.open, readers.idle.len()), (1, 1), "the one kept idle is all that stays open");
    }

    /// A read that needs a new connection, after the file was replaced: it would open the
    /// copy while the writer writes the old file.
    #[cfg(unix)]
    #[test]
    fn a_new_reader_refuses_a_file_replaced_since_the_store_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.sqlite3");
        let store = SqliteStore::open(&path).unwrap();
        let user = crate::store::conformance::sample_user("sub-a", "alice");
        store.commit("p1", vec![Write::PutUser { user, keys: vec!["u:alice".into()], expect: None }]).unwrap();
        let copy = dir.path().join("copy.sqlite3");
        drop(SqliteStore::open(&copy).unwrap());
        std::fs::rename(&copy, &path).unwrap();
        let idle = store.lend_reader().unwrap();
        assert!(idle.conn.is_some(), "the reader opened with the store, on the old file");
        let Err(StoreError::Backend(message)) = store.user("p1", "sub-a") else { panic!("read the copy") };
        assert!(message.contains("no longer the file this pool opened") && message.contains("nothing was read"));
        // A reader opened before, as the writer, holds the old file and reads what it holds.
        drop(idle);
        assert!(store.user("p1", "sub-a").unwrap().is_some());
    }

    #[test]
    fn reopening_keeps_everything_and_records_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.sqlite3");
        let store = SqliteStore::open(&path).unwrap();
        let user = crate::store::conformance::sample_user("sub-a", "alice");
        store
            .commit("p1", vec![Write::PutUser { user: user.clone(), keys: vec!["u:alice".into()], expect: None }])
            .unwrap();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let got = store.user_by_key("p1", "u:alice").unwrap().unwrap();
        assert_eq!((got.version, got.value), (1, user));
    }

    /// A user read again by a later chunk (their term changed between the two reads) is
    /// listed once on the page.
    #[test]
    fn a_user_met_again_in_a_later_chunk_is_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("pool.sqlite3")).unwrap();
        let record = |sub: &str| Some(to_json(&crate::store::conformance::sample_user(sub, sub)).unwrap());
        let first = vec![(1, record("a")), (2, record("b")), (3, record("c"))];
        let second = vec![(4, record("a")), (5, record("d"))];
        // Read from the end.
        let mut chunks = vec![second, first];
        let keep = |u: &UserRecord| u.sub == "a" || u.sub == "d";
        let page = store
            .page(2, None, &keep, i64::to_string, i64::to_string, |_, _| Ok(chunks.pop().unwrap_or_default()))
            .unwrap();
        let subs: Vec<&str> = page.users.iter().map(|u| u.sub.as_str()).collect();
        assert_eq!(subs, ["a", "d"]);
    }

    /// SQLite takes the timeout as an `int` of milliseconds; a longer one is waited as the
    /// longest it can hold, not a panic in rusqlite.
    #[test]
    fn a_busy_timeout_past_what_sqlite_holds_is_its_longest() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions::default().busy_timeout(Duration::MAX);
        let store = SqliteStore::open_with(dir.path().join("pool.sqlite3"), options).unwrap();
        let waited: i64 = store.writer.lock().unwrap().query_row("PRAGMA busy_timeout", [], |r| r.get(0)).unwrap();
        assert_eq!(waited, i64::from(i32::MAX));
    }

    #[test]
    fn every_connection_syncs_through_the_drive_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("pool.sqlite3")).unwrap();
        let flags = |c: &Connection| -> rusqlite::Result<(i64, i64)> {
            let synchronous = c.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            Ok((synchronous, c.query_row("PRAGMA fullfsync", [], |r| r.get(0))?))
        };
        // synchronous 2 is FULL.
        assert_eq!(flags(&store.writer.lock().unwrap()).unwrap(), (2, 1));
        assert_eq!(store.read(flags).unwrap(), (2, 1));
    }
}
