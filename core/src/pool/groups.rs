//! Groups: named sets of users whose names go into the `cognito:groups` claim, ordered by
//! precedence. Each group's definition is a pool record of its own (`group:NAME`), and one
//! more record counts them (a pool has at most 10,000 groups, as Cognito); memberships live
//! on each user's record, so adding a user to a group is one atomic user transition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Outcome, UserPool, backend};
use crate::error::{Error, ErrorCode, Result};
use crate::flow::Input;
use crate::flow::state::UserRecord;
use crate::results::{Group, GroupList, UserList};
use crate::store::{GROUP_ATTRIBUTE, Store, StoreError, UserSearch, Versioned, Write};
use crate::{attributes, crypto};

/// What a group's record name starts with; the group's name follows.
const RECORD_PREFIX: &str = "group:";
/// The record that counts the groups, so that creating one can keep to [`MAX_GROUPS`].
const COUNT_RECORD: &str = "group_count";
/// The one record that held every definition until schema 6 (see [`convert_legacy_record`]).
const LEGACY_RECORD: &str = "groups";
const MAX_GROUPS: u32 = 10_000;

/// A group's record.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Definition {
    #[serde(flatten)]
    group: Group,
    /// The group's generation (0: a group created before generations existed). A group
    /// created again under a deleted one's name gets a new one, so memberships of the old
    /// one that a delete did not sweep (cut short by a crash, or added while it ran) grant
    /// nothing.
    #[serde(default)]
    generation: u64,
}

#[derive(Default, Serialize, Deserialize)]
struct Count {
    groups: u32,
}

/// The definitions of the groups a caller asked for, those that exist.
#[derive(Default)]
pub(super) struct Groups {
    found: BTreeMap<String, Definition>,
}

impl Groups {
    fn generation(&self, name: &str) -> u64 {
        self.found.get(name).map_or(0, |d| d.generation)
    }

    /// The groups `user` belongs to as the `cognito:groups` claim orders them: by precedence
    /// (lowest first; none last), then name. Only groups asked for count.
    pub(super) fn ordered(&self, user: &UserRecord) -> Vec<String> {
        // `(false, p)` sorts before `(true, _)`: a group without one comes after any precedence.
        let mut names: Vec<((bool, Option<u32>), &String)> = user
            .groups
            .iter()
            .filter_map(|name| {
                let precedence = self.member_of(user, name)?.precedence;
                Some(((precedence.is_none(), precedence), name))
            })
            .collect();
        names.sort();
        names.into_iter().map(|(_, n)| n.clone()).collect()
    }

    /// The group `name`, if `user` belongs to it as it exists now.
    fn member_of(&self, user: &UserRecord, name: &str) -> Option<&Group> {
        let definition = self.found.get(name)?;
        let generation = user.group_generations.get(name).copied().unwrap_or(0);
        (user.groups.contains(name) && generation == definition.generation).then_some(&definition.group)
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty() && name.chars().count() <= 128 && name.chars().all(attributes::is_name_char);
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("group name must be 1-128 letters, marks, symbols, numbers or punctuation"))
    }
}

fn check_description(description: Option<&str>) -> Result<()> {
    if description.is_some_and(|d| d.chars().count() > 2048) {
        return Err(Error::invalid("description must be at most 2048 characters"));
    }
    Ok(())
}

/// Cognito's `Precedence` is a non-negative 32-bit signed integer.
fn check_precedence(precedence: Option<u32>) -> Result<()> {
    if precedence.is_some_and(|p| i32::try_from(p).is_err()) {
        return Err(Error::invalid("precedence must be from 0 to 2147483647"));
    }
    Ok(())
}

fn not_found(name: &str) -> Error {
    Error::new(ErrorCode::ResourceNotFound, format!("Group {name} not found."))
}

fn record_name(group: &str) -> String {
    format!("{RECORD_PREFIX}{group}")
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|_| Error::internal("a stored group record is corrupt"))
}

fn encode(name: &str, value: &impl Serialize, expect: Option<u64>) -> Result<Write> {
    let value = serde_json::to_vec(value).map_err(|e| Error::internal(e.to_string()))?;
    Ok(Write::PutSecret { name: name.to_owned(), value: value.into(), expect, expires_ms: None })
}

