//! `userpool._native`: the Python extension module of userpool.
//!
//! Every method is a one-line forward to [`userpool::UserPool`]: it converts the Python
//! arguments into Rust values, releases the GIL while the engine hashes, signs or touches the
//! store, and converts the result (or the Cognito-named error) back. No flow logic,
//! validation or defaults live here: bad input reaches the engine, which answers
//! `InvalidParameterException` like it does for every other host.
//!
//! Host callbacks (delivery, clock) re-attach to the interpreter when the engine calls them.
//! An exception raised by the delivery callback is kept for the duration of the call on the
//! calling thread and chained as the `__cause__` of the `CodeDeliveryFailureError` the engine
//! answers with.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde_json::Value;
use userpool as up;

const MODULE: &str = "userpool._native";

thread_local! {
    /// The exception the delivery callback raised during the current call on this thread.
    static DELIVERY_ERROR: RefCell<Option<PyErr>> = const { RefCell::new(None) };
    /// A `BaseException` that is not an `Exception` (`KeyboardInterrupt`, `SystemExit`) raised
    /// by a callback during the current call on this thread: the call raises it as it is, after
    /// the engine is done, so that Ctrl-C and `sys.exit()` are never turned into an `AuthError`
    /// or lost.
    static INTERRUPT: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// A secret (a password, a code, a token, a session), as an argument or held by a result:
/// UTF-8 wiped when dropped, and compared in constant time, as Kotlin's and Swift's `Secret`
/// are, so that `==` on results tells nothing by its timing. As an argument, a `str`: a lone
/// surrogate in it raises a `UnicodeEncodeError` that leaves the text out (Python's own holds
/// the whole string in `object`, which `repr()` and many loggers show).
#[derive(Clone)]
struct Secret(zeroize::Zeroizing<String>);

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq as _;
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl From<zeroize::Zeroizing<String>> for Secret {
    fn from(text: zeroize::Zeroizing<String>) -> Self {
        Self(text)
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self(zeroize::Zeroizing::new(text))
    }
}

impl std::ops::Deref for Secret {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl FromPyObject<'_, '_> for Secret {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        let text = obj.cast::<PyString>()?;
        secret_text(&text, "secret").map(Self)
    }
}

/// A `str` that may hold secrets, as UTF-8 wiped when dropped. A lone surrogate raises a
/// `UnicodeEncodeError` whose `object` is `<{what}>`, not the text.
fn secret_text(text: &Bound<'_, PyString>, what: &str) -> PyResult<zeroize::Zeroizing<String>> {
    match text.to_cow() {
        Ok(text) => Ok(zeroize::Zeroizing::new(text.into_owned())),
        Err(_) => {
            let placeholder = format!("<{what}>");
            let end = placeholder.len();
            Err(pyo3::exceptions::PyUnicodeEncodeError::new_err((
                "utf-8",
                placeholder,
                0_usize,
                end,
                format!("a lone surrogate, which UTF-8 cannot encode (the {what}'s text is left out)"),
            )))
        }
    }
}

/// Keeps `err` to be raised as it is when the current call returns, if it is an interrupt
/// rather than an `Exception`; whether it was.
fn keep_interrupt(py: Python<'_>, err: &PyErr) -> bool {
    let interrupt = !err.is_instance_of::<pyo3::exceptions::PyException>(py);
    if interrupt {
        INTERRUPT.with(|slot| {
            slot.borrow_mut().get_or_insert_with(|| err.clone_ref(py));
        });
    }
    interrupt
}

// ── errors ──────────────────────────────────────────────────────────────────────────────

/// `AuthError` and one subclass per [`up::ErrorCode`], made once at import.
struct ErrorTypes {
    base: Py<PyType>,
    by_code: Vec<(up::ErrorCode, Py<PyType>)>,
}

static ERROR_TYPES: PyOnceLock<ErrorTypes> = PyOnceLock::new();

/// The Python class name of a code: the Cognito name minus `Exception`, plus `Error`.
fn error_class_name(code: up::ErrorCode) -> String {
    let name = code.as_str();
    format!("{}Error", name.strip_suffix("Exception").unwrap_or(name))
}

fn error_types(py: Python<'_>) -> PyResult<&ErrorTypes> {
    ERROR_TYPES.get_or_try_init(py, || {
        let new_type = |name: &str, doc: &str, base: &Bound<'_, PyType>, code: &str| -> PyResult<Py<PyType>> {
            let dict = PyDict::new(py);
            dict.set_item("code", code)?;
            dict.set_item("message", "")?;
            let qualified = CString::new(format!("userpool.{name}"))?;
            let doc = CString::new(doc)?;
            // pyo3 0.30.1's `new_type` drops the dict it is given before the FFI call, so the
            // dict must stay alive here (`dict` holds a reference until the class exists).
            PyErr::new_type(py, &qualified, Some(&doc), Some(base), Some(dict.clone().into_any().unbind()))
        };
        let exception = py.get_type::<pyo3::exceptions::PyException>();
        let base = new_type(
            "AuthError",
            "Base of every userpool error. `code` is the Cognito exception name, `message` a text for people.",
            &exception,
            "",
        )?;
        let mut subclasses = Vec::with_capacity(up::ErrorCode::ALL.len());
        for &code in up::ErrorCode::ALL {
            let doc = format!("Raised when the engine answers `{}`.", code.as_str());
            subclasses.push((code, new_type(&error_class_name(code), &doc, base.bind(py), code.as_str())?));
        }
        Ok(ErrorTypes { base, by_code: subclasses })
    })
}

/// Converts an engine error into its Python class, chaining the delivery callback's
/// exception when the engine reports a failed delivery.
fn to_py_err(py: Python<'_>, error: &up::Error, delivery_error: Option<PyErr>) -> PyErr {
    let types = match error_types(py) {
        Ok(types) => types,
        Err(e) => return e,
    };
    let class = types.by_code.iter().find(|(code, _)| *code == error.code()).map_or(&types.base, |(_, class)| class);
    let err = PyErr::from_type(class.bind(py).clone(), (error.message().to_owned(),));
    let value = err.value(py);
    if let Err(e) =
        value.setattr("code", error.code().as_str()).and_then(|()| value.setattr("message", error.message()))
    {
        return e;
    }
    if error.code() == up::ErrorCode::CodeDeliveryFailure {
        err.set_cause(py, delivery_error);
    }
    err
}

