//! The stored states the machine moves between: a user's record (its status, pending codes,
//! lockout) and a session's refresh-token family.
//!
//! Every record is plain serialisable data with a schema version, so a store can keep it as a
//! blob or as columns and later versions can migrate it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::attributes::Attributes;

/// The newest schema version of [`UserRecord`] and [`Family`] this library reads. Raise it
/// with any new field that an older library must not ignore: stores refuse records newer
/// than the library reading them (see [`Record`]). A record is written with the lowest
/// version that holds what it carries, so that older libraries still read the rest.
pub const RECORD_VERSION: u32 = 2;

/// The version of a record that holds nothing later versions added.
pub(crate) const BASE_RECORD_VERSION: u32 = 1;

/// The version that added [`UserRecord::username_attribute`]. An older library would drop
/// the field when writing the user back, and then take the user's unverified other address
/// as a sign-in key: a write that fails for good once another user signs in by it.
pub(crate) const USERNAME_ATTRIBUTE_RECORD_VERSION: u32 = 2;

/// Whether a field holds its default, which a record leaves out: most users have no code,
/// challenge, group or second factor, and the fields that say so were a third of a record.
/// Only fields that every version of this library reads as their default when missing may
/// be left out (`#[serde(default)]`, or an `Option`); `lockout` and `attribute_codes` are
/// always written, because the first versions require them.
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A stored record, which says which version of the format wrote it. A store refuses to
/// hand out one newer than [`RECORD_VERSION`]: the library would not see what the newer
/// one added (a second factor it does not know, say) and would drop it when writing the
/// record back.
pub trait Record {
    /// The [`RECORD_VERSION`] of the library that wrote it.
    fn record_version(&self) -> u32;
}

impl Record for UserRecord {
    fn record_version(&self) -> u32 {
        self.record_version
    }
}

impl Record for Family {
    fn record_version(&self) -> u32 {
        self.record_version
    }
}

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
    /// Every status.
    pub const ALL: [Self; 4] = [Self::Unconfirmed, Self::Confirmed, Self::ForceChangePassword, Self::ResetRequired];

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
    /// In a pool whose users sign in by email or phone number, the one of the two this user
    /// signed up with: their username, a sign-in key whether verified or not. The other
    /// address becomes a key only once verified, as an alias does, so that nobody can hold
    /// someone else's address by naming it. Absent on users made before it was kept (both
    /// addresses are then keys, as they were) and in pools of usernames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_attribute: Option<String>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_password_expires_ms: Option<i64>,
    /// Creation time (unix ms).
    pub created_ms: i64,
    /// Last change (unix ms).
    pub updated_ms: i64,
    /// Failed-password state.
    pub lockout: Lockout,
    /// Sign-up confirmation code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_up_code: Option<PendingCode>,
    /// Forgot-password code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_code: Option<PendingCode>,
    /// Attribute verification codes, by attribute.
    pub attribute_codes: BTreeMap<String, PendingAttribute>,
    /// Groups the user belongs to.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub groups: BTreeSet<String>,
    /// The generation of each group when the user joined it (absent: 0, a group created
    /// before generations existed). A membership counts only while its group still has that
    /// generation: one left over from a deleted group never carries over to a new group of
    /// the same name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_generations: BTreeMap<String, u64>,
    /// The sign-in challenge in progress, if any (one at a time per user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<Challenge>,
    /// Second factors.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mfa: MfaSettings,
    /// Wrong second factors, counted on the lockout schedule across sign-ins.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mfa_lockout: Lockout,
    /// When the codes the user asked for in the last hour were sent (unix ms), for
    /// `codes.max_requests_per_hour`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_requests_ms: Vec<i64>,
}

/// A second factor.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MfaMethod {
    /// Authenticator app (RFC 6238).
    Totp,
    /// A code by SMS.
    Sms,
    /// A code by email.
    Email,
}

