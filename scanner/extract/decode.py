"""Bytes → text for Chinese documents whose encoding is declared wrongly or not at all.

Order: BOM, then the declared charset (HTTP header or ``<meta charset>``) if it decodes without
replacement characters, then strict UTF-8, then charset-normalizer's guess, then GB18030.
gb2312/gbk are always read as gb18030, their superset (strict gb2312 fails on 镕 and others).
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SUPERSET = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030", "cp936": "gb18030",
             "euc-cn": "gb18030", "iso-8859-1": "windows-1252", "latin-1": "windows-1252", "ascii": "utf-8",
             "us-ascii": "utf-8"}
_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def canonical(encoding: str | None) -> str | None:
    """A Python codec name for a declared charset, with the Chinese supersets applied; None if unknown."""
    if not encoding:
        return None
    name = encoding.strip().strip("\"'").lower()
    name = _SUPERSET.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def charset_param(content_type: str) -> str | None:
    """The ``charset=`` parameter of a Content-Type value, or None."""
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return value.strip()
    return None


def meta_charset(head: bytes) -> str | None:
    """The charset an HTML page declares in its first bytes (``<meta charset>`` / http-equiv)."""
    m = _META.search(head[:8192])
    return m.group(1).decode("ascii", "replace") if m else None


def bom_encoding(data: bytes) -> str | None:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def detect_encoding(data: bytes, declared: str | None = None) -> str:
    """Choose the codec for ``data`` (a whole document or a large enough first block of it)."""
    bom = bom_encoding(data)
    if bom:
        return bom
    for candidate in (canonical(declared), "utf-8"):
        if candidate and _decodes_cleanly(data, candidate):
            return candidate
    guess = from_bytes(data[:262144]).best()
    if guess is not None:
        name = canonical(guess.encoding)
        if name and _decodes_cleanly(data, name):
            return name
    return "gb18030"


def decode(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode ``data``; returns (text, codec). Never raises: undecodable bytes become U+FFFD."""
    encoding = detect_encoding(data, declared)
    return data.decode(encoding, errors="replace"), encoding


def _decodes_cleanly(data: bytes, encoding: str) -> bool:
    try:
        # A block may end inside a multi-byte character: allow an incomplete tail.
        text = codecs.getincrementaldecoder(encoding)(errors="strict").decode(data, final=False)
    except (UnicodeDecodeError, LookupError):
        return False
    return "\ufffd" not in text
