"""HTML report: one self-contained, printable Chinese page.

No network at all: inline CSS, inline SVG charts, system fonts, no script. Every value from the
report is escaped by Jinja2's autoescaping (scanned pages are untrusted), and only http(s) URLs
become links; local paths are shown as text.
"""

# ruff: noqa: E501 -- the inline template below keeps HTML lines whole (it must ship inside the module).
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import jinja2

from scanner.report import ReportOptions
from scanner.report._common import (
    AUDIT_LABELS,
    SEVERITY_COLORS,
    SEVERITY_LABELS,
    STATUS_LABELS,
    DocIndex,
    audit_label,
    describe_location,
    document_notes,
    documents_of,
    entity_label,
    exposure_label,
    fixed_of,
    format_duration,
    format_time,
    key_note,
    kind_label,
    link_target,
    mapping,
    redactions,
    scope,
    severity_label,
    severity_rank,
    show_value,
    sorted_findings,
    status_label,
    text,
)

SEVERITIES = ("high", "medium", "low")
CHART_WIDTH = 600
CHART_LABEL = 170
CHART_ROW = 26
CHART_MAX_ROWS = 15


@dataclass(slots=True)
class Bar:
    """One stacked bar of a chart: a label and its counts by severity."""

    label: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(slots=True)
class Chart:
    """A horizontal stacked bar chart, laid out here so the template only draws rectangles."""

    title: str
    bars: list[Bar]

    @property
    def height(self) -> int:
        return CHART_ROW * len(self.bars) + 34

    def rows(self) -> list[dict[str, Any]]:
        """Each bar as its y position, label, segments (x, width, colour) and total."""
        top = max((b.total for b in self.bars), default=0) or 1
        span = CHART_WIDTH - CHART_LABEL - 60
        out: list[dict[str, Any]] = []
        for i, bar in enumerate(self.bars):
            x = float(CHART_LABEL)
            segments = []
            for severity in SEVERITIES:
                n = bar.counts.get(severity, 0)
                if n:
                    width = max(span * n / top, 2.0)
                    segments.append({"x": round(x, 1), "width": round(width, 1), "color": SEVERITY_COLORS[severity],
                                     "title": f"{bar.label} {SEVERITY_LABELS[severity]}风险 {n}"})
                    x += width
            other = bar.total - sum(bar.counts.get(s, 0) for s in SEVERITIES)
            if other:
                segments.append({"x": round(x, 1), "width": round(max(span * other / top, 2.0), 1),
                                 "color": "#90a4ae", "title": f"{bar.label} {other}"})
                x += span * other / top
            out.append({"y": i * CHART_ROW, "label": bar.label, "short": _short(bar.label), "segments": segments,
                        "total": bar.total, "end": round(x + 6, 1)})
        return out


def _short(label: str, limit: int = 14) -> str:
    """A chart label that fits: a path keeps its end (the section), other text its start."""
    if len(label) <= limit:
        return label
    return "…" + label[-(limit - 1) :] if "/" in label else label[: limit - 1] + "…"


def _chart(title: str, keyed: Iterable[tuple[str, str]]) -> Chart:
    """Count (label, severity) pairs into bars, largest first; the tail folds into 其他."""
    bars: dict[str, Bar] = {}
    for label, severity in keyed:
        bar = bars.setdefault(label, Bar(label))
        bar.counts[severity] = bar.counts.get(severity, 0) + 1
    ordered = sorted(bars.values(), key=lambda b: (-b.total, b.label))
    if len(ordered) > CHART_MAX_ROWS:
        rest = Bar(f"其他（{len(ordered) - CHART_MAX_ROWS + 1}项）")
        for bar in ordered[CHART_MAX_ROWS - 1 :]:
            for severity, n in bar.counts.items():
                rest.counts[severity] = rest.counts.get(severity, 0) + n
        ordered = [*ordered[: CHART_MAX_ROWS - 1], rest]
    return Chart(title, ordered)


def _link(value: str) -> dict[str, str | None]:
    return {"text": value, "href": link_target(value)}


