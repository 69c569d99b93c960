"""``leakscan audit --config sites.toml``: every configured site, dated reports and the history.

Meant for cron or a systemd timer. Each site is crawled, scanned, recorded in the audit history
(new / persisting / fixed against the site's previous audit) and written as dated reports in the
site's own folder. A site that fails does not stop the others. Exit status: 2 when a site could not
be audited, else 1 when a new finding at or above ``fail_on`` (default ``high``) appeared, else 0.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import LeakscanError, UsageError
from scanner.model import SEVERITY_RANK

FORMATS = ("table", "json", "csv", "xlsx", "html", "sarif")
_LIMITS = {"max_pages": 20000, "max_depth": 8, "concurrency": 8, "per_host": 2, "delay": 0.0, "timeout": 20.0,
           "max_size": 100}
_SITE_KEYS = {"name", "title", "urls", "url", "file_hosts", "allowlist", "departments", "limits", "ignore_robots",
              "allow_private", "contact"}
_TOP_KEYS = {"output", "db", "formats", "fail_on", "key_env", "contact", "jobs", "limits", "site", "rules"}


@dataclass
class SiteConfig:
    """One site to audit."""

    name: str
    urls: list[str]
    title: str = ""
    file_hosts: list[str] = field(default_factory=list)
    allowlist: Path | None = None
    departments: dict[str, str] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    ignore_robots: bool = False
    allow_private: bool = False
    contact: str | None = None


@dataclass
class AuditConfig:
    """The whole ``sites.toml``."""

    output: Path
    db: Path
    formats: list[str]
    fail_on: str
    key_env: str
    jobs: int
    rules: list[str]
    sites: list[SiteConfig]


def load_config(path: Path) -> AuditConfig:
    """Read and check ``sites.toml``; relative paths are relative to the file's folder."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise UsageError(f"无法读取巡查配置 {path}：{exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"巡查配置 {path} 格式错误：{exc}") from exc
    base = path.resolve().parent
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise UsageError(f"巡查配置 {path} 中有不认识的设置：{', '.join(sorted(unknown))}")
    output = base / raw.get("output", "reports")
    formats = list(raw.get("formats", ["xlsx", "html", "json"]))
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UsageError(f"巡查配置中的报告格式无效：{', '.join(bad)}（可选：{', '.join(FORMATS)}）")
    fail_on = raw.get("fail_on", "high")
    if fail_on not in SEVERITY_RANK:
        raise UsageError("巡查配置中的 fail_on 应为 high、medium 或 low")
    defaults = _limits(raw.get("limits", {}), "limits")
    sites = []
    for i, s in enumerate(raw.get("site", [])):
        where = f"[[site]] 第 {i + 1} 个"
        unknown = set(s) - _SITE_KEYS
        if unknown:
            raise UsageError(f"巡查配置 {where} 中有不认识的设置：{', '.join(sorted(unknown))}")
        urls = list(s.get("urls", [])) + ([s["url"]] if "url" in s else [])
        if not urls:
            raise UsageError(f"巡查配置 {where} 没有 url")
        name = str(s.get("name") or urls[0])
        sites.append(SiteConfig(
            name=name, urls=urls, title=str(s.get("title", "")), file_hosts=list(s.get("file_hosts", [])),
            allowlist=base / s["allowlist"] if s.get("allowlist") else None,
            departments={str(k): str(v) for k, v in s.get("departments", {}).items()},
            limits={**defaults, **_limits(s.get("limits", {}), f"{where} 的 limits")},
            ignore_robots=bool(s.get("ignore_robots", False)), allow_private=bool(s.get("allow_private", False)),
            contact=s.get("contact", raw.get("contact"))))
    if not sites:
        raise UsageError(f"巡查配置 {path} 中没有 [[site]]")
    names = [s.name for s in sites]
    if len(set(names)) != len(names):
        raise UsageError("巡查配置中站点名称（name）重复")
    return AuditConfig(output=output, db=base / raw["db"] if raw.get("db") else output / "history.sqlite3",
                       formats=formats, fail_on=fail_on, key_env=str(raw.get("key_env", "LEAKSCAN_KEY")),
                       jobs=int(raw.get("jobs", 0)), rules=[str(base / r) for r in raw.get("rules", [])], sites=sites)


