"""SARIF 2.1.0 report, for code-scanning dashboards and CI.

One rule per rule id that occurs; one result per finding (``baselineState`` from the audit
history); the previous run's fixed findings as ``absent`` results of kind ``pass``; documents that
could not be scanned as tool execution notifications. Archive members keep the ``ARCHIVE!/MEMBER``
form in their URI and get a logical location naming the member.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import quote

from scanner.report import ReportOptions
from scanner.report._common import (
    describe_location,
    documents_of,
    entity_label,
    exposure_label,
    fixed_of,
    is_http_url,
    key_note,
    location_line,
    mapping,
    severity_rank,
    show_value,
    sorted_findings,
    text,
)

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "leakscan/v1"
LEVELS: dict[str, str] = {"high": "error", "medium": "warning", "low": "note"}
BASELINE: dict[str, str] = {"new": "new", "persisting": "unchanged"}
_LOCATION_DETAIL_KEYS = ("page", "sheet", "cell", "table", "row", "column", "part")
# Characters a URI may carry as they are; the rest (spaces, CJK, backslashes) are percent-encoded.
_URI_SAFE = "/:!@$&'()*+,;=-._~%?#[]"
_RESULTS_MARK = "\u0000leakscan-results\u0000"
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def artifact_uri(source: str) -> str:
    """A valid URI reference for a document source (URL, relative path, absolute path, archive member)."""
    value = source.replace("\\", "/") if not is_http_url(source) else source
    if _WINDOWS_DRIVE.match(source):
        return "file:///" + quote(value, safe=_URI_SAFE)
    if value.startswith("/") and not is_http_url(source):
        return "file://" + quote(value, safe=_URI_SAFE)
    return quote(value, safe=_URI_SAFE)


def _utc(value: Any) -> str | None:
    try:
        moment = datetime.fromisoformat(text(value))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _physical(source: str, region_line: int | None, details: dict[str, Any] | None = None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(source)}}
    if region_line is not None:
        physical["region"] = {"startLine": region_line}
    if details:
        physical["properties"] = details
    return physical


def _location(source: str, location: Any, *, describe: bool = True) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if isinstance(location, dict):
        for key in _LOCATION_DETAIL_KEYS:
            value = location.get(key)
            if value is not None and value != "":
                details[key] = value
    out: dict[str, Any] = {"physicalLocation": _physical(source, location_line(location), details)}
    if describe:
        out["message"] = {"text": describe_location(location)}
    if "!/" in source:
        member = source.rsplit("!/", 1)[1]
        out["logicalLocations"] = [{"name": member, "fullyQualifiedName": source, "kind": "resource"}]
    return out


def _rule(rule_id: str, entity: str, severity: str, remediation: str) -> dict[str, Any]:
    label = entity_label(entity)
    rule: dict[str, Any] = {
        "id": rule_id,
        "shortDescription": {"text": f"公开内容中含有未脱敏的{label}"},
        "fullDescription": {
            "text": f"已发布的网页或附件中出现了{label}（{entity}），其脱敏程度不符合要求，"
            "可能造成个人信息泄露。"
        },
        "properties": {"entity": entity, "tags": ["privacy", "personal-data", entity]},
    }
    if remediation:
        rule["help"] = {"text": remediation}
    if severity:
        rule["defaultConfiguration"] = {"level": LEVELS.get(severity, "warning")}
        rule["properties"]["severity"] = severity
    return rule


def _message(finding: dict[str, Any]) -> str:
    label = entity_label(finding.get("entity"))
    exposure = exposure_label(finding.get("exposure")) or "未脱敏"
    where = describe_location(finding.get("location"))
    return f"发现{exposure}的{label}：{text(finding.get('masked'))}（位置：{where}）"


def _rule_id(item: dict[str, Any]) -> str:
    return text(item.get("rule")) or text(item.get("entity")) or "unknown"


def _rules(findings: list[dict[str, Any]], fixed: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One rule per rule id that occurs, with the highest severity seen as its default level."""
    rules: dict[str, dict[str, Any]] = {}
    for finding in findings:
        rule_id = _rule_id(finding)
        known = rules.get(rule_id)
        severity = text(finding.get("severity"))
        if known is None:
            rules[rule_id] = _rule(rule_id, text(finding.get("entity")), severity, text(finding.get("remediation")))
        elif severity_rank(severity) > severity_rank(known["properties"].get("severity")):
            known["defaultConfiguration"] = {"level": LEVELS.get(severity, "warning")}
            known["properties"]["severity"] = severity
    for item in fixed:
        rule_id = _rule_id(item)
        if rule_id not in rules:
            rules[rule_id] = _rule(rule_id, text(item.get("entity")), "", "")
    return rules


