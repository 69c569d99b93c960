"""OCR helpers that need no OCR engine: digit repair, line joining, sniffing pictures and the
path taken when the OCR extra is not installed (fake people only)."""

from __future__ import annotations

import builtins
import io
import random

import pytest
from stdnum.iso7064 import mod_11_2

from scanner.config import Limits
from scanner.extract import ocr
from scanner.extract.ocr import MISSING_REASON, join_lines, repair
from scanner.extract.sniff import sniff
from scanner.model import Document
from scanner.pipeline import Scanner

PIL = pytest.importorskip("PIL", reason="Pillow is needed to make the test pictures")
from PIL import Image  # noqa: E402


def fake_id(rng: random.Random, check: str | None = None) -> str:
    while True:
        body = f"{rng.choice(['110105', '340823', '430104', '440106', '510107'])}{rng.randint(1950, 2005)}"
        body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        value = body + mod_11_2.calc_check_digit(body)
        if check is None or value[-1] == check:
            return value


# -- digit repair ------------------------------------------------------------------------------------


def test_confused_letters_in_an_id_are_repaired_when_the_check_character_holds() -> None:
    rng = random.Random(1)
    for _ in range(30):
        idn = fake_id(rng)
        zeros = [i for i, c in enumerate(idn[:17]) if c == "0"]
        ones = [i for i, c in enumerate(idn[:17]) if c == "1"]
        if not zeros or not ones:
            continue
        garbled = list(idn)
        garbled[zeros[0]] = "O"
        garbled[ones[-1]] = "l"
        text = "身份证号：" + "".join(garbled) + "，已核实"
        assert repair(text) == "身份证号：" + idn + "，已核实"


def test_every_listed_confusion() -> None:
    # 3 4 0 8 2 3 1 9 8 5 0 5 1 2 2 ? : a body holding 0, 1, 2, 5 and 8
    body = "34082319850512201"
    idn = body + mod_11_2.calc_check_digit(body)
    for wrong, right in (("O", "0"), ("o", "0"), ("I", "1"), ("l", "1"), ("|", "1"), ("Z", "2"), ("S", "5"),
                         ("B", "8")):
        i = idn.index(right, 1)
        garbled = idn[:i] + wrong + idn[i + 1:]
        assert repair(f"证号 {garbled}") == f"证号 {idn}", wrong


def test_check_position_x() -> None:
    idn = fake_id(random.Random(2), check="X")
    assert repair(idn[:-1] + "×") == idn
    assert repair(idn[:-1] + "x") == idn
    # × elsewhere is not a digit
    assert repair("3408231985×512201X") == "3408231985×512201X"


def test_mobile_and_old_id() -> None:
    assert repair("电话l3812345678") == "电话13812345678"
    assert repair("手机 I86O0001234 转") == "手机 18600001234 转"
    assert repair("旧证 1101058S0101123") == "旧证 110105850101123"  # 15 digits, 1985-01-01


@pytest.mark.parametrize(
    "text",
    [
        "ISO9001质量体系认证",
        "BOSS直聘 Hello World",
        "编号 O13812345678",  # 12 characters: no candidate length
        "S0000000000",  # 50000000000 is no mobile
        "l2812345678",  # 12… is no mobile segment
        "1101051999l332123X",  # month 13 is no date
        "1101O5O0O0O0OOO0O1",  # too many changes
        "11010519900307123",  # 17 digits: not a candidate, left alone
        "110105199003071231",  # already digits (even with a wrong check character): unchanged
        "申请人张三，身份证号码见附件",
    ],
)
def test_non_candidates_are_left_alone(text: str) -> None:
    assert repair(text) == text


def _ids(seed: int) -> tuple[str, str, str]:
    """A valid ID, a valid ID ending in X, and the first with a wrong check character."""
    rng = random.Random(seed)
    idn, idx = fake_id(rng), fake_id(rng, check="X")
    return idn, idx, idn[:-1] + ("1" if idn[-1] != "1" else "2")


