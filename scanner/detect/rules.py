"""Rule packs: YAML files in ``rules/`` (one rule per file) → validated :class:`Rule` objects.

A malformed file stops the run with a :class:`~scanner.errors.RuleError` naming the file and the
field: scanning with a half-loaded rule pack would silently miss leaks.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex
import yaml

from scanner.detect.validators import VALIDATORS, Validator
from scanner.errors import RuleError

RULE_ID = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$")
ENTITY = re.compile(r"^[A-Z][A-Z0-9_]+$")
SEVERITIES = ("high", "medium", "low")



def _builtin_rules() -> Path:
    """``rules/`` of the source tree (a checkout or an editable install), else the copy a wheel
    installs under ``<prefix>/share/leakscan/rules`` (pyproject ``data-files``)."""
    tree = Path(__file__).resolve().parents[2] / "rules"
    if tree.is_dir():
        return tree
    return Path(sys.prefix) / "share" / "leakscan" / "rules"


#: The rules shipped with leakscan.
BUILTIN_RULES = _builtin_rules()


@dataclass(frozen=True, slots=True)
class PatternSpec:
    name: str
    regex: str
    score: float
    masked: bool = False
    requires_context: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    match: str | None = None
    exposure: str = "unmasked"
    header: str = ""


@dataclass(slots=True)
class Rule:
    id: str
    entity: str
    name: str
    description: str
    severity: str
    partial_severity: str
    priority: int
    validator: Validator
    patterns: tuple[PatternSpec, ...]
    context_positive: tuple[str, ...]
    context_negative: tuple[str, ...]
    context_window: int
    mask_region: tuple[int, int]
    mask_min: int | None
    mask_display: tuple[int, int]
    remediation: str
    references: tuple[str, ...]
    positives: tuple[Example, ...]
    negatives: tuple[Example, ...]
    file: str
    anchor: str | None = None
    anchor_min_digits: int = 10
    extra: dict[str, Any] = field(default_factory=dict)


def _need(data: dict[str, Any], key: str, kind: type | tuple[type, ...], file: str) -> Any:
    if key not in data:
        raise RuleError(file, key, "缺少必填字段")
    value = data[key]
    if not isinstance(value, kind):
        raise RuleError(file, key, f"类型应为 {getattr(kind, '__name__', kind)}")
    return value


def _str_list(value: Any, file: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RuleError(file, where, "应为非空字符串列表")
    return tuple(value)


def _region(value: Any, file: str, where: str) -> tuple[int, int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and v != 0 for v in value)
    ):
        raise RuleError(file, where, "应为两个非零整数 [起, 止]（1起始，负数从末尾数）")
    return value[0], value[1]


def parse_rule(data: Any, file: str) -> Rule:
    """Validate one rule file's parsed YAML and build the :class:`Rule`."""
    if not isinstance(data, dict):
        raise RuleError(file, "(file)", "规则文件应为一个 YAML 映射")
    rule_id = _need(data, "id", str, file)
    if not RULE_ID.match(rule_id):
        raise RuleError(file, "id", "应为 kebab-case，如 cn-id-card")
    entity = _need(data, "entity", str, file)
    if not ENTITY.match(entity):
        raise RuleError(file, "entity", "应为大写标识，如 CN_ID_CARD")
    severity = _need(data, "severity", str, file)
    if severity not in SEVERITIES:
        raise RuleError(file, "severity", f"应为 {'/'.join(SEVERITIES)} 之一")
    partial_severity = data.get("partial_severity", severity)
    if partial_severity not in SEVERITIES:
        raise RuleError(file, "partial_severity", f"应为 {'/'.join(SEVERITIES)} 之一")
    validator_name = _need(data, "validator", str, file)
    if validator_name not in VALIDATORS:
        raise RuleError(file, "validator", f"未知校验器 {validator_name!r}；可用：{', '.join(sorted(VALIDATORS))}")
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise RuleError(file, "params", "应为映射")
    validator = VALIDATORS[validator_name](params, file=file)

    raw_patterns = _need(data, "patterns", list, file)
    if not raw_patterns:
        raise RuleError(file, "patterns", "至少需要一个模式")
    patterns = []
    for i, p in enumerate(raw_patterns):
        where = f"patterns[{i}]"
        if not isinstance(p, dict):
            raise RuleError(file, where, "应为映射")
        name = _need(p, "name", str, f"{file}: {where}")
        rx = _need(p, "regex", str, f"{file}: {where}")
        try:
            compiled = regex.compile(rx)
        except regex.error as exc:
            raise RuleError(file, f"{where}.regex", f"正则表达式无效：{exc}") from None
        if "value" not in compiled.groupindex:
            raise RuleError(file, f"{where}.regex", "需要命名分组 (?P<value>…) 标出号码本身")
        score = p.get("score", 0.5)
        if not isinstance(score, (int, float)) or not 0 < score <= 1:
            raise RuleError(file, f"{where}.score", "应为 (0, 1] 之间的数")
        patterns.append(
            PatternSpec(
                name=name,
                regex=rx,
                score=float(score),
                masked=bool(p.get("masked", False)),
                requires_context=_str_list(p.get("requires_context"), file, f"{where}.requires_context"),
            )
        )

    context = data.get("context") or {}
    if not isinstance(context, dict):
        raise RuleError(file, "context", "应为映射")
    window = context.get("window", 24)
    if not isinstance(window, int) or not 0 <= window <= 200:
        raise RuleError(file, "context.window", "应为 0–200 的整数")

    masking = _need(data, "masking", dict, file)
    region = _region(masking.get("region"), file, "masking.region")
    display = _region(masking.get("display", list(region)), file, "masking.display")
    mask_min = masking.get("min_masked")
    if mask_min is not None and (not isinstance(mask_min, int) or mask_min < 1):
        raise RuleError(file, "masking.min_masked", "应为正整数")

    examples = _need(data, "examples", dict, file)
    positives = []
    for i, ex in enumerate(_need(examples, "positive", list, f"{file}: examples")):
        where = f"examples.positive[{i}]"
        if not isinstance(ex, dict) or not isinstance(ex.get("text"), str) or not isinstance(ex.get("match"), str):
            raise RuleError(file, where, "应为 {text, match[, exposure, header]}")
        if ex["match"] not in ex["text"]:
            raise RuleError(file, f"{where}.match", "match 必须是 text 的一部分")
        exposure = ex.get("exposure", "unmasked")
        if exposure not in ("unmasked", "partial"):
            raise RuleError(file, f"{where}.exposure", "应为 unmasked 或 partial")
        positives.append(Example(ex["text"], ex["match"], exposure, str(ex.get("header", ""))))
    negatives = []
    for i, ex in enumerate(_need(examples, "negative", list, f"{file}: examples")):
        if isinstance(ex, str):
            negatives.append(Example(ex))
        elif isinstance(ex, dict) and isinstance(ex.get("text"), str):
            negatives.append(Example(ex["text"], header=str(ex.get("header", ""))))
        else:
            raise RuleError(file, f"examples.negative[{i}]", "应为字符串或 {text[, header]}")
    if not positives or not negatives:
        raise RuleError(file, "examples", "正例和反例各至少一个")

    anchor = data.get("anchor")
    if anchor not in (None, "digit-run"):
        raise RuleError(file, "anchor", "只能是 digit-run 或不填")
    min_digits = data.get("anchor_min_digits", 10)
    if not isinstance(min_digits, int) or not 10 <= min_digits <= 64:
        raise RuleError(file, "anchor_min_digits", "应为 10–64 的整数（号码本身的数字和遮盖符个数）")
    priority = data.get("priority", 10)
    if not isinstance(priority, int):
        raise RuleError(file, "priority", "应为整数")
    return Rule(
        id=rule_id,
        entity=entity,
        name=str(data.get("name", rule_id)),
        description=str(data.get("description", "")).strip(),
        severity=severity,
        partial_severity=partial_severity,
        priority=priority,
        validator=validator,
        patterns=tuple(patterns),
        context_positive=_str_list(context.get("positive"), file, "context.positive"),
        context_negative=_str_list(context.get("negative"), file, "context.negative"),
        context_window=window,
        mask_region=region,
        mask_min=mask_min,
        mask_display=display,
        remediation=_need(data, "remediation", str, file).strip(),
        references=_str_list(data.get("references"), file, "references"),
        positives=tuple(positives),
        negatives=tuple(negatives),
        file=file,
        anchor=anchor,
        anchor_min_digits=min_digits,
    )


def load_rules(*dirs: Path) -> list[Rule]:
    """Load every ``*.yaml``/``*.yml`` below ``dirs`` (default: the built-in pack). Ids must be unique."""
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for base in dirs or (BUILTIN_RULES,):
        if not base.exists():
            raise RuleError(str(base), "(path)", "规则目录不存在")
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.suffix in (".yaml", ".yml"))
        for path in files:
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise RuleError(str(path), "(file)", f"无法解析：{exc}") from None
            rule = parse_rule(data, str(path))
            if rule.id in seen:
                raise RuleError(str(path), "id", f"与 {seen[rule.id]} 重复")
            seen[rule.id] = str(path)
            rules.append(rule)
    if not rules:
        raise RuleError(", ".join(map(str, dirs)), "(path)", "没有找到任何规则文件")
    return rules
