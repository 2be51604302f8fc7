//! The pure state machine. No clock reads, no storage, no delivery, no hashing: time, the
//! pool's settings and randomness come in through [`Ctx`]; the new state and the effects to
//! carry out come back in a [`Step`]. The [`UserPool`](crate::UserPool) driver loads state,
//! calls [`transition`], commits the result atomically and carries out the effects.
//!
//! `README.md` beside this file draws the states; `transition` is the whole table.

pub(crate) mod mfa;
mod session;
pub mod state;
pub(crate) mod user;

use std::collections::BTreeMap;

use rand_core::RngCore;
use zeroize::Zeroizing;

pub use self::mfa::MfaPreference;
pub(crate) use self::session::{SessionInput, SessionStep, session_transition};
use self::state::{AuditEvent, EventKind, Family, MfaMethod, PendingCode, UserRecord};
use crate::attributes::Attributes;
use crate::config::{ClientSettings, Settings};
use crate::crypto::codes::CodeHasher;
use crate::delivery::{Channel, Message, Purpose};
use crate::error::{Error, Result};

/// Everything a transition may read besides the state: time, settings, randomness.
pub(crate) struct Ctx<'a> {
    pub(crate) now: i64,
    pub(crate) settings: &'a Settings,
    pub(crate) client: &'a ClientSettings,
    pub(crate) rng: &'a mut dyn RngCore,
    pub(crate) codes: &'a CodeHasher,
    /// Codes that went out in earlier runs of this step, whose commits lost to a concurrent
    /// change: a rerun issues the code of the same purpose and channel again, so that the
    /// code the user already has is the one stored (see [`issue_code`]).
    pub(crate) sent: &'a [SentCode],
    /// An earlier run of this step committed the user's count of this code request (see
    /// `UserPool::reserve`): the rerun does not count it, nor refuse it, again.
    pub(crate) request_counted: bool,
    /// SHA-256 of the `SECRET_HASH` the call proved its client's secret with, if it did so
    /// (see [`Challenge::secret_hash_digest`]).
    pub(crate) secret_hash_digest: Option<String>,
}

/// A code a run of a step sent, before its commit (see [`Ctx::sent`]).
pub(crate) struct SentCode {
    pub(crate) purpose: Purpose,
    pub(crate) channel: Channel,
    pub(crate) destination: String,
    pub(crate) code: Zeroizing<String>,
}

impl SentCode {
    /// What `message` sent.
    pub(crate) fn of(message: &Message) -> Self {
        Self {
            purpose: message.purpose,
            channel: message.channel,
            destination: message.destination.clone(),
            code: message.code.clone(),
        }
    }

    /// Whether `message` carries this code, wherever it goes.
    pub(crate) fn code_of(&self, message: &Message) -> bool {
        crate::crypto::constant_time_eq(self.code.as_bytes(), message.code.as_bytes())
    }

    /// Whether `message` is this one again: its code, to the same address, for the same
    /// purpose.
    pub(crate) fn sent_as(&self, message: &Message) -> bool {
        self.code_of(message)
            && self.purpose == message.purpose
            && self.channel == message.channel
            && self.destination == message.destination
    }
}

