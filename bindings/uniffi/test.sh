#!/usr/bin/env bash
# The uniffi binding's suite (scripts/test calls it): clippy, the Rust tests, one dev build of
# the cdylib and the uniffi-bindgen binary, Kotlin and Swift generated from that library, the
# Swift drift check, the Kotlin suite on the JVM through Maven, and the Swift suite.
#
# Dev profile on purpose: scripts/test has already built the engine's dependencies in dev
# (optimised: [profile.dev.package."*"] opt-level = 3), so the cdylib and the bindgen share
# them, where a release build would compile everything again under LTO.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
lib_dir="$target_dir/debug"
lib="$lib_dir/libuserpool_uniffi.so"
[ "$(uname)" = Darwin ] && lib="$lib_dir/libuserpool_uniffi.dylib"

echo "== uniffi: cargo clippy"
cargo clippy -p userpool-uniffi --all-targets -- -D warnings

echo "== uniffi: cargo test"
# With the features of the build below, so both share every compiled dependency.
cargo test -p userpool-uniffi --features cli --lib --quiet

echo "== uniffi: build the cdylib and uniffi-bindgen (dev)"
cargo build -p userpool-uniffi --features cli --lib --bin uniffi-bindgen

echo "== uniffi: generate Kotlin and Swift"
gen="$here/kotlin/target/generated-sources/uniffi"
swift_gen="$target_dir/uniffi-swift"
rm -rf "$gen" "$swift_gen"
"$lib_dir/uniffi-bindgen" generate "$lib" --language kotlin --out-dir "$gen" --no-format
"$lib_dir/uniffi-bindgen" generate "$lib" --language swift --out-dir "$swift_gen" --no-format

echo "== uniffi: Swift package drift check"
bash "$here/swift/sync.sh" --check "$swift_gen"

echo "== uniffi: Kotlin suite (mvn test)"
cd "$here/kotlin"
rm -rf target/surefire-reports
# Maven's console library still writes colour resets under -q; strip them so the summary
# below stands alone on its line.
mvn -q -B -Dstyle.color=never test -Duniffi.lib.dir="$lib_dir" -Dfixtures.dir="$root/fixtures/scenarios" 2>&1 |
  sed 's/\x1b\[[0-9;]*m//g'
# mvn -q hides Surefire's summary: count the reports' test cases instead.
python3 - target/surefire-reports <<'PY'
import glob, sys, xml.etree.ElementTree as ET
tests = failed = skipped = 0
for report in glob.glob(sys.argv[1] + "/TEST-*.xml"):
    suite = ET.parse(report).getroot()
    tests += int(suite.get("tests")); skipped += int(suite.get("skipped"))
    failed += int(suite.get("failures")) + int(suite.get("errors"))
if tests == 0:
    sys.exit("uniffi: the Kotlin suite ran no test")
print(f"Kotlin: {tests - failed - skipped} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY

echo "== uniffi: Swift suite (swift test)"
# swift.sh runs the swift on PATH, or Swift 6 in a Debian trixie chroot that it makes on first
# use (this project's machines run bookworm, which has no Swift); the chroot needs root.
# Elsewhere the suite is skipped with a notice, unless USERPOOL_REQUIRE_SWIFT is set (CI).
if ! command -v swift >/dev/null 2>&1 && [ "$(id -u)" != 0 ] && [ -z "${USERPOOL_REQUIRE_SWIFT:-}" ]; then
  echo "Swift: skipped (no swift on PATH, and Swift's Debian chroot needs root: see bindings/uniffi/swift/swift.sh)"
  exit 0
fi
swift_log="$target_dir/swift-test.log"
cd "$here/swift"
if ! CARGO_TARGET_DIR="$target_dir" USERPOOL_LIB_DIR="$lib_dir" USERPOOL_FIXTURES="$root/fixtures/scenarios" \
  bash swift.sh test --scratch-path "$target_dir/swift-build" > "$swift_log" 2>&1; then
  grep -E "error|failed" "$swift_log" | head -n 40 >&2
  echo "uniffi: the Swift suite failed (its whole output: $swift_log)" >&2
  exit 1
fi
grep -E "^[[:space:]]*Executed [0-9]+ tests?" "$swift_log" | tail -n 1 | sed 's/^[[:space:]]*/Swift: /'
