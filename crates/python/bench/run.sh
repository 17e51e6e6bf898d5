#!/usr/bin/env bash
# W7 and W1 through Python beside PyTorch and River, in one run (bench.py says what each
# measures). Builds the tradeloop wheel (crates/python/test.sh's venv has maturin) and
# installs it into the anchors' venv, where PyTorch and River are (../shared/bench/anchors/
# setup.sh; ANCHORS_VENV, default ~/.cache/anchors-venv; ANCHORS_DIR, default
# ../shared/bench/anchors).
#
#   crates/python/bench/run.sh [--reps N] [--rows N] [--out FILE.json]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="${ANCHORS_VENV:-$HOME/.cache/anchors-venv}"
[[ -x "$venv/bin/python" ]] || { echo "run.sh: no anchors venv at $venv (run ../shared/bench/anchors/setup.sh)" >&2; exit 1; }
[[ -x "$target/python-venv/bin/maturin" ]] || "$root/crates/python/test.sh" -q -k version >/dev/null
rm -f "$target"/wheels/tradeloop-*.whl
"$target/python-venv/bin/maturin" build --release --quiet -m "$root/crates/python/Cargo.toml" -i "$venv/bin/python" -o "$target/wheels"
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$target"/wheels/tradeloop-*.whl
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" "$here/bench.py" "$@"
