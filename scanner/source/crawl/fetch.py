"""HTTP fetching with politeness and resilience: robots.txt, retries with backoff, a streamed size
cap, manual redirects checked hop by hop, WAF detection, attachment file names.

Every transfer of a crawl runs on one thread, through libcurl's multi interface (pycurl); see
:class:`Fetcher`.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import heapq
import itertools
import logging
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

import pycurl
from protego import Protego

from scanner import __version__
from scanner.source.crawl.charset import decode_page
from scanner.source.crawl.links import FILE, Extracted, extract
from scanner.source.crawl.options import CrawlOptions
from scanner.source.crawl.scope import AddressGuard, Scope, name_from_url, normalize

try:  # the CA bundle requests would use; libcurl's built-in default path may not exist on this system
    import certifi

    _CA_BUNDLE: str | None = certifi.where()
except ImportError:  # pragma: no cover
    _CA_BUNDLE = None

log = logging.getLogger(__name__)

#: Bodies up to this size stay in memory; larger ones are read from their spool file.
MEMORY_BODY = 8 * 2**20
_ROBOTS_CAP = 512 * 1024 - 1
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
    spool: Path | None = None  # a body larger than MEMORY_BODY, on disk (``data`` is None then)
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


# -- what a task's steps ask of the loop -------------------------------------------------------------


@dataclass(slots=True)
class _Get:
    """Perform one HTTP request; the loop sends back its :class:`_Transfer`."""

    method: str
    url: str
    body: str | None
    headers: list[str]
    cap: int  # bytes of a 200 answer's body, at most
    spool: Path | None  # where a body larger than MEMORY_BODY goes (None: keep it in memory)


@dataclass(slots=True)
class _Sleep:
    """Resume after ``seconds``."""

    seconds: float


@dataclass(slots=True)
class _Call:
    """Run ``fn(*args)`` off the loop (it blocks: a DNS lookup); the loop sends back its result."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]


@dataclass(slots=True)
class _Park:
    """Resume once robots.txt of ``origin``, which another task is fetching, is known."""

    origin: str


_Op = _Get | _Sleep | _Call | _Park
_Steps = Generator[_Op, Any, Any]


class _Job:
    __slots__ = ("task", "out", "steps")

    def __init__(self, task: Task, out: Outcome, steps: _Steps) -> None:
        self.task, self.out, self.steps = task, out, steps


