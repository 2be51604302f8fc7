// Hand-written, next to the generated userpool.kt: uniffi.toml maps the engine's secret texts
// to this class.
package userpool

import java.security.MessageDigest
import java.security.SecureRandom

/**
 * A secret text: a token, a challenge session, a TOTP secret or its `otpauth://` URI, a code, a
 * password hash. `toString()` never shows it, so logging a result (`Log.d(TAG, "$result")`)
 * leaks nothing; [reveal] gives the text, for where it belongs (an `Authorization` header, a
 * QR code, the keystore).
 */
class Secret(private val text: String) {
    /** The text itself. */
    fun reveal(): String = text

    override fun toString(): String = "Secret(<redacted>)"

    // Compared in constant time, by UTF-16 units (the bytes of a lossy encoding would make
    // two different texts equal): the equality of two secrets is the only thing it tells.
    override fun equals(other: Any?): Boolean =
        other is Secret && MessageDigest.isEqual(units(text), units(other.text))

    // Keyed with a salt of this process: String.hashCode of a six-digit code is the code
    // itself, one to one, so a hash code used as an id (a notification's, say) would show it.
    override fun hashCode(): Int {
        val digest = MessageDigest.getInstance("SHA-256")
        digest.update(SALT)
        digest.update(units(text))
        val d = digest.digest()
        return (d[0].toInt() shl 24) or ((d[1].toInt() and 0xff) shl 16) or ((d[2].toInt() and 0xff) shl 8) or
            (d[3].toInt() and 0xff)
    }

    private companion object {
        val SALT: ByteArray = ByteArray(16).also { SecureRandom().nextBytes(it) }

        fun units(text: String): ByteArray =
            ByteArray(text.length * 2).also { bytes ->
                text.forEachIndexed { i, c ->
                    bytes[2 * i] = (c.code shr 8).toByte()
                    bytes[2 * i + 1] = c.code.toByte()
                }
            }
    }
}
