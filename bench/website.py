"""A static fake disclosure site for the crawl figures, and nginx to serve it on 127.0.0.1.

The site is plain files (nginx serves them as they are): a TRS-style column list paged as
``index.html``, ``index_1.html`` … with 20 articles per page, article pages with a roster table
and running text, and on every tenth article an attachment (CSV, XLSX or PDF). Pages link home
and to their list page, as real sites do, so a crawler sees many duplicate links.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import datagen

PER_LIST = 20


def make_site(pages: int = 5000, seed: int = 3) -> Path:
    """Write a site of ``pages`` HTML pages (lists + articles) under bench/data/; return its root."""
    return datagen._atomic(datagen.DATA / f"site-{pages}", lambda tmp: _write_site(tmp, pages, seed))


def _write_site(root: Path, pages: int, seed: int) -> None:
    fake = datagen.fakedata.FakeData(seed, "corpus")
    rng = fake.rng
    lists = -(-pages // (PER_LIST + 1))
    articles = pages - lists
    col = root / "xxgk" / "gsgg"
    col.mkdir(parents=True)
    csv_att = "序号,姓名,身份证号码,联系电话\n" + "".join(
        f"{i},{p.name},{p.resident_id},{p.mobile}\n" for i, p in ((i, fake.person()) for i in range(1, 41)))
    pdf_att = datagen.pdf_bytes(2, seed, rows_per_page=10)
    xlsx_att = datagen.xlsx_bytes(200, seed)
    (root / "index.html").write_text(datagen.html_page("青山县人民政府", "政府信息公开目录",
                                                        [("xxgk/gsgg/index.html", "公示公告")]), "utf-8")
    for k in range(lists):
        links = []
        for j in range(PER_LIST):
            a = k * PER_LIST + j
            if a < articles:
                links.append((f"t{a:05d}.html", f"关于第{a + 1}批次补助对象的公示"))
        # A pager as TRS prints it: home, the ten neighbouring pages, the last page.
        nav = [("../../index.html", "首页")]
        for n in sorted({*range(max(0, k - 5), min(lists, k + 6)), lists - 1} - {k}):
            nav.append(("index.html" if n == 0 else f"index_{n}.html", f"第{n + 1}页"))
        name = "index.html" if k == 0 else f"index_{k}.html"
        (col / name).write_text(datagen.html_page(f"公示公告 第{k + 1}页", "公示公告", links + nav), "utf-8")
    for a in range(articles):
        rows = "\n".join(f"{p.name} {p.sex} 身份证号{p.resident_id} 联系电话{p.mobile}"
                         for p in (fake.person() for _ in range(rng.randint(2, 6))))
        body = datagen.prose(rng, 300) + "\n" + rows + "\n" + datagen.prose(rng, 200)
        links = [("../../index.html", "首页"), ("index.html", "返回列表")]
        if a % 10 == 0:
            kind = ("csv", "xlsx", "pdf")[(a // 10) % 3]
            att = col / "P0" / f"{a:05d}.{kind}"
            att.parent.mkdir(exist_ok=True)
            att.write_bytes({"csv": csv_att.encode("gb18030"), "xlsx": xlsx_att, "pdf": pdf_att}[kind])
            links.append((f"P0/{a:05d}.{kind}", "附件：名单"))
        (col / f"t{a:05d}.html").write_text(datagen.html_page(f"关于第{a + 1}批次补助对象的公示", body, links), "utf-8")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_binary() -> str | None:
    """The nginx executable, or None."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


@contextmanager
def nginx(root: Path) -> Iterator[str]:
    """Serve ``root`` with nginx on a free 127.0.0.1 port (foreground, unprivileged); yield the base URL."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (Debian package nginx)")
    port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="leakscan-bench-nginx-"))
    mime = "/etc/nginx/mime.types"
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    {"include " + mime + ";" if os.path.exists(mime) else ""}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    keepalive_requests 100000;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
""")
    cmd = [binary, "-p", str(prefix), "-c", str(conf)]
    if os.geteuid() == 0:  # never serve as root: drop to nobody (the prefix must be theirs)
        shutil.chown(prefix, "nobody", "nogroup")
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    raise RuntimeError(f"nginx did not start: {err.strip()[:300]}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(prefix, ignore_errors=True)
