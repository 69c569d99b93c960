"""DOCX extraction from real OOXML packages written part by part."""

from __future__ import annotations

import io
import zipfile

import pytest

from scanner.config import Limits
from scanner.errors import ExtractError
from scanner.extract import extract as extract_any
from scanner.extract.docx import extract
from scanner.model import Document, Segment

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = (
    f'xmlns:w="{W}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:v="urn:schemas-microsoft-com:vml"'
)
ID_A = "11010519491231002X"  # fake, valid check character
ID_B = "440306198512124561"
MOBILE_A = "13812345678"
MOBILE_B = "13998765432"

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)


def p(*runs: str) -> str:
    return "<w:p>" + "".join(f'<w:r><w:t xml:space="preserve">{r}</w:t></w:r>' for r in runs) + "</w:p>"


def cell(text: str, span: int = 1) -> str:
    props = f'<w:tcPr><w:gridSpan w:val="{span}"/></w:tcPr>' if span > 1 else ""
    return f"<w:tc>{props}{p(text)}</w:tc>"


def xml(root: str, body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:{root} {NS}>{body}</w:{root}>'


def build(parts: dict[str, str], main: str = "word/document.xml") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", RELS.replace("word/document.xml", main))
        for name, text in parts.items():
            zf.writestr(name, text.encode("utf-8"))
    return buf.getvalue()


TEXTBOX = (
    "<w:p><w:r><mc:AlternateContent><mc:Choice Requires=\"wps\"><w:drawing><wps:txbx><w:txbxContent>"
    + p("文本框：联系人手机 ", MOBILE_B)
    + "</w:txbxContent></wps:txbx></w:drawing></mc:Choice><mc:Fallback><w:pict><v:textbox><w:txbxContent>"
    + p("文本框：联系人手机 ", MOBILE_B)
    + "</w:txbxContent></v:textbox></w:pict></mc:Fallback></mc:AlternateContent></w:r>"
    + '<w:r><w:t>图注</w:t></w:r></w:p>'
)

BODY = (
    "<w:body>"
    + p("关于2023年度低保对象的公示")
    + p()  # an empty paragraph still counts as a line
    + p("申请人张伟，身份证号", ID_A[:6], ID_A[6:14], ID_A[14:], "，已审核。")
    + '<w:p><w:r><w:t>电话</w:t></w:r><w:r><w:tab/><w:t>138</w:t></w:r><w:r><w:t>12345678</w:t><w:br/>'
    + "<w:t>第二行</w:t></w:r></w:p>"
    + "<w:tbl><w:tblGrid/>"
    + "<w:tr>" + cell("序号") + cell("姓名") + cell("身份证号") + cell("联系电话") + "</w:tr>"
    + "<w:tr>" + cell("1") + cell("李芳") + cell(ID_B) + cell(MOBILE_A) + "</w:tr>"
    + "<w:tr>" + cell("2") + cell("备注：王敏已迁出", span=3) + "</w:tr>"
    + "</w:tbl>"
    + TEXTBOX
    + "<w:sectPr/></w:body>"
)


@pytest.fixture()
def docx_bytes() -> bytes:
    return build(
        {
            "word/document.xml": xml("document", BODY),
            "word/header1.xml": xml("hdr", p("经办人电话：", MOBILE_A)),
            "word/footer1.xml": xml("ftr", p("第1页")),
            "word/comments.xml": xml("comments", f'<w:comment w:id="0" w:author="审核">{p("核对 ", ID_B)}</w:comment>'),
            "word/footnotes.xml": xml("footnotes", f'<w:footnote w:id="1">{p("注：原始号码 ", MOBILE_B)}</w:footnote>'),
            "word/endnotes.xml": xml("endnotes", f'<w:endnote w:id="1">{p("尾注")}</w:endnote>'),
        }
    )


def segments(data: bytes, limits: Limits | None = None) -> list[Segment]:
    return list(extract(Document(source="公示.docx", data=data, name="公示.docx"), limits or Limits()))


def test_paragraphs_join_split_runs_and_count_lines(docx_bytes: bytes) -> None:
    body = [s for s in segments(docx_bytes) if s.location.part == "正文" and s.location.table is None]
    by_line = {s.location.line: s.text for s in body}
    assert by_line[1] == "关于2023年度低保对象的公示"
    assert 2 not in by_line  # empty paragraph: counted, not emitted
    assert by_line[3] == f"申请人张伟，身份证号{ID_A}，已审核。"
    assert by_line[4] == "电话\t13812345678\n第二行"


def test_table_cells_carry_position_and_header(docx_bytes: bytes) -> None:
    cells = {(s.location.table, s.location.row, s.location.column): s for s in segments(docx_bytes) if s.location.table}
    id_cell = cells[(1, 2, 3)]
    assert (id_cell.text, id_cell.header, id_cell.location.part) == (ID_B, "身份证号", "正文")
    assert (cells[(1, 2, 4)].text, cells[(1, 2, 4)].header) == (MOBILE_A, "联系电话")
    assert cells[(1, 1, 3)].header == ""
    merged = cells[(1, 3, 2)]  # spans grid columns 2-4
    assert merged.text == "备注：王敏已迁出" and merged.header == "姓名"
    assert (1, 3, 3) not in cells


def test_text_box_read_once_and_other_parts(docx_bytes: bytes) -> None:
    segs = segments(docx_bytes)
    texts = [s.text for s in segs]
    assert texts.count(f"文本框：联系人手机 {MOBILE_B}") == 1  # the VML fallback copy is skipped
    assert "图注" in texts
    by_part = {(s.location.part, s.text) for s in segs}
    assert ("页眉", f"经办人电话：{MOBILE_A}") in by_part
    assert ("页脚", "第1页") in by_part
    assert ("批注", f"核对 {ID_B}") in by_part
    assert ("脚注", f"注：原始号码 {MOBILE_B}") in by_part
    assert ("尾注", "尾注") in by_part
    order = [s.location.part for s in segs]
    assert order.index("正文") < order.index("页眉") < order.index("页脚") < order.index("批注")


def test_sniffed_as_docx_even_with_an_unusual_main_part_name() -> None:
    data = build({"word/document2.xml": xml("document", "<w:body>" + p("正文内容 ", MOBILE_A) + "</w:body>")},
                 main="word/document2.xml")
    kind, items = extract_any(Document(source="https://example.gov.cn/att?id=3", data=data), Limits())
    assert kind == "docx"
    assert [s.text for s in items] == [f"正文内容 {MOBILE_A}"]


def test_strict_ooxml_namespace() -> None:
    strict = xml("document", "<w:body>" + p("严格格式 ", MOBILE_A) + "</w:body>").replace(
        W, "http://purl.oclc.org/ooxml/wordprocessingml/main"
    )
    assert [s.text for s in segments(build({"word/document.xml": strict}))] == [f"严格格式 {MOBILE_A}"]


def test_empty_document_yields_nothing() -> None:
    assert segments(build({"word/document.xml": xml("document", "<w:body/>")})) == []


def test_truncated_corrupt_and_missing_parts(docx_bytes: bytes) -> None:
    with pytest.raises(ExtractError, match="损坏"):
        segments(docx_bytes[: len(docx_bytes) // 2])
    with pytest.raises(ExtractError, match="缺少正文"):
        segments(build({"word/other.xml": "<a/>"}))
    broken = build({"word/document.xml": xml("document", "<w:body>" + p("半截"))[:-30]})
    with pytest.raises(ExtractError, match="XML 已损坏"):
        segments(broken)


def test_billion_laughs_and_external_entities_are_refused() -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY a{i} "{("&a%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 12))
        + f']><w:document {NS}><w:body><w:p><w:r><w:t>&a11;</w:t></w:r></w:p></w:body></w:document>'
    )
    with pytest.raises(ExtractError, match="DTD"):
        segments(build({"word/document.xml": laughs}))
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f"<w:document {NS}><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>"
    )
    with pytest.raises(ExtractError, match="DTD"):
        segments(build({"word/document.xml": xxe}))