/// Runs engine work with the GIL released and converts its error. An interrupt that a
/// callback raised meanwhile is raised instead, whatever the engine answered. A panic, a bug,
/// is an `InternalErrorError` rather than pyo3's `PanicException`, which `except Exception`
/// does not catch.
fn run<T: Send>(py: Python<'_>, work: impl FnOnce() -> up::Result<T> + Send) -> PyResult<T> {
    // A call made from inside a callback (a delivery that calls the pool) keeps its own
    // slots: the outer call's are put back when it returns, so its interrupt is not lost.
    let outer = (DELIVERY_ERROR.with(RefCell::take), INTERRUPT.with(RefCell::take));
    let result = py.detach(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|_| {
            Err(up::Error::new(up::ErrorCode::InternalError, "userpool failed unexpectedly (a bug: please report it)"))
        })
    });
    let delivery_error = DELIVERY_ERROR.with(|slot| slot.replace(outer.0));
    if let Some(interrupt) = INTERRUPT.with(|slot| slot.replace(outer.1)) {
        return Err(interrupt);
    }
    result.map_err(|e| to_py_err(py, &e, delivery_error))
}

// ── host callbacks ──────────────────────────────────────────────────────────────────────

/// The host's delivery callable, called with a [`Message`] for every code the engine sends.
struct PyDelivery {
    callback: Py<PyAny>,
}

impl up::Delivery for PyDelivery {
    fn deliver(&self, message: &up::Message) -> Result<(), up::DeliveryError> {
        Python::attach(|py| {
            let outcome = Bound::new(py, Message::from(message))
                .and_then(|m| self.callback.call1(py, (m,)))
                .and_then(|returned| sent(returned.bind(py)));
            match outcome {
                Ok(true) => Ok(()),
                Ok(false) => {
                    Err(up::DeliveryError("the delivery callback returned False: the message was not sent".into()))
                }
                Err(err) => {
                    keep_interrupt(py, &err);
                    // The exception's text may carry what the host put in it (addresses,
                    // codes): the engine's message only names its type.
                    let kind = err.get_type(py).name().map_or_else(|_| "an exception".to_owned(), |n| n.to_string());
                    DELIVERY_ERROR.with(|slot| *slot.borrow_mut() = Some(err));
                    Err(up::DeliveryError(format!("the delivery callback raised {kind}")))
                }
            }
        })
    }
}

/// Whether what the delivery callback returned means the message went: anything but `False`
/// (so a function returning nothing has sent it) or an awaitable. An `async def` callback
/// returns a coroutine that nothing here would run, so the code would never go out while the
/// pool went on as if it had: it is closed unrun, and the delivery fails with a `TypeError`.
fn sent(returned: &Bound<'_, PyAny>) -> PyResult<bool> {
    if let Ok(answer) = returned.cast::<PyBool>() {
        return Ok(answer.is_true());
    }
    if !returned.hasattr("__await__")? {
        return Ok(true);
    }
    if returned.hasattr("close")? {
        returned.call_method0("close")?;
    }
    Err(PyTypeError::new_err(
        "the delivery callback returned an awaitable (is it an async def?): it must send the message before it \
         returns; in asyncio, hand the message to your event loop from a plain function",
    ))
}

/// The host's clock callable (unix milliseconds). An exception or a non-integer answer is
/// reported through `sys.unraisablehook`, and the engine, which cannot stop halfway through a
/// call, goes on from the last good reading ([`up::LastReading`]).
struct PyClock {
    callback: Py<PyAny>,
    last: up::LastReading,
}

impl PyClock {
    fn read(&self, py: Python<'_>) -> PyResult<i64> {
        let ms = self.read_any(py)?;
        up::check_host_reading(ms).map_err(|reason| PyValueError::new_err(format!("the clock {reason}")))
    }

    /// Whole unix milliseconds from the callable, whatever their value.
    fn read_any(&self, py: Python<'_>) -> PyResult<i64> {
        let now = self.callback.call0(py)?.into_bound(py);
        // `True` is an int to Python: 1 ms after 1970, every token issued then, with no error.
        if now.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err("the clock returned a bool, not unix milliseconds"));
        }
        // `time.time() * 1000` is a float: its whole milliseconds, as Node takes a number.
        if let Ok(float) = now.cast::<PyFloat>() {
            let ms = float.value().trunc();
            // i64::MAX rounds up to 2^63 as a float, itself out of range.
            if !ms.is_finite() || ms.abs() >= 9_223_372_036_854_775_808.0 {
                return Err(PyValueError::new_err(format!(
                    "the clock returned {ms}, not a finite time in unix milliseconds"
                )));
            }
            #[expect(clippy::cast_possible_truncation, reason = "whole and within i64 range, checked above")]
            return Ok(ms as i64);
        }
        now.extract::<i64>().map_err(|e| {
            if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(py) {
                PyValueError::new_err("the clock returned a time out of range for unix milliseconds")
            } else {
                e
            }
        })
    }
}

impl up::Clock for PyClock {
    fn now_ms(&self) -> i64 {
        Python::attach(|py| match self.read(py) {
            Ok(ms) => self.last.record(ms),
            Err(err) => {
                if !keep_interrupt(py, &err) {
                    err.write_unraisable(py, Some(self.callback.bind(py)));
                }
                self.last.fallback()
            }
        })
    }
}

// ── string enums ────────────────────────────────────────────────────────────────────────

static SIGN_UP_STEP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static SIGN_IN_STEP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static USER_STATUS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

const SIGN_UP_STEPS: &[&str] = &["CONFIRM_SIGN_UP", "DONE"];
const SIGN_IN_STEPS: &[&str] = &[
    "DONE",
    "CONFIRM_SIGN_UP",
    "RESET_PASSWORD",
    "CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED",
    "CONFIRM_SIGN_IN_WITH_TOTP_CODE",
    "CONFIRM_SIGN_IN_WITH_SMS_CODE",
    "CONFIRM_SIGN_IN_WITH_EMAIL_CODE",
    "CONTINUE_SIGN_IN_WITH_MFA_SELECTION",
    "CONTINUE_SIGN_IN_WITH_TOTP_SETUP",
];
const USER_STATUSES: &[&str] = &["UNCONFIRMED", "CONFIRMED", "FORCE_CHANGE_PASSWORD", "RESET_REQUIRED"];

