"""PDF → text Segments, page by page, with table cells rebuilt from character positions.

pypdfium2 (Apache-2.0/BSD) gives each character's box; :mod:`scanner.extract._layout` turns the
boxes and the page's ruling lines into table cells and paragraphs, so a number wrapped inside a
narrow table cell comes out whole. One page is held at a time and every pdfium object is closed
before the next page is read.
"""

from __future__ import annotations

import codecs
import ctypes
import io
import re
import struct
from collections.abc import Callable, Iterator
from types import ModuleType

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from scanner.config import Limits
from scanner.errors import ExtractError, NeedsOCR, Skip
from scanner.extract import _pdffonts, ocr
from scanner.extract._layout import Glyph, LayoutState, Rules, layout
from scanner.model import Document, Segment

OCR_REASON = "图片型PDF，需要文字识别（OCR）才能检查"
OCR_EMPTY_REASON = "图片型PDF，文字识别未识别出文字"
NO_TEXT_REASON = "PDF中没有文字（空白页或矢量图形）"
# Only this many path segments per page are examined for ruling lines (maps, charts: give up).
_MAX_PATH_SEGMENTS = 20_000
# A path thinner than this (points) and longer than _RULE_MIN_LEN is a ruling line.
_RULE_MAX_THICK = 4.0
_RULE_MIN_LEN = 6.0
# A page without text but with this many vector paths is probably outlined text.
_OUTLINE_PATHS = 50
# A page with fewer words than this over an image covering half the page is a scan with a stamp,
# page number or watermark as its only text: it is OCR'd as well.
_FEW_WORDS = 20
_SPACES = frozenset(" \u00a0\u3000\t")
# A run of characters between pdfium's spaces and line breaks.
_RUN = re.compile(r"[^\s\x00-\x1f\ufffe\uffff]+")

Box = tuple[float, float, float, float]  # left, bottom, right, top in PDF user space
ToLayout = Callable[[float, float, float, float], tuple[float, float, float, float]]


def extract(doc: Document, limits: Limits) -> Iterator[Segment]:
    """Yield the text of ``doc`` (a PDF) as table-cell and paragraph Segments, page by page.

    Pages without a usable text layer (listed in ``doc.meta["ocr_pages"]``) are rendered and
    OCR'd when the OCR extra is installed and the run's page budget allows; those left unread are
    listed in ``doc.meta["ocr_unread_pages"]``. A document where no page yields text raises
    :class:`Skip` saying why.
    """
    _pdffonts.install()
    pdf = _open(doc)
    if pdf is None:
        return
    try:
        truncated = not _has_eof_marker(doc)
        state = LayoutState()
        ocr_pages: list[int] = []
        unread: list[int] = []
        incomplete: list[int] = []
        ocr_ok: bool | None = None  # is the OCR extra installed? (looked up at the first scanned page)
        ocr_text = False
        text_pages = 0
        chars = 0
        count = len(pdf)
        buffer = _TextBuffer()
        for index in range(count):
            glyphs, rules, scanned = _read_page(pdf, index, buffer)
            if scanned:
                if limits.ocr_elsewhere and not text_pages:
                    raise NeedsOCR(f"第{index + 1}页没有文字层")
                ocr_pages.append(index + 1)
                doc.meta["ocr_pages"] = ocr_pages
                if ocr_ok is None:
                    ocr_ok = ocr.available()
                if ocr_ok and ocr.budget(limits).take():
                    found, complete = ocr.read_pdf_page(pdf, index, limits)
                    ocr_text = ocr_text or bool(found)
                    if not complete:
                        incomplete.append(index + 1)
                    yield from found
                else:
                    unread.append(index + 1)
                    doc.meta["ocr_unread_pages"] = unread
            if not glyphs:
                continue
            text_pages += 1
            page_no = index + 1
            for segment in layout(glyphs, rules, state, page_no):
                chars += len(segment.text)
                if chars > limits.max_text_chars:
                    raise ExtractError(f"PDF文字超过单个文件上限（{limits.max_text_chars}字），已检查前{index}页")
                yield segment
        if count and not text_pages and not ocr_text:
            if not ocr_pages:
                raise Skip(NO_TEXT_REASON)
            if not ocr_ok:
                raise Skip(ocr.MISSING_REASON)
            if unread == ocr_pages:
                raise Skip(f"{OCR_REASON}（文字识别页数已达本次检查上限{limits.ocr_page_budget}页）")
            if not unread and not incomplete:
                raise Skip(OCR_EMPTY_REASON)
        if unread and ocr_ok:
            raise ExtractError(f"文字识别页数已达本次检查上限（{limits.ocr_page_budget}页），{_pages(unread)}未识别")
        if incomplete:
            raise ExtractError(
                f"{_pages(incomplete)}文字识别超时（每页上限{limits.ocr_seconds_per_page:.0f}秒），未识别完")
        if truncated:
            raise ExtractError(f"PDF文件不完整（可能下载中断），已检查能读出的{count}页")
    finally:
        pdf.close()


