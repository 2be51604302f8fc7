// The binding's own behaviour: errors, host delivery and clock, bad input, a SQLite file,
// and async calls from several tasks at once.
import Foundation
import XCTest
@testable import UserPool

private let password = "correct horse battery staple"

/// The error `body` throws, failing the test when it throws none or not an `AuthError`.
func authError(_ body: () async throws -> Void, file: StaticString = #filePath, line: UInt = #line) async -> AuthError? {
    do {
        try await body()
        XCTFail("expected an AuthError, got success", file: file, line: line)
    } catch let error as AuthError {
        return error
    } catch {
        XCTFail("expected an AuthError, got \(error)", file: file, line: line)
    }
    return nil
}

final class GlueTests: XCTestCase {
    let delivery = RecordingDelivery()

    func open() async throws -> UserPool {
        try await UserPool.open(config: fastConfig, delivery: delivery)
    }

    func signUpConfirmed(_ pool: UserPool, _ username: String, _ email: String) async throws {
        _ = try await pool.signUp(username: username, password: password, attributes: ["email": email])
        try await pool.confirmSignUp(username: username, code: XCTUnwrap(delivery.lastCode(to: email)))
    }

    func testEngineErrorsArriveAsAuthErrorWithTheCognitoCode() async throws {
        let pool = try await open()
        try await signUpConfirmed(pool, "alice", "alice@example.com")
        let taken = await authError { _ = try await pool.signUp(username: "alice", password: password, attributes: [:]) }
        XCTAssertEqual(taken?.code, "UsernameExistsException")
        XCTAssertFalse(taken?.message.isEmpty ?? true)
        let wrong = await authError { _ = try await pool.signIn(username: "alice", password: "not the password") }
        XCTAssertEqual(wrong, .NotAuthorizedException(message: "Incorrect username or password."))
        let bad = await authError { _ = try pool.verifyAccessToken(token: "not.a.jwt") }
        XCTAssertEqual(bad?.code, "NotAuthorizedException")
    }

    func testASwiftDeliveryReceivesTheCodes() async throws {
        let pool = try await open()
        let result = try await pool.signUp(username: "alice", password: password, attributes: ["email": "alice@example.com"])
        XCTAssertEqual(result.nextStep, .confirmSignUp)
        XCTAssertEqual(delivery.messages.count, 1)
        let message = try XCTUnwrap(delivery.messages.first)
        XCTAssertEqual(message.channel, .email)
        XCTAssertEqual(message.destination, "alice@example.com")
        XCTAssertEqual(message.purpose, .signUp)
        let code = message.code.reveal()
        XCTAssertEqual(code.count, 6)
        XCTAssertTrue(message.text.reveal().contains(code))
        try await pool.confirmSignUp(username: "alice", code: code)
        let signedIn = try await pool.signIn(username: "alice", password: password)
        XCTAssertEqual(signedIn.nextStep, .done)
        let accessToken = try XCTUnwrap(signedIn.tokens).accessToken.reveal()
        let claims = try JSON.parse(pool.verifyAccessToken(token: accessToken))
        XCTAssertEqual(claims["username"], .string("alice"))
        let elsewhere = await authError { _ = try pool.verifyAccessToken(token: accessToken, clientId: "another-client") }
        XCTAssertEqual(elsewhere?.code, "NotAuthorizedException")
    }

