"""Files and folders named on the command line → Documents (folders walked, each file once)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from scanner.model import Document, DocumentResult

_SKIP_DIRS = frozenset((".git", ".svn", ".hg", "__pycache__", ".venv", "node_modules"))


def iter_documents(paths: Iterable[str]) -> Iterator[Document | DocumentResult]:
    """Yield a Document per file below ``paths`` in a stable order, or an error result for a path
    that does not exist or cannot be read. ``source`` is the path as given, joined with the path
    found below a folder."""
    seen: set[str] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for found in _walk(path):
                source = os.path.join(given, found.relative_to(path).as_posix())
                if source not in seen:
                    seen.add(source)
                    yield Document(source=source, path=found, name=found.name)
        elif path.is_file():
            if given not in seen:
                seen.add(given)
                yield Document(source=given, path=path, name=path.name)
        elif given not in seen:
            seen.add(given)
            reason = "路径不存在" if not path.exists() and not path.is_symlink() else "不是普通文件或文件夹"
            yield DocumentResult(source=given, parent=None, kind="unknown", status="error", reason=reason)


def _walk(folder: Path) -> Iterator[Path]:
    """Files below ``folder``, sorted, not following directory symlinks (no loops)."""
    for root, dirs, files in os.walk(folder, onerror=None, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            p = Path(root, name)
            if p.is_file():
                yield p
