//! What operations resolve with: core's result types with camelCase field names. The words
//! and shapes are core's (`nextStep`, `codeDelivery`, …); only the casing changes.

use napi_derive::napi;

/// Where a code went.
#[napi(object, object_from_js = false)]
#[derive(Clone)]
pub struct CodeDelivery {
    /// `EMAIL` or `SMS`.
    #[napi(ts_type = "DeliveryChannel")]
    pub channel: String,
    /// The destination, masked (`a***@e***`).
    pub destination: String,
    /// The attribute delivered to (`email`, `phone_number`).
    pub attribute: String,
}

impl From<userpool::CodeDelivery> for CodeDelivery {
    fn from(d: userpool::CodeDelivery) -> Self {
        Self { channel: d.channel.as_str().to_owned(), destination: d.destination, attribute: d.attribute }
    }
}

/// The outcome of `signUp`.
#[napi(object, object_from_js = false)]
pub struct SignUpResult {
    /// The new user's `sub`.
    pub user_sub: String,
    /// Whether the account is already confirmed.
    pub confirmed: bool,
    /// What to do next: `CONFIRM_SIGN_UP` (enter the code that was sent) or `DONE`.
    #[napi(ts_type = "SignUpStep")]
    pub next_step: String,
    /// Where the confirmation code went.
    pub code_delivery: Option<CodeDelivery>,
}

impl From<userpool::SignUpResult> for SignUpResult {
    fn from(r: userpool::SignUpResult) -> Self {
        Self {
            user_sub: r.user_sub,
            confirmed: r.confirmed,
            next_step: r.next_step.as_str().to_owned(),
            code_delivery: r.code_delivery.map(Into::into),
        }
    }
}

/// ID, access and refresh tokens. `console.log` prints them as `'<redacted>'`; reading a field
/// or `JSON.stringify` gives them.
#[napi(object, object_from_js = false)]
#[derive(Clone)]
pub struct Tokens {
    /// The ID token (JWT): who the user is.
    pub id_token: String,
    /// The access token (JWT): what the bearer may do. Send it as `Authorization: Bearer …`.
    pub access_token: String,
    /// The refresh token (opaque); after a rotation, the new one.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: f64,
    /// Always `Bearer`.
    #[napi(ts_type = "'Bearer'")]
    pub token_type: String,
}

impl From<userpool::Tokens> for Tokens {
    fn from(t: userpool::Tokens) -> Self {
        Self {
            id_token: t.id_token,
            access_token: t.access_token,
            refresh_token: reveal(t.refresh_token),
            // Lifetimes are at most a day in seconds, exact in an f64.
            expires_in: t.expires_in as f64,
            token_type: t.token_type.to_owned(),
        }
    }
}

/// The text of a secret the engine wipes, moved out of it rather than copied: JavaScript
/// gets it as a string (docs/bindings/node.md, on what stays unwiped).
fn reveal(mut secret: zeroize::Zeroizing<String>) -> String {
    std::mem::take(&mut *secret)
}

/// A new authenticator: show `uri` as a QR code, or `secret` for typing in. `console.log`
/// prints both as `'<redacted>'`.
#[napi(object, object_from_js = false)]
#[derive(Clone)]
pub struct TotpSetup {
    /// The shared secret, base32 (what authenticator apps accept).
    pub secret: String,
    /// `otpauth://totp/{pool name}:{username}?secret=…&issuer={pool name}`.
    pub uri: String,
}

impl From<userpool::TotpSetup> for TotpSetup {
    fn from(t: userpool::TotpSetup) -> Self {
        Self { secret: reveal(t.secret), uri: reveal(t.uri) }
    }
}

