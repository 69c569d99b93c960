"""The format-independent half of redaction: mask policy, detection on mapped text, edits.

A format walks its source into :class:`Piece` objects: a :class:`Segment` (what the detector sees)
plus, for every character of the segment's text, where that character lives in one of the
format's writable buffers (a decoded text, an XML part). Findings are turned into one-character
edits in those buffers, so everything outside the masked characters stays as it was.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.detect.engine import Detector, fingerprint, fold
from scanner.detect.rules import Rule
from scanner.detect.validators import MASK, strip_separators
from scanner.model import Location, Segment

#: Detection runs in batches of about this many characters (one regex pass per rule per batch).
BATCH_CHARS = 1 << 20

#: A character's place in its buffer: ``(start, end)``; ``None`` for a character the walk made up
#: (a tab for ``<w:tab/>``, a space collapsed from several) that cannot be rewritten.
Span = tuple[int, int] | None


@dataclass(slots=True)
class Piece:
    """A segment of text and where each of its characters sits in a writable buffer.

    ``spans`` is either an int (character ``i`` is ``buffer[spans + i]``, one for one) or a
    sequence of :data:`Span` (an entity such as ``&#49;`` is one character spanning several).
    """

    segment: Segment
    buffer: Hashable
    spans: int | Sequence[Span]

    def span(self, i: int) -> Span:
        if isinstance(self.spans, int):
            return (self.spans + i, self.spans + i + 1)
        return self.spans[i]


@dataclass(slots=True)
class Plan:
    """What to change: per buffer, ``start → (end, replacement)``, and the masked values."""

    edits: dict[Hashable, dict[int, tuple[int, str]]] = field(default_factory=dict)
    masked: list[dict[str, Any]] = field(default_factory=list)
    _seen: set[tuple[Any, ...]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.edits)


def _positions(region: tuple[int, int], length: int) -> range:
    """1-based inclusive [a, b] (negative counts from the end) → 0-based range for ``length``."""
    a, b = region
    a = a - 1 if a > 0 else length + a
    b = b if b > 0 else length + b + 1
    return range(max(a, 0), min(b, length))


def mask_positions(rule: Rule, raw: str) -> list[int]:
    """Indexes into ``raw`` (a matched value as written) of the characters the policy hides and
    that are not hidden yet.

    The policy counts characters of the normalized value (separators removed). The display
    region is masked; if that does not reach what the rule demands (``min_masked``, else the whole
    region), region characters are added from the end until it does.
    """
    chars = [i for i, c in enumerate(raw) if strip_separators(c)]
    value = rule.validator.normalize(fold(raw))
    if len(value) != len(chars):  # a validator that is not one for one: mask every character
        return [i for i in chars if raw[i] not in "*＊"]
    region = _positions(rule.mask_region, len(value))
    wanted = set(_positions(rule.mask_display, len(value)))
    needed = rule.mask_min if rule.mask_min is not None else len(region)
    hidden = {i for i in range(len(value)) if value[i] == MASK} | wanted
    for i in reversed(region):
        if sum(1 for j in region if j in hidden) >= needed:
            break
        hidden.add(i)
        wanted.add(i)
    return sorted(chars[i] for i in wanted if value[i] != MASK)


def mask_char(original: str) -> str:
    """The masking character written over ``original``: full-width for a full-width character."""
    return "＊" if "\uff01" <= original <= "\uff5e" else "*"


def masked_form(rule: Rule, raw: str) -> str:
    """``raw`` with the policy applied (used for cells rewritten whole)."""
    chars = list(raw)
    for i in mask_positions(rule, raw):
        chars[i] = mask_char(chars[i])
    return "".join(chars)


def _relocate(segment: Segment, start: int, end: int) -> dict[str, Any]:
    """The report location of ``segment.text[start:end]`` (as the detector would give it)."""
    loc = segment.location
    text = segment.text
    line = loc.line
    if line is not None and "\n" in text:
        nl = text.rfind("\n", 0, start)
        line += text.count("\n", 0, start)
        start, end = start - (nl + 1), end - (nl + 1)
    out = loc.to_dict(start, end)
    out["line"] = line
    return out


def _batches(pieces: Sequence[Piece]) -> Iterable[range]:
    first, size = 0, 0
    for i, p in enumerate(pieces):
        size += len(p.segment.text) + 1
        if size >= BATCH_CHARS:
            yield range(first, i + 1)
            first, size = i + 1, 0
    if first < len(pieces):
        yield range(first, len(pieces))


def plan(detector: Detector, pieces: Sequence[Piece], source: str, parent: str | None = None,
         extra: dict[str, str] | None = None) -> Plan:
    """Detect in ``pieces`` and plan the edits that mask every finding to its rule's policy.

    ``extra`` maps raw values (found by a re-scan of an earlier copy, e.g. where this walk cut
    the text differently from the extractor) to their rule id: every occurrence is masked too.
    """
    result = Plan()
    for batch in _batches(pieces):
        # Stand-in locations: the index comes back in ``part`` and offsets are absolute.
        proxies = [Segment(pieces[i].segment.text, Location(part=str(i)), pieces[i].segment.header)
                   for i in batch]
        for f in detector.detect_many(proxies, source, parent):
            i = int(f.location["part"])
            start, end = f.location["start"], f.location["end"]
            _mask(result, detector.rules[f.rule], pieces[i], start, end, f.fingerprint, f.entity)
    if extra:
        for raw, rule_id in extra.items():
            rule = detector.rules[rule_id]
            value = rule.validator.normalize(fold(raw))
            fp = fingerprint(detector.key, value)
            for piece in pieces:
                text = piece.segment.text
                at = text.find(raw)
                while at >= 0:
                    _mask(result, rule, piece, at, at + len(raw), fp, rule.entity)
                    at = text.find(raw, at + len(raw))
    return result


def _mask(result: Plan, rule: Rule, piece: Piece, start: int, end: int, fp: str, entity: str) -> None:
    raw = piece.segment.text[start:end]
    for i in mask_positions(rule, raw):
        span = piece.span(start + i)
        if span is None:
            continue
        edits = result.edits.setdefault(piece.buffer, {})
        edits[span[0]] = (span[1], mask_char(raw[i]))
    location = _relocate(piece.segment, start, end)
    # One entry per value per place: a shared string used by two cells is two entries, a value
    # found twice in the same place (by detection and by a re-scan) is one.
    key = (piece.buffer, piece.span(start), fp, repr(sorted(location.items())))
    if key not in result._seen:
        result._seen.add(key)
        result.masked.append({"fingerprint": fp, "entity": entity, "rule": rule.id, "location": location})


def apply(text: str, edits: dict[int, tuple[int, str]] | None) -> str:
    """``text`` with each ``start → (end, replacement)`` edit made (non-overlapping, any order)."""
    if not edits:
        return text
    out: list[str] = []
    pos = 0
    for start in sorted(edits):
        end, repl = edits[start]
        if start < pos:
            continue
        out.append(text[pos:start])
        out.append(repl)
        pos = end
    out.append(text[pos:])
    return "".join(out)
