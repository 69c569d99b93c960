"""Wiring: Document → extract → detect → DocumentResult, in one process or across cores.

A bad document never stops the run: whatever it raises ends as that document's ``error`` status
with a one-line reason, and the findings found before the failure are kept.
"""

from __future__ import annotations

import copy
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing.context import BaseContext
from typing import Any

from scanner.config import Limits
from scanner.detect.engine import Detector
from scanner.errors import ExtractError, NeedsOCR, Skip
from scanner.extract import extract
from scanner.extract.sniff import ext_kind
from scanner.model import Document, DocumentResult, Segment

log = logging.getLogger(__name__)

#: Segments are detected in batches of about this many characters (one regex pass per rule per batch).
_BATCH_CHARS = 1 << 20
#: An OCR document may take this many pages' worth of the per-page OCR time limit.
_OCR_PAGES_PER_DOCUMENT = 120
#: Document facts a result carries into the report and the audit history.
_RESULT_META = ("title", "published", "ocr_pages", "ocr_unread_pages", "sha256", "etag", "last_modified", "final_url")


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
        result = DocumentResult(source=doc.source, parent=doc.parent,
                                kind=ext_kind(doc.name or doc.source) or "unknown", status="scanned")
        out.append(result)
        try:
            size = doc.size
            if size > self.limits.max_file_bytes:
                mb, cap = size // (1024 * 1024), self.limits.max_file_bytes // (1024 * 1024)
                raise Skip(f"文件过大（{mb} MB，上限 {cap} MB）")
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
        except NeedsOCR:
            raise  # the whole document goes to the OCR worker (see scan_groups)
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
_ocr_worker: Scanner | None = None
#: Workers send findings back already encoded as spool records (set by :func:`scan_groups`).
_pack = False
#: Extractors imported before the workers fork, so each worker does not import them again.
_PRELOAD = ("text", "html", "csv", "pdf", "xlsx", "docx")
#: Small documents (a crawl's pages) travel to the workers in batches of at most this many
#: documents or bytes: one task per 2 KB page cost more in pickling and process-pool bookkeeping
#: (both sides) than scanning the page.
_BATCH_DOCS = 16
_BATCH_BYTES = 256 * 1024


def _work(docs: list[Document]) -> list[list[DocumentResult] | None]:
    """A text worker's task. None for a document that is mostly OCR work (a picture, or a PDF
    whose first page has no text layer, found out while reading it): the parent sends it on to
    the OCR lane. Deciding here, not in the parent, keeps the parent (which fetches and records
    for a crawl) from opening every PDF, and the worker from opening it twice."""
    assert _worker is not None
    out: list[list[DocumentResult] | None] = []
    for doc in docs:
        try:
            out.append(None if _is_picture(doc) else _scan_in_worker(_worker, doc))
        except NeedsOCR:
            out.append(None)
    return out


def _work_ocr(docs: list[Document]) -> list[list[DocumentResult] | None]:
    assert _ocr_worker is not None
    return [_scan_in_worker(_ocr_worker, doc) for doc in docs]


def _scan_in_worker(scanner: Scanner, doc: Document) -> list[DocumentResult]:
    results = scanner.process(doc)
    if _pack:
        for r in results:
            r.pack()
    return results


def scan_all(items: Iterable[Document | DocumentResult], scanner: Scanner, jobs: int = 1,
             pack: bool = False) -> Iterator[DocumentResult]:
    """Scan ``items`` (documents, or results already decided by the source) and yield the results
    in input order (see :func:`scan_groups`)."""
    done: dict[int, list[DocumentResult]] = {}
    want = 0
    for index, _item, results in scan_groups(items, scanner, jobs, indexed=True, pack=pack):
        done[index] = results
        while want in done:  # results are small; only OCR documents finish far out of order
            yield from done.pop(want)
            want += 1


Item = Document | DocumentResult
Entry = tuple[int, Document]


def _is_picture(doc: Document) -> bool:
    try:
        from scanner.extract import ocr, sniff

        return sniff(doc) in ocr.IMAGE_KINDS
    except Exception:  # routing is a hint: anything odd goes to the text pool, which reports it
        return False


def _size(doc: Document) -> int:
    try:
        return doc.size
    except OSError:
        return 0


