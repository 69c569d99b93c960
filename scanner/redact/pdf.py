"""PDF: flattened redaction. Pages holding a value are rendered to an image with the policy's
characters blacked out and replace the original page; no text of such a page survives.

Removing single characters from a PDF's content streams reliably (font subsets, kerning arrays,
form XObjects, Type 3 fonts) needs a content-stream editor that no permissively licensed Python
library offers; pdfium's object model can be regenerated but loses content it does not model.
So a page with a value is flattened (status ``flattened``). Pages without values are copied as
they are, text included.
"""

from __future__ import annotations

import ctypes
import io
from collections.abc import Sequence
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import ImageDraw

from scanner.detect.engine import Detector
from scanner.detect.rules import Rule
from scanner.model import Location, Segment
from scanner.redact._core import _relocate, mask_positions

#: Resolution of flattened pages. 200 dpi keeps small print legible at a moderate size.
DPI = 200
JPEG_QUALITY = 85
_PAD = 0.6  # points around each blacked-out character box


class Unlocatable(Exception):
    """A value found in the text could not be placed on its page."""


@dataclass(slots=True)
class Hit:
    page: int  # 1-based
    raw: str
    rule: Rule
    ocr: bool = False  # read by OCR from a scanned page: no text layer to place it with


def hits(detector: Detector, segments: Sequence[Segment], source: str) -> tuple[list[Hit], list[dict]]:
    """Findings in the extractor's segments of a PDF: the raw values per page, and masked entries."""
    proxies = [Segment(s.text, Location(part=str(i)), s.header) for i, s in enumerate(segments)]
    out: list[Hit] = []
    masked: list[dict] = []
    for f in detector.detect_many(proxies, source):
        seg = segments[int(f.location["part"])]
        start, end = f.location["start"], f.location["end"]
        out.append(Hit(seg.location.page or 1, seg.text[start:end], detector.rules[f.rule], seg.ocr))
        loc = _relocate(seg, start, end)
        masked.append({"fingerprint": f.fingerprint, "entity": f.entity, "rule": f.rule, "location": loc})
    return out, masked


def _locate(chars: list[tuple[str, int]], value: list[str]) -> list[list[int]]:
    """Char indexes of every placement of ``value`` (non-space characters) in ``chars``.

    A value wrapped inside a narrow table cell is not contiguous in the page's text order (the
    neighbouring cells' lines come between its pieces), so pieces of 3+ characters are matched
    in order when the whole value is not found.
    """
    text = [c for c, _ in chars]
    n, m = len(text), len(value)
    found = [[chars[i + k][1] for k in range(m)] for i in range(n - m + 1) if text[i:i + m] == value]
    if found:
        return found
    joined = "".join(text)
    pos, rest, indexes = 0, "".join(value), []
    while rest:
        for size in range(len(rest), min(3, len(rest)) - 1, -1):
            at = joined.find(rest[:size], pos)
            if at >= 0:
                indexes.extend(chars[at + k][1] for k in range(size))
                pos, rest = at + size, rest[size:]
                break
        else:
            return []
    return [indexes]


def redact_pdf(doc_bytes_or_path: object, page_hits: dict[int, list[Hit]], out: io.BufferedIOBase) -> int:
    """Write the PDF with each page in ``page_hits`` flattened and its values blacked out.

    Returns the number of pages flattened. Raises :class:`Unlocatable` when a value cannot be
    placed on its page (then nothing is written).
    """
    src = pdfium.PdfDocument(doc_bytes_or_path)
    new = pdfium.PdfDocument.new()
    scale = DPI / 72
    try:
        for index in range(len(src)):
            if index + 1 not in page_hits:
                new.import_pages(src, [index])
                continue
            page = src[index]
            try:
                boxes = _boxes(page, page_hits[index + 1])
                image = page.render(scale=scale, draw_annots=True, may_draw_forms=True).to_pil().convert("RGB")
                width, height = image.size
                draw = ImageDraw.Draw(image)
                for left, bottom, right, top in boxes:
                    x0, y0 = _to_device(page, width, height, left - _PAD, top + _PAD)
                    x1, y1 = _to_device(page, width, height, right + _PAD, bottom - _PAD)
                    draw.rectangle((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), fill=(0, 0, 0))
            finally:
                page.close()
            buf = io.BytesIO()
            image.save(buf, format="JPEG", quality=JPEG_QUALITY)
            buf.seek(0)
            w_pt, h_pt = width / scale, height / scale
            new_page = new.new_page(w_pt, h_pt)
            obj = pdfium.PdfImage.new(new)
            obj.load_jpeg(buf, inline=False, autoclose=True)
            obj.set_matrix(pdfium.PdfMatrix().scale(w_pt, h_pt))
            new_page.insert_obj(obj)
            new_page.gen_content()
            new_page.close()
        new.save(out)
        return len(page_hits)
    finally:
        new.close()
        src.close()


def _boxes(page: pdfium.PdfPage, hits_: list[Hit]) -> list[tuple[float, float, float, float]]:
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count else ""
        if len(text) != count:
            text = "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i) or 32) for i in range(count))
        chars = [(c, i) for i, c in enumerate(text) if not c.isspace() and c not in "\x00\ufffe\uffff"]
        boxes = []
        for hit in hits_:
            keep = [i for i, c in enumerate(hit.raw) if not c.isspace()]
            value = [hit.raw[i] for i in keep]
            placements = _locate(chars, value)
            if not placements:
                raise Unlocatable(hit.page)
            wanted = {keep.index(i) for i in mask_positions(hit.rule, hit.raw) if i in keep}
            for placement in placements:
                for k in sorted(wanted):
                    boxes.append(textpage.get_charbox(placement[k], loose=True))
        return boxes
    finally:
        textpage.close()


def _to_device(page: pdfium.PdfPage, width: int, height: int, x: float, y: float) -> tuple[int, int]:
    dx, dy = ctypes.c_int(), ctypes.c_int()
    pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, width, height, 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
    return dx.value, dy.value
