"""What a :class:`~scanner.detect.engine.Detector` is built from, without building it.

Building a detector imports presidio-analyzer (and spaCy with it): about a second of one core. A
process that only hands documents to worker processes (a crawl's fetching and bookkeeping) never
needs one; the workers build theirs from this spec, which is small and picklable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scanner.detect.rules import Rule

if TYPE_CHECKING:
    from scanner.detect.engine import Detector


@dataclass(frozen=True)
class DetectorSpec:
    """The loaded rules, the fingerprint key, and whether findings carry raw values."""

    rules: tuple[Rule, ...]
    key: bytes
    include_values: bool = False

    @classmethod
    def of(cls, rules: Iterable[Rule], key: bytes, include_values: bool = False) -> DetectorSpec:
        return cls(tuple(rules), key, include_values)

    def build(self) -> Detector:
        from scanner.detect.engine import Detector

        detector = Detector(self.rules, self.key)
        detector.include_values = self.include_values
        return detector
