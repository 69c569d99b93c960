"""The crawl's SQLite state file: frontier, fetched URLs with hashes and validators, the link graph
and the results recorded by the consumer (so an interrupted audit resumes without losing findings).

One connection, guarded by a lock (``record()`` may be called from another thread than the crawl).
WAL journal: a reader never blocks the writer; ``synchronous=NORMAL`` survives a killed process.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scanner.model import DocumentResult, Finding

SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS urls (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    kind TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT 'GET',
    body TEXT,
    parent TEXT,
    depth INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',  -- queued | fetched (spooled, not yet recorded) | done
    final_url TEXT,
    sha256 TEXT,
    etag TEXT,
    last_modified TEXT,
    content_type TEXT,
    name TEXT,
    size INTEGER,
    unchanged INTEGER NOT NULL DEFAULT 0,
    in_memory INTEGER NOT NULL DEFAULT 1,
    spool TEXT,
    fetched_at REAL
);
-- Only queued rows are indexed: a row leaves the index once, when it is fetched, and the other
-- state changes (one per document) rewrite no index page.
DROP INDEX IF EXISTS urls_frontier;
DROP INDEX IF EXISTS urls_final;
CREATE INDEX IF NOT EXISTS urls_queued ON urls (host, id) WHERE state = 'queued';
CREATE TABLE IF NOT EXISTS links (id INTEGER PRIMARY KEY, src TEXT NOT NULL, dst TEXT NOT NULL, UNIQUE (dst, src));
CREATE TABLE IF NOT EXISTS results (id INTEGER PRIMARY KEY, source TEXT NOT NULL, data TEXT NOT NULL,
                                    packed BLOB, packed_count INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS results_source ON results (source);
CREATE TABLE IF NOT EXISTS traps (key TEXT PRIMARY KEY);
-- Bodies of fetched documents not yet recorded (those kept in memory; larger ones are in spool
-- files): a resumed crawl scans them again without fetching them again. A row here costs less
-- than a small file created and deleted per document.
CREATE TABLE IF NOT EXISTS bodies (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
"""


def finding_to_dict(f: Finding) -> dict[str, Any]:
    """A Finding as JSON-safe data that :func:`finding_from_dict` restores exactly."""
    return {
        "entity": f.entity, "rule": f.rule, "source": f.source, "parent": f.parent, "location": f.location,
        "masked": f.masked, "fingerprint": f.fingerprint, "exposure": f.exposure, "severity": f.severity,
        "confidence": f.confidence, "context": f.context, "remediation": f.remediation, "extra": f.extra,
    }


def finding_from_dict(d: dict[str, Any]) -> Finding:
    """Inverse of :func:`finding_to_dict`."""
    return Finding(**{**d, "extra": dict(d.get("extra") or {})})


#: Finding fields stored positionally (a list per finding, not a dict: half the encoding work).
_FINDING_FIELDS = ("entity", "rule", "location", "masked", "fingerprint", "exposure", "severity", "confidence",
                   "context", "remediation", "extra")


def result_to_json(r: DocumentResult) -> str:
    """A DocumentResult (with its findings: masked values and fingerprints only, never a raw
    ``value``) as compact JSON text.

    A finding's ``source``/``parent`` are stored only when they differ from the result's.
    """
    findings = []
    for f in r.findings:
        # a raw value shown on request (--show-values) never goes into the state file
        extra = {k: v for k, v in f.extra.items() if k != "value"} if "value" in f.extra else f.extra
        row = [f.entity, f.rule, f.location, f.masked, f.fingerprint, f.exposure, f.severity, f.confidence,
               f.context, f.remediation, extra]
        if f.source != r.source or f.parent != r.parent:
            row += [f.source, f.parent]
        findings.append(row)
    return json.dumps([r.source, r.parent, r.kind, r.status, r.reason, r.meta, findings],
                      ensure_ascii=False, separators=(",", ":"), default=str)


def result_row(source: str, r: DocumentResult) -> tuple[str, str, bytes | None, int]:
    """A row of the results table for ``r``, recorded under the fetched URL ``source`` (an archive's
    members are recorded under the archive): (source, JSON, packed findings, their count)."""
    return (source, result_to_json(r), r.packed or None, r.packed_count)


def result_from_json(text: str) -> DocumentResult:
    """Inverse of :func:`result_to_json` (also reads the dict form of earlier state files)."""
    d = json.loads(text)
    if isinstance(d, dict):
        return DocumentResult(source=d["source"], parent=d["parent"], kind=d["kind"], status=d["status"],
                              reason=d["reason"], findings=[finding_from_dict(f) for f in d["findings"]],
                              meta=d.get("meta") or {})
    source, parent, kind, status, reason, meta, rows = d
    findings = []
    for row in rows:
        fields = dict(zip(_FINDING_FIELDS, row, strict=False))
        fields["extra"] = dict(fields.get("extra") or {})
        own = row[len(_FINDING_FIELDS):]
        findings.append(Finding(source=own[0] if own else source, parent=own[1] if own else parent, **fields))
    return DocumentResult(source=source, parent=parent, kind=kind, status=status, reason=reason, findings=findings,
                          meta=meta or {})


