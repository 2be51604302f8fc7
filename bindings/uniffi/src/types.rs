//! The records and enums that cross the FFI, and their conversions from the engine's types.
//!
//! Every conversion is field-for-field. The engine's enums are `#[non_exhaustive]`, so a
//! conversion from one of them is fallible: a value this binding was not built to know
//! becomes `InternalErrorException` rather than a guess.

use std::collections::HashMap;

use userpool as up;
use zeroize::Zeroizing;

use crate::error::AuthError;

/// Converts an engine value into its FFI form.
pub(crate) trait FromCore<T>: Sized {
    /// The FFI value, or `InternalErrorException` for an engine value this binding does not know.
    fn from_core(value: T) -> Result<Self, AuthError>;
}

impl FromCore<()> for () {
    fn from_core((): ()) -> Result<Self, AuthError> {
        Ok(())
    }
}

impl FromCore<String> for String {
    fn from_core(value: String) -> Result<Self, AuthError> {
        Ok(value)
    }
}

impl<T, U: FromCore<T>> FromCore<Vec<T>> for Vec<U> {
    fn from_core(value: Vec<T>) -> Result<Self, AuthError> {
        value.into_iter().map(U::from_core).collect()
    }
}

impl<T, U: FromCore<T>> FromCore<Option<T>> for Option<U> {
    fn from_core(value: Option<T>) -> Result<Self, AuthError> {
        value.map(U::from_core).transpose()
    }
}

/// A secret text: a token, a challenge session, a TOTP secret, a code, a password hash.
/// Kotlin and Swift get it as their own `Secret` class (`bindings/uniffi/kotlin/…/Secret.kt`,
/// `swift/Sources/UserPool/Secret.swift`, mapped in `uniffi.toml`), whose `toString()` and
/// `description` never show it, so that logging a result (`Log.d(TAG, "$result")`) leaks
/// nothing; `reveal()` gives the text. Zeroized when dropped here, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// The text.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// The text itself, moved out rather than copied, so that no second copy is left unwiped.
    pub(crate) fn into_text(mut self) -> String {
        std::mem::take(&mut *self.0)
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self(Zeroizing::new(text))
    }
}

