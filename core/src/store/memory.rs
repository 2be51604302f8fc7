//! The in-memory store: for tests and ephemeral pools. Everything sits behind one mutex, so
//! a commit is trivially atomic.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::{ListedFamily, SecretBytes, Store, StoreError, UserPage, Versioned, Write};
use crate::flow::state::{AuditEvent, Family, UserRecord};

type PoolKey = (String, String);

#[derive(Default)]
struct Data {
    users: BTreeMap<PoolKey, Versioned<UserRecord>>,
    user_keys: HashMap<PoolKey, String>,
    keys_of: HashMap<PoolKey, Vec<String>>,
    families: HashMap<PoolKey, Versioned<Family>>,
    family_by_hash: HashMap<PoolKey, String>,
    hashes_of: HashMap<PoolKey, Vec<String>>,
    families_of: HashMap<PoolKey, BTreeSet<String>>,
    events: HashMap<PoolKey, Vec<AuditEvent>>,
    secrets: BTreeMap<PoolKey, Versioned<SecretBytes>>,
    /// The version the last pool-record write gave: every such write takes the next one, so
    /// a record purged and made again never has a version that a write read before the
    /// purge could expect.
    secret_versions: u64,
    secrets_expiry: Expiry,
    families_expiry: Expiry,
}

/// When records of one kind expire, ordered by pool and time, so that `PurgeExpired` finds
/// the due ones without a scan.
#[derive(Default)]
struct Expiry {
    at: HashMap<PoolKey, i64>,
    order: BTreeSet<(String, i64, String)>,
}

impl Expiry {
    fn set(&mut self, id: &PoolKey, expires_ms: Option<i64>) {
        self.remove(id);
        if let Some(at) = expires_ms {
            self.at.insert(id.clone(), at);
            self.order.insert((id.0.clone(), at, id.1.clone()));
        }
    }

    fn remove(&mut self, id: &PoolKey) {
        if let Some(at) = self.at.remove(id) {
            self.order.remove(&(id.0.clone(), at, id.1.clone()));
        }
    }

    /// The ids of at most `limit` records of `pool` expiring at or before `until_ms`.
    fn due(&self, pool: &str, until_ms: i64, limit: usize) -> Vec<String> {
        self.order
            .range((pool.to_owned(), i64::MIN, String::new())..)
            .take_while(|(p, at, _)| p == pool && *at <= until_ms)
            .take(limit)
            .map(|(_, _, id)| id.clone())
            .collect()
    }
}

/// Keeps every pool in process memory; gone when dropped.
#[derive(Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock cannot leave a half-applied commit: commits
        // validate everything before changing anything.
        self.data.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn k(pool: &str, id: &str) -> PoolKey {
    (pool.to_owned(), id.to_owned())
}

fn check(current: Option<u64>, expect: Option<u64>) -> Result<(), StoreError> {
    if current == expect { Ok(()) } else { Err(StoreError::Conflict) }
}

