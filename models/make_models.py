#!/usr/bin/env python3
"""Builds the ONNX models in models/ (see models/README.md).

Usage (from the repository root, in a venv with models/requirements.txt):

    python models/make_models.py                 # everything
    python models/make_models.py --only w3       # only models/w3_mlp.onnx (+ fixture)
    python models/make_models.py --csv SPY=a.csv --csv EURUSD=b.csv --csv XAUUSD=c.csv
                                                 # feature CSVs already made by the example
    python models/make_models.py --check         # re-run both fixtures in onnxruntime

Writes models/w3_mlp.onnx, models/w3_mlp.fixture.json, models/ranker.onnx,
models/ranker.fixture.json, models/ranker.metrics.json. Deterministic: two runs on one machine
give byte-identical files.
"""

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys

# One BLAS thread: the float64 training then gives the same bits on every run.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402  (after the thread pinning)
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OPSET = 17
IR_VERSION = 8
PRODUCER = "tradeloop models/make_models.py"


# ---- portable SplitMix64 (the benchmark's data spec) ---------------------------------------
class SplitMix64:
    """SplitMix64 with the benchmark's uniform and normal draws.

    next(): state += 0x9E3779B97F4A7C15 (wrapping); z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
    return z ^ (z >> 31). uniform() = (next() >> 11) * 2^-53 (f64 in [0, 1)).
    normal() = sqrt(-2 ln(1 - u1)) * cos(2 pi u2), two uniforms per normal, f64.
    The state after k calls is seed + k * gamma, so n draws are computed at once.
    """

    GAMMA = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, seed):
        self.seed = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
        self.calls = 0

    def next_u64(self, n):
        k = np.arange(self.calls + 1, self.calls + n + 1, dtype=np.uint64)
        self.calls += n
        with np.errstate(over="ignore"):
            z = self.seed + k * self.GAMMA
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            return z ^ (z >> np.uint64(31))

    def uniform(self, n):
        return (self.next_u64(n) >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def normal(self, n):
        u = self.uniform(2 * n)
        return np.sqrt(-2.0 * np.log(1.0 - u[0::2])) * np.cos(2.0 * np.pi * u[1::2])

    def permutation(self, n):
        """A permutation of 0..n-1: indices sorted by one fresh u64 key each (stable)."""
        return np.argsort(self.next_u64(n), kind="stable")


def glorot(rng, fan_in, fan_out):
    a = math.sqrt(6.0 / (fan_in + fan_out))
    w = (2.0 * rng.uniform(fan_in * fan_out) - 1.0) * a
    return w.astype(np.float32).reshape(fan_in, fan_out)


# ---- shared ONNX helpers -------------------------------------------------------------------
def finish_model(graph, doc):
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=PRODUCER,
        producer_version="1", doc_string=doc)
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def save_model(model, path):
    data = model.SerializeToString(deterministic=True)
    with open(path, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def f32_repr(x):
    """The float32 value of x as a Python float (exact), for JSON."""
    return float(np.float32(x))


def session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def write_json(path, obj):
    """Writes a JSON object: one key per line, a list of lists one inner list per line.

    Floats are Python floats (float32 values widened exactly), printed by `repr`, which
    parses back to the same float32."""

    def dump(v):
        return json.dumps(v, separators=(", ", ": "))

    lines = []
    for key, value in obj.items():
        if isinstance(value, list) and value and isinstance(value[0], (list, dict)):
            inner = ",\n".join(f"    {dump(v)}" for v in value)
            lines.append(f"  {dump(key)}: [\n{inner}\n  ]")
        elif isinstance(value, dict) and value and all(
                isinstance(v, dict) for v in value.values()):
            inner = ",\n".join(f"    {dump(k)}: {dump(v)}" for k, v in value.items())
            lines.append(f"  {dump(key)}: {{\n{inner}\n  }}")
        else:
            lines.append(f"  {dump(key)}: {dump(value)}")
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


# ---- W3: the benchmark ranker (fixed random weights) ---------------------------------------
W3_IN, W3_HID = 64, 128


def w3_weights():
    r = SplitMix64(3)
    b1 = glorot(r, W3_IN, W3_HID)
    b2 = glorot(r, W3_HID, W3_HID)
    b3 = glorot(r, W3_HID, 1)
    c1 = ((2.0 * r.uniform(W3_HID) - 1.0) * 0.05).astype(np.float32)
    c2 = ((2.0 * r.uniform(W3_HID) - 1.0) * 0.05).astype(np.float32)
    c3 = ((2.0 * r.uniform(1) - 1.0) * 0.05).astype(np.float32)
    return b1, c1, b2, c2, b3, c3


def w3_inputs(n):
    return SplitMix64(4).normal(n * W3_IN).astype(np.float32).reshape(n, W3_IN)


def build_w3():
    b1, c1, b2, c2, b3, c3 = w3_weights()
    inits = [numpy_helper.from_array(a, name) for a, name in
             ((b1, "B1"), (c1, "c1"), (b2, "B2"), (c2, "c2"), (b3, "B3"), (c3, "c3"))]
    nodes = [
        helper.make_node("Gemm", ["features", "B1", "c1"], ["g1"], name="gemm1"),
        helper.make_node("Relu", ["g1"], ["h1"], name="relu1"),
        helper.make_node("Gemm", ["h1", "B2", "c2"], ["g2"], name="gemm2"),
        helper.make_node("Relu", ["g2"], ["h2"], name="relu2"),
        helper.make_node("Gemm", ["h2", "B3", "c3"], ["score"], name="gemm3"),
    ]
    graph = helper.make_graph(
        nodes, "w3_mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", W3_IN])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        initializer=inits)
    return finish_model(graph, "Benchmark W3 ranker: 64->128->128->1 ReLU MLP, fixed "
                               "SplitMix64 weights (seed 3), see models/README.md.")


