"""Links of a fetched page: plain HTML links and the ways Chinese government CMSs hide them.

- ``a``/``area`` ``href``, ``iframe``/``frame``/``embed`` ``src``, ``object`` ``data``;
- URLs in ``onclick``, ``window.open(...)``, ``location.href = ...`` (attributes and scripts);
- pdf.js ``viewer.html?file=`` (the file is the attachment, not the viewer);
- Hanweb ``<datastore><recordset><record><![CDATA[…]]>`` lists and their
  ``/module/web/jpage/dataproxy.jsp`` POST paging;
- TRS ``createPageHTML(count, current, "index", "html")`` (zero-based: page k is ``index_{k-1}.html``);
- Guangdong ``gkmlpt`` JSON listings (best effort).

Paging continuations are returned apart (``next_pages``): the crawler follows them only when the
current page yielded something new, which ends stub pages and endless pagers.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from selectolax.lexbor import LexborHTMLParser

from scanner.source.crawl.scope import ignored, looks_like_attachment, normalize

PAGE, FILE, PAGING = "page", "file", "paging"

_JS_URL = re.compile(
    r"""(?:window\.open|(?:window\.|document\.|self\.|top\.|parent\.)?location(?:\.href)?\s*=|"""
    r"""location\.(?:replace|assign))\s*\(?\s*(['"])([^'"\s]{1,1000}?)\1"""
)
_RECORD = re.compile(r"<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>", re.DOTALL | re.IGNORECASE)
_NEXTGROUP = re.compile(r"<nextgroup>\s*<!\[CDATA\[(.*?)\]\]>", re.DOTALL | re.IGNORECASE)
_HREF = re.compile(r"""href\s*=\s*(['"])(.*?)\1""", re.IGNORECASE | re.DOTALL)
_PER_PAGE = re.compile(r"""perPage\s*[:=]\s*['"]?(\d+)""", re.IGNORECASE)
_GROUP = re.compile(r"""groupSize\s*[:=]\s*['"]?(\d+)""", re.IGNORECASE)
_TOTAL = re.compile(r"""(?:totalRecord\s*[:=]\s*['"]?|<totalrecord>\s*)(\d+)""", re.IGNORECASE)
_PAGER = re.compile(r"createPageHTML\s*\(([^)]{0,300})\)")
_GKML_SID = re.compile(r"""\bSID\s*[:=]\s*['"]?(\w+)""")
_JSON_URL_KEY = re.compile(r"url|link|href|file|path|src|download", re.IGNORECASE)
_DATAPROXY = "dataproxy.jsp"


@dataclass(slots=True)
class Link:
    """A normalised URL to fetch, how (GET, or POST with a form body) and what it probably is."""

    url: str
    kind: str = PAGE
    method: str = "GET"
    body: str | None = None


@dataclass
class Extracted:
    """Links of one page; ``next_pages`` are followed only if ``links`` brought something new."""

    links: list[Link] = field(default_factory=list)
    next_pages: list[Link] = field(default_factory=list)


def extract(text: str, url: str, content_type: str | None = None, body: str | None = None) -> Extracted:
    """Links of the page ``url`` (already decoded to ``text``); ``body`` is the POST form that fetched it."""
    out = Extracted()
    seen: set[tuple[str, str | None]] = set()
    stripped = text.lstrip()[:1]
    if "json" in (content_type or "") or stripped in ("{", "["):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if data is not None:
            _json_links(data, url, out, seen)
            return out
    base = _html_links(text, url, out, seen)
    if "location" in text or "window.open" in text:  # in every match: a scan for them is ~50× cheaper
        for m in _JS_URL.finditer(text):
            _add(out, seen, html.unescape(m.group(2)), base)
    records = _RECORD.findall(text)
    if records:
        _html_links("\n".join(records), base, out, seen)
    _hanweb_paging(text, url, body, len(records), out)
    _trs_paging(text, url, out)
    if "/gkmlpt/" in urlsplit(url).path:
        m = _GKML_SID.search(text)
        if m:
            api = normalize(f"/gkmlpt/api/all/0?page=1&sid={m.group(1)}", url)
            if api:
                out.next_pages.append(Link(api, PAGING))
    return out


def _add(out: Extracted, seen: set[tuple[str, str | None]], href: str, base: str, kind: str | None = None) -> None:
    resolved = _resolve(href, base)
    if resolved is None:
        return
    url, guessed = resolved
    if kind is None or guessed == FILE:  # a pdf.js viewer's file is an attachment whatever embeds it
        kind = guessed
    if (url, None) not in seen:
        seen.add((url, None))
        out.links.append(Link(url, kind))


def _resolve(href: str, base: str) -> tuple[str, str] | None:
    """``href`` on the page ``base``, normalised, with its kind guessed; None when not followed.

    Sites repeat the same relative links (home, list, pager) on every page of a column, so the
    work is cached by (href, the base's directory) whenever that is all the result depends on.
    """
    href = href.strip()
    if href[:1] in ("?", "#", ";", "") or "?" in base or "#" in base or ";" in base or base.count("/") < 3:
        return _resolve_uncached(href, base)
    return _resolve_in(href, base[: base.rfind("/") + 1])


@lru_cache(maxsize=8192)
def _resolve_in(href: str, directory: str) -> tuple[str, str] | None:
    if _PLAIN_HREF.fullmatch(href):
        # A relative path of plain segments on a normalised page: joining is concatenation and
        # normalising would change nothing (most links of a list page; normalize is the slow part).
        return _kind_of(directory + href if href[0] != "/" else directory[:directory.index("/", 8)] + href)
    return _resolve_uncached(href, directory)


#: Path segments of letters, digits, ``_``, ``-`` and ``.`` that do not start with a dot (so no
#: ``.``/``..`` segments), optionally from the root: no query, fragment, escape or session part.
_PLAIN_HREF = re.compile(r"/?[A-Za-z0-9_\-][A-Za-z0-9_.\-]*(?:/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)*/?")


def _resolve_uncached(href: str, base: str) -> tuple[str, str] | None:
    url = normalize(href, base)
    return None if url is None else _kind_of(url)


def _kind_of(url: str) -> tuple[str, str] | None:
    if ignored(url):
        return None
    parts = urlsplit(url)
    path = parts.path.lower()
    if path.endswith("viewer.html") or "/pdfjs/" in path:
        files = [v for k, v in parse_qsl(parts.query) if k == "file"]
        if files:
            target = normalize(unquote(files[0]), url)
            return (target, FILE) if target else None
    return url, FILE if looks_like_attachment(url) else PAGE


_LINK_ATTRS = {"a": ("href", None), "area": ("href", None), "iframe": ("src", None), "frame": ("src", None),
               "embed": ("src", FILE), "object": ("data", FILE)}
_LINK_QUERY = "a[href], area[href], iframe[src], frame[src], embed[src], object[data]"


def _html_links(text: str, url: str, out: Extracted, seen: set[tuple[str, str | None]]) -> str:
    tree = LexborHTMLParser(text)
    base = url
    if "<base" in text or "<BASE" in text:
        node = tree.css_first("base[href]")
        if node is not None:
            base = normalize(node.attributes.get("href") or "", url) or url
    found: dict[str, list[str]] = {}
    for node in tree.css(_LINK_QUERY):  # one pass over the tree, document order within each tag group
        tag = node.tag
        attr = _LINK_ATTRS.get(tag)
        if attr is not None:
            found.setdefault("a" if tag == "area" else "iframe" if tag == "frame" else tag, []).append(
                node.attrs.get(attr[0]) or "")
    for tag in ("a", "iframe", "embed", "object"):
        for href in found.get(tag, ()):
            _add(out, seen, href, base, _LINK_ATTRS[tag][1])
    return base


def _hanweb_paging(text: str, url: str, body: str | None, records: int, out: Extracted) -> None:
    """The next ``dataproxy.jsp`` POST of a Hanweb list (the list page's, or the previous batch's)."""
    if not records:
        return  # neither a Hanweb list page nor a batch of one
    total_m = _TOTAL.search(text)
    total = int(total_m.group(1)) if total_m else None
    parts = urlsplit(url)
    if parts.path.endswith(_DATAPROXY):
        if body is None:
            return
        q = dict(parse_qsl(parts.query))
        try:
            start, end, per = int(q["startrecord"]), int(q["endrecord"]), int(q.get("perpage", 15))
        except (KeyError, ValueError):
            return
        size = end - start + 1
        if size <= 0 or (total is not None and end >= total):
            return
        nxt = _proxy_url(url.split("?", 1)[0], end + 1, end + size, per)
        if nxt:
            out.next_pages.append(Link(nxt, PAGING, "POST", body))
        return
    m = _NEXTGROUP.search(text)
    href = _HREF.search(m.group(1)) if m else None
    if href is None:
        return
    proxy = normalize(html.unescape(href.group(2)), url)
    if proxy is None or not urlsplit(proxy).path.endswith(_DATAPROXY):
        return
    params = [(k, v) for k, v in parse_qsl(urlsplit(proxy).query, keep_blank_values=True) if k != "page"]
    if not any(k == "col" for k, _ in params):
        params.insert(0, ("col", "1"))
    per = int(_PER_PAGE.search(text).group(1)) if _PER_PAGE.search(text) else 15
    group = int(_GROUP.search(text).group(1)) if _GROUP.search(text) else 3
    size = max(per * group, 1)
    if total is not None and records >= total:
        return
    nxt = _proxy_url(proxy.split("?", 1)[0], records + 1, records + size, per)
    if nxt:
        out.next_pages.append(Link(nxt, PAGING, "POST", urlencode(sorted(params))))


def _proxy_url(proxy: str, start: int, end: int, per: int) -> str | None:
    return normalize(f"{proxy}?startrecord={start}&endrecord={end}&perpage={per}")


def _trs_paging(text: str, url: str, out: Extracted) -> None:
    m = _PAGER.search(text)
    if not m:
        return
    args = [a.strip().strip("'\"") for a in m.group(1).split(",")]
    numbers = [i for i, a in enumerate(args) if a.isdigit()]
    if len(numbers) < 2:
        return
    count, current = int(args[numbers[0]]), int(args[numbers[1]])
    names = [a for a in args[numbers[1] + 1:] if a and not a.isdigit()]
    prefix = names[0] if names else "index"
    ext = names[1] if len(names) > 1 else "html"
    if current + 1 < count:
        nxt = normalize(f"{prefix}_{current + 1}.{ext}", url)
        if nxt:
            out.next_pages.append(Link(nxt, PAGING))


def _json_links(data: Any, url: str, out: Extracted, seen: set[tuple[str, str | None]]) -> None:
    stack: list[tuple[str, Any]] = [("", data)]
    articles = 0
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.items())
        elif isinstance(value, list):
            if key in ("articles", "list", "data", "records", "rows", "items"):
                articles = max(articles, len(value))
            stack.extend((key, v) for v in value)
        elif isinstance(value, str) and _JSON_URL_KEY.search(key):
            v = value.strip()
            if v.startswith(("http://", "https://", "/", "./", "../")) and len(v) > 1:
                _add(out, seen, v, url)
    parts = urlsplit(url)
    if "/gkmlpt/api/" in parts.path and out.links:
        q = dict(parse_qsl(parts.query))
        if q.get("page", "").isdigit():
            page = int(q["page"])
            total = data.get("total") if isinstance(data, dict) else None
            if isinstance(total, int) and articles and page * articles >= total:
                return
            q["page"] = str(page + 1)
            nxt = normalize(f"{parts.path}?{urlencode(sorted(q.items()))}", url)
            if nxt:
                out.next_pages.append(Link(nxt, PAGING))
