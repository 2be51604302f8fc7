// Hand-written, next to the generated userpool.kt: uniffi.toml maps the engine's secret texts
// to this class.
package userpool

import java.security.MessageDigest

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

    // Compared in constant time: the equality of two secrets is the only thing it tells.
    override fun equals(other: Any?): Boolean =
        other is Secret && MessageDigest.isEqual(text.toByteArray(), other.text.toByteArray())

    override fun hashCode(): Int = text.hashCode()
}
