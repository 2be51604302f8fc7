//! The settings that decide under which keys users are stored (`sign_in.username_attributes`
//! and `case_sensitive`): fixed when a pool is made, as Cognito fixes them, since the users
//! already stored hold the keys that the settings of their day gave them. A pool opened with
//! other ones would miss its users, or let a second user claim an address the first one
//! signs in with. Alias attributes may still be added or removed: users stored before keep
//! their username, and a lookup by a name that looks like an alias tries the username next.
//! The record keeps the aliases of the app's last open too, so that a tool, whose
//! configuration may be a guess, writes users under the keys the app looks them up by.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::backend;
use crate::config::SignInConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::store::{SecretBytes, Store, StoreError, Write};

/// The pool record that keeps them (plain JSON: nothing in it is secret).
const RECORD: &str = "lookup_settings";

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct LookupSettings {
    username_attributes: BTreeSet<String>,
    case_sensitive: bool,
    /// The app's, as of its last open; `None` in records from before they were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alias_attributes: Option<BTreeSet<String>>,
}

impl LookupSettings {
    fn of(sign_in: &SignInConfig) -> Self {
        Self {
            username_attributes: sign_in.username_attributes.iter().cloned().collect(),
            case_sensitive: sign_in.case_sensitive,
            alias_attributes: Some(sign_in.alias_attributes.iter().cloned().collect()),
        }
    }

    /// What cannot change once the pool exists.
    fn fixed(&self) -> (&BTreeSet<String>, bool) {
        (&self.username_attributes, self.case_sensitive)
    }

    fn to_bytes(&self) -> Result<SecretBytes> {
        serde_json::to_vec(self).map(SecretBytes::from).map_err(|e| Error::internal(e.to_string()))
    }
}

impl std::fmt::Display for LookupSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "username_attributes = {:?}, case_sensitive = {}", self.username_attributes, self.case_sensitive)
    }
}

/// Refuses `sign_in` when pool `pool` was made with other lookup settings, and, for a tool
/// (`tool`: an administering open, whose configuration may be a guess), when the pool's app
/// last opened it with other alias attributes. Writes nothing: [`record`] does, once the
/// open has passed every other check.
pub(super) fn check(store: &dyn Store, pool: &str, sign_in: &SignInConfig, tool: bool) -> Result<()> {
    let wanted = LookupSettings::of(sign_in);
    let Some(found) = store.secret(pool, RECORD).map_err(backend)? else {
        return Ok(());
    };
    let stored = decode(pool, &found.value)?;
    if stored.fixed() != wanted.fixed() {
        return Err(refusal(pool, &stored, &wanted));
    }
    match stored.alias_attributes {
        Some(app) if tool && Some(&app) != wanted.alias_attributes.as_ref() => Err(Error::new(
            ErrorCode::InvalidUserPoolConfiguration,
            format!(
                "pool {pool}'s app signs users in with sign_in alias_attributes = {app:?}; this configuration has \
                 {:?}. A tool must find and store users under the names the app does: give it the app's \
                 configuration",
                wanted.alias_attributes.unwrap_or_default()
            ),
        )),
        _ => Ok(()),
    }
}

/// Puts the sign-in settings pool `pool`'s app recorded in place of `sign_in`'s (the alias
/// attributes too, when the record has them). Returns whether there was a record.
pub(super) fn adopt(store: &dyn Store, pool: &str, sign_in: &mut SignInConfig) -> Result<bool> {
    let Some(found) = store.secret(pool, RECORD).map_err(backend)? else {
        return Ok(false);
    };
    let stored = decode(pool, &found.value)?;
    // A record from before aliases were kept leaves the configuration's, unless the pool
    // signs in by an address, which takes none.
    match stored.alias_attributes {
        Some(aliases) => sign_in.alias_attributes = aliases.into_iter().collect(),
        None if !stored.username_attributes.is_empty() => sign_in.alias_attributes.clear(),
        None => {}
    }
    sign_in.username_attributes = stored.username_attributes.into_iter().collect();
    sign_in.case_sensitive = stored.case_sensitive;
    Ok(true)
}

/// Records an app's lookup settings: those a pool is made with, and the alias attributes of
/// this open. Refuses, as [`check`] does, settings another app recorded meanwhile.
pub(super) fn record(store: &dyn Store, pool: &str, sign_in: &SignInConfig) -> Result<()> {
    let wanted = LookupSettings::of(sign_in);
    for _ in 0..5 {
        let found = store.secret(pool, RECORD).map_err(backend)?;
        let expect = match &found {
            None => None,
            Some(found) => {
                let stored = decode(pool, &found.value)?;
                if stored.fixed() != wanted.fixed() {
                    return Err(refusal(pool, &stored, &wanted));
                }
                if stored.alias_attributes == wanted.alias_attributes {
                    return Ok(());
                }
                Some(found.version)
            }
        };
        let write = Write::PutSecret { name: RECORD.into(), value: wanted.to_bytes()?, expect, expires_ms: None };
        match store.commit(pool, vec![write]) {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict) => {}
            Err(e) => return Err(backend(e)),
        }
    }
    Err(Error::internal(format!("pool {pool}: could not record its sign-in settings ({RECORD}), written meanwhile")))
}

fn decode(pool: &str, stored: &[u8]) -> Result<LookupSettings> {
    serde_json::from_slice(stored).map_err(|_| {
        Error::internal(format!(
            "pool {pool}: its record of the sign-in settings it was made with ({RECORD}) is corrupt. Delete that \
             record (in SQLite: DELETE FROM userpool_secrets WHERE pool = '{pool}' AND name = '{RECORD}') and the \
             app's next open records its configuration's settings again: make sure they are the ones the pool \
             was made with"
        ))
    })
}

fn refusal(pool: &str, stored: &LookupSettings, wanted: &LookupSettings) -> Error {
    Error::new(
        ErrorCode::InvalidUserPoolConfiguration,
        format!(
            "pool {pool} was made with sign_in {stored}; this configuration has {wanted}. These settings decide how \
             users are found and cannot change once the pool exists: open it with the ones it was made with"
        ),
    )
}
