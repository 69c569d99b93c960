"""De-identified copies (issue 7): real files of each format with fake people, redacted and re-scanned."""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import shutil
import zipfile
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from stdnum.iso7064 import mod_11_2

from scanner.errors import UsageError
from scanner.model import Document
from scanner.pipeline import Scanner
from scanner.redact import DONE, FLATTENED, UNCHANGED, redact_document, redact_tree
from scanner.redact._core import mask_positions

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


def fake_id(area: str, birth: str, seq: str) -> str:
    body = area + birth + seq
    return body + mod_11_2.calc_check_digit(body)


ID_A = fake_id("340823", "19900101", "123")
ID_B = fake_id("110105", "19491231", "002")
ID_C = fake_id("440106", "19851212", "456")
ID_NUM = next(i for i in (fake_id("430104", "19760315", f"{n:03d}") for n in range(100)) if i[-1] != "X")
MOBILE_A, MOBILE_B = "13812345678", "19987654321"
PLATE_A = "皖A·12345"
MASKS = frozenset("*＊")


def masked_id(value: str) -> str:
    return value[:6] + "*" * 8 + value[14:]


@pytest.fixture(scope="module")
def scanner(detector):
    return Scanner(detector)


def rescan(scanner: Scanner, path: Path) -> list:
    """Every finding left in ``path`` (all of them count: none may be left)."""
    results = scanner.process(Document(str(path), path=path, name=path.name))
    assert all(r.status == "scanned" or r.status == "skipped" for r in results), results
    return [f for r in results for f in r.findings]


def redact(detector, tmp_path: Path, name: str, data: bytes):
    src = tmp_path / "in" / name
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(data)
    out = tmp_path / "out" / name
    result = redact_document(Document(str(src), path=src, name=name), detector, out)
    assert src.read_bytes() == data  # the input is never touched
    return src, out, result


def assert_only_values_changed(before: str, after: str, values: list[str]) -> None:
    """Same length; every changed character is a masking character inside a planted value."""
    assert len(before) == len(after)
    inside = set()
    for value in values:
        for m in re.finditer(re.escape(value), before):
            inside.update(range(m.start(), m.end()))
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert changed, "nothing was masked"
    for i in changed:
        assert i in inside and after[i] in MASKS, (i, before[max(0, i - 20):i + 20])


# -- mask policy ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "rule", "expected"), [
    (ID_A, "cn-id-card", masked_id(ID_A)),
    ("3408231990****1239", "cn-id-card", "340823********1239"),
    ("340823 19900101 1236", "cn-id-card", "340823 ******** 1236"),
    ("３４０８２３１９９００１０１１２３６", "cn-id-card", "３４０８２３＊＊＊＊＊＊＊＊１２３６"),
    ("110105491231002", "cn-id-card-15", "110105******002"),
    (MOBILE_A, "cn-mobile", "138****5678"),
    ("138-1234-5678", "cn-mobile", "138-****-5678"),
    (PLATE_A, "cn-license-plate", "皖A·12***"),
    ("皖A·123**", "cn-license-plate", "皖A·12***"),
    ("鲁A12345D", "cn-license-plate", "鲁A123***"),
])
def test_mask_policy_comes_from_the_rule(detector, raw, rule, expected):
    chars = list(raw)
    for i in mask_positions(detector.rules[rule], raw):
        chars[i] = "＊" if "\uff01" <= chars[i] <= "\uff5e" else "*"
    assert "".join(chars) == expected


def test_mask_policy_is_configurable_per_rule(detector):
    import dataclasses
    rule = dataclasses.replace(detector.rules["cn-mobile"], mask_region=(4, 11), mask_display=(4, 11))
    assert len(mask_positions(rule, MOBILE_A)) == 8


# -- text and CSV --------------------------------------------------------------------------------

