"""CSV report: one row per finding, Chinese header, UTF-8 with BOM so Excel and WPS read it right."""

from __future__ import annotations

import csv
import io
from typing import Any, BinaryIO

from scanner.report import ReportOptions
from scanner.report._common import (
    FINDING_HEADERS,
    VALUE_HEADER,
    DocIndex,
    any_values,
    finding_cells,
    redactions,
    sorted_findings,
)

# A cell starting with one of these is run as a formula by Excel/WPS; scanned text is untrusted.
REDACTION_HEADERS = ["脱敏处理", "脱敏副本"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write(report: dict[str, Any], out: BinaryIO, *, options: ReportOptions) -> None:
    """Write the findings of ``report`` as CSV to ``out``."""
    findings = sorted_findings(report, DocIndex(report))
    with_value = any_values(findings, options)
    stream = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    try:
        writer = csv.writer(stream)
        redacted = {r["source"]: r for r in redactions(report)}
        headers = FINDING_HEADERS + ([VALUE_HEADER] if with_value else []) + (REDACTION_HEADERS if redacted else [])
        writer.writerow(headers)
        for number, finding in enumerate(findings, 1):
            cells = finding_cells(number, finding, options, with_value=with_value)
            if redacted:
                r = redacted.get(str(finding.get("source")))
                cells += [r["status"], r["copy"]] if r else ["", ""]
            writer.writerow([_cell(c) for c in cells])
        stream.flush()
    finally:
        # The caller owns ``out``: leave it open.
        stream.detach()
