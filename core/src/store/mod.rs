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

impl From<Zeroizing<Vec<u8>>> for SecretBytes {
    fn from(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
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
///
/// New kinds of write may come in later versions (`RevokeFamily` did). A store outside this
/// crate must refuse a write it does not know, failing the commit with
/// [`StoreError::Backend`], never skip it: a skipped revocation leaves a session live.
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
    /// Marks a session family revoked at whatever version it is, and moves its version on, so
    /// that a write that read the family before conflicts. Ending sessions (sign-out, reuse
    /// detection, disabling a user, a reset) does not expect a version: it would have to win
    /// a race against every refresh of a token that its holder, a thief perhaps, keeps using.
    /// A family that is gone is a `Conflict` (the caller reads again and finds it gone), and
    /// one whose record the store cannot use is [`StoreError::Unreadable`], as reading it is:
    /// a revocation never succeeds without revoking.
    RevokeFamily {
        /// The family's id.
        id: String,
        /// When it ends (unix ms): its expiry comes forward to then, if later, so that
        /// [`Write::PurgeExpired`] deletes it as soon as it would one that ran its course. A
        /// store must apply it: one that ignores it keeps every signed-out session until its
        /// refresh token's lifetime ends.
        at_ms: i64,
    },
    /// Appends an audit event.
    AppendEvent(AuditEvent),
    /// Deletes a user's audit events but the newest `keep` (which may include events
    /// appended earlier in the same commit).
    TrimEvents {
        /// The `sub` the events were recorded under.
        sub: String,
        /// How many of the newest to keep.
        keep: usize,
    },
    /// Creates or replaces a pool record: a secret (signing keys, code key) or the engine's
    /// bookkeeping (groups, the counters of names no user has, messages per destination).
    PutSecret {
        /// The record's name.
        name: String,
        /// Its bytes (sealed when the host gave an encryption key).
        value: SecretBytes,
        /// The version read, or `None` to create. Since [`Write::PurgeExpired`] deletes these
        /// records and the engine may make one again under the same name, a store must not
        /// give the new record a version the deleted one had (`MemoryStore` counts every
        /// write; `SqliteStore` starts a new record at a random version): a write that read
        /// the deleted record must conflict with the new one.
        expect: Option<u64>,
        /// From when (unix ms) [`Write::PurgeExpired`] may delete the record: by then it means
        /// no more than no record at all. `None` keeps it until it is replaced.
        expires_ms: Option<i64>,
    },
    /// Deletes a pool record (see [`Write::PutSecret`]).
    DeleteSecret {
        /// The record's name.
        name: String,
        /// The version read.
        expect: u64,
    },
    /// Deletes a few records that ended: at most `limit` pool records whose `expires_ms` is
    /// at or before `records_until_ms`, and at most `limit` session families (with their
    /// refresh-token hashes) whose `expires_ms` is at or before `families_until_ms`. The
    /// engine adds it to its commits, so that what accumulates with use (the counters of
    /// names nobody has, the sessions of users who never come back) is deleted as it goes.
    PurgeExpired {
        /// Pool records expiring at or before this time (unix ms) go.
        records_until_ms: i64,
        /// Session families expiring at or before this time (unix ms) go.
        families_until_ms: i64,
        /// At most this many of each.
        limit: usize,
    },
}

impl fmt::Debug for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PutUser { user, expect, .. } => write!(f, "PutUser({user:?}, expect {expect:?})"),
            Self::DeleteUser { sub, expect } => write!(f, "DeleteUser({sub}, expect {expect})"),
            Self::PutFamily { family, expect, .. } => write!(f, "PutFamily({family:?}, expect {expect:?})"),
            Self::DeleteFamily { id, expect } => write!(f, "DeleteFamily({id}, expect {expect})"),
            Self::RevokeFamily { id, at_ms } => write!(f, "RevokeFamily({id}, at {at_ms})"),
            Self::AppendEvent(event) => write!(f, "AppendEvent({event:?})"),
            Self::TrimEvents { sub, keep } => write!(f, "TrimEvents({sub}, keep {keep})"),
            Self::PutSecret { name, expect, expires_ms, .. } => {
                write!(f, "PutSecret({name}, <redacted>, expect {expect:?}, expires {expires_ms:?})")
            }
            Self::DeleteSecret { name, expect } => write!(f, "DeleteSecret({name}, expect {expect})"),
            Self::PurgeExpired { records_until_ms, families_until_ms, limit } => {
                write!(
                    f,
                    "PurgeExpired(records until {records_until_ms}, families until {families_until_ms}, {limit} each)"
                )
            }
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
    /// A page cursor this store did not issue (or issued for another kind of listing).
    #[error("the pagination token is not valid here")]
    InvalidCursor,
    /// A stored user or family cannot be used by this library: it does not decode, or a
    /// newer library wrote it (see [`Store`]). The message names the file and says which,
    /// never what the record holds.
    #[error("store failure: {0}")]
    Unreadable(String),
}

