"""Turn a corpus folder (tools/make_corpus.py) into a static disclosure site and, optionally, serve it.

    python tools/corpus_site.py OUT_DIR [--serve PORT]

Writes ``OUT_DIR/index.html`` with TRS-style paginated column lists (``createPageHTML``, page k as
``index_{k-1}.html``) in every folder, each list linking 20 files through a detail page or
directly, so a crawl starting at ``/`` reaches every corpus file. Score a crawl of it with
``tools/eval.py REPORT OUT_DIR/truth.json --key K --rebase OUT_DIR=http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import argparse
import functools
import html
import random
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PER_PAGE = 20
SKIP = {"truth.json"}


def _page(title: str, body: str, script: str = "") -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}{script}</body></html>")


def write_site(root: Path, seed: int = 3) -> int:
    """Write the list and detail pages; return how many corpus files they link."""
    rng = random.Random(seed)
    folders: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name not in SKIP and not path.name.startswith(("index", "detail_")):
            folders.setdefault(path.parent.relative_to(root).as_posix(), []).append(path)
    linked = 0
    for folder, files in folders.items():
        pages = [files[i:i + PER_PAGE] for i in range(0, len(files), PER_PAGE)]
        for k, chunk in enumerate(pages):
            items = []
            for f in chunk:
                name = f.name
                if f.suffix == ".html" or rng.random() < 0.5:
                    items.append(f"<li><a href='{name}'>{html.escape(name)}</a></li>")
                else:  # an article page that carries the attachment link
                    detail = f"detail_{f.stem}.html"
                    (root / folder / detail).write_text(
                        _page(f"关于公示{f.stem}的通知", f"<p>附件：<a href='{name}'>{html.escape(name)}</a></p>"),
                        encoding="utf-8")
                    items.append(f"<li><a href='{detail}'>关于公示{html.escape(f.stem)}的通知</a></li>")
                linked += 1
            script = (f"<script>createPageHTML({len(pages)}, {k}, \"index\", \"html\");</script>"
                      if len(pages) > 1 else "")
            name = "index.html" if k == 0 else f"index_{k}.html"
            (root / folder / name).write_text(_page(f"{folder} 栏目", "<ul>" + "".join(items) + "</ul>", script),
                                              encoding="utf-8")
    top = "".join(f"<li><a href='{f}/index.html'>{html.escape(f)}</a></li>" for f in folders if f != ".")
    (root / "index.html").write_text(_page("虚构县政府信息公开（评测站点）", f"<ul>{top}</ul>"), encoding="utf-8")
    return linked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--serve", type=int, metavar="PORT", help="serve the site on 127.0.0.1:PORT until Ctrl-C")
    args = parser.parse_args(argv)
    print(f"linked {write_site(args.out_dir)} files", file=sys.stderr)
    if args.serve is not None:
        handler = functools.partial(SimpleHTTPRequestHandler, directory=str(args.out_dir))
        with ThreadingHTTPServer(("127.0.0.1", args.serve), handler) as server:
            server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