def _pages(numbers: list[int]) -> str:
    return "第" + "、".join(map(str, numbers[:10])) + ("等页" if len(numbers) > 10 else "页")


def _open(doc: Document) -> pdfium.PdfDocument | None:
    """Open the PDF; None for a document without pages (pdfium refuses those, reporting success)."""
    try:
        return pdfium.PdfDocument(doc.path if doc.path is not None else (doc.data or b""))
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        # pdfium refuses a page-less file without setting an error, so the code may be stale
        # (left by an earlier failure in this process): look at the page tree itself.
        if code == pdfium_c.FPDF_ERR_SUCCESS or _no_pages(doc):
            return None
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            raise ExtractError("PDF文件已加密，无法读取") from None
        if code == pdfium_c.FPDF_ERR_SECURITY:
            raise ExtractError("PDF文件使用了不支持的加密方式，无法读取") from None
        if code == pdfium_c.FPDF_ERR_FILE:
            raise ExtractError("PDF文件无法打开") from None
        raise ExtractError("PDF文件已损坏或不是有效的PDF") from None


_EMPTY_PAGE_TREE = re.compile(rb"/Type\s*/Pages\b[^>]*/Count\s+0\b|/Count\s+0\b[^>]*/Type\s*/Pages\b")


def _no_pages(doc: Document) -> bool:
    """Whether the file's page tree says it has no pages (read only for small files)."""
    return doc.size < (1 << 16) and bool(_EMPTY_PAGE_TREE.search(doc.read(1 << 16)))


def _has_eof_marker(doc: Document) -> bool:
    """A complete PDF ends with ``%%EOF`` (some producers append a little junk after it)."""
    with doc.open() as fh:
        fh.seek(0, io.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 4096))
        return b"%%EOF" in fh.read()


def _read_page(
    pdf: pdfium.PdfDocument, index: int, buffer: _TextBuffer | None = None
) -> tuple[list[Glyph], Rules | None, bool]:
    """Glyphs and ruling lines of one page, and whether it needs OCR: no text but something shown
    (a scanned image, outlined text), or a few words over a page-sized image.

    The page and its text page are used through bare pdfium handles, closed here: pypdfium2's
    page objects (finalizers, parent links) cost about as much Python time as reading the page.
    """
    reads = _pdffonts.reads()
    page = _LOAD_PAGE(_pointer(pdf.raw), index)
    if not page:
        raise ExtractError(f"PDF第{index + 1}页无法读取，文件可能已损坏")
    if _pdffonts.reads() != reads and not _has_any_image(page):
        # pdfium read a substitute font file: keep its face for later PDFs (with a copy of this
        # page, held for the life of the process: never one that carries a picture)
        _pdffonts.anchor(pdf.raw, index)
    try:
        to_layout = _orientation(_ROTATION(page))
        textpage = _LOAD_TEXT_PAGE(page)
        if not textpage:
            raise ExtractError(f"PDF第{index + 1}页无法读取，文件可能已损坏")
        try:
            glyphs = _glyphs(textpage, to_layout, buffer or _TextBuffer())
        finally:
            _CLOSE_TEXT_PAGE(textpage)
        if not glyphs:
            return [], None, _looks_scanned(page)
        scanned = len(glyphs) < _FEW_WORDS and _has_page_image(page)
        return glyphs, _rules(page, to_layout), scanned
    finally:
        _CLOSE_PAGE(page)


