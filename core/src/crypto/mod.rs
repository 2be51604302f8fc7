//! Cryptography, each piece on the field's standard library: argon2id passwords (`argon2`),
//! one-time codes and refresh tokens (`ring` HMAC, SHA-256, CSPRNG), JWT signing and
//! verification (`ring`), key material at rest (`ring` AES-256-GCM).

pub(crate) mod codes;
pub(crate) mod cursor;
pub(crate) mod jwt;
pub(crate) mod keys;
pub(crate) mod password;
pub(crate) mod seal;
pub(crate) mod totp;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::RngCore;
use zeroize::Zeroizing;

pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// `n` random bytes from the injected generator.
pub(crate) fn random_bytes<const N: usize>(rng: &mut dyn RngCore) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

/// `n` random bytes that become a secret (a key, a token, a TOTP seed): wiped when dropped.
pub(crate) fn secret_bytes<const N: usize>(rng: &mut dyn RngCore) -> Zeroizing<[u8; N]> {
    let mut out = Zeroizing::new([0u8; N]);
    rng.fill_bytes(out.as_mut_slice());
    out
}

/// A random UUID v4 in its canonical text form (used for `sub`, `jti` and family ids).
pub(crate) fn uuid_v4(rng: &mut dyn RngCore) -> String {
    let mut b = random_bytes::<16>(rng);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// SHA-256 of `data`, as lower-case hex.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    digest.as_ref().iter().map(|x| format!("{x:02x}")).collect()
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The operating system's CSPRNG behind the `RngCore` interface the flows take.
pub(crate) fn os_rng() -> rand_core::UnwrapErr<rand_core::OsRng> {
    rand_core::UnwrapErr(rand_core::OsRng)
}

#[cfg(test)]
mod tests {
    use rand_core::SeedableRng;

    use super::*;

    #[test]
    fn uuids_have_version_and_variant_bits() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let id = uuid_v4(&mut rng);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!("89ab".contains(&id[19..20]));
    }
}