impl From<Zeroizing<String>> for Secret {
    fn from(text: Zeroizing<String>) -> Self {
        Self(text)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

// uniffi copies the text into the buffer it hands Kotlin or Swift, which is freed there unwiped,
// and frees the copy given here unwiped too (docs/bindings/kotlin.md, "Secrets in memory").
uniffi::custom_type!(Secret, String, {
    lower: |secret| secret.reveal().to_owned(),
    try_lift: |text| Ok(Secret::from(text)),
});

impl FromCore<String> for Secret {
    fn from_core(value: String) -> Result<Self, AuthError> {
        Ok(Self::from(value))
    }
}

impl FromCore<Zeroizing<String>> for Secret {
    fn from_core(value: Zeroizing<String>) -> Result<Self, AuthError> {
        Ok(Self::from(value))
    }
}

/// Verified claims cross as one JSON object (their values are strings, numbers and lists).
impl FromCore<up::Claims> for String {
    fn from_core(value: up::Claims) -> Result<Self, AuthError> {
        Ok(serde_json::Value::Object(value).to_string())
    }
}

/// Attributes as name → value, as the engine's [`up::Attributes`].
pub(crate) fn to_attributes(map: HashMap<String, String>) -> up::Attributes {
    map.into_iter().collect()
}

fn unknown(what: &str, value: impl std::fmt::Debug) -> AuthError {
    AuthError::InternalErrorException(format!("this build of the binding does not know the {what} {value:?}"))
}

/// Declares an FFI enum mirroring an engine enum, variant for variant.
macro_rules! mirror_enum {
    ($(#[$meta:meta])* $name:ident from $core:path as $what:literal { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl FromCore<$core> for $name {
            fn from_core(value: $core) -> Result<Self, AuthError> {
                #[allow(unreachable_patterns, reason = "the engine's enum is non-exhaustive")]
                match value {
                    $(<$core>::$variant => Ok(Self::$variant),)+
                    other => Err(unknown($what, other)),
                }
            }
        }
    };
}

mirror_enum! {
    /// The next step after `signUp` (Amplify v6's `signUpStep`).
    SignUpStep from up::SignUpStep as "sign-up step" {
        /// Enter the code that was sent (`confirmSignUp`).
        ConfirmSignUp,
        /// Nothing left to do.
        Done,
    }
}

mirror_enum! {
    /// The next step of a sign-in (Amplify v6's `signInStep`): loop on `confirmSignIn` until `DONE`.
    SignInStep from up::SignInStep as "sign-in step" {
        /// Signed in; `tokens` is set.
        Done,
        /// The account is not confirmed yet: confirm it, then sign in again.
        ConfirmSignUp,
        /// The password must be reset (`forgotPassword`, then `confirmForgotPassword`).
        ResetPassword,
        /// Answer `confirmSignIn` with a new password (and the `missingAttributes`).
        ConfirmSignInWithNewPasswordRequired,
        /// Answer with the code from the authenticator app.
        ConfirmSignInWithTotpCode,
        /// Answer with the code sent by SMS.
        ConfirmSignInWithSmsCode,
        /// Answer with the code sent by email.
        ConfirmSignInWithEmailCode,
        /// Answer with one of `allowedMfaTypes` (`TOTP`, `SMS` or `EMAIL`).
        ContinueSignInWithMfaSelection,
        /// Add the authenticator in `totpSetup`, then answer with its code.
        ContinueSignInWithTotpSetup,
    }
}

mirror_enum! {
    /// The channel a message goes out on (Cognito's `DeliveryMedium`).
    Channel from up::Channel as "channel" {
        /// An email address.
        Email,
        /// A phone number, by SMS.
        Sms,
    }
}

mirror_enum! {
    /// Why a message is sent.
    Purpose from up::Purpose as "message purpose" {
        /// Confirm a new account.
        SignUp,
        /// Reset a forgotten password.
        ForgotPassword,
        /// Verify a new or changed email or phone number.
        VerifyAttribute,
        /// An invitation with a temporary password.
        Invitation,
        /// A second factor during sign-in.
        Mfa,
    }
}

mirror_enum! {
    /// A second factor (Amplify's `TOTP`, `SMS`, `EMAIL`).
    MfaMethod from up::MfaMethod as "MFA method" {
        /// Authenticator app (RFC 6238).
        Totp,
        /// A code by SMS.
        Sms,
        /// A code by email.
        Email,
    }
}

mirror_enum! {
    /// A user's account status (Cognito's `UserStatusType`).
    UserStatus from up::UserStatus as "user status" {
        /// Signed up, waiting for the confirmation code.
        Unconfirmed,
        /// Confirmed; can sign in.
        Confirmed,
        /// Created by an administrator with a temporary password that must be replaced.
        ForceChangePassword,
        /// Must reset the password.
        ResetRequired,
    }
}

mirror_enum! {
    /// What an audit event records.
    EventKind from up::EventKind as "event kind" {
        /// A password sign-in.
        SignIn,
        /// A new account.
        SignUp,
        /// Account confirmed.
        ConfirmSignUp,
        /// A forgotten-password code was requested.
        ForgotPassword,
        /// The password changed.
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
}

/// How `setMfaPreference` sets one method (Amplify's `updateMFAPreference`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum MfaPreference {
    /// Use this method at sign-in.
    Enabled,
    /// Do not use this method.
    Disabled,
    /// Use this method, and prefer it when several are enabled.
    Preferred,
    /// Use this method, but do not prefer it.
    NotPreferred,
}

impl From<MfaPreference> for up::MfaPreference {
    fn from(value: MfaPreference) -> Self {
        match value {
            MfaPreference::Enabled => Self::Enabled,
            MfaPreference::Disabled => Self::Disabled,
            MfaPreference::Preferred => Self::Preferred,
            MfaPreference::NotPreferred => Self::NotPreferred,
        }
    }
}

/// Where a code was sent, with the destination masked.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CodeDelivery {
    /// Email or SMS.
    pub channel: Channel,
    /// The destination, masked (`a***@e***`).
    pub destination: String,
    /// The attribute delivered to (`email`, `phone_number`).
    pub attribute: String,
}

impl FromCore<up::CodeDelivery> for CodeDelivery {
    fn from_core(d: up::CodeDelivery) -> Result<Self, AuthError> {
        Ok(Self { channel: Channel::from_core(d.channel)?, destination: d.destination, attribute: d.attribute })
    }
}

/// The outcome of `signUp`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SignUpResult {
    /// The new user's `sub`.
    pub user_sub: String,
    /// Whether the account is already confirmed.
    pub confirmed: bool,
    /// What to do next.
    pub next_step: SignUpStep,
    /// Where the confirmation code went.
    pub code_delivery: Option<CodeDelivery>,
}

