"""Audit history in SQLite: runs, documents and findings by keyed fingerprint; never raw values.

One database file is shared by many runs and many sites. Each run is compared with the previous
finished run of the same site made with the same key: a finding is ``new`` or ``persisting``, and
the previous run's findings that are gone are ``fixed``. A finding counts as fixed only when its
document was checked again and no longer holds it, or the document is gone (no longer linked or
listed, or answered 404/410); a document that failed this time proves nothing, so its old findings
are neither fixed nor repeated (they are counted as ``unverified``).

The schema is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` brings any older file
up to date inside one transaction.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import UsageError
from scanner.model import DocumentResult, Finding, rewrite

#: Keys of a finding dict that may be stored; anything else (e.g. a raw ``value`` shown on request) is dropped.
_FINDING_KEYS = ("entity", "rule", "source", "parent", "location", "masked", "fingerprint", "exposure",
                 "severity", "confidence", "context", "remediation")
#: What the contract's ``fixed`` list carries of a finding that is gone.
_FIXED_KEYS = ("entity", "rule", "source", "parent", "masked", "fingerprint", "severity", "location")
#: Document fields kept for conditional requests and reuse of unchanged documents.
_DOC_META = ("title", "published", "sha256", "etag", "last_modified", "http_status")

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        command TEXT NOT NULL,
        key_id TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        previous TEXT REFERENCES runs(id),
        documents INTEGER NOT NULL DEFAULT 0,
        findings INTEGER NOT NULL DEFAULT 0,
        new INTEGER NOT NULL DEFAULT 0,
        fixed INTEGER NOT NULL DEFAULT 0,
        suppressed INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_site ON runs(site, key_id, finished_at);
    CREATE TABLE documents (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        parent TEXT,
        kind TEXT,
        status TEXT NOT NULL,
        reason TEXT,
        findings INTEGER NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, source)
    );
    CREATE TABLE findings (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        rule TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        entity TEXT NOT NULL,
        severity TEXT NOT NULL,
        audit TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX findings_run ON findings(run_id, source);
    CREATE TABLE fixed (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        data TEXT NOT NULL
    );
    CREATE TABLE suppressions (
        fingerprint TEXT NOT NULL,
        key_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        who TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (fingerprint, key_id)
    );
    """,
    # 2: compare runs by finding identity inside the database
    """
    CREATE INDEX findings_identity ON findings(run_id, source, rule, fingerprint);
    """,
]

#: Fetch answers that mean the document is gone (so its old findings are fixed).
GONE_STATUS = (404, 410)


def key_id(key: bytes) -> str:
    """A short public identifier of the fingerprint key (runs are only comparable under one key)."""
    return hmac.new(key, b"leakscan key id", hashlib.sha256).hexdigest()[:16]


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Run:
    """One recorded run."""

    id: str
    site: str
    command: str
    started_at: str
    finished_at: str | None
    previous: str | None
    documents: int
    findings: int
    new: int
    fixed: int
    suppressed: int


