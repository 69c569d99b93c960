"""OCR end to end: tables of fake IDs, mobiles and plates rendered into pictures and image-only
PDFs (several fonts and sizes, slight rotation, noise, JPEG artefacts) are scanned with the real
rules; recall must reach 0.95. Pages of real annual reports rendered the same way must give no
finding at all. Needs the OCR extra and a CJK font (Debian: fonts-noto-cjk)."""

from __future__ import annotations

import io
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import SHARED
from stdnum.iso7064 import mod_11_2

pytest.importorskip("rapidocr", reason="OCR extra not installed (pip install leakscan[ocr])")
pytest.importorskip("onnxruntime", reason="OCR extra not installed (pip install leakscan[ocr])")
np = pytest.importorskip("numpy")
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from scanner.config import Limits  # noqa: E402
from scanner.model import Document, DocumentResult  # noqa: E402
from scanner.pipeline import Scanner  # noqa: E402

REQUIRED = {"CN_ID_CARD", "CN_MOBILE", "CN_LICENSE_PLATE"}
NOTO = Path("/usr/share/fonts/opentype/noto")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红"
PROVINCES = "京津沪冀豫云辽黑湘皖鲁苏浙赣鄂桂甘晋陕吉闽贵粤川"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def _cjk_fonts() -> dict[str, str]:
    found = {name: str(NOTO / f"{name}.ttc") for name in ("NotoSansCJK-Regular", "NotoSerifCJK-Regular",
                                                           "NotoSansCJK-Bold") if (NOTO / f"{name}.ttc").exists()}
    if found:
        return found
    try:  # another CJK font, wherever fontconfig knows one
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    paths = sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()})
    return {Path(p).stem: p for p in paths[:3]}


FONTS = _cjk_fonts()
if not FONTS:
    pytest.skip("no CJK font found (apt-get install fonts-noto-cjk)", allow_module_level=True)


def _font(index: int) -> str:
    names = sorted(FONTS)
    return FONTS[names[index % len(names)]]


# -- fake people -------------------------------------------------------------------------------------


def fake_id(rng: random.Random) -> str:
    body = f"{rng.choice(['110105', '340823', '430104', '440106', '510107'])}{rng.randint(1950, 2005)}"
    body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + mod_11_2.calc_check_digit(body)


def fake_mobile(rng: random.Random) -> str:
    return rng.choice(["138", "139", "150", "186", "199", "177", "152"]) + f"{rng.randint(0, 99_999_999):08d}"


def fake_plate(rng: random.Random) -> str:
    """A plate as GA 36 issues them: a serial of five with at most two letters."""
    serial = [rng.choice("0123456789") for _ in range(5)]
    for i in rng.sample(range(5), rng.randint(0, 2)):
        serial[i] = rng.choice(LETTERS)
    dot = "·" if rng.random() < 0.5 else ""
    return rng.choice(PROVINCES) + rng.choice("ABCDEFGH") + dot + "".join(serial)


def fake_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


# -- rendering ---------------------------------------------------------------------------------------

A4_150 = (1240, 1754)  # A4 at 150 dpi


@dataclass
class Page:
    image: Image.Image
    values: list[str] = field(default_factory=list)


