//! Pool configuration: what a host writes (TOML, JSON or the builder), and the validated,
//! ready-to-use [`Settings`] the engine runs on.
//!
//! Defaults follow Cognito except where OWASP ASVS 5 or NIST 800-63B forbid or tighten a
//! Cognito default; `docs/divergences.md` lists each such choice.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::attributes::{self, AttributeType};
use crate::error::{Error, ErrorCode, Result};

/// Everything that defines a pool. Parse it with [`PoolConfig::from_toml`] or
/// [`PoolConfig::from_json`], or start from [`PoolConfig::builder`]. Unknown keys are errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Pool id, used in every store key and in the token issuer (`[A-Za-z0-9_-]`, ≤ 55).
    pub pool_id: String,
    /// Human name: the TOTP issuer authenticator apps show.
    pub name: String,
    /// Token issuer (`iss`); defaults to `https://userpool.local/{pool_id}`.
    pub issuer: Option<String>,
    /// How users sign in.
    pub sign_in: SignInConfig,
    /// Password rules.
    pub password_policy: PasswordPolicy,
    /// Argon2id parameters and how many hashes may run at once.
    pub password_hashing: PasswordHashing,
    /// Self-registration and the attributes it requires and verifies.
    pub sign_up: SignUpConfig,
    /// `custom:` attributes.
    pub custom_attributes: Vec<CustomAttribute>,
    /// How a user recovers a forgotten password.
    pub account_recovery: AccountRecovery,
    /// Lifetimes and attempt caps of one-time codes.
    pub codes: CodeConfig,
    /// Progressive lockout after failed passwords.
    pub lockout: LockoutConfig,
    /// Authentication events kept per user.
    pub events: EventConfig,
    /// Multi-factor authentication.
    pub mfa: MfaConfig,
    /// Attributes whose new value waits for verification before it replaces the old one.
    pub attribute_update: AttributeUpdate,
    /// Token signing.
    pub tokens: TokenConfig,
    /// Message templates.
    pub messages: MessageTemplates,
    /// App clients; the first is the default client.
    pub clients: Vec<ClientConfig>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            pool_id: "local_default".into(),
            name: "userpool".into(),
            issuer: None,
            sign_in: SignInConfig::default(),
            password_policy: PasswordPolicy::default(),
            password_hashing: PasswordHashing::default(),
            sign_up: SignUpConfig::default(),
            custom_attributes: Vec::new(),
            account_recovery: AccountRecovery::default(),
            codes: CodeConfig::default(),
            lockout: LockoutConfig::default(),
            events: EventConfig::default(),
            mfa: MfaConfig::default(),
            attribute_update: AttributeUpdate::default(),
            tokens: TokenConfig::default(),
            messages: MessageTemplates::default(),
            clients: vec![ClientConfig::default()],
        }
    }
}

/// Sign-in identifiers and case sensitivity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
pub struct SignInConfig {
    /// Attributes used *as* the username (`email`, `phone_number`); the internal username is
    /// then the user's `sub`. Exclusive with `alias_attributes`.
    pub username_attributes: Vec<String>,
    /// Verified attributes that also sign in (`email`, `phone_number`, `preferred_username`).
    pub alias_attributes: Vec<String>,
    /// Whether `Alice` and `alice` are different users. Off by default (Cognito's console
    /// default; its API default is on, the top complaint of its users).
    pub case_sensitive: bool,
}

/// Password rules. Composition rules are off by default (ASVS 6.2.5, NIST 800-63B).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Minimum length in characters (6–99 as in Cognito; default 8).
    pub minimum_length: u32,
    /// Require an upper-case letter.
    pub require_uppercase: bool,
    /// Require a lower-case letter.
    pub require_lowercase: bool,
    /// Require a digit.
    pub require_numbers: bool,
    /// Require one of Cognito's special characters.
    pub require_symbols: bool,
    /// Reject the most common passwords (built-in list).
    pub reject_common: bool,
    /// Days a temporary password from `admin_create_user` stays usable (0–365, default 7; 0
    /// means the default, as in Cognito).
    pub temporary_password_validity_days: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            minimum_length: 8,
            require_uppercase: false,
            require_lowercase: false,
            require_numbers: false,
            require_symbols: false,
            reject_common: true,
            temporary_password_validity_days: 7,
        }
    }
}

/// The most passes `password_hashing.iterations` may set; a stored hash may ask for no more.
pub(crate) const MAX_HASH_ITERATIONS: u32 = 64;
/// The most lanes `password_hashing.parallelism` may set; a stored hash may ask for no more.
pub(crate) const MAX_HASH_PARALLELISM: u32 = 16;

/// Argon2id parameters. Defaults are OWASP's minimum (19 MiB, t=2, p=1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordHashing {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// How many hashes may run at once (each holds `memory_kib`); 0 means one per CPU.
    pub max_concurrent: u32,
    /// Accept parameters below OWASP's minimum. Only for tests, never in production.
    pub dangerous_allow_weak: bool,
}

impl Default for PasswordHashing {
    fn default() -> Self {
        Self { memory_kib: 19_456, iterations: 2, parallelism: 1, max_concurrent: 0, dangerous_allow_weak: false }
    }
}

/// Self-registration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignUpConfig {
    /// Whether `sign_up` is allowed (otherwise only `admin_create_user`).
    pub enabled: bool,
    /// Attributes verified by a code at sign-up (`email`, `phone_number`).
    pub auto_verified_attributes: Vec<String>,
    /// Standard attributes every user must have.
    pub required_attributes: Vec<String>,
}

impl Default for SignUpConfig {
    fn default() -> Self {
        Self { enabled: true, auto_verified_attributes: vec!["email".into()], required_attributes: Vec::new() }
    }
}

/// A `custom:` attribute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomAttribute {
    /// Name, with or without the `custom:` prefix (≤ 20 characters after it).
    pub name: String,
    /// Value type.
    #[serde(rename = "type", default)]
    pub kind: AttributeType,
    /// Whether it may change after the user is created (otherwise write-once).
    #[serde(default = "yes")]
    pub mutable: bool,
    /// Minimum string length (or minimum value for numbers).
    #[serde(default)]
    pub min: Option<i64>,
    /// Maximum string length (or maximum value for numbers); strings default to 2048.
    #[serde(default)]
    pub max: Option<i64>,
}

