"""Plain text and CSV: decode exactly, mask characters at their offsets, encode with the same codec.

The file is decoded with the codec the extractor would choose, undecodable bytes kept as
surrogate escapes, and the BOM kept aside; a file that does not encode back to its own bytes is
refused, so the copy differs from the original only in the masked characters.
"""

from __future__ import annotations

import codecs
import csv
import sys
from collections.abc import Iterator

from scanner.extract.csv import column_letters
from scanner.extract.decode import charset_param, detect_encoding
from scanner.model import Document, Location, Segment
from scanner.redact._core import Piece

_SAMPLE = 256 * 1024
_LINES_PER_PIECE_CHARS = 1 << 20
_INTERESTING_CHARS = frozenset(
    "0123456789０１２３４５６７８９" "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使"
)
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class NotLossless(Exception):
    """The bytes cannot be decoded and encoded back unchanged: rewriting them would alter the file."""


class Decoded:
    """A text file as ``bom + text.encode(codec, "surrogateescape")``, guaranteed to round-trip."""

    def __init__(self, data: bytes, encoding: str) -> None:
        self.bom = b""
        self.codec = codecs.lookup(encoding).name
        if self.codec in ("utf-8-sig", "utf-16", "utf-32"):
            for bom, name in _BOMS:
                if data.startswith(bom):
                    self.bom, self.codec = bom, name
                    break
            else:
                self.codec = {"utf-8-sig": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}[self.codec]
        body = data[len(self.bom):]
        try:
            self.text = body.decode(self.codec, errors="surrogateescape")
            if self.text.encode(self.codec, errors="surrogateescape") != body:
                raise NotLossless
        except (UnicodeError, LookupError):
            raise NotLossless from None

    def encode(self, text: str) -> bytes:
        """``text`` back to bytes with the original codec and BOM."""
        return self.bom + text.encode(self.codec, errors="surrogateescape")


def decode_text(doc: Document, data: bytes) -> Decoded:
    """Decode a text document as :mod:`scanner.extract.text` does."""
    declared = doc.content_type and charset_param(doc.content_type)
    return Decoded(data, detect_encoding(data[:_SAMPLE], declared))


def text_pieces(text: str, buffer: object = "text") -> Iterator[Piece]:
    """Whole-line pieces of about a megabyte, each knowing its first line number."""
    pos, line = 0, 1
    while pos < len(text):
        cut = text.find("\n", pos + _LINES_PER_PIECE_CHARS)
        cut = len(text) if cut < 0 else cut + 1
        chunk = text[pos:cut]
        yield Piece(Segment(chunk, Location(line=line)), buffer, pos)
        line += chunk.count("\n")
        pos = cut


# -- CSV ---------------------------------------------------------------------------------------

def csv_pieces(decoded: Decoded, data: bytes) -> list[Piece] | None:
    """One piece per cell, as :mod:`scanner.extract.csv` yields them, with each character's
    offset in the decoded text; None when this tokenizer and the csv module disagree."""
    text = decoded.text
    sample = data[:_SAMPLE].decode(detect_encoding(data[:_SAMPLE]), errors="replace")[:8192]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    try:
        expected = list(csv.reader(_lines(text), dialect))
    except csv.Error:
        return None
    rows = list(_tokenize(text, dialect))
    if [[value for value, _ in row] for row in rows] != expected:
        return None
    pieces: list[Piece] = []
    header: list[str] = []
    for row_no, row in enumerate(rows, start=1):
        if row_no == 1:
            row = [(v.lstrip("\ufeff"), s[len(v) - len(v.lstrip("\ufeff")):]) for v, s in row]
            if not any(ch.isdigit() for v, _ in row for ch in v):
                header = [v for v, _ in row]
                continue
        for col, (value, spans) in enumerate(row, start=1):
            if value and not _INTERESTING_CHARS.isdisjoint(value):
                location = Location(cell=f"{column_letters(col)}{row_no}", row=row_no, column=col)
                pieces.append(Piece(Segment(value, location, header[col - 1] if col <= len(header) else ""),
                                    "text", spans))
    return pieces


def _lines(text: str) -> Iterator[str]:
    # What a file object opened with newline="" yields: lines ending in \n, \r\n or a lone \r.
    pos = 0
    n = len(text)
    while pos < n:
        i = pos
        while i < n and text[i] not in "\r\n":
            i += 1
        if i < n:
            i += 2 if text[i] == "\r" and i + 1 < n and text[i + 1] == "\n" else 1
        yield text[pos:i]
        pos = i


def _tokenize(text: str, dialect: type[csv.Dialect] | csv.Dialect) -> Iterator[list[tuple[str, list[tuple[int, int]]]]]:
    """Rows of (value, per-character spans), following the csv module's parsing rules."""
    delim, quote = dialect.delimiter, dialect.quotechar or ""
    double, skip_space = dialect.doublequote, dialect.skipinitialspace
    escape = dialect.escapechar or ""
    n = len(text)
    i = 0
    while i < n:
        row: list[tuple[str, list[tuple[int, int]]]] = []
        if text[i] in "\r\n":  # an empty line is an empty row
            i += 2 if text.startswith("\r\n", i) else 1
            yield row
            continue
        while True:
            chars: list[str] = []
            spans: list[tuple[int, int]] = []
            if skip_space:
                while i < n and text[i] == " ":
                    i += 1
            if quote and i < n and text[i] == quote:
                i += 1
                while i < n:
                    c = text[i]
                    if escape and c == escape and i + 1 < n:
                        chars.append(text[i + 1])
                        spans.append((i + 1, i + 2))
                        i += 2
                    elif c == quote:
                        if double and i + 1 < n and text[i + 1] == quote:
                            chars.append(quote)
                            spans.append((i, i + 2))
                            i += 2
                        else:
                            i += 1
                            break
                    else:
                        chars.append(c)
                        spans.append((i, i + 1))
                        i += 1
            while i < n and text[i] != delim and text[i] not in "\r\n":
                if escape and text[i] == escape and i + 1 < n:
                    i += 1
                chars.append(text[i])
                spans.append((i, i + 1))
                i += 1
            row.append(("".join(chars), spans))
            if i < n and text[i] == delim:
                i += 1
                if i >= n:
                    row.append(("", []))
                    break
                continue
            break
        if i < n:
            i += 2 if text.startswith("\r\n", i) else 1
        yield row
