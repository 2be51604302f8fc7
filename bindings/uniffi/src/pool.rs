//! [`UserPool`], the exported object: every method forwards in one line to the engine's
//! [`up::UserPool`]. Methods that hash, touch the store or call the host's delivery are
//! `async` (Kotlin `suspend`, Swift `async`) and run on tokio's blocking pool, so the
//! caller's thread is never held by a password hash; the fast, read-only ones are synchronous.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use userpool as up;
use zeroize::Zeroizing;

use crate::error::AuthError;
use crate::host::{Clock, Delivery, HostClock, HostDelivery};
use crate::types::{
    AttributeUpdate, AuditEvent, CodeDelivery, CreatedUser, FromCore, Group, GroupList, ImportOutcome, ImportUser,
    MfaPreference, SignInResult, SignUpResult, TotpSetup, User, UserList, to_attributes,
};

/// An open user pool: sign-up, sign-in with MFA, tokens, recovery and administration.
/// Safe to use from many threads and coroutines at once.
#[derive(uniffi::Object, Debug)]
pub struct UserPool {
    handle: up::PoolHandle,
}

/// Converts a synchronous engine result.
fn lift<T, U: FromCore<T>>(result: up::Result<T>) -> Result<U, AuthError> {
    U::from_core(result?)
}

/// The pool configuration from TOML or JSON text, or the engine's defaults.
fn config(text: Option<Zeroizing<String>>) -> up::Result<up::PoolConfig> {
    text.map_or_else(|| Ok(up::PoolConfig::default()), |text| up::PoolConfig::parse(&text))
}

/// Opens the engine's pool (blocking: may create the store and the signing keys).
fn open_core(
    path: Option<String>,
    config_text: Option<Zeroizing<String>>,
    delivery: Option<Arc<dyn Delivery>>,
    clock: Option<Arc<dyn Clock>>,
    encryption_key: Option<Zeroizing<Vec<u8>>>,
    existing_only: bool,
) -> up::Result<up::UserPool> {
    let mut builder = up::UserPool::builder(config(config_text)?);
    if let Some(path) = path {
        let options = up::SqliteOptions::default().existing_only(existing_only);
        builder = builder.sqlite(path, options);
    }
    if let Some(delivery) = delivery {
        builder = builder.delivery(Arc::new(HostDelivery(delivery)));
    }
    if let Some(clock) = clock {
        let clock = HostClock::new(clock);
        clock.first_reading()?;
        builder = builder.clock(Arc::new(clock));
    }
    if let Some(key) = encryption_key {
        builder = builder.encryption_key(&key);
    }
    if existing_only { builder.open_existing() } else { builder.open() }
}

impl UserPool {
    fn new(core: up::UserPool) -> Arc<Self> {
        Arc::new(Self { handle: up::PoolHandle::new(core, ()) })
    }

    /// The engine's pool while this handle is open.
    fn core(&self) -> Result<up::UserPool, AuthError> {
        Ok(self.handle.pool()?)
    }

    /// Runs `work` on the engine on tokio's blocking pool and converts its result.
    async fn run<T, U>(
        &self,
        work: impl FnOnce(&up::UserPool) -> up::Result<T> + Send + 'static,
    ) -> Result<U, AuthError>
    where
        T: Send + 'static,
        U: FromCore<T> + Send + 'static,
    {
        let core = self.core()?;
        off_thread(move || lift(work(&core))).await
    }
}

/// Runs `work` on tokio's blocking pool and answers its result.
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    handed_off(work, |task| drop(tokio::task::spawn_blocking(task))).await
}

/// Whether handed-off work has started, or its call has given up on it.
const PENDING: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