    func testPrintingAResultShowsNoSecret() async throws {
        let pool = try await UserPool.open(
            config: fastConfig + "\n[mfa]\nmode = \"optional\"\nmethods = [\"totp\"]\n", delivery: delivery)
        try await signUpConfirmed(pool, "alice", "alice@example.com")
        let message = try XCTUnwrap(delivery.messages.last)
        let signedIn = try await pool.signIn(username: "alice", password: password)
        let tokens = try XCTUnwrap(signedIn.tokens)
        let setup = try await pool.associateSoftwareToken(accessToken: tokens.accessToken.reveal())
        let printed = "\(message) \(signedIn) \(String(reflecting: tokens)) \(setup)"
        var dumped = ""
        dump(tokens, to: &dumped)
        let secrets = [message.code, message.text, tokens.idToken, tokens.accessToken, tokens.refreshToken,
                       setup.secret, setup.uri]
        for secret in secrets {
            XCTAssertGreaterThanOrEqual(secret.reveal().count, 6)
            XCTAssertFalse(printed.contains(secret.reveal()), printed)
            XCTAssertFalse(dumped.contains(secret.reveal()), dumped)
        }
        XCTAssertTrue(printed.contains("Secret(<redacted>)"), printed)
        XCTAssertEqual(Secret("123456"), Secret("123456"))
        XCTAssertNotEqual(Secret("123456"), Secret("654321"))
        XCTAssertNotEqual(Secret("123456"), Secret("1234567"))
        XCTAssertEqual(Set([Secret("a"), Secret("a"), Secret("b")]).count, 2)
    }

    func testCloseEndsAHandleNotItsViewsAndMayBeCalledTwice() async throws {
        let pool = try await open()
        let view = try pool.withClient(clientId: "default")
        pool.close()
        pool.close()
        let refused = await authError { _ = try await pool.listUsers() }
        XCTAssertEqual(refused?.code, "InvalidParameterException")
        XCTAssertThrowsError(try pool.jwks())
        XCTAssertEqual(pool.poolId(), view.poolId(), "what the handle was stays readable")
        let users = try await view.listUsers()
        XCTAssertEqual(users.users.count, 0, "a view is a handle of its own")
    }

    func testAClosedPoolLetsGoOfADeliveryThatRefersToIt() async throws {
        final class Gone: @unchecked Sendable { var value = false }
        final class Mailer: Delivery, @unchecked Sendable {
            var pool: UserPool?
            let gone: Gone
            init(_ gone: Gone) { self.gone = gone }
            deinit { gone.value = true }
            func deliver(message: Message) throws -> Bool { true }
        }
        let kept = Gone()
        let closed = Gone()
        for (gone, close) in [(kept, false), (closed, true)] {
            let mailer = Mailer(gone)
            mailer.pool = try await UserPool.open(config: fastConfig, delivery: mailer)
            if close { mailer.pool?.close() }
        }
        XCTAssertFalse(kept.value, "unclosed, the pool holds its delivery, which holds the pool")
        XCTAssertTrue(closed.value, "closed, the pool let go of its delivery")
    }

    func testAThrowingDeliveryBecomesCodeDeliveryFailureAndChangesNothing() async throws {
        let pool = try await open()
        delivery.fail(with: HostFailure(description: "smtp is down for alice@example.com"))
        let failed = await authError {
            _ = try await pool.signUp(username: "alice", password: password, attributes: ["email": "alice@example.com"])
        }
        XCTAssertEqual(failed?.code, "CodeDeliveryFailureException")
        XCTAssertFalse(failed?.message.contains("alice@example.com") ?? true)
        let missing = await authError { _ = try await pool.adminGetUser(username: "alice") }
        XCTAssertEqual(missing?.code, "UserNotFoundException")
        delivery.fail(with: DeliveryError.Failed(reason: "the SMS gateway refused"))
        let declared = await authError {
            _ = try await pool.signUp(username: "alice", password: password, attributes: ["email": "alice@example.com"])
        }
        XCTAssertTrue(declared?.message.contains("the SMS gateway refused") ?? false)
        delivery.fail(with: nil)
        delivery.accept(false)
        let refused = await authError {
            _ = try await pool.signUp(username: "alice", password: password, attributes: ["email": "alice@example.com"])
        }
        XCTAssertEqual(refused?.code, "CodeDeliveryFailureException")
        delivery.accept(true)
        let users = try await pool.listUsers()
        XCTAssertEqual(users.users.count, 0)
        delivery.fail(with: nil)
        try await signUpConfirmed(pool, "alice", "alice@example.com")
        let alice = try await pool.adminGetUser(username: "alice")
        XCTAssertEqual(alice.status, .confirmed)
    }