/// What a user transition is asked to do. Passwords arrive already hashed by the driver
/// (hashing is slow CPU work and never happens inside a transition or a store lock).
/// Not `Debug`: codes, sessions and a new password travel in it.
#[derive(Clone)]
pub(crate) enum Input {
    // ── sign-up ──────────────────────────────────────────────────────────────
    SignUp {
        name: user::NewName,
        password_hash: String,
        attributes: Attributes,
    },
    ConfirmSignUp {
        code: Zeroizing<String>,
    },
    ResendSignUpCode,
    // ── sign-in ──────────────────────────────────────────────────────────────
    /// Counts an attempt before the password is checked, so parallel guesses cannot
    /// outrun the lockout schedule.
    StartPasswordAttempt,
    /// The driver's verdict on the password; `hash_checked` is the hash it verified against,
    /// and `changed_ms_checked` the time that password was set. `setup_secret` (sealed) is
    /// used if the user must set up an authenticator now.
    FinishPasswordAttempt {
        matched: bool,
        hash_checked: String,
        changed_ms_checked: i64,
        rehash: Option<String>,
        setup_secret: String,
    },
    /// Answers a NEW_PASSWORD_REQUIRED challenge.
    AnswerNewPassword {
        session: Zeroizing<String>,
        password_hash: String,
        attributes: Attributes,
        setup_secret: String,
    },
    // ── second factor ────────────────────────────────────────────────────────
    /// Answers an SMS or email code challenge.
    AnswerMfaCode {
        session: Zeroizing<String>,
        code: Zeroizing<String>,
    },
    /// Answers a TOTP challenge: the step the driver found the code to match (if any) for the
    /// secret it checked against.
    AnswerTotp {
        session: Zeroizing<String>,
        step: Option<u64>,
        secret_checked: String,
    },
    /// Answers the TOTP-setup challenge with the first code of the new authenticator.
    AnswerTotpSetup {
        session: Zeroizing<String>,
        step: Option<u64>,
        secret_checked: String,
        friendly_name: String,
    },
    /// Chooses a method in CONTINUE_SIGN_IN_WITH_MFA_SELECTION.
    AnswerSelection {
        session: Zeroizing<String>,
        method: MfaMethod,
    },
    /// `associate_software_token` with the setup session: a new secret for the challenge.
    ReplaceSetupSecret {
        session: Zeroizing<String>,
        secret: String,
    },
    /// `associate_software_token` with an access token.
    AssociateTotp {
        secret: String,
    },
    /// `verify_software_token`: the step the code matched for the pending secret.
    VerifyTotp {
        step: Option<u64>,
        secret_checked: String,
        friendly_name: String,
    },
    /// `set_mfa_preference` / `admin_set_user_mfa_preference`.
    SetMfaPreference {
        totp: Option<MfaPreference>,
        sms: Option<MfaPreference>,
        email: Option<MfaPreference>,
    },
    // ── recovery and passwords ───────────────────────────────────────────────
    ForgotPassword {
        /// The name the user was found by: what a simulated answer is made from, as for a
        /// name that finds nobody.
        name: String,
    },
    ConfirmForgotPassword {
        code: Zeroizing<String>,
        password_hash: String,
        /// The new password itself, for the one policy rule that depends on the user: not to
        /// contain their own username. Checked here, on the record this transition reads,
        /// and told only to a caller with the right code: told before, it would say which
        /// username is behind the address asked about.
        password: Zeroizing<String>,
    },
    /// Replaces the password whose hash the driver verified the old password against (set at
    /// `changed_ms_checked`).
    ChangePassword {
        password_hash: String,
        old_hash: String,
        changed_ms_checked: i64,
    },
    // ── attributes and account ───────────────────────────────────────────────
    UpdateAttributes {
        attributes: Attributes,
        by_admin: bool,
    },
    SendAttributeCode {
        attribute: String,
    },
    VerifyAttribute {
        attribute: String,
        code: Zeroizing<String>,
    },
    DeleteAttributes {
        names: Vec<String>,
    },
    Delete,
    GlobalSignOut,
    // ── administration ───────────────────────────────────────────────────────
    AdminCreate {
        name: user::NewName,
        attributes: Attributes,
        temporary_password: Zeroizing<String>,
        password_hash: String,
        send_invitation: bool,
    },
    AdminConfirm,
    AdminDisable,
    AdminEnable,
    AdminResetPassword,
    /// Sends the reset code of an administrator's reset, in a step of its own after it.
    SendAdminResetCode,
    AdminSetPassword {
        password_hash: String,
        permanent: bool,
    },
    AddToGroup {
        group: String,
        generation: u64,
        /// The user's memberships the driver found ended (name → generation): the group
        /// deleted, or made again since. Dropped when the record still holds them.
        ended: BTreeMap<String, u64>,
    },
    RemoveFromGroup {
        group: String,
        /// Only a membership of this generation of the group: the one a deletion removed,
        /// so that a group created again under its name keeps the members it has since.
        only_generation: Option<u64>,
    },
}

/// How the user record changes.
#[derive(Debug)]
pub(crate) enum Change {
    Keep,
    Create(UserRecord),
    Put(UserRecord),
    Delete,
}

/// A session about to begin: its family and the refresh token's plaintext (shown once).
#[derive(Debug)]
pub(crate) struct NewSession {
    pub(crate) family: Family,
    pub(crate) refresh_token: Zeroizing<String>,
}

/// Side effects the driver carries out.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Sent before the commit; a failed delivery aborts the whole step.
    Deliver(Message),
    /// Written in the same commit as the state.
    Audit(AuditEvent),
    /// Revoke every session family of the user, in the same commit.
    RevokeSessions,
    /// Count a message to this address against its hour, in the same commit, though none is
    /// sent: what a simulated delivery to it costs, as a real one would.
    CountMessageTo(String),
}

/// Where a code was sent, with the destination masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeDelivery {
    /// Email or SMS.
    pub channel: Channel,
    /// The destination, masked (`a***@e***`).
    pub destination: String,
    /// The attribute delivered to (`email`, `phone_number`).
    pub attribute: String,
}

