"""Substitute fonts for non-embedded (CJK) fonts: read once per process, same text and boxes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("reportlab", reason="reportlab is needed to generate the test PDFs")

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from scanner.config import Limits
from scanner.extract import _pdffonts
from scanner.extract.pdf import extract
from scanner.model import Document

CID_FONTS = ["STSong-Light", "MSung-Light", "HeiseiMin-W3", "HYSMyeongJo-Medium"]
for _name in CID_FONTS:
    pdfmetrics.registerFont(UnicodeCIDFont(_name))
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def roster_pdf(people: list[tuple[str, str]], fonts: list[str]) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for page in range(2):
        y = 800
        for font in fonts:
            for name, mobile in people:
                c.setFont(font, 11)
                c.drawString(40, y, f"第{page + 1}页 {name} 联系电话 {mobile} 皖A·12345")
                y -= 18
        c.showPage()
    c.save()
    return buf.getvalue()


def texts(data: bytes) -> list[str]:
    return [s.text for s in extract(Document(source="a.pdf", data=data, name="a.pdf"), Limits())]


def test_a_substitute_font_is_read_once_for_many_pdfs() -> None:
    """Two PDFs naming the same non-embedded CJK font: the second one makes pdfium read no font
    file (the face is kept from the first), and both read correctly."""
    first = roster_pdf([("张伟", "13800138000")], ["STSong-Light"])
    second = roster_pdf([("李娜", "13912345678"), ("王芳", "15011112222")], ["STSong-Light"])
    assert any("13800138000" in t for t in texts(first))
    read = _pdffonts.reads()
    if not read and not (_pdffonts._STATE and _pdffonts._STATE.anchors):
        pytest.skip("no installed font file substitutes STSong-Light on this machine")
    found = texts(second)
    assert _pdffonts.reads() == read
    assert any("李娜" in t and "13912345678" in t for t in found)
    assert any("王芳" in t and "15011112222" in t for t in found)


_DUMP = """
import json, sys
from pathlib import Path
from scanner.config import Limits
from scanner.extract import _pdffonts
from scanner.extract.pdf import extract
from scanner.model import Document
if sys.argv[1] == "default":
    _pdffonts.install = lambda: False
out = []
for path in sys.argv[2:]:
    doc = Document(source=path, path=Path(path))
    out.append([[s.text, repr(s.location), s.header] for s in extract(doc, Limits())])
print(json.dumps(out, ensure_ascii=False))
"""


def test_text_and_boxes_are_those_of_pdfiums_own_font_handling(tmp_path: Path) -> None:
    """Chinese, Japanese and Korean CID fonts, an embedded TrueType font and base-14 fonts, read
    in a fresh process with and without the font wrapper: the same segments and locations."""
    fonts = list(CID_FONTS) + ["Helvetica"]
    if DEJAVU.exists():
        pdfmetrics.registerFont(TTFont("DejaVu", str(DEJAVU)))
        fonts.append("DejaVu")
    paths = []
    for k, people in enumerate([[("张伟", "13800138000")], [("李娜", "13912345678"), ("王芳", "15011112222")]]):
        path = tmp_path / f"{k}.pdf"
        path.write_bytes(roster_pdf(people, fonts))
        paths.append(str(path))
    paths.append(paths[0])  # read again: now with the kept faces

    def dump(mode: str) -> list[list[list[str]]]:
        done = subprocess.run(
            [sys.executable, "-c", _DUMP, mode, *paths], capture_output=True, text=True, check=True, timeout=120
        )
        return json.loads(done.stdout)

    default, wrapped = dump("default"), dump("wrapped")
    assert default[0] and any("13800138000" in seg[0] for seg in default[0])
    assert wrapped == default
    assert wrapped[2] == wrapped[0]


def test_a_font_collection_is_handed_over_as_its_first_face() -> None:
    """The first face's table directory is moved to the start only when it covers no table."""
    tables = [(b"cmap", 200), (b"head", 300)]
    directory = b"OTTO" + (2).to_bytes(2, "big") + bytes(6)
    for tag, offset in tables:
        directory += tag + bytes(4) + offset.to_bytes(4, "big") + (10).to_bytes(4, "big")
    header = b"ttcf" + bytes([0, 1, 0, 0]) + (1).to_bytes(4, "big") + (16).to_bytes(4, "big")
    data = (header + directory).ljust(400, b"\0")
    assert _pdffonts._first_face_directory(data) == directory
    assert _pdffonts._first_face_directory(b"OTTO" + data[4:]) is None  # not a collection
    covering = data[:16 + 12 + 8] + (20).to_bytes(4, "big") + data[16 + 12 + 12:]
    assert _pdffonts._first_face_directory(covering) is None  # a table starts inside the directory