/// The group count as stored, and its record's version.
fn count(store: &dyn Store, pool: &str) -> Result<(u32, Option<u64>)> {
    match store.secret(pool, COUNT_RECORD).map_err(backend)? {
        None => Ok((0, None)),
        Some(stored) => Ok((decode::<Count>(&stored.value)?.groups, Some(stored.version))),
    }
}

/// Moves the definitions out of the one record that held them all (libraries before schema
/// 6) into a record each, in one commit; nothing when there is no such record. The old
/// record grew with every group and was read whole on every token issue of a user in any
/// group: at 10,000 groups with long descriptions, over 100 MB.
pub(super) fn convert_legacy_record(store: &dyn Store, pool: &str) -> Result<()> {
    #[derive(Deserialize)]
    struct Legacy {
        groups: BTreeMap<String, Group>,
        #[serde(default)]
        generations: BTreeMap<String, u64>,
    }
    for _ in 0..super::MAX_RERUNS {
        let Some(stored) = store.secret(pool, LEGACY_RECORD).map_err(backend)? else { return Ok(()) };
        let Ok(legacy) = decode::<Legacy>(&stored.value) else {
            // Left where it is: the pool opens, and only the groups it held are missing.
            tracing::warn!(pool, "the pool's old groups record does not decode; its groups are not carried over");
            return Ok(());
        };
        let (mut groups, count_version) = count(store, pool)?;
        let mut writes = vec![Write::DeleteSecret { name: LEGACY_RECORD.to_owned(), expect: stored.version }];
        for (name, group) in legacy.groups {
            let record = record_name(&name);
            // A group of that name made since (the old record written again by an older
            // library that a store without a schema version let in) stays as it is.
            if store.secret(pool, &record).map_err(backend)?.is_some() {
                continue;
            }
            let generation = legacy.generations.get(&name).copied().unwrap_or(0);
            writes.push(encode(&record, &Definition { group, generation }, None)?);
            groups = groups.saturating_add(1);
        }
        writes.push(encode(COUNT_RECORD, &Count { groups }, count_version)?);
        match store.commit(pool, writes) {
            // Another process converted it, or made one of these groups meanwhile: read again.
            Err(StoreError::Conflict) => continue,
            done => return done.map_err(backend),
        }
    }
    Err(Error::new(ErrorCode::TooManyRequests, "Too many concurrent group changes; retry."))
}

impl UserPool {
    /// The definition of the group `name`, with its record's version.
    fn definition(&self, name: &str) -> Result<Option<Versioned<Definition>>> {
        let Some(stored) = self.store().secret(self.pool_id(), &record_name(name)).map_err(backend)? else {
            return Ok(None);
        };
        Ok(Some(Versioned { version: stored.version, value: decode(&stored.value)? }))
    }

    /// The definitions of the groups named that exist, each read once.
    pub(super) fn groups_named<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> Result<Groups> {
        let mut groups = Groups::default();
        for name in names {
            if !groups.found.contains_key(name)
                && let Some(definition) = self.definition(name)?
            {
                groups.found.insert(name.clone(), definition.value);
            }
        }
        Ok(groups)
    }

    /// The user's groups as the `cognito:groups` claim orders them (see [`Groups::ordered`]).
    pub(super) fn ordered_groups(&self, user: &UserRecord) -> Result<Vec<String>> {
        Ok(self.groups_named(&user.groups)?.ordered(user))
    }

    /// Creates a group.
    pub fn create_group(&self, name: &str, description: Option<&str>, precedence: Option<u32>) -> Result<Group> {
        check_name(name)?;
        check_description(description)?;
        check_precedence(precedence)?;
        let now = self.now();
        let group = Group {
            name: name.to_owned(),
            description: description.map(str::to_owned),
            precedence,
            created_ms: now,
            updated_ms: now,
        };
        self.commit_rerunning("Too many concurrent group changes; retry.", || {
            if self.definition(name)?.is_some() {
                return Err(Error::new(
                    ErrorCode::GroupExists,
                    format!("A group with the name {name} already exists."),
                ));
            }
            let (groups, count_version) = count(self.store(), self.pool_id())?;
            if groups >= MAX_GROUPS {
                return Err(Error::new(ErrorCode::LimitExceeded, "A pool has at most 10,000 groups."));
            }
            // Random rather than counted, so that no record is written by every create: a
            // generation only has to differ from the deleted groups' of the same name.
            let generation = u64::from_le_bytes(crypto::random_bytes::<8>(&mut crypto::os_rng())).max(1);
            let definition = Definition { group: group.clone(), generation };
            let writes = vec![
                encode(&record_name(name), &definition, None)?,
                encode(COUNT_RECORD, &Count { groups: groups + 1 }, count_version)?,
            ];
            Ok((writes, group.clone()))
        })
    }

