//! Language-neutral scenarios: a JSON script of operations, clock moves and expectations that
//! the Rust suite and every binding's suite replay, so a behaviour is specified once.
//!
//! The format (see `fixtures/scenarios/README.md`):
//!
//! ```json
//! { "name": "…", "config": { …PoolConfig as JSON… }, "start_ms": 1700000000000,
//!   "steps": [
//!     { "op": "sign_up", "args": { "username": "alice", "password": "…", "attributes": {…} },
//!       "expect": { "next_step": "CONFIRM_SIGN_UP" } },
//!     { "op": "confirm_sign_up", "args": { "username": "alice", "code": "${code:alice@example.com}" } },
//!     { "op": "sign_in", "args": {…}, "save": "s1" },
//!     { "op": "advance", "secs": 3600 },
//!     { "op": "verify_access_token", "args": { "token": "${s1.tokens.access_token}" },
//!       "expect_error": "NotAuthorizedException" } ] }
//! ```
//!
//! A string argument `"${code:DEST}"` is the last code delivered to `DEST` (`DEST#1` the one
//! before it); `"${NAME.path}"`
//! is a field of a result saved with `"save": "NAME"`. `expect` maps dotted paths of the
//! result (as [`result_json`] shapes it; `length` counts a list) to expected JSON values.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::delivery::{Delivery, DeliveryError, Message};
use crate::flow::MfaPreference;
use crate::{Attributes, ManualClock, PoolConfig, UserPool};

/// A parsed scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows.
    pub name: String,
    /// A longer description.
    #[serde(default)]
    pub description: String,
    /// The pool configuration (JSON form of [`PoolConfig`]).
    #[serde(default)]
    pub config: Value,
    /// The clock's start (unix ms).
    #[serde(default = "default_start")]
    pub start_ms: i64,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

fn default_start() -> i64 {
    1_700_000_000_000
}

/// One step of a scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The operation: a `UserPool` method name, `advance` or `fail_delivery`.
    pub op: String,
    /// Named arguments.
    #[serde(default)]
    pub args: Map<String, Value>,
    /// For `advance`: seconds to move the clock.
    #[serde(default)]
    pub secs: Option<i64>,
    /// Expected fields of the result.
    #[serde(default)]
    pub expect: Map<String, Value>,
    /// Expected error code (Cognito name).
    #[serde(default)]
    pub expect_error: Option<String>,
    /// Save the result under this name.
    #[serde(default)]
    pub save: Option<String>,
    /// Expected number of messages delivered by this step.
    #[serde(default)]
    pub expect_messages: Option<usize>,
    /// A note for readers.
    #[serde(default)]
    pub note: String,
}

impl Scenario {
    /// Parses a scenario file.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let scenario: Self = serde_json::from_str(text).map_err(|e| format!("scenario is not valid: {e}"))?;
        for (i, step) in scenario.steps.iter().enumerate() {
            step.check_shape().map_err(|e| format!("scenario is not valid: step {} ({}): {e}", i + 1, step.op))?;
        }
        Ok(scenario)
    }
}

impl Step {
    /// Refuses a field the step would ignore, so that no check is written and then skipped.
    fn check_shape(&self) -> Result<(), &'static str> {
        let checks_result = !self.expect.is_empty() || self.save.is_some();
        match self.op.as_str() {
            "advance" if self.secs.is_none() => Err("advance needs secs"),
            "advance" | "fail_delivery" if checks_result || self.expect_error.is_some() => {
                Err("expect, expect_error and save have no meaning here")
            }
            "advance" if !self.args.is_empty() => Err("advance takes secs, not args"),
            "advance" => Ok(()),
            _ if self.secs.is_some() => Err("secs belongs to advance"),
            _ if checks_result && self.expect_error.is_some() => {
                Err("expect and save have no meaning with expect_error (the step fails)")
            }
            _ => Ok(()),
        }
    }
}

/// A delivery for scenarios: records messages and can be told to fail.
#[derive(Clone, Default)]
struct ScriptDelivery {
    messages: Arc<Mutex<Vec<Message>>>,
    failing: Arc<Mutex<bool>>,
}

