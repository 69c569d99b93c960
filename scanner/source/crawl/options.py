"""Crawl settings and the live counters a progress display reads."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class CrawlOptions:
    """How far, how fast and how politely to crawl."""

    max_pages: int = 20000  # pages + attachments fetched
    max_depth: int = 8
    concurrency: int = 8  # transfers at once, in total
    per_host: int = 2  # concurrent requests per host
    delay: float = 0.0  # seconds between request starts to one host
    timeout: float = 20.0  # connect / read timeout of one request
    retries: int = 2
    max_bytes: int = 100 * 2**20  # streamed cap; larger → a skipped DocumentResult
    contact: str | None = None  # put in the User-Agent: "leakscan/<version> (+contact)"
    ignore_robots: bool = False
    allow_private: bool = False
    file_hosts: tuple[str, ...] = ()  # extra hosts that may serve attachments
    max_query_variants: int = 50  # distinct query strings followed per path
    backoff: float = 1.0  # first retry wait; doubles each retry (Retry-After wins, up to max_retry_after)
    max_retry_after: float = 120.0
    total_timeout: float = 600.0  # a whole download, however slowly it trickles
    verify_tls: bool = True
    allow_private_hosts: tuple[str, ...] = ()  # private hosts allowed by name, without allow_private


@dataclass
class CrawlStats:
    """Counters for a progress display (read from another thread: plain ints, no invariants)."""

    pages: int = 0
    attachments: int = 0
    errors: int = 0
    skipped: int = 0
    unchanged: int = 0
    queued: int = 0
    inflight: int = 0
    bytes: int = 0
    requests: int = 0
    started: float = field(default_factory=time.time)
