"""RTF extraction: GBK byte escapes, Unicode escapes, skipped destinations, real LibreOffice output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from scanner.config import Limits
from scanner.errors import ExtractError
from scanner.extract import extract as extract_any
from scanner.extract.rtf import extract, to_text
from scanner.model import Document

ID_A = "11010519491231002X"  # fake
MOBILE_A = "13812345678"
MOBILE_B = "13998765432"


def gbk(text: str) -> str:
    """Text as RTF GBK byte escapes, the way WPS and Chinese Word write it."""
    return "".join(f"\\'{b:02x}" for b in text.encode("gbk"))


def uni(text: str) -> str:
    """Text as \\uN escapes each followed by a one-character fallback."""
    return "".join(f"\\u{ord(c) if ord(c) < 32768 else ord(c) - 65536}?" for c in text)


RTF = (
    "{\\rtf1\\ansi\\ansicpg936\\deff0"
    "{\\fonttbl{\\f0\\fnil\\fcharset134 " + gbk("宋体") + ";}{\\f1\\fswiss\\fcharset0 Arial;}}"
    "{\\colortbl;\\red0\\green0\\blue0;}"
    "{\\*\\generator WPS Office;}{\\info{\\author " + gbk("张三") + "}}"
    "{\\header \\pard " + gbk("页眉：经办人电话") + " " + MOBILE_B + "\\par}"
    "\\pard\\f0 " + gbk("公示名单") + "\\par "
    "\\f0 " + gbk("身份证号：") + ID_A + "\\par "
    "\\uc1 " + uni("手机号码：") + MOBILE_A + "\\par "
    "{\\pict\\pngblip " + "89504e47" * 20000 + "}"
    "{\\*\\blipuid 0123}"
    "\\trowd\\cellx2000\\cellx6000 \\intbl " + gbk("姓名") + "\\cell " + gbk("身份证号") + "\\cell\\row "
    "\\trowd\\cellx2000\\cellx6000 \\intbl " + gbk("李芳") + "\\cell 440306198512124561\\cell\\row "
    "\\pard " + gbk("正文") + "{\\footnote \\pard " + gbk("脚注") + " " + MOBILE_B + "}\\par "
    "{\\*\\annotation " + gbk("批注") + "}"
    "{\\shp{\\*\\shpinst{\\sp{\\sn fillColor}{\\sv 255}}{\\shptxt " + gbk("文本框") + MOBILE_A + "\\par}}"
    "{\\shprslt " + gbk("文本框") + MOBILE_A + "}}"
    "{\\object{\\*\\objdata 0105000002000000}}"
    "{\\field{\\*\\fldinst HYPERLINK \"http://example.gov.cn/\"}{\\fldrslt " + gbk("链接") + "}}\\par "
    "\\f1 " + gbk("西文字体里的中文") + " \\{braces\\} \\\\ back\\par "
    "}"
)


def lines(rtf: str) -> list[str]:
    return [s.text for s in extract(Document(source="a.rtf", data=rtf.encode("latin-1")), Limits())]


def test_gbk_unicode_tables_and_parts() -> None:
    got = lines(RTF)
    assert got[0] == f"页眉：经办人电话 {MOBILE_B}"
    assert "公示名单" in got
    assert f"身份证号：{ID_A}" in got
    assert f"手机号码：{MOBILE_A}" in got  # \uN with its '?' fallback dropped
    assert "姓名\t身份证号\t" in got
    assert "李芳\t440306198512124561\t" in got
    assert f"正文脚注 {MOBILE_B}" in got
    assert sum(f"文本框{MOBILE_A}" in line for line in got) == 1  # shape text, not its duplicate result
    assert any("批注" in line for line in got)
    assert any("链接" in line for line in got) and not any("HYPERLINK" in line for line in got)
    # WPS often declares a Chinese font \\fcharset0: its bytes follow the document's code page.
    assert "西文字体里的中文 {braces} \\ back" in got
    joined = "\n".join(got)
    assert "张三" not in joined and "宋体" not in joined and "89504e47" not in joined and "fillColor" not in joined


def test_line_numbers_and_raw_gbk_bytes() -> None:
    raw = b"{\\rtf1\\ansi\\ansicpg936 first\\par\\par " + "手机".encode("gbk") + b" 13812345678\\par}"
    segs = list(extract(Document(source="raw.rtf", data=raw), Limits()))
    assert [(s.text, s.location.line) for s in segs] == [("first", 1), ("手机 13812345678", 3)]


def test_bin_data_is_skipped() -> None:
    payload = b"{\\rtf1 a{\\pict\\bin6 }}{{{}}b\\par}"
    assert to_text(payload.decode("latin-1")).strip() == "ab"


def test_sniffed_and_not_rtf_is_an_error() -> None:
    kind, items = extract_any(Document(source="https://example.gov.cn/f?id=1", data=RTF.encode("latin-1")), Limits())
    assert kind == "rtf"
    assert any(ID_A in s.text for s in items)
    with pytest.raises(ExtractError, match="RTF"):
        list(extract(Document(source="x.rtf", data=b"not rtf at all"), Limits()))


def test_truncated_rtf_keeps_what_is_there() -> None:
    got = lines(RTF[: RTF.index("{\\pict")])
    assert f"手机号码：{MOBILE_A}" in got


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice 未安装：无法生成 RTF 测试文件")
def test_libreoffice_rtf(tmp_path: Path) -> None:
    from test_extract_docx import BODY, build, xml

    source = tmp_path / "公示.docx"
    source.write_bytes(build({"word/document.xml": xml("document", BODY)}))
    subprocess.run(
        ["soffice", f"-env:UserInstallation={(tmp_path / 'p').as_uri()}", "--headless", "--convert-to", "rtf",
         "--outdir", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=180,
    )
    got = lines((tmp_path / "公示.rtf").read_bytes().decode("latin-1"))
    assert f"申请人张伟，身份证号{ID_A}，已审核。" in got
    assert any("440306198512124561" in line and "李芳" in line for line in got)
