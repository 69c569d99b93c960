"""Fetch ahead while the command loads its rules.

Loading the rules (presidio and spaCy) takes about 2 s of one core before anything can be
scanned. :class:`Prefetch` forks a child at the start of ``leakscan crawl`` that crawls into the
state file meanwhile, on the other core: pages and attachments fetched, links followed, bodies
in the spool. When the rules are loaded, the command stops the child and opens the same state
file with ``resume``: what the child fetched comes out first, from the spool, and the crawl goes
on from its frontier (only the requests in flight when the child stopped are made again).

The child never scans and never records a result other than a failed fetch; it stops by itself
after ``max_documents`` documents or ``max_bytes`` of bodies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scanner.model import Document
from scanner.source.crawl.crawler import Crawl
from scanner.source.crawl.options import CrawlOptions


class _Stop(BaseException):
    """Raised in the child by SIGTERM: stop fetching, keep what was fetched."""


def _stop(signum: int, frame: Any) -> None:
    raise _Stop


class Prefetch:
    """A child process crawling ahead into a state file (see the module doc)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    @classmethod
    def start(cls, starts: Sequence[str], options: CrawlOptions, state: Path, resume: bool,
              previous: Callable[[], Callable[[str], dict[str, Any] | None] | None] | None = None,
              max_documents: int = 2000, max_bytes: int = 256 * 2**20) -> Prefetch | None:
        """Fork the child (None where processes cannot fork). ``previous()``, called in the child,
        gives the validators of an earlier audit (as :class:`Crawl` takes them)."""
        if not hasattr(os, "fork"):
            return None
        pid = os.fork()
        if pid:
            return cls(pid)
        code = 1
        try:  # the child: never returns
            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
            crawl = Crawl(starts, options, state, resume=resume, previous=previous() if previous else None)
            try:
                documents, size = 0, 0
                for item in crawl.documents():
                    if isinstance(item, Document):
                        documents += 1
                        size += item.size
                        if documents >= max_documents or size >= max_bytes:
                            break
            except _Stop:
                pass
            finally:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                crawl.close()
            code = 0
        except BaseException:  # noqa: BLE001 (the parent starts over without the child's work)
            code = 1
        finally:
            os._exit(code)

    def finish(self, timeout: float = 15.0) -> bool:
        """Stop the child and wait for it; True when it left a consistent state file to resume."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                return False
            time.sleep(0.01)
