//! Argon2id password hashing with a bound on how many hashes run at once.
//!
//! Each hash holds `memory_kib` of RAM while it runs, so a burst of sign-ins could exhaust
//! memory; the [`Hasher`] lets at most `max_concurrent` hashes run and queues the rest.

use std::sync::{Condvar, Mutex};

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::config::{MAX_HASH_ITERATIONS, MAX_HASH_PARALLELISM, PasswordHashing};
use crate::error::{Error, Result};

/// What [`Hasher::verify`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The password's normalized form matches.
    Matched,
    /// The password matches only as typed: the hash predates normalization (or was
    /// imported). Rehash it, so that every form of the password signs in from then on.
    MatchedAsTyped,
    /// Neither form matches.
    Mismatch,
}

impl Verdict {
    /// Whether the password is right.
    pub(crate) fn matched(self) -> bool {
        self != Self::Mismatch
    }
}

/// A password as it is checked and hashed: in Unicode NFKC, as NIST SP 800-63B asks of
/// verifiers that accept Unicode passwords. The same password then signs in however a
/// keyboard or platform composed it (`é` as one code point or as `e` and an accent; a
/// full-width `Ａ` and an `A`). ASCII, which NFKC leaves alone, is not copied.
pub(crate) fn normalized(password: &str) -> Normalized<'_> {
    match crate::attributes::nfkc(password) {
        std::borrow::Cow::Borrowed(same) => Normalized::Unchanged(same),
        std::borrow::Cow::Owned(changed) => Normalized::Changed(Zeroizing::new(changed)),
    }
}

/// A [`normalized`] password; a copy is wiped when dropped.
pub(crate) enum Normalized<'a> {
    /// Already in NFKC.
    Unchanged(&'a str),
    /// The NFKC form of a password that differs from it.
    Changed(Zeroizing<String>),
}

impl std::ops::Deref for Normalized<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Self::Unchanged(password) => password,
            Self::Changed(copy) => copy,
        }
    }
}

/// Counts permits (or units of a budget); `acquire` blocks while too few are free. Taken in
/// the order asked for: a holder that needs much is not passed for ever by ones that need
/// little.
struct Semaphore {
    capacity: usize,
    state: Mutex<Turns>,
    freed: Condvar,
}

/// What is free, and whose turn it is to take.
struct Turns {
    free: usize,
    next_ticket: u64,
    serving: u64,
}

struct Permit<'a>(&'a Semaphore, usize);

impl Semaphore {
    fn new(permits: usize) -> Self {
        let capacity = permits.max(1);
        Self {
            capacity,
            state: Mutex::new(Turns { free: capacity, next_ticket: 0, serving: 0 }),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) -> Permit<'_> {
        self.acquire_units(1)
    }

    /// Takes `units`, or the whole capacity when it asks for more: such a holder runs alone.
    fn acquire_units(&self, units: usize) -> Permit<'_> {
        let units = units.clamp(1, self.capacity);
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        while state.serving != ticket || state.free < units {
            state = self.freed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        state.free -= units;
        state.serving += 1;
        // The next in line may fit in what is left.
        self.freed.notify_all();
        Permit(self, units)
    }

    #[cfg(test)]
    fn free(&self) -> usize {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).free
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.free += self.1;
        // Waiters may need different amounts, and only the first in line may take: all look.
        self.0.freed.notify_all();
    }
}

/// Hashes and verifies passwords with the pool's parameters.
///
/// Each running hash needs `memory_kib` of working memory. Allocating it per call makes the
/// allocator hand those pages back and forth (and, with small allocations landing inside
/// freed blocks, grow the process without bound), so each permit's buffer is kept and
/// reused: the memory held is at most `max_concurrent × memory_kib`. A buffer is wiped as soon
/// as its hash is done when that hash made one pass, else when the `Hasher` drops. A stored
/// hash of other costs (an imported one, or one made before the settings changed) is checked
/// in a buffer of its own, wiped once it is done. Those buffers share a budget of the same size, in
/// blocks (of the default's size at least, so that lowering `memory_kib` does not make the
/// older hashes wait for one another), so the bound is at most twice that; a hash that asks
/// for more than the whole budget (at most [`MAX_STORED_MEMORY_KIB`]) is checked alone.
pub(crate) struct Hasher {
    params: Params,
    permits: Semaphore,
    /// The blocks the checks of other costs than the pool's may hold at once.
    foreign: Semaphore,
    buffers: Mutex<Vec<Vec<Block>>>,
    /// A real hash of a random password, verified against when the user does not exist so
    /// that an unknown user costs the same time as a wrong password.
    dummy: String,
}

/// The pooled working memory holds blocks derived from the last passwords hashed in it.
impl Drop for Hasher {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        let buffers = self.buffers.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        for block in buffers.iter_mut().flatten() {
            block.zeroize();
        }
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher").field("params", &self.params).finish_non_exhaustive()
    }
}

