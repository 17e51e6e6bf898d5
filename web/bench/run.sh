#!/usr/bin/env bash
# W1 side by side (tradeloop native, tradeloop-wasm and TF.js 4.22.0 cpu/wasm backends, in
# node and in headless Chromium) in ONE run, plus the gzipped download sizes.
#
#   web/bench/run.sh [--skip-build] [run.mjs options: --quick --only RT,... --no-native
#                    --no-node --no-chromium --core-o3 --out FILE]
#
# 1. web/build.sh (the shipped package in web/pkg, whose size is reported) unless --skip-build
# 2. npm ci in web/ (playwright-core) and web/bench/ (TF.js, pinned in web/bench/package.json)
# 3. the `bench` build of tradeloop-wasm (crates/wasm/src/bench.rs: class W1) by web/build.sh
#    too (same profile and wasm-opt), into web/bench/pkg, in its own target dir
#    (--core-o3: also web/bench/pkg-core-o3, the same with tradeloop-core at opt-level 3)
# 4. `cargo bench --no-run -p tradeloop-bench` (compiled before anything is timed)
# 5. node web/bench/run.mjs: prints one Markdown table, writes web/bench/results/w1-*.json
# Needs /usr/bin/chromium (apt-get install -y chromium) unless --no-chromium.
# Full run: about 5 minutes on a quiet 2-vCPU machine; every timed repetition waits until the
# 1-minute load average is < 1.2 (ANCHORS_LOAD_MAX), at most ANCHORS_WAIT_S (300) s each.
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WEB="$(dirname "$BENCH")"
REPO="$(dirname "$WEB")"
cd "$REPO"

build=1
core_o3=0
args=()
for a in "$@"; do
  if [ "$a" = "--skip-build" ]; then build=0; else args+=("$a"); fi
  if [ "$a" = "--core-o3" ]; then core_o3=1; fi
done

step() { echo "== [$(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] $*" >&2; }

if [ "$build" = 1 ]; then
  step "web/build.sh (shipped package)"
  "$WEB/build.sh" >&2
fi

[ -d "$WEB/node_modules/playwright-core" ] || { step "npm ci --prefix web"; npm ci --prefix "$WEB" --no-audit --no-fund >&2; }
# TF.js only when a TF.js runtime is selected (`--only native,tradeloop-step` needs none).
only="$(printf '%s\n' "${args[@]-}" | sed -n '/^--only$/{n;p;}')"
if { [ -z "$only" ] || [[ "$only" == *tfjs* ]]; } && {
     [ ! -d "$BENCH/node_modules/@tensorflow/tfjs-backend-wasm" ] ||
     [ "$BENCH/package-lock.json" -nt "$BENCH/node_modules/.package-lock.json" ]; }; then
  step "npm ci --prefix web/bench"
  npm ci --prefix "$BENCH" --no-audit --no-fund >&2
fi

if [ "$build" = 1 ] || [ ! -f "$BENCH/pkg/tradeloop_wasm_bg.wasm" ]; then
  # Same profile and post-processing as the shipped package (web/build.sh), plus the W1 class;
  # its own target dir, so it never overwrites the shipped build's artifacts.
  step "web/build.sh with WASM_FEATURES=bench PKG_DIR=web/bench/pkg (target dir target/wasm-bench)"
  WASM_FEATURES=bench PKG_DIR=web/bench/pkg CARGO_TARGET_DIR="$REPO/target/wasm-bench" "$WEB/build.sh" >&2
fi

if [ "$core_o3" = 1 ] && { [ "$build" = 1 ] || [ ! -f "$BENCH/pkg-core-o3/tradeloop_wasm_bg.wasm" ]; }; then
  # A variant that is not shipped: the same build with tradeloop-core at opt-level 3 (the
  # kernels), the rest as the wasm-release profile says.
  step "bench build with tradeloop-core at opt-level 3 -> web/bench/pkg-core-o3"
  TARGET_DIR="$REPO/target/wasm-bench"
  cargo build --profile wasm-release -p tradeloop-wasm --features bench --target wasm32-unknown-unknown \
    --target-dir "$TARGET_DIR" --config 'profile.wasm-release.package.tradeloop-core.opt-level=3' >&2
  rm -rf "$BENCH/pkg-core-o3"
  wasm-bindgen --target web --out-dir "$BENCH/pkg-core-o3" \
    "$TARGET_DIR/wasm32-unknown-unknown/wasm-release/tradeloop_wasm.wasm" >&2
  # The wasm-opt line of web/build.sh.
  opt_flags=$(grep -o 'wasm-opt -O[^"]*' "$WEB/build.sh" | head -1 | sed 's/^wasm-opt //; s/\\$//')
  "$WEB/node_modules/.bin/wasm-opt" ${opt_flags:--Oz} \
    --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$BENCH/pkg-core-o3/tradeloop_wasm_bg.wasm" -o "$BENCH/pkg-core-o3/tradeloop_wasm_bg.wasm" >&2
fi

if [[ " ${args[*]-} " != *" --no-native "* ]]; then
  step "cargo bench --no-run -p tradeloop-bench"
  cargo bench --no-run -p tradeloop-bench --bench workloads >&2 2>&1
fi

step "node web/bench/run.mjs ${args[*]-}"
exec node "$BENCH/run.mjs" "${args[@]}"
