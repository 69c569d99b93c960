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
from collections.abc import Sequence
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
    scan.add_argument("--jobs", "-j", type=int, default=0, help="并行进程数（默认：CPU 核数）")

    rules = sub.add_parser("rules", help="查看或测试规则包")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, parser_class=_Parser)
    listing = rules_sub.add_parser("list", help="列出已加载的规则")
    listing.add_argument("--rules", action="append", default=[], metavar="DIR", help="额外的规则目录（可多次）")
    test = rules_sub.add_parser("test", help="用规则自带的正例/反例检验规则")
    test.add_argument("dir", nargs="?", help="只检验此目录中的规则（默认：全部已加载规则）")
    test.add_argument("--rules", action="append", default=[], metavar="DIR", help="额外的规则目录（可多次）")
    return parser


def _output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", "-f", choices=FORMATS, help="报告格式（默认：终端为 table，否则 json；有 --output 时按扩展名）")
    p.add_argument("--output", "-o", metavar="FILE", help="把报告写入文件（终端仍显示汇总表，除非 --quiet）")
    p.add_argument("--key", help="指纹密钥（或环境变量 LEAKSCAN_KEY）；不指定则随机生成，指纹不能跨次比对")
    p.add_argument("--fail-on", choices=("high", "medium", "low"), default="low",
                   help="有此等级及以上的发现时退出码为 1（默认 low）")
    p.add_argument("--rules", action="append", default=[], metavar="DIR", help="额外的规则目录（可多次）")
    p.add_argument("--quiet", "-q", action="store_true", help="终端不显示汇总表")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="leakscan: %(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "scan":
            return _scan(args)
        if args.command == "rules":
            return _rules(args)
    except RuleError as exc:
        print(f"leakscan: 规则文件错误：{exc}", file=sys.stderr)
    except (UsageError, LeakscanError) as exc:
        print(f"leakscan: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("leakscan: 已中断", file=sys.stderr)
    return EXIT_ERROR


def _load_detector(extra_rules: list[str], key: bytes) -> Any:
    from scanner.detect.engine import Detector
    from scanner.detect.rules import BUILTIN_RULES, load_rules

    return Detector(load_rules(BUILTIN_RULES, *map(Path, extra_rules)), key)


def _key(args: argparse.Namespace) -> tuple[bytes, bool]:
    key = args.key or os.environ.get("LEAKSCAN_KEY")
    if key:
        return key.encode("utf-8"), False
    return secrets.token_hex(32).encode("ascii"), True


def _scan(args: argparse.Namespace) -> int:
    from scanner.pipeline import Scanner, scan_all
    from scanner.report.build import build_report, now_iso
    from scanner.source.files import iter_documents

    fmt = _format(args)
    key, random_key = _key(args)
    detector = _load_detector(args.rules, key)
    started = now_iso()
    jobs = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)
    results = []
    with _Progress(enabled=sys.stderr.isatty() and not args.quiet) as progress:
        for result in scan_all(iter_documents(args.paths), Scanner(detector), jobs=jobs):
            if result.status == "error":
                progress.say(f"leakscan: 无法检查 {result.source}：{result.reason}")
            results.append(result)
            progress.advance(result)
    report = build_report(results, started_at=started, random_key=random_key)
    _emit(report, fmt, args)
    return _exit_status(report, args.fail_on)


class _Progress:
    """A live line on a terminal (files, findings, errors); nothing when stderr is not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.files = self.findings = self.errors = 0

    def __enter__(self) -> _Progress:
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

    def say(self, line: str) -> None:
        if self.enabled:
            self.console.print(line, highlight=False, markup=False)
        else:
            print(line, file=sys.stderr)

    def advance(self, result: Any) -> None:
        self.files += 1
        self.findings += len(result.findings)
        self.errors += result.status == "error"
        if self.enabled:
            self.status.update(f"正在检查… 已完成 {self.files} 个文件，发现 {self.findings} 处，出错 {self.errors} 个")


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output:
        return _EXT_FORMAT.get(Path(args.output).suffix.lower(), "json")
    return "table" if sys.stdout.isatty() else "json"


def _emit(report: dict[str, Any], fmt: str, args: argparse.Namespace) -> None:
    from scanner.report import ReportOptions, write_report

    tty = sys.stdout.isatty()
    if args.output:
        out_path = Path(args.output)
        if out_path.parent and not out_path.parent.exists():
            out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(out_path.name + ".part")
        with tmp.open("wb") as fh:
            write_report(report, fmt, fh, ReportOptions(color=False))
        tmp.replace(out_path)
        if not args.quiet:
            write_report(report, "table", sys.stdout.buffer, ReportOptions(color=tty))
            print(f"报告已写入：{out_path}")
    else:
        write_report(report, fmt, sys.stdout.buffer, ReportOptions(color=tty and fmt == "table"))
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
