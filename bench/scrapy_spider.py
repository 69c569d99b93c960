"""The Scrapy baseline: a minimal CrawlSpider that follows every on-site link and does nothing else.

Run as ``scrapy runspider bench/scrapy_spider.py -a start=URL -a out=FILE`` with the settings the
runner passes (robots off, no delay, the same concurrency as leakscan). Writes
``{"pages": N}`` (HTML pages received, as leakscan's figure counts them: the CSV attachments
Scrapy's link extractor also fetches are not pages) to ``out`` when it closes.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from scrapy.http import HtmlResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule


class SiteSpider(CrawlSpider):
    """Follow links within the start URL's host."""

    name = "site"
    rules = (Rule(LinkExtractor(), callback="count", follow=True),)

    def __init__(self, start: str, out: str, *args: object, **kwargs: object) -> None:
        self.start_urls = [start]
        self.allowed_domains = [urlsplit(start).hostname or ""]
        self.out = out
        self.pages = 0
        super().__init__(*args, **kwargs)

    def parse_start_url(self, response: object, **kwargs: object) -> list[object]:
        return self.count(response)

    def count(self, response: object) -> list[object]:
        """Count HTML pages (the rule follows their links all the same)."""
        self.pages += isinstance(response, HtmlResponse)
        return []

    def closed(self, reason: str) -> None:
        stats = self.crawler.stats.get_stats()
        with open(self.out, "w") as fh:
            json.dump({"pages": self.pages, "responses": stats.get("response_received_count", 0), "reason": reason}, fh)
