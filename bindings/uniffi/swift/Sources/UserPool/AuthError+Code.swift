// Hand-written, next to the generated UserPool.swift (and Secret.swift).

extension AuthError {
    /// The Cognito exception name of this error, e.g. `"UsernameExistsException"`: what Amplify
    /// code compares `error.code` against. (The case names are the same words, but uniffi
    /// writes `MFA` as `Mfa`.) The `switch` is exhaustive: a new error in the engine cannot
    /// compile here without its name.
    public var code: String {
        switch self {
        case .AliasExistsException: return "AliasExistsException"
        case .CodeDeliveryFailureException: return "CodeDeliveryFailureException"
        case .CodeMismatchException: return "CodeMismatchException"
        case .EnableSoftwareTokenMfaException: return "EnableSoftwareTokenMFAException"
        case .ExpiredCodeException: return "ExpiredCodeException"
        case .GroupExistsException: return "GroupExistsException"
        case .InternalErrorException: return "InternalErrorException"
        case .InvalidParameterException: return "InvalidParameterException"
        case .InvalidPasswordException: return "InvalidPasswordException"
        case .InvalidUserPoolConfigurationException: return "InvalidUserPoolConfigurationException"
        case .LimitExceededException: return "LimitExceededException"
        case .MfaMethodNotFoundException: return "MFAMethodNotFoundException"
        case .NotAuthorizedException: return "NotAuthorizedException"
        case .OperationNotEnabledException: return "OperationNotEnabledException"
        case .PasswordResetRequiredException: return "PasswordResetRequiredException"
        case .RefreshTokenReuseException: return "RefreshTokenReuseException"
        case .ResourceNotFoundException: return "ResourceNotFoundException"
        case .SoftwareTokenMfaNotFoundException: return "SoftwareTokenMFANotFoundException"
        case .TooManyFailedAttemptsException: return "TooManyFailedAttemptsException"
        case .TooManyRequestsException: return "TooManyRequestsException"
        case .UserNotConfirmedException: return "UserNotConfirmedException"
        case .UserNotFoundException: return "UserNotFoundException"
        case .UsernameExistsException: return "UsernameExistsException"
        }
    }

    /// The message for people, free of secrets.
    public var message: String {
        switch self {
        case let .AliasExistsException(message), let .CodeDeliveryFailureException(message),
             let .CodeMismatchException(message), let .EnableSoftwareTokenMfaException(message),
             let .ExpiredCodeException(message), let .GroupExistsException(message),
             let .InternalErrorException(message), let .InvalidParameterException(message),
             let .InvalidPasswordException(message), let .InvalidUserPoolConfigurationException(message),
             let .LimitExceededException(message), let .MfaMethodNotFoundException(message),
             let .NotAuthorizedException(message), let .OperationNotEnabledException(message),
             let .PasswordResetRequiredException(message), let .RefreshTokenReuseException(message),
             let .ResourceNotFoundException(message), let .SoftwareTokenMfaNotFoundException(message),
             let .TooManyFailedAttemptsException(message), let .TooManyRequestsException(message),
             let .UserNotConfirmedException(message), let .UserNotFoundException(message),
             let .UsernameExistsException(message):
            return message
        }
    }
}
