#!/usr/bin/env bash
# Puts the Swift that uniffi-bindgen generated (in GEN_DIR) into this package, or with
# --check fails if the package's copies differ from it (the drift check test.sh runs).
#
#   bash sync.sh GEN_DIR           # after `uniffi-bindgen generate LIB --language swift --out-dir GEN_DIR`
#   bash sync.sh --check GEN_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
check=false
if [ "${1:-}" = "--check" ]; then check=true; shift; fi
gen="${1:?usage: sync.sh [--check] GEN_DIR}"

# generated file -> its place in the package
pairs=(
  "UserPool.swift:Sources/UserPool/UserPool.swift"
  "UserPoolFFI.h:Sources/UserPoolFFI/include/UserPoolFFI.h"
  "UserPoolFFI.modulemap:Sources/UserPoolFFI/include/module.modulemap"
)
status=0
for pair in "${pairs[@]}"; do
  from="$gen/${pair%%:*}"
  to="$here/${pair#*:}"
  [ -f "$from" ] || { echo "sync.sh: $from was not generated" >&2; exit 1; }
  if $check; then
    if ! cmp -s "$from" "$to"; then
      echo "Swift drift: ${pair#*:} differs from what uniffi-bindgen generates now" >&2
      diff -u "$to" "$from" | head -n 40 >&2 || true
      status=1
    fi
  else
    mkdir -p "$(dirname "$to")"
    cp "$from" "$to"
  fi
done
if $check && [ "$status" -ne 0 ]; then
  echo "Regenerate with: bash bindings/uniffi/swift/sync.sh <dir> (see docs/bindings/swift.md)" >&2
fi
$check && [ "$status" -eq 0 ] && echo "Swift package matches the generated sources (${#pairs[@]} files)"
exit "$status"
