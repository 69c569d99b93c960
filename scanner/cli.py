"""The ``leakscan`` command: argument parsing and wiring only.

Exit status (report contract): 0 no finding at or above ``--fail-on``; 1 findings; 2 usage or
runtime error.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from scanner import __version__
from scanner.errors import LeakscanError, RuleError, UsageError
from scanner.model import SEVERITY_RANK

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
FORMATS = ("table", "json", "csv", "xlsx", "html", "sarif")
_EXT_FORMAT = {".json": "json", ".csv": "csv", ".xlsx": "xlsx", ".html": "html", ".htm": "html",
               ".sarif": "sarif", ".txt": "table"}

log = logging.getLogger("leakscan")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2 with one line, as the contract says
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"leakscan: 参数错误：{message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="leakscan", description="政府信息公开个人信息泄露检查工具（身份证号、手机号、车牌号等）")
    parser.add_argument("--version", action="version", version=f"leakscan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    scan = sub.add_parser("scan", help="检查待发布的文件或文件夹（发布前自查）")
    scan.add_argument("paths", nargs="+", metavar="PATH", help="文件或文件夹")
    _output_options(scan)
    _history_options(scan)
    scan.add_argument("--jobs", "-j", type=int, default=0, help="并行进程数（默认：CPU 核数）")
    scan.add_argument("--redact-to", metavar="DIR", help="同时把有发现的文件脱敏后另存到此文件夹（原文件不改动）")

    crawl = sub.add_parser("crawl", help="检查已发布的网站：页面、栏目列表和全部附件（在线巡查）")
    crawl.add_argument("urls", nargs="*", metavar="URL", help="网站或栏目地址")
    crawl.add_argument("--sites", metavar="FILE", help="网站清单文件，每行一个地址（# 开头为注释）")
    _output_options(crawl)
    _history_options(crawl)
    _crawl_options(crawl)
    crawl.add_argument("--jobs", "-j", type=int, default=0, help="并行检查进程数（默认：CPU 核数）")

    history = sub.add_parser("history", help="列出审计历史中的检查记录")
    history.add_argument("--db", metavar="FILE", help="审计历史数据库（或环境变量 LEAKSCAN_DB）")
    history.add_argument("--site", help="只列出此站点的记录")
    history.add_argument("--limit", type=int, default=30, help="最多列出几条（默认 30）")

    diff = sub.add_parser("diff", help="比较两次检查：新增、仍存在、已整改")
    diff.add_argument("run_a", metavar="RUN_A", help="较早的检查编号（leakscan history 可查）")
    diff.add_argument("run_b", metavar="RUN_B", help="较晚的检查编号")
    diff.add_argument("--db", metavar="FILE", help="审计历史数据库（或环境变量 LEAKSCAN_DB）")
    _output_options(diff, detection=False)

    ignore = sub.add_parser("ignore", help="忽略某条发现（如依法公开的惩戒公示），以后的检查不再报告")
    ignore.add_argument("fingerprints", nargs="*", metavar="FINGERPRINT", help="发现的指纹（报告中的 fingerprint）")
    ignore.add_argument("--reason", help="忽略的理由（必填，记入数据库）")
    ignore.add_argument("--by", help="操作人（默认：当前系统用户）")
    ignore.add_argument("--remove", action="store_true", help="取消忽略")
    ignore.add_argument("--list", action="store_true", help="列出全部忽略记录")
    ignore.add_argument("--db", metavar="FILE", help="审计历史数据库（或环境变量 LEAKSCAN_DB）")
    ignore.add_argument("--key", help="指纹密钥（或环境变量 LEAKSCAN_KEY），须与检查时相同")

    audit = sub.add_parser("audit", help="按配置文件巡查全部网站，生成带日期的整改清单和审计历史（适合定时任务）")
    audit.add_argument("--config", required=True, metavar="FILE", help="巡查配置（sites.toml）")
    audit.add_argument("--site", action="append", default=[], metavar="NAME", help="只巡查这些站点（可多次）")
    audit.add_argument("--resume", action="store_true", help="继续上次被中断的巡查")
    audit.add_argument("--quiet", "-q", action="store_true", help="终端只显示错误")

    redact = sub.add_parser("redact", help="生成脱敏副本：把文件中的个人信息按规则遮盖后另存")
    redact.add_argument("paths", nargs="+", metavar="PATH", help="文件或文件夹")
    redact.add_argument("--out", required=True, metavar="DIR", help="脱敏副本保存的文件夹（不能在输入文件夹内）")
    redact.add_argument("--allow-inside", action="store_true", help="允许输出文件夹位于输入文件夹内")
    _output_options(redact)

    rules = sub.add_parser("rules", help="查看或测试规则包")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, parser_class=_Parser)
    listing = rules_sub.add_parser("list", help="列出已加载的规则")
    listing.add_argument("--rules", action="append", default=[], metavar="DIR", help="额外的规则目录（可多次）")
    test = rules_sub.add_parser("test", help="用规则自带的正例/反例检验规则")
    test.add_argument("dir", nargs="?", help="只检验此目录中的规则（默认：全部已加载规则）")
    test.add_argument("--rules", action="append", default=[], metavar="DIR", help="额外的规则目录（可多次）")
    return parser


def _output_options(p: argparse.ArgumentParser, detection: bool = True) -> None:
    p.add_argument("--format", "-f", choices=FORMATS,
                   help="报告格式（默认：终端为 table，否则 json；有 --output 时按扩展名）")
    p.add_argument("--output", "-o", metavar="FILE", help="把报告写入文件（终端仍显示汇总表，除非 --quiet）")
    p.add_argument("--quiet", "-q", action="store_true", help="终端不显示汇总表")
    p.add_argument("--fail-on", choices=("high", "medium", "low"), default="low",
                   help="有此等级及以上的发现时退出码为 1（默认 low）")
    if detection:
        p.add_argument("--key", help="指纹密钥（或环境变量 LEAKSCAN_KEY）；不指定则随机生成，指纹不能跨次比对")
        p.add_argument("--rules", action="append", default=[], metavar="DIR", help="额外的规则目录（可多次）")
        p.add_argument("--show-values", action="store_true",
                       help="在表格、CSV、XLSX、HTML 报告中显示原始值"
                            "（仅供定位单元格；报告须妥善保管，不写入审计历史）")


def _history_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="FILE",
                   help="审计历史数据库：记录本次检查，并标出新增、仍存在、已整改（或环境变量 LEAKSCAN_DB）")
    p.add_argument("--site", help="审计历史中的站点名称（默认：输入的路径或网址）")
    p.add_argument("--allowlist", action="append", default=[], metavar="FILE",
                   help="白名单文件：每行一个无需报告的指纹，可附理由（可多次）")


def _crawl_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state", metavar="FILE", help="抓取进度文件（默认在用户缓存目录，按起始地址区分）")
    p.add_argument("--resume", action="store_true", help="从上次中断处继续，不重复抓取已完成的页面")
    p.add_argument("--max-pages", type=int, default=20000, help="最多抓取的页面和附件数（默认 20000）")
    p.add_argument("--max-depth", type=int, default=8, help="最大链接深度（默认 8）")
    p.add_argument("--concurrency", type=int, default=8, help="同时下载数（默认 8）")
    p.add_argument("--per-host", type=int, default=2, help="每个主机同时下载数（默认 2）")
    p.add_argument("--delay", type=float, default=0.0, help="同一主机两次请求间隔秒数（默认 0）")
    p.add_argument("--timeout", type=float, default=20.0, help="单次请求超时秒数（默认 20）")
    p.add_argument("--max-size", type=int, default=100, metavar="MB", help="单个文件下载上限（MB，默认 100）")
    p.add_argument("--contact", help="写入 User-Agent 的联系方式（如邮箱或电话），便于网站管理员联系")
    p.add_argument("--file-host", action="append", default=[], metavar="HOST", help="附件所在的其他主机（可多次）")
    p.add_argument("--ignore-robots", action="store_true", help="不遵守 robots.txt（仅限已获书面授权的检查）")
    p.add_argument("--allow-private", action="store_true", help="允许抓取内网、本机地址（测试用）")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="leakscan: %(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    commands = {"scan": _scan, "crawl": _crawl, "history": _history, "diff": _diff, "ignore": _ignore,
                "audit": _audit, "redact": _redact, "rules": _rules}
    try:
        return commands[args.command](args)
    except RuleError as exc:
        print(f"leakscan: 规则文件错误：{exc}", file=sys.stderr)
    except (UsageError, LeakscanError) as exc:
        print(f"leakscan: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("leakscan: 已中断", file=sys.stderr)
    return EXIT_ERROR


def _detector_spec(extra_rules: list[str], key: bytes, show_values: bool = False) -> Any:
    """The rules (built-in and the user's, checked now) and the key a detector is built from."""
    from scanner.detect.rules import BUILTIN_RULES, load_rules
    from scanner.detect.spec import DetectorSpec

    return DetectorSpec.of(load_rules(BUILTIN_RULES, *map(Path, extra_rules)), key, show_values)


def _key(args: argparse.Namespace) -> tuple[bytes, bool]:
    key = getattr(args, "key", None) or os.environ.get("LEAKSCAN_KEY")
    if key:
        return key.encode("utf-8"), False
    return secrets.token_hex(32).encode("ascii"), True


def _db_path(args: argparse.Namespace, required: bool) -> Path | None:
    db = getattr(args, "db", None) or os.environ.get("LEAKSCAN_DB")
    if not db and required:
        raise UsageError("请用 --db 指定审计历史数据库文件（或设置环境变量 LEAKSCAN_DB）")
    return Path(db) if db else None


def _jobs(args: argparse.Namespace) -> int:
    return args.jobs if args.jobs > 0 else (os.cpu_count() or 1)


def _scan(args: argparse.Namespace) -> int:
    from scanner.pipeline import Scanner, scan_all
    from scanner.report.build import build_report, now_iso
    from scanner.source.files import iter_documents

    fmt = _format(args)
    session = _Session(args, site=args.site or " ".join(sorted(str(Path(p).resolve()) for p in args.paths)),
                       command="scan")
    started = now_iso()
    ledger = _Ledger()
    with Progress(enabled=sys.stderr.isatty() and not args.quiet) as progress:
        results = scan_all(iter_documents(args.paths), Scanner(session.spec), jobs=_jobs(args), pack=True)
        # results become report entries as they arrive: only the compact dicts stay in memory
        report = build_report(watched(results, progress, ledger), started_at=started,
                              random_key=session.random_key, spool=True)
    redactions = _redact_results(args, session, ledger) if args.redact_to else None
    if redactions:
        _annotate_redactions(report, redactions)
    session.record(report)
    _emit(report, fmt, args)
    status = _exit_status(report, args.fail_on)
    if redactions and any(r.status.startswith("not possible") for r in redactions.values()):
        return max(status, EXIT_FINDINGS)
    return status


def watched(results: Iterable[Any], progress: Progress, ledger: _Ledger | None = None) -> Iterator[Any]:
    """Pass results through, showing progress and errors (and noting them in ``ledger``)."""
    for result in results:
        if result.status == "error":
            progress.say(f"leakscan: 无法检查 {result.source}：{result.reason}")
        if ledger is not None:
            ledger.note(result)
        progress.advance(result)
        yield result


class _Ledger:
    """What a scan found out about each input, for ``--redact-to``: which hold findings (an
    archive holds its members' findings) and which were read completely and hold none (those
    need no second reading to know there is nothing to mask)."""

    def __init__(self) -> None:
        self.with_findings: set[str] = set()
        self._parent: dict[str, str | None] = {}
        self._clean: set[str] = set()
        self._doubtful: set[str] = set()

    def note(self, result: Any) -> None:
        self._parent[result.source] = result.parent
        if result.status == "scanned" and not result.count:
            self._clean.add(result.source)
            return
        if result.count:
            self._mark(result.source, self.with_findings)
        if result.status != "scanned":  # not read completely: redaction must look at it itself
            self._mark(result.source, self._doubtful)

    def _mark(self, source: str | None, marks: set[str]) -> None:
        while source is not None and source not in marks:  # the document and every archive above it
            marks.add(source)
            source = self._parent.get(source)

    def clean(self) -> set[str]:
        """Inputs read completely, with no findings in them or in anything inside them."""
        return self._clean - self.with_findings - self._doubtful


def _crawl(args: argparse.Namespace) -> int:
    from scanner.crawlrun import crawl_sites, options_from_args, read_sites_file
    from scanner.report.build import build_report, now_iso

    urls = list(args.urls)
    if args.sites:
        urls.extend(read_sites_file(args.sites))
    if not urls:
        raise UsageError("请给出要检查的网址，或用 --sites 指定网站清单文件")
    fmt = _format(args)
    session = _Session(args, site=args.site or " ".join(urls), command="crawl")
    started = now_iso()
    parents: dict[str, list[str]] = {}
    status: dict[str, Any] = {}
    with Progress(enabled=sys.stderr.isatty() and not args.quiet, log=not args.quiet) as progress:
        results = crawl_sites(urls, options_from_args(args), session.spec,
                              state=Path(args.state) if args.state else None, resume=args.resume, jobs=_jobs(args),
                              history=session.history, site=session.site, key=session.key, progress=progress,
                              parents=parents, status=status)
        report = build_report(watched(results, progress), started_at=started, random_key=session.random_key,
                              spool=True)
    add_parents(report, parents)
    complete = mark_incomplete(report, status)
    if not complete:
        print(f"leakscan: {report['incomplete']}", file=sys.stderr)
    session.record(report, complete=complete)
    _emit(report, fmt, args)
    return _exit_status(report, args.fail_on)


class _Session:
    """What scan and crawl share: the key, the detector, the history and the allowlists."""

    def __init__(self, args: argparse.Namespace, *, site: str, command: str) -> None:
        from scanner.store.history import History, load_allowlist

        self.key, self.random_key = _key(args)
        self.site, self.command = site, command
        self.allow: dict[str, str] = {}
        for path in args.allowlist:
            self.allow.update(load_allowlist(path))
        db = _db_path(args, required=False)
        if db is not None and self.random_key:
            raise UsageError("使用审计历史（--db）时必须指定密钥（--key 或环境变量 LEAKSCAN_KEY），"
                             "否则指纹无法与上次比对")
        self.history = History(db) if db is not None else None
        if _jobs(args) > 1:  # the workers' fork server imports the recognizers while this process loads the rest
            from scanner.pipeline import warm_up

            warm_up()
        self.spec = _detector_spec(args.rules, self.key, args.show_values)
        self._detector: Any = None

    @property
    def detector(self) -> Any:
        """Built on first use (in this process, only to write de-identified copies)."""
        if self._detector is None:
            self._detector = self.spec.build()
        return self._detector

    def record(self, report: dict[str, Any], complete: bool = True) -> None:
        """Suppressions, then the audit history (when a database is used)."""
        if self.history is not None:
            with self.history:
                self.history.record(report, site=self.site, command=self.command, key=self.key, suppress=self.allow,
                                    complete=complete)
        elif self.allow:
            _apply_allowlist(report, self.allow)


def _apply_allowlist(report: dict[str, Any], allow: dict[str, str]) -> None:
    from scanner.model import rewrite

    counts: dict[str, int] = {}
    total = 0

    def keep(f: dict[str, Any]) -> dict[str, Any] | None:
        nonlocal total
        total += 1
        if f["fingerprint"] in allow:
            return None
        counts[f["source"]] = counts.get(f["source"], 0) + 1
        return f

    report["findings"] = rewrite(report["findings"], keep)
    report["suppressed"] = total - sum(counts.values())
    for d in report["documents"]:
        d["findings"] = counts.get(d["source"], 0)


def mark_incomplete(report: dict[str, Any], status: dict[str, Any]) -> bool:
    """Note in the report that a crawl stopped at its page limit; False when it did."""
    limit = status.get("limit")
    if not limit:
        return True
    report["incomplete"] = (f"已达到抓取上限（{limit.get('max_pages')} 个页面和附件），"
                            f"仍有 {limit.get('queued', 0)} 个地址未抓取；未抓到的文件不会被判为已整改。"
                            "可用 --max-pages 调高上限，或用 --resume 继续。")
    return False


def add_parents(report: dict[str, Any], parents: dict[str, list[str]]) -> None:
    """``documents[].parents``: every page that linked a document linked from more than one."""
    for d in report["documents"]:
        if len(parents.get(d["source"], ())) > 1:
            d["parents"] = parents[d["source"]]


def _redact_results(args: argparse.Namespace, session: _Session, ledger: _Ledger) -> dict[str, Any]:
    """Write de-identified copies of the scanned inputs that have findings; source → Redaction."""
    from scanner.redact import redact_tree

    out: dict[str, Any] = {}
    for doc, red in redact_tree(args.paths, session.detector, Path(args.redact_to),
                                allow_inside=getattr(args, "allow_inside", False), clean=ledger.clean()):
        if doc.source not in ledger.with_findings and not red.masked:
            continue
        out[doc.source] = red
        if red.status.startswith("not possible"):
            print(f"leakscan: 未脱敏 {doc.source}：{red.status.removeprefix('not possible: ')}", file=sys.stderr)
    return out


def _annotate_redactions(report: dict[str, Any], redactions: dict[str, Any]) -> None:
    """The contract's redaction fields, and ``findings[].redacted`` by fingerprint."""
    masked: dict[str, set[str]] = {}
    for d in report["documents"]:
        red = redactions.get(d["source"])
        if red is None:
            continue
        d["redaction"] = red.status
        d["redacted_to"] = str(red.path) if red.path else None
        masked[d["source"]] = {m["fingerprint"] for m in red.masked}

    def mark(f: dict[str, Any]) -> dict[str, Any]:
        if f["source"] in masked:
            f["redacted"] = f["fingerprint"] in masked[f["source"]]
        return f

    from scanner.model import rewrite

    report["findings"] = rewrite(report["findings"], mark)


def _redact(args: argparse.Namespace) -> int:
    from scanner.extract.sniff import ext_kind
    from scanner.model import DocumentResult
    from scanner.redact import redact_tree
    from scanner.report.build import build_report, now_iso

    key, random_key = _key(args)
    detector = _detector_spec(args.rules, key).build()
    started = now_iso()
    results, redactions = [], {}
    for doc, red in redact_tree(args.paths, detector, Path(args.out), allow_inside=args.allow_inside):
        kind = ext_kind(doc.name or doc.source) or "unknown"
        missing = not Path(doc.source).exists() and "!/" not in doc.source
        results.append(DocumentResult(source=doc.source, parent=doc.parent, kind=kind,
                                      status="error" if missing else "scanned",
                                      reason="文件或文件夹不存在" if missing else None,
                                      meta={"masked_values": len(red.masked)}))
        redactions[doc.source] = red
        if red.status.startswith("not possible"):
            print(f"leakscan: 未脱敏 {doc.source}：{red.status.removeprefix('not possible: ')}", file=sys.stderr)
    report = build_report(results, started_at=started, random_key=random_key)
    _annotate_redactions(report, redactions)
    _emit(report, _format(args), args)
    return EXIT_FINDINGS if any(r.status.startswith("not possible") for r in redactions.values()) else EXIT_OK


def _history(args: argparse.Namespace) -> int:
    from scanner.store.history import History, iter_runs_text

    with History(_db_path(args, required=True)) as history:  # type: ignore[arg-type]
        runs = history.runs(site=args.site, limit=args.limit)
        if not runs:
            print("审计历史中还没有检查记录。")
        for line in iter_runs_text(runs):
            print(line)
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from scanner.store.history import History

    with History(_db_path(args, required=True)) as history:  # type: ignore[arg-type]
        report = history.diff(args.run_a, args.run_b)
    report.setdefault("tool", {"name": "leakscan", "version": __version__})
    _emit(report, _format(args), args)
    return EXIT_FINDINGS if any(f.get("audit") == "new" and SEVERITY_RANK[f["severity"]] >= SEVERITY_RANK[args.fail_on]
                                for f in report["findings"]) else EXIT_OK


def _ignore(args: argparse.Namespace) -> int:
    import getpass

    from scanner.store.history import History

    with History(_db_path(args, required=True)) as history:  # type: ignore[arg-type]
        if args.list:
            rows = history.suppression_list()
            if not rows:
                print("没有忽略记录。")
            for fp, reason, who, when in rows:
                print(f"{fp}  {when}  {who}  {reason}")
            return EXIT_OK
        if not args.fingerprints:
            raise UsageError("请给出要忽略的指纹（报告中的 fingerprint）")
        key = getattr(args, "key", None) or os.environ.get("LEAKSCAN_KEY")
        if not key:
            raise UsageError("请用 --key 或环境变量 LEAKSCAN_KEY 给出检查时使用的指纹密钥")
        for fp in args.fingerprints:
            fp = fp.strip().lower()
            if len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp):
                raise UsageError(f"{fp} 不是有效指纹（应为 64 位十六进制）")
            if args.remove:
                found = history.unsuppress(fp, key.encode("utf-8"))
                print(f"已取消忽略：{fp}" if found else f"没有找到忽略记录：{fp}")
                continue
            if not args.reason:
                raise UsageError("请用 --reason 写明忽略理由（例如：依法公开的失信惩戒公示）")
            history.suppress(fp, key.encode("utf-8"), args.reason, args.by or getpass.getuser())
            print(f"已忽略：{fp}（{args.reason}）")
    return EXIT_OK


