"""Decode fetched pages for link extraction.

Order: BOM → the HTTP charset (dropped when it yields replacement characters) → ``<meta charset>``
→ charset-normalizer → GB18030. gb2312/gbk are read as gb18030, their superset. The source stage
comes before extraction, so this is a small copy of the rule ``scanner.extract.decode`` applies.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_SUPERSET = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030", "euc-cn": "gb18030",
             "gb_2312-80": "gb18030", "iso-8859-1": "windows-1252", "latin-1": "windows-1252", "ascii": "utf-8",
             "us-ascii": "utf-8"}
_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_\-]+)""")


def codec(name: str | None) -> str | None:
    """A Python codec for a declared charset (Chinese supersets applied), or None if unknown."""
    if not name:
        return None
    key = name.strip().strip("\"'").lower()
    try:
        return codecs.lookup(_SUPERSET.get(key, key)).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    """The ``charset=`` parameter of a Content-Type header value."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return value.strip()
    return None


def _clean(data: bytes, name: str) -> str | None:
    try:
        text = data.decode(name)
    except (UnicodeDecodeError, LookupError):
        return None
    return None if "\ufffd" in text else text


def decode_page(data: bytes, content_type: str | None = None) -> str:
    """Decode an HTML/XML/JSON body; never raises."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace")
    head = data[:4096]
    meta = _META.search(head) or _XML_DECL.search(head)
    for declared in (header_charset(content_type), meta.group(1).decode("ascii") if meta else None, "utf-8"):
        name = codec(declared)
        if name:
            text = _clean(data, name)
            if text is not None:
                return text
    guess = from_bytes(data[:262144]).best()
    name = codec(guess.encoding) if guess is not None else None
    if name:
        text = _clean(data, name)
        if text is not None:
            return text
    return data.decode("gb18030", errors="replace")