fn yes() -> bool {
    true
}

/// Recovery channels, in priority order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountRecovery {
    /// `verified_email`, `verified_phone_number`, or `admin_only` alone.
    pub mechanisms: Vec<String>,
}

impl Default for AccountRecovery {
    fn default() -> Self {
        Self { mechanisms: vec!["verified_email".into(), "verified_phone_number".into()] }
    }
}

/// One-time codes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CodeConfig {
    /// Digits per code (6–10).
    pub length: u32,
    /// Sign-up confirmation code lifetime (default 24 h).
    pub sign_up_validity_secs: u64,
    /// Attribute verification code lifetime (default 24 h).
    pub attribute_validity_secs: u64,
    /// Forgot-password code lifetime (default 1 h).
    pub reset_validity_secs: u64,
    /// MFA code by SMS or email lifetime (default 3 min).
    pub mfa_validity_secs: u64,
    /// Wrong answers after which a code is invalidated (default 5).
    pub max_attempts: u32,
    /// Codes a user may ask for in any hour: resent sign-up codes, forgot-password codes and
    /// attribute verification codes together (default 5). One more is refused with
    /// `LimitExceededException`, so each hour allows at most this many codes times
    /// `max_attempts` guesses. A configuration whose guesses could find a code with more than
    /// one chance in 100 a day is refused.
    pub max_requests_per_hour: u32,
    /// Messages one email address or phone number may be sent in any hour, whoever they are
    /// for and whatever they carry: sign-up, reset, verification and MFA codes, invitations
    /// (default 10). One more is refused with `LimitExceededException` before anything is
    /// sent or written, so sign-ups under fresh names cannot flood one inbox or pump texts
    /// to one number. Under user-existence protection, `forgot_password` and
    /// `resend_sign_up_code` answer such a request as if sent (it is counted and audited as
    /// not sent); `admin_reset_user_password` answers `None`, with or without protection.
    pub max_per_destination_per_hour: u32,
}

impl Default for CodeConfig {
    fn default() -> Self {
        Self {
            length: 6,
            sign_up_validity_secs: 24 * 3600,
            attribute_validity_secs: 24 * 3600,
            reset_validity_secs: 3600,
            mfa_validity_secs: 180,
            max_attempts: 5,
            max_requests_per_hour: 5,
            max_per_destination_per_hour: 10,
        }
    }
}

/// Cognito's progressive lockout: after `free_attempts` failures, 1 s doubling per failure up
/// to `max_lockout_secs`; the count resets after `reset_after_secs` without a failure, counted
/// from the end of the last lockout. Settings that let one account take more than 100 wrong
/// passwords within an hour, however they are timed (ASVS 2.2.1), are refused; the defaults
/// allow 48.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutConfig {
    /// Failures allowed before the first lockout (default 5).
    pub free_attempts: u32,
    /// Longest lockout (default 900 s).
    pub max_lockout_secs: u64,
    /// Quiet time after which the failure count resets (default 900 s).
    pub reset_after_secs: u64,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self { free_attempts: 5, max_lockout_secs: 900, reset_after_secs: 900 }
    }
}

/// Authentication events, as `admin_list_user_auth_events` returns them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventConfig {
    /// Events kept per user (default 100, at most 10,000): each new event deletes the user's
    /// oldest past this many. Sign-ins with names no user has count as one user's.
    pub keep_per_user: u32,
}

impl EventConfig {
    /// The most events a pool may keep per user, and so the most one listing returns.
    pub const MAX_KEEP_PER_USER: u32 = 10_000;
}

impl Default for EventConfig {
    fn default() -> Self {
        Self { keep_per_user: 100 }
    }
}

/// Pool MFA mode.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaMode {
    /// No second factor.
    #[default]
    Off,
    /// Users may enable a second factor.
    Optional,
    /// Every user must pass a second factor.
    Required,
}

/// Multi-factor authentication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfaConfig {
    /// `off`, `optional` or `required`.
    pub mode: MfaMode,
    /// Allowed methods: `totp`, `sms`, `email`.
    pub methods: Vec<String>,
}

impl Default for MfaConfig {
    fn default() -> Self {
        Self { mode: MfaMode::Off, methods: vec!["totp".into()] }
    }
}

/// Verify-before-update (Cognito's `AttributesRequireVerificationBeforeUpdate`), on by
/// default so a mistyped email never locks a user out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttributeUpdate {
    /// Subset of `email`, `phone_number`.
    pub require_verification_before_update: Vec<String>,
}

impl Default for AttributeUpdate {
    fn default() -> Self {
        Self { require_verification_before_update: vec!["email".into(), "phone_number".into()] }
    }
}

/// JWT signing algorithm.
///
/// ES256 is the default: every mainstream JWT library and WebCrypto verify it, and one
/// signature costs about 20 µs where an RSA-2048 signature costs about 600 µs. A sign-in or a
/// refresh signs two tokens, so RS256 would add over a millisecond to each (several percent of
/// a sign-in's password hash, most of a refresh). RS256 is there for verifiers that expect
/// Cognito's algorithm.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// RSA 2048 PKCS#1 v1.5 with SHA-256 (Cognito's algorithm; cheapest to verify, costliest
    /// to sign).
    RS256,
    /// ECDSA P-256 with SHA-256 (the default).
    #[default]
    ES256,
    /// Ed25519, written `EdDSA` in the header.
    EdDSA,
}

impl SigningAlgorithm {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }
}

/// Token signing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    /// `ES256` (default), `RS256` (Cognito's) or `EdDSA`. A pool signs with the keys it
    /// has; a change takes effect at the next key rotation.
    pub algorithm: SigningAlgorithm,
}

/// Message templates; `{####}` is the code, `{username}` the username.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessageTemplates {
    /// Sign-up, resend and attribute verification.
    pub verification: String,
    /// Subject of every email the pool sends (verification, reset, invitation, MFA codes).
    pub verification_subject: String,
    /// Forgot password.
    pub reset: String,
    /// Invitation from `admin_create_user`.
    pub invitation: String,
    /// MFA code by SMS or email.
    pub mfa: String,
}

