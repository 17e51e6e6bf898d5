"""The Engine from Python: commands, queries, snapshots, and bad input leaving it untouched."""

import math

import numpy as np
import pytest

import tradeloop
from conftest import T0, fixture

FEATURES = np.linspace(-1.0, 1.0, 32, dtype=np.float32)


def engine(seed: int = 7) -> tradeloop.Engine:
    return tradeloop.Engine({"replay": {"capacity": 256}}, seed=seed, now=T0)


def trade_round(e: tradeloop.Engine, k: int) -> dict:
    t = T0 + k * 3_600_000
    opened = e.open("SPY", "Long", 100.0 + k, 1.0, FEATURES * (1 + k % 3), now=t)
    return e.close(opened["trade_id"], 100.0 + k + (1 if k % 2 else -1), "Target", now=t + 60_000)


def test_version_and_defaults():
    assert tradeloop.version().startswith("tradeloop-python 0.1.0 (checkpoint schema 4)")
    config = tradeloop.default_config()
    assert config["features"] == 32
    assert isinstance(config["replay"], dict)
    assert tradeloop.default_paper_config()["max_hold_bars"] > 0


def test_every_error_kind_has_its_class():
    kinds = tradeloop.error_kinds()
    assert len(kinds) == len(set(kinds)) > 10
    for kind in kinds:
        cls = getattr(tradeloop.errors, kind)
        assert issubclass(cls, tradeloop.TradeloopError), kind
    # The stub and the module export exactly the core's kinds plus the binding's two.
    assert set(tradeloop.errors.__all__) == set(kinds) | {"TradeloopError", "InvalidInput", "CsvError"}


def test_open_close_and_queries():
    e = engine()
    closed = [trade_round(e, k) for k in range(6)]
    assert [c["outcome"] for c in closed] == ["Loss", "Win"] * 3
    assert closed[1]["pnl"] == pytest.approx(1.0)
    stats = e.stats()
    assert stats["opened"] == 6 and stats["open"] == 0
    assert stats["trades"]["closed"] == 6
    assert stats["trades"]["outcomes"] == (3, 0, 3)
    trades = e.closed_trades(10)
    assert [t["id"] for t in trades] == [c["trade_id"] for c in closed]
    assert trades[0]["symbol"] == "SPY" and trades[0]["side"] == "Long"
    assert len(e.closed_trades(2)) == 2
    one = e.trade(trades[-1]["id"])
    assert one["id"] == trades[-1]["id"] and one["close"] is not None
    # An open trade keeps its features, as a float32 array.
    opened = e.open("SPY", "Short", 100.0, 2.0, FEATURES * 3, now=T0 + 10**8)
    for t in (e.trade(opened["trade_id"]), e.open_trades()[0]):
        assert isinstance(t["features"], np.ndarray) and t["features"].dtype == np.float32
        np.testing.assert_array_equal(t["features"], FEATURES * 3)
    assert isinstance(e.versions(), list) and e.versions()
    assert isinstance(e.mixture(), dict)
    assert isinstance(e.audit(), list)
    assert isinstance(e.drift(), dict)
    assert isinstance(e.due(now=T0), list)
    assert e.config()["replay"]["capacity"] == 256


def test_features_as_lists_or_float32_arrays_give_the_same_bytes():
    a, b = engine(), engine()
    a.open("SPY", "Long", 100.0, 1.0, FEATURES, now=T0)
    b.open("SPY", "Long", 100.0, 1.0, [float(x) for x in FEATURES], now=T0)
    assert a.snapshot() == b.snapshot()
    # A strided (non-contiguous) float32 view is read too.
    c = engine()
    c.open("SPY", "Long", 100.0, 1.0, np.repeat(FEATURES, 2)[::2], now=T0)
    assert c.snapshot() == a.snapshot()


def test_forecast_observe_learn():
    e = engine()
    f = e.forecast(FEATURES, now=T0)
    assert isinstance(f, dict) and f
    obs = e.observe(FEATURES, 0.004, now=T0 + 1)
    assert isinstance(obs, dict)
    for k in range(40):
        trade_round(e, k)
    learned = e.learn(now=T0 + 10**9)
    assert isinstance(learned, dict)


def test_apply_takes_any_command_in_its_serde_shape():
    e = engine()
    reply = e.apply({"Query": "Stats"}, now=T0)
    assert set(reply) == {"Stats"}
    assert reply["Stats"] == e.stats()


def test_snapshot_restore_is_byte_for_byte():
    e = engine()
    for k in range(5):
        trade_round(e, k)
    data = e.snapshot()
    assert isinstance(data, bytes) and data[:8] == b"TRADLOOP"
    again = tradeloop.Engine.restore(data)
    assert again.snapshot() == data
    # The two continue identically.
    trade_round(e, 9)
    trade_round(again, 9)
    assert again.snapshot() == e.snapshot()


@pytest.mark.parametrize("schema", ["v1", "v2", "v3", "v4"])
def test_golden_checkpoints_restore(schema):
    data = fixture(schema, "small")
    e = tradeloop.Engine.restore(data)
    now = e.snapshot()
    if schema == "v4":
        assert now == data, "a v4 checkpoint restores to its own bytes"
    assert tradeloop.Engine.restore(now).snapshot() == now


def test_same_seed_same_bytes_and_another_seed_differs():
    assert engine(1).snapshot() == engine(1).snapshot()
    assert engine(1).snapshot() != engine(2).snapshot()


# ---------------------------------------------------------------- bad input


def unchanged(e: tradeloop.Engine, call, exc):
    before = e.snapshot()
    with pytest.raises(exc) as info:
        call()
    assert e.snapshot() == before, "a call that raises changes nothing"
    return info.value