/// Runs `work` on a thread `spawn` finds for it, its answer coming back on a channel.
///
/// Tokio's `spawn_blocking` panics when it can start no thread and none is running, and keeps
/// the work queued for a thread another call may start later. The call then answers
/// `InternalErrorException`, and the work, should it ever start, finds itself abandoned and
/// does nothing: a caller told that its sign-up failed never sees it done after all. Should
/// the work start before that (on a thread another call started meanwhile), the call waits
/// for it as usual. Without the channel, a runtime shutting down would drop the work and
/// leave its join handle pending for ever; the dropped sender ends the wait instead.
async fn handed_off<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
    spawn: impl FnOnce(Box<dyn FnOnce() + Send>),
) -> Result<T, AuthError> {
    let state = Arc::new(AtomicU8::new(PENDING));
    let (answer, answered) = tokio::sync::oneshot::channel();
    let claim = Arc::clone(&state);
    let task = Box::new(move || {
        if claim.compare_exchange(PENDING, STARTED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            // Unwind safe as in `guarded`. A closed channel means the caller's future was
            // dropped (the coroutine or task was cancelled): the work is done all the same.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or_else(|_| Err(engine_failed("panicked")));
            let _ = answer.send(result);
        }
    });
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| spawn(task))).is_err();
    if refused && state.compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
        return Err(AuthError::InternalErrorException(
            "no thread could be started for the operation; nothing was done".to_owned(),
        ));
    }
    answered.await.unwrap_or_else(|_| Err(engine_failed("was cancelled")))
}

/// Runs a synchronous method's work, a panic answered as the async methods answer it
/// (`InternalErrorException`), not as uniffi's own panic error, which `catch` blocks for
/// `AuthException` / `AuthError` would miss.
fn guarded<T>(work: impl FnOnce() -> Result<T, AuthError>) -> Result<T, AuthError> {
    // Unwind safe: a panic leaves nothing half-done that a later call could see, since every
    // write the engine makes is one store commit.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|_| Err(engine_failed("panicked")))
}

fn engine_failed(what: &str) -> AuthError {
    AuthError::InternalErrorException(format!("the engine {what} during the operation"))
}

