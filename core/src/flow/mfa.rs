//! The "MFA pending" part of the machine: which second factor a sign-in needs, its
//! challenges (TOTP code, SMS or email code, method selection, TOTP setup), and the user's
//! own MFA settings (authenticator association, preferences).

use zeroize::Zeroizing;

use super::state::{Challenge, ChallengeKind, EventKind, MfaMethod, PendingTotp, TotpDevice, UserRecord, UserStatus};
use super::{Ctx, Effect, Reply, SignInNext, Step, event, issue_code, message};
use crate::config::MfaMode;
use crate::crypto;
use crate::delivery::Purpose;
use crate::error::{Error, ErrorCode, Result};

/// How a user sets one method in `set_mfa_preference` (Amplify's `updateMFAPreference`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

impl MfaPreference {
    /// Parses `ENABLED`, `DISABLED`, `PREFERRED`, `NOT_PREFERRED` (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "ENABLED" => Some(Self::Enabled),
            "DISABLED" => Some(Self::Disabled),
            "PREFERRED" => Some(Self::Preferred),
            "NOT_PREFERRED" => Some(Self::NotPreferred),
            _ => None,
        }
    }
}

fn invalid_session() -> Error {
    Error::not_authorized("Invalid session for the user, session is expired.")
}

/// A new challenge session: the secret goes to the caller, its hash into the record.
pub(crate) fn start_challenge(next: &mut UserRecord, kind: ChallengeKind, ctx: &mut Ctx<'_>) -> Zeroizing<String> {
    let secret = Zeroizing::new(crypto::b64url(&*crypto::secret_bytes::<32>(ctx.rng)));
    next.challenge = Some(Challenge {
        session_hash: crypto::sha256_hex(secret.as_bytes()),
        kind,
        client_id: ctx.client.id.clone(),
        created_ms: ctx.now,
        expires_ms: ctx.now.saturating_add(ctx.client.session_ttl_ms),
        attempts: 0,
        secret_hash_digest: ctx.secret_hash_digest.clone(),
    });
    Zeroizing::new(format!("{}.{}", crypto::b64url(next.sub.as_bytes()), *secret))
}

/// The `sub` a challenge session belongs to.
pub(crate) fn session_sub(session: &str) -> Option<String> {
    let (sub, _) = session.split_once('.')?;
    String::from_utf8(crypto::b64url_decode(sub)?).ok()
}

/// The live challenge `session` points at, or "Invalid session" (unknown, replaced, used,
/// expired, or started on another client).
pub(crate) fn check_challenge<'a>(u: &'a UserRecord, session: &str, ctx: &Ctx<'_>) -> Result<&'a Challenge> {
    let secret = session.split_once('.').map(|(_, s)| s).ok_or_else(invalid_session)?;
    let challenge = u.challenge.as_ref().ok_or_else(invalid_session)?;
    let presented = crypto::sha256_hex(secret.as_bytes());
    let same = crypto::constant_time_eq(presented.as_bytes(), challenge.session_hash.as_bytes());
    if !same || ctx.now >= challenge.expires_ms || challenge.client_id != ctx.client.id || !u.enabled {
        return Err(invalid_session());
    }
    // Only a confirmed user goes past a new password; a reset by an administrator while a
    // second factor was asked for ends that sign-in.
    let first_password = matches!(challenge.kind, ChallengeKind::NewPasswordRequired { .. });
    if !first_password && u.status != UserStatus::Confirmed {
        return Err(invalid_session());
    }
    Ok(challenge)
}

/// The methods this user can be challenged with now: enabled, allowed by the pool, and with
/// a verified destination for codes.
fn usable(u: &UserRecord, ctx: &Ctx<'_>) -> Vec<MfaMethod> {
    u.mfa
        .enabled()
        .into_iter()
        .filter(|m| ctx.settings.mfa_methods.contains(m))
        .filter(|m| *m == MfaMethod::Totp || u.is_verified(m.attribute()))
        .collect()
}

/// What a sign-in asks this user for after the password.
#[derive(Debug, PartialEq, Eq)]
enum Ask {
    /// No second factor.
    Nothing,
    /// An authenticator to set up now (required, nothing usable, TOTP allowed).
    TotpSetup,
    /// This method: the preferred one, the only usable one, or the required-mode fallback.
    One(MfaMethod),
    /// A choice among these.
    Choice(Vec<MfaMethod>),
    /// Required, and nothing the user could receive a code by.
    Unreachable,
}