def make_w3():
    path = os.path.join(HERE, "w3_mlp.onnx")
    sha = save_model(build_w3(), path)
    sess = session(path)
    x256 = w3_inputs(256)
    out = sess.run(["score"], {"features": x256})[0]
    s0, total = float(out[0, 0]), float(out.astype(np.float64).sum())
    b1, c1, b2, c2, b3, c3 = w3_weights()
    ref = np.maximum(np.maximum(x256 @ b1 + c1, 0) @ b2 + c2, 0) @ b3 + c3
    err = float(np.abs(out - ref).max())
    print(f"w3_mlp.onnx: sha256 {sha}, {os.path.getsize(path)} bytes; N=256: "
          f"score[0]={s0:.6f}, sum(score)={total:.5f}, max|ort-numpy|={err:.1e}", file=sys.stderr)
    # The benchmark peers' fingerprint (onnxruntime, Python).
    if f"{s0:.6f}" != "-0.505391" or f"{total:.5f}" != "-50.14347" or err > 1e-4:
        sys.exit("W3 fingerprint mismatch: expected score[0]=-0.505391, sum(score)=-50.14347")
    x4 = w3_inputs(4)
    out4 = sess.run(["score"], {"features": x4})[0]
    import onnxruntime as ort
    write_json(os.path.join(HERE, "w3_mlp.fixture.json"), {
        "model": "w3_mlp.onnx",
        "model_sha256": sha,
        "computed_by": f"onnxruntime {ort.__version__} CPUExecutionProvider",
        "inputs": "SplitMix64 seed 4, N*64 normals row-major, cast to float32",
        "n": 4,
        "features": [[f32_repr(v) for v in row] for row in x4],
        "score": [[f32_repr(v) for v in row] for row in out4],
        "n256_score0": f32_repr(out[0, 0]),
        "n256_score_sum_f64": total,
    })


# ---- the ranker: data ----------------------------------------------------------------------
SERIES = ("SPY", "EURUSD", "XAUUSD")
FEATURES = 32
HORIZON = 12
SPLIT = "2017-01-01T00:00:00Z"          # training < SPLIT <= validation
STOP_SPLIT = "2016-01-01T00:00:00Z"     # early-stopping hold-out: the last training year
CLASSES = ("down", "flat", "up")


