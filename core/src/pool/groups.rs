//! Groups: named sets of users whose names go into the `cognito:groups` claim, ordered by
//! precedence. Group definitions are one small pool-level record (a pool has at most 10,000
//! groups, as Cognito); memberships live on each user's record, so adding a user to a group
//! is one atomic user transition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Outcome, UserPool, backend};
use crate::error::{Error, ErrorCode, Result};
use crate::flow::Input;
use crate::flow::state::UserRecord;
use crate::results::{Group, UserList};
use crate::store::{GROUP_ATTRIBUTE, UserSearch, Write};

const GROUPS_RECORD: &str = "groups";
const MAX_GROUPS: usize = 10_000;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct Groups {
    pub(super) groups: BTreeMap<String, Group>,
    /// Each group's generation (absent: 0, a group created before generations existed). A
    /// group created again under a deleted one's name gets a new generation, so memberships
    /// of the old one that a delete did not sweep (cut short by a crash, or added while it
    /// ran) grant nothing.
    #[serde(default)]
    generations: BTreeMap<String, u64>,
    /// The last generation handed out.
    #[serde(default)]
    last_generation: u64,
}

impl Groups {
    fn generation(&self, name: &str) -> u64 {
        self.generations.get(name).copied().unwrap_or(0)
    }

    /// The groups `user` belongs to as the `cognito:groups` claim orders them: by precedence
    /// (lowest first; none last), then name.
    pub(super) fn ordered(&self, user: &UserRecord) -> Vec<String> {
        // `(false, p)` sorts before `(true, _)`: a group without one comes after any precedence.
        let mut names: Vec<((bool, Option<u32>), &String)> = user
            .groups
            .iter()
            .filter(|name| self.has_member(user, name))
            .map(|name| {
                let precedence = self.groups.get(name).and_then(|g| g.precedence);
                ((precedence.is_none(), precedence), name)
            })
            .collect();
        names.sort();
        names.into_iter().map(|(_, n)| n.clone()).collect()
    }

