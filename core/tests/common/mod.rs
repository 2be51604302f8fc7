//! Helpers shared by the integration tests: a fast pool configuration, a pool with a
//! recording delivery and a manual clock, and a race between threads.
#![allow(dead_code, reason = "each test crate uses a subset of these helpers")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use userpool::flow::state::{AuditEvent, Family, UserRecord};
use userpool::store::{ListedFamily, SecretBytes, StoreError, UserPage, UserSearch, Versioned, Write};
use userpool::{Attributes, ManualClock, PoolConfig, RecordingDelivery, Store, UserPool};

/// The password every test user signs up with.
pub(crate) const PW: &str = "correct horse battery staple";

/// A configuration with `extra` (top-level keys and tables) and cheap argon2 parameters.
pub(crate) fn config(extra: &str) -> PoolConfig {
    // Top-level keys must come before the first table.
    PoolConfig::from_toml(&format!(
        "{extra}\n[password_hashing]\nmemory_kib = 128\niterations = 1\ndangerous_allow_weak = true\n"
    ))
    .unwrap()
}

/// A pool with the delivery and clock the test controls.
pub(crate) struct Fixture {
    pub(crate) pool: UserPool,
    pub(crate) delivery: RecordingDelivery,
    pub(crate) clock: ManualClock,
}

/// Opens `config` on `store`, sealing secrets with `key` when given.
pub(crate) fn open(store: Arc<dyn Store>, config: PoolConfig, key: Option<&[u8]>) -> Fixture {
    let delivery = RecordingDelivery::new();
    let clock = ManualClock::new(1_700_000_000_000);
    let mut builder =
        UserPool::builder(config).store(store).delivery(Arc::new(delivery.clone())).clock(Arc::new(clock.clone()));
    if let Some(key) = key {
        builder = builder.encryption_key(key);
    }
    Fixture { pool: builder.open().unwrap(), delivery, clock }
}

/// `{email: NAME@example.com}`.
pub(crate) fn email(name: &str) -> Attributes {
    [("email".to_owned(), format!("{name}@example.com"))].into()
}

/// Signs `name` up and confirms it with the delivered code.
pub(crate) fn confirmed(f: &Fixture, name: &str) {
    f.pool.sign_up(name, PW, email(name)).unwrap();
    let code = f.delivery.last_code_to(&format!("{name}@example.com")).unwrap();
    f.pool.confirm_sign_up(name, &code).unwrap();
}

/// Signs `name` in with `PW` (no MFA) and returns the tokens.
pub(crate) fn signed_in(f: &Fixture, name: &str) -> userpool::Tokens {
    f.pool.sign_in(name, PW).unwrap().tokens.unwrap()
}