class Series:
    """One feature CSV of the `features` example: timestamps, features, labels."""

    def __init__(self, name, text):
        lines = text.splitlines()
        header = lines[0].split(",")
        if len(header) != FEATURES + 3 or header[0] != "timestamp" or header[-2:] != [
                "fwd_ret", "label"]:
            sys.exit(f"{name}: not the output of the `features` example: {lines[0][:80]}")
        self.name = name
        self.feature_names = header[1:1 + FEATURES]
        rows = [line.split(",") for line in lines[1:]]
        self.ts = np.array([r[0] for r in rows])
        # float64 parse, then float32: exact for the example's shortest round-trip output.
        self.x = np.array([r[1:1 + FEATURES] for r in rows], dtype=np.float64).astype(np.float32)
        self.fwd = np.array([float(r[-2]) if r[-2] else np.nan for r in rows])
        self.y = np.array([int(r[-1]) if r[-1] else -1 for r in rows], dtype=np.int64)
        if len(rows) <= HORIZON or (self.y[-HORIZON:] >= 0).any() or (self.y[:-HORIZON] < 0).any():
            sys.exit(f"{name}: expected a label on every row but the last {HORIZON}")
        # Rows are consecutive bars, so row k + 12 holds the bar the label of row k looks at.
        self.label_ts = np.concatenate([self.ts[HORIZON:], np.full(HORIZON, "~")])

    def mask(self, split):
        """Labelled rows of a split: 'fit' (label known before STOP_SPLIT), 'stop' (from
        STOP_SPLIT, label known before SPLIT), 'train' (= fit + stop), 'valid' (>= SPLIT).
        Training rows whose 12-bar label reaches past their split's end are left out."""
        lab = self.y >= 0
        if split == "fit":
            return lab & (self.label_ts < STOP_SPLIT)
        if split == "stop":
            return lab & (self.ts >= STOP_SPLIT) & (self.label_ts < SPLIT)
        if split == "train":
            return lab & (self.label_ts < SPLIT)
        if split == "valid":
            return lab & (self.ts >= SPLIT)
        raise ValueError(split)


def feature_texts(csv_args):
    """{series: CSV text}: from NAME=FILE arguments, else by running the `features` example
    on the bundled data/market/<NAME>_1h.csv."""
    if csv_args:
        out = {}
        for arg in csv_args:
            name, _, path = arg.partition("=")
            if name not in SERIES or not path:
                sys.exit(f"--csv wants NAME=FILE with NAME in {SERIES}: {arg}")
            with open(path) as f:
                out[name] = f.read()
        missing = set(SERIES) - set(out)
        if missing:
            sys.exit(f"--csv: missing {sorted(missing)}")
        return out
    out = {}
    for name in SERIES:
        data = os.path.join("data", "market", f"{name}_1h.csv")
        cmd = ["cargo", "run", "--release", "-q", "-p", "tradeloop-core", "--example",
               "features", "--", data]
        print(f"running {' '.join(cmd)}", file=sys.stderr)
        out[name] = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True,
                                   text=True).stdout
    return out


def stack(series, split):
    m = [s.mask(split) for s in series]
    return (np.concatenate([s.x[k] for s, k in zip(series, m)]).astype(np.float64),
            np.concatenate([s.y[k] for s, k in zip(series, m)]))


# ---- the ranker: model and training (float64 numpy) ----------------------------------------
TRAIN_SEED = 5
HIDDEN_GRID = (16, 32, 64)
DECAY_GRID = (0.1, 1.0)
LR, BATCH, MAX_EPOCHS, PATIENCE = 1e-3, 512, 100, 15
BETA1, BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


def standardiser(x):
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std == 0.0] = 1.0
    # Stored as float32 in the graph; train with exactly those values.
    return mean.astype(np.float32).astype(np.float64), std.astype(np.float32).astype(np.float64)


def softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def log_loss(p, y):
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0))))


class Mlp:
    """32 -> hidden (ReLU) -> 3 logits, weights [in, out]."""

    def __init__(self, hidden, prior, rng):
        self.w1 = glorot(rng, FEATURES, hidden).astype(np.float64)
        self.b1 = np.zeros(hidden)
        # Small output weights and the prior's log as bias: training starts at the prior.
        self.w2 = glorot(rng, hidden, 3).astype(np.float64) * 0.1
        self.b2 = np.log(prior)

    def params(self):
        return [self.w1, self.b1, self.w2, self.b2]

    def copy(self):
        c = Mlp.__new__(Mlp)
        c.w1, c.b1, c.w2, c.b2 = (p.copy() for p in self.params())
        return c

    def probs(self, z):
        return softmax(np.maximum(z @ self.w1 + self.b1, 0.0) @ self.w2 + self.b2)

    def grads(self, z, y):
        """Gradients of the mean cross-entropy over the batch."""
        h = np.maximum(z @ self.w1 + self.b1, 0.0)
        g = softmax(h @ self.w2 + self.b2)
        g[np.arange(len(y)), y] -= 1.0
        g /= len(y)
        gh = (g @ self.w2.T) * (h > 0.0)
        return [z.T @ gh, gh.sum(axis=0), h.T @ g, g.sum(axis=0)]


