"""tradeloop: a trading system's memory and teacher, from Python.

The same engine as the ``tradeloop`` command, the raw-ABI plugin and the browser package,
with the same checkpoint bytes::

    import numpy as np
    import tradeloop

    engine = tradeloop.Engine(seed=42, now=1_700_000_000_000)
    features = np.zeros(32, dtype=np.float32)
    opened = engine.open("SPY", "Long", 400.0, 1.0, features, now=1_700_000_000_000)
    engine.close(opened["trade_id"], 404.0, "Target", now=1_700_000_060_000)
    data = engine.snapshot()              # bytes: `tradeloop inspect` reads them
    same = tradeloop.Engine.restore(data)

Values are plain dicts, lists, str, int, float and None in the core's serde shapes;
features are ``numpy.float32`` arrays. Errors are ``tradeloop.TradeloopError`` subclasses
(see ``tradeloop.errors``).
"""

from ._tradeloop import (
    Engine,
    PaperTrader,
    default_config,
    default_paper_config,
    error_kinds,
    parse_csv,
    version,
    w6_stream,
)
from . import state
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors

__all__ = [
    "Engine",
    "PaperTrader",
    "default_config",
    "default_paper_config",
    "error_kinds",
    "parse_csv",
    "version",
    "w6_stream",
    "state",
    *_errors,
]
