//! One error type for every operation, whose [`ErrorCode`] is the Cognito exception name.
//!
//! Code written against Amplify (`err.code === 'UsernameExistsException'`) keeps working in
//! every binding because the code strings are exactly Cognito's. Messages are written for
//! people and never carry a secret (password, code, token, key) or a personal value.

use std::borrow::Cow;
use std::fmt;

/// The stable, Cognito-named kind of an [`Error`].
///
/// Bindings turn each code into an exception class (Python), an `Error.code` (Node) or a
/// sealed-error case (Kotlin, Swift); the string returned by [`ErrorCode::as_str`] never
/// changes for a given code.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// An email, phone number or preferred username that another user already holds (as a
    /// verified alias, or as the username where users sign in by email or phone number).
    AliasExists,
    /// A message carrying a code could not be delivered.
    CodeDeliveryFailure,
    /// A confirmation, reset or MFA code is wrong.
    CodeMismatch,
    /// The TOTP code given to `verify_software_token` is wrong.
    EnableSoftwareTokenMfa,
    /// A code has expired, or none was requested.
    ExpiredCode,
    /// A group with that name already exists.
    GroupExists,
    /// An unexpected internal failure (a bug, or a store that failed).
    InternalError,
    /// An input is malformed, out of range or not allowed.
    InvalidParameter,
    /// A password breaks the pool's password policy.
    InvalidPassword,
    /// The pool configuration is invalid.
    InvalidUserPoolConfiguration,
    /// A per-user or per-pool limit was reached (codes sent, attempts).
    LimitExceeded,
    /// The MFA method asked for is not available to this user.
    MfaMethodNotFound,
    /// Authentication failed: wrong password, revoked or expired token, disabled user, …
    NotAuthorized,
    /// The pool's configuration does not allow this operation.
    OperationNotEnabled,
    /// The user must reset their password before signing in.
    PasswordResetRequired,
    /// A rotated-out refresh token was presented again; its whole family is now revoked.
    RefreshTokenReuse,
    /// A group or other named resource does not exist.
    ResourceNotFound,
    /// TOTP is not set up for this user.
    SoftwareTokenMfaNotFound,
    /// Too many wrong answers for one code; the code is now invalid.
    TooManyFailedAttempts,
    /// Too many requests.
    TooManyRequests,
    /// The user has not confirmed their account.
    UserNotConfirmed,
    /// The user does not exist.
    UserNotFound,
    /// The username is taken.
    UsernameExists,
}

impl ErrorCode {
    /// Every code, for bindings that generate one class per code.
    pub const ALL: &'static [Self] = &[
        Self::AliasExists,
        Self::CodeDeliveryFailure,
        Self::CodeMismatch,
        Self::EnableSoftwareTokenMfa,
        Self::ExpiredCode,
        Self::GroupExists,
        Self::InternalError,
        Self::InvalidParameter,
        Self::InvalidPassword,
        Self::InvalidUserPoolConfiguration,
        Self::LimitExceeded,
        Self::MfaMethodNotFound,
        Self::NotAuthorized,
        Self::OperationNotEnabled,
        Self::PasswordResetRequired,
        Self::RefreshTokenReuse,
        Self::ResourceNotFound,
        Self::SoftwareTokenMfaNotFound,
        Self::TooManyFailedAttempts,
        Self::TooManyRequests,
        Self::UserNotConfirmed,
        Self::UserNotFound,
        Self::UsernameExists,
    ];

    /// The Cognito exception name, e.g. `"UsernameExistsException"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AliasExists => "AliasExistsException",
            Self::CodeDeliveryFailure => "CodeDeliveryFailureException",
            Self::CodeMismatch => "CodeMismatchException",
            Self::EnableSoftwareTokenMfa => "EnableSoftwareTokenMFAException",
            Self::ExpiredCode => "ExpiredCodeException",
            Self::GroupExists => "GroupExistsException",
            Self::InternalError => "InternalErrorException",
            Self::InvalidParameter => "InvalidParameterException",
            Self::InvalidPassword => "InvalidPasswordException",
            Self::InvalidUserPoolConfiguration => "InvalidUserPoolConfigurationException",
            Self::LimitExceeded => "LimitExceededException",
            Self::MfaMethodNotFound => "MFAMethodNotFoundException",
            Self::NotAuthorized => "NotAuthorizedException",
            Self::OperationNotEnabled => "OperationNotEnabledException",
            Self::PasswordResetRequired => "PasswordResetRequiredException",
            Self::RefreshTokenReuse => "RefreshTokenReuseException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::SoftwareTokenMfaNotFound => "SoftwareTokenMFANotFoundException",
            Self::TooManyFailedAttempts => "TooManyFailedAttemptsException",
            Self::TooManyRequests => "TooManyRequestsException",
            Self::UserNotConfirmed => "UserNotConfirmedException",
            Self::UserNotFound => "UserNotFoundException",
            Self::UsernameExists => "UsernameExistsException",
        }
    }

    /// Parses a Cognito exception name back into a code.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|code| code.as_str() == name)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of every userpool operation: a stable [`ErrorCode`] and a message for people.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    message: Cow<'static, str>,
}

impl Error {
    /// Makes an error with a code and a message. The message must not contain secrets.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self { code, message: message.into() }
    }

    /// The Cognito-named kind of this error.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message for people, free of secrets.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    pub(crate) fn not_authorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::NotAuthorized, message)
    }

    pub(crate) fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }

    /// The generic sign-in failure, identical for an unknown user and a wrong password.
    pub(crate) fn bad_credentials() -> Self {
        Self::not_authorized("Incorrect username or password.")
    }

    pub(crate) fn user_not_found() -> Self {
        Self::new(ErrorCode::UserNotFound, "User does not exist.")
    }

    pub(crate) fn code_mismatch() -> Self {
        Self::new(ErrorCode::CodeMismatch, "Invalid verification code provided, please try again.")
    }

    pub(crate) fn expired_code() -> Self {
        Self::new(ErrorCode::ExpiredCode, "Invalid code provided, please request a code again.")
    }

    pub(crate) fn too_many_failed_attempts() -> Self {
        Self::new(ErrorCode::TooManyFailedAttempts, "Attempt limit exceeded, please request a new code.")
    }

    pub(crate) fn revoked_access_token() -> Self {
        Self::not_authorized("Access Token has been revoked")
    }

    pub(crate) fn invalid_token() -> Self {
        Self::not_authorized("Invalid token")
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

/// The result of every userpool operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_cognito_name() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_name(code.as_str()), Some(*code));
            assert!(code.as_str().ends_with("Exception"));
        }
        assert_eq!(ErrorCode::from_name("NoSuchException"), None);
    }

    #[test]
    fn display_names_the_code_and_message() {
        let err = Error::bad_credentials();
        assert_eq!(err.to_string(), "NotAuthorizedException: Incorrect username or password.");
        assert_eq!(err.code(), ErrorCode::NotAuthorized);
    }
}