#[uniffi::export(async_runtime = "tokio")]
impl UserPool {
    /// Opens a pool: a SQLite file at `path` (created if missing) or, when `path` is null, in
    /// memory; `config` as TOML or JSON text (null: the defaults); `delivery` sends the codes
    /// (null: every code-sending operation fails with `CodeDeliveryFailureException`); `clock`
    /// gives the time (null: the system clock); `encryption_key` (32 bytes) seals the signing
    /// keys, the code key and TOTP secrets at rest. With `existing_only`, for tools that
    /// administer a pool that must be there already, nothing is created or upgraded: a
    /// missing file, one without userpool's tables, or one an older userpool wrote (its app
    /// upgrades it), is `InvalidParameterException`, and a pool id the file does not hold is
    /// `ResourceNotFoundException`. A clock whose first reading fails fails the open
    /// (`InvalidParameterException`) before anything is made.
    #[uniffi::constructor(default(
        path = None,
        config = None,
        delivery = None,
        clock = None,
        encryption_key = None,
        existing_only = false
    ))]
    pub async fn open(
        path: Option<String>,
        config: Option<String>,
        delivery: Option<Arc<dyn Delivery>>,
        clock: Option<Arc<dyn Clock>>,
        encryption_key: Option<Vec<u8>>,
        existing_only: bool,
    ) -> Result<Arc<Self>, AuthError> {
        // These copies are wiped on every path from here, an early error or a dropped future
        // included (the config may hold client secrets). The buffer uniffi carried them
        // across in is not: it lifts an optional or a list by copying out of it, then frees
        // it unwiped (see "Secrets in memory" in docs/bindings/kotlin.md).
        let encryption_key = encryption_key.map(Zeroizing::new);
        let config = config.map(Zeroizing::new);
        let open = move || Ok(Self::new(open_core(path, config, delivery, clock, encryption_key, existing_only)?));
        off_thread(open).await
    }

    /// The same pool, acting as another app client (`client_secret` for a client that has one).
    #[uniffi::method(default(client_secret = None))]
    pub fn with_client(&self, client_id: String, client_secret: Option<String>) -> Result<Arc<Self>, AuthError> {
        let client_secret = client_secret.map(Zeroizing::new);
        guarded(|| Ok(Self::new(self.core()?.with_client(&client_id, client_secret.as_deref().map(String::as_str))?)))
    }

    /// The same pool, acting as a client with a secret proven by Cognito's `SECRET_HASH`.
    pub fn with_client_secret_hash(&self, client_id: String, secret_hash: String) -> Result<Arc<Self>, AuthError> {
        let secret_hash = Zeroizing::new(secret_hash);
        guarded(|| Ok(Self::new(self.core()?.with_client_secret_hash(&client_id, &secret_hash)?)))
    }

    /// The pool id.
    pub fn pool_id(&self) -> String {
        self.handle.pool_id().to_owned()
    }

    /// The token issuer (`iss`).
    pub fn issuer(&self) -> String {
        self.handle.issuer().to_owned()
    }

    /// The pool's configuration as TOML text: every key with the value in force, defaults
    /// included, in the format of `userpool config default`; client secrets show as
    /// `"<redacted>"`.
    pub fn config(&self) -> String {
        self.handle.config().to_owned()
    }

    /// Closes this handle: later calls on it fail with `InvalidParameterException`, while
    /// calls already running finish. The pool (its file, and the delivery and clock it holds)
    /// is released once every handle on it is closed or freed: this one and those
    /// `with_client` made. A delivery or clock that refers to its pool keeps it alive until
    /// then. Closing twice does nothing. (In Kotlin this is `closePool()`: `close()` is the
    /// `AutoCloseable` one uniffi generates, which frees the handle itself.)
    pub fn close(&self) {
        self.handle.close();
    }

    // ── sign-up ──────────────────────────────────────────────────────────────────────────

    /// Registers a user; the confirmation code goes out through the delivery.
    #[uniffi::method(default(attributes))]
    pub async fn sign_up(
        &self,
        username: String,
        password: String,
        attributes: HashMap<String, String>,
    ) -> Result<SignUpResult, AuthError> {
        let password = Zeroizing::new(password);
        self.run(move |p| p.sign_up(&username, &password, to_attributes(attributes))).await
    }

    /// Confirms an account with the code that was sent.
    pub async fn confirm_sign_up(&self, username: String, code: String) -> Result<(), AuthError> {
        let code = Zeroizing::new(code);
        self.run(move |p| p.confirm_sign_up(&username, &code)).await
    }

    /// Sends a new confirmation code.
    pub async fn resend_sign_up_code(&self, username: String) -> Result<CodeDelivery, AuthError> {
        self.run(move |p| p.resend_sign_up_code(&username)).await
    }

    // ── sign-in ──────────────────────────────────────────────────────────────────────────

    /// Starts a sign-in: `DONE` with tokens, or a challenge to answer with `confirm_sign_in`.
    pub async fn sign_in(&self, username: String, password: String) -> Result<SignInResult, AuthError> {
        let password = Zeroizing::new(password);
        self.run(move |p| p.sign_in(&username, &password)).await
    }

    /// Answers a challenge (an MFA code, a method choice, a new password with `attributes`).
    #[uniffi::method(default(attributes))]
    pub async fn confirm_sign_in(
        &self,
        session: String,
        answer: String,
        attributes: HashMap<String, String>,
    ) -> Result<SignInResult, AuthError> {
        let session = Zeroizing::new(session);
        let answer = Zeroizing::new(answer);
        self.run(move |p| p.confirm_sign_in(&session, &answer, to_attributes(attributes))).await
    }

    /// New ID and access tokens; the refresh token rotates.
    pub async fn refresh(&self, refresh_token: String) -> Result<crate::types::Tokens, AuthError> {
        let refresh_token = Zeroizing::new(refresh_token);
        self.run(move |p| p.refresh(&refresh_token)).await
    }

    /// Ends the session of a refresh token.
    pub async fn sign_out(&self, refresh_token: String) -> Result<(), AuthError> {
        let refresh_token = Zeroizing::new(refresh_token);
        self.run(move |p| p.sign_out(&refresh_token)).await
    }

    /// Ends every session of the access token's user.
    pub async fn global_sign_out(&self, access_token: String) -> Result<(), AuthError> {
        let access_token = Zeroizing::new(access_token);
        self.run(move |p| p.global_sign_out(&access_token)).await
    }

    // ── tokens ───────────────────────────────────────────────────────────────────────────

    /// Verifies an access token (of `client_id` only, or of any of the pool's clients when
    /// null); its claims as a JSON object.
    #[uniffi::method(default(client_id = None))]
    pub fn verify_access_token(&self, token: String, client_id: Option<String>) -> Result<String, AuthError> {
        let token = Zeroizing::new(token);
        guarded(|| lift(self.core()?.verify_access_token_for(&token, client_id.as_deref())))
    }

    /// Verifies an ID token (for `client_id`, or the pool's client); its claims as a JSON object.
    #[uniffi::method(default(client_id = None))]
    pub fn verify_id_token(&self, token: String, client_id: Option<String>) -> Result<String, AuthError> {
        let token = Zeroizing::new(token);
        guarded(|| lift(self.core()?.verify_id_token(&token, client_id.as_deref())))
    }

    /// The public signing keys as a JWKS JSON document.
    pub fn jwks(&self) -> Result<String, AuthError> {
        guarded(|| Ok(self.core()?.jwks()))
    }

    /// Makes a new signing key current; the old one keeps verifying until its tokens expire.
    pub async fn rotate_signing_keys(&self) -> Result<(), AuthError> {
        self.run(|p| p.rotate_signing_keys()).await
    }

    /// Makes new signing keys current and drops the old ones at once, for a key that leaked:
    /// every token they signed stops verifying here now, and in the pool's other processes
    /// within a minute. Sessions go on: clients refresh to get tokens under the new keys.
    pub async fn revoke_signing_keys(&self) -> Result<(), AuthError> {
        self.run(|p| p.revoke_signing_keys()).await
    }

    // ── the signed-in user ───────────────────────────────────────────────────────────────

    /// The access token's user.
    pub async fn get_user(&self, access_token: String) -> Result<User, AuthError> {
        let access_token = Zeroizing::new(access_token);
        self.run(move |p| p.get_user(&access_token)).await
    }

    /// Changes the password (the old one is checked).
    pub async fn change_password(
        &self,
        access_token: String,
        old_password: String,
        new_password: String,
    ) -> Result<(), AuthError> {
        let access_token = Zeroizing::new(access_token);
        let old_password = Zeroizing::new(old_password);
        let new_password = Zeroizing::new(new_password);
        self.run(move |p| p.change_password(&access_token, &old_password, &new_password)).await
    }

    /// Updates attributes; a changed email or phone waits for a code.
    pub async fn update_user_attributes(
        &self,
        access_token: String,
        attributes: HashMap<String, String>,
    ) -> Result<Vec<AttributeUpdate>, AuthError> {
        let access_token = Zeroizing::new(access_token);
        self.run(move |p| p.update_user_attributes(&access_token, to_attributes(attributes))).await
    }

    /// Sends a verification code for an attribute.
    pub async fn get_user_attribute_verification_code(
        &self,
        access_token: String,
        attribute: String,
    ) -> Result<CodeDelivery, AuthError> {
        let access_token = Zeroizing::new(access_token);
        self.run(move |p| p.get_user_attribute_verification_code(&access_token, &attribute)).await
    }

    /// Verifies an attribute with its code.
    pub async fn verify_user_attribute(
        &self,
        access_token: String,
        attribute: String,
        code: String,
    ) -> Result<(), AuthError> {
        let access_token = Zeroizing::new(access_token);
        let code = Zeroizing::new(code);
        self.run(move |p| p.verify_user_attribute(&access_token, &attribute, &code)).await
    }

    /// Deletes attributes.
    pub async fn delete_user_attributes(&self, access_token: String, names: Vec<String>) -> Result<(), AuthError> {
        let access_token = Zeroizing::new(access_token);
        self.run(move |p| p.delete_user_attributes(&access_token, &names)).await
    }

    /// Deletes the access token's user.
    pub async fn delete_user(&self, access_token: String) -> Result<(), AuthError> {
        let access_token = Zeroizing::new(access_token);
        self.run(move |p| p.delete_user(&access_token)).await
    }

    // ── recovery ─────────────────────────────────────────────────────────────────────────

    /// Sends a password reset code.
    pub async fn forgot_password(&self, username: String) -> Result<CodeDelivery, AuthError> {
        self.run(move |p| p.forgot_password(&username)).await
    }

    /// Sets a new password with the reset code.
    pub async fn confirm_forgot_password(
        &self,
        username: String,
        code: String,
        new_password: String,
    ) -> Result<(), AuthError> {
        let code = Zeroizing::new(code);
        let new_password = Zeroizing::new(new_password);
        self.run(move |p| p.confirm_forgot_password(&username, &code, &new_password)).await
    }

    // ── MFA ──────────────────────────────────────────────────────────────────────────────

    /// A new authenticator for the signed-in user (confirm it with `verify_software_token`).
    pub async fn associate_software_token(&self, access_token: String) -> Result<TotpSetup, AuthError> {
        let access_token = Zeroizing::new(access_token);
        self.run(move |p| p.associate_software_token(&access_token)).await
    }

    /// A new authenticator during a sign-in challenge session.
    pub async fn associate_software_token_with_session(&self, session: String) -> Result<TotpSetup, AuthError> {
        let session = Zeroizing::new(session);
        self.run(move |p| p.associate_software_token_with_session(&session)).await
    }

    /// Confirms the new authenticator with one of its codes.
    #[uniffi::method(default(friendly_name = None))]
    pub async fn verify_software_token(
        &self,
        access_token: String,
        code: String,
        friendly_name: Option<String>,
    ) -> Result<(), AuthError> {
        let access_token = Zeroizing::new(access_token);
        let code = Zeroizing::new(code);
        self.run(move |p| p.verify_software_token(&access_token, &code, friendly_name.as_deref())).await
    }

    /// Sets the signed-in user's second factors; null leaves a method as it is.
    #[uniffi::method(default(totp = None, sms = None, email = None))]
    pub async fn set_mfa_preference(
        &self,
        access_token: String,
        totp: Option<MfaPreference>,
        sms: Option<MfaPreference>,
        email: Option<MfaPreference>,
    ) -> Result<(), AuthError> {
        let access_token = Zeroizing::new(access_token);
        let (totp, sms, email) = (totp.map(Into::into), sms.map(Into::into), email.map(Into::into));
        self.run(move |p| p.set_mfa_preference(&access_token, totp, sms, email)).await
    }

    /// Sets a user's second factors as an administrator.
    #[uniffi::method(default(totp = None, sms = None, email = None))]
    pub async fn admin_set_user_mfa_preference(
        &self,
        username: String,
        totp: Option<MfaPreference>,
        sms: Option<MfaPreference>,
        email: Option<MfaPreference>,
    ) -> Result<(), AuthError> {
        let (totp, sms, email) = (totp.map(Into::into), sms.map(Into::into), email.map(Into::into));
        self.run(move |p| p.admin_set_user_mfa_preference(&username, totp, sms, email)).await
    }

    // ── administration ───────────────────────────────────────────────────────────────────

    /// Creates a user in FORCE_CHANGE_PASSWORD with a temporary password (generated when null).
    /// `send_invitation` has no default, as in Python and Node: whether a password goes out is
    /// the caller's explicit choice.
    #[uniffi::method(default(temporary_password = None, attributes))]
    pub async fn admin_create_user(
        &self,
        username: String,
        attributes: HashMap<String, String>,
        temporary_password: Option<String>,
        send_invitation: bool,
    ) -> Result<CreatedUser, AuthError> {
        let temporary_password = temporary_password.map(Zeroizing::new);
        self.run(move |p| {
            p.admin_create_user(
                &username,
                to_attributes(attributes),
                temporary_password.as_deref().map(String::as_str),
                send_invitation,
            )
        })
        .await
    }

    /// A user by username, alias or `sub`.
    pub async fn admin_get_user(&self, username: String) -> Result<User, AuthError> {
        self.run(move |p| p.admin_get_user(&username)).await
    }

    /// Deletes a user and every session.
    pub async fn admin_delete_user(&self, username: String) -> Result<(), AuthError> {
        self.run(move |p| p.admin_delete_user(&username)).await
    }

    /// Disables a user and revokes every session.
    pub async fn admin_disable_user(&self, username: String) -> Result<(), AuthError> {
        self.run(move |p| p.admin_disable_user(&username)).await
    }

    /// Re-enables a user.
    pub async fn admin_enable_user(&self, username: String) -> Result<(), AuthError> {
        self.run(move |p| p.admin_enable_user(&username)).await
    }

    /// Confirms a user without a code.
    pub async fn admin_confirm_sign_up(&self, username: String) -> Result<(), AuthError> {
        self.run(move |p| p.admin_confirm_sign_up(&username)).await
    }

    /// Puts the user in RESET_REQUIRED and sends a reset code where it can.
    pub async fn admin_reset_user_password(&self, username: String) -> Result<Option<CodeDelivery>, AuthError> {
        self.run(move |p| p.admin_reset_user_password(&username)).await
    }

    /// Sets a user's password, permanent (CONFIRMED) or temporary (FORCE_CHANGE_PASSWORD);
    /// `permanent` has no default, as in Python and Node.
    pub async fn admin_set_user_password(
        &self,
        username: String,
        password: String,
        permanent: bool,
    ) -> Result<(), AuthError> {
        let password = Zeroizing::new(password);
        self.run(move |p| p.admin_set_user_password(&username, &password, permanent)).await
    }

    /// Updates attributes as an administrator.
    pub async fn admin_update_user_attributes(
        &self,
        username: String,
        attributes: HashMap<String, String>,
    ) -> Result<(), AuthError> {
        self.run(move |p| p.admin_update_user_attributes(&username, to_attributes(attributes))).await
    }

    /// Deletes attributes as an administrator.
    pub async fn admin_delete_user_attributes(&self, username: String, names: Vec<String>) -> Result<(), AuthError> {
        self.run(move |p| p.admin_delete_user_attributes(&username, &names)).await
    }

    /// Ends every session of a user.
    pub async fn admin_user_global_sign_out(&self, username: String) -> Result<(), AuthError> {
        self.run(move |p| p.admin_user_global_sign_out(&username)).await
    }

    /// Lists users, optionally filtered (`email ^= "ali"`), a page at a time.
    #[uniffi::method(default(filter = None, limit = None, pagination_token = None))]
    pub async fn list_users(
        &self,
        filter: Option<String>,
        limit: Option<u32>,
        pagination_token: Option<String>,
    ) -> Result<UserList, AuthError> {
        self.run(move |p| p.list_users(filter.as_deref(), limit, pagination_token.as_deref())).await
    }

    /// Imports users in one transaction (call it with batches of about a thousand), without
    /// messages or hashing: one outcome per user, in order. Fails as a whole only when the
    /// store fails.
    pub async fn admin_import_users(&self, users: Vec<ImportUser>) -> Result<Vec<ImportOutcome>, AuthError> {
        let users: Vec<up::ImportUser> = users.into_iter().map(Into::into).collect();
        self.run(move |p| p.admin_import_users(users)).await
    }

    /// A user's most recent authentication events, newest first.
    #[uniffi::method(default(limit = None))]
    pub async fn admin_list_user_auth_events(
        &self,
        username: String,
        limit: Option<u32>,
    ) -> Result<Vec<AuditEvent>, AuthError> {
        self.run(move |p| p.admin_list_user_auth_events(&username, limit)).await
    }

    /// Copies the pool's file, as of one moment, into the new file `dest` (owner-only,
    /// synced, named only once whole) while the pool goes on serving: an app's backup.
    /// Fails with `InvalidParameterException` when `dest` exists or its directory does not,
    /// and for a pool in memory.
    pub async fn backup_to(&self, dest: String) -> Result<(), AuthError> {
        self.run(move |p| p.backup_to(&dest)).await
    }

    // ── groups ───────────────────────────────────────────────────────────────────────────

    /// Creates a group.
    #[uniffi::method(default(description = None, precedence = None))]
    pub async fn create_group(
        &self,
        name: String,
        description: Option<String>,
        precedence: Option<u32>,
    ) -> Result<Group, AuthError> {
        self.run(move |p| p.create_group(&name, description.as_deref(), precedence)).await
    }

    /// Changes a group's description or precedence; what is null stays as it is.
    #[uniffi::method(default(description = None, precedence = None))]
    pub async fn update_group(
        &self,
        name: String,
        description: Option<String>,
        precedence: Option<u32>,
    ) -> Result<Group, AuthError> {
        self.run(move |p| p.update_group(&name, description.as_deref(), precedence)).await
    }

    /// A group by name.
    pub async fn get_group(&self, name: String) -> Result<Group, AuthError> {
        self.run(move |p| p.get_group(&name)).await
    }

    /// The groups by name, a page at a time (`limit`: 1 to 60, 60 when absent).
    #[uniffi::method(default(limit = None, pagination_token = None))]
    pub async fn list_groups(
        &self,
        limit: Option<u32>,
        pagination_token: Option<String>,
    ) -> Result<GroupList, AuthError> {
        self.run(move |p| p.list_groups(limit, pagination_token.as_deref())).await
    }

    /// Deletes a group.
    pub async fn delete_group(&self, name: String) -> Result<(), AuthError> {
        self.run(move |p| p.delete_group(&name)).await
    }

    /// Adds a user to a group.
    pub async fn admin_add_user_to_group(&self, username: String, group: String) -> Result<(), AuthError> {
        self.run(move |p| p.admin_add_user_to_group(&username, &group)).await
    }

    /// Removes a user from a group.
    pub async fn admin_remove_user_from_group(&self, username: String, group: String) -> Result<(), AuthError> {
        self.run(move |p| p.admin_remove_user_from_group(&username, &group)).await
    }

    /// A user's groups, by precedence.
    pub async fn admin_list_groups_for_user(&self, username: String) -> Result<Vec<Group>, AuthError> {
        self.run(move |p| p.admin_list_groups_for_user(&username)).await
    }

    /// The users of a group, a page at a time.
    #[uniffi::method(default(limit = None, pagination_token = None))]
    pub async fn list_users_in_group(
        &self,
        group: String,
        limit: Option<u32>,
        pagination_token: Option<String>,
    ) -> Result<UserList, AuthError> {
        self.run(move |p| p.list_users_in_group(&group, limit, pagination_token.as_deref())).await
    }
}

