#!/usr/bin/env bash
# Runs every test of tradeloop. On a fresh machine it first installs what it needs: Rust
# targets and components, the wasm-bindgen CLI pinned to the library's version (web/build.sh),
# the page's npm packages (web/package-lock.json), Debian's Chromium for the browser tests,
# sqlite3 and jq (the CLI benchmark's floor, the kill -9 soak), cargo-fuzz (fuzz/run.sh), and
# Python virtual environments under target/ (the tradeloop wheel's build and tests; backtrader
# for the cross-check). It expects rustup, cargo, node with npm, python3 with venv, and root or
# sudo for apt-get if a package is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
apt_updated=""
# need COMMAND PACKAGE...: installs the Debian packages unless COMMAND is there.
need() {
    local cmd=$1
    shift
    command -v "$cmd" >/dev/null && return
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    [ -n "$apt_updated" ] || { $sudo apt-get update -q; apt_updated=1; }
    $sudo apt-get install -y -q "$@"
}

step "setup: Rust targets and components"
rustup target add wasm32-unknown-unknown wasm32-wasip1 x86_64-unknown-none
rustup component add rustfmt clippy
command -v node >/dev/null || { echo "node is required for the WebAssembly tests" >&2; exit 1; }

step "format"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "native tests (kernels compared bit for bit; the host runs the plugin in wasmtime; SIGKILL crash test; tract against the onnxruntime fixture)"
cargo test --workspace

step "browser packages: tradeloop-wasm built with the pinned wasm-bindgen CLI into web/pkg (lean) and web/pkg-full; their size against web/size-budget.json; their tests in node"
web/build.sh
node web/tests/size.mjs
cargo test -p tradeloop-wasm --target wasm32-unknown-unknown --features full
node web/tests/packages.mjs
# The generated TypeScript declarations against tsc (web/node_modules is installed now).
TSC_REQUIRED=1 cargo test -p tradeloop-wasm --test typescript

step "browser tests: the paper-trading page in headless Chromium (Debian), driven by playwright-core"
need /usr/bin/chromium chromium chromium-driver
node web/tests/browser.mjs
node web/tests/persistence.mjs
node web/tests/npm.mjs
cargo build -q -p tradeloop-host && TRADELOOP_BIN="$PWD/target/debug/tradeloop" node web/tests/strategies.mjs

step "the AssemblyScript strategy: a fresh build (pinned asc, npm ci) equals the committed sma-cross-as.wasm; ABI shape; a run in node"
strategies/assemblyscript/build.sh --check

step "strategies against backtrader: the SMA crossover's trades equal backtrader's on SPY_1h (scripts/crosscheck); the strategy benchmark's smoke run (1 strategy, debug build: figures not meaningful)"
TRADELOOP_BIN="$PWD/target/debug/tradeloop" SMA_WASM=web/strategies/sma-cross.wasm scripts/crosscheck/run.sh
TRADELOOP_BIN="$PWD/target/debug/tradeloop" SMA_WASM=web/strategies/sma-cross.wasm COUNTS=1 REPEAT=1 \
    scripts/bench/strategies.sh | tail -n 6

step "Python: the tradeloop wheel (maturin, PyO3 abi3) built into a fresh venv under target/, pytest against it (checkpoints cross with the host byte for byte)"
TRADELOOP_BIN="$PWD/target/debug/tradeloop" crates/python/test.sh

step "the main job: tradeloop paper on the bundled SPY series, twice (the second run continues)"
state="$(mktemp -d)/state"
cargo run -q -p tradeloop-host -- --state "$state" paper
cargo run -q -p tradeloop-host -- --state "$state" paper
cargo run -q -p tradeloop-host -- --state "$state" summary
rm -rf "$(dirname "$state")"

step "the ranker: tradeloop paper on the bundled universe (SPY, EURUSD, XAUUSD), top K by the ONNX model, then a report"
work="$(mktemp -d)"
cargo run -q -p tradeloop-host -- --state "$work/state" paper --universe
cargo run -q -p tradeloop-host -- --state "$work/state" report --out "$work/report"
ls -l "$work/report"
rm -rf "$work"

step "tradeloop evaluate: the W6 protocol on the bundled BTC-USD daily bars"
cargo run -q -p tradeloop-host -- evaluate --data data/market/BTC-USD_1d.csv

step "the same core tests compiled to WebAssembly (SIMD128), run in node's V8"
cargo test -p tradeloop-core --target wasm32-wasip1

step "no_std builds: wasm32 and bare-metal x86_64 (the core, the kernels, and the backtest and strategy ABI crates)"
cargo build -p tradeloop-core --no-default-features --target wasm32-unknown-unknown
cargo build -p tradeloop-core --no-default-features --target x86_64-unknown-none
cargo build -p tradeloop-backtest -p tradeloop-strategy -p tradeloop-kernels --no-default-features --target x86_64-unknown-none

step "the main job (example) on the bundled BTC-USD daily series"
cargo run --release -p tradeloop-core --example paper -- data/market/BTC-USD_1d.csv

step "benchmark harness smoke run (figures not meaningful)"
cargo bench -p tradeloop-bench -- --quick
need sqlite3 sqlite3
cargo bench -p tradeloop-host --bench cli -- --quick

step "fuzzing, short: the core's four cargo-fuzz targets, 15 s each (fuzz/run.sh runs all five for 10 minutes: RELIABILITY.md)"
fuzz/run.sh 15 checkpoint_restore abi_request journal_decode market_csv

step "the kill -9 soak, short (the 1,000-kill run and its figure: RELIABILITY.md)"
need jq jq
cargo build -q -p tradeloop-host
TRADELOOP_BIN="$PWD/target/debug/tradeloop" tests/soak/kill9.sh 40

printf '\nall tests passed\n'