impl Data {
    fn validate(&self, pool: &str, writes: &[Write]) -> Result<(), StoreError> {
        // Keys claimed inside this commit, to catch two users of one commit claiming one key.
        let mut claimed: HashMap<&str, &str> = HashMap::new();
        for write in writes {
            match write {
                Write::PutUser { user, keys, expect } => {
                    check(self.users.get(&k(pool, &user.sub)).map(|v| v.version), *expect)?;
                    for key in keys {
                        if let Some(owner) = self.user_keys.get(&k(pool, key))
                            && owner != &user.sub
                        {
                            return Err(StoreError::Taken(key.clone()));
                        }
                        if let Some(other) = claimed.insert(key, &user.sub)
                            && other != user.sub
                        {
                            return Err(StoreError::Taken(key.clone()));
                        }
                    }
                }
                Write::DeleteUser { sub, expect } => {
                    check(self.users.get(&k(pool, sub)).map(|v| v.version), Some(*expect))?;
                }
                Write::PutFamily { family, new_hashes, expect } => {
                    check(self.families.get(&k(pool, &family.id)).map(|v| v.version), *expect)?;
                    for hash in new_hashes {
                        if self.family_by_hash.get(&k(pool, hash)).is_some_and(|f| f != &family.id) {
                            return Err(StoreError::Conflict);
                        }
                    }
                }
                Write::DeleteFamily { id, expect } => {
                    check(self.families.get(&k(pool, id)).map(|v| v.version), Some(*expect))?;
                }
                Write::RevokeFamily { id, .. } => {
                    if !self.families.contains_key(&k(pool, id)) {
                        return Err(StoreError::Conflict);
                    }
                }
                Write::AppendEvent(_) | Write::TrimEvents { .. } | Write::PurgeExpired { .. } => {}
                Write::PutSecret { name, expect, .. } => {
                    check(self.secrets.get(&k(pool, name)).map(|v| v.version), *expect)?;
                }
                Write::DeleteSecret { name, expect } => {
                    check(self.secrets.get(&k(pool, name)).map(|v| v.version), Some(*expect))?;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, pool: &str, write: Write) {
        match write {
            Write::PutUser { user, keys, expect } => {
                let id = k(pool, &user.sub);
                for old in self.keys_of.remove(&id).unwrap_or_default() {
                    self.user_keys.remove(&k(pool, &old));
                }
                for key in &keys {
                    self.user_keys.insert(k(pool, key), user.sub.clone());
                }
                self.keys_of.insert(id.clone(), keys);
                let version = expect.map_or(1, |v| v + 1);
                self.users.insert(id, Versioned { version, value: user });
            }
            Write::DeleteUser { sub, .. } => {
                let id = k(pool, &sub);
                self.users.remove(&id);
                for old in self.keys_of.remove(&id).unwrap_or_default() {
                    self.user_keys.remove(&k(pool, &old));
                }
                for family in self.families_of.remove(&id).unwrap_or_default() {
                    self.delete_family(pool, &family);
                }
                self.events.remove(&id);
            }
            Write::PutFamily { family, new_hashes, expect } => {
                let fid = k(pool, &family.id);
                for hash in new_hashes {
                    self.family_by_hash.insert(k(pool, &hash), family.id.clone());
                    self.hashes_of.entry(fid.clone()).or_default().push(hash);
                }
                // A family whose `sub` changed is listed under its new user only, as SQLite's
                // `sub` column lists it.
                if let Some(old) = self.families.get(&fid).filter(|old| old.value.sub != family.sub)
                    && let Some(listed) = self.families_of.get_mut(&k(pool, &old.value.sub))
                {
                    listed.remove(&family.id);
                }
                self.families_of.entry(k(pool, &family.sub)).or_default().insert(family.id.clone());
                self.families_expiry.set(&fid, Some(family.expires_ms));
                let version = expect.map_or(1, |v| v + 1);
                self.families.insert(fid, Versioned { version, value: family });
            }
            Write::DeleteFamily { id, .. } => self.delete_family(pool, &id),
            Write::RevokeFamily { id, at_ms } => {
                let fid = k(pool, &id);
                if let Some(found) = self.families.get_mut(&fid) {
                    found.value.revoked = true;
                    found.value.expires_ms = found.value.expires_ms.min(at_ms);
                    found.version += 1;
                    self.families_expiry.set(&fid, Some(found.value.expires_ms));
                }
            }
            Write::AppendEvent(event) => {
                self.events.entry(k(pool, &event.sub)).or_default().push(event);
            }
            Write::TrimEvents { sub, keep } => {
                if let Some(events) = self.events.get_mut(&k(pool, &sub)) {
                    events.drain(..events.len().saturating_sub(keep));
                }
            }
            Write::PutSecret { name, value, expect, expires_ms } => {
                let id = k(pool, &name);
                self.secret_versions += 1;
                debug_assert!(expect.is_none_or(|v| v < self.secret_versions));
                self.secrets_expiry.set(&id, expires_ms);
                self.secrets.insert(id, Versioned { version: self.secret_versions, value });
            }
            Write::DeleteSecret { name, .. } => {
                let id = k(pool, &name);
                self.secrets_expiry.remove(&id);
                self.secrets.remove(&id);
            }
            Write::PurgeExpired { records_until_ms, families_until_ms, limit } => {
                for name in self.secrets_expiry.due(pool, records_until_ms, limit) {
                    let id = k(pool, &name);
                    self.secrets_expiry.remove(&id);
                    self.secrets.remove(&id);
                }
                for family in self.families_expiry.due(pool, families_until_ms, limit) {
                    self.delete_family(pool, &family);
                }
            }
        }
    }

    /// Deletes a family and its refresh-token hashes.
    fn delete_family(&mut self, pool: &str, id: &str) {
        let fid = k(pool, id);
        if let Some(family) = self.families.remove(&fid)
            && let Some(ids) = self.families_of.get_mut(&k(pool, &family.value.sub))
        {
            ids.remove(id);
        }
        self.families_expiry.remove(&fid);
        for hash in self.hashes_of.remove(&fid).unwrap_or_default() {
            self.family_by_hash.remove(&k(pool, &hash));
        }
    }
}

impl Store for MemoryStore {
    fn user(&self, pool: &str, sub: &str) -> Result<Option<Versioned<UserRecord>>, StoreError> {
        Ok(self.lock().users.get(&k(pool, sub)).cloned())
    }

    fn user_by_key(&self, pool: &str, key: &str) -> Result<Option<Versioned<UserRecord>>, StoreError> {
        let data = self.lock();
        Ok(data.user_keys.get(&k(pool, key)).and_then(|sub| data.users.get(&k(pool, sub))).cloned())
    }

    fn users(
        &self,
        pool: &str,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&UserRecord) -> bool,
    ) -> Result<UserPage, StoreError> {
        let data = self.lock();
        let start = k(pool, after.unwrap_or(""));
        let mut page = UserPage::default();
        let range = data
            .users
            .range(start..)
            .take_while(|((p, _), _)| p == pool)
            .filter(|((_, sub), _)| Some(sub.as_str()) != after);
        for (_, user) in range {
            if !keep(&user.value) {
                continue;
            }
            if page.users.len() == limit {
                page.next = page.users.last().map(|u| u.sub.clone());
                break;
            }
            page.users.push(user.value.clone());
        }
        Ok(page)
    }

    fn family(&self, pool: &str, id: &str) -> Result<Option<Versioned<Family>>, StoreError> {
        Ok(self.lock().families.get(&k(pool, id)).cloned())
    }

    fn family_by_hash(&self, pool: &str, hash: &str) -> Result<Option<Versioned<Family>>, StoreError> {
        let data = self.lock();
        Ok(data.family_by_hash.get(&k(pool, hash)).and_then(|id| data.families.get(&k(pool, id))).cloned())
    }

    fn families_of(&self, pool: &str, sub: &str) -> Result<Vec<ListedFamily>, StoreError> {
        let data = self.lock();
        let ids = data.families_of.get(&k(pool, sub)).cloned().unwrap_or_default();
        Ok(ids.iter().filter_map(|id| data.families.get(&k(pool, id)).cloned()).map(ListedFamily::Readable).collect())
    }

    fn events(&self, pool: &str, sub: &str, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        let data = self.lock();
        let events = data.events.get(&k(pool, sub)).map(Vec::as_slice).unwrap_or_default();
        Ok(events.iter().rev().take(limit).cloned().collect())
    }

    fn secret(&self, pool: &str, name: &str) -> Result<Option<Versioned<SecretBytes>>, StoreError> {
        Ok(self.lock().secrets.get(&k(pool, name)).cloned())
    }

    fn secrets(
        &self,
        pool: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Versioned<SecretBytes>)>, StoreError> {
        use std::ops::Bound;
        let start = match after {
            Some(after) if after >= prefix => Bound::Excluded(k(pool, after)),
            _ => Bound::Included(k(pool, prefix)),
        };
        let data = self.lock();
        Ok(data
            .secrets
            .range((start, Bound::Unbounded))
            .take_while(|((p, name), _)| p == pool && name.starts_with(prefix))
            .take(limit)
            .map(|((_, name), record)| (name.clone(), record.clone()))
            .collect())
    }

    fn commit(&self, pool: &str, writes: Vec<Write>) -> Result<(), StoreError> {
        let mut data = self.lock();
        data.validate(pool, &writes)?;
        for write in writes {
            data.apply(pool, write);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    crate::store_conformance_tests!(crate::store::MemoryStore::new());
}
