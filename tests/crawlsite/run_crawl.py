"""Crawl a site through the public API and record placeholder results: the subprocess of the resume test.

``python -m tests.crawlsite.run_crawl START_URL STATE [--resume] [--sleep S]`` prints ``DOC <url>``
after each recorded document and ``END`` at the end. Options suit the fake site of this package.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

from scanner.model import Document, DocumentResult, Finding
from scanner.source.crawl import Crawl, CrawlOptions
from tests.crawlsite import PRIVATE_HOST


def options() -> CrawlOptions:
    """The options the crawl tests use for the fake site."""
    return CrawlOptions(concurrency=4, per_host=4, timeout=0.5, retries=1, backoff=0.05, max_bytes=2**20,
                        allow_private_hosts=("127.0.0.1",), file_hosts=(PRIVATE_HOST,))


def placeholder(doc: Document) -> DocumentResult:
    """A result with one fake finding (masked value and a made-up fingerprint only)."""
    finding = Finding(entity="CN_ID_CARD", rule="cn-id-card", source=doc.source, parent=doc.parent,
                      location={"line": 1, "start": 0, "end": 18}, masked="340823********123X",
                      fingerprint=hashlib.sha256(doc.source.encode()).hexdigest(), exposure="unmasked", severity="high",
                      confidence=0.99, context="…身份证号 340823********123X…", remediation="删除或隐藏",
                      extra={"audit": "new"})
    return DocumentResult(source=doc.source, parent=doc.parent, kind="html", status="scanned", findings=[finding],
                          meta={"size": doc.size})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("start")
    ap.add_argument("state", type=Path)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--sleep", type=float, default=0.0)
    args = ap.parse_args(argv)
    crawl = Crawl([args.start], options(), args.state, resume=args.resume)
    for item in crawl.documents():
        if isinstance(item, Document):
            time.sleep(args.sleep)
            crawl.record(item.source, [placeholder(item)])
        print("DOC", item.source, flush=True)
    crawl.close()
    print("END", flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
