//! Where pools live. A [`Store`] keeps records for any number of pools (a pool id in every
//! key) and applies a transition's writes all at once or not at all.
//!
//! Atomicity is optimistic: every record carries a version, and each [`Write`] says which
//! version it expects. Two redemptions of one code read the same version; the first commit
//! wins and the second gets [`StoreError::Conflict`], after which the driver reruns the
//! transition on fresh state (where the code is gone). A store proves itself by passing
//! [`conformance`]'s suite.

pub mod conformance;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;
use std::ops::Deref;

use zeroize::Zeroizing;

pub use memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore};

use crate::flow::state::{AuditEvent, Family, UserRecord};

/// A record and the version it was read at.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned<T> {
    /// Bumped by every write of the record.
    pub version: u64,
    /// The record.
    pub value: T,
}

/// A pool secret's bytes as a store keeps them (sealed when the host gave an encryption key,
/// plain otherwise): zeroized when dropped, and `Debug` shows only their length.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl Deref for SecretBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// One write of a transition; a commit applies all of its writes or none.
#[allow(
    clippy::large_enum_variant,
    reason = "writes live for one commit; boxing the record would only add an allocation"
)]
#[derive(Clone)]
#[non_exhaustive]
pub enum Write {
    /// Creates (`expect: None`) or replaces (`expect: Some(version)`) a user, together with
    /// the unique lookup keys (username, verified aliases) that must point at it and nothing
    /// else; keys it held before and no longer lists are released.
    PutUser {
        /// The record.
        user: UserRecord,
        /// Its unique lookup keys.
        keys: Vec<String>,
        /// The version read, or `None` to create.
        expect: Option<u64>,
    },
    /// Deletes a user, its lookup keys and all of its session families.
    DeleteUser {
        /// The user's `sub`.
        sub: String,
        /// The version read.
        expect: u64,
    },
    /// Creates or replaces a session family, indexing `new_hashes` (refresh-token hashes) to
    /// it. Hashes stay indexed as long as the family exists, so reuse can be detected.
    PutFamily {
        /// The family.
        family: Family,
        /// Refresh-token hashes to index.
        new_hashes: Vec<String>,
        /// The version read, or `None` to create.
        expect: Option<u64>,
    },
    /// Deletes a session family and the refresh-token hashes indexed to it.
    DeleteFamily {
        /// The family's id.
        id: String,
        /// The version read.
        expect: u64,
    },
    /// Appends an audit event.
    AppendEvent(AuditEvent),
    /// Creates or replaces a pool secret (signing keys, code key).
    PutSecret {
        /// The secret's name.
        name: String,
        /// Its bytes (sealed when the host gave an encryption key).
        value: SecretBytes,
        /// The version read, or `None` to create.
        expect: Option<u64>,
    },
}

impl fmt::Debug for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PutUser { user, expect, .. } => write!(f, "PutUser({user:?}, expect {expect:?})"),
            Self::DeleteUser { sub, expect } => write!(f, "DeleteUser({sub}, expect {expect})"),
            Self::PutFamily { family, expect, .. } => write!(f, "PutFamily({family:?}, expect {expect:?})"),
            Self::DeleteFamily { id, expect } => write!(f, "DeleteFamily({id}, expect {expect})"),
            Self::AppendEvent(event) => write!(f, "AppendEvent({event:?})"),
            Self::PutSecret { name, expect, .. } => write!(f, "PutSecret({name}, <redacted>, expect {expect:?})"),
        }
    }
}

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record changed since it was read (or exists when it should not); rerun.
    #[error("a record changed concurrently")]
    Conflict,
    /// A unique key (username, alias) already belongs to another user.
    #[error("the unique key {0} is taken")]
    Taken(String),
    /// The store failed (I/O, corruption, locked database); the message names the cause.
    #[error("store failure: {0}")]
    Backend(String),
}

/// A page of users, in a stable order.
#[derive(Clone, Debug, Default)]
pub struct UserPage {
    /// The users of this page.
    pub users: Vec<UserRecord>,
    /// Where the next page starts, if there is one.
    pub next: Option<String>,
}

/// Storage for any number of pools. Implementations must be safe to share between threads.
pub trait Store: Send + Sync {
    /// A user by `sub`.
    fn user(&self, pool: &str, sub: &str) -> Result<Option<Versioned<UserRecord>>, StoreError>;
    /// The user holding a unique lookup key.
    fn user_by_key(&self, pool: &str, key: &str) -> Result<Option<Versioned<UserRecord>>, StoreError>;
    /// Users ordered by `sub`, starting after `after`, at most `limit`, keeping those for
    /// which `keep` is true (stores may pre-filter but must call `keep` on what they return).
    fn users(
        &self,
        pool: &str,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&UserRecord) -> bool,
    ) -> Result<UserPage, StoreError>;
    /// A session family by id.
    fn family(&self, pool: &str, id: &str) -> Result<Option<Versioned<Family>>, StoreError>;
    /// The family a refresh-token hash was issued in.
    fn family_by_hash(&self, pool: &str, hash: &str) -> Result<Option<Versioned<Family>>, StoreError>;
    /// Every family of a user.
    fn families_of(&self, pool: &str, sub: &str) -> Result<Vec<Versioned<Family>>, StoreError>;
    /// A user's most recent audit events, newest first.
    fn events(&self, pool: &str, sub: &str, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;
    /// A pool secret.
    fn secret(&self, pool: &str, name: &str) -> Result<Option<Versioned<SecretBytes>>, StoreError>;
    /// Applies every write or none; fails with `Conflict` when an expectation is not met.
    fn commit(&self, pool: &str, writes: Vec<Write>) -> Result<(), StoreError>;
}

impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn user(&self, pool: &str, sub: &str) -> Result<Option<Versioned<UserRecord>>, StoreError> {
        (**self).user(pool, sub)
    }
    fn user_by_key(&self, pool: &str, key: &str) -> Result<Option<Versioned<UserRecord>>, StoreError> {
        (**self).user_by_key(pool, key)
    }
    fn users(
        &self,
        pool: &str,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&UserRecord) -> bool,
    ) -> Result<UserPage, StoreError> {
        (**self).users(pool, after, limit, keep)
    }
    fn family(&self, pool: &str, id: &str) -> Result<Option<Versioned<Family>>, StoreError> {
        (**self).family(pool, id)
    }
    fn family_by_hash(&self, pool: &str, hash: &str) -> Result<Option<Versioned<Family>>, StoreError> {
        (**self).family_by_hash(pool, hash)
    }
    fn families_of(&self, pool: &str, sub: &str) -> Result<Vec<Versioned<Family>>, StoreError> {
        (**self).families_of(pool, sub)
    }
    fn events(&self, pool: &str, sub: &str, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        (**self).events(pool, sub, limit)
    }
    fn secret(&self, pool: &str, name: &str) -> Result<Option<Versioned<SecretBytes>>, StoreError> {
        (**self).secret(pool, name)
    }
    fn commit(&self, pool: &str, writes: Vec<Write>) -> Result<(), StoreError> {
        (**self).commit(pool, writes)
    }
}

impl fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dyn Store")
    }
}