def scan_groups(items: Iterable[Item], scanner: Scanner, jobs: int = 1, *,
                indexed: bool = False, pack: bool = False) -> Iterator[Any]:
    """Scan ``items`` and yield each with its results (a document's own result first, then those of
    the documents inside it) as ``(item, results)``, or ``(index, item, results)`` with ``indexed``.

    With ``jobs <= 1`` everything runs here, in input order. Otherwise documents are scanned in
    forked worker processes that inherit the loaded rules, and results come as they finish:
    pictures and scanned PDFs go to a separate OCR worker, so text documents are not held up
    behind them. Small documents are sent in batches while every worker has work, singly when one
    is waiting. At most ``2 × jobs`` tasks of text documents and a few OCR documents are in flight,
    so memory stays bounded. A worker that dies (a native library crashing on a file) costs only
    the document it held: the pool is rebuilt and the rest carry on. One OCR page budget is shared
    by all workers. With ``pack``, findings come back encoded (:meth:`DocumentResult.pack`), so the
    parent only appends bytes to the report's spool: for consumers that need no Finding objects.
    """

    def out(index: int, item: Item, results: list[DocumentResult]) -> Any:
        return (index, item, results) if indexed else (item, results)

    if jobs <= 1:
        for index, item in enumerate(items):
            yield out(index, item, [item] if isinstance(item, DocumentResult) else scanner.process(item))
        return
    global _worker, _ocr_worker, _pack
    _pack = pack  # with pack, worker results carry encoded findings (DocumentResult.pack)
    _worker = copy.copy(scanner)  # hands scanned PDFs on to the OCR worker instead of reading them
    _worker.limits = replace(scanner.limits, ocr_elsewhere=True)
    _preload()
    gc.freeze()  # the loaded rules and libraries stay shared with the workers: no collector writes to them
    _ocr_worker = copy.copy(scanner)  # a scanned PDF may take many pages × the per-page OCR limit
    _ocr_worker.limits = replace(scanner.limits, seconds_per_document=max(
        scanner.limits.seconds_per_document, scanner.limits.ocr_seconds_per_page * _OCR_PAGES_PER_DOCUMENT))
    _share_ocr_budget(scanner.limits)
    ctx = multiprocessing.get_context("fork")
    lanes = {"text": _Lane(_work, jobs, 2 * jobs, ctx), "ocr": _Lane(_work_ocr, 1, 2, ctx)}
    text = lanes["text"]
    # Fork the text workers now, before the first item is asked for: a crawl starts its fetching
    # threads then, and a fork while other threads hold locks can leave a worker stuck on one.
    text.start()
    batch: list[Entry] = []
    batch_bytes = 0

    def submit(lane: _Lane, entries: list[Entry]) -> Iterator[Any]:
        # documents sent on to OCR wait in its lane: past a bound, new text work waits for them too
        while lane.full() or lanes["ocr"].backlog():
            for done in _collect(lanes, block=True):
                yield out(*done)
        lane.submit(entries)

    try:
        for index, item in enumerate(items):
            if isinstance(item, DocumentResult):
                yield out(index, item, [item])
                continue
            size = _size(item)
            if size >= _BATCH_BYTES:
                yield from submit(text, [(index, item)])
            else:
                batch.append((index, item))
                batch_bytes += size
                # a batch grows only while every worker is busy: an idle worker gets what there is
                if len(batch) >= _BATCH_DOCS or batch_bytes >= _BATCH_BYTES or not text.busy():
                    entries, batch, batch_bytes = batch, [], 0
                    yield from submit(text, entries)
            for done in _collect(lanes, block=False):
                yield out(*done)
        if batch:
            yield from submit(text, batch)
        while any(lane.pending for lane in lanes.values()):
            for done in _collect(lanes, block=True):
                yield out(*done)
    finally:
        for lane in lanes.values():
            lane.shutdown()


Work = Callable[[list[Document]], list[list[DocumentResult] | None]]


