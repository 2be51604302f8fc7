//! [`UserPool`], the driver: it validates input, hashes passwords outside any lock, loads
//! state from the [`Store`], runs the pure [`flow`](crate::flow) transition, delivers
//! messages, commits the new state atomically (rerunning on a concurrent change), and issues
//! tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::attributes::{self, Attributes, WriteKind};
use crate::clock::{Clock, SystemClock};
use crate::config::{ClientSettings, PoolConfig, Settings};
use crate::crypto::codes::{self, CodeHasher};
use crate::crypto::cursor::CursorSealer;
use crate::crypto::password::{self, Hasher, Verdict};
use crate::crypto::seal::Sealer;
use crate::crypto::{self, jwt};
use crate::delivery::{Channel, Delivery, DeliveryError, Message};
use crate::error::{Error, ErrorCode, Result};
use crate::filter::Filter;
use crate::flow::state::{AuditEvent, Family, UserRecord};
use crate::flow::state::{ChallengeKind, EventKind, Lockout, MfaMethod, UserStatus};
use crate::flow::user::{self, Expiring};
use crate::flow::{self, Change, Ctx, Effect, Input, Reply, SentCode, SessionInput, SignInNext, mfa};
use crate::keyring::{KeyRing, KeyUse};
use crate::results::{AttributeUpdate, CodeDelivery};
use crate::results::{Claims, CreatedUser, SignInResult, SignInStep, SignUpResult, SignUpStep, Tokens, User, UserList};
use crate::store::{ListedFamily, MemoryStore, SecretBytes, Store, StoreError, UserPage, Versioned, Write};

mod groups;
mod import;
mod lookup;

pub use self::import::ImportUser;
mod mfa_driver;

use self::mfa_driver::NewTotpSecret;

/// How many times a transition is rerun after a concurrent change before giving up.
const MAX_RERUNS: usize = 16;
/// Verified token signatures remembered (expiry and revocation are still checked per call).
const VERIFY_CACHE_SIZE: usize = 10_000;
/// The longest token whose verified claims are remembered. A user's attributes may make an ID
/// token up to 64 KiB long; remembering only tokens of ordinary size keeps the cache to tens
/// of megabytes, where 10,000 of the longest would take more than half a gigabyte.
const VERIFY_CACHE_MAX_TOKEN_LEN: usize = 4 * 1024;
const CODE_KEY_SECRET: &str = "code_key";
/// The `sub` the audit events of sign-ins with unknown names are recorded under.
const UNKNOWN_NAMES_EVENTS: &str = "unknown-user";
/// How long the signing keys are used before being re-read from the store.
const KEY_REFRESH_MS: i64 = 60_000;
/// How often a token with an unknown `kid` may make the pool re-read the keys.
const UNKNOWN_KID_RELOAD_MS: i64 = 5_000;
/// How long after a failed read of the keys the next may be tried: a failing store is not
/// read again for every verification, nor for every forged `kid`.
const KEY_RETRY_MS: i64 = 1_000;
/// How long after its end a session is kept: the longest an ID or access token may live
/// (`*_token_validity_secs` ≤ 86,400), so no token of a deleted session is still valid.
const LONGEST_TOKEN_MS: i64 = 86_400_000;
/// The longest pagination token accepted. A sealed cursor takes at most 748: a group's
/// listing carries the group's name (128 characters, up to 512 bytes) and a row id.
pub(crate) const MAX_PAGINATION_TOKEN_CHARS: usize = 768;
/// How many ended records of each kind a commit deletes on the way (`Write::PurgeExpired`).
/// More than any commit creates, so that a backlog drains.
const PURGE_BATCH: usize = 4;

/// A delivery that refuses: the default until the host gives one, so codes never leak into
/// a log by accident.
struct NoDelivery;

impl Delivery for NoDelivery {
    fn deliver(&self, _message: &Message) -> std::result::Result<(), DeliveryError> {
        Err(DeliveryError("no delivery was given when the pool was opened: nothing can send the code".into()))
    }
}

/// How the caller proves it is a client that has a secret.
#[derive(Clone, Default)]
enum ClientProof {
    #[default]
    None,
    /// The client secret itself (an in-process caller holds it anyway).
    Secret(Zeroizing<String>),
    /// Cognito's `SECRET_HASH`, checked against the username of each call.
    SecretHash(Zeroizing<String>),
}

struct Shared {
    settings: Settings,
    store: Arc<dyn Store>,
    delivery: Arc<dyn Delivery>,
    clock: Arc<dyn Clock>,
    hasher: Hasher,
    codes: CodeHasher,
    cursors: CursorSealer,
    sealer: Sealer,
    keys: RwLock<Arc<KeyRing>>,
    /// When the key ring was last read from the store (unix ms).
    keys_loaded_ms: std::sync::atomic::AtomicI64,
    /// When a read of the key ring last failed (unix ms).
    keys_failed_ms: std::sync::atomic::AtomicI64,
    verified: Mutex<HashMap<String, Claims>>,
    /// How long a retired key keeps verifying: the longest ID/access token lifetime, and the
    /// minute another process may sign with it before re-reading the keys.
    key_grace_ms: i64,
}

/// An open user pool. Cheap to clone (clones share everything); safe to use from many
/// threads at once.
#[derive(Clone)]
pub struct UserPool {
    shared: Arc<Shared>,
    client: usize,
    proof: ClientProof,
    /// The session (family id) of the access token a call came with: its steps are fenced on
    /// it (see `session_fence`).
    session: Option<String>,
}

impl std::fmt::Debug for UserPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPool")
            .field("pool_id", &self.shared.settings.pool_id())
            .field("client", &self.client().id)
            .finish_non_exhaustive()
    }
}

/// Opens a [`UserPool`] with a store, delivery, clock and encryption key of the host's choice.
#[must_use]
pub struct UserPoolBuilder {
    config: PoolConfig,
    store: Option<Arc<dyn Store>>,
    delivery: Option<Arc<dyn Delivery>>,
    clock: Option<Arc<dyn Clock>>,
    encryption_key: Option<Zeroizing<Vec<u8>>>,
    /// A SQLite file to open once everything else has been checked.
    #[cfg(feature = "sqlite")]
    sqlite: Option<(std::path::PathBuf, crate::store::SqliteOptions)>,
}

impl UserPoolBuilder {
    /// Where the pool lives (default: a new in-memory store).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        #[cfg(feature = "sqlite")]
        {
            self.sqlite = None;
        }
        self
    }

    /// The pool lives in the SQLite file at `path`, opened as
    /// [`SqliteStore::open_with`](crate::SqliteStore::open_with) opens it, but only once the
    /// configuration and the encryption key have passed their checks: an open refused for
    /// either makes no file.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(mut self, path: impl Into<std::path::PathBuf>, options: crate::store::SqliteOptions) -> Self {
        self.sqlite = Some((path.into(), options));
        self.store = None;
        self
    }

    /// How codes are sent (default: refuse, so nothing leaks by accident).
    pub fn delivery(mut self, delivery: Arc<dyn Delivery>) -> Self {
        self.delivery = Some(delivery);
        self
    }

    /// The time source (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// A 32-byte key that seals signing keys and the code key at rest (AES-256-GCM).
    pub fn encryption_key(mut self, key: &[u8]) -> Self {
        self.encryption_key = Some(Zeroizing::new(key.to_vec()));
        self
    }

    /// Validates the configuration, loads or creates the pool's keys, and opens it.
    pub fn open(self) -> Result<UserPool> {
        self.open_pool(Opening::App)
    }

    /// Opens a pool that the store already holds. If it holds no such pool (no signing keys
    /// under its id), the answer is `ResourceNotFoundException` and nothing is written: for
    /// tools that administer an existing pool, where a mistyped file or pool id must not
    /// make a new, empty one.
    pub fn open_existing(self) -> Result<UserPool> {
        self.open_pool(Opening::Existing)
    }

    /// Opens a pool that the store already holds, as [`open_existing`](Self::open_existing)
    /// does, with the sign-in settings its app recorded at its last open (username
    /// attributes, case sensitivity, alias attributes) in place of the configuration's: for
    /// tools that administer a pool without its app's configuration, such as the CLI's
    /// `users` commands. Where the app left no record (it has not opened the pool with a
    /// library that keeps one), the configuration's stay; where the record predates alias
    /// attributes, the configuration's aliases do.
    pub fn open_existing_as_recorded(self) -> Result<UserPool> {
        self.open_pool(Opening::ExistingAsRecorded)
    }

    fn open_pool(self, opening: Opening) -> Result<UserPool> {
        let existing_only = opening != Opening::App;
        let mut config = self.config;
        // Checked before the store is opened, so that a refused configuration makes no file;
        // made again below when the recorded sign-in settings replace the configuration's.
        let mut settings = Settings::new(config.clone())?;
        let sealer = Sealer::new(self.encryption_key.as_deref().map(Vec::as_slice))?;
        let hasher = Hasher::new(&settings.raw.password_hashing)?;
        #[cfg(feature = "sqlite")]
        let store = match (self.store, self.sqlite) {
            (None, Some((path, options))) => Arc::new(crate::SqliteStore::open_with(path, options)?),
            (store, _) => store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
        };
        #[cfg(not(feature = "sqlite"))]
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let pool = settings.pool_id().to_owned();
        if existing_only && store.secret(&pool, crate::keyring::SECRET_NAME).map_err(backend)?.is_none() {
            return Err(Error::new(ErrorCode::ResourceNotFound, format!("User pool {pool} does not exist.")));
        }
        if opening == Opening::ExistingAsRecorded && lookup::adopt(store.as_ref(), &pool, &mut config.sign_in)? {
            settings = Settings::new(config).map_err(|e| {
                Error::new(e.code(), format!("with the sign-in settings pool {pool}'s app recorded: {}", e.message()))
            })?;
        }
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        lookup::check(store.as_ref(), &pool, &settings.raw.sign_in, existing_only)?;
        let now = clock.now_ms();
        let keys = KeyRing::load_or_create(store.as_ref(), &pool, settings.raw.tokens.algorithm, now, &sealer)?;
        let code_key = load_or_create_secret(store.as_ref(), &pool, CODE_KEY_SECRET, &sealer)?;
        // Once the keys have opened: an open refused for a wrong key records nothing.
        if !existing_only {
            lookup::record(store.as_ref(), &pool, &settings.raw.sign_in)?;
        }
        // A tool's too: until then its pool would issue tokens without groups, and a group
        // created through it would take the place of an old one of the same name.
        groups::convert_legacy_record(store.as_ref(), &pool)?;
        // Another process keeps signing with a key retired here until it re-reads the ring.
        let longest_ttl_ms = settings.clients.iter().map(|c| c.access_ttl_ms.max(c.id_ttl_ms)).max().unwrap_or(0);
        let key_grace_ms = longest_ttl_ms.saturating_add(KEY_REFRESH_MS);
        let shared = Shared {
            codes: CodeHasher::new(&code_key),
            cursors: CursorSealer::new(&code_key)?,
            settings,
            store,
            delivery: self.delivery.unwrap_or_else(|| Arc::new(NoDelivery)),
            clock,
            hasher,
            sealer,
            keys: RwLock::new(Arc::new(keys)),
            keys_loaded_ms: std::sync::atomic::AtomicI64::new(now),
            keys_failed_ms: std::sync::atomic::AtomicI64::new(i64::MIN),
            verified: Mutex::new(HashMap::new()),
            key_grace_ms,
        };
        Ok(UserPool { shared: Arc::new(shared), client: 0, proof: ClientProof::None, session: None })
    }
}

/// Who opens a pool: its app (which may make it, and records its sign-in settings), or a
/// tool that administers a pool that is there already, with the configuration's sign-in
/// settings or with those the app recorded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Opening {
    App,
    Existing,
    ExistingAsRecorded,
}

/// An administrator's name for a user: a username, an alias or a sub.
fn check_admin_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 512 {
        return Err(Error::invalid("username must be 1-512 bytes (a username, an alias or a sub)"));
    }
    Ok(())
}

fn backend(e: StoreError) -> Error {
    Error::internal(format!("store: {e}"))
}

