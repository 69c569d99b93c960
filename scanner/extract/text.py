"""Plain text in any common Chinese encoding, read in blocks of whole lines (bounded memory)."""

from __future__ import annotations

import codecs
from collections.abc import Iterator

from scanner.config import Limits
from scanner.extract.decode import charset_param, detect_encoding
from scanner.model import Document, Location, Segment

BLOCK = 4 * 1024 * 1024
_SAMPLE = 256 * 1024


def extract(doc: Document, limits: Limits) -> Iterator[Segment]:
    """Yield the text as segments of whole lines, each knowing its first line number."""
    with doc.open() as fh:
        head = fh.read(_SAMPLE)
        encoding = detect_encoding(head, doc.content_type and charset_param(doc.content_type))
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        line = 1
        pending = decoder.decode(head)
        while True:
            block = fh.read(BLOCK)
            final = not block
            pending += decoder.decode(block, final=final)
            cut = len(pending) if final else pending.rfind("\n") + 1
            if cut == 0 and len(pending) > 2 * BLOCK:  # one enormous line: cut between words
                cut = max(pending.rfind(c, 0, len(pending) - 64) for c in " \t，。；,;") + 1
            if cut > 0:
                chunk = pending[:cut]
                if encoding == "utf-8-sig" and line == 1:
                    chunk = chunk.lstrip("\ufeff")
                yield Segment(chunk, Location(line=line))
                line += chunk.count("\n")
                pending = pending[cut:]
            if final:
                return

