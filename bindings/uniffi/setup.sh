#!/usr/bin/env bash
# What bindings/uniffi/test.sh needs on a fresh machine (.ci/run calls this): a JDK (17 or
# newer) and Maven, which then fetches the Kotlin compiler, JNA, kotlinx-coroutines and JUnit
# from Maven Central into ~/.m2, and Swift 6 (swift/swift.sh). Fetching them here makes a
# registry problem show up early.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven default-jdk-headless >/dev/null
fi
mvn -q -B -f kotlin/pom.xml dependency:resolve dependency:resolve-plugins
echo "uniffi setup: Maven and its dependencies are ready"
# Swift: the one on PATH, else a Debian trixie chroot with Swift 6 that swift.sh makes once.
if ! swift_version="$(bash swift/swift.sh --version 2>&1)"; then
  echo "$swift_version" >&2
  exit 1
fi
echo "uniffi setup: $(grep -m 1 '^Swift version' <<< "$swift_version")"
