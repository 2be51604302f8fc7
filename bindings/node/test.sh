#!/usr/bin/env bash
# The Node binding's suite, called by scripts/test (and so by .ci/run) on a fresh machine:
# installs the npm tools it needs (once per package-lock.json), lints the crate, builds the
# addon with @napi-rs/cli, compiles the typed example, then runs every node:test file.
set -euo pipefail
cd "$(dirname "$0")"

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# The package runs on any Node 20 (package.json's engines); building it needs 20.17
# (@napi-rs/cli and its prompts import node:util's styleText) and the suite 20.19 (otplib's
# @noble/hashes). Say so at once rather than as a syntax error deep in a dependency.
node -e '
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    console.error(`bindings/node/test.sh needs Node >= 20.19 (the napi CLI needs 20.17, otplib 20.19); this is ${process.version}`);
    process.exit(1);
  }'

echo "-- npm ci (only when package-lock.json changed)"
stamp=node_modules/.userpool-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

echo "-- cargo fmt / clippy (userpool-node)"
cargo fmt -p userpool-node -- --check
cargo clippy -p userpool-node --all-targets --locked -- -D warnings

echo "-- napi build --platform --release"
npx napi build --platform --release

echo "-- tsc (examples/typed.mts, into examples/build, which test/examples.test.mjs runs)"
npx tsc -p examples/tsconfig.json

echo "-- node --test"
node --test --test-timeout=120000 test/
