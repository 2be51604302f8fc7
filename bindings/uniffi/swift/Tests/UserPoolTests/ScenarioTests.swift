// Replays every fixtures/scenarios/*.json file through the generated Swift binding, with a
// Swift delivery (recording, or throwing for `fail_delivery`), a Swift clock (`advance`) and a
// Swift authenticator (`totp`), checking results against the canonical shapes.
import Foundation
import XCTest
@testable import UserPool

struct ScenarioFailure: Error, CustomStringConvertible {
    let description: String
}

final class ScenarioRunner {
    let file: URL
    let scenario: JSON
    let clock: ManualClock
    let delivery = RecordingDelivery()
    var saved: [String: JSON] = [:]

    init(file: URL) throws {
        self.file = file
        scenario = try JSON.parse(file: file)
        clock = ManualClock(startMs: scenario["start_ms"]?.intValue ?? 1_700_000_000_000)
    }

    // The fields of the format (core/src/scenario.rs): any other is a typo that would turn a
    // check off, and is refused.
    static let scenarioFields: Set<String> = ["name", "description", "config", "start_ms", "steps"]
    static let stepFields: Set<String> = ["op", "args", "secs", "expect", "expect_error", "save", "expect_messages", "note"]

    func unknownFields(_ value: JSON, _ known: Set<String>) -> Set<String> {
        guard case .object(let fields) = value else { return ["(not an object)"] }
        return Set(fields.keys).subtracting(known)
    }

    func run() async throws {
        let name = file.lastPathComponent
        let unknown = unknownFields(scenario, Self.scenarioFields)
        guard unknown.isEmpty else { throw ScenarioFailure(description: "\(name): unknown scenario fields \(unknown)") }
        guard let steps = scenario["steps"]?.arrayValue else { throw ScenarioFailure(description: "\(name): a scenario needs steps") }
        let config = scenario["config"].map { $0 == .null ? "{}" : $0.description } ?? "{}"
        let pool = try await UserPool.open(config: config, delivery: delivery, clock: clock)
        for (index, step) in steps.enumerated() {
            let op = step["op"]?.stringValue ?? "?"
            let unknownStep = unknownFields(step, Self.stepFields)
            guard unknownStep.isEmpty else {
                throw ScenarioFailure(description: "\(name) step \(index + 1) (\(op)): unknown step fields \(unknownStep)")
            }
            do {
                try await runStep(pool, step, op)
            } catch let failure as ScenarioFailure {
                throw ScenarioFailure(description: "\(file.lastPathComponent) step \(index + 1) (\(op)): \(failure)")
            }
        }
    }

    func runStep(_ pool: UserPool, _ step: JSON, _ op: String) async throws {
        let before = delivery.messages.count
        var value: JSON = .null
        var error: AuthError?
        switch op {
        case "advance":
            guard let secs = step["secs"]?.intValue else { throw ScenarioFailure(description: "advance needs secs") }
            clock.advance(secs: secs)
        case "fail_delivery":
            let on = step["args"]?["failing"]?.boolValue ?? true
            delivery.fail(with: on ? HostFailure(description: "the scenario made delivery fail") : nil)
        case "totp":
            let args = try resolve(step["args"] ?? .object([:]))
            guard let secret = args["secret"]?.stringValue else { throw ScenarioFailure(description: "totp needs secret") }
            let offset = args["offset_secs"]?.intValue ?? 0
            value = .object(["code": .string(Totp.code(secret: secret, unixSecs: clock.nowMs() / 1000 + offset))])
        default:
            let args = try resolve(step["args"] ?? .object([:]))
            do {
                value = try await call(pool, op, args)
            } catch let e as AuthError {
                error = e
            }
        }
        let delivered = delivery.messages.count - before
        if let expected = step["expect_messages"]?.intValue, expected != Int64(delivered) {
            throw ScenarioFailure(description: "expected \(expected) messages, \(delivered) were delivered")
        }
        if let expectedError = step["expect_error"]?.stringValue {
            guard let error else { throw ScenarioFailure(description: "expected \(expectedError), got success \(value)") }
            if error.code != expectedError {
                throw ScenarioFailure(description: "expected \(expectedError), got \(error.code): \(error.message)")
            }
            return
        }
        if let error { throw ScenarioFailure(description: "unexpected error \(error.code): \(error.message)") }
        for (path, expected) in try resolve(step["expect"] ?? .object([:])).objectValue ?? [:] {
            let actual: JSON
            if path == "length" || path.hasSuffix(".length") {
                let listPath = path == "length" ? "" : String(path.dropLast(".length".count))
                actual = value.lookup(listPath)?.arrayValue.map { JSON.number(Double($0.count)) } ?? .null
            } else {
                actual = value.lookup(path) ?? .null
            }
            if actual != expected {
                throw ScenarioFailure(description: "\(path): expected \(expected), got \(actual)")
            }
        }
        if let name = step["save"]?.stringValue { saved[name] = value }
    }

