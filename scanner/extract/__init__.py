"""Extraction: a Document's bytes → text Segments with locations (and child Documents for archives).

Each format is one module exposing ``extract(doc, limits) -> Iterable[Segment | Document]``,
registered below by the kind that :func:`sniff` gives. Modules are imported on first use, so a
scan of HTML pages never pays for the PDF library. An extractor raises :class:`~scanner.errors.Skip`
for a document it deliberately does not read and :class:`~scanner.errors.ExtractError` for one it
cannot read; anything else it raises is a bug, reported by the pipeline as an error all the same.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Union

from scanner.config import Limits
from scanner.errors import Skip
from scanner.extract.sniff import sniff
from scanner.model import Document, Segment

Item = Union[Segment, Document]
ExtractFn = Callable[[Document, Limits], Iterable[Item]]

#: kind → "module:function". Kinds missing here are skipped with a reason.
EXTRACTORS: dict[str, str] = {
    "text": "scanner.extract.text:extract",
    "html": "scanner.extract.html:extract",
    "csv": "scanner.extract.csv:extract",
    "pdf": "scanner.extract.pdf:extract",
    "ofd": "scanner.extract.ofd:extract",
    "xlsx": "scanner.extract.sheet:extract",
    "xls": "scanner.extract.sheet:extract",
    "ods": "scanner.extract.sheet:extract",
    "docx": "scanner.extract.docx:extract",
    "doc": "scanner.extract.doc:extract",
    "rtf": "scanner.extract.rtf:extract",
    "zip": "scanner.extract.archive:extract",
    "7z": "scanner.extract.archive:extract",
    "rar": "scanner.extract.archive:extract",
    # Pictures are read by OCR (the optional extra: without it they are skipped, saying so).
    "png": "scanner.extract.image:extract",
    "jpeg": "scanner.extract.image:extract",
    "gif": "scanner.extract.image:extract",
    "bmp": "scanner.extract.image:extract",
    "tiff": "scanner.extract.image:extract",
    "webp": "scanner.extract.image:extract",
}

#: Kinds we know but do not read (yet), with the reason an officer sees.
SKIP_REASONS: dict[str, str] = {
    "unknown": "不支持的文件类型",
    "empty": "空文件",
}

_loaded: dict[str, ExtractFn] = {}


def extractor_for(kind: str) -> ExtractFn:
    """Return the extract function for ``kind`` or raise :class:`Skip` saying why there is none."""
    fn = _loaded.get(kind)
    if fn is not None:
        return fn
    target = EXTRACTORS.get(kind)
    if target is None:
        raise Skip(SKIP_REASONS.get(kind, f"暂不支持 {kind} 格式"))
    module, _, name = target.partition(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except ImportError as exc:  # an optional library is not installed
        raise Skip(f"暂不支持 {kind} 格式：缺少组件 {exc.name or module}") from None
    _loaded[kind] = fn
    return fn


def extract(doc: Document, limits: Limits) -> tuple[str, Iterable[Item]]:
    """Sniff ``doc`` and return its kind and the (lazy) stream of what its extractor yields."""
    kind = sniff(doc)
    return kind, extractor_for(kind)(doc, limits)


__all__ = ["EXTRACTORS", "Item", "extract", "extractor_for", "sniff"]
