"""The paper trader over real SPY bars, parse_csv, and resuming from two snapshots."""

import numpy as np
import pytest

import tradeloop
from conftest import T0


def test_parse_csv(spy_csv):
    candles = tradeloop.parse_csv(spy_csv)
    assert len(candles) > 20_000
    first = candles[0]
    assert set(first) == {"time", "open", "high", "low", "close", "volume"}
    assert all(a["time"] < b["time"] for a, b in zip(candles[:100], candles[1:101]))


def test_a_malformed_csv_names_the_line():
    text = "timestamp,open,high,low,close,volume\n1,1,1,1,1,1\n2,1,x,1,1,1\n"
    with pytest.raises(tradeloop.CsvError) as info:
        tradeloop.parse_csv(text)
    assert info.value.kind == "Csv"
    assert "3" in str(info.value)


def run(candles, engine, trader):
    events = 0
    for c in candles:
        if trader.on_bar(engine, c) is not None:
            events += 1
    return events


def test_paper_trader_trades_and_resumes_exactly(spy_csv):
    candles = tradeloop.parse_csv(spy_csv)[:1500]
    engine = tradeloop.Engine({"replay": {"capacity": 512}}, seed=3, now=candles[0]["time"])
    trader = tradeloop.PaperTrader()
    events = run(candles[:1000], engine, trader)
    assert events > 0, "the rule trades on 1,000 SPY bars"
    features = trader.features()
    assert isinstance(features, np.ndarray) and features.dtype == np.float32 and features.shape == (32,)
    assert isinstance(trader.levels(), list)

    # Resume from both snapshots: the rest of the run is the same bytes.
    e2 = tradeloop.Engine.restore(engine.snapshot())
    t2 = tradeloop.PaperTrader.restore(trader.snapshot())
    run(candles[1000:], engine, trader)
    run(candles[1000:], e2, t2)
    assert e2.snapshot() == engine.snapshot()
    assert t2.snapshot() == trader.snapshot()


def test_a_bad_candle_changes_nothing(spy_csv):
    candles = tradeloop.parse_csv(spy_csv)[:200]
    engine = tradeloop.Engine(seed=3, now=T0)
    trader = tradeloop.PaperTrader()
    run(candles, engine, trader)
    before = (engine.snapshot(), trader.snapshot())
    bad = dict(candles[-1], time=candles[-1]["time"] + 3_600_000, high=0.5 * candles[-1]["low"])
    with pytest.raises(tradeloop.InvalidCandle):
        trader.on_bar(engine, bad)
    with pytest.raises(tradeloop.InvalidInput):
        trader.on_bar(engine, {"time": 1})
    assert (engine.snapshot(), trader.snapshot()) == before
