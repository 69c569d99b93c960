"""Crawler parts on their own: URL normalisation, traps, link discovery, decoding, file names, state."""

from __future__ import annotations

import dataclasses
import json

import pytest

from scanner.model import DocumentResult, Finding
from scanner.source.crawl.charset import decode_page
from scanner.source.crawl.fetch import content_disposition_name, retry_after
from scanner.source.crawl.links import FILE, PAGE, PAGING, extract
from scanner.source.crawl.scope import AddressGuard, Scope, address_blocked, normalize, trap_reason
from scanner.source.crawl.state import result_from_json, result_to_json

BASE = "http://www.qingshan.gov.cn/xxgk/index.html"


@pytest.mark.parametrize(("raw", "expected"), [
    ("HTTP://WWW.Qingshan.gov.cn:80/a/b.html#frag", "http://www.qingshan.gov.cn/a/b.html"),
    ("/a/list.jsp?z=1&a=2", "http://www.qingshan.gov.cn/a/list.jsp?a=2&z=1"),
    ("/a/list.jsp;jsessionid=0A1B2C?page=2", "http://www.qingshan.gov.cn/a/list.jsp?page=2"),
    ("/a/list.jsp?page=2&JSESSIONID=xyz&_=171234", "http://www.qingshan.gov.cn/a/list.jsp?page=2"),
    ("../202312/t1.html", "http://www.qingshan.gov.cn/202312/t1.html"),
    ("./附件/名单.xls", "http://www.qingshan.gov.cn/xxgk/%E9%99%84%E4%BB%B6/%E5%90%8D%E5%8D%95.xls"),
    ("javascript:void(0)", None),
    ("mailto:a@b.cn", None),
    ("ftp://x/y", None),
])
def test_normalize(raw, expected):
    assert normalize(raw, BASE) == expected


def test_trap_heuristics():
    assert trap_reason("http://h/cal.jsp?year=2024&month=5") is None
    assert "日历" in trap_reason("http://h/cal.jsp?year=1900&month=5")
    assert "日历" in trap_reason("http://h/cal.jsp?date=2150-01-01")
    assert "日历" in trap_reason("http://h/events/2099/05/", this_year=2026)
    assert "重复" in trap_reason("http://h/a/b/a/b/a/b/c.html")
    assert trap_reason("http://h/xxgk/202312/t20231201_1003.html") is None
    assert trap_reason("http://h/art.jsp?id=20231201") is None


def test_scope_prefix_file_hosts_and_www_twin():
    scope = Scope.from_starts(["http://qingshan.gov.cn/xxgk/index.html"], ("files.qingshan.gov.cn",))
    assert scope.page_in_scope("http://qingshan.gov.cn/xxgk/2023/t1.html")
    assert scope.page_in_scope("http://www.qingshan.gov.cn/xxgk/t1.html")
    assert not scope.page_in_scope("http://qingshan.gov.cn/other/t1.html")
    assert scope.file_in_scope("http://qingshan.gov.cn/module/download/downfile.jsp?id=1")
    assert scope.file_in_scope("http://files.qingshan.gov.cn/a.pdf")
    assert not scope.file_in_scope("http://evil.example.com/a.pdf")


def test_private_addresses():
    for ip in ("127.0.0.1", "10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.169.254", "::1", "fe80::1",
               "::ffff:10.0.0.1", "0.0.0.0", "100.64.0.1"):
        assert address_blocked(ip), ip
    assert not address_blocked("202.96.134.133")
    guard = AddressGuard(allow_private=False)
    assert "内网" in guard.refusal("http://127.0.0.1:8000/")
    assert "内网" in guard.refusal("http://localhost/")
    assert guard.refusal("http://10.0.0.5/") is not None
    assert AddressGuard(allow_private=True).refusal("http://10.0.0.5/") is None
    assert AddressGuard(False, ("127.0.0.1",)).refusal("http://127.0.0.1:9/") is None
    # the address a connection actually reached
    assert "内网" in guard.peer_refusal("site.gov.cn", "10.0.0.5")
    assert guard.peer_refusal("site.gov.cn", "202.96.134.133") is None
    allowed = AddressGuard(False, ("[::1]:8080", "intranet.local:9000"))
    assert allowed.peer_refusal("::1", "::1") is None and allowed.peer_refusal("intranet.local", "10.0.0.5") is None


def _urls(links):
    return [(link.url, link.kind) for link in links]


