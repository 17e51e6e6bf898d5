#!/usr/bin/env bash
# W6 on all six series of the shared market data, in one session: `tradeloop evaluate` (the
# served forecast, its experts, the running prior, a frozen network) and the online peers of
# shared/bench/anchors/prequential_river.py on the same streams, one table.
#
#   crates/bench/six-series.sh [DATA_DIR] > six-series.md
#
# DATA_DIR defaults to ../shared/data/market next to the repository; ANCHORS_DIR and
# ANCHORS_VENV as for `cargo bench -- --peers` (defaults ../shared/bench/anchors and
# ~/.cache/anchors-venv); PEERS picks the peer models (default majority,vw,vw_quad,softmax,
# torch_mlp). Without the peers' venv only tradeloop's figures are taken.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
data="${1:-$repo/../shared/data/market}"
anchors="${ANCHORS_DIR:-$repo/../shared/bench/anchors}"
venv="${ANCHORS_VENV:-$HOME/.cache/anchors-venv}"
peers="${PEERS:-majority,vw,vw_quad,softmax,torch_mlp}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# The W6 streams: SPY from 2007 (the spec's start), the others whole.
series=(SPY_1h@2007-01-01 EURUSD_1h XAUUSD_1h ORCL_1d ETH-BTC_5m BTC-USD_1d)

cargo build --release -q -p tradeloop-host --manifest-path "$repo/Cargo.toml"
tradeloop="$repo/target/release/tradeloop"

for s in "${series[@]}"; do
    name="${s%@*}"
    from=()
    [[ "$s" == *@* ]] && from=(--from "${s#*@}")
    echo "[six-series] tradeloop evaluate $name" >&2
    "$tradeloop" evaluate --data "$data/$name.csv" "${from[@]}" --json > "$out/$name.json"
done

if [[ -x "$venv/bin/python" && -f "$anchors/prequential_river.py" ]]; then
    specs=()
    for s in "${series[@]}"; do specs+=("$data/${s%@*}.csv${s#"${s%@*}"}"); done
    echo "[six-series] peers: $peers" >&2
    (cd "$anchors" && "$venv/bin/python" prequential_river.py --series "${specs[@]}" \
        --models "$peers" --results "$out/peers.jsonl" >&2)
else
    echo "[six-series] peers not run: no $venv/bin/python or $anchors/prequential_river.py" >&2
fi

python3 "$repo/crates/bench/six_series_table.py" "$out" "${series[@]}"
