#!/usr/bin/env bash
# Cross-checks tradeloop's sandboxed SMA crossover against backtrader on the same bars.
#
#   scripts/crosscheck/run.sh [DATA.csv]        (default data/market/SPY_1h.csv)
#
# 1. A Python venv in target/venv-crosscheck with backtrader pinned (requirements.txt).
# 2. The tradeloop binary: $TRADELOOP_BIN, else ${CARGO_TARGET_DIR:-target}/release/tradeloop,
#    built with `cargo build --release -p tradeloop-host` if it is absent.
# 3. The strategy: $SMA_WASM, else target/strategies/sma-cross.wasm, built by
#    strategies/build.sh if absent; and the AssemblyScript build of the same strategy,
#    strategies/assemblyscript/sma-cross-as.wasm, run beside it.
# 4. `tradeloop experiment --strategy sma-cross.wasm --strategy sma-cross-as.wasm
#    --params P.toml --data DATA --json` with P.toml `fast = 10, slow = 30, size = 1`
#    (market orders at the next bar's open, no fees, cash 10000), and backtrader's classic
#    SMA crossover with the same settings (backtrader_sma.py).
# 5. compare.py: the same closed trades (entry and exit bar indices, side, size, prices
#    exactly); tradeloop's end-of-data trade against backtrader's open position; the
#    AssemblyScript strategy's trades identical to the Rust one's. Prints one line; exits
#    non-zero on any mismatch. KEEP=1 keeps the JSON files (their directory is printed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
here=scripts/crosscheck
data="${1:-data/market/SPY_1h.csv}"

venv=target/venv-crosscheck
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"

bin="${TRADELOOP_BIN:-${CARGO_TARGET_DIR:-target}/release/tradeloop}"
if [[ ! -x "$bin" ]]; then
    echo "run.sh: building $bin (cargo build --release -p tradeloop-host)" >&2
    cargo build --release -p tradeloop-host >&2
fi
sma="${SMA_WASM:-target/strategies/sma-cross.wasm}"
if [[ ! -f "$sma" ]]; then
    echo "run.sh: building $sma (strategies/build.sh)" >&2
    strategies/build.sh >&2
fi
as_wasm=strategies/assemblyscript/sma-cross-as.wasm

work="$(mktemp -d)"
if [[ -z "${KEEP:-}" ]]; then trap 'rm -rf "$work"' EXIT; else echo "run.sh: keeping $work" >&2; fi
printf 'fast = 10\nslow = 30\nsize = 1\n' >"$work/P.toml"
cp "$sma" "$work/sma-cross.wasm"
cp "$as_wasm" "$work/sma-cross-as.wasm"

"$bin" experiment --strategy "$work/sma-cross.wasm" --strategy "$work/sma-cross-as.wasm" \
    --params "$work/P.toml" --data "$data" --json >"$work/tradeloop.json"
"$venv/bin/python" "$here/backtrader_sma.py" --data "$data" --fast 10 --slow 30 --size 1 \
    --cash 10000 >"$work/backtrader.json"
"$venv/bin/python" "$here/compare.py" "$work/tradeloop.json" "$work/backtrader.json" \
    --strategy sma-cross --same sma-cross-as
