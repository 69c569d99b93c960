"""Positioned characters → lines, table cells and paragraphs (shared by the PDF and OFD extractors).

Plain text extraction of a table with narrow columns interleaves the wrapped lines of
neighbouring cells, so an ID number wrapped inside its cell comes out in pieces. This module
rebuilds the page from positions instead:

1. group glyphs into lines by their vertical centre, left to right;
2. split each line into fragments at wide gaps or at vertical ruling lines;
3. stack fragments of consecutive lines that sit in the same column corridor (no horizontal rule
   between them) into blocks: a block is a table cell or a paragraph;
4. group blocks into rows by vertical overlap; runs of rows with two or more blocks are tables,
   whose first row is the header when it looks like one;
5. join a block's lines, removing the line break where a number was wrapped.

Coordinates are page units with y growing downwards (``top < bottom``); every tolerance is
relative to the glyph height, so points (PDF) and millimetres (OFD) both work.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

from scanner.model import Location, Segment

# Glyphs whose vertical centre lies within this share of a line's first glyph height join it.
_SAME_LINE = 0.5
# A horizontal gap wider than this share of the glyph height gets a space ...
_SPACE_GAP = 0.28
# ... and one wider than this splits the line into fragments (table cells, columns).
_SPLIT_GAP = 0.8
# Fragments of consecutive lines stack into one block when the vertical gap is below this share.
_STACK_GAP = 0.6
# With horizontal rules on the page, row borders are known, so stacking may allow a larger gap.
_STACK_GAP_RULED = 1.0
# A wrapped line reaches within this many glyph heights of its block's right edge.
_FULL_LINE = 2.0
# Rules thinner than this (page units per glyph height) do not matter; used for rule tolerance.
_RULE_TOL = 0.25
# A one-block row stays inside a table when narrower than this share of the table.
_TABLE_NARROW = 0.6
# More prose than this between two tables (page headers and footers are shorter) ends a table.
_PROSE_RESET = 60
# A vertical rule between two glyphs needs at least this gap (cell padding on both sides).
_RULE_GAP = 0.15

_NUMERIC = frozenset("0123456789Xx*")
_DIGITS = frozenset("0123456789")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_DIGIT_RUN = re.compile(r"\d{5,}")
_TOP_X0 = attrgetter("top", "x0")
_X0 = attrgetter("x0")
_NO_LEFT = float("-inf")
_NO_RIGHT = float("inf")


class Glyph(NamedTuple):
    """One character (or a run of characters set as one unit) with its box.

    Extractors may pass plain tuples in this field order: the hot loops index them.
    """

    x0: float
    x1: float
    top: float
    bottom: float
    text: str
    space_before: bool = False


class Rules:
    """Axis-aligned ruling lines of a page: table borders.

    ``horizontal`` holds ``(y, x0, x1)``, ``vertical`` holds ``(x, top, bottom)``.
    """

    __slots__ = ("_hy", "_vx", "horizontal", "vertical")

    def __init__(
        self, horizontal: Iterable[tuple[float, float, float]] = (), vertical: Iterable[tuple[float, float, float]] = ()
    ) -> None:
        self.horizontal = sorted(horizontal)
        self.vertical = sorted(vertical)
        self._hy = [r[0] for r in self.horizontal]
        self._vx = [r[0] for r in self.vertical]

    def __bool__(self) -> bool:
        return bool(self.horizontal or self.vertical)

    def vertical_between(self, xa: float, xb: float, y: float) -> bool:
        """Is there a vertical rule strictly between ``xa`` and ``xb`` that crosses height ``y``?"""
        lo = bisect.bisect_right(self._vx, xa)
        hi = bisect.bisect_left(self._vx, xb)
        for i in range(lo, hi):
            _, top, bottom = self.vertical[i]
            if top <= y <= bottom:
                return True
        return False

    def horizontal_between(self, ya: float, yb: float, xa: float, xb: float) -> bool:
        """Is there a horizontal rule strictly between heights ``ya`` and ``yb`` overlapping ``xa..xb``?"""
        lo = bisect.bisect_right(self._hy, ya)
        hi = bisect.bisect_left(self._hy, yb)
        for i in range(lo, hi):
            _, x0, x1 = self.horizontal[i]
            if x0 < xb and x1 > xa:
                return True
        return False


class _Fragment:
    """A run of a line's glyphs between wide gaps or ruling lines (plain slots and ``__init__``,
    not a dataclass: compiled, ``_layout.pxd`` makes this a C struct-like class)."""

    __slots__ = ("bottom", "height", "left_x1", "line", "right_x0", "text", "top", "x0", "x1")

    def __init__(self, text: str, x0: float, x1: float, top: float, bottom: float, height: float, line: int) -> None:
        self.text = text
        self.x0 = x0
        self.x1 = x1
        self.top = top
        self.bottom = bottom
        self.height = height
        self.line = line  # 0-based line index on the page
        # where the neighbours on the same line end and start (edges, not the fragments: links both
        # ways would make every line a reference cycle, left for the garbage collector)
        self.left_x1 = _NO_LEFT
        self.right_x0 = _NO_RIGHT


class _Block:
    """Fragments of consecutive lines stacked in one column corridor: a table cell or a paragraph."""

    __slots__ = ("bottom", "parts", "tail", "top", "x0", "x1")

    def __init__(self, frag: _Fragment) -> None:
        self.parts = [frag]
        self.x0 = frag.x0
        self.x1 = frag.x1
        self.top = frag.top
        self.bottom = frag.bottom
        self.tail = frag  # the last part

    def add(self, frag: _Fragment) -> None:
        self.parts.append(frag)
        self.tail = frag
        if frag.x0 < self.x0:
            self.x0 = frag.x0
        if frag.x1 > self.x1:
            self.x1 = frag.x1
        if frag.bottom > self.bottom:
            self.bottom = frag.bottom


@dataclass(slots=True)
class _Header:
    columns: list[tuple[float, float, str]]  # x0, x1, text


@dataclass(slots=True)
class LayoutState:
    """What carries from one page to the next: the header of the last table, for tables that
    continue across a page break without repeating their header row."""

    header: _Header | None = None
    prose_chars: int = 0


# --------------------------------------------------------------------------- lines, fragments


def _centre2(g: Glyph) -> float:
    return g[2] + g[3]  # twice the vertical centre


def _lines(glyphs: list[Glyph]) -> list[list[Glyph]]:
    glyphs.sort(key=_centre2)
    lines: list[list[Glyph]] = []
    limit = float("-inf")
    line: list[Glyph] = []
    for g in glyphs:
        cy2 = g[2] + g[3]  # twice the centre, saves a division per glyph
        if cy2 > limit:
            line = [g]
            lines.append(line)
            limit = cy2 + 2 * _SAME_LINE * (g[3] - g[2])
        else:
            line.append(g)
    for line in lines:
        line.sort()  # by x0
    return lines


def _fragments(line: list[Glyph], index: int, rules: Rules | None) -> list[_Fragment]:
    n = len(line)
    if n == 1:  # a line of one word (a heading, a cell of a one-column row)
        g = line[0]
        return [_Fragment(g[4], g[0], g[1], g[2], g[3], (g[3] - g[2]) or 1.0, index)]
    heights = sorted([g[3] - g[2] for g in line])
    h = heights[n // 2] or 1.0
    split, space, rule_gap = _SPLIT_GAP * h, _SPACE_GAP * h, _RULE_GAP * h
    check_rules = rules is not None and bool(rules.vertical)
    frags: list[_Fragment] = []
    prev = line[0]
    chars: list[str] = [prev[4]]
    start = 0
    for i in range(1, n):
        g = line[i]
        gap = g[0] - prev[1]
        if gap > rule_gap:
            if gap > split or (
                check_rules and rules.vertical_between((prev[0] + prev[1]) / 2, (g[0] + g[1]) / 2, (g[2] + g[3]) / 2)  # type: ignore[union-attr]
            ):
                if i - start == 1:  # one glyph (the usual table cell line): its own text and box
                    frags.append(_Fragment(prev[4], prev[0], prev[1], prev[2], prev[3], h, index))
                else:
                    frags.append(_fragment(chars, line, start, i, h, index))
                chars = []
                start = i
            elif gap > space or g[5]:
                chars.append(" ")
        elif g[5]:
            chars.append(" ")
        elif gap < 0 and g[4] == prev[4] and g[0] - prev[0] < 0.3 * (prev[1] - prev[0]):
            continue  # drawn twice at (almost) the same spot: fake bold
        chars.append(g[4])
        prev = g
    if n - start == 1:
        frags.append(_Fragment(prev[4], prev[0], prev[1], prev[2], prev[3], h, index))
    else:
        frags.append(_fragment(chars, line, start, n, h, index))
    for a, b in zip(frags, frags[1:], strict=False):
        a.right_x0, b.left_x1 = b.x0, a.x1
    return frags


def _fragment(chars: list[str], line: list[Glyph], start: int, end: int, h: float, index: int) -> _Fragment:
    first = line[start]
    x1, top, bottom = first[1], first[2], first[3]
    for i in range(start + 1, end):
        g = line[i]
        if g[1] > x1:
            x1 = g[1]
        if g[2] < top:
            top = g[2]
        if g[3] > bottom:
            bottom = g[3]
    return _Fragment("".join(chars), first[0], x1, top, bottom, h, index)


# --------------------------------------------------------------------------- blocks


def _stack(lines: list[list[_Fragment]], rules: Rules | None) -> list[_Block]:
    """Stack fragments of consecutive lines in the same column corridor into blocks."""
    blocks: list[_Block] = []
    open_blocks: list[_Block] = []
    ruled = rules is not None and bool(rules.horizontal)
    factor = _STACK_GAP_RULED if ruled else _STACK_GAP
    horizontal_between = rules.horizontal_between if ruled else None  # type: ignore[union-attr]
    for frags in lines:
        line_top = frags[0].top
        for f in frags:
            if f.top < line_top:
                line_top = f.top
        if open_blocks:
            open_blocks = [b for b in open_blocks if line_top - b.tail.bottom < factor * b.tail.height]
        new: list[_Block] = []
        for frag in frags:
            fx0, fx1, ftop, fline = frag.x0, frag.x1, frag.top, frag.line
            found: _Block | None = None
            ambiguous = False
            for block in open_blocks:
                last = block.tail
                lx0, lx1 = last.x0, last.x1
                # Cheapest tests first: horizontal overlap, then not already continued on this line.
                if (lx1 if lx1 < fx1 else fx1) <= (lx0 if lx0 > fx0 else fx0) or last.line == fline:
                    continue
                gap = ftop - last.bottom
                h = last.height
                if gap >= factor * h or gap < -0.5 * h:
                    continue
                # Stay in the corridor between the previous line's neighbours (the column).
                if fx0 <= last.left_x1 or fx1 >= last.right_x0:
                    continue
                if horizontal_between is not None and horizontal_between(
                    (last.top + last.bottom) / 2,
                    (ftop + frag.bottom) / 2,
                    lx0 if lx0 > fx0 else fx0,
                    lx1 if lx1 < fx1 else fx1,
                ):
                    continue
                if found is not None:
                    ambiguous = True  # a wide line under several blocks
                    break
                found = block
            if found is None or ambiguous:
                block = _Block(frag)
                blocks.append(block)
                new.append(block)
            else:
                found.add(frag)
        open_blocks.extend(new)
    return blocks


def _is_complete(run: str) -> bool:
    """Is this run of digits a whole ID or mobile number already (so a line break after it is real)?"""
    n = len(run)
    return n >= 18 or n == 15 or (n == 11 and run[0] == "1" and run[1] in "3456789")


def _leading_numeric(text: str) -> str:
    i = 0
    while i < len(text) and text[i] in _NUMERIC:
        i += 1
    return text[:i]


def _is_id_number(value: str) -> bool:
    """18 characters with a valid GB 11643 (ISO 7064 MOD 11-2) check character."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == value[17].upper()


