// The binding's own behaviour: errors, host delivery and clock, bad input, a SQLite file,
// and coroutine calls from several threads.
package userpool

import com.fasterxml.jackson.databind.ObjectMapper
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicBoolean

private const val PASSWORD = "correct horse battery staple"

class GlueTest {
    private val delivery = RecordingDelivery()

    private fun open(): UserPool = runBlocking { UserPool.open(config = FAST_CONFIG, delivery = delivery) }

    private suspend fun UserPool.signUpConfirmed(username: String, email: String) {
        signUp(username, PASSWORD, mapOf("email" to email))
        confirmSignUp(username, delivery.lastCodeTo(email)!!)
    }

    @Test
    fun `every Cognito exception name is a case of the sealed AuthException`() {
        val cognito = setOf(
            "AliasExistsException", "CodeDeliveryFailureException", "CodeMismatchException",
            "EnableSoftwareTokenMFAException", "ExpiredCodeException", "GroupExistsException",
            "InternalErrorException", "InvalidParameterException", "InvalidPasswordException",
            "InvalidUserPoolConfigurationException", "LimitExceededException", "MFAMethodNotFoundException",
            "NotAuthorizedException", "OperationNotEnabledException", "PasswordResetRequiredException",
            "RefreshTokenReuseException", "ResourceNotFoundException", "SoftwareTokenMFANotFoundException",
            "TooManyFailedAttemptsException", "TooManyRequestsException", "UserNotConfirmedException",
            "UserNotFoundException", "UsernameExistsException",
        )
        val cases = AuthException::class.java.declaredClasses.filter { AuthException::class.java.isAssignableFrom(it) }
        val codes = cases.map { (it.getConstructor(String::class.java).newInstance("m") as AuthException).code }
        assertEquals(cognito, codes.toSet())
        assertEquals(cognito.size, cases.size)
    }

    @Test
    fun `engine errors arrive as typed exceptions with the Cognito code and a message`(): Unit = runBlocking {
        open().use { pool ->
            pool.signUpConfirmed("alice", "alice@example.com")
            val taken = assertThrows<AuthException.UsernameExistsException> {
                runBlocking { pool.signUp("alice", PASSWORD, mapOf("email" to "other@example.com")) }
            }
            assertEquals("UsernameExistsException", taken.code)
            assertTrue(taken.message!!.isNotBlank())
            val wrong = assertThrows<AuthException> { runBlocking { pool.signIn("alice", "not the password") } }
            assertTrue(wrong is AuthException.NotAuthorizedException, "got ${wrong.code}")
            assertEquals("Incorrect username or password.", wrong.message)
            // Synchronous calls throw the same way.
            val bad = assertThrows<AuthException.NotAuthorizedException> { pool.verifyAccessToken("not.a.jwt") }
            assertEquals("NotAuthorizedException", bad.code)
        }
    }

    @Test
    fun `a Kotlin delivery receives the codes and the flow completes with them`(): Unit = runBlocking {
        open().use { pool ->
            val result = pool.signUp("alice", PASSWORD, mapOf("email" to "alice@example.com"))
            assertEquals(SignUpStep.CONFIRM_SIGN_UP, result.nextStep)
            assertEquals(Channel.EMAIL, result.codeDelivery!!.channel)
            val message = delivery.messages.single()
            assertEquals(Channel.EMAIL, message.channel)
            assertEquals("alice@example.com", message.destination)
            assertEquals(Purpose.SIGN_UP, message.purpose)
            assertEquals("alice", message.username)
            val code = message.code.reveal()
            assertTrue(code.matches(Regex("[0-9]{6}")), "a six-digit code")
            assertTrue(message.text.reveal().contains(code), "the text carries the code")
            pool.confirmSignUp("alice", code)
            val signedIn = pool.signIn("alice", PASSWORD)
            assertEquals(SignInStep.DONE, signedIn.nextStep)
            val tokens = signedIn.tokens!!
            val claims = ObjectMapper().readValue(pool.verifyAccessToken(tokens.accessToken.reveal()), Map::class.java)
            assertEquals("alice", claims["username"])
            assertThrows<AuthException.NotAuthorizedException> {
                pool.verifyAccessToken(tokens.accessToken.reveal(), clientId = "another-client")
            }
            assertEquals(pool.issuer(), claims["iss"])
        }
    }

