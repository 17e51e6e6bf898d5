#!/usr/bin/env bash
# Builds the AssemblyScript SMA crossover (strategy ABI v1) into
# strategies/assemblyscript/sma-cross-as.wasm, the file kept in the tree.
#
#   strategies/assemblyscript/build.sh           rebuild sma-cross-as.wasm
#   strategies/assemblyscript/build.sh --check   rebuild into a temporary file and fail if
#                                                it differs from the file in the tree (the
#                                                reproducible-build check of tests/run.sh)
#
# Either way it then checks the module's imports and exports (test/shape.mjs) and runs it on
# the bundled SPY hourly bars in a tiny node host (test/harness.mjs), which must see it trade.
#
# Installs the pinned compiler first if needed (npm ci: package-lock.json pins assemblyscript
# and binaryen). Needs node >= 20 with npm. Compiler options: asconfig.json (runtime "stub",
# abort routed to the module's own trapping function, so the only import is
# tradeloop_strategy.param).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

check=""
case "${1:-}" in
    "") ;;
    --check) check=1 ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac

# The pinned compiler, installed from package-lock.json unless that exact version is there.
want="$(node -p 'require("./package-lock.json").packages["node_modules/assemblyscript"].version')"
have="$(node -p 'try { require("./node_modules/assemblyscript/package.json").version } catch { "" }')"
if [[ "$have" != "$want" || ! -x node_modules/.bin/asc ]]; then
    echo "build.sh: installing assemblyscript $want (npm ci)" >&2
    npm ci --no-audit --no-fund >&2
fi

out="sma-cross-as.wasm"
if [[ -n "$check" ]]; then
    [[ -f "$out" ]] || {
        echo "build.sh --check: $here/$out is missing (run build.sh)" >&2
        exit 1
    }
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    node_modules/.bin/asc --config asconfig.json --outFile "$tmp/$out"
    if ! cmp -s "$tmp/$out" "$out"; then
        echo "build.sh --check: a fresh build differs from $here/$out" \
            "($(wc -c <"$tmp/$out") vs $(wc -c <"$out") bytes, sha256" \
            "$(sha256sum "$tmp/$out" | cut -c1-16) vs $(sha256sum "$out" | cut -c1-16));" \
            "rebuild it with build.sh and commit it" >&2
        exit 1
    fi
    node test/shape.mjs "$out"
    node test/harness.mjs --param size=1 "$out"
    echo "build.sh --check: $out is reproducible ($(wc -c <"$out") bytes, sha256 $(sha256sum "$out" | cut -d' ' -f1))"
else
    node_modules/.bin/asc --config asconfig.json --outFile "$out"
    node test/shape.mjs "$out"
    node test/harness.mjs --param size=1 "$out"
    echo "build.sh: wrote $here/$out ($(wc -c <"$out") bytes, sha256 $(sha256sum "$out" | cut -d' ' -f1))"
fi
