#!/usr/bin/env bash
# Builds the browser packages and the static site into web/ (then `python3 -m http.server -d web`):
#   web/pkg/     the lean package a paper-trading page needs (tradeloop-wasm without
#                features): tradeloop_wasm.js + tradeloop_wasm_bg.wasm + .d.ts
#                (wasm-bindgen --target web, then wasm-opt)
#   web/pkg-full/  the full package (feature `full`: schema 1-3 checkpoints, inspectCheckpoint,
#                rank, strategy backtests), loaded by the strategy experiments Worker
#   web/vendor/  lightweight-charts.standalone.production.js
#   web/data/    the bundled series SPY_1h.csv and BTC-USD_1d.csv
#   web/strategies/  the example strategy modules (strategies/build.sh): buy-and-hold.wasm,
#                sma-cross.wasm, rule.wasm, forecast.wasm, for the strategy experiments panel
# Installs what is missing (wasm-bindgen-cli pinned to the library's version, the rust
# target, web/node_modules), prints the gzipped size of each package's .wasm + .js and
# writes it to target/web-size.json (checked against web/size-budget.json by
# web/tests/size.mjs). Idempotent.
#
# Environment: PKG_DIR and WASM_FEATURES (cargo features, e.g. "bench") build ONE other
# variant of the package instead of the two above; CARGO_TARGET_DIR is honoured.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

WASM_BINDGEN_VERSION=0.2.130 # = the `wasm-bindgen` pin in crates/wasm/Cargo.toml
if [[ -n "${PKG_DIR:-}${WASM_FEATURES:-}" ]]; then
    variants=("${PKG_DIR:-web/pkg}:${WASM_FEATURES:-}")
else
    variants=("web/pkg:" "web/pkg-full:full")
fi
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

# 2. The wasm library (profile wasm-release in Cargo.toml: the kernels at opt-level 3, the
# rest for size; .cargo/config.toml adds simd128), 3. its JS glue, then size optimisation
# (features: what rustc 1.95 emits for wasm32 + simd128). One variant after the other: they
# share the cargo output path.
target_dir="${CARGO_TARGET_DIR:-$root/target}"
wasm="$target_dir/wasm32-unknown-unknown/wasm-release/tradeloop_wasm.wasm"
for v in "${variants[@]}"; do
    dir="${v%%:*}"
    feat="${v#*:}"
    features=()
    [[ -n "$feat" ]] && features=(--features "$feat")
    cargo build --profile wasm-release -p tradeloop-wasm --target wasm32-unknown-unknown "${features[@]}"
    rm -rf "$dir"
    wasm-bindgen --target web --out-dir "$dir" "$wasm"
    web/node_modules/.bin/wasm-opt -Oz \
        --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-reference-types --enable-multivalue \
        --strip-debug --strip-producers --strip-target-features \
        "$dir/tradeloop_wasm_bg.wasm" -o "$dir/tradeloop_wasm_bg.wasm"
done

# 4. The rest of the static site.
mkdir -p web/vendor web/data
cp web/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js web/vendor/
cp data/market/SPY_1h.csv data/market/BTC-USD_1d.csv web/data/
strategies/build.sh web/strategies

# 5. Download size: gzip -9 of the .wasm + .js each page fetches, printed and recorded.
gz() { gzip -9 -c "$1" | wc -c; }
sizes=()
for v in "${variants[@]}"; do
    dir="${v%%:*}"
    w=$(gz "$dir/tradeloop_wasm_bg.wasm")
    j=$(gz "$dir/tradeloop_wasm.js")
    echo "build.sh: $dir gzip -9: tradeloop_wasm_bg.wasm $w B + tradeloop_wasm.js $j B = $((w + j)) B ($(((w + j + 512) / 1024)) KiB)"
    sizes+=("\"$dir\": {\"wasm\": $w, \"js\": $j, \"total\": $((w + j))}")
done
if [[ -z "${PKG_DIR:-}${WASM_FEATURES:-}" ]]; then
    mkdir -p "$target_dir"
    (IFS=,; echo "{${sizes[*]}}") >"$target_dir/web-size.json"
fi
