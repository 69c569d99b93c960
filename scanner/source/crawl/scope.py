"""URL normalisation, the crawl's scope, private-address refusal and crawl-trap heuristics."""

from __future__ import annotations

import datetime as dt
import ipaddress
import posixpath
import re
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, safe_url_string

#: Query parameters and path parameters that carry a session, not content.
SESSION_PARAMS = frozenset(
    ("jsessionid", "phpsessid", "sessionid", "session_id", "aspsessionid", "cfid", "cftoken", "randomnum", "rnd", "_")
)
_PATH_SESSION = re.compile(r";(?:jsessionid|phpsessid|sessionid)=[^/?#]*", re.IGNORECASE)
_ASP_SESSION = re.compile(r"/\(S\([a-z0-9]+\)\)", re.IGNORECASE)

#: Path endings of files worth scanning (attachments), as opposed to pages.
ATTACHMENT_EXTENSIONS = frozenset(
    (
        "pdf", "doc", "docx", "xls", "xlsx", "xlsm", "et", "ett", "wps", "wpt", "dps", "ppt", "pptx", "ods", "odt",
        "odp", "ofd", "rtf", "csv", "txt", "zip", "rar", "7z", "gz", "tgz", "tar", "xml", "json"
    )
)
#: Path endings never fetched: styles, scripts, media, fonts.
IGNORED_EXTENSIONS = frozenset(
    (
        "css", "js", "mjs", "map", "jpg", "jpeg", "png", "gif", "bmp", "ico", "svg", "webp", "tif", "tiff", "mp3",
        "mp4", "avi", "flv", "wmv", "mov", "swf", "woff", "woff2", "ttf", "eot", "otf", "apk", "exe", "msi", "dmg",
        "iso"
    )
)
_DOWNLOAD_PATH = re.compile(r"download|downfile|filedown|getfile|attach|fujian|/accessory", re.IGNORECASE)
_YEAR_PARAM = re.compile(r"^(?:y|yy|yyyy|year|nian|nd|selyear)$", re.IGNORECASE)
_DATE_VALUE = re.compile(r"^((?:19|20|21)\d\d)(?:[-/.]?\d{1,2}(?:[-/.]?\d{1,2})?)?$")
_YEAR_SEGMENT = re.compile(r"^(\d{4})$")


def normalize(url: str, base: str | None = None) -> str | None:
    """The canonical form of ``url`` (resolved against ``base``): lower-case host, sorted query,
    no fragment, no session ids. None for what is not an http(s) URL."""
    url = url.strip().replace("\\", "/")
    if not url or url.startswith(("javascript:", "mailto:", "tel:", "data:", "#", "about:", "vbscript:")):
        return None
    if base is not None:
        from urllib.parse import urljoin

        try:
            url = urljoin(base, url)
        except ValueError:
            return None
    try:
        parts = urlsplit(safe_url_string(url))
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    path = _ASP_SESSION.sub("", _PATH_SESSION.sub("", parts.path)) or "/"
    path = _dot_segments(path)
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in SESSION_PARAMS]
    ) if parts.query else ""
    try:
        port = parts.port
    except ValueError:
        return None
    netloc = parts.hostname.rstrip(".")
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port and not (parts.scheme == "http" and port == 80) and not (parts.scheme == "https" and port == 443):
        netloc += f":{port}"
    try:
        return canonicalize_url(urlunsplit((parts.scheme, netloc, path, query, "")), keep_blank_values=True)
    except ValueError:
        return None


def _dot_segments(path: str) -> str:
    """Resolve ``.``/``..`` segments (``urljoin`` leaves them in when the base has none)."""
    if "/." not in path:
        return path
    out = posixpath.normpath(path)
    if path.endswith("/") and not out.endswith("/"):
        out += "/"
    return out if out.startswith("/") else "/" + out


def host_of(url: str) -> str:
    """``host[:port]`` of a normalised URL."""
    return urlsplit(url).netloc


def extension(url: str) -> str:
    """The lower-case file extension of the URL path ('' when none)."""
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[-1].lower() if "." in last else ""


def looks_like_attachment(url: str) -> bool:
    """Whether the URL probably names a file (by extension or a download-script path)."""
    ext = extension(url)
    if ext in ATTACHMENT_EXTENSIONS:
        return True
    return bool(_DOWNLOAD_PATH.search(urlsplit(url).path))


def ignored(url: str) -> bool:
    """Styles, scripts, images, media: never fetched."""
    return extension(url) in IGNORED_EXTENSIONS


def name_from_url(url: str) -> str:
    """The file name in the URL path (percent-decoded), or ''."""
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    return unquote(last, errors="replace")


def trap_reason(url: str, this_year: int | None = None) -> str | None:
    """Why ``url`` looks like an endless generated space (a calendar, a repeated path), or None."""
    if len(url) > 1500:
        return "网址过长，疑似无限生成的链接"
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if segments and max(segments.count(s) for s in segments) >= 3:
        return "路径中同一段重复出现，疑似循环链接"
    year_now = this_year or dt.date.today().year
    low, high = 1970, year_now + 2
    for seg in segments:
        m = _YEAR_SEGMENT.match(seg)
        if m and 1000 <= int(m.group(1)) <= 2999 and not (low <= int(m.group(1)) <= high):
            return "日期超出合理范围，疑似无限日历"
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        m = _DATE_VALUE.match(value)
        if m and (_YEAR_PARAM.match(key) or "date" in key.lower() or "month" in key.lower() or len(value) > 4):
            if not low <= int(m.group(1)) <= high:
                return "日期超出合理范围，疑似无限日历"
        elif _YEAR_PARAM.match(key) and value.lstrip("-").isdigit() and not low <= int(value) <= high:
            return "日期超出合理范围，疑似无限日历"
    return None