def _rows(items: list[dict[str, Any]], options: ReportOptions) -> Iterator[dict[str, Any]]:
    """A document's findings as table rows, made while the template writes them (memory stays flat)."""
    previous = None
    for f in items:
        remediation = text(f.get("remediation"))
        # The form convention 同上 ("as above") keeps long, repeated advice from drowning the table.
        shown, previous = ("同上" if remediation and remediation == previous else remediation), remediation
        yield {
            "severity": text(f.get("severity")),
            "severity_label": severity_label(f.get("severity")),
            "entity": entity_label(f.get("entity")),
            "exposure": exposure_label(f.get("exposure")),
            "masked": text(f.get("masked")),
            "value": show_value(f, options),
            "location": describe_location(f.get("location")),
            "context": text(f.get("context")),
            "remediation": shown,
            "audit": audit_label(f.get("audit")),
            "audit_code": text(f.get("audit")),
        }


def _context(report: dict[str, Any], options: ReportOptions) -> dict[str, Any]:
    index = DocIndex(report)
    findings = sorted_findings(report, index)
    documents = documents_of(report)
    fixed = fixed_of(report)

    by_source: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        by_source.setdefault(text(finding.get("source")), []).append(finding)
    sections = []
    for number, (source, items) in enumerate(by_source.items(), 1):
        doc = index.get(source)
        page = index.page(source)
        top = max((text(f.get("severity")) for f in items), key=severity_rank, default="")
        sections.append(
            {
                "number": number,
                "title": index.title(source) or index.attachment_name(source) or source,
                "attachment": index.attachment_name(source),
                "source": _link(source),
                "page": _link(page) if page != source else None,
                "page_label": "页面" if index.is_page(page) else "所在文件",
                "kind": kind_label(doc.get("kind")),
                "section": index.section(source),
                "published": index.meta(source, "published"),
                "notes": document_notes(index, source),
                "severity": top,
                "severity_label": severity_label(top),
                "rows": _rows(items, options),
            }
        )

    status_counts = {s: sum(1 for d in documents if d.get("status") == s) for s in ("scanned", "error", "skipped")}
    severity_counts = {s: sum(1 for f in findings if f.get("severity") == s) for s in SEVERITIES}
    audits = {a: sum(1 for f in findings if f.get("audit") == a) for a in ("new", "persisting")}
    has_audit = "fixed" in report or any(audits.values())
    tool = mapping(report, "tool")
    run = mapping(report, "run")
    problems = [
        {
            "source": _link(text(d.get("source"))),
            "parent": _link(text(d.get("parent"))) if d.get("parent") else None,
            "kind": kind_label(d.get("kind")),
            "status": text(d.get("status")),
            "status_label": status_label(d.get("status")),
            "reason": text(d.get("reason")),
        }
        for d in documents
        if d.get("status") in ("error", "skipped")
    ]
    return {
        "tool_name": text(tool.get("name")) or "leakscan",
        "tool_version": text(tool.get("version")),
        "started": format_time(report.get("started_at")),
        "finished": format_time(report.get("finished_at")),
        "duration": format_duration(report.get("started_at"), report.get("finished_at")),
        "scope": _link(scope(report, index)),
        "run_id": text(run.get("id")),
        "previous": text(run.get("previous")),
        "key_note": key_note(report),
        "incomplete": text(report.get("incomplete")),
        "suppressed": report.get("suppressed"),
        "documents_total": len(documents),
        "status_counts": status_counts,
        "findings_total": len(findings),
        "severity_counts": severity_counts,
        "severity_labels": SEVERITY_LABELS,
        "audit_labels": AUDIT_LABELS,
        "status_labels": STATUS_LABELS,
        "severities": SEVERITIES,
        "colors": SEVERITY_COLORS,
        "has_audit": has_audit,
        "audit_counts": audits,
        "fixed_count": len(fixed),
        "charts": [
            c
            for c in (
                _chart("按信息类型", ((entity_label(f.get("entity")), text(f.get("severity"))) for f in findings)),
                _chart("按栏目", ((index.section(text(f.get("source"))) or "（未知栏目）", text(f.get("severity")))
                                for f in findings)),
            )
            if c.bars
        ],
        "chart_width": CHART_WIDTH,
        "chart_label": CHART_LABEL,
        "sections": sections,
        "fixed": [
            {
                "entity": entity_label(item.get("entity")),
                "masked": text(item.get("masked")),
                "source": _link(text(item.get("source"))),
                "title": index.title(text(item.get("source"))),
            }
            for item in fixed
        ],
        "show_fixed": "fixed" in report,
        "problems": problems,
        "redactions": [dict(r, source=_link(r["source"])) for r in redactions(report)],
        "show_values": options.show_values,
    }