    /// Changes a group's description or precedence, as Cognito's `UpdateGroup`: what is
    /// `None` stays as it is. A new precedence reorders `cognito:groups` in the tokens
    /// issued from then on; the group's members and generation stay.
    pub fn update_group(&self, name: &str, description: Option<&str>, precedence: Option<u32>) -> Result<Group> {
        // No `check_name`: a group made before that check took its name is still found.
        check_description(description)?;
        check_precedence(precedence)?;
        let now = self.now();
        self.commit_rerunning("Too many concurrent group changes; retry.", || {
            let found = self.definition(name)?.ok_or_else(|| not_found(name))?;
            let mut definition = found.value;
            if let Some(description) = description {
                definition.group.description = Some(description.to_owned());
            }
            if precedence.is_some() {
                definition.group.precedence = precedence;
            }
            definition.group.updated_ms = now;
            let write = encode(&record_name(name), &definition, Some(found.version))?;
            Ok((vec![write], definition.group))
        })
    }

    /// A group by name.
    pub fn get_group(&self, name: &str) -> Result<Group> {
        Ok(self.definition(name)?.ok_or_else(|| not_found(name))?.value.group)
    }

    /// The groups by name, paged like `list_users` (at most `limit`, 60 when absent).
    pub fn list_groups(&self, limit: Option<u32>, pagination_token: Option<&str>) -> Result<GroupList> {
        const LISTING: &str = "groups";
        let (limit, after) = self.page_request(LISTING, limit, pagination_token)?;
        let after = after.map(|name| record_name(&name));
        // One more than the page, to know whether another follows.
        let mut records =
            self.store().secrets(self.pool_id(), RECORD_PREFIX, after.as_deref(), limit + 1).map_err(backend)?;
        let more = records.len() > limit;
        records.truncate(limit);
        let groups = records
            .iter()
            .map(|(_, stored)| decode::<Definition>(&stored.value).map(|d| d.group))
            .collect::<Result<Vec<_>>>()?;
        let pagination_token = match groups.last() {
            Some(last) if more => Some(self.shared.cursors.seal(LISTING, &last.name)?),
            _ => None,
        };
        Ok(GroupList { groups, pagination_token })
    }

    /// Deletes a group and removes every user from it.
    pub fn delete_group(&self, name: &str) -> Result<()> {
        let generation = self.remove_group_definition(name)?;
        // The group is gone, and every membership with it (they name its generation): an
        // error now would say it was not, and a retry would answer "not found". A record the
        // sweep could not reach still names the group, which grants nothing, and the user's
        // next join drops it.
        if let Err(e) = self.sweep_group_members(name, generation) {
            tracing::warn!(group = name, error = %e, "group deleted; its members' records after this still name it");
        }
        Ok(())
    }

    /// Removes a group's definition, which ends every membership at once (its generation
    /// goes with it). Returns the generation removed.
    fn remove_group_definition(&self, name: &str) -> Result<u64> {
        self.commit_rerunning("Too many concurrent group changes; retry.", || {
            let found = self.definition(name)?.ok_or_else(|| not_found(name))?;
            let (groups, count_version) = count(self.store(), self.pool_id())?;
            let writes = vec![
                Write::DeleteSecret { name: record_name(name), expect: found.version },
                encode(COUNT_RECORD, &Count { groups: groups.saturating_sub(1) }, count_version)?,
            ];
            Ok((writes, found.value.generation))
        })
    }