/// The attributes `list_users` filters may find through an index of search terms
/// ([`Store::users_matching`]): the user's own attributes, the username, and the two status
/// words (`status`: `Enabled` or `Disabled`; `cognito:user_status`: the account status).
pub const SEARCH_ATTRIBUTES: &[&str] = &[
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "status",
    "cognito:user_status",
];

/// The longest search term, in bytes: longer values are cut at a character boundary.
pub const SEARCH_TERM_BYTES: usize = 128;

/// The form a value is indexed and searched under: lower case character by character, with
/// a final sigma folded into a sigma, cut to [`SEARCH_TERM_BYTES`]. Character by character,
/// so that a prefix of a value folds into a prefix of the value's term; whatever a
/// case-sensitive or case-insensitive filter matches, the terms match too.
pub fn search_term(value: &str) -> String {
    let mut term = String::with_capacity(value.len().min(SEARCH_TERM_BYTES));
    for c in fold_case(value) {
        if term.len() + c.len_utf8() > SEARCH_TERM_BYTES {
            break;
        }
        term.push(c);
    }
    term
}

/// `value` lowercased character by character, a final sigma as any other: what a
/// case-insensitive comparison compares. `str::to_lowercase` turns a final Σ into ς, so a
/// prefix ending in Σ ("ΟΔΥΣ") would not be a prefix of the word it begins ("ΟΔΥΣΣΕΑΣ").
pub(crate) fn fold_case(value: &str) -> impl Iterator<Item = char> + '_ {
    value.chars().flat_map(char::to_lowercase).map(|c| if c == 'ς' { 'σ' } else { c })
}

/// The search attribute of group membership: a term per group a user's record names, the
/// name as it is. Not a `list_users` filter (Cognito has none for groups): what
/// `list_users_in_group` and `delete_group` search, so that they read the group's members and
/// not the whole pool.
pub const GROUP_ATTRIBUTE: &str = "cognito:groups";

/// A user's search terms: one `(attribute, term)` for each of [`SEARCH_ATTRIBUTES`] the
/// user has, the username and the status words included, and one for each of the user's
/// groups ([`GROUP_ATTRIBUTE`]). The word of `status` is kept as it is (`Enabled`,
/// `Disabled`): filters match it case-sensitively, as Cognito does.
pub fn search_terms(user: &UserRecord) -> Vec<(&'static str, String)> {
    let attributes = SEARCH_ATTRIBUTES.iter().filter_map(|&attribute| {
        let value = match attribute {
            "username" => &user.username,
            "status" => return Some((attribute, (if user.enabled { "Enabled" } else { "Disabled" }).to_owned())),
            "cognito:user_status" => user.status.as_str(),
            other => user.attributes.get(other)?,
        };
        Some((attribute, search_term(value)))
    });
    let groups = user.groups.iter().map(|group| (GROUP_ATTRIBUTE, group.clone()));
    attributes.chain(groups).collect()
}