/// The one place that decides [`Ask`]: a sign-in starts a challenge by it, and an answer to
/// a challenge counts only while it still agrees (see [`still_asked`]).
fn ask(u: &UserRecord, ctx: &Ctx<'_>) -> Ask {
    let mode = ctx.settings.raw.mfa.mode;
    if mode == MfaMode::Off {
        return Ask::Nothing;
    }
    let methods = usable(u, ctx);
    if methods.is_empty() {
        if mode == MfaMode::Optional {
            return Ask::Nothing;
        }
        let allowed = &ctx.settings.mfa_methods;
        if allowed.contains(&MfaMethod::Totp) {
            return Ask::TotpSetup;
        }
        // Required, no authenticator allowed: a verified phone or email is used as is.
        return [MfaMethod::Sms, MfaMethod::Email]
            .into_iter()
            .find(|m| allowed.contains(m) && u.is_verified(m.attribute()))
            .map_or(Ask::Unreachable, Ask::One);
    }
    match u.mfa.preferred {
        Some(preferred) if methods.contains(&preferred) => Ask::One(preferred),
        _ if methods.len() == 1 => Ask::One(methods[0]),
        _ => Ask::Choice(methods),
    }
}

/// Whether a sign-in would still ask this user for `method` ([`ask`]): a challenge started
/// before the method was turned off or another one preferred, or before its phone or email
/// was removed or unverified, must not go on to tokens (whoever answers may be the one the
/// change was meant to shut out).
fn still_asked(u: &UserRecord, method: MfaMethod, ctx: &Ctx<'_>) -> bool {
    match ask(u, ctx) {
        Ask::One(asked) => asked == method,
        Ask::Choice(methods) => methods.contains(&method),
        Ask::Nothing | Ask::TotpSetup | Ask::Unreachable => false,
    }
}

/// Ends the challenge of a method a sign-in would no longer ask for (see [`still_asked`]).
fn ended_method(u: &UserRecord) -> Step {
    let mut next = u.clone();
    next.challenge = None;
    Step::put(next, Err(invalid_session()))
}

/// The methods a sign-in would ask this user for as the second factor ([`ask`]): the
/// preferred one when it is usable, else every usable one (the user chooses), or, where the
/// pool requires a second factor that the user has not set up, the verified phone or email
/// used in its place. None when the pool asks for no second factor, or for a new
/// authenticator.
pub(crate) fn sign_in_factors(u: &UserRecord, ctx: &Ctx<'_>) -> Vec<MfaMethod> {
    match ask(u, ctx) {
        Ask::One(method) => vec![method],
        Ask::Choice(methods) => methods,
        Ask::Nothing | Ask::TotpSetup | Ask::Unreachable => Vec::new(),
    }
}

/// After the first factor: the second-factor step, or `None` when tokens may be issued.
/// `setup_secret` (sealed) is used only if the user must set up an authenticator now.
pub(crate) fn second_factor(
    next: &mut UserRecord,
    setup_secret: &str,
    ctx: &mut Ctx<'_>,
) -> Result<Option<(SignInNext, Vec<Effect>)>> {
    if ctx.settings.raw.mfa.mode == MfaMode::Off {
        return Ok(None);
    }
    let asked = ask(next, ctx);
    // A locked second factor holds back only a sign-in that would ask for one: a user whose
    // factor an administrator has since turned off (a lost phone) signs in with the password.
    if asked != Ask::Nothing && ctx.now < next.mfa_lockout.locked_until_ms {
        return Err(Error::not_authorized("Password attempts exceeded"));
    }
    match asked {
        Ask::Nothing => Ok(None),
        Ask::TotpSetup => {
            let session = start_challenge(next, ChallengeKind::TotpSetup { secret: setup_secret.to_owned() }, ctx);
            Ok(Some((SignInNext::TotpSetup { session }, Vec::new())))
        }
        Ask::One(method) => Ok(Some(start_method(next, method, ctx))),
        Ask::Choice(options) => {
            let session = start_challenge(next, ChallengeKind::SelectMfa { options: options.clone() }, ctx);
            Ok(Some((SignInNext::SelectMfa { session, options }, Vec::new())))
        }
        Ask::Unreachable => Err(Error::new(
            ErrorCode::MfaMethodNotFound,
            "MFA is required but the user has no verified phone number or email to receive a code.",
        )),
    }
}

