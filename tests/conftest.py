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


def hmac_hex(value: str, key: str = TEST_KEY) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="session")
def rules():
    return load_rules()


@pytest.fixture(scope="session")
def detector(rules):
    return Detector(rules, TEST_KEY.encode())
