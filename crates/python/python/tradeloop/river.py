"""River's online-learning protocol with the tradeloop engine behind it.

``tradeloop.river.Classifier`` is a ``river.base.Classifier``: ``predict_proba_one(x)`` is
the engine's served forecast for the features of ``x`` (``Engine.forecast``), and
``learn_one(x, y)`` reveals that row's label to the engine (``Engine.observe``), which scores
every expert of its mixture on what it said and learns. So River's own evaluation runs it
unchanged::

    from river import evaluate, metrics
    from tradeloop.river import Classifier

    evaluate.progressive_val_score(dataset, Classifier(), metrics.LogLoss(), delay=12)

Classes are the W6 classes 0 (loss), 1 (flat), 2 (win), or any three labels given as
``classes`` in that order. ``x`` is a dict of the engine's 32 features (``features`` names the
keys in order; by default the keys of the first ``x`` as they come). The engine reads no
clock: each call advances an internal clock by ``step_ms`` (default one hour), so a run
replays to the same state. Needs ``river`` (``pip install tradeloop[river]``).
"""

from __future__ import annotations

from typing import Any, Dict, Hashable, List, Optional, Sequence

import numpy as np
from river import base

from ._tradeloop import Engine

__all__ = ["Classifier"]


class Classifier(base.Classifier):
    """The tradeloop engine as a River classifier (3 classes).

    Args:
        config: engine configuration overrides (``tradeloop.default_config()`` keys).
        seed: the engine's seed.
        classes: the three labels for loss, flat and win (default 0, 1, 2).
        features: the keys of ``x``, in the engine's feature order (default: the first
            ``x``'s keys in their order).
        start_ms: the internal clock's start (ms since the epoch).
        step_ms: how far the internal clock moves with each call.
    """

    def __init__(
        self,
        config: Optional[Dict[str, Any]] = None,
        seed: int = 0,
        classes: Sequence[Hashable] = (0, 1, 2),
        features: Optional[Sequence[str]] = None,
        start_ms: int = 1_577_836_800_000,
        step_ms: int = 3_600_000,
    ):
        if len(classes) != 3 or len(set(classes)) != 3:
            raise ValueError("classes must be three distinct labels: loss, flat, win")
        self.config = config
        self.seed = seed
        self.classes = tuple(classes)
        self.features = list(features) if features is not None else None
        self.start_ms = start_ms
        self.step_ms = step_ms
        self.engine = Engine(config, seed=seed, now=start_ms)
        self._now = start_ms
        self._index = {c: i for i, c in enumerate(self.classes)}
        # Observe classifies a return with flat_band: loss, flat and win as -2, 0 and +2 bands.
        band = self.engine.config()["flat_band"]
        self._returns = [-2.0 * band, 0.0, 2.0 * band]

    @property
    def _multiclass(self) -> bool:
        return True

    def _vector(self, x: Dict[str, float]) -> np.ndarray:
        if self.features is None:
            self.features = list(x)
        try:
            return np.fromiter((x[k] for k in self.features), dtype=np.float32, count=len(self.features))
        except KeyError as e:
            raise KeyError(f"x has no feature {e.args[0]!r} (features: {self.features})") from None

    def _tick(self) -> int:
        self._now += self.step_ms
        return self._now

    def predict_proba_one(self, x: Dict[str, float]) -> Dict[Hashable, float]:
        """The engine's served forecast for ``x``: ``{class: probability}``."""
        probs = self.engine.forecast(self._vector(x), now=self._tick())["signal"]["probs"]
        return {c: float(p) for c, p in zip(self.classes, probs)}

    def learn_one(self, x: Dict[str, float], y: Hashable) -> None:
        """Reveals ``x``'s label ``y`` to the engine, which scores its experts and learns."""
        try:
            label = self._index[y]
        except KeyError:
            raise ValueError(f"unknown class {y!r}; classes are {self.classes}") from None
        self.engine.observe(self._vector(x), self._returns[label], now=self._tick())

    def snapshot(self) -> bytes:
        """The engine's checkpoint bytes (``tradeloop.Engine.restore`` reads them)."""
        return self.engine.snapshot()

    @classmethod
    def _unit_test_params(cls):
        yield {"seed": 1}