/// Starts the challenge of one method: a TOTP prompt, or a code sent by SMS or email.
fn start_method(next: &mut UserRecord, method: MfaMethod, ctx: &mut Ctx<'_>) -> (SignInNext, Vec<Effect>) {
    if method == MfaMethod::Totp {
        let session = start_challenge(next, ChallengeKind::Mfa { method, code: None }, ctx);
        return (SignInNext::TotpCode { session }, Vec::new());
    }
    let attribute = method.attribute();
    let ttl = ctx.settings.raw.codes.mfa_validity_secs;
    let (pending, code) = issue_code(ctx, Purpose::Mfa, &next.sub.clone(), attribute, ttl);
    let destination = next.attributes.get(attribute).cloned().unwrap_or_default();
    let (msg, delivery) = message(ctx, next, attribute, &destination, Purpose::Mfa, &code);
    let session = start_challenge(next, ChallengeKind::Mfa { method, code: Some(pending) }, ctx);
    let step = if method == MfaMethod::Sms {
        SignInNext::SmsCode { session, delivery }
    } else {
        SignInNext::EmailCode { session, delivery }
    };
    (step, vec![Effect::Deliver(msg)])
}

/// Counts a wrong answer; the session dies at the cap.
fn wrong_answer(u: &UserRecord, ctx: &Ctx<'_>) -> Step {
    let mut next = u.clone();
    // Wrong second factors count across sign-ins: the right password must not buy a fresh
    // set of guesses each time. Never locked here (`locked_out` answered first), so it
    // cannot fail.
    let _ = super::user::count_attempt(&mut next.mfa_lockout, ctx);
    let mut dead = false;
    if let Some(challenge) = next.challenge.as_mut() {
        challenge.attempts = challenge.attempts.saturating_add(1);
        dead = challenge.attempts >= ctx.settings.raw.codes.max_attempts;
    }
    let audit = event(u, EventKind::SignIn, false, "wrong second factor", ctx);
    if dead {
        next.challenge = None;
        return Step::put(next, Err(Error::too_many_failed_attempts())).with(Effect::Audit(audit));
    }
    Step::put(next, Err(Error::code_mismatch())).with(Effect::Audit(audit))
}

/// The end of a successful sign-in: challenge cleared, a new session family.
pub(crate) fn signed_in(mut next: UserRecord, detail: &str, ctx: &mut Ctx<'_>) -> Step {
    next.challenge = None;
    next.mfa_lockout = super::state::Lockout::default();
    let session = super::user::new_session(&next, ctx);
    let audit = event(&next, EventKind::SignIn, true, detail, ctx);
    Step::put(next, Ok(Reply::SignIn(SignInNext::Tokens(session)))).with(Effect::Audit(audit))
}

/// While wrong second factors have sign-in locked, no answer is weighed, right or wrong,
/// and the challenge ends: a challenge's own attempts must not outrun the lockout.
fn locked_out(u: &UserRecord, ctx: &Ctx<'_>) -> Option<Step> {
    (ctx.now < u.mfa_lockout.locked_until_ms).then(|| {
        let mut next = u.clone();
        next.challenge = None;
        Step::put(next, Err(Error::not_authorized("Password attempts exceeded")))
    })
}

pub(super) fn answer_code(u: &UserRecord, session: &str, code: &str, ctx: &mut Ctx<'_>) -> Step {
    let challenge = match check_challenge(u, session, ctx) {
        Ok(c) => c.clone(),
        Err(e) => return Step::fail(e),
    };
    if let Some(locked) = locked_out(u, ctx) {
        return locked;
    }
    let ChallengeKind::Mfa { method, code: Some(pending) } = challenge.kind else {
        return Step::fail(invalid_session());
    };
    if !still_asked(u, method, ctx) {
        return ended_method(u);
    }
    if ctx.now >= pending.expires_ms {
        let mut next = u.clone();
        next.challenge = None;
        return Step::put(next, Err(Error::expired_code()));
    }
    if !ctx.codes.matches(Purpose::Mfa.as_str(), &u.sub, code, &pending.tag) {
        return wrong_answer(u, ctx);
    }
    signed_in(u.clone(), method.cognito_name(), ctx)
}

