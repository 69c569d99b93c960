"""Shared helpers for the csv, xlsx, html and sarif reports.

Everything here reads the report dict of report-contract.md (``leakscan.report/1``) and nothing
else. Every optional field may be absent or null, so each lookup has a fallback.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from scanner.model import SEVERITY_RANK
from scanner.report import ReportOptions, labels

# The words for the contract's codes live in scanner.report.labels, shared with the table report,
# so every format calls a thing by the same name.
ENTITY_LABELS = labels.ENTITY
SEVERITY_LABELS = labels.SEVERITY
EXPOSURE_LABELS = labels.EXPOSURE
AUDIT_LABELS = labels.AUDIT
STATUS_LABELS = labels.STATUS
# What the officer has to do, by audit state (整改状态).
REMEDIATION_STATUS: dict[str, str] = {"new": "待整改", "persisting": "仍未整改", "fixed": "已整改"}
DEADLINES: dict[str, str] = {"high": "立即（24小时内）", "medium": "3个工作日内", "low": "10个工作日内"}
KIND_LABELS: dict[str, str] = {"html": "网页", "text": "文本", "image": "图片", "png": "图片", "jpeg": "图片",
                               "gif": "图片", "bmp": "图片", "tiff": "图片", "webp": "图片"}
SEVERITY_COLORS: dict[str, str] = {"high": "#c62828", "medium": "#ef6c00", "low": "#f2b400"}

# One row per finding, shared by the csv report and the xlsx 明细 sheet.
FINDING_HEADERS: list[str] = [
    "序号",
    "风险等级",
    "信息类型",
    "暴露程度",
    "脱敏值",
    "来源文件/页面",
    "上级页面",
    "位置",
    "上下文",
    "整改措施",
    "指纹",
    "审计状态",
]
VALUE_HEADER = "原始值"

_DATE_DIR = re.compile(r"^(?:t?\d{4,8}|\d{4}-\d{2}(?:-\d{2})?)$", re.IGNORECASE)
_PAGE_KINDS = frozenset({"html", "htm", "xhtml"})


def text(value: Any) -> str:
    """``value`` as display text: ``None`` becomes the empty string."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def entity_label(entity: Any) -> str:
    """The Chinese name of an entity code, or the code itself when unknown."""
    code = text(entity)
    return ENTITY_LABELS.get(code, code)


def severity_label(severity: Any) -> str:
    """高 / 中 / 低, or the raw string when unknown."""
    return SEVERITY_LABELS.get(text(severity), text(severity))


def exposure_label(exposure: Any) -> str:
    """未脱敏 / 脱敏不足."""
    return EXPOSURE_LABELS.get(text(exposure), text(exposure))


def audit_label(audit: Any) -> str:
    """新发现 / 仍存在 / 已整改; empty when no history was used."""
    return AUDIT_LABELS.get(text(audit), text(audit))


def status_label(status: Any) -> str:
    """已检查 / 出错 / 已跳过."""
    return STATUS_LABELS.get(text(status), text(status))


def kind_label(kind: Any) -> str:
    """A document kind for people: 网页 for html, the upper-cased kind otherwise."""
    code = text(kind)
    return KIND_LABELS.get(code, code.upper())


def severity_rank(severity: Any) -> int:
    """3 for high … 1 for low, 0 when unknown."""
    return SEVERITY_RANK.get(text(severity), 0)


def deadline(severity: Any) -> str:
    """整改时限 for a severity."""
    return DEADLINES.get(text(severity), "")


def remediation_status(audit: Any) -> str:
    """整改状态: 待整改 unless the finding persists (or was fixed)."""
    return REMEDIATION_STATUS.get(text(audit), REMEDIATION_STATUS["new"])


def describe_location(location: Any) -> str:
    """A finding's location for people: ``第3页``, ``Sheet1!C5``, ``第40行``, ``表2 第7行``.

    Worded by :func:`scanner.report.labels.location`, as in every format; a location that is not
    an object reads ``正文``.
    """
    if not isinstance(location, dict):
        return "正文"
    return labels.location(location) or "正文"


def location_line(location: Any) -> int | None:
    """The 1-based line of a location, when it has one."""
    if isinstance(location, dict):
        line = location.get("line")
        if isinstance(line, int) and not isinstance(line, bool) and line >= 1:
            return line
    return None


