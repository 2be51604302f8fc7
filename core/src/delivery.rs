//! How codes leave the engine: the host's [`Delivery`] receives each [`Message`].
//!
//! userpool never sends email or SMS itself; the host decides (SES, Twilio, a queue, a log in
//! development). A delivery that fails makes the operation fail with
//! `CodeDeliveryFailureException` and leaves no state behind but the hourly counts the
//! message took (they are committed before it is sent, so that requests made at once cannot
//! all pass the limits).

use std::fmt;
use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

/// The channel a message goes out on.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// An email address.
    Email,
    /// A phone number, by SMS.
    Sms,
}

impl Channel {
    /// `"EMAIL"` or `"SMS"`, as Cognito's `DeliveryMedium`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "EMAIL",
            Self::Sms => "SMS",
        }
    }

    /// The attribute the channel delivers to.
    pub fn attribute(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "phone_number",
        }
    }
}

/// Why a message is sent.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Confirm a new account (`sign_up`, `resend_sign_up_code`).
    SignUp,
    /// Reset a forgotten password.
    ForgotPassword,
    /// Verify a new or changed email or phone number.
    VerifyAttribute,
    /// An invitation with a temporary password from `admin_create_user`.
    Invitation,
    /// A second factor during sign-in.
    Mfa,
}

impl Purpose {
    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "sign_up",
            Self::ForgotPassword => "forgot_password",
            Self::VerifyAttribute => "verify_attribute",
            Self::Invitation => "invitation",
            Self::Mfa => "mfa",
        }
    }
}

/// One message to deliver. It carries a secret (the code), so its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// Email or SMS.
    pub channel: Channel,
    /// The address or phone number.
    pub destination: String,
    /// Why it is sent.
    pub purpose: Purpose,
    /// The username it concerns.
    pub username: String,
    /// The code or temporary password.
    pub code: Zeroizing<String>,
    /// Email subject (empty for SMS).
    pub subject: String,
    /// The rendered text, containing the code.
    pub text: Zeroizing<String>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("channel", &self.channel)
            .field("destination", &crate::attributes::mask(&self.destination))
            .field("purpose", &self.purpose)
            .field("code", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Renders a template: `{####}` becomes the code, `{username}` the username.
pub(crate) fn render(template: &str, code: &str, username: &str) -> String {
    template.replace("{####}", code).replace("{username}", username)
}

/// Why a delivery failed, as told by the host.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

/// The host's way of sending messages.
pub trait Delivery: Send + Sync {
    /// Sends one message; an error fails the operation with nothing changed.
    fn deliver(&self, message: &Message) -> Result<(), DeliveryError>;
}

/// Prints every message to standard error; for development only (it shows the codes).
#[derive(Clone, Copy, Debug, Default)]
pub struct ConsoleDelivery;

impl Delivery for ConsoleDelivery {
    fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        eprintln!("[userpool {} to {}] {}", message.channel.as_str(), message.destination, message.text.as_str());
        Ok(())
    }
}

/// Keeps every message in memory, for tests and demos; clones share the same list.
#[derive(Clone, Debug, Default)]
pub struct RecordingDelivery {
    messages: Arc<Mutex<Vec<Message>>>,
}

impl RecordingDelivery {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message so far, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The most recent message, if any.
    pub fn last(&self) -> Option<Message> {
        self.messages.lock().ok().and_then(|m| m.last().cloned())
    }

    /// The code of the most recent message sent to `destination`.
    pub fn last_code_to(&self, destination: &str) -> Option<String> {
        let messages = self.messages.lock().ok()?;
        messages.iter().rev().find(|m| m.destination == destination).map(|m| m.code.to_string())
    }

    /// Forgets every message.
    pub fn clear(&self) {
        if let Ok(mut m) = self.messages.lock() {
            m.clear();
        }
    }
}

impl Delivery for RecordingDelivery {
    fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        self.messages.lock().map_err(|_| DeliveryError("recording delivery poisoned".into()))?.push(message.clone());
        Ok(())
    }
}

/// A delivery that always fails; for tests of the failure path.
#[derive(Clone, Copy, Debug, Default)]
pub struct FailingDelivery;

impl Delivery for FailingDelivery {
    fn deliver(&self, _message: &Message) -> Result<(), DeliveryError> {
        Err(DeliveryError("delivery refused".into()))
    }
}