class State:
    """The state file of one crawl."""

    def __init__(self, path: Path, fresh: bool) -> None:
        self.path = path
        if fresh:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        if "packed" not in {r[1] for r in self.conn.execute("PRAGMA table_info(results)")}:
            self.conn.execute("ALTER TABLE results ADD COLUMN packed BLOB")  # a state file of an earlier version
            self.conn.execute("ALTER TABLE results ADD COLUMN packed_count INTEGER NOT NULL DEFAULT 0")
        self.lock = threading.RLock()
        with self.transaction():
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run statements as one atomic unit."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- frontier ------------------------------------------------------------------------------

    @staticmethod
    def insert_url(c: sqlite3.Connection, url: str, host: str, kind: str, method: str, body: str | None,
                   parent: str | None, depth: int) -> None:
        c.execute("INSERT OR IGNORE INTO urls (url, host, kind, method, body, parent, depth) VALUES (?,?,?,?,?,?,?)",
                  (url, host, kind, method, body, parent, depth))

    @staticmethod
    def insert_links(c: sqlite3.Connection, edges: Iterable[tuple[str, str]]) -> None:
        c.executemany("INSERT OR IGNORE INTO links (src, dst) VALUES (?, ?)", edges)

    def known_urls(self) -> Iterator[str]:
        """Every URL queued or fetched, and every redirect target reached."""
        with self.lock:
            rows = self.conn.execute("SELECT url, final_url FROM urls").fetchall()
        for url, final in rows:
            yield url
            if final and final != url:
                yield final

    def queued_hosts(self) -> list[str]:
        with self.lock:
            return [r[0] for r in self.conn.execute("SELECT DISTINCT host FROM urls WHERE state = 'queued'")]

    def queued(self, host: str, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Queued rows of ``host`` with id > ``after``: (id, url, kind, method, body, parent, depth)."""
        with self.lock:
            return self.conn.execute(
                "SELECT id, url, kind, method, body, parent, depth FROM urls WHERE state = 'queued' AND host = ? "
                "AND id > ? ORDER BY id LIMIT ?", (host, after, limit)).fetchall()

    def count(self, where: str) -> int:
        with self.lock:
            return int(self.conn.execute(f"SELECT count(*) FROM urls WHERE {where}").fetchone()[0])

    def spooled(self) -> list[tuple[Any, ...]]:
        """Fetched rows whose results were never recorded (the process died in between)."""
        with self.lock:
            return self.conn.execute(
                "SELECT id, url, parent, depth, final_url, sha256, etag, last_modified, content_type, name, "
                "unchanged, in_memory, spool, kind, (SELECT data FROM bodies WHERE bodies.id = urls.id) "
                "FROM urls WHERE state = 'fetched' ORDER BY id").fetchall()

    # -- results -------------------------------------------------------------------------------

    def record(self, source: str, results: Sequence[DocumentResult]) -> str | None:
        """Store ``results`` for ``source`` and mark it done; returns the spool file to delete.
        Findings already packed by a worker (:meth:`DocumentResult.pack`) are stored as they are."""
        rows = [result_row(source, r) for r in results]  # encoded before the write lock is taken
        with self.transaction() as c:
            return State.store(c, source, rows)

    @staticmethod
    def store(c: sqlite3.Connection, source: str, rows: Sequence[tuple[str, str, bytes | None, int]]) -> str | None:
        """Inside a transaction: :meth:`record` with results already encoded by :func:`result_row`."""
        c.execute("DELETE FROM results WHERE source = ?", (source,))
        c.executemany("INSERT INTO results (source, data, packed, packed_count) VALUES (?, ?, ?, ?)", rows)
        row = c.execute("SELECT id, spool FROM urls WHERE url = ?", (source,)).fetchone()
        if row is None:
            return None
        c.execute("UPDATE urls SET state = 'done', spool = NULL WHERE id = ?", (row[0],))
        c.execute("DELETE FROM bodies WHERE id = ?", (row[0],))
        return row[1]

    def recorded(self) -> Iterator[DocumentResult]:
        with self.lock:
            rows = self.conn.execute("SELECT data, packed, packed_count FROM results ORDER BY id").fetchall()
        for data, packed, count in rows:
            result = result_from_json(data)
            if packed:
                result.packed, result.packed_count = bytes(packed), count
            yield result

    def parents(self, url: str) -> list[str]:
        with self.lock:
            found = [r[0] for r in self.conn.execute("SELECT src FROM links WHERE dst = ? ORDER BY id", (url,))]
            if not found:
                row = self.conn.execute("SELECT parent FROM urls WHERE url = ?", (url,)).fetchone()
                found = [row[0]] if row and row[0] else []
        return found

    def linked_from_many(self) -> dict[str, list[str]]:
        """Every URL linked from more than one page: its linkers, the first linker first."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT dst, src FROM links WHERE dst IN (SELECT dst FROM links GROUP BY dst HAVING count(*) > 1) "
                "ORDER BY id").fetchall()
        found: dict[str, list[str]] = {}
        for dst, src in rows:
            found.setdefault(dst, []).append(src)
        return found

    def previous_fetch(self, url: str) -> dict[str, Any] | None:
        """ETag/Last-Modified/sha256 this state file holds for ``url`` (a finished earlier fetch)."""
        with self.lock:
            row = self.conn.execute("SELECT etag, last_modified, sha256 FROM urls WHERE url = ? AND sha256 IS NOT NULL",
                                    (url,)).fetchone()
        return {"etag": row[0], "last_modified": row[1], "sha256": row[2]} if row else None

    def close(self) -> None:
        with self.lock:
            self.conn.close()
