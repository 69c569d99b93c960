"""Shared fixtures: the loaded rules and a detector with a fixed key."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from scanner.detect.engine import Detector
from scanner.detect.rules import load_rules

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TEST_KEY = "test-key"


def _stale_extensions() -> list[str]:
    """Compiled modules older than their sources: they would shadow the edited Python code."""
    stale = []
    for built in (ROOT / "scanner").rglob("*.so"):
        name = built.name.split(".", 1)[0]
        sources = [built.with_name(name + suffix) for suffix in (".py", ".pyx", ".pxd")]
        if any(s.exists() and s.stat().st_mtime > built.stat().st_mtime for s in sources):
            stale.append(str(built.relative_to(ROOT)))
    return stale


def pytest_configure(config: pytest.Config) -> None:
    stale = _stale_extensions()
    if stale:
        raise pytest.UsageError(f"compiled modules older than their sources: {', '.join(stale)}; "
                                "rebuild them with `make test` (or `pip install -e .`)")


def hmac_hex(value: str, key: str = TEST_KEY) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="session")
def rules():
    return load_rules()


@pytest.fixture(scope="session")
def detector(rules):
    return Detector(rules, TEST_KEY.encode())
