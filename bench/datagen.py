"""Deterministic fake inputs for the benchmark (fake people only, from tools/fakedata.py).

Everything is written under ``bench/data/`` (git-ignored) and reused when already there: each
generator writes to a temporary name and renames at the end, so an interrupted run never leaves a
half-written file that a later run would trust.
"""

from __future__ import annotations

import html
import io
import os
import random
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
sys.path.insert(0, str(ROOT / "tools"))

import fakedata  # noqa: E402  (tools/fakedata.py)

FONT = "STSong-Light"
DEPTS = ("民政局", "人力资源和社会保障局", "住房和城乡建设局", "农业农村局", "交通运输局", "卫生健康委员会", "教育局")
TOWNS = ("城关镇", "东城街道", "西湖乡", "新华街道", "长岭镇", "白石乡", "河口镇", "青山街道")
ROADS = ("幸福路", "人民路", "建设路", "解放路", "中山路", "和平街", "文化路", "光明巷")
PHRASES = (
    "根据《中华人民共和国政府信息公开条例》有关规定，现将相关信息予以公示。",
    "公示期间如有异议，请以书面形式向我局反映，反映情况要实事求是。",
    "经个人申请、村（居）委会评议、乡镇（街道）审核，县级部门审批，确定以下人员符合条件。",
    "本次共核定补助资金，已通过“一卡通”系统发放到户，请各乡镇做好政策宣传工作。",
    "对弄虚作假骗取补助的，一经查实，取消资格并追回已发放资金，依法追究相关责任。",
    "联系电话为办公室座机，工作时间为每周一至周五上午八时至十二时，下午二时半至五时半。",
    "各单位要高度重视，加强组织领导，明确责任分工，确保各项工作落到实处。",
    "附件：相关人员名单及资金发放明细表（具体以财政部门拨付为准）。",
)


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp)`` unless ``path`` exists, then move tmp into place."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    if tmp.is_dir():
        shutil.rmtree(tmp)
    elif tmp.exists():
        tmp.unlink()
    write(tmp)
    os.replace(tmp, path)
    return path


def _address(rng: random.Random) -> str:
    return f"{rng.choice(TOWNS)}{rng.choice(ROADS)}{rng.randint(1, 300)}号"


def row(fake: fakedata.FakeData) -> list[str]:
    """One roster row: name, sex, ID, mobile, plate, address, amount."""
    p = fake.person()
    return [p.name, p.sex, p.resident_id, p.mobile, fakedata.render_plate(fake.plate(), "dot"),
            _address(fake.rng), fake.amount()]


HEADER = ["序号", "姓名", "性别", "身份证号码", "联系电话", "车牌号", "家庭住址", "补助金额（元）"]


def prose(rng: random.Random, chars: int) -> str:
    """Disclosure-like running text of about ``chars`` characters."""
    out: list[str] = []
    n = 0
    while n < chars:
        s = rng.choice(PHRASES)
        out.append(s)
        n += len(s)
    return "".join(out)


# -- PDF -----------------------------------------------------------------------------------------


def make_pdf(pages: int = 200, seed: int = 1) -> Path:
    """A ``pages``-page A4 PDF: a heading, a paragraph and a ruled roster table on every page."""
    return _atomic(DATA / f"roster-{pages}p.pdf", lambda tmp: tmp.write_bytes(pdf_bytes(pages, seed)))