def test_values_read_as_one_run_are_split_when_every_piece_is_valid() -> None:
    idn, idx, wrong = _ids(5)
    assert repair(f"1 张三 {idn}13812345678 皖A12345") == f"1 张三 {idn} 13812345678 皖A12345"
    assert repair(f"{idx[:-1]}×18612345678") == f"{idx} 18612345678"
    assert repair(f"13912345678{idn}") == f"13912345678 {idn}"
    assert repair(f"{idn}{idx}") == f"{idn} {idx}"
    for text in (f"{wrong}13812345678", f"{idn}12812345678", "账号 6222021234567890123456789", f"{idn}138123456"):
        assert repair(text) == text


def test_an_id_glued_to_a_short_number_from_the_next_column_is_split() -> None:
    idn, idx, wrong = _ids(6)
    assert repair(f"河口镇 张三{idn}5800") == f"河口镇 张三{idn} 5800"
    assert repair(f"{idx}5") == f"{idx} 5"
    assert repair(f"12{idn} 补贴") == f"12 {idn} 补贴"
    # no valid ID inside, a tail too long for a cell, or a mobile (no check digit) with a tail
    for text in (f"{wrong}5800", f"{idn}1234567", "138123456785", "账号 6222021234567890123"):
        assert repair(text) == text


def test_a_row_number_glued_to_a_plate_is_cut_off() -> None:
    assert repair("2川A16515小型普通客车") == "2 川A16515小型普通客车"
    assert repair("14 皖R·D75873") == "14 皖R·D75873"
    # not a plate after all (serial too long), or the digits belong to a longer code
    for text in ("2川A1651502", "A2川A16515", "3.5川A16515"):
        assert repair(text) == text


def test_a_wrong_check_character_is_not_forced_valid() -> None:
    rng = random.Random(3)
    idn = fake_id(rng, check="7")
    wrong = idn[:-1] + "4"
    i = wrong.index("1", 1)
    garbled = wrong[:i] + "l" + wrong[i + 1:]
    assert repair(garbled) == garbled


# -- lines -------------------------------------------------------------------------------------------


def test_value_split_over_two_boxes_is_joined() -> None:
    idn = fake_id(random.Random(4))
    boxes = [(10, 100, 90, 130), (100, 100, 300, 130), (312, 101, 440, 131), (700, 100, 900, 130)]
    texts = ["身份证号", idn[:10], idn[10:], "13812345678"]
    lines = join_lines(boxes, texts)
    assert len(lines) == 1
    assert lines[0].text == f"身份证号 {idn}\t13812345678"
    assert lines[0].box == (10, 100, 900, 131)


def test_two_short_numbers_are_not_glued() -> None:
    lines = join_lines([(10, 10, 40, 40), (50, 10, 200, 40)], ["12", "13812345678"])
    assert lines[0].text == "12 13812345678"


def test_plate_split_after_the_letter() -> None:
    lines = join_lines([(10, 10, 60, 40), (66, 10, 160, 40)], ["皖A·", "12345"])
    assert lines[0].text == "皖A·12345"


def test_skewed_rows_stay_apart() -> None:
    # Two table rows drawn 2° off: each row drifts 20 px over 600 px, more than half a row.
    boxes, texts = [], []
    for row in range(2):
        for col in range(4):
            x = 20 + col * 250
            y = 100 + row * 40 + x * 0.035
            boxes.append((x, y, x + 150, y + 28))
            texts.append(f"r{row}c{col}")
    lines = join_lines(boxes, texts)
    assert [line.text for line in lines] == ["r0c0\tr0c1\tr0c2\tr0c3", "r1c0\tr1c1\tr1c2\tr1c3"]


# -- sniffing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "kind"), [("PNG", "png"), ("JPEG", "jpeg"), ("GIF", "gif"), ("BMP", "bmp"),
                                           ("TIFF", "tiff"), ("WEBP", "webp")])