/// Where a sign-in stands after a step (Amplify v6's `signInStep`).
#[derive(Debug)]
pub(crate) enum SignInNext {
    Tokens(NewSession),
    ConfirmSignUp,
    ResetPassword,
    NewPasswordRequired { session: Zeroizing<String>, missing: Vec<String> },
    TotpCode { session: Zeroizing<String> },
    SmsCode { session: Zeroizing<String>, delivery: CodeDelivery },
    EmailCode { session: Zeroizing<String>, delivery: CodeDelivery },
    SelectMfa { session: Zeroizing<String>, options: Vec<MfaMethod> },
    TotpSetup { session: Zeroizing<String> },
}

/// A per-attribute outcome of an attribute update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeUpdate {
    /// The attribute.
    pub attribute: String,
    /// Whether it waits for a code (`CONFIRM_ATTRIBUTE_WITH_CODE`) or is done (`DONE`).
    pub needs_code: bool,
    /// Where the code went.
    pub delivery: Option<CodeDelivery>,
}

/// A user's stored password hash, handed to the driver to verify a password against. Not
/// shown by `Debug`, as `UserRecord` does not show it: it is what an offline guess needs.
pub(crate) struct StoredHash(pub(crate) String);

impl std::fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What a transition answers.
#[derive(Debug)]
pub(crate) enum Reply {
    Done,
    SignedUp { sub: String, confirmed: bool, delivery: Option<CodeDelivery> },
    Delivery(Option<CodeDelivery>),
    CheckPassword { hash: StoredHash, changed_ms: i64 },
    SignIn(SignInNext),
    Attributes(Vec<AttributeUpdate>),
}

/// The result of a transition: the state change and effects happen even when the reply is an
/// error (a wrong code still counts as an attempt).
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) change: Change,
    pub(crate) effects: Vec<Effect>,
    pub(crate) reply: Result<Reply>,
}

impl Step {
    fn reply(reply: Reply) -> Self {
        Self { change: Change::Keep, effects: Vec::new(), reply: Ok(reply) }
    }

    fn fail(error: Error) -> Self {
        Self { change: Change::Keep, effects: Vec::new(), reply: Err(error) }
    }

    fn put(user: UserRecord, reply: Result<Reply>) -> Self {
        Self { change: Change::Put(user), effects: Vec::new(), reply }
    }

    fn with(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }
}

