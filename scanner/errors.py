"""Exceptions shared by the stages. Imports nothing from ``scanner``."""

from __future__ import annotations


class LeakscanError(Exception):
    """Base class of every error leakscan raises on purpose."""


class RuleError(LeakscanError):
    """A rule file is malformed. Stops the run: scanning with a broken rule pack is worse than not."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        super().__init__(f"{file}: {field}: {reason}")
        self.file, self.field, self.reason = file, field, reason


class ExtractError(LeakscanError):
    """A document cannot be read (corrupt, encrypted, a bomb). The document ends as ``status: error``."""


class Skip(LeakscanError):
    """A document is deliberately not scanned (unsupported type, too large, needs OCR): ``status: skipped``."""


class NeedsOCR(LeakscanError):
    """A document turned out to be mostly OCR work while read by a worker told to hand such
    documents on (``Limits.ocr_elsewhere``): the pipeline moves it to its OCR worker."""


class UsageError(LeakscanError):
    """The command line or configuration is wrong (exit status 2)."""
