"""The data that flows through the pipeline.

source → Document → extract → Segment → detect → Finding → store → report

This module imports nothing from ``scanner``: every stage may depend on it, it depends on none.
A :class:`Finding` never holds a raw personal value: only offsets, the policy-masked form and a
keyed fingerprint.
"""

from __future__ import annotations

import io
import marshal
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

Status = Literal["scanned", "error", "skipped"]
Exposure = Literal["unmasked", "partial"]
Severity = Literal["high", "medium", "low"]
SEVERITY_RANK: dict[str, int] = {"low": 1, "medium": 2, "high": 3}


@dataclass(slots=True)
class Document:
    """Bytes plus where they came from.

    Exactly one of ``path`` and ``data`` is set. ``name`` is the best file name known (the
    path's name, an archive member's name, a ``Content-Disposition`` filename); it and
    ``content_type`` are hints only: extractors sniff the bytes first.
    """

    source: str
    parent: str | None = None
    path: Path | None = None
    data: bytes | None = None
    name: str = ""
    content_type: str | None = None
    depth: int = 0  # archive nesting depth
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. page title, publication date

    def open(self) -> IO[bytes]:
        """Open the bytes for reading (a real file when there is one, so libraries can mmap)."""
        if self.path is not None:
            return self.path.open("rb")
        return io.BytesIO(self.data or b"")

    def read(self, limit: int | None = None) -> bytes:
        """Return the bytes, or the first ``limit`` of them."""
        if self.data is not None:
            return self.data if limit is None else self.data[:limit]
        assert self.path is not None
        with self.path.open("rb") as fh:
            return fh.read() if limit is None else fh.read(limit)

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size


@dataclass(slots=True)
class Location:
    """Where a piece of text sits inside its document.

    The contract's keys are ``page``, ``sheet``, ``cell``, ``line``, ``start``, ``end``; the others are
    extra detail an extractor may add (``table``/``row``/``column`` for tables, ``part`` for a
    DOCX part or an HTML attribute, ``bbox`` for OCR boxes).
    """

    page: int | None = None
    sheet: str | None = None
    cell: str | None = None
    line: int | None = None
    table: int | None = None
    row: int | None = None
    column: int | None = None
    part: str | None = None
    bbox: tuple[float, float, float, float] | None = None

    def to_dict(self, start: int | None = None, end: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "page": self.page,
            "sheet": self.sheet,
            "cell": self.cell,
            "line": self.line,
            "start": start,
            "end": end,
        }
        # unrolled (this runs per finding): the same keys, in the same order
        if self.table is not None:
            out["table"] = self.table
        if self.row is not None:
            out["row"] = self.row
        if self.column is not None:
            out["column"] = self.column
        if self.part is not None:
            out["part"] = self.part
        if self.bbox is not None:
            out["bbox"] = list(self.bbox)
        return out


@dataclass(slots=True)
class Segment:
    """A run of extracted text and where it starts.

    When ``location.line`` is set and ``text`` spans several lines, a finding's line is counted from
    it. ``header`` carries a table column header (or a field label) that is context for every
    value in the segment but is not part of it.
    """

    text: str
    location: Location = field(default_factory=Location)
    header: str = ""
    ocr: bool = False

    def part(self, offset: int) -> tuple[int, Segment]:
        """The piece of :attr:`text` holding ``offset``, and where that piece starts in it.

        A plain segment is one piece, itself. A subclass may carry many small pieces joined by
        newlines (a block of spreadsheet cells: one object instead of one per cell) and return
        the piece's own Segment, with its own text, location and header; offsets into that
        piece are what a finding's ``start``/``end`` mean.
        """
        return 0, self

    def parts(self) -> Iterator[Segment]:
        """Every piece this segment carries, in order (for a plain segment, itself)."""
        yield self


@dataclass(slots=True)
class Finding:
    """One detected personal value. Holds no raw value."""

    entity: str
    rule: str
    source: str
    parent: str | None
    location: dict[str, Any]
    masked: str
    fingerprint: str
    exposure: Exposure
    severity: Severity
    confidence: float
    context: str
    remediation: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "entity": self.entity,
            "rule": self.rule,
            "source": self.source,
            "parent": self.parent,
            "location": self.location,
            "masked": self.masked,
            "fingerprint": self.fingerprint,
            "exposure": self.exposure,
            "severity": self.severity,
            "confidence": round(self.confidence, 3),
            "context": self.context,
            "remediation": self.remediation,
        }
        if self.extra:
            out.update(self.extra)
        return out


