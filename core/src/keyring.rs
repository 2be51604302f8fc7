//! A pool's signing keys: one for ID tokens and one for access tokens (separate `kid`s, as
//! Cognito), kept in the store as a pool secret, private parts sealed when the host gives an
//! encryption key. Rotation adds new keys; old ones verify until every token they signed
//! has expired, then drop out of the JWKS.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::config::SigningAlgorithm;
use crate::crypto::keys::{self, PrivateKey, PublicKey};
use crate::crypto::seal::Sealer;
use crate::crypto::{self, b64url, b64url_decode};
use crate::error::{Error, Result};
use crate::store::{Store, StoreError, Write};

pub(crate) const SECRET_NAME: &str = "signing_keys";

/// What a key signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum KeyUse {
    Id,
    Access,
}

#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    alg: SigningAlgorithm,
    #[serde(rename = "use")]
    key_use: KeyUse,
    /// PKCS#8, sealed, base64url (the key itself when the pool has no encryption key).
    private: Zeroizing<String>,
    created_ms: i64,
    retired_ms: Option<i64>,
}

#[derive(Clone, Default, Serialize, Deserialize)]
struct StoredRing {
    keys: Vec<StoredKey>,
}

pub(crate) struct LoadedKey {
    pub(crate) kid: String,
    pub(crate) alg: SigningAlgorithm,
    pub(crate) key_use: KeyUse,
    pub(crate) private: PrivateKey,
    pub(crate) public: PublicKey,
    pub(crate) retired_ms: Option<i64>,
}

/// The loaded keys of a pool.
pub(crate) struct KeyRing {
    pub(crate) keys: Vec<LoadedKey>,
    version: u64,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("kids", &self.keys.iter().map(|k| &k.kid).collect::<Vec<_>>()).finish()
    }
}

fn label(pool: &str, kid: &str) -> String {
    format!("signing-key:{pool}:{kid}")
}

fn store_error(e: StoreError) -> Error {
    Error::internal(format!("key store: {e}"))
}

fn new_key(pool: &str, alg: SigningAlgorithm, key_use: KeyUse, now: i64, sealer: &Sealer) -> Result<StoredKey> {
    let kid = b64url(&crypto::random_bytes::<12>(&mut crypto::os_rng()));
    let der = keys::generate(alg)?;
    let sealed = sealer.seal(&label(pool, &kid), &der)?;
    Ok(StoredKey { kid, alg, key_use, private: Zeroizing::new(b64url(&sealed)), created_ms: now, retired_ms: None })
}

impl KeyRing {
    /// Loads the pool's keys, creating them on first use. Safe against another process
    /// creating them at the same moment.
    pub(crate) fn load_or_create(
        store: &dyn Store,
        pool: &str,
        alg: SigningAlgorithm,
        now: i64,
        sealer: &Sealer,
    ) -> Result<Self> {
        for _ in 0..5 {
            if let Some(ring) = Self::load(store, pool, sealer)? {
                return Ok(ring);
            }
            let ring = StoredRing {
                keys: vec![
                    new_key(pool, alg, KeyUse::Id, now, sealer)?,
                    new_key(pool, alg, KeyUse::Access, now, sealer)?,
                ],
            };
            let bytes = serde_json::to_vec(&ring).map_err(|e| Error::internal(e.to_string()))?;
            match store.commit(
                pool,
                vec![Write::PutSecret {
                    name: SECRET_NAME.into(),
                    value: bytes.into(),
                    expect: None,
                    expires_ms: None,
                }],
            ) {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(Error::internal("could not create the signing keys"))
    }

    /// Loads the keys, if the pool has any.
    pub(crate) fn load(store: &dyn Store, pool: &str, sealer: &Sealer) -> Result<Option<Self>> {
        let Some(stored) = store.secret(pool, SECRET_NAME).map_err(store_error)? else {
            return Ok(None);
        };
        let ring: StoredRing =
            serde_json::from_slice(&stored.value).map_err(|_| Error::internal("stored signing keys are corrupt"))?;
        let mut loaded = Vec::with_capacity(ring.keys.len());
        for key in ring.keys {
            let sealed = Zeroizing::new(
                b64url_decode(&key.private).ok_or_else(|| Error::internal("stored signing key is corrupt"))?,
            );
            let der = sealer.open_pool_secret(&label(pool, &key.kid), &sealed)?;
            let private = keys::load(key.alg, &der)?;
            loaded.push(LoadedKey {
                public: private.public(),
                kid: key.kid,
                alg: key.alg,
                key_use: key.key_use,
                private,
                retired_ms: key.retired_ms,
            });
        }
        Ok(Some(Self { keys: loaded, version: stored.version }))
    }

    /// Whether this ring was read after `other` was written: the store's version of the
    /// record only grows, since it is never deleted.
    pub(crate) fn is_newer_than(&self, other: &KeyRing) -> bool {
        self.version > other.version
    }

    /// The active key for a use (the newest not retired).
    pub(crate) fn signer(&self, key_use: KeyUse) -> Result<&LoadedKey> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.key_use == key_use && k.retired_ms.is_none())
            .ok_or_else(|| Error::internal("no active signing key"))
    }

