"""Archive extraction: real ZIP, 7z and RAR files built in the tests, bombs and hostile names."""

from __future__ import annotations

import io
import shutil
import struct
import zipfile
import zlib

import pytest

from scanner.config import Limits
from scanner.errors import ExtractError, Skip
from scanner.extract import extract as extract_any
from scanner.extract.archive import extract, member_path
from scanner.model import Document

ROSTER = "姓名,身份证号,手机\n张伟,11010519491231002X,13812345678\n".encode()  # fake people
ARCHIVE = Document(source="https://example.gov.cn/att/附件.zip", name="附件.zip", data=b"")


def children(data: bytes, limits: Limits | None = None, depth: int = 0) -> list[Document]:
    doc = Document(source=ARCHIVE.source, data=data, name=ARCHIVE.name, depth=depth)
    return list(extract(doc, limits or Limits()))


def zip_bytes(members: dict[str, bytes], gbk_names: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2023, 5, 6, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    raw = buf.getvalue()
    if gbk_names:  # what Windows' built-in zip and WinRAR write: GBK names, no UTF-8 flag
        for name in members:
            utf8, gbk = name.encode("utf-8"), name.encode("gbk")
            assert len(utf8) != len(gbk) or utf8 == gbk
        raw = _rewrite_names_gbk(buf.getvalue())
    return raw


def _rewrite_names_gbk(raw: bytes) -> bytes:
    """Rebuild a zip with GBK-encoded names and the UTF-8 flag cleared (Python never writes that)."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    central = io.BytesIO()
    for info in src.infolist():
        data = src.read(info)
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = comp.compress(data) + comp.flush()
        name = info.filename.encode("gbk")
        crc = zlib.crc32(data)
        offset = out.tell()
        local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x5AC6, crc, len(packed), len(data), len(name), 0)
        out.write(local)
        out.write(name + packed)
        central.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x5AC6, crc, len(packed), len(data),
                                  len(name), 0, 0, 0, 0, 0, offset))
        central.write(name)
    start = out.tell()
    cd = central.getvalue()
    count = len(src.infolist())
    out.write(cd + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(cd), start, 0))
    return out.getvalue()


def test_zip_members_become_child_documents() -> None:
    data = zip_bytes({"名单/低保.csv": ROSTER, "空目录/": b"", "说明.txt": "无".encode()})
    kids = children(data)
    assert [k.source for k in kids] == [f"{ARCHIVE.source}!/名单/低保.csv", f"{ARCHIVE.source}!/说明.txt"]
    first = kids[0]
    assert (first.parent, first.name, first.depth, first.data) == (ARCHIVE.source, "低保.csv", 1, ROSTER)


def test_gbk_names_without_the_utf8_flag() -> None:
    data = zip_bytes({"低保名单/张家村.csv": ROSTER}, gbk_names=True)
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    assert info.flag_bits & 0x800 == 0 and info.filename != "低保名单/张家村.csv"  # mojibake without help
    assert [k.source for k in children(data)] == [f"{ARCHIVE.source}!/低保名单/张家村.csv"]


def test_member_paths_cannot_escape() -> None:
    assert member_path("../../etc/passwd") == "etc/passwd"
    assert member_path("C:\\Users\\..\\名单.xls") == "Users/名单.xls"
    assert member_path("/abs/./x.txt") == "abs/x.txt"
    kids = children(zip_bytes({"../../outside.txt": b"x"}))
    assert kids[0].source == f"{ARCHIVE.source}!/outside.txt"


def test_nested_archive_is_a_child_and_depth_is_bounded() -> None:
    inner = zip_bytes({"内层.txt": ROSTER})
    kids = children(zip_bytes({"inner.zip": inner}))
    kind, grandchildren = extract_any(kids[0], Limits())
    assert kind == "zip"
    assert [g.source for g in grandchildren] == [f"{ARCHIVE.source}!/inner.zip!/内层.txt"]
    with pytest.raises(Skip, match="嵌套层数"):
        children(inner, Limits(max_depth=2), depth=2)


def test_zip_bombs_end_as_errors_in_bounded_time() -> None:
    bomb = zip_bytes({"a.txt": b"0" * (8 << 20)})  # ratio ~1000
    with pytest.raises(ExtractError, match="疑似压缩炸弹"):
        children(bomb)
    with pytest.raises(ExtractError, match="疑似压缩炸弹"):
        children(bomb, Limits(max_ratio=1e9, max_member_bytes=1 << 20))
    many = zip_bytes({f"{i}.txt": b"x" for i in range(30)})
    with pytest.raises(ExtractError, match="疑似压缩炸弹"):
        children(many, Limits(max_archive_members=20))
    parts = zip_bytes({f"{i}.bin": bytes(range(256)) * 4096 for i in range(4)})  # 1 MB each, incompressible-ish
    with pytest.raises(ExtractError, match="疑似压缩炸弹"):
        children(parts, Limits(max_unpacked_bytes=3 << 20, max_ratio=1e9))


def test_zip_with_lying_sizes_is_refused() -> None:
    data = bytearray(zip_bytes({"a.txt": b"0" * (4 << 20)}))
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<L", data, cd + 24, 10)  # central directory claims 10 bytes uncompressed
    with pytest.raises(ExtractError, match="疑似压缩炸弹|损坏"):
        children(bytes(data))


def test_truncated_and_corrupt_zip() -> None:
    data = zip_bytes({"a.csv": ROSTER * 100})
    with pytest.raises(ExtractError, match="损坏"):
        children(data[: len(data) - 30])
    flipped = bytearray(data)
    flipped[60] ^= 0xFF  # inside the compressed data: CRC or inflate fails
    with pytest.raises(ExtractError, match="损坏"):
        children(bytes(flipped))


def test_encrypted_zip_members() -> None:
    data = bytearray(zip_bytes({"secret.csv": ROSTER, "open.txt": b"public"}))
    # Mark the first member encrypted in both headers (Python cannot write encrypted zips).
    struct.pack_into("<H", data, 6, 1)
    cd = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, cd + 8, 1)
    got: list[Document] = []
    with pytest.raises(ExtractError, match="1 个文件已加密"):
        for child in extract(Document(source="a.zip", data=bytes(data)), Limits()):
            got.append(child)
    assert [c.name for c in got] == ["open.txt"]
    only = bytearray(zip_bytes({"secret.csv": ROSTER}))
    struct.pack_into("<H", only, 6, 1)
    struct.pack_into("<H", only, only.find(b"PK\x01\x02") + 8, 1)
    with pytest.raises(ExtractError, match="压缩包已加密"):
        children(bytes(only))


def test_sevenzip() -> None:
    py7zr = pytest.importorskip("py7zr")
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as archive:
        archive.writestr(ROSTER, "名单/低保.csv")
        archive.writestr("说明".encode(), "readme.txt")
    doc = Document(source="b.7z", data=buf.getvalue())
    kind, items = extract_any(doc, Limits())
    assert kind == "7z"
    kids = {k.source: k.data for k in items}
    assert kids == {"b.7z!/名单/低保.csv": ROSTER, "b.7z!/readme.txt": "说明".encode()}


def test_sevenzip_bomb_and_password() -> None:
    py7zr = pytest.importorskip("py7zr")
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as archive:
        archive.writestr(b"\0" * (16 << 20), "zeros.bin")
    with pytest.raises(ExtractError, match="疑似压缩炸弹"):
        list(extract(Document(source="bomb.7z", data=buf.getvalue()), Limits()))
    with pytest.raises(ExtractError, match="疑似压缩炸弹"):
        list(extract(Document(source="bomb.7z", data=buf.getvalue()), Limits(max_ratio=1e9, max_member_bytes=1 << 20)))
    locked = io.BytesIO()
    with py7zr.SevenZipFile(locked, "w", password="secret") as archive:
        archive.writestr(ROSTER, "a.csv")
    with pytest.raises(ExtractError, match="已加密"):
        list(extract(Document(source="locked.7z", data=locked.getvalue()), Limits()))
    with pytest.raises(ExtractError, match="损坏"):
        list(extract(Document(source="cut.7z", data=locked.getvalue()[:40]), Limits()))


def _rar4(members: dict[str, bytes], encrypted: tuple[str, ...] = ()) -> bytes:
    """A RAR 4 archive with stored (uncompressed) members, written by hand: no free RAR writer exists."""

    def block(kind: int, flags: int, body: bytes) -> bytes:
        head = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
        return struct.pack("<H", zlib.crc32(head) & 0xFFFF) + head

    out = [b"Rar!\x1a\x07\x00", block(0x73, 0, b"\0" * 6)]
    for name, data in members.items():
        raw_name = name.encode("ascii")
        flags = 0x8000 | (0x04 if name in encrypted else 0)
        body = struct.pack("<LLBLLBBHL", len(data), len(data), 2, zlib.crc32(data), 0x56A60000, 20, 0x30,
                           len(raw_name), 0x20) + raw_name
        out += [block(0x74, flags, body), data]
    out.append(block(0x7B, 0x4000, b""))
    return b"".join(out)


needs_rar_tool = pytest.mark.skipif(
    not (shutil.which("unar") or shutil.which("bsdtar") or shutil.which("unrar")),
    reason="未安装 RAR 解压工具（apt-get install unar 或 libarchive-tools）",
)


@needs_rar_tool
def test_rar() -> None:
    pytest.importorskip("rarfile")
    data = _rar4({"list/roster.csv": ROSTER, "readme.txt": b"hello"})
    kind, items = extract_any(Document(source="c.rar", data=data), Limits())
    assert kind == "rar"
    assert {k.source: k.data for k in items} == {"c.rar!/list/roster.csv": ROSTER, "c.rar!/readme.txt": b"hello"}


@needs_rar_tool
def test_rar_limits_and_password() -> None:
    pytest.importorskip("rarfile")
    with pytest.raises(ExtractError, match="疑似压缩炸弹"):
        children(_rar4({"a.csv": ROSTER}), Limits(max_member_bytes=10))
    with pytest.raises(ExtractError, match="压缩包已加密"):
        children(_rar4({"a.csv": ROSTER}, encrypted=("a.csv",)))
    with pytest.raises(ExtractError, match="损坏"):
        children(_rar4({"a.csv": ROSTER})[:30] + b"\x00" * 10)


def test_rar_without_a_tool_is_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    rarfile = pytest.importorskip("rarfile")

    def no_tool(**_: object) -> None:
        raise rarfile.RarCannotExec("none")

    monkeypatch.setattr(rarfile, "tool_setup", no_tool)
    with pytest.raises(Skip, match="unar"):
        children(_rar4({"a.csv": ROSTER}))
