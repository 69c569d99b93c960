"""PDF extraction on real PDFs generated with reportlab (fake people only)."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest

pytest.importorskip("reportlab", reason="reportlab is needed to generate the test PDFs")

import pypdfium2 as pdfium
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle
from stdnum.iso7064 import mod_11_2

from scanner.config import Limits
from scanner.errors import ExtractError, Skip
from scanner.extract import extract as extract_any
from scanner.extract.pdf import OCR_EMPTY_REASON, extract
from scanner.model import Document, Segment

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚"


def fake_id(rng: random.Random) -> str:
    body = f"{rng.choice(['110105', '340823', '430104', '440106', '510107'])}{rng.randint(1950, 2005)}"
    body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + mod_11_2.calc_check_digit(body)


def fake_mobile(rng: random.Random) -> str:
    return rng.choice(["138", "139", "150", "186", "199"]) + f"{rng.randint(0, 99_999_999):08d}"


def fake_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def fake_plate(rng: random.Random) -> str:
    return f"皖A·{rng.randint(0, 99999):05d}"


def run(data: bytes, tmp_path: Path | None = None, name: str = "a.pdf") -> tuple[list[Segment], Document]:
    if tmp_path is not None:
        path = tmp_path / name
        path.write_bytes(data)
        doc = Document(source=str(path), path=path, name=name)
    else:
        doc = Document(source=name, data=data, name=name)
    return list(extract(doc, Limits())), doc


def holding(segments: list[Segment], value: str) -> list[Segment]:
    return [s for s in segments if value in s.text]


# --------------------------------------------------------------------------- generators


def text_pdf(pages: list[list[str]], **kwargs: object) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, **kwargs)  # type: ignore[arg-type]
    for lines in pages:
        c.setFont(FONT, 12)
        y = 780
        for line in lines:
            c.drawString(60, y, line)
            y -= 18
        c.showPage()
    c.save()
    return buf.getvalue()


def narrow_table_pdf(rows: int, rng: random.Random) -> tuple[bytes, list[tuple[str, str, str, str]]]:
    """A platypus table whose ID and mobile columns are too narrow: the numbers wrap in their cells."""
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=30, rightMargin=30, topMargin=30, bottomMargin=30)
    style = ParagraphStyle("cell", fontName=FONT, fontSize=9, leading=11, wordWrap="CJK")
    data = [[Paragraph(h, style) for h in ("序号", "姓名", "身份证号码", "联系电话", "车牌号", "家庭住址及备注")]]
    truth = []
    for i in range(rows):
        person = (fake_name(rng), fake_id(rng), fake_mobile(rng), fake_plate(rng))
        truth.append(person)
        cells = (str(i + 1), *person, f"某某市某某区幸福路{rng.randint(1, 300)}号院内住户")
        data.append([Paragraph(c, style) for c in cells])
    table = Table(data, colWidths=[28, 40, 55, 45, 50, 120], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    doc.build([table])
    return buf.getvalue(), truth


def interleaved_table_pdf(people: list[tuple[str, str, str]], *, grid: bool, rotation: int = 0) -> bytes:
    """A table drawn the way Word exports one: line by line across the row, so the wrapped pieces of
    neighbouring cells alternate in the content stream. Columns: 序号 | 姓名 | 身份证号码 | 手机号码 | 备注.

    With ``rotation`` (90 or 270) the page has that /Rotate and its content is turned the other
    way, so the table still reads upright on screen (a landscape page from an office suite).
    """
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    width, height = A4
    top = 800.0
    if rotation:
        c.setPageRotation(rotation)
        # (a, b, c, d, e, f): user space from the coordinates of the page as displayed (landscape).
        c.transform(*((0, 1, -1, 0, width, 0) if rotation == 90 else (0, -1, 1, 0, 0, height)))
        top = 560.0
    size, leading, pad = 10.5, 13.0, 5.4
    xs = [50, 80, 130, 195, 250, 400]  # column borders
    widths = [b - a - 2 * pad for a, b in zip(xs, xs[1:], strict=False)]

    def wrap(text: str, width: float) -> list[str]:
        out, cur = [], ""
        for ch in text:
            if pdfmetrics.stringWidth(cur + ch, FONT, size) > width:
                out.append(cur)
                cur = ""
            cur += ch
        return [*out, cur] if cur else out

    header = ["序号", "姓名", "身份证号码", "手机号码", "备注"]
    rows = [header] + [[str(i + 1), n, idn, mob, "已核实，无异议"] for i, (n, idn, mob) in enumerate(people)]
    y = top
    c.setFont(FONT, size)
    for row in rows:
        cells = [wrap(t, w) for t, w in zip(row, widths, strict=True)]
        height = max(len(lines) for lines in cells) * leading + (2 if grid else 8)
        for k in range(max(len(lines) for lines in cells)):  # line by line across the row
            for col, lines in enumerate(cells):
                if k < len(lines):
                    c.drawString(xs[col] + pad, y - (k + 1) * leading + 3, lines[k])
        if grid:
            c.setLineWidth(0.5)
            c.line(xs[0], y, xs[-1], y)
            for x in xs:
                c.line(x, y, x, y - height)
        y -= height
    if grid:
        c.line(xs[0], y, xs[-1], y)
    c.showPage()
    c.save()
    return buf.getvalue()


def image_pdf(pages: list[str | None]) -> bytes:
    """Pages with text (a string) or only a picture (None), like a scanned page."""
    from PIL import Image

    picture = io.BytesIO()
    Image.new("L", (200, 100), color=200).save(picture, format="PNG")
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for text in pages:
        if text is None:
            picture.seek(0)
            c.drawImage(ImageReader(picture), 50, 500, width=400, height=200)
        else:
            c.setFont(FONT, 12)
            c.drawString(60, 780, text)
        c.showPage()
    c.save()
    return buf.getvalue()


# --------------------------------------------------------------------------- plain text


def test_plain_text_values_and_page_numbers(tmp_path: Path) -> None:
    rng = random.Random(11)
    idn, mob, plate = fake_id(rng), fake_mobile(rng), fake_plate(rng)
    data = text_pdf(
        [
            ["关于2024年度补贴发放情况的公示", "经审核，以下人员符合条件。"],
            [f"申请人{fake_name(rng)}，公民身份号码{idn}，", f"联系电话：{mob}，车辆号牌{plate}。"],
            ["第三页没有个人信息。"],
        ]
    )
    segments, _ = run(data, tmp_path)
    for value in (idn, mob, plate):
        found = holding(segments, value)
        assert found, value
        assert {s.location.page for s in found} == {2}
    assert any("关于2024年度补贴发放情况的公示" in s.text and s.location.page == 1 for s in segments)
    assert all(s.location.page in (1, 2, 3) for s in segments)
    line_of_mobile = holding(segments, mob)[0]
    assert line_of_mobile.location.line is not None


def test_number_wrapped_at_line_end_in_prose_is_joined() -> None:
    rng = random.Random(12)
    idn = fake_id(rng)
    # A justified paragraph: the ID breaks after its tenth digit at the right margin.
    data = text_pdf([["本次公示的申请人张某某，身份证号码为" + idn[:10], idn[10:] + "，住址为某某市某某区。"]])
    segments, _ = run(data)
    assert len(holding(segments, idn)) == 1


def test_page_text_is_what_pypdfium2_reads() -> None:
    """The extractor reads a page's text through bare pdfium calls into one buffer kept from page to
    page: a long page, then short ones, must each come out exactly as pypdfium2 reads them."""
    from scanner.extract import pdf as pdf_module

    rng = random.Random(12)
    people = [(fake_name(rng), fake_id(rng), fake_mobile(rng)) for _ in range(12)]
    documents = [
        interleaved_table_pdf(people, grid=True),
        text_pdf([["第二份文件，短的一页。"], ["第二页：联系电话" + fake_mobile(rng)], ["x"]]),
    ]
    buffer = pdf_module._TextBuffer()
    seen = 0
    for data in documents:
        pdf = pdfium.PdfDocument(data)
        for page in pdf:
            textpage = page.get_textpage()
            expected = textpage.get_text_range()
            handle = pdf_module._pointer(textpage.raw)
            assert pdf_module._page_text(handle, textpage.count_chars(), buffer) == expected
            seen += 1
            textpage.close()
            page.close()
        pdf.close()
    assert seen == 4


def test_from_bytes_and_through_the_registry() -> None:
    rng = random.Random(13)
    mob = fake_mobile(rng)
    data = text_pdf([[f"联系电话 {mob}"]])
    kind, items = extract_any(Document(source="download.jsp?id=7", data=data), Limits())
    assert kind == "pdf"
    assert any(mob in s.text for s in items if isinstance(s, Segment))


# --------------------------------------------------------------------------- tables


def test_narrow_table_cells_are_rebuilt(tmp_path: Path) -> None:
    rng = random.Random(21)
    data, truth = narrow_table_pdf(60, rng)
    assert len(pdfium.PdfDocument(data)) >= 2
    # The plain text really is broken: this is the case the cell rebuilding exists for.
    plain = "".join(pdfium.PdfDocument(data)[0].get_textpage().get_text_range())
    assert truth[0][1] not in plain and truth[0][2] not in plain

    segments, _ = run(data, tmp_path)
    pages = set()
    for name, idn, mob, plate in truth:
        for value, header in ((idn, "身份证号码"), (mob, "联系电话"), (plate, "车牌号")):
            found = holding(segments, value)
            assert len(found) == 1, value
            cell = found[0]
            assert cell.text == value  # the whole cell, nothing glued from neighbours
            assert cell.header == header
            assert cell.location.table is not None and cell.location.row is not None
            pages.add(cell.location.page)
        assert [s.text for s in segments if s.text == name]
    assert pages == set(range(1, len(pdfium.PdfDocument(data)) + 1))


def test_table_rows_and_columns() -> None:
    rng = random.Random(22)
    data, truth = narrow_table_pdf(3, rng)
    segments, _ = run(data)
    cell = holding(segments, truth[1][1])[0]
    assert (cell.location.page, cell.location.table, cell.location.row, cell.location.column) == (1, 1, 3, 3)
    header = [s for s in segments if s.location.row == 1]
    assert [s.header for s in header] == [""] * 6
    assert "身份证号" in holding(header, "身份证号")[0].text


@pytest.mark.parametrize("grid", [True, False], ids=["ruled", "borderless"])
def test_word_style_interleaved_table(grid: bool) -> None:
    rng = random.Random(31 + grid)
    people = [(fake_name(rng), fake_id(rng), fake_mobile(rng)) for _ in range(12)]
    data = interleaved_table_pdf(people, grid=grid)
    plain = pdfium.PdfDocument(data)[0].get_textpage().get_text_range()
    assert people[0][1] not in plain  # interleaved fragments in plain text
    segments, _ = run(data)
    for _, idn, mob in people:
        for value, header in ((idn, "身份证号码"), (mob, "手机号码")):
            found = holding(segments, value)
            assert len(found) == 1, value
            assert found[0].text == value
            assert found[0].header == header
            assert found[0].location.page == 1


@pytest.mark.parametrize("rotation", [90, 270])
def test_ruled_table_on_a_rotated_page(rotation: int) -> None:
    rng = random.Random(35 + rotation)
    people = [(fake_name(rng), fake_id(rng), fake_mobile(rng)) for _ in range(12)]
    segments, _ = run(interleaved_table_pdf(people, grid=True, rotation=rotation))
    for _, idn, mob in people:
        for value, header in ((idn, "身份证号码"), (mob, "手机号码")):
            found = holding(segments, value)
            assert [(s.text, s.header) for s in found] == [(value, header)]
            assert found[0].location.table == 1


def test_two_values_on_separate_lines_of_one_cell_stay_apart() -> None:
    rng = random.Random(41)
    first, second = fake_mobile(rng), fake_mobile(rng)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont(FONT, 10)
    c.drawString(60, 700, "联系电话")
    c.drawString(160, 700, first)
    c.drawString(160, 687, second)
    c.showPage()
    c.save()
    segments, _ = run(buf.getvalue())
    assert holding(segments, first) and holding(segments, second)
    assert not any(first + second in s.text for s in segments)


def test_rotated_page() -> None:
    rng = random.Random(42)
    idn = fake_id(rng)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setPageRotation(90)
    c.setFont(FONT, 12)
    c.drawString(60, 700, f"身份证号码：{idn}")
    c.showPage()
    c.save()
    segments, _ = run(buf.getvalue())
    assert holding(segments, idn)


# --------------------------------------------------------------------------- no text, errors


def test_image_only_pages_are_listed(tmp_path: Path) -> None:
    rng = random.Random(51)
    mob = fake_mobile(rng)
    data = image_pdf([f"联系电话：{mob}", None, "第三页", None])
    segments, doc = run(data, tmp_path)
    assert holding(segments, mob)[0].location.page == 1
    assert doc.meta["ocr_pages"] == [2, 4]


def test_all_image_pdf_without_readable_text_is_skipped_with_the_reason() -> None:
    from scanner.extract import ocr

    with pytest.raises(Skip) as info:
        run(image_pdf([None, None]))  # grey pictures: nothing to read
    assert str(info.value) == (OCR_EMPTY_REASON if ocr.available() else ocr.MISSING_REASON)


def test_pdf_without_any_text_is_skipped() -> None:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.line(50, 50, 300, 300)
    c.showPage()
    c.save()
    with pytest.raises(Skip):
        run(buf.getvalue())


def test_zero_page_pdf_yields_nothing() -> None:
    pdf = pdfium.PdfDocument.new()
    buf = io.BytesIO()
    pdf.save(buf)
    pdf.close()
    segments, doc = run(buf.getvalue())
    assert segments == [] and "ocr_pages" not in doc.meta


def test_encrypted_pdf() -> None:
    data = text_pdf([["保密内容"]], encrypt="secret-password")
    with pytest.raises(ExtractError, match="加密"):
        run(data)


def test_owner_password_only_pdf_is_read() -> None:
    from reportlab.lib.pdfencrypt import StandardEncryption

    mob = fake_mobile(random.Random(61))
    data = text_pdf([[f"电话 {mob}"]], encrypt=StandardEncryption("", ownerPassword="owner", canPrint=0))
    segments, _ = run(data)
    assert holding(segments, mob)


def test_truncated_pdf(tmp_path: Path) -> None:
    data, _ = narrow_table_pdf(40, random.Random(71))
    with pytest.raises(ExtractError, match="不完整|损坏"):
        run(data[: len(data) * 2 // 3], tmp_path)


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\nthis is not really a pdf\n%%EOF\n", "这不是PDF文件".encode() * 50],
    ids=["pdf-header-garbage", "text-named-pdf"],
)
def test_not_a_pdf(data: bytes) -> None:
    with pytest.raises(ExtractError):
        run(data, name="公示.pdf")


def test_text_limit() -> None:
    data = text_pdf([["第一页内容" * 10], ["第二页内容" * 10]])
    doc = Document(source="a.pdf", data=data)
    with pytest.raises(ExtractError, match="上限"):
        list(extract(doc, Limits(max_text_chars=60)))


# --------------------------------------------------------------------------- compiled loops


def _boxes_and_prose_pdf() -> bytes:
    """Rectangles drawn as one path each (taken apart edge by edge), text drawn twice at the same
    spot (fake bold), words with spaces and a line of mixed scripts."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont(FONT, 11)
    c.rect(50, 600, 300, 120)
    c.rect(50, 640, 150, 40)
    for dx in (0, 0.3):
        c.drawString(60 + dx, 700, "联系人 张三 电话 13812345678")
    c.drawString(60, 660, "车牌号 皖A·12345  ID 110105199001011234")
    c.showPage()
    c.save()
    return buf.getvalue()