def _trailing_numeric(text: str) -> str:
    i = len(text)
    while i > 0 and text[i - 1] in _NUMERIC:
        i -= 1
    run = text[i:]
    return run if any(c in _DIGITS for c in run) else ""


def block_text(lines: Sequence[tuple[str, float]], right: float, height: float) -> str:
    """Join a block's lines; drop the break where a number was wrapped at the block's right edge.

    ``lines`` holds each line's text and right edge.
    """
    out: list[str] = []
    prev_text, prev_x1 = "", 0.0
    for i, (text, x1) in enumerate(lines):
        if i:
            run = _trailing_numeric(prev_text)
            wrapped = False
            if run and text[:1] in _NUMERIC and text[:1] not in "Xx" and prev_x1 >= right - _FULL_LINE * height:
                # An 11-digit first line may be a mobile or the start of an ID: the check character decides.
                wrapped = not _is_complete(run) or _is_id_number(run + _leading_numeric(text))
            out.append("" if wrapped else "\n")
        out.append(text)
        prev_text, prev_x1 = text, x1
    return "".join(out)


def _text(block: _Block) -> str:
    if len(block.parts) == 1:
        return block.parts[0].text
    return block_text([(p.text, p.x1) for p in block.parts], block.x1, block.parts[0].height)


def _header_text(block: _Block) -> str:
    out = ""
    for part in block.parts:
        t = part.text.strip()
        if out and t and (out[-1].isascii() and t[0].isascii()) and out[-1].isalnum() and t[0].isalnum():
            out += " "
        out += t
    return out