/// Makes `class NAME(str, enum.Enum)` whose members are the engine's names.
fn make_enum(py: Python<'_>, name: &str, doc: &str, members: &[&str]) -> PyResult<Py<PyAny>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("type", py.get_type::<PyString>())?;
    kwargs.set_item("module", MODULE)?;
    let members: Vec<(&str, &str)> = members.iter().map(|m| (*m, *m)).collect();
    let class = py.import("enum")?.getattr("Enum")?.call((name, members), Some(&kwargs))?;
    class.setattr("__doc__", doc)?;
    // Printed as its value, as `enum.StrEnum` (3.11+) is: `f"{step}"` is "DONE", not
    // "SignInStep.DONE", in logs and in JSON answers built with f-strings.
    let text = py.get_type::<PyString>();
    class.setattr("__str__", text.getattr("__str__")?)?;
    class.setattr("__format__", text.getattr("__format__")?)?;
    Ok(class.unbind())
}

fn enum_value<'py>(py: Python<'py>, class: &PyOnceLock<Py<PyAny>>, value: &str) -> PyResult<Bound<'py, PyAny>> {
    let class = class.get(py).ok_or_else(|| PyTypeError::new_err("userpool._native is not initialised"))?;
    class.bind(py).call1((value,))
}

// ── conversions ─────────────────────────────────────────────────────────────────────────

fn json_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            PyList::new(py, items.iter().map(|v| json_to_py(py, v)).collect::<PyResult<Vec<_>>>()?)?.into_any()
        }
        Value::Object(map) => claims_to_py(py, map)?.into_any(),
    })
}

fn claims_to_py<'py>(py: Python<'py>, claims: &serde_json::Map<String, Value>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in claims {
        dict.set_item(k, json_to_py(py, v)?)?;
    }
    Ok(dict)
}

/// An optional non-negative integer argument; out of range is a `ValueError`, not an
/// `OverflowError`.
fn opt_u32(value: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<u32>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        // `True` is an int to Python; `limit=True` is a mistake, not 1.
        Some(v) if v.is_instance_of::<PyBool>() => {
            Err(PyTypeError::new_err(format!("{name} must be an int, not bool")))
        }
        Some(v) => {
            let wide = match v.extract::<i128>() {
                Ok(wide) => Some(wide),
                // An int too large even for i128 is out of range like any other.
                Err(_) if v.is_instance_of::<PyInt>() => None,
                Err(not_an_int) => return Err(not_an_int),
            };
            wide.and_then(|wide| u32::try_from(wide).ok())
                .map(Some)
                .ok_or_else(|| PyValueError::new_err(format!("{name} must be between 0 and {}", u32::MAX)))
        }
    }
}

fn check_callable(value: Option<Py<PyAny>>, py: Python<'_>, name: &str) -> PyResult<Option<Py<PyAny>>> {
    match value {
        Some(v) if v.is_none(py) => Ok(None),
        Some(v) if !v.bind(py).is_callable() => Err(PyTypeError::new_err(format!("{name} must be callable"))),
        other => Ok(other),
    }
}

/// `config` as the engine parses it ([`up::PoolConfig::parse`]): TOML or JSON text, or a dict
/// turned into JSON. It may hold client secrets, so it is wiped when dropped.
fn config_text(py: Python<'_>, config: Option<&Bound<'_, PyAny>>) -> PyResult<Option<zeroize::Zeroizing<String>>> {
    match config {
        None => Ok(None),
        Some(c) if c.is_none() => Ok(None),
        Some(c) if c.is_instance_of::<PyDict>() => {
            let kwargs = PyDict::new(py);
            kwargs.set_item("allow_nan", false)?;
            let text = py.import("json")?.getattr("dumps")?.call((c,), Some(&kwargs))?;
            secret_text(text.cast::<PyString>()?, "config").map(Some)
        }
        Some(c) => match c.cast::<PyString>() {
            Ok(text) => secret_text(text, "config").map(Some),
            Err(_) => Err(PyTypeError::new_err("config must be TOML or JSON text (str) or a dict")),
        },
    }
}

type Attributes = BTreeMap<String, String>;

// ── results ─────────────────────────────────────────────────────────────────────────────

/// A message the engine asks the host to deliver. The code, and the text that holds it, are
/// wiped on the Rust side when the message is collected.
#[pyclass(frozen, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct Message {
    #[pyo3(get)]
    channel: String,
    #[pyo3(get)]
    destination: String,
    #[pyo3(get)]
    purpose: String,
    #[pyo3(get)]
    username: String,
    code: Secret,
    #[pyo3(get)]
    subject: String,
    text: Secret,
}

impl From<&up::Message> for Message {
    fn from(m: &up::Message) -> Self {
        Self {
            channel: m.channel.as_str().to_owned(),
            destination: m.destination.clone(),
            purpose: m.purpose.as_str().to_owned(),
            username: m.username.clone(),
            code: m.code.clone().into(),
            subject: m.subject.clone(),
            text: m.text.clone().into(),
        }
    }
}

#[pymethods]
impl Message {
    #[getter]
    fn code(&self) -> &str {
        &self.code
    }

    #[getter]
    fn text(&self) -> &str {
        &self.text
    }

    /// As the engine's: the destination and username (personal data) are left out too, so
    /// that a delivery callable's log line holds no address.
    fn __repr__(&self) -> String {
        format!("Message(channel={:?}, purpose={:?}, code=<redacted>, ...)", self.channel, self.purpose)
    }
}

/// Where a code was sent (masked destination).
#[pyclass(frozen, get_all, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct CodeDelivery {
    channel: String,
    destination: String,
    attribute: String,
}

impl From<up::CodeDelivery> for CodeDelivery {
    fn from(d: up::CodeDelivery) -> Self {
        Self { channel: d.channel.as_str().to_owned(), destination: d.destination, attribute: d.attribute }
    }
}

#[pymethods]
impl CodeDelivery {
    fn __repr__(&self) -> String {
        format!(
            "CodeDelivery(channel={:?}, destination={:?}, attribute={:?})",
            self.channel, self.destination, self.attribute
        )
    }
}

/// The outcome of `sign_up`.
#[pyclass(frozen, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct SignUpResult {
    #[pyo3(get)]
    user_sub: String,
    #[pyo3(get)]
    confirmed: bool,
    step: &'static str,
    #[pyo3(get)]
    code_delivery: Option<CodeDelivery>,
}

#[pymethods]
impl SignUpResult {
    #[getter]
    fn next_step<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        enum_value(py, &SIGN_UP_STEP, self.step)
    }

    fn __repr__(&self) -> String {
        format!(
            "SignUpResult(user_sub={:?}, confirmed={}, next_step={:?}, code_delivery={})",
            self.user_sub,
            if self.confirmed { "True" } else { "False" },
            self.step,
            self.code_delivery.as_ref().map_or_else(|| "None".to_owned(), CodeDelivery::__repr__)
        )
    }
}