def test_compiled_loops_read_what_the_python_loops_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled word and object loops (scanner.extract._pdfpage) give exactly the glyphs and
    ruling lines of the Python ones, on tables ruled and not, wrapped cells, boxes and prose."""
    from scanner.extract import pdf as pdf_module

    compiled = pdf_module._compiled
    if compiled is None:
        if os.environ.get("CI"):
            pytest.fail("scanner.extract._pdfpage was not built (pip install -e . compiles it with Cython)")
        pytest.skip("scanner.extract._pdfpage is not built here")
    rng = random.Random(77)
    people = [(fake_name(rng), fake_id(rng), fake_mobile(rng)) for _ in range(14)]
    files = [narrow_table_pdf(12, rng)[0], interleaved_table_pdf(people, grid=True),
             interleaved_table_pdf(people, grid=False), _boxes_and_prose_pdf(),
             text_pdf([["姓名：李四  身份证号 " + fake_id(rng), "", " 手机 " + fake_mobile(rng)]])]
    pages = 0
    for data in files:
        document = pdfium.PdfDocument(data)
        for index in range(len(document)):
            read = []
            for module in (compiled, None):
                monkeypatch.setattr(pdf_module, "_compiled", module)
                glyphs, rules, scanned = pdf_module._read_page(document, index)
                read.append((glyphs, (rules.horizontal, rules.vertical) if rules else None, scanned))
            assert read[0] == read[1]
            assert read[0][0]
            pages += 1
        document.close()
    assert pages >= 5
