"""Wiring: Document → extract → detect → DocumentResult, in one process or across cores.

A bad document never stops the run: whatever it raises ends as that document's ``error`` status
with a one-line reason, and the findings found before the failure are kept.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING, Any

from scanner.config import Limits
from scanner.detect.spec import DetectorSpec
from scanner.errors import ExtractError, NeedsOCR, Skip
from scanner.extract import extract
from scanner.extract.sniff import ext_kind
from scanner.model import Document, DocumentResult, Segment

if TYPE_CHECKING:
    from scanner.detect.engine import Detector

log = logging.getLogger(__name__)

#: Segments are detected in batches of about this many characters (one regex pass per rule per batch).
_BATCH_CHARS = 1 << 20
#: An OCR document may take this many pages' worth of the per-page OCR time limit.
_OCR_PAGES_PER_DOCUMENT = 120
#: Document facts a result carries into the report and the audit history.
_RESULT_META = ("title", "published", "ocr_pages", "ocr_unread_pages", "sha256", "etag", "last_modified", "final_url")


class Scanner:
    """Scans one document (and the members of an archive) with a :class:`Detector`, built on first
    use when given a :class:`DetectorSpec` (see :func:`scan_groups`: with worker processes, this
    process never needs one)."""

    def __init__(self, detector: Detector | DetectorSpec, limits: Limits | None = None) -> None:
        self._detector: Detector | None = None
        self._spec: DetectorSpec | None = None
        if isinstance(detector, DetectorSpec):
            self._spec = detector
        else:
            self._detector = detector
        self.limits = limits or Limits()

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            assert self._spec is not None
            self._detector = self._spec.build()
        return self._detector

    @property
    def spec(self) -> DetectorSpec:
        return self._spec if self._spec is not None else self.detector.spec

    def __getstate__(self) -> dict[str, Any]:
        # sent to worker processes without its detector: each builds its own from the spec
        state = self.__dict__.copy()
        state["_spec"], state["_detector"] = self.spec, None
        return state

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
#
# Worker processes are forked from a fork server (multiprocessing's "forkserver"): a process
# started for the purpose, which imports the detector's libraries and the common extractors once
# (1-2 s of one core) and forks a worker when asked. This process never imports them: a
# crawl fetches while the fork server imports, and no worker is ever forked from a process whose
# other threads (a crawl's fetcher) might hold locks.

_worker: Scanner | None = None
#: Workers send findings back already encoded as spool records (set by :func:`_init_worker`).
_pack = False
#: Extractors the fork server imports, so each worker does not import them again.
_PRELOAD = ("text", "html", "csv", "pdf", "xlsx", "docx")
#: Small documents (a crawl's pages) travel to the workers in batches of at most this many
#: documents or bytes: one task per 2 KB page cost more in pickling and process-pool bookkeeping
#: (both sides) than scanning the page.
_BATCH_DOCS = 16
_BATCH_BYTES = 256 * 1024
#: Tasks, and bytes of documents, a lane holds while its workers start (the fork server may still
#: be importing, 1-2 s): a crawl goes on fetching meanwhile, up to this many of either.
_STARTING_TASKS = 256
_STARTING_BYTES = 32 * 2**20


def warm_up() -> None:
    """Start the fork server now, if it is not running, without waiting for its imports: the
    caller gets on with its own work (a crawl, its fetching) meanwhile."""
    from multiprocessing import forkserver

    from scanner.extract import EXTRACTORS

    modules = ["scanner.pipeline", "scanner.detect.engine"]
    modules += [EXTRACTORS[kind].partition(":")[0] for kind in _PRELOAD if kind in EXTRACTORS]
    modules.append("scanner._freeze")
    multiprocessing.get_context("forkserver").set_forkserver_preload(modules)
    forkserver.ensure_running()


def _init_worker(lifeline: Any, scanner: Scanner, limits: Limits, pack: bool, budget: Any) -> None:
    """Set up a worker: its own detector (from the scanner's spec), the lane's limits, and the
    run's shared OCR page budget."""
    _watch_lifeline(lifeline)
    global _worker, _pack
    scanner.limits = limits
    scanner.detector  # noqa: B018 -- built now, not inside the first document's time limit
    _worker, _pack = scanner, pack
    if budget is not None:
        from scanner.extract import ocr

        ocr.set_budget(ocr.PageBudget(limits.ocr_page_budget, shared=budget))
    gc.freeze()  # the detector too stays out of the collector's reach


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
    assert _worker is not None
    return [_scan_in_worker(_worker, doc) for doc in docs]


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
    worker processes (forked from the fork server, see :func:`warm_up`; each builds its detector
    from ``scanner.spec``, so this process needs none) and results come as they finish: pictures
    and scanned PDFs go to a separate OCR worker, so text documents are not held up behind them.
    Small documents are sent in batches while every worker has work, singly when one is waiting.
    At most ``2 × jobs`` tasks of text documents and a few OCR documents are in flight (more while
    the first worker starts), so memory stays bounded. A worker that dies (a native library
    crashing on a file) costs only the document it held: the pool is rebuilt and the rest carry
    on. One OCR page budget is shared by all workers. With ``pack``, findings come back encoded
    (:meth:`DocumentResult.pack`), so the parent only appends bytes to the report's spool: for
    consumers that need no Finding objects.
    """

    def out(index: int, item: Item, results: list[DocumentResult]) -> Any:
        return (index, item, results) if indexed else (item, results)

    if jobs <= 1:
        for index, item in enumerate(items):
            yield out(index, item, [item] if isinstance(item, DocumentResult) else scanner.process(item))
        return
    warm_up()
    _lifeline()  # made once, here: pools are made by the starter thread and by this one
    ctx = multiprocessing.get_context("forkserver")
    budget = _share_ocr_budget(scanner.limits, ctx)
    limits = scanner.limits
    # text workers hand scanned PDFs on to the OCR worker instead of reading them; an OCR document
    # may take many pages × the per-page OCR limit
    text_limits = replace(limits, ocr_elsewhere=True)
    ocr_limits = replace(limits, seconds_per_document=max(
        limits.seconds_per_document, limits.ocr_seconds_per_page * _OCR_PAGES_PER_DOCUMENT))
    lanes = {"text": _Lane(_work, jobs, 2 * jobs, ctx, (scanner, text_limits, pack, budget)),
             "ocr": _Lane(_work_ocr, 1, 2, ctx, (scanner, ocr_limits, pack, budget))}
    text = lanes["text"]
    text.start()  # in the background: the fork server may still be importing
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
        while any(lane.active() for lane in lanes.values()):
            for done in _collect(lanes, block=True):
                yield out(*done)
    finally:
        for lane in lanes.values():
            lane.shutdown()


Work = Callable[[list[Document]], list[list[DocumentResult] | None]]


class _Lane:
    """A process pool with its own bound on tasks (batches of documents) in flight."""

    def __init__(self, fn: Work, workers: int, bound: int, ctx: BaseContext, initargs: tuple[Any, ...]) -> None:
        self.fn, self.workers, self.bound, self.ctx, self.initargs = fn, workers, bound, ctx, initargs
        self.pool: ProcessPoolExecutor | None = None
        self.pending: dict[Future[list[list[DocumentResult] | None]], list[Entry]] = {}
        #: Tasks held here while the workers start (see :meth:`start`), and their documents' bytes.
        self.waiting: list[list[Entry]] = []
        self.waiting_bytes = 0
        self._starter: threading.Thread | None = None
        self._start_error: BaseException | None = None

    def active(self) -> bool:
        return bool(self.pending or self.waiting)

    def full(self) -> bool:
        if self._starter is not None:
            return len(self.waiting) >= _STARTING_TASKS or self.waiting_bytes >= _STARTING_BYTES
        return len(self.pending) >= self.bound

    def backlog(self) -> bool:
        """More tasks wait than twice the bound (documents handed on from another lane)."""
        return len(self.pending) + len(self.waiting) >= 2 * self.bound + 2

    def busy(self) -> bool:
        """Every worker has a task (running or queued behind one), or none is up yet."""
        return self._starter is not None or sum(not f.done() for f in self.pending) >= self.workers

    def start(self) -> None:
        """Start the workers from a thread of their own: the first waits until the fork server has
        done its imports. Tasks submitted meanwhile wait in :attr:`waiting`."""
        if self.pool is None and self._starter is None:
            self._starter = threading.Thread(target=self._start, name="leakscan-workers", daemon=True)
            self._starter.start()

    def _start(self) -> None:
        try:
            pool = self._new_pool(self.workers)
            for _ in range(self.workers):  # a pool starts a worker per task while none is idle
                pool.submit(self.fn, [])
            self.pool = pool
        except BaseException as exc:  # raised in the caller's thread by started()
            self._start_error = exc

    def started(self, block: bool) -> bool:
        """Whether the workers are up (waiting for them when ``block``); hands them the tasks held
        meanwhile."""
        if self._starter is None:
            return True
        if block:
            self._starter.join()
        elif self._starter.is_alive():
            return False
        self._starter = None
        if self._start_error is not None:
            raise self._start_error
        for entries in self.waiting:
            self.submit(entries)
        self.waiting.clear()
        self.waiting_bytes = 0
        return True

    def submit(self, entries: list[Entry]) -> None:
        if self._starter is not None:
            self.waiting.append(entries)
            self.waiting_bytes += sum(_size(doc) for _, doc in entries)
            return
        if self.pool is None:
            self.pool = self._new_pool(self.workers)
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
        self.pool = self._new_pool(self.workers)

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
            return [(index, doc, self._retry_alone(doc)) for index, doc in entries]
        except Exception as exc:
            return [(index, doc, [_crashed(doc, exc)]) for index, doc in entries]

    def _retry_alone(self, doc: Document) -> list[DocumentResult] | None:
        """Scan ``doc`` in a single-use worker: if it crashes again, it is the culprit."""
        with self._new_pool(1) as solo:
            try:
                return solo.submit(self.fn, [doc]).result()[0]
            except Exception as exc:
                return [_crashed(doc, exc)]

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=self.ctx, initializer=_init_worker,
                                   initargs=(_lifeline(), *self.initargs))

    def shutdown(self) -> None:
        if self._starter is not None:
            self._starter.join()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _collect(lanes: dict[str, _Lane], block: bool) -> list[tuple[int, Document, list[DocumentResult]]]:
    """Finished documents of every lane (waiting for at least one when ``block``)."""
    for lane in lanes.values():
        lane.started(block=False)
    futures = [f for lane in lanes.values() for f in lane.pending]
    if not futures and block:  # nothing in flight but what waits for the workers to start
        for lane in lanes.values():
            lane.started(block=True)
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


def _lifeline() -> Any:
    """The read end of a pipe whose write end only this process holds: each worker watches it (see
    :func:`_watch_lifeline`), and learns so that this process ended, even by SIGKILL."""
    global _lifeline_ends
    if _lifeline_ends is None:
        _lifeline_ends = multiprocessing.get_context("forkserver").Pipe(duplex=False)
    return _lifeline_ends[0]


#: (read end, write end) of :func:`_lifeline`, open for as long as this process runs.
_lifeline_ends: tuple[Any, Any] | None = None


def _watch_lifeline(lifeline: Any) -> None:
    """End this worker when the leakscan process does, even when it was killed with SIGKILL (its
    workers would otherwise wait for work forever, each holding a detector; and the fork server,
    their parent, lives as long as they do)."""

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()  # nothing is ever sent: this returns when the writer is gone
        os._exit(1)

    threading.Thread(target=watch, name="leakscan-lifeline", daemon=True).start()


def _share_ocr_budget(limits: Limits, ctx: BaseContext) -> Any:
    """One OCR page budget for the run, drawn on by every worker (None without OCR)."""
    try:
        from scanner.extract import ocr
    except ImportError:
        return None
    shared = ctx.Value("q", 0)
    ocr.set_budget(ocr.PageBudget(limits.ocr_page_budget, shared=shared))
    return shared


def _crashed(doc: Document, exc: BaseException) -> DocumentResult:
    reason = f"处理进程异常退出（{type(exc).__name__}），该文件未检查完"
    return DocumentResult(source=doc.source, parent=doc.parent, kind=ext_kind(doc.name or doc.source) or "unknown",
                          status="error", reason=reason)