def _orientation(rotation: int) -> ToLayout:
    """Map a user-space box to (x0, x1, top, bottom) as the page is displayed (y downwards).

    ``rotation`` is pdfium's page rotation: 0–3 quarter turns clockwise.
    """
    if rotation == 1:
        return lambda left, bottom, right, top: (bottom, top, left, right)
    if rotation == 2:
        return lambda left, bottom, right, top: (-right, -left, bottom, top)
    if rotation == 3:
        return lambda left, bottom, right, top: (-top, -bottom, -right, -left)
    return _UPRIGHT


def _UPRIGHT(left: float, bottom: float, right: float, top: float) -> tuple[float, float, float, float]:  # noqa: N802
    return left, right, -top, -bottom


def _glyphs(textpage: _Handle, to_layout: ToLayout, buffer: _TextBuffer) -> list[Glyph]:
    """The page's words as glyphs: runs of characters between pdfium's spaces and line breaks.

    pdfium puts a (generated) space or line break wherever characters are not adjacent, so a run
    sits on one line without gaps and two character boxes (first, last) place it. That is 5–10×
    fewer calls than one box per character; a run whose ends do not look adjacent (wider than
    its characters could be, or on two lines) is placed character by character instead.
    """
    count = _COUNT_CHARS(textpage)
    if count <= 0:
        return []
    text = _page_text(textpage, count, buffer)
    if len(text) != count:  # pdfium inserted or dropped characters: read them one by one
        text = "".join(chr(_UNICODE(textpage, i) or 32) for i in range(count))
    if _compiled is not None and to_layout is _UPRIGHT:
        return _compiled.glyphs(_address(textpage), text)  # the loop below, compiled
    rect = pdfium_c.FS_RECTF()
    out = ctypes.c_void_p(ctypes.addressof(rect))
    unpack = _RECT.unpack_from
    loose_box = _LOOSE_CHAR_BOX
    glyphs: list[Glyph] = []
    append = glyphs.append
    upright = to_layout is _UPRIGHT
    for match in _RUN.finditer(text):
        start, end = match.span()
        space = start > 0 and text[start - 1] in _SPACES
        if not loose_box(textpage, start, out):
            continue
        left, top, right, bottom = unpack(rect)
        if end - start > 1:
            if not loose_box(textpage, end - 1, out):
                continue
            l_left, l_top, l_right, l_bottom = unpack(rect)
            h = top - bottom
            if l_top - l_bottom > h:
                h = l_top - l_bottom
            width = l_right - left
            if width > (end - start) * 1.25 * h + 1 or width < 0 or l_bottom >= top or l_top <= bottom:
                _each_char(textpage, rect, out, text, start, end, space, to_layout, append)
                continue
            right = l_right
            if l_bottom < bottom:
                bottom = l_bottom
            if l_top > top:
                top = l_top
        if top <= bottom:
            continue
        if upright:  # the common case, inlined
            append((left, right, -top, -bottom, match.group(), space))  # type: ignore[arg-type]
        else:
            append((*to_layout(left, bottom, right, top), match.group(), space))  # type: ignore[arg-type]
    return glyphs


class _TextBuffer:
    """Room for a page's text (UTF-16), kept from page to page: a ctypes array of a new size is
    a new type, which costs more than reading the text."""

    __slots__ = ("array", "size")

    def __init__(self) -> None:
        self.array: ctypes.Array[ctypes.c_ushort] | None = None
        self.size = 0

    def take(self, size: int) -> ctypes.Array[ctypes.c_ushort]:
        """An array of at least ``size`` UTF-16 units (its contents are left over)."""
        if self.array is None or size > self.size:
            self.size = max(size, 2 * self.size, 4096)
            self.array = (ctypes.c_ushort * self.size)()
        return self.array


