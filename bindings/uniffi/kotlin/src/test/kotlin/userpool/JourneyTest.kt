// The whole journey of docs/bindings/kotlin.md, run as written, then checked step by step.
package userpool

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** The guide's journey, as written there. */
suspend fun journey(pool: UserPool, codeFromInbox: suspend (String) -> String) {
    val signedUp = pool.signUp("alice", "correct horse battery staple", mapOf("email" to "alice@example.com"))
    check(signedUp.nextStep == SignUpStep.CONFIRM_SIGN_UP)
    pool.confirmSignUp("alice", codeFromInbox("alice@example.com"))

    var tokens = pool.signIn("alice", "correct horse battery staple").tokens!!

    tokens = pool.refresh(tokens.refreshToken.reveal())
    val claims = pool.verifyAccessToken(tokens.accessToken.reveal())
    check(claims.contains("\"username\":\"alice\""))

    pool.signOut(tokens.refreshToken.reveal())

    pool.forgotPassword("alice")
    pool.confirmForgotPassword("alice", codeFromInbox("alice@example.com"), "a brand new passphrase")
}

class JourneyTest {
    @Test
    fun `the documented journey runs, and leaves what each step says`(): Unit = runBlocking {
        val delivery = RecordingDelivery()
        UserPool.open(config = FAST_CONFIG, delivery = delivery, clock = ManualClock(1_700_000_000_000L)).use { pool ->
            journey(pool) { address -> delivery.lastCodeTo(address)!! }
            assertEquals(2, delivery.messages.size, "a sign-up code, then a reset code")
            assertThrows<AuthException.NotAuthorizedException>("the old password") {
                runBlocking { pool.signIn("alice", "correct horse battery staple") }
            }
            val tokens = pool.signIn("alice", "a brand new passphrase").tokens!!
            assertEquals("alice", pool.getUser(tokens.accessToken.reveal()).username)
            assertTrue(pool.adminGetUser("alice").attributes["email_verified"] == "true")
        }
    }
}
