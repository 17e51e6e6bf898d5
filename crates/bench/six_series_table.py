"""Renders crates/bench/six-series.sh's results as Markdown (standard library only).

usage: six_series_table.py DIR SERIES...   (DIR holds NAME.json from `tradeloop evaluate
--json` and, if the peers ran, peers.jsonl from prequential_river.py)
"""

import json
import os
import sys


def scores(p):
    """(log-loss, accuracy) of a predictor's whole-stream scores."""
    a = p["all"]
    return a["log_loss_sum"] / a["n"], a["correct"] / a["n"]


def main(out, series):
    peers = {}
    path = os.path.join(out, "peers.jsonl")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if "model" in r:
                    peers.setdefault(r["series"], {})[r["model"]] = r
    models = sorted({m for p in peers.values() for m in p})

    print("| series | rows | served log-loss | running prior | served - prior per row "
          "| bound per row | served acc | prior acc | scored rows: served - prior (block se) "
          "| heaviest expert |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in series:
        name = s.split("@")[0]
        with open(os.path.join(out, name + ".json")) as f:
            run = json.load(f)
        e = run["evaluation"]
        by = {p["name"]: p for p in e["predictors"]}
        served_ll, served_acc = scores(by["served"])
        prior_ll, prior_acc = scores(by["running prior"])
        m = e["mixture"]
        bound = m["bound_vs_prior"] / max(m["rows"], 1)
        d = by["served"]["vs_prior"]
        se = "n/a" if d["std_error"] is None else "%.4f" % d["std_error"]
        top = max(m["experts"], key=lambda x: x["weight"])
        verdict = "**%+.4f**" % (served_ll - prior_ll) if served_ll < prior_ll else "%+.4f" % (
            served_ll - prior_ll)
        print("| %s | %d | %.4f | %.4f | %s | %.5f | %.4f | %.4f | %+.4f (%s) | %s %.2f |" % (
            name, e["rows"], served_ll, prior_ll, verdict, bound, served_acc, prior_acc,
            d["mean"], se, top["expert"], top["weight"]))

    if not models:
        return
    print()
    print("Peers on the same streams, this session (log-loss / accuracy / rows per second; "
          "tradeloop's rows per second are the whole `evaluate` run, the engine with the "
          "frozen network and the scoring, a peer's are its model alone):")
    print()
    print("| series | tradeloop served | " + " | ".join(models) + " |")
    print("|---|---:|" + "---:|" * len(models))
    for s in series:
        name = s.split("@")[0]
        with open(os.path.join(out, name + ".json")) as f:
            run = json.load(f)
        served_ll, served_acc = scores(
            next(p for p in run["evaluation"]["predictors"] if p["name"] == "served"))
        cells = ["%.4f / %.4f / %.0f" % (served_ll, served_acc, run["rows_per_s"])]
        for model in models:
            r = peers.get(name, {}).get(model)
            cells.append("-" if r is None else "%.4f / %.4f / %.0f" % (
                r["log_loss"], r["accuracy"], r["rows_per_s"]))
        print("| %s | %s |" % (name, " | ".join(cells)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
