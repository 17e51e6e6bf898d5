#!/usr/bin/env bash
# Packs the browser package as the npm package `tradeloop` (after web/build.sh):
#
#   web/npm/pack.sh [OUT_DIR]        (default OUT_DIR: target/npm; from anywhere)
#
# Assembles OUT_DIR/package from web/npm/package.json (the template; the version comes from
# `[workspace.package] version` in Cargo.toml), web/npm/README.md, LICENSE-MIT,
# LICENSE-APACHE and the wasm-bindgen output: web/pkg at the package root (export ".", the
# lean build the paper-trading page needs) and, if the directory web/pkg-full exists, that
# build in full/ (export "./full"); without it the "./full" entries are left out. Then runs
# `npm pack` into OUT_DIR and prints the tarball's path and size. Nothing is written inside
# the source builds. Needs node and npm.
#
# Environment: PKG_DIR (default web/pkg) and PKG_FULL_DIR (default web/pkg-full) take the
# builds from elsewhere (relative paths are from the repository root).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
die() {
    echo "pack.sh: $*" >&2
    exit 1
}

out="$(realpath -m "${1:-$root/target/npm}")"
cd "$root"
pkg="$(realpath -m "${PKG_DIR:-web/pkg}")"
full="$(realpath -m "${PKG_FULL_DIR:-web/pkg-full}")"
FILES=(tradeloop_wasm.js tradeloop_wasm_bg.wasm tradeloop_wasm.d.ts)

# 1. Inputs, checked before anything is written.
for f in "${FILES[@]}"; do
    [[ -f "$pkg/$f" ]] || die "$pkg/$f is missing: run web/build.sh first"
done
with_full=0
if [[ -d "$full" ]]; then
    with_full=1
    for f in "${FILES[@]}"; do
        [[ -f "$full/$f" ]] || die "$full/$f is missing (the full build is incomplete)"
    done
fi
for src in "$pkg" "$full" "$(realpath -m web/pkg)" "$(realpath -m web/pkg-full)"; do
    case "$out/" in
    "$src/"*) die "OUT_DIR $out is inside the build $src" ;;
    esac
done
version="$(awk '
    /^\[/ { section = $0 }
    section == "[workspace.package]" && $1 == "version" { gsub(/"/, "", $3); print $3; exit }
' Cargo.toml)"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "no [workspace.package] version in Cargo.toml"

# 2. The package directory (a previous one of ours is replaced, anything else is refused).
stage="$out/package"
if [[ -e "$stage" ]]; then
    if [[ -n "$(ls -A "$stage")" ]] &&
        ! node -e 'process.exit(require(process.argv[1]).name === "tradeloop" ? 0 : 1)' \
            "$stage/package.json" 2>/dev/null; then
        die "$stage exists and is not a tradeloop package directory; not touching it"
    fi
    rm -rf "$stage"
fi
mkdir -p "$stage"
cp "${FILES[@]/#/$pkg/}" "$stage/"
if ((with_full)); then
    mkdir "$stage/full"
    cp "${FILES[@]/#/$full/}" "$stage/full/"
fi
cp web/npm/README.md LICENSE-MIT LICENSE-APACHE "$stage/"
node - web/npm/package.json "$stage/package.json" "$version" "$with_full" <<'EOF'
const fs = require('node:fs');
const [template, dest, version, withFull] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(template, 'utf8'));
pkg.version = version;
if (withFull !== '1') {
  for (const key of Object.keys(pkg.exports)) if (key.startsWith('./full')) delete pkg.exports[key];
  pkg.files = pkg.files.filter((f) => !f.startsWith('full/'));
}
fs.writeFileSync(dest, JSON.stringify(pkg, null, 2) + '\n');
EOF

# 3. The tarball.
tgz="$(cd "$stage" && npm pack --silent --pack-destination "$out" | tail -n 1)"
[[ -f "$out/$tgz" ]] || die "npm pack did not write $out/$tgz"
size=$(wc -c <"$out/$tgz")
builds="web/pkg"
((with_full)) && builds="$builds + full"
echo "pack.sh: $out/$tgz $size B ($(((size + 512) / 1024)) KiB; $builds)"