impl MfaMethod {
    /// Amplify's name: `TOTP`, `SMS`, `EMAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "TOTP",
            Self::Sms => "SMS",
            Self::Email => "EMAIL",
        }
    }

    /// Cognito's name: `SOFTWARE_TOKEN_MFA`, `SMS_MFA`, `EMAIL_OTP`.
    pub fn cognito_name(self) -> &'static str {
        match self {
            Self::Totp => "SOFTWARE_TOKEN_MFA",
            Self::Sms => "SMS_MFA",
            Self::Email => "EMAIL_OTP",
        }
    }

    /// Parses Amplify's or Cognito's name (case-insensitive), or the config name.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "TOTP" | "SOFTWARE_TOKEN_MFA" => Some(Self::Totp),
            "SMS" | "SMS_MFA" | "SMS_OTP" => Some(Self::Sms),
            "EMAIL" | "EMAIL_OTP" | "EMAIL_MFA" => Some(Self::Email),
            _ => None,
        }
    }

    /// The attribute a code method delivers to.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Self::Sms => "phone_number",
            Self::Email | Self::Totp => "email",
        }
    }
}

/// An authenticator app bound to the account. The secret is sealed when the host gives an
/// encryption key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpDevice {
    /// The secret (sealed, base64url).
    pub secret: String,
    /// A name the user gave it.
    pub friendly_name: String,
    /// The last step accepted; only later steps are accepted (RFC 6238 §5.2).
    pub last_step: u64,
    /// When it was verified (unix ms).
    pub created_ms: i64,
}

impl fmt::Debug for TotpDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpDevice")
            .field("friendly_name", &self.friendly_name)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// A TOTP secret handed out by `associate_software_token`, waiting for its first code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTotp {
    /// The secret (sealed, base64url).
    pub secret: String,
    /// Wrong codes so far; the secret is dropped after the code attempt cap.
    pub attempts: u32,
}

impl fmt::Debug for PendingTotp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingTotp").field("attempts", &self.attempts).finish_non_exhaustive()
    }
}

/// A user's second factors and preference.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaSettings {
    /// The verified authenticator app, if any.
    pub totp: Option<TotpDevice>,
    /// Whether TOTP is used at sign-in.
    pub totp_enabled: bool,
    /// A secret waiting for `verify_software_token`.
    pub pending_totp: Option<PendingTotp>,
    /// Whether SMS codes are used at sign-in.
    pub sms_enabled: bool,
    /// Whether email codes are used at sign-in.
    pub email_enabled: bool,
    /// The method used when several are enabled.
    pub preferred: Option<MfaMethod>,
}

impl MfaSettings {
    /// The methods enabled for sign-in, in a stable order.
    pub fn enabled(&self) -> Vec<MfaMethod> {
        let mut methods = Vec::new();
        if self.totp_enabled && self.totp.is_some() {
            methods.push(MfaMethod::Totp);
        }
        if self.sms_enabled {
            methods.push(MfaMethod::Sms);
        }
        if self.email_enabled {
            methods.push(MfaMethod::Email);
        }
        methods
    }
}

/// What a sign-in challenge waits for.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChallengeKind {
    /// A new password replacing the temporary one, with required attributes still missing.
    NewPasswordRequired {
        /// Required attributes the user has not set yet.
        missing: Vec<String>,
    },
    /// A choice between several enabled second factors.
    SelectMfa {
        /// The methods to choose from.
        options: Vec<MfaMethod>,
    },
    /// A second-factor code: from the authenticator app, or sent by SMS or email.
    Mfa {
        /// The method.
        method: MfaMethod,
        /// The code sent (SMS, email); `None` for TOTP.
        code: Option<PendingCode>,
    },
    /// MFA is required and nothing is set up: the user adds an authenticator app.
    TotpSetup {
        /// The new secret (sealed, base64url).
        secret: String,
    },
}