def _audit(args: argparse.Namespace) -> int:
    from scanner.audit import run_audit

    return run_audit(Path(args.config), only=args.site, resume=args.resume, quiet=args.quiet)


class Progress:
    """Progress on stderr: a live line on a terminal (files, findings, errors, and for a crawl the
    pages, attachments, queue and rate); plain periodic log lines otherwise (cron), when ``log``."""

    def __init__(self, enabled: bool, log: bool = False, every: float = 30.0) -> None:
        self.enabled, self.log, self.every = enabled, log and not enabled, every
        self.files = self.findings = self.errors = 0
        self.stats: Any = None
        self.started = self.logged = time.monotonic()

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.status import Status

            self.console = Console(stderr=True)
            self.status = Status("正在检查…", console=self.console)
            self.status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.status.stop()
        elif self.log and self.stats is not None:
            print(f"leakscan: 完成 {self._line()}", file=sys.stderr, flush=True)

    def watch(self, stats: Any) -> None:
        """Show a crawl's counters (an object with pages, attachments, queued, errors)."""
        self.stats = stats

    def say(self, line: str) -> None:
        if self.enabled:
            self.console.print(line, highlight=False, markup=False)
        else:
            print(line, file=sys.stderr, flush=True)

    def advance(self, result: Any) -> None:
        self.files += 1
        self.findings += result.count
        self.errors += result.status == "error"
        if self.enabled:
            self.status.update(f"正在检查… {self._line()}")
        elif self.log and time.monotonic() - self.logged >= self.every:
            self.logged = time.monotonic()
            print(f"leakscan: 进度 {self._line()}", file=sys.stderr, flush=True)

    def _line(self) -> str:
        line = f"已检查 {self.files} 个文件，发现 {self.findings} 处，出错 {self.errors} 个"
        st = self.stats
        if st is not None:
            elapsed = max(time.monotonic() - self.started, 1e-6)
            pages, attachments = getattr(st, "pages", 0), getattr(st, "attachments", 0)
            line += (f"；已下载页面 {pages}、附件 {attachments}，待抓取 {getattr(st, 'queued', 0)}，"
                     f"{(pages + attachments) / elapsed:.1f} 个/秒")
        return line


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output:
        return _EXT_FORMAT.get(Path(args.output).suffix.lower(), "json")
    return "table" if sys.stdout.isatty() else "json"


