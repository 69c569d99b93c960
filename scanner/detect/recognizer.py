"""One presidio recognizer per rule.

:class:`RuleRecognizer` is a presidio ``PatternRecognizer``: its ``patterns`` are the rule's,
``validate_result`` is the rule's named validator, and ``analyze`` returns presidio
``RecognizerResult`` objects, so the rule pack also plugs into a conventional ``AnalyzerEngine``.
Three things differ from the stock class, for Chinese documents and for speed:

* all of a rule's patterns run as one compiled alternation (one pass over the text, not one per
  pattern), and only the named ``value`` group becomes the result span;
* each result carries in ``recognition_metadata`` the normalized value and its exposure
  (``unmasked``/``partial``); values masked as the rule's policy requires are dropped here;
* :meth:`RuleRecognizer.scan` is the allocation-light core the detection engine calls on small
  candidate windows: it returns plain tuples, and builds nothing for a match its validator
  rejects. :meth:`RuleRecognizer.prefilter` describes where a match can start (the classes of
  its first two characters), so the engine can find candidate windows for every rule in one
  fast pass instead of running every rule over the whole text.

The alternation is compiled by the standard library's ``re`` when the rule's syntax allows it
(``value`` groups renamed per branch; it is several times faster on short windows) and by
``regex`` otherwise. A full-text scan (``analyze`` on a whole text) runs under ``regex`` with a
match timeout, as a guard against a pathological pattern in a user's rule pack.

Nothing is downloaded: no NLP engine is involved (presidio's lemma-based context enhancer does
not work on Chinese; :mod:`scanner.detect.engine` scores context by character distance instead).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from re import _constants as _sre  # type: ignore[attr-defined]
from re import _parser as _sre_parse  # type: ignore[attr-defined]
from typing import Any, NamedTuple

import regex
from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

from scanner.detect.rules import PatternSpec, Rule
from scanner.detect.validators import MASK

log = logging.getLogger(__name__)

REGEX_TIMEOUT_SECONDS = 5.0

# Metadata keys carried on each RecognizerResult.
NORMALIZED = "leakscan_value"
EXPOSURE = "leakscan_exposure"
PATTERN = "leakscan_pattern"
REQUIRES = "leakscan_requires_context"


class Hit(NamedTuple):
    """A validated match: span in the scanned string, the pattern that found it, the verdict."""

    start: int
    end: int
    spec: PatternSpec
    value: str
    exposure: str


class Prefilter(NamedTuple):
    """Where a rule's match can start: ``first`` holds every possible first character; ``second``
    every possible second one (None when a match may be one character long); ``max_width`` is the
    longest match (lookarounds excluded)."""

    first: frozenset[str]
    second: frozenset[str] | None
    max_width: int
    #: Characters that, right before a position, rule out a match there (every branch of the
    #: pattern opens with a one-character negative look-behind holding them).
    not_after: frozenset[str] = frozenset()
    #: ``first`` split into groups of characters that share the same possible second characters
    #: (None: a match may be one character long), e.g. plates: a province character and then a
    #: letter or a space; 使 and then a digit.
    pairs: tuple[tuple[frozenset[str], frozenset[str] | None], ...] = ()


def _positions(region: tuple[int, int], length: int) -> range:
    """1-based inclusive [a, b] (negative counts from the end) → 0-based range for ``length``."""
    a, b = region
    a = a - 1 if a > 0 else length + a
    b = b if b > 0 else length + b + 1
    return range(max(a, 0), min(b, length))


class RuleRecognizer(PatternRecognizer):
    """A presidio recognizer built from one :class:`~scanner.detect.rules.Rule`."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        super().__init__(
            supported_entity=rule.entity,
            name=rule.id,
            supported_language="zh",
            patterns=[Pattern(p.name, p.regex, p.score) for p in rule.patterns],
            context=list(rule.context_positive),
            global_regex_flags=0,
        )
        self._specs = rule.patterns
        # One alternation, one branch per pattern; the branch that matched tells which spec applies.
        branches = [f"(?P<p{i}>{p.regex})" for i, p in enumerate(rule.patterns)]
        self._combined = regex.compile("|".join(branches), flags=regex.VERSION0)
        self._fast: re.Pattern[str] | None = None
        self._value_groups: list[int] = []
        self._branch_of: dict[int, int] = {}
        try:
            # The standard library refuses a repeated group name: each branch gets its own.
            fast = re.compile("|".join(
                f"(?P<p{i}>{p.regex.replace('(?P<value>', f'(?P<v{i}>')})" for i, p in enumerate(rule.patterns)))
            if all(f"v{i}" in fast.groupindex for i in range(len(rule.patterns))):
                self._fast = fast
        except (re.error, OverflowError, RecursionError):
            self._fast = None  # regex-only syntax (\p{Han}, variable look-behind …): use regex
        self.prefilter = _derive_prefilter(self._fast.pattern) if self._fast is not None else None
        #: Every character the patterns name (None: some class is open-ended, like ``.`` or ``[^…]``).
        self.alphabet = _alphabet(self._fast.pattern) if self._fast is not None else None
        self._guard = ""
        # display(): per value length, where the mask goes (for the rule's mask_display).
        self._display_of: tuple[int, int] | None = None
        self._display_cuts: dict[int, tuple[int, int, str] | tuple[()]] = {}
        if self._fast is not None and self.prefilter is not None:
            # A leading look-ahead on the first two characters (semantically void: every match
            # starts so) lets the standard library reject most positions with one test.
            pf = self.prefilter
            self._guard = (f"(?<!{_char_class(pf.not_after)})" if pf.not_after else "") + \
                f"(?={_char_class(pf.first)}{_char_class(pf.second) if pf.second else ''})"
            self._fast = re.compile(f"{self._guard}(?:{self._fast.pattern})")
        if self._fast is not None:
            self._value_groups = [self._fast.groupindex[f"v{i}"] for i in range(len(rule.patterns))]
            self._branch_of = {self._fast.groupindex[f"p{i}"]: i for i in range(len(rule.patterns))}

    # presidio hooks -------------------------------------------------------------------------
    def validate_result(self, pattern_text: str) -> bool | None:
        """presidio's checksum hook: True (valid, score → 1.0) or False (dropped)."""
        return self.judge(pattern_text) is not None

    def analyze(self, text: str, entities: list[str] | None = None, nlp_artifacts: Any = None,
                regex_flags: int | None = None, windows: Sequence[tuple[int, int]] | None = None
                ) -> list[RecognizerResult]:
        """Find this rule's values in ``text`` (see module docstring); with ``windows``, only
        matches lying inside those (start, end) spans are looked for."""
        if entities and self.rule.entity not in entities:
            return []
        if windows is None:
            hits = self.scan(text, timeout=REGEX_TIMEOUT_SECONDS)
        else:
            seen: set[tuple[int, int]] = set()
            hits = []
            for a, b in windows:
                for h in self.scan(text, a, b):
                    if (h.start, h.end) not in seen:
                        seen.add((h.start, h.end))
                        hits.append(h)
        return [self.result(h) for h in hits]

    def result(self, hit: Hit) -> RecognizerResult:
        """The presidio result for a :class:`Hit`."""
        return RecognizerResult(
            entity_type=self.rule.entity,
            start=hit.start,
            end=hit.end,
            score=hit.spec.score,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                NORMALIZED: hit.value,
                EXPOSURE: hit.exposure,
                PATTERN: hit.spec.name,
                REQUIRES: hit.spec.requires_context,
            },
        )

    # the engine's core ----------------------------------------------------------------------
    def scan(self, text: str, pos: int = 0, endpos: int | None = None, *,
             timeout: float | None = None, offset: int = 0) -> list[Hit]:
        """Validated matches starting at or after ``pos`` and ending by ``endpos``.

        Characters before ``pos`` are seen by look-behinds. With ``timeout`` the scan runs under
        ``regex`` with that match timeout; a timed-out scan logs a warning and returns what it found.
        ``offset`` is added to the hits' spans (``text`` being a slice of a longer text).
        """
        endpos = len(text) if endpos is None else endpos
        hits: list[Hit] = []
        if timeout is None and self._fast is not None:
            for m in self._fast.finditer(text, pos, endpos):
                i = self._branch_of[m.lastindex]  # type: ignore[index]
                start, end = m.span(self._value_groups[i])
                hit = self._hit(text, start, end, i, offset)
                if hit is not None:
                    hits.append(hit)
            return hits
        try:
            for m in self._combined.finditer(text, pos, endpos, timeout=timeout):
                start, end = m.span("value")
                if start < 0:
                    continue
                hit = self._hit(text, start, end, self._branch(m), offset)
                if hit is not None:
                    hits.append(hit)
        except TimeoutError:
            log.warning("rule %s: pattern matching timed out; the rest of this text was not checked by it", self.name)
        return hits

    def spans(self, text: str, endpos: int | None = None) -> list[tuple[int, int, int]]:
        """``(start, end, pattern index)`` of every ``value`` this rule's patterns match in
        ``text`` (up to ``endpos``, as if the text ended there), not yet validated (see
        :meth:`hit`)."""
        if endpos is None:
            endpos = len(text)
        if self._fast is not None:
            groups, branch_of = self._value_groups, self._branch_of
            out = []
            for m in self._fast.finditer(text, 0, endpos):
                i = branch_of[m.lastindex]  # type: ignore[index]
                start, end = m.span(groups[i])
                out.append((start, end, i))
            return out
        found = []
        for m in self._combined.finditer(text, 0, endpos):
            start, end = m.span("value")
            if start >= 0:
                found.append((start, end, self._branch(m)))
        return found

    def hit(self, text: str, start: int, end: int, pattern: int, offset: int = 0) -> Hit | None:
        """The validated :class:`Hit` for a span found by :meth:`spans` (None if rejected):
        :meth:`judge`, with its common case (no mask) inline, as this runs per match."""
        spec = self._specs[pattern]
        validator = self.rule.validator
        value = validator.normalize(text[start:end])
        if MASK not in value:
            if spec.masked or not validator.is_valid(value):
                return None  # an unmasked value is the unmasked branch's to report
            return Hit(start + offset, end + offset, spec, value, "unmasked")
        exposure = self._masked_exposure(value, spec.masked)
        return None if exposure is None else Hit(start + offset, end + offset, spec, value, exposure)

    def match_at(self, text: str, pos: int, offset: int = 0) -> tuple[int, Hit | None] | None:
        """The match starting exactly at ``pos`` (None if there is none) as ``(match end, hit)``;
        ``hit`` is None when the validator rejects it. Needs the standard-library pattern."""
        assert self._fast is not None
        m = self._fast.match(text, pos)
        if m is None:
            return None
        i = self._branch_of[m.lastindex]  # type: ignore[index]
        start, end = m.span(self._value_groups[i])
        return m.end() + offset, self._hit(text, start, end, i, offset)

    _hit = hit

    def _branch(self, m: regex.Match[str]) -> int:
        return next(i for i in range(len(self._specs)) if m.group(f"p{i}") is not None)

    # our own logic --------------------------------------------------------------------------
    def judge(self, raw: str, *, masked_pattern: bool | None = None) -> tuple[str, str] | None:
        """Normalize ``raw`` and decide: ``(value, "unmasked"|"partial")`` or None (no finding).

        A value masked as the policy requires is no finding; a value with masks that still shows
        what the policy hides is ``partial``.
        """
        validator = self.rule.validator
        value = validator.normalize(raw)
        if MASK not in value:
            if masked_pattern:
                return None  # the unmasked branch reports it
            return (value, "unmasked") if validator.is_valid(value) else None
        exposure = self._masked_exposure(value, masked_pattern)
        return None if exposure is None else (value, exposure)

    def _masked_exposure(self, value: str, masked_pattern: bool | None) -> str | None:
        """:meth:`judge` of a normalized ``value`` holding a mask: "partial" or None."""
        if masked_pattern is False or not self.rule.validator.is_plausible_masked(value):
            return None
        region = _positions(self.rule.mask_region, len(value))
        masked = value.count(MASK, region.start, region.stop)
        needed = self.rule.mask_min if self.rule.mask_min is not None else len(region)
        if masked >= needed:
            return None
        return "partial"

    def display(self, value: str) -> str:
        """The value as a report may show it: the policy's display region masked."""
        display = self.rule.mask_display
        if display is not self._display_of:  # first call, or the rule was changed
            self._display_of, self._display_cuts = display, {}
        cut = self._display_cuts.get(len(value))
        if cut is None:
            region = _positions(display, len(value))
            cut = self._display_cuts[len(value)] = (region.start, region.stop, MASK * len(region)) if region else ()
        if not cut:
            return value
        return value[:cut[0]] + cut[2] + value[cut[1]:]


