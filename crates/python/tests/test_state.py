"""A host state directory read from Python: the same engine bytes the host exports, and the
directory left exactly as it was, with the host still free to go on."""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

import tradeloop
from conftest import REPO

BIN = os.environ.get("TRADELOOP_BIN", "")


def host(*args: str) -> str:
    assert BIN and Path(BIN).is_file(), "TRADELOOP_BIN must name the tradeloop binary"
    done = subprocess.run([BIN, *args], capture_output=True, text=True)
    assert done.returncode == 0, f"tradeloop {' '.join(args)}: {done.stderr}"
    return done.stdout


def files(state: Path) -> dict:
    """Every file's sha256, except SQLite's shared-memory index (readers mark it)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(state.iterdir())
        if not p.name.endswith("-shm")
    }


@pytest.fixture()
def state(tmp_path) -> Path:
    spy = (REPO / "data" / "market" / "SPY_1h.csv").read_text().splitlines()
    bars = tmp_path / "SPY_1h.csv"
    bars.write_text("\n".join(spy[:1501]) + "\n")
    state = tmp_path / "state"
    host("--state", str(state), "paper", "--data", str(bars), "--seed", "5")
    # Events after the newest checkpoint, so the reader must replay the journal too.
    for price in ("401.5", "402.5"):
        host("--state", str(state), "record", "entry", "--symbol", "SPY", "--side", "long", "--price", price)
    return state


def test_reading_gives_the_hosts_engine_and_changes_nothing(state, tmp_path):
    before = files(state)
    s = tradeloop.state.open(state)
    after = files(state)
    # The journal and every checkpoint are byte for byte as they were. The only file a
    # reader may leave is SQLite's own empty write-ahead log (made by any reader of a WAL
    # database when the host is not running; the host uses it as its own).
    made = set(after) - set(before)
    assert made <= {"journal.sqlite-wal"}, made
    assert all(after[f] == hashlib.sha256(b"").hexdigest() for f in made)
    assert {f: after[f] for f in before} == before, "nothing the host wrote changed"
    assert s.replayed >= 2 and s.checkpoint_seq + s.replayed == s.events

    exported = tmp_path / "host.ckpt"
    host("--state", str(state), "--wait", "0", "export", str(exported))  # not locked out
    assert s.engine.snapshot() == exported.read_bytes(), "the replay equals the host's engine"

    trades = s.trades()
    assert len(trades) == s.engine.stats()["open"] + len(s.engine.closed_trades())
    assert [t["entry_price"] for t in s.engine.open_trades()][-2:] == [401.5, 402.5]
    assert s.versions() and isinstance(s.audit(), list)


def test_dataframes(state):
    import pandas as pd  # in requirements-test.txt
    s = tradeloop.state.open(state)
    frame = s.trades_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(s.trades())
    assert {"id", "symbol", "entry_price"} <= set(frame.columns)
    assert len(s.versions_frame()) == len(s.versions())


def test_a_corrupt_newest_checkpoint_is_skipped_and_a_newer_journal_refused(state, tmp_path):
    reference = tradeloop.state.open(state).engine.snapshot()
    newest = sorted(state.glob("ckpt-*.tlc"))[-1]
    data = bytearray(newest.read_bytes())
    data[-1] ^= 0xFF
    newest.write_bytes(bytes(data))
    s = tradeloop.state.open(state)
    assert s.warnings and newest.name in s.warnings[0]
    assert s.engine.snapshot() == reference, "replayed from the previous checkpoint or the genesis"

    with pytest.raises(tradeloop.Host, match="not a tradeloop state directory"):
        tradeloop.state.open(tmp_path)


def test_reading_while_the_host_runs_neither_blocks_it_nor_is_blocked(state, tmp_path):
    """`tradeloop schedule` holds the state directory (its lock, the journal open) while it
    runs; a reader opens the state meanwhile, and the host goes on and stops cleanly."""
    import signal
    import time

    proc = subprocess.Popen([BIN, "--state", str(state), "schedule"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The host holds the state: another host process is refused at once.
        for _ in range(100):
            busy = subprocess.run([BIN, "--state", str(state), "--wait", "0", "summary"], capture_output=True, text=True)
            if busy.returncode != 0:
                break
            time.sleep(0.05)
        assert busy.returncode != 0, "the running host holds the state directory"
        during = tradeloop.state.open(state)  # not blocked by the host (it may be mid-job)
        assert during.events >= 2 and during.trades()
        assert proc.poll() is None, "the host is still running"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    after = tradeloop.state.open(state)
    assert after.events >= during.events
    exported = tmp_path / "after.ckpt"
    host("--state", str(state), "--wait", "0", "export", str(exported))
    assert after.engine.snapshot() == exported.read_bytes()