@pytest.mark.parametrize(("encoding", "bom", "newline"), [
    ("gb18030", b"", "\r\n"), ("utf-8", codecs.BOM_UTF8, "\n"), ("utf-16-le", codecs.BOM_UTF16_LE, "\r\n"),
    ("utf-16-be", codecs.BOM_UTF16_BE, "\n"),
])
def test_text_keeps_encoding_bom_and_line_endings(detector, scanner, tmp_path, encoding, bom, newline):
    lines = ["注销人员名单", f"1 张伟 身份证号：{ID_A} 手机：{MOBILE_A}",
             f"2 李娜 证件号码 {ID_B[:6]} {ID_B[6:14]} {ID_B[14:]}",
             f"车牌 {PLATE_A} 已部分隐藏的：身份证号 {ID_C[:10]}****{ID_C[14:]}", "咨询电话：0556-1234567"]
    text = newline.join(lines) + newline
    data = bom + text.encode(encoding)
    _, out, result = redact(detector, tmp_path, "list.txt", data)
    assert result.status == DONE and result.path == out
    copy = out.read_bytes()
    assert copy.startswith(bom) and copy.count(newline.encode(encoding)) == data.count(newline.encode(encoding))
    after = copy[len(bom):].decode(encoding)
    values = [ID_A, MOBILE_A, f"{ID_B[:6]} {ID_B[6:14]} {ID_B[14:]}", PLATE_A, f"{ID_C[:10]}****{ID_C[14:]}"]
    assert_only_values_changed(text, after, values)
    assert masked_id(ID_A) in after and "138****5678" in after and "皖A·12***" in after
    assert rescan(scanner, out) == []
    assert len(result.masked) == 5
    assert all(set(m) == {"fingerprint", "entity", "rule", "location"} for m in result.masked)
    assert not any(ID_A in str(m) or MOBILE_A in str(m) for m in result.masked)


def test_text_without_values_is_unchanged_and_not_copied(detector, tmp_path):
    _, out, result = redact(detector, tmp_path, "clean.txt", "咨询电话：0556-1234567\n".encode())
    assert result.status == UNCHANGED and result.path is None and not out.exists()


def test_text_with_undecodable_bytes_keeps_them(detector, scanner, tmp_path):
    data = f"身份证号 {ID_A}\n".encode() + b"\xff\xfe\x80 broken\n"
    _, out, result = redact(detector, tmp_path, "odd.txt", data)
    if result.status == DONE:
        copy = out.read_bytes()
        assert copy.endswith(b"\xff\xfe\x80 broken\n") and len(copy) == len(data)
        assert rescan(scanner, out) == []
    else:
        assert result.status.startswith("not possible:")


def test_csv_keeps_encoding_bom_quotes_and_masks_only_values(detector, scanner, tmp_path):
    rows = [
        "姓名,身份证号,联系电话,车牌号码,备注",
        f'张伟,{ID_A},{MOBILE_A},{PLATE_A},"含逗号,和""引号"""',
        f'李娜,"{ID_B}","{MOBILE_B}",皖H67916,"多行\r\n备注"',
        f'王芳,="{ID_C}",\t{MOBILE_A},,',
    ]
    text = "\r\n".join(rows) + "\r\n"
    for encoding, bom in (("gb18030", b""), ("utf-8", codecs.BOM_UTF8)):
        data = bom + text.encode(encoding)
        _, out, result = redact(detector, tmp_path / encoding, "list.csv", data)
        assert result.status == DONE
        copy = out.read_bytes()
        assert copy.startswith(bom)
        after = copy[len(bom):].decode(encoding)
        assert_only_values_changed(text, after, [ID_A, ID_B, ID_C, MOBILE_A, MOBILE_B, PLATE_A, "皖H67916"])
        assert after.count(",") == text.count(",") and after.count("\r\n") == text.count("\r\n")
        assert rescan(scanner, out) == []
        cells = {m["location"]["cell"] for m in result.masked}
        assert {"B2", "C2", "D2", "B3", "C3", "D3", "B4", "C4"} <= cells


# -- HTML ----------------------------------------------------------------------------------------