def table_page(rng: random.Random, font: str, size: int, rows: int, angle: float, noise: float) -> Page:
    """A notice with a ruled table: 序号 | 姓名 | 身份证号码 | 联系电话 | 车牌号 | 备注."""
    width, height = A4_150
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    face = ImageFont.truetype(font, size)
    draw.text((width // 2 - 8 * size, 50), "关于2024年度补贴发放情况的公示", font=face, fill=0)
    cols = [60, 60 + 2.5 * size, 60 + 6 * size, 60 + 17 * size, 60 + 24.5 * size, 60 + 31 * size, width - 60]
    row_h = int(size * 1.8)
    y = 60 + 2 * size
    page = Page(img)
    for i in range(rows + 1):
        if i == 0:
            cells = ["序号", "姓名", "身份证号码", "联系电话", "车牌号", "备注"]
        else:
            values = [fake_id(rng), fake_mobile(rng), fake_plate(rng)]
            page.values.extend(values)
            cells = [str(i), fake_name(rng), *values, rng.choice(["已核实", "无异议", "待复核"])]
        for x, text in zip(cols, cells, strict=False):
            draw.text((x + size * 0.3, y + (row_h - size) / 2 - size * 0.1), text, font=face, fill=0)
        draw.line((cols[0], y, cols[-1], y), fill=0, width=1)
        y += row_h
    draw.line((cols[0], y, cols[-1], y), fill=0, width=1)
    for x in cols:
        draw.line((x, 60 + 2 * size, x, y), fill=0, width=1)
    return Page(_scan(img, rng, angle, noise), page.values)


def text_page(lines: list[str], font: str, size: int, rng: random.Random, angle: float, noise: float) -> Image.Image:
    width, height = A4_150
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    face = ImageFont.truetype(font, size)
    y = 80
    for line in lines:
        draw.text((90, y), line, font=face, fill=0)
        y += int(size * 1.6)
    return _scan(img, rng, angle, noise)


def _scan(img: Image.Image, rng: random.Random, angle: float, noise: float) -> Image.Image:
    """What a scanner does to a page: a slight rotation and sensor noise."""
    if angle:
        img = img.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    if noise:
        grain = np.random.default_rng(rng.randint(0, 1 << 30)).normal(0, noise, (img.height, img.width))
        img = Image.fromarray((np.asarray(img, dtype=np.float32) + grain).clip(0, 255).astype(np.uint8))
    return img


def encode(images: list[Image.Image], fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    first, *rest = [im.convert("RGB") if fmt in ("JPEG", "PDF", "WEBP") else im for im in images]
    first.save(buf, format=fmt, save_all=bool(rest), append_images=rest, **kwargs)
    return buf.getvalue()


def wrap(text: str, width: int) -> list[str]:
    out = []
    for para in text.splitlines():
        para = para.strip()
        while para:
            out.append(para[:width])
            para = para[width:]
    return out


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scanner(detector) -> Scanner:  # type: ignore[no-untyped-def]
    return Scanner(detector, Limits())


@pytest.fixture(scope="module")
def planted_docs() -> list[tuple[Document, list[str]]]:
    rng = random.Random(20240611)
    docs = []
    png = table_page(rng, _font(0), 22, rows=16, angle=1.5, noise=8)
    docs.append((Document(source="名单.png", data=encode([png.image], "PNG")), png.values))
    jpg = table_page(rng, _font(1), 27, rows=12, angle=-2.0, noise=12)
    docs.append((Document(source="名单.jpg", data=encode([jpg.image], "JPEG", quality=70)), jpg.values))
    pages = [table_page(rng, _font(2), 20, rows=18, angle=-0.8, noise=5),
             table_page(rng, _font(1), 24, rows=14, angle=1.0, noise=10)]
    pdf = encode([p.image for p in pages], "PDF", resolution=150)
    docs.append((Document(source="扫描件.pdf", data=pdf), [v for p in pages for v in p.values]))
    return docs


@pytest.fixture(scope="module")
def scanned(planted_docs, scanner: Scanner) -> list[tuple[DocumentResult, list[str]]]:  # type: ignore[no-untyped-def]
    out = []
    for doc, values in planted_docs:
        [result] = scanner.process(doc)
        out.append((result, values))
    return out


# -- recall ------------------------------------------------------------------------------------------


def test_recall_on_rendered_tables(scanned, detector) -> None:  # type: ignore[no-untyped-def]
    planted: set[str] = set()
    per_kind: dict[str, list[int]] = {}
    found_all: set[str] = set()
    for result, values in scanned:
        assert result.status == "scanned", (result.source, result.reason)
        found = {f.fingerprint for f in result.findings if f.entity in REQUIRED}
        found_all |= found
        for value in values:
            [expected] = detector.detect_text(value)
            planted.add(expected.fingerprint)
            hit = per_kind.setdefault(f"{result.kind}:{expected.entity}", [0, 0])
            hit[0] += expected.fingerprint in found
            hit[1] += 1
    recall = len(planted & found_all) / len(planted)
    spurious = found_all - planted
    print(f"\nOCR recall {recall:.3f} over {len(planted)} values; spurious {len(spurious)}; {per_kind}")
    assert len(planted) >= 150
    assert recall >= 0.95, per_kind
    missed = planted - found_all
    assert len(spurious) <= len(missed)  # a misread value may become another valid-looking one, never more


def test_findings_point_at_the_line(scanned) -> None:  # type: ignore[no-untyped-def]
    for result, _ in scanned:
        pdf = result.kind == "pdf"
        bound = (595.5, 842.5) if pdf else A4_150
        for f in result.findings:
            loc = f.location
            assert loc["page"] in ((1, 2) if pdf else (1,))
            x0, y0, x1, y1 = loc["bbox"]
            assert 0 <= x0 < x1 <= bound[0] and 0 <= y0 < y1 <= bound[1]
            assert loc["line"] >= 1 and loc["start"] is not None


def test_pdf_pages_are_recorded_as_ocr_pages(scanned) -> None:  # type: ignore[no-untyped-def]
    result = next(r for r, _ in scanned if r.kind == "pdf")
    assert result.meta["ocr_pages"] == [1, 2]
    assert "ocr_unread_pages" not in result.meta


# -- real negatives ----------------------------------------------------------------------------------

NEGATIVES = SHARED / "real-negatives"


@pytest.mark.skipif(not NEGATIVES.is_dir(), reason="shared/real-negatives is not present")
def test_rendered_annual_reports_give_no_findings(scanner: Scanner) -> None:
    rng = random.Random(7)
    reports = sorted(NEGATIVES.glob("*.txt"))
    assert reports
    pages = []
    for k, path in enumerate(reports):
        lines = wrap(path.read_text(encoding="utf-8"), 46)
        # The page of the report with the most digits: statistics tables, phone, ICP and document numbers.
        chunks = [lines[i:i + 42] for i in range(0, len(lines), 42)]
        densest = max(chunks, key=lambda c: sum(ch.isdigit() for line in c for ch in line))
        pages.append(text_page(densest, _font(k), 22, rng, angle=(-1.0, 0.6, 1.5)[k % 3], noise=6))
    [result] = scanner.process(Document(source="年度报告.tif", data=encode(pages, "TIFF", compression="tiff_lzw")))
    assert result.status == "scanned", result.reason
    assert result.kind == "tiff"
    assert not [(f.entity, f.masked, f.location["page"]) for f in result.findings if f.entity in REQUIRED]
    assert {f.location["page"] for f in result.findings} <= {1, 2, 3}


# -- picture formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "WEBP", "TIFF"])
def test_every_picture_format(fmt: str, scanner: Scanner) -> None:
    rng = random.Random(fmt)
    mobiles = [fake_mobile(rng), fake_mobile(rng)]
    pages = []
    for mobile in mobiles:
        img = Image.new("L", (900, 160), 255)
        line = f"联系人{fake_name(rng)}，联系电话：{mobile}"
        ImageDraw.Draw(img).text((30, 50), line, font=ImageFont.truetype(_font(0), 34), fill=0)
        pages.append(img.convert("P") if fmt == "GIF" else img)
    data = encode(pages if fmt == "TIFF" else pages[:1], fmt)
    [result] = scanner.process(Document(source=f"x.{fmt.lower()}", data=data))
    assert result.status == "scanned", result.reason
    got = {(f.masked, f.location["page"]) for f in result.findings if f.entity == "CN_MOBILE"}
    want = {(m[:3] + "****" + m[7:], n) for n, m in enumerate(mobiles if fmt == "TIFF" else mobiles[:1], 1)}
    assert got == want


def test_transparent_picture_reads_as_paper(scanner: Scanner) -> None:
    rng = random.Random(9)
    idn = fake_id(rng)
    img = Image.new("RGBA", (1000, 140), (0, 0, 0, 0))
    ImageDraw.Draw(img).text((30, 40), f"身份证号码：{idn}", font=ImageFont.truetype(_font(0), 36), fill=(0, 0, 0, 255))
    [result] = scanner.process(Document(source="截图.png", data=encode([img], "PNG")))
    assert [f.entity for f in result.findings] == ["CN_ID_CARD"]


def test_huge_picture_is_scaled_down_and_boxes_stay_in_its_pixels(scanner: Scanner) -> None:
    rng = random.Random(10)
    mobile = fake_mobile(rng)
    img = Image.new("L", (5200, 1200), 255)
    ImageDraw.Draw(img).text((2600, 500), f"电话 {mobile}", font=ImageFont.truetype(_font(0), 110), fill=0)
    [result] = scanner.process(Document(source="big.png", data=encode([img], "PNG")))
    [finding] = result.findings
    x0, y0, x1, y1 = finding.location["bbox"]
    assert 2500 < x0 < x1 <= 5200 and 400 < y0 < y1 < 700


def test_page_budget() -> None:
    from scanner.errors import ExtractError
    from scanner.extract import ocr
    from scanner.extract.image import extract

    img = Image.new("L", (300, 80), 255)
    doc = Document(source="t.tif", data=encode([img, img, img], "TIFF"))
    ocr.set_budget(ocr.PageBudget(1))
    try:
        with pytest.raises(ExtractError, match="上限"):
            list(extract(doc, Limits(ocr_page_budget=1)))
    finally:
        ocr.set_budget(None)
    assert doc.meta["ocr_unread_pages"] == [2, 3]


def test_recognition_threads_do_not_change_what_is_read() -> None:
    from scanner.extract import ocr

    page = table_page(random.Random(12), _font(0), 24, rows=6, angle=0.5, noise=4)
    image = np.repeat(np.asarray(page.image)[:, :, None], 3, axis=2)
    one = ocr.read_image(image, Limits(ocr_threads=1))
    two = ocr.read_image(image, Limits(ocr_threads=2))
    assert one.complete and two.complete
    assert len(one.lines) == 8  # title, header, six rows
    assert [(line.text, line.box) for line in one.lines] == [(line.text, line.box) for line in two.lines]


def test_page_time_limit_is_reported() -> None:
    from scanner.errors import ExtractError
    from scanner.extract.image import extract

    page = table_page(random.Random(13), _font(0), 24, rows=4, angle=0, noise=0)
    doc = Document(source="名单.png", data=encode([page.image], "PNG"))
    with pytest.raises(ExtractError, match="超时"):
        list(extract(doc, Limits(ocr_seconds_per_page=0)))