impl Delivery for ScriptDelivery {
    fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        if *self.failing.lock().map_err(|_| DeliveryError("poisoned".into()))? {
            return Err(DeliveryError("the scenario made delivery fail".into()));
        }
        self.messages.lock().map_err(|_| DeliveryError("poisoned".into()))?.push(message.clone());
        Ok(())
    }
}

/// Runs a scenario on a fresh in-memory pool; the error names the failing step.
pub fn run(scenario: &Scenario) -> Result<(), String> {
    let store: Arc<dyn crate::Store> = Arc::new(crate::MemoryStore::new());
    run_on(scenario, store)
}

/// Runs a scenario on a fresh pool in `store`.
pub fn run_on(scenario: &Scenario, store: Arc<dyn crate::Store>) -> Result<(), String> {
    let config = if scenario.config.is_null() { Value::Object(Map::new()) } else { scenario.config.clone() };
    let config = PoolConfig::from_json(&config.to_string()).map_err(|e| format!("config: {e}"))?;
    let clock = ManualClock::new(scenario.start_ms);
    let delivery = ScriptDelivery::default();
    let pool = UserPool::builder(config)
        .store(store)
        .delivery(Arc::new(delivery.clone()))
        .clock(Arc::new(clock.clone()))
        .open()
        .map_err(|e| format!("open: {e}"))?;
    let mut saved: HashMap<String, Value> = HashMap::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        let at = format!("step {} ({})", i + 1, step.op);
        let before = delivery.messages.lock().map(|m| m.len()).unwrap_or(0);
        let outcome = match step.op.as_str() {
            "advance" => {
                clock.advance_secs(step.secs.ok_or_else(|| format!("{at}: advance needs secs"))?);
                Ok(Value::Null)
            }
            "totp" => {
                // The authenticator app: RFC 6238 computed here, independently of the engine.
                let resolved = resolve_args(&step.args, &saved, &delivery).map_err(|e| format!("{at}: {e}"))?;
                let args = Args::new(&resolved);
                let secret = arg_str(&args, "secret").map_err(|e| format!("{at}: {e}"))?;
                let offset = args.opt_i64("offset_secs").unwrap_or(0);
                args.check().map_err(|e| format!("{at}: {e}"))?;
                use crate::Clock as _;
                let code = totp_code(secret, clock.now_ms() / 1000 + offset).map_err(|e| format!("{at}: {e}"))?;
                Ok(json!({ "code": code }))
            }
            "fail_delivery" => {
                let args = Args::new(&step.args);
                let on = args.opt_bool("failing").unwrap_or(true);
                args.check().map_err(|e| format!("{at}: {e}"))?;
                *delivery.failing.lock().map_err(|_| "poisoned")? = on;
                Ok(Value::Null)
            }
            op => {
                let resolved = resolve_args(&step.args, &saved, &delivery).map_err(|e| format!("{at}: {e}"))?;
                let args = Args::new(&resolved);
                let outcome = call(&pool, op, &args).map_err(|e| format!("{at}: {e}"))?;
                args.check().map_err(|e| format!("{at}: {e}"))?;
                outcome
            }
        };
        let delivered = delivery.messages.lock().map(|m| m.len()).unwrap_or(0) - before;
        if let Some(expected) = step.expect_messages
            && delivered != expected
        {
            return Err(format!("{at}: expected {expected} messages, {delivered} were delivered"));
        }
        match (outcome, &step.expect_error) {
            (Ok(value), None) => {
                let expect = resolve_args(&step.expect, &saved, &delivery).map_err(|e| format!("{at}: {e}"))?;
                check_expectations(&step.op, &value, &expect).map_err(|e| format!("{at}: {e}"))?;
                if let Some(name) = &step.save {
                    saved.insert(name.clone(), value);
                }
            }
            (Ok(value), Some(code)) => return Err(format!("{at}: expected {code}, got success {value}")),
            (Err(err), Some(code)) if err.code().as_str() == code => {}
            (Err(err), _) => return Err(format!("{at}: unexpected error {err}")),
        }
    }
    Ok(())
}