HTML = f"""<!DOCTYPE html>
<html><head><meta charset="gbk"><title>注销名单</title>
<script>var data = {{"sfzh": "{ID_C}", "name": "\\u5f20\\u4f1f",
  "lxdh": "\\u0031\\u0033\\u0038{MOBILE_A[3:]}"}};</script>
<style>.x {{ color: red }} /* 13812345678 is not text */</style></head>
<body class="main"><p>当事人张伟，身份证号：
{ID_A[:6]}<span style="color:red">{ID_A[6:12]}</span><b>{ID_A[12:]}</b>，手机&nbsp;{MOBILE_B}。</p>
<table border="1"><tr><th>姓名</th><th>身份证号</th><th>车牌</th></tr>
<tr><td>李娜</td><td>&#49;{ID_B[1:]}</td><td title="车牌号 {PLATE_A}">{PLATE_A}</td></tr></table>
<!-- 旧表格：<td>{ID_C}</td> -->
<img src="a.png" alt="手机 {MOBILE_A}"><a href="/x?id={ID_A}">链接</a>
</body></html>
"""


def test_html_changes_only_text_and_attribute_values(detector, scanner, tmp_path):
    data = HTML.encode("gb18030")
    _, out, result = redact(detector, tmp_path, "page.html", data)
    assert result.status == DONE
    after = out.read_bytes().decode("gb18030")
    assert len(after) == len(HTML)
    # Markup is byte-identical: the same tags in the same places.
    def tags(s: str) -> list[str]:
        return re.findall(r"<[^>]*>", re.sub(r'"[^"]*"', '""', s))

    assert tags(after) == tags(HTML)
    changed = [i for i, (a, b) in enumerate(zip(HTML, after, strict=True)) if a != b]
    assert changed and all(after[i] == "*" and HTML[i] in "0123456789" for i in changed)
    assert f"{ID_A[:6]}<span style=\"color:red\">******</span><b>**{ID_A[14:]}</b>" in after
    assert "138****5678" in after  # the alt attribute
    assert "皖A·12***" in after and 'title="车牌号 皖A·12***"' in after
    assert f"&#49;{ID_B[1:6]}********{ID_B[14:]}" in after
    assert masked_id(ID_C) in after  # script and comment
    assert "/* 13812345678 is not text */" in after  # style is not text
    assert f"href=\"/x?id={ID_A}\"" in after  # href is not read by the scanner either
    assert rescan(scanner, out) == []


# -- DOCX ----------------------------------------------------------------------------------------

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
DOCX_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"'
    ' Target="word/document.xml"/></Relationships>'
)


def run(text: str, bold: bool = False) -> str:
    props = "<w:rPr><w:b/><w:color w:val=\"FF0000\"/></w:rPr>" if bold else ""
    return f'<w:r>{props}<w:t xml:space="preserve">{text}</w:t></w:r>'


def para(*runs: str) -> str:
    return '<w:p><w:pPr><w:jc w:val="center"/></w:pPr>' + "".join(runs) + "</w:p>"