def test_bad_input_raises_typed_errors_and_changes_nothing():
    e = engine()
    opened = e.open("SPY", "Long", 100.0, 1.0, FEATURES, now=T0)

    err = unchanged(e, lambda: e.open("SPY", "Long", 100.0, 1.0, FEATURES[:31], now=T0), tradeloop.FeatureLength)
    assert err.kind == "FeatureLength" and "32" in str(err)
    unchanged(e, lambda: e.open("SPY", "Long", math.nan, 1.0, FEATURES, now=T0), tradeloop.NonFinite)
    unchanged(e, lambda: e.open("SPY", "Long", 100.0, -1.0, FEATURES, now=T0), tradeloop.NonPositive)
    nan_features = FEATURES.copy()
    nan_features[3] = np.nan
    unchanged(e, lambda: e.open("SPY", "Long", 100.0, 1.0, nan_features, now=T0), tradeloop.NonFinite)

    # Wrong dtypes and shapes are the binding's InvalidInput.
    err = unchanged(e, lambda: e.open("SPY", "Long", 100.0, 1.0, FEATURES.astype(np.float64), now=T0), tradeloop.InvalidInput)
    assert "float32" in str(err) and "float64" in str(err)
    unchanged(e, lambda: e.open("SPY", "Long", 100.0, 1.0, FEATURES.reshape(4, 8), now=T0), tradeloop.InvalidInput)
    unchanged(e, lambda: e.open("SPY", "Long", 100.0, 1.0, "not numbers", now=T0), tradeloop.InvalidInput)
    unchanged(e, lambda: e.open("SPY", "Sideways", 100.0, 1.0, FEATURES, now=T0), tradeloop.InvalidInput)
    unchanged(e, lambda: e.apply({"Open": {"symbol": "SPY"}}, now=T0), tradeloop.InvalidInput)
    unchanged(e, lambda: e.close(opened["trade_id"], 101.0, "Because", now=T0), tradeloop.InvalidInput)

    # Unknown trades and the lifecycle's own refusals.
    err = unchanged(e, lambda: e.close(999_999, 101.0, now=T0), tradeloop.UnknownTrade)
    assert err.kind == "UnknownTrade"
    unchanged(e, lambda: e.trade(999_999), tradeloop.UnknownTrade)
    unchanged(e, lambda: e.close(opened["trade_id"], 101.0, now=T0 - 1), tradeloop.CloseBeforeOpen)
    unchanged(e, lambda: e.promote(4242, now=T0), tradeloop.UnknownVersion)
    unchanged(e, lambda: e.rollback(now=T0), tradeloop.NoPreviousVersion)

    # Every one of them is a TradeloopError.
    with pytest.raises(tradeloop.TradeloopError):
        e.trade(123_456)


def test_bad_checkpoints_raise_checkpoint_with_the_reason():
    data = engine().snapshot()
    with pytest.raises(tradeloop.Checkpoint) as info:
        tradeloop.Engine.restore(data[:-1])
    assert info.value.checkpoint == "Truncated"
    corrupt = bytearray(data)
    corrupt[-1] ^= 0xFF
    with pytest.raises(tradeloop.Checkpoint) as info:
        tradeloop.Engine.restore(bytes(corrupt))
    assert info.value.checkpoint == "ChecksumMismatch"
    with pytest.raises(tradeloop.Checkpoint) as info:
        tradeloop.Engine.restore(b"not a checkpoint at all, not even close to one")
    assert info.value.checkpoint == "Foreign"


def test_config_overrides_merge_and_typos_raise():
    e = tradeloop.Engine({"replay": {"capacity": 99}}, seed=1, now=T0)
    assert e.config()["replay"]["capacity"] == 99
    assert e.config()["features"] == 32
    with pytest.raises(tradeloop.InvalidInput, match="capacityy"):
        tradeloop.Engine({"replay": {"capacityy": 99}}, seed=1, now=T0)
    with pytest.raises(tradeloop.InvalidConfig):
        tradeloop.Engine({"features": 0}, seed=1, now=T0)


def test_rank_with_a_python_scorer():
    e = engine()
    rows = np.stack([FEATURES * k for k in (1, 2, 3)]).astype(np.float32)
    request = {
        "candidates": [{"symbol": s, "price": 100.0, "features": r.tolist()} for s, r in zip("ABC", rows)],
        "k": 2,
        "size": 1.0,
    }
    seen = {}

    def scorer(x):
        seen["x"] = x
        return [0.1, 0.9, 0.5]

    ranked = e.rank(request, scorer, now=T0)
    assert seen["x"].dtype == np.float32 and seen["x"].shape == (3, 32)
    np.testing.assert_array_equal(seen["x"], rows)
    assert ranked["model"] == "python-scorer"
    assert ranked["picks"] == [1, 2]
    assert [e.trade(o["trade_id"])["symbol"] for _, o in ranked["opened"]] == ["B", "C"]

    # A scorer that raises, answers the wrong count or a NaN changes nothing.
    def boom(x):
        raise RuntimeError("model offline")

    err = unchanged(e, lambda: e.rank(request, boom, now=T0), tradeloop.Ranker)
    assert "model offline" in str(err)
    unchanged(e, lambda: e.rank(request, lambda x: [1.0], now=T0), tradeloop.ShapeMismatch)
    unchanged(e, lambda: e.rank(request, lambda x: [1.0, float("nan"), 0.0], now=T0), tradeloop.NonFinite)
    unchanged(e, lambda: e.rank(request, now=T0), tradeloop.NoRanker)
    unchanged(e, lambda: e.rank(request, "not callable", now=T0), tradeloop.InvalidInput)