impl Default for MessageTemplates {
    fn default() -> Self {
        Self {
            verification: "Your verification code is {####}.".into(),
            verification_subject: "Your verification code".into(),
            reset: "Your password reset code is {####}.".into(),
            invitation: "Your username is {username} and temporary password is {####}.".into(),
            mfa: "Your authentication code is {####}.".into(),
        }
    }
}

/// An app client.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// Client id (`aud` of ID tokens, `client_id` of access tokens).
    pub id: String,
    /// Optional secret; when set, calls must prove it with Cognito's `SECRET_HASH`.
    pub secret: Option<String>,
    /// Attributes this client may read (empty: all).
    pub read_attributes: Vec<String>,
    /// Attributes this client may write (empty: all writable ones).
    pub write_attributes: Vec<String>,
    /// Access token lifetime (5 min – 1 day, default 1 h), cut short to end with the session
    /// (the refresh token's lifetime) when less of the session is left.
    pub access_token_validity_secs: u64,
    /// ID token lifetime (5 min – 1 day, default 1 h), cut short as the access token's is.
    pub id_token_validity_secs: u64,
    /// Refresh token lifetime (1 h – 10 years, default 30 days).
    pub refresh_token_validity_secs: u64,
    /// Rotate the refresh token on every use (default on).
    pub refresh_rotation: bool,
    /// Seconds a rotated-out token may still be retried (0–60, default 10).
    pub refresh_grace_secs: u64,
    /// Hide whether a user exists (default on).
    pub prevent_user_existence_errors: bool,
    /// Lifetime of a sign-in challenge session (3–15 min, default 3).
    pub auth_session_validity_secs: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            id: "default".into(),
            secret: None,
            read_attributes: Vec::new(),
            write_attributes: Vec::new(),
            access_token_validity_secs: 3600,
            id_token_validity_secs: 3600,
            refresh_token_validity_secs: 30 * 24 * 3600,
            refresh_rotation: true,
            refresh_grace_secs: 10,
            prevent_user_existence_errors: true,
            auth_session_validity_secs: 180,
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("refresh_rotation", &self.refresh_rotation)
            .field("prevent_user_existence_errors", &self.prevent_user_existence_errors)
            .finish_non_exhaustive()
    }
}

impl PoolConfig {
    /// Parses TOML; unknown keys and bad values are errors naming the key.
    pub fn from_toml(text: &str) -> Result<Self> {
        let document = toml::Deserializer::parse(text).map_err(|e| config_error(toml_error(text, "", &e)))?;
        let config: Self = serde_path_to_error::deserialize(document)
            .map_err(|e| config_error(toml_error(text, &key_of(e.path()), e.inner())))?;
        config.validate()?;
        Ok(config)
    }

    /// Parses JSON (what bindings produce from a dict or object); same rules as TOML.
    pub fn from_json(text: &str) -> Result<Self> {
        let mut document = serde_json::Deserializer::from_str(text);
        let config: Self = serde_path_to_error::deserialize(&mut document)
            .map_err(|e| config_error(format!("{}{}", key_of(e.path()), without_value(&e.inner().to_string()))))?;
        document.end().map_err(|e| config_error(without_value(&e.to_string())))?;
        config.validate()?;
        Ok(config)
    }

    /// Parses JSON when the text starts with `{` (after white space), TOML otherwise: a TOML
    /// document cannot start with `{`, so the two never overlap. A byte-order mark before
    /// either (some editors save one) is left out.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim_start().starts_with('{') { Self::from_json(text) } else { Self::from_toml(text) }
    }

    /// The configuration as TOML text.
    pub fn to_toml(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// The configuration as TOML text with each client secret shown as `"<redacted>"`: what
    /// an app may print or log, and what the bindings' `config()` returns. It does not load
    /// back as the same configuration: the secrets are not in it.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        for secret in shown.clients.iter_mut().filter_map(|client| client.secret.as_mut()) {
            "<redacted>".clone_into(secret);
        }
        shown.to_toml()
    }

    /// Starts a builder from the defaults.
    pub fn builder() -> PoolConfigBuilder {
        PoolConfigBuilder { config: Self::default() }
    }

    /// Checks every rule; the error names the first bad key.
    pub fn validate(&self) -> Result<()> {
        Settings::new(self.clone()).map(drop)
    }
}

/// Chainable construction of a [`PoolConfig`], validated by [`PoolConfigBuilder::build`].
#[derive(Clone, Debug)]
pub struct PoolConfigBuilder {
    config: PoolConfig,
}

impl PoolConfigBuilder {
    /// Sets the pool id.
    pub fn pool_id(mut self, id: impl Into<String>) -> Self {
        self.config.pool_id = id.into();
        self
    }

    /// Sets the human name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Sets the attributes used as the username.
    pub fn username_attributes(mut self, attrs: &[&str]) -> Self {
        self.config.sign_in.username_attributes = attrs.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Sets the alias attributes.
    pub fn alias_attributes(mut self, attrs: &[&str]) -> Self {
        self.config.sign_in.alias_attributes = attrs.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Sets the password policy.
    pub fn password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.config.password_policy = policy;
        self
    }

    /// Sets the Argon2id parameters.
    pub fn password_hashing(mut self, hashing: PasswordHashing) -> Self {
        self.config.password_hashing = hashing;
        self
    }

    /// Sets the MFA mode and methods.
    pub fn mfa(mut self, mode: MfaMode, methods: &[&str]) -> Self {
        self.config.mfa = MfaConfig { mode, methods: methods.iter().map(|s| (*s).to_owned()).collect() };
        self
    }

    /// Adds a custom attribute.
    pub fn custom_attribute(mut self, attribute: CustomAttribute) -> Self {
        self.config.custom_attributes.push(attribute);
        self
    }

    /// Replaces the app clients.
    pub fn clients(mut self, clients: Vec<ClientConfig>) -> Self {
        self.config.clients = clients;
        self
    }

    /// Applies any other change.
    pub fn with(mut self, change: impl FnOnce(&mut PoolConfig)) -> Self {
        change(&mut self.config);
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<PoolConfig> {
        self.config.validate()?;
        Ok(self.config)
    }
}

/// A TOML error as "line L, column C: what", without the source line toml's own text
/// quotes: that line may hold a client secret.
fn toml_error(text: &str, key: &str, e: &toml::de::Error) -> String {
    let what = without_value(e.message());
    let Some(before) = e.span().and_then(|span| text.get(..span.start)) else {
        return format!("TOML parse error: {key}{what}");
    };
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("TOML parse error at line {line}, column {column}: {key}{what}")
}

/// `codes.length: `, the key a value was refused at, to put before the reason; nothing for
/// the document itself.
fn key_of(path: &serde_path_to_error::Path) -> String {
    if path.iter().next().is_none() { String::new() } else { format!("{path}: ") }
}

/// serde's "invalid type: integer `12345`, expected a string" as "invalid type: integer,
/// expected a string": the value may be a client secret written as the wrong type.
fn without_value(message: &str) -> String {
    let split = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|prefix| message.find(prefix).map(|at| message.split_at(at + prefix.len())));
    let Some((head, tail)) = split else {
        return message.to_owned();
    };
    // What follows the last ", expected" is the type's own description, never the input's.
    let (unexpected, after) = tail.rfind(", expected").map_or((tail, ""), |at| tail.split_at(at));
    let kind = unexpected.split(['`', '"']).next().unwrap_or_default().trim_end();
    format!("{head}{kind}{after}")
}

fn config_error(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidUserPoolConfiguration, message.into())
}

