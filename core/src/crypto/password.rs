//! Argon2id password hashing with a bound on how many hashes run at once.
//!
//! Each hash holds `memory_kib` of RAM while it runs, so a burst of sign-ins could exhaust
//! memory; the [`Hasher`] lets at most `max_concurrent` hashes run and queues the rest.

use std::sync::{Condvar, Mutex};

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};

use crate::config::PasswordHashing;
use crate::error::{Error, Result};

/// Counts permits; `acquire` blocks while none is free.
#[derive(Debug)]
struct Semaphore {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Permit<'a>(&'a Semaphore);

impl Semaphore {
    fn new(permits: usize) -> Self {
        Self { free: Mutex::new(permits.max(1)), freed: Condvar::new() }
    }

    fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *free += 1;
        self.0.freed.notify_one();
    }
}

/// Hashes and verifies passwords with the pool's parameters.
#[derive(Debug)]
pub(crate) struct Hasher {
    params: Params,
    permits: Semaphore,
    /// A real hash of a random password, verified against when the user does not exist so
    /// that an unknown user costs the same time as a wrong password.
    dummy: String,
}

impl Hasher {
    pub(crate) fn new(config: &PasswordHashing) -> Result<Self> {
        let params = Params::new(config.memory_kib, config.iterations, config.parallelism, None)
            .map_err(|e| Error::internal(format!("argon2 parameters: {e}")))?;
        let permits = match config.max_concurrent {
            0 => std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let mut hasher = Self { params, permits: Semaphore::new(permits), dummy: String::new() };
        let random = super::b64url(&super::random_bytes::<24>(&mut super::os_rng()));
        hasher.dummy = hasher.hash(&random)?;
        Ok(hasher)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes a password into a PHC string (`$argon2id$v=19$m=…`).
    pub(crate) fn hash(&self, password: &str) -> Result<String> {
        let _permit = self.permits.acquire();
        let hash = self
            .argon2()
            .hash_password(password.as_bytes())
            .map_err(|e| Error::internal(format!("password hashing failed: {e}")))?;
        Ok(hash.to_string())
    }

    /// Whether `password` matches the PHC string. A malformed stored hash never matches.
    pub(crate) fn verify(&self, password: &str, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let _permit = self.permits.acquire();
        // Verify with the parameters in the hash, so old hashes keep working after a change.
        let params = Params::try_from(&parsed).unwrap_or_else(|_| self.params.clone());
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params).verify_password(password.as_bytes(), &parsed).is_ok()
    }

    /// Spends the same work as a real verification, for unknown users.
    pub(crate) fn verify_dummy(&self, password: &str) {
        let _ = self.verify(password, &self.dummy);
    }

    /// Whether a stored hash uses other parameters than the pool's (rehash on sign-in).
    pub(crate) fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        match Params::try_from(&parsed) {
            Ok(p) => {
                parsed.algorithm.as_str() != "argon2id"
                    || p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            }
            Err(_) => true,
        }
    }
}

/// Cognito's special characters for `require_symbols`.
const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";

/// Openwall's public-domain list of the 3,500 most common passwords (ASVS 6.2.4 asks for at
/// least the top 3,000); the policy rejects any password equal to one of them, ignoring case.
const COMMON_LIST: &str = include_str!("common_passwords.txt");

fn common_passwords() -> &'static std::collections::HashSet<String> {
    static SET: std::sync::OnceLock<std::collections::HashSet<String>> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        COMMON_LIST.lines().filter(|line| !line.starts_with("#!") && !line.is_empty()).map(str::to_lowercase).collect()
    })
}

/// Checks a new password against the pool's policy.
pub(crate) fn check_policy(policy: &crate::config::PasswordPolicy, password: &str, username: &str) -> Result<()> {
    let fail = |why: &str| {
        Err(Error::new(crate::ErrorCode::InvalidPassword, format!("Password does not conform to policy: {why}")))
    };
    if password.chars().count() < policy.minimum_length as usize {
        return fail(&format!("Password not long enough (at least {} characters)", policy.minimum_length));
    }
    if password.len() > crate::attributes::MAX_PASSWORD_LEN {
        return fail("Password is too long (at most 256 bytes)");
    }
    if policy.require_uppercase && !password.chars().any(char::is_uppercase) {
        return fail("Password must have uppercase characters");
    }
    if policy.require_lowercase && !password.chars().any(char::is_lowercase) {
        return fail("Password must have lowercase characters");
    }
    if policy.require_numbers && !password.chars().any(|c| c.is_ascii_digit()) {
        return fail("Password must have numeric characters");
    }
    if policy.require_symbols && !password.chars().any(|c| SYMBOLS.contains(c)) {
        return fail("Password must have symbol characters");
    }
    if policy.reject_common {
        let lower = password.to_lowercase();
        if common_passwords().contains(&lower) {
            return fail("Password is too common");
        }
        // ASVS 6.2.11: context-specific words; the username is the obvious one.
        let name = username.to_lowercase();
        if name.chars().count() >= 3 && lower.contains(&name) {
            return fail("Password must not contain the username");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weak() -> PasswordHashing {
        PasswordHashing { memory_kib: 256, iterations: 1, dangerous_allow_weak: true, ..Default::default() }
    }

    #[test]
    fn hash_then_verify() {
        let hasher = Hasher::new(&weak()).unwrap();
        let phc = hasher.hash("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
        assert!(hasher.verify("correct horse battery staple", &phc));
        assert!(!hasher.verify("Correct horse battery staple", &phc));
        assert!(!hasher.verify("x", "not a phc string"));
        assert!(!hasher.needs_rehash(&phc));
        let stronger = Hasher::new(&PasswordHashing { memory_kib: 512, ..weak() }).unwrap();
        assert!(stronger.needs_rehash(&phc));
        assert!(stronger.verify("correct horse battery staple", &phc), "old parameters still verify");
    }

    #[test]
    fn common_list_is_sorted_and_used() {
        assert!(common_passwords().len() >= 3000, "ASVS 6.2.4: at least the top 3,000");
        let policy = crate::config::PasswordPolicy::default();
        assert!(check_policy(&policy, "password1", "alice").is_err());
        assert!(check_policy(&policy, "alice-in-wonderland", "alice-in-wonderland").is_err());
        assert!(check_policy(&policy, "short", "alice").is_err());
        check_policy(&policy, "correct horse battery staple", "alice").unwrap();
    }

    #[test]
    fn composition_rules_when_asked() {
        let policy = crate::config::PasswordPolicy {
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
            ..Default::default()
        };
        assert!(check_policy(&policy, "alllowercase1!", "u").is_err());
        assert!(check_policy(&policy, "ALLUPPERCASE1!", "u").is_err());
        assert!(check_policy(&policy, "NoDigitsHere!", "u").is_err());
        assert!(check_policy(&policy, "NoSymbols123", "u").is_err());
        check_policy(&policy, "Has-All-4-Kinds", "u").unwrap();
    }
}
