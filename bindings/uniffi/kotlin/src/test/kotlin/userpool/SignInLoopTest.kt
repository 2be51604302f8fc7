// The sign-in loop of docs/bindings/kotlin.md, run against a pool that requires TOTP.
package userpool

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test

/** Signs in, answering each challenge with what [ask] returns, until DONE (as in the docs). */
suspend fun signInLoop(pool: UserPool, username: String, password: String, ask: suspend (SignInResult) -> String): Tokens {
    var result = pool.signIn(username, password)
    while (result.nextStep != SignInStep.DONE) {
        result = when (result.nextStep) {
            SignInStep.CONFIRM_SIGN_IN_WITH_TOTP_CODE,
            SignInStep.CONFIRM_SIGN_IN_WITH_SMS_CODE,
            SignInStep.CONFIRM_SIGN_IN_WITH_EMAIL_CODE,
            SignInStep.CONTINUE_SIGN_IN_WITH_MFA_SELECTION,
            SignInStep.CONTINUE_SIGN_IN_WITH_TOTP_SETUP,
            SignInStep.CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED,
            -> pool.confirmSignIn(result.session!!.reveal(), ask(result))
            SignInStep.CONFIRM_SIGN_UP, SignInStep.RESET_PASSWORD, SignInStep.DONE ->
                error("not a sign-in challenge: ${result.nextStep}")
        }
    }
    return result.tokens!!
}

class SignInLoopTest {
    @Test
    fun `the documented loop signs in through TOTP setup, then through a TOTP code`(): Unit = runBlocking {
        val delivery = RecordingDelivery()
        val clock = ManualClock(1_700_000_000_000L)
        val config = FAST_CONFIG + "[mfa]\nmode = \"required\"\nmethods = [\"totp\"]\n"
        UserPool.open(config = config, delivery = delivery, clock = clock).use { pool ->
            pool.signUp("alice", "correct horse battery staple", mapOf("email" to "alice@example.com"))
            pool.confirmSignUp("alice", delivery.lastCodeTo("alice@example.com")!!)
            var secret: String? = null
            val steps = mutableListOf<SignInStep>()
            val authenticator: suspend (SignInResult) -> String = { challenge ->
                steps += challenge.nextStep
                challenge.totpSetup?.let { secret = it.secret.reveal() }
                Totp.code(secret!!, clock.nowMs() / 1000)
            }
            signInLoop(pool, "alice", "correct horse battery staple", authenticator)
            clock.advanceSecs(30)
            val tokens = signInLoop(pool, "alice", "correct horse battery staple", authenticator)
            assertEquals(
                listOf(SignInStep.CONTINUE_SIGN_IN_WITH_TOTP_SETUP, SignInStep.CONFIRM_SIGN_IN_WITH_TOTP_CODE),
                steps,
            )
            assertEquals("alice", pool.getUser(tokens.accessToken.reveal()).username)
        }
    }
}