def variant_key(url: str) -> str | None:
    """The (host, path) a URL with a query belongs to, for the query-variants cap; None without a query."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}" if parts.query else None


# -- private addresses ----------------------------------------------------------------------------


def address_blocked(ip: str) -> bool:
    """Whether an IP address is private, loopback, link-local, multicast, reserved or unspecified."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not addr.is_global or addr.is_multicast


class AddressGuard:
    """Refuses hosts that resolve to non-public addresses (unless allowed). Results are cached per host."""

    def __init__(self, allow_private: bool, allowed_hosts: tuple[str, ...] = ()) -> None:
        self.allow_private = allow_private
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self._cache: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def refusal(self, url: str) -> str | None:
        """A Chinese reason when ``url``'s host must not be contacted, else None."""
        target = self._target(url)
        if target is None:
            return None
        host, port = target
        with self._lock:
            if host in self._cache:
                return self._cache[host]
        reason = self._check(host, port)
        with self._lock:
            self._cache[host] = reason
        return reason

    def needs_lookup(self, url: str) -> bool:
        """Whether :meth:`refusal` would look the host up in DNS (it is neither allowed nor cached yet)."""
        target = self._target(url)
        if target is None:
            return False
        with self._lock:
            return target[0] not in self._cache

    def _target(self, url: str) -> tuple[str, int] | None:
        """(host, port) of ``url`` to check, or None when every address of it is allowed."""
        if self.allow_private:
            return None
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host in self.allowed_hosts or parts.netloc.lower() in self.allowed_hosts:
            return None
        return host, parts.port or (443 if parts.scheme == "https" else 80)

    def peer_refusal(self, host: str, address: str) -> str | None:
        """A Chinese reason when a connection to ``host`` at ``address`` must not be made.

        Checked with the address the fetcher is about to connect to: the name may resolve
        differently by then (DNS rebinding: a public address for the check above, a private one
        for the fetch)."""
        host = host.lower().strip("[]")
        if self.allow_private or host in self.allowed_hosts:
            return None
        if any(urlsplit("//" + h).hostname == host for h in self.allowed_hosts):  # allowed as host:port
            return None
        return _PRIVATE_REASON if address_blocked(address) else None

    @staticmethod
    def _check(host: str, port: int) -> str | None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return None  # the fetch itself reports the DNS failure
        for info in infos:
            if address_blocked(str(info[4][0])):
                return _PRIVATE_REASON
        return None


_PRIVATE_REASON = "目标地址为内网、本机或保留地址，已拒绝访问（如确需审计内网网站，请使用 --allow-private）"


# -- scope ----------------------------------------------------------------------------------------


def _www_twin(host: str) -> str:
    return host[4:] if host.startswith("www.") else "www." + host


@dataclass
class Scope:
    """Start URLs' hosts (with their path prefixes) plus the hosts that may serve attachments."""

    prefixes: dict[str, set[str]] = field(default_factory=dict)
    file_hosts: set[str] = field(default_factory=set)

    @classmethod
    def from_starts(cls, starts: list[str], file_hosts: tuple[str, ...] = ()) -> Scope:
        scope = cls()
        for url in starts:
            scope.add_start(url)
        for host in file_hosts:
            h = host.lower().strip().rstrip("/")
            if "://" in h:
                h = urlsplit(h).netloc
            scope.file_hosts.add(h)
        return scope

    def add_start(self, url: str) -> None:
        """Put ``url``'s host and directory in scope."""
        parts = urlsplit(url)
        path = parts.path or "/"
        last = path.rsplit("/", 1)[-1]
        # /xxgk/index.html and /xxgk/ → /xxgk/; /xxgk → /xxgk/
        prefix = path[: len(path) - len(last)] if "." in last or not last else path + "/"
        for host in (parts.netloc, _www_twin(parts.netloc)):
            # copy-on-write: worker threads read the sets while a start URL's redirect adds to them
            self.prefixes[host] = self.prefixes.get(host, set()) | {prefix or "/"}

    def on_site(self, url: str) -> bool:
        """On a start host (any path)."""
        return urlsplit(url).netloc in self.prefixes

    def page_in_scope(self, url: str) -> bool:
        """A page: on a start host and below one of its path prefixes."""
        parts = urlsplit(url)
        prefixes = self.prefixes.get(parts.netloc)
        return bool(prefixes) and any(parts.path.startswith(p) for p in prefixes)

    def file_in_scope(self, url: str) -> bool:
        """An attachment: anywhere on a start host, or on a file host."""
        netloc = urlsplit(url).netloc
        return netloc in self.prefixes or netloc in self.file_hosts or (urlsplit(url).hostname or "") in self.file_hosts