def train(z, y, z_stop, y_stop, hidden, decay, epochs=None):
    """AdamW (decoupled weight decay on the weight matrices), minibatches in a SplitMix64
    order per epoch. With z_stop: early stopping on its log-loss (patience PATIENCE, the best
    epoch kept, epoch 0 = the prior included). Without: exactly `epochs` epochs.
    Returns (model, best epoch, hold-out log-loss or None)."""
    rng = SplitMix64(TRAIN_SEED)
    prior = np.bincount(y, minlength=3) / len(y)
    model = Mlp(hidden, prior, rng)
    m = [np.zeros_like(p) for p in model.params()]
    v = [np.zeros_like(p) for p in model.params()]
    step = 0
    best = (log_loss(model.probs(z_stop), y_stop), 0, model.copy()) if z_stop is not None \
        else None
    for epoch in range(1, (epochs if epochs is not None else MAX_EPOCHS) + 1):
        order = rng.permutation(len(y))
        for start in range(0, len(y), BATCH):
            idx = order[start:start + BATCH]
            step += 1
            for j, (p, g) in enumerate(zip(model.params(), model.grads(z[idx], y[idx]))):
                m[j] = BETA1 * m[j] + (1.0 - BETA1) * g
                v[j] = BETA2 * v[j] + (1.0 - BETA2) * g * g
                if j % 2 == 0:  # weight matrices only
                    p -= LR * decay * p
                p -= LR * (m[j] / (1.0 - BETA1**step)) / (
                    np.sqrt(v[j] / (1.0 - BETA2**step)) + ADAM_EPS)
        if best is not None:
            loss = log_loss(model.probs(z_stop), y_stop)
            if loss < best[0]:
                best = (loss, epoch, model.copy())
            elif epoch - best[1] >= PATIENCE:
                break
    if best is None:
        return model, epochs, None
    return best[2], best[1], best[0]


# ---- the ranker: ONNX ----------------------------------------------------------------------
def build_ranker(mean, std, model, feature_names, doc):
    f32 = np.float32
    inits = [
        numpy_helper.from_array(mean.astype(f32), "mean"),
        numpy_helper.from_array(std.astype(f32), "std"),
        numpy_helper.from_array(model.w1.astype(f32), "W1"),
        numpy_helper.from_array(model.b1.astype(f32), "b1"),
        numpy_helper.from_array(model.w2.astype(f32), "W2"),
        numpy_helper.from_array(model.b2.astype(f32), "b2"),
        numpy_helper.from_array(np.array(0, dtype=np.int64), "class_down"),
        numpy_helper.from_array(np.array(2, dtype=np.int64), "class_up"),
    ]
    nodes = [
        helper.make_node("Sub", ["features", "mean"], ["centred"], name="centre"),
        helper.make_node("Div", ["centred", "std"], ["z"], name="scale"),
        helper.make_node("Gemm", ["z", "W1", "b1"], ["g1"], name="gemm1"),
        helper.make_node("Relu", ["g1"], ["h1"], name="relu1"),
        helper.make_node("Gemm", ["h1", "W2", "b2"], ["logits"], name="gemm2"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
        helper.make_node("ArgMax", ["probs"], ["class"], name="argmax", axis=1, keepdims=0),
        helper.make_node("Gather", ["probs", "class_up"], ["p_up"], name="p_up", axis=1),
        helper.make_node("Gather", ["probs", "class_down"], ["p_down"], name="p_down", axis=1),
        helper.make_node("Sub", ["p_up", "p_down"], ["score"], name="score"),
    ]
    graph = helper.make_graph(
        nodes, "tradeloop_ranker",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", FEATURES])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N"]),
         helper.make_tensor_value_info("class", TensorProto.INT64, ["N"]),
         helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 3])],
        initializer=inits)
    model = finish_model(graph, doc)
    helper.set_model_props(model, {"feature_names": ",".join(feature_names),
                                   "classes": ",".join(CLASSES)})
    onnx.checker.check_model(model, full_check=True)
    return model


