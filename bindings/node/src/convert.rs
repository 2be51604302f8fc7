//! JavaScript arguments into Rust values. Only types are checked here (a string is a
//! string, attributes are an object of strings); what a value means is core's business.
//!
//! Strings are read as UTF-16 and decoded strictly: a lone surrogate is a `TypeError`, never
//! silently replaced by U+FFFD (which would let two different passwords hash alike).
//! Property names too: they are read as JavaScript values, not through `Object::keys`, which
//! decodes them lossily (a name with a lone surrogate was then looked up under another name,
//! found missing, and its property silently dropped).
//!
//! Objects are read as JavaScript code reads them, through `Object.keys`, `Object.hasOwn` and
//! `Reflect.get` called as functions. A getter or Proxy trap that throws then comes back as an
//! `Err` that holds its exception, cleared, and the operation's Promise rejects with it. Read
//! through Node-API's property calls, the exception stayed pending, and the method threw it
//! synchronously instead of returning a Promise.

use napi::bindgen_prelude::{
    Either, FnArgs, FromNapiValue, Function, JsObjectValue, JsValue, JsValuesTupleIntoVec, Object, ToNapiValue,
    TypeName, Unknown, ValidateNapiValue,
};
use napi::{Env, ValueType};
use userpool::{Attributes, ImportUser, MfaPreference};
use zeroize::Zeroizing;

use crate::errors::{Failure, type_error};

/// The JavaScript name of a value's type, for messages.
pub(crate) fn type_name(value: &Unknown<'_>) -> &'static str {
    match value.get_type() {
        Ok(ValueType::Undefined) => "undefined",
        Ok(ValueType::Null) => "null",
        Ok(ValueType::Boolean) => "a boolean",
        Ok(ValueType::Number) => "a number",
        Ok(ValueType::String) => "a string",
        Ok(ValueType::Symbol) => "a symbol",
        Ok(ValueType::Object) if value.is_array().unwrap_or(false) => "an array",
        Ok(ValueType::Object) => "an object",
        Ok(ValueType::Function) => "a function",
        Ok(ValueType::BigInt) => "a bigint",
        _ => "an unsupported value",
    }
}

fn is(value: &Unknown<'_>, wanted: ValueType) -> bool {
    value.get_type().is_ok_and(|t| t == wanted)
}

/// Whether an optional argument was left out (`undefined` or `null`).
fn is_absent(value: Option<&Unknown<'_>>) -> bool {
    value.is_none_or(|v| is(v, ValueType::Undefined) || is(v, ValueType::Null))
}

/// A string argument.
pub(crate) fn string(value: &Unknown<'_>, what: &str) -> Result<String, Failure> {
    if !is(value, ValueType::String) {
        return Err(type_error(what, "a string", type_name(value)));
    }
    // `as_str` decodes strictly (and drops the NUL terminator the UTF-16 buffer ends with).
    let utf16 = value.coerce_to_string()?.into_utf16()?;
    utf16
        .as_str()
        .map_err(|_| Failure::Type(format!("{what} must be well-formed Unicode, but it contains a lone surrogate")))
}

/// A string argument that is a secret (a password, code, token or session): wiped from this
/// side's memory when dropped. The JavaScript string it came from is the engine's to collect.
pub(crate) fn secret(value: &Unknown<'_>, what: &str) -> Result<Zeroizing<String>, Failure> {
    string(value, what).map(Zeroizing::new)
}

/// An optional string argument: `undefined` and `null` are `None`.
pub(crate) fn optional_string(value: Option<&Unknown<'_>>, what: &str) -> Result<Option<String>, Failure> {
    match value {
        Some(v) if !is_absent(Some(v)) => string(v, what).map(Some),
        _ => Ok(None),
    }
}

/// An optional secret: [`optional_string`], wiped when dropped.
pub(crate) fn optional_secret(value: Option<&Unknown<'_>>, what: &str) -> Result<Option<Zeroizing<String>>, Failure> {
    Ok(optional_string(value, what)?.map(Zeroizing::new))
}

/// A boolean argument.
pub(crate) fn boolean(value: &Unknown<'_>, what: &str) -> Result<bool, Failure> {
    if !is(value, ValueType::Boolean) {
        return Err(type_error(what, "a boolean", type_name(value)));
    }
    Ok(value.coerce_to_bool()?)
}

/// An optional whole number that fits in a `u32`: `undefined` and `null` are `None`.
pub(crate) fn optional_u32(value: Option<&Unknown<'_>>, what: &str) -> Result<Option<u32>, Failure> {
    let Some(value) = value.filter(|v| !is_absent(Some(v))) else {
        return Ok(None);
    };
    if !is(value, ValueType::Number) {
        return Err(type_error(what, "a number", type_name(value)));
    }
    let number = value.coerce_to_number()?.get_double()?;
    if number.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&number) {
        return Err(Failure::Type(format!("{what} must be a whole number from 0 to {}, not {number}", u32::MAX)));
    }
    // In range and whole, so the conversion is exact.
    Ok(Some(number as u32))
}