/// The transition table: one arm per (state, input).
pub(crate) fn transition(state: Option<&UserRecord>, input: Input, ctx: &mut Ctx<'_>) -> Step {
    use Input as I;
    let adopted = state.and_then(|u| user::with_username_attribute(ctx.settings, u));
    let state = adopted.as_ref().or(state);
    match (state, input) {
        // ── no user yet ──────────────────────────────────────────────────────
        (None, I::SignUp { name, password_hash, attributes }) => user::sign_up(name, password_hash, attributes, ctx),
        (None, I::AdminCreate { name, attributes, temporary_password, password_hash, send_invitation }) => {
            user::admin_create(name, attributes, &temporary_password, password_hash, send_invitation, ctx)
        }
        (None, _) => Step::fail(Error::user_not_found()),
        (Some(_), I::SignUp { .. } | I::AdminCreate { .. }) => {
            Step::fail(Error::new(crate::ErrorCode::UsernameExists, "User already exists"))
        }

        // ── sign-up confirmation ─────────────────────────────────────────────
        (Some(u), I::ConfirmSignUp { code }) => user::confirm_sign_up(u, &code, ctx),
        (Some(u), I::ResendSignUpCode) => user::resend_sign_up_code(u, ctx),
        (Some(u), I::AdminConfirm) => user::admin_confirm(u, ctx),

        // ── sign-in ──────────────────────────────────────────────────────────
        (Some(u), I::StartPasswordAttempt) => user::start_password_attempt(u, ctx),
        (Some(u), I::FinishPasswordAttempt { matched, hash_checked, changed_ms_checked, rehash, setup_secret }) => {
            user::finish_password_attempt(u, matched, (&hash_checked, changed_ms_checked), rehash, &setup_secret, ctx)
        }
        (Some(u), I::AnswerNewPassword { session, password_hash, attributes, setup_secret }) => {
            user::answer_new_password(u, &session, password_hash, attributes, &setup_secret, ctx)
        }

        // ── second factor ────────────────────────────────────────────────────
        (Some(u), I::AnswerMfaCode { session, code }) => mfa::answer_code(u, &session, &code, ctx),
        (Some(u), I::AnswerTotp { session, step, secret_checked }) => {
            mfa::answer_totp(u, &session, step, &secret_checked, ctx)
        }
        (Some(u), I::AnswerTotpSetup { session, step, secret_checked, friendly_name }) => {
            mfa::answer_totp_setup(u, &session, step, &secret_checked, &friendly_name, ctx)
        }
        (Some(u), I::AnswerSelection { session, method }) => mfa::answer_selection(u, &session, method, ctx),
        (Some(u), I::ReplaceSetupSecret { session, secret }) => mfa::replace_setup_secret(u, &session, secret, ctx),
        (Some(u), I::AssociateTotp { secret }) => mfa::associate(u, secret, ctx),
        (Some(u), I::VerifyTotp { step, secret_checked, friendly_name }) => {
            mfa::verify_totp(u, step, &secret_checked, &friendly_name, ctx)
        }
        (Some(u), I::SetMfaPreference { totp, sms, email }) => mfa::set_preference(u, totp, sms, email, ctx),

        // ── recovery and passwords ───────────────────────────────────────────
        (Some(u), I::ForgotPassword { name }) => user::forgot_password(u, &name, ctx),
        (Some(u), I::ConfirmForgotPassword { code, password_hash, password }) => {
            user::confirm_forgot_password(u, &code, password_hash, &password, ctx)
        }
        (Some(u), I::ChangePassword { password_hash, old_hash, changed_ms_checked }) => {
            if u.password_hash != old_hash && u.password_changed_ms != changed_ms_checked {
                // The password changed between the check and now (a reset, say; a rehash
                // keeps the time of the change).
                return Step::fail(Error::bad_credentials());
            }
            // Disabled, or reset by an administrator, while the hashes ran: both ended the
            // sessions, the caller's among them, and a change now would undo the reset.
            if !u.enabled || u.status != state::UserStatus::Confirmed {
                return Step::fail(Error::revoked_access_token());
            }
            user::set_password(u, password_hash, true, ctx)
        }
        (Some(u), I::AdminSetPassword { password_hash, permanent }) => {
            user::set_password(u, password_hash, permanent, ctx)
        }
        (Some(u), I::AdminResetPassword) => user::admin_reset_password(u, ctx),
        (Some(u), I::SendAdminResetCode) => user::send_admin_reset_code(u, ctx),

        // ── attributes and account ───────────────────────────────────────────
        (Some(u), I::UpdateAttributes { attributes, by_admin }) => {
            user::update_attributes(u, attributes, by_admin, ctx)
        }
        (Some(u), I::SendAttributeCode { attribute }) => user::send_attribute_code(u, &attribute, ctx),
        (Some(u), I::VerifyAttribute { attribute, code }) => user::verify_attribute(u, &attribute, &code, ctx),
        (Some(u), I::DeleteAttributes { names }) => user::delete_attributes(u, &names, ctx),
        (Some(_), I::Delete) => Step { change: Change::Delete, effects: Vec::new(), reply: Ok(Reply::Done) },
        (Some(u), I::GlobalSignOut) => user::global_sign_out(u, ctx),
        (Some(u), I::AdminDisable) => user::set_enabled(u, false, ctx),
        (Some(u), I::AddToGroup { group, generation, ended }) => user::join_group(u, group, generation, ended, ctx),
        (Some(u), I::RemoveFromGroup { group, only_generation }) => user::leave_group(u, group, only_generation, ctx),
        (Some(u), I::AdminEnable) => user::set_enabled(u, true, ctx),
    }
}

pub(crate) fn event(user: &UserRecord, kind: EventKind, success: bool, detail: &str, ctx: &Ctx<'_>) -> AuditEvent {
    AuditEvent { sub: user.sub.clone(), kind, success, at_ms: ctx.now, detail: detail.to_owned() }
}

/// Issues a code: the pending record (tag only) and the plaintext for the message.
pub(crate) fn issue_code(
    ctx: &mut Ctx<'_>,
    purpose: Purpose,
    sub: &str,
    attribute: &str,
    ttl_secs: u64,
) -> (PendingCode, Zeroizing<String>) {
    let channel = channel_of(attribute);
    let code = match ctx.sent.iter().find(|sent| sent.purpose == purpose && sent.channel == channel) {
        Some(sent) => sent.code.clone(),
        None => crate::crypto::codes::numeric_code(ctx.rng, ctx.settings.raw.codes.length),
    };
    let ttl = i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let pending = PendingCode {
        tag: ctx.codes.tag(purpose.as_str(), sub, &code),
        issued_ms: ctx.now,
        expires_ms: ctx.now.saturating_add(ttl),
        attempts: 0,
        attribute: attribute.to_owned(),
    };
    (pending, code)
}

