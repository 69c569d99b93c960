"""HTML pages: visible text, table cells with their column headers, attributes, scripts, comments.

Everything a visitor or a viewer of the page source can read counts: ``title``/``alt`` attributes,
JSON data in ``<script>`` blocks, commented-out tables, CDATA lists (Hanweb ``<datastore>``).
The page title and publication date go to ``doc.meta`` for the remediation list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scanner.config import Limits
from scanner.extract.decode import charset_param, decode, meta_charset
from scanner.model import Document, Location, Segment

_BLOCK = frozenset(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table tbody thead tfoot tr ul option title".split()
)
_SKIP = frozenset(("style", "template", "svg", "math"))
_ATTRS = ("title", "alt", "value", "placeholder", "content", "aria-label", "label", "summary", "data-value")
_INTERESTING = re.compile(r"[0-9０-９]{3}|[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使][A-Za-zＡ-Ｚ]?")
_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_TAG = re.compile(r"<[^>]{0,2000}>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_DATE_META = ("pubdate", "publishdate", "firstpublishedtime", "article:published_time", "dc.date", "createdate",
              "publishtime", "releasedate")
_DATE_TEXT = re.compile(r"(?:发布(?:日期|时间)|成文日期|发文日期|日期)[:：\s]*((?:19|20)\d{2}[-年/.]\d{1,2}[-月/.]\d{1,2}日?)")


def extract(doc: Document, limits: Limits) -> Iterator[Segment]:
    """Yield the page's text segments (see module docstring)."""
    data = doc.read()
    declared = (doc.content_type and charset_param(doc.content_type)) or meta_charset(data)
    html, _ = decode(data, declared)
    del data
    tree = LexborHTMLParser(html)
    del html
    walker = _Walker()
    root = tree.root
    if root is None:
        return
    walker.walk(root)
    _page_meta(tree, walker, doc)
    yield from walker.cells
    yield from walker.extra
    text = "\n".join(line for line in walker.finish_lines() if line)
    if text:
        yield Segment(text, Location(line=1))


class _Walker:
    """Collects visible text lines, table-cell segments and attribute/script/comment segments."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.buf: list[str] = []
        self.cells: list[Segment] = []
        self.extra: list[Segment] = []
        self.tables = 0

    def finish_lines(self) -> list[str]:
        self._flush(self.buf, self.lines)
        return self.lines

    @staticmethod
    def _flush(buf: list[str], lines: list[str]) -> None:
        if buf:
            line = "".join(buf)
            # Without these, every match of _SPACES is one space already (a few fast scans
            # instead of a regex substitution per line).
            if "  " in line or "\t" in line or "\r" in line or "\f" in line or "\v" in line or "\xa0" in line:
                line = _SPACES.sub(" ", line)
            line = line.strip()
            if line:
                lines.append(line)
            buf.clear()

    def walk(self, node: LexborNode, buf: list[str] | None = None, lines: list[str] | None = None) -> None:
        """Depth-first walk below ``node``; text goes to ``buf``/``lines`` (the page's, or a cell's)."""
        buf = self.buf if buf is None else buf
        lines = self.lines if lines is None else lines
        flush = self._flush
        # None on the stack marks leaving a block element (the only elements left with an action).
        stack: list[LexborNode | None] = [node]
        push, pop = stack.append, stack.pop
        while stack:
            current = pop()
            if current is None:
                flush(buf, lines)
                continue
            tag = current.tag
            if tag == "-text":
                buf.append(current.text_content or "")
                continue
            if tag == "-comment":
                self._comment(current)
                continue
            if tag in _SKIP or tag is None:
                continue
            self._attributes(current)
            if tag == "script":
                self._script(current)
                continue
            if tag == "table" and current is not node:
                flush(buf, lines)
                self._table(current)
                continue
            if tag in _BLOCK:
                flush(buf, lines)
                push(None)
            child = current.last_child  # children pushed last first: popped in document order
            while child is not None:
                push(child)
                child = child.prev

    def _attributes(self, node: LexborNode) -> None:
        attrs = node.attributes
        if not attrs:
            return
        for name in _ATTRS:
            value = attrs.get(name)
            if value and _INTERESTING.search(value):
                self.extra.append(Segment(value, Location(part=f"标签属性 {name}")))
        for name, value in attrs.items():
            if name.startswith("data-") and name != "data-value" and value and _INTERESTING.search(value):
                self.extra.append(Segment(value, Location(part=f"标签属性 {name}")))

    def _script(self, node: LexborNode) -> None:
        text = node.text(deep=True) or ""
        if _INTERESTING.search(text):
            text = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
            self.extra.append(Segment(text, Location(part="脚本", line=1)))

    def _comment(self, node: LexborNode) -> None:
        text = node.comment_content or ""
        if _INTERESTING.search(text):
            text = _SPACES.sub(" ", _TAG.sub(" ", text))
            self.extra.append(Segment(text, Location(part="源码注释", line=1)))

    def _table(self, table: LexborNode) -> None:
        self.tables += 1
        number = self.tables
        header: dict[int, str] = {}
        row_no = 0
        for tr in _rows(table):
            row_no += 1
            col = 0
            cells = [c for c in _children(tr) if c.tag in ("td", "th")]
            texts: list[tuple[int, str, LexborNode]] = []
            for cell in cells:
                col += 1
                lines: list[str] = []
                buf: list[str] = []
                self._attributes(cell)
                for child in _children(cell):
                    self.walk(child, buf, lines)
                self._flush(buf, lines)
                texts.append((col, " ".join(lines), cell))
                span = cell.attributes.get("colspan") or "1"
                col += int(span) - 1 if span.isdigit() and 1 < int(span) < 100 else 0
            if not header and len(texts) >= 2 and not any(_INTERESTING.search(t) for _, t, _ in texts):
                header = {c: t for c, t, _ in texts}
                continue
            for c, text, _ in texts:
                if text:
                    self.cells.append(Segment(text, Location(table=number, row=row_no, column=c), header=header.get(c, "")))


def _children(node: LexborNode) -> Iterator[LexborNode]:
    child = node.child
    while child is not None:
        yield child
        child = child.next


def _rows(table: LexborNode) -> Iterator[LexborNode]:
    """The table's own rows (not those of nested tables)."""
    for child in _children(table):
        if child.tag == "tr":
            yield child
        elif child.tag in ("thead", "tbody", "tfoot"):
            yield from (r for r in _children(child) if r.tag == "tr")


def _page_meta(tree: LexborHTMLParser, walker: _Walker, doc: Document) -> None:
    # tags() finds what the selectors "title" and "meta" find, in the same order, without the
    # CSS engine (a twentieth of the time).
    titles = tree.tags("title") if "title" not in doc.meta else ()
    title = titles[0] if titles else None
    if title is not None:
        text = (title.text(deep=True) or "").strip()
        if text:
            doc.meta["title"] = _SPACES.sub(" ", text)[:200]
    if "published" in doc.meta:
        return
    for meta in tree.tags("meta"):
        name = (meta.attributes.get("name") or meta.attributes.get("property") or "").lower()
        if name in _DATE_META and meta.attributes.get("content"):
            doc.meta["published"] = (meta.attributes.get("content") or "").strip()[:40]
            return
    for line in walker.lines[:200]:
        m = _DATE_TEXT.search(line)
        if m:
            doc.meta["published"] = m.group(1)
            return
