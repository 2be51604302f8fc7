//! The stored states the machine moves between: a user's record (its status, pending codes,
//! lockout) and a session's refresh-token family.
//!
//! Every record is plain serialisable data with a schema version, so a store can keep it as a
//! blob or as columns and later versions can migrate it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::attributes::Attributes;

/// Schema version of [`UserRecord`] and [`Family`] as written by this library.
pub const RECORD_VERSION: u32 = 1;

/// A user's account status (Cognito's `UserStatusType`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    /// Signed up, waiting for the confirmation code.
    Unconfirmed,
    /// Confirmed; can sign in.
    Confirmed,
    /// Created by an administrator with a temporary password that must be replaced.
    ForceChangePassword,
    /// Must reset the password (after `admin_reset_user_password`).
    ResetRequired,
}

impl UserStatus {
    /// Cognito's name: `UNCONFIRMED`, `CONFIRMED`, `FORCE_CHANGE_PASSWORD`, `RESET_REQUIRED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unconfirmed => "UNCONFIRMED",
            Self::Confirmed => "CONFIRMED",
            Self::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            Self::ResetRequired => "RESET_REQUIRED",
        }
    }
}

/// A one-time code waiting to be redeemed; only its keyed hash is kept.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCode {
    /// HMAC tag of the code (never the code).
    pub tag: String,
    /// When it was issued (unix ms).
    pub issued_ms: i64,
    /// When it stops being valid (unix ms).
    pub expires_ms: i64,
    /// Wrong answers so far.
    pub attempts: u32,
    /// The attribute the code was sent to (`email` or `phone_number`).
    pub attribute: String,
}

impl fmt::Debug for PendingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingCode")
            .field("expires_ms", &self.expires_ms)
            .field("attempts", &self.attempts)
            .field("attribute", &self.attribute)
            .finish_non_exhaustive()
    }
}

/// A new email or phone number waiting for its verification code before it replaces the
/// current value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAttribute {
    /// The value that will replace the current one once verified (`None`: verifying the
    /// current value).
    pub value: Option<String>,
    /// The code sent to it.
    pub code: PendingCode,
}

/// Failed-password bookkeeping for Cognito's progressive lockout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockout {
    /// Consecutive failures (attempts are counted before the hash is checked).
    pub failures: u32,
    /// Time of the last counted attempt (unix ms).
    pub last_failure_ms: i64,
    /// No attempt is accepted before this time (unix ms).
    pub locked_until_ms: i64,
}

/// Everything stored about one user.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Schema version.
    pub record_version: u32,
    /// Immutable unique id (UUID).
    pub sub: String,
    /// The username as given (the `sub` when email/phone is the username).
    pub username: String,
    /// Account status.
    pub status: UserStatus,
    /// Whether the account may sign in (administrators disable it).
    pub enabled: bool,
    /// Attributes, including `email_verified` / `phone_number_verified`.
    pub attributes: Attributes,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// When the password was last set (unix ms).
    pub password_changed_ms: i64,
    /// When a temporary password stops working (FORCE_CHANGE_PASSWORD only).
    pub temporary_password_expires_ms: Option<i64>,
    /// Creation time (unix ms).
    pub created_ms: i64,
    /// Last change (unix ms).
    pub updated_ms: i64,
    /// Failed-password state.
    pub lockout: Lockout,
    /// Sign-up confirmation code.
    pub sign_up_code: Option<PendingCode>,
    /// Forgot-password code.
    pub reset_code: Option<PendingCode>,
    /// Attribute verification codes, by attribute.
    pub attribute_codes: BTreeMap<String, PendingAttribute>,
    /// Groups the user belongs to.
    #[serde(default)]
    pub groups: BTreeSet<String>,
    /// The sign-in challenge in progress, if any (one at a time per user).
    #[serde(default)]
    pub challenge: Option<Challenge>,
}

/// What a sign-in challenge waits for.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChallengeKind {
    /// A new password replacing the temporary one, with required attributes still missing.
    NewPasswordRequired {
        /// Required attributes the user has not set yet.
        missing: Vec<String>,
    },
}

