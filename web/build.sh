#!/usr/bin/env bash
# Builds the browser package and the static site into web/ (then `python3 -m http.server -d web`):
#   web/pkg/     tradeloop_wasm.js + tradeloop_wasm_bg.wasm + .d.ts (wasm-bindgen --target web, wasm-opt)
#   web/vendor/  lightweight-charts.standalone.production.js
#   web/data/    the bundled series SPY_1h.csv and BTC-USD_1d.csv
#   web/strategies/  the example strategy modules (strategies/build.sh): buy-and-hold.wasm,
#                sma-cross.wasm, rule.wasm, forecast.wasm, for the strategy experiments panel
# Installs what is missing (wasm-bindgen-cli pinned to the library's version, the rust
# target, web/node_modules) and prints the gzipped size of the .wasm + .js. Idempotent.
#
# Environment: PKG_DIR (default web/pkg) and WASM_FEATURES (cargo features, e.g. "bench")
# build another variant of the package; CARGO_TARGET_DIR is honoured.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

WASM_BINDGEN_VERSION=0.2.130 # = the `wasm-bindgen` pin in crates/wasm/Cargo.toml
PKG_DIR="${PKG_DIR:-web/pkg}"
WASM_FEATURES="${WASM_FEATURES:-}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# 1. Tools.
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
    echo "build.sh: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION" >&2
    # --locked first; a registry mirror that lacks one of the locked versions needs a fresh resolve.
    cargo install --locked --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" ||
        cargo install --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
if [[ ! -x web/node_modules/.bin/wasm-opt ||
    ! -f web/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js ]]; then
    npm ci --prefix web
fi

# 2. The wasm library (profile wasm-release in Cargo.toml; .cargo/config.toml adds simd128).
features=()
[[ -n "$WASM_FEATURES" ]] && features=(--features "$WASM_FEATURES")
cargo build --profile wasm-release -p tradeloop-wasm --target wasm32-unknown-unknown "${features[@]}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
wasm="$target_dir/wasm32-unknown-unknown/wasm-release/tradeloop_wasm.wasm"

# 3. JS glue, then size optimisation (features: what rustc 1.95 emits for wasm32 + simd128).
rm -rf "$PKG_DIR"
wasm-bindgen --target web --out-dir "$PKG_DIR" "$wasm"
web/node_modules/.bin/wasm-opt -Oz \
    --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    --strip-debug --strip-producers --strip-target-features \
    "$PKG_DIR/tradeloop_wasm_bg.wasm" -o "$PKG_DIR/tradeloop_wasm_bg.wasm"

# 4. The rest of the static site.
mkdir -p web/vendor web/data
cp web/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js web/vendor/
cp data/market/SPY_1h.csv data/market/BTC-USD_1d.csv web/data/
strategies/build.sh web/strategies

# 5. Download size.
gz() { gzip -9 -c "$1" | wc -c; }
w=$(gz "$PKG_DIR/tradeloop_wasm_bg.wasm")
j=$(gz "$PKG_DIR/tradeloop_wasm.js")
echo "build.sh: $PKG_DIR gzip -9: tradeloop_wasm_bg.wasm $w B + tradeloop_wasm.js $j B = $((w + j)) B ($(((w + j + 512) / 1024)) KiB)"
