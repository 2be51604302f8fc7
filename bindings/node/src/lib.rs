//! The Node.js binding of userpool: the npm package `userpool`.
//!
//! A thin layer over the `userpool` crate. Every method converts its JavaScript arguments,
//! forwards to the same-named [`userpool::UserPool`] method on a worker thread (see
//! [`runtime`]) and settles a Promise with the result in camelCase, or rejects it with an
//! `Error` whose `code` is the Cognito exception name (see [`errors`]). The host's `delivery`
//! and `clock` functions become core's `Delivery` and `Clock` (see [`host`]). No flow logic,
//! validation or defaults live here: an omitted option is core's default.

mod convert;
mod errors;
mod host;
mod redact;
pub mod results;
mod runtime;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use napi::ValueType;
use napi::bindgen_prelude::{Either, Env, Function, FunctionRef, JsValue, Object, ToNapiValue, Uint8Array, Unknown};
use napi_derive::napi;
use serde_json::{Map, Value};
use userpool::{ErrorCode, PoolConfig};
use zeroize::Zeroizing;

use crate::convert::{
    attributes, boolean, import_users, known_keys, mfa_preferences, object, optional_object, optional_secret,
    optional_string, optional_u32, present, present_as, secret, string, strings, type_name,
};
use crate::errors::{Failure, Rejection, type_error};
use crate::host::{ClockFn, DeliveryFn, JsClock, JsDelivery};
use crate::redact::HasSecrets;
use crate::results::{
    AttributeUpdate, AuthEvent, CodeDelivery, CreatedUser, Group, GroupList, ImportOutcome, SignInResult, SignUpResult,
    Tokens, TotpSetup, User, UserList,
};
use crate::runtime::Turn;

/// How a Promise made by [`settle`] is settled on the JavaScript thread.
type Resolver<T> = Box<dyn FnOnce(Env) -> napi::Result<T> + Send>;

/// Returns a Promise for `work`, which runs on a worker thread. A conversion failure
/// (`Err`) rejects it without running anything.
fn settle<'env, T, W>(env: &'env Env, work: Result<W, Failure>) -> napi::Result<Object<'env>>
where
    T: ToNapiValue + Send + 'static,
    W: FnOnce() -> Result<T, Failure> + Send + 'static,
{
    settle_as(env, work, |_, value| Ok(value))
}

/// Runs `answer` on the JavaScript thread, a panic answered as the worker threads answer one
/// (an `InternalErrorException` with a fixed message). napi calls a Promise's resolver with
/// no net of its own, where a panic aborts Node; and its `catch_unwind`, the last net on every
/// entry point, passes the panic's message on, which might quote a secret being converted.
fn guarded<R>(env: &Env, answer: impl FnOnce() -> napi::Result<R>) -> napi::Result<R> {
    catch_unwind(AssertUnwindSafe(answer)).unwrap_or_else(|_| Err(errors::to_js(env, Failure::Panic, None)))
}

/// [`settle`], with the value `work` gives made into what the Promise resolves with by
/// `present`, on the JavaScript thread.
fn settle_as<'env, T, R, W>(
    env: &'env Env,
    work: Result<W, Failure>,
    present: fn(&Env, T) -> napi::Result<R>,
) -> napi::Result<Object<'env>>
where
    T: Send + 'static,
    R: ToNapiValue + 'static,
    W: FnOnce() -> Result<T, Failure> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred::<R, Resolver<R>>()?;
    match work {
        Err(failure) => deferred.resolve(Box::new(move |env| Err(errors::to_js(&env, failure, None)))),
        Ok(work) => runtime::spawn(Box::new(move |turn| {
            if let Turn::Refused = turn {
                let failure = Failure::Pool(userpool::Error::new(
                    ErrorCode::InternalError,
                    "no thread could be started to run the operation (the process is at its thread limit)",
                ));
                deferred.resolve(Box::new(move |env| Err(errors::to_js(&env, failure, None))));
                return;
            }
            host::begin_operation();
            let outcome = catch_unwind(AssertUnwindSafe(work)).unwrap_or(Err(Failure::Panic));
            let host = host::end_operation();
            // A clock that failed after giving readings changes no answer: the operation went
            // on in the clock's own time, so its success stands and its error keeps its code,
            // and the failure becomes a warning. Without a reading to go on with (the open
            // that reads it first, on the system clock's time instead), it is the error.
            let (outcome, warning): (Result<T, Rejection>, Option<Failure>) = match (outcome, host.clock) {
                (_, Some((clock, false))) => (Err((clock, None)), None),
                (Ok(value), clock) => (Ok(value), clock.map(|(clock, _)| clock)),
                (Err(failure), clock) => (Err((failure, host.delivery)), clock.map(|(clock, _)| clock)),
            };
            deferred.resolve(Box::new(move |env| {
                guarded(&env, || {
                    if let Some(clock) = warning {
                        errors::warn(&env, &clock);
                    }
                    match outcome {
                        Ok(value) => present(&env, value),
                        Err((failure, cause)) => Err(errors::to_js(&env, failure, cause)),
                    }
                })
            }));
        })),
    }
    Ok(promise)
}

/// Where a pool's configuration comes from.
enum ConfigSource {
    /// Core's defaults.
    Default,
    /// TOML or JSON text (a plain object comes as the JSON `JSON.stringify` makes of it),
    /// wiped when dropped: it may hold client secrets.
    Text(Zeroizing<String>),
}

/// `UserPool.open`'s options, read on the JavaScript thread.
struct OpenOptions {
    path: Option<String>,
    config: ConfigSource,
    delivery: Option<JsDelivery>,
    clock: Option<(JsClock, FunctionRef<(), f64>)>,
    /// Wiped when dropped; the caller's own array is theirs to wipe.
    encryption_key: Option<Zeroizing<Vec<u8>>>,
    existing_only: bool,
}

const OPEN_OPTIONS: &[&str] = &["path", "config", "delivery", "clock", "encryptionKey", "existingOnly"];

