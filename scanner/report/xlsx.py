"""XLSX 整改清单 (remediation workbook) written with XlsxWriter.

Sheets: 整改清单 (one row per document × entity, plus 已整改 rows), 明细 (one row per finding),
文档 (every document with its status), 已整改 (when the report has ``fixed``) and 检查说明.

The workbook is written in XlsxWriter's ``constant_memory`` mode so 100k findings cost no more
memory than 100: each row is flushed to a temporary file as soon as a later row is started. That
means every sheet must be written strictly top to bottom (a cell written to an earlier row is
silently lost), all of a row's cells before the next row, and ``autofit()``/``add_table()`` are not
available, hence the fixed column widths below.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, BinaryIO

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from scanner.report import ReportOptions
from scanner.report._common import (
    FINDING_HEADERS,
    SEVERITY_COLORS,
    VALUE_HEADER,
    DocIndex,
    any_values,
    deadline,
    document_notes,
    documents_of,
    entity_label,
    finding_cells,
    fixed_of,
    format_duration,
    format_time,
    group_findings,
    group_fixed,
    is_http_url,
    key_note,
    kind_label,
    mapping,
    redaction_label,
    remediation_status,
    scope,
    severity_label,
    sorted_findings,
    status_label,
    text,
)

SUMMARY_COLUMNS: list[tuple[str, float]] = [
    ("序号", 6),
    ("站点/栏目", 24),
    ("页面标题", 34),
    ("页面地址", 40),
    ("附件名称", 26),
    ("文件类型", 9),
    ("位置", 28),
    ("信息类型", 10),
    ("命中数", 8),
    ("脱敏样例", 24),
    ("发布日期", 11),
    ("风险等级", 9),
    ("整改措施", 40),
    ("整改时限", 16),
    ("整改状态", 10),
    ("备注", 30),
]
DETAIL_WIDTHS: list[float] = [7, 9, 10, 10, 22, 48, 40, 18, 50, 40, 20, 10, 22]
DOCUMENT_COLUMNS: list[tuple[str, float]] = [
    ("序号", 7),
    ("来源文件/页面", 56),
    ("上级页面", 44),
    ("文件类型", 9),
    ("页面标题", 30),
    ("发布日期", 11),
    ("栏目", 18),
    ("检查状态", 9),
    ("原因", 36),
    ("命中数", 8),
    ("脱敏处理", 30),
]
FIXED_COLUMNS: list[tuple[str, float]] = [
    ("序号", 7),
    ("信息类型", 10),
    ("规则", 16),
    ("来源文件/页面", 56),
    ("脱敏值", 22),
    ("指纹", 20),
]
# Excel's limits: a cell holds at most 32,767 characters; a sheet at most 65,530 hyperlinks.
MAX_CELL = 32_000
MAX_LINKS = 65_000
MAX_URL = 2_000
LINE_HEIGHT = 14.0  # points per line of 10-point text
MAX_LINES = 12
DEFAULT_ROW_HEIGHT = 42.0  # three lines, for sheets too long to size row by row
ROW_HEIGHT_LIMIT = 20_000  # rows up to which each row of the 明细 sheet is sized to its text


class _Sheet:
    """A worksheet written row by row (what constant_memory mode requires)."""

    def __init__(
        self, book: _Book, name: str, columns: Sequence[tuple[str, float]], *, row_heights: bool = True
    ) -> None:
        self.ws: Worksheet = book.wb.add_worksheet(name)
        # XlsxWriter keeps every set_row() until the end, so a huge sheet gets one default height instead.
        self.row_heights = row_heights
        if not row_heights:
            self.ws.set_default_row(DEFAULT_ROW_HEIGHT)
        self.book = book
        self.row = 0
        self.links = 0
        self.ncols = len(columns)
        self.widths = [width for _, width in columns]
        for col, width in enumerate(self.widths):
            self.ws.set_column(col, col, width)
        self.ws.freeze_panes(1, 0)
        # Printed: A4 landscape, all columns on one page width, the header row on every page.
        self.ws.set_paper(9)
        self.ws.set_landscape()
        self.ws.fit_to_pages(1, 0)
        self.ws.repeat_rows(0)
        self.put([title for title, _ in columns], header=True)

    def put(self, cells: Sequence[Any], *, header: bool = False, styles: dict[int, str] | None = None) -> None:
        """Write the next row; ``styles`` maps a column to a named style (a severity, or ``fixed``)."""
        fmt = self.book.header if header else self.book.cell
        # Neither Excel nor WPS grows a row for wrapped text written this way; set the height now,
        # before the row is flushed (constant_memory).
        lines = 1
        if self.row_heights or header:
            lines = max((_lines(text(v), w) for v, w in zip(cells, self.widths, strict=False)), default=1)
        if lines > 1:
            self.ws.set_row(self.row, min(lines, MAX_LINES) * LINE_HEIGHT)
        for col, value in enumerate(cells):
            cell_fmt = fmt
            if styles and styles.get(col) in self.book.styles:
                cell_fmt = self.book.styles[styles[col]]
            if isinstance(value, int) and not isinstance(value, bool):
                self.ws.write_number(self.row, col, value, self.book.number if not header else fmt)
            elif isinstance(value, _Link) and self.links < MAX_LINKS and len(value.url) <= MAX_URL:
                self.links += 1
                self.ws.write_url(self.row, col, value.url, self.book.link, string=value.url[:MAX_CELL])
            else:
                # write_string, never write(): scanned text must not become a formula or a number.
                self.ws.write_string(self.row, col, text(value)[:MAX_CELL], cell_fmt)
        self.row += 1

    def close(self) -> None:
        """Add the autofilter over what was written."""
        self.ws.autofilter(0, 0, max(self.row - 1, 0), self.ncols - 1)


def _lines(value: str, width: float) -> int:
    """About how many lines ``value`` wraps to in a column ``width`` characters wide.

    CJK characters are two columns wide and three UTF-8 bytes long, so the byte length gives
    the display width without looking at each character.
    """
    if not value:
        return 1
    usable = max(width - 1, 1)
    total = 0
    for part in value.split("\n"):
        units = (len(part) + len(part.encode("utf-8"))) / 2
        total += max(1, math.ceil(units / usable))
    return total


class _Link(str):
    """A cell value to write as a hyperlink."""

    @property
    def url(self) -> str:
        return str(self)


class _Book:
    """The workbook and its formats."""

    def __init__(self, out: BinaryIO, report: dict[str, Any]) -> None:
        self.wb = xlsxwriter.Workbook(
            out,
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        props: dict[str, Any] = {"title": "个人信息泄露整改清单", "author": "leakscan", "comments": "leakscan 生成"}
        # A fixed creation date keeps the workbook reproducible for a given report.
        with contextlib.suppress(ValueError):
            props["created"] = datetime.fromisoformat(text(report.get("started_at")))
        self.wb.set_properties(props)
        base = {"font_name": "等线", "font_size": 10, "valign": "top", "text_wrap": True}
        self.header = self.wb.add_format(
            {**base, "bold": True, "bg_color": "#DDE5F0", "border": 1, "valign": "vcenter", "align": "center"}
        )
        self.cell = self.wb.add_format(base)
        self.number = self.wb.add_format({**base, "align": "center"})
        self.link = self.wb.add_format({**base, "font_color": "#1a56a8", "underline": 1})
        self.styles: dict[str, Format] = {
            name: self.wb.add_format(
                {**base, "bold": True, "align": "center", "bg_color": color,
                 "font_color": "#000000" if name == "low" else "#FFFFFF"}
            )
            for name, color in SEVERITY_COLORS.items()
        }
        self.styles["fixed"] = self.wb.add_format({**base, "bg_color": "#DFF0D8", "font_color": "#2E6B30"})


def _url_cell(value: str) -> Any:
    return _Link(value) if is_http_url(value) else value


def _summary(book: _Book, report: dict[str, Any], index: DocIndex, findings: list[dict[str, Any]]) -> None:
    sheet = _Sheet(book, "整改清单", SUMMARY_COLUMNS)
    number = 0
    for group in group_findings(findings):
        number += 1
        source = group.source
        notes = group.notes() + document_notes(index, source)
        sheet.put(
            [
                number,
                index.site_section(source),
                index.title(source),
                _url_cell(index.page(source)),
                index.attachment_name(source),
                kind_label(index.get(source).get("kind")),
                group.locations_text(),
                entity_label(group.entity),
                group.count,
                group.samples_text(),
                index.meta(source, "published"),
                severity_label(group.severity),
                group.remediation,
                deadline(group.severity),
                group.status(),
                "；".join(notes),
            ],
            styles={11: group.severity},
        )
    for source, entity, count, samples in group_fixed(fixed_of(report)):
        number += 1
        sheet.put(
            [
                number,
                index.site_section(source),
                index.title(source),
                _url_cell(index.page(source)),
                index.attachment_name(source),
                kind_label(index.get(source).get("kind")),
                "",
                entity_label(entity),
                count,
                "、".join(samples),
                index.meta(source, "published"),
                "",
                "",
                "",
                remediation_status("fixed"),
                "上次检查发现，本次检查已不存在",
            ],
            styles={14: "fixed"},
        )
    sheet.close()


def _details(
    book: _Book, findings: list[dict[str, Any]], options: ReportOptions, with_value: bool
) -> None:
    headers = FINDING_HEADERS + ([VALUE_HEADER] if with_value else [])
    widths = DETAIL_WIDTHS[: len(headers)]
    sheet = _Sheet(book, "明细", list(zip(headers, widths, strict=True)), row_heights=len(findings) <= ROW_HEIGHT_LIMIT)
    for number, finding in enumerate(findings, 1):
        # Plain text, not hyperlinks: XlsxWriter keeps every link of a sheet in memory until the end.
        cells = finding_cells(number, finding, options, with_value=with_value)
        sheet.put(cells, styles={1: text(finding.get("severity"))})
    sheet.close()


def _documents(book: _Book, report: dict[str, Any], index: DocIndex) -> None:
    sheet = _Sheet(book, "文档", DOCUMENT_COLUMNS)
    for number, doc in enumerate(documents_of(report), 1):
        source = text(doc.get("source"))
        redaction = []
        if doc.get("redaction"):
            redaction.append(redaction_label(doc["redaction"]))
        if doc.get("redacted_to"):
            redaction.append(text(doc["redacted_to"]))
        count = doc.get("findings")
        sheet.put(
            [
                number,
                _url_cell(source),
                _url_cell(text(doc.get("parent"))),
                kind_label(doc.get("kind")),
                index.title(source),
                index.meta(source, "published"),
                index.section(source),
                status_label(doc.get("status")),
                text(doc.get("reason")),
                count if isinstance(count, int) and not isinstance(count, bool) else "",
                "；".join(redaction),
            ]
        )
    sheet.close()


def _fixed(book: _Book, report: dict[str, Any]) -> None:
    sheet = _Sheet(book, "已整改", FIXED_COLUMNS)
    for number, item in enumerate(fixed_of(report), 1):
        sheet.put(
            [
                number,
                entity_label(item.get("entity")),
                text(item.get("rule")),
                _url_cell(text(item.get("source"))),
                text(item.get("masked")),
                text(item.get("fingerprint")),
            ]
        )
    sheet.close()


def _about(book: _Book, report: dict[str, Any], index: DocIndex, findings: list[dict[str, Any]]) -> None:
    ws = book.wb.add_worksheet("检查说明")
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 80)
    tool = mapping(report, "tool")
    run = mapping(report, "run")
    docs = documents_of(report)
    rows: list[tuple[str, str]] = [
        ("检查工具", f"{text(tool.get('name')) or 'leakscan'} {text(tool.get('version'))}".strip()),
        ("开始时间", format_time(report.get("started_at"))),
        ("结束时间", format_time(report.get("finished_at"))),
        ("用时", format_duration(report.get("started_at"), report.get("finished_at"))),
        ("检查范围", scope(report, index)),
        ("本次检查编号", text(run.get("id"))),
        ("对比的上次检查", text(run.get("previous"))),
        ("文档数", str(len(docs))),
        ("发现数", str(len(findings))),
        ("已整改数", str(len(fixed_of(report))) if "fixed" in report else ""),
        ("已忽略数", text(report.get("suppressed"))),
        ("指纹密钥", key_note(report)),
        ("检查不完整", text(report.get("incomplete"))),
        ("说明", "表中只有脱敏后的值；指纹用于在多次检查之间比对同一条信息，不能还原原值。"),
    ]
    row = 0
    for label, value in rows:
        if value:
            ws.write_string(row, 0, label, book.header)
            ws.write_string(row, 1, value, book.cell)
            row += 1


def write(report: dict[str, Any], out: BinaryIO, *, options: ReportOptions) -> None:
    """Write ``report`` as an XLSX 整改清单 to ``out``."""
    index = DocIndex(report)
    findings = sorted_findings(report, index)
    book = _Book(out, report)
    _summary(book, report, index, findings)
    _details(book, findings, options, any_values(findings, options))
    _documents(book, report, index)
    if "fixed" in report and isinstance(report.get("fixed"), list):
        _fixed(book, report)
    _about(book, report, index, findings)
    book.wb.close()