const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// The most memory a stored hash may ask for, unless the pool's own setting is higher:
/// 1 GiB (libsodium's "sensitive" level). argon2 itself accepts up to 4 TiB, which one
/// imported hash would then allocate at every sign-in attempt, whoever makes it.
const MAX_STORED_MEMORY_KIB: u32 = 1 << 20;

impl Hasher {
    pub(crate) fn new(config: &PasswordHashing) -> Result<Self> {
        let params = Params::new(config.memory_kib, config.iterations, config.parallelism, Some(OUTPUT_LEN))
            .map_err(|e| Error::internal(format!("argon2 parameters: {e}")))?;
        let permits = match config.max_concurrent {
            0 => std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let default_blocks = usize::try_from(PasswordHashing::default().memory_kib).unwrap_or(usize::MAX);
        let budget = permits.saturating_mul(params.block_count().max(default_blocks));
        let mut hasher = Self {
            params,
            permits: Semaphore::new(permits),
            foreign: Semaphore::new(budget),
            buffers: Mutex::new(Vec::new()),
            dummy: String::new(),
        };
        let random = super::b64url(&super::random_bytes::<24>(&mut super::os_rng()));
        hasher.dummy = hasher.hash(&random)?;
        Ok(hasher)
    }

    /// Runs `f` with a permit and working memory for `params`.
    fn with_memory<T>(&self, params: &Params, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let blocks = params.block_count();
        let reusable = blocks == self.params.block_count();
        // Taken before a permit, so that waiting for it holds none.
        let _foreign = (!reusable).then(|| self.foreign.acquire_units(blocks));
        let _permit = self.permits.acquire();
        let pooled =
            if reusable { self.buffers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop() } else { None };
        let mut memory = pooled.unwrap_or_else(|| vec![Block::default(); blocks]);
        let out = f(&mut memory);
        // Blocks derived from the password just hashed. With one pass, the first blocks of
        // each lane would let a guess be tested with one Blake2b call: wiped at once. After
        // `t` passes every block depends on the whole of pass `t - 1`, so a guess tested
        // against what is left costs (t-1)/t of a hash (half at the default two passes,
        // where the stored hash costs a whole one): those wait for the drop, which spares
        // each hash at the defaults about 0.37 ms (3 %), and only the last password hashed
        // in each buffer is exposed, to someone who can read the process's memory.
        if !reusable || params.t_cost() == 1 {
            use zeroize::Zeroize as _;
            memory.iter_mut().for_each(Block::zeroize);
        }
        if reusable {
            self.buffers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(memory);
        }
        out
    }

    fn compute(&self, params: &Params, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<()> {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        self.with_memory(params, |memory| argon.hash_password_into_with_memory(password, salt, out, memory))
            .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
    }

    /// Hashes a password, in its [`normalized`] form, into a PHC string (`$argon2id$v=19$m=…`).
    pub(crate) fn hash(&self, password: &str) -> Result<String> {
        let salt = super::random_bytes::<SALT_LEN>(&mut super::os_rng());
        let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
        self.compute(&self.params, normalized(password).as_bytes(), &salt, out.as_mut())?;
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost(),
            b64.encode(salt),
            b64.encode(out.as_ref()),
        ))
    }

    /// Whether `password` matches the PHC string. A stored hash this pool cannot use (see
    /// [`Hasher::check_stored`]) never matches.
    ///
    /// The [`normalized`] password is tried first. A password that normalizing changes is
    /// tried as typed too: hashes made before passwords were normalized, or imported from a
    /// system that does not normalize, hold it so ([`Verdict::MatchedAsTyped`]; rehash it).
    pub(crate) fn verify(&self, password: &str, phc: &str) -> Verdict {
        let Ok((params, salt, expected)) = self.stored(phc) else {
            // No usable hash (an imported user without a password): the same work anyway,
            // so the answer's timing does not tell such accounts apart.
            if phc != self.dummy {
                self.verify_dummy(password);
            }
            return Verdict::Mismatch;
        };
        let matches = |candidate: &str| {
            let mut out = Zeroizing::new(vec![0u8; expected.len()]);
            self.compute(&params, candidate.as_bytes(), &salt, &mut out).is_ok()
                && super::constant_time_eq(&out, &expected)
        };
        let normal = normalized(password);
        if matches(&normal) {
            Verdict::Matched
        } else if matches!(normal, Normalized::Changed(_)) && matches(password) {
            Verdict::MatchedAsTyped
        } else {
            Verdict::Mismatch
        }
    }