fn bad_key(key: &str, why: impl std::fmt::Display) -> Error {
    config_error(format!("{key}: {why}"))
}

/// How a user's username is formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UsernameMode {
    /// A free username (plus optional aliases).
    Username,
    /// Email and/or phone number *is* the username; the stored username is the `sub`.
    Attributes { email: bool, phone: bool },
}

/// A validated custom attribute.
#[derive(Clone, Debug)]
pub(crate) struct CustomAttributeSpec {
    pub(crate) kind: AttributeType,
    pub(crate) mutable: bool,
    pub(crate) min: Option<i64>,
    pub(crate) max: Option<i64>,
}

/// A recovery channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecoveryChannel {
    Email,
    Phone,
}

/// A validated app client with lifetimes in milliseconds.
#[derive(Clone)]
pub(crate) struct ClientSettings {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
    pub(crate) read: Option<BTreeSet<String>>,
    pub(crate) write: Option<BTreeSet<String>>,
    pub(crate) access_ttl_ms: i64,
    pub(crate) id_ttl_ms: i64,
    pub(crate) refresh_ttl_ms: i64,
    pub(crate) refresh_rotation: bool,
    pub(crate) refresh_grace_ms: i64,
    pub(crate) prevent_user_existence_errors: bool,
    pub(crate) session_ttl_ms: i64,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The validated, ready-to-use form of a [`PoolConfig`].
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) raw: PoolConfig,
    pub(crate) issuer: String,
    pub(crate) username_mode: UsernameMode,
    pub(crate) aliases: BTreeSet<String>,
    pub(crate) auto_verified: BTreeSet<String>,
    pub(crate) required: BTreeSet<String>,
    pub(crate) custom: BTreeMap<String, CustomAttributeSpec>,
    pub(crate) recovery: Vec<RecoveryChannel>,
    pub(crate) verify_before_update: BTreeSet<String>,
    pub(crate) clients: Vec<ClientSettings>,
    pub(crate) temp_password_ttl_ms: i64,
    pub(crate) mfa_methods: BTreeSet<crate::flow::state::MfaMethod>,
}

const SECS: i64 = 1000;

fn ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

fn check_range(key: &str, value: u64, min: u64, max: u64) -> Result<()> {
    if value < min || value > max {
        return Err(bad_key(key, format!("must be between {min} and {max}, got {value}")));
    }
    Ok(())
}

/// A user's codes may be guessed `max_attempts` times each, `max_requests_per_hour` codes an
/// hour: together, at most one chance in a hundred a day of finding one. Each limit alone
/// looks harmless; at their ceilings (100 and 1,000) a six-digit reset code fell in hours.
fn check_guesses_per_day(codes: &CodeConfig) -> Result<()> {
    let per_day = u64::from(codes.max_attempts) * u64::from(codes.max_requests_per_hour) * 24;
    let codes_possible = 10_u64.pow(codes.length);
    if per_day.saturating_mul(100) > codes_possible {
        return Err(bad_key(
            "codes.max_attempts",
            format!(
                "{} guesses a code times {} codes an hour (codes.max_requests_per_hour) is {per_day} guesses a \
                 day at a {}-digit code: more than one chance in 100 a day of finding it. Lower either, or \
                 lengthen codes.length",
                codes.max_attempts, codes.max_requests_per_hour, codes.length
            ),
        ));
    }
    Ok(())
}

/// The most wrong passwords one account takes within an hour (ASVS 2.2.1 allows 100). Each
/// lockout setting alone looks harmless; together, 100 free attempts given back after a 1 s
/// quiet period allowed thousands an hour.
const MOST_PASSWORD_GUESSES_PER_HOUR: u64 = 100;

fn check_password_guesses_per_hour(lockout: &LockoutConfig) -> Result<()> {
    let guesses = most_password_guesses_in_an_hour(lockout);
    if guesses > MOST_PASSWORD_GUESSES_PER_HOUR {
        return Err(bad_key(
            "lockout",
            format!(
                "{} free attempts, lockouts of at most {} s and a count that resets after {} s quiet let one \
                 account take {guesses} or more wrong passwords within an hour, more than \
                 {MOST_PASSWORD_GUESSES_PER_HOUR}. Lower free_attempts, or raise reset_after_secs (or \
                 max_lockout_secs, where the lockouts reach it)",
                lockout.free_attempts, lockout.max_lockout_secs, lockout.reset_after_secs
            ),
        ));
    }
    Ok(())
}

