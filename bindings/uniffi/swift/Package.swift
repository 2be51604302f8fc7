// swift-tools-version:5.9
// The Swift package of userpool's uniffi binding: module `UserPool` (generated Swift, plus
// AuthError+Code.swift and Secret.swift), over the C module `UserPoolFFI` (generated header and module map),
// linked against libuserpool_uniffi built by cargo. See docs/bindings/swift.md.
//
//   cargo build --release -p userpool-uniffi          # from the repository root
//   cd bindings/uniffi/swift && swift test
//
// The library is looked for in $USERPOOL_LIB_DIR, else in the workspace's target/release. An
// iOS app uses the XCFramework instead (docs/bindings/swift.md); this manifest is for macOS
// and Linux, where the tests run.
import Foundation
import PackageDescription

let packageDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let libDir = ProcessInfo.processInfo.environment["USERPOOL_LIB_DIR"]
    ?? packageDir.appendingPathComponent("../../../target/release").standardizedFileURL.path

let package = Package(
    name: "UserPool",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "UserPool", targets: ["UserPool"]),
    ],
    targets: [
        .target(
            name: "UserPoolFFI",
            path: "Sources/UserPoolFFI",
            linkerSettings: [
                .linkedLibrary("userpool_uniffi"),
                .unsafeFlags(["-L", libDir, "-Xlinker", "-rpath", "-Xlinker", libDir]),
            ]
        ),
        .target(
            name: "UserPool",
            dependencies: ["UserPoolFFI"],
            path: "Sources/UserPool"
        ),
        .testTarget(
            name: "UserPoolTests",
            dependencies: ["UserPool"],
            path: "Tests/UserPoolTests"
        ),
    ]
)