# --------------------------------------------------------------------------- rows, tables


def _rows(blocks: list[_Block]) -> list[list[_Block]]:
    blocks.sort(key=_TOP_X0)
    rows: list[list[_Block]] = []
    bottom = float("-inf")
    row: list[_Block] = []
    for b in blocks:
        if b.top >= bottom - 0.3 * b.parts[0].height:
            row = [b]
            rows.append(row)
            bottom = b.bottom
        else:
            row.append(b)
            if b.bottom > bottom:
                bottom = b.bottom
    for row in rows:
        if len(row) > 1:
            row.sort(key=_X0)
    return rows


def _looks_like_header(row: list[_Block]) -> bool:
    texts = [_header_text(b) for b in row]
    if sum(1 for t in texts if t) < 2:
        return False
    for t in texts:
        if _DIGIT_RUN.search(t) or len(t) > 40:
            return False
        if t and not any(c.isalpha() for c in t):
            return False
    return True


def _match_header(header: _Header, row: list[_Block]) -> bool:
    """Does ``row`` line up under ``header``'s columns (a table continued from the previous page)?"""
    return all(any(min(b.x1, x1) > max(b.x0, x0) for x0, x1, _ in header.columns) for b in row)


def layout(glyphs: Iterable[Glyph], rules: Rules | None = None, state: LayoutState | None = None,
           page: int | None = None) -> list[Segment]:
    """The text of page ``page`` as Segments of table cells and paragraphs, top to bottom.

    Table cells have ``table``/``row``/``column`` (1-based, per page) and maybe a ``header``;
    other text has ``line`` (1-based line number of its first line on the page).
    """
    glyph_list = [g for g in glyphs if g[4] and not g[4].isspace()]
    if not glyph_list:
        return []
    lines = [_fragments(line, i, rules) for i, line in enumerate(_lines(glyph_list))]
    return _segments(_rows(_stack(lines, rules)), state if state is not None else LayoutState(), page)