/// The most wrong passwords an account takes within one hour on this schedule, however they
/// are timed; once that is past [`MOST_PASSWORD_GUESSES_PER_HOUR`], a number past it.
///
/// Guesses come in bursts: a burst of `n` starts on a fresh count and guesses at the end of
/// each lockout, so it spans the lockouts of its first `n - 1` guesses; the next burst
/// starts once the `n`-th guess's lockout and then `reset_after_secs` of quiet have passed
/// (the count resets then, and only then). The hour holds whole cycles and a last burst cut
/// short by the hour's end: the most guesses is a knapsack over the hour's seconds.
fn most_password_guesses_in_an_hour(lockout: &LockoutConfig) -> u64 {
    /// The hour's span in whole seconds, from its first guess to its last.
    const SPAN: usize = 3599;
    let (free, max) = (lockout.free_attempts, lockout.max_lockout_secs.max(1));
    // locked[n]: the seconds of lockout that the first n guesses bring.
    let mut locked = vec![0_u64];
    while locked.len() as u64 <= MOST_PASSWORD_GUESSES_PER_HOUR + 1 {
        let n = locked.len();
        if locked[n - 1] > SPAN as u64 {
            break;
        }
        let guess = u32::try_from(n).unwrap_or(u32::MAX);
        locked.push(locked[n - 1].saturating_add(crate::flow::user::lockout_secs(guess, free, max)));
    }
    // The bursts of n that fit in the span: n runs to the last whose first n - 1 lockouts fit.
    let bursts: Vec<(u64, u64)> =
        (1..locked.len()).filter(|&n| locked[n - 1] <= SPAN as u64).map(|n| (n as u64, locked[n - 1])).collect();
    // A whole cycle of n guesses: the burst, its last guess's lockout, then the quiet.
    let costs: Vec<(u64, u64)> = locked
        .iter()
        .enumerate()
        .skip(1)
        .map(|(n, &locked)| (n as u64, locked.saturating_add(lockout.reset_after_secs).max(1)))
        .collect();
    // cycles[t]: the most guesses of whole cycles in t s.
    let mut cycles = vec![0_u64; SPAN + 1];
    for t in 1..=SPAN {
        cycles[t] = cycles[t - 1];
        for &(n, cost) in &costs {
            if let Some(rest) = (t as u64).checked_sub(cost) {
                cycles[t] = cycles[t].max(cycles[rest as usize] + n);
            }
        }
    }
    bursts.iter().map(|&(n, span)| cycles[SPAN - span as usize] + n).max().unwrap_or(0)
}

fn subset(key: &str, values: &[String], allowed: &[&str]) -> Result<BTreeSet<String>> {
    let mut set = BTreeSet::new();
    for value in values {
        if !allowed.contains(&value.as_str()) {
            return Err(bad_key(key, format!("`{value}` is not one of {allowed:?}")));
        }
        if !set.insert(value.clone()) {
            return Err(bad_key(key, format!("`{value}` is listed twice")));
        }
    }
    Ok(set)
}

impl Settings {
    pub(crate) fn new(mut raw: PoolConfig) -> Result<Self> {
        // Cognito treats 0 as no value, so the default of 7 days, not as expiring at once;
        // the configuration in force says so too.
        if raw.password_policy.temporary_password_validity_days == 0 {
            raw.password_policy.temporary_password_validity_days =
                PasswordPolicy::default().temporary_password_validity_days;
        }
        let id_ok = !raw.pool_id.is_empty()
            && raw.pool_id.len() <= 55
            && raw.pool_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !id_ok {
            return Err(bad_key("pool_id", "must be 1-55 characters of A-Z, a-z, 0-9, `_` or `-`"));
        }
        if raw.name.trim().is_empty() || raw.name.len() > 128 || raw.name.contains(':') {
            return Err(bad_key("name", "must be 1-128 characters without `:`"));
        }
        let issuer = raw.issuer.clone().unwrap_or_else(|| format!("https://userpool.local/{}", raw.pool_id));
        if issuer.is_empty() {
            return Err(bad_key("issuer", "must not be empty"));
        }

        let username_attrs =
            subset("sign_in.username_attributes", &raw.sign_in.username_attributes, &["email", "phone_number"])?;
        let aliases = subset(
            "sign_in.alias_attributes",
            &raw.sign_in.alias_attributes,
            &["email", "phone_number", "preferred_username"],
        )?;
        if !username_attrs.is_empty() && !aliases.is_empty() {
            return Err(bad_key("sign_in.alias_attributes", "cannot be combined with sign_in.username_attributes"));
        }
        let username_mode = if username_attrs.is_empty() {
            UsernameMode::Username
        } else {
            UsernameMode::Attributes {
                email: username_attrs.contains("email"),
                phone: username_attrs.contains("phone_number"),
            }
        };

        let policy = &raw.password_policy;
        check_range("password_policy.minimum_length", policy.minimum_length.into(), 6, 99)?;
        check_range(
            "password_policy.temporary_password_validity_days",
            policy.temporary_password_validity_days.into(),
            0,
            365,
        )?;

        let hashing = &raw.password_hashing;
        check_range("password_hashing.parallelism", hashing.parallelism.into(), 1, MAX_HASH_PARALLELISM.into())?;
        check_range("password_hashing.iterations", hashing.iterations.into(), 1, MAX_HASH_ITERATIONS.into())?;
        // 8 KiB is argon2's own floor; the 8 × parallelism rule below is the real one.
        check_range("password_hashing.memory_kib", hashing.memory_kib.into(), 8, 4 << 20)?;
        if !hashing.dangerous_allow_weak && (hashing.memory_kib < 19_456 || hashing.iterations < 2) {
            return Err(bad_key(
                "password_hashing",
                "below OWASP's minimum (memory_kib >= 19456, iterations >= 2); \
                 set dangerous_allow_weak = true only in tests",
            ));
        }
        if u64::from(hashing.memory_kib) < 8 * u64::from(hashing.parallelism) {
            return Err(bad_key("password_hashing.memory_kib", "must be at least 8 × parallelism"));
        }

        let auto_verified = subset(
            "sign_up.auto_verified_attributes",
            &raw.sign_up.auto_verified_attributes,
            &["email", "phone_number"],
        )?;
        let mut required = BTreeSet::new();
        for name in &raw.sign_up.required_attributes {
            if !attributes::is_standard(name) || name == "sub" || attributes::is_verification_flag(name) {
                return Err(bad_key(
                    "sign_up.required_attributes",
                    format!("`{name}` is not a standard attribute that can be required"),
                ));
            }
            required.insert(name.clone());
        }
        if required.contains("preferred_username") && aliases.contains("preferred_username") {
            return Err(bad_key(
                "sign_up.required_attributes",
                "preferred_username cannot be both required and an alias",
            ));
        }

        let mut custom = BTreeMap::new();
        for (i, attr) in raw.custom_attributes.iter().enumerate() {
            let key = format!("custom_attributes[{i}]");
            let bare = attr.name.strip_prefix("custom:").unwrap_or(&attr.name);
            let ok = !bare.is_empty()
                && bare.len() <= 20
                && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err(bad_key(
                    &format!("{key}.name"),
                    "must be 1-20 characters of A-Z, a-z, 0-9, `_` or `-` after `custom:`",
                ));
            }
            if let (Some(min), Some(max)) = (attr.min, attr.max)
                && min > max
            {
                return Err(bad_key(&key, "min must not exceed max"));
            }
            if attr.kind == AttributeType::String
                && (attr.min.is_some_and(|m| m < 0) || attr.max.is_some_and(|m| !(0..=2048).contains(&m)))
            {
                return Err(bad_key(&key, "string lengths must be within 0-2048"));
            }
            let spec = CustomAttributeSpec { kind: attr.kind, mutable: attr.mutable, min: attr.min, max: attr.max };
            if custom.insert(format!("custom:{bare}"), spec).is_some() {
                return Err(bad_key(&format!("{key}.name"), format!("`custom:{bare}` is defined twice")));
            }
        }
        if custom.len() > 50 {
            return Err(bad_key("custom_attributes", "at most 50 custom attributes"));
        }

