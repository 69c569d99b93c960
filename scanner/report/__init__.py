"""Reporting: the report dict (report-contract.md) → one output format.

Every format is one module exposing ``write(report: dict, out: BinaryIO, *, options: ReportOptions)``,
built only from the report dict, so all formats say the same thing. Registered by format name
and imported on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from scanner.errors import UsageError


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """What the user asked of the output."""

    color: bool = False  # terminal colours (table)
    show_values: bool = False  # the user explicitly asked for raw values


WriteFn = Callable[..., None]

REPORTERS: dict[str, str] = {
    "table": "scanner.report.table:write",
    "json": "scanner.report.json:write",
    "csv": "scanner.report.csv:write",
    "xlsx": "scanner.report.xlsx:write",
    "html": "scanner.report.html:write",
    "sarif": "scanner.report.sarif:write",
}


def reporter(name: str) -> WriteFn:
    """Return the writer registered as ``name``."""
    target = REPORTERS.get(name)
    if target is None:
        raise UsageError(f"未知的报告格式 {name!r}；可选：{', '.join(REPORTERS)}")
    module, _, attr = target.partition(":")
    fn: WriteFn = getattr(importlib.import_module(module), attr)
    return fn


def write_report(report: dict[str, Any], fmt: str, out: BinaryIO, options: ReportOptions | None = None) -> None:
    """Write ``report`` in format ``fmt`` to ``out``."""
    reporter(fmt)(report, out, options=options or ReportOptions())
