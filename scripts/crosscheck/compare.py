#!/usr/bin/env python3
"""Compares tradeloop's SMA crossover trades with backtrader's; prints a one-line summary.

    python compare.py TRADELOOP.json BACKTRADER.json [--strategy sma-cross] [--same NAME]...

TRADELOOP.json is the output of `tradeloop experiment --json` (contract:
{"series": [{"name", "bars", "strategies": [{"name", "trade_hash", "trades": [{"long",
"entry_bar", "exit_bar", "entry_price", "exit_price", "size", "end_of_data", ...}]}]}]});
BACKTRADER.json that of backtrader_sma.py. A tradeloop trade with "end_of_data": true is a
position still open when the data ended (marked at the last close): it is not a closed trade,
and is compared with backtrader's "open_position" instead (same entry bar, price and size).

Closed trades must agree one for one: entry and exit bar indices, side, size, and entry and
exit prices (exactly; otherwise the largest difference is reported). --same NAME also requires
strategy NAME of the same tradeloop run to have exactly the trades (and trade_hash) of
--strategy: the AssemblyScript build of the same strategy. Exit status 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tradeloop")
    ap.add_argument("backtrader")
    ap.add_argument("--strategy", default="sma-cross")
    ap.add_argument("--series", default=None, help="series name (default: the first)")
    ap.add_argument("--same", action="append", default=[])
    a = ap.parse_args()

    with open(a.tradeloop) as f:
        tl = json.load(f)
    with open(a.backtrader) as f:
        bt = json.load(f)

    series = tl["series"]
    s = next((x for x in series if a.series in (None, x["name"])), None)
    if s is None:
        print(f"crosscheck: FAIL: no series {a.series!r} in {a.tradeloop}")
        return 1
    by_name = {x["name"]: x for x in s["strategies"]}
    problems: list[str] = []
    if a.strategy not in by_name:
        print(f"crosscheck: FAIL: no strategy {a.strategy!r} in {a.tradeloop} (has {sorted(by_name)})")
        return 1
    strat = by_name[a.strategy]
    if strat.get("stopped"):
        problems.append(f"{a.strategy} was stopped: {strat['stopped']}")
    if s["bars"] != bt["bars"]:
        problems.append(f"bars: tradeloop {s['bars']}, backtrader {bt['bars']}")

    mine = [t for t in strat["trades"] if not t.get("end_of_data")]
    still_open = [t for t in strat["trades"] if t.get("end_of_data")]
    theirs = bt["trades"]
    if len(mine) != len(theirs):
        problems.append(f"closed trades: tradeloop {len(mine)}, backtrader {len(theirs)}")

    max_diff = 0.0
    first_bad = None
    bar_mismatches = 0
    for i, (m, b) in enumerate(zip(mine, theirs)):
        side = "long" if m["long"] else "short"
        same_bars = (m["entry_bar"], m["exit_bar"], side) == (b["entry_bar"], b["exit_bar"], b["side"])
        if not same_bars:
            bar_mismatches += 1
        d = max(
            abs(m["entry_price"] - b["entry_price"]),
            abs(m["exit_price"] - b["exit_price"]),
        )
        max_diff = max(max_diff, d)
        if m["size"] != b["size"]:
            same_bars = False
        if (not same_bars or d != 0.0) and first_bad is None:
            first_bad = (i, m, b)
    if bar_mismatches:
        problems.append(f"{bar_mismatches} trades differ in entry/exit bar or side")
    if max_diff != 0.0:
        problems.append(f"prices differ, largest |difference| {max_diff!r}")
    if first_bad is not None:
        i, m, b = first_bad
        keys = ("entry_bar", "exit_bar", "entry_price", "exit_price", "size")
        problems.append(
            f"first difference at trade {i}: tradeloop {dict((k, m[k]) for k in keys)}, "
            f"backtrader {dict((k, b[k]) for k in keys)}"
        )

    # The position open at the end.
    bo = bt.get("open_position")
    if len(still_open) > 1:
        problems.append(f"{len(still_open)} end-of-data trades")
    mo = still_open[0] if still_open else None
    if (mo is None) != (bo is None):
        problems.append(f"open at the end: tradeloop {mo is not None}, backtrader {bo is not None}")
    elif mo is not None and (mo["entry_bar"], mo["entry_price"], mo["size"]) != (
        bo["entry_bar"],
        bo["entry_price"],
        bo["size"],
    ):
        problems.append(
            f"open position at the end: tradeloop bar {mo['entry_bar']} @ {mo['entry_price']} x {mo['size']}, "
            f"backtrader bar {bo['entry_bar']} @ {bo['entry_price']} x {bo['size']}"
        )

    same_notes = []
    for name in a.same:
        other = by_name.get(name)
        if other is None:
            problems.append(f"no strategy {name!r} in the tradeloop run")
            continue
        if other.get("stopped"):
            problems.append(f"{name} was stopped: {other['stopped']}")
        if other["trades"] != strat["trades"] or other["trade_hash"] != strat["trade_hash"]:
            problems.append(
                f"{name} trades differ from {a.strategy} (trade_hash {other['trade_hash'][:16]} vs {strat['trade_hash'][:16]})"
            )
        else:
            same_notes.append(f"{name} identical to {a.strategy} (trade_hash {strat['trade_hash'][:16]})")

    if problems:
        print(f"crosscheck: FAIL: {a.strategy} on {s['name']}: " + "; ".join(problems))
        return 1
    end = f"open at the end from bar {mo['entry_bar']} in both" if mo else "flat at the end in both"
    extra = "".join(f"; {n}" for n in same_notes)
    print(
        f"crosscheck: OK: {a.strategy} on {s['name']} ({s['bars']} bars) = backtrader "
        f"{bt.get('backtrader_version', '')}: {len(mine)} closed trades, same entry/exit bars, "
        f"prices identical (largest |difference| {max_diff!r}); {end}{extra}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
