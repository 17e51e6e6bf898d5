#!/usr/bin/env bash
# Runs cargo-fuzz targets of tradeloop for SECONDS each (default 600), one after another:
# the TARGETs named, or all five (checkpoint_restore, abi_request, journal_decode,
# market_csv, config_toml).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Only config_toml needs the host crate (wasmtime, tract, SQLite); without it the build takes
# the core alone (`--no-default-features`), which is what the test command's short run does.
#
# With a nightly toolchain installed it fuzzes with `cargo +nightly fuzz` (AddressSanitizer);
# otherwise on the stable toolchain of rust-toolchain.toml with `cargo fuzz run -s none`
# (coverage-guided, no sanitizer); TRADELOOP_FUZZ_STABLE=1 asks for the latter even when a
# nightly is there. cargo-fuzz is installed if missing.
#
# Each target runs on a temporary copy of its corpus: libFuzzer writes new inputs into the
# first corpus directory, which is the temporary one, and only reads fuzz/corpus/<target>,
# so the committed corpora are not modified. Set TRADELOOP_FUZZ_GROW=1 to let a (long) run
# add its new inputs to fuzz/corpus/<target> instead (then `cargo fuzz cmin` it).
#
# Crash inputs land in fuzz/artifacts/<target>/ (ignored by git). The script runs every
# target even if one fails and exits non-zero if any target crashed or failed to build.
# Build output goes to $CARGO_TARGET_DIR if set, else fuzz/target (ignored by git).
set -euo pipefail

secs="${1:-600}"
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
    echo "usage: $0 [SECONDS] [TARGET...]  (SECONDS a positive whole number; default 600)" >&2
    exit 2
fi
shift || true

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$fuzz_dir")"
cd "$root"

all=(checkpoint_restore abi_request journal_decode market_csv config_toml)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi
features=(--no-default-features)
for target in "${targets[@]}"; do
    [[ " ${all[*]} " == *" $target "* ]] || { echo "run.sh: unknown target $target" >&2; exit 2; }
    [ "$target" != config_toml ] || features=()
done

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# Is a nightly toolchain installed? (Asked without `cargo +nightly`, which could make
# rustup try to install one.)
if [ "${TRADELOOP_FUZZ_STABLE:-0}" != 1 ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
    sanitizer=()
    echo "run.sh: nightly toolchain found: fuzzing with AddressSanitizer" >&2
else
    fuzz=(cargo fuzz)
    sanitizer=(-s none)
    echo "run.sh: fuzzing on stable without a sanitizer (-s none): TRADELOOP_FUZZ_STABLE=1, or no nightly toolchain" >&2
fi

for target in "${targets[@]}"; do
    "${fuzz[@]}" build "${sanitizer[@]}" "${features[@]}" "$target"
done

tmp_root="$(mktemp -d "${TMPDIR:-/tmp}/tradeloop-fuzz.XXXXXX")"
trap 'rm -rf "$tmp_root"' EXIT

failed=()
for target in "${targets[@]}"; do
    committed="fuzz/corpus/$target"
    mkdir -p "$committed"
    if [ "${TRADELOOP_FUZZ_GROW:-0}" = 1 ]; then
        corpora=("$committed")
    else
        work="$tmp_root/$target"
        mkdir -p "$work"
        corpora=("$work" "$committed")
    fi
    echo "run.sh: fuzzing $target for ${secs}s" >&2
    if ! "${fuzz[@]}" run "${sanitizer[@]}" "${features[@]}" "$target" "${corpora[@]}" -- \
        -max_total_time="$secs" -rss_limit_mb=2048; then
        echo "run.sh: $target FAILED (crash input, if any, in fuzz/artifacts/$target/)" >&2
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "run.sh: failed targets: ${failed[*]}" >&2
    exit 1
fi
echo "run.sh: ${targets[*]}: ${secs}s each without a crash" >&2
