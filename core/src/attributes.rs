//! User attributes: the standard (OIDC) set, `custom:` attributes, and the validation every
//! value passes at the boundary.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::error::{Error, Result};

/// Attributes as name → value. Values are strings, as in Cognito.
pub type Attributes = BTreeMap<String, String>;

/// The standard attributes (OIDC standard claims, as Cognito's schema).
pub const STANDARD: &[&str] = &[
    "address",
    "birthdate",
    "email",
    "email_verified",
    "family_name",
    "gender",
    "given_name",
    "locale",
    "middle_name",
    "name",
    "nickname",
    "phone_number",
    "phone_number_verified",
    "picture",
    "preferred_username",
    "profile",
    "sub",
    "updated_at",
    "website",
    "zoneinfo",
];

/// Longest attribute value in bytes (Cognito: 2048).
pub const MAX_VALUE_LEN: usize = 2048;
/// Longest username in characters (Cognito: 128).
pub const MAX_USERNAME_LEN: usize = 128;
/// Longest password in bytes (Cognito: 256); longer inputs are refused before hashing.
pub const MAX_PASSWORD_LEN: usize = 256;

/// Type of a custom attribute. Written in lower case (`datetime`); Cognito's own spelling
/// (`AttributeDataType`: `String`, `Number`, `Boolean`, `DateTime`) is read too, so that a
/// schema copied from it loads.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeType {
    /// Any string.
    #[default]
    #[serde(alias = "String")]
    String,
    /// A decimal integer.
    #[serde(alias = "Number")]
    Number,
    /// `true` or `false`.
    #[serde(alias = "Boolean")]
    Boolean,
    /// An RFC 3339 date-time or a date (`YYYY-MM-DD`).
    #[serde(alias = "DateTime")]
    Datetime,
}

/// Whether `name` is a standard attribute.
pub fn is_standard(name: &str) -> bool {
    STANDARD.contains(&name)
}

/// Whether `name` is one of the two verification flags: only these are booleans in tokens
/// and set by the engine. A custom attribute may end in `_verified` (`custom:age_verified`)
/// and is a string like any custom attribute.
pub(crate) fn is_verification_flag(name: &str) -> bool {
    name == "email_verified" || name == "phone_number_verified"
}

/// Refuses a verification flag (`email_verified`, `phone_number_verified`) to a user's own
/// write or deletion: only an administrator says whether an address is verified.
pub(crate) fn refuse_flag(name: &str) -> Result<()> {
    if is_verification_flag(name) {
        return Err(Error::invalid(format!("{name} can only be set by an administrator")));
    }
    Ok(())
}

/// A simple, strict email check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub(crate) fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.len() <= 253
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && value.chars().all(|c| !c.is_whitespace() && !c.is_control())
}

/// E.164: `+`, then 8–15 digits, the first not zero.
pub(crate) fn is_e164(value: &str) -> bool {
    let Some(digits) = value.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// Validates a username's shape (not its uniqueness).
pub(crate) fn check_username(username: &str) -> Result<()> {
    let chars = username.chars().count();
    if chars == 0 {
        return Err(Error::invalid("username must not be empty"));
    }
    if chars > MAX_USERNAME_LEN {
        return Err(Error::invalid(format!("username must be at most {MAX_USERNAME_LEN} characters")));
    }
    if username.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid("username must not contain spaces or control characters"));
    }
    Ok(())
}

/// Whether `c` may be in a name Cognito's `[\p{L}\p{M}\p{S}\p{N}\p{P}]+` takes (usernames,
/// group names): a letter, mark, symbol, number or punctuation. Not spaces, control or
/// format characters (U+200B, the bidirectional controls), private-use or unassigned code
/// points, with which a name can look like another one.
pub(crate) fn is_name_char(c: char) -> bool {
    use unicode_properties::{GeneralCategoryGroup as Group, UnicodeGeneralCategory as _};
    matches!(
        c.general_category_group(),
        Group::Letter | Group::Mark | Group::Symbol | Group::Number | Group::Punctuation
    )
}

/// Refuses a new name (`what`: a username, a `preferred_username`) shaped as an address the
/// pool takes as an alias, as given or in NFKC (its key's form: `ｂob＠example.com` is keyed
/// as `bob@example.com`): sign-in looks such a name up as that alias.
pub(crate) fn refuse_alias_shape(settings: &Settings, what: &str, name: &str) -> Result<()> {
    let normal = nfkc(name);
    let forms = [name, &normal];
    for (attribute, shape, shaped) in [
        ("email", "email", forms.iter().any(|form| is_email(form))),
        ("phone_number", "phone number", forms.iter().any(|form| is_e164(form))),
    ] {
        if shaped && settings.aliases.contains(attribute) {
            return Err(Error::invalid(format!(
                "{what} cannot be of {shape} format, since user pool is configured for {attribute} alias."
            )));
        }
    }
    Ok(())
}