fn open_options(env: &Env, options: Option<&Unknown<'_>>) -> Result<OpenOptions, Failure> {
    let mut open = OpenOptions {
        path: None,
        config: ConfigSource::Default,
        delivery: None,
        clock: None,
        encryption_key: None,
        existing_only: false,
    };
    let Some(options) = optional_object(options, "options")? else {
        return Ok(open);
    };
    known_keys(&options, "options", OPEN_OPTIONS)?;
    open.path = optional_string(present(&options, "path")?.as_ref(), "options.path")?;
    open.config = match present(&options, "config")? {
        None => ConfigSource::Default,
        Some(config) if config.get_type()? == ValueType::String => {
            ConfigSource::Text(Zeroizing::new(string(&config, "options.config")?))
        }
        Some(config) => {
            let config = object(&config, "options.config")?;
            // A BigInt, a cycle or a value JSON would lose makes it throw; a `toJSON` may make
            // it give `undefined`.
            let text = redact::config_json(env, config).map_err(|cause| Failure::TypeCaused {
                message: "options.config cannot be written as JSON (JSON.stringify threw: see the cause)".into(),
                cause,
            })?;
            if text.get_type()? != ValueType::String {
                return Err(type_error("JSON.stringify(options.config)", "a string", type_name(&text)));
            }
            ConfigSource::Text(Zeroizing::new(string(&text, "options.config")?))
        }
    };
    open.delivery = match present_as::<Function<'_, results::Message, host::DeliveryReturn>>(&options, "delivery")? {
        None => None,
        Some(Either::A(function)) => {
            let function: DeliveryFn = redact::delivery(env, function)
                .build_threadsafe_function()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?;
            Some(JsDelivery::new(function))
        }
        Some(Either::B(other)) => return Err(type_error("options.delivery", "a function", type_name(&other))),
    };
    open.clock = match present_as::<Function<'_, (), f64>>(&options, "clock")? {
        None => None,
        Some(Either::A(function)) => {
            let threadsafe: ClockFn =
                function.build_threadsafe_function().callee_handled::<false>().weak::<true>().build()?;
            Some((JsClock::new(threadsafe), function.create_ref()?))
        }
        Some(Either::B(other)) => return Err(type_error("options.clock", "a function", type_name(&other))),
    };
    open.encryption_key = match present_as::<Uint8Array>(&options, "encryptionKey")? {
        None => None,
        Some(Either::A(bytes)) => Some(Zeroizing::new(bytes.to_vec())),
        Some(Either::B(other)) => {
            let other_type = if other.is_typedarray()? { "another typed array" } else { type_name(&other) };
            return Err(type_error("options.encryptionKey", "a Uint8Array or Buffer", other_type));
        }
    };
    open.existing_only = match present(&options, "existingOnly")? {
        None => false,
        Some(flag) => boolean(&flag, "options.existingOnly")?,
    };
    Ok(open)
}

/// An open user pool: Cognito User Pools and Amplify Auth, in this process.
///
/// Open one with `UserPool.open({ path, config, delivery, clock })`. Every operation returns a
/// Promise and runs off the event loop; a rejection is an `Error` whose `code` (and `name`) is
/// the Cognito exception name, e.g. `UsernameExistsException`.
#[napi]
pub struct UserPool {
    /// The pool, with the host's clock for the synchronous methods (which run on the
    /// JavaScript thread), until [`UserPool::close`].
    handle: userpool::PoolHandle<ClockRef>,
}

/// The host's clock function, held while the pool is open.
type ClockRef = Option<Arc<FunctionRef<(), f64>>>;

/// What an open [`UserPool`] holds.
struct Handle {
    inner: userpool::UserPool,
    clock: ClockRef,
}

impl UserPool {
    fn new(handle: Handle) -> Self {
        Self { handle: userpool::PoolHandle::new(handle.inner, handle.clock) }
    }

    /// The pool while this handle is open.
    fn handle(&self) -> Result<Handle, Failure> {
        let (inner, clock) = self.handle.get()?;
        Ok(Handle { inner, clock })
    }

    /// `op` on this pool with the converted `args`, as work for a worker thread. Only the
    /// engine's pool goes with it: the clock's reference must be dropped here, on the
    /// JavaScript thread.
    fn work<A, T>(
        &self,
        args: Result<A, Failure>,
        op: impl FnOnce(&userpool::UserPool, A) -> userpool::Result<T> + Send + 'static,
    ) -> Result<impl FnOnce() -> Result<T, Failure> + Send + 'static, Failure>
    where
        A: Send + 'static,
    {
        let pool = self.handle()?.inner;
        args.map(|args| move || op(&pool, args).map_err(Failure::Pool))
    }

    /// Runs `op` on a worker thread with the converted `args`; returns its Promise.
    fn run<'env, A, T>(
        &self,
        env: &'env Env,
        args: Result<A, Failure>,
        op: impl FnOnce(&userpool::UserPool, A) -> userpool::Result<T> + Send + 'static,
    ) -> napi::Result<Object<'env>>
    where
        A: Send + 'static,
        T: ToNapiValue + Send + 'static,
    {
        let work = self.work(args, op);
        settle(env, work)
    }

    /// [`Self::run`] for a result that carries secrets: they print as `<redacted>`.
    fn run_secret<'env, A, T>(
        &self,
        env: &'env Env,
        args: Result<A, Failure>,
        op: impl FnOnce(&userpool::UserPool, A) -> userpool::Result<T> + Send + 'static,
    ) -> napi::Result<Object<'env>>
    where
        A: Send + 'static,
        T: HasSecrets + Send + 'static,
    {
        let work = self.work(args, op);
        settle_as(env, work, redact::present::<T>)
    }

    /// Runs `op` here, on the JavaScript thread, with the host's clock read first. A panic
    /// is caught as on the worker threads: it must not unwind into Node.
    fn sync<R>(&self, env: &Env, op: impl FnOnce(&userpool::UserPool) -> Result<R, Failure>) -> napi::Result<R> {
        let op = |pool: &userpool::UserPool| catch_unwind(AssertUnwindSafe(|| op(pool))).unwrap_or(Err(Failure::Panic));
        let outcome = self.handle().and_then(|handle| match &handle.clock {
            None => op(&handle.inner),
            Some(clock) => clock
                .borrow_back(env)
                .and_then(|clock| clock.call(()))
                .map_err(|error| Failure::Clock {
                    message: "the clock function threw or did not return a number".into(),
                    cause: Some(error),
                })
                .and_then(host::checked_ms)
                .and_then(|now| host::with_js_thread_now(now, || op(&handle.inner))),
        });
        outcome.map_err(|failure| errors::to_js(env, failure, None))
    }

    /// A handle of its own on `make(this pool)`, sharing the clock.
    fn view(
        &self,
        make: impl FnOnce(&userpool::UserPool) -> Result<userpool::UserPool, Failure>,
    ) -> Result<Self, Failure> {
        let handle = self.handle()?;
        Ok(Self::new(Handle { inner: make(&handle.inner)?, clock: handle.clock }))
    }
}

