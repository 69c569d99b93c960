"""DOCX and XLSX: edit the text of the OOXML parts in place, copy every other member unchanged.

The parts are not re-serialised: a tokenizer walks each XML part and maps every character of the
text the extractor reads (Word paragraphs and table cells, spreadsheet cells) to its offset in the
part, so only the characters of masked values change. Formatting, formulas, merged cells, images
and styles are other bytes or other members and survive as they were. A value split across Word
runs is found because a paragraph's runs are joined, and masked run by run.

A number cell holding a personal value (an ID typed as a number) cannot hold ``*``: it becomes an
inline-string cell with the masked text (its style is kept; a formula producing it is dropped).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from scanner.config import Limits
from scanner.errors import ExtractError
from scanner.extract._xml import OLE_MAGIC, check_office_zip, open_zip
from scanner.extract.sheet import column_letters, format_number
from scanner.model import Document, Location, Segment
from scanner.redact._core import Piece, Plan, apply
from scanner.redact._flow import Flow

_W = ("http://schemas.openxmlformats.org/wordprocessingml/2006/main", "http://purl.oclc.org/ooxml/wordprocessingml/main")
_S = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main", "http://purl.oclc.org/ooxml/spreadsheetml/main")
_R = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
      "http://purl.oclc.org/ooxml/officeDocument/relationships")
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"

_TOKEN = re.compile(
    r"<!--.*?-->|<!\[CDATA\[(?P<cdata>.*?)\]\]>|<\?.*?\?>|<!(?P<dtd>[^>]*)>"
    r"|<(?P<close>/)?(?P<name>[^\s/>!?]+)(?P<attrs>[^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*)>",
    re.S,
)
_XMLNS = re.compile(r"""xmlns(?::([\w.\-]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ATTR = re.compile(r"""([^\s=/]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_LONG_DIGITS = re.compile(r"\d{6}")
_HEADER_SCAN_ROWS = 10
_PARTS = (
    (re.compile(r"header\d*\.xml"), "页眉"),
    (re.compile(r"footer\d*\.xml"), "页脚"),
    (re.compile(r"comments\.xml"), "批注"),
    (re.compile(r"footnotes\.xml"), "脚注"),
    (re.compile(r"endnotes\.xml"), "尾注"),
)


class Unwritable(Exception):
    """The package cannot be rewritten faithfully; the message is the officer's reason."""


@dataclass(slots=True)
class _Tag:
    start: int
    end: int
    ns: str
    local: str
    close: bool
    empty: bool
    attrs: str
    qname: str


class _Part:
    """One XML part, decoded, with a namespace-aware token stream."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        if data.startswith(b"\xef\xbb\xbf"):
            self.bom, data = b"\xef\xbb\xbf", data[3:]
        else:
            self.bom = b""
        head = data[:200]
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or re.search(rb"encoding=[\"'](?!utf-8)", head, re.I):
            raise Unwritable("文档内部使用了非 UTF-8 编码的 XML，无法安全改写，请人工处理")
        try:
            self.text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Unwritable("文档内部的 XML 已损坏，无法改写") from None
        self.ns: dict[str, str] = {}
        for m in _XMLNS.finditer(self.text):
            self.ns.setdefault(m.group(1) or "", m.group(2) if m.group(2) is not None else m.group(3))

    def tokens(self) -> Iterator[_Tag | tuple[int, int, bool]]:
        """Tags, and ``(start, end, is_cdata)`` for the character data between them."""
        text = self.text
        pos = 0
        for m in _TOKEN.finditer(text):
            if m.start() > pos:
                yield (pos, m.start(), False)
            pos = m.end()
            if m.group("cdata") is not None:
                yield (m.start("cdata"), m.end("cdata"), True)
                continue
            if m.group("dtd") is not None and m.group("dtd").upper().startswith(("DOCTYPE", "ENTITY")):
                raise Unwritable("文档中的 XML 含有 DTD/实体声明，拒绝处理")
            name = m.group("name")
            if name is None:
                continue
            prefix, _, local = name.rpartition(":")
            attrs = m.group("attrs")
            yield _Tag(m.start(), m.end(), self.ns.get(prefix, ""), local, bool(m.group("close")),
                       attrs.endswith("/"), attrs, name)
        if pos < len(text):
            yield (pos, len(text), False)

    def encode(self, text: str) -> bytes:
        return self.bom + text.encode("utf-8")


def _attrs(tag: _Tag) -> dict[str, str]:
    out = {}
    for m in _ATTR.finditer(tag.attrs):
        out[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
    return out


def _attr_local(tag: _Tag, local: str) -> str | None:
    for key, value in _attrs(tag).items():
        if key == local or key.endswith(":" + local):
            return value
    return None


def _join(flows: list[Flow], sep: str) -> Flow:
    out = Flow()
    for i, f in enumerate(flows):
        if i:
            out.synthetic(sep)
        out.extend(f)
    return out


def _strip_newlines(f: Flow) -> Flow:
    a, b = 0, len(f.chars)
    while a < b and f.chars[a] == "\n":
        a += 1
    while b > a and f.chars[b - 1] == "\n":
        b -= 1
    out = Flow()
    out.chars, out.spans = f.chars[a:b], f.spans[a:b]
    return out


# -- the package --------------------------------------------------------------------------------

class Package:
    """An OOXML zip: its parts are read on demand and written back with only the edited ones changed."""

    def __init__(self, doc: Document, limits: Limits, what: str) -> None:
        if doc.read(8).startswith(OLE_MAGIC):
            raise ExtractError(f"{what}已加密，无法读取")
        self.zf = open_zip(doc, what)
        check_office_zip(self.zf, limits, what)
        self.names = set(self.zf.namelist())
        self.parts: dict[str, _Part] = {}

    def part(self, name: str) -> _Part:
        if name not in self.parts:
            try:
                self.parts[name] = _Part(name, self.zf.read(name))
            except (zipfile.BadZipFile, NotImplementedError, OSError) as exc:
                raise ExtractError("文件已损坏或使用了不支持的压缩方式，无法读取") from exc
        return self.parts[name]

    def rels(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id → (type, absolute part name) for ``part`` ("" for the package)."""
        folder, base = posixpath.split(part)
        rels_name = posixpath.join(folder, "_rels", base + ".rels")
        out: dict[str, tuple[str, str]] = {}
        if rels_name not in self.names:
            return out
        for tag in self.part(rels_name).tokens():
            if isinstance(tag, _Tag) and tag.local == "Relationship" and not tag.close:
                a = _attrs(tag)
                target = a.get("Target", "")
                if target.startswith("/"):
                    path = target.lstrip("/")
                else:
                    path = posixpath.normpath(posixpath.join(folder, target))
                out[a.get("Id", "")] = (a.get("Type", ""), path)
        return out

    def main_part(self, default: str) -> str:
        for kind, target in self.rels("").values():
            if kind.endswith("/officeDocument") and target in self.names:
                return target
        return default

    def write(self, out: IO[bytes], texts: dict[str, str]) -> None:
        """Write the package with ``texts`` (part name → new text) replacing those parts."""
        with zipfile.ZipFile(out, "w") as zout:
            for info in self.zf.infolist():
                new = ZipInfoCopy(info)
                if info.filename in texts:
                    data = self.parts[info.filename].encode(texts[info.filename])
                else:
                    data = self.zf.read(info.filename)
                zout.writestr(new, data, compress_type=info.compress_type)

    def close(self) -> None:
        self.zf.close()


def ZipInfoCopy(info: zipfile.ZipInfo) -> zipfile.ZipInfo:  # noqa: N802
    """A fresh ZipInfo with the original's name, time, attributes and comment."""
    new = zipfile.ZipInfo(info.filename, info.date_time)
    new.compress_type = info.compress_type
    new.external_attr = info.external_attr
    new.create_system = info.create_system
    new.comment = info.comment
    new.extra = info.extra
    return new


# -- DOCX ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class _WTable:
    number: int
    row: int = 0
    column: int = 0
    headers: dict[int, str] = field(default_factory=dict)
    cell: list[Flow] | None = None
    cell_column: int = 0


def docx_pieces(pkg: Package) -> list[Piece]:
    """The paragraphs and table cells of every text part, as :mod:`scanner.extract.docx` reads them."""
    main = pkg.main_part("word/document.xml")
    if main not in pkg.names:
        raise ExtractError("文档已损坏：缺少正文部分（word/document.xml）")
    folder = posixpath.dirname(main)
    labels = [label for _, label in _PARTS]
    extra = []
    for name in pkg.names:
        if posixpath.dirname(name) != folder:
            continue
        base = posixpath.basename(name)
        label = next((lab for pat, lab in _PARTS if pat.fullmatch(base)), None)
        if label:
            digits = re.findall(r"\d+", base)
            extra.append((labels.index(label), int(digits[-1]) if digits else 0, name, label))
    pieces: list[Piece] = []
    for name, label in [(main, "正文")] + [(n, lab) for _, _, n, lab in sorted(extra)]:
        pieces.extend(_docx_part(pkg.part(name), label))
    return pieces


def _docx_part(part: _Part, label: str) -> Iterator[Piece]:
    paragraphs: list[Flow] = []
    tables: list[_WTable] = []
    table_count = line = fallback = 0
    in_text = False
    text = part.text
    for tok in part.tokens():
        if not isinstance(tok, _Tag):
            if in_text and paragraphs and not fallback:
                start, end, cdata = tok
                if cdata:
                    paragraphs[-1].raw(text[start:end], start)
                else:
                    paragraphs[-1].xml_text(text[start:end], start)
            continue
        if tok.ns == _MC and tok.local == "Fallback":
            if not tok.empty:
                fallback += -1 if tok.close else 1
            continue
        if fallback or tok.ns not in _W:
            continue
        local = tok.local
        starting = not tok.close
        ending = tok.close or tok.empty
        if starting:
            if local == "p":
                paragraphs.append(Flow())
            elif local == "tbl":
                table_count += 1
                tables.append(_WTable(table_count))
            elif local == "tr" and tables:
                tables[-1].row += 1
                tables[-1].column = 0
            elif local == "tc" and tables:
                t = tables[-1]
                t.cell, t.cell_column = [], t.column + 1
                t.column += 1
            elif local in ("t", "delText"):
                in_text = not tok.empty
        if not ending:
            continue
        if local in ("t", "delText"):
            in_text = False
        elif local in ("tab", "ptab"):
            if paragraphs:
                paragraphs[-1].synthetic("\t")
        elif local in ("br", "cr"):
            if paragraphs:
                paragraphs[-1].synthetic("\n")
        elif local == "noBreakHyphen":
            if paragraphs:
                paragraphs[-1].synthetic("-")
        elif local == "gridSpan":
            if tables and tables[-1].cell is not None:
                try:
                    span = int(_attr_local(tok, "val") or 1)
                except ValueError:
                    span = 1
                if span > 1:
                    tables[-1].column += span - 1
        elif local == "p":
            flow = paragraphs.pop() if paragraphs else Flow()
            t = tables[-1] if tables else None
            if t is not None and t.cell is not None and not paragraphs:
                t.cell.append(flow)
            else:
                line += 1
                s = flow.text()
                if s.strip():
                    yield Piece(Segment(s, Location(line=line, part=label)), ("xml", part.name), flow.spans)
        elif local == "tc" and tables:
            t = tables[-1]
            flow = _strip_newlines(_join(t.cell or [], "\n"))
            t.cell = None
            s = flow.text()
            if t.row == 1 and s.strip() and not _LONG_DIGITS.search(s):
                t.headers[t.cell_column] = s.strip()
            if s.strip():
                location = Location(table=t.number, row=t.row, column=t.cell_column, part=label)
                header = t.headers.get(t.cell_column, "") if t.row > 1 else ""
                yield Piece(Segment(s, location, header), ("xml", part.name), flow.spans)
        elif local == "tbl" and tables:
            tables.pop()


# -- XLSX ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Cell:
    column: int
    ref: str
    text: str
    buffer: object
    spans: object  # int or list of spans


def _looks_like_header(texts: list[str]) -> bool:
    filled = [t for t in texts if t.strip()]
    if len(filled) < 2 or any(_LONG_DIGITS.search(t) for t in filled):
        return False
    wordy = sum(1 for t in filled if not t.strip().replace(".", "").replace("-", "").isdigit())
    return wordy * 2 > len(filled)


def _column_number(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + (ord(char) - 64)
    return number


def _number_text(value: str) -> str:
    if value.isdigit() and len(value) < 16:
        return value.lstrip("0") or "0"
    try:
        return format_number(float(value))
    except ValueError:
        return value


class Workbook:
    """The sheets of an XLSX package as cell pieces, and how to write masked cells back."""

    def __init__(self, pkg: Package) -> None:
        self.pkg = pkg
        self.workbook = pkg.main_part("xl/workbook.xml")
        if self.workbook not in pkg.names:
            raise ExtractError("表格文件已损坏或格式不正确，无法读取")
        rels = pkg.rels(self.workbook)
        by_type = {kind.rsplit("/", 1)[-1]: target for kind, target in rels.values()}
        self.sst = by_type.get("sharedStrings") if by_type.get("sharedStrings") in pkg.names else None
        self.shared = self._shared_strings() if self.sst else []
        self.sheets: list[tuple[str, str]] = []
        for tok in pkg.part(self.workbook).tokens():
            if isinstance(tok, _Tag) and tok.local == "sheet" and not tok.close:
                a = _attrs(tok)
                rid = next((v for k, v in a.items() if k.endswith(":id")), "")
                kind, target = rels.get(rid, ("", ""))
                if kind.endswith("/worksheet") and target in pkg.names:
                    flow = Flow()
                    flow.xml_text(a.get("name", target), 0)
                    self.sheets.append((flow.text(), target))
        # numeric cells: (part, start of <c>) → (end of </c>, start tag text, prefix, display text)
        self.numbers: dict[tuple[str, int], tuple[int, str, str, str]] = {}

    def _shared_strings(self) -> list[Flow]:
        assert self.sst is not None
        part = self.pkg.part(self.sst)
        strings: list[Flow] = []
        flow: Flow | None = None
        in_t = rph = False
        for tok in part.tokens():
            if not isinstance(tok, _Tag):
                if in_t and flow is not None and not rph:
                    start, end, cdata = tok
                    (flow.raw if cdata else flow.xml_text)(part.text[start:end], start)
                continue
            if tok.local == "si":
                if not tok.close:
                    flow = Flow()
                if tok.close or tok.empty:
                    strings.append(flow or Flow())
                    flow = None
            elif tok.local == "rPh":
                rph = not tok.close and not tok.empty
            elif tok.local == "t":
                in_t = not tok.close and not tok.empty
        return strings

    def pieces(self) -> list[Piece]:
        pieces: list[Piece] = []
        for name, target in self.sheets:
            rows = self._rows(target)
            header: dict[int, str] = {}
            found = False
            scanned = 0
            for row_number, cells in rows:
                if not found and scanned < _HEADER_SCAN_ROWS:
                    scanned += 1
                    for c in cells:
                        pieces.append(self._piece(c, name, row_number, ""))
                    if _looks_like_header([c.text for c in cells]):
                        found = True
                        header = {c.column: c.text.strip() for c in cells}
                    continue
                for c in cells:
                    pieces.append(self._piece(c, name, row_number, header.get(c.column, "")))
        return pieces

    @staticmethod
    def _piece(c: _Cell, sheet: str, row: int, header: str) -> Piece:
        location = Location(None, sheet, c.ref, None, None, row, c.column)
        return Piece(Segment(c.text, location, header), c.buffer, c.spans)  # type: ignore[arg-type]

    def _rows(self, target: str) -> list[tuple[int, list[_Cell]]]:
        part = self.pkg.part(target)
        text = part.text
        rows: list[tuple[int, list[_Cell]]] = []
        cells: list[_Cell] = []
        row = column = 0
        cell: _Tag | None = None
        kind: str | None = None
        value: Flow | None = None  # <v> text
        inline: Flow | None = None  # <is> text
        in_v = in_t = in_is = rph = False
        for tok in part.tokens():
            if not isinstance(tok, _Tag):
                start, end, cdata = tok
                target_flow = value if in_v else (inline if in_t and in_is and not rph else None)
                if target_flow is not None:
                    (target_flow.raw if cdata else target_flow.xml_text)(text[start:end], start)
                continue
            if tok.ns not in _S:
                continue
            local = tok.local
            if local == "row":
                if not tok.close:
                    r = _attr_local(tok, "r")
                    row = int(r) if r and r.isdigit() else row + 1
                    column = 0
                if (tok.close or tok.empty) and cells:
                    rows.append((row, cells))
                    cells = []
            elif local == "c":
                if not tok.close:
                    a = _attrs(tok)
                    ref = a.get("r")
                    column = _column_number(ref.rstrip("0123456789")) if ref else column + 1
                    cell, kind, value, inline = tok, a.get("t"), None, None
                if (tok.close or tok.empty) and cell is not None:
                    c = self._cell(target, cell, tok.end, kind, value, inline, row, column)
                    if c is not None:
                        cells.append(c)
                    cell = None
            elif local == "v":
                in_v = not tok.close and not tok.empty
                if in_v:
                    value = Flow()
            elif local == "is":
                in_is = not tok.close and not tok.empty
                if in_is:
                    inline = Flow()
            elif local == "t":
                in_t = not tok.close and not tok.empty
            elif local == "rPh":
                rph = not tok.close and not tok.empty
        return rows

    def _cell(self, part: str, tag: _Tag, end: int, kind: str | None, value: Flow | None, inline: Flow | None,
              row: int, column: int) -> _Cell | None:
        ref = f"{column_letters(column - 1)}{row}"
        if kind == "inlineStr":
            if inline is None or not inline.chars:
                return None
            return _Cell(column, ref, inline.text(), ("xml", part), inline.spans)
        if value is None or not value.chars:
            return None
        raw = value.text()
        if kind == "s":
            try:
                flow = self.shared[int(raw)]
            except (ValueError, IndexError):
                return None
            s = flow.text()
            return _Cell(column, ref, s, ("xml", self.sst), flow.spans) if s and not s.isspace() else None
        if kind == "str":
            return _Cell(column, ref, raw, ("xml", part), value.spans) if not raw.isspace() else None
        if kind in (None, "n"):
            shown = _number_text(raw)
            prefix = tag.qname.rpartition(":")[0]
            self.numbers[(part, tag.start)] = (end, self.pkg.part(part).text[tag.start:tag.end], prefix, shown)
            return _Cell(column, ref, shown, ("num", part, tag.start), 0)
        return None  # booleans, errors, ISO dates

    def texts(self, plan: Plan) -> dict[str, str]:
        """New text of every part the plan changes."""
        edits: dict[str, dict[int, tuple[int, str]]] = {}
        for key, changes in plan.edits.items():
            if key[0] == "xml":  # type: ignore[index]
                edits.setdefault(key[1], {}).update(changes)  # type: ignore[index]
        for key, changes in plan.edits.items():
            if key[0] != "num":  # type: ignore[index]
                continue
            _, part, start = key  # type: ignore[misc]
            end, start_tag, prefix, shown = self.numbers[(part, start)]
            edits.setdefault(part, {})[start] = (end, _inline_cell(start_tag, prefix, apply(shown, changes)))
        return {part: apply(self.pkg.part(part).text, e) for part, e in edits.items()}


_T_ATTR = re.compile(r"""\st\s*=\s*(?:"[^"]*"|'[^']*')""")


def _inline_cell(start_tag: str, prefix: str, text: str) -> str:
    """A ``<c>`` element holding ``text`` as an inline string, keeping the original attributes."""
    body = start_tag[:-2].rstrip() if start_tag.endswith("/>") else start_tag[:-1]
    body = _T_ATTR.sub("", body)
    p = f"{prefix}:" if prefix else ""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    close = f"{p}c"
    return f'{body} t="inlineStr"><{p}is><{p}t>{escaped}</{p}t></{p}is></{close}>'


def open_package(doc: Document, limits: Limits, what: str) -> Package:
    """Open ``doc`` as an OOXML package (raises ExtractError if damaged, encrypted or a bomb)."""
    return Package(doc, limits, what)

