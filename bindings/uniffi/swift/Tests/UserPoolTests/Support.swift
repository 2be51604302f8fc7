// What the tests share: a JSON value type, a Swift Delivery and Clock, an RFC 6238
// authenticator written here (SHA-1 and HMAC in plain Swift, independent of the engine), and
// the canonical result shapes of core/src/scenario.rs (`result_json`).
import Foundation
@testable import UserPool

// MARK: - JSON

/// A JSON value; numbers compare as doubles whatever their Swift type.
enum JSON: Equatable, Decodable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSON].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSON].self))
        }
    }

    static func parse(_ text: String) throws -> JSON {
        try JSONDecoder().decode(JSON.self, from: Data(text.utf8))
    }

    static func parse(file: URL) throws -> JSON {
        try JSONDecoder().decode(JSON.self, from: Data(contentsOf: file))
    }

    /// JSON text (object keys sorted).
    var description: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .number(n):
            return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case let .string(s):
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 {
                        out += String(format: "\\u%04x", scalar.value)
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            return out + "\""
        case let .array(a): return "[" + a.map(\.description).joined(separator: ",") + "]"
        case let .object(o):
            return "{" + o.keys.sorted().map { JSON.string($0).description + ":" + o[$0]!.description }
                .joined(separator: ",") + "}"
        }
    }

    subscript(key: String) -> JSON? {
        if case let .object(o) = self { return o[key] }
        return nil
    }

    var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    var intValue: Int64? {
        if case let .number(n) = self { return Int64(n) }
        return nil
    }

    var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    var arrayValue: [JSON]? {
        if case let .array(a) = self { return a }
        return nil
    }

    var objectValue: [String: JSON]? {
        if case let .object(o) = self { return o }
        return nil
    }

    /// The value at a dotted path (`tokens.access_token`, `users.0.sub`), nil when absent.
    func lookup(_ path: String) -> JSON? {
        if path.isEmpty { return self }
        var current: JSON = self
        for part in path.split(separator: ".", omittingEmptySubsequences: false).map(String.init) {
            switch current {
            case let .object(o):
                guard let next = o[part] else { return nil }
                current = next
            case let .array(a):
                guard let i = Int(part), i >= 0, i < a.count else { return nil }
                current = a[i]
            default:
                return nil
            }
        }
        return current
    }
}

func json(_ s: String?) -> JSON { s.map(JSON.string) ?? .null }
func json(_ n: Int64) -> JSON { .number(Double(n)) }

// MARK: - Host implementations

/// A delivery that records every message and can be told to throw, or to answer `false`.
final class RecordingDelivery: Delivery, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [Message] = []
    private var failure: Error?

    var messages: [Message] {
        lock.lock(); defer { lock.unlock() }
        return recorded
    }

    /// What `deliver` throws from now on (nil: deliver normally).
    func fail(with error: Error?) {
        lock.lock(); defer { lock.unlock() }
        failure = error
    }

    private var accepting = true

    /// What `deliver` answers from now on when it does not throw.
    func accept(_ answer: Bool) {
        lock.lock(); defer { lock.unlock() }
        accepting = answer
    }

    func deliver(message: Message) throws -> Bool {
        lock.lock(); defer { lock.unlock() }
        if let failure { throw failure }
        guard accepting else { return false }
        recorded.append(message)
        return true
    }

    func lastCode(to destination: String) -> String? {
        messages.last { $0.destination == destination }?.code.reveal()
    }
}

/// A clock that moves only when told to.
final class ManualClock: Clock, @unchecked Sendable {
    private let lock = NSLock()
    private var now: Int64

    init(startMs: Int64) { now = startMs }

    func nowMs() -> Int64 {
        lock.lock(); defer { lock.unlock() }
        return now
    }

    func advance(secs: Int64) {
        lock.lock(); defer { lock.unlock() }
        now += secs * 1000
    }
}

struct HostFailure: Error, CustomStringConvertible {
    let description: String
}

// MARK: - TOTP (RFC 6238 over RFC 2104 HMAC and FIPS 180-4 SHA-1)

enum Totp {
    static func code(secret: String, unixSecs: Int64) -> String {
        let key = base32Decode(secret)
        var counter = UInt64(unixSecs / 30).bigEndian
        let message = withUnsafeBytes(of: &counter) { Array($0) }
        let mac = hmacSHA1(key: key, message: message)
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let binary = (UInt32(mac[offset] & 0x7f) << 24) | (UInt32(mac[offset + 1]) << 16)
            | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        let code = String(binary % 1_000_000)
        return String(repeating: "0", count: 6 - code.count) + code
    }

