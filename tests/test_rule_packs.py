"""Every rule proves itself with its own examples; malformed rule files stop the run with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scanner.detect.rules import BUILTIN_RULES, load_rules
from scanner.detect.selftest import check_example
from scanner.errors import RuleError

_RULES = load_rules()
_CASES = [(r, "positive", ex) for r in _RULES for ex in r.positives] + [
    (r, "negative", ex) for r in _RULES for ex in r.negatives
]


@pytest.mark.parametrize(("rule", "kind", "example"), _CASES,
                         ids=[f"{r.id}:{k[:3]}:{i}" for i, (r, k, _) in enumerate(_CASES)])
def test_rule_example(detector, rule, kind, example):
    result = check_example(detector, rule, kind, example)
    assert result.ok, result.detail


@pytest.mark.parametrize("rule", _RULES, ids=[r.id for r in _RULES])
def test_rule_has_enough_examples(rule):
    assert len(rule.positives) >= 5
    assert len(rule.negatives) >= 5
    assert rule.remediation and rule.references


def test_required_entities_are_covered():
    assert {"CN_ID_CARD", "CN_MOBILE", "CN_LICENSE_PLATE"} <= {r.entity for r in _RULES}


def _write_rule(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((BUILTIN_RULES / "cn" / "mobile.yaml").read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("entity"), "entity"),
        (lambda d: d.update(id="Not Kebab"), "id"),
        (lambda d: d.update(severity="critical"), "severity"),
        (lambda d: d.update(validator="nope"), "validator"),
        (lambda d: d["patterns"][0].update(regex="(unclosed"), "patterns[0].regex"),
        (lambda d: d["patterns"][0].update(regex="1[3-9][0-9]{9}"), "patterns[0].regex"),
        (lambda d: d["examples"]["positive"][0].update(match="not in text"), "examples.positive[0].match"),
        (lambda d: d["params"].update(segments="138"), "params.segments"),
        (lambda d: d["masking"].update(region=[0, 3]), "masking.region"),
    ],
)
def test_malformed_rule_names_file_and_field(tmp_path, mutate, field):
    path = _write_rule(tmp_path, mutate)
    with pytest.raises(RuleError) as err:
        load_rules(path)
    assert err.value.file.endswith("bad.yaml")
    assert err.value.field == field


def test_duplicate_rule_id_is_refused(tmp_path):
    path = _write_rule(tmp_path, lambda d: None)
    with pytest.raises(RuleError, match="重复"):
        load_rules(BUILTIN_RULES, path)


def test_unparsable_yaml_is_refused(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(RuleError) as err:
        load_rules(path)
    assert err.value.file.endswith("broken.yaml")
