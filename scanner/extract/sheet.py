"""Spreadsheets (XLSX, XLS/ET, ODS) → cell Segments, via python-calamine.

Each cell carries its address (``Sheet1!C5``) and the text of its column's header cell. The header
row is the first non-empty row that looks like one: at least two filled cells (so a merged title
row above the table is passed over), mostly text, and no long digit runs (a data row is never
taken for a header, so no personal value ever becomes a header). Rows become Segments one at a
time. calamine holds one sheet's values in memory (~1.8× the sheet XML), so an XLSX whose
worksheets unpack beyond :data:`STREAM_THRESHOLD_BYTES` is streamed through expat instead: flat
memory, about half the speed.

``Limits.min_cell_chars`` (read if the field exists; default 1, i.e. every cell) drops cells whose
text is shorter: 7 loses nothing the current rules can match (the shortest is a plate, 皖A12345) and
saves a third of the time on typical sheets.

A sheet has hundreds of thousands of cells and almost none holds a finding. The rows up to the
header row come as one :class:`CellSegment` per cell (which builds its :class:`Location` only when
asked); the rest of a calamine-read sheet comes in :class:`CellBlock` s of thousands of cells, one
Segment each, whose :meth:`CellBlock.part` gives the cell (address, header, text) of any offset and
whose :meth:`CellBlock.parts` lists the cells. Consumers that want one Segment per cell expand
every segment with ``parts()``.

Numbers are written the way a person reads them: ``13812345678``, not ``1.3812345678e10``. An
integral number of 16 or more digits has lost its tail in the file itself (Excel keeps 15
significant digits), so the lost digits are written as ``*``: ``340823199001011***``. The leak is
real though mangled, and the detector reports it as partially masked.
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import re
import xml.parsers.expat
import zipfile
import zlib
from bisect import bisect_right
from collections.abc import Iterator
from itertools import accumulate
from typing import IO

import python_calamine as pc

from scanner.config import Limits
from scanner.errors import ExtractError
from scanner.extract._xml import OLE_MAGIC, check_office_zip, iterparse, open_zip
from scanner.model import Document, Location, Segment

_ENCRYPTED = "表格文件已加密，无法读取"
_CORRUPT = "表格文件已损坏或格式不正确，无法读取"
_HEADER_SCAN_ROWS = 10  # non-empty rows to look through for a header row
_LONG_DIGITS = re.compile(r"\d{6}")
_MAX_COLUMNS = 16384  # Excel's limit; larger widths come from broken files
_BLOCK_CELLS = 1 << 13  # cells per CellBlock


class CellSegment(Segment):
    """A cell's Segment: ``location`` (sheet, ``A1`` address, row, column) is built on first access.

    Creating a Location per cell costs as much as reading the cell; the detector asks only for
    the locations of cells holding a finding.
    """

    __slots__ = ("_column", "_loc", "_row", "_sheet")

    def __init__(self, text: str, header: str, sheet: str, row: int, column: int) -> None:
        self.text = text
        self.header = header
        self.ocr = False
        self._sheet = sheet
        self._row = row
        self._column = column  # 1-based
        self._loc: Location | None = None

    @property  # type: ignore[override]
    def location(self) -> Location:
        """Where the cell is: sheet, ``A1`` address, 1-based row and column."""
        loc = self._loc
        if loc is None:  # first access (a test, not a caught AttributeError: this runs per finding)
            row, column = self._row, self._column
            letters = _LETTERS[column - 1] if column <= len(_LETTERS) else column_letters(column - 1)
            loc = self._loc = Location(None, self._sheet, f"{letters}{row}", None, None, row, column)
        return loc

    @location.setter
    def location(self, value: Location) -> None:
        self._loc = value


class CellBlock(Segment):
    """Many rows of a sheet's cells as one Segment: every cell of the rows (blank ones too, as
    empty text), in row order, joined by newlines (which no pattern crosses).

    Building a Python object per cell costs more than calamine's reading it; a block costs one
    per thousands of cells. A finding is placed in its cell by :meth:`part`, which gives the
    cell's own :class:`CellSegment` (address, column header, the cell's text): offsets, context
    and header are the cell's, exactly as if each cell were its own segment. :meth:`parts` lists
    the cells that hold something (not blank, at least ``min_chars`` long).
    """

    __slots__ = ("_cells", "_columns", "_first", "_headers", "_min_chars", "_offsets", "_sheet", "_width")

    def __init__(self, cells: list[str], sheet: str, first_row: int, columns: list[int], headers: list[str],
                 min_chars: int = 1) -> None:
        self.text = "\n".join(cells)
        self.header = ""
        self.ocr = False
        self._sheet = sheet
        self._first = first_row
        self._width = len(columns)
        self._columns = columns
        self._headers = headers
        self._min_chars = min_chars
        # Cell k sits on line k unless a cell holds a newline of its own: then keep the cells.
        self._cells: list[str] | None = None if self.text.count("\n") == len(cells) - 1 else cells
        self._offsets: list[int] | None = None  # where each cell starts: made by the first part() call

    @property  # type: ignore[override]
    def location(self) -> Location:
        """The sheet and the block's first row."""
        return Location(None, self._sheet, None, None, None, self._first)

    @location.setter
    def location(self, value: Location) -> None:
        raise AttributeError("a block's location follows from its cells")

    def _cell(self, k: int, text: str) -> CellSegment:
        row, index = divmod(k, self._width)
        return CellSegment(text, self._headers[index], self._sheet, self._first + row, self._columns[index])

    def part(self, offset: int) -> tuple[int, Segment]:
        """The cell holding ``offset``, and where its text starts in the block's text."""
        if self._offsets is None:  # once per block: a block of many findings would rescan its text for each
            cells = self._cells if self._cells is not None else self.text.split("\n")
            self._cells = cells
            self._offsets = list(accumulate([len(c) + 1 for c in cells], initial=0))
        assert self._cells is not None
        k = bisect_right(self._offsets, offset) - 1
        return self._offsets[k], self._cell(k, self._cells[k])

    def parts(self) -> Iterator[Segment]:
        """The block's non-blank cells (at least ``min_chars`` long), in order."""
        cells = self._cells if self._cells is not None else self.text.split("\n")
        least = self._min_chars
        for k, text in enumerate(cells):
            if len(text) >= least and text and not text.isspace():
                yield self._cell(k, text)


