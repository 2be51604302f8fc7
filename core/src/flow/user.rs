//! Transitions of a user's record: sign-up, confirmation, password attempts and lockout,
//! recovery, attributes, administration.

use std::collections::BTreeMap;

use super::state::{BASE_RECORD_VERSION, ChallengeKind, EventKind, Family, Lockout, MfaMethod, UserRecord, UserStatus};
use super::{
    AttributeUpdate, Change, CodeDelivery, Ctx, Effect, NewSession, Reply, SignInNext, Step, event, issue_code,
    message, mfa, redeem,
};
use crate::attributes::{self, Attributes, WriteKind};
use crate::config::{ClientSettings, RecoveryChannel, Settings, UsernameMode};
use crate::crypto::{self, codes};
use crate::delivery::{Channel, Purpose};
use crate::error::{Error, ErrorCode, Result};

// ── validation at the boundary (pure, run by the driver before any hashing) ──────────────

/// A new user's name, as sign-up, an administrator or an import gives it.
#[derive(Clone)]
pub(crate) enum NewName {
    /// A username of its own.
    Username(String),
    /// In a pool that signs in by email or phone number: which of the two the user signed up
    /// with. Its value is among the attributes; the stored username is the sub.
    Address(&'static str),
}

/// Checks a sign-up or admin-create request and returns the new user's name and the full
/// attributes (with the email/phone taken from the username when those are the username).
pub(crate) fn check_new_user(
    settings: &Settings,
    client: &ClientSettings,
    username: &str,
    mut attrs: Attributes,
    by_admin: bool,
) -> Result<(NewName, Attributes)> {
    attributes::check_new_username(username)?;
    let kind = if by_admin { WriteKind::AdminCreate } else { WriteKind::SignUp };
    attributes::check_writes(settings, client.write.as_ref(), &attrs, kind)?;
    let stored = match settings.username_mode {
        UsernameMode::Attributes { email, phone } => {
            let attribute = if email && attributes::is_email(username) {
                "email"
            } else if phone && attributes::is_e164(username) {
                "phone_number"
            } else {
                let wanted = match (email, phone) {
                    (true, true) => "an email address or an E.164 phone number",
                    (true, false) => "an email address",
                    _ => "an E.164 phone number",
                };
                return Err(Error::invalid(format!("Username should be {wanted}.")));
            };
            if attrs.get(attribute).is_some_and(|v| v != username) {
                return Err(Error::invalid(format!("{attribute} must match the username")));
            }
            attrs.insert(attribute.to_owned(), username.to_owned());
            NewName::Address(attribute)
        }
        UsernameMode::Username => {
            if attributes::looks_like_uuid(username) {
                // A user's sub is a UUID and administrators may look users up by sub.
                return Err(Error::invalid("Username cannot be in UUID format."));
            }
            attributes::refuse_alias_shape(settings, "Username", username)?;
            NewName::Username(username.to_owned())
        }
    };
    // An administrator's user gives them at its new-password challenge.
    if !by_admin {
        check_required(settings, &attrs)?;
    }
    check_flags_have_addresses(&attrs, &attrs)?;
    Ok((stored, attrs))
}

/// Refuses a verification flag set `true` in `given` for an address the user's attributes
/// (`has`) lack: the tokens would claim a verified address the user does not have.
fn check_flags_have_addresses(given: &Attributes, has: &Attributes) -> Result<()> {
    for (flag, attribute) in [("email_verified", "email"), ("phone_number_verified", "phone_number")] {
        if given.get(flag).is_some_and(|v| v == "true") && !has.contains_key(attribute) {
            return Err(Error::invalid(format!("{flag} is true, but no {attribute} is given")));
        }
    }
    Ok(())
}

/// Refuses a new user's attributes that lack one the pool requires.
pub(crate) fn check_required(settings: &Settings, attrs: &Attributes) -> Result<()> {
    let missing: Vec<&str> = settings.required.iter().filter(|r| !attrs.contains_key(*r)).map(String::as_str).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(format!("Attributes did not conform to the schema: {} required", missing.join(", "))))
    }
}

/// The unique lookup keys of a user: its username and its login aliases.
pub(crate) fn index_keys(settings: &Settings, user: &UserRecord) -> Vec<String> {
    keys_of(settings, user, false)
}

/// The user's [`index_keys`] and, in a pool whose users sign up with an email or a phone
/// number, the key their other address takes once verified. A user may not take on an
/// address another user signs in by, even unverified: no code goes to it for them, as none
/// did when every address was a key.
pub(crate) fn claimed_keys(settings: &Settings, user: &UserRecord) -> Vec<String> {
    keys_of(settings, user, true)
}

fn keys_of(settings: &Settings, user: &UserRecord, unverified: bool) -> Vec<String> {
    let mut keys = Vec::new();
    for name_key in name_keys(settings, user, unverified) {
        add_new(&mut keys, std::iter::once(name_key.normal).chain(name_key.as_given));
    }
    keys
}