# -- prefilter derivation --------------------------------------------------------------------------

def _char_class(chars: frozenset[str]) -> str:
    """A character class of exactly ``chars``."""
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


class _Unbounded(Exception):
    """The pattern's start cannot be described by two finite character classes."""


_MAX_CLASS = 4096  # characters; a wider class (a negated one, ``.``) makes a useless prefilter
_MAX_STEPS = 2000
_CASE_FLAGS = re.IGNORECASE | re.LOCALE
_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT))


def _derive_prefilter(pattern: str) -> Prefilter | None:
    """The :class:`Prefilter` of a standard-library ``pattern``, or None when it cannot be derived
    (a match may be empty or start with any character, a class is too wide, a back-reference …)."""
    try:
        parsed = _sre_parse.parse(pattern)
        if parsed.state.flags & _CASE_FLAGS:
            return None
        width = parsed.getwidth()[1]
        if width >= _sre.MAXREPEAT or width > 256:
            return None
        steps = [0]
        prefixes = _prefixes(list(parsed.data), 2, steps)
    except (_Unbounded, re.error, RecursionError, ValueError, TypeError):
        return None
    if not prefixes or any(len(p) == 0 for p in prefixes):
        return None  # an empty match is possible
    first = frozenset().union(*(p[0] for p in prefixes))
    second = None if any(len(p) == 1 for p in prefixes) else frozenset().union(*(p[1] for p in prefixes))
    follows: dict[str, frozenset[str] | None] = {}
    for p in prefixes:
        for c in p[0]:
            if len(p) == 1 or follows.get(c, frozenset()) is None:
                follows[c] = None
            else:
                follows[c] = follows.get(c, frozenset()) | p[1]  # type: ignore[operator]
    groups: dict[frozenset[str] | None, set[str]] = {}
    for c, nxt in follows.items():
        groups.setdefault(nxt, set()).add(c)
    pairs = tuple(sorted(((frozenset(cs), nxt) for nxt, cs in groups.items()), key=lambda g: sorted(g[0])))
    return Prefilter(first, second, width, _common_lookbehind(list(parsed.data)), pairs)


