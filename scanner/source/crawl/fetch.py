"""One HTTP fetch with politeness and resilience: robots.txt, retries with backoff, a streamed size
cap, manual redirects checked hop by hop, WAF detection, attachment file names.

Runs in worker threads; each thread has its own pooled ``requests.Session``.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from protego import Protego
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from scanner import __version__
from scanner.source.crawl.charset import decode_page
from scanner.source.crawl.links import FILE, Extracted, extract
from scanner.source.crawl.options import CrawlOptions
from scanner.source.crawl.scope import AddressGuard, Scope, name_from_url, normalize

#: Bodies up to this size stay in memory; larger ones are read from their spool file.
MEMORY_BODY = 8 * 2**20
_REDIRECTS = (301, 302, 303, 307, 308)
_WAF = (412, 521)
_RETRY = (429, 500, 502, 503, 504, 520, 522, 523, 524)
_PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/xml", "application/xml", "application/json", "text/json")
_HTML_SNIFF = re.compile(rb"^\s*(?:<!doctype\s+html|<html|<head|<\?xml[^>]*>\s*<datastore|<datastore)", re.IGNORECASE)
_CD_STAR = re.compile(r"""filename\*\s*=\s*([\w\-]+)'[^']*'([^;]+)""", re.IGNORECASE)
_CD_PLAIN = re.compile(r"""filename\s*=\s*("([^"]*)"|[^;]+)""", re.IGNORECASE)


@dataclass(slots=True)
class Task:
    """A URL handed to a worker."""

    id: int
    url: str
    kind: str
    depth: int
    parent: str | None
    method: str = "GET"
    body: str | None = None
    previous: dict[str, Any] | None = None
    follow: bool = True  # read the page's links


@dataclass
class Outcome:
    """What a worker brings back for one task."""

    task: Task
    status: str  # "ok" | "unchanged" | "error" | "skipped" | "duplicate"
    reason: str | None = None
    final_url: str | None = None
    data: bytes | None = None
    spool: Path | None = None  # the body, on disk (always written when status is ok/unchanged)
    size: int = 0
    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    name: str = ""
    is_page: bool = False
    extracted: Extracted = field(default_factory=Extracted)
    requests: int = 0
    http_status: int | None = None  # of a failed answer (404/410 tell the audit history a page is gone)


