// Hand-written, next to the generated UserPool.swift: uniffi.toml maps the engine's secret
// texts to this type.

/// A secret text: a token, a challenge session, a TOTP secret or its `otpauth://` URI, a code,
/// a password hash. `description`, `debugDescription` and `dump` never show it, so printing or
/// logging a result leaks nothing; `reveal()` gives the text, for where it belongs (an
/// `Authorization` header, a QR code, the keychain).
public struct Secret: Equatable, Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    private let text: String

    /// Wraps a text (to pass one in, such as an `ImportUser`'s password hash).
    public init(_ text: String) {
        self.text = text
    }

    /// The text itself.
    public func reveal() -> String {
        text
    }

    /// Compared in constant time over the bytes (a length difference aside): whether two
    /// secrets are equal is the only thing it tells.
    public static func == (lhs: Secret, rhs: Secret) -> Bool {
        let a = Array(lhs.text.utf8)
        let b = Array(rhs.text.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count {
            difference |= a[i] ^ b[i]
        }
        return difference == 0
    }

    public var description: String { "Secret(<redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