/// Adds to `keys` those of `more` it lacks, in order.
fn add_new(keys: &mut Vec<String>, more: impl IntoIterator<Item = String>) {
    for key in more {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
}

/// One of a user's unique keys, made of a name or an address: of its NFKC form, as keys are
/// made, and, for a name NFKC changes, of the name as given too. A user holds both. The
/// second is the key a user stored before keys were normalized holds: nobody else may take
/// it, and such a user whose NFKC key another user took meanwhile keeps theirs
/// ([`may_go_without`]).
struct NameKey {
    normal: String,
    as_given: Option<String>,
}

impl NameKey {
    fn of(prefix: &str, normal: String, as_given: String) -> Self {
        let (normal, as_given) = (format!("{prefix}{normal}"), format!("{prefix}{as_given}"));
        Self { as_given: (as_given != normal).then_some(as_given), normal }
    }

    fn username(settings: &Settings, name: &str) -> Self {
        Self::of("u:", attributes::login_key(settings, name), attributes::login_key_as_given(settings, name))
    }

    fn alias(settings: &Settings, attribute: &str, value: &str) -> Self {
        Self::of(
            "a:",
            attributes::alias_key(settings, attribute, value),
            attributes::alias_key_as_given(settings, attribute, value),
        )
    }

    fn is(&self, key: &str) -> bool {
        self.normal == key || self.as_given.as_deref() == Some(key)
    }
}

fn name_keys(settings: &Settings, user: &UserRecord, unverified: bool) -> Vec<NameKey> {
    let mut keys = vec![NameKey::username(settings, &user.username)];
    match settings.username_mode {
        UsernameMode::Attributes { email, phone } => {
            for (on, attr) in [(email, "email"), (phone, "phone_number")] {
                let counts = unverified || is_username_attribute(user, attr) || user.is_verified(attr);
                if let (true, true, Some(value)) = (on, counts, user.attributes.get(attr)) {
                    keys.push(NameKey::alias(settings, attr, value));
                }
            }
        }
        UsernameMode::Username => {
            // Usernames and `preferred_username`s are one namespace, as a sign-in by a name
            // tries both: a username holds the alias of its own value too, so that nobody
            // else's `preferred_username` may be it, nor a new username somebody's alias.
            if settings.aliases.contains("preferred_username") {
                keys.push(NameKey::alias(settings, "preferred_username", &user.username));
            }
            for attr in &settings.aliases {
                let counts = attr == "preferred_username" || user.is_verified(attr);
                if let (true, Some(value)) = (counts, user.attributes.get(attr)) {
                    keys.push(NameKey::alias(settings, attr, value));
                }
            }
        }
    }
    keys
}

/// Whether a write of a user stored as `before`, as `next`, may go without `key`, which
/// another user holds: it is the key of a name or address `before` has and `next` keeps
/// unchanged, in both its forms, and either an alias (`alias`: a pool whose users shared a
/// value before it became an alias) or the NFKC key of a name NFKC changes (the user was
/// stored before keys were normalized, holding the key of the name as given, and another
/// user took the NFKC key since). A name the write changes gets no such leave: `Zoe\u{308}`
/// changed to a full-width `Ｚoë` would hold a third form of a name another user has.
pub(crate) fn may_go_without(
    settings: &Settings,
    before: &UserRecord,
    next: &UserRecord,
    key: &str,
    alias: bool,
) -> bool {
    let kept = name_keys(settings, next, false);
    name_keys(settings, before, false).iter().any(|had| {
        let of_it = if alias { had.is(key) } else { had.normal == key && had.as_given.is_some() };
        of_it && kept.iter().any(|keeps| keeps.normal == had.normal && keeps.as_given == had.as_given)
    })
}

/// The username key of the same name as a `preferred_username` alias `key`: a user written
/// before usernames held their alias key (see [`index_keys`]) holds only this one, which a
/// new `preferred_username` must not be either. `None` for any other key.
pub(crate) fn username_twin(key: &str) -> Option<String> {
    key.strip_prefix("a:preferred_username:").map(|name| format!("u:{name}"))
}

/// The addresses `user` signs in by, in a pool whose users sign up with an email or a phone
/// number: the one they signed up with, and the other once verified.
pub(crate) fn sign_in_addresses(settings: &Settings, user: &UserRecord) -> Vec<String> {
    let UsernameMode::Attributes { email, phone } = settings.username_mode else { return Vec::new() };
    [(email, "email"), (phone, "phone_number")]
        .into_iter()
        .filter(|(on, attr)| *on && (is_username_attribute(user, attr) || user.is_verified(attr)))
        .filter_map(|(_, attr)| user.attributes.get(attr).cloned())
        .collect()
}

/// A user made before the record said which address they signed up with, in a pool whose
/// users sign up with an email or a phone number, and who has one address: a copy that
/// names it. The username cannot be deleted, so it is the one. Once recorded, an address the
/// user adds later signs in only once verified; without it, both would be keys for good.
pub(crate) fn with_username_attribute(settings: &Settings, user: &UserRecord) -> Option<UserRecord> {
    if !takes_either_address(settings) || user.username_attribute.is_some() {
        return None;
    }
    let mut present = ["email", "phone_number"].into_iter().filter(|attr| user.attributes.contains_key(*attr));
    let (Some(only), None) = (present.next(), present.next()) else { return None };
    let mut adopted = user.clone();
    adopted.set_username_attribute(only);
    Some(adopted)
}

/// Whether users of the pool sign up with an email or a phone number, either: the pools
/// where the address a user signed up with is kept (in a pool of one kind, the other kind
/// is an ordinary attribute, never a key).
fn takes_either_address(settings: &Settings) -> bool {
    settings.username_mode == UsernameMode::Attributes { email: true, phone: true }
}

/// The user's address attributes, the one they signed up with first (in a pool of one kind,
/// that kind): a message goes there before the other, which may be someone else's.
fn own_address_first(settings: &Settings, user: &UserRecord) -> [&'static str; 2] {
    let phone_first = match (settings.username_mode, user.username_attribute.as_deref()) {
        (_, Some(attribute)) => attribute == "phone_number",
        (UsernameMode::Attributes { email, phone }, None) => phone && !email,
        (UsernameMode::Username, None) => false,
    };
    if phone_first { ["phone_number", "email"] } else { ["email", "phone_number"] }
}

/// The lookup keys of an address (`email`, `phone_number`) as a sign-in name: its NFKC key,
/// and the key of the address as given where that differs (see [`NameKey`]).
pub(crate) fn address_keys(settings: &Settings, attribute: &str, value: &str) -> Vec<String> {
    let key = NameKey::alias(settings, attribute, value);
    std::iter::once(key.normal).chain(key.as_given).collect()
}

/// Whether `attribute` is the address a user of a pool that signs in by email or phone
/// number signed up with. Users made before that was kept have both addresses as their
/// username.
fn is_username_attribute(user: &UserRecord, attribute: &str) -> bool {
    user.username_attribute.as_deref().is_none_or(|theirs| theirs == attribute)
}

/// The keys a sign-in name may be found under, most specific first. For a name that NFKC
/// changes, the keys of the name as given come first: a user stored before keys were
/// normalized holds only those, and another user may have taken the NFKC form since (see
/// [`NameKey`]); every user stored since holds both.
pub(crate) fn lookup_keys(settings: &Settings, name: &str) -> Vec<String> {
    let normal = attributes::nfkc(name);
    let mut keys = keys_of_name(settings, name);
    if normal != name {
        add_new(&mut keys, keys_of_name(settings, &normal));
    }
    keys
}

/// [`lookup_keys`] of `name` as it is.
fn keys_of_name(settings: &Settings, name: &str) -> Vec<String> {
    let alias = |attr: &str| format!("a:{}", attributes::alias_key_as_given(settings, attr, name));
    // With an email or phone alias, sign-up refuses usernames that look like one: such a
    // name is the alias. The username key still follows, for users created before the alias
    // was configured.
    let mut keys: Vec<String> = [("email", attributes::is_email(name)), ("phone_number", attributes::is_e164(name))]
        .into_iter()
        .filter(|(attr, shaped)| *shaped && found_by_address(settings, attr))
        .map(|(attr, _)| alias(attr))
        .collect();
    // A name shaped as an address alias is not a `preferred_username` (writers refuse such
    // values): one stored before would stand for whoever has that address unverified.
    let an_address = !keys.is_empty();
    keys.push(format!("u:{}", attributes::login_key_as_given(settings, name)));
    if settings.username_mode == UsernameMode::Username
        && settings.aliases.contains("preferred_username")
        && !an_address
    {
        keys.push(alias("preferred_username"));
    }
    keys
}

/// Whether a name shaped as an `attribute` (`email`, `phone_number`) finds users by it: the
/// pool signs in with it, or has it as an alias.
fn found_by_address(settings: &Settings, attribute: &str) -> bool {
    match settings.username_mode {
        UsernameMode::Attributes { email, phone } => {
            if attribute == "email" {
                email
            } else {
                phone
            }
        }
        UsernameMode::Username => settings.aliases.contains(attribute),
    }
}

/// A plausible delivery for a user who does not exist (or cannot receive a code), stable per
/// name, so the answer reveals nothing (user-existence protection). It goes through
/// `attribute` (`email` or `phone_number`): to `name` itself, masked, when the pool finds
/// users by such a name, as a user found by it would be answered; otherwise to a masked
/// address whose visible characters come from an HMAC of the name under the pool's code key.
/// The name is taken in NFKC, as lookups take it: its forms find the same user, so they get
/// the same answer.
pub(crate) fn simulated_delivery(ctx: &Ctx<'_>, name: &str, attribute: &str) -> CodeDelivery {
    let name = &*attributes::nfkc(name);
    let tag = ctx.codes.tag("simulated-delivery", "", &name.to_lowercase());
    let raw = crypto::b64url_decode(&tag).unwrap_or_default();
    // Each character uniform over its `n` choices: the bytes below the largest multiple of
    // `n` are taken, the others skipped, so no letter or digit is likelier than another.
    let uniform = |n: u8, count: usize| -> Vec<u8> {
        let limit = 256 - 256 % u16::from(n);
        raw.iter().filter(|&&b| u16::from(b) < limit).map(|b| b % n).chain(std::iter::repeat(0)).take(count).collect()
    };
    let echoed = echoed_address(ctx.settings, name, attribute);
    if attribute == "phone_number" {
        let destination = echoed.map_or_else(
            || attributes::mask(&uniform(10, 4).into_iter().map(|d| char::from(b'0' + d)).collect::<String>()),
            attributes::mask,
        );
        return CodeDelivery { channel: Channel::Sms, destination, attribute: attribute.into() };
    }
    let destination = echoed.map_or_else(
        || {
            let letters: Vec<char> = uniform(26, 2).into_iter().map(|l| char::from(b'a' + l)).collect();
            format!("{}***@{}***", letters[0], letters[1])
        },
        attributes::mask,
    );
    CodeDelivery { channel: Channel::Email, destination, attribute: "email".into() }
}

/// `name` itself when a code through `attribute` (`email` or `phone_number`) would go to it:
/// the name has that shape and the pool finds users by it, so a user found by it would be
/// sent the code there.
pub(crate) fn echoed_address<'n>(settings: &Settings, name: &'n str, attribute: &str) -> Option<&'n str> {
    let phone = attribute == "phone_number";
    let shaped = if phone { attributes::is_e164(name) } else { attributes::is_email(name) };
    (shaped && found_by_address(settings, if phone { "phone_number" } else { "email" })).then_some(name)
}