def _common_lookbehind(items: list[Any]) -> frozenset[str]:
    """The characters every way through ``items`` rules out right before the match with a
    leading one-character negative look-behind (empty when some way has none)."""
    if not items:
        return frozenset()
    op, av = items[0]
    if op is _sre.SUBPATTERN and not av[1] & _CASE_FLAGS:
        return _common_lookbehind(list(av[-1].data) + items[1:])
    if op is _sre.BRANCH:
        common: frozenset[str] | None = None
        for alt in av[1]:
            chars = _common_lookbehind(list(alt.data) + items[1:])
            common = chars if common is None else common & chars
        return common or frozenset()
    if op is _sre.ASSERT_NOT and av[0] < 0 and len(av[1].data) == 1 and av[1].data[0][0] in (_sre.LITERAL, _sre.IN):
        try:
            return _charset(*av[1].data[0])
        except _Unbounded:
            return frozenset()
    return frozenset()


def _alphabet(pattern: str) -> frozenset[str] | None:
    """Every character a standard-library ``pattern`` names in a literal or a class, or None when
    it also tests characters by category or by exclusion (``\\d``, ``.``, ``[^…]``)."""
    chars: set[str] = set()

    def walk(items: Any) -> None:
        for op, av in items:
            if op in (_sre.LITERAL, _sre.IN):
                chars.update(_charset(op, av))
            elif op in (_sre.AT, _sre.MARK, _sre.FAILURE, _sre.SUCCESS):
                continue
            elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
                walk(av[1].data)
            elif op is _sre.SUBPATTERN:
                if av[1] & _CASE_FLAGS:
                    raise _Unbounded
                walk(av[-1].data)
            elif op is _sre.BRANCH:
                for alt in av[1]:
                    walk(alt.data)
            elif op in _REPEATS:
                walk(av[2].data)
            elif op is getattr(_sre, "ATOMIC_GROUP", None):
                walk(av.data)
            else:
                raise _Unbounded

    try:
        parsed = _sre_parse.parse(pattern)
        if parsed.state.flags & _CASE_FLAGS:
            return None
        walk(parsed.data)
    except (_Unbounded, re.error, RecursionError, ValueError, TypeError):
        return None
    return frozenset(chars)