/// What a filtered `list_users`, or a group's listing, looks for: the users with a term for
/// `attribute` equal to `term`, or starting with it when `prefix` is set. The attribute `sub`
/// has no terms: its search is for the users whose `sub` is `term`, or starts with it, byte
/// for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSearch {
    /// One of [`SEARCH_ATTRIBUTES`], [`GROUP_ATTRIBUTE`], or `sub`.
    pub attribute: &'static str,
    /// The searched value, as [`search_term`] made it (for `sub`, `status` and groups, as it
    /// is).
    pub term: String,
    /// Whether terms that only start with `term` match.
    pub prefix: bool,
}

/// One of a user's session families, as [`Store::families_of`] lists them.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ListedFamily {
    /// A family this library can use.
    Readable(Versioned<Family>),
    /// A family whose record this library cannot use: damaged, or written by a newer
    /// userpool. It can be neither honoured nor revoked here, so ending the user's sessions
    /// deletes it.
    Unreadable {
        /// The family's id.
        id: String,
        /// Its version, for [`Write::DeleteFamily`].
        version: u64,
        /// Why it cannot be used.
        why: String,
    },
}

impl ListedFamily {
    /// The family, if this library can use it.
    pub fn readable(self) -> Option<Versioned<Family>> {
        match self {
            Self::Readable(family) => Some(family),
            Self::Unreadable { .. } => None,
        }
    }
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
///
/// A store that keeps records across library versions (a file, a database) refuses, with
/// [`StoreError::Unreadable`], to hand out a user or family whose
/// [`record_version`](crate::flow::state::Record) is newer than
/// [`RECORD_VERSION`](crate::flow::state::RECORD_VERSION), as `SqliteStore` does.
pub trait Store: Send + Sync {
    /// A user by `sub`.
    fn user(&self, pool: &str, sub: &str) -> Result<Option<Versioned<UserRecord>>, StoreError>;
    /// The user holding a unique lookup key.
    fn user_by_key(&self, pool: &str, key: &str) -> Result<Option<Versioned<UserRecord>>, StoreError>;
    /// The version of the user record with this `sub`, read without decoding the record:
    /// how an administrator deletes a user whose record is [`StoreError::Unreadable`]. The
    /// default decodes it, for stores whose records always decode.
    fn user_version(&self, pool: &str, sub: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.user(pool, sub)?.map(|user| user.version))
    }
    /// The `sub` of the user holding a unique lookup key, with the record's version, read
    /// without decoding the record (see [`Store::user_version`]). A store that wraps another
    /// must forward both methods, or such a user cannot be deleted through it.
    fn user_sub_by_key(&self, pool: &str, key: &str) -> Result<Option<Versioned<String>>, StoreError> {
        Ok(self.user_by_key(pool, key)?.map(|user| Versioned { version: user.version, value: user.value.sub }))
    }
    /// Users ordered by `sub`, starting after `after`, at most `limit`, keeping those for
    /// which `keep` is true (stores may pre-filter but must call `keep` on what they return).
    fn users(
        &self,
        pool: &str,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&UserRecord) -> bool,
    ) -> Result<UserPage, StoreError>;
    /// The users a search may match, each passed through `keep`, which decides: a store with
    /// an index of [`search_terms`] reads only the users whose terms match `search` (in a
    /// stable order of its choosing, paging with cursors of its own); without one it lists
    /// them all, as [`Store::users`] does (the default).
    fn users_matching(
        &self,
        pool: &str,
        search: &UserSearch,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&UserRecord) -> bool,
    ) -> Result<UserPage, StoreError> {
        let _ = search;
        self.users(pool, after, limit, keep)
    }
    /// A session family by id.
    fn family(&self, pool: &str, id: &str) -> Result<Option<Versioned<Family>>, StoreError>;
    /// The family a refresh-token hash was issued in.
    fn family_by_hash(&self, pool: &str, hash: &str) -> Result<Option<Versioned<Family>>, StoreError>;
    /// Every family of a user. One whose record this library cannot use is listed as
    /// [`ListedFamily::Unreadable`], not an error: ending the user's sessions must still
    /// reach it, and one such record must not stop the user's other sessions from ending.
    fn families_of(&self, pool: &str, sub: &str) -> Result<Vec<ListedFamily>, StoreError>;
    /// A user's most recent audit events, newest first.
    fn events(&self, pool: &str, sub: &str, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;
    /// A pool secret.
    fn secret(&self, pool: &str, name: &str) -> Result<Option<Versioned<SecretBytes>>, StoreError>;
    /// The pool records whose names start with `prefix`, in the order of their names' bytes,
    /// starting after the name `after`, at most `limit`: how the engine pages through records
    /// it keeps one per item (group definitions).
    fn secrets(
        &self,
        pool: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Versioned<SecretBytes>)>, StoreError>;
    /// Applies every write or none; fails with `Conflict` when an expectation is not met.
    fn commit(&self, pool: &str, writes: Vec<Write>) -> Result<(), StoreError>;
    /// Copies everything the store holds, as of one moment, into a new file at `dest` that
    /// only its owner can read, while the store goes on serving (see
    /// `SqliteStore::backup_to`). The default refuses with `InvalidParameterException`: a
    /// store that keeps nothing in a file has nothing to copy. A store that wraps another
    /// must forward it.
    fn backup_to(&self, dest: &std::path::Path) -> crate::Result<()> {
        let _ = dest;
        Err(crate::Error::new(
            crate::ErrorCode::InvalidParameter,
            "this pool is not kept in a SQLite file (it is in memory, or in a store that makes no backups): \
             there is no file to back up",
        ))
    }
}

impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn user(&self, pool: &str, sub: &str) -> Result<Option<Versioned<UserRecord>>, StoreError> {
        (**self).user(pool, sub)
    }
    fn user_by_key(&self, pool: &str, key: &str) -> Result<Option<Versioned<UserRecord>>, StoreError> {
        (**self).user_by_key(pool, key)
    }
    fn user_version(&self, pool: &str, sub: &str) -> Result<Option<u64>, StoreError> {
        (**self).user_version(pool, sub)
    }
    fn user_sub_by_key(&self, pool: &str, key: &str) -> Result<Option<Versioned<String>>, StoreError> {
        (**self).user_sub_by_key(pool, key)
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
    fn users_matching(
        &self,
        pool: &str,
        search: &UserSearch,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&UserRecord) -> bool,
    ) -> Result<UserPage, StoreError> {
        (**self).users_matching(pool, search, after, limit, keep)
    }
    fn family(&self, pool: &str, id: &str) -> Result<Option<Versioned<Family>>, StoreError> {
        (**self).family(pool, id)
    }
    fn family_by_hash(&self, pool: &str, hash: &str) -> Result<Option<Versioned<Family>>, StoreError> {
        (**self).family_by_hash(pool, hash)
    }
    fn families_of(&self, pool: &str, sub: &str) -> Result<Vec<ListedFamily>, StoreError> {
        (**self).families_of(pool, sub)
    }
    fn events(&self, pool: &str, sub: &str, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        (**self).events(pool, sub, limit)
    }
    fn secret(&self, pool: &str, name: &str) -> Result<Option<Versioned<SecretBytes>>, StoreError> {
        (**self).secret(pool, name)
    }
    fn secrets(
        &self,
        pool: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Versioned<SecretBytes>)>, StoreError> {
        (**self).secrets(pool, prefix, after, limit)
    }
    fn commit(&self, pool: &str, writes: Vec<Write>) -> Result<(), StoreError> {
        (**self).commit(pool, writes)
    }
    fn backup_to(&self, dest: &std::path::Path) -> crate::Result<()> {
        (**self).backup_to(dest)
    }
}

impl fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dyn Store")
    }
}