def _results(
    findings: list[dict[str, Any]], fixed: list[dict[str, Any]], rules: dict[str, dict[str, Any]],
    options: ReportOptions,
) -> Iterator[dict[str, Any]]:
    """The results one at a time, so a large report is never held twice in memory."""
    rule_index = {rule_id: i for i, rule_id in enumerate(rules)}
    for finding in findings:
        rule_id = _rule_id(finding)
        source = text(finding.get("source"))
        result: dict[str, Any] = {
            "ruleId": rule_id,
            "ruleIndex": rule_index[rule_id],
            "kind": "fail",
            "level": LEVELS.get(text(finding.get("severity")), "warning"),
            "message": {"text": _message(finding)},
            "locations": [_location(source, finding.get("location"))] if source else [],
        }
        if finding.get("fingerprint"):
            result["partialFingerprints"] = {FINGERPRINT_KEY: text(finding["fingerprint"])}
        audit = text(finding.get("audit"))
        if audit in BASELINE:
            result["baselineState"] = BASELINE[audit]
        confidence = finding.get("confidence")
        if isinstance(confidence, int | float) and not isinstance(confidence, bool) and 0 <= confidence <= 1:
            result["rank"] = round(float(confidence) * 100, 1)
        properties: dict[str, Any] = {"entity": text(finding.get("entity")), "masked": text(finding.get("masked"))}
        for key in ("exposure", "severity", "confidence", "audit", "context"):
            if finding.get(key) is not None:
                properties[key] = finding[key]
        remediation = text(finding.get("remediation"))
        if remediation and remediation != rules[rule_id].get("help", {}).get("text"):
            properties["remediation"] = remediation
        if finding.get("parent"):
            properties["parent"] = text(finding["parent"])
        value = show_value(finding, options)
        if value is not None:
            properties["value"] = value
        result["properties"] = properties
        yield result
    for item in fixed:
        rule_id = _rule_id(item)
        source = text(item.get("source"))
        result = {
            "ruleId": rule_id,
            "ruleIndex": rule_index[rule_id],
            "kind": "pass",
            "level": "none",
            "baselineState": "absent",
            "message": {"text": f"已整改：上次检查发现的{entity_label(item.get('entity'))} "
                        f"{text(item.get('masked'))} 本次已不存在"},
            "locations": [_location(source, None, describe=False)] if source else [],
            "properties": {"entity": text(item.get("entity")), "masked": text(item.get("masked")), "audit": "fixed"},
        }
        if item.get("fingerprint"):
            result["partialFingerprints"] = {FINGERPRINT_KEY: text(item["fingerprint"])}
        yield result


def _skeleton(report: dict[str, Any], rules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The SARIF log without its results (``runs[0].results`` is filled in by the caller)."""
    notifications: list[dict[str, Any]] = []
    for doc in documents_of(report):
        status = text(doc.get("status"))
        if status not in ("error", "skipped"):
            continue
        source = text(doc.get("source"))
        reason = text(doc.get("reason")) or "未说明原因"
        notifications.append(
            {
                "level": "error" if status == "error" else "note",
                "message": {"text": f"{'读取出错' if status == 'error' else '已跳过'}：{reason}"},
                "descriptor": {"id": f"document-{status}"},
                "locations": [{"physicalLocation": _physical(source, None)}] if source else [],
            }
        )

    tool = mapping(report, "tool")
    driver: dict[str, Any] = {
        "name": text(tool.get("name")) or "leakscan",
        "rules": list(rules.values()),
    }
    if tool.get("version"):
        driver["version"] = text(tool["version"])
        driver["semanticVersion"] = text(tool["version"])

    invocation: dict[str, Any] = {"executionSuccessful": True}
    start, end = _utc(report.get("started_at")), _utc(report.get("finished_at"))
    if start:
        invocation["startTimeUtc"] = start
    if end:
        invocation["endTimeUtc"] = end
    if notifications:
        invocation["toolExecutionNotifications"] = notifications

    run_properties: dict[str, Any] = {"schema": text(report.get("schema"))}
    for key in ("started_at", "finished_at", "suppressed"):
        if report.get(key) is not None:
            run_properties[key] = report[key]
    if key_note(report):
        run_properties["key_note"] = key_note(report)
    run_info = mapping(report, "run")
    if run_info:
        run_properties["run"] = run_info
    if report.get("unverified"):
        run_properties["unverified"] = report["unverified"]
    redacted = [d for d in report.get("documents") or [] if isinstance(d, dict) and d.get("redaction") is not None]
    if redacted:
        run_properties["redaction"] = [
            {"source": text(d.get("source")), "redaction": text(d.get("redaction")),
             "redacted_to": d.get("redacted_to")}
            for d in redacted
        ]

    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [invocation],
        "language": "zh-CN",
        "columnKind": "unicodeCodePoints",
        "results": [],
        "properties": run_properties,
    }
    if run_info.get("id"):
        run["automationDetails"] = {"id": f"{text(run_info.get('site')) or 'leakscan'}/{text(run_info['id'])}"}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def build(report: dict[str, Any], options: ReportOptions) -> dict[str, Any]:
    """The whole SARIF log for ``report`` as a dict (convenient for small reports and tests)."""
    findings, fixed = sorted_findings(report), fixed_of(report)
    rules = _rules(findings, fixed)
    log = _skeleton(report, rules)
    log["runs"][0]["results"] = list(_results(findings, fixed, rules, options))
    return log


def write(report: dict[str, Any], out: BinaryIO, *, options: ReportOptions) -> None:
    """Write ``report`` as a SARIF 2.1.0 log to ``out``, one result at a time.

    The output is byte-for-byte what ``json.dumps(build(...), indent=2)`` gives.
    """
    findings, fixed = sorted_findings(report), fixed_of(report)
    rules = _rules(findings, fixed)
    log = _skeleton(report, rules)
    log["runs"][0]["results"] = _RESULTS_MARK
    whole = json.dumps(log, ensure_ascii=False, indent=2)
    head, mark, tail = whole.partition('"results": ' + json.dumps(_RESULTS_MARK))
    head += mark.partition(" ")[0] + " "
    # The line holding the mark starts with the key's indentation; items go one level deeper.
    key_line = head[head.rfind("\n") + 1 :]
    depth = len(key_line) - len(key_line.lstrip(" "))
    item_pad = " " * (depth + 2)
    out.write(head.encode("utf-8"))
    first = True
    for result in _results(findings, fixed, rules, options):
        chunk = json.dumps(result, ensure_ascii=False, indent=2).replace("\n", "\n" + item_pad)
        out.write((("[\n" if first else ",\n") + item_pad + chunk).encode("utf-8"))
        first = False
    out.write(("[]" if first else "\n" + " " * depth + "]").encode("utf-8"))
    out.write(tail.encode("utf-8"))
    out.write(b"\n")