    /// Refuses a stored hash (an imported one) that this pool would not verify: anything but
    /// an argon2id hash of version 19 with a salt and a hash, or costs beyond what the pool
    /// spends on a sign-in (memory above 1 GiB or its own setting, more than 64 passes or 16
    /// lanes).
    pub(crate) fn check_stored(&self, phc: &str) -> Result<()> {
        self.stored(phc).map(drop)
    }

    /// The parameters, salt and expected output of a usable stored hash. Its own costs, not
    /// the pool's, so old hashes keep working after a change.
    fn stored(&self, phc: &str) -> Result<(Params, Vec<u8>, Vec<u8>)> {
        let refused = |why: &str| Err(Error::invalid(format!("password_hash: {why}")));
        let Ok(parsed) = PasswordHash::new(phc) else {
            return refused("not a PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)");
        };
        if parsed.algorithm.as_str() != "argon2id" {
            return refused("only argon2id hashes are accepted");
        }
        // What `compute` runs: a hash of another version would never match.
        if parsed.version != Some(0x13) {
            return refused("only version 19 (v=19) is accepted");
        }
        let (Ok(params), Some(salt), Some(expected)) = (Params::try_from(&parsed), &parsed.salt, &parsed.hash) else {
            return refused("needs argon2 parameters, a salt and a hash");
        };
        let memory_cap = MAX_STORED_MEMORY_KIB.max(self.params.m_cost());
        if params.m_cost() > memory_cap
            || params.t_cost() > MAX_HASH_ITERATIONS
            || params.p_cost() > MAX_HASH_PARALLELISM
        {
            return refused(&format!(
                "costs beyond what a sign-in may spend (at most m={memory_cap}, t={MAX_HASH_ITERATIONS}, \
                 p={MAX_HASH_PARALLELISM})"
            ));
        }
        let expected = expected.as_bytes().to_vec();
        let Ok(params) = Params::new(params.m_cost(), params.t_cost(), params.p_cost(), Some(expected.len())) else {
            return refused("argon2 parameters out of range");
        };
        Ok((params, salt.as_ref().to_vec(), expected))
    }

    /// Spends the same work as a real verification of a wrong password, for unknown users
    /// (two hashes for a password that normalizing changes, as [`Hasher::verify`] spends).
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
/// It judges the password as it is hashed: [`normalized`].
pub(crate) fn check_policy(policy: &crate::config::PasswordPolicy, password: &str, username: &str) -> Result<()> {
    let password: &str = &normalized(password);
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
        let lower = Zeroizing::new(password.to_lowercase());
        if common_passwords().contains(lower.as_str()) {
            return fail("Password is too common");
        }
        // ASVS 6.2.11: context-specific words; the username is the obvious one.
        let name = crate::attributes::nfkc(username).to_lowercase();
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

    /// Checks of other costs share a budget of blocks: small ones hold it together, and one
    /// that asks for more than all of it runs alone.
    #[test]
    fn a_budget_is_shared_by_small_holders_and_held_whole_by_a_large_one() {
        let budget = Semaphore::new(10);
        let free = || budget.free();
        let (a, b) = (budget.acquire_units(4), budget.acquire_units(4));
        assert_eq!(free(), 2);
        drop((a, b));
        let large = budget.acquire_units(1000);
        assert_eq!(free(), 0);
        drop(large);
        assert_eq!(free(), 10);
    }

    /// Units are taken in the order asked for: one that needs all of them is not passed by
    /// later ones that need little, which would otherwise keep it waiting for good.
    #[test]
    fn a_large_holder_is_not_passed_by_later_small_ones() {
        let budget = std::sync::Arc::new(Semaphore::new(10));
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let held = budget.acquire_units(4);
        // Starts a thread that takes `units`, and returns once it is in line (has its ticket).
        let wait_in_line = |name: &'static str, units: usize, tickets: u64| {
            let (shared, order) = (budget.clone(), order.clone());
            let thread = std::thread::spawn(move || {
                let _permit = shared.acquire_units(units);
                order.lock().unwrap().push(name);
            });
            while budget.state.lock().unwrap().next_ticket < tickets {
                std::thread::yield_now();
            }
            thread
        };
        let large = wait_in_line("large", 1000, 2);
        let small = wait_in_line("small", 2, 3);
        // Six units are free, enough for the small one, but the large one is first in line.
        assert!(order.lock().unwrap().is_empty());
        drop(held);
        large.join().unwrap();
        small.join().unwrap();
        assert_eq!(*order.lock().unwrap(), ["large", "small"]);
    }

