"""Results → the report dict of report-contract.md (the one source every format is built from)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from scanner import __version__
from scanner.model import DocumentResult, Spool

SCHEMA = "leakscan.report/1"
RANDOM_KEY_NOTE = "本次未指定密钥（--key 或环境变量 LEAKSCAN_KEY），指纹使用随机密钥生成，不能与其他报告比对。"


def now_iso() -> str:
    """The local time with its UTC offset, to the second."""
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def build_report(results: Iterable[DocumentResult], *, started_at: str, finished_at: str | None = None,
                 random_key: bool = False, extra: dict[str, Any] | None = None, spool: bool = False) -> dict[str, Any]:
    """Assemble the report; documents in the order given, findings grouped by document. With
    ``spool``, findings go to a :class:`~scanner.model.Spool` on disk instead of a list."""
    documents: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] | Spool = Spool() if spool else []
    for result in results:
        documents.append(result.to_dict())
        findings.extend(f.to_dict() for f in result.findings)
        if result.packed:
            if not isinstance(findings, Spool):
                findings.extend(Spool.decode(result.packed))
            else:
                findings.append_encoded(result.packed, result.packed_count)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "leakscan", "version": __version__},
        "started_at": started_at,
        "finished_at": finished_at or now_iso(),
        "documents": documents,
        "findings": findings,
    }
    if random_key:
        report["key_note"] = RANDOM_KEY_NOTE
    if extra:
        report.update(extra)
    return report


def assign_departments(report: dict[str, Any], departments: dict[str, str]) -> None:
    """Set ``documents[].department`` from ``departments`` (URL path or file path prefix →
    responsible department), matching the longest prefix against the page that published the
    document: a page itself, or for an attachment or archive member the page above it."""
    ordered = sorted(departments.items(), key=lambda kv: -len(kv[0]))
    docs = {d["source"]: d for d in report["documents"]}
    for d in report["documents"]:
        page, seen = d, set()
        while page.get("kind") != "html" and page.get("parent") in docs and page["source"] not in seen:
            seen.add(page["source"])
            page = docs[page["parent"]]
        target = page["source"] if page.get("kind") == "html" or not d.get("parent") else d.get("parent") or d["source"]
        path = urlsplit(target).path if "://" in target else target
        for prefix, dept in ordered:
            if path.startswith(prefix) or target.startswith(prefix):
                d["department"] = dept
                break