class _Transfer:
    """One request on a curl handle: the answer's status and headers, its body streamed under the cap
    (into memory, spilling to the spool file past MEMORY_BODY), and how it ended."""

    __slots__ = ("job", "get", "host", "guard", "status", "headers", "headers_done", "keep", "buf", "fh", "size",
                 "digest", "failure", "error", "message", "idle", "last")

    def __init__(self, job: _Job, get: _Get, guard: AddressGuard, now: float) -> None:
        self.job, self.get, self.guard = job, get, guard
        self.host = urlsplit(get.url).hostname or ""
        self.status = 0
        self.headers: dict[str, str] = {}
        self.headers_done = False
        self.keep = False  # the body matters (a 200/203 answer)
        self.buf = bytearray()
        self.fh: BinaryIO | None = None
        self.size = 0
        self.digest: Any = None
        self.failure: _Failure | None = None  # set by a callback that stopped the transfer
        self.error = 0  # curl's error code (0: complete)
        self.message = ""
        self.idle = False  # stopped by the loop: no data for ``timeout`` seconds
        self.last = now

    # curl callbacks (on the loop thread, inside perform); a return value other than None aborts

    def header(self, line: bytes) -> int | None:
        self.last = time.monotonic()
        if line.startswith(b"HTTP/"):  # a status line: a new answer (after 1xx ones)
            parts = line.split(None, 2)
            self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            self.headers = {}
            self.headers_done = False
            return None
        if line in (b"\r\n", b"\n"):
            if self.status >= 200 and not self.headers_done:
                self.headers_done = True
                return self._begin_body()
            return None
        if self.headers_done:
            return None  # trailers
        name, sep, value = line.decode("latin-1").partition(":")  # as http.client decodes them
        if sep:
            key, value = name.strip().lower(), value.strip()
            self.headers[key] = f"{self.headers[key]}, {value}" if key in self.headers else value
        return None

    def _begin_body(self) -> int | None:
        if self.status not in (200, 203):
            return None
        length = self.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.get.cap:
            self.failure = _Failure("skipped", f"文件过大（{_mb(int(length))}，超过 {_mb(self.get.cap)} 上限），未下载")
            return 0
        self.keep = True
        self.digest = hashlib.sha256()
        return None

    def write(self, chunk: bytes) -> int | None:
        self.last = time.monotonic()
        if not self.keep:
            return None
        self.size += len(chunk)
        if self.size > self.get.cap:
            self.failure = _Failure("skipped", f"文件过大（超过 {_mb(self.get.cap)} 上限），已停止下载")
            return 0
        self.digest.update(chunk)
        try:
            if self.fh is not None:
                self.fh.write(chunk)
            else:
                self.buf += chunk
                if len(self.buf) > MEMORY_BODY and self.get.spool is not None:
                    self.fh = self.get.spool.open("wb")
                    self.fh.write(self.buf)
                    self.buf = bytearray()
        except OSError:
            self.failure = _Failure("error", "下载内容无法写入临时文件（磁盘已满或无权限）")
            return 0
        return None

    def open_socket(self, purpose: int, address: Any) -> socket.socket | int:
        """Checks the address curl is about to connect to (after its own DNS lookup): a name that
        resolved to a public address for the guard's check may resolve to a private one now."""
        family, socktype, protocol, addr = address
        if family in (socket.AF_INET, socket.AF_INET6):
            reason = self.guard.peer_refusal(self.host, str(addr[0]))
            if reason:
                self.failure = _Failure("skipped", reason)
                return pycurl.SOCKET_BAD
        return socket.socket(family, socktype, protocol)  # pycurl hands curl a duplicate of its descriptor

    def discard(self) -> None:
        """Drop a body that will not be used (its spool file included)."""
        if self.fh is not None:
            self.fh.close()
            self.fh = None
            if self.get.spool is not None:
                self.get.spool.unlink(missing_ok=True)
        self.buf = bytearray()