def column_letters(index: int) -> str:
    """0-based column index → Excel letters (0 → A, 27 → AB)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


#: The letters of the first 702 columns (A to ZZ).
_LETTERS = [column_letters(i) for i in range(702)]


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


def _open(doc: Document) -> pc.CalamineWorkbook:
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


def _worksheet_bytes(doc: Document, limits: Limits) -> int:
    """Check a zipped workbook for bombs and encryption; return its worksheets' unpacked size."""
    try:
        with doc.open() as fh, zipfile.ZipFile(fh) as zf:
            check_office_zip(zf, limits, "表格文件")
            return sum(i.file_size for i in zf.infolist() if "/worksheets/" in i.filename)
    except zipfile.BadZipFile as exc:
        raise ExtractError(_CORRUPT) from exc


def _is_encrypted_ooxml(doc: Document) -> bool:
    # A password-protected XLSX/DOCX is an OLE2 container with these streams.
    head = doc.read(1 << 20)
    return "EncryptedPackage".encode("utf-16-le") in head or "EncryptionInfo".encode("utf-16-le") in head


def extract(doc: Document, limits: Limits) -> Iterator[Segment]:
    """Yield the cells of every worksheet, in sheet and row order: a Segment per cell, or blocks of
    cells (:class:`CellBlock`; ``parts()`` gives one Segment per non-empty cell)."""
    min_chars = max(1, int(getattr(limits, "min_cell_chars", 1)))
    head = doc.read(8)
    if head.startswith(OLE_MAGIC) and _is_encrypted_ooxml(doc):
        raise ExtractError(_ENCRYPTED)
    if head.startswith(b"PK") and _worksheet_bytes(doc, limits) > STREAM_THRESHOLD_BYTES:
        yield from _stream_xlsx(doc, limits, min_chars)
        return
    workbook = _open(doc)
    with workbook:
        try:
            metas = list(workbook.sheets_metadata)
        except pc.CalamineError as exc:
            raise ExtractError(_CORRUPT) from exc
        for meta in metas:
            if meta.typ not in (pc.SheetTypeEnum.WorkSheet, pc.SheetTypeEnum.MacroSheet):
                continue
            yield from _sheet(workbook, meta.name, min_chars)


