//! Bulk import (Cognito's user-import CSV, migrations): many users in one transaction, no
//! messages, no hashing.

use zeroize::Zeroizing;

use super::{UserPool, backend};
use crate::attributes::Attributes;
use crate::crypto;
use crate::error::{Error, Result};
use crate::flow::state::UserRecord;
use crate::flow::{self, Change, Ctx, Input, user};
use crate::store::{StoreError, Write};

/// One user for [`UserPool::admin_import_users`] (a row of Cognito's user-import CSV).
#[derive(Clone, Default)]
pub struct ImportUser {
    /// The username (`cognito:username`); an email or phone number in pools where those
    /// are the username.
    pub username: String,
    /// Attributes, including `email_verified` / `phone_number_verified` (set as given).
    pub attributes: Attributes,
    /// An argon2id PHC string of the user's password, for migrations from a system that
    /// already hashes with argon2id: the user is imported CONFIRMED and signs in with that
    /// password (rehashed to the pool's parameters, and to its NFKC form, on first sign-in;
    /// until then it verifies as the other system hashed it). `None`, as in
    /// Cognito's import, imports the user without a password in RESET_REQUIRED: they set
    /// one through `forgot_password`.
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for ImportUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportUser")
            .field("username", &self.username)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl UserPool {
    /// Imports users in one transaction (call it with batches of about a thousand). No
    /// message is sent and no password is hashed. Returns, per user in order, its new
    /// `sub` or why it was not imported (an invalid username or attribute, a username or
    /// alias already taken); the others are imported all the same. Fails as a whole only
    /// when the store fails.
    pub fn admin_import_users(&self, users: Vec<ImportUser>) -> Result<Vec<Result<String>>> {
        let settings = &self.shared.settings;
        let now = self.now();
        let mut rng = crypto::os_rng();
        let mut outcomes = Vec::with_capacity(users.len());
        // (index in `outcomes`, user, keys) of the users still to write.
        let mut pending = Vec::with_capacity(users.len());
        for imported in users {
            match self.import_record(imported, now, &mut rng) {
                Ok((user, keys)) => {
                    outcomes.push(Ok(user.sub.clone()));
                    pending.push((outcomes.len() - 1, user, keys));
                }
                Err(e) => outcomes.push(Err(e)),
            }
        }
        let mut checked = false;
        while !pending.is_empty() {
            let writes = pending
                .iter()
                .map(|(_, user, keys)| Write::PutUser { user: user.clone(), keys: keys.clone(), expect: None })
                .collect();
            let key = match self.store().commit(self.pool_id(), writes) {
                Ok(()) => break,
                Err(StoreError::Taken(key)) => key,
                Err(StoreError::Conflict) => return Err(Error::internal("an imported user's sub already exists")),
                Err(e) => return Err(backend(e)),
            };
            let before = pending.len();
            if checked {
                // Taken since the check (a concurrent writer): drop the last claimant.
                if let Some(last) = pending.iter().rposition(|(_, _, keys)| keys.contains(&key)) {
                    let (index, user, _) = pending.remove(last);
                    outcomes[index] = Err(user::taken_error(settings, &key, Some(&user)));
                }
            } else {
                // The first collision: drop every user whose key is already held, or is
                // claimed by an earlier user of this batch, in one pass.
                checked = true;
                let mut claimed = std::collections::HashSet::new();
                let mut kept = Vec::with_capacity(pending.len());
                for (index, user, keys) in pending {
                    let mut taken = None;
                    for k in &keys {
                        if claimed.contains(k)
                            || self.store().user_sub_by_key(self.pool_id(), k).map_err(backend)?.is_some()
                        {
                            taken = Some(k.clone());
                            break;
                        }
                    }
                    match taken {
                        Some(k) => outcomes[index] = Err(user::taken_error(settings, &k, Some(&user))),
                        None => {
                            // Only a user who is kept holds their keys: a refused one's
                            // username stays free for a later row.
                            claimed.extend(keys.iter().cloned());
                            kept.push((index, user, keys));
                        }
                    }
                }
                pending = kept;
                if pending.len() == before {
                    continue;
                }
            }
            if pending.len() == before {
                return Err(Error::internal(format!("the import could not resolve a taken key ({key})")));
            }
        }
        Ok(outcomes)
    }

    fn import_record(
        &self,
        imported: ImportUser,
        now: i64,
        rng: &mut dyn rand_core::RngCore,
    ) -> Result<(UserRecord, Vec<String>)> {
        let settings = &self.shared.settings;
        let (name, attributes) =
            user::check_new_user(settings, self.client(), &imported.username, imported.attributes, true)?;
        // Unlike an administrator's user, an imported one never meets a new-password
        // challenge that would ask for what is missing.
        user::check_required(settings, &attributes)?;
        let (status, password_hash) = match imported.password_hash {
            Some(hash) => {
                self.shared.hasher.check_stored(&hash)?;
                (crate::UserStatus::Confirmed, hash)
            }
            // No password matches an empty hash; the user must reset it.
            None => (crate::UserStatus::ResetRequired, String::new()),
        };
        // The record is made by the same transition as an administrator's create, so it
        // gets every field a new user gets; only its status and password differ.
        let input = Input::AdminCreate {
            name,
            attributes,
            temporary_password: Zeroizing::new(String::new()),
            password_hash,
            send_invitation: false,
        };
        let mut ctx = Ctx {
            now,
            settings,
            client: self.client(),
            rng,
            codes: &self.shared.codes,
            sent: &[],
            request_counted: false,
            secret_hash_digest: None,
        };
        let step = flow::transition(None, input, &mut ctx);
        step.reply?;
        let Change::Create(mut record) = step.change else {
            return Err(Error::internal("an import created no user"));
        };
        flow::check_token_size(None, &record)?;
        record.status = status;
        record.temporary_password_expires_ms = None;
        let keys = user::index_keys(settings, &record);
        // A `preferred_username` that is the username of a user written before usernames
        // held their alias key (`user::username_twin`): no key of the store shows it.
        for key in &keys {
            if let Some(twin) = user::username_twin(key).filter(|twin| !keys.contains(twin))
                && self.store().user_sub_by_key(self.pool_id(), &twin).map_err(backend)?.is_some()
            {
                return Err(user::taken_error(settings, key, Some(&record)));
            }
        }
        Ok((record, keys))
    }
}