    @Test
    fun `printing a result shows no secret, and reveal() gives it`(): Unit = runBlocking {
        val config = FAST_CONFIG + "[mfa]\nmode = \"optional\"\nmethods = [\"totp\"]\n"
        UserPool.open(config = config, delivery = delivery).use { pool ->
            pool.signUpConfirmed("alice", "alice@example.com")
            val message = delivery.messages.last()
            val signedIn = pool.signIn("alice", PASSWORD)
            val tokens = signedIn.tokens!!
            val setup = pool.associateSoftwareToken(tokens.accessToken.reveal())
            val hash = "\$argon2id\$v=19\$m=19456,t=2,p=1\$c2FsdHNhbHQ\$aGFzaGhhc2hoYXNoaGFzaA"
            val import = ImportUser(username = "ivan", passwordHash = Secret(hash))
            val printed = "$message $signedIn $tokens $setup $import"
            val secrets = listOf(
                message.code, message.text, tokens.idToken, tokens.accessToken, tokens.refreshToken,
                setup.secret, setup.uri, import.passwordHash!!,
            )
            for (secret in secrets) {
                assertTrue(secret.reveal().length >= 6)
                assertFalse(printed.contains(secret.reveal()), "printed: $printed")
            }
            assertTrue(printed.contains("refreshToken=Secret(<redacted>)"), printed)
            assertEquals(hash, import.passwordHash!!.reveal())
            assertEquals(Secret("123456"), Secret("123456"))
            assertEquals(Secret("123456").hashCode(), Secret("123456").hashCode())
            assertNotEquals(Secret("123456"), Secret("654321"))
            assertNotEquals("123456".hashCode(), Secret("123456").hashCode(), "the hash code is not the text's")
            assertNotEquals(Secret("\uD800"), Secret("?"), "a lone surrogate is not a question mark")
            assertEquals(tokens, tokens.copy(), "records with secrets still compare by value")
        }
    }

    @Test
    fun `a throwing delivery becomes CodeDeliveryFailureException and changes nothing`(): Unit = runBlocking {
        open().use { pool ->
            delivery.failing = RuntimeException("smtp is down for alice@example.com")
            val failed = assertThrows<AuthException.CodeDeliveryFailureException> {
                runBlocking { pool.signUp("alice", PASSWORD, mapOf("email" to "alice@example.com")) }
            }
            assertTrue("alice@example.com" !in failed.message!!, "the host's text stays out of the error")
            assertThrows<AuthException.UserNotFoundException> { runBlocking { pool.adminGetUser("alice") } }
            // The declared exception carries a reason the host chose to give.
            delivery.failing = DeliveryException.Failed("the SMS gateway refused")
            val declared = assertThrows<AuthException.CodeDeliveryFailureException> {
                runBlocking { pool.signUp("alice", PASSWORD, mapOf("email" to "alice@example.com")) }
            }
            assertTrue(declared.message!!.contains("the SMS gateway refused"), declared.message)
            // An Error is not an Exception: it escapes the generated code, and JNA answers
            // the call with zeros. Were that read as "sent", alice would be created here.
            for (error in listOf(NotImplementedError("wire SMTP"), AssertionError("unreachable"))) {
                delivery.failing = error
                assertThrows<AuthException.CodeDeliveryFailureException> {
                    runBlocking { pool.signUp("alice", PASSWORD, mapOf("email" to "alice@example.com")) }
                }
            }
            delivery.failing = null
            delivery.refusing = true
            assertThrows<AuthException.CodeDeliveryFailureException> {
                runBlocking { pool.signUp("alice", PASSWORD, mapOf("email" to "alice@example.com")) }
            }
            delivery.refusing = false
            assertEquals(0, pool.listUsers().users.size)
            assertTrue(delivery.messages.isEmpty())
            pool.signUpConfirmed("alice", "alice@example.com")
            assertEquals(UserStatus.CONFIRMED, pool.adminGetUser("alice").status)
        }
    }

    @Test
    fun `closePool ends a handle, not its views, and may be called twice`(): Unit = runBlocking {
        open().use { pool ->
            pool.withClient("default").use { view ->
                pool.closePool()
                pool.closePool()
                assertThrows<AuthException.InvalidParameterException> { runBlocking { pool.listUsers() } }
                assertThrows<AuthException.InvalidParameterException> { pool.jwks() }
                assertEquals(view.poolId(), pool.poolId(), "what the handle was stays readable")
                assertEquals(0, view.listUsers().users.size, "a view is a handle of its own")
            }
        }
    }

