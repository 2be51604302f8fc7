// What the tests share: a Kotlin Delivery and Clock, an RFC 6238 authenticator written here
// (independent of the engine), and the canonical result shapes of core/src/scenario.rs
// (`result_json`), built from the Kotlin records.
package userpool

import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicLong
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

/** A delivery that records every message and can be told to throw, or to answer `false`. */
class RecordingDelivery : Delivery {
    val messages = CopyOnWriteArrayList<Message>()

    @Volatile
    var failing: Throwable? = null

    @Volatile
    var refusing = false

    override fun deliver(message: Message): Boolean {
        failing?.let { throw it }
        if (refusing) return false
        messages.add(message)
        return true
    }

    /** The code of the last message sent to [destination]. */
    fun lastCodeTo(destination: String): String? = messages.lastOrNull { it.destination == destination }?.code?.reveal()
}

/** A clock that moves only when told to. */
class ManualClock(startMs: Long) : Clock {
    private val now = AtomicLong(startMs)

    override fun nowMs(): Long = now.get()

    fun advanceSecs(secs: Long) {
        now.addAndGet(secs * 1000)
    }
}

/** RFC 6238 (HMAC-SHA-1, 6 digits, 30 s steps) with javax.crypto: the authenticator app. */
object Totp {
    fun code(base32Secret: String, unixSecs: Long): String {
        val mac = Mac.getInstance("HmacSHA1")
        mac.init(SecretKeySpec(base32Decode(base32Secret), "HmacSHA1"))
        val counter = Math.floorDiv(unixSecs, 30L)
        val hash = mac.doFinal(java.nio.ByteBuffer.allocate(8).putLong(counter).array())
        val offset = hash[hash.size - 1].toInt() and 0x0f
        val binary = ((hash[offset].toInt() and 0x7f) shl 24) or
            ((hash[offset + 1].toInt() and 0xff) shl 16) or
            ((hash[offset + 2].toInt() and 0xff) shl 8) or
            (hash[offset + 3].toInt() and 0xff)
        return (binary % 1_000_000).toString().padStart(6, '0')
    }

    fun base32Decode(text: String): ByteArray {
        val alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        var bits = 0L
        var count = 0
        val out = java.io.ByteArrayOutputStream()
        for (c in text.trimEnd('=').uppercase()) {
            val value = alphabet.indexOf(c)
            require(value >= 0) { "not base32: $c" }
            bits = (bits shl 5) or value.toLong()
            count += 5
            if (count >= 8) {
                count -= 8
                out.write(((bits shr count) and 0xff).toInt())
            }
        }
        return out.toByteArray()
    }
}

/** The canonical JSON shapes of core/src/scenario.rs `result_json`, as maps and lists. */
object Canonical {
    /** `SIGN_IN` → `SignIn` (the audit event names are CamelCase). */
    private fun camel(name: String) =
        name.lowercase().split('_').joinToString("") { it.replaceFirstChar(Char::uppercaseChar) }

    fun delivery(d: CodeDelivery?): Map<String, Any?>? =
        d?.let { mapOf("channel" to it.channel.name, "destination" to it.destination, "attribute" to it.attribute) }

    fun tokens(t: Tokens?): Map<String, Any?>? = t?.let {
        mapOf(
            "id_token" to it.idToken.reveal(), "access_token" to it.accessToken.reveal(),
            "refresh_token" to it.refreshToken.reveal(),
            "expires_in" to it.expiresIn.toLong(), "token_type" to it.tokenType,
        )
    }

    fun signUp(r: SignUpResult): Map<String, Any?> = mapOf(
        "user_sub" to r.userSub, "confirmed" to r.confirmed, "next_step" to r.nextStep.name,
        "code_delivery" to delivery(r.codeDelivery),
    )

    fun signIn(r: SignInResult): Map<String, Any?> = mapOf(
        "next_step" to r.nextStep.name, "tokens" to tokens(r.tokens), "session" to r.session?.reveal(),
        "missing_attributes" to r.missingAttributes, "code_delivery" to delivery(r.codeDelivery),
        "allowed_mfa_types" to r.allowedMfaTypes.map { it.name }, "totp_setup" to totpSetup(r.totpSetup),
    )

    fun totpSetup(t: TotpSetup?): Map<String, Any?>? = t?.let { mapOf("secret" to it.secret.reveal(), "uri" to it.uri.reveal()) }

    fun user(u: User): Map<String, Any?> = mapOf(
        "username" to u.username, "sub" to u.sub, "status" to u.status.name, "enabled" to u.enabled,
        "attributes" to u.attributes, "mfa_enabled" to u.mfaEnabled.map { it.name },
        "preferred_mfa" to u.preferredMfa?.name, "groups" to u.groups,
        "username_attribute" to u.usernameAttribute,
    )

    fun userList(l: UserList): Map<String, Any?> =
        mapOf("users" to l.users.map(::user), "pagination_token" to l.paginationToken)

    fun groupList(l: GroupList): Map<String, Any?> =
        mapOf("groups" to l.groups.map(::group), "pagination_token" to l.paginationToken)

    fun group(g: Group): Map<String, Any?> =
        mapOf("name" to g.name, "description" to g.description, "precedence" to g.precedence?.toLong())

    fun event(e: AuditEvent): Map<String, Any?> =
        mapOf("kind" to camel(e.kind.name), "success" to e.success, "detail" to e.detail)

    fun attributeUpdate(u: AttributeUpdate): Map<String, Any?> =
        mapOf("attribute" to u.attribute, "needs_code" to u.needsCode, "code_delivery" to delivery(u.codeDelivery))
}

/** A fast pool configuration for tests (weak hashing parameters, allowed explicitly). */
const val FAST_CONFIG = """
pool_id = "local_kotlin"
[password_hashing]
memory_kib = 256
iterations = 1
dangerous_allow_weak = true
"""
