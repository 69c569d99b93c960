"""The scanning pipeline across processes: order, bounded work, and survival of a worker crash."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TEST_KEY

from scanner.detect.engine import Detector
from scanner.detect.rules import BUILTIN_RULES, load_rules
from scanner.model import Document, DocumentResult
from scanner.pipeline import Scanner, scan_all, scan_groups

ID = "340823199001011236"


class _CrashingScanner(Scanner):
    """Kills its worker process on documents named ``crash*`` (as a native library crash would)."""

    def process(self, doc: Document) -> list[DocumentResult]:
        if doc.name.startswith("crash"):
            os._exit(70)
        return super().process(doc)


@pytest.fixture(scope="module")
def detector():
    return Detector(load_rules(BUILTIN_RULES), TEST_KEY.encode())


def _docs(n, crash_at=()):
    for i in range(n):
        name = f"crash{i}.txt" if i in crash_at else f"doc{i}.txt"
        yield Document(source=f"in/{name}", name=name, data=f"身份证号 {ID}\n".encode())


@pytest.mark.parametrize("jobs", [1, 2])
def test_results_come_in_input_order(detector, jobs):
    results = list(scan_all(_docs(9), Scanner(detector), jobs=jobs))
    assert [r.source for r in results] == [f"in/doc{i}.txt" for i in range(9)]
    assert all(len(r.findings) == 1 and r.status == "scanned" for r in results)


@pytest.mark.parametrize("n, crash_at", [(12, {3, 8}), (80, {40, 41, 77})])
def test_a_worker_crash_costs_only_its_own_document(detector, n, crash_at):
    # with 80 small documents they travel in batches: a crash costs none of its batch's others
    results = list(scan_all(_docs(n, crash_at=crash_at), _CrashingScanner(detector), jobs=2))
    assert [r.source for r in results] == [f"in/{'crash' if i in crash_at else 'doc'}{i}.txt" for i in range(n)]
    for i, r in enumerate(results):
        if i in crash_at:
            assert r.status == "error" and "处理进程异常退出" in r.reason
        else:
            assert r.status == "scanned" and len(r.findings) == 1, (i, r.status, r.reason)


def test_groups_pair_each_item_with_its_results(detector):
    decided = DocumentResult(source="in/blocked", parent=None, kind="html", status="error", reason="被拦截")
    items = [*_docs(2), decided]
    groups = {item.source: results for item, results in scan_groups(items, Scanner(detector), jobs=2)}
    assert set(groups) == {"in/doc0.txt", "in/doc1.txt", "in/blocked"}
    assert groups["in/blocked"] == [decided]
    assert [r.source for r in groups["in/doc1.txt"]] == ["in/doc1.txt"]


class _GatedScanner(Scanner):
    """Holds a picture until a flag file exists (created by the test once the text results are in)."""

    def __init__(self, detector, gate):
        super().__init__(detector)
        self.gate = gate

    def process(self, doc: Document) -> list[DocumentResult]:
        if doc.name.endswith(".png"):
            deadline = time.monotonic() + 30
            while not self.gate.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            return [DocumentResult(source=doc.source, parent=None, kind="png", status="scanned",
                                   meta={"released": self.gate.exists()})]
        return super().process(doc)


def test_pictures_go_to_their_own_worker_and_do_not_hold_up_text(detector, tmp_path):
    gate = tmp_path / "release"
    png = Document(source="in/scan.png", name="scan.png", data=b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    items = [png, *_docs(10)]
    order = []
    for item, results in scan_groups(items, _GatedScanner(detector, gate), jobs=2):
        order.append(item.source)
        if len(order) == 10:
            gate.touch()  # every text document finished while the picture was still being "read"
        if item is png:
            assert results[0].meta["released"] is True
    assert order[-1] == "in/scan.png" and len(order) == 11
    # scan_all still gives input order
    gate.unlink()
    gate.touch()
    assert [r.source for r in scan_all(items, _GatedScanner(detector, gate), jobs=2)] == [d.source for d in items]


def test_packed_results_carry_the_same_findings(detector):
    from scanner.report.build import build_report

    plain = build_report(scan_all(_docs(6), Scanner(detector), jobs=2), started_at="t")
    packed = build_report(scan_all(_docs(6), Scanner(detector), jobs=2, pack=True), started_at="t", spool=True)
    assert list(packed["findings"]) == plain["findings"] and len(packed["findings"]) == 6
    assert [d["findings"] for d in packed["documents"]] == [1] * 6
    # a list report (no spool) unpacks them too
    unpacked = build_report(scan_all(_docs(2), Scanner(detector), jobs=2, pack=True), started_at="t")
    assert unpacked["findings"] == plain["findings"][:2]


class _ParentNoting(Scanner):
    """Notes in each result the process id of the worker's parent."""

    def process(self, doc: Document) -> list[DocumentResult]:
        results = super().process(doc)
        results[0].meta["parent_pid"] = os.getppid()
        return results


def test_workers_are_not_forked_from_the_process_handing_out_documents(detector):
    # a crawl's fetching thread runs in that process: a fork of it could copy a lock held by it
    results = list(scan_all(_docs(3), _ParentNoting(detector), jobs=2))
    assert [len(r.findings) for r in results] == [1, 1, 1]
    assert {r.meta["parent_pid"] for r in results}.isdisjoint({os.getpid(), os.getppid()})


_NO_DETECTOR_HERE = """
import sys

from scanner.detect.rules import BUILTIN_RULES, load_rules
from scanner.detect.spec import DetectorSpec
from scanner.model import Document
from scanner.pipeline import Scanner, scan_all

if __name__ == "__main__":
    spec = DetectorSpec.of(load_rules(BUILTIN_RULES), b"k")
    docs = [Document(source=f"d{i}.txt", name=f"d{i}.txt", data="身份证号 340823199001011236".encode())
            for i in range(5)]
    results = list(scan_all(docs, Scanner(spec), jobs=2))
    print(sum(len(r.findings) for r in results), "presidio_analyzer" in sys.modules, "spacy" in sys.modules)
"""


def test_the_process_handing_out_documents_never_imports_the_recognizers(tmp_path):
    # the workers build their detectors; this process (a crawl's) gets on while they import
    script = tmp_path / "hand_out.py"
    script.write_text(_NO_DETECTOR_HERE, encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["5", "False", "False"]
