//! The host's JavaScript callbacks as core's [`Delivery`] and [`Clock`].
//!
//! Core calls them synchronously from the thread running an operation. On a worker thread
//! the call goes to the JavaScript thread through a thread-safe function and the worker
//! waits for the answer (and for the Promise, if the function returned one); the JavaScript
//! thread is never blocked. On the JavaScript thread itself (the synchronous methods) a
//! thread-safe call would wait for itself, so the clock is read beforehand by the caller and
//! handed in through [`with_js_thread_now`]; delivery never happens there.

use std::cell::{Cell, RefCell};
use std::sync::mpsc;
use std::thread::{self, ThreadId};

use napi::bindgen_prelude::{CallbackContext, Either, Promise, PromiseRaw, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{JsValue as _, Status, ValueType};
use userpool::delivery::{Delivery, DeliveryError, Message};
use userpool::{Clock, LastReading, SystemClock};

use crate::errors::Failure;
use crate::results;
use crate::runtime;

/// What the delivery function returns: a Promise to wait for, or anything else (done).
/// `false`, or a Promise of `false`, says the message was not sent.
pub(crate) type DeliveryReturn = Either<PromiseRaw<'static, Unknown<'static>>, Unknown<'static>>;
/// The delivery function, callable from any thread; weak, so an idle pool does not keep the
/// process alive.
pub(crate) type DeliveryFn =
    ThreadsafeFunction<results::Message, DeliveryReturn, results::Message, Status, false, true>;
/// The clock function, callable from any thread.
pub(crate) type ClockFn = ThreadsafeFunction<(), f64, (), Status, false, true>;

thread_local! {
    /// The delivery function's error during the current operation on this worker thread.
    static DELIVERY_FAILURE: RefCell<Option<napi::Error>> = const { RefCell::new(None) };
    /// The clock function's first failure during the current operation on this worker
    /// thread, and whether it had given a reading to go on with.
    static CLOCK_FAILURE: RefCell<Option<(Failure, bool)>> = const { RefCell::new(None) };
    /// The time read from the clock function for a synchronous call on the JavaScript thread.
    static JS_THREAD_NOW: Cell<Option<i64>> = const { Cell::new(None) };
}

/// What the host callbacks left behind during one operation on this worker thread.
pub(crate) struct HostFailures {
    /// The delivery function's own error (what it threw or rejected with).
    pub(crate) delivery: Option<napi::Error>,
    /// The clock function failed, and whether the operation could go on with a reading it
    /// gave before (if not, it ran on the system clock).
    pub(crate) clock: Option<(Failure, bool)>,
}

/// Forgets anything a previous operation on this thread left behind.
pub(crate) fn begin_operation() {
    drop(end_operation());
}

/// Takes what the host callbacks left behind during the operation that just ran here.
pub(crate) fn end_operation() -> HostFailures {
    HostFailures { delivery: DELIVERY_FAILURE.with(RefCell::take), clock: CLOCK_FAILURE.with(RefCell::take) }
}

/// Runs `f` on the JavaScript thread with `now` as the clock's reading.
pub(crate) fn with_js_thread_now<R>(now: i64, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<i64>);
    impl Drop for Reset {
        fn drop(&mut self) {
            JS_THREAD_NOW.with(|cell| cell.set(self.0));
        }
    }
    let _reset = Reset(JS_THREAD_NOW.with(|cell| cell.replace(Some(now))));
    f()
}

/// How a call to the delivery function ended, as seen from the JavaScript thread: whether the
/// message went, or a Promise of that.
enum Called {
    Done(napi::Result<bool>),
    Pending(Promise<bool>),
}

/// Whether what the delivery function returned (or its Promise resolved to) says the message
/// went: anything but `false`, so that a function returning nothing counts as sent.
fn went(returned: &Unknown<'_>) -> bool {
    !(returned.get_type().is_ok_and(|kind| kind == ValueType::Boolean) && returned.coerce_to_bool().is_ok_and(|b| !b))
}

/// The host's `delivery` function as a [`Delivery`].
pub(crate) struct JsDelivery {
    function: DeliveryFn,
    js_thread: ThreadId,
}

impl JsDelivery {
    /// Wraps `function`; must be made on the JavaScript thread that owns it.
    pub(crate) fn new(function: DeliveryFn) -> Self {
        Self { function, js_thread: thread::current().id() }
    }
}

