#!/usr/bin/env python3
"""Backtrader's classic SMA crossover on a tradeloop candle CSV; prints its trades as JSON.

    python backtrader_sma.py [--data data/market/SPY_1h.csv] [--fast 10] [--slow 30]
                             [--size 1] [--cash 10000]

The strategy is backtrader's textbook one: bt.ind.SMA(close, fast) and bt.ind.SMA(close, slow),
bt.ind.CrossOver of the two; not in the market and crossover > 0: buy(size); in the market and
crossover < 0: close(). Market orders fill at the next bar's open (backtrader's default: no
cheat-on-open, no cheat-on-close), no commission, no slippage, starting cash 10000.

The CSV is read as tradeloop reads it (crates/core/src/market/csv.rs): header
timestamp,open,high,low,close,volume (case-insensitive), optional byte-order mark, blank lines
skipped, cells trimmed and unquoted, timestamps as unix seconds or ISO-8601 UTC, numbers
parsed with float() (correctly rounded, as Rust's f64 parser). The bars are handed to
backtrader from memory, so bar index 0 is the first data row of the CSV.

Output (stdout), one JSON object:
    {"backtrader_version": "...", "bars": N, "params": {...},
     "trades": [{"entry_bar", "exit_bar", "entry_price", "exit_price", "side": "long",
                 "size"}...],
     "open_position": null or {"entry_bar", "entry_price", "side", "size"}}
Only closed round trips are in "trades"; a position still open at the end is
"open_position" (backtrader leaves it open). Used by scripts/crosscheck/run.sh.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

import backtrader as bt

HEADER = ["timestamp", "open", "high", "low", "close", "volume"]


def parse_time(cell: str) -> dt.datetime:
    """Unix seconds or ISO-8601 UTC, as a naive UTC datetime."""
    if cell.lstrip("-").isdigit():
        return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=int(cell))
    t = dt.datetime.fromisoformat(cell.replace("Z", "+00:00"))
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return t


def read_bars(path: str) -> list[tuple[dt.datetime, float, float, float, float, float]]:
    with open(path, encoding="utf-8-sig") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    if not lines or [c.strip().lower() for c in lines[0].split(",")] != HEADER:
        sys.exit(f"backtrader_sma.py: {path}: expected the header {','.join(HEADER)}")
    bars = []
    for n, line in enumerate(lines[1:], start=2):
        cells = [c.strip() for c in line.split(",")]
        cells = [c[1:-1] if len(c) >= 2 and c[0] == c[-1] == '"' else c for c in cells]
        if len(cells) != 6:
            sys.exit(f"backtrader_sma.py: {path}: row {n}: expected 6 cells")
        bars.append((parse_time(cells[0]), *(float(c) for c in cells[1:])))
    return bars


class ListFeed(bt.feed.DataBase):
    """Bars from a Python list (datetime, open, high, low, close, volume)."""

    params = (("rows", None),)

    def start(self):
        super().start()
        self._i = 0

    def _load(self):
        if self._i >= len(self.p.rows):
            return False
        t, o, h, lo, c, v = self.p.rows[self._i]
        self._i += 1
        self.lines.datetime[0] = bt.date2num(t)
        self.lines.open[0] = o
        self.lines.high[0] = h
        self.lines.low[0] = lo
        self.lines.close[0] = c
        self.lines.volume[0] = v
        self.lines.openinterest[0] = 0.0
        return True


class SmaCross(bt.Strategy):
    params = (("fast", 10), ("slow", 30), ("size", 1), ("fills", None))

    def __init__(self):
        fast = bt.ind.SMA(self.data.close, period=self.p.fast)
        slow = bt.ind.SMA(self.data.close, period=self.p.slow)
        self.crossover = bt.ind.CrossOver(fast, slow)

    def next(self):
        if not self.position and self.crossover > 0:
            self.buy(size=self.p.size)
        elif self.position and self.crossover < 0:
            self.close()

    def notify_order(self, order):
        if order.status == order.Completed and self.p.fills is not None:
            # Notified on the bar the order executed on (its open).
            self.p.fills.append(
                {
                    "bar": len(self.data) - 1,
                    "time": bt.num2date(order.executed.dt),
                    "buy": order.isbuy(),
                    "size": order.executed.size,
                    "price": order.executed.price,
                }
            )


def run(bars, fast: int, slow: int, size: float, cash: float) -> dict:
    fills: list[dict] = []
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(ListFeed(rows=bars))
    cerebro.addstrategy(SmaCross, fast=fast, slow=slow, size=size, fills=fills)
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=0.0)
    cerebro.run()

    trades = []
    opened = None
    position = 0.0
    for f in fills:
        t = bars[f["bar"]][0]
        if abs((f["time"] - t).total_seconds()) > 1:
            sys.exit(f"backtrader_sma.py: fill time {f['time']} is not bar {f['bar']} ({t})")
        before = position
        position += f["size"]
        if before == 0:
            opened = f
        elif position == 0:
            trades.append(
                {
                    "entry_bar": opened["bar"],
                    "exit_bar": f["bar"],
                    "entry_price": opened["price"],
                    "exit_price": f["price"],
                    "side": "long" if opened["buy"] else "short",
                    "size": abs(opened["size"]),
                }
            )
            opened = None
    open_position = None
    if opened is not None:
        open_position = {
            "entry_bar": opened["bar"],
            "entry_price": opened["price"],
            "side": "long" if opened["buy"] else "short",
            "size": abs(position),
        }
    return {
        "backtrader_version": bt.__version__,
        "bars": len(bars),
        "params": {"fast": fast, "slow": slow, "size": size, "cash": cash},
        "trades": trades,
        "open_position": open_position,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/market/SPY_1h.csv")
    ap.add_argument("--fast", type=int, default=10)
    ap.add_argument("--slow", type=int, default=30)
    ap.add_argument("--size", type=float, default=1.0)
    ap.add_argument("--cash", type=float, default=10000.0)
    a = ap.parse_args()
    out = run(read_bars(a.data), a.fast, a.slow, a.size, a.cash)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