/// The outcome of `signIn` and `confirmSignIn`: tokens when `nextStep` is `DONE`, otherwise
/// the step to take and the `session` to answer it with. `console.log` prints the session
/// and tokens as `'<redacted>'`.
#[napi(object, object_from_js = false)]
#[derive(Clone)]
pub struct SignInResult {
    /// What to do next (Amplify v6's `signInStep`).
    #[napi(ts_type = "SignInStep")]
    pub next_step: String,
    /// Tokens, when `nextStep` is `DONE`.
    pub tokens: Option<Tokens>,
    /// The opaque challenge session to pass to `confirmSignIn`.
    pub session: Option<String>,
    /// Required attributes to give with the new password.
    pub missing_attributes: Vec<String>,
    /// Where an SMS or email code went (`CONFIRM_SIGN_IN_WITH_SMS_CODE`, `…_EMAIL_CODE`).
    pub code_delivery: Option<CodeDelivery>,
    /// The methods to choose from (`CONTINUE_SIGN_IN_WITH_MFA_SELECTION`): answer with one.
    #[napi(ts_type = "MfaMethod[]")]
    pub allowed_mfa_types: Vec<String>,
    /// The authenticator to add (`CONTINUE_SIGN_IN_WITH_TOTP_SETUP`), then answer with its code.
    pub totp_setup: Option<TotpSetup>,
}

impl From<userpool::SignInResult> for SignInResult {
    fn from(r: userpool::SignInResult) -> Self {
        Self {
            next_step: r.next_step.as_str().to_owned(),
            tokens: r.tokens.map(Into::into),
            session: r.session.map(reveal),
            missing_attributes: r.missing_attributes,
            code_delivery: r.code_delivery.map(Into::into),
            allowed_mfa_types: r.allowed_mfa_types.iter().map(|m| m.as_str().to_owned()).collect(),
            totp_setup: r.totp_setup.map(Into::into),
        }
    }
}

/// A user, as `getUser`, `adminGetUser` and `listUsers` report it.
#[napi(object, object_from_js = false)]
pub struct User {
    /// The username (the `sub` when email or phone is the username).
    pub username: String,
    /// Immutable unique id.
    pub sub: String,
    /// Account status.
    #[napi(ts_type = "UserStatus")]
    pub status: String,
    /// Whether the account may sign in.
    pub enabled: bool,
    /// Attributes (including `sub`), filtered by the client's read permissions.
    pub attributes: std::collections::BTreeMap<String, String>,
    /// Creation time (unix ms).
    pub created_ms: f64,
    /// Last change (unix ms).
    pub updated_ms: f64,
    /// Second factors enabled for sign-in.
    #[napi(ts_type = "MfaMethod[]")]
    pub mfa_enabled: Vec<String>,
    /// The preferred second factor.
    #[napi(ts_type = "MfaMethod")]
    pub preferred_mfa: Option<String>,
    /// Groups, ordered by precedence then name.
    pub groups: Vec<String>,
    /// In a pool whose `username_attributes` hold both `email` and `phone_number`, the one
    /// this user signed up with: their username. Absent otherwise.
    pub username_attribute: Option<String>,
}

impl From<userpool::User> for User {
    fn from(u: userpool::User) -> Self {
        Self {
            username: u.username,
            sub: u.sub,
            status: u.status.as_str().to_owned(),
            enabled: u.enabled,
            attributes: u.attributes,
            created_ms: u.created_ms as f64,
            updated_ms: u.updated_ms as f64,
            mfa_enabled: u.mfa_enabled.iter().map(|m| m.as_str().to_owned()).collect(),
            preferred_mfa: u.preferred_mfa.map(|m| m.as_str().to_owned()),
            groups: u.groups,
            username_attribute: u.username_attribute,
        }
    }
}

/// A page of `listUsers`.
#[napi(object, object_from_js = false)]
pub struct UserList {
    /// The users.
    pub users: Vec<User>,
    /// Pass to the next call to get the next page.
    pub pagination_token: Option<String>,
}

impl From<userpool::UserList> for UserList {
    fn from(l: userpool::UserList) -> Self {
        Self { users: l.users.into_iter().map(Into::into).collect(), pagination_token: l.pagination_token }
    }
}

/// A page of `listGroups`.
#[napi(object, object_from_js = false)]
pub struct GroupList {
    /// The groups, by name.
    pub groups: Vec<Group>,
    /// Pass to the next call to get the next page.
    pub pagination_token: Option<String>,
}

impl From<userpool::GroupList> for GroupList {
    fn from(l: userpool::GroupList) -> Self {
        Self { groups: l.groups.into_iter().map(Into::into).collect(), pagination_token: l.pagination_token }
    }
}

/// The outcome of `adminCreateUser`.
#[napi(object, object_from_js = false)]
pub struct CreatedUser {
    /// The new user.
    pub user: User,
    /// Where the invitation went, if one was sent.
    pub code_delivery: Option<CodeDelivery>,
}

