"""Serve the fake sample site (samples/site) on 127.0.0.1 and crawl it, for ``make demo``.

    python tools/demo_site.py [--output out/site-report.xlsx] [leakscan crawl options...]

Exit status is that of ``leakscan crawl`` (1 = findings, expected on the samples).
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from scanner.cli import main as leakscan

SITE = Path(__file__).resolve().parents[1] / "samples" / "site"


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # the crawl's own progress is enough
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="out/site-report.json")
    args, rest = parser.parse_known_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(SITE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"示例网站已在 {url} 上运行，开始巡查……", file=sys.stderr)
    out = Path(args.output)
    try:
        return leakscan(["crawl", url, "--allow-private", "--output", str(out),
                         "--state", str(out.with_suffix(".state.sqlite3")), *rest])
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