impl FromCore<up::SignUpResult> for SignUpResult {
    fn from_core(r: up::SignUpResult) -> Result<Self, AuthError> {
        Ok(Self {
            user_sub: r.user_sub,
            confirmed: r.confirmed,
            next_step: SignUpStep::from_core(r.next_step)?,
            code_delivery: Option::from_core(r.code_delivery)?,
        })
    }
}

/// ID, access and refresh tokens.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Tokens {
    /// The ID token (JWT): who the user is.
    pub id_token: Secret,
    /// The access token (JWT): what the bearer may do.
    pub access_token: Secret,
    /// The refresh token (opaque); after a rotation, the new one.
    pub refresh_token: Secret,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Always `"Bearer"`.
    pub token_type: String,
}

impl FromCore<up::Tokens> for Tokens {
    fn from_core(t: up::Tokens) -> Result<Self, AuthError> {
        Ok(Self {
            id_token: t.id_token.into(),
            access_token: t.access_token.into(),
            refresh_token: t.refresh_token.into(),
            expires_in: t.expires_in,
            token_type: t.token_type.to_owned(),
        })
    }
}

/// A new authenticator to add: show `uri` as a QR code, or `secret` for typing in.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct TotpSetup {
    /// The shared secret, base32.
    pub secret: Secret,
    /// `otpauth://totp/{pool name}:{username}?secret=…&issuer={pool name}`.
    pub uri: Secret,
}

impl FromCore<up::TotpSetup> for TotpSetup {
    fn from_core(t: up::TotpSetup) -> Result<Self, AuthError> {
        Ok(Self { secret: t.secret.into(), uri: t.uri.into() })
    }
}

/// The outcome of `signIn` and `confirmSignIn`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SignInResult {
    /// What to do next.
    pub next_step: SignInStep,
    /// Tokens, when `next_step` is `DONE`.
    pub tokens: Option<Tokens>,
    /// The opaque challenge session to pass to `confirmSignIn`.
    pub session: Option<Secret>,
    /// Required attributes to give with the new password.
    pub missing_attributes: Vec<String>,
    /// Where an SMS or email code went.
    pub code_delivery: Option<CodeDelivery>,
    /// The methods to choose from.
    pub allowed_mfa_types: Vec<MfaMethod>,
    /// The authenticator to add (`CONTINUE_SIGN_IN_WITH_TOTP_SETUP`).
    pub totp_setup: Option<TotpSetup>,
}

impl FromCore<up::SignInResult> for SignInResult {
    fn from_core(r: up::SignInResult) -> Result<Self, AuthError> {
        Ok(Self {
            next_step: SignInStep::from_core(r.next_step)?,
            tokens: Option::from_core(r.tokens)?,
            session: Option::from_core(r.session)?,
            missing_attributes: r.missing_attributes,
            code_delivery: Option::from_core(r.code_delivery)?,
            allowed_mfa_types: Vec::from_core(r.allowed_mfa_types)?,
            totp_setup: Option::from_core(r.totp_setup)?,
        })
    }
}

