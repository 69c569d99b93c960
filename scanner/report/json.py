"""The JSON report: the public contract (report-contract.md), as is."""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from scanner.report import ReportOptions


def write(report: dict[str, Any], out: BinaryIO, *, options: ReportOptions) -> None:
    """Write ``report`` as UTF-8 JSON (Chinese kept readable, not escaped).

    One document or finding per line: readable, diffable, encoded by json's C encoder (indent=
    would fall back to the pure-Python one, 10× slower), and written as it goes, so a report of
    half a million findings never exists twice in memory.
    """
    head = [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}"
            for k, v in report.items() if k not in ("documents", "findings")]
    out.write(("{\n" + "".join(part + ",\n" for part in head)).encode("utf-8"))
    for n, key in enumerate(("documents", "findings")):
        out.write(f'"{key}": ['.encode())
        first = True
        for item in report.get(key, []):
            out.write(("\n" if first else ",\n").encode() + json.dumps(item, ensure_ascii=False).encode("utf-8"))
            first = False
        out.write(b"]" if first else b"\n]")
        out.write(b",\n" if n == 0 else b"\n}\n")
