//! The host's side: [`Delivery`] and [`Clock`] are foreign traits that the Kotlin or Swift
//! app implements, adapted here to the engine's [`up::Delivery`] and [`up::Clock`].

use std::sync::Arc;

use userpool as up;

use crate::error::DeliveryError;
use crate::types::{FromCore, Message};

/// Sends the messages that carry codes (sign-up confirmation, password reset, MFA,
/// invitations). The app implements it (email, SMS, a push to another device…). It is called
/// on a background thread; throwing fails the operation with `CodeDeliveryFailureException`
/// and leaves the pool as it was.
#[uniffi::export(with_foreign)]
pub trait Delivery: Send + Sync {
    /// Sends one message.
    fn deliver(&self, message: Message) -> Result<(), DeliveryError>;
}

/// The current time, for apps and tests that move time themselves. Called on background
/// threads.
#[uniffi::export(with_foreign)]
pub trait Clock: Send + Sync {
    /// Milliseconds since the unix epoch.
    fn now_ms(&self) -> i64;
}

/// The host's [`Delivery`] as the engine's.
pub(crate) struct HostDelivery(pub(crate) Arc<dyn Delivery>);

impl up::Delivery for HostDelivery {
    fn deliver(&self, message: &up::Message) -> Result<(), up::DeliveryError> {
        let message = Message::from_core(message).map_err(|e| up::DeliveryError(e.message().to_owned()))?;
        self.0.deliver(message).map_err(|e| up::DeliveryError(e.to_string()))
    }
}

/// The host's [`Clock`] as the engine's.
pub(crate) struct HostClock(pub(crate) Arc<dyn Clock>);

impl up::Clock for HostClock {
    fn now_ms(&self) -> i64 {
        self.0.now_ms()
    }
}