/// ID, access and refresh tokens. The binding's copies are wiped when the object is freed
/// (the `str` each read makes is Python's).
#[pyclass(frozen, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct Tokens {
    id_token: Secret,
    access_token: Secret,
    refresh_token: Secret,
    #[pyo3(get)]
    expires_in: u64,
    #[pyo3(get)]
    token_type: String,
}

impl From<up::Tokens> for Tokens {
    fn from(t: up::Tokens) -> Self {
        Self {
            id_token: t.id_token.into(),
            access_token: t.access_token.into(),
            refresh_token: t.refresh_token.into(),
            expires_in: t.expires_in,
            token_type: t.token_type.to_owned(),
        }
    }
}

#[pymethods]
impl Tokens {
    #[getter]
    fn id_token(&self) -> &str {
        &self.id_token
    }

    #[getter]
    fn access_token(&self) -> &str {
        &self.access_token
    }

    #[getter]
    fn refresh_token(&self) -> &str {
        &self.refresh_token
    }

    fn __repr__(&self) -> String {
        format!("Tokens(expires_in={}, token_type={:?}, ...)", self.expires_in, self.token_type)
    }
}

/// The outcome of `sign_in` and `confirm_sign_in`.
#[pyclass(frozen, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct SignInResult {
    step: &'static str,
    #[pyo3(get)]
    tokens: Option<Tokens>,
    /// Wiped when dropped, as the engine's (the `str` each read makes is Python's).
    session: Option<Secret>,
    #[pyo3(get)]
    missing_attributes: Vec<String>,
    #[pyo3(get)]
    code_delivery: Option<CodeDelivery>,
    #[pyo3(get)]
    allowed_mfa_types: Vec<String>,
    #[pyo3(get)]
    totp_setup: Option<TotpSetup>,
}

impl From<up::SignInResult> for SignInResult {
    fn from(r: up::SignInResult) -> Self {
        Self {
            step: r.next_step.as_str(),
            tokens: r.tokens.map(Tokens::from),
            session: r.session.map(Secret::from),
            missing_attributes: r.missing_attributes,
            code_delivery: r.code_delivery.map(CodeDelivery::from),
            allowed_mfa_types: r.allowed_mfa_types.iter().map(|m| m.as_str().to_owned()).collect(),
            totp_setup: r.totp_setup.map(TotpSetup::from),
        }
    }
}

/// A new authenticator: the base32 `secret` and the `otpauth://` `uri` (hidden from `repr`;
/// the binding's copies are wiped when the object is freed).
#[pyclass(frozen, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct TotpSetup {
    secret: Secret,
    uri: Secret,
}

impl From<up::TotpSetup> for TotpSetup {
    fn from(t: up::TotpSetup) -> Self {
        Self { secret: t.secret.into(), uri: t.uri.into() }
    }
}

#[pymethods]
impl TotpSetup {
    #[getter]
    fn secret(&self) -> &str {
        &self.secret
    }

    #[getter]
    fn uri(&self) -> &str {
        &self.uri
    }

    fn __repr__(&self) -> String {
        "TotpSetup(<redacted>)".to_owned()
    }
}

/// A group of users.
#[pyclass(frozen, get_all, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct Group {
    name: String,
    description: Option<String>,
    precedence: Option<u32>,
    created_ms: i64,
    updated_ms: i64,
}

impl From<up::Group> for Group {
    fn from(g: up::Group) -> Self {
        Self {
            name: g.name,
            description: g.description,
            precedence: g.precedence,
            created_ms: g.created_ms,
            updated_ms: g.updated_ms,
        }
    }
}

#[pymethods]
impl Group {
    fn __repr__(&self) -> String {
        format!("Group(name={:?}, description={:?}, precedence={:?})", self.name, self.description, self.precedence)
    }
}

/// One user for `admin_import_users` (a row of Cognito's user-import CSV).
#[pyclass(frozen, eq, from_py_object, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct ImportUser {
    #[pyo3(get)]
    username: String,
    #[pyo3(get)]
    attributes: Attributes,
    /// Kept as the argument came, wiped when dropped (the `str` each read makes is Python's).
    password_hash: Option<Secret>,
}

#[pymethods]
impl ImportUser {
    #[new]
    #[pyo3(signature = (username, attributes=None, password_hash=None))]
    fn new(username: String, attributes: Option<Attributes>, password_hash: Option<Secret>) -> Self {
        Self { username, attributes: attributes.unwrap_or_default(), password_hash }
    }

    #[getter]
    fn password_hash(&self) -> Option<&str> {
        self.password_hash.as_deref()
    }

    fn __repr__(&self) -> String {
        format!(
            "ImportUser(username={:?}, password_hash={})",
            self.username,
            if self.password_hash.is_some() { "<redacted>" } else { "None" }
        )
    }
}

/// A `set_mfa_preference` argument: `ENABLED`, `DISABLED`, `PREFERRED`, `NOT_PREFERRED`.
fn mfa_preference(value: Option<String>, name: &str) -> PyResult<Option<up::MfaPreference>> {
    value
        .map(|text| {
            up::MfaPreference::parse(&text).ok_or_else(|| {
                PyValueError::new_err(format!("{name} must be ENABLED, DISABLED, PREFERRED or NOT_PREFERRED"))
            })
        })
        .transpose()
}

#[pymethods]
impl SignInResult {
    #[getter]
    fn next_step<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        enum_value(py, &SIGN_IN_STEP, self.step)
    }

    #[getter]
    fn is_signed_in(&self) -> bool {
        self.step == up::SignInStep::Done.as_str()
    }

    #[getter]
    fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    fn __repr__(&self) -> String {
        format!(
            "SignInResult(next_step={:?}, tokens={}, session={}, missing_attributes={:?}, code_delivery={}, \
             allowed_mfa_types={:?}, totp_setup={})",
            self.step,
            if self.tokens.is_some() { "Tokens(...)" } else { "None" },
            if self.session.is_some() { "<redacted>" } else { "None" },
            self.missing_attributes,
            self.code_delivery.as_ref().map_or_else(|| "None".to_owned(), CodeDelivery::__repr__),
            self.allowed_mfa_types,
            if self.totp_setup.is_some() { "TotpSetup(<redacted>)" } else { "None" },
        )
    }
}