def _page_text(textpage: _Handle, count: int, buffer: _TextBuffer) -> str:
    """The text of all ``count`` characters, as pypdfium2's ``PdfTextPage.get_text_range()`` reads it.

    Characters pdfium leaves out of the text at either end are skipped first: asked for them,
    pdfium reads past the range (crbug.com/pdfium/2079).
    """
    first, last = 0, count - 1
    while first <= last and _TEXT_INDEX(textpage, first) == -1:
        first += 1
    if first > last:
        return ""
    text_first = _TEXT_INDEX(textpage, first)
    while (text_last := _TEXT_INDEX(textpage, last)) == -1:
        last -= 1
    size = text_last + 2 - text_first  # with the NUL terminator
    array = buffer.take(size)
    written = _GET_TEXT(textpage, first, last + 1 - first, array)
    if written < 1:  # nothing written: get_text_range() returns its (zeroed) buffer then
        return "\x00" * max(0, size + written - 1)
    return codecs.decode(memoryview(array)[: written - 1], "utf-16-le", "ignore")


def _each_char(
    textpage: _Handle,
    rect: ctypes.Structure,
    out: ctypes.c_void_p,
    text: str,
    start: int,
    end: int,
    space: bool,
    to_layout: ToLayout,
    append: Callable,
) -> None:
    for i in range(start, end):
        if _LOOSE_CHAR_BOX(textpage, i, out):
            left, top, right, bottom = _RECT.unpack_from(rect)
            if top > bottom:
                append((*to_layout(left, bottom, right, top), text[i], space))
                space = False


def _address(handle: object) -> int:
    return ctypes.cast(handle, ctypes.c_void_p).value or 0


def _pointer(handle: object) -> ctypes.c_void_p:
    return ctypes.c_void_p(_address(handle))


class _Handle(ctypes.c_void_p):
    """A pdfium handle returned as it is: ctypes converts a plain ``c_void_p`` result to an int,
    which would have to be wrapped again to be passed on."""


def _bare(fn: object, restype: object = ctypes.c_int, *, slow: bool = False) -> Callable:
    """The same pdfium function without a prototype (argument types are taken from the call).

    pypdfium2's bindings check and convert every argument (about 1.2 µs a call); a bare call
    costs about 0.3 µs, which matters in loops over every word and object of every page.
    Pointer arguments must be ctypes pointers or arrays: a Python int would be passed as a C
    int, which is right for pdfium's ``int`` parameters (indexes, counts). A quick call keeps
    the GIL (releasing it costs more than the call); a ``slow`` one (loading a page) lets other
    threads run meanwhile.
    """
    prototype = ctypes.CFUNCTYPE if slow else ctypes.PYFUNCTYPE
    return prototype(restype)(_address(fn))  # type: ignore[arg-type]


_LOAD_PAGE = _bare(pdfium_c.FPDF_LoadPage, _Handle, slow=True)  # (document, index) -> page or NULL
_CLOSE_PAGE = _bare(pdfium_c.FPDF_ClosePage, None, slow=True)  # (page)
_ROTATION = _bare(pdfium_c.FPDFPage_GetRotation)  # (page) -> quarter turns, -1 on error
_PAGE_WIDTH = _bare(pdfium_c.FPDF_GetPageWidthF, ctypes.c_float)  # (page) -> width
_PAGE_HEIGHT = _bare(pdfium_c.FPDF_GetPageHeightF, ctypes.c_float)  # (page) -> height
_LOAD_TEXT_PAGE = _bare(pdfium_c.FPDFText_LoadPage, _Handle, slow=True)  # (page) -> text page or NULL
_CLOSE_TEXT_PAGE = _bare(pdfium_c.FPDFText_ClosePage, None, slow=True)  # (text page)
_COUNT_CHARS = _bare(pdfium_c.FPDFText_CountChars)  # (text page) -> count, -1 on error
_TEXT_INDEX = _bare(pdfium_c.FPDFText_GetTextIndexFromCharIndex)  # (text page, char index) -> index or -1
_GET_TEXT = _bare(pdfium_c.FPDFText_GetText)  # (text page, start, count, unsigned short*) -> written
_UNICODE = _bare(pdfium_c.FPDFText_GetUnicode, ctypes.c_uint)  # (text page, index) -> code point
_LOOSE_CHAR_BOX = _bare(pdfium_c.FPDFText_GetLooseCharBox)  # (text page, index, FS_RECTF*) -> ok
_COUNT_OBJECTS = _bare(pdfium_c.FPDFPage_CountObjects)  # (page) -> count
_GET_OBJECT = _bare(pdfium_c.FPDFPage_GetObject, _Handle)  # (page, index) -> object or NULL
_OBJECT_TYPE = _bare(pdfium_c.FPDFPageObj_GetType)  # (object) -> FPDF_PAGEOBJ_*, UNKNOWN for NULL
_OBJECT_BOUNDS = _bare(pdfium_c.FPDFPageObj_GetBounds)  # (object, float* left, bottom, right, top) -> ok
_RECT = struct.Struct("4f")  # FS_RECTF: left, top, right, bottom


