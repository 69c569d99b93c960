"""OFD extraction on OFD packages written by the test (GB/T 33190 structure, fake people only)."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from stdnum.iso7064 import mod_11_2

from scanner.config import Limits
from scanner.errors import ExtractError
from scanner.extract import extract as extract_any
from scanner.extract.ofd import extract
from scanner.model import Document, Segment

NS = "http://www.ofdspec.org/2016"
# A run: (text, x, y baseline, size) in millimetres, origin top left.
Run = tuple[str, float, float, float]


def fake_id(rng: random.Random) -> str:
    body = f"{rng.choice(['110105', '340823', '430104', '440106'])}{rng.randint(1950, 2005)}"
    body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + mod_11_2.calc_check_digit(body)


def fake_mobile(rng: random.Random) -> str:
    return rng.choice(["138", "139", "150", "186", "199"]) + f"{rng.randint(0, 99_999_999):08d}"


def content_xml(runs: list[Run], first_id: int) -> str:
    objects = []
    for k, (text, x, y, size) in enumerate(runs):
        delta = " ".join([f"{size * (1.0 if ord(text[0]) > 0x2E80 else 0.5):.2f}"] * (len(text) - 1))
        delta_attr = f' DeltaX="{delta}"' if delta else ""
        objects.append(
            f'<ofd:TextObject ID="{first_id + k}" Boundary="0 0 210 297" Font="1" Size="{size}">'
            f'<ofd:TextCode X="{x}" Y="{y}"{delta_attr}>{escape(text)}</ofd:TextCode></ofd:TextObject>'
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="{NS}">'
        "<ofd:Area><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:Area>"
        f'<ofd:Content><ofd:Layer ID="{first_id - 1}">{"".join(objects)}</ofd:Layer></ofd:Content></ofd:Page>'
    )


def ofd_package(pages: list[list[Run]], extra: dict[str, bytes] | None = None) -> bytes:
    page_refs = "".join(f'<ofd:Page ID="{100 + i}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(len(pages)))
    files = {
        "OFD.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="{NS}" Version="1.0" DocType="OFD">'
            "<ofd:DocBody><ofd:DocInfo><ofd:DocID>0123456789abcdef</ofd:DocID><ofd:Title>公示</ofd:Title>"
            "</ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
        ),
        "Doc_0/Document.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="{NS}">'
            "<ofd:CommonData><ofd:MaxUnitID>9999</ofd:MaxUnitID>"
            "<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>"
            "<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>"
            f"<ofd:Pages>{page_refs}</ofd:Pages></ofd:Document>"
        ),
        "Doc_0/PublicRes.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Res xmlns:ofd="{NS}" BaseLoc="Res">'
            '<ofd:Fonts><ofd:Font ID="1" FontName="宋体" FamilyName="宋体"/></ofd:Fonts></ofd:Res>'
        ),
    }
    for i, runs in enumerate(pages):
        files[f"Doc_0/Pages/Page_{i}/Content.xml"] = content_xml(runs, 1000 * (i + 1))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text.encode())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def run(data: bytes, limits: Limits | None = None) -> list[Segment]:
    return list(extract(Document(source="a.ofd", data=data, name="a.ofd"), limits or Limits()))


def holding(segments: list[Segment], value: str) -> list[Segment]:
    return [s for s in segments if value in s.text]


def narrow_table(people: list[tuple[str, str, str]], top: float) -> list[Run]:
    """Columns 序号|姓名|身份证号码|手机号码 at x=20/35/60/95 mm; the ID wraps after 10 digits and the
    mobile after 7, written line by line across each row like a converted Word table."""
    size, leading = 3.7, 4.6
    runs: list[Run] = [("序号", 20, top, size), ("姓名", 35, top, size), ("身份证号码", 60, top, size)]
    runs.append(("手机号码", 95, top, size))
    y = top + 2 * leading
    for i, (name, idn, mob) in enumerate(people, start=1):
        runs += [(str(i), 20, y, size), (name, 35, y, size), (idn[:10], 60, y, size), (mob[:7], 95, y, size)]
        runs += [(idn[10:], 60, y + leading, size), (mob[7:], 95, y + leading, size)]
        y += 2 * leading + 2.5
    return runs


def test_text_tables_and_page_numbers(tmp_path: Path) -> None:
    rng = random.Random(5)
    idn, mob = fake_id(rng), fake_mobile(rng)
    people = [("张伟", fake_id(rng), fake_mobile(rng)), ("李娜", fake_id(rng), fake_mobile(rng))]
    data = ofd_package(
        [
            [("关于2024年度补贴发放情况的公示", 30, 30, 5.0), (f"申请人公民身份号码{idn}，电话{mob}", 20, 45, 3.7)],
            narrow_table(people, 40),
        ]
    )
    path = tmp_path / "公示.ofd"
    path.write_bytes(data)
    kind, items = extract_any(Document(source=str(path), path=path, name=path.name), Limits())
    assert kind == "ofd"
    segments = [s for s in items if isinstance(s, Segment)]
    assert holding(segments, "关于2024年度补贴发放情况的公示")[0].location.page == 1
    for value in (idn, mob):
        assert [s.location.page for s in holding(segments, value)] == [1]
    for _, person_id, person_mobile in people:
        for value, header in ((person_id, "身份证号码"), (person_mobile, "手机号码")):
            found = holding(segments, value)
            assert len(found) == 1, value
            assert found[0].text == value
            assert found[0].header == header
            assert found[0].location.page == 2


def test_page_order_follows_document_xml() -> None:
    data = ofd_package([[("第一页正文", 20, 30, 4.0)], [("第二页正文", 20, 30, 4.0)]])
    # Swap the page files: order comes from Document.xml, not from member names.
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    doc_xml = parts["Doc_0/Document.xml"].decode()
    doc_xml = doc_xml.replace("Page_0/Content.xml", "TMP").replace("Page_1/Content.xml", "Page_0/Content.xml")
    parts["Doc_0/Document.xml"] = doc_xml.replace("TMP", "Page_1/Content.xml").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in parts.items():
            zf.writestr(name, content)
    segments = run(buf.getvalue())
    assert [(s.text, s.location.page) for s in segments] == [("第二页正文", 1), ("第一页正文", 2)]


def test_zip_bomb_member_is_refused() -> None:
    bomb = b"\0" * (8 * 1024 * 1024)  # 8 MB of zeros deflate to about 8 KB
    data = ofd_package([[("正文", 20, 30, 4.0)]], extra={"Doc_0/Res/image.bin": bomb})
    with pytest.raises(ExtractError, match="炸弹"):
        run(data)
    with pytest.raises(ExtractError, match="炸弹"):
        run(data, Limits(max_member_bytes=1024 * 1024, max_ratio=1e9))


def test_entity_declarations_are_refused() -> None:
    evil = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        f'<ofd:OFD xmlns:ofd="{NS}"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>'
        "</ofd:DocBody></ofd:OFD>"
    )
    data = ofd_package([[("正文", 20, 30, 4.0)]])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    parts["OFD.xml"] = evil.encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in parts.items():
            zf.writestr(name, content)
    with pytest.raises(ExtractError):
        run(buf.getvalue())


@pytest.mark.parametrize(
    "data",
    [b"PK\x03\x04 truncated zip", "这不是OFD".encode() * 20, b""],
    ids=["broken-zip", "text-named-ofd", "empty"],
)
def test_not_an_ofd(data: bytes) -> None:
    with pytest.raises(ExtractError):
        run(data)


def test_zip_without_ofd_xml() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ExtractError):
        run(buf.getvalue())


def test_truncated_ofd() -> None:
    people = [(f"王{i}", fake_id(random.Random(i)), fake_mobile(random.Random(i))) for i in range(30)]
    data = ofd_package([narrow_table(people, 30)] * 3)
    with pytest.raises(ExtractError):
        run(data[: len(data) // 2])