/// A sign-in waiting for an answer through `confirm_sign_in`. The opaque session string the
/// caller holds is stored only as a hash; it is single-use, expires, and dies after too many
/// wrong answers.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// SHA-256 of the session secret.
    pub session_hash: String,
    /// What is asked for.
    pub kind: ChallengeKind,
    /// The app client the sign-in started on.
    pub client_id: String,
    /// When the session was created (unix ms).
    pub created_ms: i64,
    /// When it stops being valid (unix ms).
    pub expires_ms: i64,
    /// Wrong answers so far.
    pub attempts: u32,
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Challenge")
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("expires_ms", &self.expires_ms)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("sub", &self.sub)
            .field("username", &self.username)
            .field("status", &self.status)
            .field("enabled", &self.enabled)
            .field("password_hash", &"<redacted>")
            .field("lockout", &self.lockout)
            .finish_non_exhaustive()
    }
}

impl UserRecord {
    /// Whether `attribute` (`email`, `phone_number`) is present and verified.
    pub fn is_verified(&self, attribute: &str) -> bool {
        self.attributes.contains_key(attribute)
            && self.attributes.get(&format!("{attribute}_verified")).map(String::as_str) == Some("true")
    }
}

/// One sign-in session: a family of refresh tokens, each replacing the one before.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    /// Schema version.
    pub record_version: u32,
    /// Family id; the `origin_jti` of every token issued in this session.
    pub id: String,
    /// The user.
    pub sub: String,
    /// The app client.
    pub client_id: String,
    /// When the user authenticated (unix ms); kept on refresh.
    pub auth_time_ms: i64,
    /// When the session started (unix ms).
    pub created_ms: i64,
    /// Absolute end of the session (unix ms).
    pub expires_ms: i64,
    /// Revoked by sign-out, global sign-out, disable, or reuse detection.
    pub revoked: bool,
    /// Rotations so far.
    pub generation: u32,
    /// SHA-256 of the live refresh token.
    pub current_hash: String,
    /// SHA-256 of the token it replaced, retriable within the grace window.
    pub previous_hash: Option<String>,
    /// When the last rotation happened (unix ms).
    pub rotated_ms: Option<i64>,
}

impl fmt::Debug for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("id", &self.id)
            .field("sub", &self.sub)
            .field("client_id", &self.client_id)
            .field("revoked", &self.revoked)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// What an audit event records.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A password sign-in.
    SignIn,
    /// A new account.
    SignUp,
    /// Account confirmed.
    ConfirmSignUp,
    /// A forgotten-password code was requested.
    ForgotPassword,
    /// The password changed (change, reset, admin set).
    PasswordChange,
    /// One session ended.
    SignOut,
    /// Every session ended.
    GlobalSignOut,
    /// Too many failed passwords: locked out.
    Lockout,
    /// A rotated-out refresh token came back; its family was revoked.
    RefreshTokenReuse,
    /// Disabled by an administrator.
    Disabled,
    /// Re-enabled by an administrator.
    Enabled,
}

impl EventKind {
    /// The event's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "SignIn",
            Self::SignUp => "SignUp",
            Self::ConfirmSignUp => "ConfirmSignUp",
            Self::ForgotPassword => "ForgotPassword",
            Self::PasswordChange => "PasswordChange",
            Self::SignOut => "SignOut",
            Self::GlobalSignOut => "GlobalSignOut",
            Self::Lockout => "Lockout",
            Self::RefreshTokenReuse => "RefreshTokenReuse",
            Self::Disabled => "Disabled",
            Self::Enabled => "Enabled",
        }
    }
}

/// An authentication event, kept for `admin_list_user_auth_events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The user.
    pub sub: String,
    /// What happened.
    pub kind: EventKind,
    /// Whether it succeeded (`Pass`) or not (`Fail`).
    pub success: bool,
    /// When (unix ms).
    pub at_ms: i64,
    /// A short reason for failures (never a secret).
    pub detail: String,
}