def _load_compiled() -> ModuleType | None:
    """The compiled word and object loops (:mod:`scanner.extract._pdfpage`), bound to the pdfium
    pypdfium2 loaded; None where the extension was not built: the Python loops here then run."""
    try:
        from scanner.extract import _pdfpage
    except ImportError:
        return None
    names = ("FPDFText_GetLooseCharBox", "FPDFPage_CountObjects", "FPDFPage_GetObject", "FPDFPageObj_GetType",
             "FPDFPageObj_GetBounds", "FPDFPath_CountSegments")
    _pdfpage.bind({name: _address(getattr(pdfium_c, name)) for name in names}, pdfium_c.FPDF_PAGEOBJ_PATH)
    return _pdfpage


_compiled = _load_compiled()


class _Floats:
    """Four floats filled by :data:`_OBJECT_BOUNDS` (left, bottom, right, top), and pointers to them."""

    __slots__ = ("buffer", "pointers")

    def __init__(self) -> None:
        self.buffer = (ctypes.c_float * 4)()
        base, size = ctypes.addressof(self.buffer), ctypes.sizeof(ctypes.c_float)
        self.pointers = tuple(ctypes.c_void_p(base + k * size) for k in range(4))


def _looks_scanned(page: _Handle) -> bool:
    """Does a page without text show something (a scanned image, outlined text)?"""
    paths = 0
    for i in range(_COUNT_OBJECTS(page)):
        kind = _OBJECT_TYPE(_GET_OBJECT(page, i))
        if kind in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM, pdfium_c.FPDF_PAGEOBJ_SHADING):
            return True
        if kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            paths += 1
            if paths >= _OUTLINE_PATHS:
                return True
    return False


def _has_any_image(page: _Handle) -> bool:
    return any(_OBJECT_TYPE(_GET_OBJECT(page, i)) == pdfium_c.FPDF_PAGEOBJ_IMAGE for i in range(_COUNT_OBJECTS(page)))


def _has_page_image(page: _Handle) -> bool:
    """Does an image cover at least half of the page?"""
    width, height = _PAGE_WIDTH(page), _PAGE_HEIGHT(page)
    floats = _Floats()
    for i in range(_COUNT_OBJECTS(page)):
        obj = _GET_OBJECT(page, i)
        if _OBJECT_TYPE(obj) != pdfium_c.FPDF_PAGEOBJ_IMAGE:
            continue
        if _OBJECT_BOUNDS(obj, *floats.pointers):
            left, bottom, right, top = floats.buffer
            if (right - left) * (top - bottom) >= 0.5 * width * height:
                return True
    return False


