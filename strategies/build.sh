#!/usr/bin/env bash
# Builds the example strategies (Rust, strategy ABI v1) for wasm32-unknown-unknown into
# OUT_DIR (default target/strategies) as buy-and-hold.wasm, sma-cross.wasm, rule.wasm and
# forecast.wasm. The host's build.rs builds the same crates the same way for its tests and
# embeds buy-and-hold; web/build.sh copies them into the page.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/target/strategies}"
target_dir="${CARGO_TARGET_DIR:-$root/target}/strategies-wasm"
mkdir -p "$out"
names=(buy-and-hold sma-cross rule forecast)
args=()
for n in "${names[@]}"; do args+=(-p "tradeloop-strategy-$n"); done
CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=debuginfo \
    cargo build --manifest-path "$root/Cargo.toml" --release --target wasm32-unknown-unknown \
    --target-dir "$target_dir" "${args[@]}"
for n in "${names[@]}"; do
    cp "$target_dir/wasm32-unknown-unknown/release/tradeloop_strategy_${n//-/_}.wasm" "$out/$n.wasm"
done
ls -l "$out"/*.wasm >&2
