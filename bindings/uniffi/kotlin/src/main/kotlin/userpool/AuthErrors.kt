// Hand-written, next to the generated userpool.kt (and Secret.kt).
package userpool

/**
 * The Cognito exception name of this error, e.g. `"UsernameExistsException"`: what Amplify code
 * compares `error.code` against.
 *
 * The class names are the same words, but Kotlin's class naming turns `MFA` into `Mfa`
 * (`AuthException.EnableSoftwareTokenMfaException`), so compare against this, not the class
 * name. The `when` is exhaustive over the sealed class: a new error in the engine cannot
 * compile here without its name.
 */
val AuthException.code: String
    get() = when (this) {
        is AuthException.AliasExistsException -> "AliasExistsException"
        is AuthException.CodeDeliveryFailureException -> "CodeDeliveryFailureException"
        is AuthException.CodeMismatchException -> "CodeMismatchException"
        is AuthException.EnableSoftwareTokenMfaException -> "EnableSoftwareTokenMFAException"
        is AuthException.ExpiredCodeException -> "ExpiredCodeException"
        is AuthException.GroupExistsException -> "GroupExistsException"
        is AuthException.InternalErrorException -> "InternalErrorException"
        is AuthException.InvalidParameterException -> "InvalidParameterException"
        is AuthException.InvalidPasswordException -> "InvalidPasswordException"
        is AuthException.InvalidUserPoolConfigurationException -> "InvalidUserPoolConfigurationException"
        is AuthException.LimitExceededException -> "LimitExceededException"
        is AuthException.MfaMethodNotFoundException -> "MFAMethodNotFoundException"
        is AuthException.NotAuthorizedException -> "NotAuthorizedException"
        is AuthException.OperationNotEnabledException -> "OperationNotEnabledException"
        is AuthException.PasswordResetRequiredException -> "PasswordResetRequiredException"
        is AuthException.RefreshTokenReuseException -> "RefreshTokenReuseException"
        is AuthException.ResourceNotFoundException -> "ResourceNotFoundException"
        is AuthException.SoftwareTokenMfaNotFoundException -> "SoftwareTokenMFANotFoundException"
        is AuthException.TooManyFailedAttemptsException -> "TooManyFailedAttemptsException"
        is AuthException.TooManyRequestsException -> "TooManyRequestsException"
        is AuthException.UserNotConfirmedException -> "UserNotConfirmedException"
        is AuthException.UserNotFoundException -> "UserNotFoundException"
        is AuthException.UsernameExistsException -> "UsernameExistsException"
    }