/// A user, as `getUser`, `adminGetUser` and `listUsers` report it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct User {
    /// The username (the `sub` when email or phone is the username).
    pub username: String,
    /// Immutable unique id.
    pub sub: String,
    /// Account status.
    pub status: UserStatus,
    /// Whether the account may sign in.
    pub enabled: bool,
    /// Attributes (including `sub`), filtered by the client's read permissions.
    pub attributes: HashMap<String, String>,
    /// Creation time (unix ms).
    pub created_ms: i64,
    /// Last change (unix ms).
    pub updated_ms: i64,
    /// Second factors enabled for sign-in.
    pub mfa_enabled: Vec<MfaMethod>,
    /// The preferred second factor.
    pub preferred_mfa: Option<MfaMethod>,
    /// Groups, ordered by precedence then name.
    pub groups: Vec<String>,
    /// In a pool whose `username_attributes` hold both `email` and `phone_number`, the one
    /// this user signed up with: their username. Absent otherwise.
    pub username_attribute: Option<String>,
}

impl FromCore<up::User> for User {
    fn from_core(u: up::User) -> Result<Self, AuthError> {
        Ok(Self {
            username: u.username,
            sub: u.sub,
            status: UserStatus::from_core(u.status)?,
            enabled: u.enabled,
            attributes: u.attributes.into_iter().collect(),
            created_ms: u.created_ms,
            updated_ms: u.updated_ms,
            mfa_enabled: Vec::from_core(u.mfa_enabled)?,
            preferred_mfa: Option::from_core(u.preferred_mfa)?,
            groups: u.groups,
            username_attribute: u.username_attribute,
        })
    }
}

/// A page of `listUsers` or `listUsersInGroup`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct UserList {
    /// The users.
    pub users: Vec<User>,
    /// Pass to the next call to get the next page.
    pub pagination_token: Option<String>,
}

impl FromCore<up::UserList> for UserList {
    fn from_core(l: up::UserList) -> Result<Self, AuthError> {
        Ok(Self { users: Vec::from_core(l.users)?, pagination_token: l.pagination_token })
    }
}

/// A page of `listGroups`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct GroupList {
    /// The groups, by name.
    pub groups: Vec<Group>,
    /// Pass to the next call to get the next page.
    pub pagination_token: Option<String>,
}

impl FromCore<up::GroupList> for GroupList {
    fn from_core(l: up::GroupList) -> Result<Self, AuthError> {
        Ok(Self { groups: Vec::from_core(l.groups)?, pagination_token: l.pagination_token })
    }
}

/// One user for `adminImportUsers` (a row of Cognito's user-import CSV).
#[derive(Clone, Debug, uniffi::Record)]
pub struct ImportUser {
    /// The username (`cognito:username`); an email or phone number in pools where those are
    /// the username.
    pub username: String,
    /// Attributes, including `email_verified` / `phone_number_verified` (set as given).
    #[uniffi(default)]
    pub attributes: HashMap<String, String>,
    /// An argon2id PHC string of the user's password (migrations from a system that already
    /// hashes with argon2id): the user is imported CONFIRMED. Null, as in Cognito's import,
    /// imports the user in RESET_REQUIRED without a password.
    #[uniffi(default = None)]
    pub password_hash: Option<Secret>,
}

impl From<ImportUser> for up::ImportUser {
    fn from(u: ImportUser) -> Self {
        Self {
            username: u.username,
            attributes: to_attributes(u.attributes),
            password_hash: u.password_hash.map(Secret::into_text),
        }
    }
}

/// What `adminImportUsers` did with one user: its new `sub`, or why it was not imported.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ImportOutcome {
    /// The new user's `sub`, when imported.
    pub sub: Option<String>,
    /// Why not: the Cognito exception name (`UsernameExistsException`, …).
    pub code: Option<String>,
    /// Why not, for people.
    pub message: Option<String>,
}

