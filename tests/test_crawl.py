"""The crawler against a real HTTP server on 127.0.0.1 serving a fake county site with faults."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import signal
import ssl
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from scanner.model import Document, DocumentResult
from scanner.source.crawl import Crawl, CrawlOptions
from scanner.source.crawl.crawler import _RECORDS
from tests.crawlsite import build_site, serve_site
from tests.crawlsite.run_crawl import options, placeholder

ROOT = Path(__file__).resolve().parents[1]
SLOW = 1.5  # /faults/slow.html sleeps this long; the tests' timeout is 0.5 s


def _rel(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname != "127.0.0.1":
        return url
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclasses.dataclass
class Run:
    docs: list[Document]
    results: list[DocumentResult]
    requests: Counter[tuple[str, str]]
    log: list[tuple[str, str, str, dict[str, str]]]
    crawl: Crawl
    url: str


def _crawl(site_url: str, site, state: Path, opts: CrawlOptions | None = None, **kwargs) -> Run:
    crawl = Crawl([site_url + "/index.html"], opts or options(), state, **kwargs)
    docs, results = [], []
    for item in crawl.documents():
        if isinstance(item, Document):
            docs.append(item)
            crawl.record(item.source, [placeholder(item)])
        else:
            results.append(item)
    return Run(docs, results, site.requests(), site.log, crawl, site_url)


@pytest.fixture(scope="module")
def site_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    spec = build_site(root)
    return root, spec


@pytest.fixture(scope="module")
def full(site_root, tmp_path_factory):
    root, spec = site_root
    with serve_site(root, slow=SLOW) as site:
        run = _crawl(site.url, site, tmp_path_factory.mktemp("state") / "crawl.db")
    yield run, spec
    run.crawl.close()


def test_every_reachable_document_is_yielded_exactly_once(full):
    run, spec = full
    sources = Counter(_rel(d.source) for d in run.docs)
    assert [s for s, n in sources.items() if n > 1] == []
    missing = [p for p in spec.documents if p not in sources]
    assert missing == []
    extra = [s for s in sources if s not in spec.documents and not s.startswith(spec.calendar)]
    assert extra == []


def test_each_fault_is_reported_once_with_a_reason(full):
    run, spec = full
    by_path: dict[str, list[DocumentResult]] = {}
    for r in run.results:
        rel = _rel(r.source)
        key = spec.calendar if rel.startswith(spec.calendar) else rel
        by_path.setdefault(key, []).append(r)
    assert set(by_path) == set(spec.faults)
    for path, (status, reason) in spec.faults.items():
        (result,) = by_path[path]
        assert result.status == status, path
        assert reason in (result.reason or ""), (path, result.reason)
    assert all(r.parent for r in run.results)


def test_nothing_outside_scope_is_requested_and_retries_are_bounded(full):
    run, spec = full
    requested = {t for _, t in run.requests}
    for path in spec.never:
        assert not any(t.startswith(_rel(path)) for t in requested), path
    assert not any(t.startswith(("/images/", "/js/", "/pdfjs/", "/xxgk/private/")) for t in requested)
    assert all(host == "127.0.0.1" for host in {urlsplit(d.source).hostname for d in run.docs})
    counts = {t: n for (_, t), n in run.requests.items()}
    assert counts["/faults/flaky.html"] == 2  # a 500, then a successful retry
    assert counts["/faults/busy.html"] == 2  # a 429 with Retry-After, then success
    assert counts["/faults/broken.html"] == 2  # retries=1
    assert counts["/faults/waf.html"] == 1  # a WAF answer is never retried
    assert counts["/robots.txt"] == 1
    once = {t: n for t, n in counts.items() if t not in
            ("/faults/flaky.html", "/faults/busy.html", "/faults/broken.html", "/faults/slow.html")}
    assert max(once.values()) == 1
    calendar = [t for t in requested if t.startswith(spec.calendar)]
    assert 0 < len(calendar) <= options().max_query_variants + 1
    assert all("leakscan/" in h.get("User-Agent", "") for _, _, _, h in run.log)


def test_trs_paging_stops_at_the_first_stub(full):
    run, spec = full
    requested = {t for _, t in run.requests}
    stubs = sorted(t for t in requested if t.startswith("/xxgk/index_"))
    never = [p for p in spec.never if p.startswith("/xxgk/index_")]
    assert never and not set(never) & requested
    assert stubs  # index_1 … the first stub were fetched


def test_hanweb_paging_posts_the_column_form(full):
    run, _ = full
    posts = [(t, body) for m, t, body, _ in run.log if m == "POST"]
    assert len(posts) == 3
    assert all("columnid=1" in body and "webid=1" in body for _, body in posts)


def test_attachment_names_parents_and_meta(full):
    run, spec = full
    docs = {_rel(d.source): d for d in run.docs}
    assert docs["/xxgk/download.jsp?id=1"].name == "2023年补贴发放名单.csv"  # RFC 5987
    assert docs["/xxgk/download.jsp?id=101"].name == "附件1-人员名单.csv"  # raw GBK bytes
    assert docs["/xxgk/download.jsp?id=106"].name == "附件6-人员名单.csv"
    shared = [d for s, d in docs.items() if s == "/xxgk/download.jsp?id=1"][0]
    parents = [_rel(p) for p in run.crawl.parents(shared.source)]
    assert sorted(parents) == sorted(spec.linked_from["/xxgk/download.jsp?id=1"])
    assert _rel(shared.parent) == parents[0]
    assert set(shared.meta) >= {"sha256", "etag", "last_modified", "final_url", "depth"}
    assert shared.meta["etag"] and shared.data.decode("gb18030").startswith("姓名,身份证号")
    assert docs["/index.html"].parent is None and docs["/index.html"].meta["depth"] == 0
    assert run.crawl.parents(docs["/index.html"].source) == []
    assert run.crawl.parents(docs["/gbk/t1.html"].source) == [docs["/gbk/index.html"].source]
    many = run.crawl.linked_from_many()  # the same, for every document with more than one linker at once
    assert many[shared.source] == run.crawl.parents(shared.source)
    assert all(len(run.crawl.parents(d.source)) > 1 for d in run.docs if d.source in many)
    assert all(d.source in many for d in run.docs if len(run.crawl.parents(d.source)) > 1)
    gbk = docs["/gbk/t0.html"]
    assert "镕" in gbk.data.decode("gb18030")


def test_recorded_results_round_trip(full):
    run, _ = full
    recorded = list(run.crawl.recorded())
    by_source = {r.source: r for r in recorded}
    assert len(by_source) == len(run.docs) + len(run.results)
    doc = run.docs[0]
    assert by_source[doc.source] == placeholder(doc)


@pytest.mark.parametrize("rebinding", [False, True])
def test_private_targets_are_refused_without_allow_private(site_root, tmp_path, monkeypatch, rebinding):
    if rebinding:  # DNS rebinding: the name checks out as public, then the connection lands on 127.0.0.1
        from scanner.source.crawl.scope import AddressGuard

        monkeypatch.setattr(AddressGuard, "_check", staticmethod(lambda host, port: None))
    root, _ = site_root
    with serve_site(root) as site:
        opts = dataclasses.replace(options(), allow_private_hosts=())
        run = _crawl(site.url, site, tmp_path / "s.db", opts)
        assert run.docs == []
        (result,) = run.results
        assert result.status == "skipped" and "内网" in result.reason
        assert site.log == []  # not one request reached the server


def test_page_cap_and_depth_bound_the_crawl(site_root, tmp_path):
    root, _ = site_root
    with serve_site(root, slow=SLOW) as site:
        capped = _crawl(site.url, site, tmp_path / "a.db", dataclasses.replace(options(), max_pages=12))
        fetched = sum(n for (_, t), n in capped.requests.items() if t != "/robots.txt"
                      and t not in ("/faults/flaky.html", "/faults/busy.html"))
        assert len(capped.docs) + len(capped.results) <= 12
        assert fetched <= 12
    with serve_site(root, slow=SLOW) as site:
        shallow = _crawl(site.url, site, tmp_path / "b.db", dataclasses.replace(options(), max_depth=1))
        depths = {d.meta["depth"] for d in shallow.docs}
        assert max(depths) <= 2  # pages to depth 1, their attachments at depth 2
        assert not any("/xxgk/2023" in d.source and d.source.endswith(".html") for d in shallow.docs)


def test_conditional_get_reports_unchanged_attachments(site_root, tmp_path, full):
    root, _ = site_root
    first, _ = full
    known = {_rel(d.source): d.meta for d in first.docs if "download.jsp" in d.source}

    def previous(url: str):
        meta = known.get(_rel(url))
        if meta is None:
            return None
        if _rel(url) == "/xxgk/download.jsp?id=101":  # no validator: the hash decides
            return {"etag": None, "last_modified": None, "sha256": meta["sha256"]}
        return {"etag": meta["etag"], "last_modified": None, "sha256": meta["sha256"]}

    with serve_site(root, slow=SLOW) as site:
        run = _crawl(site.url, site, tmp_path / "c.db", previous=previous)
        conditional = [h for m, t, _, h in site.log if "download.jsp" in t]
    docs = {_rel(d.source): d for d in run.docs}
    by_etag = docs["/xxgk/download.jsp?id=1"]
    assert by_etag.meta["unchanged"] is True and by_etag.data == b""
    assert by_etag.meta["sha256"] == known["/xxgk/download.jsp?id=1"]["sha256"]
    by_hash = docs["/xxgk/download.jsp?id=101"]
    assert by_hash.meta["unchanged"] is True and by_hash.data
    assert sum("If-None-Match" in h for h in conditional) == len(known) - 1
    assert not any(d.meta.get("unchanged") for s, d in docs.items() if "download.jsp" not in s)


def _reference(records: list[DocumentResult]) -> set[tuple[str, str, int, str | None]]:
    """Result identity without the calendar (which calendar page hits the cap depends on timing)."""
    return {(_rel(r.source), r.status, len(r.findings), r.reason)
            for r in records if "/faults/calendar.jsp" not in r.source}


def test_resume_after_sigkill_loses_nothing_and_refetches_nothing(site_root, tmp_path):
    root, _ = site_root
    with serve_site(root, slow=SLOW) as site:
        clean = _crawl(site.url, site, tmp_path / "clean.db")
        expected = _reference(list(clean.crawl.recorded()))
        clean.crawl.close()
    with serve_site(root, slow=SLOW) as site:
        state = tmp_path / "killed.db"
        cmd = [sys.executable, "-m", "tests.crawlsite.run_crawl", site.url + "/index.html", str(state),
               "--sleep", "0.02"]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        seen = 0
        assert proc.stdout is not None
        for line in proc.stdout:
            seen += line.startswith("DOC")
            if seen >= 60:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        first_log = [(m, t) for m, t, _, _ in site.log]
        resumed = Crawl([site.url + "/index.html"], options(), state, resume=True)
        before = list(resumed.recorded())
        # Results are committed in batches: those recorded after the last commit come back from the
        # spool (scanned again, never fetched again: the request logs below show it).
        assert 60 - _RECORDS <= len(before) < len(expected)
        for item in resumed.documents():
            if isinstance(item, Document):
                resumed.record(item.source, [placeholder(item)])
        after = list(resumed.recorded())
        second_log = [(m, t) for m, t, _, _ in site.log][len(first_log):]
        resumed.close()
    assert _reference(after) == expected
    assert len({r.source for r in after}) == len(after)
    retried = ("/faults/flaky.html", "/faults/busy.html", "/faults/broken.html", "/faults/slow.html", "/robots.txt")
    twice = (set(first_log) & set(second_log)) - {("GET", p) for p in retried}
    assert len(twice) <= options().concurrency  # only requests in flight at the kill


def test_fetched_but_unrecorded_documents_are_yielded_again_without_refetching(site_root, tmp_path):
    root, _ = site_root
    state = tmp_path / "spool.db"
    with serve_site(root, slow=SLOW) as site:
        crawl = Crawl([site.url + "/index.html"], options(), state)
        unrecorded = []
        for item in crawl.documents():
            if isinstance(item, Document):
                if len(unrecorded) < 3 and "download.jsp" not in item.source:
                    unrecorded.append(item)  # "scanning" when the process dies: never recorded
                else:
                    crawl.record(item.source, [placeholder(item)])
            if len(unrecorded) == 3:
                break
        crawl.close()
        # small bodies wait in the state file, not in a file each (creating and deleting thousands
        # of small files cost the file system more than the crawl's other writes together)
        assert not list(state.parent.glob("spool.db.spool/*"))
        before = len(site.log)
        resumed = Crawl([site.url + "/index.html"], options(), state, resume=True)
        again = []
        for item in resumed.documents():
            if isinstance(item, Document):
                again.append(item)
                resumed.record(item.source, [placeholder(item)])
        refetched = {t for _, t, _, _ in site.log[before:]}
        resumed.close()
    # Fetched outcomes are committed in batches before they are handed out, so the rest of the
    # batch that was waiting when the loop stopped is in the state file too: all of them come back first.
    by_source = {d.source: i for i, d in enumerate(again)}
    assert all(again[by_source[d.source]].data == d.data and again[by_source[d.source]].meta == d.meta
               for d in unrecorded)
    fetched_anew = [i for i, d in enumerate(again) if _rel(d.source) in refetched]
    assert max(by_source[d.source] for d in unrecorded) < min(fetched_anew, default=len(again))
    assert not {_rel(d.source) for d in unrecorded} & refetched
    assert not list(state.parent.glob("spool.db.spool/*"))  # spool emptied once everything was recorded


def test_a_fresh_run_on_an_existing_state_file_starts_over(site_root, tmp_path):
    root, spec = site_root
    state = tmp_path / "again.db"
    with serve_site(root, slow=SLOW) as site:
        first = _crawl(site.url, site, state, dataclasses.replace(options(), max_pages=5))
        first.crawl.close()
        second = _crawl(site.url, site, state, dataclasses.replace(options(), max_pages=5))
        assert [d.source for d in second.docs][:1] == [site.url + "/index.html"]
        assert len(list(second.crawl.recorded())) == len(second.docs) + len(second.results)
        second.crawl.close()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    import datetime as dt
    import ipaddress

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class _Page(BaseHTTPRequestHandler):
    """A handler for one-off sites: ``answer(path, headers)`` gives (status, body, extra headers)."""

    protocol_version = "HTTP/1.1"
    answer: Callable[[str, Any], tuple[int, bytes, dict[str, str]]]

    def do_GET(self) -> None:  # noqa: N802
        status, body, headers = type(self).answer(self.path, self.headers)
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _crawl_one_off(answer: Callable[[str, Any], tuple[int, bytes, dict[str, str]]], state: Path,
                   opts: CrawlOptions | None = None, tls: ssl.SSLContext | None = None) -> list[Any]:
    """Crawl a site served on 127.0.0.1 by ``answer`` from ``/index.html``; everything yielded."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Page,), {"answer": staticmethod(answer)}))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    scheme = "https" if tls is not None else "http"
    try:
        crawl = Crawl([f"{scheme}://127.0.0.1:{server.server_address[1]}/index.html"], opts or options(), state)
        items = list(crawl.documents())
        crawl.close()
    finally:
        server.shutdown()
        server.server_close()
    return items


