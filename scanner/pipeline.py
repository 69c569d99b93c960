"""Wiring: Document → extract → detect → DocumentResult, in one process or across cores.

A bad document never stops the run: whatever it raises ends as that document's ``error`` status
with a one-line reason, and the findings found before the failure are kept.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from scanner.config import Limits
from scanner.detect.engine import Detector
from scanner.errors import ExtractError, Skip
from scanner.extract import extract
from scanner.extract.sniff import ext_kind
from scanner.model import Document, DocumentResult, Segment

log = logging.getLogger(__name__)

#: Segments are detected in batches of about this many characters (one regex pass per rule per batch).
_BATCH_CHARS = 1 << 20


class Scanner:
    """Scans one document (and the members of an archive) with a loaded :class:`Detector`."""

    def __init__(self, detector: Detector, limits: Limits | None = None) -> None:
        self.detector = detector
        self.limits = limits or Limits()

    def process(self, doc: Document) -> list[DocumentResult]:
        """Return the result of ``doc`` followed by those of the documents inside it."""
        results: list[DocumentResult] = []
        self._process(doc, results)
        return results

    def _process(self, doc: Document, out: list[DocumentResult]) -> None:
        result = DocumentResult(source=doc.source, parent=doc.parent, kind=ext_kind(doc.name or doc.source) or "unknown",
                                status="scanned")
        out.append(result)
        try:
            size = doc.size
            if size > self.limits.max_file_bytes:
                raise Skip(f"文件过大（{size // (1024 * 1024)} MB，上限 {self.limits.max_file_bytes // (1024 * 1024)} MB）")
            result.kind, items = extract(doc, self.limits)
            deadline = time.monotonic() + self.limits.seconds_per_document
            batch: list[Segment] = []
            size = 0
            try:
                for item in items:
                    if isinstance(item, Segment):
                        batch.append(item)
                        size += len(item.text)
                        if size < _BATCH_CHARS:
                            continue
                    else:
                        self._process(item, out)
                    result.findings.extend(self.detector.detect_many(batch, doc.source, doc.parent))
                    batch, size = [], 0
                    if time.monotonic() > deadline:
                        raise ExtractError(
                            f"处理超时（超过 {self.limits.seconds_per_document:.0f} 秒），其余内容未检查")
            finally:  # what was read before a failure is still checked
                if batch:
                    result.findings.extend(self.detector.detect_many(batch, doc.source, doc.parent))
        except Skip as exc:
            result.status, result.reason = "skipped", str(exc)
        except ExtractError as exc:
            result.status, result.reason = "error", str(exc)
        except MemoryError:
            result.status, result.reason = "error", "内存不足，文件过大或结构异常"
        except Exception as exc:  # a library choked on hostile input: report it, never stop the run
            log.debug("unexpected error in %s", doc.source, exc_info=True)
            result.status, result.reason = "error", f"读取失败：文件损坏或格式异常（{type(exc).__name__}）"
        if doc.meta:
            result.meta.update({k: v for k, v in doc.meta.items() if k in ("title", "published", "ocr_pages")})


# -- parallel scanning -------------------------------------------------------------------------
_worker: Scanner | None = None


def _work(doc: Document) -> list[DocumentResult]:
    assert _worker is not None
    return _worker.process(doc)


def scan_all(items: Iterable[Document | DocumentResult], scanner: Scanner, jobs: int = 1) -> Iterator[DocumentResult]:
    """Scan ``items`` (documents, or results already decided by the source) and yield the results
    in input order. With ``jobs > 1`` documents are scanned in forked worker processes that inherit
    the loaded rules; at most ``2 × jobs`` documents are in flight, so memory stays bounded."""
    if jobs <= 1:
        for item in items:
            yield from ([item] if isinstance(item, DocumentResult) else scanner.process(item))
        return
    global _worker
    _worker = scanner
    ctx = multiprocessing.get_context("fork")
    pending: deque[DocumentResult | tuple[Document, Future[list[DocumentResult]]]] = deque()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        for item in items:
            pending.append(item if isinstance(item, DocumentResult) else (item, pool.submit(_work, item)))
            while len(pending) > 2 * jobs:
                yield from _take(pending.popleft())
        while pending:
            yield from _take(pending.popleft())


def _take(entry: DocumentResult | tuple[Document, Future[list[DocumentResult]]]) -> list[DocumentResult]:
    if isinstance(entry, DocumentResult):
        return [entry]
    doc, future = entry
    try:
        return future.result()
    except Exception as exc:  # the worker died (e.g. a native library crashed on this file)
        reason = f"处理进程异常退出（{type(exc).__name__}），该文件未检查完"
        return [DocumentResult(source=doc.source, parent=doc.parent, kind="unknown", status="error", reason=reason)]
