"""A host state directory, opened read-only for analysis.

``tradeloop.state.open(path)`` reads a ``tradeloop`` state directory (docs/STATE.md): the
newest checkpoint that reads, then the journal's events after it, replayed into an engine
exactly as the host does. It never writes: the journal is opened with SQLite's
``mode=ro`` in one read transaction, which in WAL mode neither blocks nor is blocked by a
running host; the host's ``LOCK`` file is not touched; the journal and the checkpoints are
left byte for byte as they were. (When no host has the journal open, SQLite itself may
create its empty write-ahead log and shared-memory files beside it, as any reader of a WAL
database does; the host uses them as its own.) What it returns is a snapshot of the state at that moment::

    state = tradeloop.state.open("tradeloop-state")
    state.trades()          # list of dicts (open and kept closed trades)
    state.versions()        # the signal model's versions
    state.audit()           # the version history
    state.trades_frame()    # the same as pandas DataFrames, if pandas is installed
    state.engine            # a tradeloop.Engine with the whole state
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any, Dict, List, Optional, Union
from urllib.parse import quote

from ._tradeloop import Engine
from .errors import Checkpoint, Host

__all__ = ["State", "open"]

# The journal schemas this build reads (docs/STATE.md) and their event-log format.
JOURNAL_SCHEMAS = (1, 2)
EVENT_FORMAT = 1
_CKPT = re.compile(r"^ckpt-(\d{20})\.tlc$")


class State:
    """What a state directory held when it was opened (see the module's docstring)."""

    def __init__(self, path: Union[str, "os.PathLike[str]"]):
        self.path = Path(path)
        journal = self.path / "journal.sqlite"
        if not journal.is_file():
            raise Host(f"{self.path} is not a tradeloop state directory (no journal.sqlite)")
        self.warnings: List[str] = []
        uri = f"file:{quote(str(journal.resolve()))}?mode=ro"
        db = sqlite3.connect(uri, uri=True, isolation_level=None)
        try:
            db.execute("BEGIN")  # one read transaction: checkpoint choice and events agree
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            schema = int(meta.get("schema", 0))
            if schema not in JOURNAL_SCHEMAS:
                raise Host(
                    f"the journal has schema {schema}; this tradeloop reads {JOURNAL_SCHEMAS} "
                    "(a newer tradeloop wrote it)"
                )
            self.events = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
            engine, after = self._newest_checkpoint()
            if engine is None:
                genesis = meta.get("genesis")
                if genesis is None:
                    raise Host("the journal has no genesis")
                engine = Engine.from_genesis(EVENT_FORMAT, bytes(genesis))
                after = 0
            rows = db.execute("SELECT seq, now, event FROM events WHERE seq > ? ORDER BY seq", (after,))
            replayed = 0
            for seq, now, record in rows:
                engine.apply_event(EVENT_FORMAT, bytes(record), int(now))
                replayed += 1
            db.execute("COMMIT")
        finally:
            db.close()
        self.engine: Engine = engine
        self.checkpoint_seq: int = after
        self.replayed: int = replayed

    def _newest_checkpoint(self):
        """The newest checkpoint that reads (corrupt ones are skipped with a warning, as the
        host does; one from a newer build raises) and the event it follows."""
        found = sorted(
            (int(m.group(1)), p) for p in self.path.iterdir() if (m := _CKPT.match(p.name))
        )
        for seq, p in reversed(found):
            if seq > self.events:
                continue  # written after this read transaction's view of the journal
            try:
                return Engine.restore(p.read_bytes()), seq
            except Checkpoint as e:
                if e.checkpoint == "FutureSchema":
                    raise
                self.warnings.append(f"{p.name} skipped: {e}")
        return None, 0

    def trades(self) -> List[Dict[str, Any]]:
        """Open trades, then the kept closed ones (oldest first)."""
        return self.engine.open_trades() + self.engine.closed_trades()

    def versions(self) -> List[Dict[str, Any]]:
        """The signal model's retained versions."""
        return self.engine.versions()

    def audit(self) -> List[Dict[str, Any]]:
        """The version history (promotions, rollbacks, trials...)."""
        return self.engine.audit()

    def trades_frame(self):
        """``trades()`` as a pandas DataFrame (needs pandas)."""
        return _frame(self.trades())

    def versions_frame(self):
        """``versions()`` as a pandas DataFrame (needs pandas)."""
        return _frame(self.versions())

    def audit_frame(self):
        """``audit()`` as a pandas DataFrame (needs pandas)."""
        return _frame(self.audit())


def _frame(rows: List[Dict[str, Any]]):
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("DataFrames need pandas: pip install tradeloop[pandas]") from e
    return pd.json_normalize(rows) if rows else pd.DataFrame()


def open(path: Union[str, "os.PathLike[str]"]) -> State:  # noqa: A001 - the module's verb
    """Reads the state directory at ``path`` (see the module's docstring)."""
    return State(path)