#[napi]
impl UserPool {
    /// Opens a pool.
    ///
    /// - `path`: a SQLite file, created if missing; in memory when left out.
    /// - `config`: TOML or JSON text, or a plain object (the same keys); core's defaults when
    ///   left out.
    /// - `delivery`: receives every message carrying a code; may return a Promise. When it
    ///   throws or rejects, or returns `false` (or a Promise of `false`: not sent), the
    ///   operation rejects with `CodeDeliveryFailureException` (the function's error as
    ///   `cause`) and nothing changes but the hourly counts the message took. Without it,
    ///   codes cannot be sent.
    /// - `clock`: returns the time in unix milliseconds (tests move time with it).
    /// - `encryptionKey`: 32 bytes that seal the signing keys, the code key and TOTP secrets at rest.
    /// - `existingOnly`: for tools that administer a pool that must be there already. A
    ///   missing file, one without userpool's tables, or one an older userpool wrote
    ///   (its app upgrades it), rejects with `InvalidParameterException`; a pool id the file does not hold, with
    ///   `ResourceNotFoundException`. Nothing is created either way.
    #[napi(catch_unwind, ts_args_type = "options?: OpenOptions", ts_return_type = "Promise<UserPool>")]
    pub fn open<'env>(env: &'env Env, options: Option<Unknown<'_>>) -> napi::Result<Object<'env>> {
        let work = open_options(env, options.as_ref()).map(|options| {
            move || {
                if let Some((clock, _)) = &options.clock {
                    clock.first_reading()?;
                }
                let config = match options.config {
                    ConfigSource::Default => PoolConfig::default(),
                    ConfigSource::Text(text) => PoolConfig::parse(&text)?,
                };
                let mut builder = userpool::UserPool::builder(config);
                if let Some(path) = options.path {
                    let sqlite = userpool::SqliteOptions::default().existing_only(options.existing_only);
                    builder = builder.sqlite(path, sqlite);
                }
                if let Some(delivery) = options.delivery {
                    builder = builder.delivery(Arc::new(delivery));
                }
                let mut clock_ref = None;
                if let Some((clock, function)) = options.clock {
                    builder = builder.clock(Arc::new(clock));
                    clock_ref = Some(Arc::new(function));
                }
                if let Some(key) = options.encryption_key {
                    builder = builder.encryption_key(&key);
                }
                let inner = if options.existing_only { builder.open_existing()? } else { builder.open()? };
                Ok(UserPool::new(Handle { inner, clock: clock_ref }))
            }
        });
        settle(env, work)
    }