impl ChallengeKind {
    /// A short name for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NewPasswordRequired { .. } => "NEW_PASSWORD_REQUIRED",
            Self::SelectMfa { .. } => "SELECT_MFA_TYPE",
            Self::Mfa { method: MfaMethod::Totp, .. } => "SOFTWARE_TOKEN_MFA",
            Self::Mfa { method: MfaMethod::Sms, .. } => "SMS_MFA",
            Self::Mfa { method: MfaMethod::Email, .. } => "EMAIL_OTP",
            Self::TotpSetup { .. } => "MFA_SETUP",
        }
    }
}

impl fmt::Debug for ChallengeKind {
    /// Without the authenticator secret a setup offers: sealed only under a host key, it is
    /// the user's second factor in the clear otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NewPasswordRequired { missing } => {
                f.debug_struct("NewPasswordRequired").field("missing", missing).finish()
            }
            Self::SelectMfa { options } => f.debug_struct("SelectMfa").field("options", options).finish(),
            Self::Mfa { method, code } => f.debug_struct("Mfa").field("method", method).field("code", code).finish(),
            Self::TotpSetup { .. } => f.debug_struct("TotpSetup").field("secret", &"<redacted>").finish(),
        }
    }
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
    /// SHA-256 of the `SECRET_HASH` the sign-in proved its client's secret with, when it
    /// proved it so: an answer may prove it with the same one, whatever name it was computed
    /// over (a verified alias, say, which the answer does not name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hash_digest: Option<String>,
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
            .field("username_attribute", &self.username_attribute)
            .field("status", &self.status)
            .field("enabled", &self.enabled)
            .field("password_hash", &"<redacted>")
            .field("lockout", &self.lockout)
            .finish_non_exhaustive()
    }
}

impl UserRecord {
    /// Records which address (`email`, `phone_number`) the user signed up with, in the
    /// record version that carries it.
    pub(crate) fn set_username_attribute(&mut self, attribute: &str) {
        self.username_attribute = Some(attribute.to_owned());
        self.record_version = self.record_version.max(USERNAME_ATTRIBUTE_RECORD_VERSION);
    }

    /// Whether `attribute` (`email`, `phone_number`) is present and verified.
    pub fn is_verified(&self, attribute: &str) -> bool {
        self.attributes.contains_key(attribute)
            && self.attributes.get(&format!("{attribute}_verified")).map(String::as_str) == Some("true")
    }

    /// Bytes of JSON the user's own claims take in an ID token: the attributes and the
    /// groups (see [`crate::flow::check_token_size`]).
    pub(crate) fn claims_len(&self) -> usize {
        let attributes = serde_json::to_vec(&self.attributes).map_or(usize::MAX, |json| json.len());
        let groups = serde_json::to_vec(&self.groups).map_or(usize::MAX, |json| json.len());
        attributes.saturating_add(groups)
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
    /// SHA-256 of tokens that retries within the grace window issued before the live one,
    /// each as live as it (oldest first, at most [`MAX_SIBLINGS`]): two refreshes of one token
    /// at once each get a token, and the client may keep either. The first one used ends
    /// the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub siblings: Vec<String>,
}

/// The most tokens a grace window's retries keep live beside the current one.
pub const MAX_SIBLINGS: usize = 4;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::sample_user;

    #[test]
    fn a_challenge_offering_an_authenticator_does_not_print_its_secret() {
        let mut user = sample_user("s1", "alice");
        user.challenge = Some(Challenge {
            session_hash: "h".into(),
            kind: ChallengeKind::TotpSetup { secret: "SEALED-OR-PLAIN-SEED".into() },
            client_id: "app".into(),
            created_ms: 1,
            expires_ms: 2,
            attempts: 0,
            secret_hash_digest: None,
        });
        let printed = format!("{user:?} {:?} {:?}", user.challenge, user.challenge.as_ref().map(|c| &c.kind));
        assert!(printed.contains("TotpSetup") && !printed.contains("SEALED-OR-PLAIN-SEED"), "{printed}");
    }