fn resolve_args(
    args: &Map<String, Value>,
    saved: &HashMap<String, Value>,
    delivery: &ScriptDelivery,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (name, value) in args {
        out.insert(name.clone(), resolve(value, saved, delivery)?);
    }
    Ok(out)
}

fn resolve(value: &Value, saved: &HashMap<String, Value>, delivery: &ScriptDelivery) -> Result<Value, String> {
    match value {
        Value::String(s) if s.starts_with("${") && s.ends_with('}') => {
            let reference = &s[2..s.len() - 1];
            if let Some(code) = reference.strip_prefix("code:") {
                // `DEST#N`: the code N messages before the newest to DEST.
                let (destination, back) = match code.split_once('#') {
                    Some((destination, back)) => {
                        (destination, back.parse::<usize>().map_err(|_| format!("{reference}: #N takes a number"))?)
                    }
                    None => (code, 0),
                };
                let messages = delivery.messages.lock().map_err(|_| "poisoned")?;
                let message = messages
                    .iter()
                    .rev()
                    .filter(|m| m.destination == destination)
                    .nth(back)
                    .ok_or_else(|| format!("no code #{back} was delivered to {destination}"))?;
                return Ok(json!(message.code.as_str()));
            }
            let (name, path) = reference.split_once('.').unwrap_or((reference, ""));
            let base = saved.get(name).ok_or_else(|| format!("nothing saved as {name}"))?;
            lookup(base, path).cloned().ok_or_else(|| format!("{reference} is not in the saved result"))
        }
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), resolve(v, saved, delivery)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            items.iter().map(|v| resolve(v, saved, delivery)).collect::<Result<_, _>>().map(Value::Array)
        }
        other => Ok(other.clone()),
    }
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(value);
    }
    path.split('.').try_fold(value, |v, part| match v {
        Value::Object(map) => map.get(part),
        Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn check_expectations(op: &str, value: &Value, expect: &Map<String, Value>) -> Result<(), String> {
    for (path, expected) in expect {
        let actual = match path.strip_suffix(".length").or_else(|| (path == "length").then_some("")) {
            Some(list_path) => lookup(value, list_path).and_then(Value::as_array).map(|l| json!(l.len())),
            None => lookup(value, path).cloned(),
        };
        if actual.is_none() && expected.is_null() && !absent_may_be_null(op, value, path) {
            return Err(format!("{path}: nothing is there to be null (a misspelled name?)"));
        }
        let actual = actual.unwrap_or(Value::Null);
        if &actual != expected {
            return Err(format!("{path}: expected {expected}, got {actual}"));
        }
    }
    Ok(())
}

/// Whether an expected `null` at `path`, where nothing is, means a value is absent rather than
/// a misspelled path: a claim a token lacks (`verify_access_token`, `verify_id_token`), or an
/// attribute missing from an `attributes` map. Results spell out their other empty fields as
/// `null`.
fn absent_may_be_null(op: &str, value: &Value, path: &str) -> bool {
    let Some((parent, _)) = path.rsplit_once('.') else {
        return matches!(op, "verify_access_token" | "verify_id_token") && value.is_object();
    };
    let map_name = parent.rsplit('.').next().unwrap_or(parent);
    map_name == "attributes" && lookup(value, parent).is_some_and(Value::is_object)
}

/// A step's arguments (or an object nested in them), each read remembered: an argument the
/// operation never read, or one of another type than it reads, is an error. Either would
/// otherwise run as the argument's default: a misspelled `permanent`, a `"limit": "2"`.
struct Args<'a> {
    map: &'a Map<String, Value>,
    read: RefCell<BTreeSet<String>>,
    wrong: RefCell<Vec<String>>,
}

impl<'a> Args<'a> {
    fn new(map: &'a Map<String, Value>) -> Self {
        Self { map, read: RefCell::new(BTreeSet::new()), wrong: RefCell::new(Vec::new()) }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.read.borrow_mut().insert(name.to_owned());
        self.map.get(name)
    }

    /// An optional argument of the type `as_type` reads; `null` is absent (a saved page
    /// token at the end of a listing).
    fn opt<T>(&self, name: &str, wanted: &str, as_type: fn(&'a Value) -> Option<T>) -> Option<T> {
        let value = self.get(name).filter(|v| !v.is_null())?;
        let typed = as_type(value);
        if typed.is_none() {
            self.wrong.borrow_mut().push(format!("{name} is not {wanted}"));
        }
        typed
    }

    fn opt_str(&self, name: &str) -> Option<&'a str> {
        self.opt(name, "a string", Value::as_str)
    }

    fn opt_bool(&self, name: &str) -> Option<bool> {
        self.opt(name, "true or false", Value::as_bool)
    }

    fn opt_i64(&self, name: &str) -> Option<i64> {
        self.opt(name, "an integer", Value::as_i64)
    }

    /// An optional count; one beyond `u32` stays beyond what the engine takes.
    fn opt_u32(&self, name: &str) -> Option<u32> {
        self.opt(name, "a whole number", Value::as_u64).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Every argument given was read by the operation, as the type it reads.
    fn check(&self) -> Result<(), String> {
        let read = self.read.borrow();
        let unread: Vec<&str> = self.map.keys().map(String::as_str).filter(|name| !read.contains(*name)).collect();
        let wrong = self.wrong.borrow();
        match (unread.is_empty(), wrong.is_empty()) {
            (true, true) => Ok(()),
            (false, _) => Err(format!("arguments this operation does not take: {unread:?}")),
            (true, false) => Err(format!("arguments of the wrong type: {}", wrong.join("; "))),
        }
    }
}

fn arg_str<'a>(args: &Args<'a>, name: &str) -> Result<&'a str, String> {
    args.get(name).and_then(Value::as_str).ok_or_else(|| format!("argument {name} (a string) is missing"))
}

