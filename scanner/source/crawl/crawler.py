"""The crawl loop: a frontier in SQLite, a fetching thread, and a generator of Documents.

The generator's thread owns scheduling (per-host concurrency and delay, the page cap) and every
state change, and keeps each fetched body in the state file until its results are recorded; the
fetching thread (:class:`~scanner.source.crawl.fetch.Fetcher`) only fetches (streaming bodies past
``MEMORY_BODY`` to a spool file) and extracts links. At most ``concurrency`` tasks are in flight and unprocessed, so
at most about 2×concurrency bodies are in memory at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import shutil
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scanner.model import Document, DocumentResult
from scanner.source.crawl.fetch import Fetcher, Outcome, Task
from scanner.source.crawl.links import FILE, PAGE, PAGING, Link
from scanner.source.crawl.options import CrawlOptions, CrawlStats
from scanner.source.crawl.scope import (
    AddressGuard,
    Scope,
    extension,
    host_of,
    looks_like_attachment,
    normalize,
    trap_reason,
    variant_key,
)
from scanner.source.crawl.state import State, result_row

log = logging.getLogger(__name__)
_REFILL = 256
_BATCH = 64  # fetched outcomes written to the state file per transaction, at most
_RECORDS = 32  # recorded results committed together, at most


class Crawl:
    """Crawl the sites of ``starts`` (see :class:`CrawlOptions`), keeping state in the SQLite file ``state``.

    ``resume=True`` continues the crawl recorded in ``state``; otherwise ``state`` is started anew.
    ``previous(url)`` may return ``{"etag", "last_modified", "sha256"}`` of an earlier audit: attachments
    are then fetched with a conditional GET and unchanged ones yielded with ``meta["unchanged"] = True``.
    ``on_event(kind, data)`` receives "fetched", "error", "skipped" and "limit" events.
    """

    def __init__(self, starts: Sequence[str], options: CrawlOptions, state: Path, resume: bool = False,
                 previous: Callable[[str], dict[str, Any] | None] | None = None,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.options = options
        self.stats = CrawlStats()
        self.state_path = Path(state)
        self.spool_dir = Path(str(state) + ".spool")
        self.previous = previous
        self.on_event = on_event
        fresh = not resume or not self.state_path.exists()
        if fresh:
            shutil.rmtree(self.spool_dir, ignore_errors=True)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.db = State(self.state_path, fresh=fresh)
        self._bad_starts: list[str] = []
        normalized: list[str] = []
        for start in starts:
            url = normalize(start if "://" in start else "http://" + start)
            if url is None:
                self._bad_starts.append(start)
            elif url not in normalized:
                normalized.append(url)
        stored = json.loads(self.db.get_meta("starts") or "[]")
        all_starts = stored + [u for u in normalized if u not in stored]
        self.db.set_meta("starts", json.dumps(all_starts))
        self.scope = Scope.from_starts(all_starts, options.file_hosts)
        for extra in json.loads(self.db.get_meta("scope_extra") or "[]"):
            self.scope.add_start(extra)
        self.guard = AddressGuard(options.allow_private, options.allow_private_hosts)
        self._lock = threading.Lock()
        self._seen: set[str] = set(self.db.known_urls())
        self._variants: Counter[str] = Counter()
        with self.db.lock:
            for (url, parent) in self.db.conn.execute("SELECT url, parent FROM urls WHERE url LIKE '%?%'"):
                key = variant_key(url)
                if key and parent and variant_key(parent) and _path_key(parent) == key:
                    self._variants[key] += 1
            self._traps = {r[0] for r in self.db.conn.execute("SELECT key FROM traps")}
        with self.db.transaction() as c:
            for url in normalized:
                if url not in self._seen:
                    self._seen.add(url)
                    kind = FILE if looks_like_attachment(url) else PAGE
                    State.insert_url(c, url, host_of(url), kind, "GET", None, None, 0)
        self._fetched = self.db.count("state != 'queued'")
        self.stats.queued = self.db.count("state = 'queued'")
        self.stats.pages = self.db.count("state != 'queued' AND kind != 'file' AND sha256 IS NOT NULL")
        self.stats.attachments = self.db.count("state != 'queued' AND kind = 'file' AND sha256 IS NOT NULL")
        self._buffers: dict[str, deque[tuple[Any, ...]]] = {}
        self._cursor: dict[str, int] = {}
        self._open_hosts: list[str] = self.db.queued_hosts()
        self._active: Counter[str] = Counter()
        self._next_ok: dict[str, float] = {}
        self._inflight = 0
        self._results: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self.fetcher = Fetcher(options, self.scope, self.guard, self.spool_dir, self._claim)
        self._recorded: list[tuple[str, list[tuple[str, str, bytes | None, int]]]] = []
        self._closed = False

    # -- public API ----------------------------------------------------------------------------

    def documents(self) -> Iterator[Document | DocumentResult]:
        """Fetched documents, and a DocumentResult for each URL that failed or was refused (see module doc)."""
        for start in self._bad_starts:
            result = DocumentResult(source=start, parent=None, kind="unknown", status="error", reason="网址无效")
            self.db.record(start, [result])
            yield result
        self._bad_starts = []
        for row in self.db.spooled():
            doc = self._respool(row)
            if doc is not None:
                yield doc
        self._start_workers()
        try:
            while True:
                self._dispatch()
                if self._inflight == 0 and not self._has_work():
                    break
                try:
                    batch = [self._results.get(timeout=self._wait_time())]
                except queue.Empty:
                    continue
                while len(batch) < _BATCH:  # whatever else has arrived: one transaction for them all
                    try:
                        batch.append(self._results.get_nowait())
                    except queue.Empty:
                        break
                items: list[Document | DocumentResult] = []
                spools: list[str] = []
                with self.db.transaction() as c:  # committed before any of them is handed out
                    self._store_recorded(c, spools)
                    for outcome in batch:
                        items.extend(self._process(outcome, c, spools))
                for spool in spools:
                    Path(spool).unlink(missing_ok=True)
                yield from items
            self.flush()
            if self.db.count("state = 'queued'") and self._fetched >= self.options.max_pages:
                self._event("limit", {"max_pages": self.options.max_pages, "queued": self.stats.queued})
        finally:
            self._stop_workers()

    def record(self, source: str, results: Sequence[DocumentResult]) -> None:
        """Persist the consumer's results for ``source`` and mark it done.

        Results are committed in batches: with the next fetched documents, every ``_RECORDS``
        records and by :meth:`flush`/:meth:`close`. A document's body stays in the state file (or,
        past ``MEMORY_BODY``, its spool file) until its results are committed, so after a crash a
        document whose results were lost is yielded again from there (scanned again, never fetched
        again)."""
        self._recorded.append((source, [result_row(source, r) for r in results]))
        if len(self._recorded) >= _RECORDS:
            self.flush()

    def flush(self) -> None:
        """Commit the results recorded so far."""
        if not self._recorded:
            return
        spools: list[str] = []
        with self.db.transaction() as c:
            self._store_recorded(c, spools)
        for spool in spools:
            Path(spool).unlink(missing_ok=True)

    def _store_recorded(self, c: sqlite3.Connection, spools: list[str]) -> None:
        for source, rows in self._recorded:
            spool = State.store(c, source, rows)
            if spool:
                spools.append(spool)
        self._recorded.clear()

    def recorded(self) -> Iterator[DocumentResult]:
        """Results recorded so far (after ``resume=True``: those of the interrupted runs), in record order."""
        self.flush()
        return self.db.recorded()

    def parents(self, source: str) -> list[str]:
        """Every page that linked the attachment ``source``, the first linker first (a page: its first linker)."""
        return self.db.parents(source)

    def linked_from_many(self) -> dict[str, list[str]]:
        """:meth:`parents` of every document that more than one page linked, in one query."""
        return self.db.linked_from_many()

    def close(self) -> None:
        """Stop the workers and close the state file (unrecorded spool files stay, for ``resume``)."""
        if self._closed:
            return
        self._closed = True
        self.fetcher.close()
        self.flush()
        self.db.close()
        with contextlib.suppress(OSError):
            self.spool_dir.rmdir()  # only when empty: unrecorded bodies stay for a resume

    def __enter__(self) -> Crawl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- workers -------------------------------------------------------------------------------

    def _start_workers(self) -> None:
        self.fetcher.start(self._results.put)

    def _stop_workers(self) -> None:
        self.fetcher.stop()
        self._inflight = 0
        self._active.clear()

    def _claim(self, url: str) -> bool:
        with self._lock:
            if url in self._seen:
                return False
            self._seen.add(url)
            return True

    # -- scheduling ----------------------------------------------------------------------------

    def _has_work(self) -> bool:
        return bool(self._open_hosts) and self._fetched < self.options.max_pages

    def _wait_time(self) -> float:
        if self._inflight:
            return 0.5
        now = time.monotonic()
        waits = [self._next_ok.get(h, now) - now for h in self._open_hosts]
        return max(0.005, min(waits, default=0.05))

    def _dispatch(self) -> None:
        opts = self.options
        limit = max(1, opts.concurrency)
        progressed = True
        while progressed and self._inflight < limit and self._fetched < opts.max_pages:
            progressed = False
            now = time.monotonic()
            for host in list(self._open_hosts):
                if self._inflight >= limit or self._fetched >= opts.max_pages:
                    break
                if self._active[host] >= max(1, opts.per_host) or self._next_ok.get(host, 0.0) > now:
                    continue
                row = self._next_row(host)
                if row is None:
                    self._open_hosts.remove(host)
                    continue
                task_id, url, kind, method, body, parent, depth = row
                prev = None
                if self.previous is not None:  # pages too: an equal hash marks them unchanged
                    try:
                        prev = self.previous(url)
                    except Exception:  # the history is a hint; a broken one must not stop the audit
                        log.exception("previous() failed")
                task = Task(task_id, url, kind, depth, parent, method, body, prev,
                            follow=kind != FILE or self.scope.page_in_scope(url))
                self._inflight += 1
                self._fetched += 1
                self._active[host] += 1
                self.stats.inflight = self._inflight
                self.stats.queued = max(0, self.stats.queued - 1)
                delay = max(opts.delay, self.fetcher.crawl_delay(url))
                self._next_ok[host] = now + delay
                self.fetcher.submit(task)
                progressed = True

    def _next_row(self, host: str) -> tuple[Any, ...] | None:
        buf = self._buffers.setdefault(host, deque())
        if not buf:
            rows = self.db.queued(host, self._cursor.get(host, 0), _REFILL)
            if not rows:
                return None
            self._cursor[host] = rows[-1][0]
            buf.extend(rows)
        return buf.popleft()

    def _reopen(self, host: str) -> None:
        if host not in self._open_hosts:
            self._open_hosts.append(host)

    # -- results -------------------------------------------------------------------------------

    def _process(self, out: Outcome, c: sqlite3.Connection, spools: list[str]) -> list[Document | DocumentResult]:
        """Apply one outcome to the state (inside the caller's transaction ``c``); spool files to delete
        after the commit go to ``spools``."""
        task = out.task
        host = host_of(task.url)
        self._inflight -= 1
        self._active[host] -= 1
        self.stats.inflight = self._inflight
        self.stats.requests += out.requests
        if out.status == "duplicate":
            c.execute("UPDATE urls SET state = 'done', final_url = ? WHERE id = ?", (out.final_url, task.id))
            return []
        if out.status in ("error", "skipped"):
            result = DocumentResult(source=task.url, parent=task.parent, kind=_kind_guess(task), status=out.status,
                                    reason=out.reason,
                                    meta={"http_status": out.http_status} if out.http_status else {})
            self._store(c, task.url, result, spools)
            if out.status == "error":
                self.stats.errors += 1
            else:
                self.stats.skipped += 1
            self._event(out.status, {"url": task.url, "reason": out.reason})
            return [result]
        edges: list[tuple[str, str]] = []
        new_rows: list[tuple[str, str, str, str | None, str | None, int]] = []
        fresh = 0
        for link in out.extracted.links:
            fresh += self._consider(link, task, task.depth + 1, edges, new_rows)
        if fresh or task.depth == 0:
            for link in out.extracted.next_pages:
                self._consider(link, task, task.depth, edges, new_rows)
        if task.depth == 0 and out.final_url and host_of(out.final_url) != host:
            row = c.execute("SELECT value FROM meta WHERE key = 'scope_extra'").fetchone()
            extra = json.loads(row[0] if row else "[]") + [out.final_url]
            # a moved start URL stays in scope on resume
            c.execute("INSERT OR REPLACE INTO meta VALUES ('scope_extra', ?)", (json.dumps(extra),))
        traps = [r for r in new_rows if r[0] == "trap"]
        rows = [r for r in new_rows if r[0] != "trap"]
        for _, url, kind, method, body, depth in rows:
            State.insert_url(c, url, host_of(url), kind, method or "GET", body, task.url, depth)
        State.insert_links(c, edges)
        c.execute(
            "UPDATE urls SET state = 'fetched', final_url = ?, sha256 = ?, etag = ?, last_modified = ?, "
            "content_type = ?, name = ?, size = ?, unchanged = ?, in_memory = ?, spool = ?, fetched_at = ? "
            "WHERE id = ?",
            (out.final_url, out.sha256, out.etag, out.last_modified, out.content_type, out.name, out.size,
             int(out.status == "unchanged"), int(out.data is not None), str(out.spool) if out.spool else None,
             time.time(), task.id))
        if out.data is not None and out.status != "unchanged":
            c.execute("INSERT OR REPLACE INTO bodies VALUES (?, ?)", (task.id, out.data))
        for row in rows:
            self._reopen(host_of(row[1]))
        self.stats.queued += len(rows)
        if out.is_page:
            self.stats.pages += 1
        else:
            self.stats.attachments += 1
        self.stats.bytes += out.size
        if out.status == "unchanged":
            self.stats.unchanged += 1
        self._event("fetched", {"url": task.url, "size": out.size, "page": out.is_page, "new_links": fresh})
        items: list[Document | DocumentResult] = [self._document(
            task.url, task.parent, task.depth, out.final_url, out.sha256, out.etag,
                             out.last_modified, out.content_type, out.name, out.status == "unchanged",
                             out.data, out.spool)]
        for _, url, reason, key in traps:
            result = DocumentResult(source=url, parent=task.url, kind=_kind_guess(Task(0, url, PAGE, 0, None)),
                                    status="skipped", reason=reason)
            c.execute("INSERT OR IGNORE INTO traps VALUES (?)", (key,))
            self._store(c, url, result, spools)
            self.stats.skipped += 1
            self._event("skipped", {"url": url, "reason": reason})
            items.append(result)
        return items

    @staticmethod
    def _store(c: sqlite3.Connection, url: str, result: DocumentResult, spools: list[str]) -> None:
        spool = State.store(c, url, [result_row(url, result)])
        if spool:
            spools.append(spool)

    def _consider(self, link: Link, task: Task, depth: int, edges: list[tuple[str, str]],
                  rows: list[tuple[Any, ...]]) -> int:
        """Queue ``link`` if it is new, in scope and no trap; returns 1 if it was queued."""
        url = link.url
        if url == task.url:
            return 0
        if link.kind == FILE:  # pages keep their first linker only: nav links would flood the graph
            edges.append((task.url, url))
        with self._lock:
            if url in self._seen:
                return 0
        opts = self.options
        if link.kind == FILE:
            ok = self.scope.file_in_scope(url) and depth <= opts.max_depth + 1
        elif link.kind == PAGING:
            ok = self.scope.on_site(url)
        else:
            ok = self.scope.page_in_scope(url) and depth <= opts.max_depth
        if not ok:
            return 0
        key = variant_key(url)
        if link.kind == PAGE and key is not None:
            reason = trap_reason(url)
            if reason is None and _path_key(task.url) == key:
                if self._variants[key] >= opts.max_query_variants:
                    reason = (f"同一路径的查询参数组合超过 {opts.max_query_variants} 个，"
                              "疑似无限链接（日历等），已停止跟进")
                else:
                    self._variants[key] += 1
            if reason is not None:
                if key not in self._traps:
                    self._traps.add(key)
                    with self._lock:
                        self._seen.add(url)
                    rows.append(("trap", url, reason, key))
                return 0
        elif link.kind == PAGE:
            reason = trap_reason(url)
            if reason is not None:
                return 0
        with self._lock:
            if url in self._seen:
                return 0
            self._seen.add(url)
        rows.append(("new", url, link.kind, link.method if link.method != "GET" else None, link.body, depth))
        return 1

    def _document(self, url: str, parent: str | None, depth: int, final_url: str | None, sha256: str | None,
                  etag: str | None, last_modified: str | None, content_type: str | None, name: str,
                  unchanged: bool, data: bytes | None, spool: Path | None) -> Document:
        meta: dict[str, Any] = {"sha256": sha256, "etag": etag, "last_modified": last_modified,
                                "final_url": final_url or url, "depth": depth}
        if unchanged:
            meta["unchanged"] = True
        if data is None and spool is not None:
            return Document(source=url, parent=parent, path=spool, name=name, content_type=content_type, meta=meta)
        return Document(source=url, parent=parent, data=data if data is not None else b"", name=name,
                        content_type=content_type, meta=meta)

    def _respool(self, row: tuple[Any, ...]) -> Document | None:
        (task_id, url, parent, depth, final_url, sha256, etag, last_modified, content_type, name, unchanged,
         in_memory, spool, _kind, body) = row
        if body is not None:
            return self._document(url, parent, depth, final_url, sha256, etag, last_modified, content_type,
                                  name or "", bool(unchanged), bytes(body), None)
        path = Path(spool) if spool else None
        if path is None or not path.exists():
            if unchanged and path is None:
                return self._document(url, parent, depth, final_url, sha256, etag, last_modified, content_type,
                                      name or "", True, b"", None)
            with self.db.transaction() as c:  # the body is lost: fetch it again
                c.execute("UPDATE urls SET state = 'queued' WHERE id = ?", (task_id,))
            self._reopen(host_of(url))
            self._fetched -= 1
            return None
        data = path.read_bytes() if in_memory else None
        return self._document(url, parent, depth, final_url, sha256, etag, last_modified, content_type,
                              name or "", bool(unchanged), data, path)

    def _event(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            try:
                self.on_event(kind, data)
            except Exception:
                log.exception("on_event failed")


def _path_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def _kind_guess(task: Task) -> str:
    if task.kind == FILE:
        return extension(task.url) or "unknown"
    return "html"