    /// What versions before the compact records wrote for `sample_user("s1", "alice")`:
    /// every field spelled out, the empty ones as `null`, `[]` and zeros.
    const SPELLED_OUT_RECORD: &str = r#"{"record_version":1,"sub":"s1","username":"alice","status":"CONFIRMED","enabled":true,"attributes":{"email":"alice@example.com"},"password_hash":"$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA","password_changed_ms":1,"temporary_password_expires_ms":null,"created_ms":1,"updated_ms":1,"lockout":{"failures":0,"last_failure_ms":0,"locked_until_ms":0},"sign_up_code":null,"reset_code":null,"attribute_codes":{},"groups":[],"challenge":null,"mfa":{"totp":null,"totp_enabled":false,"pending_totp":null,"sms_enabled":false,"email_enabled":false,"preferred":null},"mfa_lockout":{"failures":0,"last_failure_ms":0,"locked_until_ms":0}}"#;

    /// The first version's `UserRecord` (`6ddbba2`), as far as decoding goes: which fields
    /// it requires, which it reads as their default when missing. Later versions only added
    /// fields with `#[serde(default)]`.
    #[derive(Deserialize)]
    #[expect(dead_code, reason = "only decoded, to see that the first version could")]
    struct FirstVersionUser {
        record_version: u32,
        sub: String,
        username: String,
        status: UserStatus,
        enabled: bool,
        attributes: Attributes,
        password_hash: String,
        password_changed_ms: i64,
        temporary_password_expires_ms: Option<i64>,
        created_ms: i64,
        updated_ms: i64,
        lockout: Lockout,
        sign_up_code: Option<PendingCode>,
        reset_code: Option<PendingCode>,
        attribute_codes: BTreeMap<String, PendingAttribute>,
        #[serde(default)]
        groups: BTreeSet<String>,
        #[serde(default)]
        challenge: Option<Challenge>,
    }

    #[test]
    fn a_record_leaves_out_the_fields_that_hold_their_defaults() {
        let user = sample_user("s1", "alice");
        let json = serde_json::to_string(&user).unwrap();
        for left_out in
            ["temporary_password_expires_ms", "sign_up_code", "reset_code", "groups", "challenge", "mfa", "mfa_lockout"]
        {
            assert!(!json.contains(&format!("\"{left_out}\"")), "{left_out} in {json}");
        }
        // The first version requires these two, so they are always written.
        assert!(json.contains(r#""lockout":"#) && json.contains(r#""attribute_codes":{}"#), "{json}");
        assert!(json.len() * 3 < SPELLED_OUT_RECORD.len() * 2, "not a third smaller: {json}");
        assert_eq!(serde_json::from_str::<UserRecord>(&json).unwrap(), user);
        assert_eq!(serde_json::from_str::<UserRecord>(SPELLED_OUT_RECORD).unwrap(), user, "older records still read");
        let first = serde_json::from_str::<FirstVersionUser>(&json);
        assert!(first.is_ok(), "the first version cannot read the new record: {:?}", first.err());
    }

    #[test]
    fn fields_that_hold_something_are_written_and_read_back() {
        let code =
            PendingCode { tag: "tag".into(), issued_ms: 1, expires_ms: 2, attempts: 1, attribute: "email".into() };
        let mut user = sample_user("s1", "alice");
        user.temporary_password_expires_ms = Some(5);
        user.sign_up_code = Some(code.clone());
        user.reset_code = Some(code);
        user.groups.insert("admins".into());
        user.mfa.sms_enabled = true;
        user.mfa_lockout.failures = 2;
        let json = serde_json::to_string(&user).unwrap();
        for written in ["temporary_password_expires_ms", "sign_up_code", "reset_code", "groups", "mfa", "mfa_lockout"] {
            assert!(json.contains(&format!("\"{written}\"")), "{written} missing from {json}");
        }
        assert_eq!(serde_json::from_str::<UserRecord>(&json).unwrap(), user);
    }
}
