"""HTML: mask values in text nodes and attribute values of the original source, nothing else.

The page is not re-serialised from a DOM: a tokenizer walks the decoded source and builds the
same kinds of text the extractor reads (page lines, table cells with their column headers,
attribute values, script blocks, comments), each character mapped to its offset in the source.
Masking characters are written at those offsets; markup is untouched, byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scanner.extract.decode import charset_param, detect_encoding, meta_charset
from scanner.model import Document, Location, Segment
from scanner.redact._core import Piece
from scanner.redact._flow import Flow
from scanner.redact.text import Decoded

# Mirrors scanner.extract.html: which tags end a line, which are not read, which attributes count.
_BLOCK = frozenset((
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset", "figcaption", "figure",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "table", "tbody", "thead", "tfoot", "tr", "ul", "option", "title",
))
_SKIP = frozenset(("template", "svg", "math"))
_RAW_TEXT = frozenset(("script", "style", "xmp", "iframe", "noembed", "noframes"))
_RCDATA = frozenset(("textarea", "title"))
_ATTRS = frozenset(("title", "alt", "value", "placeholder", "content", "aria-label", "label", "summary", "data-value"))
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使"
_INTERESTING = re.compile(rf"[0-9０-９]{{3}}|[{_PROVINCES}][A-Za-zＡ-Ｚ]?")
_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_TAG_IN_COMMENT = re.compile(r"<[^>]{0,2000}>")

_TOKEN = re.compile(
    r"<!--(?P<comment>.*?)(?:-->|\Z)"
    r"|<!\[CDATA\[(?P<cdata>.*?)(?:\]\]>|\Z)"
    r"|<![^>]*>|<\?[^>]*>"
    r"|</(?P<end>[A-Za-z][^\s/>]*)[^>]*>"
    r"|<(?P<start>[A-Za-z][^\s/>]*)(?P<attrs>[^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*)>",
    re.S,
)
_ATTR = re.compile(
    r"(?P<name>[^\s\"'>/=]+)(?:\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<uq>[^\s\"'=<>`]+)))?"
)


def decode_html(doc: Document, data: bytes) -> Decoded:
    """Decode a page as :mod:`scanner.extract.html` does (declared charset, then detection)."""
    declared = (doc.content_type and charset_param(doc.content_type)) or meta_charset(data)
    return Decoded(data, detect_encoding(data, declared))


@dataclass(slots=True)
class _Table:
    number: int
    row: int = 0
    column: int = 0
    header: dict[int, str] = field(default_factory=dict)
    cells: list[tuple[int, Flow]] = field(default_factory=list)  # the open row's cells
    in_row: bool = False
    cell: list[Flow] | None = None  # the open cell's lines
    buf: Flow | None = None
    cell_column: int = 0


class _Walker:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pieces: list[Piece] = []
        self.lines: list[Flow] = []
        self.buf = Flow()
        self.tables: list[_Table] = []
        self.count = 0

    # where text goes: the open cell of the innermost table, else the page
    def _target(self) -> tuple[Flow, list[Flow]]:
        if self.tables and self.tables[-1].cell is not None:
            t = self.tables[-1]
            assert t.buf is not None
            return t.buf, t.cell  # type: ignore[return-value]
        return self.buf, self.lines

    def _flush(self) -> None:
        buf, lines = self._target()
        if buf.chars:
            line = buf.collapsed()
            if line.chars:
                lines.append(line)
            buf.chars.clear()
            buf.spans.clear()

    def walk(self) -> list[Piece]:
        text = self.text
        pos, n = 0, len(text)
        while pos < n:
            m = _TOKEN.search(text, pos)
            stop = m.start() if m else n
            if stop > pos:
                self._target()[0].html_text(text[pos:stop], pos)
            if m is None:
                break
            pos = m.end()
            if m.group("comment") is not None or m.group("cdata") is not None:
                group = "comment" if m.group("comment") is not None else "cdata"
                self._comment(m.start(group), m.end(group))
            elif m.group("end") is not None:
                self._end(m.group("end").lower())
            elif m.group("start") is not None:
                name = m.group("start").lower()
                self._attributes(m.group("attrs"), m.start("attrs"))
                self_closing = m.group("attrs").rstrip().endswith("/")
                if name in _SKIP and not self_closing:
                    pos = self._skip(name, pos)
                elif name in _RAW_TEXT or name in _RCDATA:
                    close = re.compile(rf"</{name}[\s/>]", re.I).search(text, pos)
                    end = close.start() if close else n
                    if name == "script":
                        self._script(pos, end)
                    elif name in _RCDATA:
                        self._start(name, m.group("attrs"))
                        self._target()[0].html_text(text[pos:end], pos)
                        self._end(name)
                    pos = end
                else:
                    self._start(name, m.group("attrs"))
        while self.tables:
            self._close_table()
        self._flush()
        page = Flow()
        for line in self.lines:
            if page.chars:
                page.synthetic("\n")
            page.extend(line)
        if page.chars:
            self.pieces.append(Piece(Segment(page.text(), Location(line=1)), "html", page.spans))
        return self.pieces

    def _skip(self, name: str, pos: int) -> int:
        depth = 1
        pattern = re.compile(rf"<(/?){name}(?=[\s/>])[^>]*>", re.I)
        for m in pattern.finditer(self.text, pos):
            depth += -1 if m.group(1) else (0 if m.group().endswith("/>") else 1)
            if depth == 0:
                return m.end()
        return len(self.text)

    def _start(self, name: str, attrs: str) -> None:
        if name == "table":
            self._flush()
            self.count += 1
            self.tables.append(_Table(self.count))
            return
        if self.tables and name in ("tr", "td", "th"):
            t = self.tables[-1]
            if name == "tr":
                self._close_row(t)
                t.in_row, t.row, t.column = True, t.row + 1, 0
                return
            self._close_cell(t)
            if not t.in_row:
                t.in_row, t.row, t.column = True, t.row + 1, 0
            t.column += 1
            t.cell, t.buf, t.cell_column = [], Flow(), t.column
            span = _attr(attrs, "colspan") or "1"
            t.column += int(span) - 1 if span.isdigit() and 1 < int(span) < 100 else 0
            return
        if name in _BLOCK:
            self._flush()

    def _end(self, name: str) -> None:
        if self.tables and name in ("table", "tr", "td", "th", "tbody", "thead", "tfoot"):
            t = self.tables[-1]
            if name == "table":
                self._close_table()
            elif name in ("td", "th"):
                self._close_cell(t)
            else:
                self._close_row(t)
            return
        if name in _BLOCK:
            self._flush()

    def _close_cell(self, t: _Table) -> None:
        if t.cell is None:
            return
        self._flush()
        text = Flow()
        for line in t.cell:
            if text.chars:
                text.synthetic(" ")
            text.extend(line)
        t.cells.append((t.cell_column, text))
        t.cell = t.buf = None

    def _close_row(self, t: _Table) -> None:
        self._close_cell(t)
        if not t.in_row:
            return
        t.in_row = False
        cells, t.cells = t.cells, []
        texts = [(c, f.text(), f) for c, f in cells]
        if not t.header and len(texts) >= 2 and not any(_INTERESTING.search(s) for _, s, _ in texts):
            t.header = {c: s for c, s, _ in texts}
            return
        for c, s, f in texts:
            if s:
                location = Location(table=t.number, row=t.row, column=c)
                self.pieces.append(Piece(Segment(s, location, header=t.header.get(c, "")), "html", f.spans))

    def _close_table(self) -> None:
        t = self.tables[-1]
        self._close_row(t)
        self.tables.pop()

    def _attributes(self, attrs: str, base: int) -> None:
        for m in _ATTR.finditer(attrs):
            name = m.group("name").lower()
            if name not in _ATTRS and not name.startswith("data-"):
                continue
            group = next((g for g in ("dq", "sq", "uq") if m.group(g) is not None), None)
            if group is None or not m.group(group):
                continue
            flow = Flow()
            flow.html_text(m.group(group), base + m.start(group))
            self.pieces.append(Piece(Segment(flow.text(), Location(part=f"标签属性 {name}")), "html", flow.spans))

    def _script(self, start: int, end: int) -> None:
        body = self.text[start:end]
        flow = Flow()
        pos = 0
        for m in _UNICODE_ESCAPE.finditer(body):
            flow.raw(body[pos:m.start()], start + pos)
            flow.chars.append(chr(int(m.group(1), 16)))
            flow.spans.append((start + m.start(), start + m.end()))
            pos = m.end()
        flow.raw(body[pos:], start + pos)
        if flow.chars:
            self.pieces.append(Piece(Segment(flow.text(), Location(part="脚本", line=1)), "html", flow.spans))

    def _comment(self, start: int, end: int) -> None:
        body = self.text[start:end]
        flow = Flow()
        pos = 0
        for m in _TAG_IN_COMMENT.finditer(body):
            flow.raw(body[pos:m.start()], start + pos)
            flow.synthetic(" ")
            pos = m.end()
        flow.raw(body[pos:], start + pos)
        flow = flow.collapsed()
        if flow.chars:
            self.pieces.append(Piece(Segment(flow.text(), Location(part="源码注释", line=1)), "html", flow.spans))


def _attr(attrs: str, wanted: str) -> str | None:
    for m in _ATTR.finditer(attrs):
        if m.group("name").lower() == wanted:
            return next((m.group(g) for g in ("dq", "sq", "uq") if m.group(g) is not None), "")
    return None


def html_pieces(text: str) -> list[Piece]:
    """The page's text pieces, each character mapped to its offset in ``text``."""
    return _Walker(text).walk()
