"""Shared fixtures: the repository's data and golden checkpoints (never ../shared)."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "crates" / "core" / "tests" / "fixtures"
T0 = 1_700_000_000_000


@pytest.fixture(scope="session")
def spy_csv() -> str:
    return (REPO / "data" / "market" / "SPY_1h.csv").read_text()


def fixture(schema: str, name: str) -> bytes:
    return (FIXTURES / schema / f"{name}.ckpt").read_bytes()
