"""One presidio recognizer per rule.

:class:`RuleRecognizer` is a presidio ``PatternRecognizer``: its ``patterns`` are the rule's,
``validate_result`` is the rule's named validator, and ``analyze`` returns presidio
``RecognizerResult`` objects, so the rule pack also plugs into a conventional ``AnalyzerEngine``.
Two things differ from the stock class, both for Chinese documents and for speed:

* all of a rule's patterns run as one compiled alternation (one pass over the text, not one per
  pattern), with a match timeout, and only the named ``value`` group becomes the result span;
* each result carries in ``recognition_metadata`` the normalized value and its exposure
  (``unmasked``/``partial``); values masked as the rule's policy requires are dropped here.

Nothing is downloaded: no NLP engine is involved (presidio's lemma-based context enhancer does
not work on Chinese; :mod:`scanner.detect.engine` scores context by character distance instead).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import regex
from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

from scanner.detect.rules import Rule
from scanner.detect.validators import MASK

log = logging.getLogger(__name__)

REGEX_TIMEOUT_SECONDS = 5.0

# Metadata keys carried on each RecognizerResult.
NORMALIZED = "leakscan_value"
EXPOSURE = "leakscan_exposure"
PATTERN = "leakscan_pattern"
REQUIRES = "leakscan_requires_context"


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
        # One alternation, one branch per pattern; the branch that matched tells which spec applies.
        branches = [f"(?P<p{i}>{p.regex})" for i, p in enumerate(rule.patterns)]
        self._combined = regex.compile("|".join(branches), flags=regex.VERSION0)
        self._specs = rule.patterns

    # presidio hooks -------------------------------------------------------------------------
    def validate_result(self, pattern_text: str) -> bool | None:
        """presidio's checksum hook: True (valid, score → 1.0) or False (dropped)."""
        return self.judge(pattern_text) is not None

    def analyze(self, text: str, entities: list[str] | None = None, nlp_artifacts: Any = None,
                regex_flags: int | None = None, windows: Sequence[tuple[int, int]] | None = None
                ) -> list[RecognizerResult]:
        """Find this rule's values in ``text`` (see module docstring); with ``windows``, only
        matches starting inside those (start, end) spans are looked for."""
        if entities and self.rule.entity not in entities:
            return []
        if windows is None:
            matches: Iterable[tuple[int, regex.Match[str]]] = (
                (0, m) for m in self._combined.finditer(text, timeout=REGEX_TIMEOUT_SECONDS))
        else:
            # Look-behinds see before ``a`` (regex semantics); windows start a few characters early.
            # Windows are a few dozen characters, so no timeout is needed (it costs a third here).
            matches = ((0, m) for a, b in windows for m in self._combined.finditer(text, a, b))
        results: list[RecognizerResult] = []
        seen: set[tuple[int, int]] = set()
        try:
            for offset, m in matches:
                start, end = m.span("value")
                if start < 0:
                    continue
                start, end = start + offset, end + offset
                if (start, end) in seen:
                    continue
                seen.add((start, end))
                spec = self._specs[self._branch(m)]
                verdict = self.judge(text[start:end], masked_pattern=spec.masked)
                if verdict is None:
                    continue
                value, exposure = verdict
                results.append(
                    RecognizerResult(
                        entity_type=self.rule.entity,
                        start=start,
                        end=end,
                        score=spec.score,
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                            NORMALIZED: value,
                            EXPOSURE: exposure,
                            PATTERN: spec.name,
                            REQUIRES: spec.requires_context,
                        },
                    )
                )
        except TimeoutError:
            log.warning("rule %s: pattern matching timed out; the rest of this text was not checked by it", self.name)
        return results

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
        if masked_pattern is False or not validator.is_plausible_masked(value):
            return None
        region = _positions(self.rule.mask_region, len(value))
        masked = sum(1 for i in region if value[i] == MASK)
        needed = self.rule.mask_min if self.rule.mask_min is not None else len(region)
        if masked >= needed:
            return None
        return value, "partial"

    def display(self, value: str) -> str:
        """The value as a report may show it: the policy's display region masked."""
        chars = list(value)
        for i in _positions(self.rule.mask_display, len(chars)):
            chars[i] = MASK
        return "".join(chars)