    func testBadInputGivesTypedErrors() async throws {
        let pool = try await open()
        let huge = String(repeating: "x", count: 1_000_000)
        let empty = await authError { _ = try await pool.signUp(username: "", password: password, attributes: [:]) }
        XCTAssertEqual(empty?.code, "InvalidParameterException")
        let long = await authError { _ = try await pool.signUp(username: huge, password: password, attributes: [:]) }
        XCTAssertEqual(long?.code, "InvalidParameterException")
        _ = await authError { _ = try await pool.signUp(username: "bob", password: huge, attributes: [:]) }
        _ = await authError { _ = try await pool.signIn(username: "", password: "") }
        _ = await authError { _ = try await pool.signIn(username: huge, password: huge) }
        _ = await authError { _ = try await pool.confirmSignIn(session: huge, answer: huge, attributes: [:]) }
        _ = await authError { _ = try await pool.refresh(refreshToken: "") }
        _ = await authError { _ = try pool.verifyAccessToken(token: huge) }
        _ = await authError { _ = try pool.verifyIdToken(token: "\u{0}", clientId: "") }
        _ = await authError { _ = try await pool.listUsers(filter: "email ^^ nonsense") }
        _ = await authError { _ = try await pool.listUsers(limit: 0) }
        let users = try await pool.listUsers()
        XCTAssertEqual(users.users.count, 0)
        let config = await authError { _ = try await UserPool.open(config: "[password_policy]\nminimum_length = \"eight\"") }
        XCTAssertEqual(config?.code, "InvalidUserPoolConfigurationException")
    }

