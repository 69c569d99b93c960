"""OCR: page images → one Segment per text line, with its box, for scanned PDFs and pictures.

rapidocr (Apache-2.0) runs PP-OCR ONNX models that ship inside its wheel on onnxruntime, so it
works offline. It is an optional extra (``pip install leakscan[ocr]``): without it, every caller
raises :class:`~scanner.errors.Skip` with :data:`MISSING_REASON`, never an empty result.

Around the engine this module does three things the detector cannot do afterwards:

* lines: boxes on one baseline are joined into one line Segment (bbox = their union); a number
  the detector split over two boxes is glued back when the pieces add up to an ID or a mobile;
* digit repair: in digit-like runs of 11, 15 or 18 characters, letters OCR confuses with digits
  (O→0, l→1, Z→2, S→5, B→8, × → X in the check position) are replaced only when the result is
  then a valid ID (check character, real date) or a well-formed mobile;
* limits: a time limit per page (recognition stops between batches of boxes), a page budget
  per run (:class:`PageBudget`, shareable across processes) and one engine per process.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stdnum.iso7064 import mod_11_2

from scanner.config import Limits
from scanner.errors import Skip
from scanner.model import Location, Segment

if TYPE_CHECKING:
    import numpy as np

MISSING_REASON = "未安装 OCR 组件（pip install leakscan[ocr]）"
#: Kinds (from :func:`scanner.extract.sniff.sniff`) that are pictures, read only by OCR.
IMAGE_KINDS: frozenset[str] = frozenset({"png", "jpeg", "gif", "bmp", "tiff", "webp"})

# Recognition takes this many text boxes at a time (a look at the page's deadline before each).
_REC_CHUNK = 4
# Detection input: the longer side is scaled to this (1280 finds 9–10 pt text at 150 dpi as well
# as the page's full size does, at half the detection time).
_DET_SIDE = 1280
# Narrowest input to recognition (the model's height: a box is never padded wider than itself).
_REC_MIN_WIDTH = 48
# Lines recognised with less confidence than this are dropped (rapidocr's own default).
_MIN_SCORE = 0.5
_WORD = re.compile(r"\w")


# -- engine ----------------------------------------------------------------------------------------
class _Engine:
    """The OCR models, loaded on first use in each process (onnxruntime sessions do not survive a
    fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int] = (-1, -1)
        self._models: _Models | None = None

    def get(self, limits: Limits) -> _Models:
        key = (os.getpid(), _threads(limits))
        models = self._models
        if models is not None and self._key == key:
            return models
        with self._lock:
            if self._models is None or self._key != key:
                self._models = _Models(key[1])
                self._key = key
            return self._models


@dataclass(slots=True)
class _Models:
    """Detection runs one page on all the worker's threads (one large input: onnxruntime splits
    it well); recognition runs one line at a time on one thread each, ``threads`` lines at once
    (small inputs: one thread per line costs less CPU than a batch split across threads, and
    batching lines pads them to the widest)."""

    threads: int
    det: Any = None
    rec: Any = None
    pool: ThreadPoolExecutor | None = None

    def __post_init__(self) -> None:
        self.det = _build(self.threads)
        self.rec = _build(1)
        self.pool = ThreadPoolExecutor(self.threads, "ocr-rec") if self.threads > 1 else None


_ENGINE = _Engine()


def _threads(limits: Limits) -> int:
    if limits.ocr_threads > 0:
        return limits.ocr_threads
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _build(threads: int) -> Any:
    try:
        import onnxruntime  # noqa: F401  (rapidocr imports it lazily; fail here, not mid-page)
        from rapidocr import RapidOCR
    except ImportError:
        raise Skip(MISSING_REASON) from None
    params = {
        "Global.log_level": "error",
        "Global.use_cls": False,  # pages are rendered upright; the classifier costs ~5% per page
        "Global.max_side_len": 100_000,  # callers scale pictures themselves (Limits.ocr_max_side)
        "Global.text_score": _MIN_SCORE,
        "Det.limit_type": "max",
        "Det.limit_side_len": _DET_SIDE,
        "Rec.rec_batch_num": 1,
        # No padding of short lines to 320 px (rapidocr's default width): a table of short cells
        # costs ~40% less to read, and reads the same.
        "Rec.rec_img_shape": [3, 48, _REC_MIN_WIDTH],
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
    }
    return RapidOCR(params=params)  # models load lazily: each instance loads only what it runs


