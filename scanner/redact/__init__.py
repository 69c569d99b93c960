"""Redaction: write de-identified copies of documents, in their own format.

Each unmasked or partially masked value is masked to its rule's policy (``masking`` in the rule
file: ID digits 7–14, the middle four digits of a mobile, the last three characters of a plate),
one masking character for one character, and nothing else changes:

* text and CSV keep their encoding, BOM and line endings; HTML its encoding and all markup;
* DOCX/XLSX are edited part by part (only the text of affected runs and cells changes);
* PDF pages holding a value are flattened to images with the values blacked out.

Every copy is re-scanned with the extractor and the same detector before it is accepted; a value
the format walk missed (the extractor cut the text differently) is then masked wherever it occurs,
and a copy that still leaks is not kept. Formats that cannot be rewritten (DOC/WPS, OFD, RTF, XLS,
images, archives) are reported ``not possible: …`` for manual handling when they hold values.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.config import Limits
from scanner.detect.engine import Detector
from scanner.errors import ExtractError, Skip, UsageError
from scanner.extract import extract
from scanner.extract.sniff import sniff
from scanner.model import Document, DocumentResult, Location, Segment
from scanner.redact import _core
from scanner.redact._core import Piece, Plan, apply
from scanner.source.files import iter_documents

DONE, FLATTENED, UNCHANGED = "done", "flattened", "unchanged"
NOT_POSSIBLE = "not possible: "

#: Kinds whose files are never rewritten, with the reason an officer reads.
MANUAL: dict[str, str] = {
    "doc": "不支持改写 DOC/WPS 格式，请人工处理（或另存为 DOCX 后再处理）",
    "ofd": "不支持改写 OFD 格式，请人工处理",
    "rtf": "不支持改写 RTF 格式，请人工处理（或另存为 DOCX 后再处理）",
    "xls": "不支持改写 XLS/ET 格式，请人工处理（或另存为 XLSX 后再处理）",
    "ods": "不支持改写 ODS 格式，请人工处理（或另存为 XLSX 后再处理）",
    "zip": "不支持改写压缩包，请解压后逐个处理",
    "7z": "不支持改写压缩包，请解压后逐个处理",
    "rar": "不支持改写压缩包，请解压后逐个处理",
    "image": "图片中的信息无法自动去标识化，请人工涂抹处理",
}
IMAGE_KINDS = frozenset(("image", "png", "jpeg", "gif", "bmp", "tiff", "webp"))
_LEFT_OVER = "改写后复查仍发现{n}处未遮盖的号码，未生成去标识化副本，请人工处理"
_ATTEMPTS = 3


@dataclass(slots=True)
class Redaction:
    """What happened to one document.

    ``status``: ``done``, ``flattened`` (PDF pages rendered with the values removed),
    ``unchanged`` (nothing to mask, no copy written) or ``not possible: <reason>``.
    ``masked``: one entry per masked value, ``{"fingerprint", "entity", "rule", "location"}``;
    never a raw value.
    """

    source: str
    status: str
    path: Path | None = None
    masked: list[dict[str, Any]] = field(default_factory=list)

    @property
    def possible(self) -> bool:
        return not self.status.startswith(NOT_POSSIBLE)


def _not_possible(doc: Document, reason: str, masked: list[dict[str, Any]] | None = None) -> Redaction:
    return Redaction(doc.source, NOT_POSSIBLE + reason, None, masked or [])


# -- re-scanning ---------------------------------------------------------------------------------

def _segments(doc: Document, limits: Limits) -> tuple[str, list[Segment], list[Document]]:
    kind, items = extract(doc, limits)
    segments: list[Segment] = []
    children: list[Document] = []
    for item in items:
        if isinstance(item, Segment):
            segments.extend(item.parts())  # a block of spreadsheet cells: each cell with its own header
        else:
            children.append(item)
    return kind, segments, children


def _leaks(detector: Detector, segments: Sequence[Segment], source: str) -> dict[str, str]:
    """Raw value → rule id of every finding in ``segments`` (kept in memory only)."""
    pieces = [Piece(s, None, 0) for s in segments]
    out: dict[str, str] = {}
    for batch in _core._batches(pieces):
        proxies = [Segment(segments[i].text, Location(part=str(i)), segments[i].header) for i in batch]
        for f in detector.detect_many(proxies, source):
            seg = segments[int(f.location["part"])]
            out[seg.text[f.location["start"]:f.location["end"]]] = f.rule
    return out


def _count(detector: Detector, doc: Document, limits: Limits) -> int:
    """Findings in ``doc`` and, for an archive, in its members (recursively)."""
    _, segments, children = _segments(doc, limits)
    total = len(_leaks(detector, segments, doc.source))
    for child in children:
        try:
            total += _count(detector, child, limits)
        except (ExtractError, Skip):
            total += 1  # an unreadable member: someone has to look
    return total


# -- formats -------------------------------------------------------------------------------------

def _text_like(kind: str, doc: Document, data: bytes, detector: Detector, extra: dict[str, str]
               ) -> tuple[bytes | None, Plan]:
    from scanner.redact import html as html_mod
    from scanner.redact import text as text_mod

    if kind == "html":
        decoded = html_mod.decode_html(doc, data)
        pieces = html_mod.html_pieces(decoded.text)
        buffer = "html"
    elif kind == "csv":
        decoded = text_mod.Decoded(data, text_mod.detect_encoding(data[:256 * 1024]))
        pieces = text_mod.csv_pieces(decoded, data) or list(text_mod.text_pieces(decoded.text))
        buffer = "text"
    else:
        decoded = text_mod.decode_text(doc, data)
        pieces = list(text_mod.text_pieces(decoded.text))
        buffer = "text"
    result = _core.plan(detector, pieces, doc.source, doc.parent, extra)
    if not result:
        return None, result
    return decoded.encode(apply(decoded.text, result.edits.get(buffer))), result


def _ooxml(kind: str, doc: Document, data: bytes, detector: Detector, extra: dict[str, str], limits: Limits
           ) -> tuple[bytes | None, Plan]:
    from scanner.redact import ooxml

    source = Document(doc.source, doc.parent, data=data, name=doc.name)
    pkg = ooxml.open_package(source, limits, "文档" if kind == "docx" else "表格文件")
    try:
        if kind == "docx":
            pieces = ooxml.docx_pieces(pkg)
            result = _core.plan(detector, pieces, doc.source, doc.parent, extra)
            texts: dict[str, str] = {}
            for key, edits in result.edits.items():
                part = key[1]  # type: ignore[index]
                texts[part] = apply(pkg.part(part).text, edits)
        else:
            book = ooxml.Workbook(pkg)
            result = _core.plan(detector, book.pieces(), doc.source, doc.parent, extra)
            texts = book.texts(result)
        if not result:
            return None, result
        out = io.BytesIO()
        pkg.write(out, texts)
        return out.getvalue(), result
    finally:
        pkg.close()


def _write(out_path: Path, data: bytes, doc: Document) -> None:
    if doc.path is not None and out_path.exists() and out_path.resolve() == doc.path.resolve():
        raise UsageError("输出路径与原文件相同，拒绝覆盖原文件")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".leakscan-", suffix=out_path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _redact_pdf(doc: Document, data: bytes, detector: Detector, out_path: Path, limits: Limits) -> Redaction:
    from scanner.redact import pdf

    try:
        _, segments, _ = _segments(Document(doc.source, doc.parent, data=data, name=doc.name), limits)
    except ExtractError as exc:
        if not str(exc).startswith("PDF文件不完整"):
            raise
        return _not_possible(doc, str(exc))
    found, masked = pdf.hits(detector, segments, doc.source)
    if not found:
        return Redaction(doc.source, UNCHANGED)
    scanned = sorted({hit.page for hit in found if hit.ocr})
    if scanned:
        pages = "、".join(map(str, scanned))
        return _not_possible(doc, f"PDF第{pages}页是扫描图片，其中的号码需人工涂抹处理", masked)
    by_page: dict[int, list[Any]] = {}
    for hit in found:
        by_page.setdefault(hit.page, []).append(hit)
    out = io.BytesIO()
    try:
        pdf.redact_pdf(data, by_page, out)
    except pdf.Unlocatable as exc:
        return _not_possible(doc, f"PDF第{exc.args[0]}页的号码无法在页面上定位，请人工处理", masked)
    copy = out.getvalue()
    left = _leaks(detector, _segments_or_none(Document(doc.source, data=copy, name=doc.name), limits), doc.source)
    if left:
        return _not_possible(doc, _LEFT_OVER.format(n=len(left)), masked)
    _write(out_path, copy, doc)
    return Redaction(doc.source, FLATTENED, out_path, masked)


def _segments_or_none(doc: Document, limits: Limits) -> list[Segment]:
    try:
        return _segments(doc, limits)[1]
    except Skip:  # e.g. every page is an image now
        return []


# -- public API ----------------------------------------------------------------------------------

def redact_document(doc: Document, detector: Detector, out_path: Path, limits: Limits | None = None) -> Redaction:
    """Write a de-identified copy of ``doc`` to ``out_path`` if it holds values to mask.

    The input is never modified. A copy is only kept when a re-scan of it finds nothing left.
    """
    limits = limits or Limits()
    out_path = Path(out_path)
    try:
        if doc.size > limits.max_file_bytes:
            return _not_possible(doc, f"文件过大（{doc.size // (1024 * 1024)} MB），未处理")
        kind = sniff(doc)
        if kind == "empty":
            return Redaction(doc.source, UNCHANGED)
        if kind == "pdf":
            return _redact_pdf(doc, doc.read(), detector, out_path, limits)
        if kind not in ("text", "html", "csv", "docx", "xlsx"):
            reason = MANUAL["image"] if kind in IMAGE_KINDS else MANUAL.get(kind, f"不支持改写 {kind} 格式，请人工处理")
            try:
                if _count(detector, doc, limits) == 0:
                    return Redaction(doc.source, UNCHANGED)
            except Skip as exc:  # not even readable (an image without OCR): someone has to look
                return _not_possible(doc, f"{reason}（{exc}）" if kind in IMAGE_KINDS else str(exc))
            return _not_possible(doc, reason)
        return _redact_rewritable(kind, doc, detector, out_path, limits)
    except Skip as exc:
        return _not_possible(doc, str(exc))
    except ExtractError as exc:
        return _not_possible(doc, str(exc))
    except UsageError as exc:
        return _not_possible(doc, str(exc))


def _redact_rewritable(kind: str, doc: Document, detector: Detector, out_path: Path, limits: Limits) -> Redaction:
    from scanner.redact.ooxml import Unwritable
    from scanner.redact.text import NotLossless

    data = doc.read()
    extra: dict[str, str] = {}
    for _ in range(_ATTEMPTS):
        try:
            if kind in ("docx", "xlsx"):
                copy, result = _ooxml(kind, doc, data, detector, extra, limits)
            else:
                copy, result = _text_like(kind, doc, data, detector, extra)
        except NotLossless:
            return _not_possible(doc, "文件编码无法无损还原，改写会损坏文件，请人工处理")
        except Unwritable as exc:
            return _not_possible(doc, str(exc))
        check = Document(doc.source, doc.parent, data=copy if copy is not None else data, name=doc.name,
                         content_type=doc.content_type)
        left = _leaks(detector, _segments_or_none(check, limits), doc.source)
        if not left:
            if copy is None:
                return Redaction(doc.source, UNCHANGED)
            _write(out_path, copy, doc)
            return Redaction(doc.source, DONE, out_path, result.masked)
        if all(value in extra for value in left):
            break
        extra.update(left)
    return _not_possible(doc, _LEFT_OVER.format(n=len(left)), result.masked)


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def redact_tree(paths: Sequence[str | Path], detector: Detector, out_dir: Path, *, allow_inside: bool = False,
                limits: Limits | None = None, clean: Container[str] = ()) -> Iterator[tuple[Document, Redaction]]:
    """Redact every file below ``paths`` into ``out_dir``, mirroring the layout.

    A folder's files keep their path relative to the folder; a file named directly goes to the
    top of ``out_dir``. An ``out_dir`` inside an input folder is refused (:class:`UsageError`)
    unless ``allow_inside``; the copies are then never read as input. Files in ``clean`` (a scan
    just read them completely and found nothing) are ``unchanged`` without being read again.
    """
    out_dir = Path(out_dir)
    resolved_out = out_dir.resolve()
    given = [str(p) for p in paths]
    for p in given:
        path = Path(p)
        if path.is_dir() and _inside(resolved_out, path.resolve()) and not allow_inside:
            raise UsageError(f"输出文件夹 {out_dir} 位于输入文件夹 {p} 之内，请选择输入文件夹之外的输出位置")
        if path.is_file() and resolved_out == path.resolve():
            raise UsageError(f"输出文件夹 {out_dir} 与输入文件 {p} 相同")
    return _tree(given, detector, out_dir, resolved_out, limits, clean)


def _tree(given: list[str], detector: Detector, out_dir: Path, resolved_out: Path, limits: Limits | None,
          clean: Container[str]) -> Iterator[tuple[Document, Redaction]]:
    roots = {p: Path(p) for p in given}
    used: set[Path] = set()
    for item in iter_documents(given):
        if isinstance(item, DocumentResult):
            yield Document(item.source, name=Path(item.source).name), Redaction(
                item.source, NOT_POSSIBLE + (item.reason or "无法读取"))
            continue
        assert item.path is not None
        if _inside(item.path.resolve(), resolved_out):
            continue  # an earlier copy, inside an input folder by request
        if item.source in clean:
            yield item, Redaction(item.source, UNCHANGED)
            continue
        target = out_dir / _relative(item, roots)
        target = _unique(target, used)
        used.add(target)
        yield item, redact_document(item, detector, target, limits)


def _relative(doc: Document, roots: dict[str, Path]) -> Path:
    for given, root in roots.items():
        if root.is_dir() and doc.source.startswith(given.rstrip("/\\") + os.sep) or (
                root.is_dir() and doc.source.startswith(given.rstrip("/\\") + "/")):
            return Path(doc.source[len(given.rstrip("/\\")) + 1:])
    return Path(doc.path.name if doc.path else doc.name or "document")


def _unique(target: Path, used: set[Path]) -> Path:
    if target not in used:
        return target
    n = 2
    while (candidate := target.with_name(f"{target.stem}({n}){target.suffix}")) in used:
        n += 1
    return candidate


__all__ = ["Redaction", "redact_document", "redact_tree", "DONE", "FLATTENED", "UNCHANGED", "NOT_POSSIBLE"]
