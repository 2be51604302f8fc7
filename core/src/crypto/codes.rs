//! One-time codes, refresh tokens and temporary passwords: generated from the CSPRNG, stored
//! only as keyed hashes, compared in constant time.

use rand_core::RngCore;
use ring::hmac;
use zeroize::Zeroizing;

/// A uniformly random numeric code of `len` digits.
pub(crate) fn numeric_code(rng: &mut dyn RngCore, len: u32) -> Zeroizing<String> {
    let mut code = Zeroizing::new(String::with_capacity(len as usize));
    while code.len() < len as usize {
        let mut byte = [0u8; 1];
        rng.fill_bytes(&mut byte);
        // Rejection sampling: 250 is the largest multiple of 10 below 256.
        if byte[0] < 250 {
            code.push(char::from(b'0' + byte[0] % 10));
        }
    }
    code
}

/// A random temporary password that satisfies any policy Cognito allows: 16 characters with
/// upper, lower, digit and symbol.
pub(crate) fn temporary_password(rng: &mut dyn RngCore) -> Zeroizing<String> {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGIT: &[u8] = b"23456789";
    const SYMBOL: &[u8] = b"!#%+-=?@^_";
    let pick = |rng: &mut dyn RngCore, set: &[u8]| -> char {
        let limit = 256 - 256 % set.len();
        loop {
            let mut b = [0u8; 1];
            rng.fill_bytes(&mut b);
            if usize::from(b[0]) < limit {
                return char::from(set[usize::from(b[0]) % set.len()]);
            }
        }
    };
    // Its whole length at once: a buffer that grew would free a copy of the first characters.
    let mut out = Zeroizing::new(String::with_capacity(16));
    for set in [UPPER, LOWER, DIGIT, SYMBOL] {
        out.push(pick(rng, set));
    }
    let all: Vec<u8> = [UPPER, LOWER, DIGIT, SYMBOL].concat();
    while out.len() < 16 {
        out.push(pick(rng, &all));
    }
    out
}

/// A new refresh token: 256 random bits, base64url.
pub(crate) fn refresh_token(rng: &mut dyn RngCore) -> Zeroizing<String> {
    Zeroizing::new(super::b64url(&*super::secret_bytes::<32>(rng)))
}

/// The stored form of a refresh token: SHA-256 (the token has 256 bits of entropy, so a fast
/// hash is safe and keeps lookups cheap).
pub(crate) fn refresh_token_hash(token: &str) -> String {
    super::sha256_hex(token.as_bytes())
}

/// Keyed hashes of short codes. Codes have only ~20 bits, so the key (a pool secret, sealed at
/// rest when the host gives an encryption key) is what stops an offline search of a stolen
/// store; attempt caps and expiry stop online guessing.
pub(crate) struct CodeHasher {
    key: hmac::Key,
}

impl CodeHasher {
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    fn message(purpose: &str, subject: &str, code: &str) -> Vec<u8> {
        // Length-prefix every part so no two (purpose, subject, code) triples collide.
        let mut msg = Vec::with_capacity(purpose.len() + subject.len() + code.len() + 24);
        for part in [purpose, subject, code] {
            msg.extend_from_slice(&(part.len() as u64).to_be_bytes());
            msg.extend_from_slice(part.as_bytes());
        }
        msg
    }

    /// The stored tag of `code`, bound to what it is for and whom.
    pub(crate) fn tag(&self, purpose: &str, subject: &str, code: &str) -> String {
        super::b64url(hmac::sign(&self.key, &Self::message(purpose, subject, code)).as_ref())
    }

    /// Constant-time check of `code` against a stored tag.
    pub(crate) fn matches(&self, purpose: &str, subject: &str, code: &str, tag: &str) -> bool {
        let Some(expected) = super::b64url_decode(tag) else {
            return false;
        };
        hmac::verify(&self.key, &Self::message(purpose, subject, code), &expected).is_ok()
    }
}

impl std::fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeHasher(<key redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use rand_core::SeedableRng;

    use super::*;

    #[test]
    fn codes_are_digits_of_the_right_length() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for len in [6, 8, 10] {
            let code = numeric_code(&mut rng, len);
            assert_eq!(code.len(), len as usize);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn codes_are_roughly_uniform() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let mut counts = [0u32; 10];
        for _ in 0..2000 {
            for b in numeric_code(&mut rng, 10).bytes() {
                counts[usize::from(b - b'0')] += 1;
            }
        }
        assert!(counts.iter().all(|&c| (1700..2300).contains(&c)), "{counts:?}");
    }

    #[test]
    fn temporary_passwords_have_every_class() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let pw = temporary_password(&mut rng);
        assert_eq!(pw.len(), 16);
        assert!(pw.chars().any(|c| c.is_ascii_uppercase()));
        assert!(pw.chars().any(|c| c.is_ascii_lowercase()));
        assert!(pw.chars().any(|c| c.is_ascii_digit()));
        assert!(pw.chars().any(|c| !c.is_ascii_alphanumeric()));
    }

    #[test]
    fn tags_bind_purpose_subject_and_code() {
        let hasher = CodeHasher::new(b"pool secret of enough length....");
        let tag = hasher.tag("sign_up", "sub-1", "123456");
        assert!(hasher.matches("sign_up", "sub-1", "123456", &tag));
        assert!(!hasher.matches("sign_up", "sub-1", "123457", &tag));
        assert!(!hasher.matches("reset", "sub-1", "123456", &tag));
        assert!(!hasher.matches("sign_up", "sub-2", "123456", &tag));
        assert!(!hasher.matches("sign_up", "sub-1", "123456", "garbage!"));
    }
}