impl From<userpool::CreatedUser> for CreatedUser {
    fn from(c: userpool::CreatedUser) -> Self {
        Self { user: c.user.into(), code_delivery: c.code_delivery.map(Into::into) }
    }
}

/// What `updateUserAttributes` did with one attribute.
#[napi(object, object_from_js = false)]
pub struct AttributeUpdate {
    /// The attribute.
    pub attribute: String,
    /// Whether it waits for a code (`verifyUserAttribute`) or is done.
    pub needs_code: bool,
    /// Where the code went.
    pub code_delivery: Option<CodeDelivery>,
}

impl From<userpool::AttributeUpdate> for AttributeUpdate {
    fn from(u: userpool::AttributeUpdate) -> Self {
        Self { attribute: u.attribute, needs_code: u.needs_code, code_delivery: u.delivery.map(Into::into) }
    }
}

/// One authentication event of `adminListUserAuthEvents`.
#[napi(object, object_from_js = false)]
pub struct AuthEvent {
    /// The user's `sub`.
    pub sub: String,
    /// What happened (`SignIn`, `SignUp`, `PasswordChange`, …).
    pub kind: String,
    /// Whether it succeeded.
    pub success: bool,
    /// When (unix ms).
    pub at_ms: f64,
    /// A short reason for failures (never a secret).
    pub detail: String,
}

impl From<userpool::AuditEvent> for AuthEvent {
    fn from(e: userpool::AuditEvent) -> Self {
        Self {
            sub: e.sub,
            kind: e.kind.as_str().to_owned(),
            success: e.success,
            at_ms: e.at_ms as f64,
            detail: e.detail,
        }
    }
}

/// A message for the host's `delivery` function to send. `console.log` prints its code, its
/// text, its destination and its username as `'<redacted>'`.
#[napi(object, object_from_js = false)]
pub struct Message {
    /// `EMAIL` or `SMS`.
    #[napi(ts_type = "DeliveryChannel")]
    pub channel: String,
    /// The email address or phone number (unmasked: this is where to send it).
    pub destination: String,
    /// Why it is sent.
    #[napi(ts_type = "MessagePurpose")]
    pub purpose: String,
    /// The code or temporary password (a secret: do not log it).
    pub code: String,
    /// The rendered text, containing the code.
    pub text: String,
    /// The username it concerns.
    pub username: String,
    /// Email subject (empty for SMS).
    pub subject: String,
}

impl From<&userpool::Message> for Message {
    fn from(m: &userpool::Message) -> Self {
        Self {
            channel: m.channel.as_str().to_owned(),
            destination: m.destination.clone(),
            purpose: m.purpose.as_str().to_owned(),
            code: m.code.to_string(),
            text: m.text.to_string(),
            username: m.username.clone(),
            subject: m.subject.clone(),
        }
    }
}

/// A group of users (its name is what the `cognito:groups` claim carries).
#[napi(object, object_from_js = false)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Lower comes first in `cognito:groups`.
    pub precedence: Option<u32>,
    /// Creation time (unix ms).
    pub created_ms: f64,
    /// Last change (unix ms).
    pub updated_ms: f64,
}

impl From<userpool::Group> for Group {
    fn from(g: userpool::Group) -> Self {
        Self {
            name: g.name,
            description: g.description,
            precedence: g.precedence,
            created_ms: g.created_ms as f64,
            updated_ms: g.updated_ms as f64,
        }
    }
}

/// What `adminImportUsers` did with one user: its new `sub`, or why it was not imported.
#[napi(object, object_from_js = false)]
pub struct ImportOutcome {
    /// The new user's `sub`, when imported.
    pub sub: Option<String>,
    /// Why not: the Cognito exception name (`UsernameExistsException`, …).
    #[napi(ts_type = "ErrorCode")]
    pub code: Option<String>,
    /// Why not, for people.
    pub message: Option<String>,
}

impl From<userpool::Result<String>> for ImportOutcome {
    fn from(outcome: userpool::Result<String>) -> Self {
        match outcome {
            Ok(sub) => Self { sub: Some(sub), code: None, message: None },
            Err(e) => {
                Self { sub: None, code: Some(e.code().as_str().to_owned()), message: Some(e.message().to_owned()) }
            }
        }
    }
}
