"""Spreadsheets (XLSX, XLS/ET, ODS) → one Segment per non-empty cell, via python-calamine.

Each cell carries its address (``Sheet1!C5``) and the text of its column's header cell. The header
row is the first non-empty row that looks like one: at least two filled cells (so a merged title
row above the table is passed over), mostly text, and no long digit runs (a data row is never
taken for a header, so no personal value ever becomes a header). Rows are read lazily and turned
into Segments one at a time; calamine itself holds one sheet's cell values at a time.

Numbers are written the way a person reads them: ``13812345678``, not ``1.3812345678e10``. An
integral number of 16 or more digits has lost its tail in the file itself (Excel keeps 15
significant digits), so the lost digits are written as ``*``: ``340823199001011***``. The leak is
real though mangled, and the detector reports it as partially masked.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator

import python_calamine as pc

from scanner.config import Limits
from scanner.errors import ExtractError
from scanner.extract._xml import OLE_MAGIC, check_office_zip
from scanner.model import Document, Location, Segment

_ENCRYPTED = "表格文件已加密，无法读取"
_CORRUPT = "表格文件已损坏或格式不正确，无法读取"
_HEADER_SCAN_ROWS = 10  # non-empty rows to look through for a header row
_LONG_DIGITS = re.compile(r"\d{6}")
_MAX_COLUMNS = 16384  # Excel's limit; larger widths come from broken files


def column_letters(index: int) -> str:
    """0-based column index → Excel letters (0 → A, 27 → AB)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def format_number(value: float) -> str:
    """A cell number as text: integral floats without ``.0``; lost digits of long integers as ``*``."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if not value.is_integer():
        return repr(value)
    if abs(value) < 1e15:
        return str(int(value))
    mantissa, _, exponent = f"{value:.14e}".partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    width = int(exponent) + 1
    return sign + digits + "*" * (width - len(digits))


def format_cell(value: object) -> str:
    """Any calamine cell value as text (``""`` for an empty cell)."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is float:
        return format_number(value)  # type: ignore[arg-type]
    if kind is bool:
        return "TRUE" if value else "FALSE"
    if kind is int:
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return "" if value is None else str(value)


def _looks_like_header(texts: list[str]) -> bool:
    filled = [t for t in texts if t.strip()]
    if len(filled) < 2:
        return False
    if any(_LONG_DIGITS.search(t) for t in filled):
        return False
    wordy = sum(1 for t in filled if not t.strip().replace(".", "").replace("-", "").isdigit())
    return wordy * 2 > len(filled)


def _open(doc: Document, limits: Limits) -> pc.CalamineWorkbook:
    head = doc.read(8)
    if head.startswith(OLE_MAGIC) and _is_encrypted_ooxml(doc):
        raise ExtractError(_ENCRYPTED)
    if head.startswith(b"PK"):
        try:
            with doc.open() as fh, zipfile.ZipFile(fh) as zf:
                check_office_zip(zf, limits, "表格文件")
        except zipfile.BadZipFile as exc:
            raise ExtractError(_CORRUPT) from exc
    try:
        if doc.path is not None:
            return pc.CalamineWorkbook.from_path(str(doc.path))
        return pc.CalamineWorkbook.from_filelike(io.BytesIO(doc.data or b""))
    except pc.PasswordError as exc:
        raise ExtractError(_ENCRYPTED) from exc
    except (pc.CalamineError, ValueError, OSError, EOFError) as exc:
        if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise ExtractError(_ENCRYPTED) from exc
        raise ExtractError(_CORRUPT) from exc



def _is_encrypted_ooxml(doc: Document) -> bool:
    # A password-protected XLSX/DOCX is an OLE2 container with these streams.
    head = doc.read(1 << 20)
    return "EncryptedPackage".encode("utf-16-le") in head or "EncryptionInfo".encode("utf-16-le") in head


def extract(doc: Document, limits: Limits) -> Iterator[Segment]:
    """Yield one Segment per non-empty cell of every worksheet, in sheet and row order."""
    workbook = _open(doc, limits)
    with workbook:
        try:
            metas = list(workbook.sheets_metadata)
        except pc.CalamineError as exc:
            raise ExtractError(_CORRUPT) from exc
        for meta in metas:
            if meta.typ not in (pc.SheetTypeEnum.WorkSheet, pc.SheetTypeEnum.MacroSheet):
                continue
            yield from _sheet(workbook, meta.name)


def _sheet(workbook: pc.CalamineWorkbook, name: str) -> Iterator[Segment]:
    try:
        sheet = workbook.get_sheet_by_name(name)
    except pc.PasswordError as exc:
        raise ExtractError(_ENCRYPTED) from exc
    except pc.CalamineError as exc:
        raise ExtractError(_CORRUPT) from exc
    start = sheet.start
    if start is None:
        return
    end = sheet.end
    width = sheet.width
    if width > _MAX_COLUMNS:
        raise ExtractError(_CORRUPT)
    # calamine yields rows from row 0 but columns from the first used column; tell which by width.
    col0 = start[1]
    letters = [column_letters(col0 + i) for i in range(width + 1)]
    columns = [col0 + i + 1 for i in range(width + 1)]
    headers: list[str] = [""] * len(letters)
    found_header = False
    scanned = 0
    row_number = 0
    seg = Segment
    loc = Location
    for values in sheet.iter_rows():
        row_number += 1
        if row_number == 1 and col0 and end is not None and len(values) == end[1] + 1:
            # A calamine that yields rows from column A: no column offset.
            col0 = 0
            letters = [column_letters(i) for i in range(len(values) + 1)]
            columns = list(range(1, len(values) + 2))
            headers = [""] * len(letters)
        if not found_header and scanned < _HEADER_SCAN_ROWS:
            texts = [format_cell(v) for v in values]
            if any(t.strip() for t in texts):
                scanned += 1
            for i, text in enumerate(texts):
                if text and not text.isspace():
                    yield seg(text, loc(None, name, f"{letters[i]}{row_number}", None, None, row_number, columns[i]))
            if _looks_like_header(texts):
                found_header = True
                headers = [t.strip() for t in texts] + [""]
            continue
        row_text = str(row_number)
        for value, letter, column, header in zip(values, letters, columns, headers, strict=False):
            kind = type(value)
            if kind is str:
                if not value or value.isspace():
                    continue
                text = value
            elif kind is float:
                text = str(int(value)) if value.is_integer() and -1e15 < value < 1e15 else format_number(value)
            else:
                text = format_cell(value)
            yield seg(text, loc(None, name, letter + row_text, None, None, row_number, column), header)