/// The attribute a password-reset code goes to first in this pool.
pub(crate) fn recovery_attribute(settings: &Settings) -> &'static str {
    match settings.recovery.first() {
        Some(RecoveryChannel::Phone) => "phone_number",
        _ => "email",
    }
}

/// The attribute a sign-up code for `name` would most likely go to: the phone number for a
/// name that is one, where the pool verifies phone numbers; else the email, where the pool
/// verifies emails.
pub(crate) fn sign_up_code_attribute(settings: &Settings, name: &str) -> &'static str {
    let verifies = |attr: &str| settings.auto_verified.contains(attr);
    let phone = verifies("phone_number") && (attributes::is_e164(name) || !verifies("email"));
    if phone { "phone_number" } else { "email" }
}

// ── sign-up ─────────────────────────────────────────────────────────────────────────────

fn new_user(
    name: NewName,
    password_hash: String,
    attributes: Attributes,
    status: UserStatus,
    ctx: &mut Ctx<'_>,
) -> UserRecord {
    let sub = crypto::uuid_v4(ctx.rng);
    let (username, address) = match name {
        NewName::Username(username) => (username, None),
        NewName::Address(attribute) => (sub.clone(), Some(attribute)),
    };
    let mut user = UserRecord {
        record_version: BASE_RECORD_VERSION,
        sub,
        username,
        username_attribute: None,
        status,
        enabled: true,
        attributes,
        password_hash,
        password_changed_ms: ctx.now,
        temporary_password_expires_ms: None,
        created_ms: ctx.now,
        updated_ms: ctx.now,
        lockout: Lockout::default(),
        sign_up_code: None,
        reset_code: None,
        attribute_codes: Default::default(),
        groups: Default::default(),
        challenge: None,
        mfa: Default::default(),
        mfa_lockout: Default::default(),
        code_requests_ms: Vec::new(),
        group_generations: Default::default(),
    };
    if let Some(attribute) = address.filter(|_| takes_either_address(ctx.settings)) {
        user.set_username_attribute(attribute);
    }
    user
}

pub(super) fn sign_up(name: NewName, password_hash: String, attributes: Attributes, ctx: &mut Ctx<'_>) -> Step {
    let mut user = new_user(name, password_hash, attributes, UserStatus::Unconfirmed, ctx);
    // The address signed up with first: the other may be someone else's, whose owner's
    // account would then make every confirmation an AliasExists.
    let target = own_address_first(ctx.settings, &user)
        .into_iter()
        .find(|a| ctx.settings.auto_verified.contains(*a) && user.attributes.contains_key(*a));
    let Some(attribute) = target else {
        // Nothing to verify: the account is usable at once.
        user.status = UserStatus::Confirmed;
        let audit = event(&user, EventKind::SignUp, true, "", ctx);
        let reply = Reply::SignedUp { sub: user.sub.clone(), confirmed: true, delivery: None };
        return Step { change: Change::Create(user), effects: vec![Effect::Audit(audit)], reply: Ok(reply) };
    };
    let ttl = ctx.settings.raw.codes.sign_up_validity_secs;
    let (pending, code) = issue_code(ctx, Purpose::SignUp, &user.sub.clone(), attribute, ttl);
    user.sign_up_code = Some(pending);
    let destination = user.attributes[attribute].clone();
    let (msg, delivery) = message(ctx, &user, attribute, &destination, Purpose::SignUp, &code);
    let audit = event(&user, EventKind::SignUp, true, "", ctx);
    let reply = Reply::SignedUp { sub: user.sub.clone(), confirmed: false, delivery: Some(delivery) };
    Step { change: Change::Create(user), effects: vec![Effect::Deliver(msg), Effect::Audit(audit)], reply: Ok(reply) }
}

pub(super) fn confirm_sign_up(u: &UserRecord, code: &str, ctx: &mut Ctx<'_>) -> Step {
    if !u.enabled {
        // As for a wrong code under user-existence protection; nothing is counted.
        return Step::fail(if ctx.client.prevent_user_existence_errors {
            Error::code_mismatch()
        } else {
            Error::not_authorized("User is disabled.")
        });
    }
    if u.status != UserStatus::Unconfirmed {
        return Step::fail(Error::not_authorized(format!(
            "User cannot be confirmed. Current status is {}",
            u.status.as_str()
        )));
    }
    let mut next = u.clone();
    match redeem(&mut next.sign_up_code, ctx, Purpose::SignUp, &u.sub, code) {
        // Nothing pending, nothing to write: anyone could otherwise move the user's version
        // on at will, a conflict for each of the user's own steps.
        Err(e) if u.sign_up_code.is_none() => Step::fail(e),
        Err(e) => Step::put(next, Err(e)),
        Ok(used) => {
            next.attributes.insert(format!("{}_verified", used.attribute), "true".into());
            next.status = UserStatus::Confirmed;
            next.updated_ms = ctx.now;
            let audit = event(&next, EventKind::ConfirmSignUp, true, "", ctx);
            Step::put(next, Ok(Reply::Done)).with(Effect::Audit(audit))
        }
    }
}

pub(super) fn resend_sign_up_code(u: &UserRecord, ctx: &mut Ctx<'_>) -> Step {
    if !u.enabled {
        // The driver answers a disabled user before this; a rerun may meet one disabled since.
        return Step::fail(Error::not_authorized("User is disabled."));
    }
    if u.status != UserStatus::Unconfirmed {
        return Step::fail(Error::invalid("User is already confirmed."));
    }
    let previous = u.sign_up_code.as_ref().map(|c| c.attribute.as_str());
    let target = previous.filter(|a| u.attributes.contains_key(*a)).map(str::to_owned).or_else(|| {
        own_address_first(ctx.settings, u).into_iter().find(|a| u.attributes.contains_key(*a)).map(str::to_owned)
    });
    let Some(attribute) = target else {
        return Step::fail(Error::invalid("The user has no email address or phone number to send a code to."));
    };
    let mut next = u.clone();
    if let Err(e) = count_code_request(&mut next.code_requests_ms, ctx) {
        return Step::fail(e);
    }
    let ttl = ctx.settings.raw.codes.sign_up_validity_secs;
    let (pending, code) = issue_code(ctx, Purpose::SignUp, &u.sub, &attribute, ttl);
    next.sign_up_code = Some(pending);
    let destination = next.attributes[&attribute].clone();
    let (msg, delivery) = message(ctx, &next, &attribute, &destination, Purpose::SignUp, &code);
    Step::put(next, Ok(Reply::Delivery(Some(delivery)))).with(Effect::Deliver(msg))
}