    func resolve(_ value: JSON) throws -> JSON {
        switch value {
        case let .string(s) where s.hasPrefix("${") && s.hasSuffix("}"):
            let reference = String(s.dropFirst(2).dropLast())
            if reference.hasPrefix("code:") {
                // DEST#N: the code N messages before the newest to DEST.
                let parts = reference.dropFirst("code:".count).split(separator: "#", maxSplits: 1).map(String.init)
                let destination = parts[0]
                let back = parts.count > 1 ? Int(parts[1]) ?? -1 : 0
                let codes = delivery.messages.filter { $0.destination == destination }
                guard back >= 0, back < codes.count else {
                    throw ScenarioFailure(description: "no code #\(back) was delivered to \(destination)")
                }
                return .string(codes[codes.count - 1 - back].code.reveal())
            }
            let parts = reference.split(separator: ".", maxSplits: 1).map(String.init)
            guard let base = saved[parts[0]] else { throw ScenarioFailure(description: "nothing saved as \(parts[0])") }
            guard let found = base.lookup(parts.count > 1 ? parts[1] : "") else {
                throw ScenarioFailure(description: "\(reference) is not in the saved result")
            }
            return found
        case let .object(o):
            return .object(try o.mapValues(resolve))
        case let .array(a):
            return .array(try a.map(resolve))
        default:
            return value
        }
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    func call(_ pool: UserPool, _ op: String, _ a: JSON) async throws -> JSON {
        func s(_ name: String) throws -> String {
            guard let v = a[name]?.stringValue else { throw ScenarioFailure(description: "argument \(name) (a string) is missing") }
            return v
        }
        func os(_ name: String) -> String? { a[name]?.stringValue }
        func attrs(_ name: String) -> [String: String] { (a[name]?.objectValue ?? [:]).compactMapValues(\.stringValue) }
        func names(_ name: String) -> [String] { (a[name]?.arrayValue ?? []).compactMap(\.stringValue) }
        func limit(_ name: String) -> UInt32? { a[name]?.intValue.map { UInt32(clamping: $0) } }
        func preference(_ name: String) throws -> MfaPreference? {
            guard let text = os(name) else { return nil }
            switch text.uppercased() {
            case "ENABLED": return .enabled
            case "DISABLED": return .disabled
            case "PREFERRED": return .preferred
            case "NOT_PREFERRED": return .notPreferred
            default: throw ScenarioFailure(description: "\(name): not a preference: \(text)")
            }
        }
        typealias C = Canonical
        switch op {
        case "sign_up": return C.signUp(try await pool.signUp(username: s("username"), password: s("password"), attributes: attrs("attributes")))
        case "confirm_sign_up": try await pool.confirmSignUp(username: s("username"), code: s("code")); return .null
        case "resend_sign_up_code": return C.delivery(try await pool.resendSignUpCode(username: s("username")))
        case "sign_in": return C.signIn(try await pool.signIn(username: s("username"), password: s("password")))
        case "confirm_sign_in":
            return C.signIn(try await pool.confirmSignIn(session: s("session"), answer: s("answer"), attributes: attrs("attributes")))
        case "refresh": return C.tokens(try await pool.refresh(refreshToken: s("refresh_token")))
        case "sign_out": try await pool.signOut(refreshToken: s("refresh_token")); return .null
        case "global_sign_out": try await pool.globalSignOut(accessToken: s("access_token")); return .null
        case "verify_access_token": return try JSON.parse(pool.verifyAccessToken(token: s("token")))
        case "verify_id_token": return try JSON.parse(pool.verifyIdToken(token: s("token"), clientId: os("client_id")))
        case "jwks": return try JSON.parse(pool.jwks())
        case "get_user": return C.user(try await pool.getUser(accessToken: s("access_token")))
        case "change_password":
            try await pool.changePassword(accessToken: s("access_token"), oldPassword: s("old_password"), newPassword: s("new_password"))
            return .null
        case "update_user_attributes":
            return .array(try await pool.updateUserAttributes(accessToken: s("access_token"), attributes: attrs("attributes")).map(C.attributeUpdate))
        case "get_user_attribute_verification_code":
            return C.delivery(try await pool.getUserAttributeVerificationCode(accessToken: s("access_token"), attribute: s("attribute")))
        case "verify_user_attribute":
            try await pool.verifyUserAttribute(accessToken: s("access_token"), attribute: s("attribute"), code: s("code"))
            return .null
        case "delete_user_attributes": try await pool.deleteUserAttributes(accessToken: s("access_token"), names: names("names")); return .null
        case "delete_user": try await pool.deleteUser(accessToken: s("access_token")); return .null
        case "forgot_password": return C.delivery(try await pool.forgotPassword(username: s("username")))
        case "confirm_forgot_password":
            try await pool.confirmForgotPassword(username: s("username"), code: s("code"), newPassword: s("new_password"))
            return .null
        case "admin_create_user":
            let created = try await pool.adminCreateUser(
                username: s("username"), attributes: attrs("attributes"), temporaryPassword: os("temporary_password"),
                sendInvitation: a["send_invitation"]?.boolValue ?? true)
            return .object(["user": C.user(created.user), "code_delivery": C.delivery(created.codeDelivery)])
        case "admin_get_user": return C.user(try await pool.adminGetUser(username: s("username")))
        case "admin_delete_user": try await pool.adminDeleteUser(username: s("username")); return .null
        case "admin_disable_user": try await pool.adminDisableUser(username: s("username")); return .null
        case "admin_enable_user": try await pool.adminEnableUser(username: s("username")); return .null
        case "admin_confirm_sign_up": try await pool.adminConfirmSignUp(username: s("username")); return .null
        case "admin_reset_user_password": return C.delivery(try await pool.adminResetUserPassword(username: s("username")))
        case "admin_set_user_password":
            try await pool.adminSetUserPassword(username: s("username"), password: s("password"), permanent: a["permanent"]?.boolValue ?? false)
            return .null
        case "admin_update_user_attributes":
            try await pool.adminUpdateUserAttributes(username: s("username"), attributes: attrs("attributes"))
            return .null
        case "admin_delete_user_attributes":
            try await pool.adminDeleteUserAttributes(username: s("username"), names: names("names"))
            return .null
        case "admin_user_global_sign_out": try await pool.adminUserGlobalSignOut(username: s("username")); return .null
        case "admin_import_users":
            let users = (a["users"]?.arrayValue ?? []).map { row in
                ImportUser(
                    username: row["username"]?.stringValue ?? "",
                    attributes: (row["attributes"]?.objectValue ?? [:]).compactMapValues(\.stringValue),
                    passwordHash: row["password_hash"]?.stringValue.map { Secret($0) })
            }
            return .array(try await pool.adminImportUsers(users: users).map { outcome in
                .object(["sub": outcome.sub.map(JSON.string) ?? .null, "code": outcome.code.map(JSON.string) ?? .null])
            })
        case "list_users":
            return C.userList(try await pool.listUsers(filter: os("filter"), limit: limit("limit"), paginationToken: os("pagination_token")))
        case "admin_list_user_auth_events":
            return .array(try await pool.adminListUserAuthEvents(username: s("username"), limit: limit("limit")).map(C.event))
        case "rotate_signing_keys": try await pool.rotateSigningKeys(); return .null
        case "revoke_signing_keys": try await pool.revokeSigningKeys(); return .null
        case "associate_software_token":
            switch (os("access_token"), os("session")) {
            case let (token?, nil): return C.totpSetup(try await pool.associateSoftwareToken(accessToken: token))
            case let (nil, session?): return C.totpSetup(try await pool.associateSoftwareTokenWithSession(session: session))
            default: throw ScenarioFailure(description: "associate_software_token takes access_token or session")
            }
        case "verify_software_token":
            try await pool.verifySoftwareToken(accessToken: s("access_token"), code: s("code"), friendlyName: os("friendly_name"))
            return .null
        case "set_mfa_preference":
            try await pool.setMfaPreference(
                accessToken: s("access_token"), totp: preference("totp"), sms: preference("sms"), email: preference("email"))
            return .null
        case "admin_set_user_mfa_preference":
            try await pool.adminSetUserMfaPreference(
                username: s("username"), totp: preference("totp"), sms: preference("sms"), email: preference("email"))
            return .null
        case "create_group":
            return C.group(try await pool.createGroup(name: s("name"), description: os("description"), precedence: limit("precedence")))
        case "update_group":
            return C.group(try await pool.updateGroup(name: s("name"), description: os("description"), precedence: limit("precedence")))
        case "get_group": return C.group(try await pool.getGroup(name: s("name")))
        case "list_groups":
            return C.groupList(try await pool.listGroups(limit: limit("limit"), paginationToken: os("pagination_token")))
        case "delete_group": try await pool.deleteGroup(name: s("name")); return .null
        case "admin_add_user_to_group": try await pool.adminAddUserToGroup(username: s("username"), group: s("group")); return .null
        case "admin_remove_user_from_group":
            try await pool.adminRemoveUserFromGroup(username: s("username"), group: s("group"))
            return .null
        case "admin_list_groups_for_user": return .array(try await pool.adminListGroupsForUser(username: s("username")).map(C.group))
        case "list_users_in_group":
            return C.userList(try await pool.listUsersInGroup(group: s("group"), limit: limit("limit"), paginationToken: os("pagination_token")))
        default:
            throw ScenarioFailure(description: "unknown operation \(op)")
        }
    }
}

final class ScenarioTests: XCTestCase {
    /// fixtures/scenarios, or $USERPOOL_FIXTURES.
    static var fixtures: URL {
        if let dir = ProcessInfo.processInfo.environment["USERPOOL_FIXTURES"] { return URL(fileURLWithPath: dir) }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("../../../fixtures/scenarios").standardizedFileURL
    }

    func testEveryScenario() async throws {
        let files = try FileManager.default.contentsOfDirectory(at: Self.fixtures, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        XCTAssertGreaterThanOrEqual(files.count, 45, "expected every scenario in \(Self.fixtures.path)")
        var failures: [String] = []
        for file in files {
            do {
                try await ScenarioRunner(file: file).run()
            } catch {
                failures.append("\(error)")
            }
        }
        XCTAssertEqual(failures, [], "\(failures.count) of \(files.count) scenarios failed")
    }
}