    @Test
    fun `bad input gives typed errors, never a crash`(): Unit = runBlocking {
        open().use { pool ->
            val huge = "x".repeat(1_000_000)
            assertThrows<AuthException.InvalidParameterException> { runBlocking { pool.signUp("", PASSWORD) } }
            assertThrows<AuthException.InvalidParameterException> { runBlocking { pool.signUp(huge, PASSWORD) } }
            assertThrows<AuthException> { runBlocking { pool.signUp("bob", huge) } }
            assertThrows<AuthException> { runBlocking { pool.signUp("bob", "") } }
            assertThrows<AuthException> { runBlocking { pool.signIn("", "") } }
            assertThrows<AuthException> { runBlocking { pool.signIn(huge, huge) } }
            assertThrows<AuthException> { runBlocking { pool.confirmSignIn("", "") } }
            assertThrows<AuthException> { runBlocking { pool.confirmSignIn(huge, huge) } }
            assertThrows<AuthException> { runBlocking { pool.refresh("") } }
            assertThrows<AuthException> { runBlocking { pool.refresh(huge) } }
            assertThrows<AuthException> { pool.verifyAccessToken("") }
            assertThrows<AuthException> { pool.verifyAccessToken(huge) }
            assertThrows<AuthException> { pool.verifyIdToken("\u0000", "") }
            assertThrows<AuthException> { runBlocking { pool.listUsers(filter = "email ^^ nonsense") } }
            assertThrows<AuthException> { runBlocking { pool.listUsers(limit = 0u) } }
            assertThrows<AuthException> {
                runBlocking { pool.signUp("carol", PASSWORD, mapOf("email" to "carol@example.com", "custom:nope" to "1")) }
            }
            // Nothing was written by any of it.
            assertEquals(0, pool.listUsers().users.size)
            // Bad configuration is typed too.
            assertThrows<AuthException.InvalidUserPoolConfigurationException> {
                runBlocking { UserPool.open(config = "[password_policy]\nminimum_length = \"eight\"") }
            }
            assertThrows<AuthException> { runBlocking { UserPool.open(config = "{ not json") } }
        }
    }

    @Test
    fun `a SQLite file keeps the pool across openings`(@TempDir dir: Path): Unit = runBlocking {
        val path = dir.resolve("pool.sqlite3").toString()
        UserPool.open(path = path, config = FAST_CONFIG, delivery = delivery).use { pool ->
            pool.signUpConfirmed("alice", "alice@example.com")
        }
        UserPool.open(path = path, config = FAST_CONFIG, delivery = delivery).use { pool ->
            assertEquals(UserStatus.CONFIRMED, pool.adminGetUser("alice").status)
            assertEquals(SignInStep.DONE, pool.signIn("alice", PASSWORD).nextStep)
        }
        assertThrows<AuthException> {
            runBlocking { UserPool.open(path = dir.resolve("no/such/dir/pool.sqlite3").toString(), config = FAST_CONFIG) }
        }
        Unit
    }

    @Test
    fun `a backup opens as the pool it copied, and never replaces a file`(@TempDir dir: Path): Unit = runBlocking {
        val backup = dir.resolve("backup.sqlite3")
        UserPool.open(path = dir.resolve("pool.sqlite3").toString(), config = FAST_CONFIG, delivery = delivery).use { pool ->
            pool.signUpConfirmed("alice", "alice@example.com")
            pool.backupTo(backup.toString())
            pool.signUpConfirmed("bob", "bob@example.com")
            assertEquals("rw-------", java.nio.file.Files.getPosixFilePermissions(backup).let {
                java.nio.file.attribute.PosixFilePermissions.toString(it)
            })
            val taken = assertThrows<AuthException.InvalidParameterException> { runBlocking { pool.backupTo(backup.toString()) } }
            assertTrue(taken.message!!.contains("exists already"), taken.message)
        }
        UserPool.open(path = backup.toString(), config = FAST_CONFIG, existingOnly = true).use { copy ->
            assertEquals(listOf("alice"), copy.listUsers().users.map { it.username })
            assertEquals(SignInStep.DONE, copy.signIn("alice", PASSWORD).nextStep)
        }
        // Without opening the file as a pool.
        val offline = dir.resolve("offline.sqlite3").toString()
        backupFile(dir.resolve("pool.sqlite3").toString(), offline)
        UserPool.open(path = offline, config = FAST_CONFIG, existingOnly = true).use { copy ->
            assertEquals(listOf("alice", "bob"), copy.listUsers().users.map { it.username }.sorted())
        }
        assertThrows<AuthException.InvalidParameterException> {
            runBlocking { backupFile(dir.resolve("nothing.sqlite3").toString(), dir.resolve("x.sqlite3").toString()) }
        }
        open().use { inMemory ->
            val refused = assertThrows<AuthException.InvalidParameterException> {
                runBlocking { inMemory.backupTo(dir.resolve("memory.sqlite3").toString()) }
            }
            assertTrue(refused.message!!.contains("in memory"), refused.message)
        }
        Unit
    }

