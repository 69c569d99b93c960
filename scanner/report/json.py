"""The JSON report: the public contract (report-contract.md), as is."""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from scanner.report import ReportOptions


def write(report: dict[str, Any], out: BinaryIO, *, options: ReportOptions) -> None:
    """Write ``report`` as UTF-8 JSON (Chinese kept readable, not escaped)."""
    out.write(json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8"))
    out.write(b"\n")