    /// A key by `kid`, still usable for verification at `now` given the longest token
    /// lifetime `grace_ms`.
    pub(crate) fn verifier(&self, kid: &str, now: i64, grace_ms: i64) -> Option<&LoadedKey> {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .filter(|k| k.retired_ms.is_none_or(|at| now < at.saturating_add(grace_ms)))
    }

    /// The public keys as a JWKS document.
    pub(crate) fn jwks(&self, now: i64, grace_ms: i64) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter(|k| k.retired_ms.is_none_or(|at| now < at.saturating_add(grace_ms)))
            .map(|k| k.public.jwk(&k.kid, k.alg))
            .collect();
        json!({ "keys": keys })
    }

    /// Adds new active keys and retires the current ones; returns the new ring.
    pub(crate) fn rotate(
        &self,
        store: &dyn Store,
        pool: &str,
        alg: SigningAlgorithm,
        now: i64,
        keep_retired_ms: Option<i64>,
        sealer: &Sealer,
    ) -> Result<Self> {
        let Some(stored) = store.secret(pool, SECRET_NAME).map_err(store_error)? else {
            return Err(Error::internal("no signing keys to rotate"));
        };
        let raced = || Error::new(crate::ErrorCode::TooManyRequests, "keys changed concurrently; retry");
        if stored.version != self.version {
            return Err(raced());
        }
        let mut ring: StoredRing =
            serde_json::from_slice(&stored.value).map_err(|_| Error::internal("stored signing keys are corrupt"))?;
        match keep_retired_ms {
            Some(keep) => {
                for key in &mut ring.keys {
                    key.retired_ms.get_or_insert(now);
                }
                // A key retired longer ago than any token it signed can live verifies nothing
                // more.
                ring.keys.retain(|key| key.retired_ms.is_none_or(|retired| retired.saturating_add(keep) > now));
            }
            // Revoked: none is kept, whatever the times (a key retired by a process whose
            // clock runs ahead would otherwise stay).
            None => ring.keys.clear(),
        }
        ring.keys.push(new_key(pool, alg, KeyUse::Id, now, sealer)?);
        ring.keys.push(new_key(pool, alg, KeyUse::Access, now, sealer)?);
        let bytes = serde_json::to_vec(&ring).map_err(|e| Error::internal(e.to_string()))?;
        store
            .commit(
                pool,
                vec![Write::PutSecret {
                    name: SECRET_NAME.into(),
                    value: bytes.into(),
                    expect: Some(stored.version),
                    expires_ms: None,
                }],
            )
            .map_err(|e| if e == StoreError::Conflict { raced() } else { store_error(e) })?;
        Self::load(store, pool, sealer)?.ok_or_else(|| Error::internal("signing keys vanished"))
    }
}