/// Whether `name` has the shape of a `sub` (a UUID), as given or in NFKC (full-width digits
/// are keyed as digits): such a name finds a user by their `sub` first, so no username or
/// `preferred_username` may take it.
pub(crate) fn looks_like_uuid(name: &str) -> bool {
    is_uuid(name) || is_uuid(&nfkc(name))
}

fn is_uuid(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 36
        && b.iter()
            .enumerate()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { *c == b'-' } else { c.is_ascii_hexdigit() })
}

/// Validates the username of a new user, or a new `preferred_username`: its shape, and only
/// characters Cognito's pattern takes ([`is_name_char`]). Names already stored are looked up
/// with [`check_username`] alone, so that users made before this check can still sign in.
pub(crate) fn check_new_username(username: &str) -> Result<()> {
    check_username(username)?;
    if !username.chars().all(is_name_char) {
        return Err(Error::invalid(
            "username must be letters, marks, symbols, numbers or punctuation (no format or private-use characters)",
        ));
    }
    Ok(())
}

/// Checks a password's length before any work is done on it.
pub(crate) fn check_password_input(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(Error::invalid("password must not be empty"));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::invalid(format!("password must be at most {MAX_PASSWORD_LEN} bytes")));
    }
    Ok(())
}

/// `text` in Unicode NFKC: one form for what looks the same however it was composed (`é` as
/// one code point or as `e` and a combining accent; full-width `Ａ` and `A`). Text NFKC
/// leaves alone (ASCII, most text) is borrowed, not copied. A copy is made at its final
/// size, as it may be a password: a buffer that grew would free a copy of part of it. (The
/// normalizer's own few-character buffers can spill to the heap for long decompositions and
/// are freed unwiped.)
pub(crate) fn nfkc(text: &str) -> Cow<'_, str> {
    use unicode_normalization::{IsNormalized, UnicodeNormalization as _, is_nfkc_quick};
    let quick = if text.is_ascii() { IsNormalized::Yes } else { is_nfkc_quick(text.chars()) };
    if quick == IsNormalized::Yes {
        return Cow::Borrowed(text);
    }
    let len: usize = text.nfkc().map(char::len_utf8).sum();
    // The quick check may answer "maybe" for text NFKC leaves alone.
    if len == text.len() && text.nfkc().eq(text.chars()) {
        return Cow::Borrowed(text);
    }
    let mut normal = String::with_capacity(len);
    normal.extend(text.nfkc());
    Cow::Owned(normal)
}

/// The key a login name is looked up by: in NFKC ([`nfkc`]), so that two names that look the
/// same are one name, and lower-cased unless the pool is case-sensitive.
pub(crate) fn login_key(settings: &Settings, name: &str) -> String {
    login_key_as_given(settings, &nfkc(name))
}

/// [`login_key`] without NFKC: the key users stored before keys were normalized hold until
/// their next write.
pub(crate) fn login_key_as_given(settings: &Settings, name: &str) -> String {
    if settings.raw.sign_in.case_sensitive { name.to_owned() } else { name.to_lowercase() }
}

/// The key an alias (email, phone, preferred_username) is looked up by. Emails and preferred
/// usernames follow the pool's rules for names ([`login_key`]); phone numbers are exact.
pub(crate) fn alias_key(settings: &Settings, attribute: &str, value: &str) -> String {
    alias_key_as_given(settings, attribute, &nfkc(value))
}

/// [`alias_key`] without NFKC, as [`login_key_as_given`].
pub(crate) fn alias_key_as_given(settings: &Settings, attribute: &str, value: &str) -> String {
    match attribute {
        "phone_number" => format!("phone_number:{value}"),
        _ => format!("{attribute}:{}", login_key_as_given(settings, value)),
    }
}

/// Why attributes are being written: the rules differ slightly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteKind {
    /// `sign_up`: write-once customs may be set; verification flags may not.
    SignUp,
    /// `admin_create_user`: anything writable, including verification flags.
    AdminCreate,
    /// A user updating their own attributes through a client.
    UserUpdate,
    /// An administrator updating attributes: verification flags allowed.
    AdminUpdate,
}