    @Test
    fun `a sealed pool opens with its own key only`(@TempDir dir: Path): Unit = runBlocking {
        val path = dir.resolve("sealed.sqlite3").toString()
        UserPool.open(path = path, config = FAST_CONFIG, encryptionKey = ByteArray(32) { 1 }).close()
        for (key in listOf(ByteArray(32) { 2 }, null)) {
            val refused = assertThrows<AuthException.InvalidUserPoolConfigurationException> {
                runBlocking { UserPool.open(path = path, config = FAST_CONFIG, encryptionKey = key) }
            }
            assertTrue(refused.message!!.contains("encryption key"), refused.message)
        }
    }

    @Test
    fun `existingOnly opens what is there and creates nothing`(@TempDir dir: Path): Unit = runBlocking {
        val missing = dir.resolve("missing.sqlite3")
        val notThere = assertThrows<AuthException.InvalidParameterException> {
            runBlocking { UserPool.open(path = missing.toString(), config = FAST_CONFIG, existingOnly = true) }
        }
        assertTrue(notThere.message!!.contains("does not exist"), notThere.message)
        assertFalse(missing.toFile().exists())
        val otherApp = dir.resolve("other.sqlite3").toFile().apply { writeBytes(ByteArray(0)) }
        assertThrows<AuthException.InvalidParameterException> {
            runBlocking { UserPool.open(path = otherApp.path, config = FAST_CONFIG, existingOnly = true) }
        }
        assertEquals(0L, otherApp.length())

        val path = dir.resolve("pool.sqlite3").toString()
        UserPool.open(path = path, config = FAST_CONFIG, delivery = delivery).use { pool ->
            pool.signUpConfirmed("alice", "alice@example.com")
        }
        val mistyped = FAST_CONFIG.replace("local_kotlin", "local_kotiln")
        repeat(2) { // the second time too: the first made nothing
            val unknown = assertThrows<AuthException.ResourceNotFoundException> {
                runBlocking { UserPool.open(path = path, config = mistyped, existingOnly = true) }
            }
            assertTrue(unknown.message!!.contains("User pool local_kotiln does not exist"), unknown.message)
        }
        UserPool.open(path = path, config = FAST_CONFIG, existingOnly = true).use { admin ->
            assertEquals(listOf("alice"), admin.listUsers().users.map { it.username })
        }
        Unit
    }

    @Test
    fun `adminImportUsers returns one outcome per user, in order`(): Unit = runBlocking {
        open().use { pool ->
            val outcomes = pool.adminImportUsers(
                listOf(
                    ImportUser(username = "ivan", attributes = mapOf("email" to "ivan@example.com", "email_verified" to "true")),
                    ImportUser(username = "ivan", attributes = mapOf("email" to "other@example.com")),
                    ImportUser(username = "bad name with spaces"),
                ),
            )
            assertEquals(3, outcomes.size)
            assertTrue(Regex("^[0-9a-f-]{36}$").matches(outcomes[0].sub!!))
            assertEquals("UsernameExistsException", outcomes[1].code)
            assertEquals("InvalidParameterException", outcomes[2].code)
            assertNotNull(outcomes[2].message)
            assertEquals(UserStatus.RESET_REQUIRED, pool.adminGetUser("ivan").status)
            assertEquals(listOf("ivan"), pool.listUsers(filter = "email ^= \"IVAN\"").users.map { it.username })
        }
    }

    @Test
    fun `the Kotlin clock is the pool's time`(): Unit = runBlocking {
        val clock = ManualClock(1_700_000_000_000L)
        UserPool.open(config = FAST_CONFIG, delivery = delivery, clock = clock).use { pool ->
            pool.signUpConfirmed("alice", "alice@example.com")
            val tokens = pool.signIn("alice", PASSWORD).tokens!!
            val claims = ObjectMapper().readValue(pool.verifyAccessToken(tokens.accessToken.reveal()), Map::class.java)
            assertEquals(1_700_000_000L, (claims["iat"] as Number).toLong())
            clock.advanceSecs(tokens.expiresIn.toLong() + 1)
            assertThrows<AuthException.NotAuthorizedException> { pool.verifyAccessToken(tokens.accessToken.reveal()) }
        }
    }