def is_http_url(value: Any) -> bool:
    """Whether ``value`` is an absolute http(s) URL (the only kind a report links to)."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def link_target(source: Any) -> str | None:
    """The http(s) URL to link to for ``source``: an archive member links to its archive."""
    value = text(source).split("!/", 1)[0]
    return value if is_http_url(value) else None


def file_name(path_or_url: str) -> str:
    """The last path segment of a URL (percent-decoded) or a local path."""
    if is_http_url(path_or_url):
        path = urlsplit(path_or_url).path
        return unquote(path.rstrip("/").rsplit("/", 1)[-1]) or path_or_url
    cleaned = path_or_url.replace("\\", "/").rstrip("/")
    return cleaned.rsplit("/", 1)[-1] or path_or_url


def format_time(value: Any) -> str:
    """An ISO 8601 time as ``2026-11-22 10:00:00``; the input unchanged if it does not parse."""
    raw = text(value)
    try:
        return datetime.fromisoformat(raw).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return raw


def format_duration(start: Any, end: Any) -> str:
    """``3分27秒`` between two ISO 8601 times; empty when either is missing or unparsable."""
    try:
        seconds = int((datetime.fromisoformat(text(end)) - datetime.fromisoformat(text(start))).total_seconds())
    except (ValueError, TypeError):
        return ""
    if seconds < 0:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}小时{minutes}分{secs}秒"
    return f"{minutes}分{secs}秒" if minutes else f"{secs}秒"


def mapping(report: dict[str, Any], key: str) -> dict[str, Any]:
    """An optional object field of the report (``tool``, ``run``), empty when absent or not an object."""
    value = report.get(key)
    return value if isinstance(value, dict) else {}


def findings_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's findings that are objects (tolerates a missing list)."""
    return [f for f in report.get("findings") or [] if isinstance(f, dict)]


def documents_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's documents that are objects (tolerates a missing list)."""
    return [d for d in report.get("documents") or [] if isinstance(d, dict)]


def fixed_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The previous run's findings that are gone now (empty without history)."""
    return [f for f in report.get("fixed") or [] if isinstance(f, dict)]


def show_value(finding: dict[str, Any], options: ReportOptions) -> str | None:
    """The raw value, only when the user asked for raw values and the finding carries one."""
    if options.show_values and finding.get("value") is not None:
        return text(finding.get("value"))
    return None


def any_values(findings: Iterable[dict[str, Any]], options: ReportOptions) -> bool:
    """Whether a raw-value column is wanted at all."""
    return options.show_values and any(f.get("value") is not None for f in findings)


class DocIndex:
    """Documents by source, with what a report needs about each: page, section, names, order."""

    def __init__(self, report: dict[str, Any]) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.order: dict[str, int] = {}
        for doc in documents_of(report):
            source = text(doc.get("source"))
            if source and source not in self.docs:
                self.order[source] = len(self.order)
                self.docs[source] = doc
        self.site = text(mapping(report, "run").get("site"))
        # A finding knows its parent even when its document is missing from documents[].
        self._parents: dict[str, str] = {}
        for finding in findings_of(report):
            source, parent = text(finding.get("source")), text(finding.get("parent"))
            if source and parent and source not in self._parents:
                self._parents[source] = parent

    def get(self, source: str) -> dict[str, Any]:
        """The document dict for ``source`` (empty when unknown)."""
        return self.docs.get(source, {})

    def parent(self, source: str) -> str:
        """The parent of ``source``: the linking page, or the archive of a member."""
        doc = self.docs.get(source)
        if doc is not None and doc.get("parent"):
            return text(doc["parent"])
        if source in self._parents:
            return self._parents[source]
        if "!/" in source:
            return source.rsplit("!/", 1)[0]
        return ""

    def page(self, source: str) -> str:
        """The page a document was published on: itself for a page, the nearest page above it otherwise.

        For a file given on the command line (no parent) that is the file itself.
        """
        seen: set[str] = set()
        current = source
        while current not in seen:
            seen.add(current)
            if text(self.get(current).get("kind")).lower() in _PAGE_KINDS:
                return current
            parent = self.parent(current)
            if not parent:
                return current
            current = parent
        return current

    def is_page(self, source: str) -> bool:
        """Whether ``source`` is a web page (html), as opposed to a file."""
        return text(self.get(source).get("kind")).lower() in _PAGE_KINDS

    def is_attachment(self, source: str) -> bool:
        """Whether ``source`` is an attachment of a page or a member of an archive."""
        return self.page(source) != source

    def attachment_name(self, source: str) -> str:
        """附件名称: ``名单.xlsx``, or ``附件.zip › 表1.docx`` for an archive member; empty for a page."""
        if "!/" in source:
            outer, *members = source.split("!/")
            return " › ".join([file_name(outer), *members])
        return file_name(source) if self.is_attachment(source) else ""

    def meta(self, source: str, key: str) -> str:
        """A document field (title, published, section, department), else the page's."""
        own = self.get(source).get(key)
        if own:
            return text(own)
        return text(self.get(self.page(source)).get(key))

    def title(self, source: str) -> str:
        """页面标题: the page's title (an attachment's is its page's)."""
        return text(self.get(self.page(source)).get("title")) or self.meta(source, "title")

    def section(self, source: str) -> str:
        """The site section (栏目): ``documents[].section`` when known, else read off the page's URL path."""
        known = self.meta(source, "section")
        if known:
            return known
        return section_from_path(self.page(source))

    def site_section(self, source: str) -> str:
        """站点/栏目: ``host / section``."""
        page = self.page(source)
        host = urlsplit(page).netloc if is_http_url(page) else ""
        section = self.section(source)
        if host and section and not section.startswith("/"):
            return f"{host} / {section}"
        return f"{host}{section}" if host else section

    def sort_key(self, source: str) -> tuple[int, str]:
        """Documents in report order; unknown ones after, by name."""
        return (self.order.get(source, len(self.order)), source)