pub(super) fn answer_totp(
    u: &UserRecord,
    session: &str,
    step: Option<u64>,
    secret_checked: &str,
    ctx: &mut Ctx<'_>,
) -> Step {
    let challenge = match check_challenge(u, session, ctx) {
        Ok(c) => c,
        Err(e) => return Step::fail(e),
    };
    let (ChallengeKind::Mfa { method: MfaMethod::Totp, .. }, Some(device)) = (&challenge.kind, &u.mfa.totp) else {
        return Step::fail(invalid_session());
    };
    if let Some(locked) = locked_out(u, ctx) {
        return locked;
    }
    if !still_asked(u, MfaMethod::Totp, ctx) {
        return ended_method(u);
    }
    match step {
        // A code of a step at or before the last accepted one is a replay (RFC 6238 §5.2).
        Some(step) if device.secret == secret_checked && step > device.last_step => {
            let mut next = u.clone();
            if let Some(device) = next.mfa.totp.as_mut() {
                device.last_step = step;
            }
            signed_in(next, "SOFTWARE_TOKEN_MFA", ctx)
        }
        _ => wrong_answer(u, ctx),
    }
}

pub(super) fn answer_totp_setup(
    u: &UserRecord,
    session: &str,
    step: Option<u64>,
    secret_checked: &str,
    friendly_name: &str,
    ctx: &mut Ctx<'_>,
) -> Step {
    let challenge = match check_challenge(u, session, ctx) {
        Ok(c) => c,
        Err(e) => return Step::fail(e),
    };
    let ChallengeKind::TotpSetup { secret } = &challenge.kind else {
        return Step::fail(invalid_session());
    };
    if let Some(locked) = locked_out(u, ctx) {
        return locked;
    }
    // Only while a sign-in would still ask for setup: one that meanwhile gained a method
    // (an authenticator added elsewhere, SMS turned on) must not let this challenge's holder
    // put their own authenticator in its place.
    if ask(u, ctx) != Ask::TotpSetup {
        return ended_method(u);
    }
    match step {
        Some(step) if secret == secret_checked => {
            let mut next = u.clone();
            next.mfa.totp = Some(TotpDevice {
                secret: secret.clone(),
                friendly_name: friendly_name.to_owned(),
                last_step: step,
                created_ms: ctx.now,
            });
            next.mfa.totp_enabled = true;
            next.mfa.pending_totp = None;
            next.mfa.preferred.get_or_insert(MfaMethod::Totp);
            signed_in(next, "MFA_SETUP", ctx)
        }
        _ => wrong_answer(u, ctx),
    }
}

pub(super) fn answer_selection(u: &UserRecord, session: &str, method: MfaMethod, ctx: &mut Ctx<'_>) -> Step {
    let challenge = match check_challenge(u, session, ctx) {
        Ok(c) => c,
        Err(e) => return Step::fail(e),
    };
    let ChallengeKind::SelectMfa { options } = &challenge.kind else {
        return Step::fail(invalid_session());
    };
    if !options.contains(&method) {
        return Step::fail(Error::invalid(format!("{} is not one of the offered MFA methods", method.as_str())));
    }
    if !still_asked(u, method, ctx) {
        return ended_method(u);
    }
    // As every answer is: a locked second factor sends no code and opens no challenge.
    if let Some(locked) = locked_out(u, ctx) {
        return locked;
    }
    let mut next = u.clone();
    let (step, effects) = start_method(&mut next, method, ctx);
    let mut step = Step::put(next, Ok(Reply::SignIn(step)));
    step.effects.extend(effects);
    step
}

pub(super) fn replace_setup_secret(u: &UserRecord, session: &str, secret: String, ctx: &mut Ctx<'_>) -> Step {
    let challenge = match check_challenge(u, session, ctx) {
        Ok(c) => c,
        Err(e) => return Step::fail(e),
    };
    if !matches!(challenge.kind, ChallengeKind::TotpSetup { .. }) {
        return Step::fail(invalid_session());
    }
    if let Some(locked) = locked_out(u, ctx) {
        return locked;
    }
    let mut next = u.clone();
    if let Some(c) = next.challenge.as_mut() {
        c.kind = ChallengeKind::TotpSetup { secret };
    }
    Step::put(next, Ok(Reply::Done))
}

