// The guide's advice for an app with a `User` of its own (docs/bindings/swift.md): the module
// and its main class share the name `UserPool`, so `UserPool.User` names nothing, and the
// module's struct is imported by name. This file imports nothing else of the module, so it
// compiles only if that import does what the guide says.
import XCTest
import struct UserPool.User
import enum UserPool.UserStatus

final class ImportByNameTests: XCTestCase {
    func testTheModulesUserIsImportedByName() {
        let user = User(
            username: "alice", sub: "s", status: .confirmed, enabled: true, attributes: [:], createdMs: 1,
            updatedMs: 1, mfaEnabled: [], preferredMfa: nil, groups: [], usernameAttribute: nil)
        XCTAssertEqual(user.status, UserStatus.confirmed)
    }
}