def build_docx() -> bytes:
    body = (
        para(run("关于注销从业资格证的公示"))
        + para(run("当事人张伟，身份证号："), run(ID_A[:5]), run(ID_A[5:11], bold=True), run(ID_A[11:]),
               run("，手机"), run(MOBILE_A[:7], bold=True), run(MOBILE_A[7:]))
        + "<w:tbl><w:tblPr><w:tblStyle w:val=\"TableGrid\"/></w:tblPr>"
        + "<w:tr><w:tc>" + para(run("姓名")) + "</w:tc><w:tc>" + para(run("身份证号")) + "</w:tc>"
        + "<w:tc>" + para(run("联系电话")) + "</w:tc></w:tr>"
        + "<w:tr><w:tc>" + para(run("李娜")) + "</w:tc><w:tc><w:tcPr><w:gridSpan w:val=\"1\"/></w:tcPr>"
        + para(run(ID_B)) + "</w:tc><w:tc>" + para(run(MOBILE_B)) + "</w:tc></w:tr></w:tbl>"
        + para(run("车牌号码 &amp; 车主：" + PLATE_A)) + para()
    )
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<w:document xmlns:w="{W}">'
                f'<w:body>{body}<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>')
    header = f'<?xml version="1.0" encoding="UTF-8"?><w:hdr xmlns:w="{W}">{para(run("联系人手机 " + MOBILE_B))}</w:hdr>'
    styles = (f'<?xml version="1.0" encoding="UTF-8"?><w:styles xmlns:w="{W}">'
              '<w:style w:styleId="TableGrid"/></w:styles>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", DOCX_TYPES)
        zf.writestr("_rels/.rels", DOCX_RELS)
        zf.writestr("word/document.xml", document.encode())
        zf.writestr("word/header1.xml", header.encode())
        zf.writestr("word/styles.xml", styles.encode())
        zf.writestr("word/media/image1.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, zipfile.ZIP_STORED)
    return buf.getvalue()


def test_docx_edits_only_the_runs_holding_values(detector, scanner, tmp_path):
    data = build_docx()
    _, out, result = redact(detector, tmp_path, "list.docx", data)
    assert result.status == DONE
    with zipfile.ZipFile(io.BytesIO(data)) as a, zipfile.ZipFile(out) as b:
        assert [i.filename for i in a.infolist()] == [i.filename for i in b.infolist()]
        for info in a.infolist():
            before, after = a.read(info), b.read(info.filename)
            if info.filename in ("word/document.xml", "word/header1.xml"):
                text_a, text_b = before.decode(), after.decode()
                assert_only_values_changed(text_a, text_b, [ID_A[:5], ID_A[5:11], ID_A[11:], MOBILE_A[:7],
                                                            MOBILE_A[7:], ID_B, MOBILE_B, PLATE_A])
                assert text_a.count("<w:p>") == text_b.count("<w:p>")
                assert text_a.count("<w:rPr>") == text_b.count("<w:rPr>")
            else:
                assert before == after, info.filename
            assert b.getinfo(info.filename).compress_type == info.compress_type
    doc_xml = zipfile.ZipFile(out).read("word/document.xml").decode()
    assert re.sub(r"<[^>]+>", "", doc_xml).count(masked_id(ID_A)) == 1  # across runs
    assert rescan(scanner, out) == []
    parts = {m["location"].get("part") for m in result.masked}
    assert parts == {"正文", "页眉"}


# -- XLSX ----------------------------------------------------------------------------------------

def build_xlsx(tmp_path: Path) -> bytes:
    xlsxwriter = pytest.importorskip("xlsxwriter")
    from PIL import Image

    png = tmp_path / "logo.png"
    Image.new("RGB", (8, 8), (200, 0, 0)).save(png)
    path = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    bold = wb.add_format({"bold": True, "bg_color": "#DDEEFF", "border": 1})
    red = wb.add_format({"font_color": "red"})
    ws = wb.add_worksheet("名单")
    ws.merge_range("A1:E1", "2023年注销人员名单", bold)
    ws.write_row("A2", ["姓名", "身份证号", "联系电话", "车牌号码", "金额"], bold)
    ws.write_row("A3", ["张伟", ID_A], red)
    ws.write_number("C3", int(MOBILE_A), red)
    ws.write_string("D3", PLATE_A)
    ws.write_number("E3", 1200.5)
    ws.write_string("A4", "李娜")
    ws.write_number("B4", float(ID_NUM))  # an ID typed as a number: the last digits are lost
    ws.write_rich_string("C4", "电话", bold, MOBILE_B[:5], red, MOBILE_B[5:])
    ws.write_formula("E4", "=E3*2", None, 2401)
    ws.write_string("A5", ID_C)  # the same shared string used twice
    ws.write_string("B5", ID_C)
    ws.insert_image("G2", str(png))
    ws2 = wb.add_worksheet("说明")
    ws2.write("A1", "本表无个人信息")
    wb.close()
    return path.read_bytes()


def test_xlsx_edits_cells_in_place_and_keeps_styles_formulas_merges(detector, scanner, tmp_path):
    data = build_xlsx(tmp_path)
    _, out, result = redact(detector, tmp_path, "book.xlsx", data)
    assert result.status == DONE
    with zipfile.ZipFile(io.BytesIO(data)) as a, zipfile.ZipFile(out) as b:
        assert [i.filename for i in a.infolist()] == [i.filename for i in b.infolist()]
        changed = {i.filename for i in a.infolist() if a.read(i) != b.read(i.filename)}
        assert changed == {"xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"}
        sst_a, sst_b = a.read("xl/sharedStrings.xml").decode(), b.read("xl/sharedStrings.xml").decode()
        assert_only_values_changed(sst_a, sst_b, [ID_A, ID_C, PLATE_A, MOBILE_B[:5], MOBILE_B[5:]])
        sheet_a, sheet_b = a.read("xl/worksheets/sheet1.xml").decode(), b.read("xl/worksheets/sheet1.xml").decode()
    cells_a = re.findall(r'<c r="([A-Z]+\d+)"(?: s="(\d+)")?', sheet_a)
    cells_b = re.findall(r'<c r="([A-Z]+\d+)"(?: s="(\d+)")?', sheet_b)
    assert cells_a == cells_b  # same cells, same styles
    assert "<mergeCell ref=\"A1:E1\"/>" in sheet_b and "<f>E3*2</f>" in sheet_b and "<drawing " in sheet_b
    c3 = re.search(r'<c r="C3"[^>]*>.*?</c>', sheet_b).group()
    assert 't="inlineStr"' in c3 and "<t>138****5678</t>" in c3
    b4 = re.search(r'<c r="B4"[^>]*>.*?</c>', sheet_b).group()
    assert 't="inlineStr"' in b4 and f"<t>{ID_NUM[:6]}********" in b4
    assert re.search(r'<c r="E3"[^>]*><v>1200.5</v></c>', sheet_b)
    assert rescan(scanner, out) == []
    sheets = {m["location"]["sheet"] for m in result.masked}
    assert sheets == {"名单"}
    cells = [m["location"]["cell"] for m in result.masked]
    assert sorted(cells) == sorted(set(cells)) and {"A5", "B5", "B3", "C3", "D3", "B4", "C4"} <= set(cells)


# -- PDF -----------------------------------------------------------------------------------------

def build_pdf() -> bytes:
    pytest.importorskip("reportlab")
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont("STSong-Light", 12)
    c.drawString(72, 760, "行政处罚决定书")
    c.drawString(72, 730, f"当事人：张伟，身份证号：{ID_A}，联系电话：{MOBILE_A}")
    c.drawString(72, 700, f"车辆号牌：{PLATE_A}")
    c.showPage()
    c.setFont("STSong-Light", 12)
    c.drawString(72, 760, "第二页：本页没有个人信息，文字应当保留。")
    c.showPage()
    c.setFont("STSong-Light", 12)
    c.drawString(72, 760, f"附表：李娜 身份证号 {ID_B}")
    c.save()
    return buf.getvalue()


def page_texts(path_or_bytes) -> list[str]:
    pdf = pdfium.PdfDocument(path_or_bytes)
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def test_pdf_pages_with_values_are_flattened_and_blacked_out(detector, scanner, tmp_path):
    data = build_pdf()
    _, out, result = redact(detector, tmp_path, "decision.pdf", data)
    assert result.status == FLATTENED
    texts = page_texts(str(out))
    assert len(texts) == 3
    joined = "".join(texts)
    for value in (ID_A, MOBILE_A, ID_B, "12345", ID_A[6:14]):
        assert value not in joined
    assert texts[0] == "" and texts[2] == ""
    assert "本页没有个人信息" in texts[1]  # a page without values keeps its text
    raw = out.read_bytes()
    assert ID_A.encode() not in raw and ID_A.encode("utf-16-be") not in raw
    # The birth-date digits are black in the rendered copy.
    src = pdfium.PdfDocument(data)
    tp = src[0].get_textpage()
    full = tp.get_text_range()
    at = full.index(ID_A)
    left, bottom, _, top = tp.get_charbox(at + 7, loose=True)
    _, _, right, _ = tp.get_charbox(at + 12, loose=True)
    src.close()
    copy = pdfium.PdfDocument(str(out))
    scale = 2
    image = copy[0].render(scale=scale).to_pil().convert("L")
    height = image.height
    box = (int(left * scale) + 1, int(height - top * scale) + 1,
           int(right * scale) - 1, int(height - bottom * scale) - 1)
    pixels = list(image.crop(box).tobytes())
    assert sum(pixels) / len(pixels) < 40
    copy.close()
    assert rescan(scanner, out) == []
    assert {m["location"]["page"] for m in result.masked} == {1, 3}


# -- formats that cannot be rewritten -----------------------------------------------------------

def test_archives_and_images_are_listed_for_manual_handling(detector, tmp_path):
    from PIL import Image

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("名单.txt", f"身份证号 {ID_A}".encode())
    _, out, result = redact(detector, tmp_path, "a.zip", buf.getvalue())
    assert result.status.startswith("not possible: ") and "压缩包" in result.status and not out.exists()
    clean = io.BytesIO()
    with zipfile.ZipFile(clean, "w") as zf:
        zf.writestr("说明.txt", "没有个人信息".encode())
    assert redact(detector, tmp_path, "b.zip", clean.getvalue())[2].status == UNCHANGED
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, format="PNG")
    result = redact(detector, tmp_path, "scan.png", png.getvalue())[2]
    # Without the OCR extra an image cannot even be checked; with it, a blank one holds nothing.
    assert (result.status.startswith("not possible: ") and "图片" in result.status) or result.status == UNCHANGED


def test_a_copy_never_overwrites_its_input(detector, tmp_path):
    src = tmp_path / "list.txt"
    data = f"身份证号 {ID_A}\n".encode()
    src.write_bytes(data)
    result = redact_document(Document(str(src), path=src, name="list.txt"), detector, src)
    assert result.status.startswith("not possible: ") and src.read_bytes() == data


# -- the samples ---------------------------------------------------------------------------------

def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_redacting_the_samples_leaves_nothing_to_find(detector, scanner, tmp_path):
    before = _digest(SAMPLES)
    out = tmp_path / "redacted"
    results = list(redact_tree([str(SAMPLES)], detector, out))
    assert _digest(SAMPLES) == before
    statuses = {doc.source: r for doc, r in results}
    assert len(statuses) == len(before)
    written = [r for r in statuses.values() if r.path is not None]
    kinds = {r.path.suffix for r in written}
    assert {".txt", ".csv", ".html", ".docx", ".xlsx", ".pdf"} <= kinds
    for r in written:
        assert r.path.is_relative_to(out)
        assert (SAMPLES / r.path.relative_to(out)).is_file()  # the layout is mirrored
        assert rescan(scanner, r.path) == [], r.source
        assert r.masked
    for source, r in statuses.items():
        if r.status == UNCHANGED:
            found = scanner.process(Document(source, path=Path(source), name=Path(source).name))
            assert not any(res.findings for res in found), source
    not_possible = [s for s, r in statuses.items() if r.status.startswith("not possible")]
    assert not_possible == [str(SAMPLES / "files" / "attachments_2023.zip")]


def test_an_output_folder_inside_the_input_is_refused_unless_asked(detector, tmp_path):
    tree = tmp_path / "site"
    shutil.copytree(SAMPLES / "files", tree)
    with pytest.raises(UsageError, match="输出文件夹"):
        redact_tree([str(tree)], detector, tree / "redacted")
    results = list(redact_tree([str(tree)], detector, tree / "redacted", allow_inside=True))
    again = list(redact_tree([str(tree)], detector, tree / "redacted", allow_inside=True))
    assert [d.source for d, _ in results] == [d.source for d, _ in again]  # earlier copies are not inputs
    assert all("redacted" not in d.source for d, _ in again)