    static func base32Decode(_ text: String) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bits: UInt64 = 0
        var count = 0
        var out: [UInt8] = []
        for c in text.uppercased() where c != "=" {
            guard let value = alphabet.firstIndex(of: c) else { continue }
            bits = (bits << 5) | UInt64(value)
            count += 5
            if count >= 8 {
                count -= 8
                out.append(UInt8((bits >> UInt64(count)) & 0xff))
            }
        }
        return out
    }

    static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var k = key.count > 64 ? sha1(key) : key
        k += [UInt8](repeating: 0, count: 64 - k.count)
        let inner = sha1(k.map { $0 ^ 0x36 } + message)
        return sha1(k.map { $0 ^ 0x5c } + inner)
    }

    static func sha1(_ input: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var data = input
        let bitLength = UInt64(input.count) * 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        for i in (0..<8).reversed() { data.append(UInt8((bitLength >> (UInt64(i) * 8)) & 0xff)) }
        for chunk in stride(from: 0, to: data.count, by: 64) {
            var w = [UInt32](repeating: 0, count: 80)
            for i in 0..<16 {
                let j = chunk + i * 4
                w[i] = (UInt32(data[j]) << 24) | (UInt32(data[j + 1]) << 16) | (UInt32(data[j + 2]) << 8)
                    | UInt32(data[j + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = (x << 1) | (x >> 31)
            }
            var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4]
            for i in 0..<80 {
                let f: UInt32
                let k: UInt32
                switch i {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
                default: f = b ^ c ^ d; k = 0xCA62_C1D6
                }
                let temp = ((a << 5) | (a >> 27)) &+ f &+ e &+ k &+ w[i]
                e = d
                d = c
                c = (b << 30) | (b >> 2)
                b = a
                a = temp
            }
            h[0] = h[0] &+ a; h[1] = h[1] &+ b; h[2] = h[2] &+ c; h[3] = h[3] &+ d; h[4] = h[4] &+ e
        }
        return h.flatMap { v in (0..<4).reversed().map { UInt8((v >> (UInt32($0) * 8)) & 0xff) } }
    }
}

// MARK: - Canonical shapes

enum Canonical {
    /// `confirmSignInWithTotpCode` → `CONFIRM_SIGN_IN_WITH_TOTP_CODE` (Amplify's and Cognito's names).
    static func screaming<T>(_ value: T) -> String {
        var out = ""
        for c in String(describing: value) {
            if c.isUppercase, !out.isEmpty { out += "_" }
            out += c.uppercased()
        }
        return out
    }

    /// `signIn` → `SignIn` (the audit event names).
    static func camel<T>(_ value: T) -> String {
        let name = String(describing: value)
        return name.prefix(1).uppercased() + name.dropFirst()
    }

    static func delivery(_ d: CodeDelivery?) -> JSON {
        guard let d else { return .null }
        return .object(["channel": .string(screaming(d.channel)), "destination": .string(d.destination),
                        "attribute": .string(d.attribute)])
    }

    static func tokens(_ t: Tokens?) -> JSON {
        guard let t else { return .null }
        return .object(["id_token": .string(t.idToken.reveal()), "access_token": .string(t.accessToken.reveal()),
                        "refresh_token": .string(t.refreshToken.reveal()), "expires_in": .number(Double(t.expiresIn)),
                        "token_type": .string(t.tokenType)])
    }

    static func signUp(_ r: SignUpResult) -> JSON {
        .object(["user_sub": .string(r.userSub), "confirmed": .bool(r.confirmed),
                 "next_step": .string(screaming(r.nextStep)), "code_delivery": delivery(r.codeDelivery)])
    }

    static func signIn(_ r: SignInResult) -> JSON {
        .object(["next_step": .string(screaming(r.nextStep)), "tokens": tokens(r.tokens), "session": json(r.session?.reveal()),
                 "missing_attributes": .array(r.missingAttributes.map(JSON.string)),
                 "code_delivery": delivery(r.codeDelivery),
                 "allowed_mfa_types": .array(r.allowedMfaTypes.map { JSON.string(screaming($0)) }),
                 "totp_setup": totpSetup(r.totpSetup)])
    }

    static func totpSetup(_ t: TotpSetup?) -> JSON {
        guard let t else { return .null }
        return .object(["secret": .string(t.secret.reveal()), "uri": .string(t.uri.reveal())])
    }

    static func user(_ u: User) -> JSON {
        .object(["username": .string(u.username), "sub": .string(u.sub), "status": .string(screaming(u.status)),
                 "enabled": .bool(u.enabled), "attributes": .object(u.attributes.mapValues(JSON.string)),
                 "mfa_enabled": .array(u.mfaEnabled.map { JSON.string(screaming($0)) }),
                 "preferred_mfa": u.preferredMfa.map { JSON.string(screaming($0)) } ?? .null,
                 "groups": .array(u.groups.map(JSON.string)),
                 "username_attribute": u.usernameAttribute.map(JSON.string) ?? .null])
    }

    static func userList(_ l: UserList) -> JSON {
        .object(["users": .array(l.users.map(user)), "pagination_token": json(l.paginationToken)])
    }

    static func groupList(_ l: GroupList) -> JSON {
        .object(["groups": .array(l.groups.map(group)), "pagination_token": json(l.paginationToken)])
    }

    static func group(_ g: Group) -> JSON {
        .object(["name": .string(g.name), "description": json(g.description),
                 "precedence": g.precedence.map { JSON.number(Double($0)) } ?? .null])
    }

    static func event(_ e: AuditEvent) -> JSON {
        .object(["kind": .string(camel(e.kind)), "success": .bool(e.success), "detail": .string(e.detail)])
    }

    static func attributeUpdate(_ u: AttributeUpdate) -> JSON {
        .object(["attribute": .string(u.attribute), "needs_code": .bool(u.needsCode),
                 "code_delivery": delivery(u.codeDelivery)])
    }
}

/// A fast pool configuration for tests (weak hashing parameters, allowed explicitly).
let fastConfig = """
pool_id = "local_swift"
[password_hashing]
memory_kib = 256
iterations = 1
dangerous_allow_weak = true
"""