    /// Copies the pool file at `path` into the new file `dest`, as `backupTo` does, without
    /// opening it as a pool: nothing in it changes, even a file an older userpool wrote. For a
    /// copy taken before a new version of the app opens (and so migrates) the file. Rejects
    /// with `InvalidParameterException` when `path` is missing or holds no pools, or `dest` is
    /// refused as `backupTo` refuses it.
    #[napi(catch_unwind, ts_args_type = "path: string, dest: string", ts_return_type = "Promise<void>")]
    pub fn backup_file<'env>(env: &'env Env, path: Unknown<'_>, dest: Unknown<'_>) -> napi::Result<Object<'env>> {
        let work = (|| Ok((string(&path, "path")?, string(&dest, "dest")?)))()
            .map(|(path, dest)| move || Ok(userpool::SqliteStore::backup_file(path, dest)?));
        settle(env, work)
    }

    /// The same pool, acting as another app client (`config.clients`). A client with a secret
    /// needs it here, or use `withClientSecretHash`.
    #[napi(catch_unwind, ts_args_type = "clientId: string, clientSecret?: string | null")]
    pub fn with_client(
        &self,
        env: &Env,
        client_id: Unknown<'_>,
        client_secret: Option<Unknown<'_>>,
    ) -> napi::Result<UserPool> {
        guarded(env, || {
            let view = (|| {
                let client_id = string(&client_id, "clientId")?;
                let secret = optional_secret(client_secret.as_ref(), "clientSecret")?;
                self.view(|pool| Ok(pool.with_client(&client_id, secret.as_ref().map(|s| s.as_str()))?))
            })();
            view.map_err(|failure| errors::to_js(env, failure, None))
        })
    }

    /// The same pool, acting as a client with a secret, proven per call by Cognito's
    /// `SECRET_HASH` for the username each call names (see `secretHash`); a
    /// challenge answer takes the one the call that started the challenge gave (the sign-in, or
    /// the answer before), a refresh one over the internal username.
    #[napi(catch_unwind, ts_args_type = "clientId: string, secretHash: string")]
    pub fn with_client_secret_hash(
        &self,
        env: &Env,
        client_id: Unknown<'_>,
        secret_hash: Unknown<'_>,
    ) -> napi::Result<UserPool> {
        guarded(env, || {
            let view = (|| {
                let client_id = string(&client_id, "clientId")?;
                let secret_hash = secret(&secret_hash, "secretHash")?;
                self.view(|pool| Ok(pool.with_client_secret_hash(&client_id, &secret_hash)?))
            })();
            view.map_err(|failure| errors::to_js(env, failure, None))
        })
    }

    /// The pool id.
    #[napi(catch_unwind, getter)]
    pub fn pool_id(&self) -> String {
        self.handle.pool_id().to_owned()
    }

    /// The token issuer (`iss`).
    #[napi(catch_unwind, getter)]
    pub fn issuer(&self) -> String {
        self.handle.issuer().to_owned()
    }

    /// The pool's configuration as TOML text: every key with the value in force, defaults
    /// included, in the format of `userpool config default`; client secrets show as
    /// `"<redacted>"`.
    #[napi(catch_unwind)]
    pub fn config(&self) -> String {
        self.handle.config().to_owned()
    }

    /// Closes this handle: later calls on it fail with `InvalidParameterException`, while
    /// calls already running finish. The pool itself (its file, and the delivery and clock
    /// functions it holds) is released once every handle on it is closed or collected:
    /// this one and those `withClient` made. A delivery or clock that refers to its pool
    /// keeps it alive until then, since the garbage collector cannot see through the
    /// references the pool holds to them. Closing twice does nothing.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.handle.close();
    }

    // ── sign-up ─────────────────────────────────────────────────────────────────────────

    /// Registers a user; the confirmation code goes out through `delivery`.
    #[napi(
        catch_unwind,
        ts_args_type = "username: string, password: string, attributes?: Record<string, string>",
        ts_return_type = "Promise<SignUpResult>"
    )]
    pub fn sign_up<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
        password: Unknown<'_>,
        attributes: Option<Unknown<'_>>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| {
            Ok((
                string(&username, "username")?,
                secret(&password, "password")?,
                self::attributes(attributes.as_ref(), "attributes")?,
            ))
        })();
        self.run(env, args, |pool, (username, password, attributes)| {
            pool.sign_up(&username, &password, attributes).map(SignUpResult::from)
        })
    }

    /// Confirms a new account with the code it was sent.
    #[napi(catch_unwind, ts_args_type = "username: string, code: string", ts_return_type = "Promise<void>")]
    pub fn confirm_sign_up<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
        code: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| Ok((string(&username, "username")?, secret(&code, "code")?)))();
        self.run(env, args, |pool, (username, code)| pool.confirm_sign_up(&username, &code))
    }

    /// Sends a new confirmation code (the old one stops working).
    #[napi(catch_unwind, ts_args_type = "username: string", ts_return_type = "Promise<CodeDelivery>")]
    pub fn resend_sign_up_code<'env>(&self, env: &'env Env, username: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = string(&username, "username");
        self.run(env, args, |pool, username| pool.resend_sign_up_code(&username).map(CodeDelivery::from))
    }

    // ── sign-in ─────────────────────────────────────────────────────────────────────────

    /// Signs in with a password. Resolves with tokens (`nextStep: 'DONE'`) or the next step.
    #[napi(catch_unwind, ts_args_type = "username: string, password: string", ts_return_type = "Promise<SignInResult>")]
    pub fn sign_in<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
        password: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| Ok((string(&username, "username")?, secret(&password, "password")?)))();
        self.run_secret(env, args, |pool, (username, password)| {
            pool.sign_in(&username, &password).map(SignInResult::from)
        })
    }

    /// Answers a sign-in challenge with its `session`. For
    /// `CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED` the answer is the new password and
    /// `attributes` carries the missing required attributes.
    #[napi(
        catch_unwind,
        ts_args_type = "session: string, answer: string, attributes?: Record<string, string>",
        ts_return_type = "Promise<SignInResult>"
    )]
    pub fn confirm_sign_in<'env>(
        &self,
        env: &'env Env,
        session: Unknown<'_>,
        answer: Unknown<'_>,
        attributes: Option<Unknown<'_>>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| {
            Ok((
                secret(&session, "session")?,
                secret(&answer, "answer")?,
                self::attributes(attributes.as_ref(), "attributes")?,
            ))
        })();
        self.run_secret(env, args, |pool, (session, answer, attributes)| {
            pool.confirm_sign_in(&session, &answer, attributes).map(SignInResult::from)
        })
    }

    /// New ID and access tokens for a refresh token (which rotates, by default).
    #[napi(catch_unwind, ts_args_type = "refreshToken: string", ts_return_type = "Promise<Tokens>")]
    pub fn refresh<'env>(&self, env: &'env Env, refresh_token: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = secret(&refresh_token, "refreshToken");
        self.run_secret(env, args, |pool, token| pool.refresh(&token).map(Tokens::from))
    }

    /// Ends the session a refresh token belongs to.
    #[napi(catch_unwind, ts_args_type = "refreshToken: string", ts_return_type = "Promise<void>")]
    pub fn sign_out<'env>(&self, env: &'env Env, refresh_token: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = secret(&refresh_token, "refreshToken");
        self.run(env, args, |pool, token| pool.sign_out(&token))
    }

    /// Ends every session of the user the access token belongs to.
    #[napi(catch_unwind, ts_args_type = "accessToken: string", ts_return_type = "Promise<void>")]
    pub fn global_sign_out<'env>(&self, env: &'env Env, access_token: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = secret(&access_token, "accessToken");
        self.run(env, args, |pool, token| pool.global_sign_out(&token))
    }

    // ── tokens and keys ─────────────────────────────────────────────────────────────────

    /// The public signing keys as a JWKS (serve it at `/.well-known/jwks.json`, or give it to
    /// `jose`'s `createLocalJWKSet`).
    #[napi(catch_unwind, ts_return_type = "Jwks")]
    pub fn jwks(&self, env: &Env) -> napi::Result<Value> {
        let text = self.sync(env, |pool| Ok(pool.jwks()))?;
        serde_json::from_str(&text)
            .map_err(|e| napi::Error::from_reason(format!("core returned a JWKS that is not JSON: {e}")))
    }

    /// Replaces the signing keys; tokens signed by the old ones verify until they expire.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn rotate_signing_keys<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        self.run(env, Ok(()), |pool, ()| pool.rotate_signing_keys())
    }

    /// Replaces the signing keys and drops the old ones at once, for a key that leaked: every
    /// token they signed stops verifying here now, and in the pool's other processes within a
    /// minute. Sessions go on: clients refresh to get tokens under the new keys.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn revoke_signing_keys<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        self.run(env, Ok(()), |pool, ()| pool.revoke_signing_keys())
    }

    /// Verifies an access token (signature, issuer, use, expiry, client, revocation) and
    /// resolves with its claims: a token of `clientId` only, or of any of the pool's clients
    /// when left out.
    #[napi(catch_unwind, ts_args_type = "token: string, clientId?: string | null", ts_return_type = "Promise<Claims>")]
    pub fn verify_access_token<'env>(
        &self,
        env: &'env Env,
        token: Unknown<'_>,
        client_id: Option<Unknown<'_>>,
    ) -> napi::Result<Object<'env>> {
        let args = token_and_client(&token, client_id.as_ref());
        self.run(env, args, |pool, (token, client_id)| pool.verify_access_token_for(&token, client_id.as_deref()))
    }

    /// `verifyAccessToken` on the calling thread: fast (a verified token's signature is
    /// remembered) and synchronous, for request middleware. Throws instead of rejecting.
    #[napi(catch_unwind, ts_args_type = "token: string, clientId?: string | null", ts_return_type = "Claims")]
    pub fn verify_access_token_sync(
        &self,
        env: &Env,
        token: Unknown<'_>,
        client_id: Option<Unknown<'_>>,
    ) -> napi::Result<Map<String, Value>> {
        self.sync(env, |pool| {
            let (token, client_id) = token_and_client(&token, client_id.as_ref())?;
            Ok(pool.verify_access_token_for(&token, client_id.as_deref())?)
        })
    }

    /// Verifies an ID token for `clientId` (this pool view's client when left out).
    #[napi(catch_unwind, ts_args_type = "token: string, clientId?: string | null", ts_return_type = "Promise<Claims>")]
    pub fn verify_id_token<'env>(
        &self,
        env: &'env Env,
        token: Unknown<'_>,
        client_id: Option<Unknown<'_>>,
    ) -> napi::Result<Object<'env>> {
        let args = token_and_client(&token, client_id.as_ref());
        self.run(env, args, |pool, (token, client_id)| pool.verify_id_token(&token, client_id.as_deref()))
    }

    // ── the signed-in user ──────────────────────────────────────────────────────────────

    /// The user an access token belongs to.
    #[napi(catch_unwind, ts_args_type = "accessToken: string", ts_return_type = "Promise<User>")]
    pub fn get_user<'env>(&self, env: &'env Env, access_token: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = secret(&access_token, "accessToken");
        self.run(env, args, |pool, token| pool.get_user(&token).map(User::from))
    }

    /// Changes the signed-in user's password after checking the old one.
    #[napi(
        catch_unwind,
        ts_args_type = "accessToken: string, oldPassword: string, newPassword: string",
        ts_return_type = "Promise<void>"
    )]
    pub fn change_password<'env>(
        &self,
        env: &'env Env,
        access_token: Unknown<'_>,
        old_password: Unknown<'_>,
        new_password: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| {
            Ok((
                secret(&access_token, "accessToken")?,
                secret(&old_password, "oldPassword")?,
                secret(&new_password, "newPassword")?,
            ))
        })();
        self.run(env, args, |pool, (token, old, new)| pool.change_password(&token, &old, &new))
    }

    /// Updates the signed-in user's attributes; a new email or phone number may wait for
    /// verification (`needsCode`) before it replaces the old one.
    #[napi(
        catch_unwind,
        ts_args_type = "accessToken: string, attributes: Record<string, string>",
        ts_return_type = "Promise<AttributeUpdate[]>"
    )]
    pub fn update_user_attributes<'env>(
        &self,
        env: &'env Env,
        access_token: Unknown<'_>,
        attributes: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| {
            object(&attributes, "attributes")?;
            Ok((secret(&access_token, "accessToken")?, self::attributes(Some(&attributes), "attributes")?))
        })();
        self.run(env, args, |pool, (token, attributes)| {
            pool.update_user_attributes(&token, attributes)
                .map(|updates| updates.into_iter().map(AttributeUpdate::from).collect::<Vec<_>>())
        })
    }

    /// Sends a verification code for `email` or `phone_number` (Amplify's
    /// `sendUserAttributeVerificationCode`).
    #[napi(
        catch_unwind,
        ts_args_type = "accessToken: string, attribute: string",
        ts_return_type = "Promise<CodeDelivery>"
    )]
    pub fn get_user_attribute_verification_code<'env>(
        &self,
        env: &'env Env,
        access_token: Unknown<'_>,
        attribute: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| Ok((secret(&access_token, "accessToken")?, string(&attribute, "attribute")?)))();
        self.run(env, args, |pool, (token, attribute)| {
            pool.get_user_attribute_verification_code(&token, &attribute).map(CodeDelivery::from)
        })
    }

    /// Verifies an attribute with its code.
    #[napi(
        catch_unwind,
        ts_args_type = "accessToken: string, attribute: string, code: string",
        ts_return_type = "Promise<void>"
    )]
    pub fn verify_user_attribute<'env>(
        &self,
        env: &'env Env,
        access_token: Unknown<'_>,
        attribute: Unknown<'_>,
        code: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args =
            (|| Ok((secret(&access_token, "accessToken")?, string(&attribute, "attribute")?, secret(&code, "code")?)))(
            );
        self.run(env, args, |pool, (token, attribute, code)| pool.verify_user_attribute(&token, &attribute, &code))
    }

    /// Deletes attributes of the signed-in user.
    #[napi(catch_unwind, ts_args_type = "accessToken: string, names: string[]", ts_return_type = "Promise<void>")]
    pub fn delete_user_attributes<'env>(
        &self,
        env: &'env Env,
        access_token: Unknown<'_>,
        names: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| Ok((secret(&access_token, "accessToken")?, strings(&names, "names")?)))();
        self.run(env, args, |pool, (token, names)| pool.delete_user_attributes(&token, &names))
    }

    /// Deletes the signed-in user and every session.
    #[napi(catch_unwind, ts_args_type = "accessToken: string", ts_return_type = "Promise<void>")]
    pub fn delete_user<'env>(&self, env: &'env Env, access_token: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = secret(&access_token, "accessToken");
        self.run(env, args, |pool, token| pool.delete_user(&token))
    }

    // ── multi-factor authentication ────────────────────────────────────────────────────

    /// Starts adding an authenticator app for the signed-in user: resolves with the secret
    /// and `otpauth://` URI to show; `verifySoftwareToken` with a code from the app finishes.
    #[napi(catch_unwind, ts_args_type = "accessToken: string", ts_return_type = "Promise<TotpSetup>")]
    pub fn associate_software_token<'env>(
        &self,
        env: &'env Env,
        access_token: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = secret(&access_token, "accessToken");
        self.run_secret(env, args, |pool, token| pool.associate_software_token(&token).map(TotpSetup::from))
    }

    /// A new authenticator secret during sign-in (`CONTINUE_SIGN_IN_WITH_TOTP_SETUP`), for the
    /// challenge `session`; answer the challenge with a code from the app.
    #[napi(catch_unwind, ts_args_type = "session: string", ts_return_type = "Promise<TotpSetup>")]
    pub fn associate_software_token_with_session<'env>(
        &self,
        env: &'env Env,
        session: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = secret(&session, "session");
        self.run_secret(env, args, |pool, session| {
            pool.associate_software_token_with_session(&session).map(TotpSetup::from)
        })
    }

    /// Finishes adding an authenticator with a code from it; TOTP is then enabled.
    #[napi(
        catch_unwind,
        ts_args_type = "accessToken: string, code: string, friendlyName?: string | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn verify_software_token<'env>(
        &self,
        env: &'env Env,
        access_token: Unknown<'_>,
        code: Unknown<'_>,
        friendly_name: Option<Unknown<'_>>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| {
            Ok((
                secret(&access_token, "accessToken")?,
                secret(&code, "code")?,
                optional_string(friendly_name.as_ref(), "friendlyName")?,
            ))
        })();
        self.run(env, args, |pool, (token, code, name)| pool.verify_software_token(&token, &code, name.as_deref()))
    }

    /// Sets the signed-in user's MFA methods (Amplify's `updateMFAPreference`); a method left
    /// out is unchanged.
    #[napi(
        catch_unwind,
        ts_args_type = "accessToken: string, preferences: MfaPreferences",
        ts_return_type = "Promise<void>"
    )]
    pub fn set_mfa_preference<'env>(
        &self,
        env: &'env Env,
        access_token: Unknown<'_>,
        preferences: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| Ok((secret(&access_token, "accessToken")?, mfa_preferences(&preferences, "preferences")?)))();
        self.run(env, args, |pool, (token, (totp, sms, email))| pool.set_mfa_preference(&token, totp, sms, email))
    }

    /// Sets a user's MFA methods as an administrator.
    #[napi(
        catch_unwind,
        ts_args_type = "username: string, preferences: MfaPreferences",
        ts_return_type = "Promise<void>"
    )]
    pub fn admin_set_user_mfa_preference<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
        preferences: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| Ok((string(&username, "username")?, mfa_preferences(&preferences, "preferences")?)))();
        self.run(env, args, |pool, (username, (totp, sms, email))| {
            pool.admin_set_user_mfa_preference(&username, totp, sms, email)
        })
    }

    // ── forgotten password ──────────────────────────────────────────────────────────────

    /// Sends a password-reset code to the user's first verified recovery channel.
    #[napi(catch_unwind, ts_args_type = "username: string", ts_return_type = "Promise<CodeDelivery>")]
    pub fn forgot_password<'env>(&self, env: &'env Env, username: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = string(&username, "username");
        self.run(env, args, |pool, username| pool.forgot_password(&username).map(CodeDelivery::from))
    }

    /// Sets a new password with the reset code; every session of the user ends.
    #[napi(
        catch_unwind,
        ts_args_type = "username: string, code: string, newPassword: string",
        ts_return_type = "Promise<void>"
    )]
    pub fn confirm_forgot_password<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
        code: Unknown<'_>,
        new_password: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args =
            (|| Ok((string(&username, "username")?, secret(&code, "code")?, secret(&new_password, "newPassword")?)))();
        self.run(env, args, |pool, (username, code, password)| {
            pool.confirm_forgot_password(&username, &code, &password)
        })
    }

    // ── administration ──────────────────────────────────────────────────────────────────

    /// Creates a user in FORCE_CHANGE_PASSWORD with `temporaryPassword` (generated when
    /// `null` or left out); the invitation goes to the email or phone when `sendInvitation`.
    #[napi(
        catch_unwind,
        ts_args_type = "username: string, attributes: Record<string, string>, temporaryPassword: string | null | undefined, sendInvitation: boolean",
        ts_return_type = "Promise<CreatedUser>"
    )]
    pub fn admin_create_user<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
        attributes: Unknown<'_>,
        temporary_password: Option<Unknown<'_>>,
        send_invitation: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| {
            object(&attributes, "attributes")?;
            Ok((
                string(&username, "username")?,
                self::attributes(Some(&attributes), "attributes")?,
                optional_secret(temporary_password.as_ref(), "temporaryPassword")?,
                boolean(&send_invitation, "sendInvitation")?,
            ))
        })();
        self.run(env, args, |pool, (username, attributes, temporary, send)| {
            pool.admin_create_user(&username, attributes, temporary.as_ref().map(|t| t.as_str()), send)
                .map(CreatedUser::from)
        })
    }

    /// A user by username, alias or `sub`.
    #[napi(catch_unwind, ts_args_type = "username: string", ts_return_type = "Promise<User>")]
    pub fn admin_get_user<'env>(&self, env: &'env Env, username: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = string(&username, "username");
        self.run(env, args, |pool, username| pool.admin_get_user(&username).map(User::from))
    }

    /// Deletes a user and every session.
    #[napi(catch_unwind, ts_args_type = "username: string", ts_return_type = "Promise<void>")]
    pub fn admin_delete_user<'env>(&self, env: &'env Env, username: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = string(&username, "username");
        self.run(env, args, |pool, username| pool.admin_delete_user(&username))
    }

    /// Disables a user and revokes every session.
    #[napi(catch_unwind, ts_args_type = "username: string", ts_return_type = "Promise<void>")]
    pub fn admin_disable_user<'env>(&self, env: &'env Env, username: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = string(&username, "username");
        self.run(env, args, |pool, username| pool.admin_disable_user(&username))
    }

    /// Re-enables a user.
    #[napi(catch_unwind, ts_args_type = "username: string", ts_return_type = "Promise<void>")]
    pub fn admin_enable_user<'env>(&self, env: &'env Env, username: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = string(&username, "username");
        self.run(env, args, |pool, username| pool.admin_enable_user(&username))
    }

    /// Confirms a user without a code.
    #[napi(catch_unwind, ts_args_type = "username: string", ts_return_type = "Promise<void>")]
    pub fn admin_confirm_sign_up<'env>(&self, env: &'env Env, username: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = string(&username, "username");
        self.run(env, args, |pool, username| pool.admin_confirm_sign_up(&username))
    }

    /// Puts the user in RESET_REQUIRED, ends their sessions and sends a reset code to a
    /// verified recovery channel if there is one (resolves with where it went, or `null` when
    /// no code went out: no such channel, or the delivery failed or met the address's hourly
    /// limit; the reset holds either way).
    #[napi(catch_unwind, ts_args_type = "username: string", ts_return_type = "Promise<CodeDelivery | null>")]
    pub fn admin_reset_user_password<'env>(&self, env: &'env Env, username: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = string(&username, "username");
        self.run(env, args, |pool, username| {
            pool.admin_reset_user_password(&username).map(|d| d.map(CodeDelivery::from))
        })
    }

    /// Sets a user's password: permanent (CONFIRMED) or temporary (FORCE_CHANGE_PASSWORD).
    #[napi(
        catch_unwind,
        ts_args_type = "username: string, password: string, permanent: boolean",
        ts_return_type = "Promise<void>"
    )]
    pub fn admin_set_user_password<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
        password: Unknown<'_>,
        permanent: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| {
            Ok((string(&username, "username")?, secret(&password, "password")?, boolean(&permanent, "permanent")?))
        })();
        self.run(env, args, |pool, (username, password, permanent)| {
            pool.admin_set_user_password(&username, &password, permanent)
        })
    }

    /// Updates attributes as an administrator (changes are immediate).
    #[napi(
        catch_unwind,
        ts_args_type = "username: string, attributes: Record<string, string>",
        ts_return_type = "Promise<void>"
    )]
    pub fn admin_update_user_attributes<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
        attributes: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| {
            object(&attributes, "attributes")?;
            Ok((string(&username, "username")?, self::attributes(Some(&attributes), "attributes")?))
        })();
        self.run(env, args, |pool, (username, attributes)| pool.admin_update_user_attributes(&username, attributes))
    }

    /// Deletes attributes as an administrator.
    #[napi(catch_unwind, ts_args_type = "username: string, names: string[]", ts_return_type = "Promise<void>")]
    pub fn admin_delete_user_attributes<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
        names: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| Ok((string(&username, "username")?, strings(&names, "names")?)))();
        self.run(env, args, |pool, (username, names)| pool.admin_delete_user_attributes(&username, &names))
    }

    /// Ends every session of a user.
    #[napi(catch_unwind, ts_args_type = "username: string", ts_return_type = "Promise<void>")]
    pub fn admin_user_global_sign_out<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = string(&username, "username");
        self.run(env, args, |pool, username| pool.admin_user_global_sign_out(&username))
    }

    /// Lists users, optionally filtered (`email ^= "ali"`, `cognito:user_status =
    /// "CONFIRMED"`), at most `limit` (1–60) per page.
    #[napi(catch_unwind, ts_args_type = "options?: ListUsersOptions", ts_return_type = "Promise<UserList>")]
    pub fn list_users<'env>(&self, env: &'env Env, options: Option<Unknown<'_>>) -> napi::Result<Object<'env>> {
        let args = (|| {
            let Some(options) = optional_object(options.as_ref(), "options")? else {
                return Ok((None, None, None));
            };
            known_keys(&options, "options", &["filter", "limit", "paginationToken"])?;
            Ok((
                optional_string(present(&options, "filter")?.as_ref(), "options.filter")?,
                optional_u32(present(&options, "limit")?.as_ref(), "options.limit")?,
                optional_string(present(&options, "paginationToken")?.as_ref(), "options.paginationToken")?,
            ))
        })();
        self.run(env, args, |pool, (filter, limit, token)| {
            pool.list_users(filter.as_deref(), limit, token.as_deref()).map(UserList::from)
        })
    }

    /// Imports users in one transaction, without messages or hashing (call it with batches of
    /// about a thousand). `passwordHash` is an argon2id PHC string (the user is CONFIRMED);
    /// without it the user is RESET_REQUIRED. Resolves with one outcome per user, in order.
    #[napi(catch_unwind, ts_args_type = "users: ImportUser[]", ts_return_type = "Promise<ImportOutcome[]>")]
    pub fn admin_import_users<'env>(&self, env: &'env Env, users: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = import_users(&users, "users");
        self.run(env, args, |pool, users| {
            pool.admin_import_users(users)
                .map(|outcomes| outcomes.into_iter().map(ImportOutcome::from).collect::<Vec<_>>())
        })
    }

    /// A user's most recent authentication events, newest first.
    #[napi(
        catch_unwind,
        ts_args_type = "username: string, limit?: number | null",
        ts_return_type = "Promise<AuthEvent[]>"
    )]
    pub fn admin_list_user_auth_events<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
        limit: Option<Unknown<'_>>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| Ok((string(&username, "username")?, optional_u32(limit.as_ref(), "limit")?)))();
        self.run(env, args, |pool, (username, limit)| {
            pool.admin_list_user_auth_events(&username, limit)
                .map(|events| events.into_iter().map(AuthEvent::from).collect::<Vec<_>>())
        })
    }

    /// Copies the pool's file, as of one moment, into the new file `dest` (owner-only,
    /// synced, named only once whole) while the pool goes on serving. Rejects with
    /// `InvalidParameterException` when `dest` exists or its directory does not, and for a
    /// pool in memory.
    #[napi(catch_unwind, ts_args_type = "dest: string", ts_return_type = "Promise<void>")]
    pub fn backup_to<'env>(&self, env: &'env Env, dest: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = string(&dest, "dest");
        self.run(env, args, |pool, dest| pool.backup_to(dest))
    }

    // ── groups ──────────────────────────────────────────────────────────────────────────

    /// Creates a group; `precedence` orders `cognito:groups` (lower first).
    #[napi(
        catch_unwind,
        ts_args_type = "name: string, description?: string | null, precedence?: number | null",
        ts_return_type = "Promise<Group>"
    )]
    pub fn create_group<'env>(
        &self,
        env: &'env Env,
        name: Unknown<'_>,
        description: Option<Unknown<'_>>,
        precedence: Option<Unknown<'_>>,
    ) -> napi::Result<Object<'env>> {
        let args = group_fields(&name, description.as_ref(), precedence.as_ref());
        self.run(env, args, |pool, (name, description, precedence)| {
            pool.create_group(&name, description.as_deref(), precedence).map(Group::from)
        })
    }

    /// Changes a group's description or precedence; what is left out stays as it is.
    #[napi(
        catch_unwind,
        ts_args_type = "name: string, description?: string | null, precedence?: number | null",
        ts_return_type = "Promise<Group>"
    )]
    pub fn update_group<'env>(
        &self,
        env: &'env Env,
        name: Unknown<'_>,
        description: Option<Unknown<'_>>,
        precedence: Option<Unknown<'_>>,
    ) -> napi::Result<Object<'env>> {
        let args = group_fields(&name, description.as_ref(), precedence.as_ref());
        self.run(env, args, |pool, (name, description, precedence)| {
            pool.update_group(&name, description.as_deref(), precedence).map(Group::from)
        })
    }

    /// A group by name.
    #[napi(catch_unwind, ts_args_type = "name: string", ts_return_type = "Promise<Group>")]
    pub fn get_group<'env>(&self, env: &'env Env, name: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = string(&name, "name");
        self.run(env, args, |pool, name| pool.get_group(&name).map(Group::from))
    }

    /// The groups by name, a page at a time (`limit`: 1 to 60, 60 when absent).
    #[napi(catch_unwind, ts_args_type = "options?: PageOptions", ts_return_type = "Promise<GroupList>")]
    pub fn list_groups<'env>(&self, env: &'env Env, options: Option<Unknown<'_>>) -> napi::Result<Object<'env>> {
        let args = page_options(options.as_ref());
        self.run(env, args, |pool, (limit, token)| pool.list_groups(limit, token.as_deref()).map(GroupList::from))
    }

    /// Deletes a group and removes every user from it.
    #[napi(catch_unwind, ts_args_type = "name: string", ts_return_type = "Promise<void>")]
    pub fn delete_group<'env>(&self, env: &'env Env, name: Unknown<'_>) -> napi::Result<Object<'env>> {
        let args = string(&name, "name");
        self.run(env, args, |pool, name| pool.delete_group(&name))
    }

    /// Adds a user to a group.
    #[napi(catch_unwind, ts_args_type = "username: string, group: string", ts_return_type = "Promise<void>")]
    pub fn admin_add_user_to_group<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
        group: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| Ok((string(&username, "username")?, string(&group, "group")?)))();
        self.run(env, args, |pool, (username, group)| pool.admin_add_user_to_group(&username, &group))
    }

    /// Removes a user from a group.
    #[napi(catch_unwind, ts_args_type = "username: string, group: string", ts_return_type = "Promise<void>")]
    pub fn admin_remove_user_from_group<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
        group: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| Ok((string(&username, "username")?, string(&group, "group")?)))();
        self.run(env, args, |pool, (username, group)| pool.admin_remove_user_from_group(&username, &group))
    }

    /// The groups a user belongs to, by precedence.
    #[napi(catch_unwind, ts_args_type = "username: string", ts_return_type = "Promise<Group[]>")]
    pub fn admin_list_groups_for_user<'env>(
        &self,
        env: &'env Env,
        username: Unknown<'_>,
    ) -> napi::Result<Object<'env>> {
        let args = string(&username, "username");
        self.run(env, args, |pool, username| {
            pool.admin_list_groups_for_user(&username)
                .map(|groups| groups.into_iter().map(Group::from).collect::<Vec<_>>())
        })
    }

    /// The users of a group, paged like `listUsers`.
    #[napi(catch_unwind, ts_args_type = "group: string, options?: PageOptions", ts_return_type = "Promise<UserList>")]
    pub fn list_users_in_group<'env>(
        &self,
        env: &'env Env,
        group: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<Object<'env>> {
        let args = (|| Ok((string(&group, "group")?, page_options(options.as_ref())?)))();
        self.run(env, args, |pool, (group, (limit, token))| {
            pool.list_users_in_group(&group, limit, token.as_deref()).map(UserList::from)
        })
    }
}