class History:
    """An audit history database (created on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA journal_mode = WAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"无法打开审计历史数据库 {self.path}：{exc}") from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise UsageError(f"审计历史数据库 {self.path} 由更新版本的 leakscan 创建（结构版本 {version}），"
                             "请升级 leakscan")
        for number in range(version, len(MIGRATIONS)):  # each step and its version number commit together
            self.db.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;")

    def _tx(self) -> Any:
        return _Transaction(self.db)

    # -- recording ----------------------------------------------------------------------------
    def record(self, report: dict[str, Any], *, site: str, command: str, key: bytes,
               suppress: dict[str, str] | None = None, complete: bool = True) -> dict[str, Any]:
        """Store the run ``report`` describes and annotate ``report`` with the audit fields of the
        contract (``run``, ``findings[].audit``, ``fixed``, ``suppressed``), leaving out the
        suppressed findings (``leakscan ignore`` entries plus ``suppress``: fingerprint → reason).

        Findings are streamed into the database and compared there, so a run of half a million
        findings (a list or a :class:`~scanner.model.Spool`) is never held twice in memory.
        ``complete=False`` (a crawl stopped by its page limit) means a document missing from this
        run may just not have been reached, so its absence proves nothing. Returns ``report``."""
        kid = key_id(key)
        allowed = self.suppressions(key)
        allowed.update(suppress or {})
        previous = self._previous_run(site, kid)
        run_id = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        now_docs = {d["source"]: d for d in report["documents"]}
        counts: dict[str, int] = {}
        suppressed = 0
        fixed: list[dict[str, Any]] = []
        unverified = 0
        with self._tx():
            self.db.execute(
                "INSERT INTO runs (id, site, command, key_id, started_at, finished_at, previous)"
                " VALUES (?,?,?,?,?,?,?)",
                (run_id, site, command, kid, report["started_at"], report["finished_at"], previous))
            def rows() -> Iterator[tuple[str, ...]]:
                nonlocal suppressed
                for f in report["findings"]:
                    if f["fingerprint"] in allowed:
                        suppressed += 1
                        continue
                    counts[f["source"]] = counts.get(f["source"], 0) + 1
                    yield (run_id, f["source"], f["rule"], f["fingerprint"], f["entity"], f["severity"],
                           json.dumps(_storable(f), ensure_ascii=False))

            self.db.executemany(
                "INSERT INTO findings (run_id, source, rule, fingerprint, entity, severity, audit, data)"
                " VALUES (?,?,?,?,?,?,'new',?)", rows())
            if suppressed:
                for d in report["documents"]:
                    d["findings"] = counts.get(d["source"], 0)
            self.db.executemany(
                "INSERT OR REPLACE INTO documents (run_id, source, parent, kind, status, reason, findings, meta)"
                " VALUES (?,?,?,?,?,?,?,?)",
                ((run_id, d["source"], d.get("parent"), d.get("kind"), d["status"], d.get("reason"), d["findings"],
                  json.dumps({k: d[k] for k in _DOC_META if d.get(k) is not None}, ensure_ascii=False))
                 for d in report["documents"]))
            if previous:
                self.db.execute(
                    "UPDATE findings SET audit = 'persisting' WHERE run_id = ? AND EXISTS (SELECT 1 FROM findings p"
                    " WHERE p.run_id = ? AND p.source = findings.source AND p.rule = findings.rule"
                    " AND p.fingerprint = findings.fingerprint)", (run_id, previous))
                prev_docs = self._documents(previous)
                gone = self.db.execute(
                    "SELECT data FROM findings p WHERE p.run_id = ? AND NOT EXISTS (SELECT 1 FROM findings c"
                    " WHERE c.run_id = ? AND c.source = p.source AND c.rule = p.rule AND c.fingerprint = p.fingerprint)"
                    " ORDER BY rowid", (previous, run_id)).fetchall()
                for (data,) in gone:
                    f = json.loads(data)
                    if f["fingerprint"] in allowed:
                        continue
                    if _proves_fixed(f["source"], now_docs, prev_docs, complete):
                        fixed.append(_fixed_entry(f))
                    else:
                        unverified += 1
            self.db.executemany("INSERT INTO fixed (run_id, data) VALUES (?, ?)",
                                ((run_id, json.dumps(x, ensure_ascii=False)) for x in fixed))
            kept = sum(counts.values())
            new = self.db.execute("SELECT count(*) FROM findings WHERE run_id = ? AND audit = 'new'",
                                  (run_id,)).fetchone()[0]
            self.db.execute("UPDATE runs SET documents = ?, findings = ?, new = ?, fixed = ?, suppressed = ?"
                            " WHERE id = ?", (len(report["documents"]), kept, new, len(fixed), suppressed, run_id))

        lookup = self.db.cursor()

        def annotate(f: dict[str, Any]) -> dict[str, Any] | None:
            if f["fingerprint"] in allowed:
                return None
            row = lookup.execute("SELECT audit FROM findings WHERE run_id = ? AND source = ? AND rule = ?"
                                 " AND fingerprint = ? LIMIT 1", (run_id, f["source"], f["rule"], f["fingerprint"]))
            f["audit"] = row.fetchone()[0]
            return f

        report["findings"] = rewrite(report["findings"], annotate)
        report["run"] = {"id": run_id, "site": site, "previous": previous}
        report["fixed"] = fixed
        report["suppressed"] = suppressed
        if unverified:
            report["unverified"] = unverified
        return report

    # -- reading --------------------------------------------------------------------------------
    def runs(self, site: str | None = None, limit: int = 50) -> list[Run]:
        """The latest runs, newest first."""
        sql = ("SELECT id, site, command, started_at, finished_at, previous, documents, findings, new, fixed,"
               " suppressed FROM runs")
        args: tuple[Any, ...] = ()
        if site:
            sql += " WHERE site = ?"
            args = (site,)
        sql += " ORDER BY rowid DESC LIMIT ?"
        return [Run(*row) for row in self.db.execute(sql, (*args, limit))]

    def run(self, run_id: str) -> Run:
        """The run ``run_id`` (a unique prefix is enough)."""
        rows = self.db.execute(
            "SELECT id, site, command, started_at, finished_at, previous, documents, findings, new, fixed,"
            " suppressed FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id", (_like_prefix(run_id),)).fetchall()
        if not rows:
            raise UsageError(f"审计历史中没有编号为 {run_id} 的检查记录（用 leakscan history 查看）")
        if len(rows) > 1 and rows[0][0] != run_id:
            raise UsageError(f"编号 {run_id} 对应多条检查记录，请写完整")
        return Run(*rows[0])

    def last_run(self, site: str, key: bytes) -> str | None:
        """The id of the latest run of ``site`` under ``key``."""
        return self._previous_run(site, key_id(key))

    def report(self, run_id: str) -> dict[str, Any]:
        """Rebuild the report of a stored run (with its audit marks and fixed list)."""
        run = self.run(run_id)
        docs = self._documents(run.id)
        report: dict[str, Any] = {
            "schema": "leakscan.report/1",
            "started_at": run.started_at,
            "finished_at": run.finished_at or run.started_at,
            "documents": list(docs.values()),
            "findings": self._findings(run.id),
            "run": {"id": run.id, "site": run.site, "previous": run.previous},
            "fixed": [json.loads(d) for (d,) in self.db.execute("SELECT data FROM fixed WHERE run_id = ?", (run.id,))],
            "suppressed": run.suppressed,
        }
        return report

    def diff(self, run_a: str, run_b: str) -> dict[str, Any]:
        """Run ``run_b``'s report with its findings marked against ``run_a`` instead of its own previous run."""
        a, b = self.run(run_a), self.run(run_b)
        report = self.report(b.id)
        old = self._findings(a.id)
        old_keys = {_identity(f) for f in old}
        now_keys = {_identity(f) for f in report["findings"]}
        for f in report["findings"]:
            f["audit"] = "persisting" if _identity(f) in old_keys else "new"
        old_docs, now_docs = self._documents(a.id), {d["source"]: d for d in report["documents"]}
        report["fixed"] = [
            _fixed_entry(f) for f in old
            if _identity(f) not in now_keys and _proves_fixed(f["source"], now_docs, old_docs, True)
        ]
        report["run"] = {"id": b.id, "site": b.site, "previous": a.id}
        return report

    def previous_documents(self, site: str, key: bytes, source: str) -> list[DocumentResult]:
        """The results of ``source`` and of the archive members inside it in the latest run of
        ``site``, with their findings (for documents a re-audit found unchanged)."""
        run_id = self._previous_run(site, key_id(key))
        if run_id is None:
            return []
        out = []
        for src, parent, kind, status, reason, meta in self.db.execute(
                "SELECT source, parent, kind, status, reason, meta FROM documents WHERE run_id = ?"
                " AND (source = ? OR substr(source, 1, ?) = ?) ORDER BY rowid",
                (run_id, source, len(source) + 2, source + "!/")):
            findings = [_finding(json.loads(data)) for (data,) in self.db.execute(
                "SELECT data FROM findings WHERE run_id = ? AND source = ? ORDER BY rowid", (run_id, src))]
            out.append(DocumentResult(source=src, parent=parent, kind=kind or "unknown", status=status, reason=reason,
                                      findings=findings, meta=json.loads(meta)))
        return out

    def validators(self, site: str, key: bytes) -> dict[str, dict[str, Any]]:
        """source → {sha256, etag, last_modified} of the documents of the latest run of ``site``."""
        run_id = self._previous_run(site, key_id(key))
        if run_id is None:
            return {}
        out: dict[str, dict[str, Any]] = {}
        for source, meta in self.db.execute(
                "SELECT source, meta FROM documents WHERE run_id = ? AND status = 'scanned'", (run_id,)):
            m = json.loads(meta)
            if m.get("sha256"):
                out[source] = {k: m.get(k) for k in ("sha256", "etag", "last_modified")}
        return out

    # -- suppressions -------------------------------------------------------------------------
    def suppress(self, fingerprint: str, key: bytes, reason: str, who: str) -> None:
        """Record that ``fingerprint`` is not to be reported (e.g. a lawful 惩戒公示)."""
        with self._tx():
            self.db.execute(
                "INSERT OR REPLACE INTO suppressions (fingerprint, key_id, reason, who, created_at) VALUES (?,?,?,?,?)",
                (fingerprint, key_id(key), reason, who, _now()))

    def unsuppress(self, fingerprint: str, key: bytes) -> bool:
        """Remove a suppression; True when there was one."""
        with self._tx():
            cur = self.db.execute("DELETE FROM suppressions WHERE fingerprint = ? AND key_id = ?",
                                  (fingerprint, key_id(key)))
        return cur.rowcount > 0

    def suppressions(self, key: bytes | None = None) -> dict[str, str]:
        """fingerprint → reason, for ``key`` (or every key)."""
        if key is None:
            rows = self.db.execute("SELECT fingerprint, reason FROM suppressions")
        else:
            rows = self.db.execute("SELECT fingerprint, reason FROM suppressions WHERE key_id = ?", (key_id(key),))
        return dict(rows)

    def suppression_list(self) -> list[tuple[str, str, str, str]]:
        """(fingerprint, reason, who, created_at) of every suppression, newest first."""
        return list(self.db.execute("SELECT fingerprint, reason, who, created_at FROM suppressions"
                                    " ORDER BY created_at DESC"))

    # -- internals ------------------------------------------------------------------------------
    def _previous_run(self, site: str, kid: str) -> str | None:
        row = self.db.execute("SELECT id FROM runs WHERE site = ? AND key_id = ? AND finished_at IS NOT NULL"
                              " ORDER BY rowid DESC LIMIT 1", (site, kid)).fetchone()
        return row[0] if row else None

    def _findings(self, run_id: str) -> list[dict[str, Any]]:
        out = []
        rows = self.db.execute("SELECT data, audit FROM findings WHERE run_id = ? ORDER BY rowid", (run_id,))
        for data, audit in rows:
            f = json.loads(data)
            f["audit"] = audit
            out.append(f)
        return out

    def _documents(self, run_id: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for source, parent, kind, status, reason, findings, meta in self.db.execute(
                "SELECT source, parent, kind, status, reason, findings, meta FROM documents WHERE run_id = ?"
                " ORDER BY rowid", (run_id,)):
            d = {"source": source, "parent": parent, "kind": kind, "status": status, "reason": reason,
                 "findings": findings}
            d.update(json.loads(meta))
            out[source] = d
        return out


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if not self.db.in_transaction:
            return
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _identity(f: dict[str, Any]) -> tuple[str, str, str]:
    return (f["source"], f["rule"], f["fingerprint"])


def _proves_fixed(source: str, now_docs: dict[str, dict[str, Any]], before_docs: dict[str, dict[str, Any]],
                  complete: bool) -> bool:
    """Whether this run shows that a finding the previous run saw in ``source`` is gone: the
    document was checked again without it, or answered 404/410, or it is missing while the page
    (or archive) that held it was checked and no longer leads to it (an input itself gone, for a
    folder scan). A document that failed, or that an incomplete run did not reach, proves nothing."""
    now = now_docs.get(source)
    if now is not None:
        return now.get("status") == "scanned" or now.get("http_status") in GONE_STATUS
    if not complete:
        return False
    parent = (before_docs.get(source) or {}).get("parent")
    if parent is None:
        return True
    holder = now_docs.get(parent)
    return holder is not None and holder.get("status") == "scanned"


def _fixed_entry(f: dict[str, Any]) -> dict[str, Any]:
    """What the contract's ``fixed`` list says about a finding that is gone."""
    return {k: f.get(k) for k in _FIXED_KEYS}


def _storable(f: dict[str, Any]) -> dict[str, Any]:
    return {k: f[k] for k in _FINDING_KEYS if k in f}


def _finding(d: dict[str, Any]) -> Finding:
    return Finding(entity=d["entity"], rule=d["rule"], source=d["source"], parent=d.get("parent"),
                   location=d.get("location") or {}, masked=d["masked"], fingerprint=d["fingerprint"],
                   exposure=d["exposure"], severity=d["severity"], confidence=float(d.get("confidence", 1.0)),
                   context=d.get("context", ""), remediation=d.get("remediation", ""))


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def load_allowlist(path: str | Path) -> dict[str, str]:
    """Read an allowlist file: one fingerprint per line, optionally followed by the reason;
    ``#`` starts a comment. Returns fingerprint → reason."""
    out: dict[str, str] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise UsageError(f"无法读取白名单文件 {path}：{exc.strerror or exc}") from exc
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not line:
            continue
        fp, _, reason = line.partition(" ")
        fp = fp.strip().lower()
        if len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp):
            raise UsageError(f"白名单文件 {path} 第 {number} 行不是有效指纹（应为 64 位十六进制）")
        out[fp] = reason.strip() or "白名单"
    return out


def iter_runs_text(runs: Iterable[Run]) -> Iterator[str]:
    """One line per run, for ``leakscan history``."""
    for r in runs:
        yield (f"{r.id}  {r.started_at}  {r.site}  文件 {r.documents}  发现 {r.findings}"
               f"（新增 {r.new}，已整改 {r.fixed}，已忽略 {r.suppressed}）")


