// The whole journey of docs/bindings/swift.md, run as written, then checked step by step.
import XCTest
@testable import UserPool

/// The guide's journey, as written there (but for `print`).
func journey(_ pool: UserPool, codeFromInbox: (String) async throws -> String) async throws {
    let signedUp = try await pool.signUp(
        username: "alice", password: "correct horse battery staple", attributes: ["email": "alice@example.com"])
    precondition(signedUp.nextStep == .confirmSignUp)
    let code = try await codeFromInbox("alice@example.com")
    try await pool.confirmSignUp(username: "alice", code: code)

    var tokens = try await pool.signIn(username: "alice", password: "correct horse battery staple").tokens!

    tokens = try await pool.refresh(refreshToken: tokens.refreshToken.reveal())
    let claims = try pool.verifyAccessToken(token: tokens.accessToken.reveal())
    precondition(claims.contains("\"username\":\"alice\""))

    try await pool.signOut(refreshToken: tokens.refreshToken.reveal())

    _ = try await pool.forgotPassword(username: "alice")
    let resetCode = try await codeFromInbox("alice@example.com")
    try await pool.confirmForgotPassword(username: "alice", code: resetCode, newPassword: "a brand new passphrase")
}

final class JourneyTests: XCTestCase {
    func testTheDocumentedJourneyRunsAndLeavesWhatEachStepSays() async throws {
        let delivery = RecordingDelivery()
        let pool = try await UserPool.open(config: fastConfig, delivery: delivery)
        try await journey(pool) { address in try XCTUnwrap(delivery.lastCode(to: address)) }
        XCTAssertEqual(delivery.messages.count, 2, "a sign-up code, then a reset code")
        let old = await authError { _ = try await pool.signIn(username: "alice", password: "correct horse battery staple") }
        XCTAssertEqual(old?.code, "NotAuthorizedException")
        let signedIn = try await pool.signIn(username: "alice", password: "a brand new passphrase")
        let tokens = try XCTUnwrap(signedIn.tokens)
        let user = try await pool.getUser(accessToken: tokens.accessToken.reveal())
        XCTAssertEqual(user.username, "alice")
        XCTAssertEqual(user.attributes["email_verified"], "true")
    }
}