@dataclass(slots=True)
class DocumentResult:
    """What happened to one document: its status and its findings."""

    source: str
    parent: str | None
    kind: str
    status: Status
    reason: str | None = None
    findings: list[Finding] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    #: Findings already encoded as :class:`Spool` records (by a worker process, so that the parent
    #: only appends bytes), and how many.
    packed: bytes = b""
    packed_count: int = 0

    @property
    def count(self) -> int:
        """How many findings, packed or not."""
        return len(self.findings) + self.packed_count

    def pack(self) -> None:
        """Encode the findings as spool records (``packed``), leaving ``findings`` empty."""
        if self.findings:
            self.packed += Spool.encode_many([f.to_dict() for f in self.findings])
            self.packed_count += len(self.findings)
            self.findings = []

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "parent": self.parent,
            "kind": self.kind,
            "status": self.status,
            "reason": self.reason,
            "findings": self.count,
        }
        out.update(self.meta)
        return out


class Spool:
    """An append-only sequence of plain dicts kept in an anonymous temporary file.

    A report of half a million findings lives here rather than in memory: appending writes a
    record (``marshal``, length-prefixed: several times faster than JSON both ways), iterating
    reads the records back (as many times as needed, each pass on its own offset). Items come
    back as new dicts, so changing one changes nothing stored: use :meth:`rewrite`. A record may
    hold a list of items (:meth:`encode_many`, one per document): one decoding call for them all.
    """

    _CHUNK = 1 << 20

    def __init__(self, items: Iterable[dict[str, Any]] = ()) -> None:
        self._fh = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the spool; gone on close or exit)
        self._size = 0  # bytes written to the file
        self._buffer = bytearray()
        self._count = 0
        self.extend(items)

    @staticmethod
    def encode(item: dict[str, Any]) -> bytes:
        """One item as a spool record (what :meth:`append_encoded` takes)."""
        return _frame(marshal.dumps(item))

    @staticmethod
    def encode_many(items: list[dict[str, Any]]) -> bytes:
        """Several items as one spool record."""
        return _frame(marshal.dumps(items))

    def append(self, item: dict[str, Any]) -> None:
        self.append_encoded(self.encode(item), 1)

    def append_encoded(self, records: bytes, count: int) -> None:
        """Append ``count`` items already encoded by :meth:`encode` (e.g. in a worker process)."""
        self._buffer += records
        self._count += count
        if len(self._buffer) >= self._CHUNK:
            self._flush()

    def extend(self, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            self.append(item)

    def _flush(self) -> None:
        if self._buffer:
            os.pwrite(self._fh.fileno(), self._buffer, self._size)
            self._size += len(self._buffer)
            self._buffer = bytearray()

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    @staticmethod
    def decode(records: bytes) -> Iterator[dict[str, Any]]:
        """The items of records made by :meth:`encode`."""
        pos = 0
        while pos < len(records):
            n = int.from_bytes(records[pos:pos + 4], "little")
            yield from _unframe(records[pos + 4:pos + 4 + n])
            pos += 4 + n

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._flush()
        fd, end, offset = self._fh.fileno(), self._size, 0
        data, pos = b"", 0
        while True:
            if len(data) - pos < 4 or len(data) - pos < 4 + int.from_bytes(data[pos:pos + 4], "little"):
                if offset >= end:
                    return
                chunk = os.pread(fd, min(self._CHUNK, end - offset), offset)
                offset += len(chunk)
                data, pos = data[pos:] + chunk, 0
                continue
            n = int.from_bytes(data[pos:pos + 4], "little")
            yield from _unframe(data[pos + 4:pos + 4 + n])
            pos += 4 + n

    def rewrite(self, fn: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Spool:
        """A new spool of ``fn(item)`` for every item (items for which it returns None are left out)."""
        out = Spool()
        for item in self:
            new = fn(item)
            if new is not None:
                out.append(new)
        return out

    def close(self) -> None:
        self._fh.close()


def _frame(record: bytes) -> bytes:
    return len(record).to_bytes(4, "little") + record


def _unframe(record: bytes) -> list[dict[str, Any]] | tuple[dict[str, Any]]:
    """The items of one record: one item, or a list of them (:meth:`Spool.encode_many`)."""
    item = marshal.loads(record)
    return item if type(item) is list else (item,)


def rewrite(items: list[dict[str, Any]] | Spool, fn: Callable[[dict[str, Any]], dict[str, Any] | None]
            ) -> list[dict[str, Any]] | Spool:
    """``fn`` applied to every item of a list or a :class:`Spool` (None leaves the item out), as the same kind."""
    if isinstance(items, Spool):
        return items.rewrite(fn)
    return [new for new in map(fn, items) if new is not None]
