//! The errors that cross the FFI: [`AuthError`], one variant per Cognito exception name
//! (Kotlin's sealed `AuthException`, Swift's `AuthError`), and [`DeliveryError`], what the
//! host's delivery throws.

use userpool as up;

/// Declares [`AuthError`] with one variant per engine [`up::ErrorCode`], named exactly as the
/// code's Cognito exception name, and the conversion from the engine's error.
macro_rules! auth_error {
    ($($(#[$meta:meta])* $variant:ident),+ $(,)?) => {
        /// The error of every userpool operation. The variant is the Cognito exception name
        /// (`UsernameExistsException`, `NotAuthorizedException`, …) and the message is a text
        /// for people, free of secrets. Kotlin: `AuthException.UsernameExistsException`;
        /// Swift: `AuthError.UsernameExistsException(message:)`.
        #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
        #[uniffi(flat_error)]
        pub enum AuthError {
            $(
                $(#[$meta])*
                #[error("{0}")]
                $variant(String),
            )+
        }

        impl AuthError {
            /// The Cognito exception name, e.g. `"UsernameExistsException"`.
            pub fn code(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => stringify!($variant),)+
                }
            }

            /// The message for people.
            pub fn message(&self) -> &str {
                match self {
                    $(Self::$variant(message) => message,)+
                }
            }
        }

        impl From<up::Error> for AuthError {
            fn from(error: up::Error) -> Self {
                let message = error.message().to_owned();
                match error.code().as_str() {
                    $(stringify!($variant) => Self::$variant(message),)+
                    other => Self::InternalErrorException(format!("{other}: {message}")),
                }
            }
        }
    };
}

auth_error! {
    /// An email, phone number or preferred username that another user already holds (as a
    /// verified alias, or as the username where users sign in by email or phone number).
    AliasExistsException,
    /// A message carrying a code could not be delivered (the host's delivery threw).
    CodeDeliveryFailureException,
    /// A confirmation, reset or MFA code is wrong.
    CodeMismatchException,
    /// The TOTP code given to `verifySoftwareToken` is wrong.
    EnableSoftwareTokenMFAException,
    /// A code has expired, or none was requested.
    ExpiredCodeException,
    /// A group with that name already exists.
    GroupExistsException,
    /// An unexpected internal failure (a bug, or a store that failed).
    InternalErrorException,
    /// An input is malformed, out of range or not allowed.
    InvalidParameterException,
    /// A password breaks the pool's password policy.
    InvalidPasswordException,
    /// The pool configuration is invalid.
    InvalidUserPoolConfigurationException,
    /// A per-user or per-pool limit was reached.
    LimitExceededException,
    /// The MFA method asked for is not available to this user.
    MFAMethodNotFoundException,
    /// Authentication failed: wrong password, revoked or expired token, disabled user, …
    NotAuthorizedException,
    /// The pool's configuration does not allow this operation.
    OperationNotEnabledException,
    /// The user must reset their password before signing in.
    PasswordResetRequiredException,
    /// A rotated-out refresh token was presented again; its whole family is now revoked.
    RefreshTokenReuseException,
    /// A group or other named resource does not exist.
    ResourceNotFoundException,
    /// TOTP is not set up for this user.
    SoftwareTokenMFANotFoundException,
    /// Too many wrong answers for one code; the code is now invalid.
    TooManyFailedAttemptsException,
    /// Too many requests.
    TooManyRequestsException,
    /// The user has not confirmed their account.
    UserNotConfirmedException,
    /// The user does not exist.
    UserNotFoundException,
    /// The username is taken.
    UsernameExistsException,
}

/// What the host's [`Delivery`](crate::Delivery) throws when it cannot send a message
/// (Kotlin: `DeliveryException.Failed`). Any other exception it throws counts the same. The
/// operation then fails with `CodeDeliveryFailureException` and changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum DeliveryError {
    /// The message could not be sent; `reason` ends up in the error's message, so it must
    /// not carry the code or the destination.
    #[error("{reason}")]
    Failed {
        /// Why, for people.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for DeliveryError {
    fn from(_: uniffi::UnexpectedUniFFICallbackError) -> Self {
        // The exception's own text may carry what the host put in it (addresses, codes).
        Self::Failed { reason: "the delivery threw an unexpected exception".to_owned() }
    }
}

/// What the host's [`Clock`](crate::Clock) may throw (Kotlin: `ClockException.Failed`); any
/// other exception counts the same. The engine cannot stop halfway through an operation, so
/// it goes on from the clock's last good reading, moved on by the time elapsed since.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum ClockError {
    /// The clock could not tell the time.
    #[error("{reason}")]
    Failed {
        /// Why, for people.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ClockError {
    fn from(_: uniffi::UnexpectedUniFFICallbackError) -> Self {
        // Logged when the clock fails: the exception's own text is the host's, not for a log.
        Self::Failed { reason: "the clock threw an unexpected exception".to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_code_has_the_variant_of_its_cognito_name() {
        for &code in up::ErrorCode::ALL {
            let error = AuthError::from(up::Error::new(code, "a message"));
            assert_eq!(error.code(), code.as_str());
            assert_eq!(error.message(), "a message");
            assert_eq!(error.to_string(), "a message");
        }
    }

    #[test]
    fn an_unexpected_callback_error_keeps_the_host_text_out() {
        let error = DeliveryError::from(uniffi::UnexpectedUniFFICallbackError::new("mail to alice@example.com"));
        assert!(!error.to_string().contains("alice"));
        let error = ClockError::from(uniffi::UnexpectedUniFFICallbackError::new("ntp for alice@example.com"));
        assert!(!error.to_string().contains("alice"));
    }
}
