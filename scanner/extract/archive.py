"""Archives (ZIP, 7z, RAR) → child Documents, one per member, for the pipeline to scan in turn.

Nothing is written to the scanned site's paths: members are read into memory (7z through a
spooled temporary file) and named ``{archive source}!/{normalised member path}``. Bombs end in
:class:`ExtractError` in bounded time and memory: declared sizes, counts and ratios are checked
before anything is decompressed, and bytes are counted again while streaming because declared
sizes can lie. Members that cannot be read (encrypted, unsupported compression) are passed over;
once every readable member has been yielded the archive ends as an error that says how many.
"""

from __future__ import annotations

import bz2  # noqa: F401  (its errors surface as OSError)
import io
import lzma
import posixpath
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from scanner.config import Limits
from scanner.errors import ExtractError, Skip
from scanner.extract._xml import check_zip, is_encrypted
from scanner.model import Document

_CHUNK = 1 << 20
_RATIO_FLOOR = 1 << 20
_CORRUPT = "压缩包已损坏或不完整，无法解压"
_ENCRYPTED = "压缩包已加密，无法读取"
_TOO_DEEP = "压缩包嵌套层数超过上限"
_NO_RAR_TOOL = "需要安装 unar 或 libarchive-tools（bsdtar）才能读取 RAR 文件"


def member_path(name: str) -> str:
    """A member name made safe for a ``source``: ``/`` separators, no drive, no ``.``/``..``."""
    parts = []
    for part in name.replace("\\", "/").split("/"):
        part = part.strip()
        if part in ("", ".", ".."):
            continue
        if len(parts) == 0 and len(part) == 2 and part[1] == ":":  # C:
            continue
        parts.append(part)
    return "/".join(parts) or "unnamed"


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """The real name of a zip member: names without the UTF-8 flag are UTF-8 or (mostly) GBK."""
    name = info.filename
    if info.flag_bits & 0x800 or name.isascii():
        return name
    raw = name.encode("cp437")  # zipfile decoded the raw bytes as cp437
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030", "replace")