/// A user as `get_user`, `admin_get_user` and `list_users` report it.
#[pyclass(frozen, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct User {
    #[pyo3(get)]
    username: String,
    #[pyo3(get)]
    sub: String,
    user_status: &'static str,
    #[pyo3(get)]
    enabled: bool,
    #[pyo3(get)]
    attributes: Attributes,
    #[pyo3(get)]
    created_ms: i64,
    #[pyo3(get)]
    updated_ms: i64,
    #[pyo3(get)]
    mfa_enabled: Vec<String>,
    #[pyo3(get)]
    preferred_mfa: Option<String>,
    #[pyo3(get)]
    groups: Vec<String>,
    #[pyo3(get)]
    username_attribute: Option<String>,
}

impl From<up::User> for User {
    fn from(u: up::User) -> Self {
        Self {
            username: u.username,
            sub: u.sub,
            user_status: u.status.as_str(),
            enabled: u.enabled,
            attributes: u.attributes,
            created_ms: u.created_ms,
            updated_ms: u.updated_ms,
            mfa_enabled: u.mfa_enabled.iter().map(|m| m.as_str().to_owned()).collect(),
            preferred_mfa: u.preferred_mfa.map(|m| m.as_str().to_owned()),
            groups: u.groups,
            username_attribute: u.username_attribute,
        }
    }
}

#[pymethods]
impl User {
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        enum_value(py, &USER_STATUS, self.user_status)
    }

    fn __repr__(&self) -> String {
        format!(
            "User(username={:?}, sub={:?}, status={:?}, enabled={})",
            self.username,
            self.sub,
            self.user_status,
            if self.enabled { "True" } else { "False" }
        )
    }
}

/// A page of `list_users`.
#[pyclass(frozen, get_all, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct UserList {
    users: Vec<User>,
    pagination_token: Option<String>,
}

#[pymethods]
impl UserList {
    fn __repr__(&self) -> String {
        format!("UserList(users=[{} users], pagination_token={:?})", self.users.len(), self.pagination_token)
    }
}

/// A page of `list_groups`.
#[pyclass(frozen, get_all, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct GroupList {
    groups: Vec<Group>,
    pagination_token: Option<String>,
}

#[pymethods]
impl GroupList {
    fn __repr__(&self) -> String {
        format!("GroupList(groups=[{} groups], pagination_token={:?})", self.groups.len(), self.pagination_token)
    }
}

/// The outcome of `admin_create_user`.
#[pyclass(frozen, get_all, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct CreatedUser {
    user: User,
    code_delivery: Option<CodeDelivery>,
}

#[pymethods]
impl CreatedUser {
    fn __repr__(&self) -> String {
        format!(
            "CreatedUser(user={}, code_delivery={})",
            self.user.__repr__(),
            self.code_delivery.as_ref().map_or_else(|| "None".to_owned(), CodeDelivery::__repr__)
        )
    }
}

/// A per-attribute outcome of `update_user_attributes`.
#[pyclass(frozen, get_all, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct AttributeUpdate {
    attribute: String,
    needs_code: bool,
    code_delivery: Option<CodeDelivery>,
}

#[pymethods]
impl AttributeUpdate {
    fn __repr__(&self) -> String {
        format!(
            "AttributeUpdate(attribute={:?}, needs_code={}, code_delivery={})",
            self.attribute,
            if self.needs_code { "True" } else { "False" },
            self.code_delivery.as_ref().map_or_else(|| "None".to_owned(), CodeDelivery::__repr__)
        )
    }
}

/// An authentication event from `admin_list_user_auth_events`.
#[pyclass(frozen, get_all, eq, module = "userpool._native")]
#[derive(Clone, PartialEq)]
struct AuthEvent {
    sub: String,
    kind: String,
    success: bool,
    at_ms: i64,
    detail: String,
}

#[pymethods]
impl AuthEvent {
    fn __repr__(&self) -> String {
        format!(
            "AuthEvent(kind={:?}, success={}, at_ms={}, detail={:?})",
            self.kind,
            if self.success { "True" } else { "False" },
            self.at_ms,
            self.detail
        )
    }
}

fn sign_up_result(r: up::SignUpResult) -> SignUpResult {
    SignUpResult {
        user_sub: r.user_sub,
        confirmed: r.confirmed,
        step: r.next_step.as_str(),
        code_delivery: r.code_delivery.map(CodeDelivery::from),
    }
}

// ── the pool ────────────────────────────────────────────────────────────────────────────

/// An open user pool; safe to share between threads.
#[pyclass(frozen, module = "userpool._native")]
struct UserPool {
    handle: up::PoolHandle,
}

/// A handle dropped without `close()` (the guide allows it) closes here, inside Python's
/// deallocator, where the GIL is held: the last handle's close syncs the SQLite file, so it
/// runs detached, unless the interpreter is already shutting down.
impl Drop for UserPool {
    fn drop(&mut self) {
        let handle = &self.handle;
        if Python::try_attach(|py| py.detach(|| handle.close())).is_none() {
            handle.close();
        }
    }
}

impl UserPool {
    fn new(pool: up::UserPool) -> Self {
        Self { handle: up::PoolHandle::new(pool, ()) }
    }

    /// The pool while this handle is open.
    fn pool(&self) -> up::Result<up::UserPool> {
        self.handle.pool()
    }
}

/// A copy of the encryption key, wiped when dropped. A `bytes` key cannot be wiped in
/// Python; a `bytearray` can, by the caller, once `open` has returned.
fn key_bytes(key: &Bound<'_, PyAny>) -> PyResult<zeroize::Zeroizing<Vec<u8>>> {
    if let Ok(bytes) = key.cast::<PyBytes>() {
        Ok(zeroize::Zeroizing::new(bytes.as_bytes().to_vec()))
    } else if let Ok(array) = key.cast::<PyByteArray>() {
        Ok(zeroize::Zeroizing::new(array.to_vec()))
    } else {
        Err(PyTypeError::new_err("encryption_key must be bytes or bytearray"))
    }
}

