"""Checkpoints cross between Python and the `tradeloop` command (the host runs the engine as
the raw-ABI plugin under wasmtime) byte for byte. The host binary is TRADELOOP_BIN
(crates/python/test.sh sets it)."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tradeloop
from conftest import REPO, T0

BIN = os.environ.get("TRADELOOP_BIN", "")


@pytest.fixture(scope="module")
def host():
    assert BIN and Path(BIN).is_file(), "TRADELOOP_BIN must name the tradeloop binary"

    def run(*args: str) -> str:
        done = subprocess.run([BIN, *args], capture_output=True, text=True)
        assert done.returncode == 0, f"tradeloop {' '.join(args)}: {done.stderr}"
        return done.stdout

    return run


def python_engine() -> tradeloop.Engine:
    e = tradeloop.Engine({"replay": {"capacity": 128}}, seed=11, now=T0)
    rng = np.random.default_rng(5)
    for k in range(12):
        f = rng.standard_normal(32).astype(np.float32)
        o = e.open("BTC", "Long" if k % 2 else "Short", 100.0 + k, 1.0, f, now=T0 + k * 60_000)
        e.close(o["trade_id"], 101.0 + k * (1 if k % 3 else -1), "Manual", now=T0 + k * 60_000 + 30_000)
    return e


def test_a_python_checkpoint_opens_in_the_host_and_comes_back_the_same(host, tmp_path):
    e = python_engine()
    data = e.snapshot()
    ckpt = tmp_path / "python.ckpt"
    ckpt.write_bytes(data)

    doc = json.loads(host("inspect", str(ckpt), "--json"))
    assert doc["stats"]["closed"] == 12

    state = tmp_path / "state"
    host("--state", str(state), "import", str(ckpt))
    out = tmp_path / "exported.ckpt"
    host("--state", str(state), "export", str(out))
    assert out.read_bytes() == data, "import then export in the host gives Python's bytes"
    assert tradeloop.Engine.restore(out.read_bytes()).snapshot() == data


def test_a_host_checkpoint_restores_in_python_to_the_same_bytes(host, tmp_path):
    state = tmp_path / "state"
    spy = (REPO / "data" / "market" / "SPY_1h.csv").read_text().splitlines()
    bars = tmp_path / "SPY_1h.csv"
    bars.write_text("\n".join(spy[:1201]) + "\n")
    host("--state", str(state), "paper", "--data", str(bars), "--seed", "3")
    out = tmp_path / "host.ckpt"
    host("--state", str(state), "export", str(out))
    data = out.read_bytes()
    e = tradeloop.Engine.restore(data)
    assert e.snapshot() == data
    assert e.stats()["trades"]["closed"] > 0


def test_a_python_checkpoint_restores_in_the_browser_package(tmp_path):
    """web/pkg (the lean browser package, built by web/build.sh) restores Python's bytes and
    snapshots them back unchanged, in node."""
    pkg = REPO / "web" / "pkg"
    assert (pkg / "tradeloop_wasm_bg.wasm").is_file(), "build the browser package first: web/build.sh"
    data = python_engine().snapshot()
    ckpt = tmp_path / "python.ckpt"
    ckpt.write_bytes(data)
    script = tmp_path / "restore.mjs"
    script.write_text(
        "import { readFileSync, writeFileSync } from 'node:fs';\n"
        f"const tl = await import({json.dumps((pkg / 'tradeloop_wasm.js').as_uri())});\n"
        f"tl.initSync({{ module: readFileSync({json.dumps(str(pkg / 'tradeloop_wasm_bg.wasm'))}) }});\n"
        "const e = tl.Engine.restore(readFileSync(process.argv[2]));\n"
        "writeFileSync(process.argv[3], e.snapshot());\n"
        "console.log(JSON.stringify(e.stats().trades));\n"
    )
    out = tmp_path / "browser.ckpt"
    done = subprocess.run(["node", str(script), str(ckpt), str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["closed"] == 12
    assert out.read_bytes() == data, "the browser package writes Python's bytes back"
