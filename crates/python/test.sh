#!/usr/bin/env bash
# Builds the `tradeloop` wheel (maturin, release) from this checkout, installs it into a
# fresh virtual environment and runs the Python tests against it:
#
#   crates/python/test.sh [pytest args...]
#
# The venv is target/python-venv (made with `python3 -m venv`; requirements-test.txt
# installed from PyPI); the wheel goes to target/wheels. Nothing is installed outside target/.
# Environment: PYTHON (default python3); TRADELOOP_BIN (the host binary of the interop
# tests; default: target/debug/tradeloop, built); CARGO_TARGET_DIR is honoured.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/python-venv"
wheels="$target/wheels"

if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$here/requirements-test.txt" "$venv/requirements-test.txt"; then
    rm -rf "$venv"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements-test.txt"
    cp "$here/requirements-test.txt" "$venv/requirements-test.txt"
fi

rm -f "$wheels"/tradeloop-*.whl
"$venv/bin/maturin" build --release --quiet -m "$here/Cargo.toml" -i "$venv/bin/python" -o "$wheels"
wheel="$(ls "$wheels"/tradeloop-*.whl)"
echo "test.sh: $(basename "$wheel") ($(($(wc -c <"$wheel") / 1024)) KiB)"
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"

# The host binary for the interop tests (tests/test_interop.py).
if [[ -z "${TRADELOOP_BIN:-}" ]]; then
    cargo build -q -p tradeloop-host --manifest-path "$root/Cargo.toml"
    export TRADELOOP_BIN="$target/debug/tradeloop"
fi

# From outside the source tree, so `import tradeloop` is the installed wheel.
export PYTHONDONTWRITEBYTECODE=1
cd "$here/tests"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" .
