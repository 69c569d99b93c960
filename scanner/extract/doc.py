"""DOC (Word 97–2003) and WPS (Kingsoft) binary documents → Segments, via an external converter.

No maintained Python library reads these OLE2 formats, so a converter runs in a subprocess with a
timeout:

1. LibreOffice (``soffice --headless``) converts the file to DOCX, which the DOCX extractor then
   reads: tables keep their cells and headers, and text boxes, page headers, footers, comments
   and notes are all read. ~1–2 s per file (the price of starting LibreOffice).
2. antiword, when LibreOffice is absent or fails: milliseconds per file, body and tables only
   (no text boxes, headers or comments), Word 97–2003 only.

With neither installed the document is skipped with a reason that says what to install.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from scanner.config import Limits
from scanner.errors import ExtractError, Skip
from scanner.extract import docx
from scanner.model import Document, Location, Segment

#: Converters in order of preference; tests and callers may reorder.
CONVERTERS: tuple[str, ...] = ("soffice", "antiword")
_NO_CONVERTER = "需要安装 LibreOffice（或 antiword）才能读取 DOC/WPS 文件"
_ENCRYPTED = "文档已加密，无法读取"
_FAILED = "DOC/WPS 文件无法转换（可能已损坏、不完整或加密）"
_TIMEOUT = "DOC/WPS 文件转换超时"
_ANTIWORD_WIDTH = "1000"  # wide enough that table cells (18-digit IDs) are not wrapped
_LONG_DIGITS = re.compile(r"\d{6}")


def available() -> list[str]:
    """The converters installed on this machine, in order of preference."""
    installed = {"soffice": _soffice() is not None, "antiword": shutil.which("antiword") is not None}
    return [name for name in CONVERTERS if installed.get(name)]


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def extract(doc: Document, limits: Limits) -> Iterator[Segment]:
    """Yield the document's text through the first converter that succeeds."""
    converters = available()
    if not converters:
        raise Skip(_NO_CONVERTER)
    _check_container(doc)
    with tempfile.TemporaryDirectory(prefix="leakscan-doc-") as tmp:
        source = Path(tmp) / ("input.wps" if (doc.name or doc.source).lower().endswith(".wps") else "input.doc")
        if doc.path is not None:
            shutil.copyfile(doc.path, source)
        else:
            source.write_bytes(doc.data or b"")
        error: ExtractError | None = None
        for name in converters:
            try:
                if name == "soffice":
                    converted = _via_soffice(source, Path(tmp), limits)
                    child = Document(source=doc.source, parent=doc.parent, data=converted, name="converted.docx")
                    segments = list(docx.extract(child, limits))
                else:
                    segments = _via_antiword(source, limits)
            except ExtractError as exc:
                error = exc
                continue
            yield from segments
            return
        raise error or ExtractError(_FAILED)


def _check_container(doc: Document) -> None:
    """Refuse a damaged OLE2 container, and a Word file whose FIB says it is encrypted (fEncrypted):
    converters would only fail, hang on a password prompt, or turn the bytes into junk text."""
    try:
        import olefile
    except ImportError:  # without olefile the converter judges
        return
    try:
        with doc.open() as fh, olefile.OleFileIO(fh) as ole:
            if not ole.exists("WordDocument"):
                return  # e.g. an old WPS file: LibreOffice's own filters decide
            with ole.openstream("WordDocument") as stream:
                fib = stream.read(12)
    except Exception as exc:  # olefile raises several types for a broken directory or FAT
        raise ExtractError("DOC/WPS 文件已损坏或不完整，无法读取") from exc
    if len(fib) >= 12 and int.from_bytes(fib[10:12], "little") & 0x0100:
        raise ExtractError(_ENCRYPTED)


def _run(cmd: list[str], limits: Limits, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    # A new session lets a timeout kill LibreOffice's whole process group, not just the launcher.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True, env=env
    )
    try:
        out, err = proc.communicate(timeout=limits.seconds_per_document)
    except subprocess.TimeoutExpired as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ExtractError(_TIMEOUT) from exc
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


_profiles: dict[tuple[int, int], Path] = {}


def _profile_dir() -> Path:
    """One LibreOffice user profile per process and thread, so parallel conversions never share one.

    Profiles are kept for reuse (a fresh one costs ~0.5 s per conversion); those of processes that
    have ended are removed when a new one is made.
    """
    key = (os.getpid(), threading.get_ident())
    path = _profiles.get(key)
    if path is None:
        base = Path(tempfile.gettempdir())
        prefix = f"leakscan-lo-{os.getuid()}-"
        for old in base.glob(prefix + "*"):
            pid = old.name[len(prefix) :].split("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
        path = base / f"{prefix}{key[0]}-{key[1]}"
        _profiles[key] = path
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _via_soffice(source: Path, tmp: Path, limits: Limits) -> bytes:
    binary = _soffice()
    if binary is None:
        raise ExtractError(_NO_CONVERTER)
    outdir = tmp / "out"
    outdir.mkdir(exist_ok=True)
    cmd = [
        binary,
        f"-env:UserInstallation={_profile_dir().as_uri()}",
        "--headless",
        "--norestore",
        "--nologo",
        "--nolockcheck",
        "--convert-to",
        "docx:MS Word 2007 XML",
        "--outdir",
        str(outdir),
        str(source),
    ]
    env = dict(os.environ, HOME=str(tmp))  # LibreOffice may write dot-files under HOME
    _run(cmd, limits, env)
    result = outdir / (source.stem + ".docx")
    if not result.is_file() or result.stat().st_size == 0:
        raise ExtractError(_FAILED)
    return result.read_bytes()


def _via_antiword(source: Path, limits: Limits) -> list[Segment]:
    # -r: text deleted with tracked changes, -s: hidden text; both are still in the file.
    done = _run(["antiword", "-m", "UTF-8.txt", "-w", _ANTIWORD_WIDTH, "-r", "-s", str(source)], limits)
    if done.returncode != 0:
        raise ExtractError(_FAILED)
    return list(parse_antiword(done.stdout.decode("utf-8", "replace")))


def parse_antiword(text: str) -> Iterator[Segment]:
    """Turn antiword's text output into Segments: lines, and table cells (``|a|b|`` rows)."""
    table = 0
    row = 0
    headers: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
            if row == 0:
                table += 1
            row += 1
            cells = [c.strip() for c in stripped[1:-1].split("|")]
            if row == 1:
                headers = ["" if _LONG_DIGITS.search(c) else c for c in cells]
            for column, value in enumerate(cells, start=1):
                if value:
                    header = headers[column - 1] if row > 1 and column <= len(headers) else ""
                    yield Segment(value, Location(line=number, table=table, row=row, column=column), header)
            continue
        row = 0
        if stripped:
            yield Segment(line, Location(line=number))
