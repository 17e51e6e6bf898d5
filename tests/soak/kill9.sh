#!/usr/bin/env bash
# The kill -9 soak: `tests/soak/kill9.sh [N]` (default 100).
#
# N times, it starts one `tradeloop` command on the same state directory (record entry,
# record exit, learn, paper, checkpoint, schedule, chosen at random), SIGKILLs it at a random
# moment (from right after the start to past the command's usual end), then checks:
#   - the state opens (`trades` succeeds);
#   - every acknowledged entry (an id printed) is in the journal, every acknowledged exit
#     (its reply printed) left its trade closed at that price;
#   - the journal's event count never went down, and is at least the number of acknowledged
#     state-changing commands.
# It exits non-zero at the first violation, printing it. At the end it prints one line:
#   kill9: N kills (K mid-command), A entries and X exits acknowledged, 0 lost, E events
#
# TRADELOOP_BIN names the binary (default: builds and uses target/release/tradeloop).
# Needs: bash, jq, sqlite3 (read-only queries of the journal between kills).
set -euo pipefail

n="${1:-100}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -z "${TRADELOOP_BIN:-}" ]; then
    cargo build -q --release -p tradeloop-host --manifest-path "$root/Cargo.toml"
    TRADELOOP_BIN="$root/target/release/tradeloop"
fi
bin="$TRADELOOP_BIN"
for tool in jq sqlite3; do
    command -v "$tool" >/dev/null || { echo "kill9: needs $tool" >&2; exit 2; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
state="$work/state"
config="$work/soak.toml"
# Checkpoints every 5 events, so kills land in checkpoint writes too; a 1 s schedule poll;
# every closed trade kept (the default keeps the newest 1,000, and `paper` closes many), so
# that every acknowledged exit can be checked.
printf 'checkpoint_every = 5\nkeep_checkpoints = 2\nschedule_poll_secs = 1\n[engine.journal]\nmax_closed = 1000000\n' >"$config"
head -n 301 "$root/data/market/BTC-USD_1d.csv" >"$work/bars.csv"
tl() { "$bin" --state "$state" --config "$config" "$@"; }
tl init >/dev/null

events() { sqlite3 "file:$state/journal.sqlite?mode=ro" "SELECT COUNT(*) FROM events"; }
ms() { date +%s%3N; }

# How long each command usually takes here (ms), so kills spread over its whole run.
declare -A took
t0=$(ms); tl --json record entry --symbol WARM --side long --price 1 >/dev/null; took[entry]=$(( $(ms) - t0 ))
took[exit]=${took[entry]}
t0=$(ms); tl --json learn >/dev/null; took[learn]=$(( $(ms) - t0 ))
t0=$(ms); tl checkpoint >/dev/null; took[checkpoint]=$(( $(ms) - t0 ))
t0=$(ms); tl --json paper --data "$work/bars.csv" >/dev/null; took[paper]=$(( $(ms) - t0 ))
took[schedule]=1500

declare -A open_price     # acknowledged open trade id -> 1
declare -A closed_price   # acknowledged closed trade id -> exit price
acked=0 entries=0 exits=0 mid=0 last_events=$(events)
kinds=(entry entry entry exit exit learn paper checkpoint schedule)

for ((i = 1; i <= n; i++)); do
    kind=${kinds[$((RANDOM % ${#kinds[@]}))]}
    price="$((RANDOM % 500 + 1)).$((RANDOM % 100))"
    case $kind in
        entry) args=(--json record entry --symbol "S$((RANDOM % 20))" --side long --price "$price") ;;
        exit)
            ids=("${!open_price[@]}")
            if [ ${#ids[@]} -eq 0 ]; then
                kind=entry
                args=(--json record entry --symbol S0 --side short --price "$price")
            else
                id=${ids[$((RANDOM % ${#ids[@]}))]}
                args=(--json record exit --trade-id "$id" --price "$price")
            fi
            ;;
        learn) args=(--json learn) ;;
        paper) args=(--json paper --data "$work/bars.csv") ;;
        checkpoint) args=(checkpoint) ;;
        schedule) args=(schedule) ;;
    esac
    span=$(( took[$kind] * 3 / 2 + 1 ))
    delay=$(( RANDOM * 32768 + RANDOM ))
    delay=$(( delay % span ))
    # The binary itself in the background (not the `tl` function, whose subshell would be
    # the process killed), so that $! is tradeloop's own pid.
    "$bin" --state "$state" --config "$config" "${args[@]}" >"$work/out" 2>"$work/err" &
    pid=$!
    sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null && mid=$((mid + 1)) || true
    fi
    wait "$pid" 2>/dev/null || true

    # What this command acknowledged.
    if [ -s "$work/out" ] && jq -e . "$work/out" >/dev/null 2>&1; then
        case $kind in
            entry)
                id=$(jq -r '.trade_id' "$work/out")
                open_price[$id]=1; entries=$((entries + 1)); acked=$((acked + 1)) ;;
            exit)
                id=$(jq -r '.trade_id' "$work/out")
                unset "open_price[$id]"; closed_price[$id]=$price; exits=$((exits + 1)); acked=$((acked + 1)) ;;
            learn) acked=$((acked + 1)) ;;
        esac
    fi

    # The checks.
    if ! tl --json trades --limit 1000000 >"$work/trades" 2>"$work/err"; then
        echo "kill9: after kill $i ($kind) the state does not open: $(cat "$work/err")" >&2
        exit 1
    fi
    # Every acknowledged entry is in the journal, every acknowledged exit closed its trade
    # at its price: one pass of jq over the trades.
    printf '%s\n' "${!open_price[@]}" | jq -R 'select(length > 0) | tonumber' | jq -s . >"$work/open.json"
    for id in "${!closed_price[@]}"; do printf '%s %s\n' "$id" "${closed_price[$id]}"; done |
        jq -R 'select(length > 0) | split(" ") | {key: .[0], value: (.[1] | tonumber)}' |
        jq -s 'from_entries' >"$work/closed.json"
    lost=$(jq -c --slurpfile open "$work/open.json" --slurpfile closed "$work/closed.json" '
        (map({key: (.id | tostring), value: .}) | from_entries) as $t
        | [($open[0][] | tostring | select($t[.] == null) | "entry \(.)"),
           ($closed[0] | to_entries[]
             | select($t[.key] == null or $t[.key].close == null or $t[.key].close.price != .value)
             | "exit of trade \(.key)")]' "$work/trades")
    if [ "$lost" != "[]" ]; then
        echo "kill9: after kill $i ($kind) acknowledged and lost: $lost" >&2
        exit 1
    fi
    now_events=$(events)
    if [ "$now_events" -lt "$last_events" ] || [ "$now_events" -lt "$acked" ]; then
        echo "kill9: after kill $i ($kind) the journal has $now_events events (before: $last_events, acknowledged: $acked)" >&2
        exit 1
    fi
    last_events=$now_events
done

echo "kill9: $n kills ($mid mid-command), $entries entries and $exits exits acknowledged, 0 lost, $last_events events"
