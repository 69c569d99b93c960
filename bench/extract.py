"""Extraction figures: leakscan's PDF and spreadsheet extractors against the raw libraries.

Each comparison runs A/B/A/B in this one process on the same file; a repetition's figure is the
ratio of the pair's speeds, and the reported figure is the median of those ratios.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from scanner.config import Limits
from scanner.extract import pdf as pdf_extractor
from scanner.extract import sheet as sheet_extractor
from scanner.model import Document


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    gc.collect()
    t = time.perf_counter()
    n = fn()
    return time.perf_counter() - t, n


def interleave(a: Callable[[], int], b: Callable[[], int], reps: int) -> dict[str, float]:
    """Run ``a`` and ``b`` alternately ``reps`` times each (after one warm-up of each), ``a``
    first in even pairs and ``b`` first in odd ones, so that a machine slowing down or speeding up
    during a pair does not always favour the same side.

    Returns the median of a's and b's units/s and the median of the per-pair ratios a ÷ b.
    """
    a(), b()  # warm-up: imports, page cache
    ratios, speeds_a, speeds_b = [], [], []
    for rep in range(reps):
        if rep % 2 == 0:
            ta, na = _timed(a)
            tb, nb = _timed(b)
        else:
            tb, nb = _timed(b)
            ta, na = _timed(a)
        speeds_a.append(na / ta)
        speeds_b.append(nb / tb)
        ratios.append((na / ta) / (nb / tb))
    return {"a": statistics.median(speeds_a), "b": statistics.median(speeds_b), "ratio": statistics.median(ratios)}


# -- PDF -----------------------------------------------------------------------------------------


def leakscan_pdf(path: Path) -> int:
    """Pages extracted by leakscan's PDF extractor (every segment consumed)."""
    doc = Document(source=str(path), path=path, name=path.name)
    pages = set()
    for seg in pdf_extractor.extract(doc, Limits()):
        pages.add(seg.location.page)
    return len(pages)


def pdfium_pdf(path: Path) -> int:
    """Pages read by raw pypdfium2: ``get_textpage().get_text_range()`` per page."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        n = len(pdf)
        for i in range(n):
            page = pdf[i]
            textpage = page.get_textpage()
            textpage.get_text_range()
            textpage.close()
            page.close()
        return n
    finally:
        pdf.close()


def pdf_vs_pdfium(path: Path, reps: int = 5) -> dict[str, float]:
    """leakscan pages/s ÷ pypdfium2 pages/s on ``path``."""
    r = interleave(lambda: leakscan_pdf(path), lambda: pdfium_pdf(path), reps)
    return {"pdf_vs_pdfium": r["ratio"], "pdf_pages_s": r["a"], "pdfium_pages_s": r["b"]}


# -- spreadsheets --------------------------------------------------------------------------------


def leakscan_cells(path: Path, limits: Limits | None = None) -> int:
    """Cells read by leakscan's spreadsheet extractor: the file's non-empty cells.

    The count is the workbook's non-empty cells (the same for both sides), so the ratio compares
    time for the same work, however many segments the extractor chooses to emit.
    """
    doc = Document(source=str(path), path=path, name=path.name)
    for _ in sheet_extractor.extract(doc, limits or Limits()):
        pass
    return _cell_count(path)


_CELLS: dict[Path, int] = {}


def _cell_count(path: Path) -> int:
    if path not in _CELLS:
        _CELLS[path] = calamine_cells(path)
    return _CELLS[path]


def calamine_cells(path: Path) -> int:
    """Non-empty cells seen by raw python-calamine iteration over every worksheet."""
    import python_calamine as pc

    n = 0
    with pc.CalamineWorkbook.from_path(str(path)) as wb:
        for name in wb.sheet_names:
            for values in wb.get_sheet_by_name(name).iter_rows():
                for v in values:
                    if v != "":
                        n += 1
    return n


def xlsx_vs_calamine(path: Path, reps: int = 5) -> dict[str, float]:
    """leakscan cells/s ÷ python-calamine cells/s on ``path``."""
    _cell_count(path)
    r = interleave(lambda: leakscan_cells(path), lambda: calamine_cells(path), reps)
    return {"xlsx_vs_calamine": r["ratio"], "xlsx_cells_s": r["a"], "calamine_cells_s": r["b"]}


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    import datagen

    which = sys.argv[1:] or ["pdf", "xlsx"]
    if "pdf" in which:
        print(pdf_vs_pdfium(datagen.make_pdf()))
    if "xlsx" in which:
        print(xlsx_vs_calamine(datagen.make_xlsx()))