impl WriteKind {
    fn by_admin(self) -> bool {
        matches!(self, Self::AdminCreate | Self::AdminUpdate)
    }

    fn creates(self) -> bool {
        matches!(self, Self::SignUp | Self::AdminCreate)
    }
}

/// Validates attribute names and values to be written.
pub(crate) fn check_writes(
    settings: &Settings,
    client_write: Option<&std::collections::BTreeSet<String>>,
    attrs: &Attributes,
    kind: WriteKind,
) -> Result<()> {
    if attrs.len() > 100 {
        return Err(Error::invalid("too many attributes in one request"));
    }
    for (name, value) in attrs {
        if name.is_empty() || name.len() > 32 {
            return Err(Error::invalid("attribute names must be 1-32 characters"));
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(Error::invalid(format!("{name}: value must be at most {MAX_VALUE_LEN} bytes")));
        }
        if value.chars().any(|c| c == '\0') {
            return Err(Error::invalid(format!("{name}: value must not contain NUL")));
        }
        if name == "sub" {
            return Err(Error::invalid("sub cannot be written"));
        }
        // Blank, a required attribute would be as good as deleted, which is refused, and would
        // satisfy a new-password challenge that asks for it.
        if value.is_empty() && settings.required.contains(name) {
            return Err(Error::invalid(format!("{name} is required and cannot be empty")));
        }
        if is_verification_flag(name) {
            if !kind.by_admin() {
                refuse_flag(name)?;
            }
            if value != "true" && value != "false" {
                return Err(Error::invalid(format!("{name} must be `true` or `false`")));
            }
        }
        if let Some(spec) = settings.custom.get(name) {
            if !spec.mutable && !kind.creates() {
                return Err(Error::invalid(format!("{name} is write-once and cannot be changed")));
            }
            check_custom_value(name, value, spec)?;
        } else if !is_standard(name) {
            return Err(Error::invalid(format!("{name} is not an attribute of this pool")));
        }
        if let (Some(allowed), false) = (client_write, kind.by_admin())
            && !allowed.contains(name)
        {
            return Err(Error::new(
                crate::ErrorCode::NotAuthorized,
                format!("A client attempted to write unauthorized attribute {name}"),
            ));
        }
        match name.as_str() {
            // A new address takes no format characters either: it may be a username or an
            // alias, and `a\u{200b}@example.com` would look like another user's.
            "email" if !is_email(value) || !value.chars().all(is_name_char) => {
                return Err(Error::invalid("Invalid email address format."));
            }
            "phone_number" if !is_e164(value) => {
                return Err(Error::invalid("Invalid phone number format: use E.164, e.g. +14325551212."));
            }
            "preferred_username" if check_new_username(value).is_err() => {
                return Err(Error::invalid(
                    "preferred_username must be 1-128 letters, marks, symbols, numbers or punctuation",
                ));
            }
            // As an alias (now, or once the pool makes it one) it would stand for the user
            // whose `sub` it is, in every lookup by name, an administrator's included.
            "preferred_username" if looks_like_uuid(value) => {
                return Err(Error::invalid("preferred_username cannot be in UUID format."));
            }
            // As Cognito: an alias one signs in by is taken as soon as it is stored, so a sign-up
            // nobody confirms could hold any name it likes.
            "preferred_username" if kind == WriteKind::SignUp && settings.aliases.contains(name) => {
                return Err(Error::invalid(
                    "preferred_username is an alias in this user pool: it can be set once the account is confirmed",
                ));
            }
            // Sign-in takes such a name as the address alias, as it does for usernames; only
            // this user could be found by it, and only while nobody has verified the address.
            "preferred_username" => refuse_alias_shape(settings, name, value)?,
            _ => {}
        }
    }
    Ok(())
}

fn check_custom_value(name: &str, value: &str, spec: &crate::config::CustomAttributeSpec) -> Result<()> {
    match spec.kind {
        AttributeType::String => {
            let len = i64::try_from(value.chars().count()).unwrap_or(i64::MAX);
            let max = spec.max.unwrap_or(2048);
            if len < spec.min.unwrap_or(0) || len > max {
                return Err(Error::invalid(format!(
                    "{name}: length must be between {} and {max}",
                    spec.min.unwrap_or(0)
                )));
            }
        }
        AttributeType::Number => {
            let Ok(number) = value.parse::<i64>() else {
                return Err(Error::invalid(format!("{name} must be a whole number")));
            };
            if spec.min.is_some_and(|m| number < m) || spec.max.is_some_and(|m| number > m) {
                return Err(Error::invalid(format!("{name} is out of range")));
            }
        }
        AttributeType::Boolean => {
            if value != "true" && value != "false" {
                return Err(Error::invalid(format!("{name} must be `true` or `false`")));
            }
        }
        AttributeType::Datetime => {
            if !is_datetime(value) {
                return Err(Error::invalid(format!("{name} must be a date (YYYY-MM-DD) or an RFC 3339 date-time")));
            }
        }
    }
    Ok(())
}