        let mechanisms = subset(
            "account_recovery.mechanisms",
            &raw.account_recovery.mechanisms,
            &["verified_email", "verified_phone_number", "admin_only"],
        )?;
        if mechanisms.contains("admin_only") && mechanisms.len() > 1 {
            return Err(bad_key("account_recovery.mechanisms", "admin_only must stand alone"));
        }
        let recovery = raw
            .account_recovery
            .mechanisms
            .iter()
            .filter_map(|m| match m.as_str() {
                "verified_email" => Some(RecoveryChannel::Email),
                "verified_phone_number" => Some(RecoveryChannel::Phone),
                _ => None,
            })
            .collect();

        let codes = &raw.codes;
        check_range("codes.length", codes.length.into(), 6, 10)?;
        check_range("codes.sign_up_validity_secs", codes.sign_up_validity_secs, 60, 7 * 24 * 3600)?;
        check_range("codes.attribute_validity_secs", codes.attribute_validity_secs, 60, 7 * 24 * 3600)?;
        check_range("codes.reset_validity_secs", codes.reset_validity_secs, 60, 24 * 3600)?;
        check_range("codes.mfa_validity_secs", codes.mfa_validity_secs, 30, 900)?;
        check_range("codes.max_attempts", codes.max_attempts.into(), 1, 100)?;
        check_range("codes.max_requests_per_hour", codes.max_requests_per_hour.into(), 1, 1000)?;
        check_range("codes.max_per_destination_per_hour", codes.max_per_destination_per_hour.into(), 1, 10_000)?;
        check_guesses_per_day(codes)?;

        let lockout = &raw.lockout;
        check_range("lockout.free_attempts", lockout.free_attempts.into(), 1, 100)?;
        check_range("lockout.max_lockout_secs", lockout.max_lockout_secs, 1, 24 * 3600)?;
        check_range("lockout.reset_after_secs", lockout.reset_after_secs, 1, 24 * 3600)?;
        check_password_guesses_per_hour(lockout)?;
        check_range("events.keep_per_user", raw.events.keep_per_user.into(), 1, EventConfig::MAX_KEEP_PER_USER.into())?;

        let methods = subset("mfa.methods", &raw.mfa.methods, &["totp", "sms", "email"])?;
        let mfa_methods = methods.iter().filter_map(|m| crate::flow::state::MfaMethod::parse(m)).collect();
        if raw.mfa.mode != MfaMode::Off && methods.is_empty() {
            return Err(bad_key("mfa.methods", "at least one method when MFA is on"));
        }

        let verify_before_update = subset(
            "attribute_update.require_verification_before_update",
            &raw.attribute_update.require_verification_before_update,
            &["email", "phone_number"],
        )?;

        for (name, template) in [
            ("messages.verification", &raw.messages.verification),
            ("messages.reset", &raw.messages.reset),
            ("messages.invitation", &raw.messages.invitation),
            ("messages.mfa", &raw.messages.mfa),
        ] {
            if !template.contains("{####}") {
                return Err(bad_key(name, "must contain the code placeholder {####}"));
            }
        }

        if raw.clients.is_empty() {
            return Err(bad_key("clients", "at least one app client"));
        }
        let mut clients: Vec<ClientSettings> = Vec::new();
        for (i, client) in raw.clients.iter().enumerate() {
            let key = |field: &str| format!("clients[{i}].{field}");
            let id_ok =
                !client.id.is_empty() && client.id.len() <= 128 && client.id.chars().all(|c| c.is_ascii_graphic());
            if !id_ok {
                return Err(bad_key(&key("id"), "must be 1-128 printable ASCII characters"));
            }
            if clients.iter().any(|c| c.id == client.id) {
                return Err(bad_key(&key("id"), format!("`{}` is used twice", client.id)));
            }
            if client.secret.as_ref().is_some_and(|s| s.len() < 16) {
                return Err(bad_key(&key("secret"), "must be at least 16 characters"));
            }
            check_range(&key("access_token_validity_secs"), client.access_token_validity_secs, 300, 86_400)?;
            check_range(&key("id_token_validity_secs"), client.id_token_validity_secs, 300, 86_400)?;
            check_range(
                &key("refresh_token_validity_secs"),
                client.refresh_token_validity_secs,
                3600,
                10 * 365 * 86_400,
            )?;
            check_range(&key("refresh_grace_secs"), client.refresh_grace_secs, 0, 60)?;
            check_range(&key("auth_session_validity_secs"), client.auth_session_validity_secs, 180, 900)?;
            let attr_list = |field: &str, list: &[String]| -> Result<Option<BTreeSet<String>>> {
                if list.is_empty() {
                    return Ok(None);
                }
                let mut set = BTreeSet::new();
                for name in list {
                    if !attributes::is_standard(name) && !custom.contains_key(name) {
                        return Err(bad_key(&key(field), format!("`{name}` is not an attribute of this pool")));
                    }
                    set.insert(name.clone());
                }
                Ok(Some(set))
            };
            clients.push(ClientSettings {
                id: client.id.clone(),
                secret: client.secret.clone(),
                read: attr_list("read_attributes", &client.read_attributes)?,
                write: attr_list("write_attributes", &client.write_attributes)?,
                access_ttl_ms: ms(client.access_token_validity_secs),
                id_ttl_ms: ms(client.id_token_validity_secs),
                refresh_ttl_ms: ms(client.refresh_token_validity_secs),
                refresh_rotation: client.refresh_rotation,
                refresh_grace_ms: ms(client.refresh_grace_secs),
                prevent_user_existence_errors: client.prevent_user_existence_errors,
                session_ttl_ms: ms(client.auth_session_validity_secs),
            });
        }