def _paths(items: list[Any]) -> list[str]:
    return sorted(urlsplit(i.source).path for i in items if isinstance(i, Document))


@pytest.mark.parametrize("verify", [True, False])
def test_https_certificates_are_checked_unless_told_otherwise(tmp_path, verify):
    pages = {"/index.html": b'<html><body><a href="a.html">a</a></body></html>',
             "/a.html": "<html><body>公示</body></html>".encode()}
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*_self_signed(tmp_path))
    opts = dataclasses.replace(options(), verify_tls=verify, timeout=5)
    items = _crawl_one_off(lambda path, headers: (200, pages[path], {}), tmp_path / "s.db", opts, tls)
    if verify:  # a certificate nobody vouches for: refused, with the reason an officer can act on
        assert [(type(i), i.status) for i in items] == [(DocumentResult, "error")]
        assert "HTTPS 证书" in items[0].reason
    else:
        assert _paths(items) == ["/a.html", "/index.html"]


def test_large_bodies_are_streamed_to_the_spool_file_not_kept_in_memory(site_root, tmp_path, monkeypatch):
    from scanner.source.crawl import fetch

    monkeypatch.setattr(fetch, "MEMORY_BODY", 4096)  # the site's bigger files play the part of 8 MB ones
    root, _ = site_root
    spilled = 0
    with serve_site(root, slow=SLOW) as site:
        crawl = Crawl([site.url + "/index.html"], options(), tmp_path / "big.db")
        for item in crawl.documents():
            if not isinstance(item, Document):
                continue
            if item.path is not None:  # read before it is recorded (its spool file goes then)
                assert item.data is None
                body = item.read()
                assert len(body) > 4096 and hashlib.sha256(body).hexdigest() == item.meta["sha256"]
                served = root / urlsplit(item.source).path.lstrip("/")
                if served.is_file():
                    assert body == served.read_bytes()
                spilled += 1
            else:
                assert item.size <= 4096
            crawl.record(item.source, [placeholder(item)])
        crawl.close()
    assert spilled


