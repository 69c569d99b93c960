"""Live audit of a disclosure site: crawl pages and attachments politely, resumably, within bounds.

``Crawl(starts, CrawlOptions(...), state_path).documents()`` yields :class:`scanner.model.Document`
objects (pages and attachments, ``source`` = URL, ``parent`` = the page that first linked it) and a
:class:`scanner.model.DocumentResult` for each URL that failed or was refused. The consumer scans
each Document and calls ``record(source, results)``; ``resume=True`` continues a killed crawl.
"""

from scanner.source.crawl.crawler import Crawl
from scanner.source.crawl.options import CrawlOptions, CrawlStats
from scanner.source.crawl.state import result_from_json, result_to_json

__all__ = ["Crawl", "CrawlOptions", "CrawlStats", "result_from_json", "result_to_json"]
