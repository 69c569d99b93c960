"""Every rule proves itself: its positive examples must be found, its negatives must not be.

Used by ``leakscan rules test`` and by the test suite (like gitleaks' Validate and semgrep --test).
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.detect.engine import Detector
from scanner.detect.rules import Example, Rule


@dataclass(frozen=True, slots=True)
class ExampleResult:
    rule: str
    kind: str  # "positive" | "negative"
    example: Example
    ok: bool
    detail: str


def check_example(detector: Detector, rule: Rule, kind: str, example: Example) -> ExampleResult:
    """Run one example through the whole detector (all loaded rules, overlaps resolved)."""
    found = [f for f in detector.detect_text(example.text, header=example.header) if f.rule == rule.id]
    if kind == "negative":
        ok = not found
        detail = "" if ok else f"不应命中，却命中了 {len(found)} 处：{', '.join(f.masked for f in found)}"
        return ExampleResult(rule.id, kind, example, ok, detail)
    if len(found) != 1:
        return ExampleResult(rule.id, kind, example, False, f"应命中 1 处，实际 {len(found)} 处")
    f = found[0]
    got = example.text[f.location["start"]:f.location["end"]]
    if got != example.match:
        return ExampleResult(rule.id, kind, example, False, f"命中范围应为 {example.match!r}，实际 {got!r}")
    if f.exposure != example.exposure:
        return ExampleResult(rule.id, kind, example, False, f"暴露程度应为 {example.exposure}，实际 {f.exposure}")
    return ExampleResult(rule.id, kind, example, True, "")


def check_rule(detector: Detector, rule: Rule) -> list[ExampleResult]:
    """All of ``rule``'s examples."""
    return [check_example(detector, rule, "positive", ex) for ex in rule.positives] + [
        check_example(detector, rule, "negative", ex) for ex in rule.negatives
    ]