def test_pictures_are_sniffed_by_their_bytes(fmt: str, kind: str) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buf, format=fmt)
    assert sniff(Document(source="download.jsp?id=3", data=buf.getvalue())) == kind


# -- without the OCR extra ---------------------------------------------------------------------------


@pytest.fixture
def no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import rapidocr`` fail as it does when the extra is not installed."""
    real_import = builtins.__import__

    def fake_import(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name.split(".")[0] in ("rapidocr", "onnxruntime"):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.setattr(ocr, "_ENGINE", ocr._Engine())


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 80), "white").save(buf, format="PNG")
    return buf.getvalue()


def _pdf(pages: list[str | None]) -> bytes:
    """Pages with a text line or only a picture (None), like a scanned page."""
    pytest.importorskip("reportlab", reason="reportlab is needed to make the test PDFs")
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for text in pages:
        if text is None:
            c.drawImage(ImageReader(io.BytesIO(_png())), 40, 60, width=500, height=700)
        else:
            c.drawString(60, 780, text)
        c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def scanner(detector) -> Scanner:  # type: ignore[no-untyped-def]
    return Scanner(detector, Limits())


def test_picture_without_ocr_is_skipped_saying_why(no_ocr: None, scanner: Scanner) -> None:
    [result] = scanner.process(Document(source="公示名单.png", data=_png(), name="公示名单.png"))
    assert (result.status, result.reason, result.kind) == ("skipped", MISSING_REASON, "png")


def test_image_only_pdf_without_ocr_is_skipped_saying_why(no_ocr: None, scanner: Scanner) -> None:
    [result] = scanner.process(Document(source="扫描件.pdf", data=_pdf([None, None])))
    assert (result.status, result.reason) == ("skipped", MISSING_REASON)
    assert result.meta["ocr_pages"] == [1, 2]


def test_mixed_pdf_without_ocr_lists_the_unread_pages(no_ocr: None) -> None:
    from scanner.extract.pdf import extract

    doc = Document(source="a.pdf", data=_pdf(["Tel 13812345678", None]))
    segments = list(extract(doc, Limits()))
    assert any("13812345678" in s.text for s in segments)
    assert doc.meta["ocr_pages"] == [2] and doc.meta["ocr_unread_pages"] == [2]
    assert not ocr.available()


class _LaneScanner(Scanner):
    """Notes in each result which worker read the document (the text workers hand scans on)."""

    def process(self, doc: Document) -> list:  # type: ignore[type-arg]
        results = super().process(doc)
        results[0].meta["reads_scans"] = not self.limits.ocr_elsewhere
        return results


def test_scans_and_pictures_go_to_the_ocr_worker_text_pdfs_stay(no_ocr, detector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Without the OCR engine: onnxruntime, once loaded in this (test) process by other tests, does
    # not survive a fork. The leakscan command never loads it in the process that forks.
    from scanner.pipeline import scan_all

    (tmp_path / "scan.pdf").write_bytes(_pdf([None, None]))
    docs = [Document(source="scan.pdf", path=tmp_path / "scan.pdf", name="scan.pdf"),
            Document(source="text.pdf", data=_pdf(["Tel 13812345678"]), name="text.pdf"),
            Document(source="mixed.pdf", data=_pdf(["Tel 13812345678", None]), name="mixed.pdf"),
            Document(source="photo.png", data=_png(), name="photo.png"),
            Document(source="late-scan.pdf", data=_pdf([None, "Tel 13812345678"]), name="late-scan.pdf")]
    by_ocr_worker = {r.source: r.meta["reads_scans"]
                     for r in scan_all(docs, _LaneScanner(detector, Limits()), jobs=2)}
    assert by_ocr_worker == {"scan.pdf": True, "text.pdf": False, "mixed.pdf": False, "photo.png": True,
                             "late-scan.pdf": True}
    # one process: everything is read where it is
    [single] = scan_all(docs[:1], _LaneScanner(detector, Limits()), jobs=1)
    assert single.meta["reads_scans"] and single.meta["ocr_pages"] == [1, 2]