impl FromCore<up::Result<String>> for ImportOutcome {
    fn from_core(outcome: up::Result<String>) -> Result<Self, AuthError> {
        Ok(match outcome {
            Ok(sub) => Self { sub: Some(sub), code: None, message: None },
            Err(e) => {
                Self { sub: None, code: Some(e.code().as_str().to_owned()), message: Some(e.message().to_owned()) }
            }
        })
    }
}

/// The outcome of `adminCreateUser`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CreatedUser {
    /// The new user.
    pub user: User,
    /// Where the invitation went, if one was sent.
    pub code_delivery: Option<CodeDelivery>,
}

impl FromCore<up::CreatedUser> for CreatedUser {
    fn from_core(c: up::CreatedUser) -> Result<Self, AuthError> {
        Ok(Self { user: User::from_core(c.user)?, code_delivery: Option::from_core(c.code_delivery)? })
    }
}

/// A group of users.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Group {
    /// Its name (what the `cognito:groups` claim carries).
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Lower comes first in `cognito:groups`.
    pub precedence: Option<u32>,
    /// Creation time (unix ms).
    pub created_ms: i64,
    /// Last change (unix ms).
    pub updated_ms: i64,
}

impl FromCore<up::Group> for Group {
    fn from_core(g: up::Group) -> Result<Self, AuthError> {
        Ok(Self {
            name: g.name,
            description: g.description,
            precedence: g.precedence,
            created_ms: g.created_ms,
            updated_ms: g.updated_ms,
        })
    }
}

/// The outcome of `updateUserAttributes` for one attribute.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AttributeUpdate {
    /// The attribute.
    pub attribute: String,
    /// Whether it waits for a code (`verifyUserAttribute`) or is done.
    pub needs_code: bool,
    /// Where the code went.
    pub code_delivery: Option<CodeDelivery>,
}

impl FromCore<up::AttributeUpdate> for AttributeUpdate {
    fn from_core(u: up::AttributeUpdate) -> Result<Self, AuthError> {
        Ok(Self { attribute: u.attribute, needs_code: u.needs_code, code_delivery: Option::from_core(u.delivery)? })
    }
}

/// An authentication event, from `adminListUserAuthEvents`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AuditEvent {
    /// The user's `sub`.
    pub sub: String,
    /// What happened.
    pub kind: EventKind,
    /// Whether it succeeded.
    pub success: bool,
    /// When (unix ms).
    pub at_ms: i64,
    /// A short reason for failures (never a secret).
    pub detail: String,
}

impl FromCore<up::AuditEvent> for AuditEvent {
    fn from_core(e: up::AuditEvent) -> Result<Self, AuthError> {
        Ok(Self {
            sub: e.sub,
            kind: EventKind::from_core(e.kind)?,
            success: e.success,
            at_ms: e.at_ms,
            detail: e.detail,
        })
    }
}

/// One message for the host's [`Delivery`](crate::Delivery) to send. It carries the code.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct Message {
    /// Email or SMS.
    pub channel: Channel,
    /// The address or phone number.
    pub destination: String,
    /// Why it is sent.
    pub purpose: Purpose,
    /// The username it concerns.
    pub username: String,
    /// The code or temporary password.
    pub code: Secret,
    /// Email subject (empty for SMS).
    pub subject: String,
    /// The rendered text, containing the code.
    pub text: Secret,
}

/// As the engine's: the destination and username (personal data) are left out too.
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("channel", &self.channel)
            .field("purpose", &self.purpose)
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

impl FromCore<&up::Message> for Message {
    fn from_core(m: &up::Message) -> Result<Self, AuthError> {
        Ok(Self {
            channel: Channel::from_core(m.channel)?,
            destination: m.destination.clone(),
            purpose: Purpose::from_core(m.purpose)?,
            username: m.username.clone(),
            code: m.code.to_string().into(),
            subject: m.subject.clone(),
            text: m.text.to_string().into(),
        })
    }
}