pub(super) fn admin_confirm(u: &UserRecord, ctx: &mut Ctx<'_>) -> Step {
    if u.status != UserStatus::Unconfirmed {
        return Step::fail(Error::not_authorized(format!(
            "User cannot be confirmed. Current status is {}",
            u.status.as_str()
        )));
    }
    let mut next = u.clone();
    next.status = UserStatus::Confirmed;
    next.sign_up_code = None;
    next.updated_ms = ctx.now;
    let audit = event(&next, EventKind::ConfirmSignUp, true, "admin", ctx);
    Step::put(next, Ok(Reply::Done)).with(Effect::Audit(audit))
}

pub(super) fn admin_create(
    name: NewName,
    attributes: Attributes,
    temporary_password: &str,
    password_hash: String,
    send_invitation: bool,
    ctx: &mut Ctx<'_>,
) -> Step {
    let mut user = new_user(name, password_hash, attributes, UserStatus::ForceChangePassword, ctx);
    user.temporary_password_expires_ms = Some(ctx.now.saturating_add(ctx.settings.temp_password_ttl_ms));
    let mut step = Step { change: Change::Keep, effects: Vec::new(), reply: Ok(Reply::Delivery(None)) };
    if send_invitation
        && let Some(attribute) =
            own_address_first(ctx.settings, &user).into_iter().find(|a| user.attributes.contains_key(*a))
    {
        let destination = user.attributes[attribute].clone();
        let (msg, delivery) = message(ctx, &user, attribute, &destination, Purpose::Invitation, temporary_password);
        step.effects.push(Effect::Deliver(msg));
        step.reply = Ok(Reply::Delivery(Some(delivery)));
    }
    step.change = Change::Create(user);
    step
}

// ── sign-in ─────────────────────────────────────────────────────────────────────────────

/// Seconds of lockout after `failures` consecutive failures: 1 s after the `free`-th,
/// doubling, capped.
pub(crate) fn lockout_secs(failures: u32, free: u32, max: u64) -> u64 {
    if failures < free {
        return 0;
    }
    let doublings = failures - free;
    if doublings >= 63 { max } else { (1u64 << doublings).min(max) }
}

pub(super) fn start_password_attempt(u: &UserRecord, ctx: &mut Ctx<'_>) -> Step {
    // An imported user has no password to guess. Without user-existence protection they are
    // told to reset it, as Cognito's `PasswordResetRequiredException` tells them; with it,
    // the attempt is counted and fails as a wrong password does, like an unknown name's.
    let no_password = u.password_hash.is_empty() && u.status == UserStatus::ResetRequired && u.enabled;
    if no_password && !ctx.client.prevent_user_existence_errors {
        return Step::reply(Reply::SignIn(SignInNext::ResetPassword));
    }
    let mut next = u.clone();
    if let Err(e) = count_attempt(&mut next.lockout, ctx) {
        return Step::fail(e);
    }
    let hash = next.password_hash.clone();
    let changed_ms = next.password_changed_ms;
    Step::put(next, Ok(Reply::CheckPassword { hash: super::StoredHash(hash), changed_ms }))
}

/// Counts a password attempt on the lockout schedule, as a failure until the driver
/// reports a match; refuses while locked (without extending the lockout).
pub(crate) fn count_attempt(lock: &mut Lockout, ctx: &Ctx<'_>) -> Result<()> {
    if ctx.now < lock.locked_until_ms {
        return Err(Error::not_authorized("Password attempts exceeded"));
    }
    let config = &ctx.settings.raw.lockout;
    let quiet = i64::try_from(config.reset_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    // Quiet since the lockout ended: measured from the last failure, a capped lockout as
    // long as `reset_after_secs` would end with a fresh count, and the schedule start over.
    if lock.failures > 0 && ctx.now.saturating_sub(lock.last_failure_ms.max(lock.locked_until_ms)) >= quiet {
        lock.failures = 0;
    }
    // Saturating: a count read from a damaged record must neither panic nor start over.
    lock.failures = lock.failures.saturating_add(1);
    lock.last_failure_ms = ctx.now;
    let secs = lockout_secs(lock.failures, config.free_attempts, config.max_lockout_secs);
    lock.locked_until_ms = if secs == 0 {
        0
    } else {
        ctx.now.saturating_add(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX))
    };
    Ok(())
}

/// Counts a code asked for against `codes.max_requests_per_hour`, in `requests` (when the
/// codes of the last hour were sent). One more is refused, and `requests` is left as it was.
pub(crate) fn count_code_request(requests: &mut Vec<i64>, ctx: &Ctx<'_>) -> Result<()> {
    if ctx.request_counted {
        return Ok(());
    }
    count_in_hour(requests, ctx, ctx.settings.raw.codes.max_requests_per_hour)
}

/// Counts a message to one destination against `codes.max_per_destination_per_hour`, like
/// [`count_code_request`].
pub(crate) fn count_destination_message(sent: &mut Vec<i64>, ctx: &Ctx<'_>) -> Result<()> {
    count_in_hour(sent, ctx, ctx.settings.raw.codes.max_per_destination_per_hour)
}

/// The window of the hourly limits.
const HOUR_MS: i64 = 3_600_000;

fn count_in_hour(times: &mut Vec<i64>, ctx: &Ctx<'_>, max: u32) -> Result<()> {
    // Times ahead of the clock (it moved back) still count: they never free a request early.
    times.retain(|&at| at > ctx.now.saturating_sub(HOUR_MS));
    if times.len() >= usize::try_from(max).unwrap_or(usize::MAX) {
        return Err(Error::new(ErrorCode::LimitExceeded, "Attempt limit exceeded, please try after some time."));
    }
    times.push(ctx.now);
    Ok(())
}

/// A pool record of counts that, once old enough, means what no record means: from
/// [`Expiring::expires_ms`] on, the store may delete it.
pub(crate) trait Expiring {
    /// When the record starts to count as nothing (unix ms).
    fn expires_ms(&self, settings: &Settings) -> i64;
}