/// The channel a message to `attribute` (`email`, `phone_number`) goes out on.
fn channel_of(attribute: &str) -> Channel {
    if attribute == "phone_number" { Channel::Sms } else { Channel::Email }
}

/// Builds the message for a code sent to `user`'s `attribute` (or to `destination`).
pub(crate) fn message(
    ctx: &Ctx<'_>,
    user: &UserRecord,
    attribute: &str,
    destination: &str,
    purpose: Purpose,
    code: &str,
) -> (Message, CodeDelivery) {
    let templates = &ctx.settings.raw.messages;
    let template = match purpose {
        Purpose::SignUp | Purpose::VerifyAttribute => &templates.verification,
        Purpose::ForgotPassword => &templates.reset,
        Purpose::Invitation => &templates.invitation,
        Purpose::Mfa => &templates.mfa,
    };
    let channel = channel_of(attribute);
    let shown_name = display_username(ctx.settings, user);
    let subject = if channel == Channel::Email { templates.verification_subject.clone() } else { String::new() };
    let text = crate::delivery::render(template, code, &shown_name);
    let message = Message {
        channel,
        destination: destination.to_owned(),
        purpose,
        username: shown_name,
        code: Zeroizing::new(code.to_owned()),
        subject,
        text: Zeroizing::new(text),
    };
    let delivery =
        CodeDelivery { channel, destination: crate::attributes::mask(destination), attribute: attribute.to_owned() };
    (message, delivery)
}

/// Refuses a change to a user's attributes or groups that makes their claims longer than an
/// ID token may carry ([`crate::crypto::jwt::MAX_USER_CLAIMS_LEN`]). A change that does not
/// lengthen them passes, so a user past the limit can always shed attributes.
pub(crate) fn check_token_size(before: Option<&UserRecord>, after: &UserRecord) -> Result<()> {
    let unchanged = before.is_some_and(|b| b.attributes == after.attributes && b.groups == after.groups);
    if unchanged {
        return Ok(());
    }
    let len = after.claims_len();
    if len > crate::crypto::jwt::MAX_USER_CLAIMS_LEN && before.is_none_or(|b| len > b.claims_len()) {
        return Err(Error::invalid(format!(
            "The user's attributes and groups would take {len} bytes in an ID token, more than the {} it can \
             carry.",
            crate::crypto::jwt::MAX_USER_CLAIMS_LEN
        )));
    }
    Ok(())
}

/// The name a person signs in with: the username, or the email/phone when those are the
/// username.
pub(crate) fn display_username(settings: &Settings, user: &UserRecord) -> String {
    match settings.username_mode {
        crate::config::UsernameMode::Username => user.username.clone(),
        crate::config::UsernameMode::Attributes { .. } => user
            .username_attribute
            .as_ref()
            .and_then(|attribute| user.attributes.get(attribute))
            .or_else(|| user.attributes.get("email"))
            .or_else(|| user.attributes.get("phone_number"))
            .cloned()
            .unwrap_or_else(|| user.username.clone()),
    }
}

/// Redeems a pending code: consumes it when right; counts, then invalidates, when wrong.
pub(crate) fn redeem(
    pending: &mut Option<PendingCode>,
    ctx: &Ctx<'_>,
    purpose: Purpose,
    sub: &str,
    code: &str,
) -> Result<PendingCode> {
    let Some(current) = pending.as_mut() else {
        return Err(Error::expired_code());
    };
    if ctx.now >= current.expires_ms {
        *pending = None;
        return Err(Error::expired_code());
    }
    if ctx.codes.matches(purpose.as_str(), sub, code, &current.tag) {
        let used = current.clone();
        *pending = None;
        return Ok(used);
    }
    current.attempts = current.attempts.saturating_add(1);
    if current.attempts >= ctx.settings.raw.codes.max_attempts {
        *pending = None;
        return Err(Error::too_many_failed_attempts());
    }
    Err(Error::code_mismatch())
}

#[cfg(test)]
mod tests {
    use super::{Reply, StoredHash};

    #[test]
    fn a_reply_with_a_password_hash_does_not_show_it() {
        let hash = "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        let reply = Reply::CheckPassword { hash: StoredHash(hash.to_owned()), changed_ms: 1 };
        let shown = format!("{reply:?}");
        assert!(!shown.contains("argon2") && shown.contains("<redacted>"), "{shown}");
    }
}
