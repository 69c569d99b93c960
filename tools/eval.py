"""Score a leakscan JSON report against a truth file (tests/fixtures/samples_expected.json or a corpus truth.json).

    leakscan scan samples/ --format json --output /tmp/r.json --key k
    python tools/eval.py /tmp/r.json tests/fixtures/samples_expected.json --key k \
        [--min-recall 0.95] [--min-precision 0.95]

A truth item matches a finding with the same source, entity and exposure whose fingerprint is
HMAC-SHA256(key, value), one finding per truth item (multiset matching). Only the three required
entities are scored; findings of other entities and findings inside the truth file itself (it lists
the fake values) are left out and counted. Missed and spurious items are printed masked, never raw.
Exit status 0, or 1 when a --min-recall / --min-precision threshold is not met.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import posixpath
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

ENTITIES = ("CN_ID_CARD", "CN_MOBILE", "CN_LICENSE_PLATE")


def fingerprint(key: str, value: str) -> str:
    """The report contract's fingerprint: lowercase hex HMAC-SHA256 of the normalized value."""
    return hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()


def mask(entity: str, value: str) -> str:
    """A value as eval prints it: IDs first 6 + stars + last 4 (3 for old 15-digit IDs), mobiles 3****4."""
    if entity == "CN_ID_CARD":
        tail = 3 if len(value) == 15 else 4
        return value[:6] + "*" * max(len(value) - 6 - tail, 0) + value[-tail:]
    if entity == "CN_MOBILE":
        return value[:3] + "****" + value[-4:]
    if entity == "CN_LICENSE_PLATE":
        return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:]
    return "*" * len(value)


def norm_source(source: str) -> str:
    """Compare paths loosely (``./a//b`` = ``a/b``, ``\\`` = ``/``); URLs as they are."""
    if "://" in source:
        return source
    path, bang, member = source.replace("\\", "/").partition("!")
    return posixpath.normpath(path) + bang + member


def doc_kind(source: str, kinds: dict[str, str]) -> str:
    """The document kind from the report, else from the file extension."""
    kind = kinds.get(source)
    if kind:
        return kind
    suffix = PurePosixPath(source.split("?")[0]).suffix.lower().lstrip(".")
    return {"htm": "html", "txt": "text"}.get(suffix, suffix or "?")


@dataclass
class Item:
    """A truth item or a finding, reduced to what matching needs."""

    source: str
    entity: str
    exposure: str
    fingerprint: str
    shown: str  # masked form for printing
    variant: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.source, self.entity, self.exposure, self.fingerprint)


class Rates:
    """Counts of true positives, misses and false alarms for one bucket."""

    def __init__(self) -> None:
        self.tp_truth = 0
        self.fn = 0
        self.tp_found = 0
        self.fp = 0

    @property
    def recall(self) -> float | None:
        total = self.tp_truth + self.fn
        return self.tp_truth / total if total else None

    @property
    def precision(self) -> float | None:
        total = self.tp_found + self.fp
        return self.tp_found / total if total else None


def _fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value * 100:5.1f}%"


