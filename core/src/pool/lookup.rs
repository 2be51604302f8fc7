//! The settings that decide under which keys users are stored (`sign_in.username_attributes`
//! and `case_sensitive`): fixed when a pool is made, as Cognito fixes them, since the users
//! already stored hold the keys that the settings of their day gave them. A pool opened with
//! other ones would miss its users, or let a second user claim an address the first one
//! signs in with. Alias attributes may still be added or removed: users stored before keep
//! their username, and a lookup by a name that looks like an alias tries the username next.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::backend;
use crate::config::SignInConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::store::{SecretBytes, Store};

/// The pool record that keeps them (plain JSON: nothing in it is secret).
const RECORD: &str = "lookup_settings";

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct LookupSettings {
    username_attributes: BTreeSet<String>,
    case_sensitive: bool,
}

impl LookupSettings {
    fn of(sign_in: &SignInConfig) -> Self {
        Self {
            username_attributes: sign_in.username_attributes.iter().cloned().collect(),
            case_sensitive: sign_in.case_sensitive,
        }
    }
}

impl std::fmt::Display for LookupSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "username_attributes = {:?}, case_sensitive = {}", self.username_attributes, self.case_sensitive)
    }
}

/// Refuses `sign_in` when pool `pool` was made with other lookup settings. A pool that has
/// none recorded (made before they were, or being made now) gets these when `record`: an
/// app's open, not an administering tool's, whose configuration may be a guess.
pub(super) fn check(store: &dyn Store, pool: &str, sign_in: &SignInConfig, record: bool) -> Result<()> {
    let wanted = LookupSettings::of(sign_in);
    let stored = if record {
        let fresh = || serde_json::to_vec(&wanted).map(SecretBytes::from).map_err(|e| Error::internal(e.to_string()));
        super::load_or_create_record(store, pool, RECORD, fresh)?
    } else {
        match store.secret(pool, RECORD).map_err(backend)? {
            Some(stored) => stored.value,
            None => return Ok(()),
        }
    };
    let stored: LookupSettings = serde_json::from_slice(&stored).map_err(|_| {
        Error::internal(format!(
            "pool {pool}: its record of the sign-in settings it was made with ({RECORD}) is corrupt. Delete that \
             record (in SQLite: DELETE FROM userpool_secrets WHERE pool = '{pool}' AND name = '{RECORD}') and the \
             app's next open records its configuration's settings again: make sure they are the ones the pool \
             was made with"
        ))
    })?;
    if stored == wanted {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::InvalidUserPoolConfiguration,
        format!(
            "pool {pool} was made with sign_in {stored}; this configuration has {wanted}. These settings decide how \
             users are found and cannot change once the pool exists: open it with the ones it was made with"
        ),
    ))
}