        let temp_password_ttl_ms = i64::from(policy.temporary_password_validity_days) * 86_400 * SECS;
        Ok(Self {
            raw,
            issuer,
            username_mode,
            aliases,
            auto_verified,
            required,
            custom,
            recovery,
            verify_before_update,
            clients,
            temp_password_ttl_ms,
            mfa_methods,
        })
    }

    pub(crate) fn client(&self, id: &str) -> Option<&ClientSettings> {
        self.clients.iter().find(|c| c.id == id)
    }

    pub(crate) fn pool_id(&self) -> &str {
        &self.raw.pool_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_follow_cognito_where_allowed() {
        let config = PoolConfig::default();
        config.validate().unwrap();
        assert_eq!(config.codes.sign_up_validity_secs, 86_400);
        assert_eq!(config.codes.reset_validity_secs, 3600);
        assert_eq!(config.clients[0].access_token_validity_secs, 3600);
        assert_eq!(config.clients[0].refresh_token_validity_secs, 30 * 86_400);
        assert!(config.clients[0].prevent_user_existence_errors);
        assert!(!config.password_policy.require_symbols, "ASVS 6.2.5 forbids composition rules");
    }

    #[test]
    fn the_redacted_text_has_no_client_secret() {
        let config = PoolConfig::from_toml(
            "pool_id = 'eu_test'\n[[clients]]\nid = 'web'\n[[clients]]\nid = 'server'\nsecret = 's3cret-0123456789abcdef'",
        )
        .unwrap();
        let shown = config.to_redacted_toml();
        assert!(!shown.contains("s3cret") && shown.contains("secret = \"<redacted>\""), "{shown}");
        assert!(shown.contains("id = \"web\"") && shown.contains("pool_id = \"eu_test\""), "{shown}");
    }

    /// toml quotes the line an error is on, and that line may hold a client secret: a
    /// configuration error must say where, and not what is there.
    #[test]
    fn a_parse_error_does_not_quote_the_secret_it_is_on() {
        for (text, line) in [
            ("pool_id = 'p'\n[[clients]]\nid = 'srv'\nsecret = \"Zx9\\kQ7s3cret\"\n", 4),
            ("[[clients]]\nid = 'srv'\nsecret = { value = 'Zx9-kQ7s3cret' }\n", 3),
            ("[[clients]]\nid = 'srv'\nsecret = 'Zx9-kQ7s3cret' trailing\n", 3),
        ] {
            let err = PoolConfig::from_toml(text).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidUserPoolConfiguration);
            assert!(!err.message().contains("kQ7"), "{err}");
            assert!(err.message().contains(&format!("line {line}")), "{err}");
        }
    }

    /// The code limits may not add up to more than a one-in-100 chance a day of guessing a
    /// code; the defaults and the tests' own raised limits stay well within.
    #[test]
    fn code_limits_cannot_add_up_to_a_guessable_code() {
        let settings = |codes: &str| PoolConfig::from_toml(&format!("[codes]\n{codes}")).and_then(Settings::new);
        for fine in ["", "max_requests_per_hour = 25", "max_attempts = 100\nmax_requests_per_hour = 4"] {
            settings(fine).unwrap();
        }
        for guessable in
            ["max_attempts = 100\nmax_requests_per_hour = 1000", "max_attempts = 10\nmax_requests_per_hour = 50"]
        {
            let err = settings(guessable).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidUserPoolConfiguration, "{guessable}");
            assert!(err.message().contains("one chance in 100 a day"), "{err}");
        }
        settings("length = 8\nmax_attempts = 100\nmax_requests_per_hour = 400").unwrap();
    }

    /// The lockout settings may not add up to more than 100 wrong passwords within an hour on
    /// one account, however the guesses are timed.
    #[test]
    fn lockout_settings_cannot_add_up_to_unlimited_guessing() {
        let most = |free, max, reset| {
            most_password_guesses_in_an_hour(&LockoutConfig {
                free_attempts: free,
                max_lockout_secs: max,
                reset_after_secs: reset,
            })
        };
        // The default: bursts of twelve guesses (five free, seven more through 127 s of
        // lockouts), each cycle 1,155 s with its last lockout and the 900 s quiet, at 0,
        // 1,155, 2,310 and 3,465 s; the last ends at 3,592 s.
        assert_eq!(most(5, 900, 900), 48);
        for (free, max, reset) in [(5, 900, 900), (3, 600, 300), (10, 3600, 1800), (20, 900, 900)] {
            assert_eq!(most(free, max, reset), by_search(free, max, reset), "{free}, {max}, {reset}");
        }
        assert_eq!(most(1, 86_400, 86_400), 12, "one free, then 1, 2, 4, … 2,048 s");
        assert!(most(100, 86_400, 86_400) > 100, "a hundred free and more through short lockouts");
        assert!(most(100, 1, 1) > 100, "a guess a second");
        let settings = |lockout: &str| PoolConfig::from_toml(&format!("[lockout]\n{lockout}")).and_then(Settings::new);
        for fine in ["", "free_attempts = 10", "free_attempts = 40\nreset_after_secs = 86400\nmax_lockout_secs = 86400"]
        {
            settings(fine).unwrap();
        }
        for open in ["free_attempts = 20", "max_lockout_secs = 1\nreset_after_secs = 1", "reset_after_secs = 60"] {
            let err = settings(open).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidUserPoolConfiguration, "{open}");
            assert!(err.message().contains("wrong passwords within an hour"), "{err}");
        }
    }

    /// The most guesses within an hour by following the schedule guess by guess, choosing
    /// after each whether to go on or to wait for the reset: independent of the knapsack it
    /// checks. `from[at]`: the most guesses from second `at` on, starting on a fresh count.
    fn by_search(free: u32, max: u64, reset: u64) -> u64 {
        let mut from = vec![0_u64; 3600 + 1];
        for at in (0..3600).rev() {
            let (mut t, mut n, mut best) = (at, 0_u32, 0);
            while t <= 3599 {
                n += 1; // a guess at t, then its lockout
                t += crate::flow::user::lockout_secs(n, free, max);
                let after_reset = from.get((t + reset) as usize).copied().unwrap_or(0);
                best = best.max(u64::from(n) + after_reset);
            }
            from[at as usize] = best;
        }
        from[0]
    }

    /// serde quotes a value of the wrong type, and a client secret may be written as one.
    #[test]
    fn a_value_of_the_wrong_type_is_not_quoted() {
        let errors = [
            PoolConfig::from_toml("[[clients]]\nid = 'srv'\nsecret = 98765432109876543\n"),
            PoolConfig::from_toml("[[clients]]\nid = 'srv'\nsecret = 9876.5432109876543\n"),
            PoolConfig::from_json(r#"{"clients": [{"id": "srv", "secret": 98765432109876543}]}"#),
            PoolConfig::from_json(
                r#"{"clients": [{"id": "srv", "secret": true}], "password_policy": {"minimum_length": "987654, expected 321"}}"#,
            ),
            PoolConfig::from_json(r#"{"password_policy": {"minimum_length": "987654, expected 321"}}"#),
        ];
        for error in errors {
            let err = error.unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidUserPoolConfiguration);
            assert!(!err.message().contains("987") && !err.message().contains("321"), "{err}");
            assert!(err.message().contains("invalid type: "), "{err}");
        }
    }

    /// A value of the wrong type, or an unknown key, is named by its key in either format.
    #[test]
    fn a_refused_value_is_named_by_its_key() {
        for (text, key) in [
            ("pool_id = 5\n", "pool_id: invalid type"),
            ("[codes]\nlength = '6'\n", "codes.length: invalid type"),
            ("[[clients]]\nid = 'srv'\nsecret = 5\n", "clients[0].secret: invalid type"),
            ("[codes]\nlenght = 6\n", "codes.lenght: unknown field"),
            (r#"{"pool_id": 5}"#, "pool_id: invalid type"),
            (r#"{"codes": {"length": "6"}}"#, "codes.length: invalid type"),
            (r#"{"clients": [{"id": "srv", "secret": 5}]}"#, "clients[0].secret: invalid type"),
        ] {
            let err = PoolConfig::parse(text).unwrap_err();
            assert!(err.message().contains(key), "{text}: {err}");
        }
        let trailing = PoolConfig::parse(r#"{"pool_id": "a"} x"#).unwrap_err();
        assert!(trailing.message().contains("trailing characters"), "{trailing}");
    }

    #[test]
    fn toml_round_trips() {
        let config = PoolConfig::builder().pool_id("eu_test").mfa(MfaMode::Optional, &["totp"]).build().unwrap();
        assert_eq!(PoolConfig::from_toml(&config.to_toml()).unwrap(), config);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = PoolConfig::from_toml("[password_policy]\nminimum_lenght = 10\n").unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidUserPoolConfiguration);
        assert!(err.message().contains("minimum_lenght"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("[password_policy]\nminimum_length = 3", "password_policy.minimum_length"),
            ("pool_id = 'a b'", "pool_id"),
            ("[password_hashing]\nmemory_kib = 1024", "password_hashing"),
            ("[password_hashing]\nmemory_kib = 7\ndangerous_allow_weak = true", "password_hashing.memory_kib"),
            (
                "[password_hashing]\nmemory_kib = 8\nparallelism = 2\ndangerous_allow_weak = true",
                "password_hashing.memory_kib",
            ),
            ("[sign_in]\nusername_attributes = ['email']\nalias_attributes = ['email']", "sign_in.alias_attributes"),
            ("[[clients]]\nid = 'a'\nrefresh_grace_secs = 120", "clients[0].refresh_grace_secs"),
            ("[mfa]\nmethods = ['carrier-pigeon']", "mfa.methods"),
            ("[[custom_attributes]]\nname = 'custom:this-name-is-far-too-long'", "custom_attributes[0].name"),
            ("[messages]\nreset = 'no code here'", "messages.reset"),
        ] {
            let err = PoolConfig::from_toml(text).unwrap_err();
            assert!(err.message().starts_with(key), "{text:?} gave {err}");
        }
    }

    #[test]
    fn parse_reads_json_and_toml() {
        let from_json = PoolConfig::parse(" \n{\"pool_id\": \"p1\", \"tokens\": {\"algorithm\": \"RS256\"}}").unwrap();
        let from_toml = PoolConfig::parse("pool_id = 'p1'\n[tokens]\nalgorithm = 'RS256'").unwrap();
        assert_eq!(from_json, from_toml);
        assert_eq!(from_json.tokens.algorithm, SigningAlgorithm::RS256);
        assert_eq!(PoolConfig::parse("{not json").unwrap_err().code(), ErrorCode::InvalidUserPoolConfiguration);
        assert_eq!(PoolConfig::parse("").unwrap(), PoolConfig::default());
        // Cognito's spelling of the custom attribute types loads too.
        let cognito = PoolConfig::parse("[[custom_attributes]]\nname = 'since'\ntype = 'DateTime'").unwrap();
        assert_eq!(cognito.custom_attributes[0].kind, AttributeType::Datetime);
        // Saved with a byte-order mark, as some editors do.
        let marked =
            PoolConfig::parse("\u{feff}{\"pool_id\": \"p1\", \"tokens\": {\"algorithm\": \"RS256\"}}").unwrap();
        assert_eq!(marked, from_toml);
        assert_eq!(PoolConfig::parse("\u{feff}pool_id = 'p1'\n[tokens]\nalgorithm = 'RS256'").unwrap(), from_toml);
    }

    #[test]
    fn weak_hashing_needs_the_dangerous_flag() {
        for memory_kib in [256, 8] {
            let text = format!("[password_hashing]\nmemory_kib = {memory_kib}\niterations = 1");
            assert!(PoolConfig::from_toml(&text).is_err());
            PoolConfig::from_toml(&format!("{text}\ndangerous_allow_weak = true")).unwrap();
        }
    }
}
