"""River's protocol: River's own progressive_val_score runs tradeloop.river.Classifier on the
W6 stream of the bundled BTC-USD daily bars (12-row label delay), beside River's own models
in the same run, on log-loss, accuracy and rows per second."""

import time

import numpy as np
import pytest

import river  # noqa: E402  (in requirements-test.txt)
from river import dummy, evaluate, linear_model, metrics, multiclass, naive_bayes, preprocessing  # noqa: E402

import tradeloop  # noqa: E402
from conftest import REPO  # noqa: E402
from tradeloop.river import Classifier  # noqa: E402

DELAY = 12
NAMES = [f"f{i}" for i in range(32)]


class LossAndAccuracy(metrics.base.MultiClassMetric):
    """River's CrossEntropy (multi-class log-loss) and Accuracy of the argmax, from one
    probability dict (so progressive_val_score asks for predict_proba_one)."""

    def __init__(self):
        super().__init__()
        self.loss = metrics.CrossEntropy()
        self.accuracy = metrics.Accuracy()

    @property
    def requires_labels(self):
        return False

    def update(self, y_true, y_pred, w=1.0):
        p = {c: y_pred.get(c, 0.0) for c in (0, 1, 2)}
        total = sum(p.values())
        p = {c: v / total for c, v in p.items()} if total > 0 else {c: 1 / 3 for c in p}
        self.loss.update(y_true, p)
        self.accuracy.update(y_true, max(p, key=lambda c: (p[c], -c)))

    def revert(self, y_true, y_pred, w=1.0):
        raise NotImplementedError

    def get(self):
        return self.loss.get()

    @property
    def bigger_is_better(self):
        return False


@pytest.fixture(scope="module")
def dataset():
    candles = tradeloop.parse_csv((REPO / "data" / "market" / "BTC-USD_1d.csv").read_text())
    X, y, times = tradeloop.w6_stream(candles, 12)
    assert X.dtype == np.float32 and X.shape == (len(y), 32) and len(times) == len(y)
    assert set(np.unique(y)) == {0, 1, 2}
    # Prepared before timing, as the anchors do: dicts of the exact float32 values.
    return [(dict(zip(NAMES, row)), int(label)) for row, label in zip(X.tolist(), y)]


class LaplacePrior(river.base.Classifier):
    """The running class prior (Laplace frequencies of the labels learned so far), the
    baseline of W6 and of the engine's regret bound, as a River classifier."""

    def __init__(self):
        self.counts = [0, 0, 0]

    def learn_one(self, x, y):
        self.counts[y] += 1

    def predict_proba_one(self, x):
        total = sum(self.counts) + 3
        return {c: (n + 1) / total for c, n in enumerate(self.counts)}


def score(model, data):
    metric = LossAndAccuracy()
    start = time.perf_counter()
    evaluate.progressive_val_score(data, model, metric, delay=DELAY)
    seconds = time.perf_counter() - start
    return {"log_loss": metric.loss.get(), "accuracy": metric.accuracy.get(), "rows_per_s": len(data) / seconds}


def test_river_evaluates_the_engine_beside_rivers_models(dataset):
    models = {
        "tradeloop.river.Classifier": Classifier(seed=1),
        "running class prior (Laplace)": LaplacePrior(),
        "river PriorClassifier": dummy.PriorClassifier(),
        "river SoftmaxRegression": linear_model.SoftmaxRegression(),
        "river StandardScaler | OvR(LogisticRegression)": preprocessing.StandardScaler()
        | multiclass.OneVsRestClassifier(linear_model.LogisticRegression()),
        "river GaussianNB": naive_bayes.GaussianNB(),
    }
    results = {name: score(model, dataset) for name, model in models.items()}
    print(f"\nW6 BTC-USD_1d ({len(dataset)} rows, delay {DELAY}), River's progressive_val_score, one run:")
    print(f"{'model':50} {'log-loss':>9} {'accuracy':>9} {'rows/s':>9}")
    for name, r in results.items():
        print(f"{name:50} {r['log_loss']:9.4f} {r['accuracy']:9.4f} {r['rows_per_s']:9.0f}")

    ours = results["tradeloop.river.Classifier"]
    assert np.isfinite(ours["log_loss"]) and 0 < ours["accuracy"] < 1
    # Learning must pay: the served forecast beats the running class prior on this series
    # (the engine is deterministic: same seed, same rows, same figure), and every River model.
    prior = results["running class prior (Laplace)"]
    assert ours["log_loss"] < prior["log_loss"], (ours, prior)
    assert ours["accuracy"] > prior["accuracy"], (ours, prior)
    for name, r in results.items():
        if name.startswith("river"):
            assert ours["log_loss"] < r["log_loss"], (name, ours, r)


def test_the_classifier_replays_to_the_same_state(dataset):
    a, b = Classifier(seed=3), Classifier(seed=3)
    for model in (a, b):
        evaluate.progressive_val_score(dataset[:400], model, LossAndAccuracy(), delay=DELAY)
    assert a.snapshot() == b.snapshot()
    restored = tradeloop.Engine.restore(a.snapshot())
    assert restored.snapshot() == a.snapshot()


def test_the_classifier_refuses_unknown_classes_and_missing_features(dataset):
    model = Classifier()
    x, _ = dataset[0]
    with pytest.raises(ValueError, match="unknown class"):
        model.learn_one(x, 7)
    model.predict_proba_one(x)
    with pytest.raises(KeyError, match="f31"):
        model.predict_proba_one({k: v for k, v in x.items() if k != "f31"})
