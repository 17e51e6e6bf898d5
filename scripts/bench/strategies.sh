#!/usr/bin/env bash
# Benchmark: strategy-bars per second of `tradeloop experiment` (sandboxed wasm strategies)
# against backtrader and backtesting.py running the same SMA crossover on the same bars, for
# 1, 8 and 64 strategies; prints a Markdown table with the ratios (measured in this run).
#
#   scripts/bench/strategies.sh [DATA.csv]      (default data/market/SPY_1h.csv)
#
# Environment: COUNTS (default "1,8,64"), REPEAT (tradeloop runs per count, best taken;
# default 3), PEER_REPEAT (backtrader / backtesting.py runs per count; default 1),
# TRADELOOP_BIN (default ${CARGO_TARGET_DIR:-target}/release/tradeloop, built if absent),
# SMA_WASM (default target/strategies/sma-cross.wasm, built by strategies/build.sh if absent).
# The venv is target/venv-crosscheck (shared with scripts/crosscheck/run.sh), with backtrader
# and backtesting.py pinned (scripts/crosscheck/requirements.txt, scripts/bench/requirements.txt).
# How each side is timed and counted: the docstring of scripts/bench/strategies.py. The
# backtrader side takes a few seconds per 25,000 strategy-bars: N = 64 takes minutes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
data="${1:-data/market/SPY_1h.csv}"

venv=target/venv-crosscheck
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -r scripts/crosscheck/requirements.txt -r scripts/bench/requirements.txt

bin="${TRADELOOP_BIN:-${CARGO_TARGET_DIR:-target}/release/tradeloop}"
if [[ ! -x "$bin" ]]; then
    echo "strategies.sh: building $bin (cargo build --release -p tradeloop-host)" >&2
    cargo build --release -p tradeloop-host >&2
fi
sma="${SMA_WASM:-target/strategies/sma-cross.wasm}"
if [[ ! -f "$sma" ]]; then
    echo "strategies.sh: building $sma (strategies/build.sh)" >&2
    strategies/build.sh >&2
fi

exec "$venv/bin/python" scripts/bench/strategies.py --bin "$bin" --wasm "$sma" --data "$data" \
    --counts "${COUNTS:-1,8,64}" --repeat "${REPEAT:-3}" --peer-repeat "${PEER_REPEAT:-1}"