#[pymethods]
impl UserPool {
    #[staticmethod]
    #[pyo3(signature = (path=None, config=None, delivery=None, clock=None, encryption_key=None, existing_only=false))]
    fn open(
        py: Python<'_>,
        path: Option<PathBuf>,
        config: Option<&Bound<'_, PyAny>>,
        delivery: Option<Py<PyAny>>,
        clock: Option<Py<PyAny>>,
        encryption_key: Option<Bound<'_, PyAny>>,
        existing_only: bool,
    ) -> PyResult<Self> {
        let config = config_text(py, config)?;
        let delivery = check_callable(delivery, py, "delivery")?;
        let clock = match check_callable(clock, py, "clock")? {
            Some(callback) => {
                let clock = PyClock { callback, last: up::LastReading::default() };
                let now = clock.read(py)?;
                clock.last.record(now);
                Some(Arc::new(clock))
            }
            None => None,
        };
        let key = encryption_key.as_ref().map(key_bytes).transpose()?;
        let inner = run(py, move || {
            let config = config.map_or_else(|| Ok(up::PoolConfig::default()), |text| up::PoolConfig::parse(&text))?;
            let mut builder = up::UserPool::builder(config);
            if let Some(path) = path {
                builder = builder.sqlite(path, up::SqliteOptions::default().existing_only(existing_only));
            }
            if let Some(callback) = delivery {
                builder = builder.delivery(Arc::new(PyDelivery { callback }));
            }
            if let Some(clock) = clock {
                builder = builder.clock(clock);
            }
            if let Some(key) = &key {
                builder = builder.encryption_key(key);
            }
            if existing_only { builder.open_existing() } else { builder.open() }
        })?;
        Ok(Self::new(inner))
    }

    #[pyo3(signature = (client_id, client_secret=None))]
    fn with_client(&self, py: Python<'_>, client_id: String, client_secret: Option<Secret>) -> PyResult<Self> {
        run(py, || self.pool()?.with_client(&client_id, client_secret.as_deref())).map(Self::new)
    }

    fn with_client_secret_hash(&self, py: Python<'_>, client_id: String, secret_hash: Secret) -> PyResult<Self> {
        run(py, || self.pool()?.with_client_secret_hash(&client_id, &secret_hash)).map(Self::new)
    }

    #[getter]
    fn pool_id(&self) -> &str {
        self.handle.pool_id()
    }

    #[getter]
    fn issuer(&self) -> &str {
        self.handle.issuer()
    }

    fn config(&self) -> &str {
        self.handle.config()
    }

    fn __repr__(&self) -> String {
        format!("UserPool(pool_id={:?})", self.handle.pool_id())
    }