    /// Tidies the records of a deleted group's members: only memberships of `generation`,
    /// since the group may have been created again, and joined, while this ran.
    fn sweep_group_members(&self, name: &str, generation: u64) -> Result<()> {
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store()
                .users_matching(self.pool_id(), &members(name), after.as_deref(), 500, &|u| u.groups.contains(name))
                .map_err(backend)?;
            for user in &page.users {
                let input = Input::RemoveFromGroup { group: name.to_owned(), only_generation: Some(generation) };
                match self.drive(super::Target::Sub(&user.sub), &input) {
                    // Deleted meanwhile: nothing of theirs is left to tidy.
                    Err(e) if e.code() == ErrorCode::UserNotFound => {}
                    // One member's record (busy past the reruns, say) does not stop the others'.
                    Err(e) => {
                        tracing::warn!(group = name, sub = %user.sub, error = %e, "a deleted group's member kept it")
                    }
                    Ok(_) => {}
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Adds a user to a group.
    pub fn admin_add_user_to_group(&self, username: &str, group: &str) -> Result<()> {
        // The user first: every membership they hold was then made before the definitions
        // are read, so one those do not show (or show at another generation) has ended.
        // Read the other way round, a group made and joined in between would look ended.
        let found = self.admin_find(username)?;
        let user = &found.value;
        let joined = group.to_owned();
        let groups = self.groups_named(user.groups.iter().chain([&joined]))?;
        if !groups.found.contains_key(group) {
            return Err(not_found(group));
        }
        let ended = user
            .groups
            .iter()
            .filter(|name| groups.member_of(user, name).is_none())
            .map(|name| (name.clone(), user.group_generations.get(name).copied().unwrap_or(0)))
            .collect();
        let generation = groups.generation(group);
        let input = Input::AddToGroup { group: group.to_owned(), generation, ended };
        self.drive(super::Target::Sub(&user.sub), &input)?;
        // Deleted (or made anew) since it was read: the membership just written is of a group
        // that has ended, which grants nothing and goes at the user's next join.
        match self.definition(group)? {
            Some(definition) if definition.value.generation == generation => Ok(()),
            _ => Err(not_found(group)),
        }
    }

    /// Removes a user from a group.
    pub fn admin_remove_user_from_group(&self, username: &str, group: &str) -> Result<()> {
        self.get_group(group)?;
        let input = Input::RemoveFromGroup { group: group.to_owned(), only_generation: None };
        self.admin_drive(username, &input).map(|_: Outcome| ())
    }

    /// The groups a user belongs to, by precedence.
    pub fn admin_list_groups_for_user(&self, username: &str) -> Result<Vec<Group>> {
        let user = self.admin_find(username)?.value;
        let groups = self.groups_named(&user.groups)?;
        Ok(groups.ordered(&user).iter().filter_map(|name| groups.member_of(&user, name).cloned()).collect())
    }

    /// The users of a group, paged like `list_users`.
    pub fn list_users_in_group(
        &self,
        group: &str,
        limit: Option<u32>,
        pagination_token: Option<&str>,
    ) -> Result<UserList> {
        let name = group.to_owned();
        let groups = self.groups_named([&name])?;
        if groups.found.is_empty() {
            return Err(not_found(group));
        }
        self.page_of_users(&format!("group\n{group}"), limit, pagination_token, |after, limit| {
            let keep = |u: &UserRecord| groups.member_of(u, group).is_some();
            self.store().users_matching(self.pool_id(), &members(group), after, limit, &keep)
        })
    }
}

/// The search for the users whose records name `group` (the store's index of
/// [`GROUP_ATTRIBUTE`]). Records that name it after the group was deleted and made again are
/// found too: the caller's `keep` turns them away.
fn members(group: &str) -> UserSearch {
    UserSearch { attribute: GROUP_ATTRIBUTE, term: group.to_owned(), prefix: false }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::{MemoryStore, PoolConfig, UserPool};

    /// `delete_group` removes the definition, then sweeps the members' records. A group
    /// created again under the name, and joined, between the two keeps its new members.
    #[test]
    fn a_sweep_after_the_group_was_created_again_keeps_its_new_members() {
        let config = PoolConfig::from_toml(
            "pool_id = 'groups'\n[password_hashing]\nmemory_kib = 128\niterations = 1\ndangerous_allow_weak = true",
        )
        .unwrap();
        let pool = UserPool::builder(config).store(Arc::new(MemoryStore::new())).open().unwrap();
        pool.admin_create_user("alice", crate::Attributes::new(), Some("Temp-Passw0rd!"), false).unwrap();
        pool.create_group("admins", None, None).unwrap();
        pool.admin_add_user_to_group("alice", "admins").unwrap();

        let deleted = pool.remove_group_definition("admins").unwrap();
        pool.create_group("admins", None, None).unwrap();
        pool.admin_add_user_to_group("alice", "admins").unwrap();
        pool.sweep_group_members("admins", deleted).unwrap();

        let groups = pool.admin_list_groups_for_user("alice").unwrap();
        assert_eq!(groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["admins"]);
    }
}