fn load_or_create_secret(store: &dyn Store, pool: &str, name: &str, sealer: &Sealer) -> Result<Zeroizing<Vec<u8>>> {
    let label = format!("secret:{pool}:{name}");
    let fresh = || sealer.seal(&label, &*crypto::secret_bytes::<32>(&mut crypto::os_rng())).map(SecretBytes::from);
    sealer.open_pool_secret(&label, &load_or_create_record(store, pool, name, fresh)?)
}

/// Pool record `name` as stored, or else what `fresh` makes, stored first. When another
/// process stores one at the same moment, the record that won is the answer.
fn load_or_create_record(
    store: &dyn Store,
    pool: &str,
    name: &str,
    fresh: impl Fn() -> Result<SecretBytes>,
) -> Result<SecretBytes> {
    for _ in 0..5 {
        if let Some(stored) = store.secret(pool, name).map_err(backend)? {
            return Ok(stored.value);
        }
        let write = Write::PutSecret { name: name.into(), value: fresh()?, expect: None, expires_ms: None };
        match store.commit(pool, vec![write]) {
            Ok(()) | Err(StoreError::Conflict) => {}
            Err(e) => return Err(backend(e)),
        }
    }
    Err(Error::internal(format!("could not create the pool record {name}")))
}

/// Cognito's `SECRET_HASH`: base64(HMAC-SHA256(client_secret, username + client_id)).
pub fn secret_hash(client_secret: &str, username: &str, client_id: &str) -> String {
    use base64::Engine as _;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, client_secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{username}{client_id}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

/// Who a user operation targets.
enum Target<'a> {
    /// A user that must not exist yet.
    New,
    /// A user by `sub`.
    Sub(&'a str),
}

/// What a committed transition left behind.
struct Outcome {
    reply: Reply,
    user: Option<UserRecord>,
}

/// What a run of a step hands the next, should it have to run again.
#[derive(Default)]
struct Carried {
    /// The user's code request is committed: a rerun does not count it again.
    request_counted: bool,
    /// The destinations of messages counted against their hourly limit and not sent yet: a
    /// rerun sends those messages anew (with new codes), and does not count them again.
    destinations_counted: Vec<String>,
    /// Keys the user's record takes under today's settings that another user held first: an
    /// alias added to a pool whose users shared a value of it, or the NFKC key of a name of a
    /// user stored before keys were normalized (`user::may_go_without`). The user's writes
    /// leave them out (the key stays its first holder's) rather than fail for good.
    left_out: Vec<String>,
}

impl Carried {
    /// The keys a write of `user`, who is there already, claims.
    fn keys(&self, settings: &Settings, user: &UserRecord) -> Vec<String> {
        let mut keys = user::index_keys(settings, user);
        keys.retain(|key| !self.left_out.contains(key));
        keys
    }

    /// Whether the store's refusal of `key`, in a write of the user stored as `loaded` as
    /// `next`, is one to leave out and run again (`user::may_go_without`): an alias key (never
    /// a username, nor an address signed up with) that the user's record already took under
    /// these settings (not one the step takes on), which another user holds; or the NFKC key
    /// of a name of a user stored before keys were normalized, who keeps the key of the name
    /// as given.
    fn leaves_out(
        &mut self,
        settings: &Settings,
        loaded: Option<&Versioned<UserRecord>>,
        next: Option<&UserRecord>,
        key: String,
    ) -> bool {
        let alias = settings.username_mode == crate::config::UsernameMode::Username && key.starts_with("a:");
        let (Some(before), Some(next)) = (loaded, next) else { return false };
        if !user::may_go_without(settings, &before.value, next, &key, alias) || self.left_out.contains(&key) {
            return false;
        }
        self.left_out.push(key);
        true
    }
}

/// What became of a reservation of counts (`UserPool::reserve`).
enum Reserved {
    /// Committed, and the transition's writes follow it.
    Ready,
    /// Committed, but the user changed since: the step runs again, its counts kept.
    Stale,
    /// Not committed: another commit got there first.
    Lost,
}

impl UserPool {
    /// Starts opening a pool with `config`.
    pub fn builder(config: PoolConfig) -> UserPoolBuilder {
        UserPoolBuilder {
            config,
            store: None,
            delivery: None,
            clock: None,
            encryption_key: None,
            #[cfg(feature = "sqlite")]
            sqlite: None,
        }
    }

    /// Opens a pool on `store` with `delivery` and the system clock.
    pub fn open(store: Arc<dyn Store>, config: PoolConfig, delivery: Arc<dyn Delivery>) -> Result<Self> {
        Self::builder(config).store(store).delivery(delivery).open()
    }

    /// The same pool, acting as another app client. A client with a secret needs it (or
    /// use [`UserPool::with_client_secret_hash`]).
    pub fn with_client(&self, client_id: &str, client_secret: Option<&str>) -> Result<Self> {
        let index = self.client_index(client_id)?;
        let proof = client_secret.map_or(ClientProof::None, |s| ClientProof::Secret(Zeroizing::new(s.to_owned())));
        let pool = Self { shared: Arc::clone(&self.shared), client: index, proof, session: None };
        if let (Some(expected), ClientProof::Secret(given)) = (&pool.client().secret, &pool.proof)
            && !crypto::constant_time_eq(expected.as_bytes(), given.as_bytes())
        {
            return Err(Error::not_authorized(format!("Unable to verify secret for client {client_id}")));
        }
        Ok(pool)
    }

    /// The same pool, acting as a client with a secret, proven per call by Cognito's
    /// `SECRET_HASH` (see [`secret_hash`]) for the username each call names; a challenge
    /// answer takes the one the call that started the challenge gave (the sign-in, or the
    /// answer before), a refresh one over the internal username.
    pub fn with_client_secret_hash(&self, client_id: &str, secret_hash: &str) -> Result<Self> {
        let index = self.client_index(client_id)?;
        Ok(Self {
            shared: Arc::clone(&self.shared),
            client: index,
            proof: ClientProof::SecretHash(Zeroizing::new(secret_hash.to_owned())),
            session: None,
        })
    }

    fn client_index(&self, client_id: &str) -> Result<usize> {
        self.shared.settings.clients.iter().position(|c| c.id == client_id).ok_or_else(|| {
            Error::new(ErrorCode::ResourceNotFound, format!("User pool client {client_id} does not exist."))
        })
    }

    fn client(&self) -> &ClientSettings {
        &self.shared.settings.clients[self.client]
    }

    /// The pool id.
    pub fn pool_id(&self) -> &str {
        self.shared.settings.pool_id()
    }

    /// The configuration the pool was opened with.
    pub fn config(&self) -> &PoolConfig {
        &self.shared.settings.raw
    }

    /// The token issuer (`iss`).
    pub fn issuer(&self) -> &str {
        &self.shared.settings.issuer
    }

    fn now(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    fn store(&self) -> &dyn Store {
        self.shared.store.as_ref()
    }

    /// The context a transition runs in: now, the settings, this view's client.
    fn ctx<'a>(&'a self, rng: &'a mut dyn rand_core::RngCore) -> Ctx<'a> {
        Ctx {
            now: self.now(),
            settings: &self.shared.settings,
            client: self.client(),
            rng,
            codes: &self.shared.codes,
            sent: &[],
            request_counted: false,
            secret_hash_digest: match &self.proof {
                ClientProof::SecretHash(given) => Some(crypto::sha256_hex(given.as_bytes())),
                ClientProof::Secret(_) | ClientProof::None => None,
            },
        }
    }

    /// Checks the client's secret for a call naming `username`.
    fn check_client(&self, username: &str) -> Result<()> {
        let client = self.client();
        let Some(secret) = &client.secret else {
            return Ok(());
        };
        match &self.proof {
            ClientProof::Secret(_) => Ok(()),
            ClientProof::SecretHash(given) => {
                let expected = secret_hash(secret, username, &client.id);
                if crypto::constant_time_eq(expected.as_bytes(), given.as_bytes()) {
                    Ok(())
                } else {
                    Err(Error::not_authorized(format!("Unable to verify secret hash for client {}", client.id)))
                }
            }
            ClientProof::None => Err(Error::not_authorized(format!(
                "Client {} is configured with secret but SECRET_HASH was not received",
                client.id
            ))),
        }
    }

    /// Checks the client's secret for a call about `user` that names no user (a refresh
    /// token, a challenge session). Cognito's later hashes take the internal username (the
    /// sub, in a pool that signs in by email or phone number); a name the user signs in with
    /// is taken too.
    fn check_client_for(&self, user: &UserRecord) -> Result<()> {
        let names = user::sign_in_addresses(&self.shared.settings, user);
        if names.iter().any(|name| self.check_client(name).is_ok()) {
            return Ok(());
        }
        self.check_client(&user.username)
    }

    /// Checks the client's secret for an answer to `challenge`: the secret itself, the
    /// `SECRET_HASH` the sign-in gave (over whichever name it signed in by), or one over a
    /// name of the user.
    /// The user's challenge that `session` answers, once this view of the pool may answer it:
    /// RespondToAuthChallenge asks a client with a secret for SECRET_HASH too, so a session
    /// that leaked from a front end does not finish, nor change, a confidential client's
    /// sign-in.
    fn answerable_challenge(&self, user: &UserRecord, session: &str) -> Result<flow::state::Challenge> {
        let challenge = {
            let mut rng = crypto::os_rng();
            let ctx = self.ctx(&mut rng);
            mfa::check_challenge(user, session, &ctx)?.clone()
        };
        self.check_answer_client(user, &challenge)?;
        Ok(challenge)
    }

    fn check_answer_client(&self, user: &UserRecord, challenge: &flow::state::Challenge) -> Result<()> {
        if let (ClientProof::SecretHash(given), Some(digest)) = (&self.proof, &challenge.secret_hash_digest) {
            let presented = crypto::sha256_hex(given.as_bytes());
            if crypto::constant_time_eq(presented.as_bytes(), digest.as_bytes()) {
                return Ok(());
            }
        }
        self.check_client_for(user)
    }

    // ── state loading and the transition driver ─────────────────────────────────────────

    /// Finds a user by a sign-in name (username, email/phone username, verified alias) or
    /// by `sub`.
    fn find(&self, name: &str) -> Result<Option<Versioned<UserRecord>>> {
        self.find_in_store(name).map_err(backend)
    }

    /// The user a name (username, alias or sub) names, with the store's own error.
    fn find_in_store(&self, name: &str) -> Result<Option<Versioned<UserRecord>>, StoreError> {
        self.first_found(
            name,
            |pool, key| self.store().user_by_key(pool, key),
            |pool, sub| self.store().user(pool, sub),
        )
    }

    /// The `sub` and record version of the user a name names, without decoding the record.
    fn find_unread(&self, name: &str) -> Result<Option<Versioned<String>>, StoreError> {
        self.first_found(
            name,
            |pool, key| self.store().user_sub_by_key(pool, key),
            |pool, sub| {
                Ok(self.store().user_version(pool, sub)?.map(|version| Versioned { version, value: sub.to_owned() }))
            },
        )
    }

    /// What `by_key` finds under the first of the name's lookup keys that holds a user, or
    /// else what `by_sub` finds taking the name as a `sub` (first, for a name shaped as one):
    /// the one order every lookup of a name follows.
    fn first_found<T>(
        &self,
        name: &str,
        by_key: impl Fn(&str, &str) -> Result<Option<T>, StoreError>,
        by_sub: impl FnOnce(&str, &str) -> Result<Option<T>, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let pool = self.pool_id();
        // A name shaped as a `sub` is one first, in any case (subs are lower case): no new
        // username or alias may have that shape, and an older one must not stand for the
        // user whose `sub` it is.
        let mut by_sub = Some(by_sub);
        if attributes::looks_like_uuid(name)
            && let Some(found) =
                by_sub.take().map_or(Ok(None), |by_sub| by_sub(pool, &attributes::nfkc(name).to_ascii_lowercase()))?
        {
            return Ok(Some(found));
        }
        for key in user::lookup_keys(&self.shared.settings, name) {
            if let Some(found) = by_key(pool, &key)? {
                return Ok(Some(found));
            }
        }
        by_sub.map_or(Ok(None), |by_sub| by_sub(pool, name))
    }

    fn load(&self, target: &Target<'_>) -> Result<Option<Versioned<UserRecord>>> {
        match target {
            Target::New => Ok(None),
            Target::Sub(sub) => self.store().user(self.pool_id(), sub).map_err(backend),
        }
    }

    /// Runs one user transition to completion: load, transition, deliver, commit; reruns on
    /// a concurrent change.
    fn drive(&self, target: Target<'_>, input: &Input) -> Result<Outcome> {
        let settings = &self.shared.settings;
        let mut sent: Vec<SentCode> = Vec::new();
        let mut carried = Carried::default();
        let mut unreadable = None;
        for _ in 0..MAX_RERUNS {
            let mut fence = self.session_fence()?;
            let loaded = self.load(&target)?;
            if matches!(target, Target::Sub(_)) && loaded.is_none() {
                return Err(Error::user_not_found());
            }
            let mut rng = crypto::os_rng();
            let mut ctx = self.ctx(&mut rng);
            ctx.sent = &sent;
            ctx.request_counted = carried.request_counted;
            // Anyone may ask for these by name: under user-existence protection, an address
            // over its hourly limit must not answer differently from a name no user has.
            let quiet_limit = ctx.client.prevent_user_existence_errors
                && matches!(input, Input::ForgotPassword { .. } | Input::ResendSignUpCode);
            let step = flow::transition(loaded.as_ref().map(|v| &v.value), input.clone(), &mut ctx);
            if let Change::Create(u) | Change::Put(u) = &step.change {
                flow::check_token_size(loaded.as_ref().map(|v| &v.value), u)?;
            }
            let mut writes = Vec::new();
            let expect = loaded.as_ref().map(|v| v.version);
            let user = match step.change {
                Change::Keep => loaded.as_ref().map(|v| v.value.clone()),
                Change::Create(u) => {
                    writes.push(Write::PutUser { keys: user::index_keys(settings, &u), user: u.clone(), expect: None });
                    Some(u)
                }
                Change::Put(u) => {
                    writes.push(Write::PutUser { keys: carried.keys(settings, &u), user: u.clone(), expect });
                    Some(u)
                }
                Change::Delete => {
                    if let Some(v) = &loaded {
                        writes.push(Write::DeleteUser { sub: v.value.sub.clone(), expect: v.version });
                    }
                    None
                }
            };
            let mut messages = Vec::new();
            let mut events = Vec::new();
            let mut simulated = Vec::new();
            for effect in step.effects {
                match effect {
                    Effect::Deliver(message) => messages.push(message),
                    Effect::Audit(event) => events.push(event),
                    Effect::RevokeSessions => {
                        if let Some(u) = &user {
                            writes.extend(self.revoke_writes(&u.sub)?);
                        }
                    }
                    Effect::CountMessageTo(address) => simulated.push(address),
                }
            }
            // What the audit records instead when a message is not sent for its address's hour.
            let unsent: Vec<AuditEvent> = if quiet_limit {
                events
                    .iter()
                    .cloned()
                    .map(|mut event| {
                        event.success = false;
                        "not sent: the address's messages for the hour are used up".clone_into(&mut event.detail);
                        event
                    })
                    .collect()
            } else {
                Vec::new()
            };
            writes.extend(self.audit_writes(events));
            match self.destination_writes(simulated.iter().map(String::as_str)) {
                Ok(counted) => writes.extend(counted),
                // Over the limit: answered as a real user's request is (see `reserve` below).
                Err(e) if quiet_limit && e.code() == ErrorCode::LimitExceeded => {}
                Err(e) => return Err(e),
            }
            if let Ok(Reply::SignIn(SignInNext::Tokens(session))) = &step.reply {
                writes.extend(self.expired_family_writes(&session.family.sub)?);
                writes.push(Write::PutFamily {
                    family: session.family.clone(),
                    new_hashes: vec![session.family.current_hash.clone()],
                    expect: None,
                });
            }
            // The keys a user takes on or claims (all of a new user's; see
            // `user::claimed_keys`) are checked before anything is sent, so a taken username
            // or address gets no message (not even a code for the address itself); the
            // commit re-checks the keys it takes atomically.
            for write in &writes {
                if let Write::PutUser { expect, user: next, .. } = write {
                    let held = match (expect, &loaded) {
                        (Some(_), Some(before)) => user::claimed_keys(settings, &before.value),
                        _ => Vec::new(),
                    };
                    let new_user = expect.is_none().then_some(next);
                    for key in user::claimed_keys(settings, next).iter().filter(|key| !held.contains(key)) {
                        for checked in std::iter::once(key.clone()).chain(user::username_twin(key)) {
                            let holder = self.store().user_sub_by_key(self.pool_id(), &checked).map_err(backend)?;
                            if holder.is_some_and(|holder| holder.value != next.sub) {
                                return Err(user::taken_error(settings, key, new_user));
                            }
                        }
                    }
                }
            }
            // A rerun after a message went out issued its code again (`Ctx::sent`), and it is
            // not sent twice. Should that code now go elsewhere (the address changed in the
            // meantime), the step runs again with new codes.
            if messages.iter().any(|m| sent.iter().any(|s| s.code_of(m) && !s.sent_as(m))) {
                sent.clear();
                continue;
            }
            messages.retain(|m| !sent.iter().any(|s| s.sent_as(m)));
            self.check_destinations(user.as_ref(), &mut messages, matches!(input, Input::ResendSignUpCode))?;
            if !messages.is_empty() {
                // The session's fence goes with the counts, so that a session revoked by now
                // sends nothing, and is read again after them: one revoked since does not
                // either (a revocation during the delivery itself cannot be told).
                let also = fence.iter().cloned().collect();
                match self.reserve(loaded.as_ref(), user.as_ref(), &messages, also, &mut writes, &mut carried) {
                    Ok(Reserved::Ready) => fence = self.session_fence()?,
                    Ok(Reserved::Stale | Reserved::Lost) => continue,
                    // Answered as if sent, as a name no user has is; only the request is
                    // counted, as it is for such a name, and audited as not sent. Nothing
                    // else changes: the code the user holds stays good.
                    Err(e) if quiet_limit && e.code() == ErrorCode::LimitExceeded => {
                        let audit = self.audit_writes(unsent.clone());
                        // Committed is done, stale or not: a rerun would write its audit again.
                        if let Reserved::Lost =
                            self.reserve(loaded.as_ref(), user.as_ref(), &[], audit, &mut writes, &mut carried)?
                        {
                            continue;
                        }
                        return step.reply.map(|reply| Outcome { reply, user: loaded.map(|v| v.value) });
                    }
                    Err(e) => return Err(e),
                }
            }
            // Messages go out before the transition's commit: a failed delivery leaves
            // nothing behind but its counts.
            for message in &messages {
                self.shared.delivery.deliver(message).map_err(|e| {
                    tracing::warn!(purpose = message.purpose.as_str(), reason = %e, "code delivery failed");
                    Error::new(ErrorCode::CodeDeliveryFailure, format!("Unable to deliver the code: {e}"))
                })?;
                sent.push(SentCode::of(message));
            }
            // Every message counted is sent: a rerun's are new ones.
            carried.destinations_counted.clear();
            if !writes.is_empty() {
                // First: the step's own revocation of the session (a sign-out everywhere)
                // then applies over it.
                writes.splice(0..0, fence);
                writes.push(self.purge_write());
                match self.store().commit(self.pool_id(), writes) {
                    Ok(()) => {}
                    Err(StoreError::Conflict) => continue,
                    // A record this step read has become one this library cannot use (a
                    // session a newer library rewrote): the rerun reads it again.
                    Err(StoreError::Unreadable(why)) => {
                        unreadable = Some(why);
                        continue;
                    }
                    Err(StoreError::Taken(key))
                        if carried.leaves_out(settings, loaded.as_ref(), user.as_ref(), key.clone()) =>
                    {
                        continue;
                    }
                    Err(StoreError::Taken(key)) => {
                        return Err(user::taken_error(settings, &key, user.as_ref().filter(|_| loaded.is_none())));
                    }
                    Err(e) => return Err(backend(e)),
                }
            }
            return step.reply.map(|reply| Outcome { reply, user });
        }
        if let Some(why) = unreadable {
            return Err(backend(StoreError::Unreadable(why)));
        }
        Err(Error::new(ErrorCode::TooManyRequests, "Too many concurrent changes to this user; retry."))
    }

    /// Deletes the user's sessions that ended more than a day ago ([`LONGEST_TOKEN_MS`]),
    /// with their refresh-token hashes: a new session clears the user's dead ones, so a
    /// user's rows stay bounded by the sessions that can still be used. Their refresh tokens
    /// were refused already, and a replay now finds no session, which is refused the same
    /// way.
    fn expired_family_writes(&self, sub: &str) -> Result<Vec<Write>> {
        let now = self.now();
        let families = self.store().families_of(self.pool_id(), sub).map_err(backend)?;
        // An unreadable one's expiry is unknown here; the store's purge finds it by its own.
        Ok(families
            .into_iter()
            .filter_map(ListedFamily::readable)
            .filter(|f| f.value.expires_ms.saturating_add(LONGEST_TOKEN_MS) <= now)
            .map(|f| Write::DeleteFamily { id: f.value.id, expect: f.version })
            .collect())
    }

    /// Refuses a message to an address another user signs in by, in a pool whose users sign
    /// up with an email or a phone number: an unverified address this user named while it was
    /// free, which another user has signed up with since. Its code could not be used (the
    /// address cannot be verified for this user) and is not the other user's to receive.
    /// When `quietly` (a resent sign-up code, which anyone may ask for by name), the message
    /// is left out instead and the step answers as if it went: an error would tell the caller
    /// that the name is a user's, and that another account has the address.
    fn check_destinations(
        &self,
        recipient: Option<&UserRecord>,
        messages: &mut Vec<Message>,
        quietly: bool,
    ) -> Result<()> {
        let settings = &self.shared.settings;
        let (crate::config::UsernameMode::Attributes { .. }, Some(recipient)) = (settings.username_mode, recipient)
        else {
            return Ok(());
        };
        let mut kept = Vec::with_capacity(messages.len());
        for message in messages.drain(..) {
            let attribute = if message.channel == Channel::Sms { "phone_number" } else { "email" };
            // Either form of the address: a user stored before keys were normalized holds
            // only the key of the address as given, and keeps it should another user take
            // the NFKC one since (`user::may_go_without`); the address is still theirs.
            let mut taken = None;
            let mut own = false;
            for key in user::address_keys(settings, attribute, &message.destination) {
                match self.store().user_sub_by_key(self.pool_id(), &key).map_err(backend)? {
                    Some(holder) if holder.value == recipient.sub => own = true,
                    Some(_) => taken = taken.or(Some(key)),
                    None => {}
                }
            }
            match taken.filter(|_| !own) {
                None => kept.push(message),
                Some(key) if !quietly => return Err(user::taken_error(settings, &key, None)),
                Some(_) => {}
            }
        }
        *messages = kept;
        Ok(())
    }

    /// Commits the counts that limit `messages` before any is sent: each message against its
    /// destination's hourly limit and, when the transition counted a code request, the
    /// user's own count; `writes`, the transition's own, then follow it. Requests made at
    /// once all read the same counts: committing them first makes all but one run again and
    /// find them taken, where sending first let every request send.
    ///
    /// `carried.request_counted` is set once the user's count is committed: a rerun of the
    /// step does not count the request again. `also` joins the reservation's commit.
    fn reserve(
        &self,
        loaded: Option<&Versioned<UserRecord>>,
        next: Option<&UserRecord>,
        messages: &[Message],
        also: Vec<Write>,
        writes: &mut [Write],
        carried: &mut Carried,
    ) -> Result<Reserved> {
        let mut counted_before = carried.destinations_counted.clone();
        let fresh: Vec<&str> = messages
            .iter()
            .map(|m| m.destination.as_str())
            .filter(|destination| match counted_before.iter().position(|c| c == destination) {
                Some(i) => {
                    counted_before.swap_remove(i);
                    false
                }
                None => true,
            })
            .collect();
        let mut reservation = self.destination_writes(fresh.iter().copied())?;
        reservation.extend(also);
        let mut counted = None;
        if let (Some(before), Some(next)) = (loaded, next)
            && before.value.code_requests_ms != next.code_requests_ms
        {
            let mut user = before.value.clone();
            user.code_requests_ms.clone_from(&next.code_requests_ms);
            let keys = carried.keys(&self.shared.settings, &user);
            reservation.push(Write::PutUser { keys, user: user.clone(), expect: Some(before.version) });
            counted = Some(user);
        }
        let settings = &self.shared.settings;
        match self.store().commit(self.pool_id(), reservation) {
            Ok(()) => carried.destinations_counted.extend(fresh.into_iter().map(str::to_owned)),
            Err(StoreError::Conflict) => return Ok(Reserved::Lost),
            // The reservation writes the user as read, but for the counts.
            Err(StoreError::Taken(key)) if carried.leaves_out(settings, loaded, counted.as_ref(), key.clone()) => {
                return Ok(Reserved::Lost);
            }
            Err(StoreError::Taken(key)) => {
                return Err(user::taken_error(settings, &key, next.filter(|_| loaded.is_none())));
            }
            Err(e) => return Err(backend(e)),
        }
        let Some(counted) = counted else { return Ok(Reserved::Ready) };
        carried.request_counted = true;
        // The transition's write replaces the counted record, if nothing else came between.
        let Some(now) = self.store().user(self.pool_id(), &counted.sub).map_err(backend)? else {
            return Ok(Reserved::Stale);
        };
        if now.value != counted {
            return Ok(Reserved::Stale);
        }
        for write in writes {
            if let Write::PutUser { expect: expect @ Some(_), .. } = write {
                *expect = Some(now.version);
            }
        }
        Ok(Reserved::Ready)
    }

    /// Counts a message to each of `destinations` against
    /// `codes.max_per_destination_per_hour` (kept by an HMAC of the address in lower case,
    /// under the pool's code key: phone numbers are few enough to hash them all); refuses
    /// when one is over.
    fn destination_writes<'d>(&self, destinations: impl IntoIterator<Item = &'d str>) -> Result<Vec<Write>> {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for destination in destinations {
            let address = destination.trim().to_lowercase();
            let key = format!("destination:{}", self.shared.codes.tag("destination", "", &address));
            match counts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => counts.push((key, 1)),
            }
        }
        counts
            .iter()
            .map(|(key, n)| {
                self.changed_record::<Vec<i64>>(key, |sent, ctx| {
                    (0..*n).try_for_each(|_| user::count_destination_message(sent, ctx))
                })
            })
            .collect()
    }

    /// The write every user transition's commit ends with: a few records of the pool that
    /// ended go ([`PURGE_BATCH`] of each kind). Each commit creates at most about as many as
    /// it deletes, so the counters of unknown names and destinations, and the sessions of
    /// users who never sign in again, stay bounded by the live ones without a sweeper.
    fn purge_write(&self) -> Write {
        let now = self.now();
        Write::PurgeExpired {
            records_until_ms: now,
            families_until_ms: now.saturating_sub(LONGEST_TOKEN_MS),
            limit: PURGE_BATCH,
        }
    }

    /// For a step an access token asked for: its session, found live now, and a write of it
    /// as it is, at the version read, for the step's commit. Should the session end before
    /// the commit (a sign-out everywhere, a reset or a disable elsewhere, between the token's
    /// check and the step), the commit conflicts and the rerun answers that the token was
    /// revoked, rather than the step landing after the revocation: a password change undoing
    /// a reset, an authenticator or an address added by a session already ended.
    fn session_fence(&self) -> Result<Option<Write>> {
        let Some(id) = &self.session else { return Ok(None) };
        match self.store().family(self.pool_id(), id).map_err(backend)? {
            Some(found) if !found.value.revoked => {
                Ok(Some(Write::PutFamily { family: found.value, new_hashes: Vec::new(), expect: Some(found.version) }))
            }
            _ => Err(Error::revoked_access_token()),
        }
    }

    /// Ends every session of the user. One whose record this library cannot use is deleted:
    /// it cannot be marked revoked here, and a newer library sharing the store might still
    /// honour it.
    fn revoke_writes(&self, sub: &str) -> Result<Vec<Write>> {
        let families = self.store().families_of(self.pool_id(), sub).map_err(backend)?;
        let now = self.now();
        Ok(families
            .into_iter()
            .filter_map(|listed| match listed {
                ListedFamily::Readable(f) => {
                    (!f.value.revoked).then(|| Write::RevokeFamily { id: f.value.id, at_ms: now })
                }
                ListedFamily::Unreadable { id, version, why } => {
                    tracing::warn!(
                        pool = self.pool_id(),
                        sub,
                        why,
                        "deleting a session whose stored record cannot be read"
                    );
                    Some(Write::DeleteFamily { id, expect: version })
                }
            })
            .collect())
    }

    fn hash_new_password(&self, password: &str, username: &str) -> Result<String> {
        attributes::check_password_input(password)?;
        password::check_policy(&self.shared.settings.raw.password_policy, password, username)?;
        self.shared.hasher.hash(password)
    }

    fn protects(&self) -> bool {
        self.client().prevent_user_existence_errors
    }

    // ── sign-up ─────────────────────────────────────────────────────────────────────────

    /// Registers a user. The confirmation code goes out through the pool's delivery.
    pub fn sign_up(&self, username: &str, password: &str, attributes: Attributes) -> Result<SignUpResult> {
        let settings = &self.shared.settings;
        self.check_client(username)?;
        if !settings.raw.sign_up.enabled {
            return Err(Error::not_authorized("SignUp is not permitted for this user pool"));
        }
        let (name, attributes) = user::check_new_user(settings, self.client(), username, attributes, false)?;
        attributes::check_password_input(password)?;
        let password_hash = self.hash_new_password(password, username)?;
        let outcome = self.drive(Target::New, &Input::SignUp { name, password_hash, attributes })?;
        let Reply::SignedUp { sub, confirmed, delivery } = outcome.reply else {
            return Err(Error::internal("unexpected reply to sign-up"));
        };
        Ok(SignUpResult {
            user_sub: sub,
            confirmed,
            next_step: if confirmed { SignUpStep::Done } else { SignUpStep::ConfirmSignUp },
            code_delivery: delivery,
        })
    }

    /// Confirms a new account with the code it was sent.
    pub fn confirm_sign_up(&self, username: &str, code: &str) -> Result<()> {
        check_code_input(code)?;
        self.check_client(username)?;
        let Some(found) = self.find(username)? else {
            return Err(if self.protects() { Error::code_mismatch() } else { Error::user_not_found() });
        };
        let input = Input::ConfirmSignUp { code: Zeroizing::new(code.to_owned()) };
        self.unless_gone(self.drive(Target::Sub(&found.value.sub), &input).map(drop), || Err(Error::code_mismatch()))
    }

    /// The answer of a step for a user found by the name a caller gave, in an operation anyone
    /// may call. Should the user be deleted between the lookup and the step, its
    /// `UserNotFoundException` would tell the caller, under user-existence protection, that
    /// the name was a user's a moment ago: `unknown` answers as for a name no user has.
    fn unless_gone<T>(&self, result: Result<T>, unknown: impl FnOnce() -> Result<T>) -> Result<T> {
        match result {
            Err(e) if e.code() == ErrorCode::UserNotFound && self.protects() => unknown(),
            other => other,
        }
    }

    /// Sends a new confirmation code (the old one stops working).
    pub fn resend_sign_up_code(&self, username: &str) -> Result<CodeDelivery> {
        attributes::check_username(username)?;
        self.check_client(username)?;
        let found = self.find(username)?;
        // A disabled user gets no real code (an administrator who disabled an abusive sign-up
        // stops its mail too): under user-existence protection, what a name nobody has gets.
        let Some(found) = found.filter(|f| f.value.enabled || !self.protects()) else {
            return if self.protects() {
                self.unknown_code_request(username, user::sign_up_code_attribute(&self.shared.settings, username))
            } else {
                Err(Error::user_not_found())
            };
        };
        if !found.value.enabled {
            return Err(Error::not_authorized("User is disabled."));
        }
        let outcome = self
            .unless_gone(self.drive(Target::Sub(&found.value.sub), &Input::ResendSignUpCode).map(Some), || Ok(None))?;
        match outcome.map(|o| o.reply) {
            Some(Reply::Delivery(Some(d))) => Ok(d),
            None => self.unknown_code_request(username, user::sign_up_code_attribute(&self.shared.settings, username)),
            _ => Err(Error::internal("unexpected reply to resend")),
        }
    }

    fn simulated(&self, name: &str, attribute: &str) -> CodeDelivery {
        let mut rng = crypto::os_rng();
        user::simulated_delivery(&self.ctx(&mut rng), name, attribute)
    }

    // ── sign-in ─────────────────────────────────────────────────────────────────────────

    /// Signs in with a password (Cognito's USER_PASSWORD_AUTH). The result is either tokens
    /// (`DONE`) or the next step to take.
    pub fn sign_in(&self, username: &str, password: &str) -> Result<SignInResult> {
        attributes::check_username(username).map_err(|_| Error::bad_credentials())?;
        attributes::check_password_input(password)?;
        self.check_client(username)?;
        let Some(found) = self.find(username)? else {
            if !self.protects() {
                return Err(Error::user_not_found());
            }
            return Err(self.unknown_sign_in(username, password));
        };
        let account = flow::display_username(&self.shared.settings, &found.value);
        let sub = found.value.sub;
        let started = self.unless_gone(self.drive(Target::Sub(&sub), &Input::StartPasswordAttempt), || {
            Err(self.unknown_sign_in(username, password))
        })?;
        let (hash, changed_ms_checked) = match started.reply {
            Reply::CheckPassword { ref hash, changed_ms } => (hash.0.clone(), changed_ms),
            // Answered before any password is checked: a user who has none.
            _ => return self.sign_in_result(started, None, &account),
        };
        let verdict = self.shared.hasher.verify(password, &hash);
        let matched = verdict.matched();
        let rehash = if verdict == Verdict::MatchedAsTyped || (matched && self.shared.hasher.needs_rehash(&hash)) {
            Some(self.shared.hasher.hash(password)?)
        } else {
            None
        };
        let setup = self.new_totp_secret(&sub)?;
        let input = Input::FinishPasswordAttempt {
            matched,
            hash_checked: hash,
            changed_ms_checked,
            rehash,
            setup_secret: setup.sealed.clone(),
        };
        let outcome = self.unless_gone(self.drive(Target::Sub(&sub), &input), || Err(Error::bad_credentials()))?;
        self.sign_in_result(outcome, Some(&setup), &account)
    }

    /// Answers the sign-in challenge of `session` (a loop until `DONE`):
    ///
    /// - `CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED`: the new password; `attributes` carries
    ///   the missing required attributes;
    /// - `CONFIRM_SIGN_IN_WITH_TOTP_CODE` / `…_SMS_CODE` / `…_EMAIL_CODE`: the code;
    /// - `CONTINUE_SIGN_IN_WITH_MFA_SELECTION`: `TOTP`, `SMS` or `EMAIL`;
    /// - `CONTINUE_SIGN_IN_WITH_TOTP_SETUP`: the first code of the new authenticator.
    ///
    /// A wrong code keeps the session until the attempt cap; an expired, used or unknown
    /// session is `NotAuthorizedException` ("Invalid session").
    pub fn confirm_sign_in(&self, session: &str, answer: &str, attributes: Attributes) -> Result<SignInResult> {
        if session.is_empty() || session.len() > 2048 {
            return Err(Error::invalid("session must be 1-2048 characters"));
        }
        if answer.is_empty() || answer.len() > attributes::MAX_PASSWORD_LEN {
            return Err(Error::invalid("answer must be 1-256 bytes"));
        }
        let invalid = || Error::not_authorized("Invalid session for the user, session is expired.");
        let sub = mfa::session_sub(session).ok_or_else(invalid)?;
        let Some(found) = self.store().user(self.pool_id(), &sub).map_err(backend)? else {
            return Err(invalid());
        };
        let user = &found.value;
        // The session is checked before any work (hashing, TOTP) is spent on the answer.
        let kind = self.answerable_challenge(user, session)?.kind;
        let account = flow::display_username(&self.shared.settings, user);
        let session = Zeroizing::new(session.to_owned());
        let setup = self.new_totp_secret(&sub)?;
        let input = match kind {
            ChallengeKind::NewPasswordRequired { .. } => {
                // The user's own write, with a client's permissions: not a creation, so
                // write-once attributes and verification flags stay as the admin set them.
                attributes::check_writes(
                    &self.shared.settings,
                    self.client().write.as_ref(),
                    &attributes,
                    WriteKind::UserUpdate,
                )?;
                let password_hash = self.hash_new_password(answer, &account)?;
                Input::AnswerNewPassword { session, password_hash, attributes, setup_secret: setup.sealed.clone() }
            }
            ChallengeKind::Mfa { method: MfaMethod::Totp, .. } => {
                let device = user.mfa.totp.as_ref().ok_or_else(invalid)?;
                let step = self.totp_step(&sub, &device.secret, answer)?;
                Input::AnswerTotp { session, step, secret_checked: device.secret.clone() }
            }
            ChallengeKind::Mfa { .. } => Input::AnswerMfaCode { session, code: Zeroizing::new(answer.to_owned()) },
            ChallengeKind::SelectMfa { .. } => {
                let method = MfaMethod::parse(answer)
                    .ok_or_else(|| Error::invalid("answer with one of the allowed MFA types: TOTP, SMS or EMAIL"))?;
                Input::AnswerSelection { session, method }
            }
            ChallengeKind::TotpSetup { secret } => {
                let step = self.totp_step(&sub, &secret, answer)?;
                let friendly_name = "authenticator".to_owned();
                Input::AnswerTotpSetup { session, step, secret_checked: secret, friendly_name }
            }
        };
        let outcome = self.drive(Target::Sub(&sub), &input)?;
        self.sign_in_result(outcome, Some(&setup), &account)
    }

    /// Appends audit events, then trims each user's to the newest `events.keep_per_user`.
    fn audit_writes(&self, events: impl IntoIterator<Item = AuditEvent>) -> Vec<Write> {
        let keep = self.shared.settings.raw.events.keep_per_user as usize;
        let mut writes = Vec::new();
        let mut subs: Vec<String> = Vec::new();
        for event in events {
            if !subs.contains(&event.sub) {
                subs.push(event.sub.clone());
            }
            writes.push(Write::AppendEvent(event));
        }
        writes.extend(subs.into_iter().map(|sub| Write::TrimEvents { sub, keep }));
        writes
    }

    /// Where the bookkeeping of a name no user has is kept under user-existence protection:
    /// by an HMAC of its lookup key under the pool's code key, so the store holds no list of
    /// guessed names. Not a bare hash: a name is sometimes a password typed in the wrong
    /// field, which a fast hash would give away to a dictionary run over a stolen store.
    fn unknown_name_key(&self, kind: &str, name: &str) -> String {
        let login_key = attributes::login_key(&self.shared.settings, name);
        format!("{kind}:{}", self.shared.codes.tag("unknown-name", kind, &login_key))
    }

    /// The write that applies `change` to the pool record at `key` (its default when there
    /// is none), at the version read; `change` refusing is the error.
    fn changed_record<T>(&self, key: &str, change: impl Fn(&mut T, &Ctx<'_>) -> Result<()>) -> Result<Write>
    where
        T: Default + Expiring + serde::Serialize + serde::de::DeserializeOwned,
    {
        let stored = self.store().secret(self.pool_id(), key).map_err(backend)?;
        let mut record: T = stored.as_ref().and_then(|s| serde_json::from_slice(&s.value).ok()).unwrap_or_default();
        let mut rng = crypto::os_rng();
        change(&mut record, &self.ctx(&mut rng))?;
        let value = serde_json::to_vec(&record).map_err(|e| Error::internal(e.to_string()))?;
        Ok(Write::PutSecret {
            name: key.to_owned(),
            value: value.into(),
            expect: stored.map(|s| s.version),
            expires_ms: Some(record.expires_ms(&self.shared.settings)),
        })
    }

    /// Applies `change` to the record at `key` in a commit of its own, rerunning on a
    /// concurrent change. When `change` refuses, nothing is written.
    fn change_unknown_name<T>(&self, key: &str, change: impl Fn(&mut T, &Ctx<'_>) -> Result<()>) -> Result<()>
    where
        T: Default + Expiring + serde::Serialize + serde::de::DeserializeOwned,
    {
        self.commit_rerunning("Too many concurrent requests for one name; retry.", || {
            Ok((vec![self.changed_record(key, &change)?, self.purge_write()], ()))
        })
    }

    /// Commits the writes that `attempt` makes from what it reads, and runs it again on a
    /// fresh read while another commit got there first; after [`MAX_RERUNS`] tries, refuses
    /// with `busy`.
    fn commit_rerunning<T>(
        &self,
        busy: &'static str,
        mut attempt: impl FnMut() -> Result<(Vec<Write>, T)>,
    ) -> Result<T> {
        for _ in 0..MAX_RERUNS {
            let (writes, out) = attempt()?;
            match self.store().commit(self.pool_id(), writes) {
                Ok(()) => return Ok(out),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(backend(e)),
            }
        }
        Err(Error::new(ErrorCode::TooManyRequests, busy))
    }

    /// A code request for a name no user has, under user-existence protection: counted
    /// against `codes.max_requests_per_hour` as a real user's is (so the limit does not tell
    /// them apart, and the request is a durable write in both cases), then answered with a
    /// simulated delivery. A name that is itself the address the simulated code goes to
    /// counts against that address's hour too, as the real message to a user found by it
    /// would: anyone can fill an address's hour with sign-ups, and what is left of it must
    /// not depend on whether someone has the address.
    fn unknown_code_request(&self, name: &str, attribute: &str) -> Result<CodeDelivery> {
        let key = self.unknown_name_key("unknown-codes", name);
        let address = user::echoed_address(&self.shared.settings, name, attribute);
        self.commit_rerunning("Too many concurrent requests for one name; retry.", || {
            let mut writes = vec![self.changed_record::<Vec<i64>>(&key, user::count_code_request)?];
            match self.destination_writes(address) {
                Ok(counted) => writes.extend(counted),
                // Used up: answered as if sent, as a real user's request is (`drive`).
                Err(e) if e.code() == ErrorCode::LimitExceeded => {}
                Err(e) => return Err(e),
            }
            writes.push(self.purge_write());
            Ok((writes, ()))
        })?;
        Ok(self.simulated(name, attribute))
    }

    /// A sign-in with a name no user has, under user-existence protection: the same work,
    /// writes and answers as a wrong password for a real user. The name gets a lockout of
    /// its own (kept by an HMAC of its lookup key), so locking out does not reveal that an
    /// account exists either, and the failure is audited in the record all unknown names
    /// share.
    fn unknown_sign_in(&self, name: &str, password: &str) -> Error {
        let key = self.unknown_name_key("unknown-user", name);
        if let Err(e) = self.change_unknown_name::<Lockout>(&key, user::count_attempt) {
            return e;
        }
        self.shared.hasher.verify_dummy(password);
        // One record for every unknown name, so that a spray of names keeps only the newest.
        let event = AuditEvent {
            sub: UNKNOWN_NAMES_EVENTS.into(),
            kind: EventKind::SignIn,
            success: false,
            at_ms: self.now(),
            detail: key,
        };
        let mut writes = self.audit_writes([event]);
        // As a real user's second commit (the attempt's outcome) ends.
        writes.push(self.purge_write());
        if let Err(e) = self.store().commit(self.pool_id(), writes) {
            return backend(e);
        }
        Error::bad_credentials()
    }

    /// Counts a password attempt (lockout) and returns the hash to check against, with the
    /// time its password was set.
    fn start_password_attempt(&self, sub: &str) -> Result<(String, i64)> {
        let Reply::CheckPassword { hash, changed_ms } =
            self.drive(Target::Sub(sub), &Input::StartPasswordAttempt)?.reply
        else {
            return Err(Error::internal("unexpected reply to a password attempt"));
        };
        Ok((hash.0, changed_ms))
    }

    /// The sign-in step for `outcome`; `setup` is the secret a TOTP-setup challenge shows.
    fn sign_in_result(&self, outcome: Outcome, setup: Option<&NewTotpSecret>, account: &str) -> Result<SignInResult> {
        let Reply::SignIn(next) = outcome.reply else {
            return Err(Error::internal("unexpected reply to sign-in"));
        };
        let empty = |step| SignInResult {
            next_step: step,
            tokens: None,
            session: None,
            missing_attributes: Vec::new(),
            code_delivery: None,
            allowed_mfa_types: Vec::new(),
            totp_setup: None,
        };
        let with_session = |step, session: Zeroizing<String>| SignInResult { session: Some(session), ..empty(step) };
        Ok(match next {
            SignInNext::Tokens(session) => {
                let user = outcome.user.ok_or_else(|| Error::internal("signed in without a user"))?;
                let tokens = self.issue_tokens(&user, &session.family, Some(session.refresh_token))?;
                SignInResult { tokens: Some(tokens), ..empty(SignInStep::Done) }
            }
            SignInNext::ConfirmSignUp => empty(SignInStep::ConfirmSignUp),
            SignInNext::ResetPassword => empty(SignInStep::ResetPassword),
            SignInNext::NewPasswordRequired { session, missing } => SignInResult {
                missing_attributes: missing,
                ..with_session(SignInStep::ConfirmSignInWithNewPasswordRequired, session)
            },
            SignInNext::TotpCode { session } => with_session(SignInStep::ConfirmSignInWithTotpCode, session),
            SignInNext::SmsCode { session, delivery } => SignInResult {
                code_delivery: Some(delivery),
                ..with_session(SignInStep::ConfirmSignInWithSmsCode, session)
            },
            SignInNext::EmailCode { session, delivery } => SignInResult {
                code_delivery: Some(delivery),
                ..with_session(SignInStep::ConfirmSignInWithEmailCode, session)
            },
            SignInNext::SelectMfa { session, options } => SignInResult {
                allowed_mfa_types: options,
                ..with_session(SignInStep::ContinueSignInWithMfaSelection, session)
            },
            SignInNext::TotpSetup { session } => SignInResult {
                totp_setup: Some(self.totp_setup(
                    &setup.ok_or_else(|| Error::internal("a TOTP setup without a secret"))?.plain,
                    account,
                )?),
                ..with_session(SignInStep::ContinueSignInWithTotpSetup, session)
            },
        })
    }

    // ── tokens and sessions ─────────────────────────────────────────────────────────────

    fn key_ring(&self) -> Arc<KeyRing> {
        // Another process may rotate the keys: re-read them once a minute.
        if let Err(e) = self.reload_keys(KEY_REFRESH_MS) {
            tracing::warn!(error = %e, "could not re-read the signing keys");
        }
        Arc::clone(&self.shared.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Re-reads the key ring if it was read more than `max_age_ms` ago, or as far ahead of
    /// now (a clock stepped back; readings that merely arrive out of order, a few ms apart,
    /// reload nothing).
    fn reload_keys(&self, max_age_ms: i64) -> Result<()> {
        use std::sync::atomic::Ordering;
        let now = self.now();
        let loaded = self.shared.keys_loaded_ms.load(Ordering::Relaxed);
        let failed = self.shared.keys_failed_ms.load(Ordering::Relaxed);
        if (1 - max_age_ms..max_age_ms).contains(&now.saturating_sub(loaded))
            // A read asked for now (after a rotation's conflict) goes ahead, failure or not.
            || (max_age_ms > 0 && (0..KEY_RETRY_MS).contains(&now.saturating_sub(failed)))
            || self.shared.keys_loaded_ms.compare_exchange(loaded, now, Ordering::SeqCst, Ordering::Relaxed).is_err()
        {
            return Ok(());
        }
        let read = KeyRing::load(self.store(), self.pool_id(), &self.shared.sealer).inspect_err(|_| {
            // A failed read is not one: the next call tries again, a second later rather
            // than a minute.
            self.shared.keys_failed_ms.store(now, Ordering::Relaxed);
            let _ = self.shared.keys_loaded_ms.compare_exchange(now, loaded, Ordering::SeqCst, Ordering::Relaxed);
        })?;
        if let Some(fresh) = read {
            let mut keys = self.shared.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            // A rotation here may have installed a newer ring since this read.
            if fresh.is_newer_than(&keys) {
                *keys = Arc::new(fresh);
            }
        }
        Ok(())
    }

    fn issue_tokens(
        &self,
        user: &UserRecord,
        family: &Family,
        refresh_token: Option<Zeroizing<String>>,
    ) -> Result<Tokens> {
        let settings = &self.shared.settings;
        let client =
            settings.client(&family.client_id).ok_or_else(|| Error::internal("session of an unknown client"))?;
        let now = self.now();
        let iat = now.div_euclid(1000);
        // No token outlives its session: a refresh just before the session's end would
        // otherwise buy a stolen refresh token a whole token lifetime more. Rounded up, and
        // at least a second: the session was live when the step read the clock, a little
        // before this reading, and a token issued must not be expired as it is issued.
        let session_end = family.expires_ms.saturating_add(999).div_euclid(1000);
        let ends = |ttl_ms: i64| (iat + ttl_ms / 1000).min(session_end).max(iat + 1);
        let (id_exp, access_exp) = (ends(client.id_ttl_ms), ends(client.access_ttl_ms));
        let auth_time = family.auth_time_ms.div_euclid(1000);
        let mut rng = crypto::os_rng();
        let username = user.username.clone();
        let mut id = serde_json::Map::new();
        id.insert("sub".into(), json!(user.sub));
        for (name, value) in &user.attributes {
            if client.read.as_ref().is_some_and(|r| !r.contains(name)) {
                continue;
            }
            let value = if attributes::is_verification_flag(name) { json!(value == "true") } else { json!(value) };
            id.insert(name.clone(), value);
        }
        // An address without its flag is not verified, and says so, as Cognito's tokens do:
        // a relying party reading `email_verified` finds `false`, not nothing.
        for (address, flag) in [("email", "email_verified"), ("phone_number", "phone_number_verified")] {
            let readable = client.read.as_ref().is_none_or(|r| r.contains(flag));
            if readable && id.contains_key(address) && !id.contains_key(flag) {
                id.insert(flag.into(), json!(false));
            }
        }
        let groups = self.ordered_groups(user)?;
        if !groups.is_empty() {
            id.insert("cognito:groups".into(), json!(groups));
        }
        id.extend([
            ("aud".into(), json!(client.id)),
            ("token_use".into(), json!("id")),
            ("auth_time".into(), json!(auth_time)),
            ("iss".into(), json!(settings.issuer)),
            ("cognito:username".into(), json!(username)),
            ("exp".into(), json!(id_exp)),
            ("iat".into(), json!(iat)),
            ("jti".into(), json!(crypto::uuid_v4(&mut rng))),
            ("origin_jti".into(), json!(family.id)),
        ]);
        let mut access = serde_json::Map::new();
        access.insert("sub".into(), json!(user.sub));
        if !groups.is_empty() {
            access.insert("cognito:groups".into(), json!(groups));
        }
        access.extend([
            ("token_use".into(), json!("access")),
            ("scope".into(), json!("aws.cognito.signin.user.admin")),
            ("auth_time".into(), json!(auth_time)),
            ("iss".into(), json!(settings.issuer)),
            ("exp".into(), json!(access_exp)),
            ("iat".into(), json!(iat)),
            ("jti".into(), json!(crypto::uuid_v4(&mut rng))),
            ("origin_jti".into(), json!(family.id)),
            ("client_id".into(), json!(client.id)),
            ("username".into(), json!(username)),
        ]);
        let ring = self.key_ring();
        let id_key = ring.signer(KeyUse::Id)?;
        let access_key = ring.signer(KeyUse::Access)?;
        Ok(Tokens {
            id_token: jwt::sign(&id_key.private, &id_key.kid, id_key.alg, &Value::Object(id))?,
            access_token: jwt::sign(&access_key.private, &access_key.kid, access_key.alg, &Value::Object(access))?,
            refresh_token: refresh_token.unwrap_or_default(),
            expires_in: u64::try_from(access_exp - iat).unwrap_or(0),
            token_type: "Bearer",
        })
    }

    /// New ID and access tokens for a refresh token. With rotation on (the default) the
    /// refresh token is replaced; presenting a replaced one after the grace window revokes
    /// the whole session (`RefreshTokenReuseException`).
    pub fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        let hash = refresh_token_hash(refresh_token)?;
        for _ in 0..MAX_RERUNS {
            let (found, user) = self.family_and_user(&hash)?;
            if user.status != UserStatus::Confirmed {
                return Err(Error::not_authorized("User is not confirmed."));
            }
            let mut rng = crypto::os_rng();
            let mut ctx = self.ctx(&mut rng);
            let step =
                flow::session_transition(&found.value, SessionInput::Refresh { presented_hash: &hash }, &mut ctx);
            let family = step.family.clone().unwrap_or_else(|| found.value.clone());
            // The tokens are made before the rotation commits: should that fail (a group
            // record that no longer decodes, the store), the client keeps a refresh token
            // that works, where a rotation committed first left it one that was rotated out,
            // whose retry ends the session as a reuse.
            let answer = match &step.reply {
                Ok(()) => {
                    let token = step.new_token.clone().unwrap_or_else(|| Zeroizing::new(refresh_token.to_owned()));
                    Ok(self.issue_tokens(&user, &family, Some(token))?)
                }
                Err(e) => Err(e.clone()),
            };
            // A refresh that rotates nothing writes nothing: its tokens, made by now, stand
            // only if the session is still as read, or a sign-out that landed meanwhile would
            // be followed by tokens a JWKS verifier takes. A changed session reruns.
            let unchanged = || -> Result<bool> {
                let now = self.store().family(self.pool_id(), &found.value.id).map_err(backend)?;
                Ok(now.is_some_and(|now| now.version == found.version))
            };
            let wrote = step.family.is_some();
            if self.commit_family(&found, &step)? && (wrote || answer.is_err() || unchanged()?) {
                return answer;
            }
        }
        Err(Error::new(ErrorCode::TooManyRequests, "Too many concurrent refreshes; retry."))
    }

    /// Ends the session a refresh token belongs to (Cognito's RevokeToken); its access and ID
    /// tokens stop verifying.
    pub fn sign_out(&self, refresh_token: &str) -> Result<()> {
        let hash = refresh_token_hash(refresh_token)?;
        for _ in 0..MAX_RERUNS {
            let (found, _) = self.family_and_user(&hash)?;
            let mut rng = crypto::os_rng();
            let mut ctx = self.ctx(&mut rng);
            let step = flow::session_transition(&found.value, SessionInput::Revoke, &mut ctx);
            if self.commit_family(&found, &step)? {
                return step.reply;
            }
        }
        Err(Error::new(ErrorCode::TooManyRequests, "Too many concurrent changes; retry."))
    }

    /// The family a refresh token belongs to and its user, checked against this client: the
    /// token must have been issued to it, and a client with a secret must prove it.
    fn family_and_user(&self, hash: &str) -> Result<(Versioned<Family>, UserRecord)> {
        let invalid = || Error::not_authorized("Invalid Refresh Token");
        let found = self.store().family_by_hash(self.pool_id(), hash).map_err(backend)?.ok_or_else(invalid)?;
        if found.value.client_id != self.client().id {
            return Err(invalid());
        }
        let user = self.store().user(self.pool_id(), &found.value.sub).map_err(backend)?.ok_or_else(invalid)?.value;
        self.check_client_for(&user)?;
        if !user.enabled {
            return Err(Error::not_authorized("User is disabled."));
        }
        Ok((found, user))
    }

    /// Commits a family step; `false` when the family changed concurrently (rerun).
    fn commit_family(&self, found: &Versioned<Family>, step: &flow::SessionStep) -> Result<bool> {
        let mut writes = self.audit_writes(step.audit.iter().cloned());
        if let Some(next) = &step.family {
            if next.revoked && *next == (Family { revoked: true, ..found.value.clone() }) {
                // Sign-out and reuse detection: see `Write::RevokeFamily`.
                writes.push(Write::RevokeFamily { id: next.id.clone(), at_ms: self.now() });
            } else {
                let new_hashes = if step.new_token.is_some() { vec![next.current_hash.clone()] } else { Vec::new() };
                writes.push(Write::PutFamily { family: next.clone(), new_hashes, expect: Some(found.version) });
            }
        }
        if writes.is_empty() {
            return Ok(true);
        }
        match self.store().commit(self.pool_id(), writes) {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }

    /// Ends every session of the user the access token belongs to.
    pub fn global_sign_out(&self, access_token: &str) -> Result<()> {
        let (mut pool, found) = self.user_from_access_token(access_token)?;
        // Unfenced: it ends the token's own session too, and a fence would have it win a race
        // against every refresh of that session (see `Write::RevokeFamily`).
        pool.session = None;
        pool.drive(Target::Sub(&found.value.sub), &Input::GlobalSignOut)?;
        Ok(())
    }

    /// The public keys, as a JWKS JSON document (serve it at `/.well-known/jwks.json`).
    pub fn jwks(&self) -> String {
        self.key_ring().jwks(self.now(), self.shared.key_grace_ms).to_string()
    }

    /// Replaces the signing keys; tokens signed by the old keys verify until they expire.
    pub fn rotate_signing_keys(&self) -> Result<()> {
        // Whatever this process's clients say, no token lives longer than a day; another
        // process may sign with a retired key for one more minute.
        self.replace_signing_keys(Some(LONGEST_TOKEN_MS + KEY_REFRESH_MS))
    }

    /// Replaces the signing keys and drops the old ones at once, for a key that leaked (or a
    /// copy of the store without an encryption key): every token they signed, forged ones
    /// included, stops verifying in this process now, and in the pool's other processes when
    /// they next read the keys, within a minute (until then they may still sign with the old
    /// ones, tokens this process refuses). Sessions go on: a refresh token is not signed, so
    /// clients refresh to get tokens under the new keys. A verifier that caches the JWKS
    /// takes the old keys until it fetches it again: flush such caches a minute after.
    ///
    /// A rotation elsewhere at the same moment is read and revoked too: the call retries
    /// before it answers `TooManyRequests`.
    pub fn revoke_signing_keys(&self) -> Result<()> {
        let mut outcome = self.replace_signing_keys(None);
        for _ in 0..MAX_RERUNS {
            match outcome {
                Err(e) if e.code() == ErrorCode::TooManyRequests => outcome = self.replace_signing_keys(None),
                done => return done,
            }
        }
        outcome
    }

    /// A new key ring, the old keys kept for `keep_retired_ms` (none, when `None`).
    fn replace_signing_keys(&self, keep_retired_ms: Option<i64>) -> Result<()> {
        let current = self.key_ring();
        let rotated = current.rotate(
            self.store(),
            self.pool_id(),
            self.shared.settings.raw.tokens.algorithm,
            self.now(),
            keep_retired_ms,
            &self.shared.sealer,
        );
        let rotated = match rotated {
            // Another process rotated them since this one read them: read them now, so that
            // the retry the error asks for rotates from the ring that is there.
            Err(e) if e.code() == ErrorCode::TooManyRequests => {
                self.reload_keys(0)?;
                return Err(e);
            }
            other => other?,
        };
        let mut keys = self.shared.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A re-read on another thread may have installed a ring rotated after this one.
        if rotated.is_newer_than(&keys) {
            *keys = Arc::new(rotated);
        }
        Ok(())
    }

    fn verify(&self, token: &str, key_use: KeyUse) -> Result<Claims> {
        // Before the cache key is hashed: a caller's megabytes are not worth a SHA-256.
        if token.len() > jwt::MAX_TOKEN_LEN {
            return Err(Error::invalid_token());
        }
        // By use as well: a token verified as one use is not taken from the cache for the
        // other, so the key's use is checked on every first verification for that use.
        let use_tag = if key_use == KeyUse::Access { "access:" } else { "id:" };
        let cache_key = format!("{use_tag}{}", crypto::sha256_hex(token.as_bytes()));
        let cached = self.shared.verified.lock().ok().and_then(|c| c.get(&cache_key).cloned());
        let now = self.now();
        let (claims, kid) = match cached {
            Some(claims) => {
                let kid = claims.get("\u{0}kid").and_then(Value::as_str).unwrap_or_default().to_owned();
                (claims, kid)
            }
            None => {
                let parsed = jwt::parse(token)?;
                let mut ring = self.key_ring();
                if ring.verifier(&parsed.kid, now, self.shared.key_grace_ms).is_none() {
                    // A key rotated in by another process; unknown kids re-read the store at
                    // most every few seconds, so forged kids cannot make every call a reload.
                    self.reload_keys(UNKNOWN_KID_RELOAD_MS)?;
                    ring = Arc::clone(&self.shared.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner));
                }
                let key = ring.verifier(&parsed.kid, now, self.shared.key_grace_ms).ok_or_else(Error::invalid_token)?;
                if key.key_use != key_use {
                    return Err(Error::invalid_token());
                }
                jwt::check_signature(&parsed, &key.public, key.alg)?;
                let mut claims = parsed.claims;
                // Remember which key signed, so its retirement is checked on every call.
                claims.insert("\u{0}kid".into(), json!(parsed.kid));
                if token.len() <= VERIFY_CACHE_MAX_TOKEN_LEN
                    && let Ok(mut cache) = self.shared.verified.lock()
                {
                    if cache.len() >= VERIFY_CACHE_SIZE {
                        cache.clear();
                    }
                    cache.insert(cache_key, claims.clone());
                }
                (claims, parsed.kid)
            }
        };
        // Everything below runs on every call, cached or not.
        if self.key_ring().verifier(&kid, now, self.shared.key_grace_ms).is_none() {
            return Err(Error::invalid_token());
        }
        let mut claims = claims;
        claims.remove("\u{0}kid");
        let secs = now.div_euclid(1000);
        let int = |name: &str| claims.get(name).and_then(Value::as_i64);
        let string = |name: &str| claims.get(name).and_then(Value::as_str);
        let wanted_use = if key_use == KeyUse::Access { "access" } else { "id" };
        if string("token_use") != Some(wanted_use) || string("iss") != Some(self.issuer()) {
            return Err(Error::invalid_token());
        }
        match int("exp") {
            Some(exp) if secs < exp => {}
            _ => return Err(Error::not_authorized("Token has expired")),
        }
        // An `nbf` the pool did not write as a number is not ignored: the token is not one of
        // its own.
        let not_before = claims.get("nbf").map(|nbf| nbf.as_i64().ok_or_else(Error::invalid_token)).transpose()?;
        if not_before.is_some_and(|nbf| secs < nbf) || int("iat").is_none_or(|iat| iat > secs + 60) {
            return Err(Error::invalid_token());
        }
        let family_id = string("origin_jti").ok_or_else(Error::invalid_token)?;
        let sub = string("sub").ok_or_else(Error::invalid_token)?;
        let family = self.store().family(self.pool_id(), family_id).map_err(backend)?;
        match family {
            Some(f) if f.value.revoked || f.value.sub != sub => Err(Error::revoked_access_token()),
            // The pool's tokens end with their session (`exp` rounded up to a second): one
            // that claims more was not made by it. (A revocation brings a session's end
            // forward, so it is answered first, as what it is.)
            Some(f) if now >= f.value.expires_ms.saturating_add(1000) => {
                Err(Error::not_authorized("Token has expired"))
            }
            Some(_) => Ok(claims),
            None => Err(Error::revoked_access_token()),
        }
    }

    /// Verifies an access token: signature (algorithm pinned to the key), issuer, use,
    /// expiry, client, and that its session was not revoked. Returns its claims. A token of
    /// any of the pool's clients is taken; [`UserPool::verify_access_token_for`] takes one
    /// client's only.
    pub fn verify_access_token(&self, token: &str) -> Result<Claims> {
        self.verify_access_token_for(token, None)
    }

    /// [`UserPool::verify_access_token`] for a token issued to `client_id` only (any of the
    /// pool's clients when `None`): what a resource server serving one app client checks, as
    /// `aws-jwt-verify` does with its `clientId`. Another client's token is `NotAuthorized`.
    pub fn verify_access_token_for(&self, token: &str, client_id: Option<&str>) -> Result<Claims> {
        let claims = self.verify(token, KeyUse::Access)?;
        let client = claims.get("client_id").and_then(Value::as_str).unwrap_or_default();
        if self.shared.settings.client(client).is_none() || client_id.is_some_and(|expected| expected != client) {
            return Err(Error::invalid_token());
        }
        Ok(claims)
    }

    /// Verifies an ID token for `client_id` (this pool view's client when `None`).
    pub fn verify_id_token(&self, token: &str, client_id: Option<&str>) -> Result<Claims> {
        let claims = self.verify(token, KeyUse::Id)?;
        let expected = client_id.unwrap_or(&self.client().id);
        // As for an access token: a client removed from the configuration has no tokens.
        if claims.get("aud").and_then(Value::as_str) != Some(expected)
            || self.shared.settings.client(expected).is_none()
        {
            return Err(Error::invalid_token());
        }
        Ok(claims)
    }

    /// The user an access token belongs to, and the pool as the client the token was issued
    /// to: that client's attribute permissions and settings apply, as in Cognito, whichever
    /// view of the pool the host calls through.
    fn user_from_access_token(&self, access_token: &str) -> Result<(UserPool, Versioned<UserRecord>)> {
        let claims = self.verify_access_token(access_token)?;
        let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or_default();
        let client = self.shared.settings.clients.iter().position(|c| c.id == client_id);
        let pool = UserPool {
            shared: Arc::clone(&self.shared),
            client: client.ok_or_else(Error::invalid_token)?,
            proof: ClientProof::None,
            session: claims.get("origin_jti").and_then(Value::as_str).map(str::to_owned),
        };
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
        let found = self
            .store()
            .user(self.pool_id(), sub)
            .map_err(backend)?
            .ok_or_else(|| Error::not_authorized("User does not exist."))?;
        if !found.value.enabled {
            return Err(Error::not_authorized("User is disabled."));
        }
        Ok((pool, found))
    }

    // ── the signed-in user ──────────────────────────────────────────────────────────────

    fn view(&self, user: &UserRecord, client: Option<&ClientSettings>) -> Result<User> {
        Ok(view_with_groups(user, client, self.ordered_groups(user)?))
    }

    /// The user an access token belongs to.
    pub fn get_user(&self, access_token: &str) -> Result<User> {
        let (pool, found) = self.user_from_access_token(access_token)?;
        pool.view(&found.value, Some(pool.client()))
    }

    /// Changes the signed-in user's password after checking the old one (lockout applies).
    pub fn change_password(&self, access_token: &str, old_password: &str, new_password: &str) -> Result<()> {
        let (pool, found) = self.user_from_access_token(access_token)?;
        attributes::check_password_input(old_password)?;
        attributes::check_password_input(new_password)?;
        let display = flow::display_username(&self.shared.settings, &found.value);
        // The new password is checked before the old one costs an attempt.
        password::check_policy(&self.shared.settings.raw.password_policy, new_password, &display)?;
        let sub = found.value.sub;
        let (old_hash, changed_ms_checked) = pool.start_password_attempt(&sub)?;
        if !self.shared.hasher.verify(old_password, &old_hash).matched() {
            // Unfenced: it records what already happened (a wrong password, a lockout), which
            // a revocation meanwhile does not undo.
            let pool = UserPool { session: None, ..pool };
            let setup_secret = String::new();
            let input = Input::FinishPasswordAttempt {
                matched: false,
                hash_checked: old_hash,
                changed_ms_checked,
                rehash: None,
                setup_secret,
            };
            return pool.drive(Target::Sub(&sub), &input).map(drop);
        }
        let password_hash = self.shared.hasher.hash(new_password)?;
        pool.drive(Target::Sub(&sub), &Input::ChangePassword { password_hash, old_hash, changed_ms_checked })?;
        Ok(())
    }

    /// Updates the signed-in user's attributes. An email or phone number in
    /// `attribute_update.require_verification_before_update` keeps its old value until the
    /// code sent to the new one is verified.
    pub fn update_user_attributes(&self, access_token: &str, attributes: Attributes) -> Result<Vec<AttributeUpdate>> {
        let (pool, found) = self.user_from_access_token(access_token)?;
        attributes::check_writes(
            &self.shared.settings,
            pool.client().write.as_ref(),
            &attributes,
            WriteKind::UserUpdate,
        )?;
        match pool.drive(Target::Sub(&found.value.sub), &Input::UpdateAttributes { attributes, by_admin: false })?.reply
        {
            Reply::Attributes(updates) => Ok(updates),
            _ => Err(Error::internal("unexpected reply to an attribute update")),
        }
    }

    /// Sends a verification code for `email` or `phone_number` (Amplify's
    /// `sendUserAttributeVerificationCode`).
    pub fn get_user_attribute_verification_code(&self, access_token: &str, attribute: &str) -> Result<CodeDelivery> {
        let (pool, found) = self.user_from_access_token(access_token)?;
        match pool
            .drive(Target::Sub(&found.value.sub), &Input::SendAttributeCode { attribute: attribute.to_owned() })?
            .reply
        {
            Reply::Delivery(Some(d)) => Ok(d),
            _ => Err(Error::internal("unexpected reply to a verification request")),
        }
    }

    /// Verifies an attribute with its code; a pending new value replaces the old one.
    pub fn verify_user_attribute(&self, access_token: &str, attribute: &str, code: &str) -> Result<()> {
        check_code_input(code)?;
        let (pool, found) = self.user_from_access_token(access_token)?;
        let input = Input::VerifyAttribute { attribute: attribute.to_owned(), code: Zeroizing::new(code.to_owned()) };
        pool.drive(Target::Sub(&found.value.sub), &input)?;
        Ok(())
    }

    /// Deletes attributes of the signed-in user.
    pub fn delete_user_attributes(&self, access_token: &str, names: &[String]) -> Result<()> {
        let (pool, found) = self.user_from_access_token(access_token)?;
        if let Some(allowed) = &pool.client().write
            && let Some(name) = names.iter().find(|n| !allowed.contains(*n))
        {
            return Err(Error::not_authorized(format!("A client attempted to write unauthorized attribute {name}")));
        }
        names.iter().try_for_each(|name| attributes::refuse_flag(name))?;
        pool.drive(Target::Sub(&found.value.sub), &Input::DeleteAttributes { names: names.to_vec() })?;
        Ok(())
    }

    /// Deletes the signed-in user and every session.
    pub fn delete_user(&self, access_token: &str) -> Result<()> {
        let (pool, found) = self.user_from_access_token(access_token)?;
        pool.drive(Target::Sub(&found.value.sub), &Input::Delete)?;
        Ok(())
    }

    // ── recovery ────────────────────────────────────────────────────────────────────────

    /// Sends a password-reset code to the user's first verified recovery channel.
    pub fn forgot_password(&self, username: &str) -> Result<CodeDelivery> {
        attributes::check_username(username)?;
        self.check_client(username)?;
        let Some(found) = self.find(username)? else {
            if self.shared.settings.recovery.is_empty() {
                // What a real user gets too: nothing to simulate.
                return Err(Error::not_authorized("Contact administrator to reset password."));
            }
            return if self.protects() {
                self.unknown_code_request(username, user::recovery_attribute(&self.shared.settings))
            } else {
                Err(Error::user_not_found())
            };
        };
        let input = Input::ForgotPassword { name: username.to_owned() };
        let outcome = self.unless_gone(self.drive(Target::Sub(&found.value.sub), &input).map(Some), || Ok(None))?;
        match outcome.map(|o| o.reply) {
            Some(Reply::Delivery(Some(d))) => Ok(d),
            None => self.unknown_code_request(username, user::recovery_attribute(&self.shared.settings)),
            _ => Err(Error::internal("unexpected reply to forgot-password")),
        }
    }

    /// Sets a new password with the reset code. Every session of the user ends.
    pub fn confirm_forgot_password(&self, username: &str, code: &str, new_password: &str) -> Result<()> {
        check_code_input(code)?;
        self.check_client(username)?;
        attributes::check_username(username)?;
        let found = self.find(username)?;
        // The policy sees the name as given, whoever has it, and the hash is made for an unknown
        // name as for a real one: neither the answer nor its time tells them apart. The user's
        // own username (behind an address, it may be another name) is checked once the code
        // has proved the caller is the user.
        let password_hash = self.hash_new_password(new_password, username)?;
        let Some(found) = found else {
            return Err(if self.protects() { Error::code_mismatch() } else { Error::user_not_found() });
        };
        let input = Input::ConfirmForgotPassword {
            code: Zeroizing::new(code.to_owned()),
            password_hash,
            password: Zeroizing::new(new_password.to_owned()),
        };
        self.unless_gone(self.drive(Target::Sub(&found.value.sub), &input).map(drop), || Err(Error::code_mismatch()))
    }

    // ── administration ──────────────────────────────────────────────────────────────────

    fn admin_find(&self, username: &str) -> Result<Versioned<UserRecord>> {
        check_admin_name(username)?;
        self.find(username)?.ok_or_else(Error::user_not_found)
    }

    fn admin_drive(&self, username: &str, input: &Input) -> Result<Outcome> {
        let found = self.admin_find(username)?;
        self.drive(Target::Sub(&found.value.sub), input)
    }

    /// Creates a user with a temporary password (generated when `None`), in
    /// FORCE_CHANGE_PASSWORD; the invitation goes to the email or phone unless suppressed.
    pub fn admin_create_user(
        &self,
        username: &str,
        attributes: Attributes,
        temporary_password: Option<&str>,
        send_invitation: bool,
    ) -> Result<CreatedUser> {
        let settings = &self.shared.settings;
        let (name, attributes) = user::check_new_user(settings, self.client(), username, attributes, true)?;
        let temporary = match temporary_password {
            Some(p) => {
                attributes::check_password_input(p)?;
                password::check_policy(&settings.raw.password_policy, p, username)?;
                Zeroizing::new(p.to_owned())
            }
            None => codes::temporary_password(&mut crypto::os_rng()),
        };
        let password_hash = self.shared.hasher.hash(&temporary)?;
        let input =
            Input::AdminCreate { name, attributes, temporary_password: temporary, password_hash, send_invitation };
        let outcome = self.drive(Target::New, &input)?;
        let user = outcome.user.ok_or_else(|| Error::internal("created no user"))?;
        let code_delivery = match outcome.reply {
            Reply::Delivery(d) => d,
            _ => None,
        };
        Ok(CreatedUser { user: self.view(&user, None)?, code_delivery })
    }

    /// A user by username, alias or `sub`.
    pub fn admin_get_user(&self, username: &str) -> Result<User> {
        self.view(&self.admin_find(username)?.value, None)
    }

    /// Deletes a user and every session. A user whose stored record this library cannot
    /// read (damaged, or written by a newer userpool), which every other operation refuses,
    /// is deleted too: by username, alias or `sub`, without reading the record.
    pub fn admin_delete_user(&self, username: &str) -> Result<()> {
        check_admin_name(username)?;
        match self.find_in_store(username) {
            Err(StoreError::Unreadable(why)) => self.delete_unreadable(username, &why),
            found => {
                let found = found.map_err(backend)?.ok_or_else(Error::user_not_found)?;
                self.drive(Target::Sub(&found.value.sub), &Input::Delete).map(drop)
            }
        }
    }

    /// Deletes a user whose record this library cannot use (damaged, or written by a newer
    /// userpool), found by name without reading the record. Every other operation refuses
    /// such a user; deleting needs nothing from the record but its `sub`.
    fn delete_unreadable(&self, name: &str, why: &str) -> Result<()> {
        let pool = self.pool_id();
        let sub = self.find_unread(name).map_err(backend)?.ok_or_else(Error::user_not_found)?.value;
        tracing::warn!(pool, sub, why, "deleting a user whose stored record cannot be read");
        // Reruns stay with this user: the name may pass to another one in the meantime.
        self.commit_rerunning("Too many concurrent changes to this user; retry.", || {
            let version = self.store().user_version(pool, &sub).map_err(backend)?.ok_or_else(Error::user_not_found)?;
            Ok((vec![Write::DeleteUser { sub: sub.clone(), expect: version }, self.purge_write()], ()))
        })
    }

    /// Disables a user and revokes every session.
    pub fn admin_disable_user(&self, username: &str) -> Result<()> {
        self.admin_drive(username, &Input::AdminDisable).map(drop)
    }

    /// Re-enables a user.
    pub fn admin_enable_user(&self, username: &str) -> Result<()> {
        self.admin_drive(username, &Input::AdminEnable).map(drop)
    }

    /// Confirms a user without a code.
    pub fn admin_confirm_sign_up(&self, username: &str) -> Result<()> {
        self.admin_drive(username, &Input::AdminConfirm).map(drop)
    }

    /// Puts the user in RESET_REQUIRED, ends their sessions and sends a reset code to a
    /// verified recovery channel if there is one. `None` when no code went out: no such
    /// channel, or the delivery failed or met the address's hourly limit. The reset and the
    /// sign-out hold either way; the user can then ask for a code with `forgot_password`,
    /// or, where recovery is `admin_only`, the administrator sets a password.
    pub fn admin_reset_user_password(&self, username: &str) -> Result<Option<CodeDelivery>> {
        let sub = self.admin_find(username)?.value.sub;
        // The reset and the end of every session first, in a commit of their own: a delivery
        // that fails, or an address's hourly limit (which anyone can fill with sign-ups), must
        // not leave signed in a user an administrator meant to shut out.
        self.drive(Target::Sub(&sub), &Input::AdminResetPassword)?;
        match self.drive(Target::Sub(&sub), &Input::SendAdminResetCode) {
            Ok(Outcome { reply: Reply::Delivery(delivery), .. }) => Ok(delivery),
            Ok(_) => Err(Error::internal("unexpected reply to an admin reset")),
            // The reset is done: an error now would say it was not.
            Err(e) => {
                tracing::warn!(code = e.code().as_str(), "admin reset done, but no code could be sent");
                Ok(None)
            }
        }
    }

    /// Sets a user's password: permanent (CONFIRMED) or temporary (FORCE_CHANGE_PASSWORD).
    pub fn admin_set_user_password(&self, username: &str, password: &str, permanent: bool) -> Result<()> {
        let found = self.admin_find(username)?;
        let display = flow::display_username(&self.shared.settings, &found.value);
        let password_hash = self.hash_new_password(password, &display)?;
        self.drive(Target::Sub(&found.value.sub), &Input::AdminSetPassword { password_hash, permanent }).map(drop)
    }

    /// Updates attributes as an administrator (verification flags may be set; changes are
    /// immediate).
    pub fn admin_update_user_attributes(&self, username: &str, attributes: Attributes) -> Result<()> {
        attributes::check_writes(&self.shared.settings, None, &attributes, WriteKind::AdminUpdate)?;
        self.admin_drive(username, &Input::UpdateAttributes { attributes, by_admin: true }).map(drop)
    }

    /// Deletes attributes as an administrator.
    pub fn admin_delete_user_attributes(&self, username: &str, names: &[String]) -> Result<()> {
        self.admin_drive(username, &Input::DeleteAttributes { names: names.to_vec() }).map(drop)
    }

    /// Ends every session of a user.
    pub fn admin_user_global_sign_out(&self, username: &str) -> Result<()> {
        self.admin_drive(username, &Input::GlobalSignOut).map(drop)
    }

    /// Lists users, optionally filtered (`email ^= "ali"`, `cognito:user_status =
    /// "CONFIRMED"`), at most `limit` (1–60, default 60) per page.
    ///
    /// Pages come in a stable order: by `sub`, or, for a filter on a searchable attribute
    /// (username, email, phone number, names) in a store that indexes them such as SQLite,
    /// by that attribute's value, read from the index without visiting other users. A
    /// pagination token continues the listing it came from, with the same filter.
    pub fn list_users(
        &self,
        filter: Option<&str>,
        limit: Option<u32>,
        pagination_token: Option<&str>,
    ) -> Result<UserList> {
        let text = filter.unwrap_or("");
        let filter = Filter::parse(text)?;
        let settings = &self.shared.settings;
        let keep = |u: &UserRecord| filter.as_ref().is_none_or(|f| f.matches(settings, u));
        let pool = self.pool_id();
        self.page_of_users(&format!("users\n{text}"), limit, pagination_token, |after, limit| {
            match filter.as_ref().and_then(Filter::search) {
                Some(search) => self.store().users_matching(pool, &search, after, limit, &keep),
                None => self.store().users(pool, after, limit, &keep),
            }
        })
    }

    /// A page of users (at most `limit`, 1–60, default 60) that `read` gets from the store
    /// after the cursor in `pagination_token`. Tokens are the store's cursors sealed for
    /// `listing` (`crypto::cursor`): opaque, and refused by any other listing.
    fn page_of_users(
        &self,
        listing: &str,
        limit: Option<u32>,
        pagination_token: Option<&str>,
        read: impl FnOnce(Option<&str>, usize) -> std::result::Result<UserPage, StoreError>,
    ) -> Result<UserList> {
        let (limit, cursor) = self.page_request(listing, limit, pagination_token)?;
        let page = read(cursor.as_deref(), limit).map_err(|e| match e {
            StoreError::InvalidCursor => Error::invalid("invalid pagination token"),
            e => backend(e),
        })?;
        // Each group's definition once for the page, not once per member.
        let groups = self.groups_named(page.users.iter().flat_map(|u| &u.groups))?;
        let users = page.users.iter().map(|u| view_with_groups(u, None, groups.ordered(u))).collect();
        let pagination_token = page.next.map(|next| self.shared.cursors.seal(listing, &next)).transpose()?;
        Ok(UserList { users, pagination_token })
    }

    /// A page's size (`limit`, 60 when absent, as Cognito's) and where it starts (the cursor
    /// sealed in `pagination_token` for `listing`).
    fn page_request(
        &self,
        listing: &str,
        limit: Option<u32>,
        pagination_token: Option<&str>,
    ) -> Result<(usize, Option<String>)> {
        let limit = limit.unwrap_or(60);
        if !(1..=60).contains(&limit) {
            return Err(Error::invalid("limit must be between 1 and 60"));
        }
        if pagination_token.is_some_and(|t| t.len() > MAX_PAGINATION_TOKEN_CHARS) {
            return Err(Error::invalid("invalid pagination token"));
        }
        let cursor = pagination_token.map(|t| self.shared.cursors.open(listing, t)).transpose()?;
        Ok((limit as usize, cursor))
    }

    /// A user's most recent authentication events, newest first: `limit` of them (default 60,
    /// at most 10,000, the most a pool keeps per user), so that every kept event can be read.
    pub fn admin_list_user_auth_events(&self, username: &str, limit: Option<u32>) -> Result<Vec<AuditEvent>> {
        let max = crate::config::EventConfig::MAX_KEEP_PER_USER;
        let limit = limit.unwrap_or(60);
        if !(1..=max).contains(&limit) {
            return Err(Error::invalid(format!("limit must be between 1 and {max}")));
        }
        let found = self.admin_find(username)?;
        self.store().events(self.pool_id(), &found.value.sub, limit as usize).map_err(backend)
    }

    /// Copies the pool's file, as of one moment, into a new file at `dest` that only its
    /// owner can read, while the pool goes on serving: a backup, which opens as a pool file
    /// does. The copy holds every pool and table of the file, and appears at `dest` only once
    /// it is whole. How to restore one, and what a restore undoes: `docs/storage.md`,
    /// "Backups".
    ///
    /// Fails with `InvalidParameterException`, writing nothing, when `dest` exists (a backup
    /// never replaces a file) or is in a missing directory, and for a pool kept in memory;
    /// the other refusals are `SqliteStore::backup_to`'s.
    pub fn backup_to(&self, dest: impl AsRef<std::path::Path>) -> Result<()> {
        self.store().backup_to(dest.as_ref())
    }
}

/// What the application sees of `user`: the attributes `client` may read (all without a
/// client), with `groups` in claim order.
fn view_with_groups(user: &UserRecord, client: Option<&ClientSettings>, groups: Vec<String>) -> User {
    let mut attributes: Attributes = user
        .attributes
        .iter()
        .filter(|(name, _)| client.and_then(|c| c.read.as_ref()).is_none_or(|r| r.contains(*name)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    attributes.insert("sub".into(), user.sub.clone());
    User {
        username: user.username.clone(),
        sub: user.sub.clone(),
        status: user.status,
        enabled: user.enabled,
        attributes,
        created_ms: user.created_ms,
        updated_ms: user.updated_ms,
        mfa_enabled: user.mfa.enabled(),
        preferred_mfa: user.mfa.preferred,
        groups,
        username_attribute: user.username_attribute.clone(),
    }
}

/// Validates a presented refresh token and returns the hash it is stored under.
fn refresh_token_hash(token: &str) -> Result<String> {
    if token.is_empty() || token.len() > 512 {
        return Err(Error::invalid("refresh token must be 1-512 characters"));
    }
    Ok(codes::refresh_token_hash(token))
}

fn check_code_input(code: &str) -> Result<()> {
    if code.is_empty() || code.len() > 64 || code.chars().any(char::is_whitespace) {
        return Err(Error::invalid("code must be 1-64 characters without spaces"));
    }
    Ok(())
}