def test_zip_bomb_is_refused_before_parsing() -> None:
    body = xml("document", "<w:body>" + p("x") + "</w:body>")
    data = build({"word/document.xml": body + " " * (3 << 20)})  # 3 MB of blanks compress ~1000×
    with pytest.raises(ExtractError, match="疑似压缩炸弹"):
        segments(data)
    with pytest.raises(ExtractError, match="疑似压缩炸弹"):
        segments(data, Limits(max_member_bytes=1 << 20, max_ratio=1e9))


def test_encrypted_docx(docx_bytes: bytes) -> None:
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml", reason="msoffcrypto-tool (test-only) encrypts the fixture")
    out = io.BytesIO()
    ooxml.OOXMLFile(io.BytesIO(docx_bytes)).encrypt("secret", out)
    kind, items = extract_any(Document(source="加密.docx", data=out.getvalue(), name="加密.docx"), Limits())
    assert kind == "docx"
    with pytest.raises(ExtractError, match="已加密"):
        list(items)


def test_long_table_is_read_row_by_row() -> None:
    rows = "".join("<w:tr>" + cell(str(i)) + cell(f"1380000{i % 10000:04d}") + "</w:tr>" for i in range(20000))
    data = build({"word/document.xml": xml("document", f"<w:body><w:tbl>{rows}</w:tbl></w:body>")})
    segs = segments(data)
    assert len(segs) == 40000
    assert (segs[-1].text, segs[-1].location.row, segs[-1].location.column) == ("13800009999", 20000, 2)
