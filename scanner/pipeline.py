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
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext

from scanner.config import Limits
from scanner.detect.engine import Detector
from scanner.errors import ExtractError, Skip
from scanner.extract import extract
from scanner.extract.sniff import ext_kind
from scanner.model import Document, DocumentResult, Segment

log = logging.getLogger(__name__)

#: Segments are detected in batches of about this many characters (one regex pass per rule per batch).
_BATCH_CHARS = 1 << 20
#: Document facts a result carries into the report and the audit history.
_RESULT_META = ("title", "published", "ocr_pages", "sha256", "etag", "last_modified", "final_url")


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
            result.meta.update({k: v for k, v in doc.meta.items() if k in _RESULT_META})


# -- parallel scanning -------------------------------------------------------------------------
_worker: Scanner | None = None


def _work(doc: Document) -> list[DocumentResult]:
    assert _worker is not None
    return _worker.process(doc)


def scan_all(items: Iterable[Document | DocumentResult], scanner: Scanner, jobs: int = 1) -> Iterator[DocumentResult]:
    """Scan ``items`` (documents, or results already decided by the source) and yield the results
    in input order (see :func:`scan_groups`)."""
    for _item, results in scan_groups(items, scanner, jobs):
        yield from results


Item = Document | DocumentResult


def scan_groups(items: Iterable[Item], scanner: Scanner, jobs: int = 1) -> Iterator[tuple[Item, list[DocumentResult]]]:
    """Scan ``items`` and yield each with its results (a document's own result first, then those of
    the documents inside it), in input order.

    With ``jobs > 1`` documents are scanned in forked worker processes that inherit the loaded
    rules; at most ``2 × jobs`` documents are in flight, so memory stays bounded. A worker that
    dies (a native library crashing on a file) costs only the documents it held: the pool is
    rebuilt and the rest carry on.
    """
    if jobs <= 1:
        for item in items:
            yield item, ([item] if isinstance(item, DocumentResult) else scanner.process(item))
        return
    global _worker
    _worker = scanner
    ctx = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)
    pending: deque[tuple[Item, Future[list[DocumentResult]] | None]] = deque()

    def submit(item: Item) -> None:
        nonlocal pool
        if isinstance(item, DocumentResult):
            pending.append((item, None))
            return
        try:
            pending.append((item, pool.submit(_work, item)))
        except BrokenProcessPool:
            pool = _rebuild(pool, jobs, ctx)
            pending.append((item, pool.submit(_work, item)))

    def take() -> tuple[Item, list[DocumentResult]]:
        nonlocal pool
        item, future = pending.popleft()
        if future is None:
            assert isinstance(item, DocumentResult)
            return item, [item]
        assert isinstance(item, Document)
        try:
            return item, future.result()
        except BrokenProcessPool:
            # every document in flight on the broken pool failed with it; give the innocent ones
            # a second chance on a fresh pool, once, and blame only the one that breaks it again
            pool = _rebuild(pool, jobs, ctx)
            retry = _retry_alone(item, scanner, ctx)
            for i, (other, fut) in enumerate(pending):
                if fut is not None and fut.done() and isinstance(fut.exception(), BrokenProcessPool):
                    pending[i] = (other, pool.submit(_work, other))
            return item, retry
        except Exception as exc:
            return item, [_crashed(item, exc)]

    try:
        for item in items:
            submit(item)
            while len(pending) > 2 * jobs:
                yield take()
        while pending:
            yield take()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _rebuild(pool: ProcessPoolExecutor, jobs: int, ctx: BaseContext) -> ProcessPoolExecutor:
    pool.shutdown(wait=False, cancel_futures=True)
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)


def _retry_alone(doc: Document, scanner: Scanner, ctx: BaseContext) -> list[DocumentResult]:
    """Scan ``doc`` in a single-use worker: if it crashes again, it is the culprit."""
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as solo:
        try:
            return solo.submit(_work, doc).result()
        except Exception as exc:
            return [_crashed(doc, exc)]


def _crashed(doc: Document, exc: BaseException) -> DocumentResult:
    reason = f"处理进程异常退出（{type(exc).__name__}），该文件未检查完"
    return DocumentResult(source=doc.source, parent=doc.parent, kind=ext_kind(doc.name or doc.source) or "unknown",
                          status="error", reason=reason)