def spearman(a, b):
    ra = np.argsort(np.argsort(a, kind="stable"), kind="stable").astype(np.float64)
    rb = np.argsort(np.argsort(b, kind="stable"), kind="stable").astype(np.float64)
    return float(np.corrcoef(ra, rb)[0, 1])


def make_ranker(csv_args):
    texts = feature_texts(csv_args)
    series = [Series(name, texts[name]) for name in SERIES]
    names = series[0].feature_names
    if any(s.feature_names != names for s in series):
        sys.exit("the feature CSVs disagree on the feature names")

    # 1. Hyper-parameters by early stopping on the last training year (2016).
    x_fit, y_fit = stack(series, "fit")
    x_stop, y_stop = stack(series, "stop")
    mean, std = standardiser(x_fit)
    z_fit, z_stop = (x_fit - mean) / std, (x_stop - mean) / std
    grid = []
    for hidden in HIDDEN_GRID:
        for decay in DECAY_GRID:
            _, epoch, loss = train(z_fit, y_fit, z_stop, y_stop, hidden, decay)
            grid.append({"hidden": hidden, "weight_decay": decay, "best_epoch": epoch,
                         "stop_log_loss": round(loss, 6)})
            print(f"  hidden {hidden:3} decay {decay:4}: best epoch {epoch:3}, "
                  f"2016 log-loss {loss:.5f}", file=sys.stderr)
    chosen = min(grid, key=lambda g: (g["stop_log_loss"], g["hidden"]))
    if chosen["best_epoch"] == 0:
        sys.exit("early stopping kept the prior: no model to export")

    # 2. Refit on every training row (< 2017) for the chosen number of epochs.
    x_train, y_train = stack(series, "train")
    mean, std = standardiser(x_train)
    model, _, _ = train((x_train - mean) / std, y_train, None, None, chosen["hidden"],
                        chosen["weight_decay"], epochs=chosen["best_epoch"])
    prior = np.bincount(y_train, minlength=3) / len(y_train)
    doc = (f"tradeloop ranker: 32 candle features -> {chosen['hidden']} ReLU -> 3 classes "
           f"(down, flat, up over 12 bars); trained on SPY/EURUSD/XAUUSD 1h bars before 2017. "
           f"See models/README.md.")
    path = os.path.join(HERE, "ranker.onnx")
    sha = save_model(build_ranker(mean, std, model, names, doc), path)

    # 3. Validation (>= 2017) with the exported model, in onnxruntime.
    import onnxruntime as ort
    sess = session(path)
    metrics = {"model_sha256": sha, "computed_by": f"onnxruntime {ort.__version__}",
               "train_prior": [round(float(p), 6) for p in prior],
               "selection": grid, "chosen": chosen, "splits": {}, "validation": {}}
    for s in series:
        metrics["splits"][s.name] = {
            split: {"rows": int(s.mask(split).sum()),
                    "first": str(s.ts[s.mask(split)][0]), "last": str(s.ts[s.mask(split)][-1]),
                    "labels": [int(c) for c in np.bincount(s.y[s.mask(split)], minlength=3)]}
            for split in ("fit", "stop", "train", "valid")}
    val_rows = {}
    for s in series + [None]:
        if s is None:
            x, y, fwd = (np.concatenate([val_rows[n][i] for n in SERIES]) for i in range(3))
            name = "all"
        else:
            k = s.mask("valid")
            x, y, fwd = s.x[k], s.y[k], s.fwd[k]
            val_rows[s.name] = (x, y, fwd)
            name = s.name
        score, cls, probs = sess.run(["score", "class", "probs"], {"features": x})
        probs = probs.astype(np.float64)
        freq = np.bincount(y, minlength=3) / len(y)
        metrics["validation"][name] = {
            "rows": int(len(y)),
            "accuracy": round(float(np.mean(cls == y)), 4),
            "log_loss": round(log_loss(probs, y), 5),
            "prior_accuracy": round(float(np.mean(y == int(np.argmax(prior)))), 4),
            "prior_log_loss": round(log_loss(np.tile(prior, (len(y), 1)), y), 5),
            "hindsight_prior_log_loss": round(log_loss(np.tile(freq, (len(y), 1)), y), 5),
            "predicted": [int(c) for c in np.bincount(cls, minlength=3)],
            "spearman_score_fwd_ret": round(spearman(score.astype(np.float64), fwd), 4),
        }
    write_json(os.path.join(HERE, "ranker.metrics.json"), metrics)
    for name, v in metrics["validation"].items():
        print(f"  valid {name:6} {v['rows']:6} rows: accuracy {v['accuracy']:.4f} "
              f"(prior {v['prior_accuracy']:.4f}), log-loss {v['log_loss']:.5f} (prior "
              f"{v['prior_log_loss']:.5f}, hindsight {v['hindsight_prior_log_loss']:.5f}), "
              f"predicted {v['predicted']}, spearman(score, fwd_ret) "
              f"{v['spearman_score_fwd_ret']:+.4f}", file=sys.stderr)

    # 4. Fixture: 64 validation rows, 58 evenly spaced within each series (20 + 19 + 19) and
    #    the 3 lowest- and 3 highest-scoring validation rows (so every class shows up).
    picks = []
    for s, count in zip(series, (20, 19, 19)):
        k = np.flatnonzero(s.mask("valid"))
        picks += [(s, int(i)) for i in k[np.linspace(0, len(k) - 1, count).round().astype(
            np.int64)]]
    ranked = []
    for s in series:
        k = np.flatnonzero(s.mask("valid"))
        ranked += [(float(v), s.name, int(i), s) for v, i in zip(
            sess.run(["score"], {"features": s.x[k]})[0], k)]
    ranked.sort(key=lambda r: r[:3])
    for _, _, i, s in ranked[:3] + ranked[-3:]:
        if (s, i) not in picks:
            picks.append((s, i))
    if len(picks) != 64:
        sys.exit(f"fixture: {len(picks)} distinct rows instead of 64")
    x = np.stack([s.x[i] for s, i in picks])
    score, cls, probs = sess.run(["score", "class", "probs"], {"features": x})
    write_json(os.path.join(HERE, "ranker.fixture.json"), {
        "model": "ranker.onnx",
        "model_sha256": sha,
        "computed_by": f"onnxruntime {ort.__version__} CPUExecutionProvider",
        "n": len(picks),
        "rows": [f"{s.name} {s.ts[i]}" for s, i in picks],
        "features": [[f32_repr(v) for v in row] for row in x],
        "score": [f32_repr(v) for v in score],
        "class": [int(c) for c in cls],
        "probs": [[f32_repr(v) for v in row] for row in probs],
    })
    print(f"ranker.onnx: sha256 {sha}, {os.path.getsize(path)} bytes; fixture classes "
          f"{np.bincount(cls, minlength=3).tolist()}", file=sys.stderr)


