#!/usr/bin/env python3
"""Strategy-bars per second: tradeloop's sandboxed strategies against backtrader and backtesting.py.

    python strategies.py --bin target/release/tradeloop --wasm target/strategies/sma-cross.wasm
                         [--data data/market/SPY_1h.csv] [--counts 1,8,64]
                         [--repeat 3] [--peer-repeat 1]

Run through scripts/bench/strategies.sh, which sets up the venv and the binary. Every figure is
measured in this run; nothing is hard-coded. The same SMA crossover (fast 10, slow 30, size 1,
market orders at the next open, no fees, cash 10000) on the same bars, N = 1, 8, 64 strategies:

* tradeloop: `tradeloop experiment --strategy S1.wasm ... --strategy SN.wasm --json`, N copies
  of sma-cross.wasm under distinct names (the CLI names strategies by file stem and refuses
  duplicates). In-process figure: timing.strategy_bars / timing.run_seconds from the JSON
  (instantiation, init and the lockstep loop; strategy_bars counts the buy-and-hold baseline
  lane the CLI always adds, so (N+1) x bars). Wall figure: the same strategy-bars over the
  wall time of the whole command (process start, CSV parse, compile, engine forks, JSON).
  Best of --repeat runs (run_seconds and wall time each their own best).
* backtrader: N backtests of bt.ind.SMA / bt.ind.CrossOver (scripts/crosscheck/backtrader_sma.py's
  strategy) in one cerebro.run() via cerebro.optstrategy (maxcpus=1, the bars preloaded once,
  runonce, stdstats=False). Not cerebro.addstrategy N times: those strategies would share one
  broker and one position, so they would not each run the crossover. Time of cerebro.run();
  N x bars strategy-bars. Best of --peer-repeat.
* backtesting.py: one Backtest on a pandas DataFrame of the bars, .run() N times (SMA from
  backtesting.test.SMA, the same last-non-zero-difference cross as tradeloop's strategy); time
  of the N runs (each computes its statistics at the end, as .run() always does); N x bars.

Ratios are tradeloop's strategy-bars/s over the peer's, per strategy-bar. "SMA lanes only"
counts N x bars for tradeloop too (the buy-and-hold lane's time is then overhead).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ beside backtrader_sma.py in the tree
sys.path.insert(0, os.path.join(HERE, "..", "crosscheck"))

import backtrader as bt  # noqa: E402
import backtesting  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from backtesting.test import SMA  # noqa: E402

from backtrader_sma import ListFeed, SmaCross, read_bars  # noqa: E402

FAST, SLOW, SIZE, CASH = 10, 30, 1, 10000.0


def run_tradeloop(binary: str, wasm: str, data: str, n: int, work: str) -> dict:
    d = os.path.join(work, f"n{n}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "P.toml"), "w") as f:
        f.write(f"fast = {FAST}\nslow = {SLOW}\nsize = {SIZE}\n")
    cmd = [binary, "experiment", "--params", os.path.join(d, "P.toml"), "--data", data, "--json"]
    for i in range(1, n + 1):
        p = os.path.join(d, f"sma-cross-{i}.wasm")
        if not os.path.exists(p):
            shutil.copyfile(wasm, p)
        cmd += ["--strategy", p]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"strategies.py: {' '.join(cmd[:4])} ... failed ({r.returncode}):\n{r.stderr}")
    out = json.loads(r.stdout)
    timing = out["timing"]
    series = out["series"][0]
    smas = [s for s in series["strategies"] if s["name"].startswith("sma-cross-")]
    if len(smas) != n:
        sys.exit(f"strategies.py: expected {n} sma-cross strategies, got {len(smas)}")
    hashes = {s["trade_hash"] for s in smas}
    stopped = [s["name"] for s in smas if s.get("stopped")]
    if len(hashes) != 1 or stopped:
        sys.exit(f"strategies.py: the copies disagree or stopped: {len(hashes)} hashes, stopped {stopped}")
    closed = sum(1 for t in smas[0]["trades"] if not t.get("end_of_data"))
    return {
        "run_seconds": timing["run_seconds"],
        "strategy_bars": timing["strategy_bars"],
        "wall_seconds": wall,
        "bars": series["bars"],
        "lanes": len(series["strategies"]),
        "trades": closed,
    }


class CountingSmaCross(SmaCross):
    """backtrader_sma.SmaCross, counting its closed trades."""

    closed_counts: list[int] = []

    def start(self):
        self._closed = 0

    def notify_trade(self, trade):
        if trade.isclosed:
            self._closed += 1

    def stop(self):
        CountingSmaCross.closed_counts.append(self._closed)


def run_backtrader(rows: list, n: int) -> dict:
    CountingSmaCross.closed_counts = []
    cerebro = bt.Cerebro(stdstats=False, maxcpus=1, optreturn=True, optdatas=True)
    cerebro.adddata(ListFeed(rows=rows))
    cerebro.optstrategy(CountingSmaCross, fast=[FAST] * n, slow=[SLOW], size=[SIZE])
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=0.0)
    t0 = time.perf_counter()
    cerebro.run()
    secs = time.perf_counter() - t0
    counts = CountingSmaCross.closed_counts
    if len(counts) != n or len(set(counts)) != 1:
        sys.exit(f"strategies.py: backtrader ran {len(counts)} strategies with trade counts {set(counts)}")
    return {"seconds": secs, "strategy_bars": n * len(rows), "trades": counts[0]}


class BtpSmaCross(backtesting.Strategy):
    fast = FAST
    slow = SLOW
    size = SIZE

    def init(self):
        close = self.data.Close
        self.f = self.I(SMA, close, self.fast)
        self.s = self.I(SMA, close, self.slow)
        self.last = 0.0

    def next(self):
        d = self.f[-1] - self.s[-1]
        before = self.last
        if d != 0:
            self.last = d
        if not self.position and before < 0 and d > 0:
            self.buy(size=self.size)
        elif self.position and before > 0 and d < 0:
            self.position.close()


def run_backtesting(frame: pd.DataFrame, n: int) -> dict:
    bt_ = backtesting.Backtest(frame, BtpSmaCross, cash=CASH, commission=0.0)
    trades = set()
    t0 = time.perf_counter()
    for _ in range(n):
        stats = bt_.run()
        trades.add(len(stats["_trades"]))
    secs = time.perf_counter() - t0
    if len(trades) != 1:
        sys.exit(f"strategies.py: backtesting.py runs disagree: {trades}")
    return {"seconds": secs, "strategy_bars": n * len(frame), "trades": trades.pop()}


def fmt_rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def fmt_ratio(x: float) -> str:
    return f"{x:,.0f}x" if x >= 10 else f"{x:.1f}x"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--data", default="data/market/SPY_1h.csv")
    ap.add_argument("--counts", default="1,8,64")
    ap.add_argument("--repeat", type=int, default=3, help="tradeloop runs per count (best taken)")
    ap.add_argument("--peer-repeat", type=int, default=1, help="backtrader / backtesting.py runs per count")
    a = ap.parse_args()
    counts = [int(c) for c in a.counts.split(",") if c.strip()]
    warnings.filterwarnings("ignore")

    rows = read_bars(a.data)
    frame = pd.DataFrame(
        [r[1:] for r in rows],
        columns=["Open", "High", "Low", "Close", "Volume"],
        index=pd.DatetimeIndex([r[0] for r in rows]),
    )
    work = tempfile.mkdtemp(prefix="tradeloop-bench-")
    results = []
    try:
        for n in counts:
            runs = [run_tradeloop(a.bin, a.wasm, a.data, n, work) for _ in range(a.repeat)]
            tl = min(runs, key=lambda r: r["run_seconds"])
            tl_wall = min(r["wall_seconds"] for r in runs)
            btr = min((run_backtrader(rows, n) for _ in range(a.peer_repeat)), key=lambda r: r["seconds"])
            btp = min((run_backtesting(frame, n) for _ in range(a.peer_repeat)), key=lambda r: r["seconds"])
            results.append((n, tl, tl_wall, btr, btp))
            print(
                f"N={n}: tradeloop run {tl['run_seconds']:.3f} s (wall {tl_wall:.3f} s, {tl['trades']} trades), "
                f"backtrader {btr['seconds']:.2f} s ({btr['trades']} trades), "
                f"backtesting.py {btp['seconds']:.2f} s ({btp['trades']} trades)",
                file=sys.stderr,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    bars = len(rows)
    print(
        f"Strategy-bars per second, SMA crossover (fast {FAST}, slow {SLOW}, size {SIZE}) on "
        f"{os.path.basename(a.data)} ({bars} bars); {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end; Python "
        f"{platform.python_version()}, backtrader {bt.__version__}, backtesting.py "
        f"{backtesting.__version__}, pandas {pd.__version__}, numpy {np.__version__}; tradeloop best of "
        f"{a.repeat}, peers best of {a.peer_repeat}.\n"
    )
    print(
        "| strategies | tradeloop in-process | tradeloop wall | backtrader | backtesting.py "
        "| tradeloop / backtrader (in-process, wall) | same, SMA lanes only (in-process) "
        "| tradeloop / backtesting.py (in-process, wall) | closed trades (tradeloop, backtrader, backtesting.py) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for n, tl, tl_wall, btr, btp in results:
        tl_in = tl["strategy_bars"] / tl["run_seconds"]
        tl_w = tl["strategy_bars"] / tl_wall
        tl_sma = n * bars / tl["run_seconds"]
        r_btr = btr["strategy_bars"] / btr["seconds"]
        r_btp = btp["strategy_bars"] / btp["seconds"]
        print(
            f"| {n} | {fmt_rate(tl_in)}/s | {fmt_rate(tl_w)}/s | {fmt_rate(r_btr)}/s | {fmt_rate(r_btp)}/s "
            f"| {fmt_ratio(tl_in / r_btr)}, {fmt_ratio(tl_w / r_btr)} | {fmt_ratio(tl_sma / r_btr)} "
            f"| {fmt_ratio(tl_in / r_btp)}, {fmt_ratio(tl_w / r_btp)} "
            f"| {tl['trades']}, {btr['trades']}, {btp['trades']} |"
        )
    print(
        "\ntradeloop in-process: timing.strategy_bars / timing.run_seconds of `tradeloop experiment "
        "--json` (strategy_bars = (N+1) x bars: the buy-and-hold baseline lane is always run); "
        "wall: the same strategy-bars over the whole command's wall time. \"SMA lanes only\": N x "
        "bars over run_seconds. backtrader: N backtests in one cerebro.run() (optstrategy, "
        "maxcpus=1, data preloaded once); backtesting.py: Backtest.run() N times; both N x bars "
        "over the in-process time of those calls."
    )


if __name__ == "__main__":
    main()