def test_compressed_answers_are_decoded(tmp_path):
    pages = {"/index.html": '<html><body><a href="list.html">名单</a></body></html>',
             "/list.html": "<html><body><p>公示名单</p></body></html>"}

    def answer(path: str, headers: Any) -> tuple[int, bytes, dict[str, str]]:
        if path not in pages:
            return 404, b"", {}
        # as some gateways always send it
        return 200, gzip.compress(pages[path].encode("utf-8")), {"Content-Encoding": "gzip"}

    docs = {urlsplit(d.source).path: d for d in _crawl_one_off(answer, tmp_path / "gz.db") if isinstance(d, Document)}
    assert set(docs) == {"/index.html", "/list.html"}  # the link was read from the decoded page
    assert docs["/list.html"].data.decode("utf-8") == pages["/list.html"]
    assert docs["/list.html"].meta["sha256"] == hashlib.sha256(pages["/list.html"].encode("utf-8")).hexdigest()


def test_a_cookie_set_by_the_site_goes_with_later_requests(tmp_path):
    def answer(path: str, headers: Any) -> tuple[int, bytes, dict[str, str]]:
        if path == "/index.html":  # a gateway's first answer sets a session cookie
            return 200, b'<html><body><a href="a.html">a</a><a href="b.html">b</a></body></html>', {
                "Set-Cookie": "gw=ok; Path=/"}
        if "gw=ok" in (headers.get("Cookie") or ""):
            return 200, "<html><body>公示</body></html>".encode(), {}
        return 403, b"forbidden", {}

    assert _paths(_crawl_one_off(answer, tmp_path / "c.db")) == ["/a.html", "/b.html", "/index.html"]


def test_proxies_from_the_environment_are_not_used(site_root, tmp_path, monkeypatch):
    # the address guard checks the real target: a proxy would hide where requests go
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    root, _ = site_root
    with serve_site(root, slow=SLOW) as site:
        run = _crawl(site.url, site, tmp_path / "p.db", dataclasses.replace(options(), max_pages=5))
        run.crawl.close()
    assert len(run.docs) >= 3 and len(site.log) >= 5