def section_from_path(source: str) -> str:
    """The section (栏目) of a page from its path: ``/zwgk/tzgg/`` for ``/zwgk/tzgg/202611/t2026_1.html``.

    Date folders (``202611``) and the file name are dropped; at most two levels are kept, which is
    where TRS/Hanweb sites put a column. A local path gives its folder.
    """
    if not source:
        return ""
    if is_http_url(source):
        path = urlsplit(source).path
        dirs = [unquote(p) for p in path.split("/")[1:-1] if p]
        kept: list[str] = []
        for part in dirs:
            if _DATE_DIR.match(part):
                break
            kept.append(part)
        return "/" + "".join(p + "/" for p in kept[:2])
    folder = posixpath.dirname(source.split("!/", 1)[0].replace("\\", "/"))
    kept = []
    for part in folder.split("/"):
        if _DATE_DIR.match(part):
            break
        kept.append(part)
    return "/".join(kept) or "."


def finding_sort_key(index: DocIndex, position: int, finding: dict[str, Any]) -> tuple[int, int, str, int]:
    """Highest severity first, then document order, then reading order in the report."""
    order, source = index.sort_key(text(finding.get("source")))
    return (-severity_rank(finding.get("severity")), order, source, position)


def sorted_findings(report: dict[str, Any], index: DocIndex | None = None) -> list[dict[str, Any]]:
    """The findings in the order every format lists them (deterministic for a given report)."""
    index = index or DocIndex(report)
    numbered = list(enumerate(findings_of(report)))
    numbered.sort(key=lambda item: finding_sort_key(index, item[0], item[1]))
    return [f for _, f in numbered]


def finding_cells(number: int, finding: dict[str, Any], options: ReportOptions, *, with_value: bool) -> list[Any]:
    """The cells of one row under :data:`FINDING_HEADERS` (plus 原始值 when ``with_value``)."""
    cells: list[Any] = [
        number,
        severity_label(finding.get("severity")),
        entity_label(finding.get("entity")),
        exposure_label(finding.get("exposure")),
        text(finding.get("masked")),
        text(finding.get("source")),
        text(finding.get("parent")),
        describe_location(finding.get("location")),
        text(finding.get("context")),
        text(finding.get("remediation")),
        text(finding.get("fingerprint")),
        audit_label(finding.get("audit")),
    ]
    if with_value:
        cells.append(show_value(finding, options) or "")
    return cells


