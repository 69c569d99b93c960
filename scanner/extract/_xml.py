"""Safe reading of zip containers and the XML parts inside them (OOXML, ODF).

Shared by the DOCX, spreadsheet and archive extractors. Two dangers are handled here:

* zip bombs: every member's declared size, the total and the compression ratio are checked
  before anything is decompressed, and a member whose header claims it is smaller than its own
  compressed data (a lie no real writer tells) is refused;
* hostile XML: parts are parsed with lxml without entity resolution, network access or DTD
  loading, and any document type declaration (the carrier of billion-laughs and external-entity
  attacks; OOXML never has one) is refused.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from typing import IO

from lxml import etree

from scanner.config import Limits
from scanner.errors import ExtractError
from scanner.model import Document

#: Below this size a high ratio is normal (runs of identical XML) and harmless.
RATIO_FLOOR_BYTES = 1 << 20
#: Deflate output can only be smaller than its input by a little framing overhead.
_LIE_SLACK = 4096

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def open_zip(doc: Document, what: str = "文件") -> zipfile.ZipFile:
    """Open ``doc`` as a zip file or raise :class:`ExtractError` naming ``what`` is damaged."""
    try:
        return zipfile.ZipFile(doc.open() if doc.path is not None else io.BytesIO(doc.data or b""))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ExtractError(f"{what}已损坏或不完整，无法解压") from exc


def is_encrypted(info: zipfile.ZipInfo) -> bool:
    """Whether a zip member is password protected (general purpose flag bit 0)."""
    return bool(info.flag_bits & 0x1)


def check_member(info: zipfile.ZipInfo, limits: Limits) -> None:
    """Refuse one member whose declared sizes make it a bomb (or a liar)."""
    if info.file_size > limits.max_member_bytes:
        raise ExtractError(
            f"疑似压缩炸弹：成员文件解压后 {info.file_size // (1 << 20)} MB，超过上限 "
            f"{limits.max_member_bytes // (1 << 20)} MB"
        )
    lie_bound = info.file_size + _LIE_SLACK + info.file_size // 100
    if info.compress_type != zipfile.ZIP_STORED and info.compress_size > lie_bound:
        raise ExtractError("疑似压缩炸弹：成员文件声明的大小与压缩数据不符")
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        raise ExtractError(
            f"疑似压缩炸弹：成员文件压缩比 {info.file_size / max(info.compress_size, 1):.0f} 倍，超过上限 "
            f"{limits.max_ratio:.0f} 倍"
        )


def check_zip(zf: zipfile.ZipFile, limits: Limits, members: Iterable[zipfile.ZipInfo] | None = None) -> None:
    """Check the declared sizes of ``members`` (default: all) against ``limits`` before reading."""
    infos = list(zf.infolist() if members is None else members)
    if len(infos) > limits.max_archive_members:
        raise ExtractError(f"疑似压缩炸弹：包含 {len(infos)} 个文件，超过上限 {limits.max_archive_members} 个")
    total = 0
    for info in infos:
        check_member(info, limits)
        total += info.file_size
    if total > limits.max_unpacked_bytes:
        raise ExtractError(
            f"疑似压缩炸弹：解压后共 {total // (1 << 20)} MB，超过上限 {limits.max_unpacked_bytes // (1 << 20)} MB"
        )


def check_office_zip(zf: zipfile.ZipFile, limits: Limits, what: str) -> None:
    """Bomb and encryption checks for an Office document held in a zip (DOCX, XLSX, ODS)."""
    if any(is_encrypted(i) for i in zf.infolist()):
        raise ExtractError(f"{what}已加密，无法读取")
    check_zip(zf, limits)


class _Guarded(io.RawIOBase):
    """A read-only stream that refuses XML with a document type declaration in its prolog."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._head = b""
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buf))
        if not self._checked:
            self._head += data[:4096]
            if b"<!DOCTYPE" in self._head or b"<!ENTITY" in self._head:
                raise ExtractError("文档中的 XML 含有 DTD/实体声明（可能是实体炸弹或外部实体攻击），拒绝读取")
            # The prolog ends at the first element; a tag other than <? or <! means we are past it.
            self._checked = len(self._head) >= 4096 or _past_prolog(self._head)
        buf[: len(data)] = data
        return len(data)


def _past_prolog(head: bytes) -> bool:
    pos = 0
    while True:
        pos = head.find(b"<", pos)
        if pos < 0 or pos + 1 >= len(head):
            return False
        if head[pos + 1 : pos + 2] not in (b"?", b"!"):
            return True
        pos += 1


def iterparse(
    stream: IO[bytes], tags: Iterable[str], events: tuple[str, ...] = ("start", "end")
) -> Iterator[tuple[str, etree._Element]]:
    """Stream ``(event, element)`` pairs for ``tags`` from an untrusted XML part.

    Entities are never expanded, nothing is fetched and DTDs are refused; a malformed part ends in
    :class:`ExtractError`. The caller clears elements it is done with to keep memory flat.
    """
    guarded = io.BufferedReader(_Guarded(stream), 1 << 16)
    parser = etree.iterparse(
        guarded,
        events=events,
        tag=list(tags),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    first = True
    try:
        for event, elem in parser:
            if first:
                first = False
                docinfo = elem.getroottree().docinfo
                if docinfo.doctype or docinfo.internalDTD is not None:
                    raise ExtractError("文档中的 XML 含有 DTD 声明（可能是实体炸弹或外部实体攻击），拒绝读取")
            yield event, elem
    except etree.XMLSyntaxError as exc:
        raise ExtractError("文档中的 XML 已损坏或不完整，无法解析") from exc
    except zipfile.BadZipFile as exc:
        raise ExtractError("文件已损坏（压缩数据校验失败）") from exc
    except (zlib.error, EOFError) as exc:
        raise ExtractError("文件已损坏或不完整，无法解压") from exc


def clear(elem: etree._Element) -> None:
    """Free an element that has been handled, and the siblings before it."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]