def available() -> bool:
    """Is the OCR extra installed? (Imports it: call only when a page needs OCR.)"""
    try:
        import onnxruntime  # noqa: F401
        import rapidocr  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    """Raise :class:`Skip` with :data:`MISSING_REASON` when the OCR extra is not installed."""
    if not available():
        raise Skip(MISSING_REASON)


# -- page budget -----------------------------------------------------------------------------------
class PageBudget:
    """How many pages OCR may still read in this run.

    ``shared`` may be a ``multiprocessing.Value("q", 0)`` (anything with ``get_lock()`` and
    ``value``) created by the pipeline and handed to each worker process, so that they draw on one budget.
    """

    def __init__(self, pages: int, shared: Any = None) -> None:
        self.pages = pages
        self._shared = shared
        self._used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Use one page of the budget; False when it is spent."""
        if self._shared is not None:
            with self._shared.get_lock():
                if self._shared.value >= self.pages:
                    return False
                self._shared.value += 1
                return True
        with self._lock:
            if self._used >= self.pages:
                return False
            self._used += 1
            return True


_budget: PageBudget | None = None


def set_budget(budget: PageBudget | None) -> None:
    """Install the run's page budget (None: a fresh one from the next caller's limits)."""
    global _budget
    _budget = budget


def budget(limits: Limits) -> PageBudget:
    """The run's page budget (created from ``limits.ocr_page_budget`` on first use)."""
    global _budget
    if _budget is None:
        _budget = PageBudget(limits.ocr_page_budget)
    return _budget


# -- reading a page --------------------------------------------------------------------------------
Box = tuple[float, float, float, float]  # x0, y0, x1, y1; y downwards


@dataclass(slots=True)
class Line:
    """One text line on a page image: its text and box (pixels)."""

    text: str
    box: Box


@dataclass(slots=True)
class PageText:
    """What OCR read on one page image; ``complete`` is False when the time limit cut it short."""

    lines: list[Line]
    complete: bool


def read_image(image: np.ndarray, limits: Limits) -> PageText:
    """OCR one page image (H×W×3 BGR uint8) into lines, within ``limits.ocr_seconds_per_page``."""
    models = _ENGINE.get(limits)
    deadline = time.monotonic() + limits.ocr_seconds_per_page
    boxes, texts, complete = _recognise(models, image, deadline)
    return PageText(join_lines(boxes, texts), complete)


def _recognise(models: _Models, image: np.ndarray, deadline: float) -> tuple[list[Box], list[str], bool]:
    """Detect, then recognise the boxes in chunks (in parallel), none started after the deadline."""
    from rapidocr.main import RapidOCRError
    from rapidocr.utils.process_img import map_boxes_to_original

    h, w = image.shape[:2]
    det = models.det
    img, record = det.preprocess_img(image)
    try:
        crops, found = det.detect_and_crop(img, record)
    except RapidOCRError:  # nothing on the page
        return [], [], True
    quads = map_boxes_to_original(found.boxes, record, h, w)
    # Widest first, so that the threads finish together.
    order = sorted(range(len(crops)), key=lambda i: -crops[i].shape[1] / max(crops[i].shape[0], 1))
    chunks = [order[k:k + _REC_CHUNK] for k in range(0, len(order), _REC_CHUNK)]

    def run(chunk: list[int]) -> list[tuple[str, float]] | None:
        if time.monotonic() > deadline:
            return None
        try:
            rec = models.rec.recognize_txt([crops[i] for i in chunk])
        except RapidOCRError:
            return []
        return list(zip(rec.txts, rec.scores, strict=False))

    results = list(models.pool.map(run, chunks)) if models.pool is not None else [run(c) for c in chunks]
    read: dict[int, tuple[str, float]] = {}
    complete = True
    for chunk, result in zip(chunks, results, strict=True):
        if result is None:
            complete = False
        else:
            read.update(zip(chunk, result, strict=False))
    boxes: list[Box] = []
    texts: list[str] = []
    for i in sorted(read):
        text, score = read[i]
        if score < _MIN_SCORE or not _WORD.search(text):  # "=" read off a picture's edge
            continue
        xs, ys = quads[i][:, 0], quads[i][:, 1]
        boxes.append((float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())))
        texts.append(text.strip())
    return boxes, texts, complete


def segments(page: PageText, page_no: int, scale: float = 1.0) -> list[Segment]:
    """The page's lines as Segments (``ocr=True``), digits repaired, boxes divided by ``scale``
    (pixels per unit of the document's own coordinates: points for PDF, 1 for pictures)."""
    out = []
    for number, line in enumerate(page.lines, 1):
        x0, y0, x1, y1 = (round(v / scale, 1) for v in line.box)
        out.append(Segment(repair(line.text), Location(page=page_no, line=number, bbox=(x0, y0, x1, y1)), ocr=True))
    return out


