"""The exceptions tradeloop raises: one class per kind of error, all ``TradeloopError``.

The core's kinds (``ErrorKind::name()`` in tradeloop-core, listed by
``tradeloop.error_kinds()``) each have a class of that name; ``InvalidInput`` (a value of
the wrong shape, type or dtype) and ``CsvError`` (a CSV that does not parse) are the
binding's own. A call that raises has changed nothing.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "TradeloopError",
    "InvalidInput",
    "CsvError",
    "NonFinite",
    "NonPositive",
    "FeatureLength",
    "ShapeMismatch",
    "InvalidLabel",
    "InvalidSymbol",
    "InvalidLevel",
    "InvalidExits",
    "UnknownTrade",
    "TradeAlreadyClosed",
    "TradeNotKept",
    "CloseBeforeOpen",
    "InvalidConfig",
    "InvalidCandle",
    "Checkpoint",
    "UnknownVersion",
    "NoPreviousVersion",
    "Host",
    "InvalidRanking",
    "NoRanker",
    "Ranker",
]


class TradeloopError(Exception):
    """Base class of every tradeloop error.

    Attributes:
        kind: the kind's name (``"FeatureLength"``, ``"UnknownTrade"``, ...).
        checkpoint: for ``Checkpoint`` errors, why the bytes were refused
            (``"ChecksumMismatch"``, ``"FutureSchema"``, ...); otherwise None.
    """

    def __init__(self, message: str, kind: Optional[str] = None, checkpoint: Optional[str] = None):
        super().__init__(message)
        self.kind = kind if kind is not None else type(self).__name__
        self.checkpoint = checkpoint


class InvalidInput(TradeloopError, ValueError):
    """A value of the wrong shape, type or dtype (a dict without a key, a float64 feature
    array, a 2-D array, a string where numbers belong)."""


class CsvError(TradeloopError, ValueError):
    """Market CSV that does not parse; the message names every bad line."""


# The core's kinds, in ErrorKind::ALL's order.
class NonFinite(TradeloopError, ValueError):
    """A NaN or infinite number."""


class NonPositive(TradeloopError, ValueError):
    """A price or size that must be positive is not."""


class FeatureLength(TradeloopError, ValueError):
    """A feature vector of the wrong length."""


class ShapeMismatch(TradeloopError, ValueError):
    """Buffers whose shapes do not fit together."""


class InvalidLabel(TradeloopError, ValueError):
    """A class label out of range."""


class InvalidSymbol(TradeloopError, ValueError):
    """An empty or oversized symbol."""


class InvalidLevel(TradeloopError, ValueError):
    """A support/resistance level that is not valid."""


class InvalidExits(TradeloopError, ValueError):
    """Stop-loss / take-profit on the wrong side of the entry."""


class UnknownTrade(TradeloopError, KeyError):
    """No trade with that id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TradeAlreadyClosed(TradeloopError, ValueError):
    """The trade is already closed."""


class TradeNotKept(TradeloopError, ValueError):
    """The closed trade is no longer kept in the journal."""


class CloseBeforeOpen(TradeloopError, ValueError):
    """A close timed before its trade's open."""


class InvalidConfig(TradeloopError, ValueError):
    """A configuration value out of range."""


class InvalidCandle(TradeloopError, ValueError):
    """A candle that is not valid (high below low, time going backwards, ...)."""


class Checkpoint(TradeloopError, ValueError):
    """Checkpoint bytes that are corrupt, truncated, foreign or from a future version."""


class UnknownVersion(TradeloopError, ValueError):
    """No retained model version with that id."""


class NoPreviousVersion(TradeloopError, ValueError):
    """Nothing to roll back to."""


class Host(TradeloopError):
    """An error of the host around the engine."""


class InvalidRanking(TradeloopError, ValueError):
    """A ranking request that is not valid."""


class NoRanker(TradeloopError):
    """No ranker model is loaded."""


class Ranker(TradeloopError):
    """The ranker failed."""


# The binding raises the class named after the kind; "Csv" is CsvError.
Csv = CsvError
