"""Spreadsheet extraction from real generated XLSX, XLS and ODS files."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from scanner.config import Limits
from scanner.errors import ExtractError
from scanner.extract import extract as extract_any
from scanner.extract import sheet as sheet_mod
from scanner.extract.sheet import column_letters, extract, format_number
from scanner.model import Document, Segment

# Fake people: IDs with a valid GB 11643 check character, mobiles from real segments.
ID_TEXT = "11010519491231002X"
ID_NUMBER = 340823199001011236  # typed into Excel as a number: only 15 digits survive
MOBILE = 13812345678


def cells(doc: Document, limits: Limits | None = None) -> dict[str, Segment]:
    out: dict[str, Segment] = {}
    for block in extract(doc, limits or Limits()):
        assert isinstance(block, Segment)
        for seg in block.parts():
            out[f"{seg.location.sheet}!{seg.location.cell}"] = seg
    return out


@pytest.fixture(params=["calamine", "stream"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through calamine and through the streaming reader used for huge workbooks."""
    if request.param == "stream":
        monkeypatch.setattr(sheet_mod, "STREAM_THRESHOLD_BYTES", -1)
    return request.param


@pytest.fixture()
def roster(tmp_path: Path) -> Path:
    path = tmp_path / "低保名单.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    ws.merge_range("A1:D1", "2023年城乡低保对象名单")  # title row above the header
    ws.write_row("A3", ["姓名", "联系电话", "身份证号", "登记日期"])
    ws.write("A5", "张伟")
    ws.write_number("B5", MOBILE)
    ws.write_number("C5", ID_NUMBER)
    ws.write_datetime("D5", dt.datetime(2023, 5, 6), wb.add_format({"num_format": "yyyy-mm-dd"}))
    ws.write_string("A6", "李芳")
    ws.write_string("C6", ID_TEXT)
    ws.write_number("B6", 2.5)
    ws.write_string("D6", "   ")  # blank to the eye: no segment
    bold = wb.add_format({"bold": True})
    ws.write_rich_string("A7", "王", bold, "敏", "（已迁出）")
    ws.write_datetime("D7", dt.datetime(2023, 5, 6, 14, 30), wb.add_format({"num_format": "yyyy-mm-dd hh:mm"}))
    ws.write_formula("B7", '="139"&"98765432"', None, "13998765432")
    ws.write_boolean("E7", True)
    ws.write_formula("F7", "=1/0", None, "#DIV/0!")
    wb.add_worksheet("空表")
    other = wb.add_worksheet("附表")
    other.write("D4", "车牌")
    other.write("E4", "备注")
    other.write("D6", "皖A·12345")
    wb.close()
    return path


def test_xlsx_cells_have_address_header_and_readable_numbers(roster: Path, reader: str) -> None:
    got = cells(Document(source=str(roster), path=roster, name=roster.name))
    id_cell = got["Sheet1!C5"]
    assert id_cell.text == "340823199001011***"
    assert id_cell.header == "身份证号"
    assert (id_cell.location.row, id_cell.location.column) == (5, 3)
    assert got["Sheet1!B5"].text == "13812345678"
    assert got["Sheet1!B5"].header == "联系电话"
    assert got["Sheet1!D5"].text == "2023-05-06"
    assert got["Sheet1!C6"].text == ID_TEXT
    assert got["Sheet1!C6"].header == "身份证号"
    assert got["Sheet1!B6"].text == "2.5"
    assert got["Sheet1!A1"].text == "2023年城乡低保对象名单"
    assert got["Sheet1!A1"].header == ""
    assert "Sheet1!D6" not in got
    # A sheet whose data starts at D4 keeps its real addresses.
    assert got["附表!D6"].text == "皖A·12345"
    assert got["附表!D6"].header == "车牌"
    assert not any(key.startswith("空表") for key in got)
    assert got["Sheet1!A7"].text == "王敏（已迁出）"
    assert got["Sheet1!B7"].text == "13998765432"
    assert got["Sheet1!D7"].text == "2023-05-06T14:30:00"
    assert got["Sheet1!E7"].text == "TRUE"