/// A plain object (not an array, not `null`). A `Map`, a `Date` or another built-in whose
/// entries are not its own properties is refused: read as an object it would give nothing,
/// and an update would succeed having changed nothing.
pub(crate) fn object<'env>(value: &Unknown<'env>, what: &str) -> Result<Object<'env>, Failure> {
    if !is(value, ValueType::Object) || value.is_array()? {
        return Err(type_error(what, "an object", type_name(value)));
    }
    let object = value.coerce_to_object()?;
    let tag = string_tag(&object)?;
    // A module namespace (`import * as options`) lists its exports as own properties.
    if tag != "[object Object]" && tag != "[object Module]" {
        return Err(type_error(what, "a plain object", &tag));
    }
    Ok(object)
}

/// `Object.prototype.toString.call(object)`: `[object Object]` for a plain object or a class
/// instance, `[object Map]` for a `Map`, whichever realm (a `vm` context, a test runner's
/// sandbox) made it.
fn string_tag(object: &Object<'_>) -> napi::Result<String> {
    let namespace: Unknown<'static> = Env::from_raw(object.value().env).get_global()?.get_named_property("Object")?;
    let prototype: Object<'static> = namespace.coerce_to_object()?.get_named_property("prototype")?;
    let to_string: Function<'static, (), String> = prototype.get_named_property("toString")?;
    to_string.apply(*object, ())
}

/// An optional plain object: `undefined` and `null` are `None`.
pub(crate) fn optional_object<'env>(
    value: Option<&Unknown<'env>>,
    what: &str,
) -> Result<Option<Object<'env>>, Failure> {
    match value {
        Some(v) if !is_absent(Some(v)) => object(v, what).map(Some),
        _ => Ok(None),
    }
}

/// Attributes: an object whose own enumerable properties all hold strings. Left out
/// (`undefined` or `null`), there are none.
pub(crate) fn attributes(value: Option<&Unknown<'_>>, what: &str) -> Result<Attributes, Failure> {
    let Some(object) = optional_object(value, what)? else {
        return Ok(Attributes::new());
    };
    let mut attributes = Attributes::new();
    for name in own_keys(&object, what)? {
        let value = property(&object, name.as_str())?;
        let text = string(&value, &format!("{what}[{name:?}]"))?;
        attributes.insert(name, text);
    }
    Ok(attributes)
}

/// Calls the built-in `namespace.name` (`Object.keys`, `Reflect.get`) of the global object of
/// `near`'s environment with `args` (one value, or several as [`FnArgs`]: a plain tuple would be
/// passed as one array). An app that replaces these built-ins replaces them here too.
fn builtin<Args, Return>(near: &Object<'_>, namespace: &str, name: &str, args: Args) -> napi::Result<Return>
where
    Args: JsValuesTupleIntoVec,
    Return: FromNapiValue,
{
    // `Object` is a function, `Reflect` a plain object: both are read as objects.
    let namespace: Unknown<'static> = Env::from_raw(near.value().env).get_global()?.get_named_property(namespace)?;
    let function: Function<'static, Args, Return> = namespace.coerce_to_object()?.get_named_property(name)?;
    function.call(args)
}

/// `Reflect.get(object, key)`: a property's value as an assignment would read it.
fn property<'env, K: ToNapiValue>(object: &Object<'env>, key: K) -> napi::Result<Unknown<'env>> {
    typed_property(object, key)
}

/// [`property`] as a `T` (a `Function`, a `Uint8Array`), or an error if it is not one.
pub(crate) fn typed_property<K: ToNapiValue, T: FromNapiValue>(object: &Object<'_>, key: K) -> napi::Result<T> {
    builtin(object, "Reflect", "get", FnArgs::from((*object, key)))
}