def _sheet(workbook: pc.CalamineWorkbook, name: str, min_chars: int) -> Iterator[Segment]:
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
    columns = [col0 + i + 1 for i in range(width + 1)]
    headers: list[str] = [""] * len(columns)
    found_header = False
    scanned = 0
    row_number = 0
    cell = CellSegment
    rows = iter(sheet.iter_rows())
    for values in rows:
        row_number += 1
        if row_number == 1 and col0 and end is not None and len(values) == end[1] + 1:
            # A calamine that yields rows from column A: no column offset.
            col0 = 0
            columns = list(range(1, len(values) + 2))
            headers = [""] * len(columns)
        texts = [format_cell(v) for v in values]
        if any(t.strip() for t in texts):
            scanned += 1
        for i, text in enumerate(texts):
            if len(text) >= min_chars and not text.isspace():
                yield cell(text, "", name, row_number, columns[i])
        if _looks_like_header(texts):
            found_header = True
            headers = [t.strip() for t in texts] + [""]
        if found_header or scanned >= _HEADER_SCAN_ROWS:
            break
    # The rest of the sheet in blocks of rows: one Segment per block, not per cell.
    width = len(values) if row_number else 0
    if not width:
        return
    columns = (columns + list(range(columns[-1] + 1, columns[-1] + 1 + width)))[:width]
    headers = (headers + [""] * width)[:width]
    cells: list[str] = []
    first = row_number + 1
    for values in rows:
        if len(values) != width:  # calamine's rows are all as wide as the sheet; be sure
            values = (list(values) + [""] * width)[:width]
        cells += [v if v.__class__ is str
                  else (str(v) if not v.is_integer() else str(int(v)) if -1e15 < v < 1e15 else format_number(v))
                  if v.__class__ is float else format_cell(v)
                  for v in values]
        if len(cells) >= _BLOCK_CELLS:
            yield CellBlock(cells, name, first, columns, headers, min_chars)
            first += len(cells) // width
            cells = []
    if cells:
        yield CellBlock(cells, name, first, columns, headers, min_chars)


# -- streaming XLSX reader for workbooks too big for calamine's in-memory sheets --------------------

#: Worksheet XML (uncompressed, all sheets) above which XLSX is streamed instead of loaded by calamine.
STREAM_THRESHOLD_BYTES = 64 << 20

_SML = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main", "http://purl.oclc.org/ooxml/spreadsheetml/main")
_REL_NS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_BUILTIN_DATE_FORMATS = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47})
_DATE_CODE = re.compile(r"[ymdhs]", re.I)
_FORMAT_NOISE = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')


def _tags(local: str) -> list[str]:
    return [f"{{{ns}}}{local}" for ns in _SML]


def _rels(zf: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Relationship id → (type, absolute part name) for ``part``."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", base + ".rels")
    out: dict[str, tuple[str, str]] = {}
    if rels_name not in zf.NameToInfo:
        return out
    with zf.open(rels_name) as stream:
        for _, elem in iterparse(stream, [_PKG_REL], events=("end",)):
            target = elem.get("Target") or ""
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            out[elem.get("Id") or ""] = (elem.get("Type") or "", path)
    return out


def _expat(refuse: str) -> xml.parsers.expat.XMLParserType:
    """An expat parser that refuses DTDs and entity declarations (billion laughs, external entities)."""
    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_text = True

    def deny(*_: object) -> None:
        raise ExtractError(refuse)

    parser.StartDoctypeDeclHandler = deny
    parser.EntityDeclHandler = deny
    parser.ExternalEntityRefHandler = deny
    return parser


_DTD_REFUSED = "表格中的 XML 含有 DTD/实体声明（可能是实体炸弹或外部实体攻击），拒绝读取"


def _local(name: str) -> str:
    return name[name.index(":") + 1 :] if ":" in name else name


