"""A fake county disclosure site (虚构的青山县) and a fault-injecting HTTP server for crawl tests.

``build_site(root, ...)`` writes the site below ``root`` (static pages plus ``_site.json`` for the
dynamic parts) and returns a :class:`SiteSpec` saying what a correct crawl must find.
``serve_site(root)`` serves it on 127.0.0.1 in a thread and logs every request.

The site has: a TRS list paged by ``createPageHTML`` (with stub pages beyond the real ones), a
Hanweb ``<datastore>`` list paged through ``/module/web/jpage/dataproxy.jsp`` POSTs, GBK pages
without a charset anywhere, attachments behind ``download.jsp?id=`` with ``Content-Disposition``
(RFC 5987 and raw GBK), one attachment linked from several pages, a pdf.js viewer link, an
``onclick="window.open(...)"`` link, an iframe, and a fault part: 500s (one recovers on retry),
429 with Retry-After, a timeout, a redirect loop, an endless calendar, over-size files, a 412 WAF
page, a robots-disallowed path, an off-site link, links and redirects to a private address.

Every person and number is fake (``tools/fakedata.py``). Usable outside pytest, e.g.::

    python -m tests.crawlsite /tmp/site --articles 5000 --serve
"""

from __future__ import annotations

import argparse
import calendar
import html
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from fakedata import FakeData  # noqa: E402

PRIVATE_HOST = "10.255.255.1"
OFFSITE = "http://offsite.example.com/page.html"
CSS = "<link rel=\"stylesheet\" href=\"/images/common.css\"><script src=\"/js/jquery.js\"></script>"


@dataclass
class SiteSpec:
    """What a correct crawl of the site must do (paths relative to the server root, with query)."""

    documents: list[str] = field(default_factory=list)  # reachable: yielded exactly once as a Document
    faults: dict[str, tuple[str, str]] = field(default_factory=dict)  # path → (status, reason substring)
    never: list[str] = field(default_factory=list)  # must never be requested
    linked_from: dict[str, list[str]] = field(default_factory=dict)  # attachment → pages linking it
    calendar: str = "/faults/calendar.jsp"
    values: list[str] = field(default_factory=list)  # planted fake IDs (for scanning tests)


def _page(title: str, body: str, charset_meta: bool = True) -> str:
    meta = '<meta charset="utf-8">' if charset_meta else ""
    return (f"<!DOCTYPE html>\n<html lang=\"zh-CN\"><head>{meta}<title>{html.escape(title)}_青山县人民政府</title>"
            f"{CSS}</head>\n<body><div class=\"header\"><h1>青山县人民政府</h1><a href=\"/index.html\">首页</a> "
            f"<a href=\"/xxgk/index.html\">信息公开</a> <a href=\"#top\">返回顶部</a></div>\n{body}\n"
            "<div class=\"footer\">主办：青山县人民政府办公室 联系电话：0556-5212345 "
            "<a href=\"mailto:zfb@qingshan.example\">邮箱</a> <img src=\"/images/logo.png\"></div></body></html>\n")