fn is_datetime(value: &str) -> bool {
    let b = value.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let date_ok = b.len() >= 10 && digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10);
    if !date_ok {
        return false;
    }
    if b.len() == 10 {
        return true;
    }
    b.len() >= 20
        && (b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && value[19..].chars().all(|c| c.is_ascii_digit() || "+-:.Zz".contains(c))
}

/// Masks a destination for code delivery details: `a***@e***` or `+*******1212`. Only the
/// kind of address shows, not its case or length, so that an answer made up for a name
/// nobody has (`flow::user::simulated_delivery`) looks like a real one.
pub(crate) fn mask(destination: &str) -> String {
    if let Some((local, domain)) = destination.split_once('@') {
        let first = |s: &str| s.chars().next().map(|c| c.to_lowercase().collect::<String>()).unwrap_or_default();
        format!("{}***@{}***", first(local), first(domain))
    } else {
        let n = destination.chars().count();
        let visible: String = destination.chars().skip(n.saturating_sub(4)).collect();
        format!("+*******{visible}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfkc_copies_only_what_it_changes() {
        assert!(matches!(nfkc("alice"), Cow::Borrowed(_)));
        assert!(matches!(nfkc("Zo\u{eb}"), Cow::Borrowed(_)));
        // The quick check answers "maybe" for a combining accent; no letter composes with it.
        assert!(matches!(nfkc("q\u{301}"), Cow::Borrowed(_)));
        assert_eq!(nfkc("Zoe\u{308}"), "Zo\u{eb}");
        assert_eq!(nfkc("\u{ff42}ob\u{ff20}example.com"), "bob@example.com");
    }

    #[test]
    fn a_name_is_refused_for_the_shape_of_its_nfkc_form_too() {
        let settings =
            Settings::new(crate::config::PoolConfig::from_toml("[sign_in]\nalias_attributes = ['email']").unwrap())
                .unwrap();
        assert!(refuse_alias_shape(&settings, "Username", "bob\u{ff20}example.com").is_err());
        assert!(refuse_alias_shape(&settings, "Username", "bob").is_ok());
        assert!(looks_like_uuid("\u{ff10}1234567-89ab-4def-8123-456789abcdef"));
    }

    #[test]
    fn names_take_what_cognitos_pattern_takes() {
        for c in ['a', '\u{e9}', '\u{0301}', '7', '_', '-', '@', '+', '\u{1f600}', '\u{4e2d}'] {
            assert!(is_name_char(c), "{c:?} is a letter, mark, number, punctuation or symbol");
        }
        // Zero-width space, right-to-left override, soft hyphen, private use, unassigned,
        // a space, a tab.
        for c in ['\u{200b}', '\u{202e}', '\u{ad}', '\u{e000}', '\u{378}', ' ', '\t'] {
            assert!(!is_name_char(c), "{c:?}");
        }
        assert!(check_new_username("alice\u{e9}").is_ok());
        assert!(check_new_username("admin\u{200b}").is_err());
        assert!(check_username("admin\u{200b}").is_ok(), "a stored name is still looked up");
    }

    #[test]
    fn emails_and_phones() {
        assert!(is_email("alice@example.com"));
        for bad in ["alice", "@example.com", "alice@example", "a b@example.com", "a@@b.com", "a@b..com"] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(is_e164("+14325551212"));
        for bad in ["14325551212", "+0123456789", "+1", "+1234567890123456", "+1-432-555"] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn masking_hides_most_of_the_destination() {
        assert_eq!(mask("alice@example.com"), "a***@e***");
        assert_eq!(mask("+14325551212"), "+*******1212");
        assert_eq!(mask("Alice@Example.com"), "a***@e***", "no case");
        assert_eq!(mask("+447700900123"), "+*******0123", "no length");
    }

    #[test]
    fn datetimes() {
        assert!(is_datetime("2024-02-29"));
        assert!(is_datetime("2024-02-29T10:00:00Z"));
        assert!(is_datetime("2024-02-29T10:00:00.123+02:00"));
        assert!(!is_datetime("yesterday"));
        assert!(!is_datetime("2024-02-29T10"));
    }
}