/// A lockout ends when its count would reset: quiet for `reset_after_secs` after it was last
/// locked or failed (see [`count_attempt`]).
impl Expiring for Lockout {
    fn expires_ms(&self, settings: &Settings) -> i64 {
        let quiet = i64::try_from(settings.raw.lockout.reset_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        self.locked_until_ms.max(self.last_failure_ms).saturating_add(quiet)
    }
}

/// Hourly counts end an hour after the newest (see [`count_in_hour`]).
impl Expiring for Vec<i64> {
    fn expires_ms(&self, _: &Settings) -> i64 {
        self.iter().copied().max().unwrap_or(0).saturating_add(HOUR_MS)
    }
}

pub(crate) fn new_session(u: &UserRecord, ctx: &mut Ctx<'_>) -> NewSession {
    let refresh_token = codes::refresh_token(ctx.rng);
    let family = Family {
        record_version: BASE_RECORD_VERSION,
        id: crypto::uuid_v4(ctx.rng),
        sub: u.sub.clone(),
        client_id: ctx.client.id.clone(),
        auth_time_ms: ctx.now,
        created_ms: ctx.now,
        expires_ms: ctx.now.saturating_add(ctx.client.refresh_ttl_ms),
        revoked: false,
        generation: 0,
        current_hash: codes::refresh_token_hash(&refresh_token),
        previous_hash: None,
        rotated_ms: None,
        siblings: Vec::new(),
    };
    NewSession { family, refresh_token }
}

pub(super) fn finish_password_attempt(
    u: &UserRecord,
    matched: bool,
    (hash_checked, changed_ms_checked): (&str, i64),
    rehash: Option<String>,
    setup_secret: &str,
    ctx: &mut Ctx<'_>,
) -> Step {
    // The password changed since the check: not by a rehash, which keeps the time of the
    // change (another sign-in, or an instance hashing with other parameters, rehashed it).
    let changed = u.password_hash != hash_checked && u.password_changed_ms != changed_ms_checked;
    if !matched || changed {
        let mut step = Step::fail(Error::bad_credentials()).with(Effect::Audit(event(
            u,
            EventKind::SignIn,
            false,
            "wrong password",
            ctx,
        )));
        // This attempt's count set a lock (not `> now`: a hash check that took longer than
        // the first lock's second would leave it unwritten).
        if u.lockout.locked_until_ms > u.lockout.last_failure_ms {
            step = step.with(Effect::Audit(event(u, EventKind::Lockout, true, "", ctx)));
        }
        return step;
    }
    let mut next = u.clone();
    next.lockout = Lockout::default();
    if let Some(hash) = rehash {
        next.password_hash = hash;
    }
    if !next.enabled {
        return Step::put(next, Err(Error::not_authorized("User is disabled.")));
    }
    match next.status {
        UserStatus::Unconfirmed => Step::put(next, Ok(Reply::SignIn(SignInNext::ConfirmSignUp))),
        UserStatus::ResetRequired => Step::put(next, Ok(Reply::SignIn(SignInNext::ResetPassword))),
        UserStatus::ForceChangePassword => {
            if next.temporary_password_expires_ms.is_some_and(|t| ctx.now >= t) {
                return Step::put(
                    next,
                    Err(Error::not_authorized("Temporary password has expired and must be reset by an administrator.")),
                );
            }
            let missing: Vec<String> =
                ctx.settings.required.iter().filter(|r| !next.attributes.contains_key(*r)).cloned().collect();
            let session =
                mfa::start_challenge(&mut next, ChallengeKind::NewPasswordRequired { missing: missing.clone() }, ctx);
            Step::put(next, Ok(Reply::SignIn(SignInNext::NewPasswordRequired { session, missing })))
        }
        UserStatus::Confirmed => after_first_factor(next, setup_secret, ctx),
    }
}

/// The first factor passed: a second-factor challenge if one is needed, tokens otherwise.
fn after_first_factor(mut next: UserRecord, setup_secret: &str, ctx: &mut Ctx<'_>) -> Step {
    match mfa::second_factor(&mut next, setup_secret, ctx) {
        Err(e) => Step::put(next, Err(e)),
        Ok(None) => mfa::signed_in(next, "", ctx),
        Ok(Some((step, effects))) => {
            let mut step = Step::put(next, Ok(Reply::SignIn(step)));
            step.effects.extend(effects);
            step
        }
    }
}

pub(super) fn answer_new_password(
    u: &UserRecord,
    session: &str,
    password_hash: String,
    attributes: Attributes,
    setup_secret: &str,
    ctx: &mut Ctx<'_>,
) -> Step {
    let challenge = match mfa::check_challenge(u, session, ctx) {
        Ok(c) => c,
        Err(e) => return Step::fail(e),
    };
    let ChallengeKind::NewPasswordRequired { missing } = &challenge.kind else {
        return Step::fail(Error::not_authorized("Invalid session for the user, session is expired."));
    };
    if u.status != UserStatus::ForceChangePassword {
        return Step::fail(Error::not_authorized("Invalid session for the user, session is expired."));
    }
    let still_missing: Vec<&str> =
        missing.iter().filter(|m| !attributes.contains_key(*m)).map(String::as_str).collect();
    if !still_missing.is_empty() {
        return Step::fail(Error::invalid(format!("Missing required attributes: {}", still_missing.join(", "))));
    }
    let mut next = u.clone();
    // The user's own write, not the administrator's: a new email is not a verified one
    // because an invitation went to another.
    let messages = match write_attributes(&mut next, &attributes, Writer::FirstSignIn, ctx) {
        Ok((_, messages)) => messages,
        Err(e) => return Step::fail(e),
    };
    next.password_hash = password_hash;
    next.password_changed_ms = password_set_at(u, ctx);
    next.temporary_password_expires_ms = None;
    next.reset_code = None;
    next.status = UserStatus::Confirmed;
    next.challenge = None;
    next.updated_ms = ctx.now;
    let audit = event(&next, EventKind::PasswordChange, true, "new password required", ctx);
    let mut step = after_first_factor(next, setup_secret, ctx);
    // The second factor refused (locked, or no method to use): nothing is saved, so the
    // temporary password and this challenge still work once that is resolved.
    if let Err(e) = &step.reply {
        return Step::fail(e.clone());
    }
    step.effects.extend(messages);
    step.with(Effect::Audit(audit))
}

// ── recovery and passwords ──────────────────────────────────────────────────────────────

/// The first verified recovery channel in the pool's order. A channel the next sign-in could
/// take as the second factor is skipped: whoever holds that inbox or phone would get both the
/// new password and the second factor.
fn recovery_channel(u: &UserRecord, ctx: &Ctx<'_>) -> Option<&'static str> {
    recovery_channels(u, ctx).next()
}

/// The user's verified recovery channels that the next sign-in could not take as the second
/// factor, in the pool's order.
fn recovery_channels<'a>(u: &'a UserRecord, ctx: &'a Ctx<'_>) -> impl Iterator<Item = &'static str> + 'a {
    let factors = mfa::sign_in_factors(u, ctx);
    ctx.settings
        .recovery
        .iter()
        .map(channel)
        .filter_map(move |(attr, method)| (u.is_verified(attr) && !factors.contains(&method)).then_some(attr))
}

/// Whether a reset code sent to `attribute` may still reset the password: the address is
/// still one of the user's [`recovery_channels`]. An administrator who marks an address
/// unverified (its owner lost it), or a user who makes it their second factor, ends the code
/// sent there, as replacing the address does.
fn still_a_recovery_channel(u: &UserRecord, attribute: &str, ctx: &Ctx<'_>) -> bool {
    recovery_channels(u, ctx).any(|attr| attr == attribute)
}

/// The attribute a recovery channel sends to, and the second factor that uses it.
fn channel(c: &RecoveryChannel) -> (&'static str, MfaMethod) {
    match c {
        RecoveryChannel::Email => ("email", MfaMethod::Email),
        RecoveryChannel::Phone => ("phone_number", MfaMethod::Sms),
    }
}

pub(super) fn forgot_password(u: &UserRecord, name: &str, ctx: &mut Ctx<'_>) -> Step {
    let protect = ctx.client.prevent_user_existence_errors;
    if ctx.settings.recovery.is_empty() {
        return Step::fail(Error::not_authorized("Contact administrator to reset password."));
    }
    let attribute = u.enabled.then(|| recovery_channel(u, ctx)).flatten();
    if attribute.is_none() && !protect {
        // A verified channel the second factor uses (`recovery_channel`) is there, but not
        // for this: only an administrator can set a password.
        let kept_for_mfa = ctx.settings.recovery.iter().any(|c| u.is_verified(channel(c).0));
        return Step::fail(if !u.enabled {
            Error::not_authorized("User is disabled.")
        } else if kept_for_mfa {
            Error::not_authorized("Contact administrator to reset password.")
        } else {
            Error::invalid(
                "Cannot reset password for the user as there is no registered/verified email or phone_number",
            )
        });
    }
    let mut next = u.clone();
    // Counted before anything else, as for a name that finds nobody: a user who cannot
    // receive a code is limited like any other.
    if let Err(e) = count_code_request(&mut next.code_requests_ms, ctx) {
        return Step::fail(e);
    }
    let Some(attribute) = attribute else {
        let recovery = recovery_attribute(ctx.settings);
        let simulated = simulated_delivery(ctx, name, recovery);
        let step = Step::put(next, Ok(Reply::Delivery(Some(simulated))));
        // Counted against the address as an unknown name that is the address would be.
        return match echoed_address(ctx.settings, name, recovery) {
            Some(address) => step.with(Effect::CountMessageTo(address.to_owned())),
            None => step,
        };
    };
    let ttl = ctx.settings.raw.codes.reset_validity_secs;
    let (pending, code) = issue_code(ctx, Purpose::ForgotPassword, &u.sub, attribute, ttl);
    next.reset_code = Some(pending);
    let destination = next.attributes[attribute].clone();
    let (msg, delivery) = message(ctx, &next, attribute, &destination, Purpose::ForgotPassword, &code);
    let audit = event(&next, EventKind::ForgotPassword, true, "", ctx);
    Step::put(next, Ok(Reply::Delivery(Some(delivery)))).with(Effect::Deliver(msg)).with(Effect::Audit(audit))
}

pub(super) fn confirm_forgot_password(
    u: &UserRecord,
    code: &str,
    password_hash: String,
    password: &str,
    ctx: &mut Ctx<'_>,
) -> Step {
    if !u.enabled {
        return Step::fail(if ctx.client.prevent_user_existence_errors {
            Error::code_mismatch()
        } else {
            Error::not_authorized("User is disabled.")
        });
    }
    let mut next = u.clone();
    let used = match redeem(&mut next.reset_code, ctx, Purpose::ForgotPassword, &u.sub, code) {
        Ok(used) => used,
        // Nothing pending, nothing to write (as in `confirm_sign_up`).
        Err(e) => return if u.reset_code.is_none() { Step::fail(e) } else { Step::put(next, Err(e)) },
    };
    if !still_a_recovery_channel(u, &used.attribute, ctx) {
        // Used up all the same: it is no good any more.
        return Step::put(next, Err(Error::expired_code()));
    }
    let own_name = super::display_username(ctx.settings, u);
    if let Err(refusal) = crypto::password::check_policy(&ctx.settings.raw.password_policy, password, &own_name) {
        // Nothing saved: the code stays for a password the policy takes.
        let audit = event(u, EventKind::PasswordChange, false, "forgot password: the policy refused it", ctx);
        return Step::fail(refusal).with(Effect::Audit(audit));
    }
    next.password_hash = password_hash;
    next.password_changed_ms = password_set_at(u, ctx);
    next.temporary_password_expires_ms = None;
    if matches!(next.status, UserStatus::ResetRequired | UserStatus::ForceChangePassword) {
        next.status = if check_required(ctx.settings, &next.attributes).is_ok() {
            UserStatus::Confirmed
        } else {
            // A user who owes required attributes (invited, or imported, or an invitation an
            // administrator reset) gives them at the new-password challenge, the only place
            // that collects them: the new password stands in for a temporary one, and the
            // next sign-in asks for them (with a new password, which may be this one).
            next.temporary_password_expires_ms = Some(ctx.now.saturating_add(ctx.settings.temp_password_ttl_ms));
            UserStatus::ForceChangePassword
        };
    }
    next.lockout = Lockout::default();
    next.challenge = None;
    next.updated_ms = ctx.now;
    let audit = event(&next, EventKind::PasswordChange, true, "forgot password", ctx);
    // A reset suggests the old password may be known to someone else: end every session.
    Step::put(next, Ok(Reply::Done)).with(Effect::RevokeSessions).with(Effect::Audit(audit))
}

/// When a new password is set: now, or a millisecond after the last change when the clock
/// has not moved on since (a manual clock, one that steps in seconds). A password check made
/// against the old password tells a change from a rehash by this time (`finish_password_attempt`).
fn password_set_at(u: &UserRecord, ctx: &Ctx<'_>) -> i64 {
    ctx.now.max(u.password_changed_ms.saturating_add(1))
}

pub(super) fn set_password(u: &UserRecord, password_hash: String, permanent: bool, ctx: &mut Ctx<'_>) -> Step {
    let mut next = u.clone();
    next.password_hash = password_hash;
    next.password_changed_ms = password_set_at(u, ctx);
    next.lockout = Lockout::default();
    next.challenge = None;
    // A code asked for before the change would otherwise still set the password after it.
    next.reset_code = None;
    next.updated_ms = ctx.now;
    if permanent {
        next.status = UserStatus::Confirmed;
        next.temporary_password_expires_ms = None;
        next.sign_up_code = None;
    } else {
        next.status = UserStatus::ForceChangePassword;
        next.temporary_password_expires_ms = Some(ctx.now.saturating_add(ctx.settings.temp_password_ttl_ms));
    }
    let audit = event(&next, EventKind::PasswordChange, true, "", ctx);
    let step = Step::put(next, Ok(Reply::Done)).with(Effect::Audit(audit));
    // A temporary password means: choose a new one before going on. A session kept from
    // before would go on anyway, and its access token could even replace the temporary
    // password through `change_password`, skipping the required attributes that the
    // new-password challenge collects.
    if permanent { step } else { step.with(Effect::RevokeSessions) }
}

pub(super) fn admin_reset_password(u: &UserRecord, ctx: &mut Ctx<'_>) -> Step {
    if u.status == UserStatus::Unconfirmed {
        return Step::fail(Error::not_authorized("User password cannot be reset in the current state."));
    }
    let mut next = u.clone();
    next.status = UserStatus::ResetRequired;
    // A second factor answered after the reset must not finish a sign-in begun before it,
    // and a code asked for before it must not end the reset.
    next.challenge = None;
    next.reset_code = None;
    next.updated_ms = ctx.now;
    let audit = event(&next, EventKind::PasswordChange, true, "reset by an administrator", ctx);
    Step::put(next, Ok(Reply::Done)).with(Effect::RevokeSessions).with(Effect::Audit(audit))
}

/// The code of an administrator's reset, to the user's recovery channel: `None` when there is
/// none, or when the user is no longer waiting for a reset (changed since).
pub(super) fn send_admin_reset_code(u: &UserRecord, ctx: &mut Ctx<'_>) -> Step {
    // A disabled user gets no mail, as nowhere else.
    let waiting = u.status == UserStatus::ResetRequired && u.enabled;
    let Some(attribute) = recovery_channel(u, ctx).filter(|_| waiting) else {
        return Step::reply(Reply::Delivery(None));
    };
    let mut next = u.clone();
    let ttl = ctx.settings.raw.codes.reset_validity_secs;
    let (pending, code) = issue_code(ctx, Purpose::ForgotPassword, &u.sub, attribute, ttl);
    next.reset_code = Some(pending);
    let destination = next.attributes[attribute].clone();
    let (msg, shown) = message(ctx, &next, attribute, &destination, Purpose::ForgotPassword, &code);
    Step::put(next, Ok(Reply::Delivery(Some(shown)))).with(Effect::Deliver(msg))
}

// ── attributes and account ──────────────────────────────────────────────────────────────

pub(super) fn update_attributes(u: &UserRecord, attrs: Attributes, by_admin: bool, ctx: &mut Ctx<'_>) -> Step {
    let mut next = u.clone();
    let writer = if by_admin { Writer::Admin } else { Writer::User };
    match write_attributes(&mut next, &attrs, writer, ctx) {
        Ok((updates, effects)) => {
            next.updated_ms = ctx.now;
            Step { change: Change::Put(next), effects, reply: Ok(Reply::Attributes(updates)) }
        }
        Err(e) => Step::fail(e),
    }
}

/// Who writes attributes, which decides what a new email or phone number needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// An administrator: the value is taken as given, with any verification flag given.
    Admin,
    /// The user, through `update_user_attributes`: a new address is unverified, or held
    /// until verified under `verify_before_update`; each code sent is a counted request.
    User,
    /// The user answering the new-password challenge of their first sign-in. A new address
    /// replacing one they have is always held until verified: the one they have may be the
    /// only way to a second factor this sign-in is about to ask for. Its codes are not
    /// counted, like the sign-up's own: a stranger's requests must not block a first sign-in.
    FirstSignIn,
}

