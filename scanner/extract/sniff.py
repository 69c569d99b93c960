"""What kind of document is this? Magic bytes first; the name and declared type are hints only.

Crawled attachments often come from ``download.jsp?id=…`` with a generic type, so the bytes decide
wherever they can.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from scanner.model import Document

_HEAD = 8192

_EXT_KIND: dict[str, str] = {
    ".txt": "text", ".text": "text", ".log": "text", ".md": "text", ".json": "text", ".xml": "text",
    ".htm": "html", ".html": "html", ".shtml": "html", ".xhtml": "html", ".jsp": "html", ".asp": "html",
    ".aspx": "html", ".php": "html",
    ".csv": "csv", ".tsv": "csv",
    ".pdf": "pdf",
    ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".et": "xls", ".ods": "ods",
    ".docx": "docx", ".docm": "docx", ".doc": "doc", ".wps": "doc", ".ofd": "ofd", ".rtf": "rtf",
    ".zip": "zip", ".7z": "7z", ".rar": "rar",
    ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".gif": "gif", ".bmp": "bmp",
    ".tif": "tiff", ".tiff": "tiff", ".webp": "webp",
}

_MIME_KIND: dict[str, str] = {
    "text/html": "html", "application/xhtml+xml": "html", "text/csv": "csv", "text/plain": "text",
    "application/pdf": "pdf",
}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"{\\rtf", "rtf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp?"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)


def ext_kind(name: str) -> str | None:
    """The kind a file name suggests, or None."""
    name = name.lower()
    base = name.rpartition("/")[2]
    if not base or base == ".":  # "…/" or "…/.": the path's own rules say which part is the name
        return _EXT_KIND.get(PurePosixPath(name).suffix)
    # PurePosixPath(name).suffix without building a path (this runs for every crawled page)
    dot = base.rfind(".")
    return _EXT_KIND.get(base[dot:]) if 0 < dot < len(base) - 1 else None


def sniff(doc: Document) -> str:
    """Return the document kind: text, html, csv, pdf, xlsx, xls, ods, docx, doc, ofd, rtf, zip, 7z,
    rar, png, jpeg, gif, bmp, tiff, webp, empty or unknown."""
    head = doc.read(_HEAD)
    if not head:
        return "empty"
    hint = ext_kind(doc.name or doc.source) or _MIME_KIND.get((doc.content_type or "").split(";")[0].strip().lower())
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind == "ole":
                return _ole_kind(doc, hint)
            if kind == "bmp?":
                if len(head) > 14 and head[6:10] == b"\0\0\0\0":
                    return "bmp"
                break
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(doc)
    if _looks_binary(head):
        return "unknown"
    if hint in ("csv", "html"):
        return hint
    if _looks_html(head):
        return "html"
    return "text"


def _looks_binary(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text
        return False
    return b"\x00" in head[:4096]


def _looks_html(head: bytes) -> bool:
    probe = head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return probe.startswith((b"<!doctype html", b"<html", b"<?xml")) and b"<html" in head.lower() or any(
        tag in probe[:1024] for tag in (b"<html", b"<body", b"<head", b"<table", b"<div", b"<meta")
    )


def _ole_kind(doc: Document, hint: str | None) -> str:
    """OLE2 compound files: Word/WPS text (doc), Excel/ET workbooks (xls) or a password-protected
    OOXML file (EncryptedPackage: handed to the docx/xlsx extractor, which reports it encrypted)."""
    streams = _ole_streams(doc)
    if "encryptedpackage" in streams:
        return "xlsx" if hint in ("xlsx", "xls", "ods") else "docx"
    if "workbook" in streams or "book" in streams:
        return "xls"
    if "worddocument" in streams:
        return "doc"
    if hint in ("xls", "doc"):  # e.g. an old WPS 2000 file: LibreOffice (libwps) still reads it
        return hint
    return "unknown"


def _ole_streams(doc: Document) -> set[str]:
    """Lower-cased names of the top-level streams, read from the OLE directory."""
    try:
        import olefile
    except ImportError:  # fall back to spotting the UTF-16 names in the first megabyte
        head = doc.read(1 << 20)
        names = ("EncryptedPackage", "Workbook", "Book", "WordDocument")
        return {n.lower() for n in names if n.encode("utf-16-le") + b"\0\0" in head}
    try:
        with doc.open() as fh, olefile.OleFileIO(fh) as ole:
            return {entry[0].lower() for entry in ole.listdir(streams=True, storages=False) if entry}
    except Exception:  # a damaged directory: sniffing must not fail, the extractor will say why
        return set()


def _zip_kind(doc: Document) -> str:
    try:
        with doc.open() as fh, zipfile.ZipFile(fh if doc.path else io.BytesIO(doc.data or b"")) as zf:
            names = set(zf.namelist())
            if "word/document.xml" in names:
                return "docx"
            if "xl/workbook.xml" in names:
                return "xlsx"
            if "[Content_Types].xml" in names:
                with zf.open("[Content_Types].xml") as part:  # never read a whole (maybe huge) member
                    types = part.read(65536)
                if b"wordprocessingml.document.main" in types:
                    return "docx"
                if b"spreadsheetml.sheet.main" in types or b"ms-excel.sheet.macroEnabled.main" in types:
                    return "xlsx"
            if "OFD.xml" in names or any(n.lower() == "ofd.xml" for n in names):
                return "ofd"
            if "mimetype" in names:
                with zf.open("mimetype") as part:
                    mime = part.read(100)
                if b"opendocument.spreadsheet" in mime:
                    return "ods"
                if b"opendocument.text" in mime:
                    return "odt"
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, RuntimeError, NotImplementedError, EOFError):
        hint = ext_kind(doc.name or doc.source)
        return hint if hint in ("docx", "xlsx", "ods", "ofd") else "zip"
    return "zip"