    @Test
    fun `a clock that throws leaves the operation in the clock's last good time`(): Unit = runBlocking {
        // The generated code catches an Exception; an Error it does not, and JNA answers 0 for it.
        val failures = listOf<Pair<String, () -> Throwable>>(
            "dave" to { IllegalStateException("no time") },
            "erin" to { AssertionError("no time") },
        )
        for ((name, failure) in failures) {
            val good = ManualClock(1_700_000_000_000L)
            val broken = AtomicBoolean(false)
            val clock = object : Clock {
                override fun nowMs(): Long = if (broken.get()) throw failure() else good.nowMs()
            }
            UserPool.open(config = FAST_CONFIG, delivery = delivery, clock = clock).use { pool ->
                broken.set(true)
                // The sign-up is made, not lost to an internal error, and dated by the clock's own time.
                val step = pool.signUp(name, PASSWORD, mapOf("email" to "$name@example.com")).nextStep
                assertEquals(SignUpStep.CONFIRM_SIGN_UP, step)
                val created = pool.adminGetUser(name).createdMs
                assertTrue(created in 1_700_000_000_000L until 1_700_000_060_000L, "$name, in the clock's own time: $created")
                assertTrue(pool.jwks().contains("keys"), "the plain functions go on too")
            }
        }
    }

    @Test
    fun `a clock that fails at once fails the open before a file is made`(@TempDir dir: Path): Unit = runBlocking {
        val clocks = listOf<Pair<String, Clock>>(
            "throws" to object : Clock {
                override fun nowMs(): Long = throw IllegalStateException("no time")
            },
            "reads 0" to ManualClock(0L),
            "reads before 1970" to ManualClock(-5L),
            "reads seconds" to ManualClock(1_700_000_000L),
        )
        for ((what, clock) in clocks) {
            val path = dir.resolve("pool.sqlite3")
            val refused = assertThrows<AuthException.InvalidParameterException>(what) {
                runBlocking { UserPool.open(path = path.toString(), config = FAST_CONFIG, delivery = delivery, clock = clock) }
            }
            assertTrue(refused.message!!.startsWith("the clock "), "$what: ${refused.message}")
            assertFalse(path.toFile().exists(), "$what: no file")
        }
    }

    @Test
    fun `config() is the configuration in force, defaults included`() {
        open().use { pool ->
            val config = pool.config()
            assertTrue(config.contains("pool_id = \"${pool.poolId()}\""), config)
            assertTrue(config.contains("[password_hashing]"), config)
        }
    }

    @Test
    fun `suspend calls from several threads at once`(): Unit = runBlocking {
        open().use { pool ->
            val users = (1..8).map { "user$it" }
            // Coroutines on the default dispatcher's threads…
            users.take(4).map { name ->
                async(Dispatchers.Default) { pool.signUpConfirmed(name, "$name@example.com") }
            }.awaitAll()
            // …and plain threads, each blocking on its own coroutine.
            val threads = Executors.newFixedThreadPool(4)
            try {
                users.drop(4).map { name ->
                    threads.submit { runBlocking { pool.signUpConfirmed(name, "$name@example.com") } }
                }.forEach { it.get() }
            } finally {
                threads.shutdown()
            }
            val signIns = users.map { name -> async(Dispatchers.Default) { pool.signIn(name, PASSWORD) } }.awaitAll()
            assertTrue(signIns.all { it.nextStep == SignInStep.DONE })
            assertEquals(users.toSet(), pool.listUsers().users.map { it.username }.toSet())
            // Racing the same refresh token across threads: one rotates it, the others are
            // answered within the grace window or refused, each a result or a typed error
            // (which win is the engine's to decide and its own tests check).
            val token = signIns.first().tokens!!.refreshToken.reveal()
            val outcomes = (1..4).map {
                async(Dispatchers.Default) { runCatching { pool.refresh(token) } }
            }.awaitAll()
            outcomes.forEach { outcome ->
                outcome.exceptionOrNull()?.let { assertTrue(it is AuthException, "typed: $it") }
            }
            assertNotNull(outcomes.firstOrNull { it.isSuccess })
            assertThrows<AuthException.ResourceNotFoundException> { pool.withClient("no-such-client") }
        }
    }
}