    func testASQLiteFileKeepsThePool() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("pool.sqlite3").path
        do {
            let pool = try await UserPool.open(path: path, config: fastConfig, delivery: delivery)
            try await signUpConfirmed(pool, "alice", "alice@example.com")
        }
        let reopened = try await UserPool.open(path: path, config: fastConfig, delivery: delivery)
        let alice = try await reopened.adminGetUser(username: "alice")
        XCTAssertEqual(alice.status, .confirmed)
        let signedIn = try await reopened.signIn(username: "alice", password: password)
        XCTAssertEqual(signedIn.nextStep, .done)
    }

    func testABackupOpensAsThePoolItCopiedAndNeverReplacesAFile() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let backup = dir.appendingPathComponent("backup.sqlite3").path
        do {
            let pool = try await UserPool.open(path: dir.appendingPathComponent("pool.sqlite3").path, config: fastConfig, delivery: delivery)
            try await signUpConfirmed(pool, "alice", "alice@example.com")
            try await pool.backupTo(dest: backup)
            try await signUpConfirmed(pool, "bob", "bob@example.com")
            let permissions = try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? Int
            XCTAssertEqual(permissions, 0o600)
            let taken = await authError { try await pool.backupTo(dest: backup) }
            XCTAssertEqual(taken?.code, "InvalidParameterException")
            XCTAssertTrue(taken?.message.contains("exists already") ?? false, taken?.message ?? "")
        }
        let copy = try await UserPool.open(path: backup, config: fastConfig, existingOnly: true)
        let users = try await copy.listUsers()
        XCTAssertEqual(users.users.map(\.username), ["alice"])
        let signedIn = try await copy.signIn(username: "alice", password: password)
        XCTAssertEqual(signedIn.nextStep, .done)
        let inMemory = try await open()
        let refused = await authError { try await inMemory.backupTo(dest: dir.appendingPathComponent("memory.sqlite3").path) }
        XCTAssertEqual(refused?.code, "InvalidParameterException")
        // Without opening the file as a pool.
        let offline = dir.appendingPathComponent("offline.sqlite3").path
        try await backupFile(path: dir.appendingPathComponent("pool.sqlite3").path, dest: offline)
        let offlineCopy = try await UserPool.open(path: offline, config: fastConfig, existingOnly: true)
        let offlineUsers = try await offlineCopy.listUsers()
        XCTAssertEqual(offlineUsers.users.map(\.username).sorted(), ["alice", "bob"])
        let missing = await authError {
            try await backupFile(path: dir.appendingPathComponent("nothing.sqlite3").path, dest: dir.appendingPathComponent("x.sqlite3").path)
        }
        XCTAssertEqual(missing?.code, "InvalidParameterException")
    }

    func testASealedPoolOpensWithItsOwnKeyOnly() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("sealed.sqlite3").path
        do {
            _ = try await UserPool.open(path: path, config: fastConfig, encryptionKey: Data(repeating: 1, count: 32))
        }
        for key in [Data(repeating: 2, count: 32), nil] {
            let refused = await authError { _ = try await UserPool.open(path: path, config: fastConfig, encryptionKey: key) }
            XCTAssertEqual(refused?.code, "InvalidUserPoolConfigurationException")
        }
    }

    func testExistingOnlyOpensWhatIsThereAndCreatesNothing() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("missing.sqlite3").path
        let notThere = await authError { _ = try await UserPool.open(path: missing, config: fastConfig, existingOnly: true) }
        XCTAssertEqual(notThere?.code, "InvalidParameterException")
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))

        let path = dir.appendingPathComponent("pool.sqlite3").path
        do {
            let pool = try await UserPool.open(path: path, config: fastConfig, delivery: delivery)
            try await signUpConfirmed(pool, "alice", "alice@example.com")
        }
        let mistyped = fastConfig.replacingOccurrences(of: "local_swift", with: "local_swfit")
        for _ in 0..<2 { // the second time too: the first made nothing
            let unknown = await authError { _ = try await UserPool.open(path: path, config: mistyped, existingOnly: true) }
            XCTAssertEqual(unknown?.code, "ResourceNotFoundException")
        }
        let admin = try await UserPool.open(path: path, config: fastConfig, existingOnly: true)
        let users = try await admin.listUsers()
        XCTAssertEqual(users.users.map(\.username), ["alice"])
    }

    func testAdminImportUsersReturnsOneOutcomePerUserInOrder() async throws {
        let pool = try await open()
        let outcomes = try await pool.adminImportUsers(users: [
            ImportUser(username: "ivan", attributes: ["email": "ivan@example.com", "email_verified": "true"]),
            ImportUser(username: "ivan", attributes: ["email": "other@example.com"]),
            ImportUser(username: "bad name with spaces"),
        ])
        XCTAssertEqual(outcomes.count, 3)
        XCTAssertEqual(outcomes[0].sub?.count, 36)
        XCTAssertNil(outcomes[0].code)
        XCTAssertEqual(outcomes[1].code, "UsernameExistsException")
        XCTAssertEqual(outcomes[2].code, "InvalidParameterException")
        XCTAssertNotNil(outcomes[2].message)
        let ivan = try await pool.adminGetUser(username: "ivan")
        XCTAssertEqual(ivan.status, .resetRequired)
        let found = try await pool.listUsers(filter: "email ^= \"IVAN\"")
        XCTAssertEqual(found.users.map(\.username), ["ivan"])
    }

    func testTheSwiftClockIsThePoolsTime() async throws {
        let clock = ManualClock(startMs: 1_700_000_000_000)
        let pool = try await UserPool.open(config: fastConfig, delivery: delivery, clock: clock)
        try await signUpConfirmed(pool, "alice", "alice@example.com")
        let signedIn = try await pool.signIn(username: "alice", password: password)
        let tokens = try XCTUnwrap(signedIn.tokens)
        let claims = try JSON.parse(pool.verifyAccessToken(token: tokens.accessToken.reveal()))
        XCTAssertEqual(claims["iat"], .number(1_700_000_000))
        clock.advance(secs: Int64(tokens.expiresIn) + 1)
        let expired = await authError { _ = try pool.verifyAccessToken(token: tokens.accessToken.reveal()) }
        XCTAssertEqual(expired?.code, "NotAuthorizedException")
    }

    func testAClockThatThrowsLeavesTheOperationInItsLastGoodTime() async throws {
        final class FlakyClock: Clock, @unchecked Sendable {
            private let lock = NSLock()
            private var broken = false
            func nowMs() throws -> Int64 {
                lock.lock(); defer { lock.unlock() }
                if broken { throw ClockError.Failed(reason: "no time") }
                return 1_700_000_000_000
            }
            func breakIt() {
                lock.lock(); defer { lock.unlock() }
                broken = true
            }
        }
        let clock = FlakyClock()
        let pool = try await UserPool.open(config: fastConfig, delivery: delivery, clock: clock)
        clock.breakIt()
        let signUp = try await pool.signUp(username: "dave", password: password, attributes: ["email": "dave@example.com"])
        XCTAssertEqual(signUp.nextStep, .confirmSignUp)
        let dave = try await pool.adminGetUser(username: "dave")
        XCTAssertTrue((1_700_000_000_000..<1_700_000_060_000).contains(dave.createdMs), "\(dave.createdMs)")
        XCTAssertTrue(pool.config().contains("[password_hashing]"))
    }

    func testAClockThatFailsAtOnceFailsTheOpenBeforeAFileIsMade() async throws {
        final class BrokenClock: Clock, @unchecked Sendable {
            func nowMs() throws -> Int64 { throw ClockError.Failed(reason: "no time") }
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("pool.sqlite3").path
        let clocks: [(String, Clock)] = [("throws", BrokenClock()), ("reads 0", ManualClock(startMs: 0))]
        for (what, clock) in clocks {
            let refused = await authError {
                _ = try await UserPool.open(path: path, config: fastConfig, delivery: delivery, clock: clock)
            }
            XCTAssertEqual(refused?.code, "InvalidParameterException", what)
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), what)
        }
    }

    func testAsyncCallsFromSeveralTasks() async throws {
        let pool = try await open()
        let names = (1...8).map { "user\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for name in names {
                group.addTask { try await self.signUpConfirmed(pool, name, "\(name)@example.com") }
            }
            try await group.waitForAll()
        }
        let steps = try await withThrowingTaskGroup(of: SignInStep.self) { group -> [SignInStep] in
            for name in names {
                group.addTask { try await pool.signIn(username: name, password: password).nextStep }
            }
            var steps: [SignInStep] = []
            for try await step in group { steps.append(step) }
            return steps
        }
        XCTAssertEqual(steps, Array(repeating: .done, count: names.count))
        let listed = try await pool.listUsers()
        XCTAssertEqual(Set(listed.users.map(\.username)), Set(names))
    }

    func testEveryCognitoNameIsAnAuthErrorCode() {
        let all: [AuthError] = [
            .AliasExistsException(message: ""), .CodeDeliveryFailureException(message: ""),
            .CodeMismatchException(message: ""), .EnableSoftwareTokenMfaException(message: ""),
            .ExpiredCodeException(message: ""), .GroupExistsException(message: ""),
            .InternalErrorException(message: ""), .InvalidParameterException(message: ""),
            .InvalidPasswordException(message: ""), .InvalidUserPoolConfigurationException(message: ""),
            .LimitExceededException(message: ""), .MfaMethodNotFoundException(message: ""),
            .NotAuthorizedException(message: ""), .OperationNotEnabledException(message: ""),
            .PasswordResetRequiredException(message: ""), .RefreshTokenReuseException(message: ""),
            .ResourceNotFoundException(message: ""), .SoftwareTokenMfaNotFoundException(message: ""),
            .TooManyFailedAttemptsException(message: ""), .TooManyRequestsException(message: ""),
            .UserNotConfirmedException(message: ""), .UserNotFoundException(message: ""),
            .UsernameExistsException(message: ""),
        ]
        XCTAssertEqual(Set(all.map(\.code)), [
            "AliasExistsException", "CodeDeliveryFailureException", "CodeMismatchException",
            "EnableSoftwareTokenMFAException", "ExpiredCodeException", "GroupExistsException",
            "InternalErrorException", "InvalidParameterException", "InvalidPasswordException",
            "InvalidUserPoolConfigurationException", "LimitExceededException", "MFAMethodNotFoundException",
            "NotAuthorizedException", "OperationNotEnabledException", "PasswordResetRequiredException",
            "RefreshTokenReuseException", "ResourceNotFoundException", "SoftwareTokenMFANotFoundException",
            "TooManyFailedAttemptsException", "TooManyRequestsException", "UserNotConfirmedException",
            "UserNotFoundException", "UsernameExistsException",
        ])
    }
}