def pdf_bytes(pages: int, seed: int, rows_per_page: int = 22) -> bytes:
    """The bytes of :func:`make_pdf` (reportlab canvas, invariant output)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    fake = fakedata.FakeData(seed, "corpus")
    rng = fake.rng
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    xs = [30, 58, 100, 126, 232, 306, 370, 450, 520]  # column borders
    size, leading = 8.5, 11.0
    number = 0
    for page in range(pages):
        c.setFont(FONT, 14)
        c.drawString(60, 800, f"{rng.choice(DEPTS)}关于{page + 1}批次补助对象的公示")
        c.setFont(FONT, 10)
        text = prose(rng, 160)
        y = 778.0
        for k in range(0, len(text), 46):
            c.drawString(40, y, text[k:k + 46])
            y -= 14
        y -= 6
        table = [HEADER]
        for _ in range(rows_per_page):
            number += 1
            table.append([str(number), *row(fake)])
        c.setLineWidth(0.5)
        c.setFont(FONT, size)
        for cells in table:
            # The address column wraps onto a second line in some rows (ragged, like real tables).
            lines = [[t] if pdfmetrics.stringWidth(t, FONT, size) < (b - a - 6) else [t[:len(t) // 2], t[len(t) // 2:]]
                     for t, a, b in zip(cells, xs[:-1], xs[1:], strict=True)]
            height = max(len(v) for v in lines) * leading + 6
            for col, parts in enumerate(lines):
                for k, part in enumerate(parts):
                    c.drawString(xs[col] + 3, y - (k + 1) * leading + 1, part)
            c.line(xs[0], y, xs[-1], y)
            for x in xs:
                c.line(x, y, x, y - height)
            y -= height
        c.line(xs[0], y, xs[-1], y)
        c.setFont(FONT, 9)
        c.drawString(280, 30, f"第 {page + 1} 页")
        c.showPage()
    c.save()
    return buf.getvalue()


# -- XLSX ----------------------------------------------------------------------------------------


def make_xlsx(rows: int = 50_000, seed: int = 2) -> Path:
    """A ``rows``-row roster workbook: a title row, a header row, 8 columns per person."""
    return _atomic(DATA / f"roster-{rows}r.xlsx", lambda tmp: _write_xlsx(tmp, rows, seed))


def _write_xlsx(path: Path, rows: int, seed: int) -> None:
    import xlsxwriter

    fake = fakedata.FakeData(seed, "corpus")
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("名单")
    ws.write_string(0, 0, "2024年度城乡居民补助对象花名册")
    ws.write_row(1, 0, HEADER)
    for i in range(rows):
        name, sex, rid, mobile, plate, addr, amount = row(fake)
        r = i + 2
        ws.write_number(r, 0, i + 1)
        ws.write_string(r, 1, name)
        ws.write_string(r, 2, sex)
        ws.write_string(r, 3, rid)
        ws.write_number(r, 4, int(mobile))  # typed as numbers, as offices often do
        ws.write_string(r, 5, plate)
        ws.write_string(r, 6, addr)
        ws.write_number(r, 7, float(amount.replace(",", "")))
    wb.close()


def xlsx_bytes(rows: int, seed: int) -> bytes:
    """The bytes of a roster workbook (for the scan folder)."""
    tmp = DATA / f".tmp-{rows}-{seed}.xlsx"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    _write_xlsx(tmp, rows, seed)
    try:
        return tmp.read_bytes()
    finally:
        tmp.unlink()


# -- text, HTML ----------------------------------------------------------------------------------


def disclosure_text(fake: fakedata.FakeData, chars: int) -> str:
    """Running text and roster lines, about one identifier per 2 KB of UTF-8."""
    rng = fake.rng
    out: list[str] = []
    n = 0
    while n < chars:
        s = prose(rng, 640)  # ~1.9 KB of UTF-8 between values
        p = fake.person()
        pick = rng.random()
        if pick < 0.5:
            s += f"申请人{p.name}，身份证号{p.resident_id}。"
        elif pick < 0.85:
            s += f"经办人{p.name}，联系电话{p.mobile}。"
        else:
            s += f"车辆号牌{fakedata.render_plate(fake.plate(), 'dot')}，所有人{p.name}。"
        out.append(s + "\n")
        n += len(s) + 1
    return "".join(out)


def html_page(title: str, body: str, links: list[tuple[str, str]] = ()) -> str:  # type: ignore[assignment]
    """A small government-style HTML page."""
    items = "".join(f'<li><a href="{href}">{html.escape(text)}</a></li>' for href, text in links)
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n") if p)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f'<body><div class="header">政府信息公开</div><h1>{html.escape(title)}</h1>'
            f'<div class="content">{paras}</div><ul>{items}</ul></body></html>')


# -- the folder for `leakscan scan` ----------------------------------------------------------------


def make_scan_folder(parts: int = 4, part_mb: int = 256, seed: int = 4) -> Path:
    """``parts`` subfolders of about ``part_mb`` MB each (``part0`` alone is the 1× input).

    By bytes: text and HTML pages and CSV rosters of ~1 MB (about 97%), plus in each part a few
    PDFs (20 pages) and XLSX rosters (2,000 rows), like an office's outbox.
    """
    root = DATA / f"scan-{parts}x{part_mb}m"
    for k in range(parts):
        _atomic(root / f"part{k}", lambda tmp, k=k: _write_part(tmp, part_mb, seed * 100 + k))
    return root


def _write_part(folder: Path, mb: int, seed: int) -> None:
    fake = fakedata.FakeData(seed, "corpus")
    folder.mkdir(parents=True)
    pdf = pdf_bytes(20, seed)
    xlsx = xlsx_bytes(2000, seed)
    size, i = 0, 0
    while size < mb << 20:
        kind = ("txt", "html", "csv", "txt", "html")[i % 5]
        if i % 50 == 7:
            data, kind = pdf, "pdf"
        elif i % 50 == 33:
            data, kind = xlsx, "xlsx"
        elif kind == "csv":
            rows = [f"{n},{p.name},{p.sex},{p.resident_id},{p.mobile},{_address(fake.rng)}"
                    for n, p in ((n, fake.person()) for n in range(1, 1500))]
            pad = "\n".join(f"{n + 1500},{fake.name()},{fake.amount()},{prose(fake.rng, 200)}" for n in range(1500))
            data = ("序号,姓名,性别,身份证号码,联系电话,家庭住址\n" + "\n".join(rows) + "\n" + pad).encode("utf-8")
        else:
            text = disclosure_text(fake, 330_000)  # ~1 MB of UTF-8
            if kind == "html":
                text = html_page(f"{fake.rng.choice(DEPTS)}公示公告", text)
            data = text.encode("utf-8")
        (folder / f"d{i:05d}.{kind}").write_bytes(data)
        size += len(data)
        i += 1


# -- scanned pages (OCR) -------------------------------------------------------------------------

# the CJK faces bench/setup.sh or `make test` install (without one the pictures carry only numbers)
_CJK_FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
              "/usr/share/fonts/truetype/arphic/uming.ttc")


def make_scanned_pdf(pages: int = 5, seed: int = 5) -> Path:
    """An image-only PDF: each page a 150 dpi picture of a roster (no text layer), like a scan."""
    return _atomic(DATA / f"scanned-{pages}p.pdf", lambda tmp: _write_scanned(tmp, pages, seed))


def _write_scanned(path: Path, pages: int, seed: int) -> None:
    from PIL import Image, ImageDraw, ImageFont

    fake = fakedata.FakeData(seed, "corpus")
    font_path = next((f for f in _CJK_FONTS if Path(f).exists()), None)
    font = ImageFont.truetype(font_path, 28) if font_path else ImageFont.load_default()
    images = []
    for _ in range(pages):
        img = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi
        draw = ImageDraw.Draw(img)
        y = 80
        for _line in range(30):
            p = fake.person()
            text = (f"{p.name} {p.sex} {p.resident_id} {p.mobile}" if font_path
                    else f"{p.resident_id}  {p.mobile}")
            draw.text((90, y), text, fill=0, font=font)
            y += 52
        images.append(img.convert("RGB"))
    images[0].save(path, format="PDF", resolution=150, save_all=True, append_images=images[1:])
