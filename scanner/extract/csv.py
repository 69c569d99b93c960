"""CSV/TSV exports (UTF-8 with or without BOM, GBK…): one segment per cell, with its column header."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator

from scanner.config import Limits
from scanner.errors import ExtractError
from scanner.extract.decode import detect_encoding
from scanner.model import Document, Location, Segment

_SAMPLE = 256 * 1024
_INTERESTING_CHARS = frozenset("0123456789０１２３４５６７８９京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def column_letters(index: int) -> str:
    """1 → A, 27 → AA (spreadsheet column names, as WPS/Excel show a CSV)."""
    name = ""
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def extract(doc: Document, limits: Limits) -> Iterator[Segment]:
    """Yield each non-empty cell; the first row is taken as the header when it holds no numbers."""
    with doc.open() as raw:
        head = raw.read(_SAMPLE)
        encoding = detect_encoding(head)
        raw.seek(0)
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        sample = head.decode(encoding, errors="replace")[:8192]
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
        except csv.Error:
            dialect = csv.excel
        header: list[str] = []
        try:
            for row_no, row in enumerate(csv.reader(text, dialect), start=1):
                if row_no == 1:
                    row = [c.lstrip("\ufeff") for c in row]
                    if not any(ch.isdigit() for c in row for ch in c):
                        header = row
                        continue
                for col, cell in enumerate(row, start=1):
                    if cell and not _INTERESTING_CHARS.isdisjoint(cell):
                        yield Segment(
                            cell,
                            Location(cell=f"{column_letters(col)}{row_no}", row=row_no, column=col),
                            header=header[col - 1] if col <= len(header) else "",
                        )
        except csv.Error as exc:
            raise ExtractError(f"CSV 格式错误（第{row_no}行附近）：{type(exc).__name__}") from None
        finally:
            text.detach()

