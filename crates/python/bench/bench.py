#!/usr/bin/env python3
"""W7 and a per-row learning step through Python, beside PyTorch and River in ONE run.

    crates/python/bench/run.sh          (builds the wheel, installs it into the anchors' venv)

Data: the W6 stream of the bundled SPY hourly bars from 2007-01-01 (tradeloop.w6_stream,
checked row for row against the anchors' stream.py), 32 float32 features, 3 classes.

* W7 (the engine online): the anchors' prequential loop (prequential_river.prequential: per
  row, learn the row whose label came due 12 rows ago, then predict the row), with the same
  loop code for every model. tradeloop: Engine.observe then Engine.forecast through the
  Python binding (every learner, the mixture, the lifecycle), the rows' own bar times as
  `now`. Peers: the anchors' River SoftmaxRegression and PyTorch MLP 32-64-64-3 (Adam, batch 1).
* W1 through Python (one learning step per labelled row, no prediction): tradeloop's
  Engine.observe (the engine's whole per-sample update, not only the MLP kernel); PyTorch:
  one Adam step of the MLP (the anchors' TorchMLP.learn); River: SoftmaxRegression.learn_one.

Repetitions are interleaved (rep 0 of every runtime, then rep 1, ...); medians of 3. One
thread each (the anchors set OMP/MKL threads to 1 and torch.set_num_threads(1)).
"""

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ANCHORS = Path(os.environ.get("ANCHORS_DIR", REPO.parent / "shared" / "bench" / "anchors"))
sys.path.insert(0, str(ANCHORS))
import prequential_river as pr  # noqa: E402  (sets the thread variables before numpy)
import stream  # noqa: E402

import numpy as np  # noqa: E402

import tradeloop  # noqa: E402

START = "2007-01-01"
DELAY = 12


def spy_stream():
    path = REPO / "data" / "market" / "SPY_1h.csv"
    candles = tradeloop.parse_csv(path.read_text())
    t0 = int(dt.datetime.fromisoformat(START).replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
    X, y, times = tradeloop.w6_stream([c for c in candles if c["time"] >= t0], 12)
    Xa, ya, _ = stream.build_stream(str(path), start=START)
    assert np.array_equal(X, Xa) and np.array_equal(y, ya), "w6_stream differs from stream.py"
    return X, y, times


class Tradeloop:
    """The engine behind the anchors' model interface (prepare / predict / learn)."""

    def __init__(self, times):
        self.times = times
        self.e = tradeloop.Engine(seed=42, now=int(times[0]) - 1)
        band = self.e.config()["flat_band"]
        self.returns = (-2.0 * band, 0.0, 2.0 * band)  # observe classifies these as 0, 1, 2
        self.k = 0

    def prepare(self, X):
        return list(X)  # float32 row views: read in place by the binding

    def predict(self, x):
        now = int(self.times[self.k])
        self.k += 1
        return self.e.forecast(x, now=now)["signal"]["probs"]

    def learn(self, x, y):
        self.e.observe(x, self.returns[y], now=int(self.times[min(self.k, len(self.times) - 1)]))


def w7(make, X, y):
    model = make()
    pred, p, wall, cut = pr.prequential(model, X, y, budget_s=1e9)
    m = pr.metrics(pred, p, y)
    return {"rows_per_s": len(y) / wall, "log_loss": m["log_loss"], "accuracy": m["accuracy"]}


def w1(make, X, y):
    model = make()
    xs = model.prepare(X)
    ys = [int(v) for v in y]
    t = time.perf_counter()
    for x, label in zip(xs, ys):
        model.learn(x, label)
    return {"rows_per_s": len(ys) / (time.perf_counter() - t)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rows", type=int, default=0, help="only the first N rows (smoke runs)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    X, y, times = spy_stream()
    if a.rows:
        X, y, times = X[: a.rows], y[: a.rows], times[: a.rows]
    runtimes = {
        "tradeloop (Python binding)": lambda: Tradeloop(times),
        "River SoftmaxRegression": lambda: pr.make_model("softmax"),
        "PyTorch MLP 32-64-64-3, Adam, batch 1": lambda: pr.make_model("torch_mlp"),
    }
    results = {w: {name: [] for name in runtimes} for w in ("W7", "W1")}
    for rep in range(a.reps):
        for name, make in runtimes.items():
            for w, f in (("W7", w7), ("W1", w1)):
                r = f(make, X, y)
                results[w][name].append(r)
                print(f"[rep {rep}] {w} {name}: {r['rows_per_s']:,.0f} rows/s", file=sys.stderr)

    versions = pr.versions()
    versions["tradeloop"] = tradeloop.version()
    print(f"# W7 and W1 through Python, one run: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"{platform.processor() or platform.machine()}; {json.dumps(versions)}")
    print(f"SPY_1h W6 stream from {START}: {len(y):,} rows; median of {a.reps} interleaved repetitions\n")
    base = {}
    for w in ("W7", "W1"):
        print(f"| {w} | rows/s (median) | reps | vs PyTorch | vs River | log-loss | accuracy |")
        print("|---|---:|---|---:|---:|---:|---:|")
        med = {n: statistics.median(r["rows_per_s"] for r in rs) for n, rs in results[w].items()}
        base[w] = med
        for name, rs in results[w].items():
            reps = ", ".join(f"{r['rows_per_s']:,.0f}" for r in rs)
            vs_t = med[name] / med["PyTorch MLP 32-64-64-3, Adam, batch 1"]
            vs_r = med[name] / med["River SoftmaxRegression"]
            ll = f"{rs[0]['log_loss']:.4f}" if "log_loss" in rs[0] else ""
            acc = f"{rs[0]['accuracy']:.4f}" if "accuracy" in rs[0] else ""
            print(f"| {name} | {med[name]:,.0f} | {reps} | {vs_t:.1f}x | {vs_r:.2f}x | {ll} | {acc} |")
        print()
    if a.out:
        Path(a.out).write_text(json.dumps({"versions": versions, "rows": len(y), "results": results}, indent=1))


if __name__ == "__main__":
    main()
