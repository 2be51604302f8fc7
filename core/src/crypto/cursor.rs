//! Pagination tokens: a store's page cursor sealed with AES-256-GCM (ring) under a key the
//! pool derives from its code key, and bound to the listing it pages.
//!
//! A store's cursor is the last row's `sub`, or its search term and row id: a lower-case
//! prefix of the email or name the caller was just shown. Cognito's tokens are opaque, and so
//! are these: the caller can neither read one nor make one, and a token of one listing (a
//! filter, a group) is refused by another.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;

use crate::error::{Error, Result};

/// What the key is derived for (HMAC-SHA256 of this under the code key): a key of its own,
/// so that no token reveals anything about the codes' key.
const KEY_LABEL: &[u8] = b"userpool pagination token key v1";

/// Seals and opens pagination tokens.
pub(crate) struct CursorSealer {
    key: LessSafeKey,
}

impl CursorSealer {
    pub(crate) fn new(code_key: &[u8]) -> Result<Self> {
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, code_key), KEY_LABEL);
        let unbound = UnboundKey::new(&AES_256_GCM, derived.as_ref())
            .map_err(|_| Error::internal("the pagination key could not be made"))?;
        Ok(Self { key: LessSafeKey::new(unbound) })
    }

    /// The token of `cursor` for `listing` (what is being paged, e.g. the filter).
    pub(crate) fn seal(&self, listing: &str, cursor: &str) -> Result<String> {
        let nonce = super::random_bytes::<NONCE_LEN>(&mut super::os_rng());
        let mut buf = cursor.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(listing.as_bytes()), &mut buf)
            .map_err(|_| Error::internal("sealing a pagination token failed"))?;
        let mut token = nonce.to_vec();
        token.extend_from_slice(&buf);
        Ok(super::b64url(&token))
    }

    /// The cursor in a token this pool sealed for `listing`; anything else is
    /// `InvalidParameterException`.
    pub(crate) fn open(&self, listing: &str, token: &str) -> Result<String> {
        let invalid = || Error::invalid("invalid pagination token");
        let bytes = super::b64url_decode(token).ok_or_else(invalid)?;
        if bytes.len() < NONCE_LEN {
            return Err(invalid());
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| invalid())?;
        let mut buf = body.to_vec();
        let cursor = self.key.open_in_place(nonce, Aad::from(listing.as_bytes()), &mut buf).map_err(|_| invalid())?;
        String::from_utf8(cursor.to_vec()).map_err(|_| invalid())
    }
}

impl std::fmt::Debug for CursorSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorSealer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_for_its_listing_and_its_pool() {
        let sealer = CursorSealer::new(&[7u8; 32]).unwrap();
        let token = sealer.seal("users\nname ^= \"ali\"", "42:alice").unwrap();
        assert!(!token.contains("alice"));
        assert_ne!(token, sealer.seal("users\nname ^= \"ali\"", "42:alice").unwrap(), "a fresh nonce each time");
        assert_eq!(sealer.open("users\nname ^= \"ali\"", &token).unwrap(), "42:alice");
        let refused = |listing: &str, token: &str, sealer: &CursorSealer| {
            let err = sealer.open(listing, token).unwrap_err();
            assert_eq!(err.message(), "invalid pagination token");
        };
        refused("users\nname ^= \"bo\"", &token, &sealer);
        refused("users\nname ^= \"ali\"", &token, &CursorSealer::new(&[8u8; 32]).unwrap());
        let mut tampered = crate::crypto::b64url_decode(&token).unwrap();
        *tampered.last_mut().unwrap() ^= 1;
        refused("users\nname ^= \"ali\"", &crate::crypto::b64url(&tampered), &sealer);
        for garbage in ["", "not base64!", "AAAA", "42:alice"] {
            refused("users\nname ^= \"ali\"", garbage, &sealer);
        }
    }

    #[test]
    fn the_longest_cursor_fits_the_token_limit() {
        // A group listing's cursor: the largest row id, ':' and the longest group name (128
        // characters of four bytes), longer than any search term (SEARCH_TERM_BYTES).
        let cursor = format!("{}:{}", i64::MAX, "\u{1D11E}".repeat(128));
        assert!(cursor.len() > crate::store::SEARCH_TERM_BYTES + 20);
        let token = CursorSealer::new(&[7u8; 32]).unwrap().seal("group\nreaders", &cursor).unwrap();
        assert!(token.len() <= crate::pool::MAX_PAGINATION_TOKEN_CHARS, "{}", token.len());
    }
}