def test_html_links_scripts_and_viewer():
    page = """<html><head><base href="http://www.qingshan.gov.cn/xxgk/"></head><body>
    <a href="202312/t1.html">t1</a> <a href="202312/P1.pdf">pdf</a> <a href="#top">top</a>
    <area href="map.html"><iframe src="frame.html"></iframe><embed src="doc/a.swf"><object data="doc/b.pdf"></object>
    <a href="javascript:void(0)" onclick="window.open('/xxgk/open.html','_blank')">o</a>
    <a href="javascript:;" onclick="location.href='/xxgk/loc.html'">l</a>
    <script>function go(){ window.location = "/xxgk/go.html"; }</script>
    <a href="/pdfjs/web/viewer.html?file=%2Fxxgk%2Fdoc%2Fc.pdf">preview</a>
    <link rel="stylesheet" href="/a.css"><img src="/a.png"><a href="/b.jpg">img</a>
    </body></html>"""
    got = _urls(extract(page, BASE).links)
    root = "http://www.qingshan.gov.cn/xxgk/"
    assert (root + "202312/t1.html", PAGE) in got
    assert (root + "202312/P1.pdf", FILE) in got
    assert (root + "map.html", PAGE) in got and (root + "frame.html", PAGE) in got
    assert (root + "doc/b.pdf", FILE) in got
    assert (root + "open.html", PAGE) in got and (root + "loc.html", PAGE) in got and (root + "go.html", PAGE) in got
    assert (root + "doc/c.pdf", FILE) in got
    assert not any("viewer.html" in u or u.endswith((".css", ".png", ".jpg", ".swf")) for u, _ in got)


@pytest.mark.parametrize("href", ["t1.html", "202312/P1.PDF", "/xxgk/a_b-c.htm", "a/", "x.css", "download",
                                  "pdfjs/web/viewer.html", "../up.html", "./here.html", "a//b.html", "//cdn.x.cn/a.js",
                                  "a b.html", "a.html?x=1", "%7Euser/", ";jsessionid=1", "/(S(abc))/a.html", "/"])
@pytest.mark.parametrize("directory", ["http://www.qingshan.gov.cn/xxgk/", "https://b.gov.cn:8443/p/q/"])
def test_plain_relative_links_take_the_short_way_to_the_same_url(href, directory):
    from scanner.source.crawl.links import _resolve_in, _resolve_uncached

    assert _resolve_in(href, directory) == _resolve_uncached(href, directory)


def test_trs_paging_is_zero_based():
    url = "http://h/xxgk/index.html"
    out = extract('<script>createPageHTML(5, 0, "index", "html");</script>', url)
    assert _urls(out.next_pages) == [("http://h/xxgk/index_1.html", PAGING)]
    out = extract("<script>createPageHTML('page_div',5, 3,'index','shtml',100);</script>", "http://h/xxgk/index_3.shtml")
    assert _urls(out.next_pages) == [("http://h/xxgk/index_4.shtml", PAGING)]
    assert extract('<script>createPageHTML(5, 4, "index", "html");</script>', url).next_pages == []


def test_hanweb_datastore_and_dataproxy_paging():
    records = "".join(f'<record><![CDATA[<li><a href="/art/2023/12/1/art_9_{i}.html">{i}</a></li>]]></record>'
                      for i in range(45))
    page = ('<div id="9"><script type="text/xml"><datastore><nextgroup><![CDATA[<a href="/module/web/jpage/'
            'dataproxy.jsp?page=1&appid=1&webid=2&path=/&columnid=9&unitid=3&webname=x&permissiontype=0"></a>]]>'
            f"</nextgroup><recordset>{records}</recordset></datastore></script></div>"
            "<script>$('#9').jpage({perPage:15,groupSize:3,totalRecord:200});</script>")
    out = extract(page, "http://h/col/col9/index.html")
    assert len(out.links) == 45 and out.links[0].url == "http://h/art/2023/12/1/art_9_0.html"
    (nxt,) = out.next_pages
    assert nxt.method == "POST" and nxt.url == ("http://h/module/web/jpage/dataproxy.jsp"
                                                "?endrecord=90&perpage=15&startrecord=46")
    assert "columnid=9" in nxt.body and "col=1" in nxt.body and "page=" not in nxt.body
    reply = (f'<?xml version="1.0"?><datastore><totalrecord>100</totalrecord><recordset>{records}</recordset>'
             "</datastore>")
    out = extract(reply, nxt.url, "text/xml", nxt.body)
    assert out.next_pages[0].url.endswith("endrecord=135&perpage=15&startrecord=91")
    last = extract(reply, out.next_pages[0].url, "text/xml", nxt.body)
    assert last.next_pages == []  # 135 ≥ total 100