class _Lane:
    """A process pool with its own bound on tasks (batches of documents) in flight."""

    def __init__(self, fn: Work, workers: int, bound: int, ctx: BaseContext) -> None:
        self.fn, self.workers, self.bound, self.ctx = fn, workers, bound, ctx
        self.pool: ProcessPoolExecutor | None = None
        self.pending: dict[Future[list[list[DocumentResult] | None]], list[Entry]] = {}

    def full(self) -> bool:
        return len(self.pending) >= self.bound

    def backlog(self) -> bool:
        """More tasks wait than twice the bound (documents handed on from another lane)."""
        return len(self.pending) >= 2 * self.bound + 2

    def busy(self) -> bool:
        """Every worker has a task (running or queued behind one)."""
        return sum(not f.done() for f in self.pending) >= self.workers

    def start(self) -> None:
        """Fork the workers (a pool forks all of them at its first task)."""
        if self.pool is None:
            self.pool = _pool(self.workers, self.ctx)
        self.pool.submit(self.fn, [])

    def submit(self, entries: list[Entry]) -> None:
        if self.pool is None:
            self.pool = _pool(self.workers, self.ctx)
        docs = [doc for _, doc in entries]
        try:
            future = self.pool.submit(self.fn, docs)
        except BrokenProcessPool:
            self.rebuild()
            assert self.pool is not None
            future = self.pool.submit(self.fn, docs)
        self.pending[future] = entries

    def rebuild(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = _pool(self.workers, self.ctx)

    def take(self, future: Future[list[list[DocumentResult] | None]]
             ) -> list[tuple[int, Document, list[DocumentResult] | None]]:
        entries = self.pending.pop(future)
        try:
            return [(index, doc, results) for (index, doc), results in zip(entries, future.result(), strict=True)]
        except BrokenProcessPool:
            # Every task in flight on the broken pool failed with it. Give the others a second
            # chance on a fresh pool, and scan this task's documents each alone: the one that
            # crashes again is the culprit.
            others = [f for f in self.pending if f.done() and isinstance(f.exception(), BrokenProcessPool)]
            again = [self.pending.pop(f) for f in others]
            self.rebuild()
            for task in again:
                self.submit(task)
            return [(index, doc, _retry_alone(self.fn, doc, self.ctx)) for index, doc in entries]
        except Exception as exc:
            return [(index, doc, [_crashed(doc, exc)]) for index, doc in entries]

    def shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _collect(lanes: dict[str, _Lane], block: bool) -> list[tuple[int, Document, list[DocumentResult]]]:
    """Finished documents of every lane (waiting for at least one when ``block``)."""
    futures = [f for lane in lanes.values() for f in lane.pending]
    if not futures:
        return []
    if block:
        wait(futures, return_when=FIRST_COMPLETED)
    out = []
    for lane in lanes.values():
        while True:  # taking a result may resubmit others (after a crash): look again each time
            future = next((f for f in lane.pending if f.done()), None)
            if future is None:
                break
            for index, doc, results in lane.take(future):
                if results is None:  # mostly OCR work: its own lane
                    lanes["ocr"].submit([(index, doc)])
                else:
                    out.append((index, doc, results))
    return out


def _pool(workers: int, ctx: BaseContext) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_die_with_parent,
                               initargs=(os.getpid(),))


def _die_with_parent(parent: int) -> None:
    """A worker ends when the leakscan process does, even when it was killed with SIGKILL (its
    workers would otherwise wait for work forever, each holding a copy of the loaded rules).
    Linux sends the signal when the thread that forked the worker ends: pools are used from the
    main thread."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: workers end when their queue closes, as before
        return
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _preload() -> None:
    """Import the common extractors here, once, rather than in every forked worker."""
    from scanner.extract import extractor_for

    for kind in _PRELOAD:
        try:
            extractor_for(kind)
        except Exception:  # an optional library missing: the worker reports it per document
            continue


def _share_ocr_budget(limits: Limits) -> None:
    """One OCR page budget for the run, drawn on by every forked worker."""
    try:
        from scanner.extract import ocr
    except ImportError:
        return
    ocr.set_budget(ocr.PageBudget(limits.ocr_page_budget, shared=multiprocessing.get_context("fork").Value("q", 0)))


def _retry_alone(fn: Work, doc: Document, ctx: BaseContext) -> list[DocumentResult] | None:
    """Scan ``doc`` in a single-use worker: if it crashes again, it is the culprit."""
    with _pool(1, ctx) as solo:
        try:
            return solo.submit(fn, [doc]).result()[0]
        except Exception as exc:
            return [_crashed(doc, exc)]


def _crashed(doc: Document, exc: BaseException) -> DocumentResult:
    reason = f"处理进程异常退出（{type(exc).__name__}），该文件未检查完"
    return DocumentResult(source=doc.source, parent=doc.parent, kind=ext_kind(doc.name or doc.source) or "unknown",
                          status="error", reason=reason)