/// Writes `attrs` into `next` by the rules of `writer`: a new email or phone number is
/// unverified or held until verified, a code goes out where the pool verifies it, and the
/// codes sent to an address the user no longer has stop working. Returns what each
/// attribute needs and the messages to send.
fn write_attributes(
    next: &mut UserRecord,
    attrs: &Attributes,
    writer: Writer,
    ctx: &mut Ctx<'_>,
) -> Result<(Vec<AttributeUpdate>, Vec<Effect>)> {
    let by_admin = writer == Writer::Admin;
    let count = |next: &mut UserRecord, ctx: &Ctx<'_>| {
        if writer == Writer::User { count_code_request(&mut next.code_requests_ms, ctx) } else { Ok(()) }
    };
    let sub = next.sub.clone();
    let mut updates = Vec::new();
    let mut effects = Vec::new();
    for (name, value) in attrs {
        if attributes::is_verification_flag(name) {
            continue;
        }
        let is_channel = name == "email" || name == "phone_number";
        let changed = next.attributes.get(name) != Some(value);
        if !is_channel || !changed {
            next.attributes.insert(name.clone(), value.clone());
            updates.push(AttributeUpdate { attribute: name.clone(), needs_code: false, delivery: None });
            continue;
        }
        let verified_flag = format!("{name}_verified");
        let hold = match writer {
            Writer::Admin => false,
            Writer::User => ctx.settings.verify_before_update.contains(name),
            Writer::FirstSignIn => true,
        } && next.attributes.contains_key(name);
        if hold {
            // The current value stays until the new one is verified.
            count(next, ctx)?;
            let ttl = ctx.settings.raw.codes.attribute_validity_secs;
            let (pending, code) = issue_code(ctx, Purpose::VerifyAttribute, &sub, name, ttl);
            let (msg, delivery) = message(ctx, next, name, value, Purpose::VerifyAttribute, &code);
            next.attribute_codes
                .insert(name.clone(), super::state::PendingAttribute { value: Some(value.clone()), code: pending });
            effects.push(Effect::Deliver(msg));
            updates.push(AttributeUpdate { attribute: name.clone(), needs_code: true, delivery: Some(delivery) });
            continue;
        }
        next.attributes.insert(name.clone(), value.clone());
        drop_codes_sent_to(next, name);
        let flag = attrs.get(&verified_flag).cloned().filter(|_| by_admin).unwrap_or_else(|| "false".into());
        next.attributes.insert(verified_flag, flag.clone());
        next.attribute_codes.remove(name);
        if !by_admin && flag != "true" && ctx.settings.auto_verified.contains(name) {
            count(next, ctx)?;
            let ttl = ctx.settings.raw.codes.attribute_validity_secs;
            let (pending, code) = issue_code(ctx, Purpose::VerifyAttribute, &sub, name, ttl);
            let (msg, delivery) = message(ctx, next, name, value, Purpose::VerifyAttribute, &code);
            next.attribute_codes.insert(name.clone(), super::state::PendingAttribute { value: None, code: pending });
            effects.push(Effect::Deliver(msg));
            updates.push(AttributeUpdate { attribute: name.clone(), needs_code: true, delivery: Some(delivery) });
        } else {
            updates.push(AttributeUpdate { attribute: name.clone(), needs_code: false, delivery: None });
        }
    }
    if by_admin {
        // Administrators may set verification flags directly, of an address the user has.
        for (name, value) in attrs.iter().filter(|(n, _)| attributes::is_verification_flag(n)) {
            next.attributes.insert(name.clone(), value.clone());
        }
        check_flags_have_addresses(attrs, &next.attributes)?;
    }
    Ok((updates, effects))
}

