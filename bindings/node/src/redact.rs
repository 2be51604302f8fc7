//! Secrets print as `<redacted>`: what the Kotlin and Swift bindings do with their `Secret` type
//! and Python with `__repr__`, here with Node's own hook, `util.inspect.custom`.
//!
//! Results are plain objects (what JavaScript code expects of an API), so the hook is a
//! non-enumerable property that `redact.js` puts on each object carrying a secret: tokens, a
//! challenge session, a TOTP secret, a message's code. The helpers are JavaScript because the
//! hook is a JavaScript function, and this crate writes no `unsafe` to make one from Rust.

use napi::bindgen_prelude::{Either, Env, Function, JsObjectValue, JsValue, Object, ObjectRef, ToNapiValue, Unknown};

use crate::host::DeliveryReturn;
use crate::results::{Message, SignInResult, Tokens, TotpSetup};

/// The helpers of `redact.js`, made once per JavaScript environment (the main thread and each
/// worker thread has its own) and kept for its lifetime.
struct Helpers(ObjectRef<false>);

fn helpers(env: &Env) -> napi::Result<Object<'_>> {
    if let Some(helpers) = env.get_instance_data::<Helpers>()? {
        return helpers.0.get_value(env);
    }
    let helpers: Object<'_> = env.run_script(include_str!("redact.js"))?;
    // The environment frees what its instance data refers to when it ends.
    env.set_instance_data(Helpers(helpers.create_ref()?), (), |_| {})?;
    Ok(helpers)
}

/// A result that carries secrets: the name of its helper in `redact.js`.
pub(crate) trait HasSecrets: ToNapiValue {
    /// The helper that marks it.
    const HELPER: &'static str;
}

impl HasSecrets for Tokens {
    const HELPER: &'static str = "tokens";
}

impl HasSecrets for TotpSetup {
    const HELPER: &'static str = "totpSetup";
}

impl HasSecrets for SignInResult {
    const HELPER: &'static str = "signInResult";
}

/// `value` as JavaScript, with its secrets hidden from `util.inspect`. Best effort: the
/// operation behind `value` has happened (a refresh has rotated its token), so without the
/// helpers `value` is resolved as it is rather than lost, and the helpers themselves never
/// throw (`redact.js`: an app that replaced `Object.defineProperty` gets the object unmarked).
/// `value` becomes JavaScript once: a clone kept for a fallback would be one more unwiped
/// copy of its secrets.
pub(crate) fn present<T: HasSecrets>(env: &Env, value: T) -> napi::Result<Either<Unknown<'static>, T>> {
    let helper = helpers(env).and_then(|helpers| helpers.get_named_property(T::HELPER));
    let Ok(mark): napi::Result<Function<'_, Unknown<'_>, Unknown<'static>>> = helper else {
        return Ok(Either::B(value));
    };
    mark.call(value.into_unknown(env)?).map(Either::A)
}

/// An object `config` as JSON text: `JSON.stringify`, refusing the values it would write as
/// `null` or leave out (non-finite numbers, functions, symbols); `JSON.stringify` alone when
/// the helpers cannot run here, as before they checked anything.
pub(crate) fn config_json<'env>(env: &'env Env, config: Object<'env>) -> napi::Result<Unknown<'env>> {
    let checked = helpers(env).and_then(|helpers| helpers.get_named_property("configJson"));
    let write: Function<'_, Object<'_>, Unknown<'env>> = match checked {
        Ok(write) => write,
        Err(_) => env.get_global()?.get_named_property::<Object<'_>>("JSON")?.get_named_property("stringify")?,
    };
    write.call(config)
}

/// The host's delivery function, called with each message's code and text hidden from
/// `util.inspect`; the function itself when the helpers cannot run here.
pub(crate) fn delivery<'env>(
    env: &'env Env,
    deliver: Function<'env, Message, DeliveryReturn>,
) -> Function<'env, Message, DeliveryReturn> {
    let wrapped = (|| {
        let wrap: Function<'_, Unknown<'env>, Function<'env, Message, DeliveryReturn>> =
            helpers(env)?.get_named_property("delivery")?;
        wrap.call(deliver.to_unknown())
    })();
    wrapped.unwrap_or(deliver)
}
