//! TOTP (RFC 6238) on `totp-rs`: SHA-1, 6 digits, 30 s steps, ±1 step of skew, as
//! authenticator apps and Cognito use. totp-rs keeps no state, so replay protection (a step
//! is accepted once) lives in the flow: it stores the last accepted step and only accepts a
//! later one, in the same atomic write as the sign-in.

use rand_core::RngCore;
use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Seconds per step.
pub(crate) const STEP_SECS: u64 = 30;
/// Bytes of secret: 160 bits, RFC 4226's recommendation.
pub(crate) const SECRET_LEN: usize = 20;

/// A fresh TOTP secret.
pub(crate) fn new_secret(rng: &mut dyn RngCore) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(super::secret_bytes::<SECRET_LEN>(rng).to_vec())
}

fn totp(secret: &[u8], issuer: Option<&str>, account: &str) -> Result<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS)
        .with_secret(secret.to_vec())
        .with_issuer(issuer)
        .with_account_name(account)
        .build()
        .map_err(|e| Error::internal(format!("TOTP setup failed: {e}")))
}

/// The secret as authenticator apps take it: unpadded base32.
pub(crate) fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// The `otpauth://totp/…` URI for a QR code: issuer = pool name, account = username.
///
/// The label is `issuer:account`, so the key URI format forbids a colon in either. The
/// pool's name cannot hold one; a username or email can, and its colons are shown as
/// spaces: the account in the label only tells entries apart in the app.
pub(crate) fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> Result<String> {
    totp(secret, Some(issuer), &account.replace(':', " "))?
        .to_url()
        .map_err(|e| Error::internal(format!("TOTP URI failed: {e}")))
}

/// The step a 6-digit `code` matches at `now_ms`, within ±1 step; `None` if none does.
pub(crate) fn matched_step(secret: &[u8], code: &str, now_ms: i64) -> Option<u64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = u64::try_from(now_ms / 1000).ok()?;
    totp(secret, None, "user").ok()?.check(code, now)
}

/// The code for `now_ms`.
#[cfg(test)]
fn code_at(secret: &[u8], now_ms: i64) -> Result<String> {
    let now = u64::try_from(now_ms / 1000).map_err(|_| Error::internal("time before 1970"))?;
    Ok(totp(secret, None, "user")?.generate(now).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 seed, truncated to the 6 digits apps show.
    #[test]
    fn rfc6238_sha1_vectors_at_six_digits() {
        let seed = b"12345678901234567890";
        for (t, eight) in
            [(59, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924"), (2_000_000_000, "69279037")]
        {
            let code = code_at(seed, t * 1000).unwrap();
            assert_eq!(code, eight[2..], "t={t}");
            assert_eq!(matched_step(seed, &code, t * 1000), Some(t as u64 / 30));
        }
    }

    #[test]
    fn one_step_of_skew_each_way() {
        let seed = b"12345678901234567890";
        let now = 1_234_567_890_000;
        let code = code_at(seed, now).unwrap();
        assert_eq!(matched_step(seed, &code, now + 30_000), Some(1_234_567_890 / 30));
        assert_eq!(matched_step(seed, &code, now - 30_000), Some(1_234_567_890 / 30));
        assert_eq!(matched_step(seed, &code, now + 60_000), None);
        assert_eq!(matched_step(seed, "12345", now), None);
        assert_eq!(matched_step(seed, "abcdef", now), None);
    }

    #[test]
    fn uri_names_issuer_and_account() {
        let uri = otpauth_uri(b"12345678901234567890", "My Pool", "alice").unwrap();
        assert!(uri.starts_with("otpauth://totp/My%20Pool:alice?"), "{uri}");
        assert!(uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), "{uri}");
        assert!(uri.contains("issuer=My%20Pool"), "{uri}");
        let uri = otpauth_uri(b"12345678901234567890", "My Pool", "corp:a:b@example.com").unwrap();
        assert!(uri.starts_with("otpauth://totp/My%20Pool:corp%20a%20b%40example.com?"), "{uri}");
    }
}
