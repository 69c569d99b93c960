"""The JSON report: the public contract (report-contract.md), as is."""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from scanner.report import ReportOptions


def write(report: dict[str, Any], out: BinaryIO, *, options: ReportOptions) -> None:
    """Write ``report`` as UTF-8 JSON (Chinese kept readable, not escaped)."""
    # One document or finding per line: readable, diffable, and encoded by json's C encoder
    # (indent= would fall back to the pure-Python one, 10× slower on large reports).
    parts = [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}"
             for k, v in report.items() if k not in ("documents", "findings")]
    for key in ("documents", "findings"):
        items = ",\n".join(json.dumps(x, ensure_ascii=False) for x in report.get(key, []))
        parts.append(f'"{key}": [\n{items}\n]' if items else f'"{key}": []')
    out.write(("{\n" + ",\n".join(parts) + "\n}\n").encode("utf-8"))
