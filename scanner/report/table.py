"""The terminal table: findings grouped by document, severity coloured, then a summary."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any, BinaryIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from scanner.report import ReportOptions, labels
from scanner.report._common import redactions

_COLOUR = {"high": "bold red", "medium": "yellow", "low": "cyan"}
_MAX_ROWS_PER_DOCUMENT = 50


def write(report: dict[str, Any], out: BinaryIO, *, options: ReportOptions) -> None:
    """Render ``report`` for a person at a terminal."""
    text = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    console = Console(file=text, force_terminal=options.color, no_color=not options.color,
                      width=None if options.color else 160, highlight=False)
    try:
        _render(report, console)
    finally:
        text.detach()


def _render(report: dict[str, Any], console: Console) -> None:
    findings: list[dict[str, Any]] = report.get("findings", [])
    documents: list[dict[str, Any]] = report.get("documents", [])
    by_source: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        by_source.setdefault(f["source"], []).append(f)
    audited = any("audit" in f for f in findings)

    for doc in documents:
        rows = by_source.get(doc["source"])
        if not rows:
            continue
        title = Text(doc["source"], style="bold")
        if doc.get("parent"):
            title.append(f"  （来自 {doc['parent']}）", style="dim")
        if doc.get("title"):
            title.append(f"  《{doc['title']}》", style="dim")
        table = Table(title=title, title_justify="left", show_lines=False, expand=False)
        table.add_column("风险", no_wrap=True)
        table.add_column("类型", no_wrap=True)
        table.add_column("脱敏值", no_wrap=True)
        table.add_column("暴露", no_wrap=True)
        table.add_column("位置")
        if audited:
            table.add_column("审计", no_wrap=True)
        table.add_column("上下文", overflow="fold")
        for f in rows[:_MAX_ROWS_PER_DOCUMENT]:
            cells = [
                Text(labels.SEVERITY.get(f["severity"], f["severity"]), style=_COLOUR.get(f["severity"], "")),
                labels.entity(f["entity"]),
                f["masked"],
                labels.EXPOSURE.get(f["exposure"], f["exposure"]),
                labels.location(f.get("location")),
            ]
            if audited:
                cells.append(labels.AUDIT.get(f.get("audit", ""), ""))
            cells.append(f.get("context", ""))
            table.add_row(*cells)
        if len(rows) > _MAX_ROWS_PER_DOCUMENT:
            table.caption = f"另有 {len(rows) - _MAX_ROWS_PER_DOCUMENT} 处未列出，详见 JSON/Excel 报告"
        console.print(table)
        console.print()

    problems = [d for d in documents if d.get("status") != "scanned"]
    if problems:
        table = Table(title="未能检查的文件", title_justify="left")
        table.add_column("文件")
        table.add_column("状态", no_wrap=True)
        table.add_column("原因")
        for d in problems:
            style = "red" if d["status"] == "error" else "dim"
            status_text = Text(labels.STATUS.get(d["status"], d["status"]), style=style)
            table.add_row(d["source"], status_text, d.get("reason") or "")
        console.print(table)
        console.print()

    redacted = redactions(report)
    if redacted:
        table = Table(title="脱敏副本", title_justify="left")
        table.add_column("文件")
        table.add_column("处理结果")
        table.add_column("脱敏副本")
        for r in redacted:
            table.add_row(r["source"], Text(r["status"], style="red" if r["failed"] else "green"), r["copy"])
        console.print(table)
        console.print()

    _summary(report, findings, documents, console)


def _summary(report: dict[str, Any], findings: list[dict[str, Any]], documents: list[dict[str, Any]],
             console: Console) -> None:
    severities = Counter(f["severity"] for f in findings)
    entities = Counter(f["entity"] for f in findings)
    status = Counter(d.get("status") for d in documents)
    affected = len({f["source"] for f in findings})
    if findings:
        by_entity = "，".join(f"{labels.entity(e)} {n}" for e, n in entities.most_common())
        console.print(
            Text.assemble(
                ("发现个人信息 ", "bold"),
                (str(len(findings)), "bold red"),
                (f" 处（高风险 {severities['high']}，中 {severities['medium']}，低 {severities['low']}；{by_entity}），"
                 f"涉及 {affected} 个文件。", "bold"),
            )
        )
    else:
        console.print(Text("未发现个人信息。", style="bold green"))
    line = (f"共 {len(documents)} 个文件：已检查 {status['scanned']}，出错 {status['error']}，"
            f"未检查 {status['skipped']}。")
    if report.get("fixed"):
        line += f" 已整改 {len(report['fixed'])} 处。"
    if report.get("suppressed"):
        line += f" 已忽略 {report['suppressed']} 处（白名单或已确认）。"
    if report.get("unverified"):
        line += f" 上次发现的 {report['unverified']} 处因文件本次未能检查而无法确认是否已整改。"
    failed = sum(r["failed"] for r in redactions(report))
    if failed:
        line += f" {failed} 个文件无法自动脱敏，需人工处理。"
    console.print(line)
    if report.get("incomplete"):
        console.print(Text(str(report["incomplete"]), style="bold yellow"))
    if report.get("key_note"):
        console.print(Text(report["key_note"], style="dim"))
