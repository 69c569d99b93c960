"""RTF → Segments (one per non-empty line), with a small decoder written for Chinese documents.

Chinese RTF carries text as ``\\'xx`` byte escapes in the font's or the document's code page
(GBK: ``\\ansicpg936`` / ``\\fcharset134``), as ``\\uN`` Unicode escapes with a ``\\ucN`` fallback to
skip, and sometimes as raw 8-bit bytes. Existing converters (e.g. striprtf) drop headers, footers,
footnotes, comments and text boxes, which can hold personal data, and crawl image hex one character
at a time; this decoder keeps those parts and jumps over binary and image groups by brace matching.
Table cells are separated by a tab, rows end a line.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from scanner.config import Limits
from scanner.errors import ExtractError
from scanner.model import Document, Location, Segment

_TOKEN = re.compile(
    r"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?"  # control word
    r"|\\'([0-9a-fA-F]{2})"  # byte escape
    r"|\\(.)"  # control symbol
    r"|([{}])"  # group
    r"|([^\\{}\r\n]+)"  # a run of text
    r"|[\r\n]+",  # line ends in the source mean nothing
    re.S,
)
_BRACES = re.compile(r"\\[\\{}]|[{}]|\\bin(-?\d+) ?")

#: Destinations whose content is not document text (and may be huge: pictures, objects, themes).
_SKIP = frozenset((
    "fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "objdata", "objclass", "objname", "themedata",
    "colorschememapping", "datastore", "latentstyles", "listtable", "listoverridetable", "rsidtbl", "generator",
    "xmlnstbl", "fldinst", "filetbl", "revtbl", "pgptbl", "protusertbl", "mmathPr", "bkmkstart", "bkmkend",
    "atnid", "atnauthor", "atndate", "atnref", "atntime", "atnicn", "atnparent", "sp", "sn", "sv", "shprslt",
    "nonshppict", "blipuid", "wgrffmtfilter", "pntext", "pntxta", "pntxtb", "listtext", "template", "userprops",
    "docvar", "xform", "password", "passwordhash", "writereservation",
))
#: ``{\\*\\name ...}`` destinations that do hold document text: comments and shape (text box) text.
_KEEP_STARRED = frozenset({"annotation", "shpinst", "shptxt", "do", "dptxbxtext"})
_BREAKS = {"par": "\n", "line": "\n", "sect": "\n", "page": "\n", "row": "\n", "cell": "\t", "nestcell": "\t",
           "tab": "\t", "emdash": "\u2014", "endash": "\u2013", "lquote": "\u2018", "rquote": "\u2019",
           "ldblquote": "\u201c", "rdblquote": "\u201d", "bullet": "\u2022", "emspace": " ", "enspace": " "}
_SYMBOLS = {"\\": "\\", "{": "{", "}": "}", "~": "\u00a0", "-": "", "_": "-", "\n": "\n", "\r": "\n", "tab": "\t"}
# \fcharset0 (ANSI) is left out on purpose: WPS declares Chinese fonts with it and writes GBK bytes,
# so such fonts follow the document's \ansicpg.
_CHARSETS = {128: "cp932", 129: "cp949", 134: "gb18030", 136: "cp950", 161: "cp1253", 162: "cp1254",
             177: "cp1255", 178: "cp1256", 186: "cp1257", 204: "cp1251", 222: "cp874", 238: "cp1250"}
_FONT = re.compile(r"\\f(\d+)[^;{}]*?\\fcharset(\d+)")
_FONT_CPG = re.compile(r"\\f(\d+)[^;{}]*?\\cpg(\d+)")


def _codec(name: str) -> str:
    if name in ("cp936", "gbk", "gb2312"):
        return "gb18030"  # a superset: strict GB2312 fails on characters such as 镕
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "cp1252"


def _font_table(text: str) -> dict[str, str]:
    start = text.find("\\fonttbl")
    if start < 0:
        return {}
    end = _group_end(text, start)
    table = text[start:end]
    fonts = {num: _codec(_CHARSETS.get(int(cs), "")) for num, cs in _FONT.findall(table) if int(cs) in _CHARSETS}
    fonts.update({num: _codec(f"cp{cpg}") for num, cpg in _FONT_CPG.findall(table)})
    return fonts


def _group_end(text: str, pos: int) -> int:
    """The index just past the ``}`` closing the group that is open at ``pos``."""
    depth = 1
    while True:
        match = _BRACES.search(text, pos)
        if match is None:
            return len(text)
        pos = match.end()
        token = match.group(0)
        if match.group(1) is not None:  # \binN: skip N raw bytes
            pos += max(int(match.group(1)), 0)
        elif token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0:
                return pos


def to_text(text: str) -> str:
    """Decode RTF source (bytes mapped 1:1 to characters, i.e. read as latin-1) to plain text."""
    fonts = _font_table(text)
    codepage = "cp1252"
    out: list[str] = []
    pending = bytearray()  # byte escapes waiting to be decoded together (GBK takes two)
    font = ""
    uc = 1
    skip = 0  # fallback characters still to drop after a \uN
    stack: list[tuple[str, int]] = []
    pos = 0
    group_start = False  # just after "{": a \* or a destination word decides the group's fate
    starred = False
    size = len(text)

    def flush() -> None:
        if pending:
            out.append(pending.decode(fonts.get(font, codepage), "replace"))
            pending.clear()

    while pos < size:
        match = _TOKEN.match(text, pos)
        if match is None:  # a lone backslash at the end
            break
        pos = match.end()
        word, arg, hexbyte, symbol, brace, run = match.groups()
        if hexbyte is not None:
            if skip:
                skip -= 1
            else:
                pending.append(int(hexbyte, 16))
            group_start = False
            continue
        flush()
        if brace == "{":
            stack.append((font, uc))
            group_start, starred = True, False
            continue
        if brace == "}":
            if stack:
                font, uc = stack.pop()
            skip = 0
            group_start = False
            continue
        if word is not None:
            if group_start and (word in _SKIP or (starred and word not in _KEEP_STARRED)):
                pos = _group_end(text, pos)
                if stack:
                    font, uc = stack.pop()
                group_start = False
                continue
            group_start = False
            if skip:
                skip -= 1
                continue
            if word == "u" and arg is not None:
                value = int(arg)
                out.append(chr(value + 0x10000 if value < 0 else value))
                skip = uc
            elif word in _BREAKS:
                out.append(_BREAKS[word])
            elif word == "uc" and arg is not None:
                uc = max(int(arg), 0)
            elif word == "f" and arg is not None:
                font = arg
            elif word == "ansicpg" and arg is not None:
                codepage = _codec(f"cp{arg}")
            elif word == "bin" and arg is not None:
                pos += max(int(arg), 0)
            continue
        if symbol is not None:
            if symbol == "*" and group_start:
                starred = True
                continue
            group_start = False
            if skip:
                skip -= 1
                continue
            if symbol in _SYMBOLS:
                out.append(_SYMBOLS[symbol])
            continue
        if run is not None:
            group_start = False
            if skip:
                dropped = min(skip, len(run))
                run = run[dropped:]
                skip -= dropped
            if run:
                if run.isascii():
                    out.append(run)
                else:  # raw 8-bit bytes in the source: text in the code page
                    out.append(run.encode("latin-1", "replace").decode(fonts.get(font, codepage), "replace"))
    flush()
    return "".join(out)


def extract(doc: Document, limits: Limits) -> Iterator[Segment]:
    """Yield one Segment per non-empty line of the decoded document."""
    raw = doc.read()
    if not raw.lstrip().startswith(b"{\\rtf"):
        raise ExtractError("RTF 文件已损坏：缺少 {\\rtf 文件头")
    text = to_text(raw.decode("latin-1"))
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield Segment(line, Location(line=number))
