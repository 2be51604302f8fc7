//! How failures reach JavaScript: `Error` objects whose `code` (and `name`) is the Cognito
//! exception name, so Amplify-style `err.code === 'UsernameExistsException'` (v5) and
//! `err.name === 'UsernameExistsException'` (v6) both work.

use napi::bindgen_prelude::{Env, Function, JsObjectValue, JsValue, Object, Unknown};
use napi::{JsError, JsTypeError};
use userpool::ErrorCode;

/// Why an operation failed, before it becomes a JavaScript value.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The engine refused: a Cognito-named error.
    Pool(userpool::Error),
    /// A JavaScript argument has the wrong type or is not well-formed Unicode: a `TypeError`
    /// whose `code` is `InvalidParameterException`.
    Type(String),
    /// A [`Failure::Type`] caused by what a JavaScript function threw (`JSON.stringify` of a
    /// configuration object), carried as `cause`.
    TypeCaused { message: String, cause: napi::Error },
    /// The host's clock function failed during the operation: a `TypeError` carrying the
    /// clock's own error (if it threw) as `cause`.
    Clock { message: String, cause: Option<napi::Error> },
    /// The engine panicked (a bug): `InternalErrorException`.
    Panic,
    /// A Node-API call failed (or a getter on an options object threw).
    Napi(napi::Error),
}

impl From<userpool::Error> for Failure {
    fn from(error: userpool::Error) -> Self {
        Self::Pool(error)
    }
}

impl From<napi::Error> for Failure {
    fn from(error: napi::Error) -> Self {
        Self::Napi(error)
    }
}

/// Reports a clock failure in an operation that succeeded on the clock's last good reading,
/// as a process warning (`process.on('warning')`): the result stands, so it is not an error.
pub(crate) fn warn(env: &Env, failure: &Failure) {
    let Failure::Clock { message, cause } = failure else { return };
    let cause = cause.as_ref().map(|c| format!(" ({})", c.reason)).unwrap_or_default();
    let emit = || -> napi::Result<()> {
        let process: Object<'_> = env.get_global()?.get_named_property("process")?;
        let emit_warning: Function<'_, String, Unknown<'_>> = process.get_named_property("emitWarning")?;
        emit_warning.call(format!("userpool: {message}{cause}"))?;
        Ok(())
    };
    // A process without `emitWarning` loses the warning, never the result.
    let _ = emit();
}

/// What a failed operation settles with: the failure, and the host delivery function's own
/// error when the failure is a failed delivery.
pub(crate) type Rejection = (Failure, Option<napi::Error>);

/// Builds the JavaScript error for `failure`, wrapped so that napi throws or rejects with
/// exactly that object. `delivery_cause` becomes `.cause` of a `CodeDeliveryFailureException`.
pub(crate) fn to_js(env: &Env, failure: Failure, delivery_cause: Option<napi::Error>) -> napi::Error {
    let (value, name) = match failure {
        Failure::Napi(error) => return error,
        Failure::Pool(error) => {
            let code = error.code();
            let mut inner = napi::Error::new(code.as_str(), error.message().to_owned());
            if let (ErrorCode::CodeDeliveryFailure, Some(cause)) = (code, delivery_cause) {
                inner.set_cause(cause);
            }
            (JsError::from(inner).into_unknown(*env), Some(code.as_str()))
        }
        Failure::Type(message) => {
            let inner = napi::Error::new(ErrorCode::InvalidParameter.as_str(), message);
            (JsTypeError::from(inner).into_unknown(*env), None)
        }
        Failure::TypeCaused { message, cause } => {
            let mut inner = napi::Error::new(ErrorCode::InvalidParameter.as_str(), message);
            inner.set_cause(cause);
            (JsTypeError::from(inner).into_unknown(*env), None)
        }
        Failure::Clock { message, cause } => {
            let mut inner = napi::Error::new(ErrorCode::InternalError.as_str(), message);
            if let Some(cause) = cause {
                inner.set_cause(cause);
            }
            (JsTypeError::from(inner).into_unknown(*env), None)
        }
        Failure::Panic => {
            let code = ErrorCode::InternalError.as_str();
            let inner = napi::Error::new(code, "userpool failed unexpectedly (a bug: please report it)");
            (JsError::from(inner).into_unknown(*env), Some(code))
        }
    };
    if let Some(name) = name {
        name_error(&value, name);
    }
    napi::Error::from(value)
}

fn name_error(value: &Unknown<'_>, name: &str) {
    // Best effort: `code` already carries the name, `name` is for Amplify v6 habits.
    if let Ok(mut object) = value.coerce_to_object() {
        let _ = object.set_named_property("name", name);
    }
}

/// A `TypeError` for an argument: `"{what} must be {expected}, not {actual}"`.
pub(crate) fn type_error(what: &str, expected: &str, actual: &str) -> Failure {
    Failure::Type(format!("{what} must be {expected}, not {actual}"))
}