@dataclass(slots=True)
class Group:
    """The findings of one entity in one document: one row of the 整改清单."""

    source: str
    entity: str
    count: int = 0
    severity: str = ""
    masked: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    audits: dict[str, int] = field(default_factory=dict)
    exposures: dict[str, int] = field(default_factory=dict)
    remediation: str = ""

    MAX_SAMPLES = 3
    MAX_LOCATIONS = 8

    def add(self, finding: dict[str, Any]) -> None:
        """Count one finding in; keeps only a few samples so memory stays small."""
        self.count += 1
        if severity_rank(finding.get("severity")) > severity_rank(self.severity):
            self.severity = text(finding.get("severity"))
        masked = text(finding.get("masked"))
        if masked and masked not in self.masked and len(self.masked) < self.MAX_SAMPLES:
            self.masked.append(masked)
        where = describe_location(finding.get("location"))
        if where not in self.locations and len(self.locations) < self.MAX_LOCATIONS:
            self.locations.append(where)
        audit = text(finding.get("audit"))
        if audit:
            self.audits[audit] = self.audits.get(audit, 0) + 1
        exposure = text(finding.get("exposure"))
        self.exposures[exposure] = self.exposures.get(exposure, 0) + 1
        if not self.remediation:
            self.remediation = text(finding.get("remediation"))

    def samples_text(self) -> str:
        """脱敏样例: up to three masked values."""
        more = "等" if self.count > len(self.masked) and len(self.masked) == self.MAX_SAMPLES else ""
        return "、".join(self.masked) + more

    def locations_text(self) -> str:
        """位置: the first few locations, then how many there are in all."""
        joined = "；".join(self.locations)
        return f"{joined} 等共{self.count}处" if self.count > len(self.locations) else joined

    def status(self) -> str:
        """整改状态: 仍未整改 when any finding persists from the previous run, else 待整改."""
        return remediation_status("persisting" if self.audits.get("persisting") else "new")

    def notes(self) -> list[str]:
        """Facts for 备注 about the mix inside the group."""
        out: list[str] = []
        persisting, new = self.audits.get("persisting", 0), self.audits.get("new", 0)
        if persisting and new:
            out.append(f"其中{new}处为本次新发现")
        partial = self.exposures.get("partial", 0)
        if partial:
            out.append("脱敏不足" if partial == self.count else f"其中{partial}处脱敏不足")
        return out


def group_findings(findings: Iterable[dict[str, Any]]) -> list[Group]:
    """Group findings by document × entity, in order of first appearance (so sorted findings give sorted groups)."""
    groups: dict[tuple[str, str], Group] = {}
    for finding in findings:
        key = (text(finding.get("source")), text(finding.get("entity")))
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(source=key[0], entity=key[1])
        group.add(finding)
    return list(groups.values())


def group_fixed(fixed: Iterable[dict[str, Any]]) -> Iterator[tuple[str, str, int, list[str]]]:
    """The fixed list grouped by document × entity: ``(source, entity, count, masked samples)``."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for item in fixed:
        key = (text(item.get("source")), text(item.get("entity")))
        entry = groups.setdefault(key, [0, []])
        entry[0] += 1
        masked = text(item.get("masked"))
        if masked and masked not in entry[1] and len(entry[1]) < Group.MAX_SAMPLES:
            entry[1].append(masked)
    for (source, entity), (count, samples) in groups.items():
        yield source, entity, count, samples


def document_notes(index: DocIndex, source: str) -> list[str]:
    """Facts for 备注 about a document: responsible department, redaction."""
    out: list[str] = []
    department = index.meta(source, "department")
    if department:
        out.append(f"责任单位：{department}")
    doc = index.get(source)
    if doc.get("redacted_to"):
        out.append(f"脱敏副本：{text(doc['redacted_to'])}")
    if doc.get("redaction"):
        out.append(f"脱敏处理：{redaction_label(doc['redaction'])}")
    return out


def redactions(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The redaction summary: one entry per document a de-identified copy was attempted for
    (``source``, ``status`` label, ``copy`` path, ``failed``)."""
    out = []
    for d in documents_of(report):
        if d.get("redaction") is None:
            continue
        out.append({"source": text(d.get("source")), "status": redaction_label(d["redaction"]),
                    "copy": text(d.get("redacted_to")), "failed": text(d["redaction"]).startswith("not possible")})
    return out


def redaction_label(value: Any) -> str:
    """documents[].redaction for people."""
    raw = text(value)
    if raw == "done":
        return "已完成"
    if raw == "flattened":
        return "已完成（PDF 页面已转为图像）"
    if raw == "unchanged":
        return "无需脱敏"
    if raw.startswith("not possible"):
        reason = raw.partition(":")[2].strip()
        return f"无法脱敏：{reason}" if reason else "无法脱敏"
    return raw


def key_note(report: dict[str, Any]) -> str:
    """The report's note about the fingerprint key (set when the key was random)."""
    return text(report.get("key_note"))


def scope(report: dict[str, Any], index: DocIndex, limit: int = 3) -> str:
    """检查范围: the audited site, else the inputs (documents without a parent)."""
    if index.site:
        return index.site
    roots = [s for s, d in index.docs.items() if not d.get("parent") and "!/" not in s]
    if not roots:
        return ""
    if len(roots) <= limit:
        return "、".join(roots)
    if not any(is_http_url(r) for r in roots):
        try:
            common = posixpath.commonpath([r.replace("\\", "/") for r in roots])
        except ValueError:
            common = ""
        if common:
            return f"{common}（共{len(roots)}个文件）"
    return f"{'、'.join(roots[:limit])} 等{len(roots)}项"


def counts_by(items: Iterable[str]) -> dict[str, int]:
    """How often each string occurs, in order of first occurrence."""
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out
