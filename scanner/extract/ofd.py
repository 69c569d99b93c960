"""OFD (GB/T 33190) → text Segments, page by page.

ofdkit (Apache-2.0, pure Python) reads the package: page order from Document.xml, templates,
composite objects and transforms, with DTDs refused and parts capped at 64 MB. It gives each
page's text runs with positions; :mod:`scanner.extract._layout` turns them into table cells and
paragraphs exactly as for PDF. Before ofdkit opens the zip, its members are checked against our
own limits (size, compression ratio, count), so a zip bomb is refused without inflating it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

import ofdkit

from scanner.config import Limits
from scanner.errors import ExtractError
from scanner.extract._layout import Glyph, LayoutState, layout
from scanner.model import Document, Segment

# Share of the font size above and below the baseline: CJK faces sit about 0.88/0.12.
_ASCENT = 0.88
_DESCENT = 0.12
# Members smaller than this are not judged by their compression ratio (tiny XML compresses well).
_RATIO_FLOOR = 1 << 20


def extract(doc: Document, limits: Limits) -> Iterator[Segment]:
    """Yield the text of ``doc`` (an OFD file) as table-cell and paragraph Segments, page by page."""
    _check_package(doc, limits)
    try:
        ofd = ofdkit.open(doc.path if doc.path is not None else (doc.data or b""))
    except ofdkit.OFDLimitError:
        raise ExtractError("OFD文件超出安全限制（部件过大或含有不允许的XML声明）") from None
    except ofdkit.OFDError:
        raise ExtractError("OFD文件已损坏或不是有效的OFD") from None
    try:
        state = LayoutState()
        bad_pages: list[int] = []
        chars = 0
        for number, page in enumerate(ofd.pages, start=1):
            try:
                runs = page.runs
            except ofdkit.OFDLimitError:
                raise ExtractError(f"OFD第{number}页超出安全限制") from None
            except ofdkit.OFDError:
                bad_pages.append(number)
                continue
            _forget(page)
            glyphs: list[Glyph] = [
                Glyph(r.x, r.x + r.width, r.y - _ASCENT * r.size, r.y + _DESCENT * r.size, r.text)
                for r in runs
                if r.text.strip() and r.size > 0
            ]
            for segment in layout(glyphs, None, state, number):
                chars += len(segment.text)
                if chars > limits.max_text_chars:
                    raise ExtractError(f"OFD文字超过单个文件上限（{limits.max_text_chars}字）")
                yield segment
        if bad_pages:
            listed = "、".join(str(n) for n in bad_pages[:10])
            raise ExtractError(f"OFD第{listed}页无法读取，文件可能已损坏")
    finally:
        ofd.close()


def _check_package(doc: Document, limits: Limits) -> None:
    """Refuse bombs and encrypted packages before anything is inflated."""
    try:
        with doc.open() as fh, zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ExtractError("OFD文件已损坏或不是有效的OFD（不是ZIP包）") from None
    if len(infos) > limits.max_archive_members:
        raise ExtractError(f"OFD文件包含的部件过多（{len(infos)}个）")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise ExtractError("OFD文件已加密，无法读取")
        if info.file_size > limits.max_member_bytes:
            raise ExtractError("OFD文件中的部件过大，疑似压缩炸弹")
        if info.file_size > _RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ExtractError("OFD文件压缩比异常，疑似压缩炸弹")
        total += info.file_size
        if total > limits.max_unpacked_bytes:
            raise ExtractError("OFD文件解压后过大，疑似压缩炸弹")


def _forget(page: object) -> None:
    """Drop ofdkit's per-page cache of runs, so a long document is not held in memory page by page.

    ofdkit keeps a page's runs after first use; ``_runs``/``_objects`` are its lazy-load slots
    (ofdkit 0.2). If they move, this does nothing and memory grows with the page count instead.
    """
    for name in ("_runs", "_objects"):
        if hasattr(page, name):
            setattr(page, name, None)