def _feed(parser: xml.parsers.expat.XMLParserType, stream: IO[bytes], drain: list) -> Iterator[object]:
    """Feed ``stream`` to ``parser`` in chunks, yielding what the handlers put in ``drain``."""
    try:
        while True:
            chunk = stream.read(1 << 16)
            parser.Parse(chunk, not chunk)
            if drain:
                yield from drain
                drain.clear()
            if not chunk:
                return
    except xml.parsers.expat.ExpatError as exc:
        raise ExtractError("表格中的 XML 已损坏或不完整，无法解析") from exc
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ExtractError(_CORRUPT) from exc


def _shared_strings(zf: zipfile.ZipFile, part: str | None) -> list[str]:
    if not part or part not in zf.NameToInfo:
        return []
    strings: list[str] = []
    buf: list[str] = []
    state = {"t": False, "rph": False}
    parser = _expat(_DTD_REFUSED)

    def start(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "t" and not state["rph"]:
            state["t"] = True
        elif local == "rPh":  # phonetic guide: not part of the value
            state["rph"] = True

    def end(name: str) -> None:
        local = _local(name)
        if local == "t":
            state["t"] = False
        elif local == "rPh":
            state["rph"] = False
        elif local == "si":
            strings.append("".join(buf))
            buf.clear()

    def data(text: str) -> None:
        if state["t"]:
            buf.append(text)

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, data
    with zf.open(part) as stream:
        for _ in _feed(parser, stream, []):
            pass
    return strings


def _date_styles(zf: zipfile.ZipFile, part: str | None) -> frozenset[int]:
    """Indexes of the cell formats (``s`` attribute) that show a number as a date or time."""
    if not part or part not in zf.NameToInfo:
        return frozenset()
    custom: dict[int, str] = {}
    formats: list[int] = []
    in_cell_xfs = False
    numfmt, cellxfs, xf = set(_tags("numFmt")), set(_tags("cellXfs")), set(_tags("xf"))
    with zf.open(part) as stream:
        for event, elem in iterparse(stream, sorted(numfmt | cellxfs | xf)):
            if elem.tag in cellxfs:
                in_cell_xfs = event == "start"
            elif event == "end" and elem.tag in numfmt:
                custom[_int(elem.get("numFmtId"))] = elem.get("formatCode") or ""
            elif event == "end" and elem.tag in xf and in_cell_xfs:
                formats.append(_int(elem.get("numFmtId")))
    dates = set()
    for index, fmt in enumerate(formats):
        code = custom.get(fmt)
        if fmt in _BUILTIN_DATE_FORMATS or (code is not None and _DATE_CODE.search(_FORMAT_NOISE.sub("", code))):
            dates.add(index)
    return frozenset(dates)


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _excel_date(serial: float, date1904: bool) -> str:
    try:
        moment = (dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)) + dt.timedelta(days=serial)
    except (OverflowError, ValueError):
        return format_number(serial)
    moment = moment.replace(microsecond=0) + dt.timedelta(seconds=round(moment.microsecond / 1e6))
    if serial < 1 and not date1904:
        return moment.time().isoformat()
    if moment.time() == dt.time(0):
        return moment.date().isoformat()
    return moment.isoformat()


def _stream_xlsx(doc: Document, limits: Limits, min_chars: int = 1) -> Iterator[Segment]:
    with open_zip(doc, "表格文件") as zf:
        check_office_zip(zf, limits, "表格文件")
        workbook = "xl/workbook.xml"
        for _, (kind, target) in _rels(zf, "_rels/.rels").items():
            if kind.endswith("/officeDocument"):
                workbook = target
        if workbook not in zf.NameToInfo:
            raise ExtractError(_CORRUPT)
        rels = _rels(zf, workbook)
        by_type = {kind.rsplit("/", 1)[-1]: target for kind, target in rels.values()}
        shared = _shared_strings(zf, by_type.get("sharedStrings"))
        dates = _date_styles(zf, by_type.get("styles"))
        sheets: list[tuple[str, str]] = []
        date1904 = False
        sheet_tags, pr_tags = set(_tags("sheet")), set(_tags("workbookPr"))
        with zf.open(workbook) as stream:
            for _, elem in iterparse(stream, sorted(sheet_tags | pr_tags), events=("end",)):
                if elem.tag in pr_tags:
                    date1904 = elem.get("date1904") in ("1", "true")
                    continue
                rid = next((elem.get(f"{{{ns}}}id") for ns in _REL_NS if elem.get(f"{{{ns}}}id")), None)
                kind, target = rels.get(rid or "", ("", ""))
                if kind.endswith("/worksheet") and target in zf.NameToInfo:
                    sheets.append((elem.get("name") or target, target))
        for name, target in sheets:
            try:
                with zf.open(target) as stream:
                    yield from _emit(name, _stream_rows(stream, shared, dates, date1904), min_chars)
            except zipfile.BadZipFile as exc:
                raise ExtractError(_CORRUPT) from exc


