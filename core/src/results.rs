//! What operations return. Every result that carries a secret (tokens, sessions) hides it
//! from `Debug`.

use std::fmt;

use zeroize::Zeroizing;

use crate::attributes::Attributes;
use crate::flow::state::{MfaMethod, UserStatus};

pub use crate::flow::{AttributeUpdate, CodeDelivery};

/// Verified JWT claims.
pub type Claims = serde_json::Map<String, serde_json::Value>;

/// The next step after `sign_up` (Amplify v6's `signUpStep`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignUpStep {
    /// Enter the code that was sent.
    ConfirmSignUp,
    /// Nothing left to do.
    Done,
}

impl SignUpStep {
    /// `"CONFIRM_SIGN_UP"` or `"DONE"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfirmSignUp => "CONFIRM_SIGN_UP",
            Self::Done => "DONE",
        }
    }
}

/// The outcome of `sign_up`.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// The next step of a sign-in (Amplify v6's `signInStep`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignInStep {
    /// Signed in; tokens are attached.
    Done,
    /// The account is not confirmed yet: confirm it, then sign in again.
    ConfirmSignUp,
    /// The password must be reset (`forgot_password`, then `confirm_forgot_password`).
    ResetPassword,
    /// Choose a new password (and give missing required attributes) via `confirm_sign_in`.
    ConfirmSignInWithNewPasswordRequired,
    /// Enter the code from the authenticator app.
    ConfirmSignInWithTotpCode,
    /// Enter the code sent by SMS.
    ConfirmSignInWithSmsCode,
    /// Enter the code sent by email.
    ConfirmSignInWithEmailCode,
    /// Choose one of `allowed_mfa_types` (answer `TOTP`, `SMS` or `EMAIL`).
    ContinueSignInWithMfaSelection,
    /// MFA is required: add the authenticator in `totp_setup`, then answer with its code.
    ContinueSignInWithTotpSetup,
}

impl SignInStep {
    /// Amplify's name, e.g. `"CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "DONE",
            Self::ConfirmSignUp => "CONFIRM_SIGN_UP",
            Self::ResetPassword => "RESET_PASSWORD",
            Self::ConfirmSignInWithNewPasswordRequired => "CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED",
            Self::ConfirmSignInWithTotpCode => "CONFIRM_SIGN_IN_WITH_TOTP_CODE",
            Self::ConfirmSignInWithSmsCode => "CONFIRM_SIGN_IN_WITH_SMS_CODE",
            Self::ConfirmSignInWithEmailCode => "CONFIRM_SIGN_IN_WITH_EMAIL_CODE",
            Self::ContinueSignInWithMfaSelection => "CONTINUE_SIGN_IN_WITH_MFA_SELECTION",
            Self::ContinueSignInWithTotpSetup => "CONTINUE_SIGN_IN_WITH_TOTP_SETUP",
        }
    }
}

/// ID, access and refresh tokens. The refresh token, which keeps a session going for days,
/// is wiped when dropped (moved out, it stays a `Zeroizing` that reads as a `&str`); the
/// short-lived JWTs are plain text to put in headers.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The ID token (JWT): who the user is.
    pub id_token: String,
    /// The access token (JWT): what the bearer may do.
    pub access_token: String,
    /// The refresh token (opaque); after a rotation, the new one.
    pub refresh_token: Zeroizing<String>,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Always `"Bearer"`.
    pub token_type: &'static str,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// A new authenticator to add: show `uri` as a QR code, or `secret` for typing in.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSetup {
    /// The shared secret, base32 (what authenticator apps accept); wiped when dropped.
    pub secret: Zeroizing<String>,
    /// `otpauth://totp/{pool name}:{username}?secret=…&issuer={pool name}`; wiped when
    /// dropped, as it carries the secret.
    pub uri: Zeroizing<String>,
}

impl fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSetup { <redacted> }")
    }
}

/// The outcome of `sign_in` and `confirm_sign_in`.
#[derive(Clone, PartialEq, Eq)]
pub struct SignInResult {
    /// What to do next.
    pub next_step: SignInStep,
    /// Tokens, when `next_step` is `Done`.
    pub tokens: Option<Tokens>,
    /// The opaque challenge session to pass to `confirm_sign_in`: it stands for the password
    /// checked, so it is wiped when dropped.
    pub session: Option<Zeroizing<String>>,
    /// Required attributes to give with the new password.
    pub missing_attributes: Vec<String>,
    /// Where an SMS or email code went.
    pub code_delivery: Option<CodeDelivery>,
    /// The methods to choose from (`TOTP`, `SMS`, `EMAIL`).
    pub allowed_mfa_types: Vec<MfaMethod>,
    /// The authenticator to add (`CONTINUE_SIGN_IN_WITH_TOTP_SETUP`).
    pub totp_setup: Option<TotpSetup>,
}

impl SignInResult {
    /// Whether sign-in is complete.
    pub fn is_signed_in(&self) -> bool {
        self.next_step == SignInStep::Done
    }
}

impl fmt::Debug for SignInResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInResult")
            .field("next_step", &self.next_step)
            .field("tokens", &self.tokens)
            .field("session", &self.session.as_ref().map(|_| "<redacted>"))
            .field("missing_attributes", &self.missing_attributes)
            .field("code_delivery", &self.code_delivery)
            .field("allowed_mfa_types", &self.allowed_mfa_types)
            .field("totp_setup", &self.totp_setup)
            .finish()
    }
}

/// A user as reported by `get_user`, `admin_get_user` and `list_users`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The username (the `sub` when email/phone is the username).
    pub username: String,
    /// Immutable unique id.
    pub sub: String,
    /// Account status.
    pub status: UserStatus,
    /// Whether the account may sign in.
    pub enabled: bool,
    /// Attributes (including `sub`), filtered by the client's read permissions.
    pub attributes: Attributes,
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
    /// this user signed up with: their username, which signs in verified or not and cannot be
    /// deleted. `None` in other pools, and for a user from before it was recorded who has
    /// both (nothing tells which came first).
    pub username_attribute: Option<String>,
}

/// A page of `list_users`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserList {
    /// The users.
    pub users: Vec<User>,
    /// Pass to the next call to get the next page.
    pub pagination_token: Option<String>,
}

/// A page of `list_groups`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupList {
    /// The groups, by name.
    pub groups: Vec<Group>,
    /// Pass to the next call to get the next page.
    pub pagination_token: Option<String>,
}

/// A group of users.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// The outcome of `admin_create_user`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedUser {
    /// The new user.
    pub user: User,
    /// Where the invitation went, if one was sent.
    pub code_delivery: Option<CodeDelivery>,
}
