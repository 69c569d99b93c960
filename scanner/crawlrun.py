"""Wiring for ``leakscan crawl`` and ``leakscan audit``: crawler → scanner → results.

Fetched documents stream into the scanning workers as they arrive; each document's results are
recorded in the crawl's state file as soon as they exist, so an interrupted crawl resumes without
refetching and without losing findings. On a re-audit, a document the site serves unchanged (304,
or the same SHA-256 as last time) takes its findings from the audit history instead of being
scanned again.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from scanner.detect.spec import DetectorSpec
from scanner.errors import UsageError
from scanner.model import Document, DocumentResult
from scanner.pipeline import Scanner, scan_groups
from scanner.source.crawl import Crawl, CrawlOptions
from scanner.store.history import History


class Progress(Protocol):
    """What the crawl reports progress to (the CLI's display)."""

    def advance(self, result: DocumentResult) -> None: ...
    def say(self, line: str) -> None: ...
    def watch(self, stats: Any) -> None: ...


def read_sites_file(path: str | Path) -> list[str]:
    """Site URLs from a file: one per line; blank lines and ``#`` comments ignored."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise UsageError(f"无法读取网站清单文件 {path}：{exc.strerror or exc}") from exc
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def default_state_path(urls: Sequence[str]) -> Path:
    """The crawl state file for these start URLs, in the user's cache folder."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "leakscan"
    digest = hashlib.sha256("\n".join(sorted(urls)).encode("utf-8")).hexdigest()[:16]
    return base / f"crawl-{digest}.sqlite3"


def options_from_args(args: Any) -> CrawlOptions:
    """CrawlOptions from the ``crawl`` command line (or an audit site's settings)."""
    return CrawlOptions(
        max_pages=args.max_pages, max_depth=args.max_depth, concurrency=args.concurrency, per_host=args.per_host,
        delay=args.delay, timeout=args.timeout, max_bytes=args.max_size * 1024 * 1024, contact=args.contact,
        ignore_robots=args.ignore_robots, allow_private=args.allow_private, file_hosts=tuple(args.file_host))


def crawl_sites(urls: Sequence[str], options: CrawlOptions, spec: DetectorSpec, *, state: Path | None, resume: bool,
                jobs: int, history: History | None, site: str, key: bytes, progress: Progress,
                parents: dict[str, list[str]] | None = None,
                status: dict[str, Any] | None = None) -> Iterator[DocumentResult]:
    """Crawl ``urls`` and scan everything reached; yield every document's result as it is ready.
    When the crawl is over, ``parents`` (if given) receives, for each document linked from more than
    one page, every page that linked it; ``status`` (if given) receives ``limit`` when the crawl
    stopped at ``max_pages`` with addresses still queued (the run is then incomplete)."""
    state = state or default_state_path(urls)
    state.parent.mkdir(parents=True, exist_ok=True)
    validators = history.validators(site, key) if history is not None else {}
    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "limit" and status is not None:
            status["limit"] = data

    crawl = Crawl(urls, options, state, resume=resume, previous=validators.get if validators else None,
                  on_event=on_event)
    progress.watch(crawl.stats)
    reused: deque[DocumentResult] = deque()

    def fresh() -> Iterator[Document | DocumentResult]:
        for item in crawl.documents():
            if isinstance(item, Document) and item.meta.get("unchanged") and history is not None:
                previous = history.previous_documents(site, key, item.source)
                if previous:  # unchanged since the last audit: its findings stand
                    previous[0].parent = item.parent
                    previous[0].meta.update({k: v for k, v in item.meta.items() if k in ("etag", "last_modified")})
                    crawl.record(item.source, previous)
                    reused.extend(previous)
                    continue
            yield item

    sources: list[str] = []
    try:
        if resume:
            for r in crawl.recorded():
                sources.append(r.source)
                yield r
        # Workers send findings back encoded (the parent only stores and appends bytes), unless raw
        # values are shown: those must reach the report but never the state file.
        pack = not spec.include_values
        for item, group in scan_groups(fresh(), Scanner(spec), jobs=jobs, pack=pack):
            while reused:
                sources.append(reused[0].source)
                yield reused.popleft()
            crawl.record(item.source, group)
            sources.extend(r.source for r in group)
            yield from group
        while reused:
            sources.append(reused[0].source)
            yield reused.popleft()
        if parents is not None:
            shared = crawl.linked_from_many()
            for source in sources:
                if source in shared:
                    parents[source] = shared[source]
    finally:
        crawl.close()
