"""The JSON report: the public contract (report-contract.md), as is."""

from __future__ import annotations

from typing import Any, BinaryIO

import orjson

from scanner.report import ReportOptions

_CHUNK = 1 << 20


def _dumps(value: Any) -> bytes:
    # as the standard library would: numbers as keys become strings, anything else its str()
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)


def write(report: dict[str, Any], out: BinaryIO, *, options: ReportOptions) -> None:
    """Write ``report`` as UTF-8 JSON (Chinese kept readable, not escaped).

    One document or finding per line: readable and diffable. Encoded by orjson (about 5× the
    standard library's encoder, which dominated writing a crawl's report) and written in chunks
    as it goes, so a report of half a million findings never exists twice in memory.
    """
    head = [_dumps(k) + b": " + _dumps(v) for k, v in report.items() if k not in ("documents", "findings")]
    out.write(b"{\n" + b"".join(part + b",\n" for part in head))
    for n, key in enumerate(("documents", "findings")):
        out.write(f'"{key}": ['.encode())
        buffer = bytearray()
        sep = b"\n"
        for item in report.get(key, []):
            buffer += sep
            buffer += _dumps(item)
            sep = b",\n"
            if len(buffer) >= _CHUNK:
                out.write(buffer)
                buffer = bytearray()
        out.write(buffer + (b"]" if sep == b"\n" else b"\n]"))
        out.write(b",\n" if n == 0 else b"\n}\n")
