"""Keep pdfium's substitute faces for non-embedded fonts from one PDF to the next.

A PDF that names a font without embedding it (reportlab's ``STSong-Light``, SimSun, SimHei,
FangSong in many government PDFs) is drawn with an installed font. On Linux the CJK ones are
font collections (Noto CJK ``.ttc``, 20–27 MB). pdfium 159.0.8149 does not find a collection in
its face cache again: every document that uses one reads the whole file (about 5 ms) and builds a
new FreeType face. A single font file is cached under its face name, weight and italic flag, for
as long as some open document still uses the face.

So the system font information pdfium asks is wrapped:

* a collection is handed over as a single font: the same bytes with the directory of its first
  face (the face pdfium picks from a collection it is given this way) copied to the start, so
  the glyphs, metrics and hence the extracted text and boxes are unchanged;
* when a page makes pdfium read a font file, the page is copied into a small document of its own
  (an *anchor*) that stays open, so the face outlives the document being read.

Everything else is passed to pdfium's default font information unchanged.
"""

from __future__ import annotations

import atexit
import ctypes
import struct
from typing import Any

import pypdfium2.raw as pdfium_c

_TTCF = 0x74746366  # "ttcf": the whole collection
_ANY = 0  # the whole font
# Anchors kept open at most (each a copy of one page); one per face in practice.
MAX_ANCHORS = 8

_Info = pdfium_c.FPDF_SYSFONTINFO
_FIELDS = dict(_Info._fields_)


class _State:
    """The installed wrapper: its struct, callbacks and counters (module-lifetime: pdfium keeps
    pointers to all of them)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner  # pdfium's default FPDF_SYSFONTINFO*, never released
        self.reads = 0  # font files handed to pdfium
        self.anchors: list[Any] = []
        self.directories: dict[int, bytes | None] = {}  # collection handle -> its first face's directory
        self.callbacks: list[Any] = []
        self.info: Any = None


_STATE: _State | None = None


def install() -> bool:
    """Install the wrapper once per process; False when pdfium has no system font information."""
    global _STATE
    if _STATE is not None:
        return True
    inner = pdfium_c.FPDF_GetDefaultSystemFontInfo()
    if not inner:
        return False
    state = _State(inner)
    info = _wrapper(state)
    _STATE = state
    pdfium_c.FPDF_SetSystemFontInfo(ctypes.pointer(info))
    # Registered after pypdfium2's own exit hook, so it runs first: no document outlives pdfium.
    atexit.register(_close_anchors, state)
    return True


def _close_anchors(state: _State) -> None:
    while state.anchors:
        pdfium_c.FPDF_CloseDocument(state.anchors.pop())


def reads() -> int:
    """How many font files pdfium has read through the wrapper so far (0 when not installed)."""
    return _STATE.reads if _STATE is not None else 0


def anchor(document: Any, index: int) -> None:
    """Keep the fonts of page ``index`` of ``document`` (a raw FPDF_DOCUMENT) loaded: copy the page
    into a document of its own and load it there while ``document`` still holds the faces.

    The copy is kept only if loading it read no font file, i.e. it holds exactly faces pdfium
    already had; at most :data:`MAX_ANCHORS` are kept.
    """
    state = _STATE
    if state is None or len(state.anchors) >= MAX_ANCHORS:
        return
    copy = pdfium_c.FPDF_CreateNewDocument()
    if not copy:
        return
    keep = False
    try:
        if pdfium_c.FPDF_ImportPagesByIndex(copy, document, (ctypes.c_int * 1)(index), 1, 0):
            before = state.reads
            page = pdfium_c.FPDF_LoadPage(copy, 0)
            if page:
                pdfium_c.FPDF_ClosePage(page)  # the document keeps the page's fonts
                keep = state.reads == before
    finally:
        if keep:
            state.anchors.append(copy)
        else:
            pdfium_c.FPDF_CloseDocument(copy)


def _wrapper(state: _State) -> Any:
    inner = state.inner
    base = inner.contents

    def enum_fonts(this: Any, mapper: Any) -> None:
        base.EnumFonts(inner, mapper)

    def map_font(this: Any, weight: int, italic: int, charset: int, pitch: int, family: Any, exact: Any) -> Any:
        return base.MapFont(inner, weight, italic, charset, pitch, family, exact)

    def get_font(this: Any, family: Any) -> Any:
        return base.GetFont(inner, family)

    def get_font_data(this: Any, font: Any, table: int, buffer: Any, size: int) -> int:
        try:
            if table in (_TTCF, _ANY):
                collection = base.GetFontData(inner, font, _TTCF, None, 0)
                if collection and _directory(state, font, collection) is not None:
                    if table == _TTCF:
                        return 0  # not a collection: pdfium asks for the single font
                    if buffer and size >= collection:
                        if base.GetFontData(inner, font, _TTCF, buffer, collection) != collection:
                            return 0
                        head = state.directories[font]
                        ctypes.memmove(buffer, head, len(head))  # type: ignore[arg-type]
                        state.reads += 1
                    return collection
            got = base.GetFontData(inner, font, table, buffer, size)
            if buffer and got and size >= got and table == _ANY:
                state.reads += 1
            return got
        except Exception:  # an exception must not unwind through pdfium
            return 0

    def get_face_name(this: Any, font: Any, buffer: Any, size: int) -> int:
        return base.GetFaceName(inner, font, buffer, size)

    def get_charset(this: Any, font: Any) -> int:
        return base.GetFontCharset(inner, font)

    def delete_font(this: Any, font: Any) -> None:
        base.DeleteFont(inner, font)

    callbacks = {
        "EnumFonts": _FIELDS["EnumFonts"](enum_fonts),
        "MapFont": _FIELDS["MapFont"](map_font),
        "GetFont": _FIELDS["GetFont"](get_font),
        "GetFontData": _FIELDS["GetFontData"](get_font_data),
        "GetFaceName": _FIELDS["GetFaceName"](get_face_name),
        "GetFontCharset": _FIELDS["GetFontCharset"](get_charset),
        "DeleteFont": _FIELDS["DeleteFont"](delete_font),
    }
    state.callbacks = list(callbacks.values())
    # No Release: the wrapper and pdfium's default information live as long as the process.
    state.info = _Info(version=1, Release=_FIELDS["Release"](), **callbacks)
    return state.info


def _directory(state: _State, font: int, size: int) -> bytes | None:
    """The table directory of the collection's first face, or None if the collection cannot be
    handed over as a single font (it is then passed on as a collection). Read once per font."""
    if font in state.directories:
        return state.directories[font]
    head: bytes | None = None
    # The default font information fills a buffer only if it holds the whole collection.
    whole = (ctypes.c_ubyte * size)()
    if state.inner.contents.GetFontData(state.inner, font, _TTCF, whole, size) == size:
        head = _first_face_directory(ctypes.string_at(whole, min(size, 1 << 16)))
    state.directories[font] = head
    return head


def _first_face_directory(data: bytes) -> bytes | None:
    """The sfnt directory of face 0 of a TrueType/OpenType collection, if it can be moved to the
    start without covering any table (table offsets in a collection count from its start)."""
    try:
        if data[:4] != b"ttcf":
            return None
        offset = struct.unpack_from(">I", data, 12)[0]
        tables = struct.unpack_from(">H", data, offset + 4)[0]
        length = 12 + 16 * tables
        if not tables or offset + length > len(data):
            return None
        first = min(struct.unpack_from(">I", data, offset + 12 + 16 * i + 8)[0] for i in range(tables))
        if first < length:
            return None
        return data[offset : offset + length]
    except struct.error:
        return None