    /// Closes this handle; see the stub's docstring. The last handle's close ends the store
    /// (a SQLite checkpoint and its sync), so it runs without the GIL.
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.handle.close());
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    // sign-up

    #[pyo3(signature = (username, password, attributes=None))]
    fn sign_up(
        &self,
        py: Python<'_>,
        username: String,
        password: Secret,
        attributes: Option<Attributes>,
    ) -> PyResult<SignUpResult> {
        run(py, || self.pool()?.sign_up(&username, &password, attributes.unwrap_or_default())).map(sign_up_result)
    }

    fn confirm_sign_up(&self, py: Python<'_>, username: String, code: Secret) -> PyResult<()> {
        run(py, || self.pool()?.confirm_sign_up(&username, &code))
    }

    fn resend_sign_up_code(&self, py: Python<'_>, username: String) -> PyResult<CodeDelivery> {
        run(py, || self.pool()?.resend_sign_up_code(&username)).map(CodeDelivery::from)
    }

    // sign-in

    fn sign_in(&self, py: Python<'_>, username: String, password: Secret) -> PyResult<SignInResult> {
        run(py, || self.pool()?.sign_in(&username, &password)).map(SignInResult::from)
    }

    #[pyo3(signature = (session, answer, attributes=None))]
    fn confirm_sign_in(
        &self,
        py: Python<'_>,
        session: Secret,
        answer: Secret,
        attributes: Option<Attributes>,
    ) -> PyResult<SignInResult> {
        run(py, || self.pool()?.confirm_sign_in(&session, &answer, attributes.unwrap_or_default()))
            .map(SignInResult::from)
    }

    // tokens and sessions

    fn refresh(&self, py: Python<'_>, refresh_token: Secret) -> PyResult<Tokens> {
        run(py, || self.pool()?.refresh(&refresh_token)).map(Tokens::from)
    }

    fn sign_out(&self, py: Python<'_>, refresh_token: Secret) -> PyResult<()> {
        run(py, || self.pool()?.sign_out(&refresh_token))
    }

    fn global_sign_out(&self, py: Python<'_>, access_token: Secret) -> PyResult<()> {
        run(py, || self.pool()?.global_sign_out(&access_token))
    }

    fn jwks(&self, py: Python<'_>) -> PyResult<String> {
        run(py, || Ok(self.pool()?.jwks()))
    }

    fn rotate_signing_keys(&self, py: Python<'_>) -> PyResult<()> {
        run(py, || self.pool()?.rotate_signing_keys())
    }

    fn revoke_signing_keys(&self, py: Python<'_>) -> PyResult<()> {
        run(py, || self.pool()?.revoke_signing_keys())
    }

    #[pyo3(signature = (token, client_id=None))]
    fn verify_access_token<'py>(
        &self,
        py: Python<'py>,
        token: Secret,
        client_id: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let claims = run(py, || self.pool()?.verify_access_token_for(&token, client_id.as_deref()))?;
        claims_to_py(py, &claims)
    }

    #[pyo3(signature = (token, client_id=None))]
    fn verify_id_token<'py>(
        &self,
        py: Python<'py>,
        token: Secret,
        client_id: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let claims = run(py, || self.pool()?.verify_id_token(&token, client_id.as_deref()))?;
        claims_to_py(py, &claims)
    }

    // MFA

    fn associate_software_token(&self, py: Python<'_>, access_token: Secret) -> PyResult<TotpSetup> {
        run(py, || self.pool()?.associate_software_token(&access_token)).map(TotpSetup::from)
    }

    fn associate_software_token_with_session(&self, py: Python<'_>, session: Secret) -> PyResult<TotpSetup> {
        run(py, || self.pool()?.associate_software_token_with_session(&session)).map(TotpSetup::from)
    }

    #[pyo3(signature = (access_token, code, friendly_name=None))]
    fn verify_software_token(
        &self,
        py: Python<'_>,
        access_token: Secret,
        code: Secret,
        friendly_name: Option<String>,
    ) -> PyResult<()> {
        run(py, || self.pool()?.verify_software_token(&access_token, &code, friendly_name.as_deref()))
    }

    #[pyo3(signature = (access_token, totp=None, sms=None, email=None))]
    fn set_mfa_preference(
        &self,
        py: Python<'_>,
        access_token: Secret,
        totp: Option<String>,
        sms: Option<String>,
        email: Option<String>,
    ) -> PyResult<()> {
        let (totp, sms, email) =
            (mfa_preference(totp, "totp")?, mfa_preference(sms, "sms")?, mfa_preference(email, "email")?);
        run(py, || self.pool()?.set_mfa_preference(&access_token, totp, sms, email))
    }

    #[pyo3(signature = (username, totp=None, sms=None, email=None))]
    fn admin_set_user_mfa_preference(
        &self,
        py: Python<'_>,
        username: String,
        totp: Option<String>,
        sms: Option<String>,
        email: Option<String>,
    ) -> PyResult<()> {
        let (totp, sms, email) =
            (mfa_preference(totp, "totp")?, mfa_preference(sms, "sms")?, mfa_preference(email, "email")?);
        run(py, || self.pool()?.admin_set_user_mfa_preference(&username, totp, sms, email))
    }

    // groups

    #[pyo3(signature = (name, description=None, precedence=None))]
    fn create_group(
        &self,
        py: Python<'_>,
        name: String,
        description: Option<String>,
        precedence: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Group> {
        let precedence = opt_u32(precedence, "precedence")?;
        run(py, || self.pool()?.create_group(&name, description.as_deref(), precedence)).map(Group::from)
    }

    #[pyo3(signature = (name, description=None, precedence=None))]
    fn update_group(
        &self,
        py: Python<'_>,
        name: String,
        description: Option<String>,
        precedence: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Group> {
        let precedence = opt_u32(precedence, "precedence")?;
        run(py, || self.pool()?.update_group(&name, description.as_deref(), precedence)).map(Group::from)
    }

    fn get_group(&self, py: Python<'_>, name: String) -> PyResult<Group> {
        run(py, || self.pool()?.get_group(&name)).map(Group::from)
    }

    #[pyo3(signature = (limit=None, pagination_token=None))]
    fn list_groups(
        &self,
        py: Python<'_>,
        limit: Option<&Bound<'_, PyAny>>,
        pagination_token: Option<String>,
    ) -> PyResult<GroupList> {
        let limit = opt_u32(limit, "limit")?;
        let list = run(py, || self.pool()?.list_groups(limit, pagination_token.as_deref()))?;
        Ok(GroupList {
            groups: list.groups.into_iter().map(Group::from).collect(),
            pagination_token: list.pagination_token,
        })
    }

    fn delete_group(&self, py: Python<'_>, name: String) -> PyResult<()> {
        run(py, || self.pool()?.delete_group(&name))
    }

    fn admin_add_user_to_group(&self, py: Python<'_>, username: String, group: String) -> PyResult<()> {
        run(py, || self.pool()?.admin_add_user_to_group(&username, &group))
    }

    fn admin_remove_user_from_group(&self, py: Python<'_>, username: String, group: String) -> PyResult<()> {
        run(py, || self.pool()?.admin_remove_user_from_group(&username, &group))
    }

    fn admin_list_groups_for_user(&self, py: Python<'_>, username: String) -> PyResult<Vec<Group>> {
        run(py, || self.pool()?.admin_list_groups_for_user(&username))
            .map(|groups| groups.into_iter().map(Group::from).collect())
    }

    #[pyo3(signature = (group, limit=None, pagination_token=None))]
    fn list_users_in_group(
        &self,
        py: Python<'_>,
        group: String,
        limit: Option<&Bound<'_, PyAny>>,
        pagination_token: Option<String>,
    ) -> PyResult<UserList> {
        let limit = opt_u32(limit, "limit")?;
        let list = run(py, || self.pool()?.list_users_in_group(&group, limit, pagination_token.as_deref()))?;
        Ok(UserList {
            users: list.users.into_iter().map(User::from).collect(),
            pagination_token: list.pagination_token,
        })
    }

    /// Per user, its new `sub` (str) or the `AuthError` (not raised) saying why it was skipped.
    fn admin_import_users<'py>(&self, py: Python<'py>, users: Vec<ImportUser>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let users = users
            .into_iter()
            .map(|u| up::ImportUser {
                username: u.username,
                attributes: u.attributes,
                password_hash: u.password_hash.map(|hash| String::from(&*hash)),
            })
            .collect();
        let outcomes = run(py, || self.pool()?.admin_import_users(users))?;
        outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(sub) => Ok(PyString::new(py, &sub).into_any()),
                Err(e) => Ok(to_py_err(py, &e, None).value(py).clone().into_any()),
            })
            .collect()
    }

    // the signed-in user

    fn get_user(&self, py: Python<'_>, access_token: Secret) -> PyResult<User> {
        run(py, || self.pool()?.get_user(&access_token)).map(User::from)
    }

    fn change_password(
        &self,
        py: Python<'_>,
        access_token: Secret,
        old_password: Secret,
        new_password: Secret,
    ) -> PyResult<()> {
        run(py, || self.pool()?.change_password(&access_token, &old_password, &new_password))
    }

    fn update_user_attributes(
        &self,
        py: Python<'_>,
        access_token: Secret,
        attributes: Attributes,
    ) -> PyResult<Vec<AttributeUpdate>> {
        let updates = run(py, || self.pool()?.update_user_attributes(&access_token, attributes))?;
        Ok(updates
            .into_iter()
            .map(|u| AttributeUpdate {
                attribute: u.attribute,
                needs_code: u.needs_code,
                code_delivery: u.delivery.map(CodeDelivery::from),
            })
            .collect())
    }

    fn get_user_attribute_verification_code(
        &self,
        py: Python<'_>,
        access_token: Secret,
        attribute: String,
    ) -> PyResult<CodeDelivery> {
        run(py, || self.pool()?.get_user_attribute_verification_code(&access_token, &attribute)).map(CodeDelivery::from)
    }

    fn verify_user_attribute(
        &self,
        py: Python<'_>,
        access_token: Secret,
        attribute: String,
        code: Secret,
    ) -> PyResult<()> {
        run(py, || self.pool()?.verify_user_attribute(&access_token, &attribute, &code))
    }

    fn delete_user_attributes(&self, py: Python<'_>, access_token: Secret, names: Vec<String>) -> PyResult<()> {
        run(py, || self.pool()?.delete_user_attributes(&access_token, &names))
    }

    fn delete_user(&self, py: Python<'_>, access_token: Secret) -> PyResult<()> {
        run(py, || self.pool()?.delete_user(&access_token))
    }

    // recovery

    fn forgot_password(&self, py: Python<'_>, username: String) -> PyResult<CodeDelivery> {
        run(py, || self.pool()?.forgot_password(&username)).map(CodeDelivery::from)
    }

    fn confirm_forgot_password(
        &self,
        py: Python<'_>,
        username: String,
        code: Secret,
        new_password: Secret,
    ) -> PyResult<()> {
        run(py, || self.pool()?.confirm_forgot_password(&username, &code, &new_password))
    }

    // administration

    #[pyo3(signature = (username, attributes=None, temporary_password=None, *, send_invitation))]
    fn admin_create_user(
        &self,
        py: Python<'_>,
        username: String,
        attributes: Option<Attributes>,
        temporary_password: Option<Secret>,
        send_invitation: bool,
    ) -> PyResult<CreatedUser> {
        let created = run(py, || {
            self.pool()?.admin_create_user(
                &username,
                attributes.unwrap_or_default(),
                temporary_password.as_deref(),
                send_invitation,
            )
        })?;
        Ok(CreatedUser { user: created.user.into(), code_delivery: created.code_delivery.map(CodeDelivery::from) })
    }

    fn admin_get_user(&self, py: Python<'_>, username: String) -> PyResult<User> {
        run(py, || self.pool()?.admin_get_user(&username)).map(User::from)
    }

    fn admin_delete_user(&self, py: Python<'_>, username: String) -> PyResult<()> {
        run(py, || self.pool()?.admin_delete_user(&username))
    }

    fn admin_disable_user(&self, py: Python<'_>, username: String) -> PyResult<()> {
        run(py, || self.pool()?.admin_disable_user(&username))
    }

    fn admin_enable_user(&self, py: Python<'_>, username: String) -> PyResult<()> {
        run(py, || self.pool()?.admin_enable_user(&username))
    }

    fn admin_confirm_sign_up(&self, py: Python<'_>, username: String) -> PyResult<()> {
        run(py, || self.pool()?.admin_confirm_sign_up(&username))
    }

    fn admin_reset_user_password(&self, py: Python<'_>, username: String) -> PyResult<Option<CodeDelivery>> {
        run(py, || self.pool()?.admin_reset_user_password(&username)).map(|d| d.map(CodeDelivery::from))
    }

    fn admin_set_user_password(
        &self,
        py: Python<'_>,
        username: String,
        password: Secret,
        permanent: bool,
    ) -> PyResult<()> {
        run(py, || self.pool()?.admin_set_user_password(&username, &password, permanent))
    }

    fn admin_update_user_attributes(&self, py: Python<'_>, username: String, attributes: Attributes) -> PyResult<()> {
        run(py, || self.pool()?.admin_update_user_attributes(&username, attributes))
    }

    fn admin_delete_user_attributes(&self, py: Python<'_>, username: String, names: Vec<String>) -> PyResult<()> {
        run(py, || self.pool()?.admin_delete_user_attributes(&username, &names))
    }

    fn admin_user_global_sign_out(&self, py: Python<'_>, username: String) -> PyResult<()> {
        run(py, || self.pool()?.admin_user_global_sign_out(&username))
    }

    #[pyo3(signature = (filter=None, limit=None, pagination_token=None))]
    fn list_users(
        &self,
        py: Python<'_>,
        filter: Option<String>,
        limit: Option<&Bound<'_, PyAny>>,
        pagination_token: Option<String>,
    ) -> PyResult<UserList> {
        let limit = opt_u32(limit, "limit")?;
        let list = run(py, || self.pool()?.list_users(filter.as_deref(), limit, pagination_token.as_deref()))?;
        Ok(UserList {
            users: list.users.into_iter().map(User::from).collect(),
            pagination_token: list.pagination_token,
        })
    }

    #[pyo3(signature = (username, limit=None))]
    fn admin_list_user_auth_events(
        &self,
        py: Python<'_>,
        username: String,
        limit: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<AuthEvent>> {
        let limit = opt_u32(limit, "limit")?;
        let events = run(py, || self.pool()?.admin_list_user_auth_events(&username, limit))?;
        Ok(events
            .into_iter()
            .map(|e| AuthEvent {
                sub: e.sub,
                kind: e.kind.as_str().to_owned(),
                success: e.success,
                at_ms: e.at_ms,
                detail: e.detail,
            })
            .collect())
    }

    fn backup_to(&self, py: Python<'_>, dest: PathBuf) -> PyResult<()> {
        run(py, || self.pool()?.backup_to(&dest))
    }
}