class _Failure(Exception):
    def __init__(self, status: str, reason: str, http_status: int | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.http_status = status, reason, http_status


class _GuardedAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose connections check the address they actually reached with the guard, so a
    name that resolves to a public address for the check and a private one for the fetch is caught."""

    def __init__(self, guard: AddressGuard, **kwargs: Any) -> None:
        self._guard = guard  # before super().__init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _guarded_pool(HTTPConnectionPool, HTTPConnection, self._guard),
            "https": _guarded_pool(HTTPSConnectionPool, HTTPSConnection, self._guard),
        }


def _guarded_pool(pool: type[Any], connection: type[Any], guard: AddressGuard) -> type[Any]:
    class Connection(connection):  # type: ignore[misc,valid-type]
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            try:
                address = sock.getpeername()[0]
            except OSError:
                return sock
            reason = guard.peer_refusal(self.host, address)
            if reason:
                sock.close()
                raise _Failure("skipped", reason)
            return sock

    return type(pool.__name__, (pool,), {"ConnectionCls": Connection})


class Fetcher:
    """Shared by the worker threads: robots cache, address guard, scope, per-thread sessions."""

    def __init__(self, options: CrawlOptions, scope: Scope, guard: AddressGuard, spool_dir: Path,
                 claim: Callable[[str], bool]) -> None:
        self.options = options
        self.scope = scope
        self.guard = guard
        self.spool_dir = spool_dir
        self.claim = claim
        contact = f" (+{options.contact})" if options.contact else ""
        self.user_agent = f"leakscan/{__version__}{contact}"
        self._local = threading.local()
        self._robots: dict[str, Protego | None] = {}
        self._robot_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.stopped = threading.Event()

    # -- sessions and robots -------------------------------------------------------------------

    def session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["User-Agent"] = self.user_agent
            s.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
            s.trust_env = False  # no proxies from the environment: the address guard checks the real target
            adapter = _GuardedAdapter(self.guard, pool_connections=8, pool_maxsize=max(2, self.options.per_host))
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            self._local.session = s
        return s

    def robots(self, url: str) -> Protego | None:
        """The parsed robots.txt of ``url``'s origin (None: everything allowed). Fetched once per origin."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            if origin in self._robots:
                return self._robots[origin]
            lock = self._robot_locks.setdefault(origin, threading.Lock())
        with lock:
            with self._lock:
                if origin in self._robots:
                    return self._robots[origin]
            parsed: Protego | None = None
            try:
                # No redirects: the address guard has approved this origin only.
                r = self.session().get(origin + "/robots.txt", timeout=self.options.timeout, allow_redirects=False,
                                       verify=self.options.verify_tls)
                if r.status_code == 200 and len(r.content) < 512 * 1024:
                    parsed = Protego.parse(r.content.decode("utf-8", errors="replace"))
            except requests.RequestException:
                parsed = None
            with self._lock:
                self._robots[origin] = parsed
            return parsed

    def crawl_delay(self, url: str) -> float:
        """The robots.txt Crawl-delay for us (capped at 30 s), or 0."""
        parsed = self._robots.get(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}")
        if parsed is None:
            return 0.0
        delay = parsed.crawl_delay(self.user_agent)
        return min(float(delay), 30.0) if delay else 0.0

    # -- the fetch -----------------------------------------------------------------------------

    def fetch(self, task: Task) -> Outcome:
        """Fetch ``task`` (never raises for network or HTTP trouble: returns an error outcome)."""
        out = Outcome(task, "ok")
        try:
            self._fetch(task, out)
        except _Failure as failure:
            out.status, out.reason, out.http_status = failure.status, failure.reason, failure.http_status
            out.data = None
        return out

    def _fetch(self, task: Task, out: Outcome) -> None:
        opts = self.options
        url = task.url
        seen = [url]
        method, body = task.method, task.body
        while True:
            reason = self.guard.refusal(url)
            if reason:
                raise _Failure("skipped", reason)
            if not opts.ignore_robots:
                robots = self.robots(url)
                if robots is not None and not robots.can_fetch(url, self.user_agent):
                    raise _Failure("skipped", "robots.txt 禁止抓取此地址（审计已获书面授权时可使用 --ignore-robots）")
            response = self._request(method, url, body, task, out)
            if response.status_code in _REDIRECTS and response.headers.get("Location"):
                response.close()
                target = normalize(response.headers["Location"], url)
                if target is None:
                    raise _Failure("error", "重定向地址无效")
                if target in seen:
                    raise _Failure("error", "重定向循环，无法打开")
                if len(seen) > 10:
                    raise _Failure("error", "重定向次数过多（超过 10 次）")
                on_site = self.scope.on_site(target) or (task.kind == FILE and self.scope.file_in_scope(target))
                if not on_site:
                    if task.depth == 0 and urlsplit(target).hostname:
                        self.scope.add_start(target)  # a start URL that moved: its new home is the site
                    else:
                        raise _Failure("skipped", "重定向到抓取范围以外的网站，未跟随")
                if not self.claim(target):
                    raise _Failure("duplicate", "")
                seen.append(target)
                url = target
                if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                    method, body = "GET", None
                continue
            break
        out.final_url = url
        status = response.status_code
        if status == 304 and task.previous:
            response.close()
            out.status = "unchanged"
            out.sha256 = task.previous.get("sha256")
            out.etag = task.previous.get("etag")
            out.last_modified = task.previous.get("last_modified")
            out.data = b""
            return
        if status in _WAF:
            response.close()
            raise _Failure("error", f"被网站防火墙拦截（HTTP {status}）")
        if status >= 400:
            response.close()
            raise _Failure("error", _http_reason(status, out.requests), http_status=status)
        if status != 200 and status != 203:
            response.close()
            raise _Failure("error", f"无法处理的应答（HTTP {status}）")
        headers = response.headers
        out.content_type = headers.get("Content-Type")
        out.etag = headers.get("ETag")
        out.last_modified = headers.get("Last-Modified")
        out.name = content_disposition_name(headers.get("Content-Disposition")) or name_from_url(url)
        self._read_body(response, task, out)
        ctype = (out.content_type or "").split(";")[0].strip().lower()
        disposition = (headers.get("Content-Disposition") or "").lower().startswith("attachment")
        head = out.data[:512] if out.data is not None else b""
        out.is_page = not disposition and (ctype in _PAGE_TYPES or (not ctype or ctype == "application/octet-stream")
                                          and bool(_HTML_SNIFF.match(head)))
        if task.previous and out.sha256 and out.sha256 == task.previous.get("sha256"):
            out.status = "unchanged"
        if out.is_page and task.follow and out.data is not None:
            text = decode_page(out.data, out.content_type)
            out.extracted = extract(text, url, out.content_type, body if method == "POST" else None)

    def _request(self, method: str, url: str, body: str | None, task: Task, out: Outcome) -> requests.Response:
        opts = self.options
        headers: dict[str, str] = {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"
        if task.previous and task.kind == FILE:
            if task.previous.get("etag"):
                headers["If-None-Match"] = task.previous["etag"]
            if task.previous.get("last_modified"):
                headers["If-Modified-Since"] = task.previous["last_modified"]
        attempt = 0
        while True:
            if self.stopped.is_set():
                raise _Failure("error", "抓取已中止")
            out.requests += 1
            try:
                r = self._send(method, url, body, headers)
            except requests.Timeout:
                failure = _Failure("error", f"请求超时（{opts.timeout:g} 秒内无应答）"
                                   + (f"，重试 {attempt} 次后仍失败" if attempt else ""))
                wait = None
            except requests.ConnectionError as exc:
                failure = _Failure("error", _connection_reason(exc, attempt))
                wait = None
            except requests.RequestException:
                raise _Failure("error", "请求失败（地址或应答格式无效）") from None
            else:
                if r.status_code not in _RETRY:
                    return r
                wait = retry_after(r.headers.get("Retry-After"))
                failure = _Failure("error", _http_reason(r.status_code, attempt))
                r.close()
            if attempt >= opts.retries:
                raise failure
            attempt += 1
            delay = opts.backoff * (2 ** (attempt - 1))
            if wait is not None:
                delay = min(max(wait, delay), opts.max_retry_after)
            if self.stopped.wait(delay):
                raise failure

    def _send(self, method: str, url: str, body: str | None, headers: dict[str, str]) -> requests.Response:
        # Prepared and sent directly: Session.request's per-call merging of settings costs a third
        # of a request's CPU on a fast site; the session's headers and cookies still go with it.
        s = self.session()
        req = requests.PreparedRequest()
        req.prepare(method=method, url=url, headers={**s.headers, **headers} if headers else s.headers, data=body,
                    cookies=s.cookies if len(s.cookies) else None)
        return s.send(req, timeout=self.options.timeout, allow_redirects=False, stream=True,
                      verify=self.options.verify_tls)

    def _read_body(self, response: requests.Response, task: Task, out: Outcome) -> None:
        opts = self.options
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > opts.max_bytes:
            response.close()
            raise _Failure("skipped", f"文件过大（{_mb(int(length))}，超过 {_mb(opts.max_bytes)} 上限），未下载")
        digest = hashlib.sha256()
        spool = self.spool_dir / str(task.id)
        buf = bytearray()
        fh = None
        size = 0
        deadline = time.monotonic() + opts.total_timeout
        try:
            for chunk in response.iter_content(65536):
                size += len(chunk)
                if size > opts.max_bytes:
                    raise _Failure("skipped", f"文件过大（超过 {_mb(opts.max_bytes)} 上限），已停止下载")
                if time.monotonic() > deadline or self.stopped.is_set():
                    raise _Failure("error", f"下载超时（{opts.total_timeout:g} 秒内未完成）")
                digest.update(chunk)
                if fh is not None:
                    fh.write(chunk)
                else:
                    buf += chunk
                    if len(buf) > MEMORY_BODY:
                        fh = spool.open("wb")
                        fh.write(buf)
                        buf = bytearray()
        except requests.RequestException:
            raise _Failure("error", "下载中断（连接断开或超时）") from None
        except _Failure:
            if fh is not None:
                fh.close()
                spool.unlink(missing_ok=True)
            raise
        finally:
            response.close()
        if fh is not None:
            fh.close()
            out.data = None
        else:
            out.data = bytes(buf)
            # No temporary name needed: the state file points at the spool only once this returns.
            spool.write_bytes(out.data)
        out.spool = spool
        out.size = size
        out.sha256 = digest.hexdigest()


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def content_disposition_name(value: str | None) -> str:
    """The file name of a ``Content-Disposition`` header: RFC 5987 ``filename*``, a percent-encoded
    name, or raw UTF-8/GBK bytes (which ``http.client`` hands over as Latin-1)."""
    if not value:
        return ""
    m = _CD_STAR.search(value)
    if m:
        charset = m.group(1).lower()
        try:
            return _clean_name(unquote(m.group(2).strip().strip('"'), encoding="gb18030" if "gb" in charset else
                                       charset, errors="strict"))
        except (LookupError, UnicodeDecodeError):
            pass
    m = _CD_PLAIN.search(value)
    if not m:
        return ""
    raw = m.group(2) if m.group(2) is not None else m.group(1).strip()
    try:
        raw_bytes = raw.encode("latin-1")
    except UnicodeEncodeError:
        return _clean_name(raw)  # already real characters
    for enc in ("utf-8", "gb18030"):
        try:
            name = raw_bytes.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        name = raw
    if "%" in name:
        for enc in ("utf-8", "gb18030"):
            try:
                name = unquote(name, encoding=enc, errors="strict")
                break
            except UnicodeDecodeError:
                continue
    return _clean_name(name)


def _clean_name(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip().strip('"')


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n < 10 * 2**20 else f"{n // 2**20} MB"


def _http_reason(status: int, attempts: int) -> str:
    names = {403: "禁止访问", 404: "页面不存在", 410: "页面已删除", 401: "需要登录", 429: "请求过于频繁，被网站限流"}
    if status in names:
        text = f"{names[status]}（HTTP {status}）"
    elif status >= 500:
        text = f"服务器错误（HTTP {status}）"
    else:
        text = f"HTTP {status} 错误"
    if status in _RETRY and attempts:
        text += f"，重试 {attempts} 次后仍失败"
    return text


def _connection_reason(exc: Exception, attempts: int) -> str:
    text = str(exc)
    if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
        reason = "域名无法解析"
    elif "refused" in text.lower():
        reason = "连接被拒绝"
    elif "SSL" in text or "certificate" in text.lower():
        reason = "HTTPS 证书或加密连接错误"
    else:
        reason = "网络连接失败"
    return reason + (f"，重试 {attempts} 次后仍失败" if attempts else "")