/// The names of an object's own enumerable string-keyed properties: `Object.keys`. Inherited
/// ones are left out: a property put on `Object.prototype` elsewhere in the app must not slip
/// into a call (`email_verified` into an administrator's attributes).
fn own_keys(object: &Object<'_>, what: &str) -> Result<Vec<String>, Failure> {
    let keys: Object<'_> = builtin(object, "Object", "keys", *object)?;
    (0..keys.get_array_length()?)
        .map(|i| {
            let key = string(&keys.get_element::<Unknown<'_>>(i)?, &format!("a property name of {what}"))?;
            if key.contains('\0') {
                return Err(Failure::Type(format!("{what} has a property name with a NUL character")));
            }
            Ok(key)
        })
        .collect()
}

/// An array of strings.
pub(crate) fn strings(value: &Unknown<'_>, what: &str) -> Result<Vec<String>, Failure> {
    if !value.is_array()? {
        return Err(type_error(what, "an array of strings", type_name(value)));
    }
    let array = value.coerce_to_object()?;
    let length = array.get_array_length()?;
    (0..length).map(|i| string(&property(&array, i)?, &format!("{what}[{i}]"))).collect()
}

/// Refuses properties of an options object that the binding does not know (a typo such as
/// `{ pth: 'users.db' }` would otherwise be silently ignored).
pub(crate) fn known_keys(object: &Object<'_>, what: &str, known: &[&str]) -> Result<(), Failure> {
    for key in own_keys(object, what)? {
        if !known.contains(&key.as_str()) {
            return Err(Failure::Type(format!("{what} has no option {key:?} (known: {})", known.join(", "))));
        }
    }
    Ok(())
}

/// An options object's own property `name`: `None` when it has none, or it is `undefined` or
/// `null`. An inherited one is never read: `Object.prototype.delivery = leak` elsewhere in an
/// app must not become every pool's delivery.
pub(crate) fn present<'env>(object: &Object<'env>, name: &str) -> Result<Option<Unknown<'env>>, Failure> {
    let own: bool = builtin(object, "Object", "hasOwn", FnArgs::from((*object, name)))?;
    if !own {
        return Ok(None);
    }
    let value = property(object, name)?;
    Ok((!is_absent(Some(&value))).then_some(value))
}

/// [`present`] for an option that must be a `T` (a function, a typed array): read once, so
/// that a getter which answers differently the second time cannot slip another value past
/// the check. `Either::B` is the value when it is not a `T`, for the caller's message.
pub(crate) fn present_as<'env, T>(
    object: &Object<'env>,
    name: &str,
) -> Result<Option<Either<T, Unknown<'env>>>, Failure>
where
    T: FromNapiValue + ValidateNapiValue + TypeName,
{
    let own: bool = builtin(object, "Object", "hasOwn", FnArgs::from((*object, name)))?;
    if !own {
        return Ok(None);
    }
    Ok(match typed_property(object, name)? {
        Either::B(value) if is_absent(Some(&value)) => None,
        value => Some(value),
    })
}

/// MFA preferences `{ totp?, sms?, email? }`, each `ENABLED`, `DISABLED`, `PREFERRED` or
/// `NOT_PREFERRED` (parsed by core's `MfaPreference::parse`); a method left out is unchanged.
pub(crate) type MfaPreferences = (Option<MfaPreference>, Option<MfaPreference>, Option<MfaPreference>);

/// `setMfaPreference`'s preferences object.
pub(crate) fn mfa_preferences(value: &Unknown<'_>, what: &str) -> Result<MfaPreferences, Failure> {
    let preferences = object(value, what)?;
    known_keys(&preferences, what, &["totp", "sms", "email"])?;
    let one = |method: &str| -> Result<Option<MfaPreference>, Failure> {
        let name = format!("{what}.{method}");
        match optional_string(present(&preferences, method)?.as_ref(), &name)? {
            None => Ok(None),
            Some(text) => MfaPreference::parse(&text).map(Some).ok_or_else(|| {
                Failure::Type(format!("{name} must be ENABLED, DISABLED, PREFERRED or NOT_PREFERRED, not {text:?}"))
            }),
        }
    };
    Ok((one("totp")?, one("sms")?, one("email")?))
}

/// `adminImportUsers`' users: `[{ username, attributes?, passwordHash? }]`.
pub(crate) fn import_users(value: &Unknown<'_>, what: &str) -> Result<Vec<ImportUser>, Failure> {
    if !value.is_array()? {
        return Err(type_error(what, "an array of users", type_name(value)));
    }
    let array = value.coerce_to_object()?;
    (0..array.get_array_length()?)
        .map(|i| {
            let item = property(&array, i)?;
            let name = format!("{what}[{i}]");
            let user = object(&item, &name)?;
            known_keys(&user, &name, &["username", "attributes", "passwordHash"])?;
            let username = format!("{name}.username");
            Ok(ImportUser {
                username: match present(&user, "username")? {
                    Some(value) => string(&value, &username)?,
                    None => return Err(type_error(&username, "a string", "undefined or null")),
                },
                attributes: attributes(present(&user, "attributes")?.as_ref(), &format!("{name}.attributes"))?,
                password_hash: optional_string(
                    present(&user, "passwordHash")?.as_ref(),
                    &format!("{name}.passwordHash"),
                )?,
            })
        })
        .collect()
}
