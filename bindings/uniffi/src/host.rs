//! The host's side: [`Delivery`] and [`Clock`] are foreign traits that the Kotlin or Swift
//! app implements, adapted here to the engine's [`up::Delivery`] and [`up::Clock`].

use std::sync::Arc;

use userpool as up;

use crate::error::{ClockError, DeliveryError};
use crate::types::{FromCore, Message};

/// Sends the messages that carry codes (sign-up confirmation, password reset, MFA,
/// invitations). The app implements it (email, SMS, a push to another device…). It is called
/// on a background thread. Returning `false`, or throwing, fails the operation with
/// `CodeDeliveryFailureException` and leaves the pool as it was but for the hourly counts the
/// message took.
///
/// Why a `Bool` and not nothing: a Kotlin `Error` (`TODO()`, an `AssertionError`), unlike an
/// `Exception`, escapes the generated code, and JNA then answers the call with zeros. With
/// nothing to return, that read as a message sent; a zero `Bool` is `false`, a failure.
#[uniffi::export(with_foreign)]
pub trait Delivery: Send + Sync {
    /// Sends one message; `true` once it is sent (or queued to be).
    fn deliver(&self, message: Message) -> Result<bool, DeliveryError>;
}

/// The current time, for apps and tests that move time themselves. Called on background
/// threads during the `async` calls, and on the caller's thread by the plain ones
/// (`verify_access_token`, `verify_id_token`, `jwks`). Throwing cannot stop an operation
/// halfway: it goes on from the clock's last good reading, moved on by the time elapsed
/// since (the system clock before the first). So does a reading at or before the epoch (0 or
/// less), which no real clock gives, or outside the years 2000 to 3000 (seconds, or time since
/// boot, taken for milliseconds).
#[uniffi::export(with_foreign)]
pub trait Clock: Send + Sync {
    /// Milliseconds since the unix epoch.
    fn now_ms(&self) -> Result<i64, ClockError>;
}

/// The host's [`Delivery`] as the engine's.
pub(crate) struct HostDelivery(pub(crate) Arc<dyn Delivery>);

impl up::Delivery for HostDelivery {
    fn deliver(&self, message: &up::Message) -> Result<(), up::DeliveryError> {
        let message = Message::from_core(message).map_err(|e| up::DeliveryError(e.message().to_owned()))?;
        match self.0.deliver(message) {
            Ok(true) => Ok(()),
            Ok(false) => Err(up::DeliveryError("the delivery returned false: the message was not sent".into())),
            Err(e) => Err(up::DeliveryError(e.to_string())),
        }
    }
}

/// The host's [`Clock`] as the engine's, which cannot fail.
pub(crate) struct HostClock {
    clock: Arc<dyn Clock>,
    last: up::LastReading,
}

impl HostClock {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, last: up::LastReading::default() }
    }

    /// Reads the clock before a pool is opened with it, so that a clock that fails at once
    /// fails the open (`InvalidParameterException`; Python and Node fail it too, each with its
    /// own error for a bad argument: `ValueError`, `TypeError`) rather than the pool's first
    /// keys being dated by the system clock.
    pub(crate) fn first_reading(&self) -> up::Result<()> {
        let failed = |reason: String| up::Error::new(up::ErrorCode::InvalidParameter, format!("the clock {reason}"));
        let ms = self.clock.now_ms().map_err(|error| failed(format!("failed: {error}")))?;
        self.last.record(up::check_host_reading(ms).map_err(failed)?);
        Ok(())
    }
}

impl up::Clock for HostClock {
    fn now_ms(&self) -> i64 {
        match self.clock.now_ms().map(up::check_host_reading) {
            Ok(Ok(ms)) => self.last.record(ms),
            Ok(Err(reason)) => {
                tracing::warn!(%reason, "the host's clock failed; going on from its last good reading");
                self.last.fallback()
            }
            Err(error) => {
                tracing::warn!(%error, "the host's clock failed; going on from its last good reading");
                self.last.fallback()
            }
        }
    }
}