fn opt_str<'a>(args: &Args<'a>, name: &str) -> Option<&'a str> {
    args.opt_str(name)
}

fn arg_attributes(args: &Args<'_>, name: &str) -> Result<Attributes, String> {
    let Some(value) = args.get(name) else {
        return Ok(Attributes::new());
    };
    serde_json::from_value(value.clone()).map_err(|e| format!("argument {name}: {e}"))
}

fn arg_import_users(args: &Args<'_>, name: &str) -> Result<Vec<crate::ImportUser>, String> {
    let rows =
        args.get(name).and_then(Value::as_array).ok_or_else(|| format!("argument {name} (a list) is missing"))?;
    rows.iter()
        .map(|row| {
            let row = Args::new(row.as_object().ok_or_else(|| format!("argument {name}: each user is an object"))?);
            let user = crate::ImportUser {
                username: arg_str(&row, "username")?.to_owned(),
                attributes: arg_attributes(&row, "attributes")?,
                password_hash: opt_str(&row, "password_hash").map(str::to_owned),
            };
            row.check().map_err(|e| format!("argument {name}: a user's {e}"))?;
            Ok(user)
        })
        .collect()
}

fn arg_names(args: &Args<'_>, name: &str) -> Result<Vec<String>, String> {
    serde_json::from_value(args.get(name).cloned().unwrap_or(json!([]))).map_err(|e| format!("argument {name}: {e}"))
}

/// The canonical JSON shape of results, shared by every binding's runner.
pub mod result_json {
    use serde_json::{Value, json};

    use crate::{AuditEvent, CodeDelivery, Group, SignInResult, SignUpResult, Tokens, TotpSetup, User};

    /// Code delivery details.
    pub fn delivery(d: &CodeDelivery) -> Value {
        json!({"channel": d.channel.as_str(), "destination": d.destination, "attribute": d.attribute})
    }

    /// Tokens.
    pub fn tokens(t: &Tokens) -> Value {
        json!({"id_token": t.id_token, "access_token": t.access_token, "refresh_token": t.refresh_token,
               "expires_in": t.expires_in, "token_type": t.token_type})
    }

    /// A sign-up result.
    pub fn sign_up(r: &SignUpResult) -> Value {
        json!({"user_sub": r.user_sub, "confirmed": r.confirmed, "next_step": r.next_step.as_str(),
               "code_delivery": r.code_delivery.as_ref().map(delivery)})
    }