TEMPLATE = r"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{{ tool_name }} {{ tool_version }}">
<title>个人信息泄露检查报告 · {{ started }}</title>
<style>
:root { --high: {{ colors.high }}; --medium: {{ colors.medium }}; --low: {{ colors.low }}; --line: #d7dde5; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; color: #1f2933; background: #fff;
  font: 14px/1.6 "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 12px; padding-bottom: 4px; border-bottom: 2px solid #1a3d6d; color: #1a3d6d; }
h3 { font-size: 15px; margin: 20px 0 6px; }
a { color: #1a56a8; word-break: break-all; }
.muted { color: #5f6b7a; }
.meta { border-collapse: collapse; margin: 8px 0 0; }
.meta th { text-align: left; font-weight: normal; color: #5f6b7a; padding: 2px 16px 2px 0; white-space: nowrap; vertical-align: top; }
.meta td { padding: 2px 0; word-break: break-all; }
.note { margin: 12px 0; padding: 8px 12px; border-left: 4px solid var(--medium); background: #fff4e5; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 112px; }
.card .n { font-size: 24px; font-weight: bold; line-height: 1.3; }
.card .l { color: #5f6b7a; font-size: 13px; }
.card.high .n { color: var(--high); } .card.medium .n { color: var(--medium); } .card.low .n { color: #9a7300; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 32px; }
.chart { margin: 8px 0 16px; flex: 1 1 440px; max-width: {{ chart_width }}px; break-inside: avoid; page-break-inside: avoid; }
.chart svg { width: 100%; height: auto; }
.legend span { display: inline-block; margin-right: 14px; font-size: 13px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
table.list { width: 100%; border-collapse: collapse; margin: 6px 0 12px; table-layout: fixed; }
table.list th, table.list td { border: 1px solid var(--line); padding: 4px 6px; vertical-align: top; text-align: left;
  word-break: break-all; overflow-wrap: anywhere; }
table.list th { background: #eef2f7; font-weight: bold; }
table.list thead { display: table-header-group; }
td.masked, td.fp { font-family: "Noto Sans Mono CJK SC", "DejaVu Sans Mono", Consolas, monospace; }
td.fp { color: #5f6b7a; font-size: 12px; }
.sev { display: inline-block; min-width: 2em; text-align: center; border-radius: 3px; color: #fff; font-weight: bold; padding: 0 4px; }
.sev.high { background: var(--high); } .sev.medium { background: var(--medium); } .sev.low { background: var(--low); color: #000; }
.audit-new { color: var(--high); font-weight: bold; }
.doc { margin-bottom: 18px; }
.doc .links { margin: 0 0 4px; font-size: 13px; }
.doc .links span + span::before { content: "　|　"; color: #b0b8c4; }
footer { margin-top: 32px; color: #5f6b7a; font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { padding: 0; font-size: 11px; }
  .page-break { break-before: page; page-break-before: always; }
  .doc, table.list tr { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  .card, .note { break-inside: avoid; }
  .card { padding: 4px 10px; min-width: 90px; }
  .card .n { font-size: 18px; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
</style>
</head>
<body>
<header>
<h1>个人信息泄露检查报告</h1>
<div class="muted">政府信息公开内容中的身份证号、手机号、车牌号等个人信息检查结果（报告只含脱敏后的值）</div>
<table class="meta">
<tr><th>检查工具</th><td>{{ tool_name }} {{ tool_version }}</td></tr>
<tr><th>检查时间</th><td>{{ started }}{% if finished %} 至 {{ finished }}{% endif %}{% if duration %}（用时{{ duration }}）{% endif %}</td></tr>
{% if scope.text %}<tr><th>检查范围</th><td>{% if scope.href %}<a href="{{ scope.href }}">{{ scope.text }}</a>{% else %}{{ scope.text }}{% endif %}</td></tr>{% endif %}
{% if run_id %}<tr><th>检查编号</th><td>{{ run_id }}{% if previous %}（对比上次检查 {{ previous }}）{% endif %}</td></tr>{% endif %}
{% if suppressed is not none %}<tr><th>已忽略</th><td>{{ suppressed }} 条（已确认无需处理或在白名单中）</td></tr>{% endif %}
</table>
{% if incomplete %}<div class="note"><strong>检查不完整：</strong>{{ incomplete }}</div>{% endif %}
{% if key_note %}<div class="note"><strong>指纹密钥：</strong>{{ key_note }}</div>{% endif %}
</header>

<section id="summary">
<h2>一、概况</h2>
<div class="cards">
<div class="card"><div class="n">{{ documents_total }}</div><div class="l">文档总数</div></div>
<div class="card"><div class="n">{{ status_counts.scanned }}</div><div class="l">{{ status_labels.scanned }}</div></div>
<div class="card"><div class="n">{{ status_counts.error }}</div><div class="l">{{ status_labels.error }}</div></div>
<div class="card"><div class="n">{{ status_counts.skipped }}</div><div class="l">{{ status_labels.skipped }}</div></div>
<div class="card"><div class="n">{{ findings_total }}</div><div class="l">发现问题</div></div>
{% for s in severities %}<div class="card {{ s }}"><div class="n">{{ severity_counts[s] }}</div><div class="l">{{ severity_labels[s] }}风险</div></div>
{% endfor %}
{% if has_audit %}<div class="card"><div class="n">{{ audit_counts.new }}</div><div class="l">{{ audit_labels.new }}</div></div>
<div class="card"><div class="n">{{ audit_counts.persisting }}</div><div class="l">{{ audit_labels.persisting }}</div></div>
<div class="card"><div class="n">{{ fixed_count }}</div><div class="l">{{ audit_labels.fixed }}</div></div>{% endif %}
</div>
{% if charts %}
<div class="legend" style="margin-top:16px">{% for s in severities %}<span><i style="background:{{ colors[s] }}"></i>{{ severity_labels[s] }}风险</span>{% endfor %}</div>
<div class="charts">
{% for chart in charts %}
<div class="chart">
<h3>{{ chart.title }}</h3>
<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{{ chart.title }}" width="{{ chart_width }}" height="{{ chart.height }}" viewBox="0 0 {{ chart_width }} {{ chart.height }}" font-size="13">
<g transform="translate(0,8)">
{% for row in chart.rows() %}<g transform="translate(0,{{ row.y }})">
<text x="{{ chart_label - 8 }}" y="15" text-anchor="end" fill="#1f2933"><title>{{ row.label }}</title>{{ row.short }}</text>
{% for seg in row.segments %}<rect x="{{ seg.x }}" y="2" width="{{ seg.width }}" height="18" fill="{{ seg.color }}"><title>{{ seg.title }}</title></rect>
{% endfor %}<text x="{{ row.end }}" y="15" fill="#1f2933">{{ row.total }}</text>
</g>
{% endfor %}<line x1="{{ chart_label }}" y1="0" x2="{{ chart_label }}" y2="{{ chart.height - 30 }}" stroke="#9aa5b1"/>
</g>
</svg>
</div>
{% endfor %}
</div>
{% endif %}
</section>

<section id="findings" class="page-break">
<h2>二、问题清单（按文档）</h2>
{% if not sections %}<p>未发现个人信息。</p>{% endif %}
{% for doc in sections %}
<div class="doc">
<h3>{{ doc.number }}. <span class="sev {{ doc.severity }}">{{ doc.severity_label }}</span> {{ doc.title }}{% if doc.attachment and doc.attachment != doc.title %} — 附件：{{ doc.attachment }}{% endif %}</h3>
<div class="links">
{% if doc.page %}<span>{{ doc.page_label }}：{% if doc.page.href %}<a href="{{ doc.page.href }}">{{ doc.page.text }}</a>{% else %}{{ doc.page.text }}{% endif %}</span>{% endif %}
<span>{% if doc.page and doc.page_label == "页面" %}附件{% elif doc.page %}文件{% else %}来源{% endif %}：{% if doc.source.href %}<a href="{{ doc.source.href }}">{{ doc.source.text }}</a>{% else %}{{ doc.source.text }}{% endif %}</span>
{% if doc.kind %}<span>类型：{{ doc.kind }}</span>{% endif %}
{% if doc.section %}<span>栏目：{{ doc.section }}</span>{% endif %}
{% if doc.published %}<span>发布日期：{{ doc.published }}</span>{% endif %}
{% for note in doc.notes %}<span>{{ note }}</span>{% endfor %}
</div>
<table class="list">
<colgroup><col style="width:5em"><col style="width:6em"><col style="width:7em"><col style="width:12em"><col style="width:9em"><col><col style="width:22%">{% if has_audit %}<col style="width:6em">{% endif %}</colgroup>
<thead><tr><th>风险等级</th><th>信息类型</th><th>暴露程度</th><th>脱敏值</th><th>位置</th><th>上下文</th><th>整改措施</th>{% if has_audit %}<th>审计状态</th>{% endif %}</tr></thead>
<tbody>
{% for f in doc.rows %}<tr>
<td><span class="sev {{ f.severity }}">{{ f.severity_label }}</span></td>
<td>{{ f.entity }}</td>
<td>{{ f.exposure }}</td>
<td class="masked">{{ f.masked }}{% if f.value is not none %}<br><span class="muted">原始值：{{ f.value }}</span>{% endif %}</td>
<td>{{ f.location }}</td>
<td>{{ f.context }}</td>
<td>{{ f.remediation }}</td>
{% if has_audit %}<td class="audit-{{ f.audit_code }}">{{ f.audit }}</td>{% endif %}
</tr>
{% endfor %}</tbody>
</table>
</div>
{% endfor %}
</section>

{% if show_fixed %}
<section id="fixed" class="page-break">
<h2>三、已整改（上次检查发现、本次已不存在）</h2>
{% if fixed %}
<table class="list">
<colgroup><col style="width:4em"><col style="width:7em"><col style="width:12em"><col></colgroup>
<thead><tr><th>序号</th><th>信息类型</th><th>脱敏值</th><th>来源文件/页面</th></tr></thead>
<tbody>
{% for item in fixed %}<tr><td>{{ loop.index }}</td><td>{{ item.entity }}</td><td class="masked">{{ item.masked }}</td>
<td>{% if item.title %}{{ item.title }}<br>{% endif %}{% if item.source.href %}<a href="{{ item.source.href }}">{{ item.source.text }}</a>{% else %}{{ item.source.text }}{% endif %}</td></tr>
{% endfor %}</tbody>
</table>
{% else %}<p>无。</p>{% endif %}
</section>
{% endif %}

<section id="problems" class="page-break">
<h2>{% if show_fixed %}四{% else %}三{% endif %}、未能检查的文档</h2>
{% if problems %}
<table class="list">
<colgroup><col style="width:4em"><col style="width:6em"><col style="width:6em"><col><col style="width:30%"></colgroup>
<thead><tr><th>序号</th><th>状态</th><th>类型</th><th>文档</th><th>原因</th></tr></thead>
<tbody>
{% for d in problems %}<tr><td>{{ loop.index }}</td><td>{{ d.status_label }}</td><td>{{ d.kind }}</td>
<td>{% if d.source.href %}<a href="{{ d.source.href }}">{{ d.source.text }}</a>{% else %}{{ d.source.text }}{% endif %}{% if d.parent %}<br><span class="muted">上级页面：{% if d.parent.href %}<a href="{{ d.parent.href }}">{{ d.parent.text }}</a>{% else %}{{ d.parent.text }}{% endif %}</span>{% endif %}</td>
<td>{{ d.reason }}</td></tr>
{% endfor %}</tbody>
</table>
{% else %}<p>所有文档均已检查。</p>{% endif %}
</section>

{% if redactions %}
<section id="redactions" class="page-break">
<h2>附：脱敏副本</h2>
<table class="list">
<colgroup><col style="width:4em"><col><col style="width:16em"><col style="width:30%"></colgroup>
<thead><tr><th>序号</th><th>原文件</th><th>处理结果</th><th>脱敏副本</th></tr></thead>
<tbody>
{% for r in redactions %}<tr><td>{{ loop.index }}</td><td>{% if r.source.href %}<a href="{{ r.source.href }}">{{ r.source.text }}</a>{% else %}{{ r.source.text }}{% endif %}</td>
<td{% if r.failed %} class="audit-new"{% endif %}>{{ r.status }}</td><td>{{ r.copy }}</td></tr>
{% endfor %}</tbody>
</table>
</section>
{% endif %}

<footer>由 {{ tool_name }} {{ tool_version }} 生成。报告只含脱敏后的值；指纹用于多次检查之间比对同一条信息，不能还原原值。</footer>
</body>
</html>
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False, lstrip_blocks=False)
_TEMPLATE = _ENV.from_string(TEMPLATE)


def write(report: dict[str, Any], out: BinaryIO, *, options: ReportOptions) -> None:
    """Write ``report`` as one self-contained HTML page to ``out``."""
    buffer: list[str] = []
    size = 0
    for chunk in _TEMPLATE.generate(**_context(report, options)):
        buffer.append(chunk)
        size += len(chunk)
        if size >= 1 << 16:
            out.write("".join(buffer).encode("utf-8"))
            buffer, size = [], 0
    out.write("".join(buffer).encode("utf-8"))