def _stream_rows(
    stream: IO[bytes], shared: list[str], dates: frozenset[int], date1904: bool
) -> Iterator[tuple[int, list[tuple[int, str]]]]:
    """(row number, [(column number, text)]) for each row of a worksheet part, in order."""
    columns: dict[str, int] = {}
    rows: list[tuple[int, list[tuple[int, str]]]] = []
    cells: list[tuple[int, str]] = []
    buf: list[str] = []
    # One mutable record instead of nonlocals: [row, column, type, style, collecting, in_is, in_rph]
    state: list = [0, 0, None, None, False, False, False]
    parser = _expat(_DTD_REFUSED)
    digits = "0123456789"

    def start(name: str, attrs: dict[str, str]) -> None:
        local = name[name.index(":") + 1 :] if ":" in name else name
        if local == "c":
            ref = attrs.get("r")
            if ref:
                letters = ref.rstrip(digits)
                state[1] = columns.get(letters) or columns.setdefault(letters, _column_number(letters))
            else:
                state[1] += 1
            state[2] = attrs.get("t")
            state[3] = attrs.get("s")
            buf.clear()
        elif local == "v":
            state[4] = True
        elif local == "t":
            state[4] = state[5] and not state[6]
        elif local == "is":
            state[5] = True
        elif local == "rPh":
            state[6] = True
        elif local == "row":
            state[0] = _int(attrs.get("r"), state[0] + 1)
            state[1] = 0

    def end(name: str) -> None:
        local = name[name.index(":") + 1 :] if ":" in name else name
        if local == "c":
            if buf:
                text = _cell_text("".join(buf), state[2], state[3], shared, dates, date1904)
                if text and not text.isspace():
                    cells.append((state[1], text))
        elif local in ("v", "t"):
            state[4] = False
        elif local == "row":
            if cells:
                rows.append((state[0], cells.copy()))
                cells.clear()
        elif local == "is":
            state[5] = False
        elif local == "rPh":
            state[6] = False

    def data(text: str) -> None:
        if state[4]:
            buf.append(text)

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, data
    yield from _feed(parser, stream, rows)  # type: ignore[misc]


def _cell_text(
    value: str, kind: str | None, style: str | None, shared: list[str], dates: frozenset[int], date1904: bool
) -> str:
    if kind is None or kind == "n":
        if value.isdigit() and len(value) < 16 and not (dates and _int(style) in dates):
            return value.lstrip("0") or "0"
        try:
            number = float(value)
        except ValueError:
            return value
        return _excel_date(number, date1904) if dates and _int(style) in dates else format_number(number)
    if kind == "s":
        index = _int(value, -1)
        return shared[index] if 0 <= index < len(shared) else ""
    if kind == "b":
        return "TRUE" if value == "1" else "FALSE"
    if kind == "e":
        return ""  # #N/A, #REF!: formula errors hold no data
    return value  # inlineStr, str (formula text), d (ISO date)


def _column_number(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + (ord(char) - 64)
    return number


def _emit(name: str, rows: Iterator[tuple[int, list[tuple[int, str]]]], min_chars: int = 1) -> Iterator[Segment]:
    headers: dict[int, str] = {}
    found = False
    scanned = 0
    cell = CellSegment
    for row_number, cells in rows:
        if not found and scanned < _HEADER_SCAN_ROWS:
            scanned += 1
            for column, text in cells:
                if len(text) < min_chars:
                    continue
                yield cell(text, "", name, row_number, column)
            if _looks_like_header([text for _, text in cells]):
                found = True
                headers = {column: text.strip() for column, text in cells}
            continue
        for column, text in cells:
            if len(text) < min_chars:
                continue
            yield cell(text, headers.get(column, ""), name, row_number, column)
