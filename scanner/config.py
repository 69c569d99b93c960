"""Settings shared by the stages. Imports nothing from ``scanner`` but ``errors``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep hostile or huge input from exhausting time or memory."""

    max_file_bytes: int = 512 * 1024 * 1024  # larger inputs are skipped
    max_text_chars: int = 200_000_000  # extracted text per document
    max_archive_members: int = 10_000
    max_unpacked_bytes: int = 1024 * 1024 * 1024  # total, per archive
    max_member_bytes: int = 256 * 1024 * 1024
    max_ratio: float = 200.0  # compressed → uncompressed, per member
    max_depth: int = 3  # archive nesting
    seconds_per_document: float = 120.0
    # OCR (scanned PDF pages and pictures): rendering resolution, the largest side a page image is
    # read at (larger pictures are scaled down), the pictures refused outright, the time one page
    # may take and the pages one run may read.
    ocr_dpi: int = 150
    ocr_max_side: int = 2400
    ocr_max_pixels: int = 200_000_000
    ocr_seconds_per_page: float = 30.0
    ocr_page_budget: int = 5_000
    ocr_threads: int = 0  # threads an OCR worker uses (detection, lines recognised at once); 0: all cores
    # Set in the pipeline's text workers: a PDF whose first page read has no text raises NeedsOCR
    # instead of being OCRed there (it goes to the OCR worker, with its longer time limit).
    ocr_elsewhere: bool = False