pub(super) fn associate(u: &UserRecord, secret: String, ctx: &mut Ctx<'_>) -> Step {
    if !ctx.settings.mfa_methods.contains(&MfaMethod::Totp) || ctx.settings.raw.mfa.mode == MfaMode::Off {
        return Step::fail(Error::new(ErrorCode::InvalidParameter, "TOTP MFA is not enabled for this user pool."));
    }
    let mut next = u.clone();
    next.mfa.pending_totp = Some(PendingTotp { secret, attempts: 0 });
    next.updated_ms = ctx.now;
    Step::put(next, Ok(Reply::Done))
}

pub(super) fn verify_totp(
    u: &UserRecord,
    step: Option<u64>,
    secret_checked: &str,
    friendly_name: &str,
    ctx: &mut Ctx<'_>,
) -> Step {
    let Some(pending) = &u.mfa.pending_totp else {
        return Step::fail(Error::new(
            ErrorCode::SoftwareTokenMfaNotFound,
            "No software token is being associated; call associate_software_token first.",
        ));
    };
    let mut next = u.clone();
    match step {
        Some(step) if pending.secret == secret_checked => {
            next.mfa.totp = Some(TotpDevice {
                secret: pending.secret.clone(),
                friendly_name: friendly_name.to_owned(),
                last_step: step,
                created_ms: ctx.now,
            });
            next.mfa.pending_totp = None;
            next.mfa.totp_enabled = true;
            next.updated_ms = ctx.now;
            Step::put(next, Ok(Reply::Done))
        }
        _ => {
            let attempts = pending.attempts.saturating_add(1);
            next.mfa.pending_totp = (attempts < ctx.settings.raw.codes.max_attempts)
                .then(|| PendingTotp { secret: pending.secret.clone(), attempts });
            Step::put(next, Err(Error::new(ErrorCode::EnableSoftwareTokenMfa, "Code mismatch")))
        }
    }
}

pub(super) fn set_preference(
    u: &UserRecord,
    totp: Option<MfaPreference>,
    sms: Option<MfaPreference>,
    email: Option<MfaPreference>,
    ctx: &mut Ctx<'_>,
) -> Step {
    let choices = [(MfaMethod::Totp, totp), (MfaMethod::Sms, sms), (MfaMethod::Email, email)];
    if choices.iter().filter(|(_, choice)| *choice == Some(MfaPreference::Preferred)).count() > 1 {
        return Step::fail(Error::invalid("Only one MFA method can be preferred."));
    }
    let mut next = u.clone();
    for (method, choice) in choices {
        let Some(choice) = choice else { continue };
        let on = choice != MfaPreference::Disabled;
        if on {
            if ctx.settings.raw.mfa.mode == MfaMode::Off || !ctx.settings.mfa_methods.contains(&method) {
                return Step::fail(Error::invalid(format!(
                    "{} MFA is not enabled for this user pool.",
                    method.as_str()
                )));
            }
            let ready = match method {
                MfaMethod::Totp => next.mfa.totp.is_some(),
                MfaMethod::Sms | MfaMethod::Email => next.is_verified(method.attribute()),
            };
            if !ready {
                // Cognito's answer for TOTP too: SetUserMFAPreference has no
                // SoftwareTokenMFANotFoundException.
                return Step::fail(match method {
                    MfaMethod::Totp => Error::invalid(
                        "User has not set up software token mfa; associate and verify an authenticator first.",
                    ),
                    _ => Error::invalid(format!(
                        "User does not have a verified {} to turn on {} MFA.",
                        method.attribute(),
                        method.as_str()
                    )),
                });
            }
        }
        match method {
            MfaMethod::Totp => next.mfa.totp_enabled = on,
            MfaMethod::Sms => next.mfa.sms_enabled = on,
            MfaMethod::Email => next.mfa.email_enabled = on,
        }
        match choice {
            MfaPreference::Preferred => next.mfa.preferred = Some(method),
            MfaPreference::Disabled | MfaPreference::NotPreferred if next.mfa.preferred == Some(method) => {
                next.mfa.preferred = None;
            }
            _ => {}
        }
    }
    next.updated_ms = ctx.now;
    Step::put(next, Ok(Reply::Done))
}