    #[test]
    fn hash_then_verify() {
        let hasher = Hasher::new(&weak()).unwrap();
        let phc = hasher.hash("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
        assert!(hasher.verify("correct horse battery staple", &phc).matched());
        assert!(!hasher.verify("Correct horse battery staple", &phc).matched());
        assert!(!hasher.verify("x", "not a phc string").matched());
        assert!(!hasher.needs_rehash(&phc));
        let stronger = Hasher::new(&PasswordHashing { memory_kib: 512, ..weak() }).unwrap();
        assert!(stronger.needs_rehash(&phc));
        assert!(stronger.verify("correct horse battery staple", &phc).matched(), "old parameters still verify");
    }

    #[test]
    fn a_password_signs_in_however_its_characters_are_composed() {
        let hasher = Hasher::new(&weak()).unwrap();
        let composed = "Caf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e";
        let decomposed = "Cafe\u{301} cre\u{300}me bru\u{302}le\u{301}e";
        let full_width = "\u{ff23}af\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e";
        let phc = hasher.hash(decomposed).unwrap();
        for typed in [composed, decomposed, full_width] {
            assert_eq!(hasher.verify(typed, &phc), Verdict::Matched, "{typed:?}");
        }
        assert_eq!(hasher.verify("Cafe creme brulee", &phc), Verdict::Mismatch, "accents still count");
        assert_eq!(&*normalized("plain ascii"), "plain ascii");
        assert!(matches!(normalized(composed), Normalized::Unchanged(_)), "NFKC text is not copied");
    }

    /// A hash of the password as typed (made before normalization, or imported from a system
    /// that does not normalize) still verifies, and says so, so that sign-in rehashes it.
    #[test]
    fn a_hash_of_the_password_as_typed_still_verifies_and_asks_for_a_rehash() {
        use argon2::PasswordHasher as _;
        let hasher = Hasher::new(&weak()).unwrap();
        let decomposed = "Cafe\u{301} cre\u{300}me";
        let standard = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(256, 1, 1, None).unwrap());
        let legacy = standard.hash_password(decomposed.as_bytes()).unwrap().to_string();
        assert_eq!(hasher.verify(decomposed, &legacy), Verdict::MatchedAsTyped);
        assert_eq!(hasher.verify("Caf\u{e9} cr\u{e8}me", &legacy), Verdict::Mismatch, "only as typed, until rehashed");
        assert_eq!(hasher.verify("Cafe\u{301} cre\u{300}mE", &legacy), Verdict::Mismatch);
    }

    #[test]
    fn the_policy_judges_the_normalized_password() {
        let policy = crate::config::PasswordPolicy::default();
        // The username is compared as it is keyed: full-width `janet` is `janet`.
        let refused = check_policy(&policy, "janet2024!!", "\u{ff4a}\u{ff41}\u{ff4e}\u{ff45}\u{ff54}");
        assert!(refused.unwrap_err().to_string().contains("must not contain the username"));
        // Full-width letters are a common password once normalized.
        let refused = check_policy(&policy, "\u{ff50}\u{ff41}\u{ff53}\u{ff53}\u{ff57}\u{ff4f}\u{ff52}\u{ff44}1", "u");
        assert!(refused.unwrap_err().to_string().contains("too common"));
    }

    #[test]
    fn phc_strings_interoperate_with_the_argon2_crate() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = Hasher::new(&weak()).unwrap();
        let ours = hasher.hash("pässwörd with ünïcode").unwrap();
        let standard = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(256, 1, 1, None).unwrap());
        standard.verify_password("pässwörd with ünïcode".as_bytes(), &PasswordHash::new(&ours).unwrap()).unwrap();
        let theirs = standard.hash_password(b"from another system").unwrap().to_string();
        assert!(hasher.verify("from another system", &theirs).matched());
        assert!(!hasher.verify("from another systen", &theirs).matched());
    }

    #[test]
    fn working_memory_is_reused_not_reallocated() {
        let config = PasswordHashing { max_concurrent: 2, ..weak() };
        let hasher = std::sync::Arc::new(Hasher::new(&config).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let hasher = std::sync::Arc::clone(&hasher);
                std::thread::spawn(move || (0..10).for_each(|_| drop(hasher.hash("pw").unwrap())))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let kept = hasher.buffers.lock().unwrap().len();
        assert!((1..=2).contains(&kept), "at most one buffer per permit is kept, found {kept}");
    }

    /// With one pass, the first blocks of each lane test a password guess for the price of one
    /// Blake2b call, so a kept buffer must not hold them. (`weak()` makes one pass.)
    #[test]
    fn kept_working_memory_holds_nothing_of_the_last_password() {
        let hasher = Hasher::new(&PasswordHashing { max_concurrent: 1, ..weak() }).unwrap();
        let phc = hasher.hash("the last password").unwrap();
        assert!(hasher.verify("the last password", &phc).matched());
        let buffers = hasher.buffers.lock().unwrap();
        assert_eq!(buffers.len(), 1);
        let zero = Block::default();
        assert!(buffers[0].iter().all(|block| block.as_ref() == zero.as_ref()), "the kept buffer is wiped");
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