    /// A sign-in result.
    pub fn sign_in(r: &SignInResult) -> Value {
        json!({"next_step": r.next_step.as_str(), "tokens": r.tokens.as_ref().map(tokens),
               "session": r.session, "missing_attributes": r.missing_attributes,
               "code_delivery": r.code_delivery.as_ref().map(delivery),
               "allowed_mfa_types": r.allowed_mfa_types.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
               "totp_setup": r.totp_setup.as_ref().map(totp_setup)})
    }

    /// A new authenticator's secret and URI.
    pub fn totp_setup(t: &TotpSetup) -> Value {
        json!({"secret": t.secret, "uri": t.uri})
    }

    /// A user.
    pub fn user(u: &User) -> Value {
        json!({"username": u.username, "sub": u.sub, "status": u.status.as_str(), "enabled": u.enabled,
               "attributes": u.attributes, "mfa_enabled": u.mfa_enabled.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
               "preferred_mfa": u.preferred_mfa.map(|m| m.as_str()), "groups": u.groups,
               "username_attribute": u.username_attribute})
    }

    /// One user's outcome of an import: its new `sub`, or the error code refusing it.
    pub fn import_outcome(outcome: &crate::Result<String>) -> Value {
        match outcome {
            Ok(sub) => json!({"sub": sub, "code": null}),
            Err(e) => json!({"sub": null, "code": e.code().as_str()}),
        }
    }

    /// A group.
    pub fn group(g: &Group) -> Value {
        json!({"name": g.name, "description": g.description, "precedence": g.precedence})
    }

    /// An audit event.
    pub fn event(e: &AuditEvent) -> Value {
        json!({"kind": e.kind.as_str(), "success": e.success, "detail": e.detail})
    }
}

/// The TOTP, SMS and email choices of a preference call.
type Preferences = (Option<MfaPreference>, Option<MfaPreference>, Option<MfaPreference>);

fn preferences(a: &Args<'_>) -> Result<Preferences, String> {
    let one = |name: &str| -> Result<Option<MfaPreference>, String> {
        match opt_str(a, name) {
            None => Ok(None),
            Some(text) => {
                MfaPreference::parse(text).map(Some).ok_or_else(|| format!("{name}: not a preference: {text}"))
            }
        }
    };
    Ok((one("totp")?, one("sms")?, one("email")?))
}

/// RFC 6238 (SHA-1, 6 digits, 30 s) from a base32 secret, written here from the RFC with
/// ring's HMAC so that scenarios check the engine against an independent generator.
pub fn totp_code(base32_secret: &str, unix_secs: i64) -> Result<String, String> {
    let secret = base32_decode(base32_secret).ok_or("the secret is not base32")?;
    let counter = u64::try_from(unix_secs.div_euclid(30)).map_err(|_| "time before 1970")?;
    Ok(hotp(&secret, counter, 6))
}

/// RFC 4226 HOTP with HMAC-SHA-1.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = ring::hmac::sign(&key, &counter.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    format!("{:0width$}", binary % 10u32.pow(digits), width = digits as usize)
}

/// RFC 4648 base32 (upper or lower case, padding optional).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits: u64 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').chars() {
        let value = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u64 - 'A' as u64,
            c @ '2'..='7' => c as u64 - '2' as u64 + 26,
            _ => return None,
        };
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push(((bits >> count) & 0xff) as u8);
        }
    }
    Some(out)
}

