//! Secrets at rest: AES-256-GCM (ring) under a key the host supplies.
//!
//! Without a host key, secrets are stored as they are and the store's own protection (file
//! permissions, disk encryption) is all there is; `docs/security.md` says so.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorCode, Result};

const PREFIX: &[u8] = b"upseal1:";

/// Seals and opens secrets, or passes them through when no key is set.
pub(crate) struct Sealer {
    key: Option<LessSafeKey>,
}

impl Sealer {
    pub(crate) fn new(key: Option<&[u8]>) -> Result<Self> {
        let key = match key {
            None => None,
            Some(bytes) => {
                let unbound = UnboundKey::new(&AES_256_GCM, bytes)
                    .map_err(|_| Error::invalid("the encryption key must be exactly 32 bytes"))?;
                Some(LessSafeKey::new(unbound))
            }
        };
        Ok(Self { key })
    }

    /// Seals `plain`, binding it to `label` (what it is), so a sealed value cannot be moved
    /// to another place in the store. Without a key the result is `plain` itself, so it is
    /// wiped when dropped like any copy of a secret.
    pub(crate) fn seal(&self, label: &str, plain: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let Some(key) = &self.key else {
            return Ok(Zeroizing::new(plain.to_vec()));
        };
        let nonce_bytes = super::random_bytes::<NONCE_LEN>(&mut super::os_rng());
        let mut buf = plain.to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(label.as_bytes()), &mut buf)
            .map_err(|_| Error::internal("sealing failed"))?;
        let mut out = PREFIX.to_vec();
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&buf);
        Ok(Zeroizing::new(out))
    }

    /// Opens a value sealed by [`Sealer::seal`] with the same label.
    pub(crate) fn open(&self, label: &str, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let sealed = stored.starts_with(PREFIX);
        match (&self.key, sealed) {
            (None, false) => Ok(Zeroizing::new(stored.to_vec())),
            (None, true) => Err(misconfigured(
                "the pool's secrets are sealed with an encryption key: open it with that key (`encryption_key`)",
            )),
            (Some(_), false) => Err(misconfigured(
                "an encryption key was given, but the pool's secrets are stored unsealed: open it without one \
                 (a pool cannot be sealed after it is made)",
            )),
            (Some(key), true) => {
                let rest = &stored[PREFIX.len()..];
                if rest.len() < NONCE_LEN {
                    return Err(Error::internal("sealed secret is truncated"));
                }
                let (nonce, body) = rest.split_at(NONCE_LEN);
                let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::internal("bad nonce"))?;
                let mut buf = Zeroizing::new(body.to_vec());
                let plain_len = key
                    .open_in_place(nonce, Aad::from(label.as_bytes()), &mut buf)
                    .map_err(|_| {
                        Error::internal("a sealed secret did not open: it was altered, or sealed with another key")
                    })?
                    .len();
                buf.truncate(plain_len);
                Ok(buf)
            }
        }
    }
}

impl Sealer {
    /// [`Sealer::open`] for the pool's own secrets (its signing keys, its code key), which
    /// every open reads: one that does not open was sealed with another key than the one
    /// given, the host's configuration. (A user's TOTP secret that does not open, in a pool
    /// that opened, was altered: an internal error, as `open` answers.)
    pub(crate) fn open_pool_secret(&self, label: &str, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.open(label, stored).map_err(|e| match e.code() {
            ErrorCode::InternalError => misconfigured(
                "the pool's secrets do not open with this encryption key: open it with the key it was made with (or \
                 its stored secrets were altered)",
            ),
            _ => e,
        })
    }
}

/// A key that does not fit the pool is the host's configuration, not a fault of the
/// library: the error says which option to fix.
fn misconfigured(message: &'static str) -> Error {
    Error::new(ErrorCode::InvalidUserPoolConfiguration, message)
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer {{ encrypted: {} }}", self.key.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_label_binding() {
        let sealer = Sealer::new(Some(&[7u8; 32])).unwrap();
        let sealed = sealer.seal("key:a", b"private key bytes").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        assert_eq!(sealer.open("key:a", &sealed).unwrap().as_slice(), b"private key bytes");
        assert!(sealer.open("key:b", &sealed).is_err());
        assert!(Sealer::new(Some(&[8u8; 32])).unwrap().open("key:a", &sealed).is_err());
        assert!(Sealer::new(None).unwrap().open("key:a", &sealed).is_err());
        assert!(Sealer::new(Some(&[1u8; 31])).is_err());
    }
}