class Fetcher:
    """Fetches a crawl's tasks on one thread through libcurl's multi interface.

    ``start(deliver)`` starts the thread, ``submit(task)`` hands it a task (from any thread) and
    ``deliver(outcome)`` is called, on the fetching thread, once per task; ``stop()`` ends it.

    Each task runs as a generator (:meth:`_steps`) that reads like the sequential fetch it is — the
    address check, robots.txt, the request with retries and backoff, redirects checked hop by hop,
    the body streamed under the size cap, the page's links — and yields what it needs from the
    loop: a request (:class:`_Get`), a pause (:class:`_Sleep`), a blocking call done on a helper
    thread (:class:`_Call`: a host's first DNS check) or the robots.txt another task is fetching
    (:class:`_Park`). libcurl does the network work in C, outside the GIL, so one thread keeps every
    transfer of the crawl going; its callbacks only stream the body.
    """

    def __init__(self, options: CrawlOptions, scope: Scope, guard: AddressGuard, spool_dir: Path,
                 claim: Callable[[str], bool]) -> None:
        self.options = options
        self.scope = scope
        self.guard = guard
        self.spool_dir = spool_dir
        self.claim = claim
        contact = f" (+{options.contact})" if options.contact else ""
        self.user_agent = f"leakscan/{__version__}{contact}"
        self._base_headers = ["Accept-Language: zh-CN,zh;q=0.9"]
        self._robots: dict[str, Protego | None] = {}
        self._robots_waiting: dict[str, list[_Job]] = {}
        self.stopped = threading.Event()
        self._inbox: deque[Task] = deque()
        self._called: deque[tuple[_Job, Future[Any]]] = deque()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    # -- the public side (any thread) -----------------------------------------------------------

    def start(self, deliver: Callable[[Outcome], None]) -> None:
        """Start the fetching thread; ``deliver`` receives each task's outcome."""
        if self._thread is not None:
            return
        self.stopped.clear()
        self._deliver = deliver
        self._thread = threading.Thread(target=self._run, name="crawl-fetch", daemon=True)
        self._thread.start()

    def submit(self, task: Task) -> None:
        """Queue ``task`` for the fetching thread."""
        self._inbox.append(task)
        self._wake()

    def stop(self) -> None:
        """Abort every transfer and end the thread (undelivered tasks are dropped)."""
        if self._thread is None:
            return
        self.stopped.set()
        self._wake()
        self._thread.join(timeout=5)
        self._thread = None
        self._inbox.clear()

    def close(self) -> None:
        """Release the wake-up sockets (after :meth:`stop`)."""
        self.stop()
        self._wake_r.close()
        self._wake_w.close()

    def crawl_delay(self, url: str) -> float:
        """The robots.txt Crawl-delay for us (capped at 30 s), or 0."""
        parsed = self._robots.get(_origin(url))
        if parsed is None:
            return 0.0
        delay = parsed.crawl_delay(self.user_agent)
        return min(float(delay), 30.0) if delay else 0.0

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full (a wake-up is pending anyway) or closed
            self._wake_w.send(b"\0")

    # -- the loop (the fetching thread) ---------------------------------------------------------

    def _run(self) -> None:
        multi = pycurl.CurlMulti()
        share = pycurl.CurlShare()
        share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_COOKIE)
        share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_DNS)
        self._multi, self._share = multi, share
        self._free: list[pycurl.Curl] = []
        self._handles: list[pycurl.Curl] = []
        self._active: dict[pycurl.Curl, _Transfer] = {}
        self._sleeping: list[tuple[float, int, _Job]] = []
        self._ready: deque[_Job] = deque()
        self._jobs: set[_Job] = set()
        self._added = False
        lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="crawl-dns")
        self._lookups = lookups
        seq = itertools.count()
        self._seq = seq
        try:
            while not self.stopped.is_set():
                self._turn()
        except Exception:  # a bug here must not hang the crawl: fail what is in flight, then every new task
            log.exception("the crawl's fetching loop failed")
            for job in list(self._jobs):
                self._deliver(Outcome(job.task, "error", reason="抓取时发生内部错误"))
            while not self.stopped.wait(0.05):
                while self._inbox:
                    self._deliver(Outcome(self._inbox.popleft(), "error", reason="抓取时发生内部错误"))
        finally:
            for c, transfer in self._active.items():
                multi.remove_handle(c)
                transfer.discard()
            for job in self._jobs:
                job.steps.close()
            self._active.clear()
            self._jobs.clear()
            for c in self._handles:
                c.close()
            multi.close()
            share.close()
            lookups.shutdown(wait=False, cancel_futures=True)

    def _turn(self) -> None:
        """One round: new tasks, finished lookups and pauses, curl's progress, then wait for the next event."""
        while self._inbox:
            task = self._inbox.popleft()
            out = Outcome(task, "ok")
            job = _Job(task, out, self._steps(task, out))
            self._jobs.add(job)
            self._advance(job)
        while self._called:
            job, future = self._called.popleft()
            try:
                value = future.result()
            except Exception as exc:  # noqa: BLE001 (handed to the task's steps, which decide)
                self._advance(job, error=exc)
            else:
                self._advance(job, value)
        now = time.monotonic()
        while self._sleeping and self._sleeping[0][0] <= now:
            self._advance(heapq.heappop(self._sleeping)[2])
        multi = self._multi
        while True:
            while self._ready:
                self._advance(self._ready.popleft())
            self._added = False
            while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                pass
            while True:
                queued, ok, failed = multi.info_read()
                for c in ok:
                    self._finished(c, 0, "")
                for c, code, message in failed:
                    self._finished(c, code, message)
                if not queued:
                    break
            self._watch_idle()
            if not self._added and not self._ready:
                break
        self._wait()

    def _watch_idle(self) -> None:
        """Stop transfers that received nothing for ``timeout`` seconds (requests' read timeout)."""
        if not self._active:
            return
        limit = time.monotonic() - self.options.timeout
        for c, transfer in list(self._active.items()):
            if transfer.last < limit:
                transfer.idle = True
                self._finished(c, pycurl.E_OPERATION_TIMEDOUT, "idle")

    def _wait(self) -> None:
        timeout = 1.0
        curl_ms = self._multi.timeout()
        if curl_ms >= 0:
            timeout = min(timeout, curl_ms / 1000)
        now = time.monotonic()
        if self._sleeping:
            timeout = min(timeout, self._sleeping[0][0] - now)
        if self._active:
            oldest = min(t.last for t in self._active.values())
            timeout = min(timeout, oldest + self.options.timeout - now)
        if self._inbox or self._called or self._ready or self.stopped.is_set():
            timeout = 0
        reads, writes, errors = self._multi.fdset()
        try:
            ready, _, _ = select.select([*reads, self._wake_r], writes, errors, max(0.0, timeout))
        except InterruptedError:
            return
        if ready and ready[-1] is self._wake_r:
            with contextlib.suppress(OSError):
                while self._wake_r.recv(4096):
                    pass

    def _advance(self, job: _Job, value: Any = None, error: BaseException | None = None) -> None:
        """Run ``job``'s steps to their next request for the loop, or to the end (then deliver)."""
        try:
            op = job.steps.throw(error) if error is not None else job.steps.send(value)
        except StopIteration:
            self._done(job, job.out)
            return
        except _Failure as failure:
            out = job.out
            out.status, out.reason, out.http_status = failure.status, failure.reason, failure.http_status
            out.data = None
            self._done(job, out)
            return
        except Exception:  # a bug must not hang the crawl: report the URL, keep going
            log.exception("crawl fetch failed on task %s", job.task.id)
            self._done(job, Outcome(job.task, "error", reason="抓取时发生内部错误"))
            return
        if isinstance(op, _Get):
            self._request(job, op)
        elif isinstance(op, _Sleep):
            heapq.heappush(self._sleeping, (time.monotonic() + op.seconds, next(self._seq), job))
        elif isinstance(op, _Call):
            future = self._lookups.submit(op.fn, *op.args)
            future.add_done_callback(lambda f, job=job: (self._called.append((job, f)), self._wake()))
        else:
            self._robots_waiting[op.origin].append(job)

    def _done(self, job: _Job, out: Outcome) -> None:
        self._jobs.discard(job)
        self._deliver(out)

    def _request(self, job: _Job, get: _Get) -> None:
        c = self._free.pop() if self._free else self._new_handle()
        transfer = _Transfer(job, get, self.guard, time.monotonic())
        c.setopt(pycurl.URL, get.url)
        if get.method == "POST":
            c.setopt(pycurl.POSTFIELDS, (get.body or "").encode("utf-8"))
        else:
            c.setopt(pycurl.HTTPGET, 1)
        c.setopt(pycurl.HTTPHEADER, get.headers)
        c.setopt(pycurl.HEADERFUNCTION, transfer.header)
        c.setopt(pycurl.WRITEFUNCTION, transfer.write)
        c.setopt(pycurl.OPENSOCKETFUNCTION, transfer.open_socket)
        self._active[c] = transfer
        self._multi.add_handle(c)
        self._added = True

    def _new_handle(self) -> pycurl.Curl:
        opts = self.options
        c = pycurl.Curl()
        c.setopt(pycurl.NOSIGNAL, 1)
        c.setopt(pycurl.PROXY, "")  # no proxies from the environment: the address guard checks the real target
        c.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        c.setopt(pycurl.FOLLOWLOCATION, 0)  # redirects are followed by _steps, hop by hop
        c.setopt(pycurl.PATH_AS_IS, 1)  # the URL is normalised already
        c.setopt(pycurl.ACCEPT_ENCODING, "")  # every encoding libcurl decodes
        c.setopt(pycurl.USERAGENT, self.user_agent)
        c.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(opts.timeout * 1000)))
        c.setopt(pycurl.TIMEOUT_MS, max(1, int(opts.total_timeout * 1000)))
        c.setopt(pycurl.BUFFERSIZE, 256 * 1024)
        c.setopt(pycurl.COOKIEFILE, "")  # cookies on (some sites' gateways set one), shared by every handle
        c.setopt(pycurl.SHARE, self._share)
        if opts.verify_tls:
            if _CA_BUNDLE:
                c.setopt(pycurl.CAINFO, _CA_BUNDLE)
        else:
            c.setopt(pycurl.SSL_VERIFYPEER, 0)
            c.setopt(pycurl.SSL_VERIFYHOST, 0)
        self._handles.append(c)
        return c

    def _finished(self, c: pycurl.Curl, code: int, message: str) -> None:
        transfer = self._active.pop(c, None)
        self._multi.remove_handle(c)
        self._free.append(c)
        if transfer is None:
            return
        transfer.error, transfer.message = code, message
        if code or transfer.failure:
            transfer.discard()
        elif transfer.fh is not None:
            transfer.fh.close()
        self._advance(transfer.job, transfer)

    # -- a task's steps (generators run by the loop) ---------------------------------------------

    def _steps(self, task: Task, out: Outcome) -> _Steps:
        opts = self.options
        url = task.url
        seen = [url]
        method, body = task.method, task.body
        while True:
            reason = yield from self._refusal(url)
            if reason:
                raise _Failure("skipped", reason)
            if not opts.ignore_robots:
                robots = yield from self._robots_of(url)
                if robots is not None and not robots.can_fetch(url, self.user_agent):
                    raise _Failure("skipped", "robots.txt 禁止抓取此地址（审计已获书面授权时可使用 --ignore-robots）")
            response = yield from self._send(method, url, body, task, out)
            location = response.headers.get("location")
            if response.status in _REDIRECTS and location:
                response.discard()
                target = normalize(location, url)
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
                if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                    method, body = "GET", None
                continue
            break
        out.final_url = url
        status = response.status
        if status == 304 and task.previous:
            out.status = "unchanged"
            out.sha256 = task.previous.get("sha256")
            out.etag = task.previous.get("etag")
            out.last_modified = task.previous.get("last_modified")
            out.data = b""
            return
        if status in _WAF:
            raise _Failure("error", f"被网站防火墙拦截（HTTP {status}）")
        if status >= 400:
            raise _Failure("error", _http_reason(status, out.requests), http_status=status)
        if status != 200 and status != 203:
            raise _Failure("error", f"无法处理的应答（HTTP {status}）")
        headers = response.headers
        out.content_type = headers.get("content-type")
        out.etag = headers.get("etag")
        out.last_modified = headers.get("last-modified")
        out.name = content_disposition_name(headers.get("content-disposition")) or name_from_url(url)
        if response.fh is None:
            out.data = bytes(response.buf)  # kept by the crawl's state file until it is recorded
        else:
            out.spool = self.spool_dir / str(task.id)
        out.size = response.size
        out.sha256 = response.digest.hexdigest()
        ctype = (out.content_type or "").split(";")[0].strip().lower()
        disposition = (headers.get("content-disposition") or "").lower().startswith("attachment")
        head = out.data[:512] if out.data is not None else b""
        out.is_page = not disposition and (ctype in _PAGE_TYPES or (not ctype or ctype == "application/octet-stream")
                                          and bool(_HTML_SNIFF.match(head)))
        if task.previous and out.sha256 and out.sha256 == task.previous.get("sha256"):
            out.status = "unchanged"
        if out.is_page and task.follow and out.data is not None:
            text = decode_page(out.data, out.content_type)
            out.extracted = extract(text, url, out.content_type, body if method == "POST" else None)

    def _refusal(self, url: str) -> _Steps:
        """The address guard's verdict on ``url`` (its first DNS lookup of a host done off the loop)."""
        if not self.guard.needs_lookup(url):
            return self.guard.refusal(url)
        return (yield _Call(self.guard.refusal, (url,)))

    def _robots_of(self, url: str) -> _Steps:
        """The parsed robots.txt of ``url``'s origin (None: everything allowed), fetched once per origin."""
        origin = _origin(url)
        while origin not in self._robots:
            if origin in self._robots_waiting:
                yield _Park(origin)
                continue
            self._robots_waiting[origin] = []
            parsed: Protego | None = None
            try:
                # No redirects: the address guard has approved this origin only.
                answer = yield _Get("GET", origin + "/robots.txt", None, self._base_headers, _ROBOTS_CAP, None)
                if not answer.error and answer.failure is None and answer.status == 200:
                    parsed = Protego.parse(answer.buf.decode("utf-8", errors="replace"))
            finally:
                self._robots[origin] = parsed
                self._ready.extend(self._robots_waiting.pop(origin))
        return self._robots[origin]

    def _send(self, method: str, url: str, body: str | None, task: Task, out: Outcome) -> _Steps:
        """Request ``url`` until an answer that is not worth retrying (or the retries are spent)."""
        opts = self.options
        headers = list(self._base_headers)
        if body is not None:
            headers.append("Content-Type: application/x-www-form-urlencoded; charset=UTF-8")
        if task.previous and task.kind == FILE:
            if task.previous.get("etag"):
                headers.append(f"If-None-Match: {task.previous['etag']}")
            if task.previous.get("last_modified"):
                headers.append(f"If-Modified-Since: {task.previous['last_modified']}")
        spool = self.spool_dir / str(task.id)
        attempt = 0
        while True:
            if self.stopped.is_set():
                raise _Failure("error", "抓取已中止")
            out.requests += 1
            answer: _Transfer = yield _Get(method, url, body, headers, opts.max_bytes, spool)
            if answer.failure is not None:
                raise answer.failure
            wait = None
            if answer.error:
                if answer.headers_done:  # the body broke off
                    if answer.error == pycurl.E_OPERATION_TIMEDOUT and not answer.idle:
                        raise _Failure("error", f"下载超时（{opts.total_timeout:g} 秒内未完成）")
                    raise _Failure("error", "下载中断（连接断开或超时）")
                if answer.error in (pycurl.E_URL_MALFORMAT, pycurl.E_UNSUPPORTED_PROTOCOL):
                    raise _Failure("error", "请求失败（地址或应答格式无效）")
                if answer.error == pycurl.E_OPERATION_TIMEDOUT:
                    failure = _Failure("error", f"请求超时（{opts.timeout:g} 秒内无应答）"
                                       + (f"，重试 {attempt} 次后仍失败" if attempt else ""))
                else:
                    failure = _Failure("error", _connection_reason(answer.error, answer.message, attempt))
            elif answer.status not in _RETRY:
                return answer
            else:
                wait = retry_after(answer.headers.get("retry-after"))
                failure = _Failure("error", _http_reason(answer.status, attempt))
                answer.discard()
            if attempt >= opts.retries:
                raise failure
            attempt += 1
            delay = opts.backoff * (2 ** (attempt - 1))
            if wait is not None:
                delay = min(max(wait, delay), opts.max_retry_after)
            yield _Sleep(delay)
            if self.stopped.is_set():
                raise failure


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


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


_SSL_ERRORS = frozenset(
    getattr(pycurl, name) for name in (
        "E_SSL_CONNECT_ERROR", "E_PEER_FAILED_VERIFICATION", "E_SSL_CERTPROBLEM", "E_SSL_CIPHER",
        "E_SSL_CACERT_BADFILE", "E_SSL_SHUTDOWN_FAILED", "E_SSL_CRL_BADFILE", "E_SSL_ISSUER_ERROR",
        "E_SSL_PINNEDPUBKEYNOTMATCH", "E_SSL_INVALIDCERTSTATUS", "E_USE_SSL_FAILED", "E_SSL_ENGINE_NOTFOUND",
    ) if hasattr(pycurl, name)
)


def _connection_reason(code: int, message: str, attempts: int) -> str:
    if code == pycurl.E_COULDNT_RESOLVE_HOST:
        reason = "域名无法解析"
    elif code == pycurl.E_COULDNT_CONNECT and "refused" in message.lower():
        reason = "连接被拒绝"
    elif code in _SSL_ERRORS:
        reason = "HTTPS 证书或加密连接错误"
    else:
        reason = "网络连接失败"
    return reason + (f"，重试 {attempts} 次后仍失败" if attempts else "")