def _segments(rows: list[list[_Block]], state: LayoutState, page: int | None) -> list[Segment]:
    """The page's rows of blocks as Segments: tables found, cells numbered and given their header."""
    out: list[Segment] = []
    append = out.append
    table = 0
    in_table = False
    span = (0.0, 0.0)
    header: _Header | None = None
    header_here = False
    row_no = 0
    prev_bottom = 0.0
    for row in rows:
        first = row[0]
        top, bottom = first.top, first.bottom  # min() of the tops, max() of the bottoms
        for b in row:
            if b.top < top:
                top = b.top
            if b.bottom > bottom:
                bottom = b.bottom
        h = first.parts[0].height
        if len(row) >= 2:
            if not in_table or top - prev_bottom > 3 * h:
                in_table, table, row_no = True, table + 1, 0
                span = (row[0].x0, row[-1].x1)
                header, header_here = None, False
                if _looks_like_header(row):
                    header, header_here = _Header([(b.x0, b.x1, _header_text(b)) for b in row]), True
                    state.header = header
                elif state.header is not None and _match_header(state.header, row):
                    header = state.header
            span = (min(span[0], row[0].x0), max(span[1], row[-1].x1))
        elif in_table and (row[0].x1 - row[0].x0 < _TABLE_NARROW * (span[1] - span[0]) and top - prev_bottom < 2 * h):
            pass  # a row with one filled cell
        else:
            in_table = False
        prev_bottom = bottom
        if not in_table:
            for b in row:
                text = _text(b)
                state.prose_chars += len(text)
                if state.prose_chars > _PROSE_RESET:
                    state.header = None  # real prose after the table: no continuation
                # Location positionally: page, sheet, cell, line (keywords cost a third more)
                append(Segment(text, Location(page, None, None, b.parts[0].line + 1)))
            continue
        state.prose_chars = 0
        row_no += 1
        is_header_row = row_no == 1 and header_here
        for pos, b in enumerate(row):
            col, label = pos + 1, ""
            if header is not None and not is_header_row:
                best, best_ov, bx0, bx1 = -1, 0.0, b.x0, b.x1
                columns = header.columns
                centre = (bx0 + bx1) / 2
                if pos < len(columns) and columns[pos][0] <= centre <= columns[pos][1]:
                    best = pos  # the usual case: the cell sits under the header at the same position
                else:
                    for k, (x0, x1, _) in enumerate(columns):
                        ov = (x1 if x1 < bx1 else bx1) - (x0 if x0 > bx0 else bx0)
                        if ov > best_ov:
                            best, best_ov = k, ov
                if best >= 0:
                    col, label = best + 1, header.columns[best][2]
            if not label and pos:
                left = _header_text(row[pos - 1])
                if left.endswith((":", "：")):
                    label = left
            # page, sheet, cell, line, table, row, column
            append(Segment(b.parts[0].text if len(b.parts) == 1 else _text(b),
                           Location(page, None, None, None, table, row_no, col), label))
    return out