def _charset(op: Any, av: Any) -> frozenset[str]:
    """The characters one LITERAL or IN item accepts."""
    if op is _sre.LITERAL:
        return frozenset(chr(av))
    if op is not _sre.IN:
        raise _Unbounded
    chars: set[str] = set()
    for item_op, item_av in av:
        if item_op is _sre.LITERAL:
            chars.add(chr(item_av))
        elif item_op is _sre.RANGE:
            lo, hi = item_av
            if hi - lo > _MAX_CLASS:
                raise _Unbounded
            chars.update(map(chr, range(lo, hi + 1)))
        else:  # NEGATE, CATEGORY (\d, \w …), CHARSET: not a small finite set
            raise _Unbounded
        if len(chars) > _MAX_CLASS:
            raise _Unbounded
    return frozenset(chars)


def _prefixes(items: list[Any], k: int, steps: list[int]) -> set[tuple[frozenset[str], ...]]:
    """Every tuple of the first ``k`` character classes a match of ``items`` can begin with
    (shorter tuples where a match can end sooner)."""
    steps[0] += 1
    if steps[0] > _MAX_STEPS:
        raise _Unbounded
    if k == 0 or not items:
        return {()}
    (op, av), rest = items[0], items[1:]
    if op in (_sre.LITERAL, _sre.IN):
        head = _charset(op, av)
        return {(head, *p) for p in _prefixes(rest, k - 1, steps)}
    if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
        return _prefixes(rest, k, steps)  # zero-width: it only narrows what follows
    if op is _sre.SUBPATTERN:
        if av[1] & _CASE_FLAGS:
            raise _Unbounded
        return _prefixes(list(av[-1].data) + rest, k, steps)
    if op is _sre.BRANCH:
        out: set[tuple[frozenset[str], ...]] = set()
        for alt in av[1]:
            out |= _prefixes(list(alt.data) + rest, k, steps)
        return out
    if op in _REPEATS:
        lo, hi, sub = av
        if hi == 0:
            return _prefixes(rest, k, steps)
        again = [(op, (max(lo - 1, 0), hi - 1 if hi < _sre.MAXREPEAT else hi, sub))]
        body = _prefixes(list(sub.data) + again + rest, k, steps)
        return body if lo > 0 else body | _prefixes(rest, k, steps)
    if op is getattr(_sre, "ATOMIC_GROUP", None):
        return _prefixes(list(av.data) + rest, k, steps)
    raise _Unbounded  # ANY, NOT_LITERAL, back-references …