/// A password-reset, sign-up or sign-in (MFA) code sent to an address the user no longer has
/// must not reset the password, confirm the account or sign in: whoever still reads the old
/// mailbox or number is not the user any more.
fn drop_codes_sent_to(next: &mut UserRecord, attribute: &str) {
    for slot in [&mut next.reset_code, &mut next.sign_up_code] {
        if slot.as_ref().is_some_and(|code| code.attribute == attribute) {
            *slot = None;
        }
    }
    let sent_there = |kind: &ChallengeKind| matches!(kind, ChallengeKind::Mfa { code: Some(code), .. } if code.attribute == attribute);
    if next.challenge.as_ref().is_some_and(|c| sent_there(&c.kind)) {
        next.challenge = None;
    }
}

pub(super) fn send_attribute_code(u: &UserRecord, attribute: &str, ctx: &mut Ctx<'_>) -> Step {
    if attribute != "email" && attribute != "phone_number" {
        return Step::fail(Error::invalid("Only email and phone_number can be verified."));
    }
    let pending_value = u.attribute_codes.get(attribute).and_then(|p| p.value.clone());
    let Some(destination) = pending_value.clone().or_else(|| u.attributes.get(attribute).cloned()) else {
        return Step::fail(Error::invalid(format!("The user has no {attribute} to verify.")));
    };
    let mut next = u.clone();
    if let Err(e) = count_code_request(&mut next.code_requests_ms, ctx) {
        return Step::fail(e);
    }
    let ttl = ctx.settings.raw.codes.attribute_validity_secs;
    let (pending, code) = issue_code(ctx, Purpose::VerifyAttribute, &u.sub, attribute, ttl);
    let (msg, delivery) = message(ctx, &next, attribute, &destination, Purpose::VerifyAttribute, &code);
    next.attribute_codes
        .insert(attribute.to_owned(), super::state::PendingAttribute { value: pending_value, code: pending });
    Step::put(next, Ok(Reply::Delivery(Some(delivery)))).with(Effect::Deliver(msg))
}

pub(super) fn verify_attribute(u: &UserRecord, attribute: &str, code: &str, ctx: &mut Ctx<'_>) -> Step {
    let mut next = u.clone();
    let Some(pending) = next.attribute_codes.remove(attribute) else {
        return Step::fail(Error::expired_code());
    };
    let mut slot = Some(pending.code);
    match redeem(&mut slot, ctx, Purpose::VerifyAttribute, &u.sub, code) {
        Err(e) => {
            if let Some(code) = slot {
                next.attribute_codes
                    .insert(attribute.to_owned(), super::state::PendingAttribute { value: pending.value, code });
            }
            // VerifyUserAttribute names a code tried too often LimitExceededException; it has
            // no TooManyFailedAttemptsException.
            let e = if e.code() == ErrorCode::TooManyFailedAttempts {
                Error::new(ErrorCode::LimitExceeded, e.message().to_owned())
            } else {
                e
            };
            Step::put(next, Err(e))
        }
        Ok(_) => {
            if let Some(value) = pending.value {
                next.attributes.insert(attribute.to_owned(), value);
                drop_codes_sent_to(&mut next, attribute);
            }
            next.attributes.insert(format!("{attribute}_verified"), "true".into());
            next.updated_ms = ctx.now;
            Step::put(next, Ok(Reply::Done))
        }
    }
}

