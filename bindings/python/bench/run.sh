#!/usr/bin/env bash
# Runs the Python binding's benchmark (not a test): the Rust sign-in (bench/sign_in.rs),
# then bench.py with its figure. Run bindings/python/test.sh first (it builds the venv and
# the wheel); the environment below matches it, so pyo3 is not rebuilt.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="$here/.venv"
export PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv" PYO3_PYTHON="$venv/bin/python" PYO3_BUILD_EXTENSION_MODULE=1
n="${1:-10}"
rounds="${2:-5}"
cd "$here"
cargo build --quiet --release -p userpool-python --example bench_sign_in_rust
target="$(cargo metadata --format-version 1 --no-deps | python -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
python bench/bench.py "$target/release/examples/bench_sign_in_rust" "$n" "$rounds"