fn call(pool: &UserPool, op: &str, a: &Args<'_>) -> Result<Result<Value, crate::Error>, String> {
    use result_json as rj;
    let done = |r: crate::Result<()>| r.map(|()| Value::Null);
    Ok(match op {
        "sign_up" => pool
            .sign_up(arg_str(a, "username")?, arg_str(a, "password")?, arg_attributes(a, "attributes")?)
            .map(|r| rj::sign_up(&r)),
        "confirm_sign_up" => done(pool.confirm_sign_up(arg_str(a, "username")?, arg_str(a, "code")?)),
        "resend_sign_up_code" => pool.resend_sign_up_code(arg_str(a, "username")?).map(|d| rj::delivery(&d)),
        "sign_in" => pool.sign_in(arg_str(a, "username")?, arg_str(a, "password")?).map(|r| rj::sign_in(&r)),
        "confirm_sign_in" => pool
            .confirm_sign_in(arg_str(a, "session")?, arg_str(a, "answer")?, arg_attributes(a, "attributes")?)
            .map(|r| rj::sign_in(&r)),
        "refresh" => pool.refresh(arg_str(a, "refresh_token")?).map(|t| rj::tokens(&t)),
        "sign_out" => done(pool.sign_out(arg_str(a, "refresh_token")?)),
        "global_sign_out" => done(pool.global_sign_out(arg_str(a, "access_token")?)),
        "verify_access_token" => pool.verify_access_token(arg_str(a, "token")?).map(Value::Object),
        "verify_id_token" => pool.verify_id_token(arg_str(a, "token")?, opt_str(a, "client_id")).map(Value::Object),
        "jwks" => Ok(serde_json::from_str(&pool.jwks()).unwrap_or(Value::Null)),
        "get_user" => pool.get_user(arg_str(a, "access_token")?).map(|u| rj::user(&u)),
        "change_password" => done(pool.change_password(
            arg_str(a, "access_token")?,
            arg_str(a, "old_password")?,
            arg_str(a, "new_password")?,
        )),
        "update_user_attributes" => {
            pool.update_user_attributes(arg_str(a, "access_token")?, arg_attributes(a, "attributes")?).map(|u| {
                Value::Array(
                    u.iter()
                        .map(|x| {
                            json!({"attribute": x.attribute, "needs_code": x.needs_code,
                                    "code_delivery": x.delivery.as_ref().map(rj::delivery)})
                        })
                        .collect(),
                )
            })
        }
        "get_user_attribute_verification_code" => pool
            .get_user_attribute_verification_code(arg_str(a, "access_token")?, arg_str(a, "attribute")?)
            .map(|d| rj::delivery(&d)),
        "verify_user_attribute" => {
            done(pool.verify_user_attribute(arg_str(a, "access_token")?, arg_str(a, "attribute")?, arg_str(a, "code")?))
        }
        "delete_user_attributes" => {
            done(pool.delete_user_attributes(arg_str(a, "access_token")?, &arg_names(a, "names")?))
        }
        "delete_user" => done(pool.delete_user(arg_str(a, "access_token")?)),
        "forgot_password" => pool.forgot_password(arg_str(a, "username")?).map(|d| rj::delivery(&d)),
        "confirm_forgot_password" => done(pool.confirm_forgot_password(
            arg_str(a, "username")?,
            arg_str(a, "code")?,
            arg_str(a, "new_password")?,
        )),
        "admin_create_user" => pool
            .admin_create_user(
                arg_str(a, "username")?,
                arg_attributes(a, "attributes")?,
                opt_str(a, "temporary_password"),
                a.opt_bool("send_invitation").unwrap_or(true),
            )
            .map(|c| json!({"user": rj::user(&c.user), "code_delivery": c.code_delivery.as_ref().map(rj::delivery)})),
        "admin_get_user" => pool.admin_get_user(arg_str(a, "username")?).map(|u| rj::user(&u)),
        "admin_delete_user" => done(pool.admin_delete_user(arg_str(a, "username")?)),
        "admin_disable_user" => done(pool.admin_disable_user(arg_str(a, "username")?)),
        "admin_enable_user" => done(pool.admin_enable_user(arg_str(a, "username")?)),
        "admin_confirm_sign_up" => done(pool.admin_confirm_sign_up(arg_str(a, "username")?)),
        "admin_reset_user_password" => pool
            .admin_reset_user_password(arg_str(a, "username")?)
            .map(|d| d.as_ref().map_or(Value::Null, rj::delivery)),
        "admin_set_user_password" => done(pool.admin_set_user_password(
            arg_str(a, "username")?,
            arg_str(a, "password")?,
            a.opt_bool("permanent").unwrap_or(false),
        )),
        "admin_update_user_attributes" => {
            done(pool.admin_update_user_attributes(arg_str(a, "username")?, arg_attributes(a, "attributes")?))
        }
        "admin_delete_user_attributes" => {
            done(pool.admin_delete_user_attributes(arg_str(a, "username")?, &arg_names(a, "names")?))
        }
        "admin_user_global_sign_out" => done(pool.admin_user_global_sign_out(arg_str(a, "username")?)),
        "admin_import_users" => pool
            .admin_import_users(arg_import_users(a, "users")?)
            .map(|outcomes| Value::Array(outcomes.iter().map(rj::import_outcome).collect())),
        "list_users" => {
            let limit = a.opt_u32("limit");
            pool.list_users(opt_str(a, "filter"), limit, opt_str(a, "pagination_token")).map(|l| {
                json!({"users": l.users.iter().map(rj::user).collect::<Vec<_>>(), "pagination_token": l.pagination_token})
            })
        }
        "admin_list_user_auth_events" => {
            let limit = a.opt_u32("limit");
            pool.admin_list_user_auth_events(arg_str(a, "username")?, limit)
                .map(|events| Value::Array(events.iter().map(rj::event).collect()))
        }
        "rotate_signing_keys" => done(pool.rotate_signing_keys()),
        "revoke_signing_keys" => done(pool.revoke_signing_keys()),
        "associate_software_token" => match (opt_str(a, "access_token"), opt_str(a, "session")) {
            (Some(token), None) => pool.associate_software_token(token),
            (None, Some(session)) => pool.associate_software_token_with_session(session),
            _ => return Err("associate_software_token takes access_token or session".into()),
        }
        .map(|t| rj::totp_setup(&t)),
        "verify_software_token" => done(pool.verify_software_token(
            arg_str(a, "access_token")?,
            arg_str(a, "code")?,
            opt_str(a, "friendly_name"),
        )),
        "set_mfa_preference" => {
            let (totp, sms, email) = preferences(a)?;
            done(pool.set_mfa_preference(arg_str(a, "access_token")?, totp, sms, email))
        }
        "admin_set_user_mfa_preference" => {
            let (totp, sms, email) = preferences(a)?;
            done(pool.admin_set_user_mfa_preference(arg_str(a, "username")?, totp, sms, email))
        }
        "create_group" => pool
            .create_group(arg_str(a, "name")?, opt_str(a, "description"), a.opt_u32("precedence"))
            .map(|g| rj::group(&g)),
        "update_group" => pool
            .update_group(arg_str(a, "name")?, opt_str(a, "description"), a.opt_u32("precedence"))
            .map(|g| rj::group(&g)),
        "get_group" => pool.get_group(arg_str(a, "name")?).map(|g| rj::group(&g)),
        "list_groups" => {
            let limit = a.opt_u32("limit");
            pool.list_groups(limit, opt_str(a, "pagination_token")).map(|l| {
                json!({"groups": l.groups.iter().map(rj::group).collect::<Vec<_>>(), "pagination_token": l.pagination_token})
            })
        }
        "delete_group" => done(pool.delete_group(arg_str(a, "name")?)),
        "admin_add_user_to_group" => done(pool.admin_add_user_to_group(arg_str(a, "username")?, arg_str(a, "group")?)),
        "admin_remove_user_from_group" => {
            done(pool.admin_remove_user_from_group(arg_str(a, "username")?, arg_str(a, "group")?))
        }
        "admin_list_groups_for_user" => pool
            .admin_list_groups_for_user(arg_str(a, "username")?)
            .map(|gs| Value::Array(gs.iter().map(rj::group).collect())),
        "list_users_in_group" => {
            let limit = a.opt_u32("limit");
            pool.list_users_in_group(arg_str(a, "group")?, limit, opt_str(a, "pagination_token")).map(|l| {
                json!({"users": l.users.iter().map(rj::user).collect::<Vec<_>>(), "pagination_token": l.pagination_token})
            })
        }
        other => return Err(format!("unknown operation {other}")),
    })
}
