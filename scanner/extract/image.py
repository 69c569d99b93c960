"""Pictures (PNG, JPEG, GIF, BMP, TIFF, WebP) → OCR text lines with pixel boxes.

Pillow decodes; a GIF is read by its first frame, a TIFF page by page (``Location.page``). Huge
pictures are scaled down to ``Limits.ocr_max_side`` before OCR (boxes are given in the picture's
own pixels all the same) and absurd ones (``Limits.ocr_max_pixels``) are refused before decoding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from scanner.config import Limits
from scanner.errors import ExtractError, Skip
from scanner.extract import ocr
from scanner.model import Document, Segment

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

_DAMAGED = "图片文件已损坏或格式不支持"


def extract(doc: Document, limits: Limits) -> Iterator[Segment]:
    """Yield one Segment per text line OCR finds in the picture (each TIFF page in turn)."""
    ocr.require()
    try:
        from PIL import Image, ImageSequence
    except ImportError:
        raise Skip(ocr.MISSING_REASON) from None

    with doc.open() as fh:
        try:
            picture = Image.open(fh)
        except Image.DecompressionBombError:
            raise Skip("图片尺寸过大，未识别") from None
        except (OSError, ValueError, SyntaxError):
            raise ExtractError(_DAMAGED) from None
        with picture:
            frames = ImageSequence.Iterator(picture) if picture.format == "TIFF" else [picture]
            transpose = picture.format in ("JPEG", "WEBP", "TIFF", "PNG")
            incomplete: list[int] = []
            unread: list[int] = []
            budget = ocr.budget(limits)
            try:
                for page_no, frame in enumerate(frames, 1):
                    if frame.width * frame.height > limits.ocr_max_pixels:
                        raise Skip(f"图片尺寸过大（{frame.width}×{frame.height}像素），未识别")
                    if not budget.take():
                        unread.append(page_no)
                        continue
                    image, scale = _prepare(frame, transpose, limits)
                    page = ocr.read_image(image, limits)
                    if not page.complete:
                        incomplete.append(page_no)
                    yield from ocr.segments(page, page_no, scale)
            except (OSError, ValueError, SyntaxError, EOFError):
                raise ExtractError(_DAMAGED) from None
    if unread:
        doc.meta["ocr_unread_pages"] = unread
        raise ExtractError(f"文字识别页数已达本次检查上限（{limits.ocr_page_budget}页），{_pages(unread)}未识别")
    if incomplete:
        raise ExtractError(f"{_pages(incomplete)}文字识别超时（每页上限{limits.ocr_seconds_per_page:.0f}秒），未识别完")


def _pages(numbers: list[int]) -> str:
    if numbers == [1]:
        return "图片"
    return "第" + "、".join(map(str, numbers[:10])) + ("等页" if len(numbers) > 10 else "页")


def _prepare(frame: Image.Image, transpose: bool, limits: Limits) -> tuple[np.ndarray, float]:
    """The frame as an upright BGR array no larger than ``limits.ocr_max_side``, and the scale
    (array pixels per picture pixel)."""
    import numpy as np
    from PIL import Image, ImageOps

    if transpose:  # a phone photo of a notice: EXIF says which way up
        frame = ImageOps.exif_transpose(frame)
    width = frame.width
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        paper = Image.new("RGB", rgba.size, (255, 255, 255))
        paper.paste(rgba, mask=rgba.getchannel("A"))  # transparent → white paper, not black
        frame = paper
    else:
        frame = frame.convert("RGB")  # a copy: thumbnail() below must not touch the open picture
    if max(frame.size) > limits.ocr_max_side:
        frame.thumbnail((limits.ocr_max_side, limits.ocr_max_side))
    return np.ascontiguousarray(np.asarray(frame)[:, :, ::-1]), frame.width / width
