"""DOC/WPS extraction through LibreOffice and antiword, on a .doc that LibreOffice writes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_extract_docx import BODY, build, p, xml

from scanner.config import Limits
from scanner.errors import ExtractError, Skip
from scanner.extract import doc as doc_mod
from scanner.extract import extract as extract_any
from scanner.model import Document, Segment

ID_A = "11010519491231002X"  # fake
ID_B = "440306198512124561"
MOBILE_A = "13812345678"
MOBILE_B = "13998765432"

# LibreOffice imports a VML text box (the DrawingML one in BODY has no anchor and is dropped).
VML_TEXT_BOX = (
    '<w:p><w:r><w:pict><v:shape id="box1" style="width:200pt;height:50pt"><v:textbox><w:txbxContent>'
    + p("文本框：联系人手机 ", MOBILE_B)
    + "</w:txbxContent></v:textbox></v:shape></w:pict></w:r></w:p>"
)
# A header LibreOffice keeps must be linked from the section properties through a relationship.
HEADER_LINK = (
    '<w:sectPr><w:headerReference w:type="default" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="rIdH"/></w:sectPr>'
)
DOC_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rIdH" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/header" '
    'Target="header1.xml"/></Relationships>'
)
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_soffice = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice 未安装（apt-get install libreoffice-writer-nogui）：无法生成 .doc 测试文件"
)


@pytest.fixture(scope="module")
def doc_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if SOFFICE is None:
        pytest.skip("LibreOffice 未安装（apt-get install libreoffice-writer-nogui）：无法生成 .doc 测试文件")
    tmp = tmp_path_factory.mktemp("doc")
    source = tmp / "公示.docx"
    source.write_bytes(
        build(
            {
                "word/document.xml": xml("document", BODY.replace("<w:sectPr/>", VML_TEXT_BOX + HEADER_LINK)),
                "word/_rels/document.xml.rels": DOC_RELS,
                "word/header1.xml": xml("hdr", p("经办人 ", MOBILE_A)),
            }
        )
    )
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation={(tmp / 'profile').as_uri()}", "--headless", "--convert-to",
         "doc:MS Word 97", "--outdir", str(tmp), str(source)],
        check=True, capture_output=True, timeout=180,
    )
    out = tmp / "公示.doc"
    assert out.read_bytes()[:8] == bytes.fromhex("d0cf11e0a1b11ae1")
    return out


def run(path: Path, name: str | None = None) -> tuple[str, list[Segment]]:
    kind, items = extract_any(Document(source=str(path), path=path, name=name or path.name), Limits())
    return kind, list(items)


@needs_soffice
def test_libreoffice_route_keeps_tables_text_boxes_and_headers(doc_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doc_mod, "CONVERTERS", ("soffice",))
    kind, segs = run(doc_file)
    assert kind == "doc"
    texts = [s.text for s in segs]
    assert f"申请人张伟，身份证号{ID_A}，已审核。" in texts
    cell = next(s for s in segs if s.text == ID_B)
    assert (cell.location.table, cell.location.row, cell.location.column, cell.header) == (1, 2, 3, "身份证号")
    assert any(MOBILE_B in t for t in texts)  # text box
    assert any(s.location.part == "页眉" and MOBILE_A in s.text for s in segs)


@pytest.mark.skipif(shutil.which("antiword") is None, reason="antiword 未安装（apt-get install antiword）")
def test_antiword_route_reads_body_and_table_cells(doc_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doc_mod, "CONVERTERS", ("antiword",))
    _, segs = run(doc_file)
    texts = [s.text.strip() for s in segs]
    assert f"申请人张伟，身份证号{ID_A}，已审核。" in texts
    cell = next(s for s in segs if s.text == ID_B)
    assert (cell.location.table, cell.location.row, cell.location.column, cell.header) == (1, 2, 3, "身份证号")
    assert next(s for s in segs if s.text == MOBILE_A).header == "联系电话"


def test_wps_name_and_no_converter_is_a_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doc_mod, "CONVERTERS", ())
    path = tmp_path / "通知.wps"
    path.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 1024)
    kind, items = extract_any(Document(source=str(path), path=path, name=path.name), Limits())
    assert kind == "doc"
    with pytest.raises(Skip, match="LibreOffice"):
        list(items)


@needs_soffice
def test_garbage_doc_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "坏.doc"
    path.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\x07" * 4096)
    with pytest.raises(ExtractError):
        list(doc_mod.extract(Document(source=str(path), path=path, name=path.name), Limits()))


@needs_soffice
def test_encrypted_flag_is_refused_before_converting(doc_file: Path, tmp_path: Path) -> None:
    olefile = pytest.importorskip("olefile")
    path = tmp_path / "加密.doc"
    shutil.copyfile(doc_file, path)
    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        stream = bytearray(ole.openstream("WordDocument").read())
        stream[11] |= 0x01  # FibBase.fEncrypted
        ole.write_stream("WordDocument", bytes(stream))
    with pytest.raises(ExtractError, match="已加密"):
        list(doc_mod.extract(Document(source=str(path), path=path), Limits()))


def test_parse_antiword_output() -> None:
    out = "标题\n\n|姓名 |身份证号          |\n|李芳 |440306198512124561|\n正文 13812345678\n"
    segs = list(doc_mod.parse_antiword(out))
    assert [(s.text, s.location.line, s.location.row, s.header) for s in segs] == [
        ("标题", 1, None, ""),
        ("姓名", 3, 1, ""),
        ("身份证号", 3, 1, ""),
        ("李芳", 4, 2, "姓名"),
        (ID_B, 4, 2, "身份证号"),
        ("正文 13812345678", 5, None, ""),
    ]


@needs_soffice
def test_bytes_decide_the_kind_not_the_name(doc_file: Path) -> None:
    kind, _ = extract_any(Document(source="download.jsp?id=9", data=doc_file.read_bytes(), name="名单.xls"), Limits())
    assert kind == "doc"