def check_fixtures():
    """Re-runs both fixtures in onnxruntime; exits non-zero unless the models' sha256 and
    every output value match exactly."""
    ok = True
    for fixture, outputs in (("w3_mlp.fixture.json", ("score",)),
                             ("ranker.fixture.json", ("score", "class", "probs"))):
        with open(os.path.join(HERE, fixture)) as f:
            fx = json.load(f)
        path = os.path.join(HERE, fx["model"])
        with open(path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        x = np.array(fx["features"], dtype=np.float64).astype(np.float32)
        got = session(path).run(list(outputs), {"features": x})
        for name, value in zip(outputs, got):
            want = np.array(fx[name], dtype=value.dtype)
            diff = float(np.abs(value.astype(np.float64) - want.astype(np.float64)).max())
            same = value.shape == want.shape and np.array_equal(value, want)
            ok &= same
            print(f"{fixture}: {name} {value.dtype} {list(value.shape)}: "
                  f"{'identical' if same else 'DIFFERENT'} (max |diff| {diff:.1e})",
                  file=sys.stderr)
        ok &= sha == fx["model_sha256"]
        print(f"{fixture}: model sha256 {'matches' if sha == fx['model_sha256'] else 'DIFFERS'}",
              file=sys.stderr)
    if not ok:
        sys.exit("fixture check failed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["w3", "ranker"], help="build just one model")
    ap.add_argument("--csv", action="append", default=[], metavar="NAME=FILE",
                    help="feature CSV (output of the `features` example) for series NAME "
                         f"in {SERIES}; all three or none (then the example is run)")
    ap.add_argument("--check", action="store_true",
                    help="only re-run the fixtures in onnxruntime and compare")
    a = ap.parse_args()
    if a.check:
        check_fixtures()
        return
    if a.only in (None, "w3"):
        make_w3()
    if a.only in (None, "ranker"):
        make_ranker(a.csv)


if __name__ == "__main__":
    main()
