#!/usr/bin/env bash
# The Python binding's suite, as scripts/test (and so .ci/run) calls it on a fresh machine:
# a virtualenv in bindings/python/.venv with the tools, the wheel built by maturin and
# installed, clippy on the crate, mypy --strict on the examples and the package, stubtest
# (the .pyi against the compiled module), then pytest. Idempotent; quick when warm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

venv="$here/.venv"
python="${USERPOOL_PYTHON:-python3}"
requirements=("maturin>=1.9.4,<2" "pytest>=7" "mypy>=1.10" "pyjwt[crypto]>=2.8" "pyotp>=2.9" "fastapi>=0.110" "httpx>=0.27")

echo "== python venv ($venv)"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
# pip runs only when the requirement list changed since the last successful install.
stamp="$venv/.userpool-requirements"
if [ "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]}" ]; then
  "$venv/bin/python" -m pip install --quiet --upgrade "${requirements[@]}"
  echo "${requirements[*]}" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
export VIRTUAL_ENV="$venv"
# pyo3 reads the interpreter from here; maturin and clippy then share one build configuration.
export PYO3_PYTHON="$venv/bin/python"
export PYO3_BUILD_EXTENSION_MODULE=1

echo "== maturin build --release (the userpool wheel)"
wheels="$venv/wheels"
rm -rf "$wheels"
maturin build --release --out "$wheels"
wheel="$(ls "$wheels"/userpool-*.whl)"
python -m pip install --quiet --force-reinstall --no-deps "$wheel"

echo "== cargo clippy (userpool-python)"
cargo clippy --quiet -p userpool-python --no-deps --locked -- -D warnings

echo "== mypy --strict (examples, the installed package)"
python -m mypy --strict --no-error-summary examples
python -m mypy --strict --no-error-summary -p userpool

echo "== stubtest (userpool/_native.pyi against the compiled module)"
(cd "$venv" && python -m mypy.stubtest userpool._native)

echo "== pytest"
python -m pytest -q tests