/// Copies the pool file at `path` into the new file `dest`, as `UserPool.backupTo` does,
/// without opening it as a pool: nothing in it changes, even a file an older userpool wrote.
/// For a copy taken before a new version of the app opens (and so migrates) the file. Fails
/// with `InvalidParameterException` when `path` is missing or holds no pools, or `dest` is
/// refused as `backupTo` refuses it.
#[uniffi::export(async_runtime = "tokio")]
pub async fn backup_file(path: String, dest: String) -> Result<(), AuthError> {
    off_thread(move || Ok(up::SqliteStore::backup_file(&path, &dest)?)).await
}

/// Cognito's `SECRET_HASH` for a client with a secret: base64(HMAC-SHA256(secret, username + client_id)).
#[uniffi::export]
pub fn secret_hash(client_secret: String, username: String, client_id: String) -> String {
    let client_secret = Zeroizing::new(client_secret);
    up::secret_hash(&client_secret, &username, &client_id)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    use super::*;

    type Task = Box<dyn FnOnce() + Send>;

    fn block_on<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }

    fn internal_message(result: Result<u32, AuthError>) -> String {
        match result {
            Err(AuthError::InternalErrorException(message)) => message,
            other => panic!("expected InternalErrorException, got {other:?}"),
        }
    }

    #[test]
    fn handed_off_work_answers_from_its_thread() {
        let spawn = |task: Task| drop(std::thread::spawn(task));
        assert_eq!(block_on(handed_off(|| Ok(7), spawn)).unwrap(), 7);
        let failing = block_on(handed_off(|| Err::<u32, _>(AuthError::NotAuthorizedException("no".into())), spawn));
        assert!(matches!(failing, Err(AuthError::NotAuthorizedException(_))), "{failing:?}");
        let message = internal_message(block_on(handed_off(|| panic!("a bug"), spawn)));
        assert!(message.contains("panicked"), "{message}");
    }

    /// As tokio's `spawn_blocking` with no thread to run on: the work is queued, then the
    /// spawn panics. The call fails, and the work never runs, even once a thread takes it.
    #[test]
    fn work_queued_by_a_spawn_that_panicked_is_abandoned() {
        let queued: Mutex<Option<Task>> = Mutex::new(None);
        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_work = Arc::clone(&ran);
        let work = move || {
            ran_in_work.store(true, Ordering::SeqCst);
            Ok(1)
        };
        let spawn = |task: Task| {
            *queued.lock().unwrap() = Some(task);
            panic!("OS can't spawn worker thread");
        };
        let message = internal_message(block_on(handed_off(work, spawn)));
        assert!(message.contains("nothing was done"), "{message}");
        let task = queued.lock().unwrap().take().expect("the spawn kept the work");
        task();
        assert!(!ran.load(Ordering::SeqCst), "abandoned work ran");
    }

    /// Work that a thread took before the spawn's panic reached the call is waited for.
    #[test]
    fn work_started_before_the_spawn_panicked_is_answered() {
        let spawn = |task: Task| {
            std::thread::spawn(task).join().unwrap();
            panic!("OS can't spawn worker thread");
        };
        assert_eq!(block_on(handed_off(|| Ok(3), spawn)).unwrap(), 3);
    }

    /// Work a shutting-down runtime drops ends the wait, where a join handle would hang.
    #[test]
    fn work_dropped_unrun_ends_the_call() {
        let message = internal_message(block_on(handed_off(|| Ok(5), drop)));
        assert!(message.contains("cancelled"), "{message}");
    }
}