class _Budget:
    """Counts members and unpacked bytes against the limits while streaming."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.members = 0
        self.total = 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_archive_members:
            raise ExtractError(f"疑似压缩炸弹：包含的文件超过 {self.limits.max_archive_members} 个")

    def add(self, size: int, member_total: int) -> None:
        self.total += size
        if member_total > self.limits.max_member_bytes:
            raise ExtractError(
                f"疑似压缩炸弹：成员文件解压后超过 {self.limits.max_member_bytes // (1 << 20)} MB"
            )
        if self.total > self.limits.max_unpacked_bytes:
            raise ExtractError(
                f"疑似压缩炸弹：解压后超过 {self.limits.max_unpacked_bytes // (1 << 20)} MB"
            )

    def read(self, stream: IO[bytes]) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            self.add(len(chunk), size)
            chunks.append(chunk)


def _child(doc: Document, name: str, data: bytes) -> Document:
    path = member_path(name)
    return Document(
        source=f"{doc.source}!/{path}",
        parent=doc.source,
        data=data,
        name=posixpath.basename(path),
        depth=doc.depth + 1,
    )


def _unreadable(encrypted: int, unsupported: int) -> ExtractError | None:
    reasons = []
    if encrypted:
        reasons.append(f"{encrypted} 个文件已加密")
    if unsupported:
        reasons.append(f"{unsupported} 个文件的压缩方式不支持")
    return ExtractError("压缩包内" + "、".join(reasons) + "，未能检查") if reasons else None


def extract(doc: Document, limits: Limits) -> Iterator[Document]:
    """Yield each file inside a ZIP, 7z or RAR archive as a child Document."""
    if doc.depth >= limits.max_depth:
        raise Skip(_TOO_DEEP)
    head = doc.read(8)
    reader: Callable[[Document, Limits], Iterator[Document]]
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        reader = _sevenzip
    elif head.startswith(b"Rar!\x1a\x07"):
        reader = _rar
    else:
        reader = _zip
    yield from reader(doc, limits)


def _zip(doc: Document, limits: Limits) -> Iterator[Document]:
    try:
        zf = zipfile.ZipFile(doc.open() if doc.path is not None else io.BytesIO(doc.data or b""))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ExtractError(_CORRUPT) from exc
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        check_zip(zf, limits, infos)
        readable = [i for i in infos if not is_encrypted(i)]
        if infos and not readable:
            raise ExtractError(_ENCRYPTED)
        budget = _Budget(limits)
        unsupported = 0
        for info in readable:
            budget.member()
            try:
                with zf.open(info) as stream:
                    data = budget.read(stream)
            except NotImplementedError:  # e.g. Deflate64 or PPMd from WinZip
                unsupported += 1
                continue
            except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError) as exc:
                raise ExtractError(_CORRUPT) from exc
            yield _child(doc, zip_member_name(info), data)
        error = _unreadable(len(infos) - len(readable), unsupported)
        if error is not None:
            raise error


def _check_declared(sizes: list[tuple[int, int | None]], archive_size: int, limits: Limits) -> None:
    """Bomb checks on (uncompressed, compressed-or-None) sizes declared by a 7z/RAR header."""
    if len(sizes) > limits.max_archive_members:
        raise ExtractError(f"疑似压缩炸弹：包含 {len(sizes)} 个文件，超过上限 {limits.max_archive_members} 个")
    total = 0
    for size, packed in sizes:
        if size > limits.max_member_bytes:
            raise ExtractError(
                f"疑似压缩炸弹：成员文件解压后 {size // (1 << 20)} MB，"
                f"超过上限 {limits.max_member_bytes // (1 << 20)} MB"
            )
        if packed is not None and size > _RATIO_FLOOR and size > limits.max_ratio * max(packed, 1):
            raise ExtractError(f"疑似压缩炸弹：成员文件压缩比超过 {limits.max_ratio:.0f} 倍")
        total += size
    if total > limits.max_unpacked_bytes:
        raise ExtractError(
            f"疑似压缩炸弹：解压后共 {total // (1 << 20)} MB，超过上限 {limits.max_unpacked_bytes // (1 << 20)} MB"
        )
    if total > _RATIO_FLOOR and total > limits.max_ratio * max(archive_size, 1):
        raise ExtractError(f"疑似压缩炸弹：压缩比超过 {limits.max_ratio:.0f} 倍")


def _sevenzip(doc: Document, limits: Limits) -> Iterator[Document]:
    try:
        import py7zr
        from py7zr.io import Py7zIO, WriterFactory
    except ImportError as exc:
        raise Skip("需要安装 py7zr 才能读取 7z 文件") from exc

    budget = _Budget(limits)
    # Members are kept in memory only while being decompressed, then appended to one temporary
    # file: memory stays within one member however many there are.
    lock = threading.Lock()

    class Sink(Py7zIO):
        """One member's bytes, counted as they arrive."""

        def __init__(self) -> None:
            self.chunks: list[bytes] = []
            self.length = 0
            self.offset = -1

        def write(self, s: bytes | bytearray) -> int:
            self.length += len(s)
            budget.add(len(s), self.length)
            self.chunks.append(bytes(s))
            return len(s)

        def read(self, size: int | None = None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return 0

        def flush(self) -> None:
            pass

        def size(self) -> int:
            return self.length

        def close(self) -> None:
            if self.offset >= 0:
                return
            with lock:
                self.offset = store.seek(0, io.SEEK_END)
                for chunk in self.chunks:
                    store.write(chunk)
            self.chunks = []

        def data(self) -> bytes:
            self.close()
            store.seek(self.offset)
            return store.read(self.length)

    class Sinks(WriterFactory):
        def __init__(self) -> None:
            self.files: dict[str, Sink] = {}

        def create(self, filename: str) -> Py7zIO:
            budget.member()
            sink = Sink()
            self.files[filename] = sink
            return sink

    errors = (py7zr.exceptions.ArchiveError, py7zr.exceptions.Bad7zFile, py7zr.exceptions.CrcError,
              py7zr.exceptions.DecompressionError, py7zr.exceptions.InternalError, EOFError, OSError, ValueError,
              KeyError, IndexError, TypeError)
    with tempfile.TemporaryFile() as store:
        sinks = Sinks()
        try:
            with doc.open() as fh, py7zr.SevenZipFile(fh, mode="r") as archive:
                if archive.needs_password():
                    raise ExtractError(_ENCRYPTED)
                entries = [e for e in archive.list() if not e.is_directory]
                _check_declared([(e.uncompressed, None) for e in entries], doc.size, limits)
                archive.extract(factory=sinks)
        except py7zr.exceptions.PasswordRequired as exc:
            raise ExtractError(_ENCRYPTED) from exc
        except py7zr.exceptions.UnsupportedCompressionMethodError as exc:
            raise ExtractError("7z 压缩包使用了不支持的压缩方式") from exc
        except py7zr.exceptions.DecompressionBombError as exc:
            raise ExtractError("疑似压缩炸弹：7z 解压数据超过上限") from exc
        except ExtractError:
            raise
        except errors as exc:
            raise ExtractError(_CORRUPT) from exc
        for name, sink in sinks.files.items():
            yield _child(doc, name, sink.data())


def _rar(doc: Document, limits: Limits) -> Iterator[Document]:
    try:
        import rarfile
    except ImportError as exc:
        raise Skip("需要安装 rarfile 才能读取 RAR 文件") from exc
    try:
        rarfile.tool_setup(unrar=True, unar=True, bsdtar=True, sevenzip=False, sevenzip2=False)
    except rarfile.RarCannotExec as exc:
        raise Skip(_NO_RAR_TOOL) from exc
    with tempfile.TemporaryDirectory(prefix="leakscan-rar-") as tmp:
        path = doc.path
        if path is None:  # the external tool needs a file
            path = Path(tmp) / "archive.rar"
            path.write_bytes(doc.data or b"")
        try:
            archive = rarfile.RarFile(str(path), errors="strict")
        except rarfile.NeedFirstVolume as exc:
            raise Skip("分卷压缩包的后续分卷，需从第一卷读取") from exc
        except (rarfile.Error, OSError, EOFError, ValueError) as exc:
            if "password" in str(exc).lower():
                raise ExtractError(_ENCRYPTED) from exc
            raise ExtractError(_CORRUPT) from exc
        with archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
            _check_declared([(i.file_size, i.compress_size) for i in infos], doc.size, limits)
            readable = [i for i in infos if not i.needs_password()]
            if infos and not readable:
                raise ExtractError(_ENCRYPTED)
            budget = _Budget(limits)
            for info in readable:
                budget.member()
                try:
                    with archive.open(info) as stream:
                        data = budget.read(stream)
                except rarfile.BadRarFile as exc:
                    raise ExtractError(_CORRUPT) from exc
                except (rarfile.Error, OSError, EOFError) as exc:
                    raise ExtractError(_CORRUPT) from exc
                yield _child(doc, info.filename, data)
            error = _unreadable(len(infos) - len(readable), 0)
            if error is not None:
                raise error