impl Delivery for JsDelivery {
    fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        if thread::current().id() == self.js_thread {
            // Unreachable through this binding (operations that deliver run on workers), and a
            // thread-safe call from here would wait for itself.
            return Err(DeliveryError("cannot call the delivery function from the JavaScript thread".into()));
        }
        let (sender, receiver) = mpsc::channel();
        let status = self.function.call_with_return_value(
            results::Message::from(message),
            ThreadsafeFunctionCallMode::Blocking,
            move |returned: napi::Result<DeliveryReturn>, _env| {
                let called = match returned {
                    Ok(Either::A(promise)) => match promise
                        .then(|resolved: CallbackContext<Unknown<'static>>| Ok(went(&resolved.value)))
                        .and_then(PromiseRaw::into_sendable_promise)
                    {
                        Ok(promise) => Called::Pending(promise),
                        Err(error) => Called::Done(Err(error)),
                    },
                    Ok(Either::B(value)) => Called::Done(Ok(went(&value))),
                    Err(thrown) => Called::Done(Err(thrown)),
                };
                // The worker may have stopped waiting only if its thread is gone.
                let _ = sender.send(called);
                Ok(())
            },
        );
        if status != Status::Ok {
            return Err(DeliveryError("the JavaScript environment is shutting down".into()));
        }
        let Some(outcome) = runtime::waiting_for_js(|| match receiver.recv() {
            Ok(Called::Done(outcome)) => Some(outcome),
            Ok(Called::Pending(promise)) => Some(runtime::block_on(promise)),
            Err(_) => None,
        }) else {
            return Err(DeliveryError("the JavaScript environment is shutting down".into()));
        };
        match outcome {
            Ok(true) => Ok(()),
            Ok(false) => Err(DeliveryError("the delivery function returned false: the message was not sent".into())),
            Err(error) => {
                DELIVERY_FAILURE.with(|slot| *slot.borrow_mut() = Some(error));
                Err(DeliveryError("the delivery function failed (its error is this error's cause)".into()))
            }
        }
    }
}

/// The host's `clock` function as a [`Clock`].
pub(crate) struct JsClock {
    function: ClockFn,
    js_thread: ThreadId,
    /// What to go on with when the function fails.
    last: LastReading,
}

impl JsClock {
    /// Wraps `function`; must be made on the JavaScript thread that owns it.
    pub(crate) fn new(function: ClockFn) -> Self {
        Self { function, js_thread: thread::current().id(), last: LastReading::default() }
    }

    /// Reads the clock before a pool is opened with it, so that a clock that fails at once
    /// fails the open before anything is made (a file, keys), not after.
    pub(crate) fn first_reading(&self) -> Result<(), Failure> {
        self.last.record(self.read()?);
        Ok(())
    }

    fn read(&self) -> Result<i64, Failure> {
        let (sender, receiver) = mpsc::channel();
        let status =
            self.function.call_with_return_value((), ThreadsafeFunctionCallMode::Blocking, move |returned, _env| {
                let _ = sender.send(returned);
                Ok(())
            });
        if status != Status::Ok {
            return Err(clock_failure("could not be called: the JavaScript environment is shutting down", None));
        }
        match runtime::waiting_for_js(|| receiver.recv()) {
            Ok(Ok(ms)) => checked_ms(ms),
            Ok(Err(error)) => Err(clock_failure("threw or did not return a number", Some(error))),
            Err(_) => Err(clock_failure("could not be called: the JavaScript environment is shutting down", None)),
        }
    }
}

/// Unix milliseconds from what a clock function returned.
pub(crate) fn checked_ms(ms: f64) -> Result<i64, Failure> {
    if ms.is_finite() {
        // Saturating for times beyond ±292 million years, exact for every real one.
        userpool::check_host_reading(ms.trunc() as i64).map_err(|reason| clock_failure(&reason, None))
    } else {
        Err(clock_failure(&format!("must return a finite number of unix milliseconds, not {ms}"), None))
    }
}

fn clock_failure(what: &str, cause: Option<napi::Error>) -> Failure {
    Failure::Clock { message: format!("the clock function {what}"), cause }
}

impl Clock for JsClock {
    fn now_ms(&self) -> i64 {
        if thread::current().id() == self.js_thread {
            // Synchronous methods read the clock before calling core.
            return JS_THREAD_NOW.with(Cell::get).unwrap_or_else(|| SystemClock.now_ms());
        }
        match self.read() {
            Ok(ms) => self.last.record(ms),
            Err(mut failure) => {
                // The Clock trait cannot fail, and the operation may be halfway through: it
                // goes on from the last good reading (the system clock if there is none), and
                // the failure is reported after it.
                let kept = self.last.has_reading();
                if let Failure::Clock { message, .. } = &mut failure {
                    message.push_str(if kept {
                        "; the operation went on from its last good reading"
                    } else {
                        "; the operation ran on the system clock"
                    });
                }
                CLOCK_FAILURE.with(|slot| {
                    slot.borrow_mut().get_or_insert((failure, kept));
                });
                self.last.fallback()
            }
        }
    }
}