pub(super) fn delete_attributes(u: &UserRecord, names: &[String], ctx: &mut Ctx<'_>) -> Step {
    let mut next = u.clone();
    for name in names {
        // Only the address the user signs up with: in a pool of email usernames, a phone
        // number is an ordinary attribute, and so is the other address of a pool that takes
        // either.
        let login = match ctx.settings.username_mode {
            UsernameMode::Attributes { email, phone } => {
                ((email && name == "email") || (phone && name == "phone_number")) && is_username_attribute(u, name)
            }
            UsernameMode::Username => false,
        };
        if ctx.settings.required.contains(name) || name == "sub" || login {
            return Step::fail(Error::invalid(format!("{name} is required and cannot be deleted")));
        }
        if !attributes::is_standard(name) && !ctx.settings.custom.contains_key(name) {
            return Step::fail(Error::invalid(format!("{name} is not an attribute of this pool")));
        }
        // For administrators too: none of them could write it again.
        if ctx.settings.custom.get(name).is_some_and(|c| !c.mutable) {
            return Step::fail(Error::invalid(format!("{name} is write-once and cannot be changed")));
        }
        next.attributes.remove(name);
        if name == "email" || name == "phone_number" {
            next.attributes.remove(&format!("{name}_verified"));
        }
        next.attribute_codes.remove(name);
        drop_codes_sent_to(&mut next, name);
    }
    next.updated_ms = ctx.now;
    Step::put(next, Ok(Reply::Done))
}

/// Every session ends, and so does a sign-in waiting for its second factor. The user is
/// written even when nothing in the record changes: a sign-in writes the user too, so one
/// that commits between this step's read of the sessions and its commit makes this step run
/// again and end that session as well.
pub(super) fn global_sign_out(u: &UserRecord, ctx: &mut Ctx<'_>) -> Step {
    let audit = event(u, EventKind::GlobalSignOut, true, "", ctx);
    let mut next = u.clone();
    next.challenge = None;
    Step::put(next, Ok(Reply::Done)).with(Effect::RevokeSessions).with(Effect::Audit(audit))
}

pub(super) fn set_enabled(u: &UserRecord, enabled: bool, ctx: &mut Ctx<'_>) -> Step {
    let mut next = u.clone();
    next.enabled = enabled;
    if !enabled {
        // Refused while disabled already; it must not come back with `admin_enable_user`.
        next.challenge = None;
    }
    next.updated_ms = ctx.now;
    let kind = if enabled { EventKind::Enabled } else { EventKind::Disabled };
    let audit = event(&next, kind, true, "", ctx);
    let step = Step::put(next, Ok(Reply::Done)).with(Effect::Audit(audit));
    if enabled { step } else { step.with(Effect::RevokeSessions) }
}

/// The most groups a user belongs to, as in Cognito.
const MAX_GROUPS_PER_USER: usize = 100;

/// Adds the user to `group` (of `generation`), after dropping the memberships the driver
/// found `ended` (name → the generation that ended) that the record still holds unchanged.
/// The limit is counted here, on the record the write replaces, so concurrent adds cannot
/// take a user past it; a membership ended since the driver looked still counts.
pub(super) fn join_group(
    u: &UserRecord,
    group: String,
    generation: u64,
    ended: BTreeMap<String, u64>,
    ctx: &mut Ctx<'_>,
) -> Step {
    let mut next = u.clone();
    for (name, ended_generation) in ended {
        if next.group_generations.get(&name).copied().unwrap_or(0) == ended_generation {
            drop_membership(&mut next, &name);
        }
    }
    let member = next.groups.contains(&group) && next.group_generations.get(&group) == Some(&generation);
    if !member && next.groups.len() >= MAX_GROUPS_PER_USER {
        return Step::fail(Error::new(ErrorCode::LimitExceeded, "A user belongs to at most 100 groups."));
    }
    next.groups.insert(group.clone());
    next.group_generations.insert(group, generation);
    changed_memberships(u, next, ctx)
}

/// Removes the user from `group`; with `only_generation`, only a membership of that
/// generation (memberships recorded before generations count as 0, as the groups do).
pub(super) fn leave_group(u: &UserRecord, group: String, only_generation: Option<u64>, ctx: &mut Ctx<'_>) -> Step {
    let joined = u.group_generations.get(&group).copied().unwrap_or(0);
    if only_generation.is_some_and(|generation| generation != joined) {
        return Step::reply(Reply::Done);
    }
    let mut next = u.clone();
    drop_membership(&mut next, &group);
    changed_memberships(u, next, ctx)
}

fn drop_membership(u: &mut UserRecord, group: &str) {
    u.groups.remove(group);
    u.group_generations.remove(group);
}

/// Writes `next` when its memberships differ from `u`'s.
fn changed_memberships(u: &UserRecord, mut next: UserRecord, ctx: &Ctx<'_>) -> Step {
    if next.groups == u.groups && next.group_generations == u.group_generations {
        return Step::reply(Reply::Done);
    }
    next.updated_ms = ctx.now;
    Step::put(next, Ok(Reply::Done))
}

/// The error for a taken unique key, as Cognito names it: a new user's username (the email
/// or phone number, in a pool that signs in by them) is `UsernameExists`; an address an
/// existing user changes to, or verifies, is `AliasExists`, the only one Cognito's attribute
/// operations and ConfirmSignUp answer.
///
/// `new_user` is the user being made, if one is: a key of their username (its own, or the
/// alias key it holds as well) is a username taken.
pub(crate) fn taken_error(settings: &Settings, key: &str, new_user: Option<&UserRecord>) -> Error {
    let username = |user: &UserRecord| {
        key.starts_with("u:")
            || matches!(settings.username_mode, UsernameMode::Attributes { .. })
            || NameKey::alias(settings, "preferred_username", &user.username).is(key)
    };
    if new_user.is_some_and(username) {
        Error::new(ErrorCode::UsernameExists, "An account with the given username already exists.")
    } else {
        Error::new(ErrorCode::AliasExists, "An account with the given email or phone number already exists.")
    }
}

#[cfg(test)]
mod tests {
    use super::{index_keys, lockout_secs};
    use crate::config::{PoolConfig, Settings};
    use crate::store::conformance::sample_user;

    /// A user made before the address they signed up with was kept has both addresses as
    /// keys, as before; a newer one has the other only once verified.
    #[test]
    fn a_second_address_is_a_key_once_verified_or_on_an_older_user() {
        let config = PoolConfig::from_toml("[sign_in]\nusername_attributes = ['email', 'phone_number']").unwrap();
        let settings = Settings::new(config).unwrap();
        let mut user = sample_user("s1", "s1");
        user.attributes.insert("phone_number".into(), "+14325551212".into());
        let older = index_keys(&settings, &user);
        assert_eq!(older.len(), 3, "{older:?}");
        user.username_attribute = Some("phone_number".into());
        let newer = index_keys(&settings, &user);
        assert_eq!(newer.len(), 2, "{newer:?}");
        assert!(newer[1].contains("+14325551212"), "{newer:?}");
        user.attributes.insert("email_verified".into(), "true".into());
        assert_eq!(index_keys(&settings, &user), older);
    }

    #[test]
    fn lockout_follows_cognito_schedule() {
        let secs: Vec<u64> = (1..=16).map(|f| lockout_secs(f, 5, 900)).collect();
        assert_eq!(secs, vec![0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
        assert_eq!(lockout_secs(u32::MAX, 5, 900), 900);
    }
}