def _rules(page: _Handle, to_layout: ToLayout) -> Rules | None:
    """Horizontal and vertical ruling lines drawn as path objects (table borders)."""
    horizontal: list[tuple[float, float, float]]
    vertical: list[tuple[float, float, float]]
    upright = to_layout is _UPRIGHT
    if _compiled is not None and upright:  # the loop below, compiled; paths of several segments come back
        horizontal, vertical, paths = _compiled.rules(_address(page), _RULE_MAX_THICK, _RULE_MIN_LEN,
                                                      _MAX_PATH_SEGMENTS)
        for address in paths:
            for box in _path_edges(ctypes.cast(address, pdfium_c.FPDF_PAGEOBJECT)):
                _add_rule(horizontal, vertical, _UPRIGHT(*box))
        return Rules(horizontal, vertical) if horizontal or vertical else None
    horizontal = []
    vertical = []
    floats = _Floats()
    p_left, p_bottom, p_right, p_top = floats.pointers
    buffer = floats.buffer
    unpack = struct.Struct("4f").unpack_from
    get_object, object_type, object_bounds = _GET_OBJECT, _OBJECT_TYPE, _OBJECT_BOUNDS
    path_type = pdfium_c.FPDF_PAGEOBJ_PATH
    budget = _MAX_PATH_SEGMENTS
    for i in range(_COUNT_OBJECTS(page)):
        obj = get_object(page, i)
        if object_type(obj) != path_type or not object_bounds(obj, p_left, p_bottom, p_right, p_top):
            continue
        left, bottom, right, top = unpack(buffer)
        width, height = right - left, top - bottom
        # min() and max() spelt out: this loop runs for every path of every page.
        if (height if height < width else width) <= _RULE_MAX_THICK:
            if (height if height > width else width) >= _RULE_MIN_LEN:
                if upright:  # inlined: x0, x1, y0, y1 = left, right, -top, -bottom
                    if right - left >= top - bottom:
                        horizontal.append(((-top + -bottom) / 2, left, right))
                    else:
                        vertical.append(((left + right) / 2, -top, -bottom))
                else:
                    _add_rule(horizontal, vertical, to_layout(left, bottom, right, top))
            continue
        path = ctypes.cast(obj, pdfium_c.FPDF_PAGEOBJECT)
        budget -= pdfium_c.FPDFPath_CountSegments(path)
        if budget < 0:
            break
        for box in _path_edges(path):
            _add_rule(horizontal, vertical, to_layout(*box))
    if not horizontal and not vertical:
        return None
    return Rules(horizontal, vertical)


def _add_rule(
    horizontal: list[tuple[float, float, float]],
    vertical: list[tuple[float, float, float]],
    box: tuple[float, float, float, float],
) -> None:
    x0, x1, y0, y1 = box
    if x1 - x0 >= y1 - y0:
        horizontal.append(((y0 + y1) / 2, x0, x1))
    else:
        vertical.append(((x0 + x1) / 2, y0, y1))


def _path_edges(obj: ctypes.c_void_p) -> list[Box]:
    """Axis-aligned straight edges of a path (rectangles, grid lines) in user space."""
    matrix = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(obj, ctypes.byref(matrix)):
        return []
    a, b, c, d, e, f = matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f
    x, y = ctypes.c_float(), ctypes.c_float()
    xr, yr = ctypes.byref(x), ctypes.byref(y)
    edges: list[Box] = []
    start: tuple[float, float] | None = None
    prev: tuple[float, float] | None = None
    for i in range(pdfium_c.FPDFPath_CountSegments(obj)):
        seg = pdfium_c.FPDFPath_GetPathSegment(obj, i)
        if not pdfium_c.FPDFPathSegment_GetPoint(seg, xr, yr):
            continue
        point = (a * x.value + c * y.value + e, b * x.value + d * y.value + f)
        kind = pdfium_c.FPDFPathSegment_GetType(seg)
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO:
            start = prev = point
            continue
        if kind == pdfium_c.FPDF_SEGMENT_LINETO and prev is not None:
            _add_edge(edges, prev, point)
        prev = point
        if pdfium_c.FPDFPathSegment_GetClose(seg) and start is not None:
            _add_edge(edges, point, start)
            prev = start
    return edges


def _add_edge(edges: list[Box], p: tuple[float, float], q: tuple[float, float]) -> None:
    dx, dy = abs(p[0] - q[0]), abs(p[1] - q[1])
    if (dy < 1.0 and dx >= _RULE_MIN_LEN) or (dx < 1.0 and dy >= _RULE_MIN_LEN):
        edges.append((min(p[0], q[0]), min(p[1], q[1]), max(p[0], q[0]), max(p[1], q[1])))