#: Formats an officer reads to locate a cell; only these show raw values, and only on --show-values.
_VALUE_FORMATS = ("table", "csv", "xlsx", "html")


def _without_value(finding: dict[str, Any]) -> dict[str, Any]:
    finding.pop("value", None)
    return finding


def _emit(report: dict[str, Any], fmt: str, args: argparse.Namespace) -> None:
    from scanner.report import ReportOptions, write_report

    show = bool(getattr(args, "show_values", False))
    if show and fmt not in _VALUE_FORMATS:
        from scanner.model import rewrite

        report = {**report, "findings": rewrite(report["findings"], _without_value)}
    tty = sys.stdout.isatty()
    if args.output:
        out_path = Path(args.output)
        if out_path.parent and not out_path.parent.exists():
            out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(out_path.name + ".part")
        with tmp.open("wb") as fh:
            write_report(report, fmt, fh, ReportOptions(color=False, show_values=show))
        tmp.replace(out_path)
        if not args.quiet:
            write_report(report, "table", sys.stdout.buffer, ReportOptions(color=tty, show_values=show))
            print(f"报告已写入：{out_path}")
    else:
        write_report(report, fmt, sys.stdout.buffer, ReportOptions(color=tty and fmt == "table", show_values=show))
    sys.stdout.flush()