# -- lines -----------------------------------------------------------------------------------------
_TAIL = re.compile(r"[0-9Xx×]+$")
_HEAD = re.compile(r"^[0-9Xx×]+")
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_HEAD = re.compile(rf"[{_PROVINCES}][A-HJ-NP-Z][·•.\-]?$")
_PLATE_TAIL = re.compile(r"^[A-HJ-NP-Z0-9]{4,6}")
_VALUE_LENGTHS = (11, 15, 18)


def join_lines(boxes: list[Box], texts: list[str]) -> list[Line]:
    """Chain boxes into lines, left to right: a box continues the line whose last box lies to its
    left on the same baseline (vertical overlap of at least half the smaller height, similar
    heights). Following the nearest neighbour keeps the lines of a slightly rotated scan apart.

    Pieces are joined without a gap where they make one value (digits adding up to 11, 15 or 18,
    a plate's province and serial), with a space where they are near and a tab where far apart
    (table columns), so no pattern runs across two columns.
    """
    rows: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda i: boxes[i][0]):
        box = boxes[i]
        best, best_overlap = None, 0.0
        for row in rows:
            last = boxes[row[-1]]
            overlap = _overlap(last, box)
            if overlap > best_overlap and last[2] <= box[0] + 0.5 * (box[3] - box[1]):
                best, best_overlap = row, overlap
        if best is None:
            rows.append([i])
        else:
            best.append(i)
    lines = []
    for row in rows:
        text = texts[row[0]]
        bx0, by0, bx1, by1 = boxes[row[0]]
        for prev, cur in zip(row, row[1:], strict=False):
            height = max(boxes[prev][3] - boxes[prev][1], boxes[cur][3] - boxes[cur][1], 1.0)
            gap = boxes[cur][0] - boxes[prev][2]
            text += _separator(text, texts[cur], gap / height) + texts[cur]
            x0, y0, x1, y1 = boxes[cur]
            bx0, by0, bx1, by1 = min(bx0, x0), min(by0, y0), max(bx1, x1), max(by1, y1)
        lines.append(Line(text, (bx0, by0, bx1, by1)))
    lines.sort(key=lambda line: (line.box[1], line.box[0]))
    return lines


def _overlap(a: Box, b: Box) -> float:
    """Vertical overlap as a share of the smaller height; 0 unless at least half and the heights
    are within a factor of two."""
    ha, hb = a[3] - a[1], b[3] - b[1]
    if ha <= 0 or hb <= 0 or max(ha, hb) > 2 * min(ha, hb):
        return 0.0
    share = (min(a[3], b[3]) - max(a[1], b[1])) / min(ha, hb)
    return share if share >= 0.5 else 0.0


def _separator(left: str, right: str, gap: float) -> str:
    if gap < 1.5:
        tail, head = _TAIL.search(left), _HEAD.search(right)
        if tail and head:
            a, b = len(tail.group()), len(head.group())
            if a + b in _VALUE_LENGTHS and a not in _VALUE_LENGTHS and b not in _VALUE_LENGTHS:
                return ""
        if _PLATE_HEAD.search(left) and _PLATE_TAIL.search(right):
            return ""
    return " " if gap < 2.0 else "\t"


# -- digit repair ----------------------------------------------------------------------------------
_DIGIT_LIKE = "0-9OoIl|ZSB"
_RUN = re.compile(rf"(?<![0-9A-Za-z])[{_DIGIT_LIKE}]{{10,17}}[{_DIGIT_LIKE}Xx×](?![0-9A-Za-z])")
_TO_DIGIT = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1", "Z": "2", "S": "5", "B": "8"})
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# Runs of 19–54 digits: room for two or three IDs/mobiles side by side, or an ID with a short
# number from the next column (a row number before it, a count or an amount after it).
_GLUED = re.compile(r"(?<![0-9A-Za-z])[0-9][0-9Xx×]{17,52}[0-9Xx×](?![0-9A-Za-z])")
_GLUED_HEAD = 3  # digits of a row number before an ID
_GLUED_TAIL = 6  # digits of a neighbouring cell after an ID
# A row number OCR read without the gap before a plate: "2川A16515".
_NUMBERED_PLATE = re.compile(
    rf"(?<![0-9A-Za-z.])([0-9]{{1,3}})(?=[{_PROVINCES}][A-HJ-NP-Z][·•.\-]?"
    r"(?:[A-HJ-NP-Z0-9]{5,6}|[A-HJ-NP-Z0-9]{4}[警学挂领试超港澳])(?![A-Za-z0-9]))")