/// Copies the pool file at `path` into the new file `dest` without opening it as a pool.
#[pyfunction]
fn backup_file(py: Python<'_>, path: PathBuf, dest: PathBuf) -> PyResult<()> {
    run(py, || up::SqliteStore::backup_file(&path, &dest))
}

/// Cognito's `SECRET_HASH`: base64(HMAC-SHA256(client_secret, username + client_id)).
#[pyfunction]
fn secret_hash(client_secret: Secret, username: String, client_id: String) -> String {
    up::secret_hash(&client_secret, &username, &client_id)
}

/// The module `userpool._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<UserPool>()?;
    m.add_class::<Message>()?;
    m.add_class::<CodeDelivery>()?;
    m.add_class::<SignUpResult>()?;
    m.add_class::<SignInResult>()?;
    m.add_class::<Tokens>()?;
    m.add_class::<User>()?;
    m.add_class::<UserList>()?;
    m.add_class::<GroupList>()?;
    m.add_class::<CreatedUser>()?;
    m.add_class::<AttributeUpdate>()?;
    m.add_class::<AuthEvent>()?;
    m.add_class::<TotpSetup>()?;
    m.add_class::<Group>()?;
    m.add_class::<ImportUser>()?;
    m.add_function(wrap_pyfunction!(secret_hash, m)?)?;
    m.add_function(wrap_pyfunction!(backup_file, m)?)?;
    type EnumSpec<'a> = (&'a PyOnceLock<Py<PyAny>>, &'a str, &'a str, &'a [&'a str]);
    let enums: [EnumSpec<'_>; 3] = [
        (&SIGN_UP_STEP, "SignUpStep", "The next step after sign_up (Amplify's signUpStep).", SIGN_UP_STEPS),
        (&SIGN_IN_STEP, "SignInStep", "The next step of a sign-in (Amplify's signInStep).", SIGN_IN_STEPS),
        (&USER_STATUS, "UserStatus", "A user's account status (Cognito's UserStatusType).", USER_STATUSES),
    ];
    for (cell, name, doc, members) in enums {
        let class = cell.get_or_try_init(py, || make_enum(py, name, doc, members))?;
        m.add(name, class.bind(py))?;
    }
    let types = error_types(py)?;
    m.add("AuthError", types.base.bind(py))?;
    let mut codes = Vec::with_capacity(types.by_code.len());
    for (code, class) in &types.by_code {
        m.add(error_class_name(*code), class.bind(py))?;
        codes.push(code.as_str());
    }
    m.add("ERROR_CODES", codes)?;
    Ok(())
}
