"""The bundled fake samples: every planted value found, nothing else (tests/fixtures/samples_expected.json)."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest
from conftest import ROOT, TEST_KEY, hmac_hex

from scanner.cli import main

REQUIRED = {"CN_ID_CARD", "CN_MOBILE", "CN_LICENSE_PLATE"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("samples") / "r.json"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        main(["scan", "samples/", "--format", "json", "-o", str(out), "--key", TEST_KEY, "-q", "-j", "1"])
    finally:
        os.chdir(cwd)
    return json.loads(out.read_text(encoding="utf-8"))


def _key(source: str, entity: str, exposure: str, fp: str) -> tuple[str, str, str, str]:
    return (source.replace("samples//", "samples/"), entity, exposure, fp)


def test_samples_match_expected(report):
    expected = json.loads((ROOT / "tests" / "fixtures" / "samples_expected.json").read_text(encoding="utf-8"))
    want = Counter(_key(e["source"], e["entity"], e["exposure"], hmac_hex(e["value"])) for e in expected)
    got = Counter(_key(f["source"], f["entity"], f["exposure"], f["fingerprint"])
                  for f in report["findings"] if f["entity"] in REQUIRED)
    missed = want - got
    spurious = got - want
    assert not missed, f"missed: {[(s, e, x) for s, e, x, _ in missed]}"
    assert not spurious, f"spurious: {[(s, e, x) for s, e, x, _ in spurious]}"


def test_every_sample_document_is_accounted_for(report):
    assert report["documents"]
    assert all(d["status"] in ("scanned", "skipped") for d in report["documents"]), [
        (d["source"], d["reason"]) for d in report["documents"] if d["status"] == "error"]