def _table(fake: FakeData, rows: int, values: list[str]) -> str:
    out = ["<table border=\"1\"><tr><th>序号</th><th>姓名</th><th>身份证号</th><th>联系电话</th></tr>"]
    for i in range(rows):
        p = fake.person()
        values.append(p.resident_id)
        out.append(f"<tr><td>{i + 1}</td><td>{p.name}</td><td>{p.resident_id}</td><td>{p.mobile}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _csv(fake: FakeData, rows: int, values: list[str]) -> str:
    lines = ["姓名,身份证号,联系电话,车牌号码"]
    for _ in range(rows):
        p = fake.person()
        values.append(p.resident_id)
        lines.append(f"{p.name},{p.resident_id},{p.mobile},{fake.plate(province='皖')}")
    return "\r\n".join(lines) + "\r\n"


def build_site(root: Path, articles: int = 30, per_page: int = 10, hanweb_records: int = 100,
               faults: bool = True, seed: int = 7, stub_pages: int = 3) -> SiteSpec:
    """Write the fake site below ``root`` and return what a crawl of it must find."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    fake = FakeData(seed)
    spec = SiteSpec()
    docs = spec.documents
    downloads: dict[str, dict[str, str]] = {}

    def write(rel: str, text: str, encoding: str = "utf-8") -> None:
        path = root / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(encoding))

    def download(i: int, name: str, style: str, content: str, encoding: str = "gb18030") -> str:
        rel = f"_files/{i}.bin"
        write(rel, content, encoding)
        downloads[str(i)] = {"file": rel, "name": name, "style": style}
        return f"/xxgk/download.jsp?id={i}"

    (root / "robots.txt").write_text("User-agent: *\nDisallow: /xxgk/private/\n", encoding="utf-8")

    # -- TRS list with articles and attachments ---------------------------------------------
    pages = max(1, -(-articles // per_page))
    shared = download(1, "2023年补贴发放名单.csv", "rfc5987", _csv(fake, 5, spec.values))
    docs.append(shared)
    spec.linked_from[shared] = []
    article_paths = []
    for n in range(articles):
        month = 1 + n % 12
        rel = f"/xxgk/2023{month:02d}/t2023{month:02d}{1 + n % 28:02d}_{1000 + n}.html"
        article_paths.append(rel)
        links = ""
        if n < 3:
            links += f'<p>附件：<a href="{shared}">2023年补贴发放名单.csv</a></p>'
            spec.linked_from[shared].append(rel)
        if n % 5 == 1:
            style = "gbk" if n % 2 else "rfc5987"
            att = download(100 + n, f"附件{n}-人员名单.csv", style, _csv(fake, 3, spec.values))
            docs.append(att)
            links += f'<p><a href="{att}">附件{n}-人员名单.csv</a></p>'
        if n == 2:
            pdf = f"/xxgk/2023{month:02d}/P020231201{n:04d}.pdf"
            write(pdf, "%PDF-1.4 fake\n")
            docs.append(pdf)
            links += f'<p><a href="/pdfjs/web/viewer.html?file={quote(pdf, safe="")}">在线预览</a></p>'
            spec.never.append("/pdfjs/web/viewer.html")
        write(rel, _page(f"公示{n}", f"<h2>关于第{n}批人员的公示</h2>{_table(fake, 2, spec.values)}{links}"))
        docs.append(rel)
    count = pages + stub_pages
    for k in range(pages + 1):
        rel = "/xxgk/index.html" if k == 0 else f"/xxgk/index_{k}.html"
        items = "".join(f'<li><a href="./{p.split("/", 2)[2]}">公示{i}</a></li>'
                        for i, p in enumerate(article_paths) if i // per_page == k)
        write(rel, _page("信息公开", f"<ul class=\"list\">{items}</ul><div class=\"page\"><script>"
                                    f'createPageHTML({count}, {k}, "index", "html");</script></div>'))
        docs.append(rel)
    spec.never.append(f"/xxgk/index_{pages + 1}.html")  # beyond the first stub: nothing new came
    write("/xxgk/notice/open.html", _page("弹窗公告", "<p>弹窗打开的公告</p>"))
    write("/xxgk/frame.html", _page("内嵌页", "<p>内嵌框架页</p>"))
    write("/xxgk/private/secret.html", _page("内部", "<p>不应抓取</p>"))
    docs += ["/xxgk/notice/open.html", "/xxgk/frame.html"]
    spec.faults["/xxgk/private/secret.html"] = ("skipped", "robots.txt")

    # -- GBK pages: no charset in the header, none in the page ----------------------------------
    gbk_items = []
    for n in range(3):
        rel = f"/gbk/t{n}.html"
        att = ""
        if n == 0:
            write("/gbk/附件/学员名单.csv", _csv(fake, 2, spec.values), "gb18030")
            att = '<p><a href="附件/学员名单.csv">学员名单</a></p>'
            docs.append("/gbk/" + quote("附件") + "/" + quote("学员名单.csv"))
        body = f"<p>机动车驾驶培训学员信息公示（镕）</p>{_table(fake, 2, spec.values)}{att}"
        write(rel, _page(f"驾培学员公示{n}", body, charset_meta=False), "gb18030")
        docs.append(rel)
        gbk_items.append(f'<li><a href="t{n}.html">驾培学员公示{n}</a></li>')
    write("/gbk/index.html", _page("驾培公示", "<ul>" + "".join(gbk_items) + "</ul>", charset_meta=False), "gb18030")
    docs.append("/gbk/index.html")

    # -- Hanweb column with datastore and dataproxy paging ------------------------------------
    records = []
    for n in range(hanweb_records):
        rel = f"/art/2023/12/{1 + n % 28}/art_1_{5000 + n}.html"
        write(rel, _page(f"政务公开{n}", f"<h2>政务公开{n}</h2>{_table(fake, 1, spec.values)}"))
        docs.append(rel)
        records.append(f'<li><a href="{rel}" title="政务公开{n}">政务公开{n}</a>'
                       f'<span>2023-12-{1 + n % 28:02d}</span></li>')
    first = "".join(f"<record><![CDATA[{r}]]></record>\n" for r in records[:45])
    nextgroup = ('<a href="/module/web/jpage/dataproxy.jsp?page=1&appid=1&webid=1&path=/&columnid=1'
                 '&unitid=2&webname=%E9%9D%92%E5%B1%B1%E5%8E%BF&permissiontype=0"></a>')
    write("/col/col1/index.html", _page("政务公开", (
        f'<div id="1"><script type="text/xml"><datastore><nextgroup><![CDATA[{nextgroup}]]></nextgroup>'
        f"<recordset>\n{first}</recordset></datastore></script></div>"
        '<script language="javascript" src="/module/web/jpage/jpage.js"></script>'
        "<script>$('#1').jpage({proxyUrl:'/module/web/jpage/dataproxy.jsp',perPage:15,groupSize:3,"
        "barPosition:'bottom'});</script>")))
    docs.append("/col/col1/index.html")
    start = 46
    while True:
        end = start + 44
        docs.append(f"/module/web/jpage/dataproxy.jsp?endrecord={end}&perpage=15&startrecord={start}")
        if start > hanweb_records:
            break
        start = end + 1

    # -- the home page ---------------------------------------------------------------------------
    home = (
        '<ul><li><a href="/xxgk/index.html">信息公开</a></li><li><a href="/col/col1/index.html">政务公开</a></li>'
        '<li><a href="/gbk/index.html">驾培公示</a></li>'
        '<li><a href="javascript:void(0)" onclick="window.open(\'/xxgk/notice/open.html\')">弹窗公告</a></li>'
        '<li><a href="/xxgk/private/secret.html">内部</a></li>'
        f'<li><a href="{OFFSITE}">友情链接</a></li>'
        f'<li><a href="http://{PRIVATE_HOST}/leak.pdf">内网文件</a></li>'
        '<li><a href="/xxgk/index.html;jsessionid=ABCDEF0123">信息公开（会话）</a></li>'
        '<li><a href="/xxgk/index.html?_=1700000000">信息公开（缓存）</a></li>'
        + ('<li><a href="/faults/index.html">专题</a></li>' if faults else "")
        + '</ul><iframe src="/xxgk/frame.html"></iframe>'
    )
    write("/index.html", _page("首页", home))
    docs.append("/index.html")
    spec.never += [OFFSITE]
    spec.faults[f"http://{PRIVATE_HOST}/leak.pdf"] = ("skipped", "内网")

    # -- faults ----------------------------------------------------------------------------------
    if faults:
        links = ["flaky.html", "busy.html", "broken.html", "slow.html", "loop-a.html", "calendar.jsp?year=2024&month=5",
                 "huge.zip", "huge-stream.zip", "waf.html", "missing.html", "to-private.pdf"]
        write("/faults/index.html", _page("专题", "<ul>" + "".join(f'<li><a href="{x}">{x}</a></li>' for x in links)
                                          + "</ul>"))
        docs += ["/faults/index.html", "/faults/flaky.html", "/faults/busy.html"]
        spec.faults.update({
            "/faults/broken.html": ("error", "HTTP 500"),
            "/faults/slow.html": ("error", "超时"),
            "/faults/loop-a.html": ("error", "重定向循环"),
            "/faults/huge.zip": ("skipped", "文件过大"),
            "/faults/huge-stream.zip": ("skipped", "文件过大"),
            "/faults/waf.html": ("error", "被网站防火墙拦截（HTTP 412）"),
            "/faults/missing.html": ("error", "HTTP 404"),
            "/faults/to-private.pdf": ("skipped", "内网"),
            "/faults/calendar.jsp": ("skipped", "疑似无限"),
        })
    (root / "_site.json").write_text(json.dumps({"downloads": downloads, "records": records}, ensure_ascii=False),
                                     encoding="utf-8")
    return spec


# -- the server ------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _SiteServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET", b"")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self._serve("POST", self.rfile.read(length))

    def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self, method: str, body: bytes) -> None:
        srv = self.server
        target = self.path
        srv.record(method, target, body.decode("utf-8", "replace"), dict(self.headers))
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        hits = srv.hits[(method, target)]
        if path == "/module/web/jpage/dataproxy.jsp":
            if method != "POST" or "columnid=1" not in body.decode("latin-1"):
                return self._send(405, b"method not allowed")
            start, end = int(query["startrecord"]), int(query["endrecord"])
            recs = srv.site["records"][start - 1:end]
            xml = ('<?xml version="1.0" encoding="UTF-8"?><datastore><nextgroup><![CDATA[]]></nextgroup><recordset>'
                   + "".join(f"<record><![CDATA[{r}]]></record>" for r in recs) + "</recordset></datastore>")
            return self._send(200, xml.encode(), "text/xml;charset=UTF-8")
        if path == "/xxgk/download.jsp":
            item = srv.site["downloads"].get(query.get("id", ""))
            if item is None:
                return self._send(404, b"not found")
            data = (srv.root / item["file"]).read_bytes()
            if item["style"] == "rfc5987":
                cd = f"attachment; filename=\"download.csv\"; filename*=UTF-8''{quote(item['name'])}"
            else:  # raw GBK bytes in the header, as many Java servers send them
                cd = 'attachment; filename="' + item["name"].encode("gbk").decode("latin-1") + '"'
            etag = f'"{item["file"]}-v{srv.version}"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, b"", "", {"ETag": etag})
            return self._send(200, data, "application/octet-stream", {"Content-Disposition": cd, "ETag": etag})
        if path.startswith("/faults/") and path != "/faults/index.html":
            return self._fault(path, query, hits)
        file = (srv.root / path.lstrip("/")).resolve()
        if path.endswith("/"):
            file = file / "index.html"
        if not file.is_relative_to(srv.root) or not file.is_file() or file.name == "_site.json":
            return self._send(404, b"<html><body>404</body></html>")
        ctype = {".html": "text/html", ".txt": "text/plain", ".csv": "text/csv", ".pdf": "application/pdf"}.get(
            file.suffix, "application/octet-stream")
        if ctype == "text/html" and not path.startswith("/gbk/"):
            ctype += "; charset=utf-8"
        return self._send(200, file.read_bytes(), ctype)

    def _fault(self, path: str, query: dict[str, str], hits: int) -> None:
        name = path.rsplit("/", 1)[-1]
        ok = _page(name, f"<p>{name} 正常页面</p>").encode()
        if name == "flaky.html":
            return self._send(500, b"error") if hits == 1 else self._send(200, ok)
        if name == "busy.html":
            return self._send(429, b"busy", headers={"Retry-After": "1"}) if hits == 1 else self._send(200, ok)
        if name == "broken.html":
            return self._send(500, b"error")
        if name == "slow.html":
            time.sleep(self.server.slow)
            return self._send(200, ok)
        if name in ("loop-a.html", "loop-b.html"):
            other = "loop-b.html" if name == "loop-a.html" else "loop-a.html"
            return self._send(302, b"", headers={"Location": other})
        if name == "to-private.pdf":
            return self._send(302, b"", headers={"Location": f"http://{PRIVATE_HOST}/x.pdf"})
        if name == "waf.html":
            return self._send(412, b"<html><script>var _0x1=\"challenge\";</script></html>")
        if name == "huge.zip":
            return self._send(200, b"PK" + b"\0" * self.server.huge, "application/zip")
        if name == "huge-stream.zip":
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                for _ in range(self.server.huge // 65536 + 2):
                    self.wfile.write(b"\0" * 65536)
            except OSError:
                pass
            return None
        if name == "calendar.jsp":
            return self._send(200, _calendar_page(query).encode())
        return self._send(404, b"<html><body>404</body></html>")


def _calendar_page(query: dict[str, str]) -> str:
    if "date" in query:
        y, m = (int(x) for x in query["date"].split("-")[:2])
    else:
        y, m = int(query.get("year", 2024)), int(query.get("month", 5))
    prev_y, prev_m = (y, m - 1) if m > 1 else (y - 1, 12)
    next_y, next_m = (y, m + 1) if m < 12 else (y + 1, 1)
    days = "".join(f'<a href="calendar.jsp?date={y}-{m:02d}-{d:02d}">{d}</a> '
                   for d in range(1, calendar.monthrange(y, m)[1] + 1))
    return _page("活动日历", f'<a href="calendar.jsp?year={prev_y}&month={prev_m}">上月</a> '
                            f'<a href="calendar.jsp?year={next_y}&month={next_m}">下月</a><p>{days}</p>')


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hang up on purpose (timeouts, size caps)

    def __init__(self, root: Path, slow: float, huge: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root.resolve()
        self.site = json.loads((root / "_site.json").read_text(encoding="utf-8"))
        self.slow = slow
        self.huge = huge
        self.version = 1
        self.log: list[tuple[str, str, str, dict[str, str]]] = []
        self.hits: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def record(self, method: str, target: str, body: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.log.append((method, target, body, headers))
            self.hits[(method, target)] += 1


@dataclass
class RunningSite:
    """A served site: its base URL and the server's request log."""

    url: str
    server: _SiteServer

    @property
    def log(self) -> list[tuple[str, str, str, dict[str, str]]]:
        """(method, path with query, form body, headers) of every request, in arrival order."""
        return list(self.server.log)

    def requests(self) -> Counter[tuple[str, str]]:
        """How often each (method, path with query) was requested."""
        return Counter((m, t) for m, t, _, _ in self.server.log)


@contextmanager
def serve_site(root: Path, slow: float = 3.0, huge: int = 2 * 2**20) -> Iterator[RunningSite]:
    """Serve the site written by :func:`build_site` on 127.0.0.1 (a free port) while the block runs.

    ``slow``: seconds ``/faults/slow.html`` sleeps; ``huge``: bytes of the over-size files.
    """
    server = _SiteServer(Path(root), slow, huge)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield RunningSite(f"http://127.0.0.1:{server.server_address[1]}", server)
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    """Write (and optionally serve) a fake site: ``python -m tests.crawlsite DIR [--articles N] [--serve]``."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("root", type=Path)
    ap.add_argument("--articles", type=int, default=30)
    ap.add_argument("--per-page", type=int, default=20)
    ap.add_argument("--hanweb-records", type=int, default=100)
    ap.add_argument("--no-faults", action="store_true")
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args(argv)
    spec = build_site(args.root, args.articles, args.per_page, args.hanweb_records, not args.no_faults)
    print(f"{len(spec.documents)} reachable documents written to {args.root}")
    if args.serve:
        with serve_site(args.root) as site:
            print(f"serving {site.url}/index.html (Ctrl-C to stop)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    main()
