"""The csv, xlsx, html and sarif reports, rendered from one realistic fixture report.

Golden files live in tests/golden/; regenerate them after an intended change with
``UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_report_formats.py`` and review the diff.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import re
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from scanner.report import ReportOptions, write_report

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "report.json"
GOLDEN = HERE / "golden"
SARIF_SCHEMA = HERE / "schemas" / "sarif-2.1.0.json"
FORMATS = ("csv", "xlsx", "html", "sarif")
GOLDEN_FILES = {"csv": "report.csv", "sarif": "report.sarif.json", "html": "report.html"}


@pytest.fixture()
def report() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def render(report: dict[str, Any], fmt: str, options: ReportOptions | None = None) -> bytes:
    out = io.BytesIO()
    write_report(report, fmt, out, options)
    return out.getvalue()


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM for Excel/WPS"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def xlsx_sheets(data: bytes) -> dict[str, list[list[Any]]]:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}


# --- golden files ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(GOLDEN_FILES))
def test_matches_golden_file(report: dict[str, Any], fmt: str) -> None:
    path = GOLDEN / GOLDEN_FILES[fmt]
    data = render(report, fmt)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(data)
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert data == path.read_bytes(), f"{fmt} output differs from {path} (UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_is_deterministic(report: dict[str, Any], fmt: str) -> None:
    assert render(report, fmt) == render(copy.deepcopy(report), fmt)


# --- csv ------------------------------------------------------------------------------------


def test_csv_rows(report: dict[str, Any]) -> None:
    rows = csv_rows(render(report, "csv"))
    assert rows[0] == ["序号", "风险等级", "信息类型", "暴露程度", "脱敏值", "来源文件/页面", "上级页面",
                       "位置", "上下文", "整改措施", "指纹", "审计状态"]
    body = rows[1:]
    assert len(body) == len(report["findings"])
    assert [r[0] for r in body] == [str(i) for i in range(1, len(body) + 1)]
    # Highest severity first.
    order = {"高": 3, "中": 2, "低": 1}
    assert [order[r[1]] for r in body] == sorted((order[r[1]] for r in body), reverse=True)
    locations = {r[7] for r in body}
    assert {"第3页", "低保名单!C5", "第40行", "表2 第7行", "表1 第3行 第4列"} <= locations
    assert {r[4] for r in body} == {f["masked"] for f in report["findings"]}
    assert {r[10] for r in body} == {f["fingerprint"] for f in report["findings"]}
    archive_row = next(r for r in body if "!/" in r[5])
    assert archive_row[6].endswith(".zip")
    assert {r[11] for r in body} <= {"新增", "仍存在"}


def test_csv_neutralises_formulas(report: dict[str, Any]) -> None:
    report["findings"][0]["context"] = '=HYPERLINK("http://evil.example","x")'
    rows = csv_rows(render(report, "csv"))
    cell = next(r[8] for r in rows if "HYPERLINK" in r[8])
    assert cell.startswith("'=")


# --- xlsx -----------------------------------------------------------------------------------


def test_xlsx_workbook(report: dict[str, Any]) -> None:
    data = render(report, "xlsx")
    sheets = xlsx_sheets(data)
    assert list(sheets)[:4] == ["整改清单", "明细", "文档", "已整改"]

    summary = sheets["整改清单"]
    assert summary[0] == ["序号", "站点/栏目", "页面标题", "页面地址", "附件名称", "文件类型", "位置", "信息类型",
                          "命中数", "脱敏样例", "发布日期", "风险等级", "整改措施", "整改时限", "整改状态", "备注"]
    groups = {(f["source"], f["entity"]) for f in report["findings"]}
    fixed_groups = {(f["source"], f["entity"]) for f in report["fixed"]}
    assert len(summary) == 1 + len(groups) + len(fixed_groups)
    rows = [dict(zip(summary[0], r, strict=True)) for r in summary[1:]]
    assert sum(r["命中数"] for r in rows if r["整改状态"] != "已整改") == len(report["findings"])
    xlsx_row = next(r for r in rows if r["附件名称"] == "P020261115_dibao.xlsx" and r["信息类型"] == "身份证号")
    assert xlsx_row["命中数"] == 3
    assert xlsx_row["页面地址"] == "https://xxgk.qingshan.example/zwgk/tzgg/202611/t20261115_1001.html"
    assert xlsx_row["页面标题"] == "关于2026年第三季度城乡低保对象名单的公示"
    assert xlsx_row["位置"] == "低保名单!C5；低保名单!C6；低保名单!C7"
    assert xlsx_row["风险等级"] == "高" and xlsx_row["整改时限"] == "立即（24小时内）"
    assert xlsx_row["整改状态"] == "仍未整改"
    assert xlsx_row["发布日期"] == "2026-11-15"
    assert "责任单位：县民政局" in xlsx_row["备注"]
    member = next(r for r in rows if "›" in r["附件名称"])
    assert member["附件名称"] == "P020261020_fujian.zip › 附件1 车辆清单.docx"
    assert member["页面地址"].endswith("t20261020_0902.html")
    assert member["站点/栏目"] == "xxgk.qingshan.example/zdly/jtys/"
    new_mobile = next(r for r in rows if r["位置"] == "第40行")
    assert (new_mobile["整改状态"], new_mobile["整改时限"]) == ("待整改", "3个工作日内")
    plates = next(r for r in rows if r["信息类型"] == "车牌号" and r["命中数"] == 2)
    assert plates["整改时限"] == "10个工作日内"
    assert [r["整改状态"] for r in rows[-2:]] == ["已整改", "已整改"]

    details = sheets["明细"]
    assert details[0][:4] == ["序号", "风险等级", "信息类型", "暴露程度"]
    assert len(details) == 1 + len(report["findings"])
    assert sheets["文档"][0][:2] == ["序号", "来源文件/页面"]
    assert len(sheets["文档"]) == 1 + len(report["documents"])
    assert {r[7] for r in sheets["文档"][1:]} == {"已检查", "出错", "未检查"}
    assert len(sheets["已整改"]) == 1 + len(report["fixed"])

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        sheet1 = zf.read("xl/worksheets/sheet1.xml").decode()
        styles = zf.read("xl/styles.xml").decode()
    assert 'state="frozen"' in sheet1 and "<autoFilter" in sheet1 and "<cols>" in sheet1
    assert 'orientation="landscape"' in sheet1 and 'fitToHeight="0"' in sheet1
    assert 'customHeight="1"' in sheet1  # wrapped rows get a height (constant_memory cannot autofit)
    assert "C62828" in styles.upper()  # the high-severity fill


def test_xlsx_without_history_has_no_fixed_sheet(report: dict[str, Any]) -> None:
    for key in ("fixed", "run", "suppressed"):
        report.pop(key)
    for finding in report["findings"]:
        finding.pop("audit")
    sheets = xlsx_sheets(render(report, "xlsx"))
    assert "已整改" not in sheets
    assert {r[14] for r in sheets["整改清单"][1:]} == {"待整改"}


def test_xlsx_writes_text_never_formulas(report: dict[str, Any]) -> None:
    report["findings"][0]["context"] = "=1+1"
    data = render(report, "xlsx")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert "<f>" not in zf.read("xl/worksheets/sheet2.xml").decode()


# --- sarif ----------------------------------------------------------------------------------


def test_sarif_validates_against_the_official_schema(report: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test dependency")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    assert schema["id"].endswith("sarif-schema-2.1.0.json")
    log = json.loads(render(report, "sarif"))
    jsonschema.Draft4Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    # Structural sanity of the validator itself: a broken log must fail.
    broken = copy.deepcopy(log)
    broken["runs"][0]["results"][0]["level"] = "fatal"
    assert list(jsonschema.Draft4Validator(schema).iter_errors(broken))


def test_sarif_content(report: dict[str, Any]) -> None:
    log = json.loads(render(report, "sarif"))
    assert log["version"] == "2.1.0" and log["$schema"].startswith("https://")
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "leakscan" and driver["version"] == "0.1.0"
    assert [r["id"] for r in driver["rules"]] == ["cn-id-card", "cn-mobile", "cn-license-plate"]
    assert all(r["help"]["text"] and r["properties"]["entity"] for r in driver["rules"])
    results = [r for r in run["results"] if r["kind"] == "fail"]
    assert len(results) == len(report["findings"])
    by_fp = {r["partialFingerprints"]["leakscan/v1"]: r for r in results}
    for finding in report["findings"]:
        result = by_fp[finding["fingerprint"]]
        assert result["ruleId"] == finding["rule"]
        assert result["level"] == {"high": "error", "medium": "warning", "low": "note"}[finding["severity"]]
        assert finding["masked"] in result["message"]["text"]
        assert result["properties"]["entity"] == finding["entity"]
        assert result["properties"]["audit"] == finding["audit"]
        loc = result["locations"][0]
        region = loc["physicalLocation"].get("region")
        assert region == ({"startLine": finding["location"]["line"]} if finding["location"]["line"] else None)
    pdf = next(r for r in results if r["locations"][0]["physicalLocation"].get("properties", {}).get("page") == 3)
    assert pdf["locations"][0]["message"]["text"] == "第3页"
    member = next(r for r in results if "!/" in r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
    uri = member["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.endswith(".zip!/%E9%99%84%E4%BB%B61%20%E8%BD%A6%E8%BE%86%E6%B8%85%E5%8D%95.docx")
    assert member["locations"][0]["logicalLocations"][0]["name"] == "附件1 车辆清单.docx"
    absent = [r for r in run["results"] if r.get("baselineState") == "absent"]
    assert len(absent) == len(report["fixed"]) and all(r["kind"] == "pass" for r in absent)
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert {n["message"]["text"].split("：")[0] for n in notes} == {"已跳过", "读取出错"}
    assert run["invocations"][0]["startTimeUtc"] == "2026-11-22T02:00:00Z"


def test_sarif_uris_for_local_paths() -> None:
    from scanner.report.sarif import artifact_uri

    assert artifact_uri("site/附件/名单 1.xlsx") == "site/%E9%99%84%E4%BB%B6/%E5%90%8D%E5%8D%95%201.xlsx"
    assert artifact_uri("/srv/site/a.pdf") == "file:///srv/site/a.pdf"
    assert artifact_uri("C:\\docs\\a.pdf") == "file:///C:/docs/a.pdf"
    assert artifact_uri("pack.zip!/inner/a.docx") == "pack.zip!/inner/a.docx"
    assert artifact_uri("https://x.example/a%20b.pdf?id=1") == "https://x.example/a%20b.pdf?id=1"


# --- html -----------------------------------------------------------------------------------


def test_html_content(report: dict[str, Any]) -> None:
    page = render(report, "html").decode("utf-8")
    headings = ("个人信息泄露检查报告", "一、概况", "按信息类型", "按栏目", "二、问题清单", "三、已整改",
                "四、未能检查的文档")
    for heading in headings:
        assert heading in page
    for finding in report["findings"]:
        assert finding["masked"] in page
    assert page.count("<svg") == 2 and "<rect" in page
    assert "扫描件（无文字层），需要 OCR 才能检查" in page and "文件已损坏：无法读取 OLE 结构" in page
    assert 'href="https://xxgk.qingshan.example/zwgk/tzgg/202611/P020261115_dibao.xlsx"' in page
    # An archive member links to its archive; the member's path stays visible as text.
    assert 'href="https://xxgk.qingshan.example/zdly/jtys/202610/P020261020_fujian.zip"' in page
    assert "“三支一扶”人员拟聘用人员公示 &lt;第2批&gt; &amp; 补充说明" in page
    assert "break-before: page" in page and "@media print" in page


def test_html_is_self_contained(report: dict[str, Any]) -> None:
    page = render(report, "html").decode("utf-8").lower()
    for needle in ("<script", "<link", "src=", "@import", "url(", "@font-face"):
        assert needle not in page, needle


def test_html_escapes_untrusted_text(report: dict[str, Any]) -> None:
    finding = report["findings"][0]
    finding["context"] = "…<script>alert(1)</script> 身份证 \"x\" 'y' & <img src=x onerror=alert(2)>…"
    finding["masked"] = "<b>340823********1236</b>"
    report["documents"][0]["title"] = "公示</title><script>alert(3)</script>"
    report["documents"][0]["source"] = finding["source"] = "javascript:alert(4)"
    page = render(report, "html").decode("utf-8")
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;340823********1236&lt;/b&gt;" in page
    assert 'href="javascript' not in page
    assert "javascript:alert(4)" in page  # shown as text


def test_html_local_paths_are_text_not_links() -> None:
    report = minimal_report(source="site/附件/名单.xlsx", parent="site/notice.html")
    page = render(report, "html").decode("utf-8")
    assert "site/附件/名单.xlsx" in page and "site/notice.html" in page
    assert "href=" not in page


def test_key_note_is_shown(report: dict[str, Any]) -> None:
    note = "本次未指定密钥，指纹使用随机密钥生成，不能与其他报告比对。"
    report["key_note"] = note
    assert note in render(report, "html").decode("utf-8")
    assert json.loads(render(report, "sarif"))["runs"][0]["properties"]["key_note"] == note
    about = xlsx_sheets(render(report, "xlsx"))["检查说明"]
    assert ["指纹密钥", note] in about


# --- raw values and missing optional fields -------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_raw_value_only_when_asked(report: dict[str, Any], fmt: str) -> None:
    raw = "13805515678"
    report["findings"][0]["value"] = raw
    hidden = render(report, fmt)
    shown = render(report, fmt, ReportOptions(show_values=True))
    if fmt == "xlsx":
        hidden_text = json.dumps(xlsx_sheets(hidden), ensure_ascii=False)
        shown_text = json.dumps(xlsx_sheets(shown), ensure_ascii=False)
    else:
        hidden_text, shown_text = hidden.decode("utf-8-sig"), shown.decode("utf-8-sig")
    assert raw not in hidden_text
    assert raw in shown_text


def minimal_report(source: str = "notice.txt", parent: str | None = None) -> dict[str, Any]:
    """Only the fields the contract requires; no history, no redaction, no page metadata."""
    docs = [{"source": source, "parent": parent, "kind": "text", "status": "scanned", "reason": None, "findings": 1}]
    if parent:
        docs.insert(0, {"source": parent, "parent": None, "kind": "html", "status": "scanned", "reason": None,
                        "findings": 0})
    return {
        "schema": "leakscan.report/1",
        "tool": {"name": "leakscan", "version": "0.1.0"},
        "started_at": "2026-11-22T10:00:00+08:00",
        "finished_at": "2026-11-22T10:00:01+08:00",
        "documents": docs,
        "findings": [
            {"entity": "CN_MOBILE", "rule": "cn-mobile", "source": source, "parent": parent,
             "location": {"page": None, "sheet": None, "cell": None, "line": 2, "start": 4, "end": 15},
             "masked": "139****0001", "fingerprint": "ab" * 32, "exposure": "unmasked", "severity": "medium",
             "confidence": 0.9, "context": "…电话 139****0001…", "remediation": "遮盖中间4位。"}
        ],
    }


SPARSE_REPORTS = {
    "required-only": minimal_report(),
    "no-findings": {**minimal_report(), "findings": [], "documents": []},
    "bare-finding": {
        "schema": "leakscan.report/1",
        "documents": [{"source": "a.pdf"}],
        "findings": [{"entity": "NEW_THING", "source": "a.pdf"}, {"masked": "x", "location": "weird"}],
        "fixed": [{}],
    },
    "nulls": {
        "schema": "leakscan.report/1", "tool": None, "started_at": None, "finished_at": "not a time",
        "run": None, "documents": None, "findings": None, "fixed": None, "suppressed": None, "key_note": None,
    },
    "empty": {},
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(SPARSE_REPORTS))
def test_missing_optional_fields_do_not_crash(fmt: str, name: str) -> None:
    data = render(copy.deepcopy(SPARSE_REPORTS[name]), fmt)
    assert data
    if fmt == "sarif":
        assert json.loads(data)["version"] == "2.1.0"
    if fmt == "xlsx":
        assert "整改清单" in xlsx_sheets(data)


def test_sparse_sarif_is_still_valid() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test dependency")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    for name, report in SPARSE_REPORTS.items():
        log = json.loads(render(copy.deepcopy(report), "sarif"))
        errors = list(jsonschema.Draft4Validator(schema).iter_errors(log))
        assert not errors, (name, [e.message for e in errors[:3]])


# --- headless Chromium ----------------------------------------------------------------------


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless browser check needs Debian's `chromium` package (apt-get install chromium)")


def _chromium_args(binary: str, profile: Path) -> list[str]:
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}"]


def png_rows(data: bytes, max_rows: int) -> tuple[int, int, list[bytes], int]:
    """Decode the first ``max_rows`` rows of an 8-bit, non-interlaced RGB/RGBA PNG (enough to look at it)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompressobj().decompress(bytes(idat), (stride + 1) * min(height, max_rows))
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(min(height, max_rows)):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def test_html_renders_in_headless_chromium(report: dict[str, Any], tmp_path: Path) -> None:
    binary = _chromium()
    page = tmp_path / "report.html"
    page.write_bytes(render(report, "html"))
    shot = tmp_path / "report.png"
    args = _chromium_args(binary, tmp_path / "profile")
    subprocess.run([*args, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 50_000, "screenshot missing or nearly empty"
    width, height, rows, bpp = png_rows(shot.read_bytes(), max_rows=700)
    assert (width, height) == (1280, 2000)
    colours = {row[i:i + 3] for row in rows for i in range(0, len(row), bpp * 2)}
    assert len(colours) > 50, "the page looks blank"
    # The high-severity red of the legend and the bars made it to the screen: CSS and SVG rendered.
    assert bytes.fromhex("c62828") in colours

    dom = subprocess.run([*args, "--dump-dom", page.as_uri()], check=True, capture_output=True, timeout=120).stdout
    text = dom.decode("utf-8")
    for heading in ("个人信息泄露检查报告", "一、概况", "二、问题清单（按文档）", "四、未能检查的文档"):
        assert heading in text
    for finding in report["findings"]:
        assert finding["masked"] in text
    assert text.count("<tr>") >= len(report["findings"])


def test_sarif_streaming_writer_matches_the_whole_log(report: dict[str, Any]) -> None:
    from scanner.report.sarif import build

    for options in (ReportOptions(), ReportOptions(show_values=True)):
        whole = json.dumps(build(report, options), ensure_ascii=False, indent=2) + "\n"
        assert render(report, "sarif", options).decode("utf-8") == whole


def test_html_prints_sections_on_their_own_pages(report: dict[str, Any], tmp_path: Path) -> None:
    binary = _chromium()
    pdfium = pytest.importorskip("pypdfium2")
    page = tmp_path / "report.html"
    page.write_bytes(render(report, "html"))
    pdf = tmp_path / "report.pdf"
    subprocess.run([*_chromium_args(binary, tmp_path / "profile"), "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                    page.as_uri()], check=True, capture_output=True, timeout=120)
    document = pdfium.PdfDocument(str(pdf))
    starts = [document[i].get_textpage().get_text_range().lstrip()[:12] for i in range(len(document))]
    # Header and summary (with both charts) fit the first page; each later section starts a page.
    assert starts[0].startswith("个人信息泄露检查报告")
    assert starts[1].startswith("二、问题清单")
    assert any(s.startswith("三、已整改") for s in starts) and any(s.startswith("四、未能检查") for s in starts)


def test_html_without_history_has_no_audit_column_and_repeats_advice_as_tong_shang(report: dict[str, Any]) -> None:
    for key in ("fixed", "run", "suppressed"):
        report.pop(key)
    for finding in report["findings"]:
        finding.pop("audit")
    page = render(report, "html").decode("utf-8")
    assert "审计状态" not in page and "三、已整改" not in page and "三、未能检查的文档" in page
    # Three ID rows of the xlsx attachment share one remediation: written once, then 同上 twice.
    assert page.count("<td>同上</td>") >= 2
    rows = csv_rows(render(report, "csv"))
    assert "同上" not in {r[9] for r in rows}  # the csv keeps every row self-contained


def test_scope_of_a_folder_scan() -> None:
    report = minimal_report()
    report["documents"] = [
        {"source": f"site/{name}", "parent": None, "kind": "text", "status": "scanned", "reason": None, "findings": 0}
        for name in ("a.txt", "b/c.txt", "b/d.pdf", "e.html")
    ]
    report["findings"] = []
    assert "site（共4个文件）" in render(report, "html").decode("utf-8")


def test_xlsx_long_detail_sheet_uses_one_default_row_height(report: dict[str, Any], monkeypatch) -> None:
    import scanner.report.xlsx as xlsx_report

    monkeypatch.setattr(xlsx_report, "ROW_HEIGHT_LIMIT", 1)
    with zipfile.ZipFile(io.BytesIO(render(report, "xlsx"))) as zf:
        details = zf.read("xl/worksheets/sheet2.xml").decode()
        summary = zf.read("xl/worksheets/sheet1.xml").decode()
    assert '<sheetFormatPr defaultRowHeight="42"' in details
    assert details.count("<row ") == 1 + len(report["findings"])
    assert set(re.findall(r'<row r="\d+" ht="([\d.]+)"', details)) == {"42"}  # no row sized on its own
    assert len(set(re.findall(r'<row r="\d+" ht="([\d.]+)"', summary))) > 1


# --- redaction summary -------------------------------------------------------------------------


def _with_redaction(report: dict[str, Any]) -> dict[str, Any]:
    report = copy.deepcopy(report)
    sources = [f["source"] for f in report["findings"]]
    docs = [d for d in report["documents"] if d["source"] in sources]
    docs[0]["redaction"], docs[0]["redacted_to"] = "done", "/tmp/脱敏/copy-one"
    if len(docs) > 1:
        docs[1]["redaction"], docs[1]["redacted_to"] = "not possible: 不支持改写 WPS 格式，请人工处理", None
    return report


def _readable(data: bytes, fmt: str) -> str:
    if fmt == "xlsx":
        return json.dumps(xlsx_sheets(data), ensure_ascii=False, default=str)
    return data.decode("utf-8-sig")


@pytest.mark.parametrize("fmt", ["table", "csv", "html", "xlsx", "sarif"])
def test_every_format_carries_the_redaction_summary(report: dict[str, Any], fmt: str) -> None:
    blob = _readable(render(_with_redaction(report), fmt), fmt)
    assert "/tmp/脱敏/copy-one" in blob
    assert ("无法脱敏" in blob or "not possible" in blob), fmt
    assert "/tmp/脱敏/copy-one" not in _readable(render(report, fmt), fmt)


def test_json_reads_back_as_the_report_with_odd_values_as_the_standard_library_writes_them(
        report: dict[str, Any]) -> None:
    odd = copy.deepcopy(report)
    odd["documents"][0]["meta_counts"] = {3: "页"}  # a number as a key
    odd["documents"][0]["path"] = Path("上传/名单.csv")  # not JSON by itself
    back = json.loads(render(odd, "json"))
    assert back == json.loads(json.dumps(odd, ensure_ascii=False, default=str))
    assert "名单" in render(odd, "json").decode("utf-8")  # Chinese readable, not \\u-escaped