def _limits(table: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = set(table) - set(_LIMITS)
    if unknown:
        raise UsageError(f"巡查配置 {where} 中有不认识的设置：{', '.join(sorted(unknown))}")
    return dict(table)


def slug(name: str) -> str:
    """A folder name for a site."""
    cleaned = re.sub(r"[^\w.-]+", "_", name.removeprefix("https://").removeprefix("http://")).strip("._")
    return cleaned[:80] or "site"


def run_audit(config_path: Path, *, only: list[str] | None = None, resume: bool = False, quiet: bool = False) -> int:
    """Audit every configured site (or those named in ``only``); see the module docstring."""
    from scanner.crawlrun import crawl_sites
    from scanner.detect.rules import BUILTIN_RULES, load_rules
    from scanner.detect.spec import DetectorSpec
    from scanner.report import ReportOptions, write_report
    from scanner.report.build import assign_departments, build_report, now_iso
    from scanner.source.crawl import CrawlOptions
    from scanner.store.history import History, load_allowlist

    config = load_config(config_path)
    sites = [s for s in config.sites if not only or s.name in only]
    if only and len(sites) != len(set(only)):
        missing = set(only) - {s.name for s in sites}
        raise UsageError(f"巡查配置中没有这些站点：{', '.join(sorted(missing))}")
    key_text = os.environ.get(config.key_env)
    if not key_text:
        raise UsageError(f"请在环境变量 {config.key_env} 中设置指纹密钥（巡查要与上次比对，密钥须固定）")
    key = key_text.encode("utf-8")
    jobs = config.jobs or (os.cpu_count() or 1)
    if jobs > 1:  # the workers' fork server imports the recognizers meanwhile
        from scanner.pipeline import warm_up

        warm_up()
    spec = DetectorSpec.of(load_rules(BUILTIN_RULES, *map(Path, config.rules)), key)
    from scanner.cli import Progress, add_parents, mark_incomplete, watched

    status = 0
    for site in sites:
        folder = config.output / slug(site.name)
        folder.mkdir(parents=True, exist_ok=True)
        limits = {**_LIMITS, **site.limits}
        options = CrawlOptions(
            max_pages=int(limits["max_pages"]), max_depth=int(limits["max_depth"]),
            concurrency=int(limits["concurrency"]), per_host=int(limits["per_host"]), delay=float(limits["delay"]),
            timeout=float(limits["timeout"]), max_bytes=int(limits["max_size"]) * 1024 * 1024, contact=site.contact,
            ignore_robots=site.ignore_robots, allow_private=site.allow_private, file_hosts=tuple(site.file_hosts))
        started = now_iso()
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        try:
            allow = load_allowlist(site.allowlist) if site.allowlist else {}
            with History(config.db) as history, Progress(enabled=False, log=not quiet) as progress:
                parents: dict[str, list[str]] = {}
                outcome: dict[str, Any] = {}
                results = crawl_sites(site.urls, options, spec, state=folder / "crawl-state.sqlite3",
                                      resume=resume, jobs=jobs, history=history, site=site.name, key=key,
                                      progress=progress, parents=parents, status=outcome)
                report = build_report(watched(results, progress), started_at=started, spool=True)
                add_parents(report, parents)
                report["site"] = {"name": site.name, "title": site.title, "urls": site.urls}
                if site.departments:
                    assign_departments(report, site.departments)
                complete = mark_incomplete(report, outcome)
                history.record(report, site=site.name, command="audit", key=key, suppress=allow, complete=complete)
            for fmt in config.formats:
                ext = "txt" if fmt == "table" else fmt
                target = folder / f"{stamp}.{ext}"
                tmp = target.with_name(target.name + ".part")
                with tmp.open("wb") as fh:
                    write_report(report, fmt, fh, ReportOptions())
                tmp.replace(target)
        except (LeakscanError, OSError) as exc:
            print(f"leakscan: 站点 {site.name} 巡查失败：{exc}", file=sys.stderr)
            status = 2
            continue
        new_bad = [f for f in report["findings"]
                   if f.get("audit") == "new" and SEVERITY_RANK[f["severity"]] >= SEVERITY_RANK[config.fail_on]]
        if new_bad and status == 0:
            status = 1
        if not quiet:
            errors = sum(d["status"] == "error" for d in report["documents"])
            print(f"{site.name}：检查 {len(report['documents'])} 个文件，发现 {len(report['findings'])} 处"
                  f"（新增 {sum(f.get('audit') == 'new' for f in report['findings'])}，"
                  f"已整改 {len(report.get('fixed', []))}），出错 {errors} 个；报告：{folder / stamp}.*")
    return status


__all__ = ["AuditConfig", "SiteConfig", "load_config", "run_audit", "slug"]