def load_truth(path: Path, key: str, rebase: tuple[str, str] | None = None) -> list[Item]:
    """Truth items with fingerprints computed under ``key``; ``rebase`` (old prefix, new prefix)
    turns file sources into the URLs a crawl of the same files served over HTTP reports."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    items = raw["items"] if isinstance(raw, dict) else raw

    def source(s: str) -> str:
        if rebase and norm_source(s).startswith(rebase[0]):
            return rebase[1] + norm_source(s)[len(rebase[0]):]
        return norm_source(s)

    return [
        Item(source(t["source"]), t["entity"], t["exposure"], fingerprint(key, t["value"]),
             mask(t["entity"], t["value"]), t.get("variant", ""))
        for t in items if t["entity"] in ENTITIES
    ]


def load_report(path: Path, truth_path: Path) -> tuple[list[Item], dict[str, str], Counter[str]]:
    """Scored findings, document kinds by source, and counts of what was left out and why."""
    report = json.loads(path.read_text(encoding="utf-8"))
    kinds = {norm_source(d["source"]): d.get("kind") or "" for d in report.get("documents", [])}
    truth_abs = truth_path.resolve()
    left_out: Counter[str] = Counter()
    found: list[Item] = []
    for f in report.get("findings", []):
        source = norm_source(f["source"])
        if f["entity"] not in ENTITIES:
            left_out[f"其他实体 other entity {f['entity']}"] += 1
            continue
        if "://" not in source and "!" not in source and Path(source).resolve() == truth_abs:
            left_out["真值文件本身 the truth file itself"] += 1
            continue
        found.append(Item(source, f["entity"], f.get("exposure", "unmasked"), f["fingerprint"], f.get("masked", "")))
    return found, kinds, left_out


def match(truth: list[Item], found: list[Item]) -> tuple[list[Item], list[Item], list[Item], list[Item]]:
    """Multiset match on (source, entity, exposure, fingerprint): (hits in truth, misses, hits found, false alarms)."""
    pool: dict[tuple[str, str, str, str], list[Item]] = defaultdict(list)
    for f in found:
        pool[f.key].append(f)
    hit_truth: list[Item] = []
    missed: list[Item] = []
    hit_found: list[Item] = []
    for t in truth:
        bucket = pool.get(t.key)
        if bucket:
            hit_found.append(bucket.pop())
            hit_truth.append(t)
        else:
            missed.append(t)
    spurious = [f for bucket in pool.values() for f in bucket]
    return hit_truth, missed, hit_found, spurious


def tabulate(title: str, buckets: dict[str, Rates], out: Any, recall_only: bool = False) -> None:
    """Print one recall/precision table."""
    print(f"\n{title}", file=out)
    if recall_only:
        print(f"  {'':34} {'truth':>6} {'hit':>6} {'miss':>6} {'recall':>7}", file=out)
    else:
        print(f"  {'':34} {'truth':>6} {'hit':>6} {'miss':>6} {'found':>6} {'false':>6} {'recall':>7} {'precis.':>7}",
              file=out)
    for name in sorted(buckets):
        r = buckets[name]
        if recall_only:
            print(f"  {name:34} {r.tp_truth + r.fn:6d} {r.tp_truth:6d} {r.fn:6d} {_fmt(r.recall):>7}", file=out)
        else:
            print(f"  {name:34} {r.tp_truth + r.fn:6d} {r.tp_truth:6d} {r.fn:6d} {r.tp_found + r.fp:6d} {r.fp:6d} "
                  f"{_fmt(r.recall):>7} {_fmt(r.precision):>7}", file=out)


def explain_miss(t: Item, found_by_fp: dict[tuple[str, str], list[Item]]) -> str:
    """Say when a miss was found with another entity or exposure (a near miss)."""
    others = [f for f in found_by_fp.get((t.source, t.fingerprint), []) if f.key != t.key]
    if not others:
        return ""
    return "  (报告为 reported as " + ", ".join(sorted({f"{f.entity}/{f.exposure}" for f in others})) + ")"


def evaluate(truth: list[Item], found: list[Item], kinds: dict[str, str], out: Any = None,
             max_list: int = 200) -> tuple[Rates, dict[str, Rates]]:
    """Print the tables and the lists; return the overall and per-entity rates."""
    out = out or sys.stdout
    hit_truth, missed, hit_found, spurious = match(truth, found)
    overall = Rates()
    by_entity: dict[str, Rates] = defaultdict(Rates)
    by_kind: dict[str, Rates] = defaultdict(Rates)
    by_variant: dict[str, Rates] = defaultdict(Rates)
    by_exposure: dict[str, Rates] = defaultdict(Rates)

    def buckets(item: Item, with_variant: bool) -> Iterable[Rates]:
        yield overall
        yield by_entity[item.entity]
        yield by_kind[doc_kind(item.source, kinds)]
        yield by_exposure[f"{item.entity}/{item.exposure}"]
        if with_variant:
            yield by_variant[item.variant or "?"]

    for t in hit_truth:
        for r in buckets(t, True):
            r.tp_truth += 1
    for t in missed:
        for r in buckets(t, True):
            r.fn += 1
    for f in hit_found:
        for r in buckets(f, False):
            r.tp_found += 1
    for f in spurious:
        for r in buckets(f, False):
            r.fp += 1

    print(f"truth items: {len(truth)}   scored findings: {len(found)}   "
          f"recall {_fmt(overall.recall)}   precision {_fmt(overall.precision)}", file=out)
    tabulate("按实体 per entity", by_entity, out)
    tabulate("按实体与暴露程度 per entity/exposure", by_exposure, out)
    tabulate("按文档类型 per document kind", by_kind, out)
    if any(t.variant for t in truth):
        tabulate("按写法 per variant (recall only)", by_variant, out, recall_only=True)

    found_by_fp: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for f in found:
        found_by_fp[(f.source, f.fingerprint)].append(f)
    print(f"\n漏报 missed ({len(missed)}):", file=out)
    for t in sorted(missed, key=lambda i: (i.source, i.entity))[:max_list]:
        print(f"  {t.source}  {t.entity}/{t.exposure}  {t.shown}  [{t.variant}]{explain_miss(t, found_by_fp)}",
              file=out)
    if len(missed) > max_list:
        print(f"  … {len(missed) - max_list} more", file=out)
    print(f"\n误报 spurious ({len(spurious)}):", file=out)
    for f in sorted(spurious, key=lambda i: (i.source, i.entity))[:max_list]:
        print(f"  {f.source}  {f.entity}/{f.exposure}  {f.shown}", file=out)
    if len(spurious) > max_list:
        print(f"  … {len(spurious) - max_list} more", file=out)
    return overall, dict(by_entity)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Score a leakscan JSON report against a truth file.")
    parser.add_argument("report", type=Path, help="leakscan JSON report")
    parser.add_argument("truth", type=Path,
                        help="truth file (tests/fixtures/samples_expected.json, OUT_DIR/truth.json)")
    parser.add_argument("--key", required=True, help="the --key the scan was run with")
    parser.add_argument("--min-recall", type=float, default=None, help="exit 1 when overall recall is below (0–1)")
    parser.add_argument("--min-precision", type=float, default=None,
                        help="exit 1 when overall precision is below (0–1)")
    parser.add_argument("--max-list", type=int, default=200, help="at most this many missed/spurious lines each")
    parser.add_argument("--rebase", metavar="OLD=NEW",
                        help="score a crawl: truth sources starting with OLD (a folder) start with NEW (its URL)")
    args = parser.parse_args(argv)

    rebase = None
    if args.rebase:
        old, _, new = args.rebase.partition("=")
        rebase = (norm_source(old), new)
    truth = load_truth(args.truth, args.key, rebase)
    found, kinds, left_out = load_report(args.report, args.truth)
    overall, _ = evaluate(truth, found, kinds, max_list=args.max_list)
    for reason, n in sorted(left_out.items()):
        print(f"\n未计分 left out: {n} × {reason}")

    status = 0
    if args.min_recall is not None and (overall.recall or 0.0) < args.min_recall:
        print(f"\nrecall {_fmt(overall.recall)} below {args.min_recall * 100:.1f}%")
        status = 1
    if args.min_precision is not None and (overall.precision if overall.precision is not None else 1.0) \
            < args.min_precision:
        print(f"\nprecision {_fmt(overall.precision)} below {args.min_precision * 100:.1f}%")
        status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