/// Runs `attempt` on `threads` threads released together; returns how many succeeded.
pub(crate) fn race(threads: usize, attempt: impl Fn() -> bool + Send + Sync + 'static) -> usize {
    let attempt = Arc::new(attempt);
    let barrier = Arc::new(Barrier::new(threads));
    let wins = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (attempt, barrier, wins) = (Arc::clone(&attempt), Arc::clone(&barrier), Arc::clone(&wins));
            std::thread::spawn(move || {
                barrier.wait();
                if attempt() {
                    wins.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    wins.load(Ordering::SeqCst)
}

/// A store that forwards to `store` and lets a test watch and step in: it counts the walks
/// through a whole pool (`Store::users`), and runs a hook right after the next read of a
/// user's sessions returns, so that what the hook commits lands between that read and the
/// commit that follows it.
pub(crate) struct Interposed<S> {
    pub(crate) store: S,
    pub(crate) walks: AtomicUsize,
    pub(crate) after_sessions_read: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// Runs after every read of a user's sessions, until taken away.
    pub(crate) on_sessions_read: Mutex<Option<Box<dyn Fn() + Send>>>,
    /// One entry taken per read of a family by id: a hook to run after that read, or none.
    #[allow(clippy::type_complexity, reason = "a test hook, spelled out where it is used")]
    pub(crate) on_family_reads: Mutex<std::collections::VecDeque<Option<Box<dyn FnOnce() + Send>>>>,
    /// Runs once, right after the next lookup of a user by a key (a name) returns.
    pub(crate) after_key_read: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// Runs once, right after the next lookup of a session by a refresh token's hash returns.
    pub(crate) after_hash_read: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// While set, every read of a pool record (keys, groups, counts) fails.
    pub(crate) failing_record_reads: std::sync::atomic::AtomicBool,
    /// Runs once, after the first successful commit that `when` picks out of its writes.
    #[allow(clippy::type_complexity, reason = "a test hook, spelled out where it is used")]
    pub(crate) after_commit: Mutex<Option<(Box<dyn Fn(&[Write]) -> bool + Send>, Box<dyn FnOnce() + Send>)>>,
    /// Whatever must live as long as the store (the temporary directory of its file).
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl<S: Store> Interposed<S> {
    fn failing_records(&self) -> Result<(), StoreError> {
        if self.failing_record_reads.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("pool records cannot be read now".into()));
        }
        Ok(())
    }

    pub(crate) fn new(store: S) -> Self {
        Self {
            store,
            walks: AtomicUsize::new(0),
            after_sessions_read: Mutex::new(None),
            on_sessions_read: Mutex::new(None),
            on_family_reads: Mutex::new(std::collections::VecDeque::new()),
            after_key_read: Mutex::new(None),
            after_hash_read: Mutex::new(None),
            failing_record_reads: std::sync::atomic::AtomicBool::new(false),
            after_commit: Mutex::new(None),
            _keep: None,
        }
    }

    /// Keeps `keep` alive as long as the store.
    pub(crate) fn keeping(mut self, keep: impl std::any::Any + Send + Sync) -> Self {
        self._keep = Some(Box::new(keep));
        self
    }
}

impl<S: Store> Store for Interposed<S> {
    fn user(&self, pool: &str, sub: &str) -> Result<Option<Versioned<UserRecord>>, StoreError> {
        self.store.user(pool, sub)
    }
    fn user_by_key(&self, pool: &str, key: &str) -> Result<Option<Versioned<UserRecord>>, StoreError> {
        let read = self.store.user_by_key(pool, key);
        let hook = self.after_key_read.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        read
    }
    fn user_version(&self, pool: &str, sub: &str) -> Result<Option<u64>, StoreError> {
        self.store.user_version(pool, sub)
    }
    fn user_sub_by_key(&self, pool: &str, key: &str) -> Result<Option<Versioned<String>>, StoreError> {
        self.store.user_sub_by_key(pool, key)
    }
    fn users(
        &self,
        pool: &str,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&UserRecord) -> bool,
    ) -> Result<UserPage, StoreError> {
        self.walks.fetch_add(1, Ordering::Relaxed);
        self.store.users(pool, after, limit, keep)
    }
    fn users_matching(
        &self,
        pool: &str,
        search: &UserSearch,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&UserRecord) -> bool,
    ) -> Result<UserPage, StoreError> {
        self.store.users_matching(pool, search, after, limit, keep)
    }
    fn family(&self, pool: &str, id: &str) -> Result<Option<Versioned<Family>>, StoreError> {
        let read = self.store.family(pool, id);
        let hook = self.on_family_reads.lock().unwrap().pop_front().flatten();
        if let Some(hook) = hook {
            hook();
        }
        read
    }
    fn family_by_hash(&self, pool: &str, hash: &str) -> Result<Option<Versioned<Family>>, StoreError> {
        let read = self.store.family_by_hash(pool, hash);
        let hook = self.after_hash_read.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        read
    }
    fn families_of(&self, pool: &str, sub: &str) -> Result<Vec<ListedFamily>, StoreError> {
        let read = self.store.families_of(pool, sub);
        let hook = self.after_sessions_read.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        if let Some(hook) = self.on_sessions_read.lock().unwrap().as_ref() {
            hook();
        }
        read
    }
    fn events(&self, pool: &str, sub: &str, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        self.store.events(pool, sub, limit)
    }
    fn secret(&self, pool: &str, name: &str) -> Result<Option<Versioned<SecretBytes>>, StoreError> {
        self.failing_records()?;
        self.store.secret(pool, name)
    }
    fn secrets(
        &self,
        pool: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Versioned<SecretBytes>)>, StoreError> {
        self.failing_records()?;
        self.store.secrets(pool, prefix, after, limit)
    }
    fn commit(&self, pool: &str, writes: Vec<Write>) -> Result<(), StoreError> {
        let picked = self.after_commit.lock().unwrap().as_ref().is_some_and(|(when, _)| when(&writes));
        self.store.commit(pool, writes)?;
        let hook = if picked { self.after_commit.lock().unwrap().take() } else { None };
        if let Some((_, hook)) = hook {
            hook();
        }
        Ok(())
    }
    fn backup_to(&self, dest: &std::path::Path) -> userpool::Result<()> {
        self.store.backup_to(dest)
    }
}