def _exit_status(report: dict[str, Any], fail_on: str) -> int:
    threshold = SEVERITY_RANK[fail_on]
    return EXIT_FINDINGS if any(SEVERITY_RANK[f["severity"]] >= threshold for f in report["findings"]) else EXIT_OK


def _rules(args: argparse.Namespace) -> int:
    from scanner.detect.rules import BUILTIN_RULES, load_rules
    from scanner.detect.selftest import check_rule
    from scanner.report import labels

    extra = list(args.rules)
    only: set[str] | None = None
    if args.rules_command == "test" and args.dir:
        selected = load_rules(Path(args.dir))
        only = {r.id for r in selected}
        if Path(args.dir).resolve() != BUILTIN_RULES.resolve():
            extra.append(args.dir)
    from scanner.detect.engine import Detector

    detector = Detector(load_rules(BUILTIN_RULES, *map(Path, extra)), b"rules-test")
    rules = list(detector.rules.values())
    if args.rules_command == "list":
        for r in rules:
            print(f"{r.id:24} {r.entity:18} {labels.SEVERITY[r.severity]}  {r.name}  "
                  f"（正例 {len(r.positives)}，反例 {len(r.negatives)}）  {r.file}")
        return EXIT_OK
    failed = 0
    for r in rules:
        if only is not None and r.id not in only:
            continue
        results = check_rule(detector, r)
        bad = [x for x in results if not x.ok]
        failed += len(bad)
        mark = "通过" if not bad else "失败"
        print(f"[{mark}] {r.id}: 正例 {len(r.positives)}，反例 {len(r.negatives)}")
        for x in bad:
            print(f"    {'正例' if x.kind == 'positive' else '反例'} {x.example.text!r}: {x.detail}")
    print("全部规则示例通过。" if not failed else f"{failed} 个示例未通过。")
    return EXIT_OK if not failed else EXIT_FINDINGS


if __name__ == "__main__":
    sys.exit(main())