/// The arguments of the token checks: the token and the client it must be for, if named.
fn token_and_client(
    token: &Unknown<'_>,
    client_id: Option<&Unknown<'_>>,
) -> Result<(Zeroizing<String>, Option<String>), Failure> {
    Ok((secret(token, "token")?, optional_string(client_id, "clientId")?))
}

/// The arguments of `createGroup` and `updateGroup`.
fn group_fields(
    name: &Unknown<'_>,
    description: Option<&Unknown<'_>>,
    precedence: Option<&Unknown<'_>>,
) -> Result<(String, Option<String>, Option<u32>), Failure> {
    Ok((string(name, "name")?, optional_string(description, "description")?, optional_u32(precedence, "precedence")?))
}

/// A listing's `PageOptions`: its `limit` and `paginationToken`, each absent when not given.
fn page_options(options: Option<&Unknown<'_>>) -> Result<(Option<u32>, Option<String>), Failure> {
    let Some(options) = optional_object(options, "options")? else {
        return Ok((None, None));
    };
    known_keys(&options, "options", &["limit", "paginationToken"])?;
    Ok((
        optional_u32(present(&options, "limit")?.as_ref(), "options.limit")?,
        optional_string(present(&options, "paginationToken")?.as_ref(), "options.paginationToken")?,
    ))
}

/// Cognito's `SECRET_HASH` for a client with a secret: base64(HMAC-SHA256(clientSecret,
/// username + clientId)), what `withClientSecretHash` expects.
#[napi(catch_unwind, ts_args_type = "clientSecret: string, username: string, clientId: string")]
pub fn secret_hash(
    env: &Env,
    client_secret: Unknown<'_>,
    username: Unknown<'_>,
    client_id: Unknown<'_>,
) -> napi::Result<String> {
    guarded(env, || {
        let args = (|| {
            Ok((
                secret(&client_secret, "clientSecret")?,
                string(&username, "username")?,
                string(&client_id, "clientId")?,
            ))
        })();
        args.map(|(secret, username, client_id)| userpool::secret_hash(&secret, &username, &client_id))
            .map_err(|failure| errors::to_js(env, failure, None))
    })
}

/// Every error code an operation can reject with (the Cognito exception names).
#[napi(catch_unwind, ts_return_type = "ErrorCode[]")]
pub fn error_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|code| code.as_str()).collect()
}