_MAX_REPAIRS = 3


def repair(text: str) -> str:
    """Undo OCR letter-for-digit confusions in ID and mobile candidates of ``text``.

    A digit-like run of 18, 15 or 11 characters is rewritten only when the rewritten run is a
    valid ID (check character, real birth date) or a mobile (1[3-9] and nine digits), and when at
    most three characters change. Everything else is returned unchanged.
    """
    if _RUN.search(text):
        text = _RUN.sub(_repair_run, text)
    if _GLUED.search(text):
        text = _GLUED.sub(_split_glued, text)
    if _NUMBERED_PLATE.search(text):
        text = _NUMBERED_PLATE.sub(r"\1 ", text)
    return text


def _split_glued(match: re.Match[str]) -> str:
    """Values OCR read as one run (neighbouring table columns whose gap it dropped): split when
    every piece is a valid ID or a mobile, or when exactly one way of reading the run is a short
    number, a valid ID and a short number (no mobile: without a check digit, too many numbers
    would look like one)."""
    run = match.group()
    parts = _decompose(run)
    if parts:
        return " ".join(parts)
    found = []
    for head in range(min(_GLUED_HEAD, len(run) - 18) + 1):
        tail = len(run) - 18 - head
        if tail > _GLUED_TAIL or not _digits(run[:head]) or not _digits(run[head + 18:]):
            continue
        idn = run[head:head + 17] + ("X" if run[head + 17] in "Xx×" else run[head + 17])
        if idn[:17].isdigit() and _id18_ok(idn):
            found.append([p for p in (run[:head], idn, run[head + 18:]) if p])
    return " ".join(found[0]) if len(found) == 1 else run


def _digits(text: str) -> bool:
    return all("0" <= c <= "9" for c in text)


def _decompose(run: str) -> list[str] | None:
    if not run:
        return []
    if len(run) >= 18 and run[:17].isdigit():
        head = run[:17] + ("X" if run[17] in "Xx×" else run[17])
        if _id18_ok(head):
            rest = _decompose(run[18:])
            if rest is not None:
                return [head, *rest]
    if _MOBILE.match(run):
        rest = _decompose(run[11:])
        if rest is not None:
            return [run[:11], *rest]
    return None


def _repair_run(match: re.Match[str]) -> str:
    run = match.group()
    if len(run) not in _VALUE_LENGTHS:
        return run
    body = run[:-1].translate(_TO_DIGIT)
    last = run[-1]
    if len(run) == 18:
        check = "X" if last in "Xx×" else last.translate(_TO_DIGIT)
        fixed = body + check
        ok = fixed[:17].isdigit() and _id18_ok(fixed)
    else:
        if last in "Xx×":
            return run
        fixed = body + last.translate(_TO_DIGIT)
        ok = fixed.isdigit() and (_id15_ok(fixed) if len(run) == 15 else bool(_MOBILE.fullmatch(fixed)))
    if not ok or fixed == run:
        return run
    if sum(a != b for a, b in zip(run, fixed, strict=True)) > _MAX_REPAIRS:
        return run
    return fixed


def _id18_ok(value: str) -> bool:
    return value[0] != "0" and _date_ok(value[6:14]) and mod_11_2.is_valid(value)


def _id15_ok(value: str) -> bool:
    return value[0] != "0" and _date_ok("19" + value[6:12])


def _date_ok(yyyymmdd: str) -> bool:
    try:
        born = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= born <= dt.date.today()


# -- PDF pages -------------------------------------------------------------------------------------
def read_pdf_page(pdf: Any, index: int, limits: Limits) -> tuple[list[Segment], bool]:
    """Render page ``index`` of an open ``pypdfium2.PdfDocument`` at ``limits.ocr_dpi`` (less for
    a page too large for ``limits.ocr_max_side``) and OCR it. Boxes are in points from the
    top-left corner of the page as displayed. Returns the segments and whether the page was read
    completely (within the time limit)."""
    import numpy as np

    page = pdf[index]
    try:
        width, height = page.get_size()
        scale = min(limits.ocr_dpi / 72, limits.ocr_max_side / max(width, height, 1.0))
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            gray = bitmap.to_numpy()
            image = np.repeat(gray.reshape(gray.shape[0], gray.shape[1], 1), 3, axis=2)
        finally:
            bitmap.close()
    finally:
        page.close()
    text = read_image(image, limits)
    return segments(text, index + 1, scale), text.complete