def test_xlsx_from_bytes_and_through_the_registry(roster: Path) -> None:
    doc = Document(source="https://example.gov.cn/download.jsp?id=7", data=roster.read_bytes())
    kind, items = extract_any(doc, Limits())
    assert kind == "xlsx"
    texts = [p.text for s in items for p in s.parts()]
    assert "340823199001011***" in texts and "13812345678" in texts


def test_number_formatting() -> None:
    assert format_number(13812345678.0) == "13812345678"
    assert format_number(3.40823199001011e17) == "340823199001011***"
    assert format_number(6222021234567890.0) == "622202123456789*"
    assert format_number(-12.0) == "-12"
    assert format_number(0.25) == "0.25"
    assert format_number(123456789012345.0) == "123456789012345"
    assert [column_letters(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


def test_data_row_never_becomes_a_header(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "no-header.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("名单")
    ws.write_row("A1", ["张伟", "男", ID_TEXT, str(MOBILE)])
    ws.write_row("A2", ["李芳", "女", "440306198512124561", "13998765432"])
    wb.close()
    got = cells(Document(source=str(path), path=path))
    assert all(seg.header == "" for seg in got.values())
    assert got["名单!C2"].text == "440306198512124561"


def test_xls_biff(tmp_path: Path) -> None:
    xlwt = pytest.importorskip("xlwt", reason="xlwt (test-only) writes the XLS fixture")
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("花名册")
    for col, title in enumerate(["姓名", "手机", "身份证号"]):
        sheet.write(0, col, title)
    sheet.write(1, 0, "王敏")
    sheet.write(1, 1, float(MOBILE))
    sheet.write(1, 2, float(ID_NUMBER))
    sheet.write(2, 2, ID_TEXT)
    path = tmp_path / "roster.xls"
    book.save(str(path))
    doc = Document(source=str(path), path=path, name="roster.et")  # WPS 表格 keeps the BIFF layout
    kind, items = extract_any(doc, Limits())
    assert kind == "xls"
    got = {f"{p.location.sheet}!{p.location.cell}": p for s in items for p in s.parts()}
    assert got["花名册!B2"].text == "13812345678"
    assert got["花名册!C2"].text == "340823199001011***"
    assert got["花名册!C2"].header == "身份证号"
    assert got["花名册!C3"].text == ID_TEXT


def test_ods(tmp_path: Path) -> None:
    odf = pytest.importorskip("odf.opendocument", reason="odfpy (test-only) writes the ODS fixture")
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    book = odf.OpenDocumentSpreadsheet()
    table = Table(name="登记表")
    for row in (["姓名", "身份证号", "手机"], ["赵静", ID_TEXT, MOBILE]):
        tr = TableRow()
        for value in row:
            if isinstance(value, int):
                cell = TableCell(valuetype="float", value=value)
            else:
                cell = TableCell(valuetype="string")
            cell.addElement(P(text=str(value)))
            tr.addElement(cell)
        table.addElement(tr)
    book.spreadsheet.addElement(table)
    buf = io.BytesIO()
    book.write(buf)
    doc = Document(source="登记表.ods", data=buf.getvalue(), name="登记表.ods")
    kind, items = extract_any(doc, Limits())
    assert kind == "ods"
    got = {p.location.cell: p for s in items for p in s.parts()}
    assert got["B2"].text == ID_TEXT and got["B2"].header == "身份证号"
    assert got["C2"].text == "13812345678" and got["C2"].header == "手机"


def test_empty_workbook_yields_nothing(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "empty.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet()
    wb.close()
    assert cells(Document(source=str(path), path=path)) == {}


def test_truncated_and_garbage_files_are_errors(roster: Path, reader: str) -> None:
    data = roster.read_bytes()
    for bad in (data[: len(data) // 2], b"PK\x03\x04" + b"\x00" * 200):
        with pytest.raises(ExtractError, match="损坏"):
            list(extract(Document(source="bad.xlsx", data=bad, name="bad.xlsx"), Limits()))


def test_sheet_xml_with_a_dtd_is_refused_or_unreadable(roster: Path, reader: str) -> None:
    # Replace the sheet with a billion-laughs payload; calamine must not expand it into memory.
    src = zipfile.ZipFile(roster)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                ents = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
                data = (
                    f'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY l0 "lol">{ents}]>'
                    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                    '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&l9;</t></is></c></row></sheetData>'
                    "</worksheet>"
                ).encode()
            out.writestr(info, data)
    doc = Document(source="laughs.xlsx", data=buf.getvalue())
    if reader == "stream":
        with pytest.raises(ExtractError, match="DTD"):
            list(extract(doc, Limits()))
        return
    try:
        texts = [s.text for s in extract(doc, Limits())]
    except ExtractError:
        return
    assert all(len(t) < 10_000 for t in texts)


def test_zip_bomb_is_refused_before_reading(roster: Path, reader: str) -> None:
    src = zipfile.ZipFile(roster)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info), zipfile.ZIP_DEFLATED)
        out.writestr("xl/media/padding.bin", b"\0" * (4 << 20), zipfile.ZIP_DEFLATED)
    with pytest.raises(ExtractError, match="疑似压缩炸弹"):
        list(extract(Document(source="bomb.xlsx", data=buf.getvalue()), Limits(max_ratio=100)))
    with pytest.raises(ExtractError, match="疑似压缩炸弹"):
        list(extract(Document(source="bomb.xlsx", data=buf.getvalue()), Limits(max_member_bytes=1 << 20)))


def test_password_protected_xlsx(roster: Path, tmp_path: Path, reader: str) -> None:
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml", reason="msoffcrypto-tool (test-only) encrypts the fixture")
    out = io.BytesIO()
    with roster.open("rb") as fh:
        ooxml.OOXMLFile(fh).encrypt("secret", out)
    doc = Document(source="加密.xlsx", data=out.getvalue(), name="加密.xlsx")
    kind, items = extract_any(doc, Limits())
    assert kind == "xlsx"
    with pytest.raises(ExtractError, match="表格文件已加密，无法读取"):
        list(items)


def test_hand_written_workbook_prefixes_missing_refs_and_phonetics(reader: str) -> None:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/s1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="r1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<x:workbook xmlns:x="{main}" xmlns:r="{rel}"><x:sheets>'
            '<x:sheet name="名册" sheetId="1" r:id="rId1"/></x:sheets></x:workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="/xl/worksheets/s1.xml"/></Relationships>'
        ),
        "xl/worksheets/s1.xml": (
            f'<x:worksheet xmlns:x="{main}"><x:sheetData>'
            '<x:row r="2"><x:c t="inlineStr"><x:is><x:t>姓名</x:t></x:is></x:c>'
            '<x:c t="inlineStr"><x:is><x:t>身份证号</x:t></x:is></x:c></x:row>'
            '<x:row><x:c t="inlineStr"><x:is><x:r><x:t>张</x:t></x:r><x:r><x:t>伟</x:t></x:r>'
            "<x:rPh sb=\"0\" eb=\"1\"><x:t>zhang</x:t></x:rPh></x:is></x:c>"
            f'<x:c><x:v>{float(ID_NUMBER)!r}</x:v></x:c></x:row>'
            "</x:sheetData></x:worksheet>"
        ),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text.encode())
    got = cells(Document(source="hand.xlsx", data=buf.getvalue()))
    assert {k: (v.text, v.header) for k, v in got.items()} == {
        "名册!A2": ("姓名", ""),
        "名册!B2": ("身份证号", ""),
        "名册!A3": ("张伟", "姓名"),
        "名册!B3": ("340823199001011***", "身份证号"),
    }


def test_min_cell_chars_drops_only_cells_too_short_to_hold_a_value(roster: Path, reader: str) -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class ShortCellLimits(Limits):
        min_cell_chars: int = 7

    got = cells(Document(source=str(roster), path=roster), ShortCellLimits())
    assert {k: v.text for k, v in got.items() if k.startswith("Sheet1!")} == {
        "Sheet1!A1": "2023年城乡低保对象名单",
        "Sheet1!B5": "13812345678",
        "Sheet1!C5": "340823199001011***",
        "Sheet1!D5": "2023-05-06",
        "Sheet1!C6": ID_TEXT,
        "Sheet1!A7": "王敏（已迁出）",
        "Sheet1!B7": "13998765432",
        "Sheet1!D7": "2023-05-06T14:30:00",
    }
    assert got["Sheet1!C5"].header == "身份证号"
    assert got["附表!D6"].text == "皖A·12345"


def _fake_id(n: int) -> str:
    from stdnum.iso7064 import mod_11_2

    body = f"34082319{80 + n % 20:02d}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return body + mod_11_2.calc_check_digit(body)


@pytest.fixture()
def long_roster(tmp_path: Path) -> Path:
    """A header row and 3,000 data rows: several blocks of cells, values in known cells."""
    path = tmp_path / "长名单.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("名单")
    ws.write_row("B2", ["序号", "姓名", "身份证号", "银行卡号", "备注"])
    for i in range(3000):
        ws.write_row(i + 2, 1, [i + 1, "张三", "无", "", "—"])
    ws.write_string("D100", _fake_id(1))
    ws.write_string("E100", _fake_id(2))  # a number in a 银行卡号 column: the header rules it out
    ws.write_string("F200", "本人签字\n联系电话13812345678")  # a cell with lines of its own
    ws.write_string("D2900", f"证件 {_fake_id(3)}")
    ws.write_number("C2901", MOBILE)
    wb.close()
    return path


def test_cells_after_the_header_come_in_blocks_that_place_every_offset_in_its_cell(long_roster: Path) -> None:
    segments = list(extract(Document(source=str(long_roster), path=long_roster), Limits()))
    blocks = [s for s in segments if isinstance(s, sheet_mod.CellBlock)]
    assert len(blocks) >= 2  # 15,000 cells
    assert all(not isinstance(s, sheet_mod.CellBlock) for s in segments[: len(segments) - len(blocks)])
    got = cells(Document(source=str(long_roster), path=long_roster))
    assert got["名单!D100"].text == _fake_id(1) and got["名单!D100"].header == "身份证号"
    assert got["名单!F200"].text == "本人签字\n联系电话13812345678" and got["名单!F200"].header == "备注"
    assert got["名单!C2901"].text == "13812345678" and got["名单!C2901"].header == "姓名"
    assert got["名单!B3"].text == "1" and got["名单!B3"].header == "序号"
    assert "名单!E3" not in got  # blank cells are not parts
    assert len([k for k in got if k.startswith("名单!B")]) == 3001
    for block in blocks:
        for offset in range(0, len(block.text), 997):
            start, piece = block.part(offset)
            assert block.text[start:start + len(piece.text)] == piece.text
            assert start <= offset <= start + len(piece.text)
            loc = piece.location
            assert got.get(f"{loc.sheet}!{loc.cell}", piece).text == piece.text


def test_findings_in_blocks_carry_their_cell_header_and_own_context(long_roster: Path, detector) -> None:
    segments = list(extract(Document(source=str(long_roster), path=long_roster), Limits()))
    findings = detector.detect_many(segments, "长名单.xlsx")
    by_cell = {f.location["cell"]: f for f in findings}
    assert set(by_cell) == {"D100", "F200", "D2900", "C2901"}  # not E100: its column is 银行卡号
    f = by_cell["F200"]
    assert (f.entity, f.location["sheet"], f.location["row"], f.location["column"]) == ("CN_MOBILE", "名单", 200, 6)
    assert (f.location["start"], f.location["end"]) == (9, 20)  # offsets into the cell's own text
    assert "张三" not in f.context and "—" not in f.context  # the snippet stays in its cell
    f = by_cell["D2900"]
    assert (f.location["start"], f.location["end"]) == (3, 21)
    # the same findings as one Segment per cell would give
    per_cell = [p for s in segments for p in s.parts()]
    assert [(f.location, f.fingerprint, f.context) for f in detector.detect_many(per_cell, "长名单.xlsx")] == \
        [(f.location, f.fingerprint, f.context) for f in findings]
