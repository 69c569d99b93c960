"""Text with a map back to its source: each character knows the source span it came from."""

from __future__ import annotations

import html
import re

from scanner.redact._core import Span

_ENTITY = re.compile(r"&(?:#[0-9]{1,8};?|#[xX][0-9a-fA-F]{1,8};?|[A-Za-z][A-Za-z0-9]{0,31};?)")
_XML_ENTITY = re.compile(r"&(?:#[0-9]{1,8};|#[xX][0-9a-fA-F]{1,8};|amp;|lt;|gt;|quot;|apos;)")
_XML_NAMED = {"amp;": "&", "lt;": "<", "gt;": ">", "quot;": '"', "apos;": "'"}
_SPACE = frozenset(" \t\r\f\v\u00a0")


class Flow:
    """Characters and their source spans, built piece by piece."""

    __slots__ = ("chars", "spans")

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.spans: list[Span] = []

    def __len__(self) -> int:
        return len(self.chars)

    def raw(self, text: str, base: int) -> None:
        """Append ``text`` that sits, one for one, at ``base`` in the source."""
        self.chars.extend(text)
        self.spans.extend((base + i, base + i + 1) for i in range(len(text)))

    def synthetic(self, text: str) -> None:
        """Append characters that have no place in the source (a tab for ``<w:tab/>``)."""
        self.chars.extend(text)
        self.spans.extend([None] * len(text))

    def html_text(self, text: str, base: int) -> None:
        """Append HTML character data, decoding character references."""
        self._decoded(text, base, _ENTITY, html.unescape)

    def xml_text(self, text: str, base: int) -> None:
        """Append XML character data, decoding the predefined and numeric references."""
        self._decoded(text, base, _XML_ENTITY, _xml_unescape)

    def _decoded(self, text: str, base: int, pattern: re.Pattern[str], unescape: object) -> None:
        if "&" not in text:
            self.raw(text, base)
            return
        pos = 0
        for m in pattern.finditer(text):
            self.raw(text[pos:m.start()], base + pos)
            decoded = unescape(m.group())  # type: ignore[operator]
            if decoded == m.group():
                self.raw(decoded, base + m.start())
            else:
                self.chars.extend(decoded)
                self.spans.extend([(base + m.start(), base + m.end())] * len(decoded))
            pos = m.end()
        self.raw(text[pos:], base + pos)

    def text(self) -> str:
        return "".join(self.chars)

    def extend(self, other: Flow) -> None:
        self.chars.extend(other.chars)
        self.spans.extend(other.spans)

    def collapsed(self) -> Flow:
        """Runs of spaces, tabs and no-break spaces as one space, ends stripped (HTML line rule)."""
        out = Flow()
        i, n = 0, len(self.chars)
        while i < n:
            c = self.chars[i]
            if c in _SPACE:
                j = i
                while j < n and self.chars[j] in _SPACE:
                    j += 1
                out.chars.append(" ")
                out.spans.append(None)
                i = j
            else:
                out.chars.append(c)
                out.spans.append(self.spans[i])
                i += 1
        start = 0
        while start < len(out.chars) and out.chars[start].isspace():
            start += 1
        del out.chars[:start], out.spans[:start]
        while out.chars and out.chars[-1].isspace():
            out.chars.pop()
            out.spans.pop()
        return out


def _xml_unescape(ref: str) -> str:
    body = ref[1:]
    if body in _XML_NAMED:
        return _XML_NAMED[body]
    try:
        code = int(body[2:-1], 16) if body[1] in "xX" else int(body[1:-1])
        return chr(code)
    except (ValueError, OverflowError):
        return ref