    /// Whether `user` belongs to the group `name` as it exists now.
    fn has_member(&self, user: &UserRecord, name: &str) -> bool {
        self.groups.contains_key(name)
            && user.groups.contains(name)
            && user.group_generations.get(name).copied().unwrap_or(0) == self.generation(name)
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok =
        !name.is_empty() && name.chars().count() <= 128 && name.chars().all(|c| !c.is_control() && !c.is_whitespace());
    if ok { Ok(()) } else { Err(Error::invalid("group name must be 1-128 characters without spaces")) }
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

impl UserPool {
    pub(super) fn groups(&self) -> Result<(Groups, Option<u64>)> {
        match self.store().secret(self.pool_id(), GROUPS_RECORD).map_err(backend)? {
            None => Ok((Groups::default(), None)),
            Some(v) => {
                let groups =
                    serde_json::from_slice(&v.value).map_err(|_| Error::internal("stored groups are corrupt"))?;
                Ok((groups, Some(v.version)))
            }
        }
    }

    /// The group definitions, when `group` is one of them.
    fn groups_having(&self, group: &str) -> Result<Groups> {
        let (groups, _) = self.groups()?;
        if groups.groups.contains_key(group) { Ok(groups) } else { Err(not_found(group)) }
    }

    /// Rewrites the group definitions with `change`, rerunning on a concurrent change.
    fn change_groups<T>(&self, change: impl Fn(&mut Groups) -> Result<T>) -> Result<T> {
        self.commit_rerunning("Too many concurrent group changes; retry.", || {
            let (mut groups, version) = self.groups()?;
            let out = change(&mut groups)?;
            let value = serde_json::to_vec(&groups).map_err(|e| Error::internal(e.to_string()))?;
            let write =
                Write::PutSecret { name: GROUPS_RECORD.into(), value: value.into(), expect: version, expires_ms: None };
            Ok((vec![write], out))
        })
    }

    /// The user's groups as the `cognito:groups` claim orders them (see [`Groups::ordered`]).
    pub(super) fn ordered_groups(&self, user: &UserRecord) -> Result<Vec<String>> {
        if user.groups.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.groups()?.0.ordered(user))
    }

    /// Creates a group.
    pub fn create_group(&self, name: &str, description: Option<&str>, precedence: Option<u32>) -> Result<Group> {
        check_name(name)?;
        if description.is_some_and(|d| d.chars().count() > 2048) {
            return Err(Error::invalid("description must be at most 2048 characters"));
        }
        check_precedence(precedence)?;
        let now = self.now();
        self.change_groups(|groups| {
            if groups.groups.contains_key(name) {
                return Err(Error::new(
                    ErrorCode::GroupExists,
                    format!("A group with the name {name} already exists."),
                ));
            }
            if groups.groups.len() >= MAX_GROUPS {
                return Err(Error::new(ErrorCode::LimitExceeded, "A pool has at most 10,000 groups."));
            }
            let group = Group {
                name: name.to_owned(),
                description: description.map(str::to_owned),
                precedence,
                created_ms: now,
                updated_ms: now,
            };
            groups.groups.insert(name.to_owned(), group.clone());
            groups.last_generation += 1;
            groups.generations.insert(name.to_owned(), groups.last_generation);
            Ok(group)
        })
    }

    /// A group by name.
    pub fn get_group(&self, name: &str) -> Result<Group> {
        self.groups()?.0.groups.remove(name).ok_or_else(|| not_found(name))
    }

    /// Every group, by name.
    pub fn list_groups(&self) -> Result<Vec<Group>> {
        Ok(self.groups()?.0.groups.into_values().collect())
    }

    /// Deletes a group and removes every user from it.
    pub fn delete_group(&self, name: &str) -> Result<()> {
        let generation = self.remove_group_definition(name)?;
        self.sweep_group_members(name, generation)
    }

    /// Removes a group's definition, which ends every membership at once (its generation
    /// goes with it). Returns the generation removed.
    fn remove_group_definition(&self, name: &str) -> Result<u64> {
        self.change_groups(|groups| {
            let generation = groups.generation(name);
            groups.generations.remove(name);
            groups.groups.remove(name).ok_or_else(|| not_found(name))?;
            Ok(generation)
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
                    outcome => drop(outcome?),
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
        let groups = self.groups_having(group)?;
        let user = &found.value;
        let ended = user
            .groups
            .iter()
            .filter(|name| !groups.has_member(user, name))
            .map(|name| (name.clone(), user.group_generations.get(name).copied().unwrap_or(0)))
            .collect();
        let input = Input::AddToGroup { group: group.to_owned(), generation: groups.generation(group), ended };
        self.drive(super::Target::Sub(&user.sub), &input).map(drop)
    }

    /// Removes a user from a group.
    pub fn admin_remove_user_from_group(&self, username: &str, group: &str) -> Result<()> {
        self.get_group(group)?;
        let input = Input::RemoveFromGroup { group: group.to_owned(), only_generation: None };
        self.admin_drive(username, &input).map(|_: Outcome| ())
    }

    /// The groups a user belongs to, by precedence.
    pub fn admin_list_groups_for_user(&self, username: &str) -> Result<Vec<Group>> {
        let found = self.admin_find(username)?;
        let (groups, _) = self.groups()?;
        Ok(groups.ordered(&found.value).into_iter().filter_map(|n| groups.groups.get(&n).cloned()).collect())
    }

    /// The users of a group, paged like `list_users`.
    pub fn list_users_in_group(
        &self,
        group: &str,
        limit: Option<u32>,
        pagination_token: Option<&str>,
    ) -> Result<UserList> {
        let groups = self.groups_having(group)?;
        self.page_of_users(&format!("group\n{group}"), limit, pagination_token, |after, limit| {
            self.store().users_matching(self.pool_id(), &members(group), after, limit, &|u| groups.has_member(u, group))
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