def test_gkmlpt_json_listing():
    listing = {"articles": [{"title": "公示", "url": "http://h/gkmlpt/content/1/1001/post_1001.html",
                             "attachment": [{"name": "名单.xls", "file_url": "/attachment/0/1/1/a.xls"}]}],
               "total": 40}
    out = extract(json.dumps(listing, ensure_ascii=False), "http://h/gkmlpt/api/all/0?page=1&sid=2",
                  "application/json")
    assert ("http://h/gkmlpt/content/1/1001/post_1001.html", PAGE) in _urls(out.links)
    assert ("http://h/attachment/0/1/1/a.xls", FILE) in _urls(out.links)
    assert out.next_pages[0].url == "http://h/gkmlpt/api/all/0?page=2&sid=2"
    index = extract("<script>window._CONFIG = {SID: '2', TYPE: 'index'};</script>", "http://h/gkmlpt/index")
    assert index.next_pages[0].url == "http://h/gkmlpt/api/all/0?page=1&sid=2"


def test_decode_page_charsets():
    text = "<html><body>青山县 镕 皖A·12345</body></html>"
    gbk = text.encode("gb18030")
    assert decode_page(gbk, "text/html") == text  # no charset anywhere
    assert decode_page(gbk, "text/html; charset=utf-8") == text  # wrong header: re-decoded
    assert decode_page(b'<meta charset="gb2312">' + gbk, None).endswith(text)  # gb2312 read as gb18030
    assert decode_page("\ufeff".encode() + text.encode(), "text/html; charset=gbk") == text  # BOM wins


def test_content_disposition_names():
    assert content_disposition_name("attachment; filename*=UTF-8''%E5%90%8D%E5%8D%95.xls") == "名单.xls"
    assert content_disposition_name('attachment; filename="a.xls"; filename*=utf-8\'\'%E5%90%8D.xls') == "名.xls"
    raw_gbk = "名单（第一批）.xlsx".encode("gbk").decode("latin-1")
    assert content_disposition_name(f'attachment; filename="{raw_gbk}"') == "名单（第一批）.xlsx"
    raw_utf8 = "名单.pdf".encode().decode("latin-1")
    assert content_disposition_name(f"attachment; filename={raw_utf8}") == "名单.pdf"
    assert content_disposition_name('attachment; filename="%E5%90%8D%E5%8D%95.doc"') == "名单.doc"
    assert content_disposition_name('inline; filename="..\\..\\x.pdf"') == "x.pdf"
    assert content_disposition_name(None) == ""


def test_retry_after():
    assert retry_after("3") == 3.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after("soon") is None


def test_result_serialisation_round_trip():
    f = Finding(entity="CN_MOBILE", rule="cn-mobile", source="http://h/a.xls", parent="http://h/p.html",
                location={"sheet": "Sheet1", "cell": "C5", "start": 0, "end": 11}, masked="138****5678",
                fingerprint="ab" * 32, exposure="unmasked", severity="high", confidence=0.9, context="电话 138****5678",
                remediation="隐藏", extra={"audit": "persisting"})
    r = DocumentResult(source="http://h/a.xls", parent="http://h/p.html", kind="xlsx", status="scanned",
                       findings=[f], meta={"title": "名单"})
    assert result_from_json(result_to_json(r)) == r
    member = dataclasses.replace(f, source="http://h/a.zip#名单.xls", parent="http://h/a.zip")
    mixed = dataclasses.replace(r, findings=[f, member])
    assert result_from_json(result_to_json(mixed)) == mixed  # a finding's own source/parent survive


def test_results_of_earlier_state_files_still_read():
    legacy = json.dumps({"source": "http://h/p.html", "parent": None, "kind": "html", "status": "error",
                         "reason": "服务器错误（HTTP 500）", "meta": {}, "findings": []}, ensure_ascii=False)
    r = result_from_json(legacy)
    assert (r.source, r.status, r.reason, r.findings) == ("http://h/p.html", "error", "服务器错误（HTTP 500）", [])
